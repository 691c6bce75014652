//! `/proc/kpageflags` and `/proc/kpagecount` records: bytes in, values out,
//! no I/O.
//!
//! Both files hold one 64-bit value per page frame, indexed by PFN (offset
//! `pfn * 8`), in the machine's byte order. Reading them needs
//! `CAP_SYS_ADMIN`, and so does seeing PFNs in pagemap at all. The flag bits
//! are the kernel's (Documentation/admin-guide/mm/pagemap.rst); maplens uses
//! those named here.
//!
//! ```
//! use maplens_core::parse::kpageflags::KPageFlags;
//! let f = KPageFlags(1 << 21 | 1 << 12);
//! assert!(f.ksm() && f.anon() && !f.thp());
//! ```

/// The flags of one page frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KPageFlags(pub u64);

/// Bit numbers of `/proc/kpageflags` (`KPF_*`).
pub mod bit {
    /// Locked for I/O.
    pub const LOCKED: u32 = 0;
    /// Recently referenced.
    pub const REFERENCED: u32 = 2;
    /// Dirty.
    pub const DIRTY: u32 = 4;
    /// On an LRU list.
    pub const LRU: u32 = 5;
    /// On the active LRU list.
    pub const ACTIVE: u32 = 6;
    /// Memory-mapped.
    pub const MMAP: u32 = 11;
    /// Anonymous.
    pub const ANON: u32 = 12;
    /// In the swap cache.
    pub const SWAPCACHE: u32 = 13;
    /// Backed by swap (anonymous or shmem).
    pub const SWAPBACKED: u32 = 14;
    /// Head of a compound page.
    pub const COMPOUND_HEAD: u32 = 15;
    /// Tail of a compound page.
    pub const COMPOUND_TAIL: u32 = 16;
    /// A hugetlbfs page.
    pub const HUGE: u32 = 17;
    /// Unevictable (mlocked).
    pub const UNEVICTABLE: u32 = 18;
    /// No page frame at this PFN.
    pub const NOPAGE: u32 = 20;
    /// Merged by KSM.
    pub const KSM: u32 = 21;
    /// Part of a transparent huge page.
    pub const THP: u32 = 22;
    /// The shared zero page (or huge zero page).
    pub const ZERO_PAGE: u32 = 24;
    /// Idle (idle page tracking).
    pub const IDLE: u32 = 25;
}

impl KPageFlags {
    /// Whether bit `b` ([`bit`]) is set.
    pub const fn has(self, b: u32) -> bool {
        self.0 & (1 << b) != 0
    }
    /// Merged by KSM.
    pub const fn ksm(self) -> bool {
        self.has(bit::KSM)
    }
    /// Part of a transparent huge page.
    pub const fn thp(self) -> bool {
        self.has(bit::THP)
    }
    /// The shared zero page.
    pub const fn zero_page(self) -> bool {
        self.has(bit::ZERO_PAGE)
    }
    /// Idle since the bitmap was last set.
    pub const fn idle(self) -> bool {
        self.has(bit::IDLE)
    }
    /// Anonymous.
    pub const fn anon(self) -> bool {
        self.has(bit::ANON)
    }
    /// A hugetlbfs page.
    pub const fn hugetlb(self) -> bool {
        self.has(bit::HUGE)
    }
}

/// The value at `pfn` in a buffer read from kpageflags or kpagecount
/// starting at PFN `first`; `None` outside it.
///
/// ```
/// use maplens_core::parse::kpageflags::record;
/// let mut b = 5u64.to_ne_bytes().to_vec();
/// b.extend_from_slice(&7u64.to_ne_bytes());
/// assert_eq!(record(&b, 100, 101), Some(7));
/// assert_eq!(record(&b, 100, 102), None);
/// ```
pub fn record(bytes: &[u8], first: u64, pfn: u64) -> Option<u64> {
    let i = usize::try_from(pfn.checked_sub(first)?).ok()?;
    let s = bytes.get(i.checked_mul(8)?..i * 8 + 8)?;
    Some(u64::from_ne_bytes(s.try_into().ok()?))
}

/// The writes that mark frames idle in `/sys/kernel/mm/page_idle/bitmap`:
/// one 64-bit word per 64 PFNs (bit `pfn % 64` of the word at byte offset
/// `pfn / 64 * 8`; the file takes only aligned 8-byte words), as `(offset,
/// mask)` in offset order. Reading the same words back, a bit still set is
/// a frame not accessed since (Documentation/admin-guide/mm/idle_page_tracking.rst).
///
/// ```
/// use maplens_core::parse::kpageflags::idle_words;
/// assert_eq!(idle_words(&[3, 1, 64, 130]), [(0, 0b1010), (8, 1), (16, 4)]);
/// ```
pub fn idle_words(pfns: &[u64]) -> Vec<(u64, u64)> {
    let mut sorted = pfns.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for p in sorted {
        let (off, bit) = (p / 64 * 8, 1u64 << (p % 64));
        match out.last_mut() {
            Some((o, m)) if *o == off => *m |= bit,
            _ => out.push((off, bit)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_bit_numbers() {
        // Documentation/admin-guide/mm/pagemap.rst, "kpageflags".
        assert!(KPageFlags(1 << 21).ksm());
        assert!(KPageFlags(1 << 22).thp());
        assert!(KPageFlags(1 << 24).zero_page());
        assert!(KPageFlags(1 << 25).idle());
        assert!(KPageFlags(1 << 12).anon());
        assert!(KPageFlags(1 << 17).hugetlb());
        let all_but = |b: u32| KPageFlags(!(1u64 << b));
        assert!(!all_but(21).ksm() && !all_but(22).thp() && !all_but(25).idle());
        assert!(KPageFlags(1 << 20).has(bit::NOPAGE));
    }

    #[test]
    fn idle_bitmap_words() {
        // One word per 64 PFNs; bit pfn % 64.
        assert_eq!(idle_words(&[]), []);
        assert_eq!(idle_words(&[63, 0]), [(0, 1 | 1 << 63)]);
        assert_eq!(idle_words(&[64 * 1000 + 5]), [(8000, 1 << 5)]);
    }

    #[test]
    fn records_by_pfn() {
        let b: Vec<u8> = (0u64..4).flat_map(|v| (v * 10).to_ne_bytes()).collect();
        assert_eq!(record(&b, 8, 8), Some(0));
        assert_eq!(record(&b, 8, 11), Some(30));
        assert_eq!(record(&b, 8, 7), None);
        assert_eq!(record(&b[..31], 8, 11), None);
    }
}
