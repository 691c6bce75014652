//! Live faults: a target that changes, exits or hides while it is read.
//! Every run either succeeds with a result that adds up or fails with one
//! line that names what could not be read; none panics or hangs.
//!
//! * a process that maps and unmaps thousands of regions a second, read by
//!   `report`, `maps`, `pmap`, `top` and `watch` in a loop;
//! * processes killed at random moments while `report` and `maps` read
//!   them, and a process that keeps exec-ing into a new image;
//! * `hidepid=2` in a mount namespace the test makes, read as another
//!   user;
//! * a text that arrives in short reads (a pipe written a few bytes at a
//!   time) gives the same answer as the file.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::offline::{maplens, serial};

/// A run's outcome: (exit code, stdout, stderr), after checking the manners
/// every run must keep: it ends within `limit`, never panics, and a failure
/// says why in one line.
fn run_checked(args: &[&str], limit: Duration) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn maplens");
    // Drain both pipes while waiting: a report bigger than a pipe's buffer
    // would otherwise block its writer forever.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            b
        })
    };
    let out_t = drain(Box::new(child.stdout.take().unwrap()));
    let err_t = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("maplens {args:?} hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "maplens {args:?} panicked: {stderr}"
    );
    let code = status.code().unwrap_or(-1);
    // `maplens pmap` is procps pmap byte for byte: a process it cannot
    // read gives no output at all and exit status 42, as procps does.
    // (42: no such process; 1: its smaps could not be opened).
    let pmap_silence =
        args.first() == Some(&"pmap") && (code == 42 || code == 1) && stderr.is_empty();
    if code != 0 && !pmap_silence {
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "maplens {args:?} failed ({code}) without a one-line error: {stderr:?}"
        );
        // pmap speaks as procps does: "pmap: …".
        let who = if args.first() == Some(&"pmap") {
            "pmap:"
        } else {
            "maplens"
        };
        assert!(stderr.starts_with(who), "{stderr}");
    }
    (code, stdout, stderr)
}

/// A Python child that keeps `n` one-page anonymous mappings, alternately
/// read-only and read-write so that the kernel cannot merge them, and
/// unmaps and maps them again as fast as it can. It prints one line when
/// the first `n` exist.
struct Churner(Child);

impl Churner {
    fn spawn(n: usize) -> Option<Churner> {
        const SCRIPT: &str = r#"
import mmap, sys
n = int(sys.argv[1])
ps = mmap.PAGESIZE
maps = []
for i in range(n):
    m = mmap.mmap(-1, ps, prot=mmap.PROT_READ | (mmap.PROT_WRITE if i % 2 else 0))
    maps.append(m)
print("ready", flush=True)
i = 0
while True:
    k = i % n
    maps[k].close()
    maps[k] = mmap.mmap(-1, ps * (1 + i % 3), prot=mmap.PROT_READ | (mmap.PROT_WRITE if k % 2 else 0))
    if len(maps[k]) > ps and k % 2:
        maps[k][0] = 1
    i += 1
"#;
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT, &n.to_string()])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        (line.trim() == "ready").then_some(Churner(child))
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Churner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import mmap; mmap.PROT_READ")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "python3 is missing");
        eprintln!("skipped: python3 with mmap is missing");
    }
    ok
}

