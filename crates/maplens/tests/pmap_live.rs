//! `maplens pmap` against the installed procps-ng `pmap`, byte for byte, on
//! frozen (SIGSTOP) children: small with odd names and shared memory, 5,000
//! regions, 200 threads.
//!
//! Shared pages: the kids run a private copy of their binary
//! (`Kid::spawn_copy`), so their own text/data Pss equals Rss and cannot move.
//! libc, ld.so, libgcc and the vdso stay shared with every other process, and
//! their Pss changes whenever any process (pmap itself, a compiler on this
//! machine) maps them. So each comparison is first tried byte for byte, a
//! few times; if Pss drift keeps it from matching, the outputs must still be
//! identical in every line except rows of shared objects (`*.so*`) and the
//! footer, and those rows must agree on every column but the Pss family.
//! Formats without Pss (default, -x, -d) must match byte for byte.

use std::process::{Command, Output};

use maplens_testkid::Kid;

const PMAP: &str = "/usr/bin/pmap";

fn run(bin: &str, pre: &[&str], args: &[String]) -> Output {
    use std::os::unix::process::CommandExt;
    // As a user types it (glibc's getopt messages name argv[0]).
    Command::new(bin)
        .arg0(if bin == PMAP { "pmap" } else { bin })
        .args(pre)
        .args(args)
        .output()
        .expect("run")
}

fn pmap(args: &[String]) -> Output {
    run(PMAP, &[], args)
}

fn maplens(args: &[String]) -> Output {
    run(env!("CARGO_BIN_EXE_maplens"), &["pmap"], args)
}

/// Lines equal except the sharing-dependent columns (Pss, SwapPss, Shared_*,
/// Private_*) of shared-object rows and the
/// footer (see the module docs).
fn equal_but_shared_pss(want: &str, got: &str, header: &str) -> Result<(), String> {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    if w.len() != g.len() {
        return Err("line count".into());
    }
    let head: Vec<&str> = header.split_whitespace().collect();
    for (a, b) in w.iter().zip(&g) {
        if a == b {
            continue;
        }
        let (at, bt): (Vec<&str>, Vec<&str>) = (
            a.split_whitespace().collect(),
            b.split_whitespace().collect(),
        );
        if at == bt {
            // Only the padding moved: a column widened or narrowed because
            // a shared library's Pss changed between the two runs (CI saw
            // the program's own line come out "0 0  0" beside "0 0 0").
            continue;
        }
        let footer = a.starts_with(' ')
            && at
                .iter()
                .all(|t| t.bytes().all(|c| c.is_ascii_digit() || c == b'=') || *t == "KB");
        let shared = at
            .last()
            .is_some_and(|n| n.contains(".so") || *n == "[vdso]");
        if at.len() != bt.len() || !(footer || shared) {
            return Err(format!("want: {a}\n got: {b}"));
        }
        if shared {
            for (i, (x, y)) in at.iter().zip(&bt).enumerate() {
                let col = head.get(i).copied().unwrap_or("");
                // PSS and the private/shared split of a library page move
                // whenever another process maps or unmaps it (CI saw 4 kB
                // of libc text go from Private_Clean to Shared_Clean
                // between the two runs).
                let sharing = col.starts_with("Pss")
                    || col == "SwapPss"
                    || col.starts_with("Shared_")
                    || col.starts_with("Private_");
                if x != y && !sharing {
                    return Err(format!("column {col}\nwant: {a}\n got: {b}"));
                }
            }
        }
    }
    Ok(())
}

/// The option sets every live comparison runs (each test adds its own).
const MODES: &[&[&str]] = &[
    &[],
    &["-x"],
    &["-X"],
    &["-XX"],
    &["-d"],
    &["-q"],
    &["-x", "-q"],
    &["-X", "-q"],
    &["-d", "-q"],
    &["-p"],
];

