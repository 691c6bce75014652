//! The whole machine: every process's USS, PSS, RSS and swap, read once
//! each, with what could not be read, and aggregations by user, category,
//! mapped object, library and shared-memory object.
//!
//! [`scan`] walks the PIDs under a proc root ([`scan_files`]: of any
//! [`ProcFiles`], such as a capture bundle) and builds one
//! [`ProcessRow`] per readable process from a single read of
//! `smaps_rollup` (or `smaps`, when [`Detail`] asks for regions or the
//! kernel has no rollup, before 4.14). It streams: the text of one process
//! is parsed and dropped before the next is read, so memory stays small
//! whatever the number of processes. Regions can be handed to a
//! [`ScanHooks::region`] callback, which is how the aggregations in
//! [`aggregate`] work.
//!
//! A process that cannot be read is never dropped silently: it lands in
//! [`ScanReport::unreadable`] with a [`Reason`] (permission, exited during
//! the scan, kernel thread, zombie). A row is only built from a file read
//! to its end: no row is half-read.
//!
//! A name ending in ` (deleted)` is decided as `maplens maps` decides it
//! ([`crate::source::deleted`]): by the file for a live process, by the
//! capture's record in a bundle; only a process that has such a name costs
//! more than its one read.
//!
//! Figures are kB, as the kernel prints them. USS is
//! `Private_Clean + Private_Dirty`, as in smem and procrank.

pub mod aggregate;
pub mod files;
mod info;

pub use files::{BundleFiles, Owner, ProcDir, ProcFiles};
pub use info::{MemInfo, Users, hidepid, tmpfs_devices};

use std::io;
use std::path::PathBuf;

use crate::analysis::{Category, classify};
use crate::model::Snapshot;
use crate::parse::{DeletedSuffix, Entry, Field, KnownValues, Mode, Parser, PathKind};
use crate::source::deleted;

/// Memory figures of a process or a group, in kB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Mem {
    /// Virtual size (`Size`; only from smaps, 0 from smaps_rollup).
    pub size: u64,
    /// Resident set size.
    pub rss: u64,
    /// Proportional set size.
    pub pss: u64,
    /// Unique set size: `Private_Clean + Private_Dirty`.
    pub uss: u64,
    /// Swapped-out pages (not divided among sharers).
    pub swap: u64,
    /// Proportional share of swapped-out pages.
    pub swap_pss: u64,
    /// Anonymous part of PSS.
    pub pss_anon: u64,
    /// File-backed part of PSS.
    pub pss_file: u64,
    /// Shared-memory (shmem, tmpfs, SysV, memfd) part of PSS.
    pub pss_shmem: u64,
    /// Resident pages shared with another process, unmodified.
    pub shared_clean: u64,
    /// Resident pages shared with another process, modified.
    pub shared_dirty: u64,
    /// Resident pages mapped only here, unmodified.
    pub private_clean: u64,
    /// Resident pages mapped only here, modified.
    pub private_dirty: u64,
}

impl Mem {
    /// Figures of one smaps block or of the rollup.
    pub fn from_known(k: &KnownValues) -> Mem {
        let g = |f| k.get_or_zero(f);
        Mem {
            size: g(Field::Size),
            rss: g(Field::Rss),
            pss: g(Field::Pss),
            uss: g(Field::PrivateClean) + g(Field::PrivateDirty),
            swap: g(Field::Swap),
            swap_pss: g(Field::SwapPss),
            pss_anon: g(Field::PssAnon),
            pss_file: g(Field::PssFile),
            pss_shmem: g(Field::PssShmem),
            shared_clean: g(Field::SharedClean),
            shared_dirty: g(Field::SharedDirty),
            private_clean: g(Field::PrivateClean),
            private_dirty: g(Field::PrivateDirty),
        }
    }

    /// Figures of one smaps region; the anon/file/shmem split of PSS (which
    /// the kernel prints only in smaps_rollup) is inferred from the name.
    pub fn from_entry(e: &Entry<'_>) -> Mem {
        let Some(b) = &e.smaps else {
            return Mem::default();
        };
        let mut m = Mem::from_known(&b.known);
        if !b.known.has(Field::PssAnon) {
            match ShmKind::of_header(&e.header, None) {
                Some(_) => m.pss_shmem = m.pss,
                None if e.header.inode == 0 => m.pss_anon = m.pss,
                None => m.pss_file = m.pss,
            }
        }
        m
    }

    /// Adds another's figures.
    pub fn add(&mut self, o: &Mem) {
        self.size += o.size;
        self.rss += o.rss;
        self.pss += o.pss;
        self.uss += o.uss;
        self.swap += o.swap;
        self.swap_pss += o.swap_pss;
        self.pss_anon += o.pss_anon;
        self.pss_file += o.pss_file;
        self.pss_shmem += o.pss_shmem;
        self.shared_clean += o.shared_clean;
        self.shared_dirty += o.shared_dirty;
        self.private_clean += o.private_clean;
        self.private_dirty += o.private_dirty;
    }

