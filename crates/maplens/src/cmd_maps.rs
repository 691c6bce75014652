//! `maplens maps TARGET`: one row per region.

use crate::common::{Format, TargetArgs};

/// Arguments of `maplens maps`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Runs `maps`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let _ = args.target.load(false)?;
    Ok(())
}
