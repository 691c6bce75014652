//! Where the kernel text comes from: a live process under `/proc`, a copied
//! `/proc` tree, a directory laid out like `/proc/PID`, a single maps /
//! smaps / smaps_rollup file, a capture bundle ([`bundle`]), or standard
//! input.
//!
//! The source layer only reads bytes and names them; it hands them to
//! [`crate::model::Snapshot`] to parse. Every error names the file and says
//! what to try.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::model::{Limit, Notice, ProcessInfo, Snapshot, SystemInfo, TextSink, ThreadInfo};
use crate::parse::Mode;

pub mod bundle;
pub mod collect;
pub mod damon;
pub mod deleted;
pub mod elf;
pub mod ioctl;
pub mod pages;
pub mod procmap;
pub mod wss;
pub use bundle::Bundle;

/// What the user asked to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A process id (`1234`) or `self`, read under the proc root.
    Pid(u32),
    /// A process name: exact match of `comm`.
    Name(String),
    /// A maps, smaps or smaps_rollup text file.
    File(PathBuf),
    /// A directory laid out like `/proc/PID`.
    Dir(PathBuf),
    /// A capture bundle (tar, optionally gzip/zstd), and which process in it:
    /// `cap.tar` (its only process) or `cap.tar:1234`.
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// The process; `None` for a single-process bundle.
        pid: Option<u32>,
    },
    /// Standard input.
    Stdin,
}

impl Target {
    /// Interprets a command-line word. A word of digits is a PID, `self` is
    /// this process, `-` is standard input, an existing path is a file or
    /// directory (write `./1234` for a file named `1234`), a file that
    /// starts like a tar, gzip or zstd stream is a capture bundle, `FILE:PID`
    /// names one process of a bundle, and anything else is a process name.
    ///
    /// ```
    /// use maplens_core::source::Target;
    /// assert_eq!(Target::parse("1234"), Target::Pid(1234));
    /// assert_eq!(Target::parse("-"), Target::Stdin);
    /// assert_eq!(Target::parse("no-such-thing-here"), Target::Name("no-such-thing-here".into()));
    /// ```
    pub fn parse(word: &str) -> Target {
        if word == "-" {
            return Target::Stdin;
        }
        if word == "self" {
            return Target::Pid(std::process::id());
        }
        if !word.is_empty()
            && word.bytes().all(|b| b.is_ascii_digit())
            && let Ok(pid) = word.parse()
        {
            return Target::Pid(pid);
        }
        let p = Path::new(word);
        if !p.exists()
            && let Some((file, pid)) = word.rsplit_once(':')
            && !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && let Ok(pid) = pid.parse()
            && Path::new(file).is_file()
        {
            return Target::Bundle {
                path: PathBuf::from(file),
                pid: Some(pid),
            };
        }
        if let Some(t) = Target::dir_or_bundle(p) {
            t
        } else if p.exists() || word.contains('/') {
            Target::File(p.to_owned())
        } else {
            Target::Name(word.to_owned())
        }
    }
}

impl Target {
    /// [`Target::parse`] of a word that need not be UTF-8 (a file name is
    /// bytes). A word that is not UTF-8 is no PID, `self` nor `-`: it is a
    /// directory, a bundle or else a file, whether or not it exists (so that
    /// the error names it).
    ///
    /// ```
    /// use std::ffi::OsStr;
    /// use std::os::unix::ffi::OsStrExt;
    /// use maplens_core::source::Target;
    /// assert_eq!(Target::parse_os(OsStr::new("1234")), Target::Pid(1234));
    /// let odd = OsStr::from_bytes(b"/tmp/no-such-\xff");
    /// assert_eq!(Target::parse_os(odd), Target::File(odd.into()));
    /// ```
    pub fn parse_os(word: &std::ffi::OsStr) -> Target {
        if let Some(w) = word.to_str() {
            return Target::parse(w);
        }
        let p = Path::new(word);
        Target::dir_or_bundle(p).unwrap_or_else(|| Target::File(p.to_owned()))
    }