    /// The largest of the anon / file / shmem parts of PSS, by name: the
    /// cheap "largest category" available from smaps_rollup alone.
    pub fn largest_kind(&self) -> Option<(&'static str, u64)> {
        [
            ("anon", self.pss_anon),
            ("file", self.pss_file),
            ("shmem", self.pss_shmem),
        ]
        .into_iter()
        .filter(|&(_, v)| v > 0)
        .max_by_key(|&(n, v)| (v, std::cmp::Reverse(n)))
    }
}

/// How much to read of each process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// `smaps_rollup` only (falls back to `smaps` on kernels without it).
    #[default]
    Rollup,
    /// Full `smaps`: per-region figures for [`ScanHooks::region`].
    Smaps,
    /// Full `smaps`, every region classified: fills
    /// [`ProcessRow::categories`].
    Categories,
}

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Where `/proc` is.
    pub proc_root: PathBuf,
    /// How much to read.
    pub detail: Detail,
    /// Read `comm` of every process (otherwise only of those that cannot
    /// be read, and when asked by [`ScanHooks::wants_comm`]).
    pub comm: bool,
    /// Only these PIDs (all when empty).
    pub pids: Vec<u32>,
    /// Threads that read processes' memory files side by side: 0 for one
    /// per CPU (at most [`MAX_READERS`]), 1 for none beside the caller's.
    /// Only a source that can be read from several threads is
    /// ([`ProcFiles::reader`]: a `/proc` tree, not a bundle).
    pub readers: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            proc_root: PathBuf::from("/proc"),
            detail: Detail::Rollup,
            comm: false,
            pids: Vec::new(),
            readers: 0,
        }
    }
}

/// What is known of a process before its memory is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProcessMeta {
    /// Process id.
    pub pid: u32,
    /// Owner of `/proc/PID`: the effective uid (root for a process that is
    /// not dumpable, as smem reports it).
    pub uid: Option<u32>,
    /// User name from `/etc/passwd` under the proc root's system, or the
    /// uid as a number.
    pub user: String,
    /// `comm`, when read.
    pub comm: Option<String>,
    /// `cmdline`, arguments joined by spaces (lossy UTF-8).
    pub command: String,
}

impl ProcessMeta {
    /// The command line, or `[comm]` when it is empty.
    pub fn display_command(&self) -> String {
        if self.command.is_empty() {
            format!("[{}]", self.comm.as_deref().unwrap_or("?"))
        } else {
            self.command.clone()
        }
    }
}

/// One readable process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProcessRow {
    /// Who it is.
    pub meta: ProcessMeta,
    /// Its memory (kB).
    pub mem: Mem,
    /// Which file the figures come from: `smaps_rollup` or `smaps`.
    pub source: &'static str,
    /// Number of regions (only from smaps).
    pub regions: Option<usize>,
    /// Per-category figures, largest PSS first ([`Detail::Categories`]).
    pub categories: Vec<(Category, Mem)>,
}

impl ProcessRow {
    /// The largest category by PSS: the classified one when categories
    /// were computed, else the largest of anon / file / shmem.
    pub fn largest(&self) -> Option<(&'static str, u64)> {
        match self.categories.first() {
            Some((c, m)) => Some((c.id(), m.pss)),
            None => self.mem.largest_kind(),
        }
    }
}

/// Why a process has no row.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Reason {
    /// The kernel refused: another user's process, or not dumpable.
    PermissionDenied,
    /// It exited between being listed and being read.
    Exited,
    /// It exec'd (became another program) while being read: its command
    /// line and its memory may be of two programs. The next scan counts it.
    Exec,
    /// A kernel thread: it has no user memory.
    KernelThread,
    /// A zombie: exited, not yet reaped; its memory is already freed.
    Zombie,
    /// Any other error, in words.
    Other(String),
}

impl Reason {
    /// Stable identifier for JSON and CSV.
    pub fn id(&self) -> &'static str {
        match self {
            Reason::PermissionDenied => "permission-denied",
            Reason::Exited => "exited",
            Reason::Exec => "exec",
            Reason::KernelThread => "kernel-thread",
            Reason::Zombie => "zombie",
            Reason::Other(_) => "error",
        }
    }

    /// True when the process holds memory maplens could not count
    /// (kernel threads, zombies and exited processes hold none).
    pub fn hides_memory(&self) -> bool {
        matches!(
            self,
            Reason::PermissionDenied | Reason::Exec | Reason::Other(_)
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::PermissionDenied => f.write_str("permission denied"),
            Reason::Exited => f.write_str("exited during the scan"),
            Reason::Exec => f.write_str("exec'd during the scan (counted in the next)"),
            Reason::KernelThread => f.write_str("kernel thread (no user memory)"),
            Reason::Zombie => f.write_str("zombie (memory already freed)"),
            Reason::Other(m) => f.write_str(m),
        }
    }
}

