//! Writing capture bundles: the raw kernel text of processes, streamed
//! into one tar (optionally gzip or zstd), for `maplens capture`.
//!
//! The bundle is streamed: each file is read into one reused buffer, written
//! to the tar (which needs its size first) and forgotten, so peak memory is
//! the largest single smaps. Processes that vanish or refuse mid-capture are
//! skipped and listed in the trailer. The layout (see
//! `maplens_core::source::bundle`) is a superset of smem's `smemcap`, so
//! `smem -S cap.tar` reads it too.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use maplens_core::model::SystemInfo;
use maplens_core::source::{self, bundle};

/// Bundle compression.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    /// A plain tar.
    None,
    /// gzip (fast level).
    Gzip,
    /// zstd (ruzstd's fastest level, about zstd -1).
    Zstd,
}

/// What to capture and where: the options of `maplens capture`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// PIDs (or `self`, or exact process names).
    pub targets: Vec<String>,
    /// Every process.
    pub all: bool,
    /// The bundle file; standard output when `None` or `-`.
    pub output: Option<PathBuf>,
    /// smaps_rollup instead of smaps.
    pub light: bool,
    /// Compression; from the output's name when `None`.
    pub compress: Option<Compress>,
    /// Leave out per-thread files.
    pub no_threads: bool,
    /// A copy of /proc to read instead.
    pub proc_root: Option<PathBuf>,
    /// No summary line on standard error.
    pub quiet: bool,
}

