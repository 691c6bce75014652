//! Reading one process: the one place the exporter touches a process's
//! `/proc` files. Everything here blocks; the collector calls it on its own
//! threads, never on the HTTP server's.
//!
//! [`read_process`] takes its reading with the sample collector every live
//! consumer shares (`maplens_core::source::collect`, as `watch` and the
//! terminal UI do), so a sample here holds what theirs hold and costs what
//! theirs cost. The exporter only chooses the depth (its schedule spans a
//! fleet: see `crate::collect`) and turns the reading into its figures.
//! Categories, thread stacks, arenas and findings come from the reading's
//! own classification and report and the `check` engine: the exporter never
//! classifies on its own, nor twice.

use std::path::Path;

use maplens_core::analysis::{Classified, Report};
use maplens_core::check::{self, CheckOptions, Severity};
use maplens_core::model::{Sample, SampleUsage, Snapshot};
use maplens_core::parse::{Field, Mode};
use maplens_core::source::collect::{Collector, Policy, Want};
use maplens_core::source::{self, SourceError};
use maplens_core::system::Reason;

/// How much of a process to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// `smaps_rollup` (and the small files): totals only.
    Rollup,
    /// Full `smaps`: categories, stacks, arenas, regions, findings.
    Full,
}

/// What a full read adds to the totals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FullFigures {
    /// Number of regions (mappings).
    pub regions: u64,
    /// Per category: (category id, virtual size, RSS, PSS), bytes.
    pub categories: Vec<(String, u64, u64, u64)>,
    /// Thread stacks: reserved (virtual) bytes.
    pub stack_reserved: u64,
    /// Thread stacks: resident bytes.
    pub stack_resident: u64,
    /// glibc malloc arenas besides the main one.
    pub arenas: u64,
    /// Findings of `check` at severity low and up: (rule id, severity).
    pub findings: Vec<(&'static str, Severity)>,
    /// `vm.max_map_count` when known.
    pub max_map_count: Option<u64>,
}

/// One process at one moment, as the exporter needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcSample {
    /// The sample (pid, comm, time, totals from `smaps_rollup` when the
    /// kernel has it).
    pub sample: Sample,
    /// `SwapPss`, bytes.
    pub swap_pss: Option<u64>,
    /// `Pss_Anon` of `smaps_rollup`, bytes (anonymous memory: heap,
    /// arenas, anonymous mmap), when the kernel prints it.
    pub pss_anon: Option<u64>,
    /// Threads (`Threads:` of `status`).
    pub threads: u64,
    /// Effective uid.
    pub uid: Option<u32>,
    /// Command line, arguments joined by spaces (lossy UTF-8).
    pub cmdline: String,
    /// Target of `exe`, lossy UTF-8, when readable.
    pub exe: Option<String>,
    /// The cgroup v2 path (`0::PATH` of `cgroup`), when readable.
    pub cgroup: Option<String>,
    /// What a full read found; `None` for a rollup read.
    pub full: Option<FullFigures>,
    /// Bytes of `/proc` text read whole (the rollup and the small files;
    /// a full read's smaps streams and is not counted).
    pub bytes_read: u64,
}

/// Reads one live process under `proc_root`: `smaps_rollup` or full
/// `smaps` as `depth` says, plus `stat`, `comm`, `cmdline`, `status`, `exe`
/// and `cgroup`. Errors say why the process has no figures.
pub fn read_process(proc_root: &Path, pid: u32, depth: Depth) -> Result<ProcSample, Reason> {
    let dir = proc_root.join(pid.to_string());
    // Which files a reading reads (smaps, rollup, threads) is the
    // collector's business: only the place and the parsing mode are ours.
    let opts = source::Options {
        proc_root: proc_root.to_owned(),
        mode: Mode::Lenient,
        ..source::Options::default()
    };
    // The exporter exports no per-process limits: skip their reads.
    let policy = Policy {
        limits: false,
        ..Policy::default()
    };
    let want = match depth {
        Depth::Rollup => Want::Rollup,
        Depth::Full => Want::Full,
    };
    let reading = Collector::new(pid, opts, policy)
        .read(want)
        .map_err(reason)?;
    let snap = &reading.snapshot;
    if snap.regions.is_empty() && snap.rollup.is_none() {
        return Err(kernel_or_zombie(&dir));
    }
    let mut sample = reading.sample.clone();
    let mut swap_pss = None;
    let mut pss_anon = None;
    if let Some(r) = &snap.rollup {
        swap_pss = r.known.get(Field::SwapPss).map(|v| v * 1024);
        pss_anon = r.known.get(Field::PssAnon).map(|v| v * 1024);
    } else if !snap.regions.is_empty() {
        // No rollup (kernels before 4.14): the sum over smaps.
        swap_pss = maplens_core::analysis::Usage::of(&snap.regions).swap_pss;
    }
    let full = match (&reading.classified, &reading.report) {
        (Some(cl), Some(rep)) if depth == Depth::Full => Some(full_figures(snap, cl, rep)),
        _ => None,
    };
    if full.is_none() {
        // A rollup reading of a kernel without smaps_rollup still read the
        // regions: keep to the totals the exporter asked for.
        sample.full = false;
    }
    let p = &snap.process;
    let uid = p
        .status("Uid")
        .and_then(|u| u.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok());
    let threads = p
        .status("Threads")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1);
    let exe = std::fs::read_link(dir.join("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = read(&dir, "cgroup").ok().and_then(|b| {
        b.split(|&c| c == b'\n')
            .find_map(|l| l.strip_prefix(b"0::"))
            .map(|p| String::from_utf8_lossy(p).into_owned())
    });
    let bytes_read = sample.cost.bytes_read;
    Ok(ProcSample {
        cmdline: p.cmdline.join(" "),
        sample,
        swap_pss,
        pss_anon,
        threads,
        uid,
        exe,
        cgroup,
        full,
        bytes_read,
    })
}

