//! `maplens check` as text, JSON and SARIF 2.1.0: each finding with its
//! evidence, the saving and what to do.

use std::fmt::Write as _;
use std::path::Path;

use maplens_core::check::{Finding, Outcome, RULES, Severity};
use maplens_core::model::Snapshot;
use serde::Serialize;

use super::{JSON_SCHEMA_VERSION, human, term};

/// The options that shape the output.
#[derive(Debug, Clone)]
pub struct View {
    /// The severity threshold.
    pub min_severity: Severity,
    /// Rules left out.
    pub ignore: Vec<String>,
    /// Exact byte counts instead of human units.
    pub bytes: bool,
}

/// One target's result.
pub struct Checked {
    /// The target as the user named it.
    pub word: String,
    /// What was read.
    pub snap: Snapshot,
    /// What was found.
    pub outcome: Outcome,
}

/// Every checked target in the asked format.
pub fn print(done: &[Checked], format: CheckFormat, args: &View) -> anyhow::Result<String> {
    Ok(match format {
        CheckFormat::Table => table(done, args),
        CheckFormat::Json => super::json_text(&json_doc(done, args))?,
        CheckFormat::Sarif => super::json_text(&sarif(done, args))?,
    })
}

/// Output formats of `check`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CheckFormat {
    /// Findings for people.
    #[default]
    Table,
    /// JSON with every figure.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards and CI.
    Sarif,
}

fn title_of(c: &Checked) -> String {
    let mut t = c.snap.origin.clone();
    let p = &c.snap.process;
    match (&p.comm, p.pid) {
        (Some(comm), Some(pid)) => {
            let _ = write!(t, " ({comm}, pid {pid})");
        }
        (None, Some(pid)) => {
            let _ = write!(t, " (pid {pid})");
        }
        _ => {}
    }
    t
}

fn table(done: &[Checked], args: &View) -> String {
    let mut s = String::new();
    let wrap = |text: &str, indent: usize| -> String {
        let width = 100usize.saturating_sub(indent).max(40);
        let mut out = String::new();
        let mut line = String::new();
        for w in text.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
                out.push_str(&line);
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(w);
        }
        out.push_str(&line);
        out
    };
    for (n, c) in done.iter().enumerate() {
        if n > 0 {
            s.push('\n');
        }
        let _ = writeln!(s, "== {}", term(&title_of(c)));
        let o = &c.outcome;
        if o.findings.is_empty() {
            let _ = writeln!(s, "no findings at or above {}", args.min_severity.id());
        }
        for f in &o.findings {
            let _ = writeln!(
                s,
                "\n{:<6}  {}  {}",
                f.severity.id().to_uppercase(),
                f.id,
                term(&f.summary)
            );
            let pad = "        ";
            if let Some(sv) = &f.saving {
                let _ = writeln!(
                    s,
                    "{pad}saving: {} {}\n{pad}  {}",
                    human(sv.bytes, args.bytes),
                    sv.kind.id(),
                    wrap(&term(&sv.basis), pad.len() + 2)
                );
            }
            for e in &f.evidence {
                let _ = writeln!(s, "{pad}- {}", wrap(&term(e), pad.len() + 2));
            }
            let _ = writeln!(s, "{pad}{}", wrap(&term(&f.explanation), pad.len()));
        }
        let count = |sev: Severity| o.findings.iter().filter(|f| f.severity == sev).count();
        let mut parts: Vec<String> = Severity::ALL
            .iter()
            .rev()
            .filter(|&&v| count(v) > 0)
            .map(|&v| format!("{} {}", count(v), v.id()))
            .collect();
        if parts.is_empty() {
            parts.push("none".into());
        }
        let _ = write!(
            s,
            "\n{} finding{}: {}",
            o.findings.len(),
            if o.findings.len() == 1 { "" } else { "s" },
            parts.join(", ")
        );
        if o.below_threshold > 0 {
            let _ = write!(
                s,
                "; {} below {} not shown (--min-severity info shows them)",
                o.below_threshold,
                args.min_severity.id()
            );
        }
        s.push('\n');
        for k in &o.skipped {
            let _ = writeln!(s, "skipped {}: {}", k.id, term(&k.reason));
        }
    }
    s
}

