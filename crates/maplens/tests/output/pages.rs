//! `maplens pages` and `maplens wss` on live children with known pages:
//! exact zero and duplicate counts, exact residency, PAGEMAP_SCAN and the
//! per-page fallback agreeing, PROCMAP_QUERY equal to the text of maps, and
//! a working set within 10% of what the child touches.

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use maplens_core::model::Snapshot;
use maplens_core::parse::Mode;
use maplens_core::source::procmap::{MapsQuery, Via};
use maplens_testkid::Kid;
use serde_json::Value;

/// Runs maplens with `env` added; returns its JSON output.
fn maplens_json(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut c = Command::cargo_bin("maplens").expect("built");
    c.args(args).args(["--format", "json"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run");
    assert!(
        out.status.success(),
        "maplens {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The region of a `pages` document that starts at `addr`.
fn region(doc: &Value, addr: u64) -> &Value {
    doc["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .find(|r| r["start"].as_u64() == Some(addr))
        .unwrap_or_else(|| panic!("no region at {addr:x}"))
}

/// Both ways of finding the runs: the ioctl, and the forced per-page read.
const MECHANISMS: [(&str, &[(&str, &str)]); 2] = [
    ("pagemap_scan", &[]),
    ("pagemap", &[("MAPLENS_NO_IOCTL", "pagemap_scan")]),
];

#[test]
fn content_counts_zero_and_duplicate_pages_exactly() {
    let kid = Kid::spawn(&["--pages-content"]).expect("kid");
    kid.stop().expect("stop");
    let info = &kid.info["pages_content"];
    let addr = info["addr"].as_u64().unwrap();
    let pid = kid.pid.to_string();
    for (via, env) in MECHANISMS {
        let doc = maplens_json(&["pages", &pid, "--content"], env);
        let r = region(&doc, addr);
        assert_eq!(r["via"], via);
        assert_eq!(r["counts"]["present"], 4096, "{via}");
        let c = &r["content"];
        assert_eq!(c["read"], 4096, "{via}");
        // 4 MiB written with zeros: 1,024 zero pages.
        assert_eq!(c["zero"], info["zero_pages"], "{via}");
        assert_eq!(c["zero"], 1024);
        // Four copies of 256 distinct pages: three copies are duplicates.
        assert_eq!(c["duplicate"], info["duplicate_pages"], "{via}");
        assert_eq!(c["duplicate"], 768);
    }
    // --region finds the same region by PROCMAP_QUERY, and by the text.
    let hex = format!("{:x}", addr + 4096);
    for env in [&[][..], &[("MAPLENS_NO_IOCTL", "all")][..]] {
        let doc = maplens_json(&["pages", &pid, "--content", "--region", &hex], env);
        assert_eq!(doc["regions"].as_array().unwrap().len(), 1);
        assert_eq!(region(&doc, addr)["content"]["zero"], 1024);
        assert_eq!(region(&doc, addr)["content"]["duplicate"], 768);
    }
}

fn swap_configured() -> bool {
    std::fs::read_to_string("/proc/swaps").is_ok_and(|s| s.lines().count() > 1)
}

#[test]
fn every_fourth_mib_is_exactly_what_is_present() {
    let kid = Kid::spawn(&["--sparse", "64", "--pageout-mib", "1"]).expect("kid");
    kid.stop().expect("stop");
    let info = &kid.info["sparse"];
    let addr = info["addr"].as_u64().unwrap();
    let pid = kid.pid.to_string();
    let touched = info["touched_pages"].as_u64().unwrap();
    assert_eq!(touched, 4096);
    for (via, env) in MECHANISMS {
        let doc = maplens_json(&["pages", &pid, "--strip", "64"], env);
        let r = region(&doc, addr);
        assert_eq!(r["via"], via);
        let c = &r["counts"];
        assert_eq!(c["pages"], 16384);
        // MADV_PAGEOUT of the first MiB: with swap, its pages may leave
        // for swap; without, anonymous pages cannot be reclaimed and stay.
        let (present, swapped) = (
            c["present"].as_u64().unwrap(),
            c["swapped"].as_u64().unwrap(),
        );
        if swap_configured() {
            assert_eq!(
                present + swapped,
                touched,
                "{via}: every touched page is present or swapped"
            );
            assert!(swapped <= 256, "{via}: only the paged-out MiB swaps");
            eprintln!("swap present: {swapped} of 256 paged-out pages swapped");
        } else {
            eprintln!(
                "/proc/swaps lists no swap: MADV_PAGEOUT cannot move anonymous pages; checking they stay"
            );
            assert_eq!((present, swapped), (touched, 0), "{via}");
        }
        assert_eq!(
            c["exclusive"], present,
            "{via}: private pages of one process"
        );
        assert_eq!(c["file_shared"], 0, "{via}");
        if swapped == 0 {
            assert_eq!(r["strip"], "#   ".repeat(16), "{via}: 1 MiB cells");
        }
    }
}

#[test]
fn without_kpageflags_says_which_figures_need_root() {
    // A proc root whose PID is the real one but which has no kpageflags:
    // what an unprivileged reader meets.
    let kid = Kid::spawn(&["--sparse", "8"]).expect("kid");
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(kid.proc(""), dir.path().join(kid.pid.to_string())).expect("link");
    let pid = kid.pid.to_string();
    let root = dir.path().to_str().unwrap();
    let doc = maplens_json(&["pages", &pid, "--proc-root", root], &[]);
    assert!(doc["frames"].is_null());
    let why = doc["unavailable"][0].as_str().unwrap();
    assert!(why.contains("KSM") && why.contains("need root"), "{why}");
    let full = maplens_json(&["pages", &pid], &[]);
    if rustix::process::geteuid().is_root() {
        assert!(full["frames"]["frames"].as_u64().unwrap() > 0);
    }
    assert_eq!(
        region(&doc, kid.info["sparse"]["addr"].as_u64().unwrap())["counts"]["present"],
        512
    );
}

#[test]
fn procmap_query_equals_the_text_of_maps_for_every_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().unwrap();
    let kid = Kid::spawn(&[
        "--file-newline",
        d,
        "--deleted",
        d,
        "--memfd",
        "pages memfd",
        "--sysv-shm",
        "--shared-anon",
        "--threads",
        "2",
        "--regions",
        "6",
        "--rwx",
    ])
    .expect("kid");
    kid.stop().expect("stop");
    let text = std::fs::read(kid.proc("maps")).expect("maps");
    let mut want = Snapshot::from_text("maps", &text, Mode::Strict)
        .expect("parse")
        .regions;
    // The kernel's gate area ([vsyscall]) is printed in maps but is no VMA:
    // PROCMAP_QUERY does not know it.
    let gate = want.iter().position(|r| r.path.raw() == b"[vsyscall]");
    let gate = gate.map(|i| want.remove(i));
    let (got, via) = MapsQuery::open("/proc".as_ref(), kid.pid)
        .expect("open")
        .regions()
        .expect("query");
    assert_eq!(via, Via::Ioctl, "this kernel (6.18) has PROCMAP_QUERY");
    let (fallback, via) = MapsQuery::open("/proc".as_ref(), kid.pid)
        .expect("open")
        .text_only()
        .regions()
        .expect("text");
    assert_eq!(via, Via::Text);
    assert_eq!(got.len(), want.len());
    // The text path keeps the gate area.
    assert_eq!(fallback.len(), want.len() + usize::from(gate.is_some()));
    let fallback: Vec<_> = fallback
        .into_iter()
        .filter(|r| r.path.raw() != b"[vsyscall]")
        .collect();
    for rs in [&got, &fallback] {
        for (g, w) in rs.iter().zip(&want) {
            let at = format!("{:x}-{:x} {}", w.start, w.end, w.path.raw_lossy());
            assert_eq!((g.start, g.end, g.perms), (w.start, w.end, w.perms), "{at}");
            assert_eq!(
                (g.offset, g.dev, g.inode),
                (w.offset, w.dev, w.inode),
                "{at}"
            );
            assert_eq!(g.path.raw(), w.path.raw(), "{at}");
        }
    }
    // Lookups of an address inside, and of one in a gap.
    let mut q = MapsQuery::open("/proc".as_ref(), kid.pid).expect("open");
    let memfd = kid.info["memfd"]["addr"].as_u64().unwrap();
    let (r, _) = q.find(memfd + 1).expect("find");
    assert!(r.unwrap().path.raw().starts_with(b"/memfd:pages memfd"));
    let (r, _) = q.find(0).expect("find");
    assert!(r.is_none());
}

#[test]
fn wss_of_a_loop_over_8_of_64_mib_is_within_ten_percent() {
    let kid = Kid::spawn(&["--wss-loop", "64:8"]).expect("kid");
    let addr = kid.info["wss_loop"]["addr"].as_u64().unwrap();
    let pid = kid.pid.to_string();
    // Refused without --yes: it would write another process's clear_refs.
    let out = Command::cargo_bin("maplens")
        .unwrap()
        .args(["wss", &pid, "--interval", "0.2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let doc = maplens_json(
        // clear_refs by name: on a kernel with vaddr DAMON `auto` would
        // start a kdamond, whose estimate is another test's business.
        &[
            "wss",
            &pid,
            "--interval",
            "1",
            "--duration",
            "2",
            "--mechanism",
            "clear-refs",
            "--yes",
        ],
        &[],
    );
    let samples = doc["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    for s in samples {
        let r = s["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["start"].as_u64() == Some(addr))
            .expect("the looping region is in the working set");
        let kb = r["referenced_kb"].as_f64().unwrap();
        assert!(
            (kb - 8192.0).abs() <= 819.2,
            "working set {kb} kB, want 8192 ± 10%"
        );
        assert_eq!(r["rss_kb"], 65536);
    }
}

#[test]
fn a_spent_time_budget_is_reported_never_silent() {
    let kid = Kid::spawn(&["--sparse", "8"]).expect("kid");
    let pid = kid.pid.to_string();
    for (_, env) in MECHANISMS {
        let doc = maplens_json(&["pages", &pid, "--budget", "0"], env);
        assert_eq!(doc["complete"], false);
        assert_eq!(doc["regions"][0]["complete"], false);
        let out = Command::cargo_bin("maplens")
            .unwrap()
            .args(["pages", &pid, "--budget", "0"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("incomplete: the time budget"), "{text}");
    }
}
