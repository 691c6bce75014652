//! Arbitrary bytes as a region's pagemap entries (and as `PAGEMAP_SCAN`
//! records and kpageflags), decoded and counted; see
//! `crates/maplens-core/tests/common/pagemap_invariants.rs` for the input
//! layout and what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens-core/tests/common/pagemap_invariants.rs"]
mod pagemap_invariants;

fuzz_target!(|data: &[u8]| {
    pagemap_invariants::check(data);
});
