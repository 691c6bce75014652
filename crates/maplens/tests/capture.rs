//! `maplens capture` and bundles: capture live children, analyse the bundle
//! after they have exited, and agree with smem on smemcap-layout tarballs.

#[path = "common/json.rs"]
mod json;
use json::{assert_same, first_diff, json_sans_source};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use maplens_testkid::Kid;
use serde_json::Value;

/// The tests of this file start and end processes, which moves the PSS of
/// the libraries they share: one at a time, so the round trip sees a still
/// machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn maplens() -> Command {
    Command::cargo_bin("maplens").expect("the maplens binary is built")
}

/// Runs `maplens ARGS`, requiring success; returns stdout.
fn run_ok(args: &[&str]) -> String {
    let out = maplens().args(args).output().expect("run maplens");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "maplens panicked: {stderr}");
    assert!(
        out.status.success(),
        "maplens {args:?} failed ({}): {stderr}",
        out.status
    );
    String::from_utf8(out.stdout).expect("maplens prints UTF-8")
}

/// PSS of a page shared with another process depends on who else maps
/// that page at the moment: the maplens that reads changes it (it maps
/// glibc too, touching other pages). So PSS is compared only where the kid
/// is alone (anonymous memory, stacks, arenas, its own binary's private
/// pages): aggregated PSS figures are removed from the report, and per
/// region PSS is kept in `maps` except for shared libraries and [vdso].
/// USS and the Private/Shared split move the same way (a library page
/// turns private when the last other process mapping it exits: CI saw
/// the report's USS move by 8 kB between a live read and a capture).
fn observer_free(v: &mut Value) {
    fn strip_pss(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| !k.eq_ignore_ascii_case("pss") && k != "swap_pss" && k != "uss");
                m.values_mut().for_each(strip_pss);
            }
            Value::Array(a) => a.iter_mut().for_each(strip_pss),
            _ => {}
        }
    }
    if let Some(regions) = v.get_mut("regions").and_then(Value::as_array_mut) {
        for r in regions {
            let path = r["path"].as_str().unwrap_or_default().to_owned();
            if (path.contains(".so") || path.starts_with("[v"))
                && let Some(m) = r.get_mut("smaps").and_then(Value::as_object_mut)
            {
                m.retain(|k, _| {
                    !k.starts_with("Pss")
                        && k != "SwapPss"
                        && !k.starts_with("Private_")
                        && !k.starts_with("Shared_")
                });
            }
        }
    } else {
        strip_pss(v);
    }
}

fn wait_gone(pid: u32) {
    for _ in 0..500 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("kid {pid} did not exit");
}

/// The reports of a live process, taken twice around a capture until they
/// agree (other tests start and end processes, which moves the PSS of
/// shared libraries), so that they are the reports at capture time.
fn live_reports_around_capture(pid: &str, bundle: &str) -> Vec<Value> {
    let reports = || {
        let mut v = vec![
            json_sans_source(&run_ok(&["report", pid, "--format", "json"])),
            json_sans_source(&run_ok(&["maps", pid, "--format", "json"])),
        ];
        v.iter_mut().for_each(observer_free);
        v
    };
    for _ in 0..50 {
        let before = reports();
        run_ok(&["capture", pid, "-q", "-o", bundle]);
        let after = reports();
        if before == after {
            return after;
        }
    }
    let (a, b) = (reports(), reports());
    panic!(
        "the live reports of {pid} kept changing around the capture: {:?} {:?}",
        first_diff(&a[0], &b[0], ""),
        first_diff(&a[1], &b[1], "")
    );
}

#[test]
fn capture_then_analyse_after_exit_equals_live() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    for ext in ["tar", "tar.gz", "tar.zst"] {
        let kid = Kid::spawn(&[
            "--memfd",
            "capture",
            "--threads",
            "3",
            "--thread-names",
            "--arenas",
            "2",
            "--big-anon",
            "3",
            "--shared-anon",
        ])
        .expect("spawn kid");
        kid.stop().expect("stop kid");
        let pid = kid.pid.to_string();
        let bundle = dir.path().join(format!("cap.{ext}"));
        let bundle = bundle.to_str().expect("UTF-8 temp path");
        let live = live_reports_around_capture(&pid, bundle);
        drop(kid);
        wait_gone(pid.parse().expect("pid"));

        // The whole bundle (one process), and FILE:PID.
        let report = json_sans_source(&run_ok(&["report", bundle, "--format", "json"]));
        let via_default = json_sans_source(&run_ok(&[bundle, "--format", "json"]));
        let maps = json_sans_source(&run_ok(&[
            "maps",
            &format!("{bundle}:{pid}"),
            "--format",
            "json",
        ]));
        let (mut report, mut via_default, mut maps) = (report, via_default, maps);
        observer_free(&mut report);
        observer_free(&mut via_default);
        observer_free(&mut maps);
        assert_same(
            &report,
            &live[0],
            &format!("report of {ext} bundle vs live"),
        );
        assert_same(&via_default, &live[0], &format!("`maplens {ext}` vs live"));
        assert_same(&maps, &live[1], &format!("maps of {ext} bundle vs live"));
    }
}

