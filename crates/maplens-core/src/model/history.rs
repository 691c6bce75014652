//! [`History`]: samples of one process folded over time for a live view
//! (`watch` on a terminal, the terminal UI): the first and latest samples
//! and bounded series of the totals and of each category. Plain data, no
//! rendering types.
//!
//! ```
//! use maplens_core::model::{History, Sample, SampleUsage};
//! let mut h = History::new(3);
//! for i in 0..5u64 {
//!     h.push(&Sample { time_ms: i, totals: SampleUsage { rss: Some(i), ..Default::default() }, ..Default::default() });
//! }
//! assert_eq!(h.rss.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
//! assert_eq!(h.samples, 5);
//! ```

use std::collections::{BTreeMap, VecDeque};

use crate::model::Sample;

/// Samples of one process folded for a live view.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Points kept per series.
    pub cap: usize,
    /// Samples folded in.
    pub samples: u64,
    /// The first full sample.
    pub first_full: Option<Sample>,
    /// The latest full sample.
    pub last_full: Option<Sample>,
    /// The latest sample.
    pub last: Option<Sample>,
    /// Resident bytes (else virtual size) of the process, one point a
    /// sample, the latest `cap`.
    pub rss: VecDeque<u64>,
    /// Resident bytes of each category, one point a full sample.
    pub categories: BTreeMap<String, VecDeque<u64>>,
    /// The watcher's CPU time for all samples, microseconds.
    pub cpu_us: u64,
}

impl History {
    /// An empty history keeping `cap` points a series.
    pub fn new(cap: usize) -> History {
        History {
            cap: cap.max(1),
            ..History::default()
        }
    }

    /// Folds in one sample.
    pub fn push(&mut self, s: &Sample) {
        self.samples += 1;
        self.cpu_us += s.cost.cpu_us;
        let cap = self.cap;
        let keep = |q: &mut VecDeque<u64>, v: u64| {
            q.push_back(v);
            while q.len() > cap {
                q.pop_front();
            }
        };
        keep(&mut self.rss, s.totals.weight());
        if s.full {
            for c in &s.categories {
                keep(
                    self.categories.entry(c.name.clone()).or_default(),
                    c.usage.weight(),
                );
            }
            if self.first_full.is_none() {
                self.first_full = Some(s.clone());
            }
            self.last_full = Some(s.clone());
        }
        self.last = Some(s.clone());
    }

    /// The `n` categories with the most resident memory in the latest
    /// full sample, with their series.
    pub fn top_categories(&self, n: usize) -> Vec<(&str, &VecDeque<u64>)> {
        let mut v: Vec<(&str, &VecDeque<u64>)> = self
            .categories
            .iter()
            .map(|(k, q)| (k.as_str(), q))
            .collect();
        v.sort_by_key(|(_, q)| std::cmp::Reverse(q.back().copied().unwrap_or(0)));
        v.truncate(n);
        v
    }
}
