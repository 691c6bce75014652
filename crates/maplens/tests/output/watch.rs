//! `maplens watch`, recordings and `maplens leaks`, on live children of
//! known growth (`maplens-testkid --leak`, `--plateau`): the leaking
//! regions are named with their rate, a steady or levelling-off child is no
//! leak, a recording survives `kill -9`, and a JSON Lines recording made by
//! the lite build gives the same verdict as a SQLite one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use maplens_testkid::Kid;
use serde_json::Value;

use crate::leaks::leaking_regions;
use crate::offline::{maplens, serial};

/// Runs maplens; returns (exit code, stdout, stderr).
pub(crate) fn run(args: &[&str]) -> (i32, String, String) {
    let out = maplens().args(args).output().expect("run maplens");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "maplens {args:?} panicked: {stderr}"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The finding of the region starting at `start`, in the first series.
fn region(doc: &Value, start: u64) -> Option<&Value> {
    doc["series"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["scope"] == "region" && f["start"].as_u64() == Some(start))
}

/// `got` within `tol` (a fraction) of `truth`.
fn within(got: f64, truth: f64, tol: f64) -> bool {
    (got - truth).abs() <= tol * truth
}

/// Whether the sqlite3 CLI (the oracle of the crash test) is there; in CI
/// it must be (scripts/test.sh installs it).
fn sqlite3() -> bool {
    let ok = Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "sqlite3 missing in CI (scripts/test.sh installs it)"
        );
        eprintln!("SKIPPED the sqlite3 checks: no sqlite3 CLI (apt-get install sqlite3)");
    }
    ok
}

