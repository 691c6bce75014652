//! `maplens top` (and a bare `maplens`): one row per process, user,
//! category, object or shared-memory object, as a table, CSV and JSON.
//! The helpers here are shared with [`super::libs`].

use std::fmt::Write as _;

use maplens_core::system::aggregate::{self, Group, ObjectTotals, ShmTotals};
use maplens_core::system::{Mem, ProcessRow, Reason, ScanReport};
use serde::Serialize;

use super::{JSON_SCHEMA_VERSION, csv, human, json_text, plain_table, term};
use crate::common::Format;

/// How a `top` table is ordered, cut and printed.
#[derive(Debug, Clone)]
pub struct View {
    /// Sort key.
    pub sort: SortKey,
    /// Reverse the order.
    pub reverse: bool,
    /// Rows shown (totals still cover every process).
    pub limit: Option<usize>,
    /// Table, CSV or JSON.
    pub format: Format,
    /// Exact byte counts instead of human units.
    pub bytes: bool,
    /// Whether regions were classified (`--categories`).
    pub categories: bool,
}

/// Sort keys of `maplens top`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Proportional set size (default).
    #[default]
    Pss,
    /// Unique set size.
    Uss,
    /// Resident set size.
    Rss,
    /// Swap.
    Swap,
    /// Proportional swap.
    Swappss,
    /// Process id (ascending).
    Pid,
    /// User name (ascending).
    User,
    /// Command line (ascending).
    Command,
}

impl SortKey {
    /// The figure this key sorts by, when it is one (`None` for pid, user
    /// and command).
    fn figure(self, m: &Mem) -> Option<u64> {
        match self {
            SortKey::Pss => Some(m.pss),
            SortKey::Uss => Some(m.uss),
            SortKey::Rss => Some(m.rss),
            SortKey::Swap => Some(m.swap),
            SortKey::Swappss => Some(m.swap_pss),
            SortKey::Pid | SortKey::User | SortKey::Command => None,
        }
    }
}

