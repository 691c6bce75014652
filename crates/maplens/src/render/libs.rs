//! `maplens libs` (like librank) as a table, CSV and JSON: every mapped
//! file across processes, with the processes that map it.

use maplens_core::system::ScanReport;
use maplens_core::system::aggregate::LibRow;
use serde::Serialize;

use super::top::{MemJson, PidJson, ScanDoc, cell, cell_bytes, footer, kb, short_command};
use super::{csv, json_text, plain_table};

/// A mapped file in JSON.
#[derive(Serialize)]
struct LibJson<'a> {
    #[serde(serialize_with = "maplens_core::text::ser_lossy")]
    path: &'a [u8],
    deleted: bool,
    dev: String,
    inode: u64,
    processes: Vec<PidJson<'a>>,
    #[serde(flatten)]
    mem: MemJson,
}

#[derive(Serialize)]
struct Libs<T> {
    libs: Vec<T>,
}
use crate::common::Format;

/// The rows, already sorted and cut, in the asked format; `procs` adds each
/// mapper's share under its file in the table.
pub fn print(
    report: &ScanReport,
    rows: &[LibRow],
    format: Format,
    bytes: bool,
    procs: bool,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => json_text(&ScanDoc::new(
            report,
            None,
            Libs {
                libs: rows
                    .iter()
                    .map(|l| LibJson {
                        path: &l.path,
                        deleted: l.deleted,
                        dev: l.dev.to_string(),
                        inode: l.inode,
                        processes: l
                            .mappers
                            .iter()
                            .map(|p| PidJson::new(p.pid, &p.command, &p.mem))
                            .collect(),
                        mem: (&l.mem).into(),
                    })
                    .collect(),
            },
        ))?,
        Format::Csv | Format::Table => {
            let csv_mode = format == Format::Csv;
            let exact = bytes || csv_mode;
            let header = ["PSS", "USS", "RSS", "SWAP", "PROCS", "PATH"];
            let numeric = [true, true, true, true, true, false];
            let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
            for l in rows {
                let mut path = l.path.clone();
                if l.deleted {
                    path.extend_from_slice(b" (deleted)");
                }
                out.push(vec![
                    kb(l.mem.pss, exact).into_bytes(),
                    kb(l.mem.uss, exact).into_bytes(),
                    kb(l.mem.rss, exact).into_bytes(),
                    kb(l.mem.swap, exact).into_bytes(),
                    l.mappers.len().to_string().into_bytes(),
                    if csv_mode {
                        path
                    } else {
                        cell_bytes(&path, 90)
                    },
                ]);
                if procs && !csv_mode {
                    for p in &l.mappers {
                        out.push(vec![
                            kb(p.mem.pss, exact).into_bytes(),
                            kb(p.mem.uss, exact).into_bytes(),
                            kb(p.mem.rss, exact).into_bytes(),
                            kb(p.mem.swap, exact).into_bytes(),
                            Vec::new(),
                            format!("  {} {}", p.pid, cell(short_command(&p.command), 60))
                                .into_bytes(),
                        ]);
                    }
                }
            }
            if csv_mode {
                csv(&header, &out)?
            } else {
                let mut s = plain_table(&header, &numeric, &out);
                s.push_str(&super::count(rows.len() as u64, "file", "files"));
                s.push_str("; ");
                s.push_str(&footer(report, bytes));
                s
            }
        }
    })
}
