//! `maplens check TARGET…`: findings that tell a person what to fix, for a
//! terminal (table), scripts (JSON) and CI (SARIF 2.1.0).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use maplens_core::analysis::classify;
use maplens_core::check::{self, CheckOptions, Finding, Outcome, RULES, Severity};
use maplens_core::model::Snapshot;
use maplens_core::parse::Mode;
use maplens_core::source::{self, Target};
use serde_json::{Value, json};

use crate::common::{emit, human};
use crate::render::JSON_SCHEMA_VERSION;

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
    pub targets: Vec<String>,
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
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("maplens: error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// One target's result.
struct Checked {
    word: String,
    snap: Snapshot,
    outcome: Outcome,
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
                let msg = format!("{e:#}").replace('\n', " ");
                eprintln!("maplens: error: {msg}");
                failed.push(word.clone());
            }
        }
    }
    let out = match args.format {
        CheckFormat::Table => table(&done, args),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json_doc(&done, args))?;
            s.push('\n');
            s
        }
        CheckFormat::Sarif => {
            let mut s = serde_json::to_string_pretty(&sarif(&done, args))?;
            s.push('\n');
            s
        }
    };
    emit(out.as_bytes())?;
    if !failed.is_empty() {
        bail!("could not check {}", failed.join(", "));
    }
    Ok(done.iter().any(|c| !c.outcome.findings.is_empty()))
}

fn check_one(word: &str, opts: &source::Options, args: &Args) -> anyhow::Result<Checked> {
    let target = Target::parse(word);
    let snap = source::load(&target, opts).with_context(|| format!("target '{word}'"))?;
    let cl = classify(&snap);
    let system = snap.system.clone();
    let copts = CheckOptions {
        min_severity: args.min_severity,
        ignore: args.ignore.clone(),
        system,
    };
    let outcome = check::evaluate(&snap, &cl, &copts);
    Ok(Checked {
        word: word.to_owned(),
        snap,
        outcome,
    })
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

fn table(done: &[Checked], args: &Args) -> String {
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
        let _ = writeln!(s, "== {}", title_of(c));
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
                f.summary
            );
            let pad = "        ";
            if let Some(sv) = &f.saving {
                let _ = writeln!(
                    s,
                    "{pad}saving: {} {}\n{pad}  {}",
                    human(sv.bytes, args.bytes),
                    sv.kind.id(),
                    wrap(&sv.basis, pad.len() + 2)
                );
            }
            for e in &f.evidence {
                let _ = writeln!(s, "{pad}- {}", wrap(e, pad.len() + 2));
            }
            let _ = writeln!(s, "{pad}{}", wrap(&f.explanation, pad.len()));
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
            let _ = writeln!(s, "skipped {}: {}", k.id, k.reason);
        }
    }
    s
}

fn finding_json(f: &Finding) -> Value {
    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
    if let Some(regions) = v.get_mut("regions").and_then(Value::as_array_mut) {
        for r in regions {
            for k in ["start", "end"] {
                if let Some(n) = r.get(k).and_then(Value::as_u64) {
                    r[k] = json!(format!("0x{n:x}"));
                }
            }
        }
    }
    v
}

fn json_doc(done: &[Checked], args: &Args) -> Value {
    json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "min_severity": args.min_severity.id(),
        "ignored": args.ignore,
        "targets": done.iter().map(|c| json!({
            "target": c.word,
            "source": c.snap.origin,
            "pid": c.snap.process.pid,
            "comm": c.snap.process.comm,
            "format": c.snap.format.map(|f| f.file_name()),
            "findings": c.outcome.findings.iter().map(finding_json).collect::<Vec<_>>(),
            "below_threshold": c.outcome.below_threshold,
            "skipped": c.outcome.skipped,
        })).collect::<Vec<_>>(),
    })
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

fn sarif(done: &[Checked], args: &Args) -> Value {
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
                        check::Area::Security => "security",
                        check::Area::Memory => "memory",
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