/// Sorts grouped rows by the key's figure, largest first, or by their name
/// for a key that is not a figure; then reverses and cuts as asked.
fn sort_cut<T>(
    rows: &mut Vec<T>,
    args: &View,
    mem: impl Fn(&T) -> &Mem,
    name: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    match args.sort {
        SortKey::Pid | SortKey::User | SortKey::Command => rows.sort_by(|a, b| name(a, b)),
        key => rows.sort_by_key(|r| std::cmp::Reverse(key.figure(mem(r)).unwrap_or(0))),
    }
    if args.reverse {
        rows.reverse();
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
}

/// The table (with the footer) or CSV of rows of text or byte cells.
fn table_or_csv<T: AsRef<[u8]>>(
    args: &View,
    report: &ScanReport,
    header: &[&str],
    numeric: &[bool],
    out: &[Vec<T>],
) -> anyhow::Result<String> {
    if args.format == Format::Csv {
        return csv(header, out);
    }
    let mut s = plain_table(header, numeric, out);
    s.push_str(&footer(report, args.bytes));
    Ok(s)
}

pub fn sort_rows(rows: &mut [&ProcessRow], key: SortKey, reverse: bool) {
    let num = |r: &ProcessRow| key.figure(&r.mem).unwrap_or(0);
    rows.sort_by(|a, b| {
        let o = match key {
            SortKey::Pid => a.meta.pid.cmp(&b.meta.pid),
            SortKey::User => a.meta.user.cmp(&b.meta.user),
            SortKey::Command => a.meta.command.cmp(&b.meta.command),
            _ => num(b).cmp(&num(a)),
        };
        o.then(a.meta.pid.cmp(&b.meta.pid))
    });
    if reverse {
        rows.reverse();
    }
}

/// kB as shown: human units, or exact bytes.
pub fn kb(v: u64, exact: bool) -> String {
    human(v.saturating_mul(1024), exact)
}

/// A command line for a table: the program's base name and its arguments.
pub fn short_command(cmd: &str) -> &str {
    let first = cmd.split(' ').next().unwrap_or(cmd);
    match first.rfind('/') {
        Some(i) if first.starts_with('/') || first.starts_with('.') => &cmd[i + 1..],
        _ => cmd,
    }
}

/// [`cell`] of bytes from the target: the exact bytes when short enough
/// (the table shows a stray byte as `\xNN`), else cut as text.
pub fn cell_bytes(b: &[u8], max: usize) -> Vec<u8> {
    let t = String::from_utf8_lossy(b);
    if t.chars().count() <= max {
        b.to_vec()
    } else {
        cell(&t, max).into_bytes()
    }
}

/// Shortens a string for a table cell to `max` characters (the table
/// escapes it afterwards).
pub fn cell(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A [`Mem`] in JSON, in kB, flattened into the row that owns it.
#[derive(Serialize)]
pub struct MemJson {
    uss_kb: u64,
    pss_kb: u64,
    rss_kb: u64,
    swap_kb: u64,
    swap_pss_kb: u64,
    pss_anon_kb: u64,
    pss_file_kb: u64,
    pss_shmem_kb: u64,
    private_clean_kb: u64,
    private_dirty_kb: u64,
    shared_clean_kb: u64,
    shared_dirty_kb: u64,
}

impl From<&Mem> for MemJson {
    fn from(m: &Mem) -> MemJson {
        MemJson {
            uss_kb: m.uss,
            pss_kb: m.pss,
            rss_kb: m.rss,
            swap_kb: m.swap,
            swap_pss_kb: m.swap_pss,
            pss_anon_kb: m.pss_anon,
            pss_file_kb: m.pss_file,
            pss_shmem_kb: m.pss_shmem,
            private_clean_kb: m.private_clean,
            private_dirty_kb: m.private_dirty,
            shared_clean_kb: m.shared_clean,
            shared_dirty_kb: m.shared_dirty,
        }
    }
}

/// A process that could not be read, in JSON.
#[derive(Serialize)]
struct UnreadableJson<'a> {
    pid: u32,
    comm: Option<&'a str>,
    user: Option<&'a str>,
    reason: &'static str,
    message: String,
}

/// What every scan-based JSON document (`top`, `libs`) starts with, and
/// the document's own rows after it.
#[derive(Serialize)]
pub struct ScanDoc<'a, T: Serialize> {
    schema_version: u32,
    processes: usize,
    totals: MemJson,
    mem_total_kb: Option<u64>,
    unreadable: Vec<UnreadableJson<'a>>,
    filtered_out: usize,
    hidepid: Option<&'a str>,
    smaps_rollup: bool,
    /// `user`, `category`, `object` or `shm` for a grouped document.
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
    #[serde(flatten)]
    rows: T,
}

impl<'a, T: Serialize> ScanDoc<'a, T> {
    /// The document of a scan, grouped `by` (or per process), with `rows`.
    pub fn new(report: &'a ScanReport, by: Option<&'a str>, rows: T) -> ScanDoc<'a, T> {
        ScanDoc {
            schema_version: JSON_SCHEMA_VERSION,
            processes: report.rows.len(),
            totals: (&report.totals).into(),
            mem_total_kb: report.meminfo.map(|i| i.mem_total),
            unreadable: report
                .unreadable
                .iter()
                .map(|u| UnreadableJson {
                    pid: u.pid,
                    comm: u.comm.as_deref(),
                    user: u.user.as_deref(),
                    reason: u.reason.id(),
                    message: u.reason.to_string(),
                })
                .collect(),
            filtered_out: report.filtered_out,
            hidepid: report.hidepid.as_deref(),
            smaps_rollup: report.rollup_available,
            by,
            rows,
        }
    }
}

/// A process (or a mapper of a file or object) in JSON.
#[derive(Serialize)]
pub struct PidJson<'a> {
    pid: u32,
    command: &'a str,
    #[serde(flatten)]
    mem: MemJson,
}

impl<'a> PidJson<'a> {
    /// A mapper's row.
    pub fn new(pid: u32, command: &'a str, mem: &Mem) -> PidJson<'a> {
        PidJson {
            pid,
            command,
            mem: mem.into(),
        }
    }
}

#[derive(Serialize)]
struct CategoryJson {
    category: &'static str,
    #[serde(flatten)]
    mem: MemJson,
}

#[derive(Serialize)]
struct ProcessJson<'a> {
    pid: u32,
    uid: Option<u32>,
    user: &'a str,
    command: &'a str,
    source: &'static str,
    largest: Option<&'static str>,
    largest_pss_kb: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<CategoryJson>,
    #[serde(flatten)]
    mem: MemJson,
}

