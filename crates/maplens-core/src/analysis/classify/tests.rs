//! Offline rules on hand-written maps text built from public facts
//! (glibc's `HEAP_MAX_SIZE`, HotSpot's stack guard zones, the names glibc,
//! Go and ART write).

use super::*;
use crate::parse::Mode;

fn classify_text(text: &str) -> (Snapshot, Classified) {
    let s = Snapshot::from_text("maps", text.as_bytes(), Mode::Strict).expect("maps text");
    let c = classify(&s);
    (s, c)
}

fn cats(c: &Classified) -> Vec<Category> {
    c.classes.iter().map(|c| c.category).collect()
}

/// A 32-bit process: 1 MiB JVM-like thread stacks (`---p` 16 KiB guard
/// zones at the bottom, 1008 KiB `rw-p`) among 1 MiB glibc arena heaps
/// (`rw-p` head, `---p` tail, 1 MiB aligned), as a 32-bit JVM maps them.
const MIXED_32: &str = "\
08048000-08049000 r-xp 00000000 08:01 11 /usr/bin/prog
40000000-40004000 ---p 00000000 00:00 0
40004000-40100000 rw-p 00000000 00:00 0
40100000-40104000 ---p 00000000 00:00 0
40104000-40200000 rw-p 00000000 00:00 0
40200000-40221000 rw-p 00000000 00:00 0
40221000-40300000 ---p 00000000 00:00 0
40300000-40340000 rw-p 00000000 00:00 0
40340000-40400000 ---p 00000000 00:00 0
40400000-40404000 ---p 00000000 00:00 0
40404000-40500000 rw-p 00000000 00:00 0
40500000-40521000 rw-p 00000000 00:00 0
40521000-40600000 ---p 00000000 00:00 0
bf000000-bf021000 rw-p 00000000 00:00 0 [stack]
";

#[test]
fn arenas_32bit_are_1mib_and_not_stacks() {
    let (_, c) = classify_text(MIXED_32);
    assert!(!c.is_64bit);
    use Category::*;
    assert_eq!(
        cats(&c)[1..13],
        [
            GuardPage,
            ThreadStack,
            GuardPage,
            ThreadStack,
            MallocArena,
            MallocArena,
            MallocArena,
            MallocArena,
            GuardPage,
            ThreadStack,
            MallocArena,
            MallocArena
        ]
    );
    assert_eq!(c.arenas.len(), 3);
    assert!(c.arenas.iter().all(|a| a.end - a.start == ARENA_SIZE_32));
    assert_eq!(c.thread_stacks().count(), 3);
}

#[test]
fn a_stack_guard_ending_on_an_arena_boundary_is_no_arena_tail() {
    // A 2 MiB anonymous rw-p, then a 4 KiB ---p that ends on a 1 MiB
    // boundary, then a stack: the ---p guards the stack above it.
    let (_, c) = classify_text(
        "\
40000000-402ff000 rw-p 00000000 00:00 0
402ff000-40300000 ---p 00000000 00:00 0
40300000-403fc000 rw-p 00000000 00:00 0
",
    );
    assert_eq!(c.classes[1].category, Category::GuardPage);
    assert_eq!(c.classes[2].category, Category::ThreadStack);
    assert!(c.arenas.is_empty());
}

#[test]
fn an_arena_that_also_fits_a_stack_keeps_both_readings() {
    // 32-bit: a fully committed arena (tail 16 KiB) above another arena's
    // small tail fits "stack above a guard" as well.
    let (_, c) = classify_text(
        "\
40000000-403fc000 rw-p 00000000 00:00 0
403fc000-40400000 ---p 00000000 00:00 0
40400000-404fc000 rw-p 00000000 00:00 0
404fc000-40500000 ---p 00000000 00:00 0
",
    );
    let head = &c.classes[2];
    assert_eq!(head.category, Category::MallocArena);
    let alt = head.alternative.as_ref().expect("two readings");
    assert_eq!(alt.category, Category::ThreadStack);
    assert_eq!(alt.confidence, Confidence::Even);
    // Merged with the mapping above it: still an arena, with the stack
    // reading kept.
    let (_, c) = classify_text(
        "\
40000000-40004000 ---p 00000000 00:00 0
40004000-40100000 ---p 00000000 00:00 0
40100000-40300000 rw-p 00000000 00:00 0
",
    );
    assert_eq!(c.classes[2].rule, "glibc-arena-merged");
    assert_eq!(
        c.classes[2].alternative.as_ref().map(|a| a.category),
        Some(Category::ThreadStack)
    );
    assert_eq!(c.arenas.len(), 1);
}

