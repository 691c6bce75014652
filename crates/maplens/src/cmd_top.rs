//! `maplens top`: every process's USS, PSS, RSS and swap (smem and
//! procrank in one), or the same sums by user, category, mapped object or
//! shared-memory object. Also what `maplens` with no arguments shows.

use crate::pattern::Pattern;
use crate::progress::Progress;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use maplens_core::analysis::Category;
use maplens_core::parse::Entry;
use maplens_core::source::bundle::Compression;
use maplens_core::source::{Bundle, Target};
use maplens_core::system::aggregate::{self, Group, ObjectTotals, ShmTotals};
use maplens_core::system::{
    BundleFiles, Detail, Mem, ProcDir, ProcFiles, ProcessMeta, ProcessRow, Reason, ScanHooks,
    ScanOptions, ScanReport, scan_files, tmpfs_devices,
};
use serde_json::{Value, json};

use crate::common::{Format, emit, human};
use crate::render::{JSON_SCHEMA_VERSION, csv, plain_table};

/// Sort keys of `maplens top`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Proportional set size (default).
    #[default]
    Pss,
    /// Unique set size.
    Uss,
    /// Resident set size.
    Rss,
    /// Swap.
    Swap,
    /// Proportional swap.
    Swappss,
    /// Process id (ascending).
    Pid,
    /// User name (ascending).
    User,
    /// Command line (ascending).
    Command,
}

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
    pub target: Option<String>,
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
    /// Never draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Process selection and progress shared by `top` and `libs`.
