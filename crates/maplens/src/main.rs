//! `maplens`: what is using memory in a Linux process, and why.
//!
//! The binary is a thin layer over `maplens-core`: it reads the command
//! line, loads snapshots through `maplens_core::source`, and renders them.
#![forbid(unsafe_code)]

mod capture;
mod cmd_capture;
#[cfg(feature = "check")]
mod cmd_check;
mod cmd_diff;
mod cmd_explain;
#[cfg(feature = "html")]
mod cmd_html;
mod cmd_leaks;
mod cmd_libs;
mod cmd_maps;
mod cmd_pages;
#[cfg(feature = "plot")]
mod cmd_plot;
mod cmd_pmap;
mod cmd_report;
#[cfg(feature = "exporter")]
mod cmd_serve;
mod cmd_top;
#[cfg(feature = "tui")]
mod cmd_tui;
mod cmd_watch;
mod cmd_wss;
mod common;
mod par;
mod pattern;
mod pmap;
mod progress;
mod render;
mod samples;
mod scan;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// What is using memory in a Linux process, and why.
///
/// maplens reads /proc/PID/maps, smaps and smaps_rollup (live, from a copied
/// /proc tree, or from saved files) and explains every region in plain words.
///
/// A TARGET is a PID (a word of digits is always a PID), `self`, a process
/// name (exact match of comm), a maps / smaps / smaps_rollup file, `-` for
/// standard input, a directory laid out like /proc/PID, or a capture bundle
/// (`cap.tar`, `cap.tar:PID`). With no target, `maplens` is `maplens top`.
#[derive(Parser, Debug)]
#[command(name = "maplens", version, args_conflicts_with_subcommands = true)]
#[command(after_help = "Examples:
  maplens 1234                     the process report for PID 1234
  maplens maps self --kind stack   this process's stacks, one row each
  maplens maps smaps.txt --format json
  maplens explain '7f0a2c000000-7f0a2c021000 rw-p 00000000 00:00 0'
  maplens pmap -X 1234             procps pmap, byte for byte
  maplens cap.tar:1234             the report of process 1234 in a capture bundle
  maplens                          with no target: `maplens top`, every process