fn compare(pid: u32, opts: &[&str]) {
    let mut args: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    args.push(pid.to_string());
    let has_pss = opts.iter().any(|o| o.starts_with("-X"));
    let mut last = None;
    for _ in 0..5 {
        // One after the other: each maps libc while it runs.
        let want = pmap(&args);
        let got = maplens(&args);
        assert_eq!(want.status.code(), got.status.code(), "{opts:?}: exit code");
        assert_eq!(
            String::from_utf8_lossy(&want.stderr),
            String::from_utf8_lossy(&got.stderr),
            "{opts:?}: stderr"
        );
        if want.stdout == got.stdout {
            return;
        }
        last = Some((want, got));
    }
    let (want, got) = last.expect("ran");
    let (w, g) = (
        String::from_utf8_lossy(&want.stdout),
        String::from_utf8_lossy(&got.stdout),
    );
    if !has_pss {
        panic!("{opts:?} on {pid}: outputs differ\n{}", first_diff(&w, &g));
    }
    // The column names, from a run without -q.
    let mut full: Vec<String> = args.iter().filter(|a| *a != "-q").cloned().collect();
    full.dedup();
    let header = String::from_utf8_lossy(&maplens(&full).stdout)
        .lines()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    if let Err(e) = equal_but_shared_pss(&w, &g, &header) {
        panic!("{opts:?} on {pid}: {e}");
    }
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\nwant: {x}\n got: {y}", i + 1);
        }
    }
    format!("lengths {} vs {}", a.len(), b.len())
}

/// A range covering some but not all of the kid's mappings.
fn some_range(pid: u32) -> String {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let starts: Vec<&str> = maps.lines().filter_map(|l| l.split('-').next()).collect();
    let lo = starts[starts.len() / 4];
    let hi = starts[starts.len() / 2];
    format!("{lo},{hi}")
}

#[test]
fn matches_procps_pmap_on_frozen_kids() {
    if !std::path::Path::new(PMAP).exists() {
        eprintln!("skipped: {PMAP} is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let small = Kid::spawn_copy(&[
        "--file-spaces",
        d,
        "--file-newline",
        d,
        "--deleted",
        d,
        "--memfd",
        "kid memfd",
        "--sysv-shm",
        "--sysv-key",
        "1234abcd",
        "--shared-anon",
        "--rwx",
        "--big-anon",
        "3",
    ])
    .unwrap();
    let regions = Kid::spawn_copy(&["--regions", "5000"]).unwrap();
    let threads = Kid::spawn_copy(&["--threads", "200", "--thread-names"]).unwrap();
    let kids = [&small, &regions, &threads];
    for k in kids {
        k.stop().unwrap();
    }
    for k in kids {
        let extra: &[&[&str]] = &[&["-XX", "-q"], &["-X", "-p"], &["-d", "-p"]];
        for f in MODES.iter().chain(extra) {
            compare(k.pid, f);
        }
        let r = some_range(k.pid);
        // -A: pmap 4.0.2 ignores it with -X and sums Rss/Dirty of mappings
        // below the range into the -x total (see docs/pmap.md): compare the
        // formats where it is right.
        for f in [&[][..], &["-d"], &["-q", "-x"]] {
            let mut o: Vec<&str> = f.to_vec();
            o.extend(["-A", &r]);
            compare(k.pid, &o);
        }
        let lo = r.split(',').next().unwrap().to_owned();
        compare(k.pid, &["-A", &lo]);
        compare(k.pid, &["-A", &format!(",{lo}")]);
    }
    // Several PIDs in one call, and one that does not exist: exit 42.
    let dead = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    compare(dead, &[]);
    compare(dead, &["-x"]);
    let many = [
        small.pid.to_string(),
        dead.to_string(),
        threads.pid.to_string(),
    ];
    let want = pmap(&many);
    let got = maplens(&many);
    assert_eq!(want.status.code(), Some(42));
    assert_eq!(got.status.code(), Some(42));
    assert_eq!(want.stdout, got.stdout);
    for k in kids {
        k.cont().unwrap();
    }
}

#[test]
fn refuses_what_pmap_refuses() {
    if !std::path::Path::new(PMAP).exists() {
        return;
    }
    let me = std::process::id().to_string();
    for bad in [
        vec!["-x", "-d", &me],
        vec!["-X", "-c", &me],
        vec!["-n", &me],
        vec!["-q", "-n"],
        vec!["-x"],
        vec!["-A", "1x", &me],
        vec!["abc"],
        vec!["0"],
        vec!["--read", &me],
        vec!["--extended=1", &me],
        vec!["-C", "/nonexistent/rc", &me],
    ] {
        let args: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
        let (w, g) = (pmap(&args), maplens(&args));
        assert_eq!(w.status.code(), g.status.code(), "{bad:?}");
        assert_eq!(w.stdout, g.stdout, "{bad:?}");
        // maplens lists its two extensions after pmap's usage text.
        let gs = String::from_utf8_lossy(&g.stderr);
        let gs = gs.split("\nmaplens extensions:").next().unwrap();
        assert_eq!(String::from_utf8_lossy(&w.stderr), gs, "{bad:?}");
    }
}

