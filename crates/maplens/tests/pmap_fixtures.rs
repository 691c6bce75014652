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

/// Two mappings of a saved smaps with figures of 8 to 10 digits (RSS
/// ≥ 10,000,000 kB), as the kernel prints them (`%8lu`, wider when needed).
const BIG_SMAPS: &str = "\
7e0000000000-7f0000000000 r--p 00000000 fe:00 42                         /data/huge.bin
Size:           1073741824 kB
Rss:            1000000000 kB
Pss:             999999999 kB
Shared_Dirty:          1 kB
Private_Dirty:  1000000000 kB
Swap:                  0 kB
VmFlags: rd mr mw me
7f0000000000-7f0400000000 rw-p 00000000 00:00 0 
Size:           16777216 kB
Rss:            12345678 kB
Pss:            12345678 kB
Shared_Dirty:          0 kB
Private_Dirty:  12345678 kB
Swap:                  0 kB
VmFlags: rd wr mr mw me ac
";

fn pmap_from(opts: &[&str], text: &str) -> (String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("saved");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .arg("pmap")
        .args(opts)
        .arg("--from")
        .arg(&file)
        .output()
        .expect("run maplens");
    assert!(out.status.success(), "{opts:?}: {out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (stdout, stderr, dir)
}

/// procps-ng 4.0.2 prints `-x`, the default and `-d` with printf minimum
/// widths (`%7lu`, `%6lu`): a wider number pushes the rest of the line
/// right. `-X` sizes each column to the widest of its name, values and
/// total (`-q`: values only), every cell right-justified. The expected
/// text follows those rules (checked live against /usr/bin/pmap at 8 digits
/// by `pmap_live::twenty_gib_mapping_matches_procps`).
#[test]
fn figures_of_ten_digits_keep_procps_columns() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-x"],
            "Address           Kbytes     RSS   Dirty Mode  Mapping
00007e0000000000 1073741824 1000000000 1000000001 r---- huge.bin
00007f0000000000 16777216 12345678 12345678 rw---   [ anon ]
---------------- ------- ------- ------- 
total kB         1090519040 1012345678 1012345679
",
        ),
        (
            &["-X"],
            "     Address Perm   Offset Device Inode       Size        Rss        Pss Swap Mapping
7e0000000000 r--p 00000000  fe:00    42 1073741824 1000000000  999999999    0 huge.bin
7f0000000000 rw-p 00000000  00:00     0   16777216   12345678   12345678    0 
                                        ========== ========== ========== ==== 
                                        1090519040 1012345678 1012345677    0 KB 
",
        ),
        (
            &["-X", "-q"],
            "7e0000000000 r--p 00000000 fe:00 42 1073741824 1000000000 999999999 0 huge.bin
7f0000000000 rw-p 00000000 00:00  0   16777216   12345678  12345678 0 
",
        ),
        (
            &["-XX"],
            "     Address Perm   Offset Device Inode       Size        Rss        Pss Shared_Dirty Private_Dirty Swap           VmFlags Mapping
7e0000000000 r--p 00000000  fe:00    42 1073741824 1000000000  999999999            1    1000000000    0       rd mr mw me huge.bin
7f0000000000 rw-p 00000000  00:00     0   16777216   12345678   12345678            0      12345678    0 rd wr mr mw me ac 
                                        ========== ========== ========== ============ ============= ==== 
                                        1090519040 1012345678 1012345677            1    1012345678    0 KB 
",
        ),
        (
            &[],
            "00007e0000000000 1073741824K r---- huge.bin
00007f0000000000 16777216K rw---   [ anon ]
 total       1090519040K
",
        ),
        (
            &["-d"],
            "Address           Kbytes Mode  Offset           Device    Mapping
00007e0000000000 1073741824 r---- 0000000000000000 0fe:00000 huge.bin
00007f0000000000 16777216 rw--- 0000000000000000 000:00000   [ anon ]
mapped: 1090519040K    writeable/private: 16777216K    shared: 0K
",
        ),
    ];
    for (opts, want) in cases {
        let (got, _, _dir) = pmap_from(opts, BIG_SMAPS);
        let body = got.split_once('\n').map_or("", |(_, b)| b);
        assert_eq!(body, *want, "{opts:?}");
    }
}

/// `--from FILE` names the file in its header (not `0:`), and a PID given
/// with it labels the saved text.
#[test]
fn from_header_names_the_file() {
    let (got, _, dir) = pmap_from(&[], BIG_SMAPS);
    let file = dir.path().join("saved");
    assert_eq!(
        got.lines().next().unwrap(),
        format!("{}:   (from a saved file)", file.display())
    );
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(["pmap", "-x", "--from"])
        .arg(&file)
        .arg("1234")
        .output()
        .unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        got.lines().next().unwrap(),
        format!("1234:   (from {})", file.display())
    );
}

/// `-x --from` a maps file: residency is unknown, so RSS and Dirty show
/// `-` (not zeros, as if measured), with one note on stderr.
#[test]
fn x_from_maps_says_residency_is_unknown() {
    let maps: String = BIG_SMAPS
        .lines()
        .filter(|l| !l.starts_with(char::is_uppercase))
        .map(|l| format!("{l}\n"))
        .collect();
    let (got, err, _dir) = pmap_from(&["-x"], &maps);
    let body = got.split_once('\n').map_or("", |(_, b)| b);
    assert_eq!(
        body,
        "Address           Kbytes     RSS   Dirty Mode  Mapping
00007e0000000000 1073741824       -       - r---- huge.bin
00007f0000000000 16777216       -       - rw---   [ anon ]
---------------- ------- ------- ------- 
total kB         1090519040       -       -
"
    );
    assert!(
        err.contains("residency unknown") && err.lines().count() == 1,
        "{err}"
    );
    // With smaps, the figures are measured and nothing is said.
    let (got, err, _dir) = pmap_from(&["-x"], BIG_SMAPS);
    assert!(!got.contains(" - "), "{got}");
    assert_eq!(err, "");
}

/// A missing `--from` file named with an escape sequence is named escaped on
/// stderr: `pmap: \x1b]0;t\x07: No such file…`, never the raw bytes.
#[test]
fn missing_from_file_is_named_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("\x1b]0;t\x07");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(["pmap", "--from"])
        .arg(&name)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(r"\x1b]0;t\x07"), "{err}");
    assert!(!err.bytes().any(|b| b < 0x20 && b != b'\n'), "{err:?}");
}
