//! The process report (`maplens report`, `maplens TARGET`) as a table for
//! people, CSV and JSON. The figures come from
//! [`maplens_core::analysis::report`]; nothing here computes one.

use std::fmt::Write as _;

use maplens_core::analysis::{Category, Report, Usage};
use serde::Serialize;

use super::{JSON_SCHEMA_VERSION, count, csv, human, json_text, plain_table, term};
use crate::common::Format;

/// What `maplens check` found (nothing in a build without the `check`
/// feature, which has no findings engine).
#[cfg(feature = "check")]
pub type Findings = maplens_core::check::Outcome;
/// What `maplens check` found (nothing in a build without the `check`
/// feature, which has no findings engine).
#[cfg(not(feature = "check"))]
#[derive(serde::Serialize, Default, Debug)]
pub struct Findings {}

/// The report in the asked format: the text report ends with the findings
/// section, JSON holds them under `findings`, CSV has the figures only.
pub fn print(
    rep: &Report,
    findings: &Findings,
    format: Format,
    exact: bool,
    top: usize,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => json_text(&Doc {
            schema_version: JSON_SCHEMA_VERSION,
            report: rep,
            findings,
        })?,
        Format::Csv => to_csv(rep)?,
        Format::Table => {
            let mut t = to_text(rep, exact, top);
            t.push_str(&findings_text(findings, exact));
            t
        }
    })
}

/// The JSON document: the report with its schema version first.
#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a Report,
    /// The findings of `maplens check` (severity low and up).
    findings: &'a Findings,
}

fn opt(v: Option<u64>, exact: bool) -> String {
    v.map_or_else(|| "-".to_owned(), |b| human(b, exact))
}

fn csv_opt(v: Option<u64>) -> String {
    v.map_or_else(String::new, |b| b.to_string())
}

