//! Invariants of pagemap, `PAGEMAP_SCAN` and kpageflags decoding and of
//! the page counts made from them, whatever the bytes. Shared by the
//! `cargo fuzz` target `pagemap` (`fuzz/fuzz_targets/pagemap.rs`, which
//! includes this file by path) and the bounded stable run in
//! `tests/fuzz_regress.rs`.
//!
//! Input layout: byte 0 picks the page size (4, 16 or 64 KiB), bytes 1..5
//! the region's first page (little-endian), the rest is the region's
//! pagemap entries (native byte order), one page each; the same bytes are
//! read again as `PAGEMAP_SCAN` records and as kpageflags/kpagecount.

use maplens_core::analysis::pages::{PageCounts, count, frame_counts};
use maplens_core::parse::kpageflags::{self, KPageFlags};
use maplens_core::parse::pagemap::{
    self, PAGE_REGION_SIZE, PageRegion, PagemapEntry, Runs, category,
};
use maplens_core::source::pages::{Mechanism, RegionRead};

/// Every figure of `c` within the region's `pages`, and every page
/// counted once: present + swapped + absent == pages.
fn check_counts(c: &PageCounts, pages: u64, what: &str) {
    assert_eq!(c.pages, pages, "{what}");
    let absent = pages.checked_sub(c.present + c.swapped);
    assert!(
        absent.is_some(),
        "{what}: {} present + {} swapped > {pages} pages",
        c.present,
        c.swapped
    );
    assert_eq!(c.present + c.swapped + absent.unwrap(), pages);
    for (name, v) in [
        ("present", c.present),
        ("swapped", c.swapped),
        ("exclusive", c.exclusive),
        ("file_shared", c.file_shared),
        ("soft_dirty", c.soft_dirty),
        ("guard", c.guard),
        ("huge", c.huge.unwrap_or(0)),
        ("pfn_zero", c.pfn_zero.unwrap_or(0)),
    ] {
        assert!(v <= pages, "{what}: {name} {v} > {pages} pages");
    }
    assert!(c.exclusive <= c.present, "{what}: exclusive > present");
}

/// Runs in address order, disjoint, page-aligned, inside `start..end`.
fn check_runs(runs: &[PageRegion], start: u64, end: u64, ps: u64, what: &str) {
    let mut at = start;
    for r in runs {
        assert!(
            r.start >= at && r.start < r.end && r.end <= end,
            "{what}: {r:?}"
        );
        assert!(
            r.start % ps == 0 && r.end % ps == 0,
            "{what}: unaligned {r:?}"
        );
        assert_ne!(r.categories, 0, "{what}: run without categories");
        at = r.end;
    }
}