/// The report's JSON adds up: its categories' sizes and RSS are its
/// totals', and it saw regions.
fn report_adds_up(doc: &Value) {
    let t = &doc["totals"]["usage"];
    let cats = doc["categories"].as_array().expect("categories");
    for key in ["size", "rss", "regions"] {
        let sum: u64 = cats
            .iter()
            .map(|c| c["usage"][key].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(
            Some(sum),
            t[key].as_u64(),
            "{key}: categories vs totals (format {}, comm {}, notes {})",
            doc["format"],
            doc["comm"],
            doc["notes"]
        );
    }
    assert!(t["regions"].as_u64().unwrap() > 0);
}

/// Runs of a fault test: `default`, or `MAPLENS_FAULT_RUNS` when set
/// (`bench/faults.sh` runs each 1,000 times).
fn runs(default: usize) -> usize {
    std::env::var("MAPLENS_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn a_process_churning_its_mappings_is_read_a_thousand_times() {
    let _g = serial();
    if !have_python() {
        return;
    }
    let kid = Churner::spawn(3000).expect("churning child");
    let pid = kid.pid();
    let limit = Duration::from_secs(30);
    // Runs of each command; 1,000 in all with the watch samples below
    // (or `MAPLENS_FAULT_RUNS` of each, and as many watch samples).
    let per = runs(160);
    let mut failures = 0;
    for _ in 0..per {
        let (code, out, _) = run_checked(&[&pid, "--format", "json"], limit);
        if code == 0 {
            report_adds_up(&serde_json::from_str(&out).expect("report JSON"));
        } else {
            failures += 1;
        }
        let (code, out, _) = run_checked(&["maps", &pid, "--format", "csv"], limit);
        if code == 0 {
            let mut rows = out.lines();
            let header = rows.next().expect("a header");
            assert!(header.starts_with("START,"), "{header}");
            let n = rows.count();
            assert!(n > 1000, "{n} rows of a 3,000-region process");
        } else {
            failures += 1;
        }
        let (code, out, _) = run_checked(&["pmap", "-X", &pid], limit);
        if code == 0 {
            // pmap's last line is its total, as procps prints it.
            assert!(out.lines().count() > 1000, "{}", out.len());
        } else {
            failures += 1;
        }
    }
    for _ in 0..per {
        let (code, _, _) = run_checked(&["top", "--format", "csv"], limit);
        failures += usize::from(code != 0);
    }
    // watch: 200 samples of the churner (one every 100 ms for 20 s), or
    // `per` (every 40 ms), every one a full reading.
    let (interval, want) = if per == 160 { (100, 200) } else { (40, per) };
    let duration = format!("{}ms", interval * want);
    let (code, out, err) = run_checked(
        &[
            "watch",
            &pid,
            "--full",
            "--interval",
            &format!("{interval}ms"),
            "--duration",
            &duration,
        ],
        Duration::from_millis(3 * (interval * want) as u64 + 30_000),
    );
    assert_eq!(code, 0, "{err}");
    let samples: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON sample"))
        .collect();
    assert!(samples.len() >= want / 4, "{} samples", samples.len());
    for s in &samples {
        let cats: u64 = s["categories"]
            .as_array()
            .expect("categories")
            .iter()
            .map(|c| c["usage"]["size"].as_u64().unwrap())
            .sum();
        assert_eq!(Some(cats), s["totals"]["size"].as_u64(), "{s}");
    }
    // The process is alive throughout: every read of it must succeed.
    assert_eq!(failures, 0, "reads of a live churning process failed");
    eprintln!(
        "churn: {per} each of report, maps, pmap -X and top read whole and adding up, \
         {} watch samples adding up",
        samples.len()
    );
}

#[test]
fn processes_killed_mid_read_give_one_line_or_a_result() {
    let _g = serial();
    let limit = Duration::from_secs(30);
    let mut outcomes = [0usize; 2];
    for i in 0..runs(120) as u64 {
        // A child with some threads and regions, killed after a few ms.
        let mut kid = Command::new("sleep").arg("5").spawn().expect("spawn sleep");
        let pid = kid.id().to_string();
        let delay = Duration::from_micros(200 + (i * 997) % 4000);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = kid.kill();
            let _ = kid.wait();
        });
        let args: &[&str] = match i % 3 {
            0 => &[&pid, "--format", "json"],
            1 => &["maps", &pid],
            _ => &["pmap", "-x", &pid],
        };
        let (code, out, err) = run_checked(args, limit);
        if code == 0 {
            assert!(!out.is_empty(), "{args:?}: success with no output");
            outcomes[0] += 1;
        } else if err.is_empty() {
            outcomes[1] += 1; // pmap's silence, as procps (exit 1 or 42)
        } else {
            assert!(
                err.contains(&pid) || err.contains("no process"),
                "{args:?}: the error names the process: {err}"
            );
            outcomes[1] += 1;
        }
        killer.join().unwrap();
        // And after it is gone, always the same clear error.
        let (code, _, err) = run_checked(&["maps", &pid], limit);
        assert_ne!(code, 0);
        assert!(err.contains(&pid), "{err}");
    }
    eprintln!(
        "killed mid-read: {} read whole, {} one-line errors",
        outcomes[0], outcomes[1]
    );
}