#[derive(Serialize)]
struct Rows<T> {
    rows: Vec<T>,
}

#[derive(Serialize)]
struct GroupJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    count: usize,
    #[serde(flatten)]
    mem: MemJson,
}

#[derive(Serialize)]
struct Groups<T> {
    groups: Vec<T>,
}

#[derive(Serialize)]
struct ObjectJson<'a> {
    #[serde(serialize_with = "maplens_core::text::ser_lossy")]
    object: &'a [u8],
    regions: usize,
    pids: &'a [u32],
    size_kb: u64,
    #[serde(flatten)]
    mem: MemJson,
}

#[derive(Serialize)]
struct Objects<T> {
    objects: Vec<T>,
}

#[derive(Serialize)]
struct ShmJson<'a> {
    kind: &'static str,
    key: &'a aggregate::ShmKey,
    name: &'a str,
    sysv_key: Option<String>,
    size_kb: u64,
    pss_kb: u64,
    rss_max_kb: u64,
    swap_pss_kb: u64,
    mappers: Vec<PidJson<'a>>,
}

#[derive(Serialize)]
struct SharedMemory<T> {
    shared_memory: Vec<T>,
}

/// The totals line and the footer naming every process not counted.
pub fn footer(report: &ScanReport, exact: bool) -> String {
    let mut s = String::new();
    let t = &report.totals;
    let _ = write!(
        s,
        "{} processes: PSS {}",
        report.rows.len(),
        kb(t.pss, exact)
    );
    if let Some(mi) = report.meminfo.filter(|m| m.mem_total > 0) {
        let _ = write!(
            s,
            " ({:.1}% of MemTotal {})",
            t.pss as f64 * 100.0 / mi.mem_total as f64,
            kb(mi.mem_total, exact)
        );
    }
    let _ = writeln!(
        s,
        ", USS {}, swap {} (SwapPss {}); RSS {} counts shared pages once per process",
        kb(t.uss, exact),
        kb(t.swap, exact),
        kb(t.swap_pss, exact),
        kb(t.rss, exact)
    );
    if report.filtered_out > 0 {
        let _ = writeln!(
            s,
            "{} processes left out by the filter",
            report.filtered_out
        );
    }
    let mut reasons: Vec<&Reason> = report.unreadable.iter().map(|u| &u.reason).collect();
    reasons.sort();
    reasons.dedup();
    for r in reasons {
        let who: Vec<String> = report
            .unreadable
            .iter()
            .filter(|u| &u.reason == r)
            .map(|u| format!("{} ({})", u.pid, term(u.comm.as_deref().unwrap_or("?"))))
            .collect();
        const SHOW: usize = 8;
        let mut names = who
            .iter()
            .take(SHOW)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if who.len() > SHOW {
            let _ = write!(
                names,
                ", and {} more (--format json lists all)",
                who.len() - SHOW
            );
        }
        let hint = match r {
            Reason::PermissionDenied if !rustix::process::geteuid().is_root() => {
                "; their memory is not in the totals: run as root"
            }
            Reason::PermissionDenied => "; their memory is not in the totals",
            Reason::Other(_) => "; their memory is not in the totals",
            _ => "",
        };
        let _ = writeln!(s, "not counted, {r}: {}{hint}: {names}", who.len());
    }
    if let Some(h) = &report.hidepid {
        let _ = writeln!(
            s,
            "/proc is mounted with hidepid={h}: other users' processes may be invisible and are not counted"
        );
    }
    s
}

