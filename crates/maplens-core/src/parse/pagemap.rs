//! `/proc/PID/pagemap` entries and `PAGEMAP_SCAN` results: bytes in,
//! values out, no I/O.
//!
//! Each virtual page has one 64-bit entry in pagemap, in the byte order of
//! the machine, at offset `(address / page_size) * 8`. The bit layout is the
//! kernel's (Documentation/admin-guide/mm/pagemap.rst):
//!
//! | bits  | meaning |
//! |-------|---------|
//! | 0–54  | page frame number, when present (zero to readers without `CAP_SYS_ADMIN`) |
//! | 0–4   | swap type, when swapped |
//! | 5–54  | swap offset, when swapped |
//! | 55    | soft-dirty |
//! | 56    | page exclusively mapped (4.2+) |
//! | 57    | write-protected by userfaultfd |
//! | 58    | guard region (`MADV_GUARD_INSTALL`, 6.15+) |
//! | 61    | file page or shared anonymous |
//! | 62    | swapped |
//! | 63    | present |
//!
//! `PAGEMAP_SCAN` (6.7+, an ioctl on the pagemap file) answers with runs of
//! pages of the same categories, as an array of `struct page_region`
//! (`start`, `end`, `categories`: three `u64`), decoded by
//! [`page_regions`].
//!
//! ```
//! use maplens_core::parse::pagemap::PagemapEntry;
//! let e = PagemapEntry(1 << 63 | 1 << 56 | 0x1234);
//! assert!(e.present() && e.exclusive() && !e.swapped());
//! assert_eq!(e.pfn(), Some(0x1234));
//! assert_eq!(PagemapEntry(0).pfn(), None);
//! ```

/// One pagemap entry (the 64 bits of one virtual page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PagemapEntry(pub u64);

/// Bits 0–54: the page frame number of a present page.
pub const PFN_MASK: u64 = (1 << 55) - 1;
/// Bit 55: the page was written since `clear_refs` was last given 4.
pub const SOFT_DIRTY: u64 = 1 << 55;
/// Bit 56: the page is mapped by this process only.
pub const EXCLUSIVE: u64 = 1 << 56;
/// Bit 57: write-protected through userfaultfd.
pub const UFFD_WP: u64 = 1 << 57;
/// Bit 58: a guard region (`MADV_GUARD_INSTALL`).
pub const GUARD: u64 = 1 << 58;
/// Bit 61: a page of a file, or shared anonymous memory.
pub const FILE_SHARED: u64 = 1 << 61;
/// Bit 62: swapped out.
pub const SWAPPED: u64 = 1 << 62;
/// Bit 63: present in RAM.
pub const PRESENT: u64 = 1 << 63;

impl PagemapEntry {
    /// Present in RAM (bit 63).
    pub const fn present(self) -> bool {
        self.0 & PRESENT != 0
    }
    /// Swapped out (bit 62).
    pub const fn swapped(self) -> bool {
        self.0 & SWAPPED != 0
    }
    /// A file page or shared anonymous memory (bit 61).
    pub const fn file_shared(self) -> bool {
        self.0 & FILE_SHARED != 0
    }
    /// Mapped by this process only (bit 56).
    pub const fn exclusive(self) -> bool {
        self.0 & EXCLUSIVE != 0
    }
    /// Soft-dirty (bit 55): needs `CONFIG_MEM_SOFT_DIRTY`, else always 0.
    pub const fn soft_dirty(self) -> bool {
        self.0 & SOFT_DIRTY != 0
    }
    /// Write-protected by userfaultfd (bit 57).
    pub const fn uffd_wp(self) -> bool {
        self.0 & UFFD_WP != 0
    }
    /// A guard region (bit 58, 6.15+).
    pub const fn guard(self) -> bool {
        self.0 & GUARD != 0
    }
    /// The page frame number of a present page; `None` when not present or
    /// hidden (the kernel writes 0 for readers without `CAP_SYS_ADMIN`).
    pub const fn pfn(self) -> Option<u64> {
        if self.present() && self.0 & PFN_MASK != 0 {
            Some(self.0 & PFN_MASK)
        } else {
            None
        }
    }
    /// Swap type and offset of a swapped page (bits 0–4 and 5–54), when
    /// the reader may see them (they too are zero without privilege).
    pub const fn swap_entry(self) -> Option<(u8, u64)> {
        if self.swapped() && !self.present() {
            Some(((self.0 & 0x1f) as u8, (self.0 & PFN_MASK) >> 5))
        } else {
            None
        }
    }
}

