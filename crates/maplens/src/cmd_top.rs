//! `maplens top`: every process's USS, PSS, RSS and swap (smem and
//! procrank in one), or the same sums by user, category, mapped object or
//! shared-memory object. Also what `maplens` with no arguments shows.

use std::path::PathBuf;

use maplens_core::analysis::Category;
use maplens_core::parse::Entry;
use maplens_core::system::aggregate::{self, ObjectTotals, ShmTotals};
use maplens_core::system::{Detail, ProcessMeta, ScanHooks};

use crate::common::{Format, emit};
pub use crate::render::top::SortKey;
use crate::render::top::{self, View};
use crate::scan::{Selection, Source};

/// Groupings of `maplens top --by`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// One row per user (like `smem -u`).
    User,
    /// The process report's categories summed across processes.
    Category,
    /// One row per mapping name across processes (like `smem -m`).
    Object,
    /// Shared memory (SysV, memfd, /dev/shm, tmpfs, shared anonymous),
    /// each object once, with the processes that map it.
    Shm,
}

/// Arguments of `maplens top`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(
    after_help = "Figures: USS = Private_Clean + Private_Dirty (pages only this process maps);
PSS = each resident page divided by the number of processes mapping it (sums to the
memory really used); RSS counts shared pages in every process. Plain `top` reads
only smaps_rollup (plus cmdline) of each process; --by category|object|shm,
--categories and --smaps read full smaps.

Examples:
  maplens top                      every process, largest PSS first
  maplens top -P firefox --by category
  maplens top -U www-data --format json
  maplens top --by shm             shared memory counted once, with who maps it
  maplens top cap.tar.gz           the processes of a capture bundle
                                   (maplens capture --all, or smem's smemcap)"
)]
pub struct Args {
    /// A capture bundle (`cap.tar`, `cap.tar:PID` for one process, `-` for
    /// standard input) or a copied /proc tree; the live system when absent.
    #[arg(value_name = "BUNDLE")]
    pub target: Option<std::ffi::OsString>,
    /// Sort by this column (largest first; pid, user and command ascending).
    #[arg(long, short = 's', value_enum, default_value_t)]
    pub sort: SortKey,
    /// Reverse the order.
    #[arg(long, short = 'r')]
    pub reverse: bool,
    /// Only processes whose command line or name matches this regex.
    #[arg(long, short = 'P', value_name = "REGEX")]
    pub filter: Option<String>,
    /// Only processes of this user (name or uid).
    #[arg(long = "user", short = 'U', value_name = "USER")]
    pub user: Option<String>,
    /// Only these PIDs (comma-separated, repeatable).
    #[arg(long, value_name = "PID", value_delimiter = ',')]
    pub pid: Vec<u32>,
    /// Sum by user, category, mapped object, or list shared memory.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub by: Option<By>,
    /// Classify every region (reads full smaps) so LARGEST is the process
    /// report's category, not just anon/file/shmem.
    #[arg(long)]
    pub categories: bool,
    /// Sum full smaps per region (as smem does) instead of smaps_rollup.
    #[arg(long)]
    pub smaps: bool,
    /// Show only the first N rows (totals still cover every process).
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

/// Hooks of `maplens top`.
struct TopHooks {
    sel: Selection,
    objects: Option<ObjectTotals>,
    shm: Option<ShmTotals>,
}

impl ScanHooks for TopHooks {
    fn want(&mut self, meta: &ProcessMeta) -> bool {
        self.sel.wants(meta)
    }
    fn wants_comm(&self) -> bool {
        self.sel.filter.is_some()
    }
    fn progress(&mut self, done: usize, total: usize, _pid: u32) {
        self.sel.tick(done, total);
    }
    fn region(&mut self, meta: &ProcessMeta, e: &Entry<'_>, _c: Option<Category>) {
        if let Some(o) = &mut self.objects {
            o.add(meta, e);
        }
        if let Some(s) = &mut self.shm {
            s.add(meta, e);
        }
    }
}

/// Runs `top`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let sel = Selection::new(
        args.filter.as_deref(),
        args.user.as_deref(),
        !args.no_progress,
    )?;
    let detail = match args.by {
        Some(By::Category) => Detail::Categories,
        _ if args.categories => Detail::Categories,
        Some(By::Object | By::Shm) => Detail::Smaps,
        _ if args.smaps => Detail::Smaps,
        _ => Detail::Rollup,
    };
    let mut pids = args.pid.clone();
    let source = Source::new(args.target.as_deref(), args.proc_root.as_ref(), &mut pids)?;
    let mut hooks = TopHooks {
        sel,
        objects: (args.by == Some(By::Object)).then(ObjectTotals::default),
        shm: (args.by == Some(By::Shm)).then(|| ShmTotals::new(source.tmpfs_devices())),
    };
    let report = source.scan(detail, &pids, args.threads, &mut hooks)?;
    hooks.sel.tick(1, 1);
    let view = View {
        sort: args.sort,
        reverse: args.reverse,
        limit: args.limit,
        format: args.format,
        bytes: args.bytes,
        categories: args.categories,
    };
    let out = match args.by {
        None => top::processes(&view, &report)?,
        Some(By::User) => top::groups(&view, &report, "USER", aggregate::by_user(&report.rows))?,
        Some(By::Category) => top::groups(
            &view,
            &report,
            "CATEGORY",
            aggregate::by_category(&report.rows),
        )?,
        Some(By::Object) => top::objects(&view, &report, hooks.objects.take().unwrap_or_default())?,
        Some(By::Shm) => top::shm(&view, &report, hooks.shm.take().unwrap_or_default())?,
    };
    emit(out.as_bytes())
}

/// `maplens` with no arguments.
pub fn run_default() -> anyhow::Result<()> {
    run(&Args::default())
}
