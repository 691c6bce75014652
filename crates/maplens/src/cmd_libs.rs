//! `maplens libs`.

/// Arguments of `maplens libs`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Targets.
    pub targets: Vec<String>,
}

/// Runs `libs`.
pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("'maplens libs' is not built yet")
}
