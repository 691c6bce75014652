//! Working set per region and category: from one reading of smaps taken
//! one interval after `clear_refs` ([`sample`]: a page is in the working
//! set when the kernel saw it accessed in that interval, `Referenced:`), or
//! from idle page tracking ([`idle_sample`]); see [`crate::source::wss`].
//!
//! ```
//! use maplens_core::analysis::{classify, wss::sample};
//! use maplens_core::model::Snapshot;
//! use maplens_core::parse::Mode;
//! let text = b"7f0000000000-7f0004000000 rw-p 00000000 00:00 0 \nSize: 65536 kB\nRss: 65536 kB\nReferenced: 8192 kB\n";
//! let s = Snapshot::from_text("smaps", text, Mode::Lenient).unwrap();
//! let w = sample(&s, &classify(&s), 1.0);
//! assert_eq!((w.total.referenced_kb, w.total.rss_kb), (8192, 65536));
//! ```

use crate::analysis::{Category, Classified};
use crate::model::Snapshot;
use crate::parse::Field;
use crate::source::SourceError;
use crate::source::pages::{Budget, PageReader};
use crate::source::wss::IdleBitmap;

/// Working set and residency (kB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Wss {
    /// Accessed during the interval.
    pub referenced_kb: u64,
    /// Resident.
    pub rss_kb: u64,
}

/// One region's working set.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WssRegion {
    /// First address.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Its category.
    pub category: Category,
    /// The figures.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub wss: Wss,
}

/// The working set at one moment.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WssSample {
    /// Seconds since the first interval began.
    pub at_s: f64,
    /// The process.
    pub total: Wss,
    /// Per category, in [`Category`] order (those with a resident page).
    pub categories: Vec<(Category, Wss)>,
    /// Regions with a referenced page, in address order.
    pub regions: Vec<WssRegion>,
}

/// The working set in a snapshot read from smaps after `clear_refs`.
pub fn sample(snap: &Snapshot, cl: &Classified, at_s: f64) -> WssSample {
    let mut total = Wss::default();
    let mut cats: Vec<(Category, Wss)> = Vec::new();
    let mut regions = Vec::new();
    for (r, c) in snap.regions.iter().zip(&cl.classes) {
        let w = Wss {
            referenced_kb: r.kb(Field::Referenced).unwrap_or(0),
            rss_kb: r.kb(Field::Rss).unwrap_or(0),
        };
        total.referenced_kb += w.referenced_kb;
        total.rss_kb += w.rss_kb;
        if w.rss_kb > 0 {
            match cats.iter_mut().find(|(k, _)| *k == c.category) {
                Some((_, s)) => {
                    s.referenced_kb += w.referenced_kb;
                    s.rss_kb += w.rss_kb;
                }
                None => cats.push((c.category, w)),
            }
        }
        if w.referenced_kb > 0 {
            regions.push(WssRegion {
                start: r.start,
                end: r.end,
                category: c.category,
                wss: w,
            });
        }
    }
    cats.sort_by_key(|(k, _)| *k);
    WssSample {
        at_s,
        total,
        categories: cats,
        regions,
    }
}

