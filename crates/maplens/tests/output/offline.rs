//! Offline equals live: a frozen process read from a capture bundle gives
//! the same report and check documents as the live process, `source` (and
//! check's echo of the command-line word) aside. The system facts the
//! report and check use (`vm.max_map_count`, `/proc/meminfo`, the THP mode,
//! thread names and stack pointers) come from the bundle, not from the
//! machine that reads it.
//!
//! Also: a capture that captures nothing writes nothing, and a bundle asked
//! for a PID it does not hold names the ones it holds.

use crate::json::{assert_same, json_sans_source};
use std::path::Path;

use assert_cmd::Command;
use maplens_testkid::Kid;
use serde_json::Value;

pub(crate) fn maplens() -> Command {
    Command::cargo_bin("maplens").expect("the maplens binary is built")
}

/// Runs `maplens ARGS`, requiring success (or, for `check`, exit 1: findings);
/// returns stdout.
pub(crate) fn run_ok(args: &[&str]) -> String {
    let out = maplens().args(args).output().expect("run maplens");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "maplens panicked: {stderr}");
    let ok =
        out.status.success() || (args.first() == Some(&"check") && out.status.code() == Some(1));
    assert!(ok, "maplens {args:?} failed ({}): {stderr}", out.status);
    String::from_utf8(out.stdout).expect("maplens prints UTF-8")
}

/// The tests here start and end kids, which moves the PSS of what the kids
/// share (libc, the loader): one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The report and check documents of `pid`, live or from a bundle.
fn docs(target: &str) -> [Value; 2] {
    [
        json_sans_source(&run_ok(&["--format", "json", target])),
        json_sans_source(&run_ok(&["check", "--format", "json", target])),
    ]
}

#[test]
fn report_and_check_of_a_bundle_equal_live() {
    let _serial = serial();
    // A copy of the kid binary: its own pages are mapped by no one else.
    let kid = Kid::spawn_copy(&["--threads", "3", "--thread-names"]).expect("spawn kid");
    kid.stop().expect("stop kid");
    let pid = kid.pid.to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("cap.tar");
    let bundle = bundle.to_str().expect("UTF-8 temp path");
    let target = format!("{bundle}:{pid}");

    // Processes elsewhere on the machine start and end, moving the PSS of
    // the libraries the kid shares: a capture is compared with the live
    // reading only when the live reading was the same before and after it.
    // An exact comparison needs a quiet moment: the live reading the same
    // before and after the capture, and the bundle's equal to it.
    let mut last = None;
    for _ in 0..20 {
        let live = docs(&pid);
        run_ok(&["capture", &pid, "-q", "-o", bundle]);
        let offline = docs(&target);
        let quiet = docs(&pid) == live;
        let same = offline == live;
        last = Some((live, offline));
        if quiet && same {
            break;
        }
    }
    let (mut live, mut offline) = last.expect("at least one try");
    check_facts(&live[0]);
    if offline != live {
        // On a busy machine (the whole suite running) no quiet moment may
        // come: then every figure that depends on who else maps a page
        // (PSS, USS, the private/shared split) is left out, and the rest
        // must still be equal.
        for d in live.iter_mut().chain(offline.iter_mut()) {
            sans_sharing(d);
        }
    }
    assert_same(&offline[0], &live[0], "report of the bundle vs live");
    assert_same(&offline[1], &live[1], "check of the bundle vs live");
}

/// `v` without the figures that move when other processes map or unmap a
/// page the kid shares (keys holding `pss` or `uss`, `Private_*`,
/// `Shared_*`), and a finding's words and numbers, which may quote them
/// (its rule id, subject, severity and regions stay).
fn sans_sharing(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| {
                let k = k.to_ascii_lowercase();
                !(k.contains("pss")
                    || k.contains("uss")
                    || k.starts_with("private_")
                    || k.starts_with("shared_")
                    || matches!(
                        k.as_str(),
                        "summary" | "evidence" | "explanation" | "numbers" | "saving"
                    ))
            });
            m.values_mut().for_each(sans_sharing);
        }
        Value::Array(a) => {
            a.iter_mut().for_each(sans_sharing);
            // Rows are sorted by PSS: a drift can swap two neighbours.
            a.sort_by_cached_key(|v| v.to_string());
        }
        _ => {}
    }
}

/// The facts that used to be live-only are in the report.
fn check_facts(report: &Value) {
    let max = report["totals"]["max_map_count"].as_u64();
    let live_max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|t| t.trim().parse().ok());
    assert_eq!(max, live_max, "the report's max_map_count");
    let names: Vec<&str> = report["threads"]["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for i in 0..3 {
        let want = format!("kid-worker-{i}");
        assert!(names.contains(&want.as_str()), "{want} not in {names:?}");
    }
    assert_eq!(report["threads"]["attribution"], "stack-pointer");
}

/// Every entry under `dir`, for "nothing left on disk".
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A PID that is not running: a kid that has been reaped.
fn gone_pid() -> u32 {
    let kid = Kid::spawn(&[]).expect("spawn kid");
    let pid = kid.pid;
    drop(kid);
    for _ in 0..500 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("kid {pid} did not exit");
}

#[test]
fn capture_of_a_gone_process_writes_no_bundle() {
    let _serial = serial();
    let pid = gone_pid().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["cap.tar", "cap.tar.gz", "cap.tar.zst"] {
        let out_path = dir.path().join(name);
        let out = maplens()
            .args(["capture", &pid, "-o"])
            .arg(&out_path)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "capture of gone {pid} succeeded");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains(&pid), "the error names the PID: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert_eq!(entries(dir.path()), Vec::<String>::new(), "{name}");
    }
    // Nor to standard output.
    let out = maplens().args(["capture", &pid]).output().expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "{} bytes written", out.stdout.len());
    // A failed capture does not clobber an existing file.
    let old = dir.path().join("old.tar");
    std::fs::write(&old, b"keep me").expect("write");
    let out = maplens()
        .args(["capture", &pid, "-o"])
        .arg(&old)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&old).expect("read"), b"keep me");
    assert_eq!(entries(dir.path()), vec!["old.tar".to_owned()]);
}

#[test]
fn a_bundle_without_the_pid_names_the_ones_it_holds() {
    let _serial = serial();
    let kid = Kid::spawn(&[]).expect("spawn kid");
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("one.tar");
    let bundle = bundle.to_str().expect("UTF-8 temp path");
    let held = kid.pid;
    run_ok(&["capture", &held.to_string(), "-q", "-o", bundle]);
    drop(kid);
    let missing = gone_pid();
    for cmd in [&["report"][..], &["check"], &["maps"]] {
        let out = maplens()
            .args(cmd)
            .arg(format!("{bundle}:{missing}"))
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cmd:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains(&format!("holds no process {missing}"))
                && stderr.contains(&format!("it holds: {held}")),
            "{cmd:?}: {stderr}"
        );
    }
}
