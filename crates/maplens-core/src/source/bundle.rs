//! Capture bundles: a tar (plain, gzip or zstd) of raw `/proc` text, as
//! written by `maplens capture` or by smem's `smemcap`.
//!
//! Layout (names relative to the archive root; a leading `./`, `/` or
//! `proc/` is ignored, as is one wrapping directory):
//!
//! ```text
//! PID/                      directory entry: its uid/gid are the process owner's
//! PID/smaps                 or PID/smaps_rollup (maplens capture --light)
//! PID/maps  PID/status  PID/cmdline  PID/comm  PID/stat
//! PID/task/TID/comm  PID/task/TID/syscall
//! PID/limits                /proc/PID/limits
//! PID/maplens-deleted.txt   what each ` (deleted)` suffix means (`source::deleted`)
//! PID/maplens-elf.json      program headers of the mapped ELF objects (`source::elf`)
//! meminfo  version          /proc/meminfo and /proc/version
//! sys/vm/max_map_count      /proc/sys/vm/max_map_count
//! sysfs/kernel/mm/transparent_hugepage/enabled   /sys/kernel/mm/…/enabled
//! maplens-manifest.txt      `key: value` lines written first (time, host, …)
//! maplens-end.txt           `key: value` lines written last (what was skipped)
//! ```
//!
//! smemcap writes `PID/`, `PID/smaps`, `PID/cmdline`, `PID/stat`, `meminfo`
//! and `version`; every one of those is read the same way here, so a
//! smemcap tarball is a bundle with no manifest.
//!
//! Reading keeps memory small: only an index of names, offsets and sizes is
//! kept, and each file is read again from the archive when asked for. A
//! compressed bundle is decompressed once into an unlinked temporary file
//! (or into memory when no temporary directory is writable).
//!
//! Snapshots are built with [`Snapshot::add_text`], the same path as live
//! reads, so a bundle gives exactly the numbers the live process gave.

use std::collections::BTreeMap;
use std::fs::File;
#[cfg(feature = "zstd")]
use std::io::BufRead;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::{Limit, Notice, ProcessInfo, Snapshot, SystemInfo, ThreadInfo};

use super::{Options, SourceError, lossy_line, syscall_sp};

/// Name of the manifest `maplens capture` writes first.
pub const MANIFEST: &str = "maplens-manifest.txt";
/// Name of the trailer `maplens capture` writes last.
pub const END: &str = "maplens-end.txt";
/// Value of the manifest's `format` key.
pub const FORMAT: &str = "maplens-capture 1";

/// How a bundle's bytes are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Recognises a bundle by its first bytes (at least 262 for a plain tar:
    /// `ustar` at offset 257). `None` when it is not a bundle.
    ///
    /// ```
    /// use maplens_core::source::bundle::Compression;
    /// assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Some(Compression::Gzip));
    /// assert_eq!(Compression::sniff(b"00400000-00401000 r-xp"), None);
    /// ```
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// True when the file at `path` starts like a bundle (tar, gzip or zstd).
pub fn is_bundle(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    Compression::sniff(&head[..n]).is_some()
}

/// The `key: value` lines of a bundle's manifest and trailer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The pairs, in file order (manifest, then trailer).
    pub fields: Vec<(String, String)>,
}

