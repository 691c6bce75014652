//! The printer of `maplens leaks`: a verdict line per process run, the
//! findings table, and the time to each known limit.

use maplens_core::analysis::{Figure, Finding, LeakReport, Scope};

use super::{JSON_SCHEMA_VERSION, human, json_text, plain_table, term};

/// Seconds in words: `45 s`, `3 min 20 s`, `3 h 20 min`, `2 d 4 h`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// A figure's value: bytes in human units (or exact), or a region count.
fn value(figure: Figure, v: f64, bytes: bool) -> String {
    match figure {
        Figure::Regions => format!("{}", v.round() as i64),
        _ if v < 0.0 => format!("-{}", human((-v) as u64, bytes)),
        _ => human(v as u64, bytes),
    }
}

/// A slope per second, signed.
fn rate(figure: Figure, v: f64, bytes: bool) -> String {
    let sign = if v > 0.0 { "+" } else { "" };
    match figure {
        Figure::Regions => format!("{sign}{v:.1}/s"),
        _ => format!("{sign}{}/s", value(figure, v, bytes)),
    }
}

/// What a finding is about, in one cell: a region by its range, category
/// and path; a category; an object path; the process.
pub fn what(f: &Finding) -> String {
    match f.scope {
        Scope::Region => {
            let path = if f.name.is_empty() { "[anon]" } else { &f.name };
            format!(
                "{:x}-{:x} {} {}",
                f.start.unwrap_or(0),
                f.end.unwrap_or(0),
                f.category.as_deref().unwrap_or("?"),
                path
            )
        }
        Scope::Process if f.figure == Figure::Regions => "process (region count)".into(),
        _ => f.name.clone(),
    }
}

/// The one-line verdict of a report.
pub fn verdict(r: &LeakReport, bytes: bool) -> String {
    let label = match (&r.comm, r.pid) {
        (Some(c), Some(p)) => format!("{} (pid {p})", term(c)),
        (None, Some(p)) => format!("pid {p}"),
        (Some(c), None) => term(c).into_owned(),
        _ => "process".into(),
    };
    let leaks: Vec<&Finding> = r.findings.iter().filter(|f| f.leak).collect();
    if r.samples < maplens_core::analysis::MIN_POINTS {
        return format!(
            "{label}: not enough samples to judge ({} of at least {})",
            r.samples,
            maplens_core::analysis::MIN_POINTS
        );
    }
    if leaks.is_empty() {
        let other = r.findings.iter().find(|f| f.scope == Scope::Process);
        let shape = other.map_or("flat".into(), |f| f.trend.shape.id().to_owned());
        return format!(
            "{label}: no leak over {} ({} samples); the process is {shape}",
            duration(r.span),
            r.samples
        );
    }
    let top: Vec<String> = leaks
        .iter()
        .filter(|f| f.scope == Scope::Region)
        .take(3)
        .map(|f| {
            format!(
                "{} {}",
                term(&what(f)),
                rate(f.figure, f.trend.slope, bytes)
            )
        })
        .collect();
    let mut s = format!(
        "{label}: LEAK: {} growing steadily over {}",
        super::count(leaks.len() as u64, "figure", "figures"),
        duration(r.span)
    );
    if !top.is_empty() {
        s.push_str(&format!("; regions: {}", top.join(", ")));
    }
    if let Some(l) = r.limits.first() {
        s.push_str(&format!(
            "; at this rate {} ({}) is reached in {}",
            l.limit,
            if l.limit == "vm.max_map_count" {
                l.value.to_string()
            } else {
                human(l.value, bytes)
            },
            duration(l.seconds)
        ));
    }
    s
}

/// The table form: verdict, findings, limits, per process run.
pub fn table(reports: &[LeakReport], bytes: bool, top: usize) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&verdict(r, bytes));
        out.push('\n');
        let n = if top == 0 { r.findings.len() } else { top };
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .take(n)
            .map(|f| {
                let t = &f.trend;
                vec![
                    if f.leak { "LEAK" } else { "-" }.to_owned(),
                    f.scope.id().to_owned(),
                    what(f),
                    f.figure.id().to_owned(),
                    value(f.figure, t.first, bytes),
                    value(f.figure, t.last, bytes),
                    rate(f.figure, t.slope, bytes),
                    format!(
                        "±{}",
                        rate(f.figure, t.spread, bytes).trim_start_matches('+')
                    ),
                    format!("{:.2}", t.r2),
                    t.samples.to_string(),
                    t.shape.id().to_owned(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            out.push('\n');
            out.push_str(&plain_table(
                &[
                    "", "SCOPE", "WHAT", "FIGURE", "FIRST", "LAST", "SLOPE", "SPREAD", "R2",
                    "SAMPLES", "SHAPE",
                ],
                &[
                    false, false, false, false, true, true, true, true, true, true, false,
                ],
                &rows,
            ));
            if r.findings.len() > n {
                out.push_str(&format!(
                    "({} more; --top 0 shows all)\n",
                    r.findings.len() - n
                ));
            }
        }
        if !r.limits.is_empty() {
            out.push_str("\nTime to known limits at the current rate:\n");
            for l in &r.limits {
                let v = |x| {
                    if l.limit == "vm.max_map_count" {
                        format!("{x} regions")
                    } else {
                        human(x, bytes)
                    }
                };
                let now = if l.limit == "MemAvailable" {
                    "available now".to_owned()
                } else {
                    format!("now {}", v(l.current))
                };
                out.push_str(&format!(
                    "  {:<18} {} ({now}): {}\n",
                    l.limit,
                    v(l.value),
                    duration(l.seconds)
                ));
            }
        }
        out.push('\n');
    }
    out
}

/// The JSON form.
pub fn json(reports: &[LeakReport]) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        schema_version: u32,
        leak: bool,
        series: &'a [LeakReport],
    }
    json_text(&Doc {
        schema_version: JSON_SCHEMA_VERSION,
        leak: reports.iter().any(|r| r.leak),
        series: reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(duration(45.2), "45 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(12000.0), "3 h 20 min");
        assert_eq!(duration(86400.0 * 2.0 + 7200.0), "2 d 2 h");
    }
}
