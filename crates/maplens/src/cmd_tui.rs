//! `maplens tui TARGET`: the interactive explorer (`maplens-tui`), on a live
//! process (re-read every `--interval`) or a saved file or bundle.

use std::time::Duration;

use anyhow::bail;
use maplens_core::source::collect::{Collector, Policy, Want};
use maplens_core::source::{self, Target};
use maplens_tui::widgets::Theme;

use crate::common::TargetArgs;

/// Arguments of `maplens tui`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Keys: ? shows them all. / searches paths, f and p filter by kind and
permission, s sorts, Enter opens the detail of a region, 1-4 or Tab switch
between regions, objects, threads and findings, q or Ctrl-C quits.

A running process is read again every --interval seconds; + ~ * mark regions
that are new, resized or changed in RSS since the first reading. NO_COLOR
turns colours off."
)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Seconds between readings of a running process.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub interval: f64,
    /// Read a running process once, without refresh.
    #[arg(long)]
    pub once: bool,
}

/// Runs `tui`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        bail!(
            "--interval: {} is not a number of seconds of at least 0.1",
            args.interval
        );
    }
    // A process (by PID or by name) is followed by its PID through the
    // collector `watch` and `serve` use; files and bundles do not change.
    let proc_root = args.target.options().proc_root;
    let pid = match args.target.target.as_deref().map(Target::parse_os) {
        Some(Target::Pid(p)) => Some(p),
        Some(Target::Name(n)) => Some(source::find_by_name(&proc_root, &n)?),
        _ => None,
    };
    let (snap, reload): (_, Option<maplens_tui::Reload>) = match pid {
        Some(pid) => {
            // The collector decides what a full reading reads (smaps and
            // the threads, as the report).
            let opts = args.target.options();
            let policy = Policy {
                always_full: true,
                ..Policy::default()
            };
            let mut collector = Collector::new(pid, opts, policy);
            let first = collector.read(Want::Full)?.snapshot;
            let reload: Option<maplens_tui::Reload> = (!args.once).then(|| {
                Box::new(move || Ok(collector.read(Want::Full)?.snapshot)) as maplens_tui::Reload
            });
            (first, reload)
        }
        None => (args.target.load(true, true)?, None),
    };
    let opts = maplens_tui::Options {
        interval: reload
            .is_some()
            .then(|| Duration::from_secs_f64(args.interval)),
        theme: Theme::from_env(),
    };
    maplens_tui::run(snap, reload, &opts)
}