impl Manifest {
    /// Parses `key: value` lines (other lines are ignored).
    ///
    /// ```
    /// use maplens_core::source::bundle::Manifest;
    /// let m = Manifest::parse(b"format: maplens-capture 1\npage_size: 4096\n");
    /// assert_eq!(m.get("page_size"), Some("4096"));
    /// ```
    pub fn parse(text: &[u8]) -> Manifest {
        Manifest {
            fields: ProcessInfo::parse_status(text),
        }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Owner of a captured process, from its `PID/` directory entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// User name, when the archive recorded one.
    pub user: Option<String>,
    /// Group name, when the archive recorded one.
    pub group: Option<String>,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    offset: u64,
    size: u64,
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// An opened bundle: an index of its files, read on demand.
pub struct Bundle {
    path: PathBuf,
    compression: Compression,
    data: Mutex<Box<dyn ReadSeek>>,
    files: BTreeMap<String, Span>,
    owners: BTreeMap<u32, Owner>,
    pids: Vec<u32>,
    manifest: Option<Manifest>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("path", &self.path)
            .field("compression", &self.compression)
            .field("files", &self.files.len())
            .field("pids", &self.pids)
            .finish()
    }
}

fn bad(path: &Path, message: impl Into<String>) -> SourceError {
    SourceError::Bundle {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// An error of the tar reader, in one line: it quotes the bytes of the
/// header field it could not read, which may hold anything (a control byte
/// there shows as `?`; the message is escaped again where it is printed).
fn tar_err(path: &Path, e: &io::Error) -> SourceError {
    let text: String = e
        .to_string()
        .chars()
        .map(|c| {
            if c.is_control() || crate::text::is_hazard(c) {
                '?'
            } else {
                c
            }
        })
        .collect();
    bad(path, format!("reading the tar: {text}"))
}

fn io_err(path: &Path, e: io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_owned(),
        source: e,
    }
}

/// A fresh temporary file, already unlinked (it lives as long as the handle).
fn spool_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "maplens-bundle-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let p = std::env::temp_dir().join(name);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)?;
    std::fs::remove_file(&p)?;
    Ok(f)
}

/// The most a compressed bundle of `compressed` bytes may decompress to:
/// 256 times its size, at least 64 MiB, at most 16 GiB.
///
/// Text from `/proc` compresses 8–30 times (the real captures among the
/// test fixtures, with `gzip -9`), so no real capture comes near the bound; a decompression bomb (a few KiB that inflate to terabytes)
/// stops at it with an error instead of filling the temporary directory.
///
/// ```
/// use maplens_core::source::bundle::inflate_limit;
/// assert_eq!(inflate_limit(1_000), 64 << 20);
/// assert_eq!(inflate_limit(1 << 20), 256 << 20);
/// assert_eq!(inflate_limit(1 << 40), 16 << 30);
/// ```
pub fn inflate_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(256).clamp(64 << 20, 16 << 30)
}

/// A writer that fails once more than `left` bytes were written to it.
struct Capped<'w, W> {
    out: &'w mut W,
    left: u64,
    limit: u64,
}

impl<W: io::Write> io::Write for Capped<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(format!(
                "decompresses to more than {} MiB, over 256 times its own size: \
                 not a capture bundle (a decompression bomb?)",
                self.limit >> 20
            )));
        }
        let n = self.out.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Decompresses `src` (all frames / members, `compressed` bytes) into
/// `out`, up to [`inflate_limit`].
fn decompress(
    compression: Compression,
    src: impl Read,
    compressed: u64,
    out: &mut impl io::Write,
) -> Result<(), String> {
    let limit = inflate_limit(compressed);
    let out = &mut Capped {
        out,
        left: limit,
        limit,
    };
    match compression {
        Compression::None => {
            let mut src = src;
            io::copy(&mut src, out).map_err(|e| e.to_string())?;
            Ok(())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => {
            let mut d = flate2::read::MultiGzDecoder::new(src);
            io::copy(&mut d, out).map_err(|e| format!("gzip: {e}"))?;
            Ok(())
        }
        #[cfg(feature = "zstd")]
        Compression::Zstd => {
            let mut r = BufReader::new(src);
            loop {
                if r.fill_buf().map_err(|e| e.to_string())?.is_empty() {
                    return Ok(());
                }
                let mut d = ruzstd::decoding::StreamingDecoder::new(&mut r)
                    .map_err(|e| format!("zstd: {e}"))?;
                io::copy(&mut d, out).map_err(|e| format!("zstd: {e}"))?;
            }
        }
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "{other:?}-compressed bundle, but this maplens was built without that feature; \
             decompress it first"
        )),
    }
}

