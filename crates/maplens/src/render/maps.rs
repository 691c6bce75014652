//! `maplens maps` as a table, CSV and JSON: one row per region, with its
//! kind and what it is in plain words.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use maplens_core::analysis::{Class, Classified};
use maplens_core::model::{Region, Snapshot};
use maplens_core::parse::Field;
use serde::Serialize;

use super::{Cells, JSON_SCHEMA_VERSION, count, human, stream_csv, stream_table};
use crate::common::Format;

/// How `maps` is printed.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Table, CSV or JSON.
    pub format: Format,
    /// Exact byte counts instead of human units.
    pub bytes: bool,
    /// Rule and evidence columns.
    pub explain: bool,
}

/// A path's bytes in a JSON string, losslessly: the string itself when the
/// bytes are UTF-8; otherwise every byte that is not part of valid UTF-8
/// as `\xNN` and every backslash doubled (`escaped` is then true, and
/// the bytes can be read back exactly).
fn lossless(raw: &[u8]) -> (String, bool) {
    match std::str::from_utf8(raw) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => {
            let mut out = String::with_capacity(raw.len() + 8);
            for chunk in raw.utf8_chunks() {
                for ch in chunk.valid().chars() {
                    if ch == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(ch);
                    }
                }
                for b in chunk.invalid() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            (out, true)
        }
    }
}

/// One value of a region's `smaps` object: a number or text, as printed.
#[derive(Serialize)]
#[serde(untagged)]
enum SmapsValue<'a> {
    Num(u64),
    Text(std::borrow::Cow<'a, str>),
    Extra(&'a maplens_core::model::ExtraValue),
}

/// The JSON object of one region (schema documented in README.md). The
/// fields are in alphabetical order, as the documents have always had
/// them.
#[derive(Serialize)]
pub struct RegionJson<'a> {
    /// The other reading of a shape that fits two rules (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    alternative: Option<AlternativeJson<'a>>,
    category: &'static str,
    deleted: bool,
    dev: String,
    end: String,
    evidence: &'a str,
    heuristic: bool,
    inode: u64,
    line: u32,
    note: &'a str,
    object: Option<std::borrow::Cow<'a, str>>,
    offset: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<Vec<u8>>,
    path_kind: &'static str,
    path_raw: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    path_raw_escaped: bool,
    perms: String,
    rule: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    smaps: Option<BTreeMap<&'a str, SmapsValue<'a>>>,
    start: String,
    thread: Option<u32>,
}

/// The second reading of an ambiguous region.
#[derive(Serialize)]
pub struct AlternativeJson<'a> {
    category: &'static str,
    confidence: &'static str,
    note: &'a str,
    rule: &'a str,
}

/// The JSON object of one region.
pub fn region_json<'a>(r: &'a Region, c: &'a Class, cl: &'a Classified) -> RegionJson<'a> {
    let decoded = r.path.view().decoded();
    let (path_raw, path_raw_escaped) = lossless(r.path.raw());
    let smaps = r.smaps.as_ref().map(|s| {
        let mut m = BTreeMap::new();
        for (f, val) in s.known.iter() {
            m.insert(f.key(), SmapsValue::Num(val));
        }
        for (k, val) in &s.extra {
            m.insert(&**k, SmapsValue::Extra(val));
        }
        if let Some(fl) = s.vmflags() {
            m.insert("VmFlags", SmapsValue::Text(std::borrow::Cow::Borrowed(fl)));
        }
        if let Some(n) = &s.name {
            m.insert("Name", SmapsValue::Text(String::from_utf8_lossy(n)));
        }
        m
    });
    RegionJson {
        alternative: c.alternative.as_ref().map(|a| AlternativeJson {
            category: a.category.id(),
            confidence: a.confidence.id(),
            note: &a.note,
            rule: a.rule,
        }),
        category: c.category.id(),
        deleted: r.path.deleted(),
        dev: r.dev.to_string(),
        end: format!("0x{:x}", r.end),
        evidence: &c.evidence,
        heuristic: c.heuristic,
        inode: r.inode,
        line: r.line,
        note: &c.note,
        object: c
            .object
            .map(|o| String::from_utf8_lossy(&cl.objects[o].path)),
        offset: format!("0x{:x}", r.offset),
        path: String::from_utf8_lossy(&decoded).into_owned(),
        path_bytes: std::str::from_utf8(&decoded)
            .is_err()
            .then(|| decoded.to_vec()),
        path_kind: r.kind().tag(),
        path_raw,
        path_raw_escaped,
        perms: r.perms.to_string(),
        rule: c.rule,
        size: r.size(),
        smaps,
        start: format!("0x{:x}", r.start),
        thread: c.thread,
    }
}

