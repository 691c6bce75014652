//! The invariants of the `cargo fuzz` targets `recording_jsonl` and
//! `recording_sqlite`, run by `cargo test` on stable in a few seconds:
//! arbitrary and mutated recordings, the committed seed corpora
//! (`fuzz/corpus/recording_*`), and every input that ever broke one.
//!
//! The seed corpora are written by [`write_seed_corpus`] (ignored; run it
//! with `--ignored` to rebuild them) from samples of real captures in
//! `tests/data/fixtures`.

#[path = "common/recording_invariants.rs"]
mod recording_invariants;
#[path = "../../maplens-core/tests/common/seeds.rs"]
mod seeds;

use std::path::{Path, PathBuf};

use maplens_core::model::{Sample, Snapshot};
use maplens_core::parse::Mode;
use proptest::prelude::*;
use seeds::{Mutation, apply, corpus};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Small real captures the seed samples are taken from.
const FIXTURES: &[&str] = &[
    "aosp-libmeminfo__android-x86_64-smaps_short.smaps",
    "hikvision__arm32-linux2.6-uclibc-busybox-init-6field.smaps",
    "arc-readonly-fs__android-arc-armv7-adbd-oldkernel.maps",
    "vminfo__armhf-cat.smaps",
    "localcap__x86_64-linux6.18-python-oddnames.maps",
    "prometheus-procfs__x86_64-alertmanager-smaps_rollup.smaps",
    "localcap__x86_64-linux6.18-python-hugetlb-threads-smaps_rollup.smaps",
];

/// Three samples of one capture, as `watch --record` takes them (the
/// first and last full, the middle one totals only).
fn samples_of(fixture: &str, pid: u32) -> Vec<Sample> {
    let text = std::fs::read(repo().join("tests/data/fixtures").join(fixture)).unwrap();
    let snap = Snapshot::from_text(fixture, &text, Mode::Lenient).unwrap();
    (0..3u64)
        .map(|i| {
            let mut s = Sample::from_snapshot(&snap, 1_764_000_000_000 + i * 5000, i != 1);
            s.pid = Some(pid);
            s.comm = Some(fixture.split("__").next().unwrap().into());
            s.start_time = Some(4242);
            s.cost.wall_us = 300 + i;
            s.limits.mem_available = Some(1 << 30);
            s
        })
        .collect()
}

fn jsonl_of(samples: &[Sample]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in samples {
        maplens_record::jsonl::to_line(&mut out, s);
    }
    out
}