/// A process without a row, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Unreadable {
    /// Process id.
    pub pid: u32,
    /// `comm` when it could still be read.
    pub comm: Option<String>,
    /// Owner, when known.
    pub user: Option<String>,
    /// Why.
    pub reason: Reason,
}

/// The result of a scan.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ScanReport {
    /// One per readable process that passed the filter, in PID order.
    pub rows: Vec<ProcessRow>,
    /// Processes that passed the filter (or could not be filtered) but
    /// could not be read, in PID order.
    pub unreadable: Vec<Unreadable>,
    /// Sum over [`ScanReport::rows`].
    pub totals: Mem,
    /// Processes left out by [`ScanHooks::want`].
    pub filtered_out: usize,
    /// `/proc/meminfo`, when readable.
    pub meminfo: Option<MemInfo>,
    /// The `hidepid=` option of the proc mount, when set: other users'
    /// processes may be invisible and cannot be counted.
    pub hidepid: Option<String>,
    /// True when the kernel has `smaps_rollup` (4.14+).
    pub rollup_available: bool,
}

/// Callbacks of [`scan`]; every method has a do-nothing default.
pub trait ScanHooks {
    /// Whether to read this process; `meta.comm` is set when
    /// [`ScanHooks::wants_comm`] says so.
    fn want(&mut self, _meta: &ProcessMeta) -> bool {
        true
    }
    /// Whether [`ScanHooks::want`] needs `comm`.
    fn wants_comm(&self) -> bool {
        false
    }
    /// Called before each listed PID is looked at: `done` of `total`.
    fn progress(&mut self, _done: usize, _total: usize, _pid: u32) {}
    /// One region of a fully read process, with its category when
    /// classified ([`Detail::Smaps`] and [`Detail::Categories`] only).
    /// Called only for processes that get a row.
    fn region(&mut self, _meta: &ProcessMeta, _e: &Entry<'_>, _category: Option<Category>) {}
}

/// Hooks that want everything and do nothing.
pub struct NoHooks;
impl ScanHooks for NoHooks {}

/// How reading one file failed.
enum ReadFail {
    Gone,
    Denied,
    Other(String),
}

fn classify_err(e: &io::Error) -> ReadFail {
    match e.kind() {
        io::ErrorKind::NotFound => ReadFail::Gone,
        io::ErrorKind::PermissionDenied => ReadFail::Denied,
        _ if e.raw_os_error() == Some(3) => ReadFail::Gone, // ESRCH
        _ => ReadFail::Other(e.to_string()),
    }
}

fn trim_nl(b: &[u8]) -> String {
    String::from_utf8_lossy(b.strip_suffix(b"\n").unwrap_or(b)).into_owned()
}

/// State letter and flags of a `/proc/PID/stat` line.
fn stat_state_flags(stat: &[u8]) -> Option<(u8, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut f = stat.get(close + 2..)?.split(|&b| b == b' ');
    let state = *f.next()?.first()?;
    // After state: ppid pgrp session tty_nr tpgid flags.
    let flags = f.nth(5)?;
    let flags = std::str::from_utf8(flags).ok()?.parse().ok()?;
    Some((state, flags))
}

const PF_KTHREAD: u64 = 0x0020_0000;

/// Scans every process (or [`ScanOptions::pids`]) under
/// [`ScanOptions::proc_root`].
///
/// Errors only when the proc root itself cannot be listed.
pub fn scan(opts: &ScanOptions, hooks: &mut dyn ScanHooks) -> io::Result<ScanReport> {
    scan_files(&mut ProcDir::new(&opts.proc_root), opts, hooks)
}

/// Scans every process (or [`ScanOptions::pids`]) of `files`: a `/proc`
/// tree ([`ProcDir`]) or a capture bundle ([`BundleFiles`]).
/// [`ScanOptions::proc_root`] is not used.
///
/// Errors only when the processes cannot be listed.
pub fn scan_files<F: ProcFiles>(
    files: &mut F,
    opts: &ScanOptions,
    hooks: &mut dyn ScanHooks,
) -> io::Result<ScanReport> {
    let pids = if opts.pids.is_empty() {
        files.pids()?
    } else {
        opts.pids.clone()
    };
    let live = files.live();
    let users = files.users();
    let rollup_available = files.rollup_available(&pids);
    let main_file = if opts.detail == Detail::Rollup && rollup_available {
        "smaps_rollup"
    } else {
        "smaps"
    };
    let mut report = ScanReport {
        meminfo: files.meminfo(),
        hidepid: files.hidepid(),
        rollup_available,
        ..ScanReport::default()
    };
    let want_comm = opts.comm || hooks.wants_comm();
    let mut small = Vec::with_capacity(4096);
    let mut stat = Vec::with_capacity(1024);
    let total = pids.len();
    // Readers beside this thread, each with its own handle on the files:
    // the memory file of a process is most of a scan's time (the kernel
    // walks every page table for it), and the processes are independent.
    let readers = if opts.readers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_READERS))
    } else {
        opts.readers.min(MAX_READERS)
    };
    let mut others: Vec<Box<dyn ProcFiles + Send>> = Vec::new();
    if readers > 1 {
        others.extend((0..readers).map_while(|_| files.reader()));
    }
    // Processes are looked at a batch at a time, in PID order: who they
    // are (and whether the hooks want them) here, their memory files on
    // the readers, then their rows here again, in order. A batch bounds
    // the text held at once (smaps of a whole batch, at worst) and keeps
    // each process's two `stat` reads close together.
    let batch = if others.is_empty() {
        1
    } else if main_file == "smaps" {
        4 * others.len()
    } else {
        64
    };
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<Pending> = Vec::with_capacity(batch);
    let mut i = 0;
    while i < total || !pending.is_empty() {
        // Who: owner, start time, command line, the hooks' choice.
        while i < total && pending.len() < batch {
            let pid = pids[i];
            hooks.progress(i, total, pid);
            i += 1;
            if let Some(p) = identify(
                files,
                pid,
                opts,
                live,
                &users,
                want_comm,
                hooks,
                &mut stat,
                &mut small,
                &mut report,
            ) {
                pending.push(p);
            }
        }
        // Their memory files.
        let jobs: Vec<Job> = pending
            .iter()
            .map(|p| {
                let mut buf = spare.pop().unwrap_or_default();
                buf.clear();
                (p.meta.pid, p.born.is_some(), buf)
            })
            .collect();
        let fetched = if others.is_empty() || jobs.len() < 2 {
            jobs.into_iter()
                .map(|(pid, born, buf)| fetch(files, pid, main_file, live, born, buf))
                .collect()
        } else {
            fetch_on(&mut others, jobs, main_file, live)
        };
        // Their rows, in PID order.
        for (p, f) in pending.drain(..).zip(fetched) {
            row_of(
                files,
                p,
                &f,
                main_file,
                rollup_available,
                live,
                opts.detail,
                hooks,
                &mut small,
                &mut report,
            );
            spare.push(f.buf);
        }
    }
    hooks.progress(total, total, 0);
    Ok(report)
}