/// The working set by idle page tracking (root, `CONFIG_IDLE_PAGE_TRACKING`):
/// marks every present frame of `snap`'s regions idle, waits `interval`,
/// and counts the frames accessed since. Unlike `clear_refs` it leaves the
/// target's page tables alone. `at_s` is the time to stamp the sample with.
pub fn idle_sample(
    snap: &Snapshot,
    cl: &Classified,
    reader: &mut PageReader,
    bitmap: &IdleBitmap,
    interval: std::time::Duration,
    budget: &Budget,
) -> Result<WssSample, SourceError> {
    let ps = reader.page_size;
    let mut pfns: Vec<Vec<u64>> = Vec::with_capacity(snap.regions.len());
    for r in &snap.regions {
        let read = reader.read_region(r.start, r.end, false, budget)?;
        pfns.push(read.entries.iter().filter_map(|e| e.pfn()).collect());
    }
    for p in &pfns {
        bitmap.mark(p)?;
    }
    std::thread::sleep(interval);
    let mut s = WssSample {
        at_s: 0.0,
        total: Wss::default(),
        categories: Vec::new(),
        regions: Vec::new(),
    };
    for ((r, c), p) in snap.regions.iter().zip(&cl.classes).zip(&pfns) {
        let w = Wss {
            referenced_kb: bitmap.accessed(p)? * ps / 1024,
            rss_kb: p.len() as u64 * ps / 1024,
        };
        s.total.referenced_kb += w.referenced_kb;
        s.total.rss_kb += w.rss_kb;
        if w.rss_kb > 0 {
            match s.categories.iter_mut().find(|(k, _)| *k == c.category) {
                Some((_, t)) => {
                    t.referenced_kb += w.referenced_kb;
                    t.rss_kb += w.rss_kb;
                }
                None => s.categories.push((c.category, w)),
            }
        }
        if w.referenced_kb > 0 {
            s.regions.push(WssRegion {
                start: r.start,
                end: r.end,
                category: c.category,
                wss: w,
            });
        }
    }
    s.categories.sort_by_key(|(k, _)| *k);
    Ok(s)
}

/// The working set from DAMON's regions (`crate::source::damon`): a page
/// of a region of `snap` is in the working set when a DAMON region with
/// `nr_accesses > 0` in the last aggregation interval covers it. DAMON
/// samples one address per region, so this is an address-range estimate:
/// it may count pages that are not resident (residency is smaps' `Rss:`).
///
/// ```
/// use maplens_core::analysis::{classify, wss::damon_sample};
/// use maplens_core::model::Snapshot;
/// use maplens_core::parse::Mode;
/// use maplens_core::source::damon::DamonRegion;
/// let text = b"7f0000000000-7f0004000000 rw-p 00000000 00:00 0 \nSize: 65536 kB\nRss: 65536 kB\n";
/// let s = Snapshot::from_text("smaps", text, Mode::Lenient).unwrap();
/// let hot = DamonRegion { start: 0x7f0000000000, end: 0x7f0000800000, nr_accesses: 4, age: 0 };
/// let cold = DamonRegion { start: 0x7f0000800000, end: 0x7f0004000000, nr_accesses: 0, age: 9 };
/// let w = damon_sample(&s, &classify(&s), &[hot, cold], 1.0);
/// assert_eq!((w.total.referenced_kb, w.total.rss_kb), (8192, 65536));
/// ```
pub fn damon_sample(
    snap: &Snapshot,
    cl: &Classified,
    damon: &[crate::source::damon::DamonRegion],
    at_s: f64,
) -> WssSample {
    let mut s = WssSample {
        at_s,
        total: Wss::default(),
        categories: Vec::new(),
        regions: Vec::new(),
    };
    for (r, c) in snap.regions.iter().zip(&cl.classes) {
        let accessed: u64 = damon
            .iter()
            .filter(|d| d.nr_accesses > 0 && d.start < r.end && r.start < d.end)
            .map(|d| d.end.min(r.end) - d.start.max(r.start))
            .sum();
        let w = Wss {
            referenced_kb: accessed / 1024,
            rss_kb: r.kb(Field::Rss).unwrap_or(0),
        };
        s.total.referenced_kb += w.referenced_kb;
        s.total.rss_kb += w.rss_kb;
        if w.rss_kb > 0 || w.referenced_kb > 0 {
            match s.categories.iter_mut().find(|(k, _)| *k == c.category) {
                Some((_, t)) => {
                    t.referenced_kb += w.referenced_kb;
                    t.rss_kb += w.rss_kb;
                }
                None => s.categories.push((c.category, w)),
            }
        }
        if w.referenced_kb > 0 {
            s.regions.push(WssRegion {
                start: r.start,
                end: r.end,
                category: c.category,
                wss: w,
            });
        }
    }
    s.categories.sort_by_key(|(k, _)| *k);
    s
}
