//! `maplens watch TARGET… [--interval 5s] [--duration 8h] [--record FILE]`:
//! sample live processes over time.
//!
//! Samples come from `maplens_core::source::collect` (the one collector);
//! on a pipe each is printed as one JSON line, on a terminal they are
//! folded into a `History` and `render::watch` redraws the view. With
//! `--record` every sample is also appended to a recording
//! (`maplens_record`). A target given by name that exits and comes back
//! (a restart) is followed: its samples start a new series.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use maplens_core::model::History;
use maplens_core::source::collect::{Collector, Policy};
use maplens_core::source::{self, SourceError, Target};

use crate::common::emit;
use crate::samples::parse_duration;

/// Arguments of `maplens watch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// PIDs or process names.
    #[arg(required_unless_present = "all")]
    pub targets: Vec<String>,
    /// Every process readable now (each its own series).
    #[arg(long, conflicts_with = "targets")]
    pub all: bool,
    /// Time between samples.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Stop after this long (default: until every target has exited).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Append every sample to this recording (`.db`: SQLite, else JSON
    /// Lines; docs/recordings.md).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Read the full smaps for every sample (default: smaps_rollup, and
    /// smaps when Rss moved by more than --threshold or every --every
    /// samples).
    #[arg(long)]
    pub full: bool,
    /// Read the full smaps when Rss moved by more than this many KiB.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    pub threshold: u64,
    /// Read the full smaps at least every N samples (0: only on movement).
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub every: u32,
    /// Print each sample's cost (the watcher's CPU and wall time) to stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Never draw the terminal view: JSON lines even on a terminal.
    #[arg(long)]
    pub json: bool,
    /// Read processes from this copy of /proc.
    #[arg(long, value_name = "DIR")]
    pub proc_root: Option<PathBuf>,
}

struct Watched {
    /// The name to look up again after an exit (a restart).
    name: Option<String>,
    collector: Option<Collector>,
    history: History,
}

/// Runs `watch`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let opts = source::Options {
        proc_root: args.proc_root.clone().unwrap_or_else(|| "/proc".into()),
        ..Default::default()
    };
    let policy = Policy {
        threshold: args.threshold.saturating_mul(1024),
        every: args.every,
        always_full: args.full,
        limits: true,
    };
    let mut watched = Vec::new();
    if args.all {
        let me = std::process::id();
        for pid in source::list_pids(&opts.proc_root)? {
            let dir = opts.proc_root.join(pid.to_string());
            // Kernel threads have no memory; unreadable processes are skipped.
            let readable = std::fs::metadata(dir.join("smaps_rollup")).is_ok()
                && std::fs::read(dir.join("smaps_rollup")).is_ok_and(|b| !b.is_empty());
            if pid != me && readable {
                watched.push(Watched {
                    name: None,
                    collector: Some(Collector::new(pid, opts.clone(), policy.clone())),
                    history: History::new(60),
                });
            }
        }
        if watched.is_empty() {
            bail!(
                "--all: no readable process under {}",
                opts.proc_root.display()
            );
        }
    }
    for word in &args.targets {
        let (pid, name) = match Target::parse(word) {
            Target::Pid(p) => (p, None),
            Target::Name(n) => (source::find_by_name(&opts.proc_root, &n)?, Some(n)),
            _ => bail!("{word}: watch takes live PIDs or process names"),
        };
        watched.push(Watched {
            name,
            collector: Some(Collector::new(pid, opts.clone(), policy.clone())),
            history: History::new(60),
        });
    }
    let mut writer = match &args.record {
        Some(p) => Some(maplens_record::open_writer(p)?),
        None => None,
    };
    let tty = !args.json && std::io::stdout().is_terminal();
    let start = Instant::now();
    let mut line = Vec::new();
    for k in 1u32.. {
        // Every process's sample of this tick, on a bounded pool.
        let mut samples = {
            let mut live: Vec<&mut Collector> = watched
                .iter_mut()
                .filter_map(|w| w.collector.as_mut())
                .collect();
            source::collect::sample_all(&mut live, 0).into_iter()
        };
        for w in &mut watched {
            if w.collector.is_none() {
                continue;
            }
            let Some(sample) = samples.next() else { break };
            match sample {
                Ok(s) => {
                    if let Some(wr) = writer.as_mut() {
                        wr.write(&s)?;
                    }
                    if args.verbose {
                        eprintln!("{}", crate::render::watch::cost_line(&s));
                    }
                    if tty {
                        w.history.push(&s);
                    } else {
                        line.clear();
                        maplens_record::jsonl::to_line(&mut line, &s);
                        emit(&line)?;
                    }
                }
                Err(SourceError::NoProcess { .. }) => {
                    // Gone; a named target may come back as a new process.
                    w.collector = None;
                }
                Err(e) => return Err(e.into()),
            }
        }
        for w in &mut watched {
            if w.collector.is_none()
                && let Some(n) = &w.name
                && let Ok(pid) = source::find_by_name(&opts.proc_root, n)
            {
                w.collector = Some(Collector::new(pid, opts.clone(), policy.clone()));
                w.history = History::new(60);
            }
        }
        if tty {
            let hist: Vec<&History> = watched.iter().map(|w| &w.history).collect();
            let view = crate::render::watch::view(&hist, args.interval, args.record.as_deref());
            emit(view.as_bytes())?;
        }
        if watched
            .iter()
            .all(|w| w.collector.is_none() && w.name.is_none())
        {
            break;
        }
        let next = args.interval * k;
        if args.duration.is_some_and(|d| next > d) {
            break;
        }
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    Ok(())
}