/// Readers a scan runs at most ([`ScanOptions::readers`]).
pub const MAX_READERS: usize = 4;

/// What a reader is asked for: a PID, whether its start time is to be
/// checked after the read, and the buffer to read into.
type Job = (u32, bool, Vec<u8>);

/// A process the hooks want, identified; its memory is read next.
struct Pending {
    meta: ProcessMeta,
    /// Start time before the memory file (live only).
    born: Option<u64>,
    /// Start time and image before the memory file.
    image: Option<crate::source::Identity>,
}

/// A process's memory file, as a reader found it.
struct Fetched {
    /// `smaps_rollup` or `smaps` (a bundle may hold only the second).
    file: &'static str,
    read: io::Result<()>,
    buf: Vec<u8>,
    /// Whether `stat` was still there after an empty read (live).
    stat_after_empty: bool,
    /// Start time and identity read again after the memory file, when
    /// they were read before it.
    after: Option<(Option<u64>, Option<crate::source::Identity>)>,
}

/// Who `pid` is, and whether the hooks want it: `None` when it gets no
/// row (recorded in `report` as unreadable or filtered out).
#[allow(clippy::too_many_arguments)]
fn identify<F: ProcFiles + ?Sized>(
    files: &mut F,
    pid: u32,
    opts: &ScanOptions,
    live: bool,
    users: &Users,
    want_comm: bool,
    hooks: &mut dyn ScanHooks,
    stat: &mut Vec<u8>,
    small: &mut Vec<u8>,
    report: &mut ScanReport,
) -> Option<Pending> {
    let owner = match files.owner(pid) {
        Ok(o) => o,
        Err(e) => match classify_err(&e) {
            // Listed, then gone.
            ReadFail::Gone if opts.pids.is_empty() && live => {
                report.unreadable.push(Unreadable {
                    pid,
                    comm: None,
                    user: None,
                    reason: Reason::Exited,
                });
                return None;
            }
            ReadFail::Gone => {
                report.unreadable.push(Unreadable {
                    pid,
                    comm: None,
                    user: None,
                    reason: Reason::Other(if live {
                        "no such process".into()
                    } else {
                        format!("not in {}", files.describe())
                    }),
                });
                return None;
            }
            _ => Owner::default(),
        },
    };
    let user = owner
        .user
        .or_else(|| owner.uid.map(|u| users.name(u)))
        .unwrap_or_else(|| "?".into());
    // Which process this PID is now: every file is read by its path,
    // and a PID is reused once its process is gone. (The text is kept:
    // it also tells a kernel thread, below.)
    let born = if live {
        start_time(files, pid, stat)
    } else {
        stat.clear();
        None
    };
    let image = born.and_then(|_| crate::source::Identity::of_stat(stat));
    let mut meta = ProcessMeta {
        pid,
        uid: owner.uid,
        user,
        comm: None,
        command: String::new(),
    };
    match files.read(pid, "cmdline", small) {
        Ok(()) => {
            let args: Vec<String> = small
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            meta.command = args.join(" ");
        }
        // Not captured: go on with comm, as for an empty one.
        Err(e) if !live && e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            let reason = match classify_err(&e) {
                ReadFail::Gone => Reason::Exited,
                // hidepid=1 (invisible=noaccess) refuses even cmdline.
                ReadFail::Denied => Reason::PermissionDenied,
                ReadFail::Other(m) => Reason::Other(m),
            };
            fail(files, meta, reason, small, report);
            return None;
        }
    }
    if want_comm || meta.command.is_empty() {
        meta.comm = read_comm(files, pid, small);
    }
    if !hooks.want(&meta) {
        report.filtered_out += 1;
        return None;
    }
    if meta.command.is_empty() {
        // Kernel threads and zombies have no cmdline (and no memory);
        // a process may also have emptied its own: read it anyway.
        // A kernel thread stays one, and a process that became a
        // zombie since `stat` was read shows no memory below: the
        // `stat` read above serves.
        let read = born.is_some().then_some(&stat[..]);
        if let Some(reason) = no_memory(files, pid, read, small) {
            fail(files, meta, reason, small, report);
            return None;
        }
    }
    Some(Pending { meta, born, image })
}