    /// An existing directory, or a file that starts like a bundle.
    fn dir_or_bundle(p: &Path) -> Option<Target> {
        if p.is_dir() {
            Some(Target::Dir(p.to_owned()))
        } else if p.is_file() && bundle::is_bundle(p) {
            Some(Target::Bundle {
                path: p.to_owned(),
                pid: None,
            })
        } else {
            None
        }
    }
}

/// What to read and how to parse it.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where `/proc` is (a copied tree can stand in for it).
    pub proc_root: PathBuf,
    /// Strict or lenient parsing.
    pub mode: Mode,
    /// Read `smaps` (residency); otherwise `maps` only.
    pub smaps: bool,
    /// Read per-thread `comm` and `syscall`.
    pub threads: bool,
    /// With `threads`, also read each thread's `comm` (its name). The
    /// classification needs only `syscall` (the stack pointer); a command
    /// that shows no thread names can skip one file a thread.
    pub thread_names: bool,
    /// Also read `smaps_rollup` beside `smaps`. Without it, `smaps_rollup`
    /// is read only when there is neither smaps nor maps (a rollup-only
    /// capture): beside regions it adds nothing their sum does not give,
    /// and it costs the kernel a second walk of the address space.
    pub rollup: bool,
    /// Where `/sys` is, for the system facts of a live target
    /// ([`SystemInfo`]).
    pub sys_root: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            proc_root: PathBuf::from("/proc"),
            mode: Mode::Lenient,
            smaps: true,
            threads: false,
            thread_names: true,
            rollup: true,
            sys_root: PathBuf::from("/sys"),
        }
    }
}

/// Why a target could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The process is not there (never was, or exited).
    #[error("{path}: no such process{}", if *.exited { " (it exited while being read)" } else { "" })]
    NoProcess {
        /// The proc directory.
        path: PathBuf,
        /// It was seen and then vanished.
        exited: bool,
    },
    /// The kernel refused.
    #[error("{path}: permission denied: {}", if *.as_root {
        "refused even to root (a security module, a user namespace, or a \
         /proc mounted with hidepid)"
    } else {
        "the process belongs to another user or is not dumpable; run maplens \
         as the same user or as root"
    })]
    PermissionDenied {
        /// The file.
        path: PathBuf,
        /// maplens ran as root (so "run as root" is no advice).
        as_root: bool,
    },
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The text is malformed (strict mode).
    #[error(transparent)]
    Parse(#[from] crate::model::TextError),
    /// No process has that name.
    #[error("no process named '{0}' (names are matched exactly against /proc/PID/comm)")]
    NameNotFound(String),
    /// A word of digits too large for any PID (a word of digits is always
    /// a PID, never a process name; `./N` names a file).
    #[error(
        "no process {0}: larger than any PID (PIDs are below 2^22 on Linux; ./{0} names a file)"
    )]
    PidTooLarge(String),
    /// Several processes have that name.
    #[error("{} processes are named '{name}': {}; give a PID instead", .matches.len(), .matches.iter().map(|(p, c)| format!("{p} ({c})")).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// The name.
        name: String,
        /// PIDs with their command lines.
        matches: Vec<(u32, String)>,
    },
    /// The directory holds neither maps nor smaps.
    #[error("{0}: holds no maps, smaps or smaps_rollup file")]
    EmptyDir(PathBuf),
    /// A live process gave an empty smaps beside a full rollup or maps, or
    /// exec'd between the first and the last file read, three readings in
    /// a row: it keeps replacing its address space as it is read.
    #[error(
        "{0}: the address space changed while it was read, three times (the process \
         keeps exec-ing or is exiting); read it again"
    )]
    Unsteady(PathBuf),
    /// The process exited while it was read and a new process took its
    /// PID (its start time in `stat` changed): what was read may be of
    /// either.
    #[error(
        "{0}: the process exited while it was read and its PID now belongs to another \
         process (a new start time); nothing of it is shown"
    )]
    Reused(PathBuf),
    /// A maps / smaps / smaps_rollup file (or standard input) held no
    /// region: it is some other kind of file.
    #[error(
        "{path}: no memory region found; expected /proc/PID/maps, smaps or smaps_rollup text \
         (lines like `7f0a2c000000-7f0a2c021000 rw-p 00000000 00:00 0`){}",
        .skipped.as_ref().map(|s| format!("; first bad line: {s}")).unwrap_or_default()
    )]
    NoRegions {
        /// The file (`<stdin>` for standard input).
        path: String,
        /// The first line that could not be read, when there was one.
        skipped: Option<String>,
    },
    /// A capture bundle could not be read.
    #[error("{path}: {message}")]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A bundle of several processes was named without a PID.
    #[error(
        "{path} holds {} processes: {}; name one as {path}:PID",
        .pids.len(),
        .pids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    BundleAmbiguous {
        /// The bundle file.
        path: PathBuf,
        /// The PIDs it holds.
        pids: Vec<u32>,
    },
    /// The bundle does not hold that PID.
    #[error(
        "{path} holds no process {pid}; it holds: {}",
        .pids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    BundleNoPid {
        /// The bundle file.
        path: PathBuf,
        /// The PID asked for.
        pid: u32,
        /// The PIDs it holds.
        pids: Vec<u32>,
    },
}