/// Rebuilds `fuzz/corpus/recording_jsonl` and `fuzz/corpus/recording_sqlite`.
#[test]
#[ignore = "writes the seed corpora; run with --ignored to rebuild them"]
fn write_seed_corpus() {
    use maplens_record::Writer;
    let jdir = repo().join("fuzz/corpus/recording_jsonl");
    let sdir = repo().join("fuzz/corpus/recording_sqlite");
    for d in [&jdir, &sdir] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).unwrap();
    }
    for (k, f) in FIXTURES.iter().enumerate() {
        let samples = samples_of(f, 100 + k as u32);
        let tag = f.split("__").next().unwrap();
        std::fs::write(jdir.join(format!("{tag}.jsonl")), jsonl_of(&samples)).unwrap();
    }
    // The edges the reader handles: a torn last line, a bad middle line,
    // blank and CRLF lines, a hostile name (escaped on writing).
    let base = jsonl_of(&samples_of(FIXTURES[0], 7)[1..]);
    let mut torn = base.clone();
    torn.extend_from_slice(b"{\"pid\":7,\"time_");
    std::fs::write(jdir.join("edge-torn-last-line.jsonl"), torn).unwrap();
    let mut bad = b"\n  \n".to_vec();
    bad.extend_from_slice(&base);
    bad.extend_from_slice(b"[1,2]\n");
    bad.extend_from_slice(&base);
    std::fs::write(jdir.join("edge-bad-middle-line.jsonl"), bad).unwrap();
    std::fs::write(
        jdir.join("edge-crlf.jsonl"),
        String::from_utf8(base.clone())
            .unwrap()
            .replace('\n', "\r\n"),
    )
    .unwrap();
    let evil = Sample {
        comm: Some("evil\u{1b}[2J\u{202e}\u{7f}".into()),
        time_ms: 1,
        ..Sample::default()
    };
    std::fs::write(jdir.join("edge-hazard-name.jsonl"), jsonl_of(&[evil])).unwrap();

    // Real recordings, as the writer leaves them (WAL mode, closed).
    for (k, f) in [FIXTURES[0], FIXTURES[2], FIXTURES[5]].iter().enumerate() {
        let p = sdir.join(format!("{}.db", f.split("__").next().unwrap()));
        let mut w = maplens_record::sqlite::SqliteWriter::open(&p).unwrap();
        for s in samples_of(f, 200 + k as u32) {
            w.write(&s).unwrap();
        }
    }
    // Forged and damaged ones.
    let real = std::fs::read(sdir.join("aosp-libmeminfo.db")).unwrap();
    std::fs::write(sdir.join("damaged-truncated-8k.db"), &real[..8192]).unwrap();
    std::fs::write(sdir.join("damaged-header-only.db"), &real[..100]).unwrap();
    let forge = |name: &str, sql: &str| {
        let p = sdir.join(name);
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(sql).unwrap();
    };
    forge(
        "forged-schema-version-9.db",
        &format!(
            "{} INSERT INTO meta VALUES ('schema_version', '9');",
            maplens_record::sqlite::SCHEMA
        ),
    );
    forge(
        "forged-no-meta.db",
        "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);",
    );
    forge(
        "forged-meta-only.db",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('schema_version', '1');",
    );
    forge(
        "forged-text-in-integers.db",
        &format!(
            "{} INSERT INTO meta VALUES ('schema_version', '1');
             INSERT INTO process VALUES (1, 'x', 'y', 'z');
             INSERT INTO sample (id, process_id, time_ms, full, regions, size, wall_us, cpu_us, bytes_read)
               VALUES (1, 1, 'soon', 2, -1, 1.5, 0, 0, 0);",
            maplens_record::sqlite::SCHEMA
        ),
    );
    forge(
        "forged-sample-is-a-view.db",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('schema_version', '1');
         CREATE TABLE process (id INTEGER PRIMARY KEY, pid, comm, start_time);
         CREATE VIEW sample AS SELECT 1 AS id;",
    );
    for d in [&jdir, &sdir] {
        let total: u64 = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        eprintln!("{}: {total} bytes", d.display());
    }
}

#[test]
fn jsonl_corpus() {
    let seeds = corpus("recording_jsonl");
    assert!(seeds.len() >= 8);
    let mut read = 0;
    for d in &seeds {
        recording_invariants::check_jsonl(d);
        read += usize::from(maplens_record::jsonl::read_bytes(Path::new("x"), d).is_ok());
    }
    assert_eq!(
        read,
        seeds.len() - 1,
        "all but the bad-middle-line seed read"
    );
}

#[test]
fn jsonl_fixture_samples_round_trip() {
    for f in FIXTURES {
        let s = samples_of(f, 1);
        assert!(!s[0].regions.is_empty() || f.contains("rollup"), "{f}");
        recording_invariants::round_trip(&s);
    }
}

