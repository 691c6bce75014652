//! Allocators: the `brk` heap and glibc's per-thread arena heaps.

use super::{Alternative, Arena, Category, Class, Confidence, class, stack};
use crate::model::Region;
use crate::parse::PathKind;

/// `[heap]`.
pub(super) fn brk_heap() -> Class {
    class(
        Category::Heap,
        "the heap: memory malloc gets with brk()",
        "path-heap",
        "named [heap]",
        false,
    )
}

/// A glibc arena heap: `HEAP_MAX_SIZE` aligned to its size, its `rw-p`
/// head followed by a `---p` tail (or all of it in one piece).
pub(super) fn glibc_arena(
    r: &Region,
    prev: Option<&Region>,
    next: Option<&Region>,
    arena: u64,
) -> Option<Class> {
    let size = r.size();
    let anon = |o: &Region| matches!(o.kind(), PathKind::Anonymous);
    let p = r.perms;
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
    // A small ---p with anonymous rw right above it is that mapping's guard
    // (or a reservation), whatever boundary it ends on.
    let guards_next = size <= 64 << 10 && next.is_some_and(|n| anon(n) && n.perms.write());
    let arena_tail_merged = p.none()
        && !guards_next
        && size < arena
        && r.end.is_multiple_of(arena)
        && prev.is_some_and(|pr| {
            anon(pr) && pr.perms.read() && pr.perms.write() && pr.start < r.end - arena
        });
    if arena_head {
        let mut c = class(
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
        // The same shape as a stack above the previous mapping's guard,
        // with the next mapping's guard above: both readings are kept.
        if stack::stack_shaped(r, prev) {
            let tail = next.filter(|n| n.perms.none()).map_or(0, Region::size);
            c.alternative = Some(Box::new(Alternative {
                category: Category::ThreadStack,
                note: "a thread's stack (guard page below it)".into(),
                rule: "stack-above-guard",
                confidence: if tail > 64 << 10 {
                    Confidence::Likely
                } else {
                    Confidence::Even
                },
            }));
        }
        return Some(c);
    }
    if arena_tail {
        return Some(class(
            Category::MallocArena,
            "the reserved, untouched tail of a glibc malloc arena (costs no memory)",
            "glibc-arena-tail",
            format!(
                "---p completing a {} MiB-aligned {} MiB arena",
                arena >> 20,
                arena >> 20
            ),
            true,
        ));
    }
    if arena_tail_merged {
        return Some(class(
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
        ));
    }
    None
}

/// The rules that make an arena's first region.
const HEAD_RULES: &[&str] = &["glibc-arena", "glibc-arena-merged", "anon-name-glibc-arena"];
/// The rules of an arena's later regions.
const TAIL_RULES: &[&str] = &["glibc-arena-tail", "glibc-arena-named-tail"];

/// A tail whose head turned out not to be an arena (a stack pointer is in
/// it) is a plain reservation; the guards pass may make it a guard.
pub(super) fn orphan_tails(regions: &[Region], classes: &mut [Class]) {
    for i in 1..classes.len() {
        if classes[i].rule == "glibc-arena-tail"
            && regions[i - 1].end == regions[i].start
            && classes[i - 1].category == Category::ThreadStack
        {
            classes[i] = class(
                Category::Reservation,
                "reserved address space with no access (costs no memory until made accessible)",
                "prot-none",
                "unnamed ---p; the rw-p below it is a stack, not an arena",
                false,
            );
        }
    }
}

/// glibc names only the part of an arena heap it committed first; what
/// it commits later and the `---p` reserve stay unnamed. They are the same
/// arena up to the heap's `HEAP_MAX_SIZE` bound (heaps are aligned to it).
pub(super) fn named_arena_tails(regions: &[Region], classes: &mut [Class], arena: u64) {
    for i in 0..classes.len() {
        if classes[i].rule != "anon-name-glibc-arena" {
            continue;
        }
        let bound = regions[i].start - regions[i].start % arena + arena;
        let mut j = i + 1;
        while j < regions.len()
            && regions[j].start == regions[j - 1].end
            && regions[j].end <= bound
            && matches!(regions[j].kind(), PathKind::Anonymous)
            && matches!(
                classes[j].category,
                Category::AnonMmap
                    | Category::Reservation
                    | Category::GuardPage
                    | Category::ThreadStack
                    | Category::MallocArena
            )
            && (classes[j].heuristic || classes[j].thread.is_none())
            && !matches!(classes[j].rule, "thread-sp")
        {
            classes[j] = class(
                Category::MallocArena,
                if regions[j].perms.none() {
                    "the reserved, untouched tail of the glibc malloc arena below (costs no memory)"
                } else {
                    "the glibc malloc arena below: the part committed after glibc named it"
                },
                "glibc-arena-named-tail",
                format!(
                    "unnamed, directly after [anon: glibc: malloc arena], inside its {} KiB-aligned \
                     heap",
                    arena >> 10
                ),
                false,
            );
            j += 1;
        }
    }
}

/// Every glibc arena heap, once: a head and the tail regions adjacent to
/// it; a tail without its head (merged away) is an arena too.
pub(super) fn arenas(regions: &[Region], classes: &[Class]) -> Vec<Arena> {
    let mut out: Vec<Arena> = Vec::new();
    for (i, c) in classes.iter().enumerate() {
        let head = HEAD_RULES.contains(&c.rule) && c.category == Category::MallocArena;
        let tail = TAIL_RULES.contains(&c.rule);
        if !head && !tail {
            continue;
        }
        let r = &regions[i];
        match out.last_mut() {
            Some(a) if tail && a.end == r.start && a.regions.last() == Some(&(i - 1)) => {
                a.regions.push(i);
                a.end = r.end;
                a.heuristic |= c.heuristic;
            }
            _ => out.push(Arena {
                regions: vec![i],
                start: r.start,
                end: r.end,
                heuristic: c.heuristic,
            }),
        }
    }
    out
}
