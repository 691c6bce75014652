//! What each region is: a [`Category`], a note in plain words, and the rule
//! and evidence that decided it.
//!
//! Rules look at a region's name, permissions and size, and at its
//! neighbours: the segments of one ELF object sit next to each other, a
//! guard page sits right below a thread stack, a glibc arena is a 64 MiB
//! aligned `rw-p` + `---p` pair. Rules that can be wrong say so
//! ([`Class::heuristic`]).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::{Region, Snapshot};
use crate::parse::{Field, PathKind};

/// The memory categories of the process report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Category {
    /// Executable code of the program or a library (`r-xp` of an ELF file).
    Code,
    /// Read-only data of an ELF file (headers, `.rodata`, `.eh_frame`).
    ReadOnlyData,
    /// `.data`: the writable, file-initialised segment of an ELF file.
    WritableData,
    /// `.bss`: zero-initialised data, anonymous memory right after `.data`.
    Bss,
    /// RELRO: data made read-only after the dynamic linker relocated it.
    Relro,
    /// The `brk` heap (`[heap]`).
    Heap,
    /// Allocator arenas: glibc per-thread arenas, Android scudo/jemalloc.
    MallocArena,
    /// A thread's stack.
    ThreadStack,
    /// The main thread's stack (`[stack]`).
    MainStack,
    /// A guard page below a stack: no access, catches overflows.
    GuardPage,
    /// Address space reserved with no access (`---p`), not backed.
    Reservation,
    /// The `---p` hole the linker leaves between a library's code and data.
    LinkerGap,
    /// Unnamed anonymous memory: `mmap`, or `malloc` of large blocks.
    AnonMmap,
    /// Anonymous memory the program named (`[anon:NAME]`).
    NamedAnon,
    /// Shared memory: SysV, memfd, `/dev/shm`, shared anonymous.
    SharedMemory,
    /// A data file mapped into memory.
    MappedFile,
    /// A device or GPU mapping (`/dev/…`, DMA-BUF, GEM objects).
    Device,
    /// Pages the kernel maps into every process (vdso, vvar, vsyscall, …).
    KernelProvided,
    /// hugetlbfs memory (explicit huge pages).
    Hugetlb,
    /// Writable and executable: JIT code or an old ABI (`rwx`).
    WritableExec,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: &'static [Category] = &[
        Category::Code,
        Category::ReadOnlyData,
        Category::Relro,
        Category::WritableData,
        Category::Bss,
        Category::Heap,
        Category::MallocArena,
        Category::ThreadStack,
        Category::MainStack,
        Category::GuardPage,
        Category::Reservation,
        Category::LinkerGap,
        Category::AnonMmap,
        Category::NamedAnon,
        Category::SharedMemory,
        Category::MappedFile,
        Category::Device,
        Category::KernelProvided,
        Category::Hugetlb,
        Category::WritableExec,
    ];

    /// Stable identifier (kebab case), as in JSON and `--kind`.
    pub const fn id(self) -> &'static str {
        match self {
            Category::Code => "code",
            Category::ReadOnlyData => "read-only-data",
            Category::WritableData => "writable-data",
            Category::Bss => "bss",
            Category::Relro => "relro",
            Category::Heap => "heap",
            Category::MallocArena => "malloc-arena",
            Category::ThreadStack => "thread-stack",
            Category::MainStack => "main-stack",
            Category::GuardPage => "guard-page",
            Category::Reservation => "reservation",
            Category::LinkerGap => "linker-gap",
            Category::AnonMmap => "anon-mmap",
            Category::NamedAnon => "named-anon",
            Category::SharedMemory => "shared-memory",
            Category::MappedFile => "mapped-file",
            Category::Device => "device",
            Category::KernelProvided => "kernel",
            Category::Hugetlb => "hugetlb",
            Category::WritableExec => "writable-exec",
        }
    }

    /// A short title for tables.
    pub const fn title(self) -> &'static str {
        match self {
            Category::Code => "program code",
            Category::ReadOnlyData => "read-only data",
            Category::WritableData => "writable data",
            Category::Bss => "bss",
            Category::Relro => "relro",
            Category::Heap => "heap (brk)",
            Category::MallocArena => "malloc arenas",
            Category::ThreadStack => "thread stacks",
            Category::MainStack => "main stack",
            Category::GuardPage => "guard pages",
            Category::Reservation => "PROT_NONE reservations",
            Category::LinkerGap => "linker gaps",
            Category::AnonMmap => "anonymous mmap",
            Category::NamedAnon => "named anonymous",
            Category::SharedMemory => "shared memory",
            Category::MappedFile => "mapped data files",
            Category::Device => "device and GPU",
            Category::KernelProvided => "kernel-provided",
            Category::Hugetlb => "hugetlb",
            Category::WritableExec => "writable+executable",
        }
    }

    /// Parses an id.
    pub fn from_id(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.id() == s)
    }
}

