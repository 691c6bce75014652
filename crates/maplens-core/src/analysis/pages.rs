//! Below the region: what each region's pages are, from pagemap.
//!
//! Per region (and summed per [`Category`] and in total): pages present,
//! swapped, soft-dirty, exclusively mapped, file/shared, guard, on huge
//! pages and on the shared zero page; with privilege (root: PFNs and
//! `/proc/kpageflags`) how many frames are KSM-merged, THP, the zero page,
//! idle, or mapped by more than one process; a residency strip (which
//! parts of the region are really touched); and with `--content` how many
//! resident pages are all zeros or duplicates of another.
//!
//! It reads through [`crate::source::pages::PageReader`] region by region,
//! keeping only the counts: memory stays bounded by the largest region's
//! resident pages. It classifies nothing itself: categories come from
//! [`crate::analysis::classify`].
//!
//! Definitions (`pages --content`):
//! - a **zero page** is a resident page of which every byte is 0;
//! - a **duplicate page** is a resident, non-zero page whose bytes equal
//!   those of a page met earlier in the same scan (any region): with `k`
//!   copies of one page, `k - 1` are duplicates. They are what merging
//!   (KSM) would free. Pages are compared by a 64-bit SipHash of their
//!   bytes; two different pages collide with a chance near n²/2⁶⁵.
//!
//! ```
//! use maplens_core::analysis::pages::{ContentIndex, strip};
//! let mut ix = ContentIndex::default();
//! let page = [7u8; 4096];
//! let zero = [0u8; 4096];
//! let mut c = Default::default();
//! for p in [&page, &page, &zero] { ix.add(&mut c, p); }
//! assert_eq!((c.read, c.zero, c.duplicate), (3, 1, 1));
//! assert_eq!(strip(&[(0, 4), (8, 12)], 16, 4), "# # ");
//! ```

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::analysis::{Category, Classified};
use crate::model::Snapshot;
use crate::parse::pagemap::category;
use crate::source::SourceError;
use crate::source::pages::{Budget, Mechanism, PageReader, RegionRead};

/// Page counts of a region, a category or the process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PageCounts {
    /// Pages of virtual size.
    pub pages: u64,
    /// Present in RAM.
    pub present: u64,
    /// Swapped out.
    pub swapped: u64,
    /// Present and mapped by this process only.
    pub exclusive: u64,
    /// File pages or shared anonymous (present or swapped).
    pub file_shared: u64,
    /// Soft-dirty (always 0 on a kernel without `CONFIG_MEM_SOFT_DIRTY`).
    pub soft_dirty: u64,
    /// Guard pages (`MADV_GUARD_INSTALL`, 6.15+).
    pub guard: u64,
    /// On huge pages (THP or hugetlb); `None` without `PAGEMAP_SCAN`.
    pub huge: Option<u64>,
    /// Mapped to the shared zero page; `None` without `PAGEMAP_SCAN`.
    pub pfn_zero: Option<u64>,
}

impl PageCounts {
    /// Adds another's counts (an unknown figure stays unknown).
    pub fn add(&mut self, o: &PageCounts) {
        self.pages += o.pages;
        self.present += o.present;
        self.swapped += o.swapped;
        self.exclusive += o.exclusive;
        self.file_shared += o.file_shared;
        self.soft_dirty += o.soft_dirty;
        self.guard += o.guard;
        self.huge = self.huge.zip(o.huge).map(|(a, b)| a + b);
        self.pfn_zero = self.pfn_zero.zip(o.pfn_zero).map(|(a, b)| a + b);
    }
}

/// Counts that need the page frames (root: PFNs and kpageflags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FrameCounts {
    /// Present pages whose frame was looked up.
    pub frames: u64,
    /// Merged by KSM.
    pub ksm: u64,
    /// Part of a transparent huge page.
    pub thp: u64,
    /// The zero page.
    pub zero_page: u64,
    /// Idle (only meaningful after the idle bitmap was set).
    pub idle: u64,
    /// Mapped more than once (kpagecount > 1): shared with another mapping.
    pub shared: u64,
}

impl FrameCounts {
    fn add(&mut self, o: &FrameCounts) {
        self.frames += o.frames;
        self.ksm += o.ksm;
        self.thp += o.thp;
        self.zero_page += o.zero_page;
        self.idle += o.idle;
        self.shared += o.shared;
    }
}

/// What `--content` found in resident pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ContentCounts {
    /// Pages read.
    pub read: u64,
    /// All bytes zero.
    pub zero: u64,
    /// Non-zero and equal to a page read earlier (see the module docs).
    pub duplicate: u64,
    /// Present pages that could not be read (unmapped meanwhile).
    pub unreadable: u64,
}

