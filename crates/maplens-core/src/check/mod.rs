//! Findings: what in a memory map is a security weakness or wastes memory,
//! with the evidence, an estimated saving and what to do.
//!
//! [`evaluate`] runs every rule of [`RULES`] over a classified snapshot and
//! returns the [`Finding`]s plus the rules it had to skip for lack of data
//! ([`Skipped`]: a maps-only text has no residency, a saved file has no
//! `/proc/meminfo`). A skipped rule is not a clean result.
//!
//! Every saving says what it saves ([`SavingKind`]): address space and
//! commit charge (virtual), RAM (resident), or kernel memory.
//!
//! ```
//! use maplens_core::{analysis::classify, check, model::Snapshot, parse::Mode};
//! let text = b"7f0000000000-7f0000002000 rwxp 00000000 00:00 0 \n";
//! let s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
//! let c = classify(&s);
//! let f = check::run(&s, &c, &check::CheckOptions::default());
//! assert_eq!(f[0].id, "wx-memory");
//! assert_eq!(f[0].severity, check::Severity::High);
//! ```

mod rules;

use std::collections::BTreeMap;

pub use crate::model::system::SystemInfo;

use crate::analysis::Classified;
use crate::model::{Region, Snapshot};

/// How much a finding matters. Ordered: `Info < Low < Medium < High`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// A small cost or a weakness that is often deliberate.
    Low,
    /// Should be looked at.
    Medium,
    /// A security weakness or a limit about to be hit.
    High,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    /// The id (`info`, `low`, `medium`, `high`).
    pub const fn id(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses an id.
    pub fn from_id(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.id() == s)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// What a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Area {
    /// A weakness an attacker could use, or code that is out of date.
    Security,
    /// Memory that could be saved or is close to a limit.
    Memory,
}

/// A rule: stable id, area, title and the general explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Rule {
    /// Stable id (kebab case), as in `--ignore` and SARIF `ruleId`.
    pub id: &'static str,
    /// Security or memory.
    pub area: Area,
    /// The highest severity the rule gives.
    pub max_severity: Severity,
    /// One line.
    pub title: &'static str,
    /// What it means and what to do, in general.
    pub help: &'static str,
    /// What the rule needs from the target (`maps`, `smaps`, `meminfo`).
    pub needs: &'static str,
}

/// Every rule, in report order (security first).
pub const RULES: &[Rule] = rules::RULES;

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// What a saving is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum SavingKind {
    /// Address space (and commit charge where the kernel accounts it): not
    /// RAM. Matters on 32-bit, under `vm.overcommit_memory=2`, and for
    /// limits such as `ulimit -v`.
    Virtual,
    /// RAM: resident pages that would be freed.
    Resident,
    /// Kernel memory (VMA structures, page tables), an estimate.
    Kernel,
}

impl SavingKind {
    /// The id (`virtual`, `resident`, `kernel`).
    pub const fn id(self) -> &'static str {
        match self {
            SavingKind::Virtual => "virtual",
            SavingKind::Resident => "resident",
            SavingKind::Kernel => "kernel",
        }
    }
}

/// An estimated saving.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Saving {
    /// Bytes.
    pub bytes: u64,
    /// What the bytes are.
    pub kind: SavingKind,
    /// How the figure was reached, in words.
    pub basis: String,
}

/// An address as JSON writes it: `0x` and hexadecimal digits.
#[cfg(feature = "serde")]
fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("0x{v:x}"))
}

/// A region a finding concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RegionRef {
    /// Index into [`Snapshot::regions`].
    pub index: usize,
    /// First address (a `0x…` string in JSON, as in every maplens
    /// document: JSON numbers lose precision above 2^53).
    #[cfg_attr(feature = "serde", serde(serialize_with = "hex"))]
    pub start: u64,
    /// One past the last address (`0x…` in JSON).
    #[cfg_attr(feature = "serde", serde(serialize_with = "hex"))]
    pub end: u64,
    /// Permissions as printed.
    pub perms: String,
    /// Decoded path (empty when unnamed).
    pub path: String,
    /// Line of the region's header in the text it came from.
    pub line: u32,
}

