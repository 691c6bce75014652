//! Arbitrary bytes as a file claiming to be a SQLite recording (written to
//! a temp file per input: SQLite reads files, and the check is that the
//! file is left unchanged); see
//! `crates/maplens-record/tests/common/recording_invariants.rs` for what
//! is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens-record/tests/common/recording_invariants.rs"]
#[allow(dead_code)]
mod recording_invariants;

fuzz_target!(|data: &[u8]| {
    recording_invariants::check_sqlite(data);
});
