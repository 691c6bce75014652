//! The fuzz target's invariants, run by `cargo test` on stable in a few
//! seconds: arbitrary bytes, mutated real fixtures, and every input that
//! ever crashed the `cargo fuzz` target (`fuzz/fuzz_targets/parse.rs`).

#[path = "common/invariants.rs"]
mod invariants;

#[path = "common/seeds.rs"]
mod seeds;

use proptest::prelude::*;
use seeds::{Mutation, apply, corpus};
use std::path::Path;

fn fixture_heads() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "maps" || e == "smaps"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let d = std::fs::read(p).unwrap();
            d[..d.len().min(3000)].to_vec()
        })
        .collect()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"\n".to_vec(),
        b"\r\n".to_vec(),
        b" ".to_vec(),
        b"\t".to_vec(),
        b":".to_vec(),
        b"-".to_vec(),
        b"\\012".to_vec(),
        b" (deleted)".to_vec(),
        b"ffffffffffffffff".to_vec(),
        b"99999999999999999999".to_vec(),
        b"Total number of mappings: 1\n".to_vec(),
        b"Rss: 4 kB\n".to_vec(),
        b"VmFlags: rd zz\n".to_vec(),
        b"\xff\x00".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(700))]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        invariants::check(&data);
    }

    #[test]
    fn arbitrary_header_like_lines(
        lines in prop::collection::vec("[0-9a-fA-F]{0,18}-[0-9a-f]{0,18} [rwxsp-]{3,5} [0-9a-f]{0,18} [0-9a-f]{0,9}:[0-9a-f]{0,9} [0-9]{0,21}( +[ -~]{0,20})?|[A-Za-z_]{1,16}:[ \t]*[0-9]{0,21}( kB)?|", 0..30),
        crlf: bool,
    ) {
        let sep = if crlf { "\r\n" } else { "\n" };
        invariants::check(lines.join(sep).as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(250))]

    #[test]
    fn mutated_fixtures(pick: usize, muts in prop::collection::vec(mutation(), 1..8)) {
        thread_local!(static HEADS: Vec<Vec<u8>> = fixture_heads());
        let mut data = HEADS.with(|h| h[pick % h.len()].clone());
        for m in &muts {
            apply(&mut data, m);
        }
        invariants::check(&data);
    }
}

#[test]
fn whole_fixtures() {
    for d in fixture_heads() {
        invariants::check(&d);
    }
}

/// Inputs that once broke an invariant (from `cargo fuzz` or the tests
/// above), kept so they stay fixed.
#[test]
fn regressions() {
    let cases: &[&[u8]] = &[
        // 200,000 bad field lines under one header: the error queue was a
        // Vec drained with remove(0), quadratic (seconds per MB).
        &b"0-0 ---p 0 0:0 0\nx\nx\nx\nx\n"[..],
        // A 20-digit value in the one-pass field reader overflowed (debug
        // builds panicked) before handing over to the general path.
        b"0-0 ---p 0 0:0 0\nRss: 99999999999999999999 kB\n",
        // A key with a NUL in it must not match a known key padded with 0.
        b"0-0 ---p 0 0:0 0\nRss\0: 4 kB\n",
        // 17 hex digits of leading zeros.
        b"00000000000000000-1 ---p 0 0:0 0\n",
        b"",
        b"\n",
        b"\r\n",
        b"\r",
        b"-",
        b"0-",
        b"0-0",
        b"0-0 ",
        b"0-0 rwxp 0 0:0 0\r",
        b"Total number of mappings:",
    ];
    for c in cases {
        invariants::check(c);
    }
}

/// Bundle inputs that once broke an invariant.
#[test]
fn bundle_regressions() {
    let cases: &[&[u8]] = &[
        // cargo fuzz, 2026-12-04: a zstd frame of newlines, whose tar
        // header's checksum field the tar crate quoted in its error, so
        // the error took many lines.
        b"\x28\xb5\x2f\xfd\x00\x20\x6b\x42\x00\x0a",
    ];
    for c in cases {
        bundle_invariants::check_bundle(c);
    }
}

#[path = "common/bundle_invariants.rs"]
mod bundle_invariants;

/// Pieces a fuzzer would take long to find: PID directories, the side
/// files a bundle holds, a manifest, and the separators that
/// [`bundle_invariants::tar_of_pairs`] splits on.
fn bundle_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            b"1/smaps\0".to_vec(),
            b"1/maps\0".to_vec(),
            b"1/smaps_rollup\0".to_vec(),
            b"1/status\0Name:\tx\nThreads:\t2\n".to_vec(),
            b"1/task/2/stat\0".to_vec(),
            b"1/limits\0Max stack size 8388608 unlimited bytes\n".to_vec(),
            b"meminfo\0MemTotal: 1 kB\n".to_vec(),
            b"MANIFEST\0format: maplens-bundle 1\n".to_vec(),
            b"sys/vm/max_map_count\x0065530\n".to_vec(),
            b"\xfe".to_vec(),
            b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\nRss: 4 kB\n".to_vec(),
        ]),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bundles(pieces in prop::collection::vec(bundle_piece(), 0..12)) {
        bundle_invariants::check_bundle(&pieces.concat());
    }

    #[test]
    fn arbitrary_meminfo(lines in prop::collection::vec(
        "[A-Za-z_()]{0,12}:?[ \t]*[0-9]{0,22}( kB| MB|)?|[ -~]{0,30}", 0..20)) {
        bundle_invariants::check_meminfo(lines.join("\n").as_bytes());
    }
}

