//! Capture bundles as targets of the system-wide commands and of pmap:
//! `maplens top BUNDLE`, `maplens libs BUNDLE`, `maplens pmap --from
//! BUNDLE[:PID]`, on a frozen child, against the same commands on the live
//! child.
//!
//! Two bundles of the child: one written by `maplens capture`, and one in
//! smem's smemcap layout (`PID/`, `PID/smaps`, `PID/cmdline`, `PID/stat`,
//! `meminfo`, `version`: no status, comm, smaps_rollup or manifest) written
//! here with the `tar` crate from the child's /proc files.
//!
//! The child runs from private copies of its binary, ld.so and libraries
//! (see [`Frozen`]): no other process maps its file pages, so its PSS
//! cannot move while it is stopped, whoever runs, and every figure, PSS
//! included, must be the same from the bundle as live.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use maplens_testkid::Kid;
use serde_json::Value;

/// The tests start and end processes, which moves the PSS of shared
/// libraries: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(args)
        .output()
        .expect("run maplens")
}

/// `maplens ARGS`, required to succeed: its stdout.
fn ok(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "maplens {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "maplens {args:?}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    })
}

/// A stopped `maplens-testkid` that shares no file page with any other
/// process: it runs from its own copies of the binary, the dynamic loader
/// and the libraries it links (started as `LD.SO --library-path DIR KID`).
/// Its PSS then cannot move whoever else runs, so a bundle and a live read
/// must give the same numbers, PSS included.
struct Frozen {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    /// The kid's binary (the copy).
    exe: PathBuf,
    dir: tempfile::TempDir,
}

impl Frozen {
    fn new() -> Frozen {
        let dir = tempfile::tempdir().expect("tempdir");
        // The shared objects the kid maps: from a kid started normally.
        let probe = Kid::spawn(&[]).expect("spawn the kid");
        let maps = std::fs::read_to_string(probe.proc("maps")).expect("kid maps");
        drop(probe);
        let mut libs: Vec<PathBuf> = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.starts_with('/') && p.contains(".so"))
            .map(PathBuf::from)
            .collect();
        libs.sort();
        libs.dedup();
        let mut ld = None;
        for lib in &libs {
            let name = lib.file_name().expect("library name");
            std::fs::copy(lib, dir.path().join(name)).expect("copy a library");
            if name.to_string_lossy().starts_with("ld-") {
                ld = Some(dir.path().join(name));
            }
        }
        let ld = ld.unwrap_or_else(|| panic!("no dynamic loader among {libs:?}"));
        let exe = dir.path().join("maplens-testkid");
        std::fs::copy(maplens_testkid::kid_binary(), &exe).expect("copy the kid");
        let mut cmd = Command::new(&ld);
        cmd.arg("--library-path")
            .arg(dir.path())
            .arg(&exe)
            .args(["--big-anon", "2", "--memfd", "bundle", "--threads", "2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Ok(c) => break c,
                // ETXTBSY: another thread forked while the copy was open.
                Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("spawn {}: {e}", ld.display()),
            }
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the kid's JSON line");
        assert!(line.starts_with('{'), "the kid printed {line:?}");
        let f = Frozen {
            pid: child.id(),
            stdin: child.stdin.take(),
            child,
            exe,
            dir,
        };
        // Nothing of it is mapped from a file another process maps.
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", f.pid)).expect("maps");
        for l in maps.lines() {
            if let Some(p) = l.split_whitespace().nth(5).filter(|p| p.starts_with('/'))
                && !p.starts_with("/memfd:")
            {
                assert!(Path::new(p).starts_with(f.dir.path()), "shared: {l}");
            }
        }
        f.stop();
        f
    }

