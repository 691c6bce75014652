//! Regions of a live process by `PROCMAP_QUERY` (6.11+), with the text of
//! `/proc/PID/maps` as the fallback: the same [`Region`] values either way
//! (names escaped as maps escapes them, `\n` as `\012`).
//!
//! `PROCMAP_QUERY` answers "which mapping holds this address" in one call,
//! without the kernel formatting and maplens parsing a line per mapping:
//! it is what `pages --region ADDR` uses. Tests force the text path with
//! `MAPLENS_NO_IOCTL=procmap_query` ([`crate::source::ioctl`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{SourceError, io_error, ioctl};
use crate::model::{Region, RegionPath, Snapshot};
use crate::parse::{Mode, encode_escapes};

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The `PROCMAP_QUERY` ioctl.
    Ioctl,
    /// `/proc/PID/maps` text.
    Text,
}

/// An open `/proc/PID/maps`.
pub struct MapsQuery {
    path: PathBuf,
    file: File,
    name: Vec<u8>,
    /// `Some(false)` once the ioctl answered "unsupported".
    supported: Option<bool>,
}

impl MapsQuery {
    /// Opens `/proc/PID/maps` under `proc_root`.
    pub fn open(proc_root: &Path, pid: u32) -> Result<MapsQuery, SourceError> {
        let path = proc_root.join(pid.to_string()).join("maps");
        let file = File::open(&path).map_err(|e| io_error(&path, e, true))?;
        Ok(MapsQuery {
            path,
            file,
            name: Vec::new(),
            supported: None,
        })
    }

    /// Never use the ioctl: every answer comes from the text (to compare
    /// both paths, or on a kernel whose ioctl is suspect).
    pub fn text_only(mut self) -> MapsQuery {
        self.supported = Some(false);
        self
    }

    /// The region holding `addr`, or the next one above it, by the ioctl;
    /// `Ok(None)` when none; `Err` with [`ioctl::Unsupported`] inside when
    /// the kernel lacks it.
    pub fn covering_or_next(
        &mut self,
        addr: u64,
    ) -> Result<Result<Option<Region>, ioctl::Unsupported>, SourceError> {
        if self.supported == Some(false) {
            return Ok(Err(ioctl::Unsupported));
        }
        match ioctl::procmap_query(&self.file, addr, &mut self.name) {
            Ok(Ok(q)) => {
                self.supported = Some(true);
                Ok(Ok(q.map(|q| Region {
                    start: q.vma_start,
                    end: q.vma_end,
                    perms: q.perms(),
                    offset: q.vma_offset,
                    dev: q.dev(),
                    inode: q.inode,
                    path: RegionPath::new(&encode_escapes(&self.name)),
                    line: 0,
                    smaps: None,
                })))
            }
            Ok(Err(u)) => {
                self.supported = Some(false);
                Ok(Err(u))
            }
            Err(e) => Err(io_error(&self.path, e, true)),
        }
    }

    /// Every region, by the ioctl when the kernel has it, else from the
    /// text of maps. The ioctl knows VMAs only: the kernel's gate area
    /// (`[vsyscall]` on x86-64), which maps prints last, is not among its
    /// answers.
    pub fn regions(&mut self) -> Result<(Vec<Region>, Via), SourceError> {
        let mut out = Vec::new();
        let mut at = 0u64;
        loop {
            match self.covering_or_next(at)? {
                Ok(Some(r)) => {
                    at = r.end;
                    out.push(r);
                }
                Ok(None) => return Ok((out, Via::Ioctl)),
                Err(ioctl::Unsupported) => break,
            }
        }
        Ok((self.text_regions()?, Via::Text))
    }

    /// The region holding `addr` (ioctl, else text).
    pub fn find(&mut self, addr: u64) -> Result<(Option<Region>, Via), SourceError> {
        match self.covering_or_next(addr)? {
            Ok(r) => Ok((r.filter(|r| r.start <= addr), Via::Ioctl)),
            Err(ioctl::Unsupported) => {
                let regions = self.text_regions()?;
                Ok((
                    regions
                        .into_iter()
                        .find(|r| r.start <= addr && addr < r.end),
                    Via::Text,
                ))
            }
        }
    }

    fn text_regions(&self) -> Result<Vec<Region>, SourceError> {
        let text = super::read_file(&self.path).map_err(|e| io_error(&self.path, e, true))?;
        let snap = Snapshot::from_text(&self.path.display().to_string(), &text, Mode::Lenient)?;
        Ok(snap.regions)
    }
}