impl ContentCounts {
    fn add(&mut self, o: &ContentCounts) {
        self.read += o.read;
        self.zero += o.zero;
        self.duplicate += o.duplicate;
        self.unreadable += o.unreadable;
    }
}

/// A hasher for keys that already are hashes.
#[derive(Default)]
struct Identity(u64);
impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = self.0.rotate_left(8) ^ u64::from(x);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The hashes of the non-zero pages seen so far.
#[derive(Default)]
pub struct ContentIndex {
    seen: HashSet<u64, BuildHasherDefault<Identity>>,
}

impl ContentIndex {
    /// Counts one resident page into `c`.
    pub fn add(&mut self, c: &mut ContentCounts, page: &[u8]) {
        c.read += 1;
        if page.iter().all(|&b| b == 0) {
            c.zero += 1;
            return;
        }
        let mut h = std::hash::DefaultHasher::new();
        h.write(page);
        if !self.seen.insert(h.finish()) {
            c.duplicate += 1;
        }
    }
}

/// A residency strip of `width` cells over `pages` pages, from runs of
/// present pages given as page index ranges `(first, end)`: `#` all of a
/// cell's pages present, `+` more than half, `:` more than a quarter, `.`
/// some, ` ` none.
pub fn strip(present: &[(u64, u64)], pages: u64, width: usize) -> String {
    if pages == 0 || width == 0 {
        return String::new();
    }
    let width = (width as u64).min(pages);
    let cell = pages.div_ceil(width);
    let cells = pages.div_ceil(cell) as usize;
    let mut filled = vec![0u64; cells];
    for &(a, b) in present {
        let mut p = a.min(pages);
        let b = b.min(pages);
        while p < b {
            let i = (p / cell) as usize;
            let cell_end = ((i as u64 + 1) * cell).min(b);
            filled[i] += cell_end - p;
            p = cell_end;
        }
    }
    filled
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let size = (((i as u64) + 1) * cell).min(pages) - i as u64 * cell;
            match n {
                0 => ' ',
                n if n == size => '#',
                n if n * 2 > size => '+',
                n if n * 4 > size => ':',
                _ => '.',
            }
        })
        .collect()
}

/// What maplens knows of one region's pages.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RegionPages {
    /// Index into the snapshot's regions.
    pub index: usize,
    /// The region's category.
    pub category: Category,
    /// The counts.
    pub counts: PageCounts,
    /// Frame counts (root only).
    pub frames: Option<FrameCounts>,
    /// Content counts (`--content`, private anonymous regions only).
    pub content: Option<ContentCounts>,
    /// Residency strip.
    pub strip: String,
    /// How the runs were found.
    pub via: Option<Mechanism>,
    /// False when the time budget ran out inside this region.
    pub complete: bool,
}

/// Totals of one category.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CategoryPages {
    /// The category.
    pub category: Category,
    /// Regions.
    pub regions: u64,
    /// The counts.
    pub counts: PageCounts,
    /// Frame counts (root only).
    pub frames: Option<FrameCounts>,
    /// Content counts (`--content`).
    pub content: Option<ContentCounts>,
}

/// The page report of a process.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PagesReport {
    /// Page size in bytes.
    pub page_size: u64,
    /// The regions looked at.
    pub regions: Vec<RegionPages>,
    /// Per category, in [`Category`] order.
    pub categories: Vec<CategoryPages>,
    /// Everything looked at.
    pub total: PageCounts,
    /// Frame totals (root only).
    pub frames: Option<FrameCounts>,
    /// Content totals (`--content`).
    pub content: Option<ContentCounts>,
    /// The figures this run could not give, and why (privilege).
    pub unavailable: Vec<&'static str>,
    /// False when the time budget ran out before the last region's end.
    pub complete: bool,
}

/// What to look at and how.
#[derive(Clone, Copy, Debug)]
pub struct PagesOptions {
    /// Read page contents (`--content`).
    pub content: bool,
    /// Residency strip width in cells.
    pub strip_width: usize,
    /// The time budget.
    pub budget: Budget,
}

/// True for the regions `--content` reads: private, anonymous (no file),
/// readable memory of the program (heap, arenas, stacks, bss, mmap).
pub fn content_eligible(c: Category, private: bool, inode: u64) -> bool {
    private
        && inode == 0
        && matches!(
            c,
            Category::Heap
                | Category::MallocArena
                | Category::AnonMmap
                | Category::NamedAnon
                | Category::ThreadStack
                | Category::MainStack
                | Category::Bss
                | Category::WritableExec
        )
}