/// The classification of one region.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Class {
    /// The category.
    pub category: Category,
    /// What it is, in plain words.
    pub note: Cow<'static, str>,
    /// The rule that decided (stable id).
    pub rule: &'static str,
    /// What the rule saw.
    pub evidence: String,
    /// True when the rule infers from layout and can be wrong.
    pub heuristic: bool,
    /// Index into [`Classified::objects`] for ELF segments and their bss.
    pub object: Option<usize>,
    /// The thread whose stack this is (or whose stack this guards).
    pub thread: Option<u32>,
}

/// An ELF object (program or library) found in the map.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Object {
    /// Decoded path, as bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::text::ser_lossy"))]
    pub path: Vec<u8>,
    /// Indices of its regions (segments, gaps, bss), ascending.
    pub regions: Vec<usize>,
}

/// Classification of every region of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Classified {
    /// One per region, same order as [`Snapshot::regions`].
    pub classes: Vec<Class>,
    /// ELF objects.
    pub objects: Vec<Object>,
    /// Page size assumed (bytes).
    pub page_size: u64,
    /// The address space is 64-bit.
    pub is_64bit: bool,
}

/// glibc's per-thread arena heap size (`HEAP_MAX_SIZE`): 64 MiB on 64-bit.
pub const ARENA_SIZE_64: u64 = 64 << 20;
/// glibc's arena heap size on 32-bit: 1 MiB.
pub const ARENA_SIZE_32: u64 = 1 << 20;

fn class(
    category: Category,
    note: impl Into<Cow<'static, str>>,
    rule: &'static str,
    evidence: String,
    heuristic: bool,
) -> Class {
    Class {
        category,
        note: note.into(),
        rule,
        evidence,
        heuristic,
        object: None,
        thread: None,
    }
}

/// File identity used to group segments.
fn file_key(r: &Region) -> Option<(u32, u32, u64, &[u8])> {
    matches!(r.kind(), PathKind::File)
        .then(|| (r.dev.major, r.dev.minor, r.inode, r.path.view().name_raw()))
}

fn page_size_of(s: &Snapshot) -> u64 {
    s.regions
        .iter()
        .find_map(|r| {
            r.kb(Field::MmuPageSize)
                .filter(|&k| k > 0)
                .map(|k| k * 1024)
        })
        .unwrap_or_else(|| {
            // Without smaps, the smallest region is a good lower bound; page
            // sizes are 4, 16 or 64 KiB.
            let min = s
                .regions
                .iter()
                .map(Region::size)
                .filter(|&z| z > 0)
                .min()
                .unwrap_or(4096);
            [65536, 16384, 4096]
                .into_iter()
                .find(|&p| min >= p && min % p == 0 && s.regions.iter().all(|r| r.start % p == 0))
                .unwrap_or(4096)
        })
}

fn is_alloc_name(name: &[u8]) -> bool {
    name.starts_with(b"libc_malloc")
        || name.starts_with(b"scudo:")
        || name.starts_with(b"jemalloc")
        || name.starts_with(b"je_")
        || name.starts_with(b"GWP-ASan")
        || name.starts_with(b"partition_alloc")
}

