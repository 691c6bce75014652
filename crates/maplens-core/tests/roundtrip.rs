//! Round trip: records → text formatted exactly as the kernel does → parser
//! → the same records.
//!
//! The kernel (`show_vma_header_prefix()` in `fs/proc/task_mmu.c`) prints
//! `"%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu "` after
//! `seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)`; for a named region it then
//! calls `seq_pad(m, ' ')`, which pads with spaces up to that width (72 on
//! 64-bit, 48 on 32-bit) and writes one more space, so the name starts at
//! byte 73 (64-bit) or 49 (32-bit), or two spaces after the inode when the
//! prefix is longer than the width. The fixtures show the same columns.
//! File names go through `seq_file_path(m, file, "\n")`: only the newline
//! is escaped, as `\012` ([`encode_escapes`]).
//!
//! Limits, by design:
//! * a name that begins with a space cannot round trip: it is
//!   indistinguishable from padding. The kernel never prints one: file names
//!   are absolute paths (`/…`), the rest are `[…]` or `anon_inode:…`;
//! * a name ending in `\r` cannot round trip when the text is CRLF (or when
//!   the first line's name ends in `\r`, which makes the parser take the text
//!   for CRLF): the `\r` is taken for half the line end. Names here never end
//!   in `\r`;
//! * a name that really contains the four bytes `\012` decodes to a newline:
//!   the kernel does not escape backslashes, so the raw bytes are exact but
//!   the decoding is ambiguous. `raw()` is compared always, `decoded()` only
//!   when the original name has no literal `\012`.

use maplens_core::parse::{
    Dev, Field, KNOWN_FLAGS, Mode, PathKind, Perms, encode_escapes, parse_all,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Record {
    start: u64,
    end: u64,
    perms: Perms,
    offset: u64,
    major: u32,
    minor: u32,
    inode: u64,
    /// The name before escaping (may hold `\n`).
    name: Vec<u8>,
    fields: Vec<(Field, u64)>,
    unknown: Vec<(&'static str, u64)>,
    vmflags: Option<Vec<&'static str>>,
}

fn address() -> impl Strategy<Value = u64> {
    // Any width from 1 to 64 bits: printed with 8 to 16 hex digits.
    (0u32..=64).prop_flat_map(|bits| {
        if bits == 64 {
            any::<u64>().boxed()
        } else {
            (0..(1u64 << bits).max(1)).boxed()
        }
    })
}

fn name_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Any byte but NUL; a final `\r` is a documented limit (see above).
    prop::collection::vec(1u8..=255, 0..40).prop_map(|mut v| {
        if v.last() == Some(&b'\r') {
            v.push(b'x');
        }
        v
    })
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.-]([a-zA-Z0-9_. -]{0,20}[a-zA-Z0-9_.-])?"
}

fn pathname() -> impl Strategy<Value = Vec<u8>> {
    let special = prop::sample::select(vec![
        "[heap]",
        "[stack]",
        "[vdso]",
        "[vvar]",
        "[vvar_vclock]",
        "[vsyscall]",
        "[vectors]",
        "[sigpage]",
        "[uprobes]",
        "/dev/zero (deleted)",
        "/anon_hugepage (deleted)",
    ])
    .prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        3 => Just(Vec::new()),
        4 => (name_bytes(), any::<bool>()).prop_map(|(b, deleted)| {
            let mut v = b"/".to_vec();
            v.extend(b);
            if deleted {
                v.extend_from_slice(b" (deleted)");
            }
            v
        }),
        // Spaces inside and at the end.
        2 => (word(), word(), 0usize..3).prop_map(|(a, b, trailing)| {
            format!("/tmp/{a}  {b}{}", " ".repeat(trailing)).into_bytes()
        }),
        2 => special,
        1 => (0u32..=4_194_304).prop_map(|t| format!("[stack:{t}]").into_bytes()),
        1 => word().prop_map(|n| format!("[anon:{n}]").into_bytes()),
        1 => word().prop_map(|n| format!("[anon_shmem:{n}]").into_bytes()),
        1 => word().prop_map(|n| format!("/memfd:{n} (deleted)").into_bytes()),
        1 => any::<u32>().prop_map(|k| format!("/SYSV{k:08x} (deleted)").into_bytes()),
        1 => word().prop_map(|n| format!("anon_inode:{n}").into_bytes()),
        1 => word().prop_map(|n| format!("[{n}]").into_bytes()),
    ]
}

