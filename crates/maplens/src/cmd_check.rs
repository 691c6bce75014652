//! `maplens check`.

/// Arguments of `maplens check`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Targets.
    pub targets: Vec<String>,
}

/// Runs `check`; exit code 0 when nothing at or above the threshold is
/// found, 1 when something is, 2 on error.
pub fn main(args: &Args) -> std::process::ExitCode {
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("maplens: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs `check`.
pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("'maplens check' is not built yet")
}
