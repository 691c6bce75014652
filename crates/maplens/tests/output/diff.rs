//! `maplens diff` and `maplens baseline save`: a live child that unmaps,
//! mprotects, grows and maps known regions between two frozen readings,
//! and real captures of one process taken twice.

use std::path::Path;
use std::time::{Duration, Instant};

use maplens_testkid::Kid;
use serde_json::Value;

use crate::offline::serial;
use crate::watch::run;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn change_at(doc: &Value, addr: u64) -> Vec<String> {
    doc["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter(|r| {
            let side = if r["after"].is_null() {
                &r["before"]
            } else {
                &r["after"]
            };
            side["start"].as_u64() == Some(addr)
        })
        .map(|r| r["change"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn live_before_and_after_name_each_change() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let base = base.to_str().unwrap();
    let mut kid = Kid::spawn(&["--changes"]).expect("spawn kid");
    let pid = kid.pid.to_string();
    let at = |k: &str| kid.info["changes"][k]["addr"].as_u64().unwrap();
    let (unmap, prot, grow, map) = (at("unmap"), at("mprotect"), at("grow"), at("map"));
    kid.stop().unwrap();
    let (code, _, err) = run(&["baseline", "save", &pid, "-o", base]);
    assert_eq!(code, 0, "{err}");
    // Frozen and unchanged: the same layout.
    let (code, out, err) = run(&["diff", base, &pid, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let same = json(&out);
    assert_eq!(same["same_layout"], true, "{out}");
    kid.cont().unwrap();
    kid.send(b"go\n").unwrap();
    let maps = kid.proc("maps");
    let want = format!("{map:x}-");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&maps).unwrap().contains(&want) {
        assert!(Instant::now() < deadline, "the kid made no change");
        std::thread::sleep(Duration::from_millis(10));
    }
    kid.stop().unwrap();
    let (code, out, err) = run(&["diff", base, &pid, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let d = json(&out);
    assert_eq!(change_at(&d, unmap), ["removed"]);
    assert_eq!(change_at(&d, prot), ["perms"]);
    assert_eq!(change_at(&d, grow), ["grown"]);
    assert_eq!(change_at(&d, map), ["added"]);
    let p = d["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["change"] == "perms")
        .unwrap();
    assert_eq!(
        (p["before"]["perms"].as_str(), p["after"]["perms"].as_str()),
        (Some("rw-p"), Some("r--p"))
    );
    assert_eq!(d["same_layout"], false);
    let verdict = d["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with(
            "layout changed: 1 added, 1 removed, 1 grown, 0 shrunk, 1 permission change"
        ),
        "{verdict}"
    );
    // The table: the verdict first, the regions and categories after.
    let (_, table, _) = run(&["diff", base, &pid]);
    assert!(table.starts_with("layout changed"), "{table}");
    assert!(
        table.contains("rw-p->r--p") && table.contains("CATEGORY"),
        "{table}"
    );
}

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/fixtures")
        .join(name);
    p.to_str().unwrap().to_owned()
}

#[test]
fn one_process_captured_twice() {
    // maps then smaps of one idle process: the same regions.
    for stem in [
        "localcap__x86_64-linux6.18-python-oddnames",
        "jc__x86_64-linux5-systemd-pid1",
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem",
    ] {
        let (code, out, err) = run(&[
            "diff",
            &fixture(&format!("{stem}.maps")),
            &fixture(&format!("{stem}.smaps")),
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{err}");
        let d = json(&out);
        assert_eq!(d["same_layout"], true, "{stem}: {}", d["verdict"]);
        assert_eq!(d["regions"].as_array().unwrap().len(), 0, "{stem}");
    }
    // The miner read through /proc/PID/maps and through a thread's
    // task/TID/maps: the 13 `[stack:TID]` names are gone, so those regions
    // (same ranges) are removed under one name and added under none.
    let (code, out, err) = run(&[
        "diff",
        &fixture("innofirmware__armv7-linux4.4-miner-stackTID.maps"),
        &fixture("innofirmware__armv7-linux4.4-miner-task20798-view.maps"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let d = json(&out);
    let regions = d["regions"].as_array().unwrap();
    let removed: Vec<&Value> = regions
        .iter()
        .filter(|r| r["change"] == "removed")
        .collect();
    let stacks = removed
        .iter()
        .filter(|r| r["before"]["path"].as_str().unwrap().starts_with("[stack:"))
        .count();
    assert_eq!(stacks, 13);
    for r in &removed {
        let start = r["before"]["start"].as_u64();
        assert!(
            regions
                .iter()
                .any(|a| a["change"] == "added" && a["after"]["start"].as_u64() == start),
            "{r}"
        );
    }
    let (code, _, err) = run(&[
        "diff",
        &fixture("no-such.maps"),
        &fixture("jc__x86_64-linux5-systemd-pid1.maps"),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such.maps"), "{err}");
}
