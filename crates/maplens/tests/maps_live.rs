//! `maplens maps` against a live, stopped child with a known memory layout
//! (`maplens-testkid`): every odd kind of mapping must be reported at the
//! exact address the child reports, with the right kind, category and path,
//! and the totals must agree with `/proc/PID/maps` read by the test itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;
use maplens_testkid::Kid;
use serde_json::Value;

/// The built `maplens` binary.
fn maplens() -> Command {
    Command::cargo_bin("maplens").expect("the maplens binary is built")
}

/// Runs `maplens ARGS`, requiring success, no panic and no error line.
fn run_ok(args: &[&str]) -> String {
    let out = maplens().args(args).output().expect("run maplens");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "maplens panicked: {stderr}");
    assert!(
        out.status.success(),
        "maplens {args:?} failed ({}): {stderr}",
        out.status
    );
    assert!(!stderr.contains("error"), "maplens {args:?}: {stderr}");
    String::from_utf8(out.stdout).expect("maplens prints UTF-8")
}

/// A number from the kid's JSON (addresses are decimal numbers there).
fn num(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

/// A `0x…` address from maplens's JSON.
fn hex(v: &Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a hex string, got {v}"));
    u64::from_str_radix(s.strip_prefix("0x").expect("0x prefix"), 16).expect("hex address")
}

/// The `(start, end)` of every line of a maps text, parsed by hand.
fn maps_ranges(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .map(|l| {
            let range = l.split(' ').next().expect("a range");
            let (a, b) = range.split_once('-').expect("start-end");
            (
                u64::from_str_radix(a, 16).expect("hex start"),
                u64::from_str_radix(b, 16).expect("hex end"),
            )
        })
        .collect()
}

/// A spawned, stopped kid and what maplens said about it.
struct Live {
    kid: Kid,
    _dir: tempfile::TempDir,
    dir_path: String,
    sysv_key: u32,
    /// `/proc/PID/maps` as read by the test while the kid was stopped.
    maps: String,
    /// `maplens maps --format json PID`.
    doc: Value,
}

impl Live {
    fn regions(&self) -> &Vec<Value> {
        self.doc["regions"].as_array().expect("regions array")
    }

    /// The row starting exactly at `addr`.
    fn at(&self, addr: u64) -> &Value {
        let rows: Vec<&Value> = self
            .regions()
            .iter()
            .filter(|r| hex(&r["start"]) == addr)
            .collect();
        assert_eq!(rows.len(), 1, "one row must start at {addr:#x}: {rows:#?}");
        rows[0]
    }

    /// The row holding `addr`.
    fn holding(&self, addr: u64) -> &Value {
        let rows: Vec<&Value> = self
            .regions()
            .iter()
            .filter(|r| hex(&r["start"]) <= addr && addr < hex(&r["end"]))
            .collect();
        assert_eq!(rows.len(), 1, "one row must hold {addr:#x}: {rows:#?}");
        rows[0]
    }
}

/// Spawns the kid with every odd mapping, stops it and runs maplens on it.
fn spawn_live() -> Live {
    let dir = tempfile::Builder::new()
        .prefix("maplens live ")
        .tempdir()
        .expect("tempdir");
    let dir_path = dir.path().to_str().expect("UTF-8 temp path").to_owned();
    // A SysV key of our own (the kid creates it with IPC_EXCL): retry with
    // another one if a leftover segment holds it.
    let mut last_err = None;
    let mut kid_and_key = None;
    // Tests run in parallel in this process: each spawn takes the next key.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..8 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let key = 0x6d00_0000 | ((std::process::id() & 0xfff) << 12) | (n & 0xfff);
        let key_hex = format!("{key:08x}");
        match Kid::spawn(&[
            "--file-spaces",
            &dir_path,
            "--file-newline",
            &dir_path,
            "--deleted",
            &dir_path,
            "--memfd",
            "maplens test",
            "--sysv-shm",
            "--sysv-key",
            &key_hex,
            "--shared-anon",
            "--threads",
            "4",
            "--thread-names",
            "--regions",
            "1000",
        ]) {
            Ok(k) => {
                kid_and_key = Some((k, key));
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let (kid, sysv_key) =
        kid_and_key.unwrap_or_else(|| panic!("spawning the kid failed: {last_err:?}"));
    kid.stop().expect("SIGSTOP the kid");
    let maps = std::fs::read_to_string(kid.proc("maps")).expect("read /proc/PID/maps");
    let pid = kid.pid.to_string();
    let doc: Value = serde_json::from_str(&run_ok(&["maps", "--format", "json", &pid]))
        .expect("maplens prints JSON");
    Live {
        kid,
        _dir: dir,
        dir_path,
        sysv_key,
        maps,
        doc,
    }
}

#[test]
fn every_odd_mapping_is_reported_at_its_address() {
    let live = spawn_live();
    let info = &live.kid.info;
    let doc = &live.doc;
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(num(&doc["pid"]), u64::from(live.kid.pid));
    assert_eq!(doc["comm"], "maplens-testkid");
    assert_eq!(doc["format"], "smaps");
    assert_eq!(doc["notices"].as_array().map(Vec::len), Some(0), "{doc:#}");

    // A file whose name has two spaces in a row.
    let fs = &info["file_spaces"];
    let r = live.at(num(&fs["addr"]));
    assert_eq!(hex(&r["end"]), num(&fs["addr"]) + num(&fs["len"]));
    assert_eq!(r["path_kind"], "file");
    assert_eq!(r["category"], "mapped-file");
    assert_eq!(r["perms"], "r--p");
    assert_eq!(r["deleted"], false);
    let real = fs["path"].as_str().expect("path");
    assert!(real.contains("with  spaces"), "{real}");
    assert!(real.starts_with(&live.dir_path), "{real}");
    assert_eq!(r["path"].as_str().map(str::as_bytes), Some(real.as_bytes()));
    assert_eq!(r["path_raw"].as_str(), Some(real));
    let meta = std::fs::metadata(real).expect("the file with spaces exists");
    assert_eq!(num(&r["inode"]), std::os::unix::fs::MetadataExt::ino(&meta));

    // A file whose name has a newline: decoded in `path`, `\012` in `path_raw`.
    let fnl = &info["file_newline"];
    let r = live.at(num(&fnl["addr"]));
    assert_eq!(hex(&r["end"]), num(&fnl["addr"]) + num(&fnl["len"]));
    let real = fnl["path"].as_str().expect("path");
    assert!(real.contains('\n'));
    assert_eq!(r["path_kind"], "file");
    assert_eq!(r["category"], "mapped-file");
    assert_eq!(r["perms"], "r--s");
    assert_eq!(r["path"].as_str(), Some(real));
    assert!(r["path"].as_str().unwrap().contains("new\nline.bin"));
    let raw = r["path_raw"].as_str().expect("path_raw");
    assert!(raw.contains("new\\012line.bin"), "{raw:?}");
    assert!(!raw.contains('\n'), "{raw:?}");
    assert_eq!(raw, real.replace('\n', "\\012"));

    // A file deleted while mapped.
    let del = &info["deleted"];
    let r = live.at(num(&del["addr"]));
    assert_eq!(hex(&r["end"]), num(&del["addr"]) + num(&del["len"]));
    assert_eq!(r["deleted"], true);
    assert_eq!(r["path_kind"], "file");
    assert_eq!(r["category"], "mapped-file");
    assert_eq!(r["path"].as_str(), del["path"].as_str());
    assert_eq!(
        r["path_raw"].as_str().map(str::to_owned),
        Some(format!("{} (deleted)", del["path"].as_str().unwrap()))
    );

    // memfd.
    let m = &info["memfd"];
    let r = live.at(num(&m["addr"]));
    assert_eq!(hex(&r["end"]), num(&m["addr"]) + num(&m["len"]));
    assert_eq!(r["path_kind"], "memfd");
    assert_eq!(r["category"], "shared-memory");
    assert_eq!(r["perms"], "rw-s");
    assert_eq!(r["path"], "/memfd:maplens test");
    assert_eq!(r["deleted"], true);
    assert!(
        r["note"].as_str().unwrap().contains("maplens test"),
        "{r:#}"
    );
    // Written by the kid: all four pages resident.
    assert_eq!(num(&r["smaps"]["Rss"]), num(&m["len"]) / 1024, "{r:#}");

    // System V shared memory, with its key and shmid (the inode).
    let s = &info["sysv_shm"];
    assert_eq!(num(&s["key"]), u64::from(live.sysv_key));
    let r = live.at(num(&s["addr"]));
    assert_eq!(hex(&r["end"]), num(&s["addr"]) + num(&s["len"]));
    assert_eq!(r["path_kind"], "sysv-shm");
    assert_eq!(r["category"], "shared-memory");
    assert_eq!(r["perms"], "rw-s");
    let key_hex = format!("{:08x}", live.sysv_key);
    assert_eq!(r["path"].as_str(), Some(format!("/SYSV{key_hex}").as_str()));
    assert!(
        r["note"]
            .as_str()
            .unwrap()
            .contains(&format!("0x{key_hex}")),
        "the note names the key: {r:#}"
    );
    assert_eq!(num(&r["inode"]), num(&s["shmid"]));

    // Shared anonymous memory.
    let sa = &info["shared_anon"];
    let r = live.at(num(&sa["addr"]));
    assert_eq!(hex(&r["end"]), num(&sa["addr"]) + num(&sa["len"]));
    assert_eq!(r["path_kind"], "shared-anon");
    assert_eq!(r["category"], "shared-memory");
    assert_eq!(r["perms"], "rw-s");
    assert_eq!(r["path"], "/dev/zero");
}

#[test]
fn thread_stacks_carry_their_tid_and_have_a_guard_page() {
    let live = spawn_live();
    let threads = live.kid.info["threads"].as_array().expect("threads");
    assert_eq!(threads.len(), 4);
    let mut want = BTreeSet::new();
    for t in threads {
        let tid = num(&t["tid"]);
        want.insert(tid);
        let stack = live.holding(num(&t["sp"]));
        assert_eq!(stack["category"], "thread-stack", "tid {tid}: {stack:#}");
        assert_eq!(num(&stack["thread"]), tid, "{stack:#}");
        assert_eq!(stack["perms"], "rw-p");
        assert_eq!(stack["path_kind"], "anonymous");
        // The kid asked for 8 MiB stacks.
        assert_eq!(num(&stack["size"]), 8 << 20, "{stack:#}");
        assert!(
            stack["note"]
                .as_str()
                .unwrap()
                .contains(&format!("thread {tid}")),
            "{stack:#}"
        );
        // The guard page sits right under it.
        let start = hex(&stack["start"]);
        let guards: Vec<&Value> = live
            .regions()
            .iter()
            .filter(|r| hex(&r["end"]) == start)
            .collect();
        assert_eq!(guards.len(), 1, "one region ends at {start:#x}");
        let g = guards[0];
        assert_eq!(g["category"], "guard-page", "{g:#}");
        assert_eq!(g["perms"], "---p");
        assert_eq!(num(&g["thread"]), tid, "{g:#}");
        assert_eq!(num(&g["size"]), num(&live.kid.info["page_size"]));
    }
    // Exactly those four threads own a thread stack.
    let got: BTreeSet<u64> = live
        .regions()
        .iter()
        .filter(|r| r["category"] == "thread-stack")
        .map(|r| num(&r["thread"]))
        .collect();
    assert_eq!(got, want);
    let task_tids: BTreeSet<u64> = std::fs::read_dir(live.kid.proc("task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .filter(|&t: &u64| t != u64::from(live.kid.pid))
        .collect();
    assert_eq!(
        task_tids, want,
        "the kid's threads are the ones it reported"
    );
}

#[test]
fn a_thousand_alternating_regions_and_totals_match_proc_maps() {
    let live = spawn_live();
    let reg = &live.kid.info["regions"];
    let (base, count, ps) = (
        num(&reg["base"]),
        num(&reg["count"]),
        num(&reg["page_size"]),
    );
    assert_eq!(count, 1000);
    let rows: Vec<&Value> = live
        .regions()
        .iter()
        .filter(|r| (base..base + count * ps).contains(&hex(&r["start"])))
        .collect();
    assert_eq!(rows.len(), 1000);
    for (i, r) in rows.iter().enumerate() {
        let i = i as u64;
        assert_eq!(hex(&r["start"]), base + i * ps, "row {i}");
        assert_eq!(hex(&r["end"]), base + (i + 1) * ps, "row {i}");
        assert_eq!(num(&r["size"]), ps);
        let want = if i.is_multiple_of(2) { "rw-p" } else { "r--p" };
        assert_eq!(r["perms"], want, "row {i}: {r:#}");
        assert_eq!(r["path_kind"], "anonymous");
        assert_eq!(r["path"], "");
    }

    // Totals, against /proc/PID/maps read by the test itself.
    let ranges = maps_ranges(&live.maps);
    assert_eq!(live.regions().len(), live.maps.lines().count());
    assert!(ranges.len() > 1000);
    let want: u64 = ranges.iter().map(|(a, b)| b - a).sum();
    let got: u64 = live.regions().iter().map(|r| num(&r["size"])).sum();
    assert_eq!(got, want);
    let got_ranges: Vec<(u64, u64)> = live
        .regions()
        .iter()
        .map(|r| (hex(&r["start"]), hex(&r["end"])))
        .collect();
    assert_eq!(got_ranges, ranges, "same regions, same order");
    let mut by_line = BTreeMap::new();
    for r in live.regions() {
        by_line.insert(num(&r["line"]), ());
    }
    assert_eq!(by_line.len(), ranges.len(), "every row has its own line");
}

#[test]
fn csv_and_table_show_the_same_regions() {
    let live = spawn_live();
    let pid = live.kid.pid.to_string();
    let n = live.maps.lines().count();
    let memfd = num(&live.kid.info["memfd"]["addr"]);
    let newline = &live.kid.info["file_newline"];

    // CSV: a header, then one record per region.
    let csv_text = run_ok(&["maps", "--format", "csv", &pid]);
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (c_start, c_size, c_perm, c_kind, c_path) = (
        col("START"),
        col("SIZE"),
        col("PERM"),
        col("KIND"),
        col("PATH"),
    );
    let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), n);
    let total: u64 = recs.iter().map(|r| r[c_size].parse::<u64>().unwrap()).sum();
    let want: u64 = maps_ranges(&live.maps).iter().map(|(a, b)| b - a).sum();
    assert_eq!(total, want, "CSV sizes are exact bytes");
    let row = recs
        .iter()
        .find(|r| r[c_start] == format!("{memfd:012x}"))
        .expect("the memfd row in CSV");
    assert_eq!(
        &row[c_size],
        &num(&live.kid.info["memfd"]["len"]).to_string()
    );
    assert_eq!(&row[c_perm], "rw-s");
    assert_eq!(&row[c_kind], "shared-memory");
    assert_eq!(&row[c_path], "/memfd:maplens test");
    let row = recs
        .iter()
        .find(|r| r[c_start] == format!("{:012x}", num(&newline["addr"])))
        .expect("the newline file's row in CSV");
    // CSV escapes like the table (a newline is the kernel's `\012`): no
    // raw control byte reaches a spreadsheet or a terminal.
    let want_path = newline["path"]
        .as_str()
        .expect("path")
        .replace('\n', "\\012");
    assert_eq!(&row[c_path], want_path.as_str());
    assert!(!csv_text.contains("new\nline"), "{csv_text}");

    // Table: header, one line per region, then the summary.
    let table = run_ok(&["maps", &pid]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("START"), "{}", lines[0]);
    let rows: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .filter(|l| l.len() > 12 && l.as_bytes()[..12].iter().all(u8::is_ascii_hexdigit))
        .collect();
    assert_eq!(rows.len(), n, "one table line per region");
    assert!(
        table.contains(&format!("\n{n} regions, ")),
        "summary line with {n} regions: {}",
        lines.last().unwrap()
    );
    let memfd_line = rows
        .iter()
        .find(|l| l.starts_with(&format!("{memfd:012x} ")))
        .expect("the memfd row in the table");
    assert!(memfd_line.contains("rw-s"), "{memfd_line}");
    assert!(memfd_line.contains("shared-memory"), "{memfd_line}");
    assert!(memfd_line.contains("/memfd:maplens test"), "{memfd_line}");
    // The newline stays escaped: the table keeps one line per region.
    let nl_line = rows
        .iter()
        .find(|l| l.starts_with(&format!("{:012x} ", num(&newline["addr"]))))
        .expect("the newline file's row in the table");
    assert!(nl_line.contains("new\\012line.bin"), "{nl_line}");
}
