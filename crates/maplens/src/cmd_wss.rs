//! `maplens wss TARGET`: the working set per region and category over
//! time (clear_refs + `Referenced:`; see `maplens_core::source::wss`).

use std::time::{Duration, Instant};

use anyhow::bail;
use maplens_core::analysis::classify;
use maplens_core::analysis::wss::sample;
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
kernel afterwards. So --yes is required for another process. Idle page tracking
(/sys/kernel/mm/page_idle, root) and DAMON vaddr are reported when present; this
build measures with clear_refs."
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
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
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
    if pid != std::process::id() && !a.yes {
        bail!(
            "{}/{pid}/clear_refs: not written without --yes: clearing the referenced bits makes \
             the pages process {pid} uses look cold to the kernel's reclaim",
            opts.proc_root.display()
        );
    }
    let mut notes = Vec::new();
    if wss::page_idle_usable(&opts.sys_root) {
        notes.push("idle page tracking is present; this build measures with clear_refs".to_owned());
    }
    match wss::damon_vaddr_live(&opts.sys_root) {
        Ok(()) => {
            notes.push("DAMON vaddr could be used; this build measures with clear_refs".into())
        }
        Err(why) => notes.push(format!("DAMON not used: {why}")),
    }
    notes.push(
        "mechanism: clear_refs (1) + smaps Referenced; it changes the target's reclaim behaviour"
            .into(),
    );
    let interval = Duration::from_secs_f64(a.interval);
    let n = a
        .duration
        .map_or(1, |d| ((d / a.interval).round() as u64).max(1));
    opts.rollup = false;
    let t0 = Instant::now();
    let mut samples = Vec::new();
    for _ in 0..n {
        wss::clear_refs(&opts.proc_root, pid)?;
        std::thread::sleep(interval);
        let snap = source::load(&Target::Pid(pid), &opts)?;
        let cl = classify(&snap);
        let s = sample(&snap, &cl, t0.elapsed().as_secs_f64());
        if a.format == Format::Table {
            emit(printer::wss_line(&s).as_bytes())?;
        }
        samples.push(s);
    }
    if a.format != Format::Table {
        emit(printer::wss(&samples, &notes, a.format)?.as_bytes())?;
    } else {
        let text: String = notes
            .iter()
            .map(|n| format!("{}\n", crate::render::term(n)))
            .collect();
        emit(text.as_bytes())?;
    }
    Ok(())
}
