//! The one collector: a [`Sample`] of a live process, taken as cheaply as
//! the question allows.
//!
//! Every live consumer (`watch`, the exporter, the terminal UI) makes its
//! samples here, so they agree on what a sample holds and what it costs.
//! Each call to [`Collector::sample`] reads `smaps_rollup` (one block of
//! text, whatever the number of regions) and the process's `stat`; it reads
//! the full `smaps` (categories, objects and regions) only when the policy
//! asks for it:
//!
//! * the first sample, and when the process has no `smaps_rollup`;
//! * when the rollup's Rss moved by more than [`Policy::threshold`] bytes
//!   since the last full sample;
//! * every [`Policy::every`] samples;
//! * every sample with [`Policy::always_full`].
//!
//! A full reading reads what the report reads (the threads' stack pointers
//! among it), so a full sample's categories are the report's, figure for
//! figure.
//!
//! The known limits (the cgroup's memory limit, `RLIMIT_AS`,
//! `MemAvailable`, `vm.max_map_count`) are read with every sample, and the
//! sample carries its cost: wall time and the watcher's CPU time (user +
//! system of the whole watcher process, `CLOCK_PROCESS_CPUTIME_ID`, since
//! the source layer reads smaps on helper threads).
//!
//! A consumer that needs more than the sample (the terminal UI shows every
//! region; the exporter runs `check` on the snapshot) calls
//! [`Collector::read`] instead, which also hands out the [`Snapshot`] the
//! sample was made from and, for a full reading, its classification and
//! report, so nothing is read or classified twice. A consumer with its own
//! schedule (the exporter decides over a whole fleet which process gets a
//! full reading) asks for a [`Want::Rollup`] or [`Want::Full`] reading; the
//! others leave the choice to the [`Policy`].
//!
//! This module holds no state beyond what the policy needs (the Rss of the
//! last full sample and a counter) and what never changes for a process
//! (its name and command line); folding samples over time is the
//! consumer's business.
//!
//! ```no_run
//! use maplens_core::source::collect::{Collector, Policy};
//! let mut c = Collector::new(std::process::id(), Default::default(), Policy::default());
//! let s = c.sample().unwrap();
//! assert!(s.full); // the first sample is always full
//! let s = c.sample().unwrap();
//! println!("{} bytes resident, {} µs of CPU", s.totals.weight(), s.cost.cpu_us);
//! ```

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::analysis::{Classified, Report, classify, report};
use crate::model::{Limit, ProcessInfo, Sample, SampleLimits, Snapshot};
use crate::parse::Field;
use crate::source::{Options, SourceError, load_dir, read_opt};

/// When a sample reads the full smaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Read smaps when the rollup's Rss moved by more than this many bytes
    /// since the last full sample.
    pub threshold: u64,
    /// Read smaps at least every this many samples (0: only on movement).
    pub every: u32,
    /// Read smaps for every sample.
    pub always_full: bool,
    /// Read the limits the process could hit ([`SampleLimits`]: its
    /// cgroup's, `RLIMIT_AS`, `MemAvailable`, `vm.max_map_count`) with each
    /// sample. A consumer reading many processes that has no use for them
    /// turns this off and saves four to six small reads per process.
    pub limits: bool,
}

/// What one reading reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// `smaps_rollup` or the full `smaps`, as the [`Policy`] says.
    Policy,
    /// `smaps_rollup` only (full `smaps` when the kernel has no rollup).
    Rollup,
    /// The full `smaps`.
    Full,
}

/// One reading of a process: the [`Sample`] and what it was made from.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The sample (totals; for a full reading also categories, objects and
    /// regions), with its cost.
    pub sample: Sample,
    /// What was read. A full reading: every region with its smaps fields,
    /// the rollup, the process's files and its threads' names and stack
    /// pointers (always: they tell a thread stack from a mapping laid out
    /// like one, so the classification is the report's), the system facts, ELF headers where the
    /// build reads them. A rollup reading: the rollup and the process's
    /// name, command line, `status` and `limits`, no regions.
    pub snapshot: Snapshot,
    /// The classification of a full reading's regions (`None` for a rollup
    /// reading): the one the sample's categories were made from.
    pub classified: Option<Classified>,
    /// The report of a full reading (`None` for a rollup reading).
    pub report: Option<Report>,
}

impl Default for Policy {
    /// 1 MiB of movement, or every 12th sample (one a minute at 5 s).
    fn default() -> Self {
        Policy {
            threshold: 1 << 20,
            every: 12,
            always_full: false,
            limits: true,
        }
    }
}