/// Strips what does not belong to the bundle's own names: `./`, `/`,
/// `proc/`.
fn normalize(name: &str) -> &str {
    let mut n = name;
    loop {
        let before = n;
        n = n.trim_start_matches("./").trim_start_matches('/');
        if let Some(rest) = n.strip_prefix("proc/") {
            n = rest;
        }
        if n == before {
            return n.trim_end_matches('/');
        }
    }
}

fn is_pid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Bundle {
    /// Opens a bundle file: a tar, optionally gzip- or zstd-compressed
    /// (detected by magic, not by name).
    pub fn open(path: &Path) -> Result<Bundle, SourceError> {
        let mut f = File::open(path).map_err(|e| io_err(path, e))?;
        let mut head = [0u8; 512];
        let n = read_head(&mut f, &mut head).map_err(|e| io_err(path, e))?;
        let compression = Compression::sniff(&head[..n])
            .ok_or_else(|| bad(path, "not a tar, gzip or zstd file"))?;
        f.seek(SeekFrom::Start(0)).map_err(|e| io_err(path, e))?;
        let size = f.metadata().map_err(|e| io_err(path, e))?.len();
        let data: Box<dyn ReadSeek> = if compression == Compression::None {
            Box::new(f)
        } else {
            match spool_file() {
                Ok(mut tmp) => {
                    decompress(compression, BufReader::new(f), size, &mut tmp)
                        .map_err(|m| bad(path, m))?;
                    tmp.seek(SeekFrom::Start(0)).map_err(|e| io_err(path, e))?;
                    Box::new(tmp)
                }
                Err(_) => {
                    let mut v = Vec::new();
                    decompress(compression, BufReader::new(f), size, &mut v)
                        .map_err(|m| bad(path, m))?;
                    Box::new(Cursor::new(v))
                }
            }
        };
        Bundle::index(path, compression, data)
    }

    /// A bundle held in memory (`name` is used in messages and origins).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Bundle, SourceError> {
        let path = Path::new(name);
        let compression = Compression::sniff(&bytes[..bytes.len().min(512)])
            .ok_or_else(|| bad(path, "not a tar, gzip or zstd stream"))?;
        let data = if compression == Compression::None {
            bytes
        } else {
            let mut v = Vec::new();
            decompress(compression, &bytes[..], bytes.len() as u64, &mut v)
                .map_err(|m| bad(path, m))?;
            v
        };
        Bundle::index(path, compression, Box::new(Cursor::new(data)))
    }

    fn index(
        path: &Path,
        compression: Compression,
        mut data: Box<dyn ReadSeek>,
    ) -> Result<Bundle, SourceError> {
        let mut files = BTreeMap::new();
        let mut dirs: BTreeMap<String, Owner> = BTreeMap::new();
        {
            let mut ar = tar::Archive::new(&mut data);
            let entries = ar.entries_with_seek().map_err(|e| tar_err(path, &e))?;
            for entry in entries {
                let entry = entry.map_err(|e| tar_err(path, &e))?;
                let raw = entry.path_bytes();
                let name = String::from_utf8_lossy(&raw).into_owned();
                let h = entry.header();
                let kind = h.entry_type();
                if kind.is_dir() {
                    dirs.insert(
                        normalize(&name).to_owned(),
                        Owner {
                            uid: h.uid().unwrap_or(0),
                            gid: h.gid().unwrap_or(0),
                            user: h
                                .username()
                                .ok()
                                .flatten()
                                .filter(|u| !u.is_empty())
                                .map(str::to_owned),
                            group: h
                                .groupname()
                                .ok()
                                .flatten()
                                .filter(|u| !u.is_empty())
                                .map(str::to_owned),
                        },
                    );
                } else if kind.is_file() || kind == tar::EntryType::Continuous {
                    files.insert(
                        normalize(&name).to_owned(),
                        Span {
                            offset: entry.raw_file_position(),
                            size: entry.size(),
                        },
                    );
                }
            }
        }
        // One wrapping directory (`tar cf cap.tar cap/`): strip it.
        let top_is_pid = files
            .keys()
            .any(|k| k.split('/').next().is_some_and(is_pid));
        if !top_is_pid && !files.contains_key("meminfo") {
            let first = files.keys().next().and_then(|k| k.split_once('/'));
            if let Some((wrap, _)) = first {
                let prefix = format!("{wrap}/");
                if files.keys().all(|k| k.starts_with(&prefix)) {
                    files = files
                        .into_iter()
                        .map(|(k, v)| (normalize(&k[prefix.len()..]).to_owned(), v))
                        .collect();
                    dirs = dirs
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), v)))
                        .collect();
                }
            }
        }
        let mut pids: Vec<u32> = files
            .keys()
            .filter_map(|k| {
                let (pid, rest) = k.split_once('/')?;
                matches!(rest, "smaps" | "maps" | "smaps_rollup")
                    .then(|| pid.parse().ok())
                    .flatten()
            })
            .collect();
        pids.dedup();
        pids.sort_unstable();
        pids.dedup();
        let owners = dirs
            .into_iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
            .collect();
        let mut b = Bundle {
            path: path.to_owned(),
            compression,
            data: Mutex::new(data),
            files,
            owners,
            pids,
            manifest: None,
        };
        let mut text = b.system_file(MANIFEST)?.unwrap_or_default();
        if let Some(end) = b.system_file(END)? {
            text.extend_from_slice(&end);
        }
        if !text.is_empty() {
            b.manifest = Some(Manifest::parse(&text));
        }
        Ok(b)
    }

    /// The file the bundle was opened from (or the name given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the bundle was compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// PIDs of the captured processes (those with maps, smaps or
    /// smaps_rollup), ascending.
    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// The manifest and trailer of a `maplens capture` bundle; `None` for
    /// smemcap and other tarballs.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// The owner recorded on the process's `PID/` directory entry.
    pub fn owner(&self, pid: u32) -> Option<&Owner> {
        self.owners.get(&pid)
    }

    /// Every file name in the bundle (normalized), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The raw bytes of a file by its bundle name (`meminfo`, `version`,
    /// `sys/vm/max_map_count`, `1234/smaps`, …); `Ok(None)` when absent.
    pub fn system_file(&self, name: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let Some(span) = self.files.get(normalize(name)).copied() else {
            return Ok(None);
        };
        let mut data = self
            .data
            .lock()
            .map_err(|_| bad(&self.path, "a reader panicked"))?;
        let len = usize::try_from(span.size)
            .map_err(|_| bad(&self.path, format!("{name}: too large for this machine")))?;
        let mut buf = vec![0u8; len];
        data.seek(SeekFrom::Start(span.offset))
            .and_then(|_| data.read_exact(&mut buf))
            .map_err(|e| bad(&self.path, format!("{name}: {e} (truncated bundle?)")))?;
        Ok(Some(buf))
    }

    /// Parses a process's region text (`smaps`, `maps`) into `snap` as it
    /// is read from the bundle, a chunk at a time, so that memory follows
    /// the regions and not the text (a bundle's `smaps` can be a bomb of one
    /// endless line). `Ok(false)` when the bundle does not hold it.
    fn stream_file(
        &self,
        pid: u32,
        name: &str,
        snap: &mut Snapshot,
        mode: crate::parse::Mode,
    ) -> Result<bool, SourceError> {
        let key = format!("{pid}/{name}");
        let Some(span) = self.files.get(normalize(&key)).copied() else {
            return Ok(false);
        };
        let mut data = self
            .data
            .lock()
            .map_err(|_| bad(&self.path, "a reader panicked"))?;
        let truncated = |e: io::Error| bad(&self.path, format!("{key}: {e} (truncated bundle?)"));
        data.seek(SeekFrom::Start(span.offset)).map_err(truncated)?;
        let origin = format!("{}/{name}", self.origin(pid));
        let mut sink = crate::model::TextSink::new(&origin, mode)
            .with_size_hint(usize::try_from(span.size).unwrap_or(0));
        let mut buf = vec![0u8; 256 * 1024];
        let mut left = span.size;
        while left > 0 {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            data.read_exact(&mut buf[..n]).map_err(truncated)?;
            sink.push(&buf[..n])?;
            left -= n as u64;
        }
        let before = snap.notices.len();
        sink.finish(snap)?;
        // Text that is there but holds no region is not what it claims (an
        // empty one is a kernel thread's or a zombie's, and says so later).
        if span.size > 0 && snap.regions.is_empty() && snap.rollup.is_none() {
            let skipped = snap.notices[before..].iter().find_map(|n| match n {
                crate::model::Notice::SkippedLines { first, .. } => Some(first.clone()),
                _ => None,
            });
            if skipped.is_some() {
                return Err(SourceError::NoRegions {
                    path: origin,
                    skipped,
                });
            }
        }
        Ok(true)
    }

    /// The raw bytes of a process's file (`smaps`, `maps`, `status`,
    /// `cmdline`, `comm`, `stat`, `task/TID/syscall`, …); `Ok(None)` when
    /// the bundle does not hold it.
    pub fn file(&self, pid: u32, name: &str) -> Result<Option<Vec<u8>>, SourceError> {
        self.system_file(&format!("{pid}/{name}"))
    }

    /// Thread ids captured for a process (from `PID/task/TID/…`), ascending.
    pub fn tids(&self, pid: u32) -> Vec<u32> {
        let prefix = format!("{pid}/task/");
        let mut tids: Vec<u32> = self
            .files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| k[prefix.len()..].split('/').next()?.parse().ok())
            .collect();
        tids.dedup();
        tids
    }

    /// The page size of the captured machine: the manifest's, else the
    /// first `KernelPageSize` of any captured smaps is a good guess (callers
    /// that have a snapshot can read it there).
    pub fn page_size(&self) -> Option<u64> {
        self.manifest()?.get("page_size")?.parse().ok()
    }

    /// `vm.max_map_count` of the captured machine (`sys/vm/max_map_count`,
    /// else the manifest's).
    pub fn max_map_count(&self) -> Option<u64> {
        let raw = self.system_file("sys/vm/max_map_count").ok().flatten();
        raw.and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok())
            .or_else(|| self.manifest()?.get("max_map_count")?.parse().ok())
    }

    /// The facts of the captured system ([`SystemInfo::FILES`]; the
    /// manifest's `max_map_count` when the file is missing). The fields of
    /// files the bundle lacks (smemcap has no `max_map_count`) are empty.
    pub fn system(&self) -> SystemInfo {
        let mut s = SystemInfo::from_files(|name| self.system_file(name).ok().flatten());
        if s.max_map_count.is_none() {
            s.max_map_count = self.max_map_count();
        }
        s
    }

    /// The only process of a single-process bundle; an error listing the
    /// PIDs otherwise.
    pub fn single_pid(&self) -> Result<u32, SourceError> {
        match self.pids.as_slice() {
            [pid] => Ok(*pid),
            [] => Err(bad(
                &self.path,
                "holds no process (no PID/smaps or PID/maps)",
            )),
            pids => Err(SourceError::BundleAmbiguous {
                path: self.path.clone(),
                pids: pids.to_vec(),
            }),
        }
    }

    /// Origin string of a process in this bundle: `PATH:PID`.
    pub fn origin(&self, pid: u32) -> String {
        format!("{}:{pid}", self.path.display())
    }

    /// Loads one captured process as a snapshot, exactly as
    /// [`super::load_dir`] would have read it live: smaps (or maps),
    /// smaps_rollup, status, cmdline, comm and, with `opts.threads`, the
    /// threads. `opts.proc_root` is not used.
    pub fn load(&self, pid: u32, opts: &Options) -> Result<Snapshot, SourceError> {
        if !self.pids.contains(&pid) {
            return Err(SourceError::BundleNoPid {
                path: self.path.clone(),
                pid,
                pids: self.pids.clone(),
            });
        }
        let origin = self.origin(pid);
        let mut snap = Snapshot {
            origin: origin.clone(),
            ..Snapshot::default()
        };
        let mut got_regions = opts.smaps && self.stream_file(pid, "smaps", &mut snap, opts.mode)?;
        if !got_regions {
            got_regions = self.stream_file(pid, "maps", &mut snap, opts.mode)?;
        }
        if !got_regions {
            // Asked for maps only, but an smemcap bundle has only smaps.
            got_regions = self.stream_file(pid, "smaps", &mut snap, opts.mode)?;
        }
        if opts.smaps
            && let Some(text) = self.file(pid, "smaps_rollup")?
            && !text.is_empty()
        {
            let mut r = Snapshot::default();
            r.add_text(&format!("{origin}/smaps_rollup"), &text, opts.mode)?;
            snap.rollup = r.rollup;
            if !got_regions {
                snap.format = r.format;
            }
            got_regions = true;
        }
        if !got_regions {
            return Err(bad(
                &self.path,
                format!("{pid}: holds no maps, smaps or smaps_rollup"),
            ));
        }
        snap.process = self.process(pid, opts)?;
        snap.system = Some(self.system());
        if let Some(rec) = self.file(pid, super::deleted::RECORD)? {
            super::deleted::apply_record(&rec, &mut snap.regions);
        }
        #[cfg(feature = "serde")]
        if let Some(rec) = self.file(pid, super::elf::RECORD)? {
            match super::elf::parse_record(&rec) {
                Ok(objects) => snap.elf = objects,
                Err(e) => snap.notices.push(Notice::Other {
                    message: format!(
                        "{origin}/{}: ELF headers unreadable ({e}); segments were told apart by \
                         their layout",
                        super::elf::RECORD
                    ),
                }),
            }
        }
        if snap.regions.is_empty() && snap.rollup.is_none() {
            snap.notices.push(Notice::Other {
                message: format!(
                    "{origin}: no memory regions: a kernel thread, a zombie, or a process that \
                     exited while being captured"
                ),
            });
        }
        Ok(snap)
    }

    fn process(&self, pid: u32, opts: &Options) -> Result<ProcessInfo, SourceError> {
        let comm = match self.file(pid, "comm")? {
            Some(b) => Some(lossy_line(&b)),
            // smemcap has no comm: take it from stat, `PID (comm) S …`.
            None => self.file(pid, "stat")?.and_then(|b| {
                let open = b.iter().position(|&c| c == b'(')?;
                let close = b.iter().rposition(|&c| c == b')')?;
                (open < close).then(|| String::from_utf8_lossy(&b[open + 1..close]).into_owned())
            }),
        };
        let mut info = ProcessInfo {
            pid: Some(pid),
            comm,
            cmdline: self
                .file(pid, "cmdline")?
                .map(|b| {
                    b.split(|&c| c == 0)
                        .filter(|a| !a.is_empty())
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect()
                })
                .unwrap_or_default(),
            status: self
                .file(pid, "status")?
                .map(|b| ProcessInfo::parse_status(&b))
                .unwrap_or_default(),
            threads: Vec::new(),
            limits: self
                .file(pid, "limits")?
                .map(|b| Limit::parse(&b))
                .unwrap_or_default(),
        };
        if opts.threads {
            for tid in self.tids(pid) {
                let t = format!("task/{tid}");
                let comm = self
                    .file(pid, &format!("{t}/comm"))?
                    .map(|b| lossy_line(&b));
                let syscall = self.file(pid, &format!("{t}/syscall"))?;
                info.threads.push(ThreadInfo {
                    tid,
                    comm,
                    sp: syscall.as_deref().and_then(syscall_sp),
                    syscall: syscall.map(|b| lossy_line(&b)),
                });
            }
        }
        Ok(info)
    }
}

