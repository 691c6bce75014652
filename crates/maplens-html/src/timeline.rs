//! The time plot's part of the data block: a recording's series as the
//! figures the page draws (stacked categories, the top growing objects, the
//! leaking regions), with the verdict of
//! [`maplens_core::analysis::leaks`]. The page does no analysis.
//!
//! Layout (`timeline`, absent without a recording):
//!
//! - `who`, `samples`, `full_samples`, `span` (seconds), `leak` (the
//!   verdict).
//! - `total`: `[seconds, bytes]` of every sample (rollup ones too): Rss,
//!   else the virtual size.
//! - `t`: the seconds of every full sample; every `values` below has one
//!   entry per full sample (bytes, `null` where the thing was absent).
//! - `categories`: `{id, title, values}` of every category with memory in
//!   some full sample, largest in the last one first (the stacking order).
//! - `objects`: the objects growing fastest (at most three), `{name, slope,
//!   values}`.
//! - `leaks`: the leaking regions (at most four), `{name, start, category,
//!   slope, values}`; `start` hexadecimal, `slope` bytes a second.
//! - `findings`: every leak finding `{scope, name, slope}`, for the text.

use maplens_core::analysis::{Category, Finding, LeakReport, Scope};
use maplens_core::model::{Sample, Series};
use maplens_core::text::escape;
use serde::Serialize;

/// A recording's series and its leak analysis, for the time plot.
pub struct Recording<'a> {
    /// One process run's samples.
    pub series: &'a Series,
    /// `maplens_core::analysis::leaks` of it.
    pub leaks: &'a LeakReport,
}

/// The `timeline` of the data block.
#[derive(Serialize, Debug)]
pub struct Timeline {
    who: String,
    samples: usize,
    full_samples: usize,
    span: f64,
    leak: bool,
    total: Vec<(f64, u64)>,
    t: Vec<f64>,
    categories: Vec<Line>,
    objects: Vec<Line>,
    leaks: Vec<Line>,
    findings: Vec<LeakText>,
}

/// One drawn series.
#[derive(Serialize, Debug)]
struct Line {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slope: Option<f64>,
    values: Vec<Option<u64>>,
}

impl Line {
    fn new(values: Vec<Option<u64>>) -> Line {
        Line {
            id: None,
            title: None,
            name: None,
            start: None,
            category: None,
            slope: None,
            values,
        }
    }
}

/// A leak finding in words.
#[derive(Serialize, Debug)]
struct LeakText {
    scope: &'static str,
    name: String,
    start: Option<String>,
    slope: f64,
}

fn esc(s: &str) -> String {
    escape(s.as_bytes()).into_owned()
}

/// Regions and objects drawn as lines at most.
const OBJECTS: usize = 3;
const LEAKS: usize = 4;

/// Builds the time plot's data.
pub fn build(rec: &Recording<'_>) -> Timeline {
    let s = rec.series;
    let t0 = s.samples.first().map_or(0, |x| x.time_ms);
    let secs = |x: &Sample| x.time_ms.saturating_sub(t0) as f64 / 1000.0;
    let full: Vec<&Sample> = s.samples.iter().filter(|x| x.full).collect();
    let cat_of = |x: &Sample, id: &str| {
        x.categories
            .iter()
            .find(|c| c.name == id)
            .map(|c| c.usage.weight())
    };
    let mut categories: Vec<(u64, Line)> = Category::ALL
        .iter()
        .filter_map(|c| {
            let values: Vec<Option<u64>> = full.iter().map(|x| cat_of(x, c.id())).collect();
            if !values.iter().any(|v| v.unwrap_or(0) > 0) {
                return None;
            }
            let last = values.last().copied().flatten().unwrap_or(0);
            let mut l = Line::new(values);
            l.id = Some(c.id());
            l.title = Some(c.title().to_owned());
            Some((last, l))
        })
        .collect();
    categories.sort_by_key(|(last, _)| std::cmp::Reverse(*last));
    let objects = rec
        .leaks
        .findings
        .iter()
        .filter(|f| f.scope == Scope::Object && f.trend.slope > 0.0)
        .take(OBJECTS)
        .map(|f| {
            let mut l = Line::new(
                full.iter()
                    .map(|x| {
                        x.objects
                            .iter()
                            .find(|o| o.name == f.name)
                            .map(|o| o.usage.weight())
                    })
                    .collect(),
            );
            l.name = Some(esc(&f.name));
            l.slope = Some(f.trend.slope);
            l
        })
        .collect();
    let leaks = rec
        .leaks
        .findings
        .iter()
        .filter(|f| f.leak && f.scope == Scope::Region)
        .take(LEAKS)
        .map(|f| {
            let mut l = Line::new(
                full.iter()
                    .map(|x| {
                        x.regions
                            .iter()
                            .find(|r| Some(r.start) == f.start && r.path == f.name)
                            .map(|r| r.rss.unwrap_or(r.size()))
                    })
                    .collect(),
            );
            l.name = Some(esc(&f.name));
            l.start = f.start.map(|a| format!("{a:x}"));
            l.category = f.category.as_deref().map(esc);
            l.slope = Some(f.trend.slope);
            l
        })
        .collect();
    let findings = rec
        .leaks
        .findings
        .iter()
        .filter(|f| f.leak)
        .map(|f: &Finding| LeakText {
            scope: f.scope.id(),
            name: esc(&f.name),
            start: f.start.map(|a| format!("{a:x}")),
            slope: f.trend.slope,
        })
        .collect();
    Timeline {
        who: format!(
            "{} (pid {})",
            esc(s.comm.as_deref().unwrap_or("process")),
            s.pid.map_or("?".to_owned(), |p| p.to_string())
        ),
        samples: s.samples.len(),
        full_samples: full.len(),
        span: rec.leaks.span,
        leak: rec.leaks.leak,
        total: s
            .samples
            .iter()
            .map(|x| (secs(x), x.totals.weight()))
            .collect(),
        t: full.iter().map(|x| secs(x)).collect(),
        categories: categories.into_iter().map(|(_, l)| l).collect(),
        objects,
        leaks,
        findings,
    }
}
