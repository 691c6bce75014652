//! Scanning many processes for `top` and `libs`: which processes (the
//! selection and its progress bar) and where from (live /proc, a copied
//! tree, a capture bundle). No printing.

use crate::pattern::Pattern;
use crate::progress::Progress;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use maplens_core::source::bundle::Compression;
use maplens_core::source::{Bundle, Target};
use maplens_core::system::{
    BundleFiles, Detail, ProcDir, ProcFiles, ProcessMeta, ScanHooks, ScanOptions, ScanReport,
    scan_files, tmpfs_devices,
};

/// Process selection and progress shared by `top` and `libs`.
pub struct Selection {
    pub(crate) filter: Option<Pattern>,
    user: Option<String>,
    bar: Option<Progress>,
    started: Instant,
    progress: bool,
}

impl Selection {
    /// From the filter options; `progress` allows a bar on a terminal.
    pub fn new(
        filter: Option<&str>,
        user: Option<&str>,
        progress: bool,
    ) -> anyhow::Result<Selection> {
        let filter = filter
            .map(|f| {
                Pattern::new(f).map_err(|e| anyhow::anyhow!("-P/--filter: bad regex '{f}': {e}"))
            })
            .transpose()?;
        use std::io::IsTerminal;
        Ok(Selection {
            filter,
            user: user.map(str::to_owned),
            bar: None,
            started: Instant::now(),
            progress: progress && std::io::stderr().is_terminal(),
        })
    }

    /// Whether a process passes the user and regex filters.
    pub fn wants(&self, meta: &ProcessMeta) -> bool {
        if let Some(u) = &self.user
            && *u != meta.user
            && meta.uid.map(|x| x.to_string()).as_deref() != Some(u.as_str())
        {
            return false;
        }
        if let Some(re) = &self.filter {
            return re.is_match_str(&meta.command)
                || meta.comm.as_deref().is_some_and(|c| re.is_match_str(c));
        }
        true
    }

    /// Advances the progress bar (drawn only after 300 ms on a terminal).
    pub fn tick(&mut self, done: usize, total: usize) {
        if !self.progress {
            return;
        }
        if done >= total {
            if let Some(b) = self.bar.take() {
                b.finish();
            }
            return;
        }
        // Only when the scan takes long enough to be noticed.
        if self.bar.is_none() && self.started.elapsed() > Duration::from_millis(300) {
            self.bar = Some(Progress::new(total as u64, "reading processes"));
        }
        if let Some(b) = &self.bar {
            b.set(done as u64);
        }
    }

    /// Whether a user or regex filter is set.
    pub fn filtering(&self) -> bool {
        self.filter.is_some() || self.user.is_some()
    }
}

/// What `top` and `libs` scan: a `/proc` tree or a capture bundle.
pub enum Source {
    /// The live `/proc`, or a copied tree.
    Proc(PathBuf),
    /// A capture bundle.
    Bundle(Bundle),
}

impl Source {
    /// From the positional BUNDLE and `--proc-root`; a `FILE:PID` bundle
    /// target adds its PID to `pids`.
    pub fn new(
        target: Option<&std::ffi::OsStr>,
        proc_root: Option<&PathBuf>,
        pids: &mut Vec<u32>,
    ) -> anyhow::Result<Source> {
        let Some(word) = target else {
            return Ok(Source::Proc(
                proc_root.cloned().unwrap_or_else(|| "/proc".into()),
            ));
        };
        if proc_root.is_some() {
            bail!("give either a BUNDLE or --proc-root, not both");
        }
        // A file name is any bytes: a bundle's too.
        let bundle = match Target::parse_os(word) {
            Target::Bundle { path, pid } => {
                let b = Bundle::open(&path)?;
                if let Some(pid) = pid {
                    if !b.pids().contains(&pid) {
                        return Err(maplens_core::source::SourceError::BundleNoPid {
                            path,
                            pid,
                            pids: b.pids().to_vec(),
                        }
                        .into());
                    }
                    pids.push(pid);
                }
                b
            }
            Target::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .context("reading standard input")?;
                if Compression::sniff(&bytes[..bytes.len().min(512)]).is_none() {
                    bail!("standard input is not a capture bundle (tar, gzip or zstd)");
                }
                Bundle::from_bytes("<stdin>", bytes)?
            }
            Target::Dir(d) => {
                if ["smaps", "maps", "smaps_rollup"]
                    .iter()
                    .any(|f| d.join(f).is_file())
                {
                    bail!(
                        "{}: one process's directory; `maplens report {}` shows it, and \
                         `maplens top` takes a copied /proc tree",
                        d.display(),
                        d.display()
                    );
                }
                return Ok(Source::Proc(d));
            }
            Target::Pid(p) => {
                bail!(
                    "'{}': `maplens top` takes a capture bundle; for one process give --pid {p}",
                    word.to_string_lossy()
                )
            }
            Target::File(p) if p.exists() => {
                bail!("{}: not a capture bundle (tar, gzip or zstd)", p.display())
            }
            Target::File(p) => bail!("{}: no such file", p.display()),
            Target::Name(n) => {
                bail!("'{n}': no such file; to select processes by name, give -P REGEX")
            }
        };
        Ok(Source::Bundle(bundle))
    }

    /// Devices of tmpfs mounts, for `--by shm`: this machine's, for a
    /// `/proc` tree; none for a bundle (only `/dev/shm` names then count).
    pub fn tmpfs_devices(&self) -> Vec<maplens_core::parse::Dev> {
        match self {
            Source::Proc(_) => tmpfs_devices(),
            Source::Bundle(_) => Vec::new(),
        }
    }

    /// Scans every process of the source (or those in `pids`), on up to
    /// `threads` readers (0: one per CPU; see [`ScanOptions::readers`]).
    pub fn scan(
        &self,
        detail: Detail,
        pids: &[u32],
        threads: usize,
        hooks: &mut dyn ScanHooks,
    ) -> anyhow::Result<ScanReport> {
        let opts = ScanOptions {
            detail,
            comm: false,
            pids: pids.to_vec(),
            readers: threads,
            ..ScanOptions::default()
        };
        fn go<F: ProcFiles>(
            f: &mut F,
            opts: &ScanOptions,
            hooks: &mut dyn ScanHooks,
        ) -> anyhow::Result<ScanReport> {
            scan_files(f, opts, hooks)
                .with_context(|| format!("cannot list processes in {}", f.describe()))
        }
        match self {
            Source::Proc(root) => go(&mut ProcDir::new(root), &opts, hooks),
            Source::Bundle(b) => go(&mut BundleFiles::new(b), &opts, hooks),
        }
    }
}
