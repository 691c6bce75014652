//! `maplens html TARGET -o report.html`: the process report as one
//! self-contained HTML file (`maplens-html` makes the page).

use std::path::PathBuf;

use anyhow::Context;
use maplens_core::analysis::classify;

use crate::common::{TargetArgs, emit};

/// Arguments of `maplens html`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "The page is one file with no network access (a Content-Security-Policy
forbids every request): the report, a treemap of memory by category, object and
region, the address-space map (to scale, or on a log scale), the thread stacks, the
findings and a sortable, searchable region table. Open it in any browser.

Examples:
  maplens html 1234 -o report.html
  maplens html cap.tar:1234 -o report.html"
)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the page to this file (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `html`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let snap = args.target.load(true, true)?;
    let cl = classify(&snap);
    let (rep, findings) = crate::cmd_report::analyse(&snap, &cl);
    let page = maplens_html::document(&maplens_html::Input {
        snapshot: &snap,
        classified: &cl,
        report: &rep,
        findings: Some(&findings),
    })
    .context("encoding the report as JSON")?;
    match &args.output {
        Some(path) if path.as_os_str() != "-" => std::fs::write(path, page)
            .with_context(|| format!("{}: cannot write the report", path.display())),
        _ => emit(page.as_bytes()),
    }
}