/// The JSON document of `check`.
#[derive(Serialize)]
struct CheckDoc<'a> {
    schema_version: u32,
    min_severity: &'static str,
    ignored: &'a [String],
    targets: Vec<TargetJson<'a>>,
}

/// One target's findings in JSON.
#[derive(Serialize)]
struct TargetJson<'a> {
    target: &'a str,
    source: &'a str,
    pid: Option<u32>,
    comm: Option<&'a str>,
    format: Option<&'static str>,
    findings: &'a [Finding],
    below_threshold: usize,
    skipped: &'a [maplens_core::check::Skipped],
}

fn json_doc<'a>(done: &'a [Checked], args: &'a View) -> CheckDoc<'a> {
    CheckDoc {
        schema_version: JSON_SCHEMA_VERSION,
        min_severity: args.min_severity.id(),
        ignored: &args.ignore,
        targets: done
            .iter()
            .map(|c| TargetJson {
                target: &c.word,
                source: &c.snap.origin,
                pid: c.snap.process.pid,
                comm: c.snap.process.comm.as_deref(),
                format: c.snap.format.map(|f| f.file_name()),
                findings: &c.outcome.findings,
                below_threshold: c.outcome.below_threshold,
                skipped: &c.outcome.skipped,
            })
            .collect(),
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// A `file://` URI (or a relative reference) for a path, percent-encoding
/// what a URI cannot hold.
fn path_uri(path: &str) -> String {
    let mut s = String::new();
    if path.starts_with('/') {
        s.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// The file the regions of a snapshot were read from, as a SARIF artifact.
fn artifact_of(snap: &Snapshot) -> String {
    // Notices and origin name the text file; a directory (live /proc) read
    // smaps, else maps.
    let o = &snap.origin;
    let p = Path::new(o);
    if p.is_dir() {
        let f = if snap.has_residency() {
            "smaps"
        } else {
            "maps"
        };
        path_uri(&format!("{}/{f}", o.trim_end_matches('/')))
    } else if o.starts_with('<') {
        "stdin".into()
    } else {
        path_uri(o)
    }
}

/// SARIF 2.1.0, as far as maplens fills it (the names are the spec's;
/// `tests/check_sarif.rs` validates the document against its schema).
mod sarif {
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    pub struct Log<'a> {
        #[serde(rename = "$schema")]
        pub schema: &'static str,
        pub version: &'static str,
        pub runs: [Run<'a>; 1],
    }

    #[derive(Serialize)]
    pub struct Run<'a> {
        pub tool: Tool<'a>,
        pub invocations: [Invocation; 1],
        pub results: Vec<SarifResult<'a>>,
    }

    #[derive(Serialize)]
    pub struct Tool<'a> {
        pub driver: Driver<'a>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Driver<'a> {
        pub name: &'static str,
        pub semantic_version: &'static str,
        pub rules: Vec<Rule<'a>>,
    }

    #[derive(Serialize)]
    pub struct Text<'a> {
        pub text: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Rule<'a> {
        pub id: &'a str,
        pub name: &'a str,
        pub short_description: Text<'a>,
        pub full_description: Text<'a>,
        pub help: Text<'a>,
        pub default_configuration: Level,
        pub properties: RuleProperties<'a>,
    }

    #[derive(Serialize)]
    pub struct Level {
        pub level: &'static str,
    }

    #[derive(Serialize)]
    pub struct RuleProperties<'a> {
        pub tags: [&'static str; 1],
        pub needs: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Invocation {
        pub execution_successful: bool,
        pub tool_execution_notifications: Vec<Notification>,
    }

    #[derive(Serialize)]
    pub struct Notification {
        pub level: &'static str,
        pub message: OwnedText,
        pub descriptor: Descriptor,
    }

    #[derive(Serialize)]
    pub struct OwnedText {
        pub text: String,
    }

    #[derive(Serialize)]
    pub struct Descriptor {
        pub id: &'static str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SarifResult<'a> {
        pub rule_id: &'a str,
        pub rule_index: usize,
        pub level: &'static str,
        pub message: OwnedText,
        pub partial_fingerprints: Fingerprints,
        pub properties: ResultProperties<'a>,
        pub locations: Vec<Location>,
    }

    #[derive(Serialize)]
    pub struct Fingerprints {
        #[serde(rename = "maplensFinding/v1")]
        pub v1: String,
    }

    #[derive(Serialize)]
    pub struct ResultProperties<'a> {
        pub severity: &'static str,
        pub target: &'a str,
        pub evidence: &'a [String],
        pub numbers: &'a BTreeMap<&'static str, u64>,
        pub explanation: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub saving: Option<Saving<'a>>,
    }

    #[derive(Serialize)]
    pub struct Saving<'a> {
        pub bytes: u64,
        pub kind: &'static str,
        pub basis: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Location {
        pub physical_location: PhysicalLocation,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PhysicalLocation {
        pub artifact_location: ArtifactLocation,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub region: Option<Region>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub address: Option<Address>,
    }

    #[derive(Serialize)]
    pub struct ArtifactLocation {
        pub uri: String,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Region {
        pub start_line: u32,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Address {
        pub absolute_address: u64,
        pub length: u64,
        pub kind: &'static str,
        pub name: String,
    }
}

fn sarif<'a>(done: &'a [Checked], args: &View) -> sarif::Log<'a> {
    use sarif::*;
    let rules: Vec<Rule<'a>> = RULES
        .iter()
        .map(|r| Rule {
            id: r.id,
            name: r.title,
            short_description: Text { text: r.title },
            full_description: Text { text: r.help },
            help: Text { text: r.help },
            default_configuration: Level {
                level: level(r.max_severity),
            },
            properties: RuleProperties {
                tags: [match r.area {
                    maplens_core::check::Area::Security => "security",
                    maplens_core::check::Area::Memory => "memory",
                }],
                needs: r.needs,
            },
        })
        .collect();
    let mut results = Vec::new();
    for c in done {
        let uri = artifact_of(&c.snap);
        for f in &c.outcome.findings {
            let idx = RULES.iter().position(|r| r.id == f.id).unwrap_or(0);
            let mut locations: Vec<Location> = f
                .regions
                .iter()
                .take(20)
                .map(|r| Location {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri.clone() },
                        region: Some(Region {
                            start_line: r.line.max(1),
                        }),
                        address: Some(Address {
                            absolute_address: r.start,
                            length: r.end - r.start,
                            kind: "page",
                            name: if r.path.is_empty() {
                                "[anonymous]".to_owned()
                            } else {
                                r.path.clone()
                            },
                        }),
                    },
                })
                .collect();
            if locations.is_empty() {
                locations.push(Location {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri.clone() },
                        region: None,
                        address: None,
                    },
                });
            }
            let mut text = f.summary.clone();
            if let Some(sv) = &f.saving {
                let _ = write!(
                    text,
                    ". Estimated saving: {} ({}).",
                    human(sv.bytes, args.bytes),
                    sv.kind.id()
                );
            }
            results.push(SarifResult {
                rule_id: f.id,
                rule_index: idx,
                level: level(f.severity),
                message: OwnedText { text },
                partial_fingerprints: Fingerprints {
                    v1: format!("{}:{}:{}", c.word, f.id, f.subject),
                },
                properties: ResultProperties {
                    severity: f.severity.id(),
                    target: &c.word,
                    evidence: &f.evidence,
                    numbers: &f.numbers,
                    explanation: &f.explanation,
                    saving: f.saving.as_ref().map(|sv| Saving {
                        bytes: sv.bytes,
                        kind: sv.kind.id(),
                        basis: &sv.basis,
                    }),
                },
                locations,
            });
        }
    }
    let notifications: Vec<Notification> = done
        .iter()
        .flat_map(|c| {
            c.outcome.skipped.iter().map(move |k| Notification {
                level: "note",
                message: OwnedText {
                    text: format!("{}: rule {} skipped: {}", c.word, k.id, k.reason),
                },
                descriptor: Descriptor { id: k.id },
            })
        })
        .collect();
    Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "maplens",
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules,
                },
            },
            invocations: [Invocation {
                execution_successful: true,
                tool_execution_notifications: notifications,
            }],
            results,
        }],
    }
}