#[test]
fn capture_all_streams_to_stdout_and_lists_pids() {
    let _serial = serial();
    // 3000 mappings: an smaps over 1 MiB, spooled through a temporary file.
    let kid = Kid::spawn(&["--threads", "1", "--mappings", "3000"]).expect("spawn kid");
    let out = maplens()
        .args(["capture", "--all", "-q"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("all.tar");
    std::fs::write(&cap, &out.stdout).expect("write");
    let cap = cap.to_str().expect("UTF-8");
    // A bundle of several processes, without a PID, names them.
    let err = maplens().args(["report", cap]).output().expect("run");
    assert!(!err.status.success());
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(
        msg.contains("processes") && msg.contains(&kid.pid.to_string()) && msg.contains(":PID"),
        "{msg}"
    );
    // The kid is in it, with its manifest.
    let maps = run_ok(&["maps", &format!("{cap}:{}", kid.pid), "--format", "json"]);
    let v: Value = serde_json::from_str(&maps).expect("JSON");
    assert!(v["regions"].as_array().expect("regions").len() > 3000);
    let list = StdCommand::new("tar")
        .args(["tf", cap])
        .output()
        .expect("tar");
    let names = String::from_utf8_lossy(&list.stdout);
    for want in [
        "maplens-manifest.txt",
        "meminfo",
        "version",
        "sys/vm/max_map_count",
        "maplens-end.txt",
        &format!("{}/smaps", kid.pid),
        &format!("{}/task/{}/syscall", kid.pid, kid.pid),
    ] {
        assert!(names.lines().any(|l| l == want), "{want} missing: {names}");
    }
}

#[test]
fn capture_skips_a_vanished_process_and_says_so() {
    let _serial = serial();
    let kid = Kid::spawn(&[]).expect("spawn kid");
    let gone = Kid::spawn(&[]).expect("spawn kid");
    let gone_pid = gone.pid;
    drop(gone);
    wait_gone(gone_pid);
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("c.tar");
    let cap = cap.to_str().expect("UTF-8");
    let out = maplens()
        .args([
            "capture",
            &kid.pid.to_string(),
            &gone_pid.to_string(),
            "-o",
            cap,
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{gone_pid} (exited)")), "{stderr}");
    let end = StdCommand::new("tar")
        .args(["xOf", cap, "maplens-end.txt"])
        .output()
        .expect("tar");
    let end = String::from_utf8_lossy(&end.stdout);
    assert!(
        end.contains(&format!("skipped: {gone_pid} (exited)")),
        "{end}"
    );
    // A single-process bundle is that process.
    run_ok(&["maps", cap]);
}

/// smem's per-process USS, PSS and RSS in kB, from its table.
fn smem_table(out: &str) -> BTreeMap<u32, [u64; 3]> {
    out.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = |i: usize| w.get(i)?.parse::<u64>().ok();
            Some((w.first()?.parse().ok()?, [n(1)?, n(2)?, n(3)?]))
        })
        .collect()
}

/// Runs Debian's smem on `source`: a directory holding `proc/`, or a tar.
/// For a tar, smem 1.5 under Python 3 hands bytes where it expects text
/// (`tardata._read`), so `tarfile.extractfile` is wrapped to decode; smem's
/// own code reads and sums as it does for a directory.
fn smem(source: &str, tar: bool) -> Option<BTreeMap<u32, [u64; 3]>> {
    const SHIM: &str = "import io, sys, tarfile\n\
orig = tarfile.TarFile.extractfile\n\
def ef(self, m):\n    f = orig(self, m)\n    return io.TextIOWrapper(f, encoding='latin-1') if f else f\n\
tarfile.TarFile.extractfile = ef\n\
sys.argv = ['smem'] + sys.argv[1:]\n\
exec(compile(open('/usr/bin/smem').read(), '/usr/bin/smem', 'exec'))\n";
    let args = ["-S", source, "-H", "-c", "pid uss pss rss", "-R", "1G"];
    let out = if tar {
        StdCommand::new("python3")
            .arg("-c")
            .arg(SHIM)
            .args(args)
            .output()
    } else {
        StdCommand::new("smem").args(args).output()
    };
    let out = out.ok()?;
    assert!(
        out.status.success(),
        "smem -S {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(smem_table(&String::from_utf8_lossy(&out.stdout)))
}

/// maplens's USS, PSS, RSS in kB for one process of a bundle, summed from
/// `maplens maps --format json`.
fn maplens_totals(target: &str) -> [u64; 3] {
    let v: Value =
        serde_json::from_str(&run_ok(&["maps", target, "--format", "json"])).expect("JSON");
    let mut t = [0u64; 3];
    for r in v["regions"].as_array().expect("regions") {
        let s = &r["smaps"];
        let k = |key: &str| s[key].as_u64().unwrap_or(0);
        t[0] += k("Private_Clean") + k("Private_Dirty");
        t[1] += k("Pss");
        t[2] += k("Rss");
    }
    t
}

fn sh(cmd: &str) {
    let st = StdCommand::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .expect("sh");
    assert!(st.success(), "{cmd}");
}

#[test]
fn smemcap_tarball_agrees_with_smem() {
    let _serial = serial();
    if StdCommand::new("smem").arg("--help").output().is_err()
        || !Path::new("/usr/bin/smem").exists()
    {
        eprintln!("SKIPPED: Debian's smem is not installed (apt-get install smem)");
        return;
    }
    let kids: Vec<Kid> = [
        vec!["--big-anon", "5"],
        vec!["--threads", "2", "--arenas", "2"],
        vec!["--memfd", "m", "--shared-anon", "--regions", "20"],
    ]
    .iter()
    .map(|a| Kid::spawn(a).expect("spawn kid"))
    .collect();
    for k in &kids {
        k.stop().expect("stop");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("UTF-8");
    // smemcap's layout, written by GNU tar: PID/{smaps,cmdline,stat},
    // meminfo, version; and the same files as a directory for smem.
    let mut pids = String::new();
    for k in &kids {
        let p = k.pid;
        sh(&format!(
            "mkdir -p {d}/t/{p} {d}/dir/proc/{p} && for f in smaps cmdline stat; do \
             cat /proc/{p}/$f > {d}/t/{p}/$f; done && cp -a {d}/t/{p}/. {d}/dir/proc/{p}/"
        ));
        pids.push_str(&format!(" {p}"));
    }
    sh(&format!(
        "cat /proc/meminfo > {d}/t/meminfo && cat /proc/version > {d}/t/version && \
         cp {d}/t/meminfo {d}/t/version {d}/dir/proc/ && \
         tar cf {d}/smemcap.tar -C {d}/t{pids} meminfo version"
    ));
    let tarball = format!("{d}/smemcap.tar");
    // maplens's own capture of the same stopped kids (a smemcap superset).
    let own = format!("{d}/own.tar");
    let pid_args: Vec<String> = kids.iter().map(|k| k.pid.to_string()).collect();
    let mut args = vec!["capture", "-q", "-o", own.as_str()];
    args.extend(pid_args.iter().map(String::as_str));
    run_ok(&args);

    let by_dir = smem(&format!("{d}/dir"), false).expect("smem on a directory");
    let by_tar = smem(&tarball, true).expect("smem on the tarball");
    let by_own = smem(&own, true).expect("smem on maplens capture");
    for k in &kids {
        let p = k.pid;
        let ours = maplens_totals(&format!("{tarball}:{p}"));
        let ours_own = maplens_totals(&format!("{own}:{p}"));
        assert_eq!(
            by_dir.get(&p),
            Some(&ours),
            "pid {p}: smem -S dir vs maplens"
        );
        assert_eq!(
            by_tar.get(&p),
            Some(&ours),
            "pid {p}: smem -S tar vs maplens"
        );
        assert_eq!(
            by_own.get(&p),
            Some(&ours_own),
            "pid {p}: smem vs maplens on capture"
        );
        assert!(ours[2] > 0, "pid {p}: no RSS");
    }
}
