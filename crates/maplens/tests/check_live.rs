//! `maplens check` on live children that create each condition, with the
//! numbers checked against the child's own account and its maps.

use std::path::Path;

use assert_cmd::Command;
use maplens_testkid::Kid;
use serde_json::Value;

const KIB: u64 = 1024;
const MIB: u64 = 1 << 20;

fn maplens() -> Command {
    let mut c = Command::cargo_bin("maplens").expect("maplens binary");
    c.env("NO_COLOR", "1");
    c
}

/// Runs `maplens check --format json --min-severity info ARGS`; returns the
/// exit code and the first target's JSON.
fn check(args: &[&str]) -> (i32, Value) {
    let out = maplens()
        .args(["check", "--format", "json", "--min-severity", "info"])
        .args(args)
        .output()
        .expect("run maplens");
    let code = out.status.code().unwrap_or(-1);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, doc["targets"][0].clone())
}

fn check_kid(kid: &Kid) -> (i32, Value) {
    kid.stop().expect("stop kid");
    let r = check(&[&kid.pid.to_string()]);
    kid.cont().expect("cont kid");
    r
}

fn findings<'a>(t: &'a Value, id: &str) -> Vec<&'a Value> {
    t["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

fn one<'a>(t: &'a Value, id: &str) -> &'a Value {
    let f = findings(t, id);
    assert_eq!(f.len(), 1, "expected one {id} finding in {t:#}");
    f[0]
}

fn num(f: &Value, k: &str) -> u64 {
    f["numbers"][k]
        .as_u64()
        .unwrap_or_else(|| panic!("no number {k} in {f:#}"))
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().expect("hex string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

fn region_starts(f: &Value) -> Vec<u64> {
    f["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| hex(&r["start"]))
        .collect()
}

/// `(start, end, perms, path)` of every region of a live process.
fn maps(pid: u32) -> Vec<(u64, u64, String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    text.lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            let range = w.next().expect("range");
            let perms = w.next().expect("perms").to_owned();
            let path = w.nth(3).unwrap_or("").to_owned();
            let (a, b) = range.split_once('-').expect("dash");
            (
                u64::from_str_radix(a, 16).expect("hex"),
                u64::from_str_radix(b, 16).expect("hex"),
                perms,
                path,
            )
        })
        .collect()
}

const SECURITY: [&str; 6] = [
    "wx-memory",
    "exec-stack",
    "exec-anon",
    "deleted-file",
    "shared-writable-file",
    "dev-mem",
];

#[test]
fn clean_child_has_no_findings() {
    let kid = Kid::spawn(&["--threads", "2"]).expect("spawn");
    let (code, t) = check_kid(&kid);
    assert_eq!(t["findings"], Value::Array(vec![]), "{t:#}");
    assert_eq!(code, 0);
    // Live: every rule ran, none skipped for lack of data (hugetlb needs
    // /proc/meminfo, which a live target has).
    let skipped: Vec<&str> = t["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    for id in SECURITY {
        assert!(!skipped.contains(&id), "{id} skipped: {t:#}");
    }
    assert!(!skipped.contains(&"stack-reserve"));
    assert!(!skipped.contains(&"swap"));
}

#[test]
fn rwx_mapping_is_wx_memory() {
    let kid = Kid::spawn(&["--rwx"]).expect("spawn");
    let addr = kid.info["rwx"]["addr"].as_u64().expect("addr");
    let len = kid.info["rwx"]["len"].as_u64().expect("len");
    let (code, t) = check_kid(&kid);
    let f = one(&t, "wx-memory");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["area"], "security");
    assert_eq!(region_starts(f), vec![addr]);
    assert_eq!(num(f, "bytes"), len);
    assert_eq!(num(f, "regions"), 1);
    assert_eq!(code, 1);
    // Not also reported as executable anonymous memory (it is writable).
    assert!(findings(&t, "exec-anon").is_empty());
    // --ignore removes it, and the exit code follows.
    kid.stop().expect("stop");
    let out = maplens()
        .args(["check", "--ignore", "wx-memory", &kid.pid.to_string()])
        .output()
        .expect("run");
    kid.cont().expect("cont");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn executable_stack() {
    let kid = Kid::spawn(&["--exec-stack"]).expect("spawn");
    let addr = kid.info["exec_stack"]["addr"].as_u64().expect("addr");
    let (code, t) = check_kid(&kid);
    let f = one(&t, "exec-stack");
    assert_eq!(f["severity"], "high");
    assert_eq!(num(f, "main_stack"), 1);
    assert_eq!(num(f, "thread_stacks"), 0);
    assert!(region_starts(f).contains(&addr), "{f:#}");
    // The stack is rwx but reported once, as a stack.
    assert!(findings(&t, "wx-memory").is_empty(), "{t:#}");
    assert_eq!(code, 1);
}

#[test]
fn executable_anonymous_memory() {
    let kid = Kid::spawn(&["--exec-anon"]).expect("spawn");
    let addr = kid.info["exec_anon"]["addr"].as_u64().expect("addr");
    let len = kid.info["exec_anon"]["len"].as_u64().expect("len");
    let (_, t) = check_kid(&kid);
    let f = one(&t, "exec-anon");
    assert_eq!(f["severity"], "medium");
    assert_eq!(region_starts(f), vec![addr]);
    assert_eq!(num(f, "bytes"), len);
}

#[test]
fn deleted_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 temp dir");
    let kid = Kid::spawn(&["--deleted", d]).expect("spawn");
    let path = kid.info["deleted"]["path"]
        .as_str()
        .expect("path")
        .to_owned();
    let addr = kid.info["deleted"]["addr"].as_u64().expect("addr");
    let (_, t) = check_kid(&kid);
    let f = one(&t, "deleted-file");
    assert_eq!(f["subject"], path.as_str());
    assert_eq!(f["severity"], "low");
    assert_eq!(num(f, "executable"), 0);
    assert_eq!(region_starts(f), vec![addr]);
}

