//! Every real maps / smaps / smaps_rollup capture in `tests/data/fixtures`
//! parses in strict mode with no error, and what the parser reports agrees
//! with numbers computed here independently, by hand, from the raw lines.
//!
//! The `.pmap` files are `pmap` output, not parser input; they are skipped.

use maplens_core::parse::{Field, Format, Header, Mode, PathKind, parse_all};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (file, regions, format). The counts are those of `grep -cE
/// '^[0-9a-f]+-[0-9a-f]+ '`; the test also recounts them by hand.
const FIXTURES: &[(&str, usize, Format)] = &[
    (
        "aosp-libprocinfo__android-arm64-app.maps",
        2043,
        Format::Maps,
    ),
    (
        "arc-readonly-fs__android-arc-armv7-adbd-oldkernel.maps",
        16,
        Format::Maps,
    ),
    (
        "dlhiddensym__x86_64-openjdk8-tomcat.maps",
        340,
        Format::Maps,
    ),
    (
        "hikvision__arm32-linux2.6-uclibc-busybox-init.maps",
        17,
        Format::Maps,
    ),
    (
        "innofirmware__armv7-linux4.4-miner-stackTID.maps",
        85,
        Format::Maps,
    ),
    (
        "innofirmware__armv7-linux4.4-miner-task20798-view.maps",
        85,
        Format::Maps,
    ),
    (
        "innofirmware__armv7-linux4.4-python34-stackTID.maps",
        109,
        Format::Maps,
    ),
    (
        "isatispro-mm__armv7-raspbian-linux5-thp-tabs.maps",
        29,
        Format::Maps,
    ),
    ("jc__x86_64-linux5-systemd-pid1.maps", 214, Format::Maps),
    (
        "krashpad__x86_64-rhel10-linux6.12-jdk25-hserr-wsstripped.maps",
        187,
        Format::Maps,
    ),
    (
        "krashpad__x86_64-rhel8-linux4.18-jdk8-gtk-wayland-i915-hserr.maps",
        1314,
        Format::Maps,
    ),
    (
        "kylinsoong-jvm__x86_64-rhel5-linux2.6.18-jdk7-hserr.maps",
        821,
        Format::Maps,
    ),
    (
        "localcap__x86_64-linux6.18-python-hugetlb-threads.maps",
        153,
        Format::Maps,
    ),
    (
        "localcap__x86_64-linux6.18-python-oddnames.maps",
        147,
        Format::Maps,
    ),
    (
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.maps",
        49,
        Format::Maps,
    ),
    (
        "aosp-libmeminfo__android-x86_64-cuttlefish-system_server.smaps",
        2760,
        Format::Smaps,
    ),
    (
        "aosp-libmeminfo__android-x86_64-smaps_short.smaps",
        6,
        Format::Smaps,
    ),
    (
        "gracker-memanalysis__pixel3-android12-systemui-kgsl-linux4.9.smaps",
        2885,
        Format::Smaps,
    ),
    (
        "gracker-systraceanalysis__android-arm64-app.smaps",
        3281,
        Format::Smaps,
    ),
    (
        "hikvision__arm32-linux2.6-uclibc-busybox-init-6field.smaps",
        17,
        Format::Smaps,
    ),
    (
        "innofirmware__armv7-linux4.4-miner-stackTID.smaps",
        85,
        Format::Smaps,
    ),
    (
        "innofirmware__armv7-linux4.4-python34-stackTID.smaps",
        109,
        Format::Smaps,
    ),
    (
        "isatispro-mm__armv7-raspbian-linux5-thp-tabs.smaps",
        29,
        Format::Smaps,
    ),
    ("jc__x86_64-linux5-systemd-pid1.smaps", 214, Format::Smaps),
    (
        "localcap__x86_64-linux6.18-python-hugetlb-threads-smaps_rollup.smaps",
        1,
        Format::SmapsRollup,
    ),
    (
        "localcap__x86_64-linux6.18-python-hugetlb-threads.smaps",
        153,
        Format::Smaps,
    ),
    (
        "localcap__x86_64-linux6.18-python-oddnames-smaps_rollup.smaps",
        1,
        Format::SmapsRollup,
    ),
    (
        "localcap__x86_64-linux6.18-python-oddnames.smaps",
        147,
        Format::Smaps,
    ),
    (
        "prometheus-procfs__x86_64-alertmanager-smaps_rollup.smaps",
        1,
        Format::SmapsRollup,
    ),
    (
        "prometheus-procfs__x86_64-alertmanager-trimmed.smaps",
        12,
        Format::Smaps,
    ),
    ("vminfo__armhf-cat.smaps", 20, Format::Smaps),
    (
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.smaps",
        49,
        Format::Smaps,
    ),
];