/// Writes the bundle the plan asks for.
pub fn write(args: &Plan) -> anyhow::Result<()> {
    if !args.all && args.targets.is_empty() {
        bail!("name the PIDs to capture, or give --all");
    }
    let root = args
        .proc_root
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc"));
    let pids = if args.all {
        source::list_pids(&root)
            .with_context(|| format!("{}: listing processes", root.display()))?
    } else {
        let mut v = Vec::new();
        for t in &args.targets {
            v.push(resolve(&root, t)?);
        }
        // A process named on the command line that is not there: say so
        // before anything is written (a bundle of nothing is no answer).
        let gone: Vec<String> = v
            .iter()
            .map(|p| root.join(p.to_string()))
            .filter(|d| !d.is_dir())
            .map(|d| d.display().to_string())
            .collect();
        if gone.len() == v.len() {
            bail!("{}: no such process; nothing was captured", gone.join(", "));
        }
        v
    };
    let to_stdout = args.output.as_deref().is_none_or(|p| p == Path::new("-"));
    let compress = args.compress.unwrap_or_else(|| {
        let name = args
            .output
            .as_deref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".gz") || name.ends_with(".tgz") {
            Compress::Gzip
        } else if name.ends_with(".zst") || name.ends_with(".tzst") {
            Compress::Zstd
        } else {
            Compress::None
        }
    });
    // A file is written under a temporary name beside it and renamed when
    // complete: a failed capture leaves nothing (and an older file as it was).
    let mut partial_file = None;
    let sink: File = if to_stdout {
        use std::io::IsTerminal;
        if io::stdout().is_terminal() {
            bail!("will not write a tar to a terminal: give -o FILE or redirect standard output");
        }
        File::from(rustix::io::dup(io::stdout()).context("standard output")?)
    } else {
        let p = args.output.as_deref().unwrap_or(Path::new("-"));
        let tmp = Unfinished::beside(p);
        let f = File::create(&tmp.0).with_context(|| format!("{}: cannot create", p.display()))?;
        partial_file = Some(tmp);
        f
    };
    let out = Output::new(sink, compress)?;
    let mut cap = Capture {
        tar: tar::Builder::new(out),
        root,
        buf: Vec::with_capacity(64 * 1024),
        spill: None,
        mtime: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        light: args.light,
        threads: !args.no_threads,
    };
    let started = Instant::now();
    cap.write_text(bundle::MANIFEST, manifest(args, &cap).as_bytes())
        .context("writing the bundle")?;
    // What a report and its findings read of the system (SystemInfo), so
    // that the bundle gives the live answer.
    for name in std::iter::once("version").chain(SystemInfo::FILES) {
        let p = SystemInfo::live_path(&cap.root, Path::new("/sys"), name);
        if cap.read(&p).is_ok() {
            cap.write_buf(name).context("writing the bundle")?;
        }
    }
    let mut captured = Vec::new();
    let mut skipped: Vec<(u32, String)> = Vec::new();
    let mut partial: Vec<(u32, String)> = Vec::new();
    let mut kernel_threads = 0usize;
    for &pid in &pids {
        match cap.process(pid, !args.all) {
            Ok(None) => captured.push(pid),
            Ok(Some(why)) => {
                captured.push(pid);
                partial.push((pid, why));
            }
            Err(Skip::KernelThread) => kernel_threads += 1,
            Err(Skip::Because(why)) => skipped.push((pid, why)),
            Err(Skip::Output(e)) => return Err(output_error(e)),
        }
    }
    let list = |v: &[(u32, String)]| {
        v.iter()
            .map(|(p, w)| format!("{p} ({w})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let end = format!(
        "captured: {}\ncaptured_pids: {}\nskipped: {}\npartial: {}\nkernel_threads: {kernel_threads}\n\
         elapsed_ms: {}\n",
        captured.len(),
        captured
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        list(&skipped),
        list(&partial),
        started.elapsed().as_millis(),
    );
    cap.write_text(bundle::END, end.as_bytes())
        .map_err(output_error)?;
    let out = cap.tar.into_inner().map_err(output_error)?;
    out.finish().map_err(output_error)?;
    if captured.is_empty() {
        // Dropping `partial_file` removes it.
        bail!(
            "no process was captured{}",
            if skipped.is_empty() {
                String::new()
            } else {
                format!(": skipped {}", list(&skipped))
            }
        );
    }
    if let (Some(tmp), Some(dest)) = (partial_file, args.output.as_deref()) {
        tmp.finish(dest)?;
    }
    if !args.quiet {
        eprintln!(
            "maplens: captured {}{}{}",
            crate::render::count(captured.len() as u64, "process", "processes"),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped {}: {}", skipped.len(), list(&skipped))
            },
            if kernel_threads > 0 {
                format!(
                    "; {} left out",
                    crate::render::count(kernel_threads as u64, "kernel thread", "kernel threads")
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// A bundle file being written under a temporary name; removed when dropped
/// unless [`Unfinished::finish`] renamed it to its destination.
struct Unfinished(PathBuf);

impl Unfinished {
    /// `DIR/.NAME.maplens-PID.tmp` for `DIR/NAME`: the same file system, so
    /// that the rename is atomic.
    fn beside(dest: &Path) -> Unfinished {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = format!(".{name}.maplens-{}.tmp", std::process::id());
        Unfinished(dest.with_file_name(tmp))
    }

    fn finish(self, dest: &Path) -> anyhow::Result<()> {
        std::fs::rename(&self.0, dest)
            .with_context(|| format!("{}: cannot create", dest.display()))?;
        std::mem::forget(self);
        Ok(())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn output_error(e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        anyhow::anyhow!("the output was closed before the bundle was complete")
    } else {
        anyhow::Error::new(e).context("writing the bundle")
    }
}

fn resolve(root: &Path, word: &str) -> anyhow::Result<u32> {
    if word == "self" {
        return Ok(std::process::id());
    }
    if let Ok(pid) = word.parse() {
        return Ok(pid);
    }
    Ok(source::find_by_name(root, word)?)
}

/// `key: value` lines: what, when, where.
fn manifest(args: &Plan, cap: &Capture<Output>) -> String {
    let u = rustix::system::uname();
    let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
    let max_map_count = std::fs::read_to_string(cap.root.join("sys/vm/max_map_count"))
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    format!(
        "format: {}\nmaplens: {}\ntime: {}\nunix_time: {}\nhost: {}\nkernel: {}\n\
         kernel_version: {}\nmachine: {}\npage_size: {}\nmax_map_count: {}\nmode: {}\n\
         threads: {}\nproc_root: {}\nrequested: {}\n",
        bundle::FORMAT,
        env!("CARGO_PKG_VERSION"),
        iso8601(cap.mtime),
        cap.mtime,
        s(u.nodename()),
        s(u.release()),
        s(u.version()),
        s(u.machine()),
        rustix::param::page_size(),
        max_map_count,
        if args.light { "light" } else { "smaps" },
        if cap.threads { "yes" } else { "no" },
        cap.root.display(),
        if args.all {
            "all".to_owned()
        } else {
            args.targets.join(" ")
        },
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (UTC; days to civil date after
/// H. Hinnant).
fn iso8601(t: u64) -> String {
    let days = (t / 86400) as i64;
    let secs = t % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Files up to this size are held in memory while written; larger ones go
/// through a temporary file.
const IN_MEMORY: usize = 1 << 20;

/// A fresh temporary file, already unlinked.
fn spool_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let p = std::env::temp_dir().join(format!(
        "maplens-capture-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)?;
    std::fs::remove_file(&p)?;
    Ok(f)
}

/// Why a process is not in the bundle.
enum Skip {
    /// No memory map (kernel thread or zombie), not asked for by PID.
    KernelThread,
    /// Exited, refused, …
    Because(String),
    /// Writing failed: stop.
    Output(io::Error),
}

struct Capture<W: Write> {
    tar: tar::Builder<W>,
    root: PathBuf,
    /// One buffer for every file read, up to [`IN_MEMORY`] bytes.
    buf: Vec<u8>,
    /// A file too large for `buf`, spooled to an unlinked temporary file:
    /// (file, length).
    spill: Option<(File, u64)>,
    mtime: u64,
    light: bool,
    threads: bool,
}

fn why(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "exited".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ if e.raw_os_error() == Some(3) => "exited".into(),
        _ => e.to_string(),
    }
}

impl<W: Write> Capture<W> {
    /// Reads a whole file: into `buf`, or past [`IN_MEMORY`] bytes into a
    /// temporary file, so that memory stays small whatever the smaps size
    /// (a process with 60 000 mappings has a 45 MB smaps).
    fn read(&mut self, p: &Path) -> io::Result<()> {
        self.buf.clear();
        self.spill = None;
        let mut f = File::open(p)?;
        loop {
            if self.buf.len() >= IN_MEMORY {
                break;
            }
            self.buf.reserve(64 * 1024);
            let room = (IN_MEMORY - self.buf.len()).min(256 * 1024);
            let n = (&mut f).take(room as u64).read_to_end(&mut self.buf)?;
            if n == 0 {
                return Ok(());
            }
        }
        match spool_file() {
            Ok(mut tmp) => {
                tmp.write_all(&self.buf)?;
                let rest = io::copy(&mut f, &mut tmp)?;
                tmp.flush()?;
                let len = self.buf.len() as u64 + rest;
                tmp.rewind()?;
                self.buf.clear();
                self.buf.shrink_to(IN_MEMORY);
                self.spill = Some((tmp, len));
            }
            // No writable temporary directory: hold it in memory.
            Err(_) => {
                f.read_to_end(&mut self.buf)?;
            }
        }
        Ok(())
    }

    fn header(&self, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(self.mtime);
        h
    }

    fn write_file(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let mut h = self.header(data.len() as u64, 0o444);
        self.tar.append_data(&mut h, name, data)
    }

    fn write_text(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.write_file(name, data)
    }

    /// Writes what was last read as `name`.
    fn write_buf(&mut self, name: &str) -> io::Result<()> {
        if let Some((f, len)) = self.spill.take() {
            let mut h = self.header(len, 0o444);
            return self.tar.append_data(&mut h, name, f.take(len));
        }
        let data = std::mem::take(&mut self.buf);
        let r = self.write_file(name, &data);
        self.buf = data;
        r
    }

    /// Captures one process. `Ok(Some(why))`: partly (it went away after its
    /// memory map was saved).
    fn process(&mut self, pid: u32, asked: bool) -> Result<Option<String>, Skip> {
        use std::os::unix::fs::MetadataExt;
        let dir = self.root.join(pid.to_string());
        let meta = std::fs::metadata(&dir).map_err(|e| Skip::Because(why(&e)))?;
        let main = if self.light { "smaps_rollup" } else { "smaps" };
        self.read(&dir.join(main))
            .map_err(|e| Skip::Because(why(&e)))?;
        if self.buf.is_empty() && self.spill.is_none() && !asked {
            return Err(Skip::KernelThread);
        }
        // smemcap's directory entry: smem -S takes the owner from it.
        let mut h = self.header(0, 0o555);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_uid(u64::from(meta.uid()));
        h.set_gid(u64::from(meta.gid()));
        self.tar
            .append_data(&mut h, format!("{pid}/"), io::empty())
            .map_err(Skip::Output)?;
        self.write_buf(&format!("{pid}/{main}"))
            .map_err(Skip::Output)?;
        let mut partial = None;
        // smaps_rollup (4.14+) is optional: old kernels do not have it.
        let rest: &[&str] = if self.light {
            &["maps", "status", "cmdline", "comm", "stat", "limits"]
        } else {
            &[
                "smaps_rollup",
                "maps",
                "status",
                "cmdline",
                "comm",
                "stat",
                "limits",
            ]
        };
        for &name in rest {
            match self.read(&dir.join(name)) {
                Ok(()) => self
                    .write_buf(&format!("{pid}/{name}"))
                    .map_err(Skip::Output)?,
                Err(e) if name == "smaps_rollup" && e.kind() == io::ErrorKind::NotFound => {}
                // Informative only (a live read ignores it too).
                Err(_) if name == "limits" => {}
                Err(e) => {
                    partial.get_or_insert_with(|| format!("{name}: {}", why(&e)));
                }
            }
        }
        // Whether a name ending in " (deleted)" is the kernel's mark or the
        // file's name: only the live file system can say.
        if let Ok(Some(rec)) = source::deleted::capture_record(&dir) {
            self.write_file(&format!("{pid}/{}", source::deleted::RECORD), &rec)
                .map_err(Skip::Output)?;
        }
        // The program headers of the mapped objects (a few hundred bytes
        // each), so that a bundle tells segments apart as exactly as live.
        #[cfg(feature = "elf")]
        if let Ok(Some(rec)) = source::elf::capture_record(&dir) {
            self.write_file(&format!("{pid}/{}", source::elf::RECORD), &rec)
                .map_err(Skip::Output)?;
        }
        if self.threads && partial.is_none() {
            let tids: Vec<u32> = match std::fs::read_dir(dir.join("task")) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect(),
                Err(_) => Vec::new(),
            };
            let mut tids = tids;
            tids.sort_unstable();
            for tid in tids {
                let t = dir.join("task").join(tid.to_string());
                if self.read(&t.join("comm")).is_ok() {
                    self.write_buf(&format!("{pid}/task/{tid}/comm"))
                        .map_err(Skip::Output)?;
                }
                // A running thread has no stable stack pointer: ask again,
                // as a live read does.
                let mut ok = self.read(&t.join("syscall")).is_ok();
                let mut tries = 0;
                while ok && tries < 5 && self.buf.starts_with(b"running") {
                    std::thread::yield_now();
                    ok = self.read(&t.join("syscall")).is_ok();
                    tries += 1;
                }
                if ok {
                    self.write_buf(&format!("{pid}/task/{tid}/syscall"))
                        .map_err(Skip::Output)?;
                }
            }
        }
        Ok(partial)
    }
}

/// The bundle's byte sink: plain, gzip, or zstd through a compressor thread.
enum Output {
    Plain(BufWriter<File>),
    #[cfg(feature = "gzip")]
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    #[cfg(feature = "zstd")]
    Zstd {
        pipe: BufWriter<ChunkWriter>,
        worker: std::thread::JoinHandle<io::Result<()>>,
    },
}

impl Output {
    fn new(sink: File, how: Compress) -> anyhow::Result<Output> {
        let sink = BufWriter::with_capacity(64 * 1024, sink);
        Ok(match how {
            Compress::None => Output::Plain(sink),
            #[cfg(feature = "gzip")]
            Compress::Gzip => Output::Gzip(flate2::write::GzEncoder::new(
                sink,
                flate2::Compression::fast(),
            )),
            #[cfg(feature = "zstd")]
            Compress::Zstd => {
                // ruzstd's compressor pulls from a reader: feed it chunks
                // through a short bounded channel from this thread. Its drain
                // must not fail (it unwraps write errors), so the drain keeps
                // the first error instead.
                let (tx, rx) = std::sync::mpsc::sync_channel(2);
                let reader = ChunkReader {
                    rx,
                    chunk: Vec::new(),
                    at: 0,
                };
                let writer = ChunkWriter { tx };
                let worker = std::thread::spawn(move || {
                    let mut drain = KeepError {
                        inner: sink,
                        error: None,
                    };
                    let mut c = ruzstd::encoding::FrameCompressor::new(
                        ruzstd::encoding::CompressionLevel::Fastest,
                    );
                    c.set_source(reader);
                    c.set_drain(&mut drain);
                    c.compress();
                    drop(c);
                    match drain.error {
                        Some(e) => Err(e),
                        None => drain.inner.flush(),
                    }
                });
                Output::Zstd {
                    pipe: BufWriter::with_capacity(64 * 1024, writer),
                    worker,
                }
            }
            #[allow(unreachable_patterns)]
            other => bail!("{other:?} compression is not in this build of maplens"),
        })
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Output::Plain(mut w) => w.flush(),
            #[cfg(feature = "gzip")]
            Output::Gzip(z) => z.finish()?.flush(),
            #[cfg(feature = "zstd")]
            Output::Zstd { pipe, worker } => {
                // Closing the pipe ends the compressor's input.
                let w = pipe.into_inner().map_err(|e| e.into_error())?;
                drop(w);
                worker
                    .join()
                    .map_err(|_| io::Error::other("the zstd compressor panicked"))?
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Plain(w) => w.write(buf),
            #[cfg(feature = "gzip")]
            Output::Gzip(w) => w.write(buf),
            #[cfg(feature = "zstd")]
            Output::Zstd { pipe, .. } => pipe.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Plain(w) => w.flush(),
            #[cfg(feature = "gzip")]
            Output::Gzip(w) => w.flush(),
            #[cfg(feature = "zstd")]
            Output::Zstd { pipe, .. } => pipe.flush(),
        }
    }
}

/// The sending end of the compressor's input.
#[cfg(feature = "zstd")]
struct ChunkWriter {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
}

#[cfg(feature = "zstd")]
impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.send(buf.to_vec()).map_err(|_| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the zstd compressor stopped")
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The compressor's input: chunks until the sender is dropped.
#[cfg(feature = "zstd")]
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

#[cfg(feature = "zstd")]
impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A writer that never fails: it keeps the first error and drops the rest.
#[cfg(feature = "zstd")]
struct KeepError<W> {
    inner: W,
    error: Option<io::Error>,
}

#[cfg(feature = "zstd")]
impl<W: Write> Write for KeepError<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none()
            && let Err(e) = self.inner.write_all(buf)
        {
            self.error = Some(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
