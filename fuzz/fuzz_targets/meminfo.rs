//! Arbitrary bytes as a capture bundle (raw, and packed into a tar by name
//! and data) or as /proc/meminfo text; see
//! `crates/maplens-core/tests/common/bundle_invariants.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens-core/tests/common/bundle_invariants.rs"]
#[allow(dead_code)]
mod bundle_invariants;

fuzz_target!(|data: &[u8]| {
    bundle_invariants::check_meminfo(data);
});
