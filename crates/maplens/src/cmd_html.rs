//! `maplens html TARGET -o report.html`: the process report as one
//! self-contained HTML file (`maplens-html` makes the page). With
//! `--recording FILE`, or a recording as the TARGET, it adds the time plot.

use std::path::PathBuf;

use anyhow::{Context, bail};
use maplens_core::analysis::{classify, leaks};
use maplens_core::model::{Sample, Series, Snapshot};
use maplens_record::Pick;

use crate::common::{TargetArgs, emit};
use crate::samples::{RecordingRef, read_series, recording_ref, snapshot_of_sample};

/// Arguments of `maplens html`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "The page is one file with no network access (a Content-Security-Policy
forbids every request): the report, a treemap of memory by category, object and
region, the address-space map (to scale, or on a log scale), the thread stacks, the
findings and a sortable, searchable region table. A recording (--recording, or a
recording as the TARGET: its last full sample is the report) adds the time plot of
its categories, growing objects and leaks. Open it in any browser.

Examples:
  maplens html 1234 -o report.html
  maplens html cap.tar:1234 -o report.html
  maplens html 1234 --recording rec.db -o report.html
  maplens html rec.db -o report.html"
)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the page to this file (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A recording of the process (`rec.db`, `rec.jsonl`, `rec.db:PID`):
    /// adds the time plot of the series of the target's PID (or the only
    /// series).
    #[arg(long, value_name = "FILE")]
    pub recording: Option<std::ffi::OsString>,
}

/// The series of `r` to plot: its `:PID`, else the one of `pid`, else its
/// only one. A process run several times gives its last run.
fn series_for(r: &RecordingRef, pid: Option<u32>) -> anyhow::Result<Series> {
    let mut all = read_series(r)?;
    if all.len() > 1
        && r.pid.is_none()
        && let Some(p) = pid
        && all.iter().any(|s| s.pid == Some(p))
    {
        all.retain(|s| s.pid == Some(p));
    }
    let pids: Vec<Option<u32>> = all.iter().map(|s| s.pid).collect();
    if all.len() > 1 && !pids.windows(2).all(|w| w[0] == w[1]) {
        let names: Vec<String> = all.iter().map(Series::label).collect();
        bail!(
            "{} holds {} process runs ({}); name one as {}:PID",
            r.path.display(),
            all.len(),
            names.join(", "),
            r.path.display()
        );
    }
    Ok(all.pop().expect("read_series gives at least one series"))
}

/// A recording as the target: the picked (default: last) full sample of
/// its one series as the snapshot, and the series.
fn from_recording(r: &RecordingRef) -> anyhow::Result<(Snapshot, Series)> {
    let series = series_for(r, None)?;
    let full: Vec<Sample> = series.samples.iter().filter(|s| s.full).cloned().collect();
    let pick = r.pick.clone().unwrap_or(Pick::Index(-1));
    let Some(i) = pick.choose(&full) else {
        bail!(
            "{}: {pick:?} names no full sample; it holds {} full samples",
            r.path.display(),
            full.len()
        );
    };
    let snap = snapshot_of_sample(&full[i], &r.path.display().to_string())?;
    Ok((snap, series))
}

/// Runs `html`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    // A recording (`rec.db:PID`), or any other target.
    let as_recording = match args.target.target.as_deref() {
        Some(word) => recording_ref(word)?,
        None => None,
    };
    let (snap, series) = match as_recording {
        Some(r) => {
            if args.recording.is_some() {
                bail!(
                    "{}: the target is a recording already; --recording goes with a process or a capture",
                    r.path.display()
                );
            }
            let (snap, series) = from_recording(&r)?;
            (snap, Some(series))
        }
        None => {
            let snap = args.target.load(true, false)?;
            let series = match &args.recording {
                Some(word) => {
                    let r = recording_ref(word)?.with_context(|| {
                        format!(
                            "{}: not a maplens recording",
                            std::path::Path::new(word).display()
                        )
                    })?;
                    Some(series_for(&r, snap.process.pid)?)
                }
                None => None,
            };
            (snap, series)
        }
    };
    let cl = classify(&snap);
    let (rep, findings) = crate::cmd_report::analyse(&snap, &cl);
    let trends = series.as_ref().map(leaks);
    let recording = series
        .as_ref()
        .zip(trends.as_ref())
        .map(|(series, leaks)| maplens_html::Recording { series, leaks });
    let page = maplens_html::document(&maplens_html::Input {
        snapshot: &snap,
        classified: &cl,
        report: &rep,
        findings: Some(&findings),
        recording,
    })
    .context("encoding the report as JSON")?;
    match &args.output {
        Some(path) if path.as_os_str() != "-" => std::fs::write(path, page)
            .with_context(|| format!("{}: cannot write the report", path.display())),
        _ => emit(page.as_bytes()),
    }
}