/// Reads a whole file with a large buffer (few syscalls on `/proc`, where a
/// `read` returns as many whole records as fit).
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(256 * 1024);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

fn io_error(path: &Path, e: io::Error, live: bool) -> SourceError {
    match e.kind() {
        io::ErrorKind::PermissionDenied => SourceError::PermissionDenied {
            path: path.to_owned(),
            as_root: rustix::process::geteuid().is_root(),
        },
        io::ErrorKind::NotFound if live => SourceError::NoProcess {
            path: path.parent().unwrap_or(path).to_owned(),
            exited: false,
        },
        _ if live && e.raw_os_error() == Some(3) => SourceError::NoProcess {
            // ESRCH: the task is gone.
            path: path.parent().unwrap_or(path).to_owned(),
            exited: true,
        },
        _ => SourceError::Io {
            path: path.to_owned(),
            source: e,
        },
    }
}

/// Reads `name` in `dir`: `Ok(None)` when the file does not exist (in a
/// copied tree not every file is there, and a kernel without
/// `CONFIG_PROC_PAGE_MONITOR` has no smaps). For a live process, a missing
/// file means the process is gone only if its directory is gone too.
fn read_opt(dir: &Path, name: &str, live: bool) -> Result<Option<Vec<u8>>, SourceError> {
    let p = dir.join(name);
    match read_file(&p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && (!live || dir.is_dir()) => Ok(None),
        Err(e) => Err(io_error(&p, e, live)),
    }
}

/// Bytes per read of a region text: a `/proc` file fills as much of a read
/// as fits, so a few reads of this size cover a whole smaps.
const CHUNK: usize = 256 * 1024;