/// The JSON document of `maps`, serialized as it is written: one region's
/// object at a time, never the whole tree (60,000 regions made a 900 MB
/// tree). Keys in alphabetical order, as they have always been.
#[derive(Serialize)]
struct JsonDoc<'a> {
    comm: Option<&'a str>,
    format: Option<&'static str>,
    notices: Vec<String>,
    page_size: u64,
    pid: Option<u32>,
    regions: JsonRegions<'a>,
    schema_version: u32,
    source: &'a str,
}

/// The `regions` array of a [`JsonDoc`], serialized one region at a time.
struct JsonRegions<'a> {
    snap: &'a Snapshot,
    cl: &'a Classified,
    rows: &'a [usize],
}

impl serde::Serialize for JsonRegions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let d = self;
        let mut seq = s.serialize_seq(Some(d.rows.len()))?;
        for &i in d.rows {
            seq.serialize_element(&region_json(&d.snap.regions[i], &d.cl.classes[i], d.cl))?;
        }
        seq.end()
    }
}

/// Writes a value as pretty JSON and a newline to standard output through
/// a buffer; a closed pipe (`| head`) is not an error.
fn emit_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, super::SafeFormatter::new());
    let r = v
        .serialize(&mut ser)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Prints the rows (indices into `snap.regions`) of `maps` to standard
/// output; notices go to standard error under a table.
pub fn print(snap: &Snapshot, cl: &Classified, rows: &[usize], view: View) -> anyhow::Result<()> {
    if view.format == Format::Json {
        return emit_json(&JsonDoc {
            comm: snap.process.comm.as_deref(),
            format: snap.format.map(|f| f.file_name()),
            notices: snap.notices.iter().map(ToString::to_string).collect(),
            page_size: cl.page_size,
            pid: snap.process.pid,
            regions: JsonRegions { snap, cl, rows },
            schema_version: JSON_SCHEMA_VERSION,
            source: &snap.origin,
        });
    }
    {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let r = table(&mut out, snap, cl, rows, view).and_then(|()| Ok(out.flush()?));
        match r {
            Err(e) if super::is_broken_pipe(&e) => return Ok(()),
            r => r?,
        }
    }
    if view.format == Format::Table {
        for n in &snap.notices {
            eprintln!("maplens: note: {}", super::term(&n.to_string()));
        }
    }
    Ok(())
}

