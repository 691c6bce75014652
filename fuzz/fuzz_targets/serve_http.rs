//! Arbitrary bytes as an HTTP request (parsed by httparse, as hyper does),
//! into the exporter's routing and response; see
//! `crates/maplens-serve/tests/common/serve_invariants.rs` for what is
//! checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/maplens-serve/tests/common/serve_invariants.rs"]
#[allow(dead_code)]
mod serve_invariants;

fuzz_target!(|data: &[u8]| {
    serve_invariants::check_http(data);
});
