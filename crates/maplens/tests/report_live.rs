//! The process report on a live child with a known layout
//! (`maplens-testkid`): thread stacks tied to the right TIDs and names,
//! glibc arenas found, and the category totals equal to the kernel's.

use std::process::Command;

use maplens_testkid::Kid;
use serde_json::Value;

fn report_json(target: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(["report", target, "--format", "json"])
        .output()
        .expect("run maplens");
    assert!(
        out.status.success(),
        "maplens failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn live_report_attributes_threads_arenas_and_adds_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_s = dir.path().to_str().expect("utf-8 temp dir");
    let kid = Kid::spawn(&[
        "--threads",
        "8",
        "--thread-names",
        "--arenas",
        "4",
        "--big-anon",
        "16",
        "--file-spaces",
        dir_s,
        "--sysv-shm",
        "--memfd",
        "report-test",
    ])
    .expect("spawn kid");
    // Frozen: smaps, smaps_rollup and task/*/syscall are stable now.
    kid.stop().expect("stop kid");
    // The live report reads smaps only; the kernel's own totals, read as
    // a rollup-only input, must agree with its sum. Two reads are two
    // moments even of a frozen process: a page it shares with another
    // process (of libc, say) turns private when that process exits or
    // unmaps it between them, and private pages turn shared when one
    // starts, moving USS and PSS by a page. So the pair is read again, up
    // to five times, until no other process moved a shared page between
    // the two reads; a sum that is wrong is wrong every time.
    let sharing = |v: &Value| (u(&v["uss"]), u(&v["pss"]));
    let (mut r, mut rolled) = (Value::Null, Value::Null);
    for _ in 0..5 {
        r = report_json(&kid.pid.to_string());
        rolled = report_json(&format!("/proc/{}/smaps_rollup", kid.pid));
        let (uss, pss) = sharing(&r["totals"]["usage"]);
        let (russ, rpss) = sharing(&rolled["totals"]["rollup"]);
        if uss == russ && pss <= rpss && rpss - pss < 1024 * u(&r["totals"]["usage"]["regions"]) {
            break;
        }
    }
    kid.cont().expect("cont");

    assert_eq!(u(&r["schema_version"]), 1);
    assert_eq!(r["pid"].as_u64(), Some(u64::from(kid.pid)));
    assert_eq!(r["has_residency"], true);

    // Σ categories = totals, and the totals = smaps_rollup (nothing counted
    // twice, nothing dropped).
    let t = &r["totals"]["usage"];
    let cats = r["categories"].as_array().expect("categories");
    for key in ["regions", "size", "rss", "pss", "uss", "swap", "dirty"] {
        let sum: u64 = cats.iter().map(|c| u(&c["usage"][key])).sum();
        assert_eq!(sum, u(&t[key]), "Σ categories {key} != total");
    }
    assert_eq!(r["totals"]["rollup"], Value::Null, "a report with regions");
    assert_eq!(rolled["format"], "smaps_rollup");
    let rollup = &rolled["totals"]["rollup"];
    assert_eq!(rollup, &rolled["totals"]["usage"]);
    for key in ["rss", "uss", "swap", "dirty", "thp"] {
        assert_eq!(
            u(&t[key]),
            u(&rollup[key]),
            "{key}: Σ smaps != smaps_rollup"
        );
    }
    // The kernel rounds each region's Pss down to a kB, but the rollup's
    // sum only once: Σ smaps Pss is a little lower, by under 1 kB a region.
    let (pss, rpss) = (u(&t["pss"]), u(&rollup["pss"]));
    assert!(
        pss <= rpss && rpss - pss < 1024 * u(&t["regions"]),
        "pss {pss} vs {rpss}"
    );
    assert!(u(&r["totals"]["max_map_count"]) > 0);
    assert!(u(&r["totals"]["largest_gap"]["size"]) > 0);

    // Every named thread's stack is attributed to its TID and name, and
    // holds the stack address the thread reported.
    let stacks = r["threads"]["stacks"].as_array().expect("stacks");
    assert_eq!(r["threads"]["attribution"], "stack-pointer");
    let kid_threads = kid.info["threads"].as_array().expect("threads");
    assert_eq!(kid_threads.len(), 8);
    for kt in kid_threads {
        let tid = u(&kt["tid"]);
        let st = stacks
            .iter()
            .find(|s| s["tid"].as_u64() == Some(tid))
            .unwrap_or_else(|| panic!("no stack for thread {tid}: {stacks:#?}"));
        assert_eq!(st["name"], kt["name"], "thread {tid}");
        assert!(
            kt["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("kid-worker-"))
        );
        let sp = u(&kt["sp"]);
        assert!(
            u(&st["start"]) <= sp && sp < u(&st["end"]),
            "sp outside {st}"
        );
        assert_eq!(st["main"], false);
        // 8 MiB asked for (glibc may add the TLS and round).
        let size = u(&st["usage"]["size"]);
        assert!((8 << 20..=9 << 20).contains(&size), "stack size {size}");
        // 40 KiB touched: resident, and far less than reserved.
        let rss = u(&st["usage"]["rss"]);
        assert!((40 << 10..1 << 20).contains(&rss), "stack rss {rss}");
        assert!(u(&st["guard"]) >= 4096, "guard under {tid}");
        assert_eq!(st["rule"], "thread-sp");
    }
    let main = &stacks[0];
    assert_eq!(main["main"], true);
    assert_eq!(main["tid"].as_u64(), Some(u64::from(kid.pid)));

    // glibc arenas: every arena thread's first block lies in an arena heap.
    let al = &r["allocators"];
    assert_eq!(al["libc"], "glibc");
    assert!(u(&al["glibc_arena_count"]) >= 1);
    let rows = al["rows"].as_array().expect("rows");
    for a in kid.info["arenas"].as_array().expect("arenas") {
        let p = u(&a["first"]);
        let row = rows
            .iter()
            .find(|r| u(&r["start"]) <= p && p < u(&r["end"]))
            .unwrap_or_else(|| panic!("block {p:#x} in no allocator row"));
        assert_eq!(row["kind"], "glibc-arena", "{row}");
        assert_eq!(u(&row["reserved"]), 64 << 20);
        assert!(u(&row["used"]) >= 1000 * 1024);
    }

    // The known mappings land in their categories.
    let cat = |id: &str| {
        cats.iter()
            .find(|c| c["category"] == id)
            .unwrap_or_else(|| panic!("no category {id}"))
            .clone()
    };
    let shm = u(&kid.info["sysv_shm"]["len"]) + u(&kid.info["memfd"]["len"]);
    assert!(u(&cat("shared-memory")["usage"]["size"]) >= shm);
    assert!(u(&cat("anon-mmap")["usage"]["size"]) >= 16 << 20);
    assert!(u(&cat("mapped-file")["usage"]["size"]) >= u(&kid.info["file_spaces"]["len"]));
    assert!(u(&cat("thread-stack")["usage"]["regions"]) >= 8 + 4);
    drop(kid);
}