/// Classifies every region of a snapshot.
///
/// ```
/// use maplens_core::{analysis::{classify, Category}, model::Snapshot, parse::Mode};
/// let text = b"\
/// 7f0000000000-7f0000028000 r--p 00000000 08:01 42 /usr/lib/libc.so.6
/// 7f0000028000-7f00001bd000 r-xp 00028000 08:01 42 /usr/lib/libc.so.6
/// 7f00001bd000-7f0000215000 r--p 001bd000 08:01 42 /usr/lib/libc.so.6
/// 7f0000215000-7f0000219000 r--p 00214000 08:01 42 /usr/lib/libc.so.6
/// 7f0000219000-7f000021b000 rw-p 00218000 08:01 42 /usr/lib/libc.so.6
/// 7f000021b000-7f0000228000 rw-p 00000000 00:00 0
/// ";
/// let s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
/// let c = classify(&s);
/// let cats: Vec<_> = c.classes.iter().map(|c| c.category).collect();
/// assert_eq!(cats, [Category::ReadOnlyData, Category::Code, Category::ReadOnlyData,
///                   Category::Relro, Category::WritableData, Category::Bss]);
/// assert_eq!(c.objects.len(), 1);
/// ```
pub fn classify(s: &Snapshot) -> Classified {
    let regions = &s.regions;
    let page = page_size_of(s);
    let is_64bit = regions.iter().any(|r| r.end > 1 << 32);
    let arena = if is_64bit {
        ARENA_SIZE_64
    } else {
        ARENA_SIZE_32
    };

    // Files with an executable segment are ELF objects.
    let mut exec_files: HashMap<(u32, u32, u64, &[u8]), usize> = HashMap::new();
    let mut objects: Vec<Object> = Vec::new();
    for r in regions {
        if r.perms.exec()
            && let Some(k) = file_key(r)
            && !exec_files.contains_key(&k)
        {
            exec_files.insert(k, objects.len());
            objects.push(Object {
                path: r.path.view().decoded().into_owned(),
                regions: Vec::new(),
            });
        }
    }

    // Stack pointers of threads (live or captured).
    // Sorted by stack pointer (then by thread order), so that a region
    // finds the sps inside it by a binary search: 60,000 regions and 200
    // threads made 12 million comparisons.
    let mut sps: Vec<(u64, usize, u32)> = s
        .process
        .threads
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.sp.map(|sp| (sp, i, t.tid)))
        .collect();
    sps.sort_unstable();
    // The first thread (in thread order) whose stack pointer is inside.
    let sp_in = |r: &Region| -> Option<u32> {
        let from = sps.partition_point(|&(sp, _, _)| sp < r.start);
        sps[from..]
            .iter()
            .take_while(|&&(sp, _, _)| sp < r.end)
            .min_by_key(|&&(_, i, _)| i)
            .map(|&(_, _, tid)| tid)
    };
    let main_pid = s.process.pid;

    let mut classes: Vec<Class> = Vec::with_capacity(regions.len());
    for (i, r) in regions.iter().enumerate() {
        let next = regions.get(i + 1);
        let adjacent_next = next.filter(|n| n.start == r.end);
        let hugetlb = r
            .smaps
            .as_ref()
            .and_then(|m| m.flags())
            .is_some_and(|f| f.has("ht"));
        let mut c = match r.kind() {
            PathKind::Heap => class(
                Category::Heap,
                "the heap: memory malloc gets with brk()",
                "path-heap",
                "named [heap]".into(),
                false,
            ),
            PathKind::Stack => class(
                Category::MainStack,
                "the main thread's stack",
                "path-stack",
                "named [stack]".into(),
                false,
            ),
            PathKind::ThreadStack(tid) => {
                let mut c = class(
                    Category::ThreadStack,
                    format!("stack of thread {tid}"),
                    "path-stack-tid",
                    format!("named [stack:{tid}] (kernels 3.4-4.8)"),
                    false,
                );
                c.thread = Some(tid);
                c
            }
            k if k.is_kernel_provided() => class(
                Category::KernelProvided,
                kernel_note(k),
                "path-kernel",
                format!("named {}", r.path.raw_lossy()),
                false,
            ),
            PathKind::Rollup => class(
                Category::AnonMmap,
                "the smaps_rollup totals pseudo-region",
                "path-rollup",
                "named [rollup]".into(),
                false,
            ),
            PathKind::AnonNamed(name) => {
                if let Some(tid) = name.strip_prefix(b"stack_and_tls:") {
                    let tid: Option<u32> =
                        std::str::from_utf8(tid).ok().and_then(|t| t.parse().ok());
                    // bionic maps a thread's guard, stack and TLS as one
                    // mapping and names it all; the guard part is `---p`.
                    // `stack_and_tls:main` is the main thread's TLS only.
                    let mut c = if r.perms.none() {
                        class(
                            Category::GuardPage,
                            format!(
                                "guard page under the stack of thread {}",
                                tid.map_or("?".into(), |t| t.to_string())
                            ),
                            "android-stack-and-tls",
                            format!("named {}, no access", r.path.raw_lossy()),
                            false,
                        )
                    } else if tid.is_none() && name == b"stack_and_tls:main" {
                        class(
                            Category::NamedAnon,
                            "thread-local storage of the main thread (bionic; its stack is [stack])",
                            "android-stack-and-tls",
                            format!("named {}", r.path.raw_lossy()),
                            false,
                        )
                    } else {
                        class(
                            Category::ThreadStack,
                            format!(
                                "stack and TLS of thread {}",
                                tid.map_or("?".into(), |t| t.to_string())
                            ),
                            "android-stack-and-tls",
                            format!("named {}", r.path.raw_lossy()),
                            false,
                        )
                    };
                    c.thread = tid;
                    c
                } else if name.ends_with(b"guard") || name.ends_with(b"guard page") {
                    class(
                        Category::GuardPage,
                        "a guard page named by the program",
                        "anon-name-guard",
                        format!("named {}", r.path.raw_lossy()),
                        false,
                    )
                } else if name == b"thread signal stack" {
                    class(
                        Category::ThreadStack,
                        "a thread's signal stack (sigaltstack, bionic): used only by signal handlers",
                        "anon-name-stack",
                        format!("named {}", r.path.raw_lossy()),
                        false,
                    )
                } else if name.starts_with(b"stack") {
                    class(
                        Category::ThreadStack,
                        "a thread's stack (named by the program)",
                        "anon-name-stack",
                        format!("named {}", r.path.raw_lossy()),
                        false,
                    )
                } else if is_alloc_name(name) {
                    class(
                        Category::MallocArena,
                        "memory of the C allocator (named by it)",
                        "anon-name-allocator",
                        format!("named {}", r.path.raw_lossy()),
                        false,
                    )
                } else if name == b".bss" {
                    class(
                        Category::Bss,
                        "zero-initialised data (.bss) named by the loader",
                        "anon-name-bss",
                        format!("named {}", r.path.raw_lossy()),
                        false,
                    )
                } else {
                    class(
                        Category::NamedAnon,
                        format!(
                            "anonymous memory the program named \"{}\"",
                            String::from_utf8_lossy(name)
                        ),
                        "anon-name",
                        format!("named {}", r.path.raw_lossy()),
                        false,
                    )
                }
            }
            PathKind::AnonShmemNamed(name) => class(
                Category::SharedMemory,
                format!(
                    "shared anonymous memory named \"{}\"",
                    String::from_utf8_lossy(name)
                ),
                "path-anon-shmem",
                format!("named {}", r.path.raw_lossy()),
                false,
            ),
            PathKind::Memfd(name)
                if hugetlb
                    || r.kb(Field::KernelPageSize)
                        .is_some_and(|k| k > 4 && k > page / 1024) =>
            {
                class(
                    Category::Hugetlb,
                    format!(
                        "memfd \"{}\" on huge pages (hugetlbfs)",
                        String::from_utf8_lossy(name)
                    ),
                    "memfd-hugetlb",
                    "memfd with VmFlags ht or a huge KernelPageSize".into(),
                    false,
                )
            }
            PathKind::Memfd(name) => class(
                Category::SharedMemory,
                format!(
                    "memfd \"{}\": an in-memory file (memfd_create)",
                    String::from_utf8_lossy(name)
                ),
                "path-memfd",
                "named /memfd:… (deleted)".into(),
                false,
            ),
            PathKind::SysV(key) => class(
                Category::SharedMemory,
                format!("System V shared memory, key 0x{key:08x} (see ipcs -m)"),
                "path-sysv",
                "named /SYSV… (deleted)".into(),
                false,
            ),
            PathKind::DevZero => class(
                Category::SharedMemory,
                "shared anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS)",
                "path-dev-zero-deleted",
                "named /dev/zero (deleted)".into(),
                false,
            ),
            PathKind::AnonHugepage => class(
                Category::Hugetlb,
                "anonymous memory on huge pages (MAP_HUGETLB)",
                "path-anon-hugepage",
                "named /anon_hugepage (deleted)".into(),
                false,
            ),
            PathKind::AnonInode(name) => class(
                Category::Device,
                format!(
                    "a kernel object mapped into memory (anon_inode:{})",
                    String::from_utf8_lossy(name)
                ),
                "path-anon-inode",
                "named anon_inode:…".into(),
                false,
            ),
            PathKind::OtherSpecial(_) | PathKind::Other => class(
                Category::NamedAnon,
                "a region with a special name",
                "path-other",
                format!("named {}", r.path.raw_lossy()),
                false,
            ),
            PathKind::File if hugetlb => class(
                Category::Hugetlb,
                "a hugetlbfs file",
                "vmflags-ht",
                "VmFlags has ht".into(),
                false,
            ),
            PathKind::File => file_class(r, adjacent_next, &exec_files),
            PathKind::Anonymous if hugetlb => class(
                Category::Hugetlb,
                "anonymous huge pages",
                "vmflags-ht",
                "VmFlags has ht".into(),
                false,
            ),
            PathKind::Anonymous => anon_class(r, i, regions, page, arena, &exec_files),
            _ => class(
                Category::AnonMmap,
                "unrecognised",
                "fallback",
                String::new(),
                true,
            ),
        };
        if r.perms.write()
            && r.perms.exec()
            && !matches!(
                c.category,
                Category::Heap | Category::MainStack | Category::ThreadStack | Category::Hugetlb
            )
        {
            c = class(
                Category::WritableExec,
                "writable and executable: JIT-compiled code, or a program built for an old ABI",
                "perms-wx",
                format!("permissions {}", r.perms),
                false,
            );
        }
        // Anything holding a thread's stack pointer is that thread's stack.
        if !matches!(c.category, Category::ThreadStack | Category::MainStack)
            && r.perms.write()
            && let Some(tid) = sp_in(r)
        {
            let is_main = Some(tid) == main_pid;
            c = class(
                if is_main {
                    Category::MainStack
                } else {
                    Category::ThreadStack
                },
                format!("stack of thread {tid}"),
                "thread-sp",
                format!("thread {tid}'s stack pointer (task/{tid}/syscall) is inside"),
                false,
            );
            c.thread = Some(tid);
        } else if c.category == Category::ThreadStack
            && c.rule != "path-stack-tid"
            && let Some(tid) = sp_in(r)
        {
            c.thread = Some(tid);
            c.note = format!("stack of thread {tid}").into();
            if c.heuristic {
                // The layout guessed it; the stack pointer proves it.
                c.rule = "thread-sp";
                c.evidence = format!(
                    "thread {tid}'s stack pointer (task/{tid}/syscall) is inside; {}",
                    c.evidence
                );
                c.heuristic = false;
            }
        }
        if let Some(k) = file_key(r)
            && let Some(&o) = exec_files.get(&k)
        {
            c.object = Some(o);
        }
        classes.push(c);
    }

    // With every thread's stack pointer known, a region that only looks
    // like a thread stack but holds none of them is not one.
    let all_sp = !s.process.threads.is_empty() && s.process.threads.iter().all(|t| t.sp.is_some());
    if all_sp {
        for c in classes.iter_mut() {
            if c.rule == "stack-above-guard" && c.thread.is_none() {
                *c = class(
                    Category::AnonMmap,
                    "anonymous memory: mmap, or malloc of large blocks",
                    "anon",
                    "rw above a ---p like a thread stack, but no thread's stack pointer (all known) \
                     is inside"
                        .into(),
                    false,
                );
            }
        }
    }
    // Second pass: the no-access pages right below a thread stack are its
    // guard (glibc's guard page, plus the JVM's own guard zones, which make a
    // second `---p` mapping).
    for i in 0..classes.len() {
        if classes[i].category != Category::ThreadStack || regions[i].perms.none() {
            continue;
        }
        let mut j = i;
        let mut guard = 0;
        while j > 0 {
            let (below, above) = (&regions[j - 1], &regions[j]);
            let c = &classes[j - 1];
            if below.end != above.start
                || !below.perms.none()
                || !matches!(below.kind(), PathKind::Anonymous | PathKind::AnonNamed(_))
                || !matches!(c.category, Category::Reservation | Category::GuardPage)
                || guard + below.size() > 1 << 20
                || c.category == Category::Reservation && below.size() > 64 << 10
            {
                break;
            }
            if c.rule == "android-stack-and-tls" {
                // bionic's guard is the named part; what lies below is not.
                break;
            }
            guard += below.size();
            if c.category == Category::Reservation {
                classes[j - 1] = class(
                    Category::GuardPage,
                    "guard page: no access, catches a stack overflow",
                    "guard-below-stack",
                    "small ---p directly below a thread stack".into(),
                    true,
                );
            }
            j -= 1;
        }
    }
    // bss and an anonymous linker gap belong to the object before them;
    // guards take the thread of the stack above them.
    for i in 1..classes.len() {
        if matches!(classes[i].category, Category::Bss | Category::LinkerGap)
            && classes[i].object.is_none()
            && regions[i - 1].end == regions[i].start
        {
            classes[i].object = classes[i - 1].object;
        }
    }
    for i in (0..classes.len()).rev() {
        if classes[i].category == Category::GuardPage
            && classes[i].thread.is_none()
            && let Some(n) = classes.get(i + 1)
            && matches!(n.category, Category::ThreadStack | Category::GuardPage)
            && regions[i].end == regions[i + 1].start
        {
            let tid = n.thread;
            classes[i].thread = tid;
            if let Some(t) = tid {
                classes[i].note = format!("guard page under the stack of thread {t}").into();
            }
        }
    }
    for (i, c) in classes.iter().enumerate() {
        if let Some(o) = c.object {
            objects[o].regions.push(i);
        }
    }
    Classified {
        classes,
        objects,
        page_size: page,
        is_64bit,
    }
}