fn fields() -> impl Strategy<Value = Vec<(Field, u64)>> {
    // Up to the largest kB figure whose bytes fit in 64 bits: larger ones
    // are no kernel's, and the parser refuses them (tests/output/widths.rs).
    let value = prop_oneof![4 => 0u64..100_000, 1 => 0u64..=u64::MAX >> 10];
    prop::collection::vec((any::<bool>(), value), Field::ALL.len()).prop_map(|v| {
        Field::ALL
            .iter()
            .zip(v)
            .filter(|(_, (keep, _))| *keep)
            .map(|(f, (_, x))| (*f, x))
            .collect()
    })
}

fn unknown() -> impl Strategy<Value = Vec<(&'static str, u64)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["HugePFNMap", "Future_Key", "X9"]),
            0u64..=u64::MAX >> 10,
        ),
        0..3,
    )
}

fn vmflags() -> impl Strategy<Value = Option<Vec<&'static str>>> {
    let codes: Vec<&'static str> = KNOWN_FLAGS
        .iter()
        .map(|f| f.code)
        .chain(["zz", "q1"])
        .collect();
    prop::option::of(prop::collection::vec(prop::sample::select(codes), 0..12))
}

fn record(smaps: bool) -> impl Strategy<Value = Record> {
    let perms = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(r, w, x, s)| Perms::new(r, w, x, s));
    let smaps_part = if smaps {
        (fields(), unknown(), vmflags()).boxed()
    } else {
        Just((Vec::new(), Vec::new(), None)).boxed()
    };
    (
        (address(), address(), perms, any::<u64>()),
        (0u32..=0xfff, 0u32..=0xfffff, any::<u64>(), pathname()),
        smaps_part,
    )
        .prop_map(
            |((a, b, perms, offset), (major, minor, inode, name), (fields, unknown, vmflags))| {
                Record {
                    start: a.min(b),
                    end: a.max(b),
                    perms,
                    offset,
                    major,
                    minor,
                    inode,
                    name,
                    fields,
                    unknown,
                    vmflags,
                }
            },
        )
}

/// Formats one region as the kernel does.
fn kernel_text(recs: &[Record], is_64bit: bool) -> Vec<u8> {
    let width = 25 + if is_64bit { 8 } else { 4 } * 6 - 1;
    let mut out = Vec::new();
    for r in recs {
        let line_start = out.len();
        out.extend_from_slice(
            format!(
                "{:08x}-{:08x} {} {:08x} {:02x}:{:02x} {} ",
                r.start, r.end, r.perms, r.offset, r.major, r.minor, r.inode
            )
            .as_bytes(),
        );
        if !r.name.is_empty() {
            while out.len() - line_start < width {
                out.push(b' ');
            }
            out.push(b' ');
            out.extend_from_slice(&encode_escapes(&r.name));
        }
        out.push(b'\n');
        // The kernel prints the fields in Field::ALL order (6.x); unknown
        // keys go before THPeligible here, as a newer kernel's would.
        for (f, v) in &r.fields {
            let key = format!("{}:", f.key());
            let line = match f {
                Field::ThpEligible | Field::ProtectionKey => format!("{key:<16}{v:>8}\n"),
                _ => format!("{key:<16}{v:>8} kB\n"),
            };
            out.extend_from_slice(line.as_bytes());
        }
        for (k, v) in &r.unknown {
            out.extend_from_slice(format!("{:<16}{v:>8} kB\n", format!("{k}:")).as_bytes());
        }
        if let Some(codes) = &r.vmflags {
            out.extend_from_slice(b"VmFlags: ");
            for c in codes {
                out.extend_from_slice(c.as_bytes());
                out.push(b' ');
            }
            out.push(b'\n');
        }
    }
    out
}

