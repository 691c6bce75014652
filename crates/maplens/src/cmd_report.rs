//! `maplens report TARGET` (and `maplens TARGET`): where every kilobyte goes.
//!
//! The figures come from `maplens_core::analysis::report` (system facts
//! included, live or from a bundle); `render::report` prints it.

use maplens_core::analysis::{Classified, Report, classify, report};
#[cfg(feature = "check")]
use maplens_core::check::{self, CheckOptions};
use maplens_core::model::Snapshot;

use crate::common::{Format, TargetArgs, emit};
use crate::render::report::{Findings, print};

/// How the tables are sorted.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    /// PSS when known (smaps), else size.
    #[default]
    Pss,
    /// Address-space size.
    Size,
}

/// Arguments of `maplens report`.
///
/// `clap::Args` is written by hand: a derived `Option<Args>` flattened into
/// the top-level command (for `maplens TARGET`) is only `Some` when its arg
/// group has members, and clap leaves the group empty when the struct
/// flattens another (`TargetArgs`). This one lists every member itself.
#[derive(Debug, Clone)]
pub struct Args {
    /// The target.
    pub target: TargetArgs,
    /// Output format.
    pub format: Format,
    /// Exact byte counts instead of human units.
    pub bytes: bool,
    /// Sort key.
    pub sort: SortKey,
    /// Rows per table (0: all).
    pub top: usize,
}

/// The report's own options.
#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
struct Opts {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    bytes: bool,
    /// Sort the category and object tables by PSS or by size.
    #[arg(long, value_enum, default_value_t)]
    sort: SortKey,
    /// Rows per table in the text report (objects, stacks, names); 0: all.
    #[arg(long, default_value_t = 20, value_name = "N")]
    top: usize,
}

const GROUP: &str = "report-args";

impl clap::FromArgMatches for Args {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let t = TargetArgs::from_arg_matches(m)?;
        let o = Opts::from_arg_matches(m)?;
        Ok(Args {
            target: t,
            format: o.format,
            bytes: o.bytes,
            sort: o.sort,
            top: o.top,
        })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for Args {
    fn group_id() -> Option<clap::Id> {
        Some(clap::Id::from(GROUP))
    }

    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = Opts::augment_args(TargetArgs::augment_args(cmd));
        cmd.group(
            clap::ArgGroup::new(GROUP)
                .multiple(true)
                .args(["target", "format", "bytes", "sort", "top"]),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// Builds the report for the arguments (live extras included), with the
/// findings of `maplens check` at severity low and up, and the snapshot
/// and classification it stands on.
pub fn build(args: &Args) -> anyhow::Result<(Snapshot, Classified, Report, Findings)> {
    let snap = args.target.load(true, false)?;
    let cl = classify(&snap);
    let (mut rep, findings) = analyse(&snap, &cl);
    if args.sort == SortKey::Size {
        rep.categories
            .sort_by_key(|c| std::cmp::Reverse(c.usage.size));
        rep.objects.sort_by_key(|o| std::cmp::Reverse(o.usage.size));
        rep.named.sort_by_key(|n| std::cmp::Reverse(n.usage.size));
    }
    Ok((snap, cl, rep, findings))
}

/// The report of a classified snapshot and the findings of `maplens
/// check` at severity low and up (`maplens html` prints the same two).
///
/// The two read the same classification and not each other, so for a
/// large map the findings are worked out on a second thread while the
/// report is built.
pub fn analyse(snap: &Snapshot, cl: &Classified) -> (Report, Findings) {
    #[cfg(feature = "check")]
    let findings = || check::evaluate(snap, cl, &CheckOptions::for_report(snap));
    #[cfg(not(feature = "check"))]
    let findings = Findings::default;
    if !crate::par::worth_two_threads(snap.regions.len()) {
        return (report(snap, cl), findings());
    }
    crate::par::on_two_threads(|| report(snap, cl), findings)
}

/// Runs the report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let (snap, cl, rep, findings) = build(args)?;
    // The process ends next: freeing 60,000 regions one by one only costs
    // time for memory the kernel takes back at once.
    std::mem::forget((snap, cl));
    let out = print(&rep, &findings, args.format, args.bytes, args.top)?;
    emit(out.as_bytes())
}