#[test]
fn a_process_that_keeps_execing_is_read_or_refused_cleanly() {
    let _g = serial();
    // One pid, a new image about every millisecond: the script execs the
    // shell on itself, forever.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("again.sh");
    std::fs::write(&script, "exec /bin/sh \"$0\"\n").unwrap();
    let mut kid = Command::new("/bin/sh")
        .arg(&script)
        .spawn()
        .expect("spawn sh");
    let pid = kid.id().to_string();
    let (mut ok, n) = (0, runs(100));
    for _ in 0..n {
        let (code, out, _) = run_checked(&[&pid, "--format", "json"], Duration::from_secs(30));
        if code == 0 {
            report_adds_up(&serde_json::from_str(&out).expect("report JSON"));
            ok += 1;
        }
        run_checked(&["maps", &pid], Duration::from_secs(30));
        run_checked(&["pmap", "-x", &pid], Duration::from_secs(30));
    }
    let _ = kid.kill();
    let _ = kid.wait();
    eprintln!("exec loop: {ok} of {n} reports read whole (and {n} each of maps, pmap -x)");
}

/// `hidepid=2` hides other users' processes: maplens, run as `nobody` on a
/// proc mounted that way in a mount namespace of the test's own, says the
/// process is not there (one line, non-zero), and `top` lists none of
/// root's.
#[test]
fn hidepid_2_hides_other_users_processes() {
    let _g = serial();
    let unshare_ok = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let setpriv_ok = Command::new("setpriv").arg("--version").output().is_ok();
    if !unshare_ok || !setpriv_ok {
        // Needs CAP_SYS_ADMIN for the namespace: skipped as a plain user.
        eprintln!("skipped: unshare --mount or setpriv unavailable");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir(&proc_dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_maplens");
    let me = std::process::id();
    let script = format!(
        "mount -t proc -o hidepid=2 proc {p} || exit 97
         setpriv --reuid 65534 --regid 65534 --clear-groups {bin} maps {me} --proc-root {p}; echo \"maps=$?\"
         setpriv --reuid 65534 --regid 65534 --clear-groups {bin} top --proc-root {p} --format csv; echo \"top=$?\"",
        p = proc_dir.display(),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(97) {
        eprintln!("skipped: cannot mount proc with hidepid=2: {stderr}");
        return;
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stdout.contains("maps=1") || stdout.contains("maps=2"),
        "{stdout}\n{stderr}"
    );
    let errs: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&me.to_string()))
        .collect();
    assert_eq!(errs.len(), 1, "one line names the hidden pid: {stderr}");
    assert!(stdout.contains("top=0"), "{stdout}\n{stderr}");
    // top sees no process of root's: none of the rows is this test's pid.
    for row in stdout.lines().skip_while(|l| !l.starts_with("pid")) {
        assert!(
            !row.starts_with(&format!("{me},")),
            "root's process listed under hidepid=2: {row}"
        );
    }
}

/// A text that arrives a few bytes per read (a pipe fed slowly) gives the
/// same answer as the file it came from.
#[test]
fn short_reads_change_nothing() {
    let _g = serial();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/fixtures/vminfo__armhf-cat.smaps"
    );
    let text = std::fs::read(path).expect("fixture");
    for args in [
        vec!["maps", "-", "--format", "csv"],
        vec!["-", "--format", "json"],
    ] {
        let from_file = maplens()
            .args(args.iter().map(|a| if *a == "-" { path } else { a }))
            .output()
            .expect("run");
        assert!(from_file.status.success());
        let mut child = Command::new(env!("CARGO_BIN_EXE_maplens"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().unwrap();
        let feed = text.clone();
        let writer = std::thread::spawn(move || {
            let mut i = 0;
            let mut step = 1;
            while i < feed.len() {
                let end = (i + step).min(feed.len());
                stdin.write_all(&feed[i..end]).unwrap();
                stdin.flush().unwrap();
                i = end;
                step = step % 61 + 1;
                if i % 7 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        });
        let out = child.wait_with_output().expect("output");
        writer.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let norm = |b: &[u8]| {
            // The origin names the file or `-`; nothing else may differ.
            String::from_utf8_lossy(b).replace(path, "<stdin>")
        };
        assert_eq!(norm(&out.stdout), norm(&from_file.stdout), "{args:?}");
    }
}

/// The driver of [`a_reused_pid_is_never_mixed_with_its_new_owner`], run as
/// PID 1 of a new PID namespace: it puts process A at PID 500, starts
/// maplens on 500, and after a few hundred microseconds kills A and
/// starts B at the same PID (by `ns_last_pid`), 300 times. It prints one
/// JSON line per run: maplens's exit code, stdout and stderr.
const REUSE_DRIVER: &str = r#"
import json, os, subprocess, sys, time
bin, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
P = 500
# The command's arguments, with PID for the process's.
args = [str(P) if x == "PID" else x for x in sys.argv[4:]]
def at_p(exe):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(P - 1))
    return subprocess.Popen([exe, "1000"])
for i in range(300):
    first = at_p(a)
    if first.pid != P:
        first.kill(); first.wait(); continue
    time.sleep(0.002)
    m = subprocess.Popen([bin] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep((i % 40) * 0.0001)
    first.kill(); first.wait()
    second = at_p(b)
    out, err = m.communicate(timeout=60)
    print(json.dumps({"second": second.pid == P, "code": m.returncode,
                      "out": out.decode("utf-8", "replace"),
                      "err": err.decode("utf-8", "replace")}), flush=True)
    second.kill(); second.wait()
"#;

/// A PID reused between two reads of one command: process A exits while
/// maplens reads it and B takes its PID. Each report is then wholly of A,
/// wholly of B (read after the swap, or before B's exec, as the copy of
/// the driver it was for a moment), or one line saying the PID changed
/// hands or the process went away: never A's regions under B's name, nor
/// one image's regions under the next one's name. (Both are copies of `sleep`, named `reuse-aaaa`
/// and `reuse-bbbb`, so a region's path tells whose it is.)
#[test]
fn a_reused_pid_is_never_mixed_with_its_new_owner() {
    let Some(stdout) = reuse_runs(&["PID", "--format", "json"]) else {
        return;
    };
    let (mut of_a, mut of_b, mut forked, mut reused, mut gone) = (0, 0, 0, 0, 0);
    for line in stdout.lines() {
        let run: Value = serde_json::from_str(line).expect("driver line");
        let err = run["err"].as_str().unwrap();
        assert!(!err.contains("panicked"), "{err}");
        if run["code"] != 0 {
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
            assert!(err.contains("/proc/500"), "names the process: {err}");
            if err.contains("another process") {
                reused += 1;
            } else {
                gone += 1;
            }
            continue;
        }
        let doc: Value = serde_json::from_str(run["out"].as_str().unwrap()).expect("report");
        if doc["totals"]["usage"]["regions"] == 0 {
            // Killed and not yet reaped: a zombie, whose memory is gone
            // (the report says so in a note). Consistent, and empty.
            let notes = doc["notes"].to_string();
            assert!(
                notes.contains("no memory regions"),
                "an empty report: {notes}"
            );
            gone += 1;
            continue;
        }
        let comm = doc["comm"].as_str().unwrap_or_default().to_owned();
        let paths: Vec<&str> = doc["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["path"].as_str())
            .filter(|p| p.contains("reuse-"))
            .collect();
        report_adds_up(&doc);
        let whose = match comm.as_str() {
            "reuse-aaaa" => "reuse-aaaa",
            "reuse-bbbb" => "reuse-bbbb",
            // B between its fork and its exec: the driver's copy, whole.
            "python3" => {
                assert!(paths.is_empty(), "python3 with {paths:?}");
                forked += 1;
                continue;
            }
            other => panic!("a report of neither process: comm {other:?}"),
        };
        assert!(
            !paths.is_empty() && paths.iter().all(|p| p.ends_with(whose)),
            "a report that mixes two processes: comm {comm}, objects {paths:?}"
        );
        if whose.ends_with("aaaa") {
            of_a += 1;
        } else {
            of_b += 1;
        }
    }
    let runs = of_a + of_b + forked + reused + gone;
    assert!(runs >= 200, "only {runs} runs put a process at PID 500");
    eprintln!(
        "PID reuse: {runs} runs; {of_a} wholly of the first process, {of_b} wholly of the \
         second, {forked} of the second before its exec, {reused} refused as reused, {gone} \
         as gone"
    );
}

/// Runs [`REUSE_DRIVER`] in a new PID namespace with maplens and `args`
/// (`PID` for the process's): one JSON line a run. `None` (the test is
/// skipped) without python3 or the namespace.
fn reuse_runs(args: &[&str]) -> Option<String> {
    let _g = serial();
    if !have_python() {
        return None;
    }
    let can = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !can {
        // Needs CAP_SYS_ADMIN for the namespace: skipped as a plain user
        // (or in a container that forbids new PID namespaces).
        eprintln!("skipped: unshare --pid unavailable");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sleep = which_sleep();
    let (a, b) = (dir.path().join("reuse-aaaa"), dir.path().join("reuse-bbbb"));
    std::fs::copy(&sleep, &a).unwrap();
    std::fs::copy(&sleep, &b).unwrap();
    let driver = dir.path().join("driver.py");
    std::fs::write(&driver, REUSE_DRIVER).unwrap();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "python3"])
        .arg(&driver)
        .arg(env!("CARGO_BIN_EXE_maplens"))
        .args([&a, &b])
        .args(args)
        .output()
        .expect("unshare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `maplens pmap` prints the header from one reading and the mappings
/// from another, as procps does. procps opens each file by its path, so a
/// PID that changes hands in between mixes two processes; maplens opens
/// them through one handle on `/proc/PID`, so it never does (the process
/// that went is "no such process"). A process that execs in between (here
/// every second process, a fork of the driver until it execs) still can:
/// such output says so on stderr and exits 1. Every exit other than 0
/// says why in one line.
#[test]
fn pmap_says_when_a_reused_pid_mixed_its_output() {
    let Some(stdout) = reuse_runs(&["pmap", "PID"]) else {
        return;
    };
    let (mut clean, mut mixed, mut told, mut gone) = (0, 0, 0, 0);
    for line in stdout.lines() {
        let run: Value = serde_json::from_str(line).expect("driver line");
        let err = run["err"].as_str().unwrap();
        assert!(!err.contains("panicked"), "{err}");
        let out = run["out"].as_str().unwrap();
        let Some(header) = out.lines().next() else {
            // Gone before the header: pmap's exit 42, nothing printed.
            continue;
        };
        let named = |s: &str| {
            ["reuse-aaaa", "reuse-bbbb"]
                .into_iter()
                .find(|n| s.contains(n))
        };
        // A fork of the driver (before it execs) has the driver's command
        // line, which names both programs.
        let head = if header.contains("driver.py") {
            "python3"
        } else {
            named(header).unwrap_or("python3")
        };
        let maps: Vec<&str> = out.lines().skip(1).filter_map(named).collect();
        let one_program = maps.iter().all(|m| *m == head) && (head != "python3" || maps.is_empty());
        // Never the first process's header over the next one's mappings.
        assert!(
            !(head == "reuse-aaaa" && maps.contains(&"reuse-bbbb")),
            "two processes in one output: {out}\nstderr: {err}"
        );
        let warned = err.contains("the process exec'd while being read, so the header and");
        if run["code"] != 0 {
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        }
        if warned {
            assert_eq!(run["code"], 1, "{err}");
            told += 1;
        }
        gone += usize::from(err.contains("no such process"));
        if one_program {
            clean += 1;
        } else {
            assert!(warned, "mixed output without a word: {out}\nstderr: {err}");
            mixed += 1;
        }
    }
    assert!(
        clean + mixed >= 200,
        "only {} runs printed a header",
        clean + mixed
    );
    eprintln!(
        "pmap PID reuse: {clean} of one program, {mixed} of two (an exec) and said so, {told} \
         warned, {gone} gone before their mappings were read"
    );
}

/// The `sleep` binary itself (not a symlink), to copy under a new name.
fn which_sleep() -> std::path::PathBuf {
    ["/usr/bin/sleep", "/bin/sleep"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .expect("sleep")
        .canonicalize()
        .unwrap()
}

/// A zombie (exited, not yet reaped) has no memory: its report says so and
/// guesses nothing (no width, no page size, no "residency unknown").
#[test]
fn a_zombie_is_reported_empty_without_guesses() {
    if !have_python() {
        return;
    }
    let mut parent = Command::new("python3")
        .args([
            "-c",
            "import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\n\
             print(pid, flush=True)\ntime.sleep(30)",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let zombie = line.trim().to_owned();
    let stat = format!("/proc/{zombie}/stat");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z ")) {
        assert!(Instant::now() < deadline, "no zombie at {zombie}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .arg(&zombie)
        .output()
        .expect("maplens");
    let _ = parent.kill();
    let _ = parent.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = text.lines().next().unwrap_or_default();
    assert!(head.ends_with("no memory regions]"), "{head}");
    assert!(
        !text.contains("-bit") && !text.contains("residency unknown"),
        "{text}"
    );
    assert!(text.contains("a zombie"), "{text}");
}