/// Counts the pages of one region from what was read.
pub fn count(r: &RegionRead, pages: u64, page_size: u64) -> PageCounts {
    let mut c = PageCounts {
        pages,
        ..PageCounts::default()
    };
    let scan = r.via == Some(Mechanism::PagemapScan);
    let (mut huge, mut zero) = (0, 0);
    for run in &r.runs {
        let n = run.end.saturating_sub(run.start) / page_size;
        let k = run.categories;
        let has = |bit: u64| if k & bit != 0 { n } else { 0 };
        c.present += has(category::PRESENT);
        // A page is present or swapped, never both (the kernel sets one
        // or the other): a record claiming both counts once, as present.
        if k & category::PRESENT == 0 {
            c.swapped += has(category::SWAPPED);
        }
        c.file_shared += has(category::FILE);
        c.soft_dirty += has(category::SOFT_DIRTY);
        c.guard += has(category::GUARD);
        huge += has(category::HUGE);
        zero += has(category::PFNZERO);
    }
    c.exclusive = r.entries.iter().filter(|e| e.exclusive()).count() as u64;
    if scan || r.beyond_user {
        c.huge = Some(huge);
        c.pfn_zero = Some(zero);
    }
    c
}

/// Frame counts of one region (root).
pub fn frame_counts(r: &RegionRead) -> FrameCounts {
    let mut f = FrameCounts::default();
    for (k, &n) in r.frames.iter().zip(&r.mapcounts) {
        f.frames += 1;
        f.ksm += u64::from(k.ksm());
        f.thp += u64::from(k.thp());
        f.zero_page += u64::from(k.zero_page());
        f.idle += u64::from(k.idle());
        f.shared += u64::from(n > 1);
    }
    f
}

/// Reads and counts the pages of the regions `rows` of `snap`.
pub fn pages(
    snap: &Snapshot,
    cl: &Classified,
    rows: &[usize],
    reader: &mut PageReader,
    opts: &PagesOptions,
) -> Result<PagesReport, SourceError> {
    let ps = reader.page_size;
    let frames = reader.has_frames();
    if opts.content {
        reader.open_mem()?;
    }
    let mut index = ContentIndex::default();
    let mut out = Vec::with_capacity(rows.len());
    let mut complete = true;
    for &i in rows {
        let reg = &snap.regions[i];
        let cat = cl.classes[i].category;
        let pages = reg.size() / ps;
        let read = if complete {
            reader.read_region(reg.start, reg.end, frames, &opts.budget)?
        } else {
            RegionRead::default()
        };
        complete &= read.complete;
        let counts = count(&read, pages, ps);
        let present: Vec<(u64, u64)> = read
            .runs
            .iter()
            .filter(|r| r.categories & category::PRESENT != 0)
            .map(|r| ((r.start - reg.start) / ps, (r.end - reg.start) / ps))
            .collect();
        let content = if opts.content && content_eligible(cat, !reg.perms.shared(), reg.inode) {
            let mut c = ContentCounts::default();
            c.unreadable = reader.read_pages(&read.runs, &opts.budget, &mut |_, page| {
                index.add(&mut c, page)
            })?;
            Some(c)
        } else {
            None
        };
        out.push(RegionPages {
            index: i,
            category: cat,
            counts,
            frames: frames.then(|| frame_counts(&read)),
            content,
            strip: strip(&present, pages, opts.strip_width),
            via: read.via,
            complete: read.complete,
        });
    }
    Ok(summarise(out, ps, frames, opts.content, complete))
}