/// The entries in a buffer read from pagemap (native byte order; a short
/// tail of fewer than 8 bytes is ignored).
///
/// ```
/// use maplens_core::parse::pagemap::{entries, PagemapEntry, PRESENT};
/// let mut b = Vec::new();
/// b.extend_from_slice(&PRESENT.to_ne_bytes());
/// b.extend_from_slice(&0u64.to_ne_bytes());
/// let e: Vec<_> = entries(&b).collect();
/// assert_eq!(e, [PagemapEntry(PRESENT), PagemapEntry(0)]);
/// ```
pub fn entries(bytes: &[u8]) -> impl Iterator<Item = PagemapEntry> + '_ {
    bytes
        .chunks_exact(8)
        .map(|c| PagemapEntry(u64::from_ne_bytes(c.try_into().expect("8 bytes"))))
}

/// The byte offset in pagemap of the entry of the page holding `addr`.
pub const fn offset_of(addr: u64, page_size: u64) -> u64 {
    (addr / page_size) * 8
}

/// `PAGEMAP_SCAN` categories (`PAGE_IS_*` in include/uapi/linux/fs.h).
pub mod category {
    /// Write-protect through userfaultfd is allowed (`PAGE_IS_WPALLOWED`).
    pub const WPALLOWED: u64 = 1 << 0;
    /// Written since write-protected (`PAGE_IS_WRITTEN`).
    pub const WRITTEN: u64 = 1 << 1;
    /// A file page or shared memory (`PAGE_IS_FILE`).
    pub const FILE: u64 = 1 << 2;
    /// Present (`PAGE_IS_PRESENT`).
    pub const PRESENT: u64 = 1 << 3;
    /// Swapped (`PAGE_IS_SWAPPED`).
    pub const SWAPPED: u64 = 1 << 4;
    /// Mapped to the shared zero page (`PAGE_IS_PFNZERO`).
    pub const PFNZERO: u64 = 1 << 5;
    /// Part of a huge page, THP or hugetlb (`PAGE_IS_HUGE`).
    pub const HUGE: u64 = 1 << 6;
    /// Soft-dirty (`PAGE_IS_SOFT_DIRTY`).
    pub const SOFT_DIRTY: u64 = 1 << 7;
    /// A guard region (`PAGE_IS_GUARD`, 6.15+).
    pub const GUARD: u64 = 1 << 8;
    /// Every category maplens asks for (all but the userfaultfd ones).
    pub const REPORTED: u64 = FILE | PRESENT | SWAPPED | PFNZERO | HUGE | SOFT_DIRTY | GUARD;
}

/// One run of pages with the same categories, as `PAGEMAP_SCAN` returns it
/// (`struct page_region`, the same layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRegion {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `PAGE_IS_*` bits ([`category`]).
    pub categories: u64,
}

/// Size in bytes of one `struct page_region`.
pub const PAGE_REGION_SIZE: usize = 24;

/// The runs in the first `count` records of a `PAGEMAP_SCAN` output buffer
/// (native byte order; records past the buffer are ignored).
///
/// ```
/// use maplens_core::parse::pagemap::{page_regions, category, PageRegion};
/// let mut b = Vec::new();
/// for v in [0x1000u64, 0x3000, category::PRESENT] {
///     b.extend_from_slice(&v.to_ne_bytes());
/// }
/// assert_eq!(
///     page_regions(&b, 1).collect::<Vec<_>>(),
///     [PageRegion { start: 0x1000, end: 0x3000, categories: category::PRESENT }]
/// );
/// ```
pub fn page_regions(bytes: &[u8], count: usize) -> impl Iterator<Item = PageRegion> + '_ {
    bytes.chunks_exact(PAGE_REGION_SIZE).take(count).map(|c| {
        let w = |i: usize| u64::from_ne_bytes(c[i * 8..i * 8 + 8].try_into().expect("8"));
        PageRegion {
            start: w(0),
            end: w(1),
            categories: w(2),
        }
    })
}