fn jsonl_edit() -> impl Strategy<Value = Mutation> {
    let piece = prop::sample::select(vec![
        b"\n".to_vec(),
        b"\r".to_vec(),
        b"\"".to_vec(),
        b"\\".to_vec(),
        b"\\u0000".to_vec(),
        b"\\ud800".to_vec(),
        b"18446744073709551616".to_vec(),
        b"-1".to_vec(),
        b"1e3".to_vec(),
        b"null".to_vec(),
        b",\"pid\":4294967296".to_vec(),
        b",\"time_ms\":2".to_vec(),
        b"\xff\xfe".to_vec(),
        "\u{202e}".as_bytes().to_vec(),
        b"{}".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), piece).prop_map(|(i, p)| Mutation::Insert(i, p)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn jsonl_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        recording_invariants::check_jsonl(&data);
    }

    #[test]
    fn jsonl_arbitrary_lines(lines in prop::collection::vec(
        r#"\{("(pid|comm|time_ms|full|totals|start_time)":(0|1|"x"|true|null|\{"regions":0,"size":1\}),?){0,4}\}|[ -~]{0,20}|"#, 0..6)) {
        recording_invariants::check_jsonl(lines.join("\n").as_bytes());
    }

    #[test]
    fn jsonl_mutated_corpus(pick: usize, edits in prop::collection::vec(jsonl_edit(), 1..6)) {
        thread_local!(static SEEDS: Vec<Vec<u8>> = corpus("recording_jsonl"));
        let mut data = SEEDS.with(|s| s[pick % s.len()].clone());
        data.truncate(6000);
        for e in &edits {
            apply(&mut data, e);
        }
        recording_invariants::check_jsonl(&data);
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    #[test]
    fn sqlite_corpus() {
        let seeds = corpus("recording_sqlite");
        assert!(seeds.len() >= 8);
        for d in &seeds {
            recording_invariants::check_sqlite(d);
        }
    }

    /// The real recordings read back as the samples written.
    #[test]
    fn sqlite_real_seeds_read_back() {
        let dir = tempfile::tempdir().unwrap();
        for (k, f) in [FIXTURES[0], FIXTURES[2], FIXTURES[5]].iter().enumerate() {
            let p = dir.path().join("r.db");
            std::fs::copy(
                repo()
                    .join("fuzz/corpus/recording_sqlite")
                    .join(format!("{}.db", f.split("__").next().unwrap())),
                &p,
            )
            .unwrap();
            assert_eq!(
                maplens_record::read(&p).unwrap(),
                samples_of(f, 200 + k as u32),
                "{f}"
            );
        }
    }

    /// A forged schema once gave SQLite's message with our multi-line
    /// query in it: the error is one line.
    #[test]
    fn forged_schema_error_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.db");
        std::fs::copy(
            repo().join("fuzz/corpus/recording_sqlite/forged-sample-is-a-view.db"),
            &p,
        )
        .unwrap();
        let m = maplens_record::read(&p).unwrap_err().to_string();
        assert!(
            m.contains("no such column: process_id in SELECT id, process_id, time_ms,"),
            "{m}"
        );
        assert!(!m.contains('\n') && !m.contains("  "), "{m}");
    }

    /// SQLite pages are 4 KiB: flip bytes inside the first pages (header,
    /// schema, the first tables) and cut anywhere.
    fn db_edit() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (0usize..16384, any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
            (16usize..100, any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(120))]

        #[test]
        fn sqlite_mutated_corpus(pick: usize, edits in prop::collection::vec(db_edit(), 1..5)) {
            thread_local!(static SEEDS: Vec<Vec<u8>> = corpus("recording_sqlite"));
            let mut data = SEEDS.with(|s| s[pick % s.len()].clone());
            for e in &edits {
                apply(&mut data, e);
            }
            recording_invariants::check_sqlite(&data);
        }

        #[test]
        fn sqlite_arbitrary_bytes(mut data in prop::collection::vec(any::<u8>(), 0..600), magic: bool) {
            if magic && data.len() >= 16 {
                data[..16].copy_from_slice(b"SQLite format 3\0");
            }
            recording_invariants::check_sqlite(&data);
        }
    }
}

/// Inputs that once broke an invariant, kept so they stay fixed.
#[test]
fn regressions() {
    let cases: &[&[u8]] = &[b"", b"\n", b"{", b"{}\n", b"\xff\n{"];
    for c in cases {
        recording_invariants::check_jsonl(c);
    }
}
