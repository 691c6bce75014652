//! 500 short-lived processes while maplens reads every process: `top` (its
//! rollup, `--smaps`, `--categories`, `--by shm`, `--by object` paths),
//! `watch --all` and a running `serve` (collecting every 0.1 s) meet
//! processes that exit between being listed and being read (about 25 are
//! alive at any time, each for 10 to 290 ms). No command
//! hangs (each finishes within a generous bound), none fails, `serve`
//! keeps no descriptor and no group of the dead, and its RSS stays within
//! a bound; nor does a running `watch --all` pile up descriptors.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::serve::{Serve, fds, get, lock, status_kb, value};

/// Children in all, in waves of `WAVE` (`MAPLENS_FAULT_RUNS` of them when
/// set: `bench/faults.sh` makes 1,000).
fn children() -> usize {
    std::env::var("MAPLENS_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}
const WAVE: usize = 5;
/// A command that takes longer than this is taken for a deadlock (each
/// takes well under a second here when the machine is not loaded).
const HANG: Duration = Duration::from_secs(60);
/// How far `serve`'s RSS may grow over the churn (kB): its state is per
/// group, and per live process; 500 dead processes must leave nothing.
const RSS_GROWTH_KB: u64 = 16 * 1024;

/// Runs maplens with `args`, calls `during` with its PID, and returns its
/// output; Err if it fails or takes longer than `HANG`.
fn bounded(args: &[&str], during: impl FnOnce(u32)) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| e.to_string())?;
    let until = Instant::now() + HANG;
    during(child.id());
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{args:?} did not finish within {HANG:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read(p).unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "{args:?}: {status}: {}",
            String::from_utf8_lossy(&read(&err))
        ));
    }
    Ok(read(&out))
}