pub struct Selection {
    filter: Option<Pattern>,
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
        target: Option<&str>,
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
        let bundle = match Target::parse(word) {
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
                    "'{word}': `maplens top` takes a capture bundle; for one process give --pid {p}"
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

    /// Scans every process of the source (or those in `pids`).
    pub fn scan(
        &self,
        detail: Detail,
        pids: &[u32],
        hooks: &mut dyn ScanHooks,
    ) -> anyhow::Result<ScanReport> {
        let opts = ScanOptions {
            detail,
            comm: false,
            pids: pids.to_vec(),
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
    let report = source.scan(detail, &pids, &mut hooks)?;
    hooks.sel.tick(1, 1);
    let out = match args.by {
        None => processes(args, &report)?,
        Some(By::User) => groups(args, &report, "USER", aggregate::by_user(&report.rows))?,
        Some(By::Category) => groups(
            args,
            &report,
            "CATEGORY",
            aggregate::by_category(&report.rows),
        )?,
        Some(By::Object) => objects(args, &report, hooks.objects.take().unwrap_or_default())?,
        Some(By::Shm) => shm(args, &report, hooks.shm.take().unwrap_or_default())?,
    };
    emit(out.as_bytes())
}

/// `maplens` with no arguments.
pub fn run_default() -> anyhow::Result<()> {
    run(&Args::default())
}

fn sort_rows(rows: &mut [&ProcessRow], key: SortKey, reverse: bool) {
    let num = |r: &ProcessRow| match key {
        SortKey::Pss => r.mem.pss,
        SortKey::Uss => r.mem.uss,
        SortKey::Rss => r.mem.rss,
        SortKey::Swap => r.mem.swap,
        SortKey::Swappss => r.mem.swap_pss,
        _ => 0,
    };
    rows.sort_by(|a, b| {
        let o = match key {
            SortKey::Pid => a.meta.pid.cmp(&b.meta.pid),
            SortKey::User => a.meta.user.cmp(&b.meta.user),
            SortKey::Command => a.meta.command.cmp(&b.meta.command),
            _ => num(b).cmp(&num(a)),
        };
        o.then(a.meta.pid.cmp(&b.meta.pid))
    });
    if reverse {
        rows.reverse();
    }
}

/// kB as shown: human units, or exact bytes.
pub fn kb(v: u64, exact: bool) -> String {
    human(v.saturating_mul(1024), exact)
}

/// A command line for a table: the program's base name and its arguments.
pub fn short_command(cmd: &str) -> &str {
    let first = cmd.split(' ').next().unwrap_or(cmd);
    match first.rfind('/') {
        Some(i) if first.starts_with('/') || first.starts_with('.') => &cmd[i + 1..],
        _ => cmd,
    }
}

/// Shortens a command for a table cell.
pub fn cell(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// JSON of a [`Mem`], in kB.
pub fn mem_json(m: &Mem) -> Value {
    json!({
        "uss_kb": m.uss,
        "pss_kb": m.pss,
        "rss_kb": m.rss,
        "swap_kb": m.swap,
        "swap_pss_kb": m.swap_pss,
        "pss_anon_kb": m.pss_anon,
        "pss_file_kb": m.pss_file,
        "pss_shmem_kb": m.pss_shmem,
        "private_clean_kb": m.private_clean,
        "private_dirty_kb": m.private_dirty,
        "shared_clean_kb": m.shared_clean,
        "shared_dirty_kb": m.shared_dirty,
    })
}

/// The JSON keys every scan-based document shares.
pub fn report_json(report: &ScanReport) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("schema_version".into(), json!(JSON_SCHEMA_VERSION));
    m.insert("processes".into(), json!(report.rows.len()));
    m.insert("totals".into(), mem_json(&report.totals));
    m.insert(
        "mem_total_kb".into(),
        json!(report.meminfo.map(|i| i.mem_total)),
    );
    m.insert(
        "unreadable".into(),
        Value::Array(
            report
                .unreadable
                .iter()
                .map(|u| {
                    json!({
                        "pid": u.pid,
                        "comm": u.comm,
                        "user": u.user,
                        "reason": u.reason.id(),
                        "message": u.reason.to_string(),
                    })
                })
                .collect(),
        ),
    );
    m.insert("filtered_out".into(), json!(report.filtered_out));
    m.insert("hidepid".into(), json!(report.hidepid));
    m.insert("smaps_rollup".into(), json!(report.rollup_available));
    m
}

fn json_text(v: Value) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s)
}

/// The totals line and the footer naming every process not counted.
pub fn footer(report: &ScanReport, exact: bool) -> String {
    let mut s = String::new();
    let t = &report.totals;
    let _ = write!(
        s,
        "{} processes: PSS {}",
        report.rows.len(),
        kb(t.pss, exact)
    );
    if let Some(mi) = report.meminfo.filter(|m| m.mem_total > 0) {
        let _ = write!(
            s,
            " ({:.1}% of MemTotal {})",
            t.pss as f64 * 100.0 / mi.mem_total as f64,
            kb(mi.mem_total, exact)
        );
    }
    let _ = writeln!(
        s,
        ", USS {}, swap {} (SwapPss {}); RSS {} counts shared pages once per process",
        kb(t.uss, exact),
        kb(t.swap, exact),
        kb(t.swap_pss, exact),
        kb(t.rss, exact)
    );
    if report.filtered_out > 0 {
        let _ = writeln!(
            s,
            "{} processes left out by the filter",
            report.filtered_out
        );
    }
    let mut reasons: Vec<&Reason> = report.unreadable.iter().map(|u| &u.reason).collect();
    reasons.sort();
    reasons.dedup();
    for r in reasons {
        let who: Vec<String> = report
            .unreadable
            .iter()
            .filter(|u| &u.reason == r)
            .map(|u| format!("{} ({})", u.pid, u.comm.as_deref().unwrap_or("?")))
            .collect();
        const SHOW: usize = 8;
        let mut names = who
            .iter()
            .take(SHOW)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if who.len() > SHOW {
            let _ = write!(
                names,
                ", and {} more (--format json lists all)",
                who.len() - SHOW
            );
        }
        let hint = match r {
            Reason::PermissionDenied => "; their memory is not in the totals: run as root",
            Reason::Other(_) => "; their memory is not in the totals",
            _ => "",
        };
        let _ = writeln!(s, "not counted, {r}: {}{hint}: {names}", who.len());
    }
    if let Some(h) = &report.hidepid {
        let _ = writeln!(
            s,
            "/proc is mounted with hidepid={h}: other users' processes may be invisible and are not counted"
        );
    }
    s
}

fn processes(args: &Args, report: &ScanReport) -> anyhow::Result<String> {
    let mut rows: Vec<&ProcessRow> = report.rows.iter().collect();
    sort_rows(&mut rows, args.sort, args.reverse);
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    match args.format {
        Format::Json => {
            let mut doc = report_json(report);
            doc.insert(
                "rows".into(),
                Value::Array(
                    rows.iter()
                        .map(|r| {
                            let mut v = mem_json(&r.mem);
                            v["pid"] = json!(r.meta.pid);
                            v["uid"] = json!(r.meta.uid);
                            v["user"] = json!(r.meta.user);
                            v["command"] = json!(r.meta.command);
                            v["source"] = json!(r.source);
                            v["largest"] = json!(r.largest().map(|(k, _)| k));
                            v["largest_pss_kb"] = json!(r.largest().map(|(_, p)| p));
                            if !r.categories.is_empty() {
                                v["categories"] = Value::Array(
                                    r.categories
                                        .iter()
                                        .map(|(c, m)| {
                                            let mut x = mem_json(m);
                                            x["category"] = json!(c.id());
                                            x
                                        })
                                        .collect(),
                                );
                            }
                            v
                        })
                        .collect(),
                ),
            );
            json_text(Value::Object(doc))
        }
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [
                "PID", "USER", "COMMAND", "USS", "PSS", "RSS", "SWAP", "SWAPPSS", "LARGEST",
            ];
            let numeric = [true, false, false, true, true, true, true, true, false];
            let out: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let cmd = r.meta.display_command();
                    vec![
                        r.meta.pid.to_string(),
                        r.meta.user.clone(),
                        if csv_mode {
                            cmd
                        } else {
                            cell(short_command(&cmd), 48)
                        },
                        kb(r.mem.uss, exact),
                        kb(r.mem.pss, exact),
                        kb(r.mem.rss, exact),
                        kb(r.mem.swap, exact),
                        kb(r.mem.swap_pss, exact),
                        r.largest().map_or_else(String::new, |(k, _)| k.to_owned()),
                    ]
                })
                .collect();
            if csv_mode {
                return csv(&header, &out);
            }
            let mut s = plain_table(&header, &numeric, &out);
            s.push_str(&footer(report, args.bytes));
            if !args.categories && report.rows.iter().all(|r| r.categories.is_empty()) {
                s.push_str(
                    "LARGEST is the largest of anon/file/shmem PSS (smaps_rollup); --categories classifies regions\n",
                );
            }
            Ok(s)
        }
    }
}

