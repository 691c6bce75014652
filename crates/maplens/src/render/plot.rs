//! The chart of `maplens plot`: the categories of each full sample as
//! stacked areas over time, the top growing objects as lines, and each
//! leaking region as a thick red line, every series named in the legend
//! and the verdict in the title (plotters; SVG, or PNG with an embedded
//! DejaVu Sans).

use std::path::Path;

use anyhow::anyhow;
use maplens_core::analysis::{Finding, LeakReport, Scope};
use maplens_core::model::Series;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::leaks::what;

/// The file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Scalable vector graphics.
    Svg,
    /// A bitmap.
    Png,
}

/// Categories drawn as their own area; the rest add up to `other`.
const AREAS: usize = 7;

fn palette(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(127, 127, 127),
    ];
    // Lightened, opaque: the areas do not muddy each other.
    let RGBColor(r, g, b) = C[i % C.len()];
    let light = |c: u8| ((c as u16 + 2 * 255) / 3) as u8;
    RGBColor(light(r), light(g), light(b))
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Draws the chart of one series into `path`.
pub fn draw(
    series: &Series,
    report: &LeakReport,
    path: &Path,
    kind: Kind,
    size: (u32, u32),
) -> anyhow::Result<()> {
    register_font();
    let err = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", path.display());
    match kind {
        Kind::Svg => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            chart(&root, series, report).map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))
        }
        Kind::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            chart(&root, series, report).map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))
        }
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn mib(v: u64) -> f64 {
    v as f64 / (1u64 << 20) as f64
}

fn chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &Series,
    report: &LeakReport,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let t0 = series.samples.first().map_or(0, |s| s.time_ms);
    let secs = |t: u64| t.saturating_sub(t0) as f64 / 1000.0;
    let full: Vec<_> = series.samples.iter().filter(|s| s.full).collect();
    // Category order: largest in the last full sample first.
    let mut names: Vec<(String, u64)> = full
        .last()
        .map(|s| {
            s.categories
                .iter()
                .map(|c| (c.name.clone(), c.usage.weight()))
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|(_, v)| std::cmp::Reverse(*v));
    let shown: Vec<String> = names.iter().take(AREAS).map(|(n, _)| n.clone()).collect();
    let has_other = names.len() > AREAS;
    // Stacked tops per full sample: cumulative sums in `shown` order.
    let mut stacks: Vec<Vec<(f64, f64)>> = vec![Vec::new(); shown.len() + usize::from(has_other)];
    for s in &full {
        let mut acc = 0u64;
        for (i, n) in shown.iter().enumerate() {
            acc += s
                .categories
                .iter()
                .find(|c| &c.name == n)
                .map_or(0, |c| c.usage.weight());
            stacks[i].push((secs(s.time_ms), mib(acc)));
        }
        if has_other {
            let rest: u64 = s
                .categories
                .iter()
                .filter(|c| !shown.contains(&c.name))
                .map(|c| c.usage.weight())
                .sum();
            let last = stacks.len() - 1;
            stacks[last].push((secs(s.time_ms), mib(acc + rest)));
        }
    }
    let total: Vec<(f64, f64)> = series
        .samples
        .iter()
        .map(|s| (secs(s.time_ms), mib(s.totals.weight())))
        .collect();
    let x_max = total.last().map_or(1.0, |p| p.0).max(1e-3);
    let y_max = total
        .iter()
        .map(|p| p.1)
        .chain(stacks.iter().flatten().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.08;
    let leaking: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.leak && f.scope == Scope::Region)
        .take(4)
        .collect();
    let title = format!(
        "{} (pid {}): {}",
        series.comm.as_deref().unwrap_or("process"),
        series.pid.unwrap_or(0),
        if report.leak {
            format!(
                "LEAK in {}",
                super::count(leaking.len() as u64, "region", "regions")
            )
        } else {
            "no leak".to_owned()
        }
    );
    let mut c = ChartBuilder::on(root)
        .caption(super::term(&title), ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    c.configure_mesh()
        .x_desc("seconds since the first sample")
        .y_desc("MiB resident")
        .label_style(("sans-serif", 14))
        .draw()?;
    // Areas from the top of the stack down, so each lower one covers its
    // share of the one above.
    for i in (0..stacks.len()).rev() {
        let name = shown.get(i).map_or("other", String::as_str).to_owned();
        let color = palette(i);
        c.draw_series(
            AreaSeries::new(stacks[i].iter().copied(), 0.0, color.filled())
                .border_style(color.stroke_width(1)),
        )?
        .label(super::term(&name).into_owned())
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    c.draw_series(LineSeries::new(
        total.iter().copied(),
        BLACK.stroke_width(2),
    ))?
    .label("process total")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(2)));
    // The objects growing fastest.
    let growing: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.scope == Scope::Object && f.trend.slope > 0.0)
        .take(3)
        .collect();
    for (k, f) in growing.iter().enumerate() {
        let pts: Vec<(f64, f64)> = full
            .iter()
            .filter_map(|s| {
                let o = s.objects.iter().find(|o| o.name == f.name)?;
                Some((secs(s.time_ms), mib(o.usage.weight())))
            })
            .collect();
        let color = palette(k + 3);
        c.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(format!("object {}", super::term(&f.name)))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
    }
    // The leaks: thick red lines with a mark at each sample.
    for f in &leaking {
        let pts: Vec<(f64, f64)> = full
            .iter()
            .filter_map(|s| {
                let r = s
                    .regions
                    .iter()
                    .find(|r| Some(r.start) == f.start && r.path == f.name)?;
                Some((secs(s.time_ms), mib(r.rss.unwrap_or(r.size()))))
            })
            .collect();
        c.draw_series(LineSeries::new(pts.iter().copied(), RED.stroke_width(3)))?
            .label(format!(
                "LEAK {} {:+.2} MiB/s",
                super::term(&what(f)),
                f.trend.slope / (1u64 << 20) as f64
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RED.stroke_width(3)));
        c.draw_series(pts.iter().map(|p| Circle::new(*p, 3, RED.filled())))?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}
