//! Leaks: the trend of every region, object, category and of the whole
//! process over one [`Series`] of samples, and the time until a known limit
//! is reached at the current rate.
//!
//! Each figure (Rss where smaps gave it, else the virtual size; the region
//! count for `vm.max_map_count`) becomes a `(seconds, value)` series judged
//! by [`trend`]: only [`Shape::Growing`] (steady growth through the whole
//! series, R² ≥ 0.8) is a leak; a plateau, a step, a sawtooth or noise is
//! reported but is not. Regions are followed by their identity (start,
//! inode, path, offset), so a heap or an anonymous mapping that grows stays
//! one series. Findings come leaks first, anonymous memory (heap, arenas,
//! anonymous mappings) before the rest, then by slope. No I/O, no
//! rendering.
//!
//! ```
//! use maplens_core::analysis::{leaks, Scope};
//! use maplens_core::model::{Sample, SampleUsage, Series};
//! let samples = (0..20).map(|i| Sample {
//!     time_ms: i * 1000,
//!     totals: SampleUsage { rss: Some((10 + i) << 20), ..SampleUsage::default() },
//!     ..Sample::default()
//! }).collect();
//! let r = leaks(&Series::split(samples)[0]);
//! assert!(r.leak);
//! assert_eq!(r.findings[0].scope, Scope::Process);
//! assert!((r.findings[0].trend.slope - 1048576.0).abs() < 1.0);
//! ```

use std::collections::BTreeMap;

use crate::analysis::{Shape, Trend, time_to, trend};
use crate::model::{Sample, Series};

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Scope {
    /// One region, followed by its identity.
    Region,
    /// One category (`heap`, `anon-mmap`, …).
    Category,
    /// One object (a mapped file).
    Object,
    /// The whole process.
    Process,
}

impl Scope {
    /// A word for tables.
    pub const fn id(self) -> &'static str {
        match self {
            Scope::Region => "region",
            Scope::Category => "category",
            Scope::Object => "object",
            Scope::Process => "process",
        }
    }
}

/// Which figure a trend follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Figure {
    /// Resident bytes.
    Rss,
    /// Virtual size in bytes.
    Size,
    /// Number of regions.
    Regions,
}

impl Figure {
    /// A word for tables.
    pub const fn id(self) -> &'static str {
        match self {
            Figure::Rss => "rss",
            Figure::Size => "size",
            Figure::Regions => "regions",
        }
    }
}

/// The trend of one figure of one thing.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Finding {
    /// What it is about.
    pub scope: Scope,
    /// Category id, object path, region path (`[heap]`, empty for an
    /// anonymous mapping) or `process`. Lossy UTF-8: escape before printing.
    pub name: String,
    /// A region's start address.
    pub start: Option<u64>,
    /// A region's end address in the last sample it was seen in.
    pub end: Option<u64>,
    /// A region's category.
    pub category: Option<String>,
    /// The figure followed.
    pub figure: Figure,
    /// Its trend (values in bytes, or regions).
    pub trend: Trend,
    /// Steady growth: a leak.
    pub leak: bool,
}

impl Finding {
    /// Anonymous memory: heap, arenas, anonymous mappings, or the process.
    pub fn is_anonymous(&self) -> bool {
        let cat = match self.scope {
            Scope::Category => Some(self.name.as_str()),
            Scope::Region => self.category.as_deref(),
            _ => None,
        };
        matches!(
            cat,
            Some("heap" | "malloc-arena" | "anon-mmap" | "named-anon")
        )
    }
}

/// A known limit and when the process reaches it at the current rate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LimitEta {
    /// Which limit: `cgroup memory.max`, `MemAvailable`, `RLIMIT_AS`,
    /// `vm.max_map_count`.
    pub limit: &'static str,
    /// The limit (bytes, or regions).
    pub value: u64,
    /// Where the process is now against it (bytes or regions).
    pub current: u64,
    /// Growth per second of the figure measured against the limit.
    pub slope: f64,
    /// Seconds until it is reached.
    pub seconds: f64,
}

/// The leak analysis of one series.
#[derive(Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LeakReport {
    /// Process id.
    pub pid: Option<u32>,
    /// Process name.
    pub comm: Option<String>,
    /// Samples in the series.
    pub samples: usize,
    /// Of which full (with regions).
    pub full_samples: usize,
    /// Seconds covered.
    pub span: f64,
    /// Every figure that changed beyond noise, leaks first.
    pub findings: Vec<Finding>,
    /// Known limits, soonest first (only when a leak was found).
    pub limits: Vec<LimitEta>,
    /// Some finding is a leak.
    pub leak: bool,
}

/// Fewest bytes a figure must move to be looked at (the noise floor of
/// [`trend`]); series that move less are not even fitted.
const FLOOR: f64 = 64.0 * 1024.0;

/// Region counts are fitted as one page a region, so that the byte noise
/// floor of [`trend`] means 16 regions.
const REGION_WEIGHT: f64 = 4096.0;

