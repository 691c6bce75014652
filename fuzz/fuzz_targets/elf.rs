//! Arbitrary bytes as the first bytes of an ELF file, into
//! `ElfHeaders::parse` and `bytes_needed`; see
//! `crates/maplens-core/tests/common/elf_invariants.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens-core/tests/common/elf_invariants.rs"]
mod elf_invariants;

fuzz_target!(|data: &[u8]| {
    elf_invariants::check(data);
});
