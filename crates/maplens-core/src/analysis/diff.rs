//! What changed between two samples of a process: regions added, removed,
//! grown, shrunk, re-protected or grown resident, and the same rolled up by
//! category and by object.
//!
//! Regions are matched by identity (start, inode, path, offset). A region
//! split by `mprotect` keeps its start in the first piece (shrunk, perhaps
//! re-protected) and the other pieces are added. No I/O, no rendering.
//!
//! ```
//! use maplens_core::analysis::{diff, Change};
//! use maplens_core::model::{Sample, SampleRegion};
//! let r = |start: u64, end: u64, perms: &str| SampleRegion {
//!     start, end, perms: perms.into(), offset: 0, inode: 0, path: String::new(),
//!     category: "anon-mmap".into(), rss: None,
//! };
//! let a = Sample { full: true, regions: vec![r(0x1000, 0x3000, "rw-p"), r(0x8000, 0x9000, "rw-p")], ..Sample::default() };
//! let b = Sample { full: true, regions: vec![r(0x1000, 0x5000, "r--p")], ..Sample::default() };
//! let d = diff(&a, &b);
//! assert_eq!(d.regions.len(), 2);
//! assert_eq!(d.regions[0].change, Change::Grown);
//! assert!(d.regions[0].perms_changed());
//! assert_eq!(d.regions[1].change, Change::Removed);
//! ```

use std::collections::BTreeMap;

use crate::model::{Sample, SampleRegion, SampleRow, SampleUsage};

/// How a region changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Change {
    /// Only in the second sample.
    Added,
    /// Only in the first.
    Removed,
    /// Larger virtual size.
    Grown,
    /// Smaller virtual size.
    Shrunk,
    /// Same size, other permissions.
    Perms,
    /// Same size and permissions, resident size moved by at least
    /// [`RESIDENT_STEP`].
    Resident,
}

impl Change {
    /// A word for tables.
    pub const fn id(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Grown => "grown",
            Change::Shrunk => "shrunk",
            Change::Perms => "perms",
            Change::Resident => "resident",
        }
    }
}

/// Smallest move of a region's Rss that [`Change::Resident`] reports.
pub const RESIDENT_STEP: u64 = 64 * 1024;

/// One region that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RegionChange {
    /// How.
    pub change: Change,
    /// The region in the first sample.
    pub before: Option<SampleRegion>,
    /// The region in the second sample.
    pub after: Option<SampleRegion>,
}

impl RegionChange {
    /// The region as it is best known (the second sample's, else the first).
    pub fn region(&self) -> &SampleRegion {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .expect("a change has a side")
    }

    /// Virtual size after minus before.
    pub fn size_delta(&self) -> i128 {
        let s = |r: &Option<SampleRegion>| r.as_ref().map_or(0, |r| r.size() as i128);
        s(&self.after) - s(&self.before)
    }

    /// Resident after minus before, when both are known (a missing side
    /// counts as 0).
    pub fn rss_delta(&self) -> Option<i128> {
        let s = |r: &Option<SampleRegion>| match r {
            Some(r) => r.rss.map(i128::from),
            None => Some(0),
        };
        Some(s(&self.after)? - s(&self.before)?)
    }

    /// Both sides exist with other permissions.
    pub fn perms_changed(&self) -> bool {
        matches!((&self.before, &self.after), (Some(a), Some(b)) if a.perms != b.perms)
    }
}

/// A category or object in both samples (or one), when it changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RowChange {
    /// Category id or object path.
    pub name: String,
    /// Its sizes in the first sample (zero when absent).
    pub before: SampleUsage,
    /// Its sizes in the second.
    pub after: SampleUsage,
}

impl RowChange {
    /// After minus before, of the figure both sides know ([`comparable`]).
    pub fn delta(&self) -> i128 {
        let (a, b, _) = comparable(&self.before, &self.after);
        b as i128 - a as i128
    }
}

/// The figure two usages can be compared by: Rss when both know it, else
/// the virtual size (a maps file against an smaps file); with its name.
///
/// ```
/// use maplens_core::analysis::comparable;
/// use maplens_core::model::SampleUsage;
/// let maps = SampleUsage { size: 8192, ..Default::default() };
/// let smaps = SampleUsage { size: 8192, rss: Some(4096), ..Default::default() };
/// assert_eq!(comparable(&maps, &smaps), (8192, 8192, "size"));
/// assert_eq!(comparable(&smaps, &smaps), (4096, 4096, "Rss"));
/// ```
pub fn comparable(a: &SampleUsage, b: &SampleUsage) -> (u64, u64, &'static str) {
    match (a.rss, b.rss) {
        (Some(x), Some(y)) => (x, y, "Rss"),
        _ => (a.size, b.size, "size"),
    }
}

