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
//! The known limits (the cgroup's memory limit, `RLIMIT_AS`,
//! `MemAvailable`, `vm.max_map_count`) are read with every sample, and the
//! sample carries its cost: wall time and the watcher's CPU time (user +
//! system of the whole watcher process, `CLOCK_PROCESS_CPUTIME_ID`, since
//! the source layer reads smaps on helper threads).
//!
//! This module holds no state beyond what the policy needs (the Rss of the
//! last full sample and a counter); folding samples over time is the
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

use crate::model::{Sample, SampleLimits, Snapshot};
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
}

impl Default for Policy {
    /// 1 MiB of movement, or every 12th sample (one a minute at 5 s).
    fn default() -> Self {
        Policy {
            threshold: 1 << 20,
            every: 12,
            always_full: false,
        }
    }
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
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes one sample. Fails with [`SourceError::NoProcess`] once the
    /// process has exited.
    pub fn sample(&mut self) -> Result<Sample, SourceError> {
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
        let rollup = match read("smaps_rollup")? {
            Some(text) if !text.is_empty() => {
                let origin = format!("{}/smaps_rollup", self.dir.display());
                Snapshot::from_text(&origin, &text, self.opts.mode)?.rollup
            }
            _ => None,
        };
        if self.comm.is_none() {
            self.comm = read("comm")?.map(|b| super::lossy_line(&b));
        }
        let cgroup = read("cgroup")?;
        let limits_text = read("limits")?;
        let rss = rollup.as_ref().map(|r| r.kb(Field::Rss) * 1024);
        let full = self.policy.always_full
            || rss.is_none()
            || self.last_full_rss.is_none()
            || (self.policy.every > 0 && self.since_full + 1 >= self.policy.every)
            || match (rss, self.last_full_rss) {
                (Some(a), Some(b)) => a.abs_diff(b) > self.policy.threshold,
                _ => true,
            };
        let mut sample = if full {
            let opts = Options {
                smaps: true,
                rollup: false,
                threads: false,
                ..self.opts.clone()
            };
            let snap = load_dir(&self.dir, Some(self.pid), true, &opts)?;
            self.since_full = 0;
            self.last_full_rss = rss;
            let s = Sample::from_snapshot(&snap, time_ms, true);
            if self.last_full_rss.is_none() {
                self.last_full_rss = s.totals.rss;
            }
            s
        } else {
            self.since_full += 1;
            let snap = Snapshot {
                rollup,
                ..Snapshot::default()
            };
            Sample::from_snapshot(&snap, time_ms, false)
        };
        sample.pid = Some(self.pid);
        sample.comm = sample.comm.or_else(|| self.comm.clone());
        sample.start_time = start_time;
        sample.limits = read_limits(
            &self.opts.proc_root,
            &self.opts.sys_root,
            cgroup.as_deref(),
            limits_text.as_deref(),
            &mut bytes_read,
        );
        sample.cost.bytes_read = bytes_read;
        sample.cost.cpu_us = cpu_now().saturating_sub(cpu);
        sample.cost.wall_us = wall.elapsed().as_micros() as u64;
        Ok(sample)
    }
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
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // Field 3 (state) is the first word after the name; 22 is 19 later.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
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