fn groups(args: &Args, report: &ScanReport, what: &str, g: Vec<Group>) -> anyhow::Result<String> {
    let mut g = g;
    match args.sort {
        SortKey::Uss => g.sort_by_key(|a| std::cmp::Reverse(a.mem.uss)),
        SortKey::Rss => g.sort_by_key(|a| std::cmp::Reverse(a.mem.rss)),
        SortKey::Swap => g.sort_by_key(|a| std::cmp::Reverse(a.mem.swap)),
        SortKey::Swappss => g.sort_by_key(|a| std::cmp::Reverse(a.mem.swap_pss)),
        SortKey::User | SortKey::Command | SortKey::Pid => g.sort_by(|a, b| a.key.cmp(&b.key)),
        SortKey::Pss => {}
    }
    if args.reverse {
        g.reverse();
    }
    if let Some(n) = args.limit {
        g.truncate(n);
    }
    let key = what.to_lowercase();
    match args.format {
        Format::Json => {
            let mut doc = report_json(report);
            doc.insert("by".into(), json!(key));
            doc.insert(
                "groups".into(),
                Value::Array(
                    g.iter()
                        .map(|x| {
                            let mut v = mem_json(&x.mem);
                            v[key.as_str()] = json!(x.key);
                            v["count"] = json!(x.processes);
                            v
                        })
                        .collect(),
                ),
            );
            json_text(Value::Object(doc))
        }
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [what, "COUNT", "USS", "PSS", "RSS", "SWAP", "SWAPPSS"];
            let numeric = [false, true, true, true, true, true, true];
            let out: Vec<Vec<String>> = g
                .iter()
                .map(|x| {
                    vec![
                        x.key.clone(),
                        x.processes.to_string(),
                        kb(x.mem.uss, exact),
                        kb(x.mem.pss, exact),
                        kb(x.mem.rss, exact),
                        kb(x.mem.swap, exact),
                        kb(x.mem.swap_pss, exact),
                    ]
                })
                .collect();
            if csv_mode {
                return csv(&header, &out);
            }
            let mut s = plain_table(&header, &numeric, &out);
            s.push_str(&footer(report, args.bytes));
            Ok(s)
        }
    }
}

