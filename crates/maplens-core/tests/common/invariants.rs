//! Invariants every input must satisfy, whatever its bytes. Shared by the
//! `cargo fuzz` target (`fuzz/fuzz_targets/parse.rs`, which includes this
//! file by path) and the bounded fuzz test in `tests/fuzz_regress.rs`.

use maplens_core::parse::{
    Field, FieldValue, Format, Mode, Parser, PathKind, detect_format, parse_all,
};

/// The lines of `input` as the parser numbers them (1-based index = line
/// number), without terminator and, in CRLF text, without the final `\r`.
fn lines(input: &[u8], crlf: bool) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if input.ends_with(b"\n") {
        v.pop();
    }
    if crlf {
        for l in &mut v {
            if let [rest @ .., b'\r'] = *l {
                *l = rest;
            }
        }
    }
    v
}

/// Panics (with a message) when an invariant does not hold.
pub fn check(input: &[u8]) {
    let _ = detect_format(input);
    // The one-pass readers of well-formed lines give exactly what the
    // general code gives, item for item (entries and errors).
    let fast: Vec<_> = Parser::new(input).collect();
    let general: Vec<_> = Parser::new(input).without_fast_paths().collect();
    assert_eq!(fast, general, "fast and general paths differ");
    let parser = Parser::new(input);
    let crlf = parser.crlf();
    let lines = lines(input, crlf);
    let mut last_line = 0;
    let mut n_ok = 0usize;
    let mut n_err = 0usize;
    for item in parser {
        match item {
            Ok(e) => {
                n_ok += 1;
                let h = &e.header;
                assert!(h.start <= h.end, "start > end");
                assert_eq!(h.size(), h.end - h.start);
                assert!(
                    e.line >= 1 && e.line <= lines.len(),
                    "entry line out of range"
                );
                assert!(e.line > last_line, "entries out of order");
                last_line = e.line;
                assert!(e.byte_offset < input.len());
                let line = lines[e.line - 1];
                assert!(input[e.byte_offset..].starts_with(line));
                // The name is the tail of its line, byte for byte.
                assert!(line.ends_with(h.path.raw()), "path is not the line's tail");
                let raw = h.path.raw();
                assert!(h.path.name_raw().len() <= raw.len());
                assert!(h.path.decoded().len() <= h.path.name_raw().len());
                let kind = h.path.kind();
                let _ = kind.tag();
                let _ = kind.is_kernel_provided();
                match kind {
                    PathKind::Anonymous => assert!(raw.is_empty()),
                    PathKind::File => assert_eq!(raw.first(), Some(&b'/')),
                    PathKind::AnonNamed(n)
                    | PathKind::AnonShmemNamed(n)
                    | PathKind::Memfd(n)
                    | PathKind::AnonInode(n)
                    | PathKind::OtherSpecial(n) => assert!(n.len() <= raw.len()),
                    _ => {}
                }
                let _ = (h.perms.to_string(), h.dev.to_string(), h.offset, h.inode);
                if let Some(s) = e.smaps {
                    assert!(s.first_line > e.line);
                    assert!(input.len() >= s.raw.len());
                    let fields: Vec<_> = s.fields().collect();
                    let unknown = s.unknown().count();
                    assert!(unknown <= fields.len());
                    assert!(unknown >= usize::from(s.unknown_fields).min(unknown));
                    for f in Field::ALL {
                        let _ = (s.known.get(*f), s.known.has(*f), f.key(), f.doc());
                    }
                    if let Some(v) = s.vmflags {
                        let codes = v.codes().count();
                        assert!(v.unknown().count() <= codes);
                        assert!(v.known_bits().count_ones() as usize <= codes);
                        for c in v.codes() {
                            assert!(!c.is_empty());
                            assert!(!c.contains(&b' '));
                        }
                    }
                    // The one-pass reader of known fields and the general
                    // path (`fields()`) agree: each known field holds the
                    // number of its last line. (Skipped when a line ends in
                    // a `\r` the parser keeps: `fields()` drops it.)
                    if crlf || !s.raw.contains(&b'\r') {
                        let mut last = [None; maplens_core::parse::FIELD_COUNT];
                        for f in &fields {
                            if let (Some(k), FieldValue::Kb(v) | FieldValue::Number(v)) =
                                (Field::from_key(f.key), f.value)
                            {
                                last[k as usize] = Some(v);
                            }
                        }
                        for f in Field::ALL {
                            assert_eq!(s.known.get(*f), last[*f as usize], "{}", f.key());
                        }
                    }
                    let _ = s.name;
                    let _ = format!("{:?}", s.known);
                }
            }
            Err(err) => {
                n_err += 1;
                assert!(
                    err.line >= 1 && err.line <= lines.len(),
                    "error line out of range"
                );
                let line = lines[err.line - 1];
                assert_eq!(err.text, line, "error text is not its line");
                assert!(
                    err.column >= 1 && err.column <= line.len() + 1,
                    "error column {} outside line of {} bytes",
                    err.column,
                    line.len()
                );
                let _ = err.to_string();
            }
        }
    }
    let lenient = parse_all(input, Mode::Lenient).expect("lenient parsing never fails");
    assert_eq!(lenient.entries.len(), n_ok);
    assert_eq!(lenient.skipped, n_err);
    assert!(lenient.errors.len() <= lenient.skipped.min(20));
    if lenient.format == Format::SmapsRollup {
        assert!(!lenient.entries.is_empty());
    }
    match parse_all(input, Mode::Strict) {
        Ok(p) => {
            assert_eq!(n_err, 0);
            assert_eq!(p.entries, lenient.entries);
        }
        Err(e) => {
            assert!(n_err > 0);
            assert_eq!(Some(&e), lenient.errors.first());
        }
    }
}
