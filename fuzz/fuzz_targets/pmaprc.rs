//! Arbitrary bytes as pmap's rc file (`~/.pmaprc`), into maplens's pmap
//! rc parser (`crates/maplens/src/pmap/rc.rs`, included by path: the
//! maplens crate is a binary); see
//! `crates/maplens/tests/common/pmaprc_invariants.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens/src/pmap/rc.rs"]
#[allow(dead_code)]
mod rc;

#[path = "../../crates/maplens/tests/common/pmaprc_invariants.rs"]
mod pmaprc_invariants;

fn parse(input: &[u8], warn: &mut dyn FnMut(String)) -> (Vec<Vec<u8>>, usize) {
    let rc = rc::parse(input, warn);
    (rc.fields, rc.showpath_toggles)
}

fuzz_target!(|data: &[u8]| {
    pmaprc_invariants::check(data, parse);
});