Targets may also be capture bundles (`maplens capture` writes them):
`cap.tar` for a bundle of one process, `cap.tar:PID` for one of many.
--strict and --proc-root may come before or after the subcommand.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Show the process report for this target (same as `maplens report`).
    #[command(flatten)]
    report: Option<cmd_report::Args>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One row per region, with its kind and what it is in plain words.
    Maps(cmd_maps::Args),
    /// Explain maps lines field by field.
    Explain(cmd_explain::Args),
    /// Where every kilobyte goes: categories, libraries, thread stacks, arenas.
    Report(cmd_report::Args),
    /// Every process: USS, PSS, RSS and swap, shared memory counted once.
    Top(cmd_top::Args),
    /// Libraries and mapped files across processes (like librank).
    Libs(cmd_libs::Args),
    /// Findings: security and memory problems, with what to do.
    #[cfg(feature = "check")]
    Check(cmd_check::Args),
    /// A Prometheus exporter: per-group memory on /metrics.
    #[cfg(feature = "exporter")]
    Serve(cmd_serve::Args),
    /// Explore one process interactively: regions, objects, threads, findings.
    #[cfg(feature = "tui")]
    Tui(cmd_tui::Args),
    /// The report as one self-contained HTML file (treemap, address map, tables).
    #[cfg(feature = "html")]
    Html(cmd_html::Args),
    /// Page-level residency per region: present, swapped, exclusive, zeros, duplicates.
    Pages(cmd_pages::Args),
    /// Working set per region and category over time (clear_refs + Referenced).
    Wss(cmd_wss::Args),
    /// Save processes' kernel text into one bundle for analysis elsewhere.
    Capture(cmd_capture::Args),
    /// Sample live processes over time; record them (`--record`).
    Watch(cmd_watch::Args),
    /// What changed between two samples (files, bundles, recordings, PIDs).
    Diff(cmd_diff::Args),
    /// Save a baseline of a live process, for `maplens diff BASE PID`.
    Baseline(cmd_diff::BaselineArgs),
    /// Steady growth over a recording or a live watch, and the time to a limit.
    Leaks(cmd_leaks::Args),
    /// Chart a recording: categories over time, growing objects, leaks.
    #[cfg(feature = "plot")]
    Plot(cmd_plot::Args),
    /// procps-ng pmap, byte for byte (all its options; see `maplens pmap -h`).
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Pmap {
        /// pmap's own options and PIDs.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

/// Subcommands that take the target options `--strict` and `--proc-root`.
const TAKES_TARGET_OPTIONS: &[&str] = &[
    "maps", "report", "check", "top", "libs", "html", "pages", "wss", "tui",
];

/// `maplens --strict maps x` means `maplens maps --strict x`: the target
/// options (`--strict`, `--proc-root DIR`) may come before the subcommand
/// as well as after it. (clap cannot say so itself: the top-level command
/// is also the report, whose own copies of these options would conflict
/// with the subcommand.)
fn hoist_global_options(argv: Vec<OsString>) -> Vec<OsString> {
    let mut i = 1;
    let mut globals = Vec::new();
    while let Some(a) = argv.get(i) {
        let s = a.to_str().unwrap_or("");
        if s == "--strict" || s.starts_with("--proc-root=") {
            globals.push(a.clone());
            i += 1;
        } else if s == "--proc-root" && i + 1 < argv.len() {
            globals.extend_from_slice(&argv[i..i + 2]);
            i += 2;
        } else {
            break;
        }
    }
    let sub = argv.get(i).and_then(|a| a.to_str());
    if globals.is_empty() || !sub.is_some_and(|s| TAKES_TARGET_OPTIONS.contains(&s)) {
        return argv;
    }
    let mut out = vec![argv[0].clone(), argv[i].clone()];
    out.extend(globals);
    out.extend_from_slice(&argv[i + 1..]);
    out
}

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    // Installed as (or symlinked to) `pmap`: behave as `maplens pmap`.
    let argv0 = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if argv0 == "pmap" {
        return cmd_pmap::main(argv.split_off(1));
    }
    let cli = Cli::parse_from(hoist_global_options(argv));
    let result = match cli.command {
        Some(Command::Maps(a)) => cmd_maps::run(&a),
        Some(Command::Explain(a)) => cmd_explain::run(&a),
        Some(Command::Report(a)) => cmd_report::run(&a),
        Some(Command::Top(a)) => cmd_top::run(&a),
        Some(Command::Libs(a)) => cmd_libs::run(&a),
        #[cfg(feature = "check")]
        Some(Command::Check(a)) => return cmd_check::main(&a),
        #[cfg(feature = "tui")]
        Some(Command::Tui(a)) => cmd_tui::run(&a),
        #[cfg(feature = "html")]
        Some(Command::Html(a)) => cmd_html::run(&a),
        Some(Command::Capture(a)) => cmd_capture::run(&a),
        #[cfg(feature = "exporter")]
        Some(Command::Serve(a)) => cmd_serve::run(&a),
        Some(Command::Pages(a)) => cmd_pages::run(&a),
        Some(Command::Wss(a)) => cmd_wss::run(&a),
        Some(Command::Pmap { args }) => return cmd_pmap::main(args),
        Some(Command::Watch(a)) => cmd_watch::run(&a),
        Some(Command::Diff(a)) => cmd_diff::run(&a),
        Some(Command::Baseline(a)) => cmd_diff::run_baseline(&a),
        Some(Command::Leaks(a)) => return cmd_leaks::main(&a),
        #[cfg(feature = "plot")]
        Some(Command::Plot(a)) => cmd_plot::run(&a),
        None => match cli.report {
            Some(a) if a.target.target.is_some() => cmd_report::run(&a),
            // No target: the system-wide view.
            _ => cmd_top::run_default(),
        },
    };
    common::finish(result)
}
