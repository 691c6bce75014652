//! Collecting: every process read on a bounded pool of threads of its own,
//! within a time budget, summed into groups. The result of a collection is
//! a [`Collection`]; the server only ever serves the last complete one.
//!
//! Cost control, per process:
//! - `smaps_rollup` on every collection, except for processes whose RSS is
//!   above `rollup_max_rss_bytes`: those are read every
//!   `full_interval_seconds` and keep their figures in between;
//! - full `smaps` (categories, stacks, arenas, regions, findings) at most
//!   every `full_interval_seconds`, only for processes at most
//!   `full_max_rss_bytes` resident (or matching a rule with `full = true`)
//!   and never again for one found with more than `full_max_regions`;
//! - no new process is started after `budget_seconds`: the rest keep their
//!   previous figures, and the collection says how many it skipped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use maplens_core::analysis::{Shape, trend};
use maplens_core::system::{Reason, Users};

use crate::config::{Config, Subject, Unmatched};
use crate::read::{Depth, FullFigures, ProcSample, read_process};

/// Sums over the processes of one group, bytes unless named otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupFigures {
    /// Processes in the group.
    pub processes: u64,
    /// Threads of those processes.
    pub threads: u64,
    /// Proportional set size.
    pub pss: u64,
    /// Unique set size.
    pub uss: u64,
    /// Resident set size.
    pub rss: u64,
    /// Swapped out.
    pub swap: u64,
    /// Proportional share of swap.
    pub swap_pss: u64,
    /// Anonymous part of PSS.
    pub pss_anon: u64,
    /// Per category of the report: (size, RSS, PSS), over the processes
    /// read in full.
    pub categories: BTreeMap<String, (u64, u64, u64)>,
    /// Processes with full figures (categories and below).
    pub full_processes: u64,
    /// Thread stacks, reserved.
    pub stack_reserved: u64,
    /// Thread stacks, resident.
    pub stack_resident: u64,
    /// glibc malloc arenas.
    pub arenas: u64,
    /// Regions (mappings) of the processes read in full.
    pub regions: u64,
    /// Most regions of one process of the group.
    pub regions_max: u64,
    /// Findings: (rule id, severity id) → how many.
    pub findings: BTreeMap<(&'static str, &'static str), u64>,
    /// When the oldest totals of the group were read (ms since the epoch).
    pub oldest_totals_ms: u64,
    /// When the oldest full figures of the group were read.
    pub oldest_full_ms: Option<u64>,
    /// Theil–Sen slope of the group's anonymous PSS over the last hour of
    /// collections, bytes per second, and whether `trend` calls it steady
    /// growth.
    pub anon_growth: Option<(f64, bool)>,
}

/// One complete collection.
#[derive(Clone, Debug, Default)]
pub struct Collection {
    /// When it finished.
    pub finished: Option<Instant>,
    /// How long it took.
    pub duration: Duration,
    /// Collections so far (this one included).
    pub number: u64,
    /// Per group.
    pub groups: BTreeMap<String, GroupFigures>,
    /// Processes that could not be read, by reason id.
    pub unreadable: BTreeMap<&'static str, u64>,
    /// Processes not reached within the budget (previous figures kept).
    pub skipped: u64,
    /// Processes read in full this collection.
    pub full_reads: u64,
    /// Processes listed.
    pub processes: u64,
    /// `vm.max_map_count`.
    pub max_map_count: Option<u64>,
    /// The exporter's own RSS at the end of the collection, bytes.
    pub own_rss: u64,
}

/// What the collector remembers of a process between collections.
#[derive(Clone, Debug)]
struct Known {
    group: Option<String>,
    force_full: bool,
    last: ProcSample,
    read_at: Instant,
    full: Option<FullFigures>,
    full_time_ms: u64,
    full_at: Option<Instant>,
    too_big: bool,
}

/// The collector's state, kept between collections (owned by its thread).
pub struct Collector {
    proc_root: PathBuf,
    config: Config,
    known: HashMap<u32, Known>,
    history: HashMap<String, VecDeque<(f64, f64)>>,
    started: Instant,
    number: u64,
}

/// The last complete collection, shared with the server.
pub type Shared = Arc<RwLock<Arc<Collection>>>;

enum Job {
    Read(Depth),
    Keep,
}

