//! `maplens check` as text, JSON and SARIF 2.1.0: each finding with its
//! evidence, the saving and what to do.

use std::fmt::Write as _;
use std::path::Path;

use maplens_core::check::{Finding, Outcome, RULES, Severity};
use maplens_core::model::Snapshot;
use serde::Serialize;
use serde_json::{Value, json};

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

fn sarif(done: &[Checked], args: &View) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.title,
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.help},
                "help": {"text": r.help},
                "defaultConfiguration": {"level": level(r.max_severity)},
                "properties": {
                    "tags": [match r.area {
                        maplens_core::check::Area::Security => "security",
                        maplens_core::check::Area::Memory => "memory",
                    }],
                    "needs": r.needs,
                },
            })
        })
        .collect();
    let mut results = Vec::new();
    for c in done {
        let uri = artifact_of(&c.snap);
        for f in &c.outcome.findings {
            let idx = RULES.iter().position(|r| r.id == f.id).unwrap_or(0);
            let locations: Vec<Value> = f
                .regions
                .iter()
                .take(20)
                .map(|r| {
                    json!({
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri},
                            "region": {"startLine": r.line.max(1)},
                            "address": {
                                "absoluteAddress": r.start,
                                "length": r.end - r.start,
                                "kind": "page",
                                "name": if r.path.is_empty() { "[anonymous]".to_owned() } else { r.path.clone() },
                            },
                        },
                    })
                })
                .collect();
            let mut text = f.summary.clone();
            if let Some(sv) = &f.saving {
                let _ = write!(
                    text,
                    ". Estimated saving: {} ({}).",
                    human(sv.bytes, args.bytes),
                    sv.kind.id()
                );
            }
            let mut r = json!({
                "ruleId": f.id,
                "ruleIndex": idx,
                "level": level(f.severity),
                "message": {"text": text},
                "partialFingerprints": {
                    "maplensFinding/v1": format!("{}:{}:{}", c.word, f.id, f.subject),
                },
                "properties": {
                    "severity": f.severity.id(),
                    "target": c.word,
                    "evidence": f.evidence,
                    "numbers": f.numbers,
                    "explanation": f.explanation,
                },
            });
            if !locations.is_empty() {
                r["locations"] = Value::Array(locations);
            } else {
                r["locations"] = json!([{
                    "physicalLocation": {"artifactLocation": {"uri": uri}},
                }]);
            }
            if let Some(sv) = &f.saving {
                r["properties"]["saving"] = json!({
                    "bytes": sv.bytes,
                    "kind": sv.kind.id(),
                    "basis": sv.basis,
                });
            }
            results.push(r);
        }
    }
    let notifications: Vec<Value> = done
        .iter()
        .flat_map(|c| {
            c.outcome.skipped.iter().map(move |k| {
                json!({
                    "level": "note",
                    "message": {"text": format!("{}: rule {} skipped: {}", c.word, k.id, k.reason)},
                    "descriptor": {"id": k.id},
                })
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "maplens",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    })
}
