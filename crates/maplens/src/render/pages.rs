//! `maplens pages` as a table, CSV and JSON: one row per region with its
//! page counts and residency strip, totals per category, and which figures
//! this run could not give and why.

use maplens_core::analysis::pages::{ContentCounts, PageCounts, PagesReport, RegionPages};
use maplens_core::analysis::wss::WssSample;
use maplens_core::model::Snapshot;
use serde::Serialize;

use super::{
    Cells, JSON_SCHEMA_VERSION, csv, human, json_text, plain_table, stream_csv, stream_table, term,
};
use crate::common::Format;

#[derive(Serialize)]
struct RegionJson<'a> {
    start: u64,
    end: u64,
    perms: String,
    #[serde(serialize_with = "maplens_core::text::ser_lossy")]
    path: &'a [u8],
    #[serde(flatten)]
    pages: &'a RegionPages,
}

#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    origin: &'a str,
    page_size: u64,
    complete: bool,
    unavailable: &'a [&'static str],
    total: &'a PageCounts,
    frames: &'a Option<maplens_core::analysis::pages::FrameCounts>,
    content: &'a Option<ContentCounts>,
    categories: &'a [maplens_core::analysis::pages::CategoryPages],
    regions: Vec<RegionJson<'a>>,
}

/// The report in the asked format.
pub fn print(
    snap: &Snapshot,
    r: &PagesReport,
    format: Format,
    bytes: bool,
) -> anyhow::Result<String> {
    if format == Format::Json {
        return json_text(&Doc {
            schema_version: JSON_SCHEMA_VERSION,
            origin: &snap.origin,
            page_size: r.page_size,
            complete: r.complete,
            unavailable: &r.unavailable,
            total: &r.total,
            frames: &r.frames,
            content: &r.content,
            categories: &r.categories,
            regions: r
                .regions
                .iter()
                .map(|p| {
                    let reg = &snap.regions[p.index];
                    RegionJson {
                        start: reg.start,
                        end: reg.end,
                        perms: reg.perms.to_string(),
                        path: reg.path.raw(),
                        pages: p,
                    }
                })
                .collect(),
        });
    }
    let content = r.content.is_some();
    let csv_mode = format == Format::Csv;
    let exact = bytes || csv_mode;
    let size = |pages: u64| human(pages * r.page_size, exact);
    let mut header = vec![
        "START", "END", "KIND", "SIZE", "PRESENT", "SWAPPED", "EXCL", "FILE",
    ];
    if content {
        header.extend(["ZERO", "DUP"]);
    }
    header.extend(["STRIP", "PATH"]);
    let mut numeric = vec![false, false, false, true, true, true, true, true];
    if content {
        numeric.extend([true, true]);
    }
    numeric.extend([false, false]);
    let ps = r.page_size;
    let fill = |i: usize, cells: &mut Cells, _measuring: bool| {
        let p = &r.regions[i];
        let reg = &snap.regions[p.index];
        let c = &p.counts;
        cells.fmt(format_args!("{:x}", reg.start));
        cells.fmt(format_args!("{:x}", reg.end));
        cells.text(p.category.id());
        for n in [c.pages, c.present, c.swapped, c.exclusive, c.file_shared] {
            cells.size(n * ps, exact);
        }
        if content {
            match p.content {
                Some(k) => {
                    cells.size(k.zero * ps, exact);
                    cells.size(k.duplicate * ps, exact);
                }
                None => {
                    cells.text("");
                    cells.text("");
                }
            }
        }
        cells.text2(
            &format!("|{}|", p.strip),
            if p.complete { "" } else { " (incomplete)" },
        );
        cells.bytes(reg.path.raw());
    };
    let mut buf: Vec<u8> = Vec::new();
    if csv_mode {
        stream_csv(&mut buf, &header, r.regions.len(), fill)?;
        return Ok(String::from_utf8(buf)?);
    }
    stream_table(&mut buf, &header, &numeric, &[], r.regions.len(), fill)?;
    let mut out = String::from_utf8(buf)?;
    out.push('\n');
    let mut h = vec![
        "KIND", "REGIONS", "SIZE", "PRESENT", "SWAPPED", "EXCL", "FILE",
    ];
    if content {
        h.extend(["ZERO", "DUP"]);
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut add = |name: &str, regions: u64, c: &PageCounts, k: Option<ContentCounts>| {
        let mut row = vec![
            name.to_owned(),
            regions.to_string(),
            size(c.pages),
            size(c.present),
            size(c.swapped),
            size(c.exclusive),
            size(c.file_shared),
        ];
        if content {
            let k = k.unwrap_or_default();
            row.push(size(k.zero));
            row.push(size(k.duplicate));
        }
        rows.push(row);
    };
    for c in &r.categories {
        add(c.category.id(), c.regions, &c.counts, c.content);
    }
    add("total", r.regions.len() as u64, &r.total, r.content);
    let num: Vec<bool> = (0..h.len()).map(|i| i > 0).collect();
    out.push_str(&plain_table(&h, &num, &rows));
    if let Some(f) = &r.frames {
        out.push_str(&format!(
            "\nframes looked up: {} (KSM {}, THP {}, zero page {}, idle {}, mapped more than once {})\n",
            f.frames, f.ksm, f.thp, f.zero_page, f.idle, f.shared
        ));
    }
    if let (Some(h), Some(z)) = (r.total.huge, r.total.pfn_zero) {
        out.push_str(&format!(
            "on huge pages: {}; on the shared zero page: {}\n",
            size(h),
            size(z)
        ));
    }
    if let Some(k) = &r.content {
        out.push_str(&format!(
            "content: {} pages read, {} all zeros, {} duplicates of another page{}\n",
            k.read,
            k.zero,
            k.duplicate,
            if k.unreadable > 0 {
                format!(", {} unreadable", k.unreadable)
            } else {
                String::new()
            }
        ));
    }
    for u in &r.unavailable {
        out.push_str(&format!("not shown: {}\n", term(u)));
    }
    if !r.complete {
        out.push_str(
            "incomplete: the time budget (--budget) ran out; later regions were not read\n",
        );
    }
    Ok(out)
}

/// One table line of a `wss` sample: time, working set, RSS, and the
/// categories with the largest working sets.
pub fn wss_line(s: &WssSample) -> String {
    let mut cats: Vec<_> = s
        .categories
        .iter()
        .filter(|(_, w)| w.referenced_kb > 0)
        .collect();
    cats.sort_by_key(|(_, w)| std::cmp::Reverse(w.referenced_kb));
    let top: Vec<String> = cats
        .iter()
        .take(4)
        .map(|(c, w)| format!("{} {}", c.id(), human(w.referenced_kb * 1024, false)))
        .collect();
    format!(
        "{:>7.1}s  wss {:>9}  rss {:>9}  {}\n",
        s.at_s,
        human(s.total.referenced_kb * 1024, false),
        human(s.total.rss_kb * 1024, false),
        top.join(", ")
    )
}

#[derive(Serialize)]
struct WssDoc<'a> {
    schema_version: u32,
    mechanism: &'static str,
    notes: &'a [String],
    samples: &'a [WssSample],
}

/// All samples of `wss` as JSON, or as CSV (one row per sample and
/// category).
pub fn wss(
    samples: &[WssSample],
    mechanism: &'static str,
    notes: &[String],
    format: Format,
) -> anyhow::Result<String> {
    if format == Format::Json {
        return json_text(&WssDoc {
            schema_version: JSON_SCHEMA_VERSION,
            mechanism,
            notes,
            samples,
        });
    }
    let mut rows = Vec::new();
    for s in samples {
        for (c, w) in &s.categories {
            rows.push(vec![
                format!("{:.3}", s.at_s),
                c.id().to_owned(),
                (w.referenced_kb * 1024).to_string(),
                (w.rss_kb * 1024).to_string(),
            ]);
        }
    }
    csv(&["AT_S", "KIND", "WSS", "RSS"], &rows)
}