#[test]
fn prot_none_is_a_guard_only_below_a_stack() {
    // A small ---p below a small rw-p that is not a stack: a reservation.
    let (_, c) = classify_text(
        "\
7f0000000000-7f0000001000 ---p 00000000 00:00 0
7f0000001000-7f0000002000 rw-p 00000000 00:00 0
",
    );
    assert_eq!(c.classes[0].category, Category::Reservation);
    assert_eq!(c.classes[0].rule, "prot-none");
}

#[test]
fn rwx_thread_stack_is_a_stack() {
    let (_, c) = classify_text(
        "\
7f0000000000-7f0000001000 ---p 00000000 00:00 0
7f0000001000-7f0000801000 rwxp 00000000 00:00 0
",
    );
    assert_eq!(cats(&c), [Category::GuardPage, Category::ThreadStack]);
}

#[test]
fn named_glibc_arena_keeps_its_unnamed_tail_and_reserve() {
    // glibc names the part it commits first; mprotect later commits more
    // (unnamed), and the reserve stays ---p, unnamed. 64 MiB in all.
    let (_, c) = classify_text(
        "\
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 [anon: glibc: malloc arena]
7f0000021000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0004000000 ---p 00000000 00:00 0
7f0004000000-7f0004001000 rw-p 00000000 00:00 0
",
    );
    assert_eq!(
        cats(&c)[..3],
        [
            Category::MallocArena,
            Category::MallocArena,
            Category::MallocArena
        ]
    );
    assert!(c.classes[..3].iter().all(|c| !c.heuristic));
    assert_ne!(c.classes[3].category, Category::MallocArena);
    assert_eq!(c.arenas.len(), 1);
    assert_eq!(c.arenas[0].regions, [0, 1, 2]);
    assert_eq!(c.arenas[0].end - c.arenas[0].start, ARENA_SIZE_64);
}

#[test]
fn named_pthread_stack_with_its_unnamed_guard() {
    let (_, c) = classify_text(
        "\
7f0000000000-7f0000001000 ---p 00000000 00:00 0
7f0000001000-7f0000801000 rw-p 00000000 00:00 0 [anon: glibc: pthread stack: 4242]
7f0000801000-7f0000a01000 rw-p 00000000 00:00 0 [anon: glibc: unused stack]
",
    );
    assert_eq!(c.classes[1].category, Category::ThreadStack);
    assert_eq!(c.classes[1].thread, Some(4242));
    assert!(!c.classes[1].heuristic);
    assert_eq!(c.classes[0].category, Category::GuardPage);
    assert_eq!(c.classes[0].thread, Some(4242));
    // A cached stack of an exited thread is no thread's stack.
    assert_ne!(c.classes[2].category, Category::ThreadStack);
    assert_eq!(c.thread_stacks().count(), 1);
}

#[test]
fn go_and_art_names_and_go_heap_hint() {
    let (_, c) = classify_text(
        "\
00c000000000-00c000400000 rw-p 00000000 00:00 0
00c000400000-00c004000000 ---p 00000000 00:00 0
7f0000000000-7f0000400000 rw-p 00000000 00:00 0 [anon: Go: heap]
7f0000400000-7f0000480000 rw-p 00000000 00:00 0 [anon: Go: OS thread stack]
",
    );
    assert_eq!(c.runtime, Some(Runtime::Go));
    assert_eq!(
        cats(&c),
        [
            Category::ManagedHeap,
            Category::ManagedHeap,
            Category::ManagedHeap,
            Category::ThreadStack
        ]
    );
    let (_, c) = classify_text(
        "\
7f0000400000-7f0000500000 rw-p 00000000 00:00 0 [anon:dalvik-main space (region space)]
7f0000500000-7f0000600000 r-xp 00000000 00:00 0 [anon:dalvik-jit-code-cache]
",
    );
    assert_eq!(c.runtime, Some(Runtime::Art));
    assert_eq!(cats(&c), [Category::ManagedHeap, Category::JitCode]);
}