/// The report's figures of a fully read snapshot, from the reading's own
/// classification and report.
fn full_figures(snap: &Snapshot, cl: &Classified, rep: &Report) -> FullFigures {
    let outcome = check::evaluate(snap, cl, &CheckOptions::for_report(snap));
    FullFigures {
        regions: snap.regions.len() as u64,
        categories: rep
            .categories
            .iter()
            .map(|c| {
                (
                    c.category.id().to_owned(),
                    c.usage.size,
                    c.usage.rss.unwrap_or(0),
                    c.usage.pss.unwrap_or(0),
                )
            })
            .collect(),
        stack_reserved: rep.threads.thread_stacks.size,
        stack_resident: rep.threads.thread_stacks.rss.unwrap_or(0),
        arenas: rep.allocators.glibc_arena_count as u64,
        findings: outcome
            .findings
            .iter()
            .map(|f| (f.id, f.severity))
            .collect(),
        max_map_count: rep.totals.max_map_count,
    }
}

/// The figures of a sample's totals, bytes (0 when unknown).
pub fn totals(u: &SampleUsage) -> (u64, u64, u64, u64) {
    (
        u.pss.unwrap_or(0),
        u.uss.unwrap_or(0),
        u.rss.unwrap_or(0),
        u.swap.unwrap_or(0),
    )
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, Reason> {
    std::fs::read(dir.join(name)).map_err(|e| io_reason(&e))
}

fn io_reason(e: &std::io::Error) -> Reason {
    match e.kind() {
        std::io::ErrorKind::NotFound => Reason::Exited,
        std::io::ErrorKind::PermissionDenied => Reason::PermissionDenied,
        _ if e.raw_os_error() == Some(3) => Reason::Exited,
        _ => Reason::Other(e.to_string()),
    }
}

fn reason(e: SourceError) -> Reason {
    match e {
        SourceError::NoProcess { .. } => Reason::Exited,
        SourceError::PermissionDenied { .. } => Reason::PermissionDenied,
        e => {
            let s = e.to_string();
            if s.contains("ermission denied") {
                Reason::PermissionDenied
            } else {
                Reason::Other(s)
            }
        }
    }
}

/// Why a process has no memory text: a kernel thread (no `exe`, empty
/// `cmdline`) or a zombie.
fn kernel_or_zombie(dir: &Path) -> Reason {
    let stat = std::fs::read(dir.join("stat")).unwrap_or_default();
    let state = stat
        .iter()
        .rposition(|&b| b == b')')
        .and_then(|i| stat.get(i + 2).copied());
    match state {
        Some(b'Z') | Some(b'X') => Reason::Zombie,
        None => Reason::Exited,
        _ => Reason::KernelThread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself_both_ways() {
        let me = std::process::id();
        let r = read_process(Path::new("/proc"), me, Depth::Rollup).unwrap();
        assert_eq!(r.sample.pid, Some(me));
        assert!(r.sample.totals.rss.unwrap() > 0);
        assert!(r.full.is_none());
        let f = read_process(Path::new("/proc"), me, Depth::Full).unwrap();
        let full = f.full.unwrap();
        assert!(full.regions > 5);
        assert!(full.categories.iter().any(|c| c.0 == "code"));
        assert!(f.threads >= 1);
        assert!(r.sample.start_time.is_some());
        assert_eq!(r.sample.start_time, f.sample.start_time);
    }

    #[test]
    fn a_missing_process_has_exited() {
        let r = read_process(Path::new("/proc"), u32::MAX - 1, Depth::Rollup);
        assert_eq!(r.unwrap_err(), Reason::Exited);
    }
}
