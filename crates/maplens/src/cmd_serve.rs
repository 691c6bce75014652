//! `maplens serve`: the Prometheus exporter (crate `maplens-serve`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `maplens serve`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Serves /metrics (Prometheus text or OpenMetrics, by the Accept header)
and /healthz. Processes are summed into groups: by command name, or by the
[[group]] rules of --config (comm, exe, cmdline regex, user, cgroup), so the
number of series stays bounded. See docs/serve.md and deploy/.

Examples:
  maplens serve                               127.0.0.1:9935, groups by comm
  maplens serve --config /etc/maplens/serve.toml
  maplens serve --listen 0.0.0.0:9935         every address (ask for it)"
)]
pub struct Args {
    /// Address and port to listen on (loopback unless asked otherwise).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Configuration file (TOML): group rules and cost limits.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seconds between collections (smaps_rollup of every process).
    #[arg(long, value_name = "SECS")]
    pub interval: Option<f64>,
    /// Full smaps of a process at most this often (seconds).
    #[arg(long, value_name = "SECS")]
    pub full_interval: Option<f64>,
    /// Read processes from this copy of /proc instead of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<PathBuf>,
}

/// Runs the exporter until SIGTERM.
pub fn run(args: &Args) -> anyhow::Result<()> {
    maplens_serve::run(&maplens_serve::ServeOptions {
        listen: args.listen,
        config: args.config.clone(),
        proc_root: args.proc_root.clone().unwrap_or_else(|| "/proc".into()),
        interval: args.interval,
        full_interval: args.full_interval,
    })
}
