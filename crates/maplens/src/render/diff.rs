//! The printer of `maplens diff`: a one-line verdict, the regions that
//! changed, and the change rolled up by category and by object.

use maplens_core::analysis::{Change, RegionChange, RowChange, SampleDiff, comparable};
use maplens_core::model::SampleUsage;

use super::{JSON_SCHEMA_VERSION, human, json_text, plain_table, term};

/// A signed byte count: `+4 KiB`, `-1.5 MiB`, `0 B`.
pub fn signed(v: i128, bytes: bool) -> String {
    let mag = u64::try_from(v.unsigned_abs()).unwrap_or(u64::MAX);
    match v {
        0 => human(0, bytes),
        v if v > 0 => format!("+{}", human(mag, bytes)),
        _ => format!("-{}", human(mag, bytes)),
    }
}

fn weight_delta(a: &SampleUsage, b: &SampleUsage) -> i128 {
    let (x, y, _) = comparable(a, b);
    y as i128 - x as i128
}

/// The one-line verdict.
pub fn verdict(d: &SampleDiff, bytes: bool) -> String {
    let (_, _, figure) = comparable(&d.before, &d.after);
    let total = signed(weight_delta(&d.before, &d.after), bytes);
    if !d.regions_known {
        return format!(
            "totals only (a side holds no regions: a rollup-only sample): {figure} {total}"
        );
    }
    let rolled: Vec<String> = d
        .categories
        .iter()
        .filter(|c| c.delta() != 0)
        .take(3)
        .map(|c| format!("{} {}", term(&c.name), signed(c.delta(), bytes)))
        .collect();
    let by = if rolled.is_empty() {
        String::new()
    } else {
        format!(" ({})", rolled.join(", "))
    };
    if d.same_layout() {
        return format!(
            "same layout: no region added, removed, resized or re-protected; {figure} {total}{by}"
        );
    }
    format!(
        "layout changed: {} added, {} removed, {} grown, {} shrunk, {} permission change{}; {figure} {total}{by}",
        d.count(Change::Added),
        d.count(Change::Removed),
        d.count(Change::Grown),
        d.count(Change::Shrunk),
        d.perm_changes(),
        if d.perm_changes() == 1 { "" } else { "s" },
    )
}

fn region_row(c: &RegionChange, bytes: bool) -> Vec<String> {
    let r = c.region();
    let perms = match (&c.before, &c.after) {
        (Some(a), Some(b)) if a.perms != b.perms => format!("{}->{}", a.perms, b.perms),
        _ => r.perms.clone(),
    };
    let path = if r.path.is_empty() { "[anon]" } else { &r.path };
    vec![
        c.change.id().to_owned(),
        format!("{:x}-{:x}", r.start, r.end),
        perms,
        r.category.clone(),
        signed(c.size_delta(), bytes),
        c.rss_delta().map_or("-".into(), |v| signed(v, bytes)),
        path.to_owned(),
    ]
}

fn rows_table(title: &str, rows: &[RowChange], bytes: bool, top: usize, out: &mut String) {
    if rows.is_empty() {
        return;
    }
    let n = if top == 0 { rows.len() } else { top };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(n)
        .map(|r| {
            let (a, b, _) = comparable(&r.before, &r.after);
            vec![
                r.name.clone(),
                human(a, bytes),
                human(b, bytes),
                signed(r.delta(), bytes),
                format!("{:+}", r.after.regions as i64 - r.before.regions as i64),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&plain_table(
        &[title, "BEFORE", "AFTER", "DELTA", "REGIONS"],
        &[false, true, true, true, true],
        &cells,
    ));
    if rows.len() > n {
        out.push_str(&format!("({} more; --top 0 shows all)\n", rows.len() - n));
    }
}

/// The table form.
pub fn table(d: &SampleDiff, bytes: bool, top: usize) -> String {
    let mut out = verdict(d, bytes);
    out.push('\n');
    if !d.regions.is_empty() {
        let n = if top == 0 { d.regions.len() } else { top };
        let mut order: Vec<&RegionChange> = d.regions.iter().collect();
        // Layout changes first, then the largest moves.
        order.sort_by_key(|c| {
            (
                c.change == Change::Resident,
                std::cmp::Reverse(
                    c.size_delta().unsigned_abs() + c.rss_delta().unwrap_or(0).unsigned_abs(),
                ),
            )
        });
        let cells: Vec<Vec<String>> = order.iter().take(n).map(|c| region_row(c, bytes)).collect();
        out.push('\n');
        out.push_str(&plain_table(
            &[
                "CHANGE", "RANGE", "PERMS", "CATEGORY", "SIZE", "RSS", "PATH",
            ],
            &[false, false, false, false, true, true, false],
            &cells,
        ));
        if d.regions.len() > n {
            out.push_str(&format!(
                "({} more; --top 0 shows all)\n",
                d.regions.len() - n
            ));
        }
    }
    rows_table("CATEGORY", &d.categories, bytes, top, &mut out);
    rows_table("OBJECT", &d.objects, bytes, top, &mut out);
    out
}

/// The JSON form.
pub fn json(d: &SampleDiff) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        schema_version: u32,
        verdict: String,
        same_layout: bool,
        #[serde(flatten)]
        diff: &'a SampleDiff,
    }
    json_text(&Doc {
        schema_version: JSON_SCHEMA_VERSION,
        verdict: verdict(d, true),
        same_layout: d.same_layout(),
        diff: d,
    })
}
