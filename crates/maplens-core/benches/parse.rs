//! Parser throughput on a large, realistic process: 60,000 regions of maps
//! text and the matching smaps text (6.x kernel field set).
//!
//! `cargo bench -p maplens-core --bench parse`

use criterion::{Criterion, Throughput, criterion_group};
use maplens_core::model::Snapshot;
use maplens_core::parse::{Field, Mode, Parser, parse_all};
use std::fmt::Write as _;
use std::hint::black_box;

const REGIONS: usize = 60_000;

/// Small deterministic generator (no dependency, same text every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LIBS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libm.so.6",
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.33",
    "/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0.8000.0",
    "/usr/lib/x86_64-linux-gnu/libgtk-3.so.0.2409.32",
    "/usr/lib/jvm/java-21-openjdk-amd64/lib/server/libjvm.so",
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/opt/app/lib/libwebkit2gtk-4.1.so.0.13.7",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/memfd:gdk-wayland (deleted)",
    "/dev/zero (deleted)",
];

const ANON_NAMES: &[&str] = &[
    "[anon:libc_malloc]",
    "[anon:dalvik-main space]",
    "[anon:scudo:primary]",
];

struct Region {
    start: u64,
    end: u64,
    perms: &'static str,
    offset: u64,
    dev: &'static str,
    inode: u64,
    name: String,
    flags: &'static str,
}

fn regions() -> Vec<Region> {
    let mut r = Lcg(0x5eed);
    let mut addr: u64 = 0x55d0_c0a0_0000;
    let mut out = Vec::with_capacity(REGIONS);
    for i in 0..REGIONS {
        let pages = 1 + r.below(64) * if r.below(8) == 0 { 64 } else { 1 };
        let start = addr;
        let end = start + pages * 4096;
        addr = end
            + if r.below(4) == 0 {
                4096 * r.below(16)
            } else {
                0
            };
        let kind = r.below(100);
        let (perms, dev, inode, name, flags, offset) = if i == 5 {
            (
                "rw-p",
                "00:00",
                0,
                "[heap]".to_string(),
                "rd wr mr mw me ac ",
                0,
            )
        } else if kind < 45 {
            let lib = LIBS[r.below(LIBS.len() as u64) as usize];
            let (p, f) = match r.below(4) {
                0 => ("r--p", "rd mr mw me "),
                1 => ("r-xp", "rd ex mr mw me "),
                2 => ("r--p", "rd mr mw me ac "),
                _ => ("rw-p", "rd wr mr mw me ac "),
            };
            (
                p,
                "fe:00",
                100_000 + r.below(900_000),
                lib.to_string(),
                f,
                4096 * r.below(4096),
            )
        } else if kind < 85 {
            ("rw-p", "00:00", 0, String::new(), "rd wr mr mw me ac ", 0)
        } else if kind < 92 {
            let n = ANON_NAMES[r.below(ANON_NAMES.len() as u64) as usize];
            ("rw-p", "00:00", 0, n.to_string(), "rd wr mr mw me ac ", 0)
        } else if kind < 97 {
            ("---p", "00:00", 0, String::new(), "mr mw me nr ", 0)
        } else {
            (
                "rw-p",
                "00:00",
                0,
                "[stack]".to_string(),
                "rd wr mr mw me gd ac ",
                0,
            )
        };
        out.push(Region {
            start,
            end,
            perms,
            offset,
            dev,
            inode,
            name,
            flags,
        });
    }
    out
}

fn header(s: &mut String, g: &Region) {
    let before = s.len();
    let _ = write!(
        s,
        "{:08x}-{:08x} {} {:08x} {} {} ",
        g.start, g.end, g.perms, g.offset, g.dev, g.inode
    );
    if !g.name.is_empty() {
        while s.len() - before < 73 {
            s.push(' ');
        }
        s.push_str(&g.name);
    }
    s.push('\n');
}

fn maps_text(rs: &[Region]) -> String {
    let mut s = String::with_capacity(rs.len() * 100);
    for g in rs {
        header(&mut s, g);
    }
    s
}

