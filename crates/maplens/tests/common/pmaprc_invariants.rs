//! Invariants of pmap's rc file parser (`src/pmap/rc.rs`), whatever the
//! bytes. Shared by the `cargo fuzz` target `pmaprc`
//! (`fuzz/fuzz_targets/pmaprc.rs`) and the bounded proptest run in the
//! unit tests of `src/pmap/rc.rs`, both of which include this file by
//! path and hand it the parser (`parse(text, warn) -> (fields,
//! ShowPath toggles)`).

/// The warnings pmap prints, each followed by ` - line N`.
const WARNINGS: &[&str] = &[
    "config line too long",
    "unsupported section found in the config",
    "syntax error found in the config",
];

/// The parser under test: rc text and a sink for warnings in, the fields
/// enabled and the number of `ShowPath` toggles out.
pub type Parse = fn(&[u8], &mut dyn FnMut(String)) -> (Vec<Vec<u8>>, usize);

/// Panics (with a message) when an invariant does not hold: no panic;
/// every warning is one of pmap's, naming a line of the file, in order;
/// fields are tokens of the file (at most 31 bytes, no blank), at most one
/// per line, like the `ShowPath` toggles; the same answer every time.
pub fn check(input: &[u8], parse: Parse) {
    let lines = input.split_inclusive(|&b| b == b'\n').count();
    let mut warnings = Vec::new();
    let (fields, toggles) = parse(input, &mut |w| warnings.push(w));
    let mut again = Vec::new();
    assert_eq!(
        parse(input, &mut |w| again.push(w)),
        (fields.clone(), toggles),
        "not deterministic"
    );
    assert_eq!(warnings, again);
    let mut last = 0;
    for w in &warnings {
        let (what, n) = w.rsplit_once(" - line ").unwrap_or_else(|| panic!("{w:?}"));
        assert!(WARNINGS.contains(&what), "{w:?}");
        let n: usize = n.parse().unwrap_or_else(|_| panic!("{w:?}"));
        assert!(
            n >= 1 && n <= lines && n >= last,
            "line {n} after {last} of {lines}"
        );
        last = n;
    }
    assert!(
        fields.len() + toggles <= lines,
        "{} fields + {toggles} toggles, {lines} lines",
        fields.len()
    );
    for f in &fields {
        assert!(!f.is_empty() && f.len() <= 31, "field {f:?}");
        assert!(
            !f.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n' | 0)),
            "field {f:?}"
        );
        assert!(
            input.windows(f.len()).any(|w| w == f.as_slice()),
            "field not in the file"
        );
    }
}
