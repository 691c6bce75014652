//! A child maps files whose names a hostile user chose (terminal escape
//! sequences, a newline, a carriage return, a right-to-left override,
//! invalid UTF-8, DEL, a C1 control) and names itself with an escape
//! sequence; every command in every format must show them without letting
//! one byte of them act on a terminal.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use maplens_testkid::Kid;

/// The names, as bytes.
const NAMES: &[&[u8]] = &[
    b"nl\nname",
    b"cr\rname",
    b"osc\x1b]0;pwned title\x07",
    b"cls\x1b[2J",
    "rtl\u{202e}txt.exe".as_bytes(),
    b"bad\xff\xfeutf8",
    b"del\x7fname",
    "c1\u{85}name".as_bytes(),
    b"back\\slash",
];

/// Bytes a terminal would act on: C0 controls but `\n` (and `\t`), DEL,
/// and (decoded) C1 and the bidirectional controls.
pub(crate) fn hazards(out: &[u8]) -> Vec<String> {
    let mut bad = Vec::new();
    for (i, &b) in out.iter().enumerate() {
        if (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f {
            bad.push(format!("byte 0x{b:02x} at {i}"));
        }
    }
    for chunk in out.utf8_chunks() {
        for c in chunk.valid().chars() {
            if matches!(c, '\u{80}'..='\u{9f}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                bad.push(format!("char U+{:04X}", c as u32));
            }
        }
    }
    bad
}

fn run(args: &[OsString]) -> std::process::Output {
    Command::cargo_bin("maplens")
        .expect("maplens is built")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run maplens")
}

fn os(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

#[test]
fn hostile_names_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args: Vec<OsString> = Vec::new();
    for n in NAMES {
        args.push("--named-file".into());
        let mut p = dir.path().as_os_str().as_bytes().to_vec();
        p.push(b'/');
        p.extend_from_slice(n);
        args.push(OsString::from_vec(p));
    }
    args.push("--comm".into());
    args.push(OsString::from_vec(b"k\x1b[2J\x07\xff".to_vec()));
    args.extend(os(&["--threads", "2", "--thread-names"]));
    let kid = Kid::spawn_copy_os(&args).expect("spawn the kid");
    kid.stop().expect("freeze the kid");
    let pid = kid.pid.to_string();

    // The kernel's own text does hold the raw bytes (but for the newline,
    // which it writes as \012): the test would prove nothing otherwise.
    let maps = std::fs::read(kid.proc("maps")).expect("maps");
    assert!(maps.windows(4).any(|w| w == b"\x1b[2J"), "raw ESC in maps");
    assert!(maps.windows(1).any(|w| w == b"\r"), "raw CR in maps");

    let bundle = dir.path().join("cap.tar");
    let cap = run(&[
        "capture".into(),
        pid.clone().into(),
        "-o".into(),
        bundle.clone().into(),
    ]);
    assert!(
        cap.status.success(),
        "capture: {}",
        String::from_utf8_lossy(&cap.stderr)
    );
    let at_bundle = format!("{}:{pid}", bundle.display());
    let bundle_s = bundle.display().to_string();

    let mut runs: Vec<Vec<OsString>> = Vec::new();
    for fmt in ["table", "json", "csv"] {
        runs.push(os(&[&pid, "--format", fmt]));
        runs.push(os(&[&at_bundle, "--format", fmt]));
        runs.push(os(&["maps", &pid, "--format", fmt, "--explain"]));
        runs.push(os(&["maps", &at_bundle, "--format", fmt]));
        for by in [
            None,
            Some("object"),
            Some("shm"),
            Some("user"),
            Some("category"),
        ] {
            let mut a = os(&["top", "--pid", &pid, "--format", fmt, "--no-progress"]);
            if let Some(by) = by {
                a.extend(os(&["--by", by]));
            }
            runs.push(a);
        }
        runs.push(os(&["top", &bundle_s, "--format", fmt, "--no-progress"]));
        runs.push(os(&[
            "libs",
            "--pid",
            &pid,
            "--format",
            fmt,
            "--procs",
            "--no-progress",
        ]));
        runs.push(os(&["libs", &bundle_s, "--format", fmt, "--no-progress"]));
    }
    for fmt in ["table", "json", "sarif"] {
        runs.push(os(&[
            "check",
            &pid,
            "--format",
            fmt,
            "--min-severity",
            "info",
        ]));
    }
    // explain, on the kernel's own lines.
    let mut ex = os(&["explain"]);
    for line in maps.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        ex.push(OsString::from_vec(line.to_vec()));
    }
    runs.push(ex);
    // An error that names a hostile file.
    let missing = {
        let mut p = dir.path().as_os_str().as_bytes().to_vec();
        p.extend_from_slice(b"/missing\x1b[2J\n");
        OsString::from_vec(p)
    };
    runs.push(vec!["maps".into(), missing.clone()]);
    runs.push(vec!["explain".into(), missing]);

    let mut failures = Vec::new();
    let mut seen_name = 0;
    for a in &runs {
        let out = run(a);
        let shown: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
        let is_check = a[0] == "check";
        let errs_expected = a.len() == 2;
        let ok = out.status.success() || (is_check && out.status.code() == Some(1));
        if !errs_expected && !ok {
            failures.push(format!(
                "{shown:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        if errs_expected {
            assert!(!out.status.success(), "{shown:?} should fail");
            assert_eq!(
                out.stderr.iter().filter(|&&b| b == b'\n').count(),
                1,
                "{shown:?}: one line: {:?}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let bad = hazards(bytes);
            if !bad.is_empty() {
                failures.push(format!("{shown:?} {stream}: {bad:?}"));
            }
        }
        // The names are shown (escaped), not dropped.
        if String::from_utf8_lossy(&out.stdout).contains("cls\\x1b[2J")
            || String::from_utf8_lossy(&out.stdout).contains("cls\\u001b[2J")
        {
            seen_name += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        seen_name >= 20,
        "the escaped name is in only {seen_name} outputs of {}",
        runs.len()
    );
}

/// JSON keeps the exact strings: the decoded path, byte for byte.
#[test]
fn json_keeps_exact_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = dir.path().as_os_str().as_bytes().to_vec();
    p.extend_from_slice(b"/x\x1b[2J\xe2\x80\xae\xff");
    let kid = Kid::spawn_copy_os(&["--named-file".into(), OsString::from_vec(p.clone())])
        .expect("spawn the kid");
    let out = run(&os(&["maps", &kid.pid.to_string(), "--format", "json"]));
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let r = doc["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .find(|r| {
            r["path_bytes"].as_array().is_some_and(|b| {
                b.iter()
                    .map(|x| x.as_u64().unwrap_or(0) as u8)
                    .eq(p.iter().copied())
            })
        })
        .expect("the region of the file, with its exact bytes");
    // path_raw is lossless too: \xNN for the byte that is not UTF-8.
    assert_eq!(r["path_raw_escaped"], true);
    let raw = r["path_raw"].as_str().expect("path_raw");
    assert!(raw.ends_with("/x\u{1b}[2J\u{202e}\\xff"), "{raw:?}");
}

/// Two files whose names differ only in bytes that are not UTF-8 are two
/// objects, shown apart: as text they would both be `a\u{fffd}` and merge.
#[test]
fn names_that_differ_in_stray_bytes_stay_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = |b: u8| {
        let mut p = dir.path().as_os_str().as_bytes().to_vec();
        p.extend_from_slice(b"/a");
        p.push(b);
        OsString::from_vec(p)
    };
    let kid = Kid::spawn_copy_os(&[
        "--named-file".into(),
        name(0xff),
        "--named-file".into(),
        name(0xfe),
    ])
    .expect("spawn the kid");
    kid.stop().expect("freeze");
    let pid = kid.pid.to_string();
    let out = run(&os(&[
        "top",
        "--pid",
        &pid,
        "--by",
        "object",
        "--no-progress",
    ]));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("escaped output is UTF-8");
    for b in ["\\xff", "\\xfe"] {
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!("/a{b}")))
            .collect();
        assert_eq!(rows.len(), 1, "one row for a{b}:\n{text}");
    }
    let out = run(&os(&[
        "top", "--pid", &pid, "--by", "object", "--format", "json",
    ]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let n = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| {
            o["object"]
                .as_str()
                .is_some_and(|s| s.ends_with("/a\u{fffd}"))
        })
        .count();
    assert_eq!(n, 2, "two objects, not one: {doc}");
}