fn read_head(f: &mut File, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_uid(1000);
                h.set_mode(0o755);
            } else {
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
            }
            b.append_data(&mut h, name, *data).expect("append");
        }
        b.into_inner().expect("finish")
    }

    const SMAPS: &[u8] = b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\n\
Size:                  4 kB\n\
Rss:                   4 kB\n\
Pss:                   2 kB\n\
Private_Clean:         0 kB\n\
Private_Dirty:         0 kB\n\
Shared_Clean:          4 kB\n\
Shared_Dirty:          0 kB\n\
Swap:                  0 kB\n\
VmFlags: rd ex mr mw me\n";

    #[test]
    fn smemcap_layout() {
        let t = tar_of(&[
            ("42/", b""),
            ("42/smaps", SMAPS),
            ("42/cmdline", b"/bin/x\0-v\0"),
            ("42/stat", b"42 (x y) S 1 42 42 0"),
            ("meminfo", b"MemTotal: 1000 kB\n"),
            ("version", b"Linux version 6.1\n"),
        ]);
        let b = Bundle::from_bytes("cap.tar", t).expect("bundle");
        assert_eq!(b.pids(), &[42]);
        assert_eq!(b.single_pid().expect("one"), 42);
        assert!(b.manifest().is_none());
        assert_eq!(b.owner(42).map(|o| o.uid), Some(1000));
        let s = b.load(42, &Options::default()).expect("load");
        assert_eq!(s.regions.len(), 1);
        assert_eq!(s.origin, "cap.tar:42");
        assert_eq!(s.process.comm.as_deref(), Some("x y"));
        assert_eq!(s.process.cmdline, vec!["/bin/x", "-v"]);
        assert!(s.has_residency());
        assert_eq!(
            b.system_file("meminfo").expect("read").as_deref(),
            Some(&b"MemTotal: 1000 kB\n"[..])
        );
        assert!(matches!(
            b.load(7, &Options::default()),
            Err(SourceError::BundleNoPid { pid: 7, .. })
        ));
    }

    #[test]
    fn prefixes_wrapping_dir_and_ambiguity() {
        let t = tar_of(&[
            (
                "./cap/1/maps",
                b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\n",
            ),
            ("./cap/2/smaps", SMAPS),
            ("./cap/2/task/5/comm", b"worker\n"),
            ("./cap/2/task/5/syscall", b"-1 0x7ffc2000 0x7f00\n"),
            (
                "./cap/maplens-manifest.txt",
                b"format: maplens-capture 1\npage_size: 16384\n",
            ),
        ]);
        let b = Bundle::from_bytes("c.tar", t).expect("bundle");
        assert_eq!(b.pids(), &[1, 2]);
        assert_eq!(b.page_size(), Some(16384));
        let err = b.single_pid().expect_err("two").to_string();
        assert!(err.contains("1, 2"), "{err}");
        let opts = Options {
            threads: true,
            ..Options::default()
        };
        let s = b.load(2, &opts).expect("load");
        assert_eq!(s.process.threads.len(), 1);
        assert_eq!(s.process.threads[0].sp, Some(0x7ffc2000));
        assert_eq!(s.process.threads[0].comm.as_deref(), Some("worker"));
        let s = b.load(1, &opts).expect("maps only");
        assert!(!s.has_residency());
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip() {
        use std::io::Write;
        let t = tar_of(&[("9/smaps", SMAPS)]);
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&t).expect("gz");
        let z = z.finish().expect("gz");
        let b = Bundle::from_bytes("c.tar.gz", z).expect("bundle");
        assert_eq!(b.compression(), Compression::Gzip);
        assert_eq!(b.pids(), &[9]);
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd() {
        let t = tar_of(&[("9/smaps", SMAPS)]);
        let z =
            ruzstd::encoding::compress_to_vec(&t[..], ruzstd::encoding::CompressionLevel::Fastest);
        let b = Bundle::from_bytes("c.tar.zst", z).expect("bundle");
        assert_eq!(b.compression(), Compression::Zstd);
        assert_eq!(
            b.load(9, &Options::default()).expect("load").regions.len(),
            1
        );
    }

    #[test]
    fn not_a_bundle() {
        assert!(Bundle::from_bytes("x", b"hello".to_vec()).is_err());
    }

    /// A bomb: 80 gzip members of 1 MiB of zeros each (1 KiB apiece), so
    /// 80 MiB from 80 KiB. It stops at the limit with an error that says
    /// why, from a file and from memory alike; a real bundle whose text
    /// compresses well still opens.
    #[cfg(feature = "gzip")]
    #[test]
    fn decompression_bombs_stop_at_the_limit() {
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let member = gz(&vec![0u8; 1 << 20]);
        let bomb = member.repeat(80);
        assert!(bomb.len() < 100 << 10);
        let e = Bundle::from_bytes("bomb.gz", bomb.clone()).err().unwrap();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
        let dir = std::env::temp_dir().join(format!("maplens-bomb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bomb.tar.gz");
        std::fs::write(&f, &bomb).unwrap();
        let e = Bundle::open(&f).err().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains("bomb.tar.gz") && msg.contains("more than 64 MiB"),
            "{msg}"
        );
        // 8 MiB of one smaps block repeated compresses far better than any
        // real capture, and is still well inside the bound.
        let block = b"00400000-00401000 rw-p 00000000 00:00 0\nRss: 4 kB\n";
        let smaps = block.repeat((8 << 20) / block.len());
        let t = gz(&tar_of(&[("1/smaps", &smaps)]));
        assert!(Bundle::from_bytes("ok.tar.gz", t).is_ok());
    }

    /// A bundle is read in place, never unpacked: names with `..`, links
    /// and devices in it are not followed and write nothing; only regular
    /// files count, and a name that climbs out (`../4/smaps`) is no PID.
    #[test]
    fn hostile_entries_are_neither_followed_nor_counted() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &[u8], kind: tar::EntryType, link: Option<&[u8]>, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            // Raw names: the builder itself refuses `..` and absolute ones.
            let n = &mut h.as_gnu_mut().unwrap().name;
            n[..name.len()].copy_from_slice(name);
            if let Some(l) = link {
                h.as_gnu_mut().unwrap().linkname[..l.len()].copy_from_slice(l);
            }
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, data).unwrap();
        };
        add(b"1/smaps", tar::EntryType::Regular, None, SMAPS);
        add(
            b"2/smaps",
            tar::EntryType::Symlink,
            Some(b"/etc/passwd"),
            b"",
        );
        add(b"3/smaps", tar::EntryType::Link, Some(b"1/smaps"), b"");
        add(b"../4/smaps", tar::EntryType::Regular, None, SMAPS);
        add(b"6/smaps", tar::EntryType::Char, None, b"");
        add(b"/5/smaps", tar::EntryType::Regular, None, SMAPS);
        let t = b.into_inner().unwrap();
        let cwd = std::fs::read_dir(".").unwrap().count();
        let bundle = Bundle::from_bytes("hostile.tar", t).unwrap();
        assert_eq!(bundle.pids, [1, 5]);
        let snap = bundle.load(1, &Options::default()).unwrap();
        assert_eq!(snap.regions.len(), 1);
        assert!(bundle.load(2, &Options::default()).is_err());
        assert_eq!(std::fs::read_dir(".").unwrap().count(), cwd);
    }
}