/// Reads the memory file of `pid` into `buf`, and its `stat` again right
/// after when `born` (read before) is to be checked.
fn fetch<F: ProcFiles + ?Sized>(
    files: &mut F,
    pid: u32,
    main_file: &'static str,
    live: bool,
    born: bool,
    mut buf: Vec<u8>,
) -> Fetched {
    let mut file = main_file;
    let mut read = files.read(pid, file, &mut buf);
    if !live
        && file == "smaps_rollup"
        && read
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
    {
        // A bundle may hold smaps_rollup for some processes only.
        file = "smaps";
        read = files.read(pid, file, &mut buf);
    }
    let mut f = Fetched {
        file,
        read,
        buf,
        stat_after_empty: false,
        after: None,
    };
    if f.read.is_ok() {
        if f.buf.is_empty() {
            f.stat_after_empty = live && files.exists(pid, "stat");
        } else if born {
            let mut stat = Vec::with_capacity(1024);
            let now = start_time(files, pid, &mut stat);
            f.after = Some((now, crate::source::Identity::of_stat(&stat)));
        }
    }
    f
}

/// [`fetch`] of every job on the readers, side by side; results in the
/// jobs' order.
fn fetch_on(
    readers: &mut [Box<dyn ProcFiles + Send>],
    jobs: Vec<Job>,
    main_file: &'static str,
    live: bool,
) -> Vec<Fetched> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let n = jobs.len();
    let jobs: Vec<Mutex<Option<Job>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    let done: Vec<Mutex<Option<Fetched>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = |r: &mut Box<dyn ProcFiles + Send>| {
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= n {
                break;
            }
            let job = jobs[k].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some((pid, born, buf)) = job {
                let f = fetch(r.as_mut(), pid, main_file, live, born, buf);
                *done[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
            }
        }
    };
    std::thread::scope(|s| {
        let (first, rest) = readers.split_first_mut().expect("readers");
        for r in rest {
            // No thread to be had: the first reader does the work alone.
            let _ = std::thread::Builder::new()
                .name("maplens-scan".into())
                .spawn_scoped(s, || work(r));
        }
        work(first);
    });
    done.into_iter()
        .map(|d| {
            d.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every job is taken by a reader")
        })
        .collect()
}