    /// SIGSTOP, then wait until every thread is stopped.
    fn stop(&self) {
        let pid = rustix::process::Pid::from_raw(self.pid as i32).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP");
        let deadline = Instant::now() + Duration::from_secs(5);
        let stopped = || {
            std::fs::read_dir(format!("/proc/{}/task", self.pid))
                .into_iter()
                .flatten()
                .flatten()
                .all(|t| {
                    std::fs::read(t.path().join("stat")).is_ok_and(|s| {
                        s.iter()
                            .rposition(|&b| b == b')')
                            .and_then(|c| s.get(c + 2))
                            == Some(&b'T')
                    })
                })
        };
        while !stopped() {
            assert!(Instant::now() < deadline, "the kid did not stop");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn pid(&self) -> String {
        self.pid.to_string()
    }

    /// `maplens capture PID -o NAME`.
    fn capture(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        ok(&["capture", &self.pid(), "-q", "-o", path(&p)]);
        p
    }

    /// A smemcap-layout tarball of the child, written from its /proc files.
    fn smemcap(&self) -> PathBuf {
        use std::os::unix::fs::MetadataExt;
        let p = self.dir.path().join("smemcap.tar");
        let f = std::fs::File::create(&p).expect("create smemcap.tar");
        let mut b = tar::Builder::new(f);
        let pid = self.pid;
        let meta = std::fs::metadata(format!("/proc/{pid}")).expect("stat /proc/PID");
        // smemcap's directory entry: ustar, the owner's ids, no names.
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o555);
        h.set_uid(u64::from(meta.uid()));
        h.set_gid(u64::from(meta.gid()));
        b.append_data(&mut h, format!("{pid}/"), std::io::empty())
            .expect("append PID/");
        let mut add = |name: String, src: String| {
            let data = std::fs::read(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o444);
            b.append_data(&mut h, name, &data[..]).expect("append");
        };
        for f in ["smaps", "cmdline", "stat"] {
            add(format!("{pid}/{f}"), format!("/proc/{pid}/{f}"));
        }
        add("meminfo".into(), "/proc/meminfo".into());
        add("version".into(), "/proc/version".into());
        b.into_inner().expect("finish smemcap.tar");
        p
    }
}

impl Drop for Frozen {
    /// SIGCONT and EOF on stdin: the kid cleans up and exits.
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
        }
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// The one row of a `top --format json` document, or a message.
fn only_row(doc: &Value) -> Result<&Value, String> {
    match doc["rows"].as_array().map(Vec::as_slice) {
        Some([r]) => Ok(r),
        _ => Err(format!("not one row: {doc}")),
    }
}

/// Rows must agree on who the process is and on every figure.
fn same_row(bundle: &Value, live: &Value) -> Result<(), String> {
    let (b, l) = (only_row(bundle)?, only_row(live)?);
    let keys = l.as_object().ok_or("row is not an object")?.keys();
    let differ: Vec<String> = keys
        .filter(|k| b[k.as_str()] != l[k.as_str()])
        .map(|k| format!("{k}: bundle {} live {}", b[k.as_str()], l[k.as_str()]))
        .collect();
    if differ.is_empty() {
        Ok(())
    } else {
        Err(differ.join("; "))
    }
}

/// Equal text, or the first differing lines.
fn same_text(bundle: &[u8], live: &[u8]) -> Result<(), String> {
    let (b, l) = (
        String::from_utf8_lossy(bundle),
        String::from_utf8_lossy(live),
    );
    if b == l {
        return Ok(());
    }
    let d: Vec<String> = b
        .lines()
        .zip(l.lines())
        .filter(|(x, y)| x != y)
        .take(3)
        .map(|(x, y)| format!("\nbundle {x}\nlive   {y}"))
        .collect();
    Err(format!(
        "{} vs {} lines{}",
        b.lines().count(),
        l.lines().count(),
        d.concat()
    ))
}

/// Panics with `what` and the difference when `r` is one.
fn agree(what: &str, r: impl FnOnce() -> Result<(), String>) {
    if let Err(e) = r() {
        panic!("{what}: {e}");
    }
}

#[test]
fn top_of_a_capture_equals_top_of_the_live_process() {
    let _s = serial();
    let f = Frozen::new();
    let pid = f.pid();
    agree("top BUNDLE vs top --pid", || {
        let cap = f.capture("cap.tar");
        let bundle = json(&["top", path(&cap), "--format", "json"]);
        let live = json(&["top", "--pid", &pid, "--format", "json"]);
        same_row(&bundle, &live)?;
        let row = only_row(&bundle)?;
        if row["source"] != "smaps_rollup" || row["uss_kb"].as_u64() == Some(0) {
            return Err(format!("unexpected row {row}"));
        }
        if bundle["mem_total_kb"] != live["mem_total_kb"] {
            return Err("meminfo differs".into());
        }
        // `cap.tar:PID` and a bundle on standard input are the same bundle.
        let one = json(&["top", &format!("{}:{pid}", path(&cap)), "--format", "json"]);
        same_row(&one, &bundle)?;
        let piped = Command::new(env!("CARGO_BIN_EXE_maplens"))
            .args(["top", "-", "--format", "json"])
            .stdin(std::fs::File::open(&cap).map_err(|e| e.to_string())?)
            .output()
            .map_err(|e| e.to_string())?;
        let piped: Value = serde_json::from_slice(&piped.stdout).map_err(|e| e.to_string())?;
        same_row(&piped, &bundle)
    });
    // Every grouping reads the bundle (full smaps where it needs regions).
    agree("top BUNDLE --by category vs live", || {
        let cap = f.capture("cap.tar.gz");
        let bundle = json(&["top", path(&cap), "--categories", "--format", "json"]);
        let live = json(&["top", "--pid", &pid, "--categories", "--format", "json"]);
        same_row(&bundle, &live)?;
        for by in ["user", "category", "object", "shm"] {
            let b = json(&["top", path(&cap), "--by", by, "--format", "json"]);
            let l = json(&["top", "--pid", &pid, "--by", by, "--format", "json"]);
            let key = match by {
                "user" | "category" => "groups",
                "object" => "objects",
                _ => "shared_memory",
            };
            if by == "shm" {
                // This machine's tmpfs devices are not the bundle's: compare
                // the memfd, which is recognised by name in both.
                let memfd = |d: &Value| {
                    d[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|x| x["kind"] == "memfd")
                        .cloned()
                };
                if memfd(&b).is_none() || memfd(&b) != memfd(&l) {
                    return Err(format!("--by shm: {} vs {}", b[key], l[key]));
                }
            } else if b[key] != l[key] {
                return Err(format!("--by {by}: {} vs {}", b[key], l[key]));
            }
        }
        Ok(())
    });
    let err = run(&["top", &format!("{}:1", path(&f.capture("one.tar")))]);
    assert!(!err.status.success());
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(
        msg.contains("holds no process 1") && msg.contains(&pid),
        "{msg}"
    );
}

#[test]
fn libs_of_a_capture_lists_the_kids_binary() {
    let _s = serial();
    let f = Frozen::new();
    let exe = path(&f.exe).to_owned();
    let cap = f.capture("cap.tar");
    let table = String::from_utf8(ok(&["libs", path(&cap), "--bytes"])).expect("UTF-8");
    let name = Path::new(&exe)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("exe name");
    assert!(table.contains(name), "{exe} not in:\n{table}");
    // Its own binary is private to it: the same figures as live.
    let own = |doc: &Value| {
        doc["libs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["path"] == exe.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{exe} not in {doc}"))
    };
    let bundle = json(&["libs", path(&cap), "--format", "json"]);
    let live = json(&["libs", "--pid", &f.pid(), "--format", "json"]);
    assert_eq!(own(&bundle), own(&live));
    assert_eq!(bundle["processes"], 1);
}