fn objects(args: &Args, report: &ScanReport, o: ObjectTotals) -> anyhow::Result<String> {
    let mut rows = o.into_rows();
    match args.sort {
        SortKey::Uss => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.uss)),
        SortKey::Rss => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.rss)),
        SortKey::Swap => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.swap)),
        SortKey::Swappss => rows.sort_by_key(|a| std::cmp::Reverse(a.mem.swap_pss)),
        SortKey::Pss => {}
        _ => rows.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    if args.reverse {
        rows.reverse();
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    match args.format {
        Format::Json => {
            let mut doc = report_json(report);
            doc.insert("by".into(), json!("object"));
            doc.insert(
                "objects".into(),
                Value::Array(
                    rows.iter()
                        .map(|x| {
                            let mut v = mem_json(&x.mem);
                            v["object"] = json!(x.name);
                            v["regions"] = json!(x.regions);
                            v["pids"] = json!(x.pids);
                            v["size_kb"] = json!(x.mem.size);
                            v
                        })
                        .collect(),
                ),
            );
            json_text(Value::Object(doc))
        }
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [
                "OBJECT", "PIDS", "REGIONS", "USS", "PSS", "RSS", "SWAP", "AVGPSS",
            ];
            let numeric = [false, true, true, true, true, true, true, true];
            let out: Vec<Vec<String>> = rows
                .iter()
                .map(|x| {
                    vec![
                        if csv_mode {
                            x.name.clone()
                        } else {
                            cell(&x.name, 60)
                        },
                        x.pids.len().to_string(),
                        x.regions.to_string(),
                        kb(x.mem.uss, exact),
                        kb(x.mem.pss, exact),
                        kb(x.mem.rss, exact),
                        kb(x.mem.swap, exact),
                        kb(x.mem.pss / x.pids.len().max(1) as u64, exact),
                    ]
                })
                .collect();
            if csv_mode {
                return csv(&header, &out);
            }
            let mut s = plain_table(&header, &numeric, &out);
            s.push_str(&footer(report, args.bytes));
            Ok(s)
        }
    }
}

fn shm(args: &Args, report: &ScanReport, t: ShmTotals) -> anyhow::Result<String> {
    let mut rows = t.into_rows();
    if args.reverse {
        rows.reverse();
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    match args.format {
        Format::Json => {
            let mut doc = report_json(report);
            doc.insert("by".into(), json!("shm"));
            doc.insert(
                "shared_memory".into(),
                Value::Array(
                    rows.iter()
                        .map(|x| {
                            json!({
                                "kind": x.kind.id(),
                                "key": x.key,
                                "name": x.name,
                                "sysv_key": x.sysv_key.map(|k| format!("0x{k:08x}")),
                                "size_kb": x.size,
                                "pss_kb": x.pss,
                                "rss_max_kb": x.rss_max,
                                "swap_pss_kb": x.swap_pss,
                                "mappers": x.mappers.iter().map(|p| {
                                    let mut v = mem_json(&p.mem);
                                    v["pid"] = json!(p.pid);
                                    v["command"] = json!(p.command);
                                    v
                                }).collect::<Vec<_>>(),
                            })
                        })
                        .collect(),
                ),
            );
            json_text(Value::Object(doc))
        }
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [
                "KIND", "ID", "NAME", "SIZE", "PSS", "RSS(MAX)", "SWAPPSS", "PIDS",
            ];
            let numeric = [false, false, false, true, true, true, true, false];
            let out: Vec<Vec<String>> = rows
                .iter()
                .map(|x| {
                    let id = match &x.key {
                        aggregate::ShmKey::SysV { shmid } => format!("shmid {shmid}"),
                        aggregate::ShmKey::Inode { dev, inode } => format!("{dev}:{inode}"),
                    };
                    let who = x
                        .mappers
                        .iter()
                        .map(|p| {
                            if csv_mode {
                                p.pid.to_string()
                            } else {
                                format!("{} ({})", p.pid, cell(short_command(&p.command), 20))
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(if csv_mode { " " } else { ", " });
                    vec![
                        x.kind.id().to_owned(),
                        id,
                        if csv_mode {
                            x.name.clone()
                        } else {
                            cell(&x.name, 40)
                        },
                        kb(x.size, exact),
                        kb(x.pss, exact),
                        kb(x.rss_max, exact),
                        kb(x.swap_pss, exact),
                        who,
                    ]
                })
                .collect();
            if csv_mode {
                return csv(&header, &out);
            }
            let mut s = plain_table(&header, &numeric, &out);
            let total: u64 = rows.iter().map(|x| x.pss).sum();
            let _ = writeln!(
                s,
                "{} shared-memory objects, {} resident (Σ PSS over their mappers: each page once){}",
                rows.len(),
                kb(total, args.bytes),
                report
                    .meminfo
                    .map(|m| format!("; meminfo Shmem {}", kb(m.shmem, args.bytes)))
                    .unwrap_or_default()
            );
            s.push_str(&footer(report, args.bytes));
            Ok(s)
        }
    }
}