/// `struct pm_scan_arg`, the argument of `PAGEMAP_SCAN` (96 bytes, layout
/// of include/uapi/linux/fs.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PmScanArg {
    /// Size of this struct (96).
    pub size: u64,
    /// `PM_SCAN_*` flags (maplens sets none: it never write-protects).
    pub flags: u64,
    /// First address to scan (page aligned).
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Out: where the walk stopped (`end` when done).
    pub walk_end: u64,
    /// Address of the output array of `struct page_region`.
    pub vec: u64,
    /// Its length in records.
    pub vec_len: u64,
    /// Most pages to report (0: no limit).
    pub max_pages: u64,
    /// Categories whose meaning is inverted before matching.
    pub category_inverted: u64,
    /// A page matches only with all of these.
    pub category_mask: u64,
    /// … and at least one of these (0: any).
    pub category_anyof_mask: u64,
    /// Categories reported in the output.
    pub return_mask: u64,
}

/// Size of `struct pm_scan_arg`.
pub const PM_SCAN_ARG_SIZE: usize = 96;

impl PmScanArg {
    /// A scan of `start..end` reporting the runs of pages that are present,
    /// swapped or guards, with [`category::REPORTED`], into `vec_len`
    /// records at address `vec`.
    pub const fn resident_runs(start: u64, end: u64, vec: u64, vec_len: u64) -> PmScanArg {
        PmScanArg {
            size: PM_SCAN_ARG_SIZE as u64,
            flags: 0,
            start,
            end,
            walk_end: 0,
            vec,
            vec_len,
            max_pages: 0,
            category_inverted: 0,
            category_mask: 0,
            category_anyof_mask: category::PRESENT | category::SWAPPED | category::GUARD,
            return_mask: category::REPORTED,
        }
    }
}

/// The categories `PAGEMAP_SCAN` would give a page with this pagemap
/// entry (those an entry can tell: present, swapped, file, soft-dirty,
/// guard), so the per-page fallback and the scan count alike.
pub const fn categories_of(e: PagemapEntry) -> u64 {
    let mut c = 0;
    if e.present() {
        c |= category::PRESENT;
    }
    // Present wins: the kernel never sets both, and a page counts once.
    if e.swapped() && !e.present() {
        c |= category::SWAPPED;
    }
    if e.file_shared() {
        c |= category::FILE;
    }
    if e.soft_dirty() {
        c |= category::SOFT_DIRTY;
    }
    if e.guard() {
        c |= category::GUARD;
    }
    c
}

/// Builds the runs of a region read entry by entry (the fallback when
/// `PAGEMAP_SCAN` is missing): consecutive pages with the same
/// [`categories_of`] make one run, pages with none (not present, not
/// swapped, no flag) make none, and the entries of present pages are kept
/// in order.
///
/// ```
/// use maplens_core::parse::pagemap::{PagemapEntry, Runs, PRESENT, category};
/// let mut r = Runs::new(0x1000);
/// for (i, e) in [PRESENT, PRESENT, 0, PRESENT].into_iter().enumerate() {
///     r.push(0x10000 + i as u64 * 0x1000, PagemapEntry(e));
/// }
/// assert_eq!(r.runs.len(), 2);
/// assert_eq!((r.runs[0].start, r.runs[0].end), (0x10000, 0x12000));
/// assert_eq!(r.runs[1].categories, category::PRESENT);
/// assert_eq!(r.entries.len(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Runs {
    /// The page size.
    pub page_size: u64,
    /// The runs so far, in address order.
    pub runs: Vec<PageRegion>,
    /// The entries of the present pages so far, in address order.
    pub entries: Vec<PagemapEntry>,
}