/// Bundles made from the real captures, whole and cut every 512 bytes
/// (a transfer that stopped part way).
#[test]
fn fixture_bundles_whole_and_cut() {
    for head in fixture_heads() {
        let mut input = b"1/smaps\0".to_vec();
        input.extend_from_slice(&head);
        input.extend_from_slice(b"\xfememinfo\0MemTotal: 1024 kB\n");
        let t = bundle_invariants::tar_of_pairs(&input);
        assert!(t.len() > head.len());
        let whole = maplens_core::source::bundle::Bundle::from_bytes("t.tar", t.clone()).unwrap();
        assert_eq!(whole.pids(), [1]);
        let snap = whole.load(1, &Default::default()).unwrap();
        assert!(
            !snap.regions.is_empty() || snap.rollup.is_some(),
            "{:?}",
            &head[..80]
        );
        for cut in (0..t.len()).step_by(512).chain([t.len()]) {
            bundle_invariants::check_bundle(&t[..cut]);
        }
    }
}

#[path = "common/elf_invariants.rs"]
mod elf_invariants;

/// A field of an ELF or program header worth setting to an edge value:
/// (offset in the 64-bit layout, width).
fn elf_field() -> impl Strategy<Value = (usize, usize)> {
    prop::sample::select(vec![
        (4, 1),   // class
        (5, 1),   // data
        (32, 8),  // e_phoff (64-bit)
        (28, 4),  // e_phoff (32-bit)
        (54, 2),  // e_phentsize (64-bit)
        (56, 2),  // e_phnum (64-bit)
        (42, 2),  // e_phentsize (32-bit)
        (44, 2),  // e_phnum (32-bit)
        (64, 4),  // first p_type
        (72, 8),  // first p_offset
        (96, 8),  // first p_filesz
        (120, 4), // second p_type
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn elf_arbitrary_bytes(mut data in prop::collection::vec(any::<u8>(), 0..400), class in 1u8..3, big: bool) {
        if data.len() >= 16 {
            data[..4].copy_from_slice(b"\x7fELF");
            data[4] = class;
            data[5] = 1 + u8::from(big);
            data[6] = 1;
        }
        elf_invariants::check(&data);
    }

    #[test]
    fn elf_mutated_corpus(
        pick: usize,
        edits in prop::collection::vec((elf_field(), prop::sample::select(vec![0u64, 1, 2, 4, 7, 0x20, 0x38, 0x40, 0xffff, u64::MAX / 2, u64::MAX])), 1..4),
        cut: usize,
    ) {
        thread_local!(static SEEDS: Vec<Vec<u8>> = corpus("elf"));
        let mut data = SEEDS.with(|s| s[pick % s.len()].clone());
        for ((at, width), v) in edits {
            let bytes = v.to_le_bytes();
            data[at..at + width].copy_from_slice(&bytes[..width]);
        }
        data.truncate(cut % (data.len() + 1));
        elf_invariants::check(&data);
    }
}

#[test]
fn elf_whole_corpus() {
    let seeds = corpus("elf");
    assert!(seeds.len() >= 8);
    let mut parsed = 0;
    for d in &seeds {
        elf_invariants::check(d);
        parsed += usize::from(maplens_core::parse::elf::ElfHeaders::parse(d).is_ok());
    }
    assert_eq!(parsed, seeds.len(), "every seed is a real ELF file");
}

#[path = "common/pagemap_invariants.rs"]
mod pagemap_invariants;

/// A pagemap entry with the bits that matter more often than chance gives.
fn pagemap_entry() -> impl Strategy<Value = u64> {
    use maplens_core::parse::pagemap::*;
    let bits = prop::sample::subsequence(
        vec![
            PRESENT,
            SWAPPED,
            FILE_SHARED,
            EXCLUSIVE,
            SOFT_DIRTY,
            GUARD,
            UFFD_WP,
        ],
        0..4,
    );
    (bits, any::<u64>(), 0u8..4).prop_map(|(bits, low, k)| {
        let low = if k == 0 { 0 } else { low & PFN_MASK };
        bits.into_iter().fold(low, |a, b| a | b)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pagemap_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..500)) {
        pagemap_invariants::check(&data);
    }

    #[test]
    fn pagemap_entries(sel: u8, first: u32, entries in prop::collection::vec(pagemap_entry(), 0..64), tail in 0usize..8) {
        let mut data = vec![sel];
        data.extend_from_slice(&first.to_le_bytes());
        for e in entries {
            data.extend_from_slice(&e.to_ne_bytes());
        }
        data.extend(std::iter::repeat_n(0xa5, tail));
        pagemap_invariants::check(&data);
    }
}

#[test]
fn pagemap_corpus() {
    let seeds = corpus("pagemap");
    assert!(seeds.len() >= 4);
    for d in &seeds {
        pagemap_invariants::check(d);
    }
}