#[test]
fn deleted_program_needs_restart() {
    // The kid runs from a private copy of its binary; deleting the copy is
    // what a package upgrade does to a running program.
    let kid = Kid::spawn_copy(&[]).expect("spawn");
    let exe = kid.info["exe"].as_str().expect("exe").to_owned();
    std::fs::remove_file(&exe).expect("delete the copy");
    let (code, t) = check_kid(&kid);
    let f = findings(&t, "deleted-file");
    let f = f
        .iter()
        .find(|f| f["subject"] == exe.as_str())
        .unwrap_or_else(|| panic!("no deleted-file for {exe}: {t:#}"));
    assert_eq!(f["severity"], "medium");
    assert_eq!(num(f, "executable"), 1);
    let mapped = maps(kid.pid).into_iter().filter(|m| m.3 == exe).count() as u64;
    assert_eq!(num(f, "regions"), mapped);
    assert_eq!(code, 1);
}

#[test]
fn shared_writable_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 temp dir");
    let kid = Kid::spawn(&["--shared-file", d]).expect("spawn");
    let path = kid.info["shared_file"]["path"]
        .as_str()
        .expect("path")
        .to_owned();
    let len = kid.info["shared_file"]["len"].as_u64().expect("len");
    let (_, t) = check_kid(&kid);
    let f = one(&t, "shared-writable-file");
    assert_eq!(f["subject"], path.as_str());
    assert_eq!(num(f, "bytes"), len);
    assert_eq!(f["severity"], "low");
}

#[test]
fn sixty_four_threads_with_8_mib_stacks() {
    let kid = Kid::spawn(&["--threads", "64"]).expect("spawn");
    let threads = kid.info["threads"].as_array().expect("threads").clone();
    kid.stop().expect("stop");
    let m = maps(kid.pid);
    let smaps = std::fs::read_to_string(kid.proc("smaps")).expect("smaps");
    let (_, t) = check(&[&kid.pid.to_string()]);
    kid.cont().expect("cont");
    // The stack regions, found independently: the region holding each
    // thread's stack pointer (as the kid reported it).
    let mut stacks: Vec<(u64, u64)> = threads
        .iter()
        .map(|th| {
            let sp = th["sp"].as_u64().expect("sp");
            let r = m
                .iter()
                .find(|r| r.0 <= sp && sp < r.1)
                .expect("region of sp");
            (r.0, r.1)
        })
        .collect();
    stacks.sort_unstable();
    stacks.dedup();
    assert_eq!(stacks.len(), 64);
    let reserved: u64 = stacks.iter().map(|s| s.1 - s.0).sum();
    // Rss of each stack region from smaps.
    let rss_of = |start: u64| -> u64 {
        let head = format!("{start:x}-");
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&head));
        lines
            .find_map(|l| l.strip_prefix("Rss:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .expect("Rss")
            * KIB
    };
    let deepest = stacks.iter().map(|s| rss_of(s.0)).max().expect("max");
    let resident: u64 = stacks.iter().map(|s| rss_of(s.0)).sum();
    let suggested = (deepest * 2).max(128 * KIB).next_power_of_two();
    let saving: u64 = stacks
        .iter()
        .map(|s| (s.1 - s.0).saturating_sub(suggested))
        .sum();

    let f = one(&t, "stack-reserve");
    assert_eq!(num(f, "stacks"), 64);
    assert_eq!(num(f, "reserved"), reserved);
    assert!(reserved >= 64 * (8 * MIB - 64 * KIB), "{reserved}");
    assert_eq!(num(f, "resident"), resident);
    // The kid touched 40 KiB of each stack.
    assert!(resident >= 64 * 40 * KIB, "{resident}");
    assert_eq!(num(f, "suggested_size"), suggested);
    assert_eq!(suggested, 128 * KIB);
    assert_eq!(f["saving"]["bytes"], saving);
    assert_eq!(f["saving"]["kind"], "virtual");
    assert!(saving > 500 * MIB, "{saving}");
    assert_eq!(f["severity"], "low");
    let starts = region_starts(f);
    for s in &stacks {
        assert!(starts.contains(&s.0), "stack {:x} missing", s.0);
    }
}