/// The row of a process whose memory file was read (or why it has none).
#[allow(clippy::too_many_arguments)]
fn row_of<F: ProcFiles + ?Sized>(
    files: &mut F,
    p: Pending,
    f: &Fetched,
    main_file: &'static str,
    rollup_available: bool,
    live: bool,
    detail: Detail,
    hooks: &mut dyn ScanHooks,
    small: &mut Vec<u8>,
    report: &mut ScanReport,
) {
    let Pending { meta, born, image } = p;
    let pid = meta.pid;
    let file = f.file;
    if let Err(e) = &f.read {
        let reason = match classify_err(e) {
            ReadFail::Gone if live => Reason::Exited,
            ReadFail::Gone => Reason::Other(if main_file == "smaps" && rollup_available {
                format!("{e} (captured with --light: only smaps_rollup)")
            } else {
                e.to_string()
            }),
            ReadFail::Denied => Reason::PermissionDenied,
            ReadFail::Other(m) => Reason::Other(format!("{}/{pid}/{file}: {m}", files.describe())),
        };
        fail(files, meta, reason, small, report);
        return;
    }
    if f.buf.is_empty() {
        // No mm: it exited (or became a zombie) after cmdline was read;
        // in a bundle, it was captured so.
        let reason = if live {
            if f.stat_after_empty {
                Reason::Zombie
            } else {
                Reason::Exited
            }
        } else {
            no_memory(files, pid, None, small).unwrap_or(Reason::Exited)
        };
        fail(files, meta, reason, small, report);
        return;
    }
    if born.is_some() {
        let (now, now_image) = f.after.unwrap_or((None, None));
        let reason = if now != born {
            // The process named above exited, and its PID went to
            // another (or to none) while its memory was read: the row
            // would mix two processes. The new one is in the next scan.
            // (Its comm is not read now: it would be the new owner's.)
            Some(Reason::Exited)
        } else {
            // The same process; if its image moved, it exec'd, and the
            // command line above may be of the program before. (Its
            // image reads as zeros once it has exited.)
            match (image, now_image) {
                (Some(a), Some(b)) if b.image == [0; 3] && a.image != [0; 3] => {
                    Some(Reason::Exited)
                }
                (Some(a), Some(b)) if a != b => Some(Reason::Exec),
                _ => None,
            }
        };
        if let Some(reason) = reason {
            report.unreadable.push(Unreadable {
                pid,
                comm: meta.comm,
                user: Some(meta.user),
                reason,
            });
            return;
        }
    }
    // A file name ending in ` (deleted)` is decided as `maplens maps`
    // does (by the file, or the capture's record) as the regions are
    // read; a process with none reads nothing more.
    let mut check =
        |start, end, inode, raw: &[u8]| files.deleted_suffix(pid, start, end, inode, raw);
    let row = build_row(meta, &f.buf, file, detail, hooks, &mut check);
    report.totals.add(&row.mem);
    report.rows.push(row);
}

/// The process's start time, from `stat`: what tells a PID's owners apart.
fn start_time<F: ProcFiles + ?Sized>(files: &mut F, pid: u32, small: &mut Vec<u8>) -> Option<u64> {
    files.read(pid, "stat", small).ok()?;
    crate::source::collect::stat_start_time(small)
}

fn read_comm<F: ProcFiles + ?Sized>(
    files: &mut F,
    pid: u32,
    small: &mut Vec<u8>,
) -> Option<String> {
    files.read(pid, "comm", small).ok()?;
    Some(trim_nl(small))
}

/// Kernel thread or zombie, by `stat`: its text when already `read`, else
/// read into `small`.
fn no_memory<F: ProcFiles + ?Sized>(
    files: &mut F,
    pid: u32,
    read: Option<&[u8]>,
    small: &mut Vec<u8>,
) -> Option<Reason> {
    let stat = match read {
        Some(text) => text,
        None => {
            files.read(pid, "stat", small).ok()?;
            &small[..]
        }
    };
    let (state, flags) = stat_state_flags(stat)?;
    if flags & PF_KTHREAD != 0 {
        Some(Reason::KernelThread)
    } else if state == b'Z' || state == b'X' {
        Some(Reason::Zombie)
    } else {
        None
    }
}

fn fail<F: ProcFiles + ?Sized>(
    files: &mut F,
    meta: ProcessMeta,
    reason: Reason,
    small: &mut Vec<u8>,
    r: &mut ScanReport,
) {
    let pid = meta.pid;
    let comm = meta.comm.or_else(|| read_comm(files, pid, small));
    r.unreadable.push(Unreadable {
        pid,
        comm,
        user: Some(meta.user),
        reason,
    });
}

/// [`ProcFiles::deleted_suffix`] of the process being read: `(start, end,
/// inode, raw name)`.
type CheckSuffix<'a> = dyn FnMut(u64, u64, u64, &[u8]) -> DeletedSuffix + 'a;

/// The entry with its ` (deleted)` suffix decided by `check`, when the
/// name is a file's ending so (else as it is: no call).
#[inline]
fn checked<'a>(mut e: Entry<'a>, check: &mut CheckSuffix<'_>) -> Entry<'a> {
    if deleted::checkable_header(&e.header) {
        let h = &e.header;
        let s = check(h.start, h.end, h.inode, h.path.raw());
        e.header.path = e.header.path.with_suffix(s);
    }
    e
}