#[test]
fn pmap_from_a_capture_equals_pmap_of_the_live_process() {
    let _s = serial();
    let f = Frozen::new();
    let pid = f.pid();
    let cap = f.capture("cap.tar");
    let from = format!("{}:{pid}", path(&cap));
    // No Pss in these formats: byte for byte, header included.
    for opt in [&["-x"][..], &[], &["-d"], &["-x", "-q"], &["-p"]] {
        let live = ok(&[&["pmap"][..], opt, &[pid.as_str()]].concat());
        let bundle = ok(&[&["pmap"][..], opt, &["--from", from.as_str()]].concat());
        assert_eq!(
            String::from_utf8_lossy(&bundle),
            String::from_utf8_lossy(&live),
            "pmap {opt:?}"
        );
        // A single-process bundle needs no PID.
        let single = ok(&[&["pmap"][..], opt, &["--from", path(&cap)]].concat());
        assert_eq!(single, bundle, "pmap {opt:?} --from BUNDLE");
    }
    assert!(String::from_utf8_lossy(&ok(&["pmap", &pid])).starts_with(&format!("{pid}:   ")));
    agree("pmap -X --from BUNDLE vs pmap -X", || {
        let cap = f.capture("x.tar");
        let bundle = ok(&["pmap", "-X", "--from", path(&cap)]);
        let live = ok(&["pmap", "-X", &pid]);
        same_text(&bundle, &live)
    });
    let out = run(&["pmap", "-x", "--from", &format!("{}:1", path(&cap))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds no process 1"),
        "{out:?}"
    );
}

#[test]
fn smemcap_tarball_works_for_top_libs_and_pmap() {
    let _s = serial();
    let f = Frozen::new();
    let pid = f.pid();
    agree("top SMEMCAP vs top --pid --smaps", || {
        let cap = f.smemcap();
        // smemcap holds full smaps only: summed per region, as `--smaps`.
        let bundle = json(&["top", path(&cap), "--format", "json"]);
        let live = json(&["top", "--pid", &pid, "--smaps", "--format", "json"]);
        same_row(&bundle, &live)?;
        if only_row(&bundle)?["source"] != "smaps" || bundle["smaps_rollup"] != false {
            return Err(format!("not read from smaps: {bundle}"));
        }
        if bundle["mem_total_kb"].as_u64().unwrap_or(0) == 0 {
            return Err("no MemTotal from the bundle's meminfo".into());
        }
        let users = json(&["top", path(&cap), "--by", "user", "--format", "json"]);
        let live_users = json(&[
            "top", "--pid", &pid, "--smaps", "--by", "user", "--format", "json",
        ]);
        (users["groups"] == live_users["groups"])
            .then_some(())
            .ok_or_else(|| format!("{} vs {}", users["groups"], live_users["groups"]))
    });
    let cap = f.smemcap();
    let exe = path(&f.exe);
    let libs = String::from_utf8(ok(&["libs", path(&cap), "--format", "csv"])).expect("UTF-8");
    assert!(libs.contains(exe), "{exe} not in:\n{libs}");
    // No status in smemcap: the header's PID is the bundle's, the command
    // line its cmdline; the same as live pmap for a process (not a thread).
    for opt in ["-x", "-d"] {
        let live = ok(&["pmap", opt, &pid]);
        let bundle = ok(&["pmap", opt, "--from", path(&cap)]);
        assert_eq!(
            String::from_utf8_lossy(&bundle),
            String::from_utf8_lossy(&live),
            "pmap {opt}"
        );
    }
}