/// Reads `file` a chunk at a time and hands each chunk to `each`. With
/// `overlap`, a second thread reads while this one works on the chunk
/// before: for a `/proc` file, the kernel's work of printing the text then
/// overlaps the parsing. A few chunks are in flight at most, so memory
/// stays flat however long the text.
fn for_each_chunk(
    file: &mut std::fs::File,
    overlap: bool,
    mut each: impl FnMut(&[u8]) -> Result<(), SourceError>,
    io_err: impl Fn(io::Error) -> SourceError,
) -> Result<(), SourceError> {
    /// Fills `buf` (`/proc` hands out part of a chunk per read); returns
    /// the length read and whether the end was reached.
    fn fill(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => return Ok((filled, true)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((filled, false))
    }
    use std::sync::mpsc;
    let threaded = overlap.then(|| {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize, bool)>>(2);
            let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
            let f = &mut *file;
            let reader = std::thread::Builder::new().spawn_scoped(s, move || {
                loop {
                    let mut buf = back_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                    let r = fill(f, &mut buf);
                    let eof = !matches!(r, Ok((_, false)));
                    if tx.send(r.map(|(n, eof)| (buf, n, eof))).is_err() || eof {
                        return;
                    }
                }
            });
            // No thread to be had (RLIMIT_NPROC): read on this one.
            reader.ok()?;
            Some((|| {
                for chunk in rx.iter() {
                    let (buf, n, eof) = chunk.map_err(&io_err)?;
                    each(&buf[..n])?;
                    if eof {
                        break;
                    }
                    let _ = back_tx.send(buf);
                }
                Ok(())
            })())
        })
    });
    if let Some(Some(r)) = threaded {
        return r;
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let (n, eof) = fill(file, &mut buf).map_err(&io_err)?;
        each(&buf[..n])?;
        if eof {
            return Ok(());
        }
    }
}

/// Parses the region text in `path` into `snap` as it is read, never
/// holding the whole text. `Ok(false)` when the file does not exist (see
/// [`read_opt`]).
fn stream_opt(
    snap: &mut Snapshot,
    path: &Path,
    name: &str,
    live: bool,
    mode: Mode,
) -> Result<bool, SourceError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                && (!live || path.parent().is_some_and(Path::is_dir)) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(io_error(path, e, live)),
    };
    stream(snap, file, path, name, live, mode)?;
    Ok(true)
}

/// Parses the region text of an open file into `snap` as it is read.
fn stream(
    snap: &mut Snapshot,
    mut file: std::fs::File,
    path: &Path,
    name: &str,
    live: bool,
    mode: Mode,
) -> Result<(), SourceError> {
    let mut sink = TextSink::new(name, mode);
    if !live
        && let Ok(m) = file.metadata()
        && m.is_file()
    {
        sink = sink.with_size_hint(usize::try_from(m.len()).unwrap_or(0));
    }
    for_each_chunk(
        &mut file,
        live,
        |chunk| Ok(sink.push(chunk)?),
        |e| io_error(path, e, live),
    )?;
    Ok(sink.finish(snap)?)
}

/// Loads a snapshot of a target.
pub fn load(target: &Target, opts: &Options) -> Result<Snapshot, SourceError> {
    match target {
        Target::Pid(pid) => load_dir(
            &opts.proc_root.join(pid.to_string()),
            Some(*pid),
            true,
            opts,
        ),
        Target::Name(name) if name.bytes().all(|b| b.is_ascii_digit()) => {
            Err(SourceError::PidTooLarge(name.clone()))
        }
        Target::Name(name) => {
            let pid = find_by_name(&opts.proc_root, name)?;
            load_dir(&opts.proc_root.join(pid.to_string()), Some(pid), true, opts)
        }
        Target::Dir(d) => {
            let pid = d
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse().ok());
            load_dir(d, pid, false, opts)
        }
        Target::File(p) => {
            let name = p.display().to_string();
            let mut snap = Snapshot {
                origin: name.clone(),
                ..Snapshot::default()
            };
            let file = std::fs::File::open(p).map_err(|e| io_error(p, e, false))?;
            stream(&mut snap, file, p, &name, false, opts.mode)?;
            nonempty(&name, snap)
        }
        Target::Bundle { path, pid } => {
            let b = Bundle::open(path)?;
            let pid = match pid {
                Some(p) => *p,
                None => b.single_pid()?,
            };
            b.load(pid, opts)
        }
        Target::Stdin => {
            let mut text = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut text)
                .map_err(|e| io_error(Path::new("<stdin>"), e, false))?;
            if bundle::Compression::sniff(&text[..text.len().min(512)]).is_some() {
                // `ssh dev maplens capture 1234 | maplens -`
                let b = Bundle::from_bytes("<stdin>", text)?;
                let pid = b.single_pid()?;
                return b.load(pid, opts);
            }
            from_text_nonempty("<stdin>", &text, opts.mode)
        }
    }
}

