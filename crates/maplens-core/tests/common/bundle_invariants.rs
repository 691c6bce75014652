//! Invariants of capture bundles and meminfo text, whatever their bytes.
//! Shared by the `cargo fuzz` targets `bundle` and `meminfo`
//! (`fuzz/fuzz_targets/`, which include this file by path) and the bounded
//! stable run in `tests/fuzz_regress.rs`.

use maplens_core::parse::meminfo_lines;
use maplens_core::source::Options;
use maplens_core::source::bundle::Bundle;

/// Splits `input` into (name, data) pairs at `\0\0` and `\0` and packs them
/// into a tar, so that the fuzzer reaches the bundle's own logic (names,
/// PIDs, side files) rather than only the tar reader.
pub fn tar_of_pairs(input: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for part in input.split(|&c| c == 0xfe) {
        let (name, data) = match part.iter().position(|&c| c == 0) {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        let name = String::from_utf8_lossy(name);
        let name = name.trim_matches('/');
        if name.is_empty() || name.split('/').any(|c| c.is_empty() || c == "..") {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if b.append_data(&mut h, name, data).is_err() {
            continue;
        }
    }
    b.into_inner().unwrap_or_default()
}

/// Panics (with a message) when an invariant does not hold: no panic
/// anywhere, every error a one-line message naming the bundle, every
/// snapshot's regions ordered and non-empty.
pub fn check_bundle(input: &[u8]) {
    for bytes in [input.to_vec(), tar_of_pairs(input)] {
        let bundle = match Bundle::from_bytes("fuzz.tar", bytes) {
            Ok(b) => b,
            Err(e) => {
                let m = e.to_string();
                assert!(m.contains("fuzz.tar") && !m.contains('\n'), "{m:?}");
                continue;
            }
        };
        let _ = bundle.single_pid();
        let _ = bundle.system();
        for &pid in bundle.pids().to_vec().iter().take(8) {
            match bundle.load(pid, &Options::default()) {
                Ok(snap) => {
                    for r in &snap.regions {
                        assert!(r.start <= r.end, "region {:#x}-{:#x}", r.start, r.end);
                    }
                }
                Err(e) => {
                    let m = e.to_string();
                    assert!(!m.is_empty() && !m.contains('\n'), "{m:?}");
                }
            }
        }
    }
}

/// Panics when a meminfo line is misnumbered or an error has no line.
pub fn check_meminfo(input: &[u8]) {
    let lines = input.split(|&b| b == b'\n').count();
    let mut last = 0;
    for item in meminfo_lines(input) {
        let line = match &item {
            Ok(l) => l.line,
            Err(e) => e.line,
        };
        assert!(
            line > last && line <= lines,
            "line {line} after {last} of {lines}"
        );
        last = line;
    }
}
