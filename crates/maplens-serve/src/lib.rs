//! `maplens serve`: a Prometheus exporter of what maplens knows about the
//! memory of a machine's processes, summed into a bounded number of groups.
//!
//! Three parts, each on threads of its own:
//! - [`collect`]: reads every process ([`read::read_process`]) on a bounded
//!   pool of threads, within a time budget, and publishes each complete
//!   [`collect::Collection`];
//! - [`metrics`]: a `prometheus-client` collector that encodes the last
//!   complete collection (Prometheus text or OpenMetrics);
//! - [`server`]: hyper 1.x on a current-thread tokio runtime, serving only
//!   `/metrics` and `/healthz`, with a connection cap and timeouts.
//!
//! The figures are the report's: categories from
//! `maplens_core::analysis::{classify, report}`, findings from
//! `maplens_core::check`.
#![forbid(unsafe_code)]

pub mod collect;
pub mod config;
pub mod metrics;
pub mod read;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context;

/// What `maplens serve` was asked for.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Address to listen on (`None`: the config's, else 127.0.0.1:9935).
    pub listen: Option<SocketAddr>,
    /// The configuration file, if any.
    pub config: Option<PathBuf>,
    /// Where `/proc` is.
    pub proc_root: PathBuf,
    /// Overrides `collect.interval_seconds`.
    pub interval: Option<f64>,
    /// Overrides `collect.full_interval_seconds`.
    pub full_interval: Option<f64>,
}

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9935";

/// Runs the exporter until SIGTERM or SIGINT.
pub fn run(opts: &ServeOptions) -> anyhow::Result<()> {
    let mut config = match &opts.config {
        Some(p) => config::Config::load(p)?,
        None => config::Config::default(),
    };
    if let Some(i) = opts.interval {
        config.collect.interval_seconds = i;
    }
    if let Some(i) = opts.full_interval {
        config.collect.full_interval_seconds = i;
    }
    for (v, what) in [
        (config.collect.interval_seconds, "--interval"),
        (config.collect.full_interval_seconds, "--full-interval"),
    ] {
        if !(v.is_finite() && v > 0.0 && v < 86_400.0) {
            anyhow::bail!("{what} must be a number of seconds above 0 and below a day, not {v}");
        }
    }
    let addr: SocketAddr = match (opts.listen, &config.listen) {
        (Some(a), _) => a,
        (None, Some(s)) => s
            .parse()
            .with_context(|| format!("config listen: '{s}' is not an address:port"))?,
        (None, None) => DEFAULT_LISTEN.parse()?,
    };
    let limits = config.server.clone();
    let shared: collect::Shared = Arc::new(RwLock::new(Arc::new(collect::Collection::default())));
    let stop = Arc::new(AtomicBool::new(false));
    let collector = collect::Collector::new(&opts.proc_root, config);
    let worker = collect::spawn(collector, shared.clone(), stop.clone())
        .context("cannot start the collector thread")?;
    let registry = metrics::registry(shared);
    let served = server::serve(addr, registry, &limits, |a| {
        eprintln!("maplens serve: listening on http://{a}/metrics");
    });
    stop.store(true, Ordering::Relaxed);
    // A collection in progress finishes within its budget.
    let _ = worker.join();
    served
}