pub fn processes(args: &View, report: &ScanReport) -> anyhow::Result<String> {
    let mut rows: Vec<&ProcessRow> = report.rows.iter().collect();
    sort_rows(&mut rows, args.sort, args.reverse);
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    match args.format {
        Format::Json => json_text(&ScanDoc::new(
            report,
            None,
            Rows {
                rows: rows
                    .iter()
                    .map(|r| ProcessJson {
                        pid: r.meta.pid,
                        uid: r.meta.uid,
                        user: &r.meta.user,
                        command: &r.meta.command,
                        source: r.source,
                        largest: r.largest().map(|(k, _)| k),
                        largest_pss_kb: r.largest().map(|(_, p)| p),
                        categories: r
                            .categories
                            .iter()
                            .map(|(c, m)| CategoryJson {
                                category: c.id(),
                                mem: m.into(),
                            })
                            .collect(),
                        mem: (&r.mem).into(),
                    })
                    .collect(),
            },
        )),
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [
                "PID", "USER", "COMMAND", "USS", "PSS", "RSS", "SWAP", "SWAPPSS", "LARGEST",
            ];
            let numeric = [true, false, false, true, true, true, true, true, false];
            let out: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let cmd = r.meta.display_command();
                    vec![
                        r.meta.pid.to_string(),
                        r.meta.user.clone(),
                        if csv_mode {
                            cmd
                        } else {
                            cell(short_command(&cmd), 48)
                        },
                        kb(r.mem.uss, exact),
                        kb(r.mem.pss, exact),
                        kb(r.mem.rss, exact),
                        kb(r.mem.swap, exact),
                        kb(r.mem.swap_pss, exact),
                        r.largest().map_or_else(String::new, |(k, _)| k.to_owned()),
                    ]
                })
                .collect();
            if csv_mode {
                return csv(&header, &out);
            }
            let mut s = plain_table(&header, &numeric, &out);
            s.push_str(&footer(report, args.bytes));
            if !args.categories && report.rows.iter().all(|r| r.categories.is_empty()) {
                s.push_str(
                    "LARGEST is the largest of anon/file/shmem PSS (smaps_rollup); --categories classifies regions\n",
                );
            }
            Ok(s)
        }
    }
}

pub fn groups(
    args: &View,
    report: &ScanReport,
    what: &str,
    g: Vec<Group>,
) -> anyhow::Result<String> {
    let mut g = g;
    sort_cut(&mut g, args, |x| &x.mem, |a, b| a.key.cmp(&b.key));
    let key = what.to_lowercase();
    match args.format {
        Format::Json => json_text(&ScanDoc::new(
            report,
            Some(&key),
            Groups {
                groups: g
                    .iter()
                    .map(|x| GroupJson {
                        user: (key == "user").then_some(x.key.as_str()),
                        category: (key == "category").then_some(x.key.as_str()),
                        count: x.processes,
                        mem: (&x.mem).into(),
                    })
                    .collect(),
            },
        )),
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [what, "COUNT", "USS", "PSS", "RSS", "SWAP", "SWAPPSS"];
            let numeric = [false, true, true, true, true, true, true];
            let out: Vec<Vec<String>> = g
                .iter()
                .map(|x| {
                    vec![
                        x.key.clone(),
                        x.processes.to_string(),
                        kb(x.mem.uss, exact),
                        kb(x.mem.pss, exact),
                        kb(x.mem.rss, exact),
                        kb(x.mem.swap, exact),
                        kb(x.mem.swap_pss, exact),
                    ]
                })
                .collect();
            table_or_csv(args, report, &header, &numeric, &out)
        }
    }
}

pub fn objects(args: &View, report: &ScanReport, o: ObjectTotals) -> anyhow::Result<String> {
    let mut rows = o.into_rows();
    sort_cut(&mut rows, args, |x| &x.mem, |a, b| a.name.cmp(&b.name));
    match args.format {
        Format::Json => json_text(&ScanDoc::new(
            report,
            Some("object"),
            Objects {
                objects: rows
                    .iter()
                    .map(|x| ObjectJson {
                        object: &x.name,
                        regions: x.regions,
                        pids: &x.pids,
                        size_kb: x.mem.size,
                        mem: (&x.mem).into(),
                    })
                    .collect(),
            },
        )),
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [
                "OBJECT", "PIDS", "REGIONS", "USS", "PSS", "RSS", "SWAP", "AVGPSS",
            ];
            let numeric = [false, true, true, true, true, true, true, true];
            let out: Vec<Vec<Vec<u8>>> = rows
                .iter()
                .map(|x| {
                    vec![
                        if csv_mode {
                            x.name.clone()
                        } else {
                            cell_bytes(&x.name, 60)
                        },
                        x.pids.len().to_string().into_bytes(),
                        x.regions.to_string().into_bytes(),
                        kb(x.mem.uss, exact).into_bytes(),
                        kb(x.mem.pss, exact).into_bytes(),
                        kb(x.mem.rss, exact).into_bytes(),
                        kb(x.mem.swap, exact).into_bytes(),
                        kb(x.mem.pss / x.pids.len().max(1) as u64, exact).into_bytes(),
                    ]
                })
                .collect();
            table_or_csv(args, report, &header, &numeric, &out)
        }
    }
}

