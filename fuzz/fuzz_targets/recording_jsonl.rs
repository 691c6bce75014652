//! Arbitrary bytes as a JSON Lines recording, read from memory; see
//! `crates/maplens-record/tests/common/recording_invariants.rs` for what
//! is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens-record/tests/common/recording_invariants.rs"]
#[allow(dead_code)]
mod recording_invariants;

fuzz_target!(|data: &[u8]| {
    recording_invariants::check_jsonl(data);
});
