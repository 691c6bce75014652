//! Allocators: the `brk` heap and glibc's per-thread arena heaps.

use super::{Category, Class, class};
use crate::model::Region;
use crate::parse::PathKind;

/// `[heap]`.
pub(super) fn brk_heap() -> Class {
    class(
        Category::Heap,
        "the heap: memory malloc gets with brk()",
        "path-heap",
        "named [heap]".into(),
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
    let arena_tail_merged = p.none()
        && size < arena
        && r.end.is_multiple_of(arena)
        && prev.is_some_and(|pr| {
            anon(pr) && pr.perms.read() && pr.perms.write() && pr.start < r.end - arena
        });
    if arena_head {
        return Some(class(
            Category::MallocArena,
            "a glibc malloc arena: heap of a thread's malloc (the used part)",
            "glibc-arena",
            format!(
                "rw-p at a {} MiB-aligned address, with its ---p tail {} MiB in all",
                arena >> 20,
                arena >> 20
            ),
            true,
        ));
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