/// CSV: one table for every section, residency empty when unknown.
pub fn to_csv(rep: &Report) -> anyhow::Result<String> {
    let header = [
        "section", "name", "detail", "regions", "size", "rss", "pss", "uss", "swap", "swap_pss",
        "dirty", "locked", "hugetlb", "thp",
    ];
    let mut rows: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut push = |section: &str, name: Vec<u8>, detail: String, u: &Usage| {
        rows.push(vec![
            section.as_bytes().to_vec(),
            name,
            detail.into_bytes(),
            u.regions.to_string().into_bytes(),
            u.size.to_string().into_bytes(),
            csv_opt(u.rss).into_bytes(),
            csv_opt(u.pss).into_bytes(),
            csv_opt(u.uss).into_bytes(),
            csv_opt(u.swap).into_bytes(),
            csv_opt(u.swap_pss).into_bytes(),
            csv_opt(u.dirty).into_bytes(),
            csv_opt(u.locked).into_bytes(),
            csv_opt(u.hugetlb).into_bytes(),
            csv_opt(u.thp).into_bytes(),
        ]);
    };
    push(
        "total",
        "total".into(),
        rep.totals
            .max_map_count
            .map(|m| format!("max_map_count={m}"))
            .unwrap_or_default(),
        &rep.totals.usage,
    );
    if let Some(r) = &rep.totals.rollup {
        push("total", b"smaps_rollup".to_vec(), String::new(), r);
    }
    for c in &rep.categories {
        push("category", c.category.id().into(), c.title.into(), &c.usage);
    }
    for o in &rep.objects {
        push("object", o.path.clone(), String::new(), &o.usage);
        for s in &o.segments {
            push(
                "segment",
                o.path.clone(),
                format!("{} 0x{:x}-0x{:x} {}", s.kind.id(), s.start, s.end, s.perms),
                &s.usage,
            );
        }
    }
    for st in &rep.threads.stacks {
        push(
            if st.main {
                "main-stack"
            } else {
                "thread-stack"
            },
            st.tid.map(|t| t.to_string()).unwrap_or_default().into(),
            format!(
                "{} 0x{:x}-0x{:x} guard={}",
                st.name.as_deref().unwrap_or(""),
                st.start,
                st.end,
                st.guard
            ),
            &st.usage,
        );
    }
    for a in &rep.allocators.rows {
        push(
            "allocator",
            a.kind.clone().into(),
            format!(
                "0x{:x}-0x{:x} used={} reserved={}",
                a.start, a.end, a.used, a.reserved
            ),
            &a.usage,
        );
    }
    for n in &rep.named {
        push("named-anon", n.name.clone().into(), String::new(), &n.usage);
    }
    csv(&header, &rows)
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn capped<T>(v: &[T], top: usize) -> (&[T], usize) {
    if top == 0 || v.len() <= top {
        (v, 0)
    } else {
        (&v[..top], v.len() - top)
    }
}

/// The report for people.
pub fn to_text(rep: &Report, exact: bool, top: usize) -> String {
    let h = |b: u64| human(b, exact);
    let o = |b: Option<u64>| opt(b, exact);
    let res = rep.has_residency;
    let t = &rep.totals.usage;
    let mut s = String::new();

    // Header and totals.
    let _ = write!(s, "{}", term(&rep.source));
    if let Some(p) = rep.pid {
        let _ = write!(s, "  pid {p}");
    }
    if let Some(c) = &rep.comm {
        let _ = write!(s, " ({})", term(c));
    }
    // Without a region (a zombie, a kernel thread, a process caught
    // exiting) there is nothing to tell the width or page size from, and
    // no residency to be unknown: the notes say why it is empty.
    let empty = t.regions == 0 && t.rss.is_none();
    if empty {
        let _ = writeln!(s, "  [{}, no memory regions]", rep.format.unwrap_or("?"));
    } else {
        let _ = writeln!(
            s,
            "  [{}, {}-bit, page size {}]",
            rep.format.unwrap_or("?"),
            if rep.is_64bit { 64 } else { 32 },
            h(rep.page_size)
        );
    }
    let _ = write!(s, "VSZ {}", h(t.size));
    if empty {
        s.push('\n');
    } else if res || t.rss.is_some() {
        for (k, v) in [
            ("RSS", t.rss),
            ("PSS", t.pss),
            ("USS", t.uss),
            ("Swap", t.swap),
            ("SwapPss", t.swap_pss),
            ("Dirty", t.dirty),
            ("Locked", t.locked),
            ("hugetlb", t.hugetlb),
            ("THP", t.thp),
        ] {
            let _ = write!(s, "  {k} {}", o(v));
        }
        s.push('\n');
    } else {
        s.push_str("  (maps only: residency unknown)\n");
    }
    let _ = write!(s, "{}", count(t.regions as u64, "region", "regions"));
    if let Some(m) = rep.totals.max_map_count {
        let _ = write!(s, " of vm.max_map_count {m} ({})", pct(t.regions as u64, m));
    }
    if let Some(g) = &rep.totals.largest_gap {
        let _ = write!(
            s,
            "  largest free gap {} at 0x{:x}-0x{:x}",
            h(g.size),
            g.start,
            g.end
        );
    }
    s.push('\n');

    // Categories.
    s.push_str("\nBy category\n");
    let mut header = vec!["CATEGORY", "REGIONS", "SIZE"];
    if res {
        header.extend(["RSS", "PSS", "USS", "SWAP", "%PSS"]);
    } else {
        header.push("%SIZE");
    }
    let numeric: Vec<bool> = header.iter().map(|h| *h != "CATEGORY").collect();
    let mut rows = Vec::new();
    for c in &rep.categories {
        let u = &c.usage;
        let mut row = vec![
            format!(
                "{}{}",
                c.title,
                if c.heuristic_regions > 0 { " (?)" } else { "" }
            ),
            u.regions.to_string(),
            h(u.size),
        ];
        if res {
            row.extend([
                o(u.rss),
                o(u.pss),
                o(u.uss),
                o(u.swap),
                match (u.pss, t.pss) {
                    (Some(p), Some(w)) => pct(p, w),
                    _ => "-".into(),
                },
            ]);
        } else {
            row.push(pct(u.size, t.size));
        }
        rows.push(row);
    }
    let mut total = vec!["total".to_owned(), t.regions.to_string(), h(t.size)];
    if res {
        total.extend([o(t.rss), o(t.pss), o(t.uss), o(t.swap), String::new()]);
    } else {
        total.push(String::new());
    }
    rows.push(total);
    s.push_str(&plain_table(&header, &numeric, &rows));

    // Objects.
    if !rep.objects.is_empty() {
        let (shown, more) = capped(&rep.objects, top);
        let _ = writeln!(
            s,
            "\nBy object ({}; segment sizes)",
            count(
                rep.objects.len() as u64,
                "binary or library",
                "binaries and libraries"
            )
        );
        let mut header = vec!["OBJECT", "SIZE"];
        if res {
            header.extend(["RSS", "PSS"]);
        }
        header.extend(["TEXT", "RODATA", "RELRO", "DATA", "BSS", "GAP"]);
        let numeric: Vec<bool> = header.iter().map(|h| *h != "OBJECT").collect();
        let rows: Vec<Vec<Vec<u8>>> = shown
            .iter()
            .map(|ob| {
                let mut row = vec![ob.path.clone(), h(ob.usage.size).into_bytes()];
                if res {
                    row.extend([o(ob.usage.rss).into_bytes(), o(ob.usage.pss).into_bytes()]);
                }
                for k in [
                    Category::Code,
                    Category::ReadOnlyData,
                    Category::Relro,
                    Category::WritableData,
                    Category::Bss,
                    Category::LinkerGap,
                ] {
                    let z = ob.size_of(k);
                    let guess = ob.segments.iter().any(|sg| sg.kind == k && sg.heuristic);
                    row.push(if z == 0 {
                        "-".into()
                    } else if guess {
                        format!("{} (?)", h(z)).into()
                    } else {
                        h(z).into()
                    });
                }
                row
            })
            .collect();
        s.push_str(&plain_table(&header, &numeric, &rows));
        if more > 0 {
            let _ = writeln!(s, "… {more} more (--top 0 shows all)");
        }
    }

    // Threads.
    let th = &rep.threads;
    if !th.stacks.is_empty() {
        let n = th.stacks.iter().filter(|st| !st.main).count();
        let _ = write!(s, "\nThreads: ");
        if let Some(c) = th.count {
            let _ = write!(s, "{}, ", count(c as u64, "thread", "threads"));
        }
        if n == 0 {
            s.push_str("no thread stacks (the main thread's only)");
        } else {
            let _ = write!(s, "{}", count(n as u64, "thread stack", "thread stacks"));
        }
        if n > 0 {
            let u = &th.thread_stacks;
            let _ = write!(s, " × {} reserved", h(u.size / n as u64));
            if let Some(r) = u.rss {
                let _ = write!(s, ", {} resident", h(r / n as u64));
            }
            s.push_str(" each on average");
            let _ = write!(s, "; {} in all", h(u.size));
            if let Some(r) = u.rss {
                let _ = write!(s, " ({} resident)", h(r));
            }
        }
        if n > 0 {
            let _ = write!(s, " [attributed by {}]", th.attribution);
        }
        s.push('\n');
        let (shown, more) = capped(&th.stacks, top);
        let mut header = vec!["TID", "NAME", "STACK", "SIZE"];
        if res {
            header.extend(["RSS", "PSS"]);
        }
        header.extend(["GUARD", "FOUND BY"]);
        let numeric: Vec<bool> = header
            .iter()
            .map(|h| matches!(*h, "TID" | "SIZE" | "RSS" | "PSS" | "GUARD"))
            .collect();
        let w = if rep.is_64bit { 12 } else { 8 };
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|st| {
                let mut row = vec![
                    st.tid.map_or_else(|| "?".into(), |t| t.to_string()),
                    st.name
                        .clone()
                        .unwrap_or_else(|| if st.main { "(main)".into() } else { "-".into() }),
                    format!("{:0w$x}-{:0w$x}", st.start, st.end),
                    h(st.usage.size),
                ];
                if res {
                    row.extend([o(st.usage.rss), o(st.usage.pss)]);
                }
                row.push(if st.guard == 0 {
                    "-".into()
                } else {
                    h(st.guard)
                });
                row.push(format!(
                    "{}{}",
                    st.rule,
                    if st.heuristic { " (?)" } else { "" }
                ));
                row
            })
            .collect();
        s.push_str(&plain_table(&header, &numeric, &rows));
        if more > 0 {
            let _ = writeln!(s, "… {more} more (--top 0 shows all)");
        }
        if th.signal_stacks.regions > 0 {
            let _ = writeln!(
                s,
                "signal stacks: {} of {}",
                th.signal_stacks.regions,
                h(th.signal_stacks.size)
            );
        }
        if !th.unmatched.is_empty() && th.attribution == "stack-pointer" {
            let _ = writeln!(
                s,
                "threads without a located stack: {}",
                th.unmatched
                    .iter()
                    .map(|(t, n)| match n {
                        Some(n) => format!("{t} ({})", term(n)),
                        None => t.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }

    // Allocators.
    let al = &rep.allocators;
    if !al.rows.is_empty() {
        let _ = write!(s, "\nAllocators");
        if let Some(l) = al.libc {
            let _ = write!(s, " (C library: {l})");
        }
        if al.glibc_arena_count > 0 {
            let _ = write!(
                s,
                ": {}, {} reserved",
                count(
                    al.glibc_arena_count as u64,
                    "glibc arena heap",
                    "glibc arena heaps"
                ),
                h(al.glibc_arenas.size)
            );
        }
        s.push('\n');
        let (shown, more) = capped(&al.rows, top);
        let mut header = vec!["ALLOCATOR", "ADDRESS", "REGIONS", "USED", "RESERVED"];
        if res {
            header.extend(["RSS", "PSS"]);
        }
        let numeric: Vec<bool> = header
            .iter()
            .map(|h| !matches!(*h, "ALLOCATOR" | "ADDRESS"))
            .collect();
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|a| {
                let mut row = vec![
                    format!("{}{}", a.kind, if a.heuristic { " (?)" } else { "" }),
                    format!("{:x}-{:x}", a.start, a.end),
                    a.usage.regions.to_string(),
                    h(a.used),
                    h(a.reserved),
                ];
                if res {
                    row.extend([o(a.usage.rss), o(a.usage.pss)]);
                }
                row
            })
            .collect();
        s.push_str(&plain_table(&header, &numeric, &rows));
        if more > 0 {
            let _ = writeln!(s, "… {more} more (--top 0 shows all)");
        }
    }

    // Named anonymous memory.
    if !rep.named.is_empty() {
        let (shown, more) = capped(&rep.named, top);
        s.push_str("\nNamed anonymous memory\n");
        let mut header = vec!["NAME", "REGIONS", "SIZE"];
        if res {
            header.extend(["RSS", "PSS"]);
        }
        let numeric: Vec<bool> = header.iter().map(|h| *h != "NAME").collect();
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|n| {
                let mut row = vec![n.name.clone(), n.usage.regions.to_string(), h(n.usage.size)];
                if res {
                    row.extend([o(n.usage.rss), o(n.usage.pss)]);
                }
                row
            })
            .collect();
        s.push_str(&plain_table(&header, &numeric, &rows));
        if more > 0 {
            let _ = writeln!(s, "… {more} more (--top 0 shows all)");
        }
    }

    if !rep.notes.is_empty() {
        s.push('\n');
        for n in &rep.notes {
            let _ = writeln!(s, "note: {}", term(n));
        }
    }
    s
}

/// The findings section at the end of the text report: one line each; the
/// evidence and advice are in `maplens check`.
#[cfg(not(feature = "check"))]
pub fn findings_text(_: &Findings, _: bool) -> String {
    String::new()
}

/// The findings section at the end of the text report: one line each; the
/// evidence and advice are in `maplens check`.
#[cfg(feature = "check")]
pub fn findings_text(o: &Findings, exact: bool) -> String {
    let mut s = String::from("\nFindings");
    if o.findings.is_empty() {
        s.push_str(": none at severity low or above\n");
        return s;
    }
    s.push('\n');
    for f in &o.findings {
        let _ = write!(
            s,
            "  {:<6}  {:<20}  {}",
            f.severity.id().to_uppercase(),
            f.id,
            term(&f.summary)
        );
        if let Some(sv) = &f.saving {
            let _ = write!(s, " (saving {} {})", human(sv.bytes, exact), sv.kind.id());
        }
        s.push('\n');
    }
    s.push_str("  `maplens check TARGET` explains each finding and what to do\n");
    s
}