/// A capture bundle is a file, and a file name is any bytes: `top` and
/// `libs` read one named with invalid UTF-8 and a control byte (they
/// refused such a name as an argument before), and `top` lists the
/// process it holds.
#[test]
fn top_and_libs_read_a_bundle_of_any_file_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut name = dir.path().as_os_str().as_bytes().to_vec();
    name.extend_from_slice(b"/cap\xff\x1b.tar");
    let bundle = OsString::from_vec(name);
    let me = std::process::id().to_string();
    let out = run(&[
        "capture".into(),
        me.clone().into(),
        "-o".into(),
        bundle.clone(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for cmd in ["top", "libs"] {
        let out = run(&[
            cmd.into(),
            bundle.clone(),
            "--format".into(),
            "csv".into(),
            "--no-progress".into(),
        ]);
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(hazards(&out.stdout).is_empty() && hazards(&out.stderr).is_empty());
        if cmd == "top" {
            let csv = String::from_utf8_lossy(&out.stdout);
            assert!(
                csv.lines().any(|l| l.starts_with(&format!("{me},"))),
                "top lists the captured process: {csv}"
            );
        } else {
            assert!(out.stdout.len() > 100, "libs lists the process's libraries");
        }
    }
}

/// `leaks`, `diff`, `plot` and `baseline` take recordings and baselines
/// whose names are not UTF-8, with the `:PID` and `@PICK` suffixes, and a
/// message about such a name is one line with nothing raw in it (an
/// error message is text: a byte that is not UTF-8 shows as U+FFFD there).
#[test]
fn recordings_and_baselines_of_any_file_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let named = |tail: &[u8]| {
        let mut name = dir.path().as_os_str().as_bytes().to_vec();
        name.extend_from_slice(tail);
        OsString::from_vec(name)
    };
    let rec = named(b"/rec\xff\x1b[2J.jsonl");
    let base = named(b"/base\xfe\x07.json");
    let kid = Kid::spawn(&[]).expect("spawn the kid");
    let pid = kid.pid.to_string();
    let ok = |args: &[OsString]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            hazards(&out.stdout).is_empty() && hazards(&out.stderr).is_empty(),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let mut watch = os(&["watch", &pid, "--interval", "100ms", "--duration", "350ms"]);
    watch.extend(["--full".into(), "--record".into(), rec.clone()]);
    ok(&watch);
    ok(&[
        "baseline".into(),
        "save".into(),
        pid.clone().into(),
        "-o".into(),
        base.clone(),
    ]);
    let with = |tail: &str| {
        let mut w = rec.clone();
        w.push(tail);
        w
    };
    // The first and last full samples of the kid's series, by PID and pick.
    let d = ok(&[
        "diff".into(),
        with(&format!(":{pid}@first")),
        with("@last"),
        "--format".into(),
        "json".into(),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&d.stdout).expect("diff json");
    assert!(doc.is_object(), "{doc}");
    ok(&["diff".into(), base.clone(), with("@-1")]);
    let l = run(&[
        "leaks".into(),
        with(&format!(":{pid}")),
        "--format".into(),
        "json".into(),
    ]);
    assert!(
        matches!(l.status.code(), Some(0 | 1)),
        "leaks: {}",
        String::from_utf8_lossy(&l.stderr)
    );
    let leaks: serde_json::Value = serde_json::from_slice(&l.stdout).expect("leaks json");
    assert_eq!(leaks["series"][0]["pid"], kid.pid, "{leaks}");
    assert!(
        leaks["series"][0]["full_samples"].as_u64() >= Some(2),
        "{leaks}"
    );
    let svg = dir.path().join("plot.svg");
    ok(&["plot".into(), rec.clone(), "-o".into(), svg.clone().into()]);
    assert!(std::fs::read(&svg).expect("the plot").starts_with(b"<svg"));
    // A pick that names nothing: one line, the name escaped.
    let bad = run(&["diff".into(), with("@nonsense"), with("@last")]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(hazards(&bad.stderr).is_empty(), "{err}");
    assert!(
        err.contains("rec\u{fffd}\\x1b[2J.jsonl@nonsense") && err.lines().count() == 1,
        "{err}"
    );
}
