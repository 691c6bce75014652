//! `maplens check TARGET…`: findings that tell a person what to fix, for a
//! terminal (table), scripts (JSON) and CI (SARIF 2.1.0).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use maplens_core::analysis::classify;
use maplens_core::check::{self, CheckOptions, RULES, Severity};
use maplens_core::parse::Mode;
use maplens_core::source::{self, Target};

use crate::common::emit;
use crate::render;
pub use crate::render::check::CheckFormat;
use crate::render::check::Checked;

/// Arguments of `maplens check`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Rules (ids for --ignore):
  security: wx-memory exec-stack exec-anon deleted-file shared-writable-file dev-mem
  memory:   map-count anon-fragmentation stack-reserve malloc-arenas lib-not-resident
            anon-untouched swap thp-unused hugetlb-pool-unused

Exit status: 0 nothing at or above --min-severity, 1 something is, 2 an error.
Rules that need data a target lacks (smaps residency, /proc/meminfo) are listed
as skipped, not reported clean. docs/check.md explains each rule.")]
pub struct Args {
    /// PIDs, `self`, process names, maps/smaps files, `-` (stdin), or
    /// /proc/PID-like directories.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<OsString>,
    /// Read processes (and meminfo, vm.max_map_count) from this copy of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<PathBuf>,
    /// Fail on the first malformed line instead of skipping and counting.
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: CheckFormat,
    /// Report findings of this severity and above: info, low, medium, high.
    #[arg(long, value_name = "LEVEL", default_value = "low", value_parser = parse_severity)]
    pub min_severity: Severity,
    /// Do not run these rules (comma-separated, repeatable).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::from_id(s).ok_or_else(|| format!("'{s}' is not one of info, low, medium, high"))
}

/// Runs `check`; exit code 0 when nothing at or above the threshold is
/// found, 1 when something is, 2 on error.
pub fn main(args: &Args) -> ExitCode {
    match run(args) {
        Ok(found) => ExitCode::from(u8::from(found)),
        Err(e) => {
            let msg = format!("{e:#}");
            eprintln!("maplens: error: {}", crate::render::term(&msg));
            ExitCode::from(2)
        }
    }
}

/// Runs `check`: `Ok(true)` when something at or above the threshold was
/// found. Every target is checked even when one fails; a failure is an
/// error at the end.
pub fn run(args: &Args) -> anyhow::Result<bool> {
    for id in &args.ignore {
        if check::rule(id).is_none() {
            bail!(
                "--ignore: unknown rule '{id}' (rules: {})",
                RULES.iter().map(|r| r.id).collect::<Vec<_>>().join(" ")
            );
        }
    }
    let proc_root = args.proc_root.clone().unwrap_or_else(|| "/proc".into());
    let opts = source::Options {
        proc_root: proc_root.clone(),
        mode: if args.strict {
            Mode::Strict
        } else {
            Mode::Lenient
        },
        threads: true,
        ..source::Options::default()
    };
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for word in &args.targets {
        match check_one(word, &opts, args) {
            Ok(c) => done.push(c),
            Err(e) => {
                let msg = format!("{e:#}");
                eprintln!("maplens: error: {}", crate::render::term(&msg));
                failed.push(Path::new(word).display().to_string());
            }
        }
    }
    let view = render::check::View {
        min_severity: args.min_severity,
        ignore: args.ignore.clone(),
        bytes: args.bytes,
    };
    let out = render::check::print(&done, args.format, &view)?;
    emit(out.as_bytes())?;
    if !failed.is_empty() {
        bail!("could not check {}", failed.join(", "));
    }
    Ok(done.iter().any(|c| !c.outcome.findings.is_empty()))
}

fn check_one(word: &OsStr, opts: &source::Options, args: &Args) -> anyhow::Result<Checked> {
    let target = Target::parse_os(word);
    let snap = source::load(&target, opts)
        .with_context(|| format!("target '{}'", Path::new(word).display()))?;
    let cl = classify(&snap);
    let system = snap.system.clone();
    let copts = CheckOptions {
        min_severity: args.min_severity,
        ignore: args.ignore.clone(),
        system,
    };
    let outcome = check::evaluate(&snap, &cl, &copts);
    Ok(Checked {
        word: Path::new(word).display().to_string(),
        snap,
        outcome,
    })
}
