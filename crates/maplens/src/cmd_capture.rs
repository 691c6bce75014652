//! `maplens capture`.

/// Arguments of `maplens capture`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Targets.
    pub targets: Vec<String>,
}

/// Runs `capture`.
pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("'maplens capture' is not built yet")
}
