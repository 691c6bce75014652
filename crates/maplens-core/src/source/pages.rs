//! Page-level reads of a live process: `/proc/PID/pagemap` (by
//! `PAGEMAP_SCAN` when the kernel has it, else entry by entry),
//! `/proc/kpageflags` and `/proc/kpagecount` (root only), and
//! `/proc/PID/mem` (resident pages' bytes, for `pages --content`).
//!
//! Every read is bounded: pagemap is read in ranges of at most
//! [`ENTRIES_PER_READ`] entries at offsets that are multiples of 8, only
//! over the regions asked for (never the whole address space), and stops
//! when the [`Budget`] runs out (the answer then says it is incomplete);
//! `mem` is read in chunks of at most [`MEM_CHUNK`] bytes, only over
//! present pages.
//!
//! It decodes nothing itself ([`crate::parse::pagemap`],
//! [`crate::parse::kpageflags`]) and counts nothing
//! (`crate::analysis::pages`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{SourceError, io_error, ioctl};
use crate::parse::kpageflags::KPageFlags;
use crate::parse::pagemap::{self, PageRegion, PagemapEntry, category};

/// Most pagemap entries read by one `pread` (512 KiB).
pub const ENTRIES_PER_READ: usize = 64 * 1024;
/// Most bytes of `/proc/PID/mem` read at once.
pub const MEM_CHUNK: usize = 256 * 1024;

/// A deadline shared by every read of one command.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    until: Option<Instant>,
}

impl Budget {
    /// A budget of `d` from now; `None`: no limit.
    pub fn new(d: Option<Duration>) -> Budget {
        Budget {
            until: d.map(|d| Instant::now() + d),
        }
    }
    /// True once the time is up.
    pub fn spent(&self) -> bool {
        self.until.is_some_and(|u| Instant::now() >= u)
    }
}

/// How the runs of a region were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Mechanism {
    /// The `PAGEMAP_SCAN` ioctl (6.7+).
    PagemapScan,
    /// One pagemap entry per page.
    Pagemap,
}

/// What was read of one region's pages.
#[derive(Clone, Debug, Default)]
pub struct RegionRead {
    /// Runs of present, swapped or guard pages, in address order, with
    /// their `PAGEMAP_SCAN` categories (built from entries in the
    /// fallback, where huge and zero-PFN are unknown).
    pub runs: Vec<PageRegion>,
    /// The pagemap entry of every page of the present runs, in order.
    pub entries: Vec<PagemapEntry>,
    /// kpageflags of each entry with a PFN (root only), in order.
    pub frames: Vec<KPageFlags>,
    /// kpagecount of the same frames.
    pub mapcounts: Vec<u64>,
    /// How the runs were found.
    pub via: Option<Mechanism>,
    /// False when the budget ran out before the region's end.
    pub complete: bool,
    /// Where reading stopped (the region's end when complete).
    pub read_to: u64,
    /// The region lies above the user address space (`[vsyscall]`): the
    /// scan refuses it, and it has no huge or zero-PFN pages.
    pub beyond_user: bool,
}

/// Open pagemap (and, for root, kpageflags/kpagecount) of one process.
pub struct PageReader {
    pid_dir: PathBuf,
    pagemap: File,
    kpageflags: Option<File>,
    kpagecount: Option<File>,
    mem: Option<File>,
    /// `Some(false)` once `PAGEMAP_SCAN` answered "unsupported".
    scan: Option<bool>,
    /// The page size.
    pub page_size: u64,
    buf: Vec<u8>,
    scan_buf: Vec<PageRegion>,
}

