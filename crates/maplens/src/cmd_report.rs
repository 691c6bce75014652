//! `maplens report TARGET` (and `maplens TARGET`): where every kilobyte goes.

use crate::common::{Format, TargetArgs};

/// Arguments of `maplens report`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
}

/// Runs the report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let _snap = args.target.load(true)?;
    anyhow::bail!("the process report is not built yet (issue 3)")
}