#[test]
fn five_hundred_short_lived_processes_hang_nothing_and_leak_nothing() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    // The children are `sleep` under a name of their own: other tests leave
    // `sleep`s of theirs running (tui.rs's panes, faults.rs), which would
    // count in this test's group.
    let sleeper = dir.path().join("churnkid");
    let real_sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sleep");
    std::os::unix::fs::symlink(real_sleep, &sleeper).expect("symlink sleep");
    let serve = Serve::start(
        "unmatched = \"other\"\n[[group]]\nname = \"churn\"\ncomm = [\"churnkid\"]\n\
         [collect]\ninterval_seconds = 0.1\nfull_interval_seconds = 0.1\n",
        dir.path(),
    );
    let first = serve.metrics_after(3);
    let collections = |t: &str| value(t, "maplens_collections_total").expect("collections");
    let pid = serve.child.id();
    let fds_before = *fds(pid, 5).iter().max().expect("samples");
    let rss_before = status_kb(pid, "VmRSS:");

    let churning = AtomicBool::new(true);
    let failures = Mutex::new(Vec::new());
    let fail = |e: String| failures.lock().expect("lock").push(e);
    let runs = AtomicU64::new(0);
    let seen_churn = AtomicU64::new(0);
    let watch_fds = Mutex::new(Vec::new());
    let began = Instant::now();
    std::thread::scope(|s| {
        // `top` in each of its ways of reading, over and over.
        s.spawn(|| {
            let ways: [&[&str]; 5] = [
                &[],
                &["--smaps"],
                &["--categories"],
                &["--by", "shm"],
                &["--by", "object"],
            ];
            for way in ways.iter().cycle() {
                if !churning.load(Ordering::Relaxed) {
                    break;
                }
                let mut args = vec!["top", "--format", "json", "--no-progress"];
                args.extend_from_slice(way);
                match bounded(&args, |_| {}) {
                    Ok(out) => {
                        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
                            fail(format!("{args:?}: not JSON: {e}"));
                        }
                        runs.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => fail(e),
                }
            }
        });
        // `watch --all`: every process readable at its start, most of which
        // exit under it.
        s.spawn(|| {
            while churning.load(Ordering::Relaxed) {
                // Its descriptors, early and late in its run: those of
                // the exited must not pile up. Each count leaves out the
                // files of live processes it may be reading at that moment,
                // one a reading thread (a machine busy with big address
                // spaces keeps it reading most of each interval); the
                // fewest of eight counts is taken, and no descriptor may
                // name a process that is gone.
                let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
                let count = |pid: u32| {
                    (0..8)
                        .filter_map(|_| {
                            std::thread::sleep(Duration::from_millis(25));
                            let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
                            let (mut kept, mut of_dead, mut of_live) = (0usize, 0usize, 0usize);
                            for e in dir.flatten() {
                                let target = std::fs::read_link(e.path()).unwrap_or_default();
                                let of = target
                                    .strip_prefix("/proc")
                                    .ok()
                                    .and_then(|t| t.iter().next())
                                    .and_then(|p| p.to_str()?.parse::<u32>().ok());
                                match of {
                                    Some(p) if !Path::new(&format!("/proc/{p}")).exists() => {
                                        of_dead += 1;
                                        kept += 1;
                                    }
                                    Some(_) => of_live += 1,
                                    None => kept += 1,
                                }
                            }
                            Some((kept + of_live.saturating_sub(readers), of_dead))
                        })
                        .min()
                };
                let mut counted = (None, None);
                let watch = [
                    "watch",
                    "--all",
                    "--interval",
                    "100ms",
                    "--duration",
                    "2s",
                    "--json",
                ];
                let run = bounded(&watch, |pid| {
                    std::thread::sleep(Duration::from_millis(300));
                    counted.0 = count(pid);
                    std::thread::sleep(Duration::from_millis(1000));
                    counted.1 = count(pid);
                });
                if let (Some((early, _)), Some((late, of_dead))) = counted {
                    if late > early || of_dead > 0 {
                        fail(format!(
                            "watch --all: {early} descriptors, then {late} ({of_dead} of exited \
                             processes)"
                        ));
                    }
                    watch_fds.lock().expect("lock").push((early, late));
                }
                match run {
                    Ok(out) => {
                        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                            if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
                                fail(format!("watch --all: a line is not JSON: {e}"));
                                break;
                            }
                        }
                        runs.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => fail(e),
                }
            }
        });
        // Scrapes of the running exporter.
        s.spawn(|| {
            while churning.load(Ordering::Relaxed) {
                let (status, _, body) = get(serve.addr, "/metrics", "text/plain");
                if status != 200 {
                    fail(format!("scrape: {status}"));
                }
                let text = String::from_utf8_lossy(&body);
                if value(&text, r#"maplens_group_processes{group="churn"}"#)
                    .is_some_and(|n| n > 0.0)
                {
                    seen_churn.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        // The churn: a wave of `WAVE` children every 40 ms, each living
        // 10 to 290 ms, reaped as they end (about 25 alive at once).
        // Two of the group live through the whole churn, so that a scrape
        // can always find it: on a loaded machine (CI once: 50 collections
        // in 29 s) a collection can take longer than the short-lived
        // children live, and find none of them still there to read.
        let mut steady: Vec<_> = (0..2)
            .map(|_| {
                Command::new(&sleeper)
                    .arg("3600")
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("spawn sleep")
            })
            .collect();
        let mut alive = Vec::new();
        for wave in 0..children() / WAVE {
            for i in 0..WAVE {
                let child = Command::new(&sleeper)
                    .arg(format!("0.{:02}", 1 + (wave * 7 + i * 13) % 29))
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("spawn sleep");
                alive.push(child);
            }
            std::thread::sleep(Duration::from_millis(40));
            alive.retain_mut(|c| c.try_wait().expect("try_wait").is_none());
        }
        for mut c in alive {
            c.wait().expect("wait sleep");
        }
        // Scraped at least once while the two were there, unless serve
        // never exports the group (asserted below).
        let until = Instant::now() + HANG;
        while seen_churn.load(Ordering::Relaxed) == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
        for c in &mut steady {
            let _ = c.kill();
            c.wait().expect("wait sleep");
        }
        churning.store(false, Ordering::Relaxed);
    });
    let churn_took = began.elapsed();
    let failures = failures.into_inner().expect("lock");
    assert!(failures.is_empty(), "{failures:?}");

    // A few collections after the churn: no group of the dead, no
    // descriptor of theirs.
    let (_, _, body) = get(serve.addr, "/metrics", "text/plain");
    let now = collections(&String::from_utf8_lossy(&body));
    let after = serve.metrics_after(now as u64 + 3);
    let fds_after = *fds(pid, 10).iter().min().expect("samples");
    let rss_after = status_kb(pid, "VmRSS:");
    eprintln!(
        "short-lived: {} children in {churn_took:?} while {} top/watch runs ended; \
         watch --all descriptors (early, late) {:?}; serve saw the churn group in {} scrapes, made {} collections; fds {fds_before} \
         before, {fds_after} after; RSS {rss_before} kB before, {rss_after} kB after \
         (VmHWM {} kB)",
        children(),
        runs.load(Ordering::Relaxed),
        watch_fds.lock().expect("lock"),
        seen_churn.load(Ordering::Relaxed),
        collections(&after) - collections(&first),
        status_kb(pid, "VmHWM:"),
    );
    assert!(
        runs.load(Ordering::Relaxed) >= 2,
        "no top or watch run ended"
    );
    assert!(
        seen_churn.load(Ordering::Relaxed) > 0,
        "serve never exported the group of the children: the test saw nothing"
    );
    assert!(
        fds_after <= fds_before,
        "serve's descriptors went from {fds_before} to {fds_after}"
    );
    assert_eq!(
        value(&after, r#"maplens_group_processes{group="churn"}"#).unwrap_or(0.0),
        0.0,
        "a group of dead processes is still exported"
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_KB,
        "serve's RSS grew from {rss_before} kB to {rss_after} kB"
    );
    assert!(serve.stop().success());
}