/// The same process read as maps and as smaps: identical headers.
const PAIRS: &[(&str, &str)] = &[
    (
        "hikvision__arm32-linux2.6-uclibc-busybox-init.maps",
        "hikvision__arm32-linux2.6-uclibc-busybox-init-6field.smaps",
    ),
    (
        "innofirmware__armv7-linux4.4-miner-stackTID.maps",
        "innofirmware__armv7-linux4.4-miner-stackTID.smaps",
    ),
    (
        "innofirmware__armv7-linux4.4-python34-stackTID.maps",
        "innofirmware__armv7-linux4.4-python34-stackTID.smaps",
    ),
    (
        "isatispro-mm__armv7-raspbian-linux5-thp-tabs.maps",
        "isatispro-mm__armv7-raspbian-linux5-thp-tabs.smaps",
    ),
    (
        "jc__x86_64-linux5-systemd-pid1.maps",
        "jc__x86_64-linux5-systemd-pid1.smaps",
    ),
    (
        "localcap__x86_64-linux6.18-python-hugetlb-threads.maps",
        "localcap__x86_64-linux6.18-python-hugetlb-threads.smaps",
    ),
    (
        "localcap__x86_64-linux6.18-python-oddnames.maps",
        "localcap__x86_64-linux6.18-python-oddnames.smaps",
    ),
    (
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.maps",
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.smaps",
    ),
];

/// Kernels 2.6.36 to 4.11 hid the guard page below a `[stack]` from the
/// header's start address (`stack_guard_page_start()` in `show_map_vma()`)
/// but not from smaps' `Size:` (`vma->vm_end - vma->vm_start`). So in these
/// real captures the stack's Size is the header's range plus 4 kB.
const STACK_GUARD_PAGE_IN_SIZE: &[&str] = &[
    "innofirmware__armv7-linux4.4-miner-stackTID.smaps",
    "innofirmware__armv7-linux4.4-python34-stackTID.smaps",
    "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.smaps",
];

// ---- independent, hand-rolled helpers (no parser code) --------------------

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// `^[0-9a-f]+-[0-9a-f]+ `: returns (start, end) when the line is a header.
fn header_range(line: &[u8]) -> Option<(u128, u128)> {
    let a = line.iter().take_while(|&&b| is_lower_hex(b)).count();
    if a == 0 || line.get(a) != Some(&b'-') {
        return None;
    }
    let rest = &line[a + 1..];
    let b = rest.iter().take_while(|&&b| is_lower_hex(b)).count();
    if b == 0 || rest.get(b) != Some(&b' ') {
        return None;
    }
    let val = |h: &[u8]| {
        h.iter().fold(0u128, |v, &c| {
            let d = if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'a' + 10
            };
            v * 16 + u128::from(d)
        })
    };
    Some((val(&line[..a]), val(&rest[..b])))
}

fn text_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
}

/// Sum of the first number after `key:` on every line that starts with it.
fn sum_key(data: &[u8], key: &str) -> u128 {
    let mut prefix = key.as_bytes().to_vec();
    prefix.push(b':');
    text_lines(data)
        .filter_map(|l| l.strip_prefix(&prefix[..]))
        .map(|v| {
            let v: Vec<u8> = v
                .iter()
                .copied()
                .skip_while(|b| *b == b' ' || *b == b'\t')
                .collect();
            let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
            assert!(
                digits > 0,
                "{key}: no number in {:?}",
                String::from_utf8_lossy(&v)
            );
            std::str::from_utf8(&v[..digits])
                .unwrap()
                .parse::<u128>()
                .unwrap()
        })
        .sum()
}

// ---- tests -----------------------------------------------------------------

