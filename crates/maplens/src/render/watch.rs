//! The printer of `maplens watch` on a terminal: a view redrawn in place
//! (plain ANSI: home, clear) with the totals and top categories of each
//! target as sparklines, and the regions that changed most since the
//! first full sample; plus the `--verbose` cost line.

use std::path::Path;
use std::time::Duration;

use maplens_core::analysis::{Change, diff};
use maplens_core::model::{History, Sample};

use super::{human, term};
use crate::render::diff::signed;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of the points, scaled from their minimum to their maximum.
///
/// ```ignore
/// assert_eq!(sparkline([1, 2, 3].iter().copied()), "▁▄█");
/// ```
pub fn sparkline(points: impl Iterator<Item = u64> + Clone) -> String {
    let lo = points.clone().min().unwrap_or(0);
    let hi = points.clone().max().unwrap_or(0);
    points
        .map(|v| {
            if hi == lo {
                BARS[0]
            } else {
                BARS[((v - lo) as u128 * 7 / (hi - lo) as u128) as usize]
            }
        })
        .collect()
}

/// One line of what a sample cost.
pub fn cost_line(s: &Sample) -> String {
    format!(
        "maplens: pid {}: {} sample: {} µs CPU, {} µs wall, {} read, {} regions",
        s.pid.unwrap_or(0),
        if s.full { "full" } else { "rollup" },
        s.cost.cpu_us,
        s.cost.wall_us,
        human(s.cost.bytes_read, false),
        s.regions.len()
    )
}

/// The whole view, starting with the cursor-home and clear sequence.
pub fn view(targets: &[&History], interval: Duration, record: Option<&Path>) -> String {
    let mut out = String::from("\x1b[H\x1b[2J");
    out.push_str(&format!(
        "maplens watch: every {:.1} s{}\n\n",
        interval.as_secs_f64(),
        record
            .map(|p| format!(", recording to {}", term(&p.display().to_string())))
            .unwrap_or_default()
    ));
    for h in targets {
        let Some(last) = &h.last else {
            out.push_str("(exited; waiting for it to come back)\n\n");
            continue;
        };
        let first = h.rss.front().copied().unwrap_or(0);
        let now = last.totals.weight();
        out.push_str(&format!(
            "{} (pid {}): Rss {}  {} since the first shown  {}  {}, {:.1} ms CPU each\n",
            term(last.comm.as_deref().unwrap_or("?")),
            last.pid.unwrap_or(0),
            human(now, false),
            signed(now as i128 - first as i128, false),
            sparkline(h.rss.iter().copied()),
            super::count(h.samples, "sample", "samples"),
            h.cpu_us as f64 / 1000.0 / h.samples.max(1) as f64,
        ));
        for (name, q) in h.top_categories(6) {
            let a = q.front().copied().unwrap_or(0);
            let b = q.back().copied().unwrap_or(0);
            out.push_str(&format!(
                "  {:<16} {:>10} {:>11}  {}\n",
                term(name),
                human(b, false),
                signed(b as i128 - a as i128, false),
                sparkline(q.iter().copied())
            ));
        }
        if let (Some(a), Some(b)) = (&h.first_full, &h.last_full) {
            let d = diff(a, b);
            let mut moved: Vec<_> = d.regions.iter().collect();
            moved.sort_by_key(|c| {
                std::cmp::Reverse(
                    c.rss_delta().unwrap_or(0).unsigned_abs() + c.size_delta().unsigned_abs(),
                )
            });
            if !moved.is_empty() {
                out.push_str("  changed most since the first full sample:\n");
            }
            for c in moved.iter().take(5) {
                let r = c.region();
                let delta = match c.change {
                    Change::Added | Change::Removed | Change::Grown | Change::Shrunk => {
                        signed(c.size_delta(), false)
                    }
                    _ => c.rss_delta().map_or("-".into(), |v| signed(v, false)),
                };
                out.push_str(&format!(
                    "    {:<8} {:x}-{:x} {:<12} {:>11}  {}\n",
                    c.change.id(),
                    r.start,
                    r.end,
                    term(&r.category),
                    delta,
                    term(if r.path.is_empty() { "[anon]" } else { &r.path })
                ));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales() {
        assert_eq!(sparkline([1u64, 2, 3].iter().copied()), "▁▄█");
        assert_eq!(sparkline([5u64, 5].iter().copied()), "▁▁");
    }
}