/// Panics (with a message) when an invariant does not hold.
pub fn check(input: &[u8]) {
    let Some((&sel, rest)) = input.split_first() else {
        return;
    };
    let ps = [4096u64, 16384, 65536][usize::from(sel % 3)];
    let (first, body) = if rest.len() >= 4 {
        let (a, b) = rest.split_at(4);
        (u64::from(u32::from_le_bytes(a.try_into().unwrap())), b)
    } else {
        (0, rest)
    };
    let start = first * ps;

    // Pagemap entries: a torn tail is ignored.
    let entries: Vec<PagemapEntry> = pagemap::entries(body).collect();
    assert_eq!(entries.len(), body.len() / 8);
    for (e, raw) in entries.iter().zip(body.chunks_exact(8)) {
        assert_eq!(e.0.to_ne_bytes(), raw);
        if let Some(pfn) = e.pfn() {
            assert!(e.present() && pfn != 0 && pfn <= pagemap::PFN_MASK);
        }
        if let Some((t, off)) = e.swap_entry() {
            assert!(e.swapped() && !e.present() && t < 32 && off < 1 << 50);
        }
        let c = pagemap::categories_of(*e);
        assert!(c & !category::REPORTED == 0, "category {c:#x}");
    }
    let pages = entries.len() as u64;
    let end = start + pages * ps;

    // The per-page fallback: runs built page by page, then counted.
    let mut runs = Runs::new(ps);
    for (i, e) in entries.iter().enumerate() {
        runs.push(start + i as u64 * ps, *e);
    }
    check_runs(&runs.runs, start, end, ps, "pagemap runs");
    for w in runs.runs.windows(2) {
        assert!(
            w[0].end != w[1].start || w[0].categories != w[1].categories,
            "runs not merged: {w:?}"
        );
    }
    let in_runs: u64 = runs.runs.iter().map(|r| (r.end - r.start) / ps).sum();
    let flagged = entries.iter().filter(|e| pagemap::categories_of(**e) != 0);
    assert_eq!(in_runs, flagged.count() as u64, "pages in runs");
    let present = entries.iter().filter(|e| e.present()).count();
    assert_eq!(runs.entries.len(), present, "entries of present pages");
    let read = RegionRead {
        runs: runs.runs.clone(),
        entries: runs.entries.clone(),
        frames: runs.entries.iter().map(|e| KPageFlags(e.0)).collect(),
        mapcounts: runs.entries.iter().map(|e| e.0 >> 48).collect(),
        via: Some(Mechanism::Pagemap),
        complete: true,
        read_to: end,
        beyond_user: false,
    };
    let c = count(&read, pages, ps);
    check_counts(&c, pages, "pagemap");
    assert_eq!(c.present, present as u64, "present pages");
    assert_eq!(
        (c.huge, c.pfn_zero),
        (None, None),
        "unknown without the scan"
    );
    let f = frame_counts(&read);
    assert_eq!(f.frames, present as u64);
    for v in [f.ksm, f.thp, f.zero_page, f.idle, f.shared] {
        assert!(v <= f.frames);
    }

    // PAGEMAP_SCAN records: decoded as they are, at most `n` of them.
    let n = usize::from(sel);
    let recs: Vec<PageRegion> = pagemap::page_regions(body, n).collect();
    assert_eq!(recs.len(), n.min(body.len() / PAGE_REGION_SIZE));
    for (r, raw) in recs.iter().zip(body.chunks_exact(PAGE_REGION_SIZE)) {
        assert_eq!(r.start.to_ne_bytes(), raw[..8]);
        assert_eq!(r.categories.to_ne_bytes(), raw[16..]);
    }
    // Whatever the records say, counting them does not panic.
    let raw = RegionRead {
        runs: recs.clone(),
        via: Some(Mechanism::PagemapScan),
        ..RegionRead::default()
    };
    let _ = count(&raw, pages, ps);
    // Shaped as the kernel answers (disjoint runs inside the region, any
    // categories), the counts add up.
    let mut shaped = Vec::new();
    let mut at = start;
    for r in &recs {
        let s = at + (r.start % 4) * ps;
        let e = (s + (r.end % 8 + 1) * ps).min(end);
        if s >= e {
            break;
        }
        shaped.push(PageRegion {
            start: s,
            end: e,
            categories: if r.categories == 0 {
                category::PRESENT
            } else {
                r.categories
            },
        });
        at = e;
    }
    check_runs(&shaped, start, end, ps, "scan runs");
    let scan = RegionRead {
        runs: shaped,
        via: Some(Mechanism::PagemapScan),
        complete: true,
        read_to: end,
        ..RegionRead::default()
    };
    let c = count(&scan, pages, ps);
    check_counts(&c, pages, "scan");
    assert!(
        c.huge.is_some() && c.pfn_zero.is_some(),
        "known with the scan"
    );

    // kpageflags/kpagecount records by PFN, and the idle bitmap's words.
    let base = first % 1024;
    for pfn in [
        0,
        base,
        base + 1,
        base + pages,
        base + pages.saturating_sub(1),
        u64::MAX,
    ] {
        let got = kpageflags::record(body, base, pfn);
        let inside = pfn >= base && pfn - base < pages;
        assert_eq!(got.is_some(), inside, "record {pfn} of {pages} from {base}");
        if let Some(v) = got {
            assert_eq!(v, entries[(pfn - base) as usize].0);
        }
    }
    let pfns: Vec<u64> = entries.iter().map(|e| e.0 % (1 << 20)).collect();
    let words = kpageflags::idle_words(&pfns);
    for w in words.windows(2) {
        assert!(w[0].0 < w[1].0, "idle words out of order");
    }
    let mut distinct = pfns.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let bits: u32 = words.iter().map(|w| w.1.count_ones()).sum();
    assert_eq!(bits as usize, distinct.len(), "one bit per frame");
    for p in &pfns {
        let w = words
            .iter()
            .find(|w| w.0 == p / 64 * 8)
            .expect("word of a pfn");
        assert!(w.1 & 1 << (p % 64) != 0);
        assert_eq!(w.0 % 8, 0);
    }
}