fn sql(db: &Path, query: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(query)
        .output()
        .expect("sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn leaks_live_names_the_growing_mapping_and_heap_with_their_rates() {
    let _g = serial();
    let kid = Kid::spawn(&["--leak", "400"]).expect("spawn kid");
    let info = &kid.info["leak"];
    let pid = kid.pid.to_string();
    let (code, out, err) = run(&[
        "leaks",
        &pid,
        "--for",
        "3s",
        "--interval",
        "200ms",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "a leak exits 1: {err}\n{out}");
    let doc = json(&out);
    assert_eq!(doc["leak"], true);
    let anon = region(&doc, info["addr"].as_u64().unwrap()).expect("the mapping is named");
    assert_eq!(anon["leak"], true, "{anon}");
    assert_eq!(anon["category"], "anon-mmap");
    let truth = info["bytes_per_sec"].as_f64().unwrap();
    let slope = anon["trend"]["slope"].as_f64().unwrap();
    assert!(
        within(slope, truth, 0.2),
        "mapping: {slope} B/s, truth {truth}"
    );
    let heap = region(&doc, info["heap_start"].as_u64().unwrap()).expect("the heap is named");
    assert_eq!(heap["leak"], true, "{heap}");
    assert_eq!(heap["category"], "heap");
    let truth = info["heap_bytes_per_sec"].as_f64().unwrap();
    let slope = heap["trend"]["slope"].as_f64().unwrap();
    assert!(
        within(slope, truth, 0.2),
        "heap: {slope} B/s, truth {truth}"
    );
    // Anonymous growth is called out first, the mapping (faster) on top.
    let first = &doc["series"][0]["findings"][0];
    assert_eq!(first["start"], info["addr"], "{first}");
    // The table says it in one line.
    let (code, table, _) = run(&["leaks", &pid, "--for", "1500ms", "--interval", "200ms"]);
    assert_eq!(code, 1);
    let verdict = table.lines().next().unwrap();
    assert!(
        verdict.contains("LEAK") && verdict.contains("anon-mmap"),
        "{verdict}"
    );
}

#[test]
fn a_steady_child_has_no_leak() {
    let _g = serial();
    let kid = Kid::spawn(&["--threads", "4", "--arenas", "2"]).expect("spawn kid");
    let (code, out, err) = run(&[
        "leaks",
        &kid.pid.to_string(),
        "--for",
        "2s",
        "--interval",
        "200ms",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    let doc = json(&out);
    assert_eq!(doc["leak"], false);
    assert!(doc["series"][0]["samples"].as_u64().unwrap() >= 5);
}

#[test]
fn growth_that_levels_off_is_a_plateau_not_a_leak() {
    let _g = serial();
    // 12 MiB in 1.2 s, then nothing; watched for 3.5 s.
    let kid = Kid::spawn(&["--plateau", "12"]).expect("spawn kid");
    let addr = kid.info["plateau"]["addr"].as_u64().unwrap();
    let (code, out, err) = run(&[
        "leaks",
        &kid.pid.to_string(),
        "--for",
        "3500ms",
        "--interval",
        "200ms",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    let doc = json(&out);
    assert_eq!(doc["leak"], false);
    let f = region(&doc, addr).expect("the mapping moved, so it is reported");
    assert_eq!(f["trend"]["shape"], "plateau", "{f}");
}

/// The lite device build for the host, in its own target directory.
fn lite_binary() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = ws.join("target/lite-host");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&ws)
        .args([
            "build",
            "-p",
            "maplens",
            "--no-default-features",
            "--features",
            "lite",
        ])
        .arg("--target-dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("cargo build");
    assert!(
        out.status.success(),
        "lite build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("debug/maplens")
}

#[test]
fn sqlite_and_lite_json_lines_recordings_give_the_same_verdict() {
    let lite = lite_binary();
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rec.db");
    let jl = dir.path().join("rec.jsonl");
    let kid = Kid::spawn(&["--leak", "400"]).expect("spawn kid");
    let pid = kid.pid.to_string();
    let watch = |bin: &Path, rec: &Path| {
        let out = Command::new(bin)
            .args([
                "watch",
                &pid,
                "--interval",
                "200ms",
                "--duration",
                "2500ms",
                "--record",
            ])
            .arg(rec)
            .output()
            .expect("watch");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let lines = watch(Path::new(env!("CARGO_BIN_EXE_maplens")), &db);
    // On a pipe: one JSON sample a line.
    let samples: Vec<Value> = lines.lines().map(json).collect();
    assert!(samples.len() >= 8, "{} samples", samples.len());
    assert!(
        samples
            .iter()
            .all(|s| s["pid"] == kid.pid && s["time_ms"].is_u64())
    );
    assert!(samples[0]["full"] == true && samples[0]["cost"]["cpu_us"].is_u64());
    watch(&lite, &jl);
    // The lite build refuses SQLite by name.
    let out = Command::new(&lite)
        .args(["leaks"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without SQLite"));
    let verdict = |rec: &Path| {
        let (code, out, err) = run(&["leaks", rec.to_str().unwrap(), "--format", "json"]);
        assert_eq!(code, 1, "{err}");
        json(&out)
    };
    let (a, b) = (verdict(&db), verdict(&jl));
    let addr = kid.info["leak"]["addr"].as_u64().unwrap();
    assert!(leaking_regions(&a).contains(&addr), "{a}");
    assert_eq!(leaking_regions(&a), leaking_regions(&b));
    // The lite build reads its own recording the same way.
    let out = Command::new(&lite)
        .args(["leaks", jl.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        leaking_regions(&json(&String::from_utf8_lossy(&out.stdout))),
        leaking_regions(&b)
    );
    // A recording picks samples for diff: the mapping grew resident.
    let (code, out, err) = run(&[
        "diff",
        &format!("{}@first", db.display()),
        &format!("{}@-1", db.display()),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let d = json(&out);
    let grew = d["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["after"]["start"].as_u64() == Some(addr))
        .expect("the mapping changed");
    assert_eq!(grew["change"], "resident");
    if sqlite3() {
        assert_eq!(sql(&db, "PRAGMA integrity_check"), "ok");
        let n: usize = sql(&db, "SELECT count(*) FROM sample").parse().unwrap();
        assert_eq!(n, samples.len());
    }
}

#[test]
fn kill_9_mid_recording_loses_no_committed_sample() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    // Many regions: each full sample is a long transaction to be caught in.
    let kid = Kid::spawn(&["--mappings", "6000", "--leak", "400"]).expect("spawn kid");
    let mut child = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args([
            "watch",
            &kid.pid.to_string(),
            "--interval",
            "50ms",
            "--full",
            "--record",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    // A line is printed after its sample is committed.
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut times = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while times.len() < 6 && Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        times.push(json(&line)["time_ms"].as_u64().unwrap());
    }
    assert!(
        times.len() >= 6,
        "the recorder printed {} samples",
        times.len()
    );
    // Kill it while it works on the next one.
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();
    // Reading it back recovers the WAL; every committed sample is there.
    let (code, out, err) = run(&["leaks", db.to_str().unwrap(), "--format", "json"]);
    assert!(code == 0 || code == 1, "{err}");
    let n = json(&out)["series"][0]["samples"].as_u64().unwrap() as usize;
    assert!(
        n >= times.len(),
        "{n} samples read, {} committed",
        times.len()
    );
    if sqlite3() {
        assert_eq!(sql(&db, "PRAGMA integrity_check"), "ok");
        let stored = sql(&db, "SELECT time_ms FROM sample ORDER BY id");
        let stored: Vec<u64> = stored.lines().map(|l| l.parse().unwrap()).collect();
        for t in &times {
            assert!(stored.contains(t), "sample at {t} lost");
        }
        // Every stored sample is whole: its regions are all there.
        let partial = sql(
            &db,
            "SELECT count(*) FROM sample s WHERE s.full = 1 AND s.regions != \
             (SELECT count(*) FROM region r WHERE r.sample_id = s.id)",
        );
        assert_eq!(partial, "0");
    }
}

#[test]
fn bad_recordings_and_targets_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"time_ms\": 1, \"full\": false, \"totals\": {\"regions\": 0, \"size\": 0}}\nnot json\n{}\n").unwrap();
    let (code, _, err) = run(&["leaks", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("line 2: not a maplens sample"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = run(&["leaks", "/no/such/file.db"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["watch", "1", "--interval", "5 parsecs"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown unit"), "{err}");
}

/// `watch` takes its samples with the collector the exporter and the
/// terminal UI share; on a frozen child whose every page is its own, a full
/// sample's categories and objects are the report's, figure for figure.
#[test]
fn a_watch_sample_is_the_report_of_a_frozen_child() {
    let _g = serial();
    let kid = Kid::spawn_private(&["--threads", "3", "--arenas", "2", "--big-anon", "4"])
        .expect("spawn kid");
    kid.stop().expect("freeze the kid");
    let pid = kid.pid.to_string();
    let (code, out, err) = run(&[
        "watch",
        &pid,
        "--full",
        "--duration",
        "300ms",
        "--interval",
        "100ms",
    ]);
    assert_eq!(code, 0, "{err}");
    let sample = json(out.lines().next().expect("a sample line"));
    assert_eq!(sample["full"], true, "{sample}");
    let (code, rep, err) = run(&[&pid, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rep = json(&rep);
    // Rows as (name, regions, size, rss, pss, uss): the kid's pages are its
    // own, so even PSS holds still while it is frozen.
    let figures = |u: &Value| {
        ["regions", "size", "rss", "pss", "uss"]
            .map(|k| u[k].as_u64().unwrap_or(u64::MAX))
            .to_vec()
    };
    let mut from_watch: Vec<(String, Vec<u64>)> = sample["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), figures(&c["usage"])))
        .collect();
    let mut from_report: Vec<(String, Vec<u64>)> = rep["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| {
            let id = match c["category"].as_str().unwrap() {
                "kernel-provided" => "kernel",
                id => id,
            };
            (id.to_owned(), figures(&c["usage"]))
        })
        .collect();
    from_watch.sort();
    from_report.sort();
    assert!(from_watch.len() >= 5, "{from_watch:?}");
    assert_eq!(from_watch, from_report);
    let objects = |v: &Value, key: &str| -> Vec<String> {
        let mut o: Vec<String> = v["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| o[key].as_str().unwrap_or_default().to_owned())
            .collect();
        o.sort();
        o
    };
    assert_eq!(objects(&sample, "name"), objects(&rep, "path"));
    assert_eq!(
        sample["totals"]["rss"], rep["totals"]["usage"]["rss"],
        "totals"
    );
}
