//! Pieces every subcommand shares: target arguments, loading, output
//! format, units, and turning errors into one line and an exit code.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use maplens_core::model::Snapshot;
use maplens_core::parse::Mode;
use maplens_core::source::{self, Target};

/// How a target is named and read.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// PID, `self`, process name, maps/smaps file, `-` (stdin), or a
    /// /proc/PID-like directory.
    pub target: Option<OsString>,
    /// Read processes from this copy of /proc instead of /proc.
    #[arg(long, value_name = "DIR", global = true)]
    pub proc_root: Option<PathBuf>,
    /// Fail on the first malformed line instead of skipping and counting.
    #[arg(long, global = true)]
    pub strict: bool,
}

impl TargetArgs {
    /// Source options from these arguments.
    pub fn options(&self) -> source::Options {
        source::Options {
            proc_root: self.proc_root.clone().unwrap_or_else(|| "/proc".into()),
            mode: if self.strict {
                Mode::Strict
            } else {
                Mode::Lenient
            },
            ..source::Options::default()
        }
    }

    /// Loads the target's snapshot; `threads` also reads per-thread files,
    /// `rollup` smaps_rollup beside smaps (without it, smaps_rollup is read
    /// only when there are no regions: see `source::Options::rollup`).
    pub fn load(&self, threads: bool, rollup: bool) -> anyhow::Result<Snapshot> {
        let mut opts = self.options();
        opts.threads = threads;
        opts.rollup = rollup;
        self.load_with(&opts)
    }

    /// Loads the target's snapshot with these source options.
    pub fn load_with(&self, opts: &source::Options) -> anyhow::Result<Snapshot> {
        let word = self
            .target
            .as_deref()
            .context("no target given: name a PID, `self`, a process name or a file")?;
        Ok(source::load(&Target::parse_os(word), opts)?)
    }
}

/// Output formats shared by every table.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON (documented in the README; has a `schema_version`).
    Json,
    /// CSV with a header row.
    Csv,
}

/// Writes to stdout, treating a closed pipe (`| head`) as success.
pub fn emit(text: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Prints an error as one line and picks the exit code.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{e:#}` would repeat a cause its parent already prints (an
            // I/O error shown inside "path: error"), so skip those.
            let mut msg = String::new();
            for cause in e.chain() {
                let part = cause.to_string();
                if msg.contains(&part) {
                    continue;
                }
                if !msg.is_empty() {
                    msg.push_str(": ");
                }
                msg.push_str(&part);
            }
            // One line, and nothing from a file name reaches the
            // terminal raw.
            eprintln!("maplens: error: {}", crate::render::term(&msg));
            ExitCode::FAILURE
        }
    }
}

/// Whether to colour output: only on a terminal, never with `NO_COLOR`.
#[allow(dead_code)]
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}