fn table(
    w: &mut dyn std::io::Write,
    snap: &Snapshot,
    cl: &Classified,
    rows: &[usize],
    args: View,
) -> anyhow::Result<()> {
    let smaps = snap.has_residency();
    let csv_mode = args.format == Format::Csv;
    let exact = args.bytes || csv_mode;
    let mut header = vec!["START", "END", "SIZE", "PERM", "OFFSET", "DEV", "INODE"];
    if smaps {
        header.extend(["RSS", "PSS", "SWAP"]);
    }
    header.extend(["KIND", "PATH", "NOTE"]);
    if args.explain {
        header.extend(["RULE", "EVIDENCE"]);
    }
    let numeric: Vec<bool> = header
        .iter()
        .map(|h| matches!(*h, "SIZE" | "INODE" | "RSS" | "PSS" | "SWAP"))
        .collect();
    let wd = if cl.is_64bit { 12 } else { 8 };
    // The widths of the address, permission, offset and device columns
    // follow from the numbers: no need to format them while measuring.
    let hex_width = |v: u64, min: usize| (64 - v.leading_zeros() as usize).div_ceil(4).max(min);
    let mut min_width = vec![0usize; header.len()];
    for &i in rows {
        let r = &snap.regions[i];
        min_width[0] = min_width[0].max(hex_width(r.start, wd));
        min_width[1] = min_width[1].max(hex_width(r.end, wd));
        min_width[3] = 4;
        min_width[4] = min_width[4].max(hex_width(r.offset, 8));
        min_width[5] = min_width[5]
            .max(hex_width(u64::from(r.dev.major), 2) + 1 + hex_width(u64::from(r.dev.minor), 2));
    }
    let fill = |k: usize, cells: &mut Cells, measuring: bool| {
        let i = rows[k];
        let r = &snap.regions[i];
        let c = &cl.classes[i];
        if measuring {
            for _ in 0..2 {
                cells.ascii(b"");
            }
        } else {
            cells.hex(r.start, wd);
            cells.hex(r.end, wd);
        }
        // Numbers are measured without writing them.
        if measuring {
            cells.size_width(r.size(), exact);
            for _ in 0..3 {
                cells.ascii(b"");
            }
            cells.dec_width(r.inode);
        } else {
            cells.size(r.size(), exact);
            cells.ascii(&r.perms.as_bytes());
            cells.hex(r.offset, 8);
            cells.dev(r.dev.major, r.dev.minor);
            cells.dec(r.inode);
        }
        if smaps {
            for f in [Field::Rss, Field::Pss, Field::Swap] {
                match r.kb(f) {
                    Some(v) if measuring => cells.size_width(v.saturating_mul(1024), exact),
                    Some(v) => cells.size(v.saturating_mul(1024), exact),
                    None => cells.ascii(b"-"),
                }
            }
        }
        // (A category's id is the printer's own ASCII word.)
        cells.ascii(c.category.id().as_bytes());
        cells.bytes(&r.path.view().decoded());
        // The last column is never padded: not measured.
        if measuring && !args.explain {
            return;
        }
        if let Some(a) = &c.alternative
            && !csv_mode
        {
            let or = format!(
                " (?; {}, or {}: {})",
                a.confidence.id(),
                a.category.id(),
                a.note
            );
            cells.text2(&c.note, &or);
        } else if c.heuristic && !csv_mode {
            cells.text2(&c.note, " (?)");
        } else {
            cells.text(&c.note);
        }
        if args.explain {
            cells.fmt(format_args!(
                "{}{}",
                c.rule,
                if c.heuristic { " (heuristic)" } else { "" }
            ));
            if !measuring {
                cells.text(&c.evidence);
            }
        }
    };
    if csv_mode {
        return stream_csv(w, &header, rows.len(), fill);
    }
    stream_table(w, &header, &numeric, &min_width, rows.len(), fill)?;
    let mut tot = [0u64; 4];
    for &i in rows {
        let r = &snap.regions[i];
        tot[0] = tot[0].saturating_add(r.size());
        for (j, f) in [Field::Rss, Field::Pss, Field::Swap]
            .into_iter()
            .enumerate()
        {
            tot[j + 1] = tot[j + 1].saturating_add(r.kb(f).unwrap_or(0).saturating_mul(1024));
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "{}, {}",
        count(rows.len() as u64, "region", "regions"),
        human(tot[0], args.bytes)
    );
    if smaps {
        let _ = write!(
            s,
            ", RSS {}, PSS {}, swap {}",
            human(tot[1], args.bytes),
            human(tot[2], args.bytes),
            human(tot[3], args.bytes)
        );
    } else {
        s.push_str(" (maps only: residency unknown)");
    }
    s.push('\n');
    if rows.iter().any(|&i| cl.classes[i].heuristic) && !args.explain {
        s.push_str("(?) inferred from the layout; --explain shows the evidence\n");
    }
    w.write_all(s.as_bytes())?;
    Ok(())
}