#[test]
fn glibc_arenas_from_16_threads() {
    let kid = Kid::spawn(&["--arenas", "16"]).expect("spawn");
    let arenas = kid.info["arenas"].as_array().expect("arenas").clone();
    kid.stop().expect("stop");
    let m = maps(kid.pid);
    let (_, t) = check(&[&kid.pid.to_string()]);
    kid.cont().expect("cont");
    // Distinct 64 MiB heaps holding the threads' first blocks, outside the
    // brk heap (the main arena).
    let heap = m.iter().find(|r| r.3 == "[heap]");
    let mut bases: Vec<u64> = arenas
        .iter()
        .map(|a| a["first"].as_u64().expect("first"))
        .filter(|&p| heap.is_none_or(|h| !(h.0 <= p && p < h.1)))
        .map(|p| p & !(64 * MIB - 1))
        .collect();
    bases.sort_unstable();
    bases.dedup();
    let f = one(&t, "malloc-arenas");
    assert_eq!(num(f, "arenas"), bases.len() as u64, "{f:#}");
    // glibc allows 8 arenas per CPU; with 16 threads there are at least
    // min(16, 8 × CPUs − 1) of them besides the main one.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    assert!(num(f, "arenas") >= 16.min(8 * cpus - 1), "{f:#}");
    assert_eq!(num(f, "arena_size"), 64 * MIB);
    assert_eq!(
        f["saving"]["bytes"],
        (bases.len() as u64 - 1) * 64 * MIB,
        "MALLOC_ARENA_MAX=2 keeps one arena besides the main heap"
    );
    assert_eq!(f["saving"]["kind"], "virtual");
    let starts = region_starts(f);
    for b in &bases {
        assert!(starts.contains(b), "arena {b:x} not in the finding");
    }
}