impl PageReader {
    /// Opens `/proc/PID/pagemap` under `proc_root`; kpageflags and
    /// kpagecount too when readable (root).
    pub fn open(proc_root: &Path, pid: u32) -> Result<PageReader, SourceError> {
        let pid_dir = proc_root.join(pid.to_string());
        let path = pid_dir.join("pagemap");
        let pagemap = File::open(&path).map_err(|e| io_error(&path, e, true))?;
        Ok(PageReader {
            pid_dir,
            pagemap,
            kpageflags: File::open(proc_root.join("kpageflags")).ok(),
            kpagecount: File::open(proc_root.join("kpagecount")).ok(),
            mem: None,
            scan: None,
            page_size: rustix::param::page_size() as u64,
            buf: Vec::new(),
            scan_buf: Vec::new(),
        })
    }

    /// True when kpageflags can be read (and PFNs are visible: root).
    pub fn has_frames(&self) -> bool {
        self.kpageflags.is_some()
    }

    /// Opens `/proc/PID/mem` for [`PageReader::read_pages`] (needs ptrace
    /// access: the same user, not blocked by Yama, or root).
    pub fn open_mem(&mut self) -> Result<(), SourceError> {
        let path = self.pid_dir.join("mem");
        self.mem = Some(File::open(&path).map_err(|e| io_error(&path, e, true))?);
        Ok(())
    }

    /// Reads the pages of `start..end`: the runs, the entries of present
    /// pages and, with `frames`, their kpageflags and kpagecount.
    pub fn read_region(
        &mut self,
        start: u64,
        end: u64,
        frames: bool,
        budget: &Budget,
    ) -> Result<RegionRead, SourceError> {
        let mut r = RegionRead {
            read_to: start,
            ..RegionRead::default()
        };
        // Above the user address space (`[vsyscall]`) the scan answers
        // EFAULT: such a region is read entry by entry.
        let mut per_page = self.scan == Some(false);
        if !per_page {
            match self.scan_runs(start, end, budget, &mut r) {
                Ok(true) => {
                    self.scan = Some(true);
                    r.via = Some(Mechanism::PagemapScan);
                    // The entries of present pages (exclusive, PFN).
                    let runs = std::mem::take(&mut r.runs);
                    for run in &runs {
                        if run.categories & category::PRESENT != 0 {
                            self.entries(run.start, run.end, budget, &mut |_, e| {
                                r.entries.push(e)
                            })?;
                        }
                    }
                    r.runs = runs;
                }
                Ok(false) => {
                    self.scan = Some(false);
                    per_page = true;
                }
                Err(SourceError::Io { source, .. }) if source.raw_os_error() == Some(14) => {
                    r.runs.clear();
                    r.beyond_user = true;
                    per_page = true;
                }
                Err(e) => return Err(e),
            }
        }
        if per_page {
            r.via = Some(Mechanism::Pagemap);
            let mut runs = pagemap::Runs::new(self.page_size);
            let to = self.entries(start, end, budget, &mut |addr, e| runs.push(addr, e))?;
            r.runs = runs.runs;
            r.entries = runs.entries;
            r.read_to = to;
        }
        r.complete = r.read_to >= end;
        if frames {
            self.frames(&mut r)?;
        }
        Ok(r)
    }

    /// `PAGEMAP_SCAN` over `start..end`; `Ok(false)` when unsupported.
    fn scan_runs(
        &mut self,
        start: u64,
        end: u64,
        budget: &Budget,
        r: &mut RegionRead,
    ) -> Result<bool, SourceError> {
        let mut at = start;
        while at < end {
            if budget.spent() {
                break;
            }
            if self.scan_buf.is_empty() {
                self.scan_buf.resize(1024, PageRegion::default());
            }
            match ioctl::pagemap_scan(&self.pagemap, at, end, &mut self.scan_buf) {
                Ok(Ok((n, walk_end))) => {
                    r.runs.extend_from_slice(&self.scan_buf[..n]);
                    if walk_end <= at {
                        break;
                    }
                    at = walk_end;
                }
                Ok(Err(ioctl::Unsupported)) => return Ok(false),
                Err(e) => return Err(io_error(&self.pid_dir.join("pagemap"), e, true)),
            }
        }
        // Neighbouring records may continue each other across calls.
        r.runs.dedup_by(|b, a| {
            if a.end == b.start && a.categories == b.categories {
                a.end = b.end;
                true
            } else {
                false
            }
        });
        r.read_to = at.min(end);
        Ok(true)
    }