pub fn shm(args: &View, report: &ScanReport, t: ShmTotals) -> anyhow::Result<String> {
    let mut rows = t.into_rows();
    if args.reverse {
        rows.reverse();
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    match args.format {
        Format::Json => json_text(&ScanDoc::new(
            report,
            Some("shm"),
            SharedMemory {
                shared_memory: rows
                    .iter()
                    .map(|x| ShmJson {
                        kind: x.kind.id(),
                        key: &x.key,
                        name: &x.name,
                        sysv_key: x.sysv_key.map(|k| format!("0x{k:08x}")),
                        size_kb: x.size,
                        pss_kb: x.pss,
                        rss_max_kb: x.rss_max,
                        swap_pss_kb: x.swap_pss,
                        mappers: x
                            .mappers
                            .iter()
                            .map(|p| PidJson::new(p.pid, &p.command, &p.mem))
                            .collect(),
                    })
                    .collect(),
            },
        )),
        Format::Csv | Format::Table => {
            let csv_mode = args.format == Format::Csv;
            let exact = args.bytes || csv_mode;
            let header = [
                "KIND", "ID", "NAME", "SIZE", "PSS", "RSS(MAX)", "SWAPPSS", "PIDS",
            ];
            let numeric = [false, false, false, true, true, true, true, false];
            let out: Vec<Vec<String>> = rows
                .iter()
                .map(|x| {
                    let id = match &x.key {
                        aggregate::ShmKey::SysV { shmid } => format!("shmid {shmid}"),
                        aggregate::ShmKey::Inode { dev, inode } => format!("{dev}:{inode}"),
                    };
                    let who = x
                        .mappers
                        .iter()
                        .map(|p| {
                            if csv_mode {
                                p.pid.to_string()
                            } else {
                                format!("{} ({})", p.pid, cell(short_command(&p.command), 20))
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(if csv_mode { " " } else { ", " });
                    vec![
                        x.kind.id().to_owned(),
                        id,
                        if csv_mode {
                            x.name.clone()
                        } else {
                            cell(&x.name, 40)
                        },
                        kb(x.size, exact),
                        kb(x.pss, exact),
                        kb(x.rss_max, exact),
                        kb(x.swap_pss, exact),
                        who,
                    ]
                })
                .collect();
            if csv_mode {
                return csv(&header, &out);
            }
            let mut s = plain_table(&header, &numeric, &out);
            let total: u64 = rows.iter().map(|x| x.pss).sum();
            let _ = writeln!(
                s,
                "{} shared-memory objects, {} resident (Σ PSS over their mappers: each page once){}",
                rows.len(),
                kb(total, args.bytes),
                report
                    .meminfo
                    .map(|m| format!("; meminfo Shmem {}", kb(m.shmem, args.bytes)))
                    .unwrap_or_default()
            );
            s.push_str(&footer(report, args.bytes));
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(sort: SortKey, reverse: bool, limit: Option<usize>) -> View {
        View {
            sort,
            reverse,
            limit,
            format: Format::Table,
            bytes: false,
            categories: false,
        }
    }

    #[test]
    fn grouped_rows_sort_by_figure_or_name_then_cut() {
        let row = |name: &str, rss: u64, uss: u64| {
            (
                name.to_owned(),
                Mem {
                    rss,
                    uss,
                    ..Mem::default()
                },
            )
        };
        let rows = vec![row("b", 10, 3), row("a", 30, 1), row("c", 20, 2)];
        let names = |v: &[(String, Mem)]| v.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
        let by = |v: &View| {
            let mut r = rows.clone();
            sort_cut(&mut r, v, |x| &x.1, |a, b| a.0.cmp(&b.0));
            names(&r)
        };
        assert_eq!(by(&view(SortKey::Rss, false, None)), ["a", "c", "b"]);
        assert_eq!(by(&view(SortKey::Uss, false, None)), ["b", "c", "a"]);
        assert_eq!(by(&view(SortKey::Command, false, None)), ["a", "b", "c"]);
        assert_eq!(by(&view(SortKey::Rss, true, Some(2))), ["b", "c"]);
    }
}