/// Parses a text that claims to be maps, smaps or smaps_rollup: one that
/// yields neither a region nor a rollup is an error, not an empty answer
/// (`maplens maps /etc/passwd`, `/dev/null`).
fn from_text_nonempty(name: &str, text: &[u8], mode: Mode) -> Result<Snapshot, SourceError> {
    nonempty(name, Snapshot::from_text(name, text, mode)?)
}

/// The snapshot of a text, or the error of one that held no region.
fn nonempty(name: &str, snap: Snapshot) -> Result<Snapshot, SourceError> {
    if snap.regions.is_empty() && snap.rollup.is_none() {
        let skipped = snap.notices.iter().find_map(|n| match n {
            Notice::SkippedLines { first, .. } => Some(first.clone()),
            _ => None,
        });
        return Err(SourceError::NoRegions {
            path: name.to_owned(),
            skipped,
        });
    }
    Ok(snap)
}

/// Loads a `/proc/PID`-like directory. `live` selects the messages for a
/// running process (exited, permission).
///
/// A live process that execs while it is read can hand out an empty smaps
/// (its old address space already gone) beside a full smaps_rollup or maps
/// (read a moment later, of the new one): that reading is taken again, up
/// to three times, rather than passed off as a rollup-only or maps-only
/// target. If the process
/// still shows no regions, the rollup of another moment is dropped and the
/// answer is what it is for a process without an address space.
pub fn load_dir(
    dir: &Path,
    pid: Option<u32>,
    live: bool,
    opts: &Options,
) -> Result<Snapshot, SourceError> {
    // Torn: smaps came out empty while the process still had memory a
    // moment later (its rollup, or its maps, which the read fell back to).
    // A kernel without smaps has no smaps file: that fallback is not torn.
    // (Asked of `self`, which is there as long as the reader is: the
    // process read may be gone by now, and its smaps with it, though its
    // maps were read.)
    let kernel_has_smaps = || {
        dir.parent()
            .map(|root| root.join("self/smaps"))
            .filter(|p| p.parent().is_some_and(Path::is_dir))
            .map_or_else(|| dir.join("smaps").exists(), |p| p.exists())
    };
    // Or both came out empty from a process that is neither a kernel
    // thread nor a zombie (caught between two address spaces).
    let torn = |s: &Snapshot| {
        live && opts.smaps
            && ((s.regions.is_empty() && s.rollup.is_some())
                || (!s.regions.is_empty()
                    && s.format == Some(crate::parse::Format::Maps)
                    && kernel_has_smaps())
                || (s.regions.is_empty()
                    && std::fs::read(dir.join("stat"))
                        .is_ok_and(|st| !collect::stat_says_no_memory(&st))))
    };
    // An exec between the first and the last file read is Unsteady from
    // load_dir_once: read again too.
    let once = || match load_dir_once(dir, pid, live, opts) {
        Err(SourceError::Unsteady(_)) => Ok(None),
        r => r.map(Some),
    };
    for _ in 0..3 {
        match once()? {
            Some(snap) if !torn(&snap) => return Ok(snap),
            _ => {}
        }
    }
    Err(SourceError::Unsteady(dir.to_owned()))
}