impl Runs {
    /// No runs yet, for pages of `page_size` bytes.
    pub const fn new(page_size: u64) -> Runs {
        Runs {
            page_size,
            runs: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Adds the page at `addr` (pages in ascending address order).
    pub fn push(&mut self, addr: u64, e: PagemapEntry) {
        let c = categories_of(e);
        if c == 0 {
            return;
        }
        if e.present() {
            self.entries.push(e);
        }
        let ps = self.page_size;
        match self.runs.last_mut() {
            Some(l) if l.end == addr && l.categories == c => l.end += ps,
            _ => self.runs.push(PageRegion {
                start: addr,
                end: addr + ps,
                categories: c,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries built from the documented bit numbers, not the constants.
    #[test]
    fn documented_bits() {
        let present_pfn = (1u64 << 63) | 0x7f_ffff_ffff_ffff; // 55-bit PFN, all ones
        let e = PagemapEntry(present_pfn);
        assert!(e.present());
        assert_eq!(e.pfn(), Some((1 << 55) - 1));
        assert!(!e.soft_dirty() && !e.exclusive() && !e.swapped());

        // Unprivileged: present, PFN zeroed.
        let e = PagemapEntry(1 << 63 | 1 << 56);
        assert_eq!(e.pfn(), None);
        assert!(e.exclusive());

        // Swapped: type 3, offset 0x1234.
        let e = PagemapEntry(1 << 62 | (0x1234 << 5) | 3);
        assert!(e.swapped() && !e.present());
        assert_eq!(e.swap_entry(), Some((3, 0x1234)));
        assert_eq!(e.pfn(), None);

        for (bit, f) in [
            (55, PagemapEntry::soft_dirty as fn(PagemapEntry) -> bool),
            (56, PagemapEntry::exclusive),
            (57, PagemapEntry::uffd_wp),
            (58, PagemapEntry::guard),
            (61, PagemapEntry::file_shared),
            (62, PagemapEntry::swapped),
            (63, PagemapEntry::present),
        ] {
            assert!(f(PagemapEntry(1 << bit)), "bit {bit}");
            assert!(!f(PagemapEntry(!(1 << bit))), "not bit {bit}");
        }
    }

    #[test]
    fn scan_arg_layout() {
        assert_eq!(std::mem::size_of::<PmScanArg>(), PM_SCAN_ARG_SIZE);
        let a = PmScanArg::resident_runs(0x1000, 0x9000, 0, 4);
        assert_eq!(a.size, 96);
        assert_eq!(a.category_anyof_mask, 8 | 16 | 256);
    }

    #[test]
    fn entries_and_offsets() {
        let mut b = Vec::new();
        for v in [1u64 << 63, 1 << 62, 1 << 61] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.push(0xff); // a torn tail
        let e: Vec<_> = entries(&b).collect();
        assert_eq!(e.len(), 3);
        assert!(e[0].present() && e[1].swapped() && e[2].file_shared());
        assert_eq!(offset_of(0x7f00_0000_1fff, 4096), 0x0007_f000_0001 * 8);
    }

    #[test]
    fn scan_records_and_categories() {
        // The documented values of PAGE_IS_*.
        assert_eq!(category::FILE, 4);
        assert_eq!(category::PRESENT, 8);
        assert_eq!(category::SWAPPED, 16);
        assert_eq!(category::PFNZERO, 32);
        assert_eq!(category::HUGE, 64);
        assert_eq!(category::SOFT_DIRTY, 128);
        assert_eq!(category::GUARD, 256);
        let mut b = Vec::new();
        for v in [0x1000u64, 0x2000, 8, 0x5000, 0x9000, 4 | 8] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        let r: Vec<_> = page_regions(&b, 5).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].end - r[1].start, 0x4000);
        assert_eq!(r[1].categories, category::FILE | category::PRESENT);
        assert_eq!(page_regions(&b, 1).count(), 1);
        let e = PagemapEntry(1 << 63 | 1 << 61 | 1 << 55);
        assert_eq!(
            categories_of(e),
            category::PRESENT | category::FILE | category::SOFT_DIRTY
        );
        // Both bits (never from the kernel; found by `cargo fuzz pagemap`):
        // present only, so the page is not counted twice.
        assert_eq!(
            categories_of(PagemapEntry(1 << 63 | 1 << 62)),
            category::PRESENT
        );
    }
}