#[test]
fn thousand_adjacent_anonymous_regions() {
    let kid = Kid::spawn(&["--adjacent", "1000"]).expect("spawn");
    let base = kid.info["adjacent"]["base"].as_u64().expect("base");
    let len = kid.info["adjacent"]["len"].as_u64().expect("len");
    kid.stop().expect("stop");
    let m = maps(kid.pid);
    let (_, t) = check(&[&kid.pid.to_string()]);
    kid.cont().expect("cont");
    let in_range = m
        .iter()
        .filter(|r| r.0 >= base && r.1 <= base + len)
        .count();
    assert_eq!(in_range, 1000, "the kernel merged some pages");
    let f = one(&t, "anon-fragmentation");
    assert_eq!(f["severity"], "low");
    let starts = region_starts(f);
    let ours = starts
        .iter()
        .filter(|&&s| s >= base && s < base + len)
        .count();
    assert_eq!(ours, 1000);
    assert!(num(f, "removable_regions") >= 999);
    assert_eq!(num(f, "total_regions"), m.len() as u64);
    assert_eq!(
        num(f, "max_map_count"),
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .expect("max_map_count")
            .trim()
            .parse::<u64>()
            .expect("number")
    );
    assert_eq!(f["saving"]["kind"], "kernel");
    assert_eq!(f["saving"]["bytes"], num(f, "removable_regions") * 200);
    let run = format!("{base:x}-{:x} rw-p: 1000 regions, ", base + len);
    assert!(
        f["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.starts_with(&run))),
        "{f:#}"
    );
}

#[test]
fn large_untouched_anonymous_region() {
    let kid = Kid::spawn(&["--big-anon", "256"]).expect("spawn");
    let addr = kid.info["big_anon"]["addr"].as_u64().expect("addr");
    let (_, t) = check_kid(&kid);
    let f = one(&t, "anon-untouched");
    assert!(region_starts(f).contains(&addr), "{f:#}");
    assert_eq!(num(f, "bytes"), 256 * MIB);
    let resident = num(f, "resident");
    assert!(resident <= 64 * KIB, "{resident}");
    assert_eq!(f["saving"]["bytes"], 256 * MIB - resident);
    assert_eq!(f["saving"]["kind"], "virtual");
}

#[test]
fn thp_eligible_on_small_pages() {
    let kid = Kid::spawn(&["--thp-small", "8"]).expect("spawn");
    let addr = kid.info["thp_small"]["addr"].as_u64().expect("addr");
    kid.stop().expect("stop");
    let field = |key: &str| -> Option<u64> {
        let smaps = std::fs::read_to_string(kid.proc("smaps")).ok()?;
        let head = format!("{addr:x}-");
        smaps
            .lines()
            .skip_while(|l| !l.starts_with(&head))
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let before = (field("THPeligible"), field("AnonHugePages"));
    let (_, t) = check(&[&kid.pid.to_string()]);
    let after = (field("THPeligible"), field("AnonHugePages"));
    kid.cont().expect("cont");
    if before != (Some(1), Some(0)) || after != before {
        // THP disabled here, or khugepaged collapsed the region first.
        eprintln!("thp_eligible_on_small_pages: condition not met ({before:?}, {after:?})");
        return;
    }
    let f = one(&t, "thp-unused");
    assert!(region_starts(f).contains(&addr), "{f:#}");
    assert!(num(f, "resident") >= 8 * MIB);
    assert_eq!(num(f, "huge_page_size"), 2 * MIB);
    assert_eq!(f["saving"]["kind"], "kernel");
}

/// A copied /proc: the process from a fixture, plus meminfo and
/// vm.max_map_count, so the system rules run as on a live target.
fn fake_proc(fixture: &str, meminfo: &str, max_map_count: u64) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("4242");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/fixtures")
        .join(fixture);
    std::fs::copy(&src, dir.join("smaps")).expect("copy fixture");
    std::fs::write(root.path().join("meminfo"), meminfo).expect("meminfo");
    std::fs::create_dir_all(root.path().join("sys/vm")).expect("mkdir");
    std::fs::write(
        root.path().join("sys/vm/max_map_count"),
        format!("{max_map_count}\n"),
    )
    .expect("max_map_count");
    root
}

#[test]
fn hugetlb_pool_unused_and_map_count_from_system_files() {
    let meminfo = "MemTotal: 1000000 kB\nHugePages_Total:      16\nHugePages_Free:       12\n\
                   HugePages_Rsvd:        2\nHugePages_Surp:        0\nHugepagesize:    2048 kB\n";
    // The systemd fixture has 214 regions; a limit of 220 puts it past 90%.
    let root = fake_proc("jc__x86_64-linux5-systemd-pid1.smaps", meminfo, 220);
    let r = root.path().to_str().expect("utf-8");
    let (code, t) = check(&["--proc-root", r, "4242"]);
    let f = one(&t, "hugetlb-pool-unused");
    assert_eq!(num(f, "unused_pages"), 10);
    assert_eq!(f["saving"]["bytes"], 10 * 2 * MIB);
    assert_eq!(f["saving"]["kind"], "resident");
    let m = one(&t, "map-count");
    assert_eq!(num(m, "regions"), 214);
    assert_eq!(num(m, "max_map_count"), 220);
    assert_eq!(m["severity"], "high");
    assert_eq!(code, 1);
}

#[test]
fn skipped_rules_are_stated_for_maps_text() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/fixtures/jc__x86_64-linux5-systemd-pid1.maps");
    let (code, t) = check(&[fixture.to_str().expect("utf-8")]);
    assert_eq!(code, 0);
    let skipped: Vec<(&str, &str)> = t["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or(""),
                s["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for id in [
        "stack-reserve",
        "lib-not-resident",
        "anon-untouched",
        "swap",
        "thp-unused",
        "hugetlb-pool-unused",
    ] {
        let s = skipped.iter().find(|s| s.0 == id);
        assert!(
            s.is_some_and(|s| !s.1.is_empty()),
            "{id} not skipped: {t:#}"
        );
    }
}

#[test]
fn errors_exit_2() {
    let out = maplens()
        .args(["check", "/nonexistent/maplens-check-target"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = maplens()
        .args(["check", "--ignore", "no-such-rule", "self"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
