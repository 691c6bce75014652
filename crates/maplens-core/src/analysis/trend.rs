//! Trends of one figure over time, and whether they are a leak.
//!
//! [`trend`] fits a robust line through `(seconds, bytes)` points: the
//! Theil–Sen slope (median of all pairwise slopes) with its spread (the
//! interquartile range of those slopes), the R² of that line, and a
//! [`Shape`] that tells steady growth from noise, a plateau (growth that
//! stopped: a cache warming up), a step (one jump: a workload change) and a
//! sawtooth (growth with repeated drops: a garbage collector). Only
//! [`Shape::Growing`] is a leak. No I/O; the points come from samples.
//!
//! ```
//! use maplens_core::analysis::{trend, Shape};
//! let pts: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 1e6 * i as f64)).collect();
//! let t = trend(&pts).unwrap();
//! assert_eq!(t.shape, Shape::Growing);
//! assert!((t.slope - 1e6).abs() < 1.0);
//! ```

/// What a series looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Shape {
    /// No change beyond noise.
    Flat,
    /// Steady growth through the whole series: a leak.
    Growing,
    /// Grew, then stopped.
    Plateau,
    /// One jump, flat before and after.
    Step,
    /// Grows and drops repeatedly.
    Sawtooth,
    /// Shrinking.
    Shrinking,
    /// Changes with no clear direction.
    Noisy,
}

impl Shape {
    /// A word for tables.
    pub const fn id(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Growing => "growing",
            Shape::Plateau => "plateau",
            Shape::Step => "step",
            Shape::Sawtooth => "sawtooth",
            Shape::Shrinking => "shrinking",
            Shape::Noisy => "noisy",
        }
    }
}

/// The trend of one series.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Trend {
    /// Points used.
    pub samples: usize,
    /// First and last value.
    pub first: f64,
    /// Last value.
    pub last: f64,
    /// Seconds covered.
    pub span: f64,
    /// Theil–Sen slope, units per second.
    pub slope: f64,
    /// Interquartile range of the pairwise slopes, units per second.
    pub spread: f64,
    /// R² of the Theil–Sen line.
    pub r2: f64,
    /// The shape.
    pub shape: Shape,
}

/// Fewest points [`trend`] judges.
pub const MIN_POINTS: usize = 5;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Theil–Sen slope and intercept of `pts`, with the IQR of pairwise slopes.
/// `None` with fewer than two distinct times.
pub fn theil_sen(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let mut slopes = Vec::with_capacity(pts.len() * pts.len() / 2);
    for (i, a) in pts.iter().enumerate() {
        for b in &pts[i + 1..] {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let slope = median(&mut slopes);
    let q = |p: f64| slopes[((slopes.len() - 1) as f64 * p).round() as usize];
    let spread = q(0.75) - q(0.25);
    let mut icpt: Vec<f64> = pts.iter().map(|p| p.1 - slope * p.0).collect();
    let intercept = median(&mut icpt);
    Some((slope, intercept, spread))
}

/// Fits and judges a series of `(seconds, value)` points, in time order.
/// `None` with fewer than [`MIN_POINTS`] points.
pub fn trend(pts: &[(f64, f64)]) -> Option<Trend> {
    if pts.len() < MIN_POINTS {
        return None;
    }
    let (slope, intercept, spread) = theil_sen(pts)?;
    let n = pts.len();
    let mean = pts.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let ss_tot: f64 = pts.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let ss_res: f64 = pts
        .iter()
        .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
        .sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        0.0
    };
    let (first, last) = (pts[0].1, pts[n - 1].1);
    let span = pts[n - 1].0 - pts[0].0;
    let min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let range = max - min;
    // Noise floor: 64 KiB or 1% of the level, whichever is larger.
    let floor = (64.0 * 1024.0f64).max(0.01 * max.abs());
    let deltas: Vec<f64> = pts.windows(2).map(|w| w[1].1 - w[0].1).collect();
    let rises: f64 = deltas.iter().filter(|d| **d > 0.0).sum();
    let drops = deltas.iter().filter(|d| **d < -floor).count();
    let biggest = deltas.iter().cloned().fold(0.0f64, f64::max);
    let shape = if range <= floor {
        Shape::Flat
    } else if drops >= 2 && rises > 2.0 * range {
        Shape::Sawtooth
    } else if last - first < -floor {
        Shape::Shrinking
    } else if last - first <= floor {
        Shape::Noisy
    } else if biggest > 0.6 * (last - first) {
        Shape::Step
    } else {
        // Growth must continue into the last third of the series.
        let tail = &pts[n - n.div_ceil(3)..];
        let tail_slope = theil_sen(tail).map(|t| t.0).unwrap_or(0.0);
        if tail_slope < 0.25 * slope || slope <= 0.0 {
            Shape::Plateau
        } else if r2 >= 0.8 {
            Shape::Growing
        } else {
            Shape::Noisy
        }
    };
    Some(Trend {
        samples: n,
        first,
        last,
        span,
        slope,
        spread,
        r2,
        shape,
    })
}

/// Seconds until `value` growing at `slope` per second reaches `limit`.
pub fn time_to(limit: f64, value: f64, slope: f64) -> Option<f64> {
    (slope > 0.0 && limit > value).then(|| (limit - value) / slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (0..40).map(|i| (i as f64, f(i as f64))).collect()
    }

    #[test]
    fn shapes() {
        let mib = 1048576.0;
        assert_eq!(
            trend(&series(|x| 10.0 * mib + x * mib)).unwrap().shape,
            Shape::Growing
        );
        assert_eq!(trend(&series(|_| 10.0 * mib)).unwrap().shape, Shape::Flat);
        let plateau = trend(&series(|x| x.min(15.0) * mib)).unwrap();
        assert_eq!(plateau.shape, Shape::Plateau);
        let step = trend(&series(|x| if x < 20.0 { mib } else { 30.0 * mib })).unwrap();
        assert_eq!(step.shape, Shape::Step);
        let saw = trend(&series(|x| (x % 10.0) * mib)).unwrap();
        assert_eq!(saw.shape, Shape::Sawtooth);
        // Noise around a level: alternating ±3 MiB.
        let noisy = trend(&series(|x| {
            50.0 * mib
                + if (x as u64).is_multiple_of(2) {
                    3.0
                } else {
                    -3.0
                } * mib
        }));
        assert_ne!(noisy.unwrap().shape, Shape::Growing);
    }

    #[test]
    fn slope_resists_an_outlier() {
        let mut pts = series(|x| 1000.0 * x);
        pts[7].1 = 1e9;
        let t = trend(&pts).unwrap();
        assert!((t.slope - 1000.0).abs() < 1.0, "{}", t.slope);
    }

    #[test]
    fn time_to_limit() {
        assert_eq!(time_to(100.0, 40.0, 2.0), Some(30.0));
        assert_eq!(time_to(100.0, 40.0, 0.0), None);
    }
}