impl Collector {
    /// A collector of the processes under `proc_root`.
    pub fn new(proc_root: &Path, config: Config) -> Collector {
        Collector {
            proc_root: proc_root.to_owned(),
            config,
            known: HashMap::new(),
            history: HashMap::new(),
            started: Instant::now(),
            number: 0,
        }
    }

    /// Runs one collection.
    pub fn collect(&mut self) -> Collection {
        let start = Instant::now();
        let cfg = self.config.collect.clone();
        let deadline = start + Duration::from_secs_f64(cfg.budget_seconds);
        let full_every = Duration::from_secs_f64(cfg.full_interval_seconds);
        let pids = list_pids(&self.proc_root);
        let users = Users::load(&self.proc_root);
        // What to do with each process, from what is known of it.
        let jobs: Vec<(u32, Job)> = pids
            .iter()
            .map(|&pid| {
                let Some(k) = self.known.get(&pid) else {
                    return (pid, Job::Read(Depth::Rollup));
                };
                let rss = k.last.sample.totals.rss.unwrap_or(0);
                let full_due = k.full_at.is_none_or(|t| t.elapsed() >= full_every);
                let may_full = !k.too_big && (k.force_full || rss <= cfg.full_max_rss_bytes);
                if full_due && may_full && k.group.is_some() {
                    return (pid, Job::Read(Depth::Full));
                }
                let big = cfg.rollup_max_rss_bytes > 0 && rss > cfg.rollup_max_rss_bytes;
                if big && k.read_at.elapsed() < full_every {
                    return (pid, Job::Keep);
                }
                (pid, Job::Read(Depth::Rollup))
            })
            .collect();
        let results: Mutex<Vec<(u32, Result<ProcSample, Reason>)>> = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        let proc_root = &self.proc_root;
        let this = &*self;
        std::thread::scope(|s| {
            for i in 0..cfg.threads.max(1) {
                let worker = || {
                    loop {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some((pid, job)) = jobs.get(n) else { break };
                        let Job::Read(depth) = job else { continue };
                        let mut r = read_guarded(proc_root, *pid, *depth);
                        // A new process: its group and size are known now.
                        if *depth == Depth::Rollup
                            && let Ok(ps) = &r
                            && !this.known.contains_key(pid)
                            && let (Some(_), force) = this.group_of(ps, &users)
                            && (force
                                || ps.sample.totals.rss.unwrap_or(0) <= cfg.full_max_rss_bytes)
                            && Instant::now() < deadline
                            && let Ok(full) = read_guarded(proc_root, *pid, Depth::Full)
                        {
                            r = Ok(full);
                        }
                        results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((*pid, r));
                    }
                };
                // No thread to be had: read on this one.
                if std::thread::Builder::new()
                    .name(format!("maplens-read-{i}"))
                    .spawn_scoped(s, worker)
                    .is_err()
                {
                    worker();
                }
            }
        });
        let reached = next.load(Ordering::Relaxed).min(jobs.len());
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut out = Collection {
            processes: pids.len() as u64,
            skipped: jobs[reached..]
                .iter()
                .filter(|(_, j)| matches!(j, Job::Read(_)))
                .count() as u64,
            ..Collection::default()
        };
        let mut seen: HashMap<u32, ()> = HashMap::with_capacity(pids.len());
        for &pid in &pids {
            seen.insert(pid, ());
        }
        for (pid, r) in results {
            match r {
                Ok(ps) => {
                    let (group, force_full) = self.group_of(&ps, &users);
                    let prev = self.known.remove(&pid);
                    let full = ps.full.clone();
                    let mut k = Known {
                        group,
                        force_full,
                        read_at: now,
                        full: None,
                        full_time_ms: 0,
                        full_at: None,
                        too_big: false,
                        last: ps,
                    };
                    if let Some(p) = prev
                        && p.last.sample.series_key() == k.last.sample.series_key()
                    {
                        k.full = p.full;
                        k.full_time_ms = p.full_time_ms;
                        k.full_at = p.full_at;
                        k.too_big = p.too_big;
                    }
                    if let Some(f) = full {
                        out.full_reads += 1;
                        k.too_big = f.regions > cfg.full_max_regions;
                        k.full_time_ms = k.last.sample.time_ms;
                        k.full_at = Some(now);
                        out.max_map_count = out.max_map_count.or(f.max_map_count);
                        k.full = Some(f);
                    }
                    self.known.insert(pid, k);
                }
                Err(reason) => {
                    self.known.remove(&pid);
                    if matches!(reason, Reason::KernelThread | Reason::Exited) {
                        continue;
                    }
                    *out.unreadable.entry(reason.id()).or_default() += 1;
                }
            }
        }
        self.known.retain(|pid, _| seen.contains_key(pid));
        for k in self.known.values() {
            let Some(g) = &k.group else { continue };
            add(out.groups.entry(g.clone()).or_default(), k);
        }
        if out.max_map_count.is_none() {
            out.max_map_count =
                std::fs::read_to_string(self.proc_root.join("sys/vm/max_map_count"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
        }
        let t = self.started.elapsed().as_secs_f64();
        self.track_growth(t, &mut out.groups);
        self.number += 1;
        out.number = self.number;
        out.own_rss = own_rss();
        out.duration = start.elapsed();
        out.finished = Some(Instant::now());
        out
    }

    /// The group of a process and whether its rule asks for full reads.
    fn group_of(&self, ps: &ProcSample, users: &Users) -> (Option<String>, bool) {
        let comm = ps.sample.comm.as_deref().unwrap_or("?");
        let user = ps.uid.map(|u| users.name(u)).unwrap_or_default();
        let s = Subject {
            comm,
            exe: ps.exe.as_deref(),
            cmdline: &ps.cmdline,
            user: &user,
            uid: ps.uid,
            cgroup: ps.cgroup.as_deref(),
        };
        if let Some(r) = self.config.groups.iter().find(|r| r.matches(&s)) {
            return (Some(r.label(&s)), r.full);
        }
        match self.config.unmatched {
            Unmatched::Comm => (Some(comm.to_owned()), false),
            Unmatched::Other => (Some("other".to_owned()), false),
            Unmatched::Drop => (None, false),
        }
    }

    /// Keeps an hour of each group's anonymous PSS (`t`: seconds since the
    /// collector started) and fits its trend.
    fn track_growth(&mut self, t: f64, groups: &mut BTreeMap<String, GroupFigures>) {
        self.history.retain(|g, _| groups.contains_key(g));
        for (name, g) in groups.iter_mut() {
            let h = self.history.entry(name.clone()).or_default();
            // A point every 30 s at most, an hour of them: the fit costs
            // (120 choose 2) slopes a group at most.
            if h.back().is_none_or(|&(t1, _)| t - t1 >= 30.0) {
                h.push_back((t, g.pss_anon as f64));
            }
            while h.front().is_some_and(|&(t0, _)| t - t0 > 3600.0) || h.len() > 120 {
                h.pop_front();
            }
            let pts: Vec<(f64, f64)> = h.iter().copied().collect();
            g.anon_growth = trend(&pts).map(|tr| (tr.slope, tr.shape == Shape::Growing));
        }
    }
}

fn add(g: &mut GroupFigures, k: &Known) {
    let t = &k.last.sample.totals;
    g.processes += 1;
    g.threads += k.last.threads;
    g.pss += t.pss.unwrap_or(0);
    g.uss += t.uss.unwrap_or(0);
    g.rss += t.rss.unwrap_or(0);
    g.swap += t.swap.unwrap_or(0);
    g.swap_pss += k.last.swap_pss.unwrap_or(0);
    g.pss_anon += k.last.pss_anon.unwrap_or(0);
    let ms = k.last.sample.time_ms;
    g.oldest_totals_ms = if g.processes == 1 {
        ms
    } else {
        g.oldest_totals_ms.min(ms)
    };
    if let Some(f) = &k.full {
        g.full_processes += 1;
        for (cat, size, rss, pss) in &f.categories {
            let e = g.categories.entry(cat.clone()).or_default();
            e.0 += size;
            e.1 += rss;
            e.2 += pss;
        }
        g.stack_reserved += f.stack_reserved;
        g.stack_resident += f.stack_resident;
        g.arenas += f.arenas;
        g.regions += f.regions;
        g.regions_max = g.regions_max.max(f.regions);
        for (id, sev) in &f.findings {
            *g.findings.entry((id, sev.id())).or_default() += 1;
        }
        g.oldest_full_ms = Some(
            g.oldest_full_ms
                .map_or(k.full_time_ms, |o| o.min(k.full_time_ms)),
        );
    }
}

/// [`read_process`], with a panic (a bug on some odd input) turned into
/// an unreadable process instead of the end of the collector.
fn read_guarded(proc_root: &Path, pid: u32, depth: Depth) -> Result<ProcSample, Reason> {
    std::panic::catch_unwind(|| read_process(proc_root, pid, depth))
        .unwrap_or_else(|_| Err(Reason::Other(format!("reading process {pid} panicked"))))
}

/// PIDs under the proc root, ascending.
fn list_pids(proc_root: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(proc_root)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// This process's resident set, bytes (`statm`).
fn own_rss() -> u64 {
    let page = rustix::param::page_size() as u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |p| p * page)
}

/// Runs collections every `interval` on a thread of its own until
/// `stop` is set, publishing each complete one into `shared`.
pub fn spawn(
    mut collector: Collector,
    shared: Shared,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let interval = Duration::from_secs_f64(collector.config.collect.interval_seconds);
    std::thread::Builder::new()
        .name("maplens-collect".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let begun = Instant::now();
                let c = Arc::new(collector.collect());
                *shared.write().unwrap_or_else(|e| e.into_inner()) = c;
                // Sleep in small steps so that shutdown is prompt.
                while begun.elapsed() < interval && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50).min(interval));
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_read_past_the_budget() {
        let mut cfg = Config::default();
        cfg.collect.budget_seconds = 1e-9;
        let mut c = Collector::new(Path::new("/proc"), cfg);
        let first = c.collect();
        assert!(first.processes > 0);
        // Every listed process was new and due, none was started in time.
        assert_eq!(first.skipped, first.processes);
        assert!(first.groups.is_empty());
        assert!(first.finished.is_some());
    }

    #[test]
    fn growth_is_the_trend_of_an_hour_of_collections() {
        let mut c = Collector::new(Path::new("/nonexistent"), Config::default());
        let mut last = BTreeMap::new();
        // Two hours at 15 s: "leak" gains 1 MiB a minute, "flat" stays.
        for i in 0..480u64 {
            let mut groups = BTreeMap::new();
            for (name, anon) in [("leak", (100 << 20) + (i << 20) / 4), ("flat", 300 << 20)] {
                groups.insert(
                    name.to_owned(),
                    GroupFigures {
                        pss_anon: anon,
                        ..GroupFigures::default()
                    },
                );
            }
            c.track_growth(i as f64 * 15.0, &mut groups);
            last = groups;
        }
        // Points every 30 s, an hour of them.
        assert_eq!(c.history["leak"].len(), 120);
        let (slope, growing) = last["leak"].anon_growth.unwrap();
        assert!(growing);
        assert!((slope - 1048576.0 / 60.0).abs() < 1.0, "{slope}");
        let (slope, growing) = last["flat"].anon_growth.unwrap();
        assert!(!growing);
        assert_eq!(slope, 0.0);
    }

    #[test]
    fn this_process_is_in_its_group() {
        let me = std::process::id();
        let comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
        let cfg = Config::parse(&format!(
            "unmatched = \"drop\"\n[[group]]\nname = \"me\"\ncmdline = '^{}'\n",
            regex::escape(&std::env::args().next().unwrap())
        ))
        .unwrap();
        let mut c = Collector::new(Path::new("/proc"), cfg);
        let first = c.collect();
        let g = first
            .groups
            .get("me")
            .unwrap_or_else(|| panic!("{comm}: {first:?}"));
        assert!(g.processes >= 1);
        assert!(g.rss > 0 && g.pss > 0);
        // Read in full on first sight: categories are there.
        assert_eq!(g.full_processes, g.processes);
        assert!(g.categories.contains_key("code"));
        assert!(g.regions > 5);
        // Only the group asked for: everything else is dropped.
        assert_eq!(first.groups.len(), 1);
        let second = c.collect();
        assert_eq!(second.number, 2);
        // Full figures are not due again yet: kept, not re-read.
        assert_eq!(second.full_reads, 0);
        assert!(second.groups["me"].categories.contains_key("code"));
    }
}