fn load_dir_once(
    dir: &Path,
    pid: Option<u32>,
    live: bool,
    opts: &Options,
) -> Result<Snapshot, SourceError> {
    if live && !dir.exists() {
        return Err(SourceError::NoProcess {
            path: dir.to_owned(),
            exited: false,
        });
    }
    // Which process this is: a PID is reused once its process is gone,
    // and every file is read by its path.
    let born = live.then(|| Identity::read(dir)).flatten();
    let origin = dir.display().to_string();
    let mut snap = Snapshot {
        origin: origin.clone(),
        ..Snapshot::default()
    };
    // The small files are read on a second thread while smaps streams in
    // (for a live process the kernel's printing of smaps is most of the
    // time, and this thread mostly waits for it).
    let side_files = || {
        // smaps_rollup (4.14+) is optional: old kernels do not have it.
        let rollup = (opts.smaps && opts.rollup).then(|| read_opt(dir, "smaps_rollup", false));
        (rollup, read_process(dir, pid, live, opts))
    };
    let (got_regions, (rollup, process)) = std::thread::scope(|s| {
        let side = std::thread::Builder::new().spawn_scoped(s, side_files);
        let got = (|| {
            let mut got = false;
            if opts.smaps {
                got = stream_opt(
                    &mut snap,
                    &dir.join("smaps"),
                    &format!("{origin}/smaps"),
                    live,
                    opts.mode,
                )?;
            }
            if !got {
                got = stream_opt(
                    &mut snap,
                    &dir.join("maps"),
                    &format!("{origin}/maps"),
                    live,
                    opts.mode,
                )?;
            }
            Ok::<_, SourceError>(got)
        })();
        let side = match side {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            // No thread to be had (RLIMIT_NPROC): read them here.
            Err(_) => side_files(),
        };
        (got, side)
    });
    let mut got_regions = got_regions?;
    // Without regions the rollup is all there is (read it now, if it was
    // not read beside smaps).
    let rollup = match rollup {
        None if opts.smaps && !got_regions => Some(read_opt(dir, "smaps_rollup", false)),
        r => r,
    };
    match rollup {
        Some(Ok(Some(text))) if !text.is_empty() => {
            let mut r = Snapshot::default();
            r.add_text(&format!("{origin}/smaps_rollup"), &text, opts.mode)?;
            snap.rollup = r.rollup;
            if !got_regions {
                snap.format = r.format;
            }
            got_regions = true;
        }
        Some(Err(e)) if live => return Err(e),
        _ => {}
    }
    if !got_regions {
        return Err(SourceError::EmptyDir(dir.to_owned()));
    }
    snap.process = process?;
    if live {
        deleted::check_live(dir, &mut snap.regions);
        #[cfg(feature = "elf")]
        {
            snap.elf = elf::read_live(dir, &snap.regions);
        }
        snap.system = Some(SystemInfo::read(&opts.proc_root, &opts.sys_root));
    }
    if live && !dir.exists() {
        return Err(SourceError::NoProcess {
            path: dir.to_owned(),
            exited: true,
        });
    }
    if let Some(born) = born {
        match Identity::read(dir) {
            Some(now) if now == born => {}
            Some(now) if now.start_time == born.start_time => {
                // The same process exec'd: the files read may be of two
                // images (load_dir reads it again).
                return Err(SourceError::Unsteady(dir.to_owned()));
            }
            Some(_) => return Err(SourceError::Reused(dir.to_owned())),
            None => {
                return Err(SourceError::NoProcess {
                    path: dir.to_owned(),
                    exited: true,
                });
            }
        }
    }
    if live && snap.regions.is_empty() && snap.rollup.is_none() {
        snap.notices.push(Notice::Other {
            message: format!(
                "{origin}: no memory regions: a kernel thread, a zombie, or a process that exited \
                 while being read"
            ),
        });
    }
    Ok(snap)
}

/// Which process, and which program image of it, a `/proc/PID` is: from
/// its `stat`, the start time (a new process at the PID has a new one) and
/// where its code and stack begin and end (an exec moves them, with
/// address-space randomisation; 0 for a reader the kernel does not let
/// see them). Read before and after a process's files, it tells whether
/// they are all of one process and one image.
///
/// ```
/// use maplens_core::source::Identity;
/// let stat = b"7 (a b) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0 0 4096 8192 140000 0\n";
/// let id = Identity::of_stat(stat).unwrap();
/// assert_eq!(id.start_time, 4242);
/// assert_eq!(id.image, [4096, 8192, 140000]);
/// assert_eq!(Identity::of_stat(b"garbage"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Field 22, `starttime`, in clock ticks after boot.
    pub start_time: u64,
    /// Fields 26-28: `startcode`, `endcode`, `startstack`.
    pub image: [u64; 3],
}

