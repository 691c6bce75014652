//! Command-line behaviour of `maplens maps`: targets (PID, name, file,
//! stdin, directory, `--proc-root`), errors (one line, non-zero exit, never
//! a panic), lenient and strict parsing, and the filters, whose expected
//! counts are computed here by scanning the fixture text independently.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use maplens_testkid::Kid;
use serde_json::Value;

const ODDNAMES: &str = "localcap__x86_64-linux6.18-python-oddnames.smaps";
const THREADS: &str = "localcap__x86_64-linux6.18-python-hugetlb-threads.smaps";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/fixtures")
        .join(name)
}

fn fixture_str(name: &str) -> String {
    fixture(name).to_str().expect("UTF-8 path").to_owned()
}

/// What one maplens run did.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The one `maplens: error: …` line of a failed run.
    fn error_line(&self) -> &str {
        assert!(!self.ok, "expected a failure; stdout: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line, got: {:?}", self.stderr);
        assert!(
            lines[0].starts_with("maplens: error: "),
            "error line: {:?}",
            lines[0]
        );
        lines[0]
    }

    fn json(&self) -> Value {
        assert!(self.ok, "maplens failed: {}", self.stderr);
        serde_json::from_str(&self.stdout).expect("maplens prints JSON")
    }
}

fn run_with(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::cargo_bin("maplens").expect("the maplens binary is built");
    cmd.args(args);
    if let Some(s) = stdin {
        cmd.write_stdin(s.to_vec());
    }
    let out = cmd.output().expect("run maplens");
    let r = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "maplens {args:?} panicked: {}",
        r.stderr
    );
    if !r.ok {
        assert_eq!(
            out.status.code(),
            Some(1),
            "exit code of {args:?}: {}",
            r.stderr
        );
    }
    r
}

fn run(args: &[&str]) -> Run {
    run_with(args, None)
}

/// `(start, end)` as printed in maplens JSON rows.
fn starts(doc: &Value) -> Vec<u64> {
    doc["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| {
            let s = r["start"].as_str().expect("start");
            u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
        })
        .collect()
}

/// One region header line of a maps/smaps text, split by hand.
#[derive(Debug, Clone)]
struct Line {
    start: u64,
    end: u64,
    perms: String,
    /// The path as the kernel prints it.
    raw: String,
}

impl Line {
    /// `\012` decoded and ` (deleted)` removed, as maplens's `--path` sees it.
    fn decoded(&self) -> String {
        let p = self.raw.replace("\\012", "\n");
        p.strip_suffix(" (deleted)").map(str::to_owned).unwrap_or(p)
    }
}

/// The region lines of a maps or smaps text: the first word is `hex-hex`
/// (smaps field lines start with a `Key:`), like `awk '$1 ~ /-/'`.
fn scan(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for l in text.lines() {
        let mut rest = l;
        let mut words = Vec::new();
        for _ in 0..5 {
            rest = rest.trim_start_matches(' ');
            let end = rest.find(' ').unwrap_or(rest.len());
            words.push(&rest[..end]);
            rest = &rest[end..];
        }
        let Some((a, b)) = words[0].split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        out.push(Line {
            start,
            end,
            perms: words[1].to_owned(),
            raw: rest.trim_start_matches(' ').to_owned(),
        });
    }
    out
}

fn oddnames() -> Vec<Line> {
    let text = std::fs::read_to_string(fixture(ODDNAMES)).expect("fixture");
    let lines = scan(&text);
    assert_eq!(lines.len(), 147, "the fixture has 147 regions");
    lines
}

/// Runs `maplens maps --format json FIXTURE FILTER…` and checks the rows
/// are exactly those the predicate picks from the hand scan.
fn check_filter(filter: &[&str], want: impl Fn(&Line) -> bool) -> usize {
    let lines = oddnames();
    let expected: Vec<u64> = lines.iter().filter(|l| want(l)).map(|l| l.start).collect();
    let f = fixture_str(ODDNAMES);
    let mut args = vec!["maps", "--format", "json", f.as_str()];
    args.extend_from_slice(filter);
    let got = starts(&run(&args).json());
    assert_eq!(got, expected, "filter {filter:?}");
    // The table agrees on the count.
    let mut args = vec!["maps", f.as_str()];
    args.extend_from_slice(filter);
    let table = run(&args);
    assert!(table.ok, "{}", table.stderr);
    assert!(
        table.stdout.contains(&format!(
            "\n{} region{}, ",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" }
        )),
        "table summary for {filter:?}: {}",
        table.stdout
    );
    expected.len()
}

