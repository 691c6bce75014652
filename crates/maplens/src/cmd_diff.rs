//! `maplens diff A B` and `maplens baseline save TARGET -o FILE`: what
//! changed between two samples of a process.
//!
//! Each side is a recording sample (`rec.db@first`, `rec.jsonl@-1`,
//! `rec.db:PID@2026-12-01T03:00`), a baseline (`base.json`), a live PID or
//! name, or a file, directory or bundle. The comparison is
//! `maplens_core::analysis::diff`; `render::diff` prints it.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use maplens_core::analysis::{SampleDiff, diff};
use maplens_core::source::collect::{Collector, Policy};

use crate::common::{Format, emit};
use crate::samples::{live_pid, load_sample};

/// Arguments of `maplens diff`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The "before" side: FILE, bundle, recording[@PICK], baseline, or a
    /// live PID.
    pub a: OsString,
    /// The "after" side, likewise.
    pub b: OsString,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
    /// Rows per table (0: all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Read live processes from this copy of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<PathBuf>,
}

/// The comparison of the two sides.
pub fn build(args: &Args) -> anyhow::Result<SampleDiff> {
    let opts = maplens_core::source::Options {
        proc_root: args.proc_root.clone().unwrap_or_else(|| "/proc".into()),
        ..Default::default()
    };
    let a = load_sample(&args.a, &opts)?;
    let b = load_sample(&args.b, &opts)?;
    Ok(diff(&a, &b))
}

/// Runs `diff`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.format == Format::Csv {
        anyhow::bail!("--format csv: diff prints a table or json");
    }
    let d = build(args)?;
    let text = match args.format {
        Format::Json => crate::render::diff::json(&d)?,
        _ => crate::render::diff::table(&d, args.bytes, args.top),
    };
    emit(text.as_bytes())
}

/// `maplens baseline`.
#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    #[command(subcommand)]
    command: BaselineCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BaselineCommand {
    /// Save one full sample of a live process, to compare against later
    /// with `maplens diff FILE PID`.
    Save {
        /// PID or process name.
        target: OsString,
        /// Where to write the baseline (one JSON line, a one-sample
        /// recording).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Read processes from this copy of /proc.
        #[arg(long, value_name = "DIR")]
        proc_root: Option<PathBuf>,
    },
}

/// Runs `baseline save`.
pub fn run_baseline(args: &BaselineArgs) -> anyhow::Result<()> {
    let BaselineCommand::Save {
        target,
        output,
        proc_root,
    } = &args.command;
    let opts = maplens_core::source::Options {
        proc_root: proc_root.clone().unwrap_or_else(|| "/proc".into()),
        ..Default::default()
    };
    let pid = live_pid(target, &opts.proc_root)?.with_context(|| {
        format!(
            "{}: a baseline is taken of a live PID or process name",
            std::path::Path::new(target).display()
        )
    })?;
    let policy = Policy {
        always_full: true,
        ..Policy::default()
    };
    let sample = Collector::new(pid, opts, policy).sample()?;
    let mut line = Vec::new();
    maplens_record::jsonl::to_line(&mut line, &sample);
    std::fs::write(output, &line).with_context(|| output.display().to_string())?;
    eprintln!(
        "maplens: baseline of pid {pid}: {} regions written to {}",
        sample.regions.len(),
        crate::render::term(&output.display().to_string())
    );
    Ok(())
}