fn check(recs: &[Record], text: &[u8]) -> Result<(), TestCaseError> {
    let parsed = parse_all(text, Mode::Strict).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(parsed.entries.len(), recs.len());
    for (e, r) in parsed.entries.iter().zip(recs) {
        let h = &e.header;
        prop_assert_eq!(
            (h.start, h.end, h.perms, h.offset),
            (r.start, r.end, r.perms, r.offset)
        );
        prop_assert_eq!(
            h.dev,
            Dev {
                major: r.major,
                minor: r.minor
            }
        );
        prop_assert_eq!(h.inode, r.inode);
        prop_assert_eq!(h.path.raw(), &*encode_escapes(&r.name));
        let deleted = r.name.ends_with(b" (deleted)") && r.name.len() > 10;
        prop_assert_eq!(h.path.deleted(), deleted);
        if memchr::memmem::find(&r.name, b"\\012").is_none() {
            let want: &[u8] = if deleted {
                &r.name[..r.name.len() - 10]
            } else {
                &r.name
            };
            prop_assert_eq!(&*h.path.decoded(), want);
        }
        if r.name.is_empty() {
            prop_assert_eq!(h.path.kind(), PathKind::Anonymous);
        }
        let has_block = !r.fields.is_empty() || !r.unknown.is_empty() || r.vmflags.is_some();
        prop_assert_eq!(e.smaps.is_some(), has_block);
        let Some(s) = e.smaps.as_deref() else {
            continue;
        };
        let got: Vec<(Field, u64)> = s.known.iter().collect();
        prop_assert_eq!(&got, &r.fields);
        let unknown: Vec<(&[u8], u64)> = s
            .unknown()
            .map(|f| match f.value {
                maplens_core::parse::FieldValue::Kb(v) => (f.key, v),
                _ => (f.key, u64::MAX - 1),
            })
            .collect();
        let want: Vec<(&[u8], u64)> = r.unknown.iter().map(|(k, v)| (k.as_bytes(), *v)).collect();
        prop_assert_eq!(unknown, want);
        prop_assert_eq!(usize::from(s.unknown_fields), r.unknown.len());
        match (&r.vmflags, s.vmflags) {
            (None, None) => {}
            (Some(codes), Some(v)) => {
                let got: Vec<&[u8]> = v.codes().collect();
                let want: Vec<&[u8]> = codes.iter().map(|c| c.as_bytes()).collect();
                prop_assert_eq!(got, want);
                for c in codes {
                    if KNOWN_FLAGS.iter().any(|f| f.code == *c) {
                        prop_assert!(v.has(c));
                    }
                }
                let unknown: Vec<&[u8]> = v.unknown().collect();
                let want: Vec<&[u8]> = codes
                    .iter()
                    .filter(|c| !KNOWN_FLAGS.iter().any(|f| f.code == **c))
                    .map(|c| c.as_bytes())
                    .collect();
                prop_assert_eq!(unknown, want);
            }
            (a, b) => prop_assert!(false, "vmflags {:?} vs {:?}", a, b),
        }
    }
    Ok(())
}

fn to_crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn maps_round_trip(recs in prop::collection::vec(record(false), 1..20), is_64bit: bool) {
        let text = kernel_text(&recs, is_64bit);
        check(&recs, &text)?;
        check(&recs, &to_crlf(&text))?;
        // Without the final newline.
        check(&recs, &text[..text.len() - 1])?;
    }

    #[test]
    fn smaps_round_trip(recs in prop::collection::vec(record(true), 1..12), is_64bit: bool) {
        let text = kernel_text(&recs, is_64bit);
        check(&recs, &text)?;
        check(&recs, &to_crlf(&text))?;
    }
}

#[test]
fn name_column_matches_the_fixtures() {
    // 64-bit: real line of localcap__x86_64-linux6.18-python-oddnames.maps
    let r = Record {
        start: 0x55e3fdade000,
        end: 0x55e3fdaff000,
        perms: Perms::new(true, true, false, false),
        offset: 0,
        major: 0,
        minor: 0,
        inode: 0,
        name: b"[heap]".to_vec(),
        fields: vec![],
        unknown: vec![],
        vmflags: None,
    };
    assert_eq!(
        kernel_text(std::slice::from_ref(&r), true),
        b"55e3fdade000-55e3fdaff000 rw-p 00000000 00:00 0                          [heap]\n"
    );
    // 32-bit: real line of zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.maps
    let r = Record {
        start: 0x31000,
        end: 0x4c000,
        offset: 0x31000,
        ..r
    };
    assert_eq!(
        kernel_text(&[r], false),
        b"00031000-0004c000 rw-p 00031000 00:00 0          [heap]\n"
    );
}

#[test]
fn a_leading_space_does_not_round_trip() {
    // Documented limit: the padding swallows it (the kernel never prints one).
    let text = b"00400000-00401000 r--p 00000000 08:01 7                                   x\n";
    let p = parse_all(text, Mode::Strict).unwrap();
    assert_eq!(p.entries[0].header.path.raw(), b"x");
}