/// Category and process totals of region rows.
pub fn summarise(
    regions: Vec<RegionPages>,
    page_size: u64,
    frames: bool,
    content: bool,
    complete: bool,
) -> PagesReport {
    let blank = PageCounts {
        huge: Some(0),
        pfn_zero: Some(0),
        ..PageCounts::default()
    };
    let mut cats: Vec<CategoryPages> = Vec::new();
    let mut total = blank;
    let mut ftotal = frames.then(FrameCounts::default);
    let mut ctotal = content.then(ContentCounts::default);
    for r in &regions {
        total.add(&r.counts);
        let c = match cats.iter_mut().position(|c| c.category == r.category) {
            Some(p) => &mut cats[p],
            None => {
                cats.push(CategoryPages {
                    category: r.category,
                    regions: 0,
                    counts: blank,
                    frames: frames.then(FrameCounts::default),
                    content: None,
                });
                cats.last_mut().expect("pushed")
            }
        };
        c.regions += 1;
        c.counts.add(&r.counts);
        if let (Some(a), Some(b)) = (c.frames.as_mut(), r.frames.as_ref()) {
            a.add(b);
        }
        if let (Some(a), Some(b)) = (ftotal.as_mut(), r.frames.as_ref()) {
            a.add(b);
        }
        if let Some(b) = &r.content {
            c.content.get_or_insert_with(ContentCounts::default).add(b);
            if let Some(a) = ctotal.as_mut() {
                a.add(b);
            }
        }
    }
    cats.sort_by_key(|c| c.category);
    let mut unavailable = Vec::new();
    if !frames {
        unavailable.push(
            "KSM, THP, zero-page, idle and shared-frame counts: need root \
             (PFNs in pagemap and /proc/kpageflags are zero or unreadable without CAP_SYS_ADMIN)",
        );
    }
    if total.huge.is_none() {
        unavailable.push("huge and zero-PFN page counts: need the PAGEMAP_SCAN ioctl (Linux 6.7+)");
    }
    PagesReport {
        page_size,
        regions,
        categories: cats,
        total,
        frames: ftotal,
        content: ctotal,
        unavailable,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::pagemap::{EXCLUSIVE, PRESENT, PageRegion, PagemapEntry};

    #[test]
    fn strips() {
        assert_eq!(strip(&[], 8, 4), "    ");
        assert_eq!(strip(&[(0, 8)], 8, 4), "####");
        assert_eq!(strip(&[(0, 1)], 16, 4), ".   ");
        assert_eq!(strip(&[(0, 1)], 8, 4), ":   ");
        assert_eq!(strip(&[(0, 3)], 8, 2), "+ ");
        assert_eq!(strip(&[(0, 2)], 16, 2), ". ");
        assert_eq!(strip(&[(0, 3)], 16, 2), ": ");
        // More cells than pages: one cell a page.
        assert_eq!(strip(&[(1, 2)], 3, 64), " # ");
        // 64 MiB, every 4th MiB, 1 MiB cells.
        let pages = 16384;
        let runs: Vec<_> = (0..16).map(|i| (i * 1024, i * 1024 + 256)).collect();
        let s = strip(&runs, pages, 64);
        assert_eq!(s, "#   ".repeat(16));
    }

    #[test]
    fn content_definitions() {
        let mut ix = ContentIndex::default();
        let mut c = ContentCounts::default();
        let zero = vec![0u8; 4096];
        let a: Vec<u8> = (0..4096).map(|i| (i % 251) as u8).collect();
        let mut b = a.clone();
        b[4095] ^= 1;
        for p in [&zero, &a, &b, &a, &zero, &a] {
            ix.add(&mut c, p);
        }
        assert_eq!(
            c,
            ContentCounts {
                read: 6,
                zero: 2,
                duplicate: 2,
                unreadable: 0
            }
        );
    }

    #[test]
    fn counts_from_runs() {
        let r = RegionRead {
            runs: vec![
                PageRegion {
                    start: 0x1000,
                    end: 0x3000,
                    categories: category::PRESENT,
                },
                PageRegion {
                    start: 0x5000,
                    end: 0x6000,
                    categories: category::SWAPPED | category::FILE,
                },
            ],
            entries: vec![PagemapEntry(PRESENT | EXCLUSIVE), PagemapEntry(PRESENT)],
            via: Some(Mechanism::PagemapScan),
            complete: true,
            ..RegionRead::default()
        };
        let c = count(&r, 8, 0x1000);
        assert_eq!(
            (c.present, c.swapped, c.file_shared, c.exclusive),
            (2, 1, 1, 1)
        );
        assert_eq!(c.huge, Some(0));
        let r = RegionRead {
            via: Some(Mechanism::Pagemap),
            ..r
        };
        assert_eq!(count(&r, 8, 0x1000).huge, None);
        // Records no kernel writes (found by `cargo fuzz pagemap`): present
        // and swapped at once counts as present; an inverted one as empty.
        let odd = RegionRead {
            runs: vec![
                PageRegion {
                    start: 0x1000,
                    end: 0x3000,
                    categories: category::PRESENT | category::SWAPPED,
                },
                PageRegion {
                    start: 0x9000,
                    end: 0x4000,
                    categories: category::SWAPPED,
                },
            ],
            via: Some(Mechanism::PagemapScan),
            ..RegionRead::default()
        };
        let c = count(&odd, 8, 0x1000);
        assert_eq!((c.present, c.swapped), (2, 0));
    }
}