#[test]
fn memfd_sharing_follows_the_s_bit() {
    let (_, c) = classify_text(
        "\
7f0000000000-7f0000100000 rw-p 00000000 00:05 77 /memfd:qv4-jit (deleted)
7f0000100000-7f0000200000 rw-s 00000000 00:05 78 /memfd:wayland-shm (deleted)
7f0000200000-7f0000300000 rw-s 00000000 00:05 79 /memfd:old-kernel
7f0000300000-7f0000400000 rw-s 00000000 00:01 5 /SYSV0000abcd (deleted)
",
    );
    assert_eq!(c.classes[0].category, Category::MappedFile);
    assert_eq!(c.classes[0].rule, "path-memfd-private");
    assert_eq!(c.classes[1].category, Category::SharedMemory);
    assert_eq!(c.classes[2].rule, "path-memfd");
    assert_eq!(c.classes[3].category, Category::SharedMemory);
}

#[test]
fn only_device_nodes_are_devices() {
    let (_, c) = classify_text(
        "\
7f0000000000-7f0000020000 r--s 00000000 00:10 301 /dev/__properties__/u:object_r:build_prop:s0
7f0000020000-7f0000040000 rw-s 00000000 00:05 302 /dev/kgsl-3d0
7f0000040000-7f0000041000 r--s 00000000 00:1a 303 /sys/fs/cgroup/memory.stat
7f0000041000-7f0000042000 r--s 00000000 00:05 304 /dev/cgroup_info/cgroup.rc
7f0000042000-7f0000062000 rw-s 00000000 00:0c 305 /kgsl-3d0 (deleted)
7f0000062000-7f0000082000 rw-s 00000000 00:0c 306 /i915 (deleted)
",
    );
    assert_eq!(
        cats(&c),
        [
            Category::MappedFile,
            Category::Device,
            Category::MappedFile,
            Category::MappedFile,
            Category::Device,
            Category::Device
        ]
    );
    assert_eq!(c.classes[4].rule, "driver-object");
}

#[test]
fn jvm_heap_class_space_and_code_cache() {
    // OpenJDK 17, -Xmx256m (jcmd VM.info: heap at 0xf0000000, class space
    // right after the CDS archive, three code heap segments).
    let (_, c) = classify_text(
        "\
f0000000-ffe00000 rw-p 00000000 00:00 0
ffe00000-100000000 ---p 00000000 00:00 0
7f0000000000-7f0000010000 r-xp 00000000 08:01 9 /usr/lib/jvm/java-17/lib/server/libjvm.so
7fa2a7000000-7fa2a7bc7000 rw-p 00001000 08:01 10 /usr/lib/jvm/java-17/lib/server/classes.jsa
7fa2a7bc7000-7fa2a8000000 ---p 00000000 00:00 0
7fa2a8000000-7fa2a8040000 rw-p 00000000 00:00 0
7fa2a8040000-7fa2e8000000 ---p 00000000 00:00 0
7fa2fd400000-7fa2fd670000 rwxp 00000000 00:00 0
7fa2fd670000-7fa304938000 ---p 00000000 00:00 0
",
    );
    assert_eq!(c.runtime, Some(Runtime::Jvm));
    use Category::*;
    assert_eq!(
        cats(&c),
        [
            ManagedHeap,
            ManagedHeap,
            Code,
            MappedFile,
            ManagedHeap,
            ManagedHeap,
            ManagedHeap,
            JitCode,
            JitCode
        ]
    );
}
