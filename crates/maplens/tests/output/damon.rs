//! `maplens wss --mechanism damon` against a fake sysfs tree in a temp dir,
//! with a fake "kernel" thread that makes the directories the kernel makes
//! when maplens writes `nr_kdamonds`, `nr_contexts`, `nr_targets` and
//! `nr_schemes`, and fills in `tried_regions` when `state` becomes `on`
//! (Documentation/admin-guide/mm/damon/usage.rst). Never the real /sys.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use maplens_testkid::Kid;
use serde_json::Value;

/// What the fake kernel saw when `state` became `on`: the configuration
/// of kdamond 0 as the kernel would read it.
#[derive(Debug, Default, Clone)]
struct Seen {
    on: Option<Vec<(String, String)>>,
}

struct FakeKernel {
    root: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<thread::JoinHandle<()>>,
}

fn kd(root: &Path) -> PathBuf {
    root.join("kernel/mm/damon/admin/kdamonds")
}

fn put(p: &Path, v: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, v).unwrap();
}

fn get(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default().trim().to_owned()
}

/// Every file under `dir` with its contents, sorted.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, get(&e.path())));
            }
        }
    }
    out.sort();
    out
}

impl FakeKernel {
    /// A tree with `nr_kdamonds` = 0 (plus `extra` files, relative to
    /// kdamonds/), whose kernel offers `avail` and reports `regions`
    /// (start, end, nr_accesses) once a kdamond is on.
    fn new(avail: &'static str, regions: Vec<(u64, u64, u64)>, extra: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().unwrap();
        // Readable by the unprivileged run of the not-root case.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let k = kd(root.path());
        put(&k.join("nr_kdamonds"), "0\n");
        for (p, v) in extra {
            put(&k.join(p), v);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let thread = {
            let (stop, seen, k) = (Arc::clone(&stop), Arc::clone(&seen), k.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    step(&k, avail, &regions, &seen);
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        FakeKernel {
            root,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn kdamonds(&self) -> PathBuf {
        kd(self.root.path())
    }

    fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeKernel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One pass of the fake kernel over the tree.
fn step(k: &Path, avail: &str, regions: &[(u64, u64, u64)], seen: &Mutex<Seen>) {
    let n: usize = get(&k.join("nr_kdamonds")).parse().unwrap_or(0);
    for i in 0..n {
        let d = k.join(i.to_string());
        if !d.join("state").exists() {
            put(&d.join("pid"), "-1\n");
            put(&d.join("contexts/nr_contexts"), "0\n");
            put(&d.join("state"), "off\n");
        }
        let ctx = d.join("contexts/0");
        if get(&d.join("contexts/nr_contexts")) == "1" && !ctx.join("avail_operations").exists() {
            put(&ctx.join("operations"), "paddr\n");
            for f in ["sample_us", "aggr_us", "update_us"] {
                put(&ctx.join("monitoring_attrs/intervals").join(f), "0\n");
            }
            put(&ctx.join("monitoring_attrs/nr_regions/min"), "10\n");
            put(&ctx.join("monitoring_attrs/nr_regions/max"), "1000\n");
            put(&ctx.join("targets/nr_targets"), "0\n");
            put(&ctx.join("schemes/nr_schemes"), "0\n");
            put(&ctx.join("avail_operations"), avail);
        }
        if get(&ctx.join("targets/nr_targets")) == "1" && !ctx.join("targets/0/pid_target").exists()
        {
            put(&ctx.join("targets/0/regions/nr_regions"), "0\n");
            put(&ctx.join("targets/0/pid_target"), "0\n");
        }
        let s = ctx.join("schemes/0");
        if get(&ctx.join("schemes/nr_schemes")) == "1" && !s.join("action").exists() {
            for what in ["sz", "nr_accesses", "age"] {
                put(&s.join("access_pattern").join(what).join("min"), "0\n");
                put(&s.join("access_pattern").join(what).join("max"), "0\n");
            }
            put(&s.join("tried_regions/total_bytes"), "0\n");
            put(&s.join("action"), "pageout\n");
        }
        let state = get(&d.join("state"));
        let mut seen = seen.lock().unwrap();
        if state == "on" && seen.on.is_none() {
            seen.on = Some(files(&d));
            for (j, (a, b, acc)) in regions.iter().enumerate() {
                let r = s.join("tried_regions").join(j.to_string());
                put(&r.join("start"), &format!("{a}\n"));
                put(&r.join("end"), &format!("{b}\n"));
                put(&r.join("age"), "3\n");
                put(&r.join("nr_accesses"), &format!("{acc}\n"));
            }
            put(&d.join("pid"), "99999\n");
        }
    }
}

fn maplens(args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("maplens").expect("built");
    c.args(args);
    c
}

fn run(args: &[&str]) -> Output {
    maplens(args).output().expect("run")
}

/// The looping child and its region: 64 MiB of which the first 8 are
/// touched; the fake DAMON reports exactly that split.
fn kid_and_regions() -> (Kid, u64, Vec<(u64, u64, u64)>) {
    let kid = Kid::spawn(&["--wss-loop", "64:8"]).expect("kid");
    let addr = kid.info["wss_loop"]["addr"].as_u64().unwrap();
    let mib = 1 << 20;
    let regions = vec![
        (addr, addr + 8 * mib, 7),
        (addr + 8 * mib, addr + 64 * mib, 0),
    ];
    (kid, addr, regions)
}

#[test]
fn damon_path_writes_only_its_own_kdamond_reports_and_cleans_up() {
    let (kid, addr, regions) = kid_and_regions();
    let fake = FakeKernel::new("vaddr fvaddr paddr\n", regions, &[]);
    let pid = kid.pid.to_string();
    let sys = fake.root.path().to_str().unwrap().to_owned();
    let out = run(&[
        "wss",
        &pid,
        "--mechanism",
        "damon",
        "--yes",
        "--sys-root",
        &sys,
        "--interval",
        "0.2",
        "--duration",
        "0.4",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["mechanism"], "damon");
    let samples = doc["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    for s in samples {
        let r = s["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["start"].as_u64() == Some(addr))
            .expect("the looping region");
        assert_eq!(r["referenced_kb"], 8192);
        assert_eq!(r["rss_kb"], 65536);
        assert_eq!(s["total"]["referenced_kb"], 8192, "only DAMON's hot range");
    }
    // What the kernel read when the kdamond went on: exactly maplens' writes.
    let on: std::collections::BTreeMap<_, _> =
        fake.seen().on.expect("state went on").into_iter().collect();
    let want = [
        ("contexts/nr_contexts", "1"),
        ("contexts/0/operations", "vaddr"),
        ("contexts/0/monitoring_attrs/intervals/sample_us", "5000"),
        ("contexts/0/monitoring_attrs/intervals/aggr_us", "200000"),
        ("contexts/0/monitoring_attrs/intervals/update_us", "0"),
        ("contexts/0/monitoring_attrs/nr_regions/min", "10"),
        ("contexts/0/monitoring_attrs/nr_regions/max", "1000"),
        ("contexts/0/targets/nr_targets", "1"),
        ("contexts/0/targets/0/pid_target", pid.as_str()),
        ("contexts/0/schemes/nr_schemes", "1"),
        ("contexts/0/schemes/0/action", "stat"),
        ("contexts/0/schemes/0/access_pattern/sz/min", "0"),
        (
            "contexts/0/schemes/0/access_pattern/sz/max",
            "18446744073709551615",
        ),
        (
            "contexts/0/schemes/0/access_pattern/nr_accesses/max",
            "4294967295",
        ),
        ("contexts/0/schemes/0/access_pattern/age/max", "4294967295"),
        ("state", "on"),
    ];
    for (f, v) in want {
        assert_eq!(on.get(f).map(String::as_str), Some(v), "{f}");
    }
    // Clean-up: off, and nr_kdamonds back to 0; nothing else at the top.
    let k = fake.kdamonds();
    assert_eq!(get(&k.join("0/state")), "off");
    assert_eq!(get(&k.join("nr_kdamonds")), "0");
    let top: Vec<_> = fs::read_dir(&k)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    let mut top = top;
    top.sort();
    assert_eq!(top, ["0", "nr_kdamonds"]);
}

#[test]
fn ctrl_c_turns_its_kdamond_off_and_restores_nr_kdamonds() {
    let (kid, addr, regions) = kid_and_regions();
    let fake = FakeKernel::new("vaddr paddr\n", regions, &[]);
    let pid = kid.pid.to_string();
    let sys = fake.root.path().to_str().unwrap().to_owned();
    let child = maplens(&[
        "wss",
        &pid,
        "--mechanism",
        "damon",
        "--yes",
        "--sys-root",
        &sys,
        "--interval",
        "0.2",
        "--duration",
        "600",
        "--format",
        "json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let k = fake.kdamonds();
    let t0 = Instant::now();
    while fake.seen().on.is_none() {
        assert!(t0.elapsed() < Duration::from_secs(60), "never went on");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(500));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["mechanism"], "damon");
    let notes = doc["notes"].to_string();
    assert!(notes.contains("interrupted"), "{notes}");
    let first = &doc["samples"][0]["regions"];
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["start"].as_u64() == Some(addr) && r["referenced_kb"] == 8192),
        "{first}"
    );
    assert_eq!(get(&k.join("0/state")), "off");
    assert_eq!(get(&k.join("nr_kdamonds")), "0");
}

/// Runs `--mechanism damon` on `fake`; returns (success, stderr).
fn refused(fake: &FakeKernel, pid: &str, yes: bool, uid: Option<u32>) -> (bool, String) {
    let sys = fake.root.path().to_str().unwrap().to_owned();
    let mut c = maplens(&[
        "wss",
        pid,
        "--mechanism",
        "damon",
        "--sys-root",
        &sys,
        "--interval",
        "0.05",
    ]);
    if yes {
        c.arg("--yes");
    }
    if let Some(uid) = uid {
        use std::os::unix::process::CommandExt;
        c.uid(uid);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn someone_elses_kdamond_is_never_touched() {
    let (kid, _, regions) = kid_and_regions();
    let pid = kid.pid.to_string();
    for state in ["on", "off"] {
        let fake = FakeKernel::new("vaddr paddr\n", regions.clone(), &[]);
        let k = fake.kdamonds();
        // Someone else's kdamond: made the way the kernel makes it.
        put(&k.join("nr_kdamonds"), "1\n");
        let t0 = Instant::now();
        while !k.join("0/state").exists() {
            assert!(t0.elapsed() < Duration::from_secs(10));
            thread::sleep(Duration::from_millis(5));
        }
        put(&k.join("0/state"), &format!("{state}\n"));
        thread::sleep(Duration::from_millis(20));
        let before = files(&k);
        let (ok, err) = refused(&fake, &pid, true, None);
        assert!(!ok);
        let want = if state == "on" {
            "kdamond 0 is running"
        } else {
            "delete their configuration"
        };
        assert!(err.contains(want), "{err}");
        assert_eq!(files(&k), before, "the tree is untouched ({state})");
    }
}

#[test]
fn refused_without_vaddr_without_yes_and_without_root() {
    let (kid, _, regions) = kid_and_regions();
    let pid = kid.pid.to_string();
    // No vaddr: maplens' own new kdamond is the only place to read
    // avail_operations; it is removed again.
    let fake = FakeKernel::new("paddr\n", regions.clone(), &[]);
    let (ok, err) = refused(&fake, &pid, true, None);
    assert!(!ok);
    assert!(err.contains("no vaddr"), "{err}");
    let k = fake.kdamonds();
    assert_eq!(get(&k.join("nr_kdamonds")), "0");
    assert_eq!(get(&k.join("0/state")), "off", "never turned on");
    assert!(fake.seen().on.is_none());
    // No --yes, and not root: nothing written at all.
    let fake = FakeKernel::new("vaddr paddr\n", regions, &[]);
    let k = fake.kdamonds();
    let before = files(&k);
    let (ok, err) = refused(&fake, &pid, false, None);
    assert!(!ok);
    assert!(err.contains("--yes"), "{err}");
    if rustix::process::geteuid().is_root() {
        let (ok, err) = refused(&fake, &pid, true, Some(65534));
        assert!(!ok);
        assert!(err.contains("needs root"), "{err}");
    }
    assert_eq!(files(&k), before);
}