fn kernel_note(k: PathKind<'_>) -> &'static str {
    match k {
        PathKind::Vdso => {
            "vDSO: kernel code in every process for fast system calls (clock_gettime, …)"
        }
        PathKind::Vvar => "vvar: kernel data the vDSO reads (clocks)",
        PathKind::VvarVclock => "vvar_vclock: clock pages the vDSO reads",
        PathKind::Vsyscall => "vsyscall: the legacy fixed-address system call page (x86_64)",
        PathKind::Vectors => "exception vectors page (32-bit ARM)",
        PathKind::Sigpage => "signal return trampoline page (32-bit ARM)",
        PathKind::Uprobes => "uprobes: out-of-line instruction slots for user probes",
        _ => "provided by the kernel",
    }
}

fn is_device_path(p: &[u8]) -> bool {
    p.starts_with(b"/dev/")
        && !p.starts_with(b"/dev/shm/")
        && !p.starts_with(b"/dev/ashmem")
        && !p.starts_with(b"/dev/zero")
        || p.starts_with(b"/i915")
        || p.starts_with(b"/drm mm object")
        || p.starts_with(b"/kgsl")
}

fn is_shm_path(p: &[u8]) -> bool {
    p.starts_with(b"/dev/shm/") || p.starts_with(b"/dev/ashmem") || p.starts_with(b"/run/shm/")
}

fn file_class(
    r: &Region,
    next: Option<&Region>,
    exec_files: &HashMap<(u32, u32, u64, &[u8]), usize>,
) -> Class {
    let name = r.path.view().name_raw();
    if is_device_path(name) {
        let gpu = [
            &b"/dev/nvidia"[..],
            b"/dev/dri/",
            b"/dev/kgsl",
            b"/dev/mali",
            b"/i915",
            b"/drm",
            b"/kgsl",
        ]
        .iter()
        .any(|p| name.starts_with(p));
        let note = if name == b"/dev/mem" || name == b"/dev/kmem" {
            "physical memory mapped through /dev/mem"
        } else if gpu {
            "GPU memory or registers mapped from the driver"
        } else {
            "a device mapped into memory"
        };
        return class(
            Category::Device,
            note,
            "path-dev",
            format!("path {}", r.path.display()),
            false,
        );
    }
    if is_shm_path(name) {
        return class(
            Category::SharedMemory,
            "a shared-memory file (/dev/shm, ashmem)",
            "path-shm",
            format!("path {}", r.path.display()),
            false,
        );
    }
    let same = |o: &Region| file_key(o) == file_key(r);
    let is_object = file_key(r).is_some_and(|k| exec_files.contains_key(&k));
    if !is_object {
        return if r.perms.shared() {
            class(
                Category::MappedFile,
                if r.perms.write() {
                    "a data file mapped shared and writable: writes go to the file"
                } else {
                    "a data file mapped shared (read-only)"
                },
                "file-data",
                "file with no executable segment".into(),
                false,
            )
        } else {
            class(
                Category::MappedFile,
                if r.perms.write() {
                    "a data file mapped private: written pages become private copies"
                } else {
                    "a data file mapped read-only"
                },
                "file-data",
                "file with no executable segment".into(),
                false,
            )
        };
    }
    let p = r.perms;
    if p.none() {
        return class(
            Category::LinkerGap,
            "gap the linker leaves between a library's code and data so they never share a page (costs no memory)",
            "elf-gap",
            "---p segment of an ELF file".into(),
            false,
        );
    }
    if p.exec() {
        return class(
            Category::Code,
            "code of the program or a shared library",
            "elf-text",
            "executable segment of a file".into(),
            false,
        );
    }
    if p.write() {
        return class(
            Category::WritableData,
            "initialised data (.data) of the program or a library; written pages become private",
            "elf-data",
            "writable segment of an ELF file".into(),
            false,
        );
    }
    // Read-only: RELRO when it runs straight into the data segment of the
    // same file, the file offsets continuing.
    if let Some(n) = next
        && same(n)
        && n.perms.write()
        && n.offset == r.offset + r.size()
    {
        return class(
            Category::Relro,
            "relocated data made read-only after start-up (RELRO: GOT, vtables)",
            "elf-relro",
            "read-only segment directly before the writable segment, contiguous in the file".into(),
            true,
        );
    }
    class(
        Category::ReadOnlyData,
        "read-only data of the program or a library (ELF headers, .rodata)",
        "elf-rodata",
        "read-only segment of an ELF file".into(),
        false,
    )
}

fn anon_class(
    r: &Region,
    i: usize,
    regions: &[Region],
    page: u64,
    arena: u64,
    exec_files: &HashMap<(u32, u32, u64, &[u8]), usize>,
) -> Class {
    let size = r.size();
    let prev = i
        .checked_sub(1)
        .map(|j| &regions[j])
        .filter(|p| p.end == r.start);
    let next = regions.get(i + 1).filter(|n| n.start == r.end);
    let anon = |o: &Region| matches!(o.kind(), PathKind::Anonymous);
    let p = r.perms;
    if p.shared() {
        return class(
            Category::SharedMemory,
            "shared anonymous memory",
            "anon-shared",
            "unnamed and shared".into(),
            false,
        );
    }
    // glibc arena: a heap of HEAP_MAX_SIZE aligned to its size, rw-p head
    // followed by a ---p tail (or all of it in one piece).
    let arena_head = r.start.is_multiple_of(arena)
        && (p.read() && p.write())
        && match next.filter(|n| anon(n) && n.perms.none()) {
            Some(n) => size + n.size() == arena,
            None => size == arena,
        };
    let arena_tail = p.none()
        && prev.is_some_and(|pr| {
            anon(pr)
                && pr.perms.write()
                && pr.start.is_multiple_of(arena)
                && pr.size() + size == arena
        });
    // The kernel merged the arena's used head with an anonymous mapping
    // right below it: the tail still ends on the arena boundary.
    let arena_tail_merged = p.none()
        && size < arena
        && r.end.is_multiple_of(arena)
        && prev.is_some_and(|pr| {
            anon(pr) && pr.perms.read() && pr.perms.write() && pr.start < r.end - arena
        });
    if arena_head {
        return class(
            Category::MallocArena,
            "a glibc malloc arena: heap of a thread's malloc (the used part)",
            "glibc-arena",
            format!(
                "rw-p at a {} MiB-aligned address, with its ---p tail {} MiB in all",
                arena >> 20,
                arena >> 20
            ),
            true,
        );
    }
    if arena_tail {
        return class(
            Category::MallocArena,
            "the reserved, untouched tail of a glibc malloc arena (costs no memory)",
            "glibc-arena-tail",
            format!(
                "---p completing a {} MiB-aligned {} MiB arena",
                arena >> 20,
                arena >> 20
            ),
            true,
        );
    }
    if arena_tail_merged {
        return class(
            Category::MallocArena,
            "the reserved, untouched tail of a glibc malloc arena (costs no memory); its used \
             head was merged with the mapping below",
            "glibc-arena-tail",
            format!(
                "---p ending on a {} MiB boundary, below it rw-p reaching past the boundary {} MiB \
                 lower",
                arena >> 20,
                arena >> 20
            ),
            true,
        );
    }
    // bss: anonymous rw right after an ELF object's data segment.
    if p.write()
        && let Some(pr) = prev
        && pr.perms.write()
        && file_key(pr).is_some_and(|k| exec_files.contains_key(&k))
    {
        return class(
            Category::Bss,
            "zero-initialised data (.bss) of the object before it",
            "elf-bss",
            "anonymous rw right after a writable ELF segment".into(),
            true,
        );
    }
    if p.none() {
        // A small no-access region right below a writable one: a guard.
        if size <= (1 << 20).max(page) && next.is_some_and(|n| anon(n) && n.perms.write()) {
            return class(
                Category::GuardPage,
                "guard page: no access, catches a stack overflow",
                "guard-below-rw",
                "small ---p directly below anonymous rw memory".into(),
                true,
            );
        }
        if prev.is_some_and(|pr| file_key(pr).is_some_and(|k| exec_files.contains_key(&k)))
            && next.is_some_and(|n| file_key(n).is_some_and(|k| exec_files.contains_key(&k)))
        {
            return class(
                Category::LinkerGap,
                "gap between segments of a library (costs no memory)",
                "elf-gap-anon",
                "---p between two ELF segments".into(),
                true,
            );
        }
        return class(
            Category::Reservation,
            "reserved address space with no access (costs no memory until made accessible)",
            "prot-none",
            "unnamed ---p".into(),
            false,
        );
    }
    // Thread stack: rw-p above a guard, of a typical stack size.
    let guardish = |o: &Region| {
        o.perms.none()
            && o.size() <= 1 << 20
            && match o.kind() {
                PathKind::Anonymous => true,
                PathKind::AnonNamed(n) => n.ends_with(b"guard"),
                _ => false,
            }
    };
    if p.write() && prev.is_some_and(guardish) && (16 * 1024..=64 << 20).contains(&size) {
        return class(
            Category::ThreadStack,
            "a thread's stack (guard page below it)",
            "stack-above-guard",
            "anonymous rw directly above a small ---p guard".into(),
            true,
        );
    }
    class(
        Category::AnonMmap,
        "anonymous memory: mmap, or malloc of large blocks",
        "anon",
        "unnamed, private".into(),
        false,
    )
}
