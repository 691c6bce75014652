//! `maplens plot RECORDING -o FILE.svg|FILE.png`: a recording as a chart.
//!
//! The trends (and so the leak marks) are `maplens_core::analysis::leaks`;
//! `render::plot` draws them with plotters.

use std::path::PathBuf;

use anyhow::{Context, bail};
use maplens_core::analysis::leaks;

use crate::samples::{read_series, recording_ref};

/// Arguments of `maplens plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The recording (`rec.db`, `rec.jsonl`, `rec.db:PID`).
    pub recording: std::ffi::OsString,
    /// The chart to write: `.svg` or `.png`.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 700)]
    pub height: u32,
}

/// Runs `plot`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let r = recording_ref(&args.recording)?.with_context(|| {
        format!(
            "{}: not a maplens recording",
            std::path::Path::new(&args.recording).display()
        )
    })?;
    let series = read_series(&r)?;
    if series.len() > 1 {
        let names: Vec<String> = series.iter().map(|s| s.label()).collect();
        bail!(
            "{} holds {} process runs ({}); name one as {}:PID",
            r.path.display(),
            series.len(),
            names.join(", "),
            r.path.display()
        );
    }
    let s = &series[0];
    let report = leaks(s);
    let kind = match args.output.extension().and_then(|e| e.to_str()) {
        Some("svg") => crate::render::plot::Kind::Svg,
        Some("png") => crate::render::plot::Kind::Png,
        _ => bail!(
            "{}: the chart is written as .svg or .png; name the file so",
            args.output.display()
        ),
    };
    crate::render::plot::draw(s, &report, &args.output, kind, (args.width, args.height))
}
