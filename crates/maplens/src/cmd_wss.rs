//! `maplens wss TARGET`: the working set per region and category over
//! time (clear_refs + `Referenced:`; see `maplens_core::source::wss`).

use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::bail;
use maplens_core::analysis::classify;
use maplens_core::analysis::wss::{damon_sample, idle_sample, sample};
use maplens_core::source::damon::{self, DamonAttrs, Kdamond};
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
required. With DAMON vaddr (CONFIG_DAMON_VADDR, root, and no kdamond present) maplens adds a
kdamond of its own monitoring the target, reads its regions each interval, and removes it on
exit (also on Ctrl-C); it never touches a kdamond it did not start (see docs/pages.md)."
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
    /// How to tell accessed pages: `auto` (DAMON vaddr with --yes when
    /// usable, else idle page tracking when usable, else clear_refs),
    /// `damon`, `idle` or `clear-refs`.
    #[arg(long, value_enum, default_value_t)]
    pub mechanism: Mechanism,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Use this copy of /sys instead of /sys (DAMON, idle page tracking).
    #[arg(long, value_name = "DIR", default_value = "/sys")]
    pub sys_root: std::path::PathBuf,
}

/// `--mechanism`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// DAMON, else idle page tracking, else clear_refs (first usable).
    #[default]
    Auto,
    /// A kdamond of maplens' own (`vaddr`, root, no other kdamond present).
    Damon,
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
    opts.sys_root = a.sys_root.clone();
    let interval = Duration::from_secs_f64(a.interval);
    let mut notes = Vec::new();
    let is_root = rustix::process::geteuid().is_root();
    let mut kdamond = None;
    if matches!(a.mechanism, Mechanism::Auto | Mechanism::Damon) {
        let why_not = damon::refusal(&opts.sys_root, is_root).and_then(|()| {
            if a.yes {
                return Ok(());
            }
            Err(format!(
                "{}: not written without --yes (maplens would add a kdamond of its own \
                 monitoring process {pid})",
                damon::kdamonds_dir(&opts.sys_root).display()
            ))
        });
        let attrs = DamonAttrs {
            pid,
            sample_us: 5_000,
            aggr_us: (interval.as_micros() as u64).max(10_000),
            min_nr_regions: 10,
            max_nr_regions: 1_000,
        };
        match why_not.and_then(|()| Kdamond::start(&opts.sys_root, &attrs, is_root)) {
            Ok(k) => {
                notes.push(format!(
                    "mechanism: DAMON vaddr, a kdamond of maplens' own ({}; sample {} us, \
                     aggregation {} us), removed on exit",
                    k.dir().display(),
                    attrs.sample_us,
                    attrs.aggr_us
                ));
                kdamond = Some(k);
            }
            Err(why) if a.mechanism == Mechanism::Damon => bail!("--mechanism damon: {why}"),
            Err(why) => notes.push(format!("DAMON not used: {why}")),
        }
    } else {
        match wss::damon_vaddr_live(&opts.sys_root) {
            Ok(()) => notes.push("DAMON vaddr could be used (--mechanism damon)".into()),
            Err(why) => notes.push(format!("DAMON not used: {why}")),
        }
    }
    let idle_ok = wss::page_idle_usable(&opts.sys_root);
    let idle = kdamond.is_none()
        && match a.mechanism {
            Mechanism::Auto => idle_ok,
            Mechanism::Idle if !idle_ok => bail!(
                "{}/kernel/mm/page_idle/bitmap: idle page tracking is absent \
                 (CONFIG_IDLE_PAGE_TRACKING) or not writable (needs root); use --mechanism clear-refs",
                opts.sys_root.display()
            ),
            Mechanism::Idle => true,
            Mechanism::ClearRefs | Mechanism::Damon => false,
        };
    if kdamond.is_none() && pid != std::process::id() && !a.yes {
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
    if kdamond.is_some() {
    } else if idle {
        notes.push(
            "mechanism: idle page tracking (frames marked idle, then counted); page tables untouched"
                .into(),
        );
    } else {
        notes.push(
            "mechanism: clear_refs (1) + smaps Referenced; it changes the target's reclaim behaviour"
                .into(),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    if kdamond.is_some() {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop))?;
        }
    }
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
        if let Some(k) = &kdamond {
            if !pause(interval, &stop) {
                notes.push("interrupted: the samples so far".into());
                break;
            }
            let regions = k.regions().map_err(anyhow::Error::msg)?;
            let snap = source::load(&Target::Pid(pid), &opts)?;
            let cl = classify(&snap);
            let s = damon_sample(&snap, &cl, &regions, t0.elapsed().as_secs_f64());
            if a.format == Format::Table {
                emit(printer::wss_line(&s).as_bytes())?;
            }
            samples.push(s);
            continue;
        }
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
    if let Some(mut k) = kdamond.take() {
        notes.extend(k.stop());
    }
    if a.format != Format::Table {
        let mechanism = if notes.iter().any(|n| n.starts_with("mechanism: DAMON")) {
            "damon"
        } else if idle {
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

/// Sleeps `d` in short steps; false when a signal asked to stop first.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
    }
    !stop.load(Ordering::Relaxed)
}
