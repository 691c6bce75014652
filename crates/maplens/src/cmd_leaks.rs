//! `maplens leaks RECORDING|TARGET [--for 60s]`: is anything growing
//! steadily, and when does it hit a limit?
//!
//! The trends are `maplens_core::analysis::leaks`, one report per process
//! run; `render::leaks` prints them. Exit status: 0 no leak, 1 a leak was
//! found, 2 an error.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use maplens_core::analysis::{LeakReport, leaks};
use maplens_core::model::Series;
use maplens_core::source::collect::{Collector, Policy};

use crate::common::{Format, emit};
use crate::samples::{live_pid, parse_duration, read_series, recording_ref};

/// Arguments of `maplens leaks`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A recording (`rec.db`, `rec.jsonl`, `rec.db:PID`), or a live PID or
    /// process name to watch for `--for`.
    pub target: std::ffi::OsString,
    /// How long to watch a live target.
    #[arg(long = "for", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub watch_for: Duration,
    /// Time between samples of a live target.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
    /// Findings shown per process run (0: all).
    #[arg(long, default_value_t = 12)]
    pub top: usize,
    /// Read live processes from this copy of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<std::path::PathBuf>,
}

/// Runs `leaks`: exit 1 when a leak is found, 2 on an error.
pub fn main(args: &Args) -> ExitCode {
    match run(args) {
        Ok(found) => ExitCode::from(u8::from(found)),
        Err(e) => {
            // The one error printer; its exit code 1 would read as "leak".
            let _ = crate::common::finish(Err(e));
            ExitCode::from(2)
        }
    }
}

/// The reports of every process run of the target.
pub fn build(args: &Args) -> anyhow::Result<Vec<LeakReport>> {
    let series = match recording_ref(&args.target)? {
        Some(r) => read_series(&r)?,
        None => vec![watch_live(args)?],
    };
    Ok(series.iter().map(leaks).collect())
}

/// Samples a live target every `--interval` for `--for`, every sample full.
fn watch_live(args: &Args) -> anyhow::Result<Series> {
    let opts = maplens_core::source::Options {
        proc_root: args.proc_root.clone().unwrap_or_else(|| "/proc".into()),
        ..Default::default()
    };
    let Some(pid) = live_pid(&args.target, &opts.proc_root)? else {
        bail!(
            "{}: neither a recording nor a live process; `leaks` needs samples over time \
             (record with `maplens watch PID --record FILE`)",
            std::path::Path::new(&args.target).display()
        );
    };
    let policy = Policy {
        always_full: true,
        ..Policy::default()
    };
    let mut c = Collector::new(pid, opts, policy);
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut k = 0u32;
    loop {
        match c.sample() {
            Ok(s) => samples.push(s),
            Err(e) if samples.is_empty() => return Err(e.into()),
            // It exited: judge what was seen.
            Err(_) => break,
        }
        k += 1;
        let next = args.interval * k;
        if next > args.watch_for {
            break;
        }
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    Ok(Series::split(samples).remove(0))
}

fn run(args: &Args) -> anyhow::Result<bool> {
    if args.format == Format::Csv {
        bail!("--format csv: leaks prints a table or json");
    }
    let reports = build(args)?;
    let found = reports.iter().any(|r| r.leak);
    let text = match args.format {
        Format::Json => crate::render::leaks::json(&reports)?,
        _ => crate::render::leaks::table(&reports, args.bytes, args.top),
    };
    emit(text.as_bytes())?;
    Ok(found)
}
