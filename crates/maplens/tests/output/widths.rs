//! Numbers of any width: tables stay aligned up to 2^64 bytes, and a kB
//! figure too large for 64 bits of bytes is reported, never wrapped.

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

/// Two anonymous regions, one holding the largest residency whose bytes fit
/// in 64 bits (2^54 - 1 kB), one small.
fn smaps_text(big_kb: u64) -> String {
    let mut t = String::new();
    for (start, end, rss) in [
        (0x7f00_0000_0000u64, 0x7f00_0000_1000u64, big_kb),
        (0x7f00_0000_2000, 0x7f00_0000_3000, 4),
    ] {
        t.push_str(&format!("{start:x}-{end:x} rw-p 00000000 00:00 0 \n"));
        for k in ["Size", "Rss", "Pss"] {
            let v = if k == "Size" { 4 } else { rss };
            t.push_str(&format!("{k}:{:>20} kB\n", v));
        }
    }
    t
}

fn maplens(args: &[&str]) -> (bool, String, String) {
    let out = Command::cargo_bin("maplens")
        .expect("built")
        .args(args)
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

/// Where each column of a header line ends (right-aligned numbers end at
/// the same column as their header) or starts.
fn col(line: &str, word: &str) -> usize {
    line.find(word)
        .unwrap_or_else(|| panic!("{word} in {line}"))
}

#[test]
fn tables_stay_aligned_at_two_to_the_sixty_four() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("big.smaps");
    let max_kb = u64::MAX >> 10;
    std::fs::write(&f, smaps_text(max_kb)).expect("write");
    let f = f.to_str().expect("utf-8");
    let big = (max_kb * 1024).to_string();

    for exact in [true, false] {
        let mut a = vec!["maps", f];
        if exact {
            a.push("--bytes");
        }
        let (ok, out, err) = maplens(&a);
        assert!(ok, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        let head = lines[0];
        let (rss_end, kind) = (col(head, "RSS") + 3, col(head, "KIND"));
        for row in &lines[1..3] {
            assert_eq!(&row[kind..kind + 9], "anon-mmap", "KIND column in\n{out}");
            let before: String = row[..rss_end]
                .chars()
                .rev()
                .take_while(|c| *c != ' ')
                .collect();
            assert!(!before.is_empty(), "RSS ends under its header in\n{out}");
        }
        if exact {
            assert!(lines[1].contains(&big), "{out}");
            // The sum of the two saturates at 2^64 - 1, never wraps.
            assert!(out.contains(&format!("RSS {}", u64::MAX)), "{out}");
        } else {
            assert!(lines[1].contains("16 EiB"), "{out}");
        }
    }

    // The report's tables too.
    let (ok, out, err) = maplens(&["--bytes", f]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("CATEGORY"))
        .expect("category table");
    let rss_end = col(lines[i], "RSS") + 3;
    for row in &lines[i + 1..i + 3] {
        assert!(row.as_bytes()[rss_end - 1].is_ascii_digit(), "{out}");
        assert_eq!(row.as_bytes().get(rss_end), Some(&b' '), "{out}");
    }
}

#[test]
fn a_figure_beyond_sixty_four_bits_is_reported_not_wrapped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("over.smaps");
    std::fs::write(&f, smaps_text((u64::MAX >> 10) + 1)).expect("write");
    let f = f.to_str().expect("utf-8");
    let (ok, out, err) = maplens(&["maps", "--bytes", f]);
    assert!(ok, "{err}");
    assert!(err.contains("malformed"), "{err}");
    assert!(err.contains("line 3"), "the Rss line is named: {err}");
    // No wrapped figure: the region's RSS is unknown, the other is 4096.
    assert!(!out.contains("18446744073709551615"), "{out}");
    assert!(out.contains("RSS 4096"), "{out}");
}
