//! `maplens capture`: save processes' raw kernel text into one tar bundle
//! for analysis elsewhere (`maplens top cap.tar`, `maplens cap.tar:1234`).
//!
//! The bundle writer is `crate::capture`; this file holds the arguments.

use std::path::PathBuf;

use crate::capture::{self, Compress, Plan};

/// Arguments of `maplens capture`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  maplens capture --all -o cap.tar        every process, to a file
  ssh dev maplens capture --all > cap.tar stream from a device
  maplens capture 1234 --light -o cap.tar.gz
  maplens top cap.tar; maplens cap.tar:1234; maplens maps cap.tar:1234")]
pub struct Args {
    /// PIDs (or `self`, or exact process names) to capture.
    #[arg(value_name = "PID")]
    pub targets: Vec<String>,
    /// Capture every process (kernel threads, which have no memory map, are
    /// left out and counted).
    #[arg(short, long, conflicts_with = "targets")]
    pub all: bool,
    /// Where to write the bundle; `-` is standard output (the default when
    /// it is not a terminal).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// smaps_rollup (totals) instead of smaps: much smaller, and cheaper for
    /// the kernel; per-region residency is then unknown.
    #[arg(long)]
    pub light: bool,
    /// Compression; by default from the output's name (`.gz`/`.tgz`: gzip,
    /// `.zst`/`.tzst`: zstd), else none.
    #[arg(long, value_enum)]
    pub compress: Option<Compress>,
    /// Leave out the per-thread files (task/*/comm and task/*/syscall).
    #[arg(long)]
    pub no_threads: bool,
    /// Read processes from this copy of /proc instead of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<PathBuf>,
    /// Print nothing on standard error when done.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `capture`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    capture::write(&Plan {
        targets: args.targets.clone(),
        all: args.all,
        output: args.output.clone(),
        light: args.light,
        compress: args.compress,
        no_threads: args.no_threads,
        proc_root: args.proc_root.clone(),
        quiet: args.quiet,
    })
}