fn moved(pts: &[(f64, f64)]) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in pts {
        lo = lo.min(p.1);
        hi = hi.max(p.1);
    }
    hi - lo > FLOOR
}

/// Fits `pts` and keeps the finding unless it is flat.
fn judge(
    found: &mut Vec<Finding>,
    scope: Scope,
    name: String,
    figure: Figure,
    pts: &[(f64, f64)],
    region: Option<(u64, u64, String)>,
) {
    if !moved(pts) {
        return;
    }
    let Some(t) = trend(pts) else {
        return;
    };
    if t.shape == Shape::Flat {
        return;
    }
    let (start, end, category) = match region {
        Some((s, e, c)) => (Some(s), Some(e), Some(c)),
        None => (None, None, None),
    };
    found.push(Finding {
        scope,
        name,
        start,
        end,
        category,
        figure,
        leak: t.shape == Shape::Growing,
        trend: t,
    });
}

/// Judges every figure of a series.
pub fn leaks(series: &Series) -> LeakReport {
    let samples = &series.samples;
    let mut rep = LeakReport {
        pid: series.pid,
        comm: series.comm.clone(),
        samples: samples.len(),
        full_samples: samples.iter().filter(|s| s.full).count(),
        ..LeakReport::default()
    };
    let Some(t0) = samples.first().map(|s| s.time_ms) else {
        return rep;
    };
    let secs = |s: &Sample| (s.time_ms.saturating_sub(t0)) as f64 / 1000.0;
    rep.span = samples.last().map(secs).unwrap_or(0.0);
    let full: Vec<&Sample> = samples.iter().filter(|s| s.full).collect();
    let mut found = Vec::new();
    let mut push = |scope, name: String, figure, pts: Vec<(f64, f64)>, region| {
        judge(&mut found, scope, name, figure, &pts, region)
    };
    // The whole process: Rss from every sample (rollup ones too).
    let rss: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| Some((secs(s), s.totals.rss? as f64)))
        .collect();
    let process_rss = trend(&rss);
    push(Scope::Process, "process".into(), Figure::Rss, rss, None);
    let regions: Vec<(f64, f64)> = full
        .iter()
        .map(|s| (secs(s), s.totals.regions as f64 * REGION_WEIGHT))
        .collect();
    let region_count = trend(&regions).map(|mut t| {
        for v in [&mut t.first, &mut t.last, &mut t.slope, &mut t.spread] {
            *v /= REGION_WEIGHT;
        }
        t
    });
    // Categories and objects: full samples, absent meaning zero.
    for (scope, rows) in [
        (Scope::Category, |s: &Sample| &s.categories),
        (Scope::Object, |s: &Sample| &s.objects),
    ] as [(Scope, fn(&Sample) -> &Vec<crate::model::SampleRow>); 2]
    {
        let mut by_name: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for (k, s) in full.iter().enumerate() {
            for r in rows(s) {
                let pts = by_name
                    .entry(r.name.as_str())
                    .or_insert_with(|| full[..k].iter().map(|p| (secs(p), 0.0)).collect());
                pts.push((secs(s), r.usage.weight() as f64));
            }
            for pts in by_name.values_mut() {
                if pts.len() < k + 1 {
                    pts.push((secs(s), 0.0));
                }
            }
        }
        let figure = if full
            .iter()
            .any(|s| rows(s).iter().any(|r| r.usage.rss.is_some()))
        {
            Figure::Rss
        } else {
            Figure::Size
        };
        for (name, pts) in by_name {
            push(scope, name.to_owned(), figure, pts, None);
        }
    }
    // Regions, by identity; only the samples a region was seen in.
    type Key<'a> = (u64, u64, &'a str, u64);
    // Points, last end, category, whether Rss is known.
    type Track<'a> = (Vec<(f64, f64)>, u64, &'a str, bool);
    let mut by_key: BTreeMap<Key<'_>, Track<'_>> = BTreeMap::new();
    for s in &full {
        for r in &s.regions {
            let e = by_key
                .entry(r.key())
                .or_insert_with(|| (Vec::new(), 0, "", r.rss.is_some()));
            e.0.push((secs(s), r.rss.unwrap_or(r.size()) as f64));
            e.1 = r.end;
            e.2 = r.category.as_str();
        }
    }
    for ((start, _, path, _), (pts, end, category, has_rss)) in by_key {
        let figure = if has_rss { Figure::Rss } else { Figure::Size };
        push(
            Scope::Region,
            path.to_owned(),
            figure,
            pts,
            Some((start, end, category.to_owned())),
        );
    }
    if let Some(t) = region_count.clone()
        && moved(&regions)
        && t.shape != Shape::Flat
    {
        found.push(Finding {
            scope: Scope::Process,
            name: "process".into(),
            start: None,
            end: None,
            category: None,
            figure: Figure::Regions,
            leak: t.shape == Shape::Growing,
            trend: t,
        });
    }
    found.sort_by(|a, b| {
        b.leak
            .cmp(&a.leak)
            .then(b.is_anonymous().cmp(&a.is_anonymous()))
            .then(a.scope.cmp(&b.scope))
            .then(b.trend.slope.total_cmp(&a.trend.slope))
    });
    rep.leak = found.iter().any(|f| f.leak);
    rep.findings = found;
    if rep.leak {
        rep.limits = limits(
            samples,
            &full,
            process_rss.as_ref(),
            region_count.as_ref(),
            &secs,
        );
    }
    rep
}