impl Identity {
    /// From the text of `/proc/PID/stat`.
    pub fn of_stat(stat: &[u8]) -> Option<Identity> {
        let field = |n| collect::stat_number(stat, n);
        Some(Identity {
            start_time: field(22)?,
            image: [field(26)?, field(27)?, field(28)?],
        })
    }

    /// Of the process at `dir` (`/proc/PID`) now; `None` when it is gone.
    pub fn read(dir: &Path) -> Option<Identity> {
        Identity::of_stat(&std::fs::read(dir.join("stat")).ok()?)
    }
}

pub(crate) fn lossy_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b.strip_suffix(b"\n").unwrap_or(b)).into_owned()
}

fn read_process(
    dir: &Path,
    pid: Option<u32>,
    live: bool,
    opts: &Options,
) -> Result<ProcessInfo, SourceError> {
    // These are informative: a missing or unreadable one is not fatal.
    let soft = |name: &str| read_opt(dir, name, false).ok().flatten();
    let mut info = ProcessInfo {
        pid,
        comm: soft("comm").map(|b| lossy_line(&b)),
        cmdline: soft("cmdline")
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        status: soft("status")
            .map(|b| ProcessInfo::parse_status(&b))
            .unwrap_or_default(),
        threads: Vec::new(),
        limits: soft("limits").map(|b| Limit::parse(&b)).unwrap_or_default(),
    };
    if info.pid.is_none() {
        info.pid = info.status("Pid").and_then(|p| p.parse().ok());
    }
    if opts.threads {
        info.threads = read_threads(dir, live, opts.thread_names);
    }
    Ok(info)
}

/// Parses the stack pointer out of `/proc/PID/task/TID/syscall`:
/// `NR a1 a2 a3 a4 a5 a6 SP PC`, or `-1 SP PC` when blocked outside a
/// syscall; `running` gives none.
///
/// ```
/// use maplens_core::source::syscall_sp;
/// assert_eq!(syscall_sp(b"202 0x7f 0x80 0x0 0x0 0x0 0x0 0x7ffc1000 0x7f00\n"), Some(0x7ffc1000));
/// assert_eq!(syscall_sp(b"-1 0x7ffc2000 0x7f00\n"), Some(0x7ffc2000));
/// assert_eq!(syscall_sp(b"running\n"), None);
/// ```
pub fn syscall_sp(text: &[u8]) -> Option<u64> {
    let words: Vec<&[u8]> = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < 3 {
        return None;
    }
    let sp = words[words.len() - 2];
    let sp = sp.strip_prefix(b"0x").unwrap_or(sp);
    u64::from_str_radix(std::str::from_utf8(sp).ok()?, 16).ok()
}

fn read_threads(dir: &Path, live: bool, names: bool) -> Vec<ThreadInfo> {
    let Ok(rd) = std::fs::read_dir(dir.join("task")) else {
        return Vec::new();
    };
    let mut tids: Vec<u32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    tids.into_iter()
        .map(|tid| {
            let t = dir.join("task").join(tid.to_string());
            let comm = names
                .then(|| read_file(&t.join("comm")).ok().map(|b| lossy_line(&b)))
                .flatten();
            let mut syscall = read_file(&t.join("syscall")).ok();
            // A running thread has no stable stack pointer; ask again.
            let mut tries = 0;
            while live
                && tries < 5
                && syscall
                    .as_deref()
                    .is_some_and(|s| s.starts_with(b"running"))
            {
                std::thread::yield_now();
                syscall = read_file(&t.join("syscall")).ok();
                tries += 1;
            }
            ThreadInfo {
                tid,
                comm,
                sp: syscall.as_deref().and_then(syscall_sp),
                syscall: syscall.map(|b| lossy_line(&b)),
            }
        })
        .collect()
}