#[test]
fn missing_pid_is_one_line_naming_proc_pid() {
    // Above the largest possible pid_max (2^22).
    for pid in ["4194305", "4294967295"] {
        let r = run(&["maps", pid]);
        let e = r.error_line();
        assert!(e.contains(&format!("/proc/{pid}")), "{e}");
        assert!(e.contains("no such process"), "{e}");
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn malformed_line_lenient_skips_strict_fails_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad perms.maps");
    std::fs::write(
        &path,
        "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n\
         00452000-00453000 rwzp 00000000 08:02 173521      /usr/bin/dbus-daemon\n\
         00651000-00652000 rw-p 00051000 08:02 173521      /usr/bin/dbus-daemon\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();

    // Lenient (the default): the two good lines, a note about the bad one.
    let r = run(&["maps", p]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("\n2 regions, "), "{}", r.stdout);
    assert!(r.stdout.contains("00651000"), "{}", r.stdout);
    assert!(!r.stdout.contains("00452000  00453000"), "{}", r.stdout);
    let notes: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(notes.len(), 1, "{:?}", r.stderr);
    assert!(notes[0].starts_with("maplens: note: "), "{}", notes[0]);
    assert!(
        notes[0].contains("skipped 1 malformed line"),
        "{}",
        notes[0]
    );
    assert!(notes[0].contains("line 2"), "{}", notes[0]);
    assert!(notes[0].contains(p), "{}", notes[0]);

    // JSON keeps stdout clean and carries the notice.
    let doc = run(&["maps", "--format", "json", p]).json();
    assert_eq!(starts(&doc), vec![0x400000, 0x651000]);
    let notices = doc["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{doc:#}");
    assert!(notices[0].as_str().unwrap().contains("line 2"), "{doc:#}");

    // Strict: fails on it, with the file, line and column, in one line.
    for fmt in ["table", "json", "csv"] {
        let r = run(&["maps", "--strict", "--format", fmt, p]);
        let e = r.error_line();
        assert!(e.contains(p), "{e}");
        assert!(e.contains("line 2, column 19"), "{e}");
        assert!(e.contains("permissions"), "{e}");
        assert!(r.stdout.is_empty(), "no partial output: {}", r.stdout);
    }
}

#[test]
fn nonexistent_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no such dir/missing.maps");
    let p = p.to_str().unwrap();
    let r = run(&["maps", p]);
    let e = r.error_line();
    assert!(e.contains(p), "{e}");
    assert_eq!(
        e.matches("No such file or directory").count(),
        1,
        "the reason once: {e}"
    );
}

/// A file that holds no region is not an empty process: every command says
/// which file it read and what it expected, and fails.
#[test]
fn a_file_with_no_region_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.smaps");
    std::fs::write(&empty, b"").unwrap();
    let empty = empty.to_str().unwrap();
    for (args, stdin, name) in [
        (vec!["maps", "/etc/passwd"], None, "/etc/passwd"),
        (vec!["maps", "/dev/null"], None, "/dev/null"),
        (vec!["maps", empty], None, empty),
        (vec!["maps", "-"], Some(&b"garbage\n"[..]), "<stdin>"),
        (vec!["/etc/passwd"], None, "/etc/passwd"),
        (
            vec!["report", "--format", "json", "/dev/null"],
            None,
            "/dev/null",
        ),
        (vec!["maps", "--strict", "/dev/null"], None, "/dev/null"),
    ] {
        let r = run_with(&args, stdin);
        let e = r.error_line();
        assert!(
            e.contains(&format!("{name}: no memory region")),
            "{args:?}: {e}"
        );
        assert!(
            e.contains("expected /proc/PID/maps, smaps"),
            "{args:?}: {e}"
        );
        assert!(r.stdout.is_empty(), "{args:?}: no table: {}", r.stdout);
    }
    let r = run_with(&["maps", "-"], Some(b"garbage\n"));
    assert!(r.error_line().contains("first bad line"), "{}", r.stderr);
}