/// One sample of each collector, taken on up to `readers` threads side by
/// side (0: one per CPU, at most [`crate::system::MAX_READERS`]); the
/// results in the collectors' order. What `watch --all` takes each tick:
/// the processes are independent, and each sample's time is most of it
/// in the kernel.
///
/// ```
/// use maplens_core::source::{Options, collect::{Collector, Policy, sample_all}};
/// let me = std::process::id();
/// let mut a = Collector::new(me, Options::default(), Policy::default());
/// let mut b = Collector::new(me, Options::default(), Policy::default());
/// let got = sample_all(&mut [&mut a, &mut b], 2);
/// assert_eq!(got.len(), 2);
/// assert!(got.iter().all(|s| s.as_ref().is_ok_and(|s| s.pid == Some(me))));
/// ```
pub fn sample_all(
    collectors: &mut [&mut Collector],
    readers: usize,
) -> Vec<Result<Sample, SourceError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let max = crate::system::MAX_READERS;
    let threads = if readers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(max))
    } else {
        readers.min(max)
    }
    .min(collectors.len());
    if threads <= 1 {
        return collectors.iter_mut().map(|c| c.sample()).collect();
    }
    type Slot<'a> = Mutex<(&'a mut Collector, Option<Result<Sample, SourceError>>)>;
    let slots: Vec<Slot<'_>> = collectors
        .iter_mut()
        .map(|c| Mutex::new((&mut **c, None)))
        .collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(k) else { break };
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            let sample = slot.0.sample();
            slot.1 = Some(sample);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            // No thread to be had: this one does the work alone.
            let _ = std::thread::Builder::new()
                .name("maplens-sample".into())
                .spawn_scoped(s, work);
        }
        work();
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .1
                .expect("every collector is sampled")
        })
        .collect()
}

/// Takes samples of one live process.
#[derive(Debug)]
pub struct Collector {
    pid: u32,
    dir: PathBuf,
    opts: Options,
    policy: Policy,
    /// Rss of the last full sample.
    last_full_rss: Option<u64>,
    /// Samples since the last full one.
    since_full: u32,
    comm: Option<String>,
    cmdline: Option<Vec<String>>,
}

