//! `maplens top`.

/// Arguments of `maplens top`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Targets.
    pub targets: Vec<String>,
}

/// Runs `top`.
pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("'maplens top' is not built yet")
}

/// `maplens` with no arguments.
pub fn run_default() -> anyhow::Result<()> {
    run(&Args { targets: Vec::new() })
}
