//! `maplens libs` (like Android's librank): every library or mapped file
//! across processes, with its total PSS, USS and RSS and the processes that
//! map it.

use crate::pattern::{Pattern, PermPattern};
use std::path::PathBuf;

use maplens_core::analysis::Category;
use maplens_core::parse::Entry;
use maplens_core::system::aggregate::LibTotals;
use maplens_core::system::{Detail, ProcessMeta, ScanHooks};

use crate::common::{Format, emit};
use crate::render::libs;
use crate::scan::{Selection, Source};

/// Arguments of `maplens libs`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(after_help = "Examples:
  maplens libs                       every mapped file, largest total PSS first
  maplens libs --path 'libc\\.so' --procs   libc, with each process's share
  maplens libs --perm r-x            code segments only
  maplens libs cap.tar.gz            the libraries of a capture bundle's processes")]
pub struct Args {
    /// A capture bundle (`cap.tar`, `cap.tar:PID` for one process, `-` for
    /// standard input) or a copied /proc tree; the live system when absent.
    #[arg(value_name = "BUNDLE")]
    pub target: Option<std::ffi::OsString>,
    /// Only files whose path matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub path: Option<String>,
    /// Only regions whose permissions match this pattern (rw, r-x, ??xp).
    #[arg(long, value_name = "PATTERN")]
    pub perm: Option<String>,
    /// Only processes whose command line or name matches this regex.
    #[arg(long, short = 'P', value_name = "REGEX")]
    pub filter: Option<String>,
    /// Only processes of this user (name or uid).
    #[arg(long = "user", short = 'U', value_name = "USER")]
    pub user: Option<String>,
    /// Only these PIDs (comma-separated, repeatable).
    #[arg(long, value_name = "PID", value_delimiter = ',')]
    pub pid: Vec<u32>,
    /// Show each process's share under its file (librank's layout).
    #[arg(long)]
    pub procs: bool,
    /// Sort by uss or rss instead of pss.
    #[arg(long, value_name = "KEY", default_value = "pss", value_parser = ["pss", "uss", "rss", "swap", "path", "procs"])]
    pub sort: String,
    /// Show only the first N files.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
    /// Read processes from this copy of /proc instead of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<PathBuf>,
    /// Threads that read processes' memory files side by side (0: one per
    /// CPU, at most 4; 1: gentlest on a busy machine). A bundle is read on
    /// one.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Never draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

struct LibHooks {
    sel: Selection,
    path: Option<Pattern>,
    perm: Option<PermPattern>,
    libs: LibTotals,
    done: bool,
}

impl ScanHooks for LibHooks {
    fn want(&mut self, meta: &ProcessMeta) -> bool {
        self.sel.wants(meta)
    }
    fn wants_comm(&self) -> bool {
        self.sel.filtering()
    }
    fn progress(&mut self, done: usize, total: usize, _pid: u32) {
        self.sel.tick(done, total);
        self.done = done >= total;
    }
    fn region(&mut self, meta: &ProcessMeta, e: &Entry<'_>, _c: Option<Category>) {
        if let Some(p) = &self.perm
            && !p.matches(e.header.perms)
        {
            return;
        }
        if let Some(re) = &self.path
            && !re.is_match(&e.header.path.decoded())
        {
            return;
        }
        self.libs.add(meta, e);
    }
}

/// Runs `libs`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut hooks = LibHooks {
        sel: Selection::new(
            args.filter.as_deref(),
            args.user.as_deref(),
            !args.no_progress,
        )?,
        path: args
            .path
            .as_deref()
            .map(|p| Pattern::new(p).map_err(|e| anyhow::anyhow!("--path: bad regex '{p}': {e}")))
            .transpose()?,
        perm: args.perm.as_deref().map(PermPattern::new).transpose()?,
        libs: LibTotals::default(),
        done: false,
    };
    let mut pids = args.pid.clone();
    let source = Source::new(args.target.as_deref(), args.proc_root.as_ref(), &mut pids)?;
    let report = source.scan(Detail::Smaps, &pids, args.threads, &mut hooks)?;
    let _ = hooks.done;
    let mut rows = std::mem::take(&mut hooks.libs).into_rows();
    match args.sort.as_str() {
        "uss" => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.uss)),
        "rss" => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.rss)),
        "swap" => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.swap)),
        "path" => rows.sort_by(|a, b| a.path.cmp(&b.path)),
        "procs" => rows.sort_by_key(|a| std::cmp::Reverse(a.mappers.len())),
        _ => {}
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    let out = libs::print(&report, &rows, args.format, args.bytes, args.procs)?;
    emit(out.as_bytes())
}