#[test]
fn no_target_is_an_error() {
    let r = run(&["maps"]);
    assert!(r.error_line().contains("no target"), "{}", r.stderr);
}

/// A fake /proc: `<root>/<pid>/{maps,comm}`.
fn fake_proc(procs: &[(u32, &str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (pid, comm, maps) in procs {
        let d = root.path().join(pid.to_string());
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(d.join("maps"), maps).unwrap();
    }
    root
}

const TWO_LINES: &str = "55a9e753c000-55a9e7570000 r--p 00000000 fd:00 798126 /usr/lib/systemd/systemd\n\
                         7ffd24e04000-7ffd24e25000 rw-p 00000000 00:00 0          [stack]\n";
const ONE_LINE: &str = "7f7cd6d8f000-7f7cd6d9f000 rw-s 00000000 00:01 48   /memfd:x (deleted)\n";

#[test]
fn proc_root_with_a_fake_tree() {
    let root = fake_proc(&[
        (4242, "unique-one", TWO_LINES),
        (100, "twin", ONE_LINE),
        (200, "twin", ONE_LINE),
    ]);
    let r = root.path().to_str().unwrap();

    let doc = run(&["maps", "--proc-root", r, "--format", "json", "4242"]).json();
    assert_eq!(doc["pid"], 4242);
    assert_eq!(doc["comm"], "unique-one");
    assert_eq!(starts(&doc), vec![0x55a9e753c000, 0x7ffd24e04000]);
    assert_eq!(doc["regions"][1]["category"], "main-stack");
    assert_eq!(doc["format"], "maps");

    // By name, exact match of comm.
    let doc = run(&["maps", "--proc-root", r, "--format", "json", "unique-one"]).json();
    assert_eq!(doc["pid"], 4242);
    // A unique prefix is not a match.
    let e = run(&["maps", "--proc-root", r, "unique"]);
    assert!(
        e.error_line().contains("no process named 'unique'"),
        "{}",
        e.stderr
    );

    // Ambiguous: both PIDs listed, asks for a PID.
    let amb = run(&["maps", "--proc-root", r, "twin"]);
    let e = amb.error_line();
    assert!(e.contains("2 processes are named 'twin'"), "{e}");
    assert!(e.contains("100") && e.contains("200"), "{e}");
    assert!(e.contains("give a PID"), "{e}");

    // A PID not in the tree names the directory under the root.
    let miss = run(&["maps", "--proc-root", r, "999"]);
    let e = miss.error_line();
    assert!(e.contains(&format!("{r}/999")), "{e}");
}

#[test]
fn unknown_process_name() {
    let r = run(&["maps", "maplens-no-such-process-name"]);
    let e = r.error_line();
    assert!(
        e.contains("no process named 'maplens-no-such-process-name'"),
        "{e}"
    );
}

#[test]
fn ambiguous_live_process_name() {
    // Two kids share the comm `maplens-testkid`.
    let a = Kid::spawn(&[]).expect("spawn kid a");
    let b = Kid::spawn(&[]).expect("spawn kid b");
    let r = run(&["maps", "maplens-testkid"]);
    let e = r.error_line();
    assert!(e.contains("processes are named 'maplens-testkid'"), "{e}");
    for k in [&a, &b] {
        assert!(e.contains(&format!("{} (", k.pid)), "pid {} in {e}", k.pid);
    }
}

#[test]
fn stdin_target() {
    let text = std::fs::read(fixture(ODDNAMES)).unwrap();
    let r = run_with(&["maps", "--format", "json", "-"], Some(&text));
    let doc = r.json();
    assert_eq!(doc["source"], "<stdin>");
    assert_eq!(doc["format"], "smaps");
    assert_eq!(doc["schema_version"], 1);
    let want: Vec<u64> = oddnames().iter().map(|l| l.start).collect();
    assert_eq!(starts(&doc), want);
    // Residency is there: Rss of the heap.
    let heap = doc["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "[heap]")
        .expect("heap row");
    assert_eq!(heap["size"], 0x55b306fba000u64 - 0x55b306db8000u64);
    assert!(heap["smaps"]["Rss"].as_u64().is_some(), "{heap:#}");

    // Empty input holds no region: an error naming stdin, not a panic.
    let r = run_with(&["maps", "--format", "json", "-"], Some(b""));
    assert!(
        r.error_line().contains("<stdin>: no memory region"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_schema_version_and_fields() {
    let doc = run(&["maps", "--format", "json", &fixture_str(ODDNAMES)]).json();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["page_size"], 4096);
    let rows = doc["regions"].as_array().unwrap();
    assert_eq!(rows.len(), 147);
    for key in [
        "start",
        "end",
        "size",
        "perms",
        "offset",
        "dev",
        "inode",
        "path",
        "path_raw",
        "deleted",
        "path_kind",
        "category",
        "note",
        "rule",
        "line",
    ] {
        assert!(
            rows.iter().all(|r| r.get(key).is_some()),
            "every row has {key}"
        );
    }
    let total: u64 = rows.iter().map(|r| r["size"].as_u64().unwrap()).sum();
    let want: u64 = oddnames().iter().map(|l| l.end - l.start).sum();
    assert_eq!(total, want);
}

/// `maps --format json` writes its document one region at a time; the
/// bytes must be what serde_json prints for the whole tree (sorted keys,
/// two-space indent, final newline), which is how they were made before.
#[test]
fn json_stream_is_the_pretty_printed_tree() {
    let out = run(&["maps", "--format", "json", &fixture_str(THREADS)]);
    assert!(out.ok, "{}", out.stderr);
    let tree: Value = serde_json::from_str(&out.stdout).unwrap();
    let mut want = serde_json::to_string_pretty(&tree).unwrap();
    want.push('\n');
    assert_eq!(out.stdout, want);
    assert!(tree["regions"].as_array().unwrap().len() > 100);
}

/// A reader that stops early (`| head`) closes the pipe: not an error.
#[test]
fn json_into_a_closed_pipe_is_quiet() {
    use std::io::Read as _;
    use std::process::{Command as Std, Stdio};
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("maplens"))
        .args(["maps", "--format", "json", &fixture_str(THREADS)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout is dropped (closed) here, long before the document ends.
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(&first[..2], b"{\n");
    assert!(status.success(), "exit {status:?}, stderr {err:?}");
    assert_eq!(err, "");
}

#[test]
fn directory_target_copied_from_a_live_kid() {
    let kid = Kid::spawn(&["--memfd", "dir copy"]).expect("spawn kid");
    kid.stop().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(kid.pid.to_string());
    std::fs::create_dir(&dir).unwrap();
    for f in ["maps", "smaps", "comm", "status", "cmdline"] {
        std::fs::copy(kid.proc(f), dir.join(f)).unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
    let maps = std::fs::read_to_string(dir.join("maps")).unwrap();
    let want: Vec<u64> = scan(&maps).iter().map(|l| l.start).collect();
    assert_eq!(want.len(), maps.lines().count());
    drop(kid); // the copy stands alone

    let d = dir.to_str().unwrap();
    let doc = run(&["maps", "--format", "json", d]).json();
    assert_eq!(starts(&doc), want);
    assert_eq!(doc["format"], "smaps");
    assert_eq!(doc["comm"], "maplens-testkid");
    let pid: u64 = dir.file_name().unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(doc["pid"], pid);
    let memfd: Vec<&Value> = doc["regions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path_kind"] == "memfd")
        .collect();
    assert_eq!(memfd.len(), 1);
    assert_eq!(memfd[0]["path"], "/memfd:dir copy");

    // Only maps: still works, without residency.
    std::fs::remove_file(dir.join("smaps")).unwrap();
    let doc = run(&["maps", "--format", "json", d]).json();
    assert_eq!(starts(&doc), want);
    assert_eq!(doc["format"], "maps");

    // Neither: one line naming the directory.
    std::fs::remove_file(dir.join("maps")).unwrap();
    let r = run(&["maps", d]);
    let e = r.error_line();
    assert!(e.contains(d) && e.contains("no maps"), "{e}");
}

#[test]
fn perm_filters() {
    let n = check_filter(&["--perm", "rw"], |l| l.perms.starts_with("rw"));
    assert!(n > 10, "{n}");
    check_filter(&["--perm", "??xp"], |l| &l.perms[2..] == "xp");
    assert_eq!(check_filter(&["--perm", "rw-s"], |l| l.perms == "rw-s"), 3);
    assert_eq!(
        check_filter(&["--perm", "rwx"], |l| l.perms.starts_with("rwx")),
        1
    );
    check_filter(&["--perm", "r--"], |l| l.perms.starts_with("r--"));
    check_filter(&["--perm=---p"], |l| l.perms == "---p");
}

#[test]
fn kind_filters() {
    assert_eq!(
        check_filter(&["--kind", "memfd"], |l| l.raw.starts_with("/memfd:")),
        1
    );
    assert_eq!(
        check_filter(&["--kind", "sysv-shm"], |l| l.raw.starts_with("/SYSV")),
        1
    );
    assert_eq!(
        check_filter(&["--kind", "shared-anon"], |l| l.raw
            == "/dev/zero (deleted)"),
        1
    );
    // `vvar` is not `vvar_vclock`.
    assert_eq!(
        check_filter(&["--kind", "vdso,vvar"], |l| l.raw == "[vdso]"
            || l.raw == "[vvar]"),
        2
    );
    // Repeatable, and a name kind (stack) with a category (heap).
    assert_eq!(
        check_filter(&["--kind", "heap", "--kind", "stack"], |l| l.raw
            == "[heap]"
            || l.raw == "[stack]"),
        2
    );
    // Shared memory: the three rw-s regions (SysV, memfd, shared anon).
    assert_eq!(
        check_filter(&["--kind", "shared-memory"], |l| l.raw.starts_with("/SYSV")
            || l.raw.starts_with("/memfd:")
            || l.raw == "/dev/zero (deleted)"),
        3
    );

    // Category kinds agree with the categories of the unfiltered output.
    let f = fixture_str(THREADS);
    let all = run(&["maps", "--format", "json", &f]).json();
    let want: Vec<u64> = all["regions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["category"] == "thread-stack" || r["category"] == "guard-page")
        .map(|r| {
            u64::from_str_radix(r["start"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        })
        .collect();
    assert!(want.len() >= 2, "the threads fixture has thread stacks");
    let got = starts(
        &run(&[
            "maps",
            "--format",
            "json",
            "--kind",
            "thread-stack,guard-page",
            &f,
        ])
        .json(),
    );
    assert_eq!(got, want);
}

#[test]
fn addr_filters() {
    let lines = oddnames();
    let memfd = lines
        .iter()
        .find(|l| l.raw.starts_with("/memfd:"))
        .unwrap()
        .clone();
    // An address inside one region: that region only.
    let a = memfd.start + 0x1234;
    let a_hex = format!("{a:x}");
    assert_eq!(
        check_filter(&["--addr", &a_hex], |l| l.start <= a && a < l.end),
        1
    );
    let with_0x = format!("0x{a:x}");
    let doc = run(&[
        "maps",
        "--format",
        "json",
        "--addr",
        &with_0x,
        &fixture_str(ODDNAMES),
    ])
    .json();
    assert_eq!(starts(&doc), vec![memfd.start]);
    // The end address belongs to the next region, not this one.
    let e = memfd.end;
    let e_hex = format!("{e:x}");
    let n = check_filter(&["--addr", &e_hex], |l| l.start <= e && e < l.end);
    assert_eq!(n, 1, "the memfd is followed directly by /dev/zero");
    // In a gap: no rows, still success.
    let gap = lines
        .windows(2)
        .find(|w| w[0].end < w[1].start)
        .map(|w| w[0].end)
        .unwrap();
    let gap_hex = format!("{gap:x}");
    assert_eq!(check_filter(&["--addr", &gap_hex], |_| false), 0);

    // A range overlapping several regions.
    let sysv = lines.iter().find(|l| l.raw.starts_with("/SYSV")).unwrap();
    let zero = lines
        .iter()
        .find(|l| l.raw.starts_with("/dev/zero"))
        .unwrap();
    let (x, y) = (sysv.start + 0x10, zero.end - 1);
    let range = format!("{x:x}-{y:x}");
    assert_eq!(
        check_filter(&["--addr", &range], |l| l.start < y && x < l.end),
        3
    );
    // A wide range: every region in it.
    let (x, y) = (0x7f7c_0000_0000u64, 0x7f7d_0000_0000u64);
    let range = format!("{x:x}-{y:x}");
    let n = check_filter(&["--addr", &range], |l| l.start < y && x < l.end);
    assert!(n > 100, "{n}");
}

#[test]
fn path_filters() {
    // Regexes run on the decoded path: `(deleted)` is not part of it, a
    // newline is a real newline.
    assert_eq!(
        check_filter(&["--path", "deleted"], |l| l.decoded().contains("deleted")),
        1
    );
    assert_eq!(
        check_filter(&["--path", "\\n"], |l| l.decoded().contains('\n')),
        1
    );
    assert_eq!(
        check_filter(&["--path", "with  spaces"], |l| l
            .decoded()
            .contains("with  spaces")),
        1
    );
    assert_eq!(
        check_filter(&["--path", "dir with spaces/"], |l| l
            .raw
            .contains("dir with spaces/")),
        3
    );
    let n = check_filter(&["--path", "lib-dynload/_"], |l| {
        l.raw.contains("lib-dynload/_")
    });
    assert!(n > 20, "{n}");
    check_filter(&["--path", "^$"], |l| l.raw.is_empty());
    check_filter(&["--path", r"libc\.so|ld-linux"], |l| {
        l.raw.contains("libc.so") || l.raw.contains("ld-linux")
    });
    // Filters combine.
    let n = check_filter(&["--perm", "r-x", "--path", "python"], |l| {
        l.perms.starts_with("r-x") && l.raw.contains("python")
    });
    assert!(n > 10, "{n}");
    check_filter(&["--perm", "rw", "--kind", "anonymous"], |l| {
        l.perms.starts_with("rw") && l.raw.is_empty()
    });
}

#[test]
fn bad_filter_values_are_one_line_errors() {
    let f = fixture_str(ODDNAMES);
    for (args, needle) in [
        (vec!["--perm", "rwz"], "--perm"),
        (vec!["--perm", "rwxps"], "--perm"),
        (vec!["--kind", "no-such-kind"], "--kind"),
        (vec!["--addr", "xyz"], "--addr"),
        (vec!["--addr", "2000-1000"], "--addr"),
        (vec!["--path", "("], "--path"),
    ] {
        let mut a = vec!["maps", f.as_str()];
        a.extend(args.iter().copied());
        let r = run(&a);
        let e = r.error_line();
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

#[test]
fn permission_denied_names_the_fix() {
    let euid = rustix::process::geteuid().as_raw();
    let bin = assert_cmd::cargo::cargo_bin("maplens");
    if euid != 0 {
        // Not root: PID 1 belongs to someone else.
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/1").unwrap());
        if owner == euid {
            eprintln!("skipped: PID 1 is ours, nothing to be denied");
            return;
        }
        let r = run(&["maps", "1"]);
        check_denied(&r, "/proc/1/");
        return;
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(setpriv) = setpriv else {
        eprintln!("skipped: running as root and setpriv (util-linux) is not installed");
        return;
    };
    let kid = Kid::spawn(&[]).expect("spawn kid");
    for pid in ["1".to_owned(), kid.pid.to_string()] {
        let out = std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["maps", &pid])
            .output()
            .expect("run setpriv");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.starts_with("setpriv:") {
            eprintln!("skipped: setpriv cannot run maplens as nobody: {stderr}");
            return;
        }
        let r = Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        };
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        check_denied(&r, &format!("/proc/{pid}/"));
    }
}

fn check_denied(r: &Run, path: &str) {
    let e = r.error_line();
    assert!(e.contains(path), "{e}");
    assert!(e.contains("permission denied"), "{e}");
    assert!(e.contains("same user or as root"), "{e}");
}