/// Lists the PIDs under a proc root, ascending.
pub fn list_pids(proc_root: &Path) -> io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_root)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Finds the one process whose `comm` is exactly `name`.
pub fn find_by_name(proc_root: &Path, name: &str) -> Result<u32, SourceError> {
    let pids = list_pids(proc_root).map_err(|e| io_error(proc_root, e, false))?;
    let mut matches = Vec::new();
    for pid in pids {
        let dir = proc_root.join(pid.to_string());
        let Ok(comm) = read_file(&dir.join("comm")) else {
            continue;
        };
        if lossy_line(&comm) == name {
            let cmd = read_file(&dir.join("cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .replace('\0', " ")
                        .trim()
                        .to_owned()
                })
                .unwrap_or_default();
            matches.push((pid, cmd));
        }
    }
    match matches.len() {
        0 => Err(SourceError::NameNotFound(name.to_owned())),
        1 => Ok(matches[0].0),
        _ => Err(SourceError::Ambiguous {
            name: name.to_owned(),
            matches,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{classify, report};

    const SMAPS: &[u8] = b"7f0000000000-7f0000001000 rw-p 00000000 00:00 0\nRss: 4 kB\nPss: 4 kB\n";
    const ROLLUP: &[u8] =
        b"00400000-7fff00000000 ---p 00000000 00:00 0 [rollup]\nRss: 8 kB\nPss: 6 kB\n";

    /// A `/proc/PID`-like directory holding these files.
    fn dir_of(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let d = std::env::temp_dir().join(format!("maplens-source-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        for (f, text) in files {
            std::fs::write(d.join(f), text).expect("write");
        }
        d
    }

    #[test]
    fn the_rollup_is_read_beside_regions_only_when_asked() {
        let both = dir_of("both", &[("smaps", SMAPS), ("smaps_rollup", ROLLUP)]);
        let only = dir_of("only", &[("smaps_rollup", ROLLUP)]);
        let without = Options {
            rollup: false,
            ..Options::default()
        };
        // Beside regions: read only when asked, and never in the report.
        let s = load_dir(&both, None, false, &without).expect("both");
        assert_eq!((s.regions.len(), s.rollup.is_some()), (1, false));
        let s = load_dir(&both, None, false, &Options::default()).expect("both");
        assert!(s.rollup.is_some());
        let r = report(&s, &classify(&s));
        assert_eq!(r.totals.rollup, None);
        assert_eq!(r.totals.usage.rss, Some(4096));
        // Without regions the rollup is all there is, asked or not.
        let s = load_dir(&only, None, false, &without).expect("rollup only");
        assert!(s.regions.is_empty() && s.rollup.is_some());
        let r = report(&s, &classify(&s));
        assert_eq!(r.totals.rollup.as_ref().and_then(|u| u.rss), Some(8192));
        assert_eq!(r.totals.usage.pss, Some(6144));
        for d in [both, only] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn thread_names_are_read_only_when_asked() {
        let d = dir_of("threads", &[("smaps", SMAPS)]);
        let t = d.join("task/42");
        std::fs::create_dir_all(&t).expect("task dir");
        std::fs::write(t.join("comm"), b"worker\n").expect("comm");
        std::fs::write(t.join("syscall"), b"-1 0x7f0000000800 0x7f00\n").expect("syscall");
        let mut opts = Options {
            threads: true,
            ..Options::default()
        };
        let s = load_dir(&d, None, false, &opts).expect("load");
        assert_eq!(s.process.threads[0].comm.as_deref(), Some("worker"));
        opts.thread_names = false;
        let s = load_dir(&d, None, false, &opts).expect("load");
        let th = &s.process.threads[0];
        assert_eq!(
            (th.tid, th.comm.as_deref(), th.sp),
            (42, None, Some(0x7f00_0000_0800))
        );
        let _ = std::fs::remove_dir_all(d);
    }
}
