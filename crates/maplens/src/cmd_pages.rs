//! `maplens pages TARGET`: below the region, from pagemap: which pages are
//! present, swapped, exclusive, file/shared; with `--content`, which are
//! zeros or duplicates.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use maplens_core::analysis::pages::{PagesOptions, pages};
use maplens_core::analysis::{Category, classify};
use maplens_core::model::Snapshot;
use maplens_core::source::pages::{Budget, PageReader};
use maplens_core::source::procmap::MapsQuery;
use maplens_core::source::{self, Target};

use crate::common::{Format, TargetArgs, emit};
use crate::render::pages as printer;

/// Arguments of `maplens pages`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Counts are of pages (shown as sizes): PRESENT in RAM, SWAPPED out,
  EXCL(usive) present and mapped by this process only, FILE file pages or shared
  anonymous memory. STRIP shows the region in cells: '#' all present, '+' more than
  half, ':' more than a quarter, '.' some, ' ' none.
--content reads the resident pages of private anonymous regions (needs ptrace
  access: the same user or root): ZERO pages hold only zero bytes; DUP pages equal
  another page read earlier (k copies of a page count k-1).
Without root, PFNs read as zero: KSM, THP, zero-page, idle and shared-frame counts
  are not shown (the output says so)."
)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only the region holding this address (hex; found with PROCMAP_QUERY).
    #[arg(long, value_name = "ADDR")]
    pub region: Option<String>,
    /// Only regions of these categories (comma-separated, repeatable).
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Also read page contents: zero and duplicate pages.
    #[arg(long)]
    pub content: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
    /// Cells of the residency strip.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub strip: usize,
    /// Stop reading after this many seconds (the output says so).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub budget: f64,
}

/// The PID of a live target.
pub fn live_pid(t: &TargetArgs) -> anyhow::Result<u32> {
    let word = t
        .target
        .as_deref()
        .context("no target given: name a PID, `self` or a process name")?;
    let opts = t.options();
    match Target::parse_os(word) {
        Target::Pid(p) => Ok(p),
        Target::Name(n) => Ok(source::find_by_name(&opts.proc_root, &n)?),
        _ => bail!(
            "{}: page figures need a running process (a PID or a name), not a file",
            Path::new(word).display()
        ),
    }
}

fn parse_hex(s: &str) -> anyhow::Result<u64> {
    let t = s.trim().trim_start_matches("0x").trim_start_matches("0X");
    u64::from_str_radix(t, 16).with_context(|| format!("--region: '{s}' is not a hex address"))
}

/// Runs `pages`.
pub fn run(a: &Args) -> anyhow::Result<()> {
    for k in &a.kind {
        if Category::from_id(k).is_none() {
            bail!("--kind: unknown category '{k}' (see `maplens maps --help` for the list)");
        }
    }
    let pid = live_pid(&a.target)?;
    let mut opts = a.target.options();
    let snap = match &a.region {
        Some(addr) => {
            let addr = parse_hex(addr)?;
            let (r, _via) = MapsQuery::open(&opts.proc_root, pid)?.find(addr)?;
            let r =
                r.with_context(|| format!("--region: no region of process {pid} holds {addr:x}"))?;
            Snapshot {
                origin: format!("{}/{pid}", opts.proc_root.display()),
                regions: vec![r],
                ..Snapshot::default()
            }
        }
        None => {
            opts.smaps = false;
            opts.rollup = false;
            opts.threads = true;
            source::load(&Target::Pid(pid), &opts)?
        }
    };
    let cl = classify(&snap);
    let rows: Vec<usize> = (0..snap.regions.len())
        .filter(|&i| a.kind.is_empty() || a.kind.iter().any(|k| k == cl.classes[i].category.id()))
        .collect();
    let mut reader = PageReader::open(&opts.proc_root, pid)?;
    let budget = Budget::new(Some(Duration::from_secs_f64(a.budget.max(0.0))));
    let report = pages(
        &snap,
        &cl,
        &rows,
        &mut reader,
        &PagesOptions {
            content: a.content,
            strip_width: a.strip,
            budget,
        },
    )?;
    emit(printer::print(&snap, &report, a.format, a.bytes)?.as_bytes())?;
    std::mem::forget((snap, cl));
    Ok(())
}