fn smaps_text(rs: &[Region]) -> String {
    let mut r = Lcg(7);
    let mut s = String::with_capacity(rs.len() * 800);
    for g in rs {
        header(&mut s, g);
        let size = (g.end - g.start) / 1024;
        let rss = if r.below(3) == 0 {
            0
        } else {
            r.below(size + 1)
        };
        let pss = rss / (1 + r.below(3));
        let anon = if g.inode == 0 { rss } else { 0 };
        let kv: [(&str, u64); 22] = [
            ("Size", size),
            ("KernelPageSize", 4),
            ("MMUPageSize", 4),
            ("Rss", rss),
            ("Pss", pss),
            ("Pss_Dirty", anon),
            ("Shared_Clean", rss - anon),
            ("Shared_Dirty", 0),
            ("Private_Clean", 0),
            ("Private_Dirty", anon),
            ("Referenced", rss),
            ("Anonymous", anon),
            ("KSM", 0),
            ("LazyFree", 0),
            ("AnonHugePages", 0),
            ("ShmemPmdMapped", 0),
            ("FilePmdMapped", 0),
            ("Shared_Hugetlb", 0),
            ("Private_Hugetlb", 0),
            ("Swap", 0),
            ("SwapPss", 0),
            ("Locked", 0),
        ];
        for (k, v) in kv {
            // The kernel's SEQ_PUT_DEC: key, then the value right-aligned
            // so that " kB" ends at column 28.
            let _ = writeln!(s, "{:<width$}{v:>8} kB", format!("{k}:"), width = 16);
        }
        let _ = writeln!(s, "THPeligible:           {}", r.below(2));
        let _ = writeln!(s, "VmFlags: {}", g.flags);
    }
    s
}

fn bench(c: &mut Criterion) {
    let rs = regions();
    let maps = maps_text(&rs);
    let smaps = smaps_text(&rs);
    assert_eq!(
        parse_all(maps.as_bytes(), Mode::Strict)
            .map(|p| p.entries.len())
            .ok(),
        Some(REGIONS)
    );
    assert_eq!(
        parse_all(smaps.as_bytes(), Mode::Strict)
            .map(|p| p.entries.len())
            .ok(),
        Some(REGIONS)
    );

    let mut g = c.benchmark_group("parse");
    g.sample_size(30);
    g.throughput(Throughput::Bytes(maps.len() as u64));
    g.bench_function("maps/parse_all", |b| {
        b.iter(|| parse_all(black_box(maps.as_bytes()), Mode::Strict).map(|p| p.entries.len()))
    });
    g.bench_function("maps/iter_sum_size", |b| {
        b.iter(|| {
            Parser::new(black_box(maps.as_bytes()))
                .filter_map(Result::ok)
                .map(|e| e.header.size())
                .sum::<u64>()
        })
    });
    g.throughput(Throughput::Bytes(smaps.len() as u64));
    g.bench_function("smaps/parse_all", |b| {
        b.iter(|| parse_all(black_box(smaps.as_bytes()), Mode::Strict).map(|p| p.entries.len()))
    });
    g.bench_function("smaps/iter_sum_rss", |b| {
        b.iter(|| {
            Parser::new(black_box(smaps.as_bytes()))
                .filter_map(Result::ok)
                .filter_map(|e| e.smaps)
                .map(|s| s.known.get_or_zero(Field::Rss))
                .sum::<u64>()
        })
    });
    // What a user waits for: the text parsed and turned into the model
    // (regions with their smaps figures, overlaps resolved).
    g.bench_function("smaps/snapshot", |b| {
        b.iter(|| {
            Snapshot::from_text("smaps", black_box(smaps.as_bytes()), Mode::Strict)
                .map(|s| s.regions.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

/// `MAPLENS_PROFILE=maps|smaps [MAPLENS_PROFILE_ITERS=n]
/// [MAPLENS_PROFILE_ITER_ONLY=1]`: no criterion, just parse the text n times
/// (with `parse_all`, or only iterating `Parser`), for `perf` or
/// `valgrind --tool=callgrind`.
fn profile(which: &str) {
    let rs = regions();
    let text = if which == "maps" {
        maps_text(&rs)
    } else {
        smaps_text(&rs)
    };
    let iters: usize = std::env::var("MAPLENS_PROFILE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let t = std::time::Instant::now();
    let mut n = 0;
    let iter_only = std::env::var_os("MAPLENS_PROFILE_ITER_ONLY").is_some();
    for _ in 0..iters {
        n += if iter_only {
            Parser::new(black_box(text.as_bytes()))
                .filter_map(Result::ok)
                .count()
        } else {
            parse_all(black_box(text.as_bytes()), Mode::Strict).map_or(0, |p| p.entries.len())
        };
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{which}: {} bytes x {iters}: {n} entries, {:.0} MB/s",
        text.len(),
        (text.len() * iters) as f64 / secs / 1e6
    );
}

fn main() {
    if let Ok(which) = std::env::var("MAPLENS_PROFILE") {
        profile(&which);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
