//! `maplens explain LINE…`: what each field of a maps line means.

/// Arguments of `maplens explain`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// maps lines to explain.
    pub lines: Vec<String>,
}

/// Runs `explain`.
pub fn run(_args: &Args) -> anyhow::Result<()> {
    Ok(())
}
