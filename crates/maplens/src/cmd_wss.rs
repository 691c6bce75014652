//! `maplens wss TARGET`: the working set per region and category over
//! time (clear_refs + `Referenced:`; see `maplens_core::source::wss`).

use std::time::{Duration, Instant};

use anyhow::bail;
use maplens_core::analysis::classify;
use maplens_core::analysis::wss::{idle_sample, sample};
use maplens_core::source::pages::{Budget, PageReader};
use maplens_core::source::{self, Target, wss};

use crate::cmd_pages::live_pid;
use crate::common::{Format, TargetArgs, emit};
use crate::render::pages as printer;

/// Arguments of `maplens wss`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Each interval, maplens clears the target's referenced bits (writes 1 to
/proc/PID/clear_refs), waits, and reads smaps' Referenced: the memory touched in the
interval. This changes the target's reclaim: pages it used recently look cold to the
kernel afterwards. With idle page tracking (/sys/kernel/mm/page_idle/bitmap, root)
maplens marks the target's frames idle instead and counts those accessed: no page
table changes. Either writes a /proc or /sys file for another process, so --yes is
required. DAMON vaddr is reported when present, not yet driven."
)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Seconds per sample.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub interval: f64,
    /// Total seconds (one sample per interval).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Allow writing the target's /proc/PID/clear_refs.
    #[arg(long)]
    pub yes: bool,
    /// How to tell accessed pages: `auto` (idle page tracking when usable,
    /// else clear_refs), `idle` or `clear-refs`.
    #[arg(long, value_enum, default_value_t)]
    pub mechanism: Mechanism,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `--mechanism`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// Idle page tracking when usable, else clear_refs.
    #[default]
    Auto,
    /// `/sys/kernel/mm/page_idle/bitmap` (root).
    Idle,
    /// `/proc/PID/clear_refs` + smaps `Referenced:`.
    ClearRefs,
}

/// Runs `wss`.
pub fn run(a: &Args) -> anyhow::Result<()> {
    if !(a.interval > 0.0 && a.interval.is_finite()) {
        bail!(
            "--interval: {} is not a positive number of seconds",
            a.interval
        );
    }
    let pid = live_pid(&a.target)?;
    let mut opts = a.target.options();
    let idle_ok = wss::page_idle_usable(&opts.sys_root);
    let idle = match a.mechanism {
        Mechanism::Auto => idle_ok,
        Mechanism::Idle if !idle_ok => bail!(
            "{}/kernel/mm/page_idle/bitmap: idle page tracking is absent \
             (CONFIG_IDLE_PAGE_TRACKING) or not writable (needs root); use --mechanism clear-refs",
            opts.sys_root.display()
        ),
        Mechanism::Idle => true,
        Mechanism::ClearRefs => false,
    };
    if pid != std::process::id() && !a.yes {
        if idle {
            bail!(
                "{}/kernel/mm/page_idle/bitmap: not written without --yes \
                 (it marks the pages of process {pid} idle)",
                opts.sys_root.display()
            );
        }
        bail!(
            "{}/{pid}/clear_refs: not written without --yes: clearing the referenced bits makes \
             the pages process {pid} uses look cold to the kernel's reclaim",
            opts.proc_root.display()
        );
    }
    let mut notes = Vec::new();
    match wss::damon_vaddr_live(&opts.sys_root) {
        Ok(()) => notes.push("DAMON vaddr could be used; this build does not drive it yet".into()),
        Err(why) => notes.push(format!("DAMON not used: {why}")),
    }
    notes.push(if idle {
        "mechanism: idle page tracking (frames marked idle, then counted); page tables untouched"
            .into()
    } else {
        "mechanism: clear_refs (1) + smaps Referenced; it changes the target's reclaim behaviour"
            .into()
    });
    let interval = Duration::from_secs_f64(a.interval);
    let n = a
        .duration
        .map_or(1, |d| ((d / a.interval).round() as u64).max(1));
    opts.rollup = false;
    let t0 = Instant::now();
    let mut samples = Vec::new();
    let mut idle_parts = if idle {
        Some((
            PageReader::open(&opts.proc_root, pid)?,
            wss::IdleBitmap::open(&opts.sys_root)?,
        ))
    } else {
        None
    };
    for _ in 0..n {
        let s = match &mut idle_parts {
            Some((reader, bitmap)) => {
                opts.smaps = false;
                let snap = source::load(&Target::Pid(pid), &opts)?;
                let cl = classify(&snap);
                let budget = Budget::new(Some(interval * 10));
                let mut s = idle_sample(&snap, &cl, reader, bitmap, interval, &budget)?;
                s.at_s = t0.elapsed().as_secs_f64();
                s
            }
            None => {
                wss::clear_refs(&opts.proc_root, pid)?;
                std::thread::sleep(interval);
                let snap = source::load(&Target::Pid(pid), &opts)?;
                let cl = classify(&snap);
                sample(&snap, &cl, t0.elapsed().as_secs_f64())
            }
        };
        if a.format == Format::Table {
            emit(printer::wss_line(&s).as_bytes())?;
        }
        samples.push(s);
    }
    if a.format != Format::Table {
        let mechanism = if idle {
            "idle_page_tracking"
        } else {
            "clear_refs"
        };
        emit(printer::wss(&samples, mechanism, &notes, a.format)?.as_bytes())?;
    } else {
        let text: String = notes
            .iter()
            .map(|n| format!("{}\n", crate::render::term(n)))
            .collect();
        emit(text.as_bytes())?;
    }
    Ok(())
}