fn build_row(
    meta: ProcessMeta,
    text: &[u8],
    file: &'static str,
    detail: Detail,
    hooks: &mut dyn ScanHooks,
    check: &mut CheckSuffix<'_>,
) -> ProcessRow {
    let mut row = ProcessRow {
        meta,
        source: file,
        ..ProcessRow::default()
    };
    if file == "smaps_rollup" {
        if let Some(b) = Parser::new(text)
            .filter_map(Result::ok)
            .find_map(|e| e.smaps)
        {
            row.mem = Mem::from_known(&b.known);
        }
        return row;
    }
    if detail == Detail::Categories {
        // Owned regions of this one process, classified, then dropped.
        let Ok(mut snap) = Snapshot::from_text(file, text, Mode::Lenient) else {
            return row;
        };
        for r in snap.regions.iter_mut().filter(|r| deleted::checkable(r)) {
            let s = check(r.start, r.end, r.inode, r.path.raw());
            r.path.set_suffix(s);
        }
        let cl = classify(&snap);
        let mut cats: Vec<(Category, Mem)> = Vec::new();
        let entries = Parser::new(text).filter_map(Result::ok);
        // Snapshot keeps regions sorted and without overlaps; the kernel
        // prints them sorted, so entries and regions line up by start.
        let mut j = 0;
        for mut e in entries {
            while j < snap.regions.len() && snap.regions[j].start < e.header.start {
                j += 1;
            }
            let same = j < snap.regions.len() && snap.regions[j].start == e.header.start;
            if same && e.header.path.has_deleted_suffix() {
                // Decided above, once.
                e.header.path = e
                    .header
                    .path
                    .with_suffix(snap.regions[j].path.view().suffix());
            }
            let cat = same.then(|| cl.classes[j].category);
            let m = Mem::from_entry(&e);
            row.mem.add(&m);
            row.regions = Some(row.regions.unwrap_or(0) + 1);
            if let Some(c) = cat {
                match cats.iter_mut().find(|(k, _)| *k == c) {
                    Some((_, acc)) => acc.add(&m),
                    None => cats.push((c, m)),
                }
            }
            hooks.region(&row.meta, &e, cat);
        }
        cats.sort_by(|a, b| b.1.pss.cmp(&a.1.pss).then(a.0.cmp(&b.0)));
        row.categories = cats;
        return row;
    }
    let mut n = 0;
    for e in Parser::new(text).filter_map(Result::ok) {
        let e = checked(e, check);
        row.mem.add(&Mem::from_entry(&e));
        n += 1;
        hooks.region(&row.meta, &e, None);
    }
    row.regions = Some(n);
    row
}

/// Kinds of shared memory, deduplicated across processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ShmKind {
    /// System V shared memory (keyed by shmid, the inode in maps).
    SysV,
    /// A `memfd_create()` file.
    Memfd,
    /// `MAP_SHARED|MAP_ANONYMOUS` memory (shared with fork children).
    SharedAnon,
    /// Named shared anonymous memory (`[anon_shmem:NAME]`).
    AnonShmemNamed,
    /// A file on tmpfs, such as `/dev/shm` (POSIX shared memory).
    Tmpfs,
}