    /// Calls `f(address, entry)` for each page of `start..end`, reading
    /// pagemap in ranges of [`ENTRIES_PER_READ`]; returns where it stopped
    /// (`end`, or earlier when the budget ran out).
    fn entries(
        &mut self,
        start: u64,
        end: u64,
        budget: &Budget,
        f: &mut dyn FnMut(u64, PagemapEntry),
    ) -> Result<u64, SourceError> {
        let ps = self.page_size;
        let mut addr = start / ps * ps;
        while addr < end {
            if budget.spent() {
                return Ok(addr);
            }
            let n = ((end - addr).div_ceil(ps) as usize).min(ENTRIES_PER_READ);
            self.buf.resize(n * 8, 0);
            let off = pagemap::offset_of(addr, ps);
            let got = read_at_full(&self.pagemap, &mut self.buf, off)
                .map_err(|e| io_error(&self.pid_dir.join("pagemap"), e, true))?;
            let got = got / 8 * 8;
            if got == 0 {
                // Past the end of the user address space (`[vsyscall]`):
                // pagemap has no entries there.
                return Ok(end);
            }
            for (i, e) in pagemap::entries(&self.buf[..got]).enumerate() {
                f(addr + i as u64 * ps, e);
            }
            addr += (got / 8) as u64 * ps;
        }
        Ok(end)
    }

    /// kpageflags and kpagecount of the entries' PFNs.
    fn frames(&mut self, r: &mut RegionRead) -> Result<(), SourceError> {
        let (Some(flags), Some(counts)) = (&self.kpageflags, &self.kpagecount) else {
            return Ok(());
        };
        let mut b = [0u8; 8];
        for e in &r.entries {
            let Some(pfn) = e.pfn() else { continue };
            let f = read_at_full(flags, &mut b, pfn * 8)
                .ok()
                .filter(|&n| n == 8);
            r.frames
                .push(KPageFlags(f.map(|_| u64::from_ne_bytes(b)).unwrap_or(0)));
            let c = read_at_full(counts, &mut b, pfn * 8)
                .ok()
                .filter(|&n| n == 8);
            r.mapcounts
                .push(c.map(|_| u64::from_ne_bytes(b)).unwrap_or(0));
        }
        Ok(())
    }

    /// Calls `f(address, page bytes)` for every present page of `runs`,
    /// reading `/proc/PID/mem` in chunks of at most [`MEM_CHUNK`]. A page
    /// that cannot be read (unmapped meanwhile) is skipped and counted in
    /// the returned number.
    pub fn read_pages(
        &mut self,
        runs: &[PageRegion],
        budget: &Budget,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, SourceError> {
        let ps = self.page_size as usize;
        let Some(mem) = &self.mem else {
            return Ok(0);
        };
        let mut skipped = 0;
        let mut chunk = vec![0u8; MEM_CHUNK.max(ps)];
        for run in runs
            .iter()
            .filter(|r| r.categories & category::PRESENT != 0)
        {
            let mut at = run.start;
            while at < run.end {
                if budget.spent() {
                    return Ok(skipped);
                }
                let n = ((run.end - at) as usize).min(chunk.len()) / ps * ps;
                match read_at_full(mem, &mut chunk[..n], at) {
                    Ok(got) if got == n => {
                        for (i, page) in chunk[..n].chunks_exact(ps).enumerate() {
                            f(at + (i * ps) as u64, page);
                        }
                    }
                    _ => skipped += (n / ps) as u64,
                }
                at += n as u64;
            }
        }
        Ok(skipped)
    }
}

/// `pread` until `buf` is full or the file ends.
fn read_at_full(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