/// A 20 GiB `MAP_NORESERVE` mapping: its Kbytes (8 digits) overflow the
/// `%7lu` of `-x` and `-d` and widen the `-X` Size column; every mode must
/// still be procps's bytes. (Before the fix, `-x` cut the Kbytes at seven
/// digits and slid the last one into the RSS column.)
#[test]
fn twenty_gib_mapping_matches_procps() {
    if !std::path::Path::new(PMAP).exists() {
        eprintln!("skipped: {PMAP} is not installed");
        return;
    }
    let kid = Kid::spawn_copy(&["--big-anon", "20480"]).unwrap();
    kid.stop().unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", kid.pid)).unwrap();
    assert!(
        maps.lines().any(|l| {
            let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
            let size = u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap();
            size == 20 << 30
        }),
        "no 20 GiB mapping"
    );
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("rc");
    std::fs::write(&rc, "[Fields Display]\nSize\nRss\nMapping\n").unwrap();
    let rc = rc.to_str().unwrap();
    let r = some_range(kid.pid);
    let extra: &[&[&str]] = &[&["-x", "-p"], &["-C", rc], &["-A", &r], &["-d", "-A", &r]];
    for f in MODES.iter().chain(extra) {
        compare(kid.pid, f);
    }
    // -k is not in 4.0.2 (it refuses it): with -k only bracketed names
    // change, so the 20 GiB row must be the same as without it.
    let row = |opts: &[&str]| {
        let mut a: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        a.push(kid.pid.to_string());
        String::from_utf8(maplens(&a).stdout)
            .unwrap()
            .lines()
            .find(|l| l.contains(" 20971520"))
            .map(str::to_owned)
    };
    assert_eq!(row(&["-x", "-k"]), row(&["-x"]));
    assert!(row(&["-x"]).unwrap().contains(" 20971520       "));
}

/// On a terminal (a pty from util-linux `script`), `-X` shows a file named
/// `\x1b]0;title\x07` and one with a newline escaped, as `ls` does; through
/// a pipe (the comparisons above) it is procps's raw bytes.
#[test]
fn terminal_output_is_escaped() {
    let script = "/usr/bin/script";
    if !std::path::Path::new(script).exists() {
        eprintln!("skipped: {script} is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let title = dir.path().join("\x1b]0;title\x07");
    let kid = Kid::spawn_copy(&[
        "--named-file",
        title.to_str().unwrap(),
        "--file-newline",
        dir.path().to_str().unwrap(),
    ])
    .unwrap();
    kid.stop().unwrap();
    let bin = env!("CARGO_BIN_EXE_maplens");
    for opts in ["-X", "-XX", "-X -p", "-x", ""] {
        let cmd = format!("{bin} pmap {opts} {}", kid.pid);
        let out = Command::new(script)
            .args(["-qc", &cmd, "/dev/null"])
            .output()
            .expect("script");
        let text = out.stdout;
        let bad: Vec<u8> = text
            .iter()
            .copied()
            .filter(|&b| (b < 0x20 && b != b'\n' && b != b'\r') || b == 0x7f)
            .collect();
        assert!(
            bad.is_empty(),
            "{opts}: control bytes {bad:?} on the terminal"
        );
        let s = String::from_utf8_lossy(&text);
        if opts.starts_with("-X") {
            assert!(s.contains("\\x1b]0;title\\x07"), "{opts}: {s}");
            assert!(s.contains("new\\012line.bin"), "{opts}: {s}");
        } else {
            // pmap's own `?` for such bytes: already safe.
            assert!(s.contains("?]0;title?"), "{opts}: {s}");
        }
        // Through a pipe: procps's bytes, control bytes and all.
        let piped = maplens(
            &[opts, &kid.pid.to_string()]
                .iter()
                .filter(|a| !a.is_empty())
                .flat_map(|a| a.split(' '))
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
        if opts.starts_with("-X") {
            assert!(
                piped.stdout.windows(9).any(|w| w == b"\x1b]0;title"),
                "{opts}: piped output must stay raw"
            );
        }
    }
}