/// The known limits, soonest first.
fn limits(
    samples: &[Sample],
    full: &[&Sample],
    rss: Option<&Trend>,
    regions: Option<&Trend>,
    secs: &dyn Fn(&Sample) -> f64,
) -> Vec<LimitEta> {
    let mut out = Vec::new();
    let Some(last) = samples.last() else {
        return out;
    };
    let mut eta = |limit, value: Option<u64>, current: Option<u64>, slope: f64| {
        if let (Some(value), Some(current)) = (value, current)
            && let Some(seconds) = time_to(value as f64, current as f64, slope)
        {
            out.push(LimitEta {
                limit,
                value,
                current,
                slope,
                seconds,
            });
        }
    };
    if let Some(t) = rss.filter(|t| t.slope > 0.0) {
        let l = &last.limits;
        eta("cgroup memory.max", l.cgroup_max, l.cgroup_current, t.slope);
        // MemAvailable falls as the process grows: reached when it is gone.
        eta("MemAvailable", l.mem_available, Some(0), t.slope);
    }
    let size: Vec<(f64, f64)> = full
        .iter()
        .map(|s| (secs(s), s.totals.size as f64))
        .collect();
    if let (Some(t), Some(s)) = (trend(&size), full.last()) {
        eta(
            "RLIMIT_AS",
            last.limits.rlimit_as,
            Some(s.totals.size),
            t.slope,
        );
    }
    if let (Some(t), Some(s)) = (regions, full.last()) {
        eta(
            "vm.max_map_count",
            last.limits.max_map_count,
            Some(s.totals.regions),
            t.slope,
        );
    }
    out.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SampleRegion, SampleRow, SampleUsage};

    const MIB: u64 = 1 << 20;

    fn region(start: u64, rss: u64, category: &str) -> SampleRegion {
        SampleRegion {
            start,
            end: start + 64 * MIB,
            perms: "rw-p".into(),
            offset: 0,
            inode: 0,
            path: String::new(),
            category: category.into(),
            rss: Some(rss),
        }
    }

    fn series(f: impl Fn(u64) -> (u64, u64)) -> Series {
        let samples = (0..30)
            .map(|i| {
                let (leaky, plateau) = f(i);
                Sample {
                    pid: Some(1),
                    time_ms: i * 500,
                    full: true,
                    totals: SampleUsage {
                        regions: 2,
                        size: 128 * MIB,
                        rss: Some(leaky + plateau),
                        ..SampleUsage::default()
                    },
                    categories: vec![SampleRow {
                        name: "anon-mmap".into(),
                        usage: SampleUsage {
                            rss: Some(leaky + plateau),
                            ..SampleUsage::default()
                        },
                    }],
                    regions: vec![
                        region(0x1000_0000, leaky, "anon-mmap"),
                        region(0x2000_0000, plateau, "anon-mmap"),
                    ],
                    limits: crate::model::SampleLimits {
                        cgroup_max: Some(1 << 30),
                        cgroup_current: Some(leaky + plateau),
                        ..Default::default()
                    },
                    ..Sample::default()
                }
            })
            .collect();
        Series::split(samples).remove(0)
    }

    #[test]
    fn growing_region_is_a_leak_with_its_rate_and_a_time_to_the_cgroup_limit() {
        let r = leaks(&series(|i| (i * MIB, i.min(3) * MIB)));
        assert!(r.leak);
        let f = &r.findings[0];
        assert_eq!((f.scope, f.start), (Scope::Region, Some(0x1000_0000)));
        assert!((f.trend.slope - 2.0 * MIB as f64).abs() < 1.0);
        let cg = r
            .limits
            .iter()
            .find(|l| l.limit == "cgroup memory.max")
            .unwrap();
        assert!(cg.seconds > 0.0);
        // The other region grew once and stopped: reported, not a leak.
        let other = r.findings.iter().find(|f| f.start == Some(0x2000_0000));
        assert!(other.is_none_or(|f| !f.leak));
    }

    #[test]
    fn plateau_and_flat_are_not_leaks() {
        let r = leaks(&series(|i| (i.min(10) * MIB, 3 * MIB)));
        assert!(!r.leak, "{:?}", r.findings);
        assert!(r.findings.iter().any(|f| f.trend.shape == Shape::Plateau));
        let flat = leaks(&series(|_| (5 * MIB, 3 * MIB)));
        assert!(!flat.leak && flat.findings.is_empty());
    }
}
