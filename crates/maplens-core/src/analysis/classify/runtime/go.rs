//! Go: the heap grows in 64 MiB arenas from the hint addresses
//! `0x00c0 << 32`, `0x01c0 << 32`, … (amd64, arm64; `runtime/malloc.go`),
//! the first at `0xc000000000`.

use super::super::{Category, Class, class};
use super::open;
use crate::model::Region;

const FIRST_HINT: u64 = 0xc0 << 32;

fn in_hint_window(a: u64) -> bool {
    (a >> 32) & 0xff == 0xc0 && a >> 40 < 0x80
}

/// A region starts at the first heap hint.
pub(super) fn has_heap_hint(regions: &[Region]) -> bool {
    regions
        .iter()
        .any(|r| r.start == FIRST_HINT && r.path.raw().is_empty())
}

pub(super) fn apply(regions: &[Region], classes: &mut [Class], is_64bit: bool) {
    if !is_64bit {
        return;
    }
    for (i, r) in regions.iter().enumerate() {
        // Goroutine stacks (and the g0 stacks of Go's own threads) are
        // allocated from the heap, so a thread's stack pointer there does not
        // make the heap a thread stack.
        let sp_in_heap = classes[i].rule == "thread-sp";
        if in_hint_window(r.start) && (sp_in_heap || open(r, &classes[i])) {
            classes[i] = class(
                Category::ManagedHeap,
                if r.perms.none() {
                    "the Go heap: reserved arena space (costs no memory)"
                } else {
                    "the Go heap: 64 MiB arenas of Go objects and goroutine stacks"
                },
                "go-heap",
                if sp_in_heap {
                    "anonymous memory at a Go heap hint address (0x00c0<<32 + n<<40); the stack \
                     pointers inside are of goroutine stacks, which Go allocates from its heap"
                } else {
                    "anonymous memory at a Go heap hint address (0x00c0<<32 + n<<40)"
                },
                true,
            );
        }
    }
}