#[test]
fn every_parser_fixture_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".maps") || n.ends_with(".smaps"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|f| f.0.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn strict_parse_counts_and_sums() {
    for &(name, regions, format) in FIXTURES {
        let data = read(name);
        let parsed = parse_all(&data, Mode::Strict)
            .unwrap_or_else(|e| panic!("{name}: strict parse failed: {e}"));
        assert_eq!(parsed.skipped, 0, "{name}");
        assert!(parsed.errors.is_empty(), "{name}");
        assert_eq!(parsed.format, format, "{name}");

        // Region count, recounted by hand.
        let ranges: Vec<(u128, u128)> = text_lines(&data).filter_map(header_range).collect();
        assert_eq!(ranges.len(), regions, "{name}: hand count");
        assert_eq!(parsed.entries.len(), regions, "{name}: parser count");

        // Every start and end, and Σ(end-start).
        for (e, &(s, t)) in parsed.entries.iter().zip(&ranges) {
            assert_eq!(
                (u128::from(e.header.start), u128::from(e.header.end)),
                (s, t),
                "{name}"
            );
        }
        let hand_size: u128 = ranges.iter().map(|(s, e)| e - s).sum();
        let parser_size: u128 = parsed
            .entries
            .iter()
            .map(|e| u128::from(e.header.size()))
            .sum();
        assert_eq!(parser_size, hand_size, "{name}");

        if format == Format::Maps {
            assert!(parsed.entries.iter().all(|e| e.smaps.is_none()), "{name}");
            continue;
        }
        assert!(parsed.entries.iter().all(|e| e.smaps.is_some()), "{name}");

        // Every known field: parser total == total of the raw `Key:` lines.
        for f in Field::ALL {
            let parser: u128 = parsed
                .entries
                .iter()
                .filter_map(|e| e.smaps.as_deref())
                .map(|s| u128::from(s.known.get_or_zero(*f)))
                .sum();
            assert_eq!(parser, sum_key(&data, f.key()), "{name}: {}", f.key());
        }

        if format == Format::Smaps {
            // Size is the whole region: ΣSize × 1024 == Σ(end-start), by
            // hand and per region by the parser.
            let guard = STACK_GUARD_PAGE_IN_SIZE.contains(&name);
            let extra = if guard { 4096 } else { 0 };
            assert_eq!(
                sum_key(&data, "Size") * 1024,
                hand_size + extra,
                "{name}: Size"
            );
            for e in &parsed.entries {
                let s = e.smaps.as_deref().unwrap();
                if let Some(size) = s.known.get(Field::Size) {
                    let extra = if guard && e.header.path.kind() == PathKind::Stack {
                        4096
                    } else {
                        0
                    };
                    assert_eq!(
                        size * 1024,
                        e.header.size() + extra,
                        "{name} line {}",
                        e.line
                    );
                }
            }
        } else {
            assert_eq!(parsed.entries[0].header.path.kind(), PathKind::Rollup);
        }
    }
}

#[test]
fn maps_and_smaps_of_one_process_have_identical_headers() {
    for &(maps, smaps) in PAIRS {
        let (a, b) = (read(maps), read(smaps));
        let a = parse_all(&a, Mode::Strict).unwrap();
        let b = parse_all(&b, Mode::Strict).unwrap();
        let ha: Vec<Header<'_>> = a.entries.iter().map(|e| e.header).collect();
        let hb: Vec<Header<'_>> = b.entries.iter().map(|e| e.header).collect();
        assert!(!ha.is_empty());
        assert_eq!(ha, hb, "{maps} vs {smaps}");
    }
}

#[test]
fn rss_matches_a_hand_scan_per_region() {
    // Stronger than the totals: the n-th `Rss:` line belongs to the n-th
    // region.
    for &(name, _, format) in FIXTURES {
        if format == Format::Maps {
            continue;
        }
        let data = read(name);
        let parsed = parse_all(&data, Mode::Strict).unwrap();
        let mut hand = Vec::new();
        let mut current: Option<u64> = None;
        for l in text_lines(&data) {
            if header_range(l).is_some() {
                if let Some(v) = current.take() {
                    hand.push(v);
                }
                current = Some(0);
            } else if let Some(v) = l.strip_prefix(b"Rss:") {
                let v = String::from_utf8_lossy(v);
                let n = v.trim().trim_end_matches("kB").trim();
                current = Some(n.parse().unwrap());
            }
        }
        hand.extend(current);
        let got: Vec<u64> = parsed
            .entries
            .iter()
            .map(|e| e.smaps.as_deref().unwrap().known.get_or_zero(Field::Rss))
            .collect();
        assert_eq!(got, hand, "{name}");
    }
}

#[test]
fn hotspot_trailer_is_ignored_not_an_error() {
    let data = read("krashpad__x86_64-rhel10-linux6.12-jdk25-hserr-wsstripped.maps");
    let p = parse_all(&data, Mode::Strict).unwrap();
    assert_eq!(p.ignored, 1);
    assert_eq!(p.entries.len(), 187);
}

#[test]
fn fixture_quirks_are_seen() {
    let count = |name: &str, pred: &dyn Fn(PathKind<'_>) -> bool| {
        let d = read(name);
        let p = parse_all(&d, Mode::Strict).unwrap();
        p.entries
            .iter()
            .filter(|e| pred(e.header.path.kind()))
            .count()
    };
    assert_eq!(
        count(
            "innofirmware__armv7-linux4.4-miner-stackTID.maps",
            &|k| matches!(k, PathKind::ThreadStack(_))
        ),
        13
    );
    assert_eq!(
        count(
            "innofirmware__armv7-linux4.4-miner-task20798-view.maps",
            &|k| matches!(k, PathKind::ThreadStack(_))
        ),
        0
    );
    assert!(
        count(
            "krashpad__x86_64-rhel8-linux4.18-jdk8-gtk-wayland-i915-hserr.maps",
            &|k| k == PathKind::Memfd(b"gdk-wayland")
        ) > 0
    );
    assert!(
        count("localcap__x86_64-linux6.18-python-oddnames.maps", &|k| k
            == PathKind::VvarVclock)
            == 1
    );
    assert!(
        count("localcap__x86_64-linux6.18-python-oddnames.maps", &|k| k
            == PathKind::DevZero)
            >= 1
    );
    assert!(
        count(
            "localcap__x86_64-linux6.18-python-hugetlb-threads.maps",
            &|k| k == PathKind::AnonHugepage
        ) >= 1
    );
    assert!(
        count(
            "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.maps",
            &|k| k == PathKind::SysV(0xabab)
        ) >= 1
    );
}
