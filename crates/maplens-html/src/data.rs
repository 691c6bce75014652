//! The page's data block: the report and findings as their own JSON, and
//! the regions as columns over one string table.
//!
//! Layout (`version` 1), read by `assets/report.js`:
//!
//! - `report`, `findings`: the serde form of [`Report`] and
//!   [`Outcome`], every string passed through [`escape`] (object paths
//!   from their bytes, so that stray bytes show as `\xNN`).
//! - `categories`: `[id, title]` for every category, in report order; a
//!   region's `category` is an index into it.
//! - `strings`: the interned texts; `path`, `group`, `note`, `rule`,
//!   `evidence` and `perms` of a region index into it.
//! - `regions`: one array per column, one entry per region in address
//!   order. `start` is hexadecimal text (exact beyond 2^53), `size` bytes,
//!   `rss_kb`, `pss_kb`, `swap_kb` kB or `null` when unknown. `group` is
//!   what the treemap nests a region under inside its category: the ELF
//!   object it belongs to, else its own name.
//! - `linear_end`: where the linear address map ends (hex): the end of the
//!   last region below the kernel's fixed high pages (vsyscall, ARM
//!   vectors), which would otherwise squeeze the whole map into one pixel.
//! - `timeline`: the time plot of a recording, or `null`; see
//!   `timeline.rs`.

use std::collections::HashMap;

use maplens_core::analysis::{Category, Report};
use maplens_core::check::Outcome;
use maplens_core::parse::{Field, PathKind};
use maplens_core::text::escape;
use serde::Serialize;
use serde_json::Value;

use crate::Input;

/// The data block.
#[derive(Serialize)]
pub struct Data {
    version: u32,
    generator: String,
    report: Value,
    findings: Option<Value>,
    categories: Vec<(&'static str, &'static str)>,
    strings: Vec<String>,
    regions: Columns,
    linear_end: String,
    timeline: Option<crate::timeline::Timeline>,
}

/// One array per region column.
#[derive(Serialize, Default)]
struct Columns {
    start: Vec<String>,
    size: Vec<u64>,
    perms: Vec<u32>,
    category: Vec<u8>,
    path: Vec<u32>,
    group: Vec<u32>,
    note: Vec<u32>,
    rule: Vec<u32>,
    evidence: Vec<u32>,
    heuristic: Vec<u8>,
    deleted: Vec<u8>,
    rss_kb: Vec<Option<u64>>,
    pss_kb: Vec<Option<u64>>,
    swap_kb: Vec<Option<u64>>,
}

/// Strings stored once, referred to by index.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    strings: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// Every string in a JSON value made visible by the terminal escaper
/// (controls, bidirectional overrides; text without them is unchanged).
fn escape_strings(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(e) = escape(s.as_bytes()) {
                *s = e;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(escape_strings),
        Value::Object(m) => m.values_mut().for_each(escape_strings),
        _ => {}
    }
}

fn to_value<T: Serialize>(t: &T) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    escape_strings(&mut v);
    v
}

fn category_index(c: Category) -> u8 {
    let i = Category::ALL.iter().position(|&x| x == c).unwrap_or(0);
    u8::try_from(i).unwrap_or(0)
}

/// Builds the data block of a page.
pub fn build(input: &Input<'_>) -> Data {
    let snap = input.snapshot;
    let cl = input.classified;
    let mut strings = Interner::default();
    let mut cols = Columns::default();
    let mut linear_end = snap.regions.first().map_or(0, |r| r.end);
    // The object names, escaped once each.
    let objects: Vec<u32> = cl
        .objects
        .iter()
        .map(|o| strings.id(&escape(&o.path)))
        .collect();
    let anonymous = strings.id("(anonymous)");
    for (i, r) in snap.regions.iter().enumerate() {
        let Some(c) = cl.classes.get(i) else { break };
        if !matches!(r.kind(), PathKind::Vsyscall | PathKind::Vectors) {
            linear_end = linear_end.max(r.end);
        }
        let path = if r.path.is_empty() {
            strings.id("")
        } else {
            strings.id(&escape(&r.path.view().decoded()))
        };
        let group = match c.object.and_then(|o| objects.get(o)) {
            Some(&o) => o,
            None if r.path.is_empty() => anonymous,
            None => path,
        };
        cols.start.push(format!("{:x}", r.start));
        cols.size.push(r.size());
        cols.perms.push(strings.id(&r.perms.to_string()));
        cols.category.push(category_index(c.category));
        cols.path.push(path);
        cols.group.push(group);
        cols.note.push(strings.id(&escape(c.note.as_bytes())));
        cols.rule.push(strings.id(c.rule));
        cols.evidence
            .push(strings.id(&escape(c.evidence.as_bytes())));
        cols.heuristic.push(u8::from(c.heuristic));
        cols.deleted.push(u8::from(r.path.deleted()));
        cols.rss_kb.push(r.kb(Field::Rss));
        cols.pss_kb.push(r.kb(Field::Pss));
        cols.swap_kb.push(r.kb(Field::Swap));
    }
    let mut report = to_value::<Report>(input.report);
    // Object paths are bytes: serde has them lossy (U+FFFD); show them as
    // the region table does, stray bytes as `\xNN`.
    if let Some(rows) = report.get_mut("objects").and_then(Value::as_array_mut) {
        for (row, o) in rows.iter_mut().zip(&input.report.objects) {
            row["path"] = Value::String(escape(&o.path).into_owned());
        }
    }
    Data {
        version: 1,
        generator: concat!("maplens ", env!("CARGO_PKG_VERSION")).to_owned(),
        report,
        findings: input.findings.map(to_value::<Outcome>),
        categories: Category::ALL.iter().map(|c| (c.id(), c.title())).collect(),
        strings: strings.strings,
        regions: cols,
        linear_end: format!("{linear_end:x}"),
        timeline: input.recording.as_ref().map(crate::timeline::build),
    }
}