impl Collector {
    /// A collector of process `pid`, read under `opts.proc_root` (and
    /// `opts.sys_root` for the cgroup). Reads nothing yet.
    pub fn new(pid: u32, opts: Options, policy: Policy) -> Collector {
        Collector {
            pid,
            dir: opts.proc_root.join(pid.to_string()),
            opts,
            policy,
            last_full_rss: None,
            since_full: 0,
            comm: None,
            cmdline: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes one sample, reading the full smaps when the [`Policy`] says.
    /// Fails with [`SourceError::NoProcess`] once the process has exited.
    pub fn sample(&mut self) -> Result<Sample, SourceError> {
        self.read(Want::Policy).map(|r| r.sample)
    }

    /// Takes one reading: the sample and the snapshot (and, when full, the
    /// classification and report) it was made from. `want` overrides the
    /// policy's choice of depth; a full reading counts as the policy's
    /// full sample either way. Fails with [`SourceError::NoProcess`] once
    /// the process has exited.
    pub fn read(&mut self, want: Want) -> Result<Reading, SourceError> {
        let wall = Instant::now();
        let cpu = cpu_now();
        let time_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut bytes_read = 0u64;
        let mut read = |name: &str| -> Result<Option<Vec<u8>>, SourceError> {
            let r = read_opt(&self.dir, name, true)?;
            bytes_read += r.as_ref().map_or(0, |b| b.len() as u64);
            Ok(r)
        };
        let stat = read("stat")?.ok_or_else(|| SourceError::NoProcess {
            path: self.dir.clone(),
            exited: false,
        })?;
        let start_time = stat_start_time(&stat);
        // A kernel thread or a zombie has no address space: its smaps_rollup
        // is empty or fails with ESRCH, and a full read would find nothing.
        let no_memory = stat_says_no_memory(&stat);
        let rollup_text = match read("smaps_rollup") {
            Err(SourceError::NoProcess { .. }) if no_memory => None,
            r => r?,
        };
        let rollup = match rollup_text {
            Some(text) if !text.is_empty() => {
                let origin = format!("{}/smaps_rollup", self.dir.display());
                Snapshot::from_text(&origin, &text, self.opts.mode)?.rollup
            }
            _ => None,
        };
        let rss = rollup.as_ref().map(|r| r.kb(Field::Rss) * 1024);
        let full = !no_memory
            && match want {
                Want::Full => true,
                Want::Rollup => rss.is_none(),
                Want::Policy => {
                    self.policy.always_full
                        || rss.is_none()
                        || self.last_full_rss.is_none()
                        || (self.policy.every > 0 && self.since_full + 1 >= self.policy.every)
                        || match (rss, self.last_full_rss) {
                            (Some(a), Some(b)) => a.abs_diff(b) > self.policy.threshold,
                            _ => true,
                        }
                }
            };
        let (mut sample, snapshot, classified, rep) = if full {
            // The threads' stack pointers tell a thread stack from a
            // mapping laid out like one: without them the classification
            // would not be the report's.
            let opts = Options {
                smaps: true,
                rollup: false,
                threads: true,
                ..self.opts.clone()
            };
            let mut snap = load_dir(&self.dir, Some(self.pid), true, &opts)?;
            // The rollup read above is the one this reading stands on.
            snap.rollup = snap.rollup.take().or(rollup);
            self.since_full = 0;
            self.last_full_rss = rss;
            self.comm = self.comm.take().or_else(|| snap.process.comm.clone());
            self.cmdline
                .get_or_insert_with(|| snap.process.cmdline.clone());
            let (s, cl, rep) = if snap.regions.is_empty() {
                (Sample::from_snapshot(&snap, time_ms, false), None, None)
            } else {
                let cl = classify(&snap);
                let rep = report(&snap, &cl);
                (
                    Sample::from_report(&snap, &cl, &rep, time_ms),
                    Some(cl),
                    Some(rep),
                )
            };
            if self.last_full_rss.is_none() {
                self.last_full_rss = s.totals.rss;
            }
            (s, snap, cl, rep)
        } else {
            self.since_full += 1;
            if self.comm.is_none() {
                self.comm = read("comm")?.map(|b| super::lossy_line(&b));
            }
            if self.cmdline.is_none() {
                self.cmdline = Some(
                    read("cmdline")?
                        .map(|b| cmdline_words(&b))
                        .unwrap_or_default(),
                );
            }
            let status = read("status")?
                .map(|b| ProcessInfo::parse_status(&b))
                .unwrap_or_default();
            let snap = Snapshot {
                rollup,
                process: ProcessInfo {
                    pid: Some(self.pid),
                    comm: self.comm.clone(),
                    cmdline: self.cmdline.clone().unwrap_or_default(),
                    status,
                    ..ProcessInfo::default()
                },
                ..Snapshot::default()
            };
            (
                Sample::from_snapshot(&snap, time_ms, false),
                snap,
                None,
                None,
            )
        };
        let mut snapshot = snapshot;
        sample.pid = Some(self.pid);
        sample.comm = sample.comm.or_else(|| self.comm.clone());
        sample.start_time = start_time;
        if self.policy.limits {
            let cgroup = read("cgroup")?;
            let limits_text = read("limits")?;
            if snapshot.process.limits.is_empty()
                && let Some(l) = &limits_text
            {
                snapshot.process.limits = Limit::parse(l);
            }
            sample.limits = read_limits(
                &self.opts.proc_root,
                &self.opts.sys_root,
                cgroup.as_deref(),
                limits_text.as_deref(),
                &mut bytes_read,
            );
        }
        sample.cost.bytes_read = bytes_read;
        sample.cost.cpu_us = cpu_now().saturating_sub(cpu);
        sample.cost.wall_us = wall.elapsed().as_micros() as u64;
        Ok(Reading {
            sample,
            snapshot,
            classified,
            report: rep,
        })
    }
}

/// The words of a `/proc/PID/cmdline` (NUL-separated), lossy UTF-8.
fn cmdline_words(b: &[u8]) -> Vec<String> {
    b.split(|&c| c == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Whether a `stat` line's state is zombie or dead, or the process is a
/// kernel thread (flag `PF_KTHREAD`, 0x00200000, field 9): either way it
/// has no address space to read.
pub(crate) fn stat_says_no_memory(stat: &[u8]) -> bool {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    let rest = String::from_utf8_lossy(&stat[close + 1..]);
    let mut w = rest.split_ascii_whitespace();
    let state = w.next().unwrap_or("");
    let flags: u64 = w.nth(5).and_then(|f| f.parse().ok()).unwrap_or(0);
    matches!(state, "Z" | "X" | "x") || flags & 0x0020_0000 != 0
}

/// CPU time (user + system) of this whole process, in microseconds.
fn cpu_now() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// The start time (clock ticks after boot, field 22) of a `/proc/PID/stat`
/// line. The name (field 2) may hold spaces and parentheses, so fields are
/// counted after the last `)`.
///
/// ```
/// use maplens_core::source::collect::stat_start_time;
/// let stat = b"42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
/// assert_eq!(stat_start_time(stat), Some(98765));
/// assert_eq!(stat_start_time(b"garbage"), None);
/// ```
pub fn stat_start_time(stat: &[u8]) -> Option<u64> {
    stat_number(stat, 22)
}

/// Field `n` (1-based, as proc(5) numbers them; 3 or later) of a
/// `/proc/PID/stat` line, as a number. Fields are counted after the last
/// `)`, since the name (field 2) may hold spaces and parentheses.
pub(crate) fn stat_number(stat: &[u8], n: usize) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // Field 3 (state) is the first word after the name.
    rest.split_ascii_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// Where a process's memory cgroup keeps its limit and usage, from
/// `/proc/PID/cgroup`: `(directory, v2)`, the v2 unified hierarchy
/// (`0::/path`) first, else the v1 `memory` controller.
///
/// ```
/// use std::path::Path;
/// use maplens_core::source::collect::memory_cgroup;
/// let sys = Path::new("/no/such/sys");
/// let v2 = memory_cgroup(b"0::/user.slice/app.scope\n", sys);
/// assert_eq!(v2, Some((sys.join("fs/cgroup/user.slice/app.scope"), true)));
/// let v1 = memory_cgroup(b"4:memory:/job\n0::/\n", sys);
/// assert_eq!(v1, Some((sys.join("fs/cgroup/memory/job"), false)));
/// ```
pub fn memory_cgroup(text: &[u8], sys_root: &Path) -> Option<(PathBuf, bool)> {
    let text = String::from_utf8_lossy(text);
    let mut v2 = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        let rel = path.trim_start_matches('/');
        if ctl.split(',').any(|c| c == "memory") {
            return Some((sys_root.join("fs/cgroup/memory").join(rel), false));
        }
        if ctl.is_empty() {
            v2 = Some(rel.to_owned());
        }
    }
    let rel = v2?;
    // A hybrid system mounts the unified hierarchy at cgroup/unified.
    let unified = sys_root.join("fs/cgroup/unified");
    let base = if unified.is_dir() {
        unified
    } else {
        sys_root.join("fs/cgroup")
    };
    Some((base.join(rel), true))
}

/// A cgroup limit file's value: `max` (v2) or a figure of 2^62 and more
/// (v1's "unlimited", a page-rounded `i64::MAX`) is no limit.
fn cgroup_figure(text: &[u8]) -> Option<u64> {
    let v: u64 = std::str::from_utf8(text).ok()?.trim().parse().ok()?;
    (v < 1 << 62).then_some(v)
}

/// The limits a process could hit. The cgroup limit is the tightest one on
/// the path from the process's cgroup to the root, with the usage of the
/// cgroup that sets it.
fn read_limits(
    proc_root: &Path,
    sys_root: &Path,
    cgroup: Option<&[u8]>,
    limits: Option<&[u8]>,
    bytes_read: &mut u64,
) -> SampleLimits {
    let mut read = |p: &Path| {
        let b = std::fs::read(p).ok();
        *bytes_read += b.as_ref().map_or(0, |b| b.len() as u64);
        b
    };
    let mut out = SampleLimits::default();
    if let Some((dir, v2)) = cgroup.and_then(|c| memory_cgroup(c, sys_root)) {
        let (max, cur) = if v2 {
            ("memory.max", "memory.current")
        } else {
            ("memory.limit_in_bytes", "memory.usage_in_bytes")
        };
        let top = sys_root.join("fs/cgroup");
        let mut d = dir.as_path();
        while d.starts_with(&top) {
            if let Some(m) = read(&d.join(max)).and_then(|t| cgroup_figure(&t))
                && out.cgroup_max.is_none_or(|o| m < o)
            {
                out.cgroup_max = Some(m);
                out.cgroup_current = read(&d.join(cur)).and_then(|t| cgroup_figure(&t));
            }
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
    }
    if let Some(l) = limits {
        out.rlimit_as = crate::model::Limit::parse(l)
            .into_iter()
            .find(|l| l.name == "Max address space")
            .and_then(|l| l.soft);
    }
    if let Some(m) = read(&proc_root.join("meminfo")) {
        out.mem_available = crate::parse::meminfo_lines(&m)
            .filter_map(Result::ok)
            .find(|l| l.key == b"MemAvailable")
            .map(|l| l.value.as_printed() * 1024);
    }
    out.max_map_count = read(&proc_root.join("sys/vm/max_map_count"))
        .and_then(|t| std::str::from_utf8(&t).ok()?.trim().parse().ok());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_reads_smaps_on_movement_and_every_n() {
        let me = std::process::id();
        let mut c = Collector::new(
            me,
            Options::default(),
            Policy {
                threshold: u64::MAX,
                every: 3,
                always_full: false,
                limits: true,
            },
        );
        let kinds: Vec<bool> = (0..6).map(|_| c.sample().unwrap().full).collect();
        assert_eq!(kinds, [true, false, false, true, false, false]);
        let s = c.sample().unwrap();
        assert_eq!(s.pid, Some(me));
        assert!(s.start_time.is_some());
        assert!(s.totals.rss.unwrap() > 0);
        assert!(s.limits.mem_available.unwrap() > 0);
        assert!(s.cost.bytes_read > 0);
    }

    #[test]
    fn always_full() {
        let mut c = Collector::new(
            std::process::id(),
            Options::default(),
            Policy {
                always_full: true,
                ..Policy::default()
            },
        );
        for _ in 0..3 {
            let s = c.sample().unwrap();
            assert!(s.full && !s.regions.is_empty() && !s.categories.is_empty());
        }
    }

    #[test]
    fn a_reading_holds_what_the_sample_was_made_from() {
        let me = std::process::id();
        let steady = Policy {
            threshold: u64::MAX,
            every: 0,
            ..Policy::default()
        };
        let mut c = Collector::new(me, Options::default(), steady);
        let r = c.read(Want::Rollup).unwrap();
        assert!(!r.sample.full && r.classified.is_none() && r.report.is_none());
        assert!(r.snapshot.regions.is_empty());
        assert!(r.snapshot.rollup.is_some());
        assert_eq!(r.snapshot.process.pid, Some(me));
        assert!(r.snapshot.process.status("VmRSS").is_some());
        assert!(!r.snapshot.process.cmdline.is_empty());
        let r = c.read(Want::Full).unwrap();
        assert!(r.sample.full);
        let (cl, rep) = (r.classified.as_ref().unwrap(), r.report.as_ref().unwrap());
        assert_eq!(cl.classes.len(), r.snapshot.regions.len());
        // The sample is the one a fresh classification of the snapshot gives.
        let again = Sample::from_snapshot(&r.snapshot, r.sample.time_ms, true);
        assert_eq!(r.sample.categories, again.categories);
        assert_eq!(r.sample.regions, again.regions);
        assert_eq!(
            Sample::from_report(&r.snapshot, cl, rep, 0).objects,
            r.sample.objects
        );
        // The rollup read beside the regions stays with the snapshot.
        assert!(r.snapshot.rollup.is_some());
        assert!(!r.snapshot.process.limits.is_empty());
        // The policy's own choice: a full reading just happened, so the
        // next is a rollup one.
        assert!(!c.read(Want::Policy).unwrap().sample.full);
    }

    #[test]
    fn a_kernel_thread_reads_no_smaps() {
        // kthreadd is pid 2 where the proc root shows the whole system.
        let stat = std::fs::read("/proc/2/stat").unwrap_or_default();
        if !stat_says_no_memory(&stat) {
            return;
        }
        let mut c = Collector::new(2, Options::default(), Policy::default());
        for want in [Want::Rollup, Want::Policy, Want::Full] {
            let r = c.read(want).unwrap();
            assert!(r.snapshot.rollup.is_none() && r.snapshot.regions.is_empty());
            assert!(!r.sample.full);
        }
    }

    #[test]
    fn stat_states() {
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2";
        assert!(stat_says_no_memory(kthread));
        assert!(stat_says_no_memory(b"9 (a b) Z 1 9 9 0 -1 4194316 0 0"));
        assert!(!stat_says_no_memory(b"9 (a) b) S 1 9 9 0 -1 4194560 0 0"));
        assert!(!stat_says_no_memory(b"no parenthesis"));
    }

    #[test]
    fn gone_process() {
        let mut c = Collector::new(u32::MAX >> 1, Options::default(), Policy::default());
        assert!(matches!(c.sample(), Err(SourceError::NoProcess { .. })));
    }

    #[test]
    fn cgroup_figures() {
        assert_eq!(cgroup_figure(b"max\n"), None);
        assert_eq!(cgroup_figure(b"9223372036854771712\n"), None);
        assert_eq!(cgroup_figure(b"1073741824\n"), Some(1 << 30));
    }
}