/// Everything that changed between two samples.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SampleDiff {
    /// Totals of the first sample.
    pub before: SampleUsage,
    /// Totals of the second.
    pub after: SampleUsage,
    /// Both samples held regions (otherwise only the totals compare).
    pub regions_known: bool,
    /// Regions that changed, by address.
    pub regions: Vec<RegionChange>,
    /// Categories that changed, largest move first.
    pub categories: Vec<RowChange>,
    /// Objects that changed, largest move first.
    pub objects: Vec<RowChange>,
}

impl SampleDiff {
    /// How many regions changed each way.
    pub fn count(&self, change: Change) -> usize {
        self.regions.iter().filter(|r| r.change == change).count()
    }

    /// Regions whose permissions changed (whatever else changed too).
    pub fn perm_changes(&self) -> usize {
        self.regions.iter().filter(|r| r.perms_changed()).count()
    }

    /// No region was added, removed, resized or re-protected.
    pub fn same_layout(&self) -> bool {
        self.regions_known && self.regions.iter().all(|r| r.change == Change::Resident)
    }
}

fn rows(a: &[SampleRow], b: &[SampleRow]) -> Vec<RowChange> {
    let mut m: BTreeMap<&str, (SampleUsage, SampleUsage)> = BTreeMap::new();
    for r in a {
        m.entry(&r.name).or_default().0 = r.usage.clone();
    }
    for r in b {
        m.entry(&r.name).or_default().1 = r.usage.clone();
    }
    let mut out: Vec<RowChange> = m
        .into_iter()
        .filter(|(_, (x, y))| {
            let (a, b, _) = comparable(x, y);
            a != b || x.regions != y.regions
        })
        .map(|(name, (before, after))| RowChange {
            name: name.to_owned(),
            before,
            after,
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.delta().unsigned_abs()));
    out
}

/// Compares two samples.
pub fn diff(a: &Sample, b: &Sample) -> SampleDiff {
    let mut d = SampleDiff {
        before: a.totals.clone(),
        after: b.totals.clone(),
        regions_known: a.full && b.full,
        categories: rows(&a.categories, &b.categories),
        objects: rows(&a.objects, &b.objects),
        ..SampleDiff::default()
    };
    if !d.regions_known {
        return d;
    }
    let before: BTreeMap<_, &SampleRegion> = a.regions.iter().map(|r| (r.key(), r)).collect();
    let after: BTreeMap<_, &SampleRegion> = b.regions.iter().map(|r| (r.key(), r)).collect();
    for (k, x) in &before {
        let change = match after.get(k) {
            None => Some(Change::Removed),
            Some(y) if y.end > x.end => Some(Change::Grown),
            Some(y) if y.end < x.end => Some(Change::Shrunk),
            Some(y) if y.perms != x.perms => Some(Change::Perms),
            Some(y) => match (x.rss, y.rss) {
                (Some(p), Some(q)) if p.abs_diff(q) >= RESIDENT_STEP => Some(Change::Resident),
                _ => None,
            },
        };
        if let Some(change) = change {
            d.regions.push(RegionChange {
                change,
                before: Some((*x).clone()),
                after: after.get(k).map(|y| (*y).clone()),
            });
        }
    }
    for (k, y) in &after {
        if !before.contains_key(k) {
            d.regions.push(RegionChange {
                change: Change::Added,
                before: None,
                after: Some((*y).clone()),
            });
        }
    }
    d.regions.sort_by_key(|r| (r.region().start, r.change));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_by_mprotect_and_rollup_only() {
        let r = |start: u64, end: u64, perms: &str, rss| SampleRegion {
            start,
            end,
            perms: perms.into(),
            offset: 0,
            inode: 0,
            path: String::new(),
            category: "anon-mmap".into(),
            rss: Some(rss),
        };
        let a = Sample {
            full: true,
            regions: vec![
                r(0x10000, 0x14000, "rw-p", 0),
                r(0x20000, 0x21000, "rw-p", 0),
            ],
            ..Sample::default()
        };
        let b = Sample {
            full: true,
            regions: vec![
                r(0x10000, 0x11000, "rw-p", 0),
                r(0x11000, 0x12000, "r--p", 0),
                r(0x12000, 0x14000, "rw-p", 0),
                r(0x20000, 0x21000, "rw-p", 1 << 20),
            ],
            ..Sample::default()
        };
        let d = diff(&a, &b);
        let kinds: Vec<Change> = d.regions.iter().map(|c| c.change).collect();
        assert_eq!(
            kinds,
            [
                Change::Shrunk,
                Change::Added,
                Change::Added,
                Change::Resident
            ]
        );
        assert!(!d.same_layout());
        assert_eq!(d.regions[3].rss_delta(), Some(1 << 20));
        let roll = diff(&Sample::default(), &b);
        assert!(!roll.regions_known && roll.regions.is_empty() && !roll.same_layout());
        assert!(diff(&b, &b).same_layout());
    }
}