impl RegionRef {
    /// Refers to region `index` of `r`.
    pub fn new(index: usize, r: &Region) -> RegionRef {
        RegionRef {
            index,
            start: r.start,
            end: r.end,
            perms: r.perms.to_string(),
            path: r.path.display(),
            line: r.line,
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Finding {
    /// The rule's stable id.
    pub id: &'static str,
    /// Security or memory.
    pub area: Area,
    /// How much it matters.
    pub severity: Severity,
    /// One line with the numbers.
    pub summary: String,
    /// What it is about when a rule can find several (a file path); empty
    /// otherwise. With `id` it identifies the finding across runs.
    pub subject: String,
    /// The regions it concerns (all of them; renderers may shorten).
    pub regions: Vec<RegionRef>,
    /// What was seen, one fact a line.
    pub evidence: Vec<String>,
    /// The figures, by name (bytes unless the name says otherwise), for
    /// scripts and tests.
    pub numbers: BTreeMap<&'static str, u64>,
    /// Estimated saving, for memory findings.
    pub saving: Option<Saving>,
    /// One paragraph: what it means and what to do.
    pub explanation: String,
}

/// A rule that could not be evaluated, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Skipped {
    /// The rule's id.
    pub id: &'static str,
    /// Why, in words.
    pub reason: String,
}

/// What to check and what to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Findings below this severity are left out.
    pub min_severity: Severity,
    /// Rule ids not to run.
    pub ignore: Vec<String>,
    /// System facts (`/proc/meminfo`, `vm.max_map_count`, THP mode) when
    /// the target has them (a live process, a copied /proc, a capture
    /// bundle: [`Snapshot::system`]); `None` for saved maps/smaps files.
    pub system: Option<SystemInfo>,
}

impl CheckOptions {
    /// What the process report shows beside its figures (and the exporter
    /// counts): every rule, severity low and up, with the system facts
    /// the snapshot holds.
    pub fn for_report(snap: &Snapshot) -> CheckOptions {
        CheckOptions {
            min_severity: Severity::Low,
            ignore: Vec::new(),
            system: snap.system.clone(),
        }
    }
}

impl Default for CheckOptions {
    /// Everything from `info` up, no rule ignored, no system facts.
    fn default() -> Self {
        CheckOptions {
            min_severity: Severity::Info,
            ignore: Vec::new(),
            system: None,
        }
    }
}

/// Findings and skipped rules of one snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Outcome {
    /// Findings at or above the threshold, most severe first (then in rule
    /// order).
    pub findings: Vec<Finding>,
    /// Findings found but below the threshold (counted, not shown).
    pub below_threshold: usize,
    /// Rules that could not run on this target.
    pub skipped: Vec<Skipped>,
}

/// Runs every rule not ignored over a classified snapshot.
pub fn evaluate(snap: &Snapshot, cl: &Classified, opts: &CheckOptions) -> Outcome {
    let mut all = Vec::new();
    let mut skipped = Vec::new();
    let cx = rules::Cx::new(snap, cl, opts.system.as_ref());
    for r in RULES {
        if opts.ignore.iter().any(|i| i == r.id) {
            continue;
        }
        if snap.regions.is_empty() && r.needs != rules::SYSTEM_ONLY {
            skipped.push(Skipped {
                id: r.id,
                reason: "the target has no regions (an smaps_rollup holds totals only)".into(),
            });
            continue;
        }
        match rules::eval(r.id, &cx) {
            Ok(mut f) => all.append(&mut f),
            Err(reason) => skipped.push(Skipped { id: r.id, reason }),
        }
    }
    let order = |id: &str| RULES.iter().position(|r| r.id == id).unwrap_or(usize::MAX);
    all.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| order(a.id).cmp(&order(b.id)))
    });
    let total = all.len();
    all.retain(|f| f.severity >= opts.min_severity);
    Outcome {
        below_threshold: total - all.len(),
        findings: all,
        skipped,
    }
}

/// The findings of a classified snapshot at or above
/// [`CheckOptions::min_severity`], most severe first. See [`evaluate`] for
/// the rules it had to skip.
pub fn run(snap: &Snapshot, cl: &Classified, opts: &CheckOptions) -> Vec<Finding> {
    evaluate(snap, cl, opts).findings
}