impl ShmKind {
    /// Stable identifier.
    pub const fn id(self) -> &'static str {
        match self {
            ShmKind::SysV => "sysv",
            ShmKind::Memfd => "memfd",
            ShmKind::SharedAnon => "shared-anon",
            ShmKind::AnonShmemNamed => "anon-shmem",
            ShmKind::Tmpfs => "tmpfs",
        }
    }

    /// The shared-memory kind of a region: by its name, or for a plain
    /// file, because its device is a tmpfs one (see [`tmpfs_devices`]).
    pub fn of_header(
        h: &crate::parse::Header<'_>,
        tmpfs: Option<&[crate::parse::Dev]>,
    ) -> Option<ShmKind> {
        match h.path.kind() {
            PathKind::SysV(_) => Some(ShmKind::SysV),
            PathKind::Memfd(_) => Some(ShmKind::Memfd),
            PathKind::DevZero => Some(ShmKind::SharedAnon),
            PathKind::AnonShmemNamed(_) => Some(ShmKind::AnonShmemNamed),
            PathKind::File
                if tmpfs.is_some_and(|t| t.contains(&h.dev))
                    || h.path.raw().starts_with(b"/dev/shm/") =>
            {
                Some(ShmKind::Tmpfs)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing() {
        let s = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0\n";
        let (state, flags) = stat_state_flags(s).expect("parses");
        assert_eq!((state, flags), (b'S', 2129984));
        assert_ne!(flags & PF_KTHREAD, 0);
        let s = b"77 (a) b) Z 1 77 77 0 -1 4194316 0\n";
        assert_eq!(stat_state_flags(s), Some((b'Z', 4194316)));
        assert_eq!(stat_state_flags(b"garbage"), None);
    }

    #[test]
    fn largest_kind() {
        let m = Mem {
            pss_anon: 5,
            pss_file: 9,
            ..Mem::default()
        };
        assert_eq!(m.largest_kind(), Some(("file", 9)));
        assert_eq!(Mem::default().largest_kind(), None);
    }

    /// A live `/proc` of two processes where PID 20 goes to a new owner
    /// (a new start time in `stat`) once its memory has been read; or,
    /// with `kthreads`, of two kernel threads (no cmdline, `PF_KTHREAD`).
    struct Reused {
        stat_reads: usize,
        kthreads: bool,
        /// PID 20 execs instead: its start time stays, its image moves.
        exec: bool,
    }

    impl ProcFiles for Reused {
        fn describe(&self) -> String {
            "/proc".into()
        }
        fn live(&self) -> bool {
            true
        }
        fn pids(&mut self) -> io::Result<Vec<u32>> {
            Ok(vec![10, 20])
        }
        fn owner(&mut self, _pid: u32) -> io::Result<Owner> {
            Ok(Owner {
                uid: Some(0),
                user: Some("root".into()),
            })
        }
        fn read(&mut self, pid: u32, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
            buf.clear();
            let text: &[u8] = match name {
                "cmdline" if self.kthreads => b"",
                "cmdline" => b"/bin/old\0",
                "comm" => b"old\n",
                "stat" => {
                    self.stat_reads += 1;
                    let later = pid == 20 && self.stat_reads > 3;
                    let born = if later && !self.exec { 900 } else { 100 };
                    let code = if later && self.exec { 0x5000 } else { 0x4000 };
                    let flags = if self.kthreads { PF_KTHREAD } else { 0 };
                    buf.extend_from_slice(
                        format!(
                            "{pid} (old) S 1 1 1 0 -1 {flags} 0 0 0 0 0 0 0 0 20 0 1 0 {born} \
                             0 0 0 {code} {} 140000\n",
                            code + 0x1000
                        )
                        .as_bytes(),
                    );
                    return Ok(());
                }
                _ => b"00400000-00401000 r-xp 00000000 00:00 0 [rollup]\nRss: 4 kB\nPss: 4 kB\n",
            };
            buf.extend_from_slice(text);
            Ok(())
        }
        fn exists(&mut self, _pid: u32, _name: &str) -> bool {
            true
        }
        fn meminfo(&mut self) -> Option<MemInfo> {
            None
        }
        fn users(&mut self) -> Users {
            Users::default()
        }
        fn rollup_available(&mut self, _pids: &[u32]) -> bool {
            true
        }
    }

    #[test]
    fn a_pid_reused_while_read_is_no_row_of_either_process() {
        let mut files = Reused {
            stat_reads: 0,
            kthreads: false,
            exec: false,
        };
        let r = scan_files(&mut files, &ScanOptions::default(), &mut NoHooks).expect("scan");
        // PID 10's two readings of stat agree; PID 20's do not.
        assert_eq!(files.stat_reads, 4);
        let pids: Vec<u32> = r.rows.iter().map(|row| row.meta.pid).collect();
        assert_eq!(pids, [10]);
        assert_eq!(r.rows[0].mem.rss, 4);
        assert_eq!(r.unreadable.len(), 1, "{:?}", r.unreadable);
        assert_eq!(
            (r.unreadable[0].pid, &r.unreadable[0].reason),
            (20, &Reason::Exited)
        );
        assert_eq!(r.totals, r.rows[0].mem);
    }

    #[test]
    fn a_process_that_execs_while_read_is_no_row_until_the_next_scan() {
        let mut files = Reused {
            stat_reads: 0,
            kthreads: false,
            exec: true,
        };
        let r = scan_files(&mut files, &ScanOptions::default(), &mut NoHooks).expect("scan");
        let pids: Vec<u32> = r.rows.iter().map(|row| row.meta.pid).collect();
        assert_eq!(pids, [10]);
        let reasons: Vec<_> = r.unreadable.iter().map(|u| (u.pid, &u.reason)).collect();
        assert_eq!(reasons, [(20, &Reason::Exec)]);
        // Its memory is not in the totals, and the footer must say so.
        assert!(Reason::Exec.hides_memory());
        assert_eq!(r.totals, r.rows[0].mem);
    }

    #[test]
    fn a_kernel_thread_costs_one_read_of_stat() {
        let mut files = Reused {
            stat_reads: 0,
            kthreads: true,
            exec: false,
        };
        let r = scan_files(&mut files, &ScanOptions::default(), &mut NoHooks).expect("scan");
        assert!(r.rows.is_empty());
        let reasons: Vec<_> = r.unreadable.iter().map(|u| (u.pid, &u.reason)).collect();
        assert_eq!(
            reasons,
            [(10, &Reason::KernelThread), (20, &Reason::KernelThread)]
        );
        // The read that gave the start time told the kernel thread too.
        assert_eq!(files.stat_reads, 2);
    }

    #[test]
    fn scan_self() {
        let opts = ScanOptions {
            pids: vec![std::process::id()],
            detail: Detail::Categories,
            ..ScanOptions::default()
        };
        let r = scan(&opts, &mut NoHooks).expect("scan");
        assert_eq!(r.rows.len(), 1, "{:?}", r.unreadable);
        let row = &r.rows[0];
        assert!(row.mem.rss > 0 && row.mem.pss > 0);
        assert!(row.mem.uss <= row.mem.pss && row.mem.pss <= row.mem.rss);
        assert!(!row.categories.is_empty());
        assert_eq!(r.totals, row.mem);
    }
}
