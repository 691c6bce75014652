//! V8 with pointer compression (Chromium, Electron; Node.js built with
//! it): the heap lives in a 4 GiB cage aligned to 4 GiB.

use super::super::{Category, Class, class};
use super::open;
use crate::model::Region;

const CAGE: u64 = 4 << 30;

pub(super) fn apply(regions: &[Region], classes: &mut [Class], is_64bit: bool) {
    if !is_64bit {
        return;
    }
    let mut i = 0;
    while i < regions.len() {
        let base = regions[i].start;
        if !base.is_multiple_of(CAGE) || !open(&regions[i], &classes[i]) {
            i += 1;
            continue;
        }
        // Adjacent anonymous regions covering exactly [base, base + 4 GiB).
        let mut j = i;
        while j + 1 < regions.len()
            && regions[j].end < base + CAGE
            && regions[j + 1].start == regions[j].end
            && open(&regions[j + 1], &classes[j + 1])
        {
            j += 1;
        }
        if regions[j].end == base + CAGE {
            for c in &mut classes[i..=j] {
                *c = class(
                    Category::ManagedHeap,
                    "the V8 heap cage (pointer compression: 4 GiB reserved, 4 GiB aligned)",
                    "v8-cage",
                    "anonymous regions covering a 4 GiB-aligned 4 GiB window in a V8 process",
                    true,
                );
            }
        }
        i = j + 1;
    }
}
