//! Golden reports (insta) of real captures from `tests/data/fixtures/`, of
//! different eras and architectures, plus the figures checked by hand
//! against the fixture text (awk / a script over the smaps fields).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures")
}

/// Runs `maplens report FILE ARGS…` in the fixture directory (so the
/// source name in the output is the bare file name).
fn run(file: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .current_dir(fixtures())
        .arg("report")
        .arg(file)
        .args(args)
        .output()
        .expect("run maplens");
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(file: &str) -> Value {
    serde_json::from_str(&run(file, &["--format", "json"])).expect("JSON")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn kb(v: &Value) -> u64 {
    u(v) / 1024
}

/// Σ categories = totals for every figure; every object's segments add up.
fn check_sums(r: &Value) {
    let t = &r["totals"]["usage"];
    let cats = r["categories"].as_array().expect("categories");
    for key in [
        "regions", "size", "rss", "pss", "uss", "swap", "dirty", "hugetlb",
    ] {
        if t[key].is_null() {
            assert!(cats.iter().all(|c| c["usage"][key].is_null()), "{key}");
            continue;
        }
        let sum: u64 = cats
            .iter()
            .map(|c| c["usage"][key].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(sum, u(&t[key]), "Σ categories {key}");
    }
    for o in r["objects"].as_array().expect("objects") {
        let sum: u64 = o["segments"]
            .as_array()
            .expect("segments")
            .iter()
            .map(|s| u(&s["usage"]["size"]))
            .sum();
        assert_eq!(sum, u(&o["usage"]["size"]), "{}", o["path"]);
    }
}

fn cat<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["category"] == id)
        .map(|c| &c["usage"])
        .unwrap_or_else(|| panic!("no category {id}"))
}

fn golden(name: &str, file: &str) -> Value {
    let text = run(file, &[]);
    insta::assert_snapshot!(name, text);
    let r = json(file);
    assert_eq!(u(&r["schema_version"]), 1);
    check_sums(&r);
    // CSV has the same total row as the JSON.
    let csv = run(file, &["--format", "csv"]);
    let total = csv.lines().nth(1).expect("total row");
    assert!(
        total.starts_with(&format!(
            "total,total,,{},{},",
            r["totals"]["usage"]["regions"], r["totals"]["usage"]["size"]
        )),
        "{total}"
    );
    r
}

/// ARMv7, Linux 4.4, glibc 2.21: thirteen `[stack:TID]` names.
/// By hand: 85 regions; Σ Rss 5192 kB, Σ Pss 4294 kB, Σ Private 4108 kB
/// (awk over the Rss:/Pss:/Private_* lines). Σ Size: lines is 140356 kB but
/// Σ (end − start) is 140352 kB: this kernel hides the stack guard page from
/// the `[stack]` range (be829000-be84a000 = 132 kB) but counts it in Size
/// (136 kB); VSZ is the ranges.
#[test]
fn arm_stack_tid_miner() {
    let r = golden(
        "arm_stack_tid_miner",
        "innofirmware__armv7-linux4.4-miner-stackTID.smaps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!((t["regions"].as_u64(), kb(&t["size"])), (Some(85), 140352));
    assert_eq!(
        (kb(&t["rss"]), kb(&t["pss"]), kb(&t["uss"])),
        (5192, 4294, 4108)
    );
    let stacks = r["threads"]["stacks"].as_array().expect("stacks");
    let named: Vec<u64> = stacks
        .iter()
        .filter(|s| s["rule"] == "path-stack-tid")
        .map(|s| u(&s["tid"]))
        .collect();
    // grep -o 'stack:[0-9]*' | sort -u: 13 thread ids.
    assert_eq!(named.len(), 13);
    assert!(named.contains(&20824) && named.contains(&20798));
    // Each of the 16 thread stacks (13 named + 3 by layout) has its 4 kB guard.
    assert_eq!(stacks.iter().filter(|s| s["main"] == false).count(), 16);
    assert!(
        stacks
            .iter()
            .filter(|s| s["main"] == false)
            .all(|s| u(&s["guard"]) == 4096)
    );
    assert_eq!(r["threads"]["attribution"], "names");
    // 32-bit glibc arenas: 1 MiB aligned rw-p + ---p pairs (three of them).
    assert_eq!(u(&r["allocators"]["glibc_arena_count"]), 3);
    assert_eq!(r["allocators"]["libc"], "glibc");
}

/// ZTE router, ARMv7, Linux 4.1, uClibc 0.9.33: SysV shm, /dev/mem, two
/// `[heap]` VMAs. By hand: 49 regions, Σ Rss 328 kB, Pss 153 kB, Private
/// 144 kB; the two heaps are 12 + 16 kB; `/dev/mem` 464 kB; SYSV 128 + 4 kB.
#[test]
fn uclibc_router() {
    let r = golden(
        "uclibc_router",
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.smaps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!(
        (kb(&t["rss"]), kb(&t["pss"]), kb(&t["uss"])),
        (328, 153, 144)
    );
    // No Shared_Hugetlb/Private_Hugetlb on 4.1: unknown, not zero.
    assert!(t["hugetlb"].is_null());
    assert_eq!(kb(&cat(&r, "shared-memory")["size"]), 132);
    assert_eq!(kb(&cat(&r, "device")["size"]), 464);
    assert_eq!(r["allocators"]["libc"], "uclibc");
    let heap = &r["allocators"]["rows"][0];
    assert_eq!(
        (
            heap["kind"].as_str(),
            kb(&heap["used"]),
            u(&heap["usage"]["regions"])
        ),
        (Some("brk-heap"), 28, 2)
    );
}

/// Pixel 3, Android 12, Linux 4.9: `[anon:stack_and_tls:TID]`, scudo,
/// dalvik. By hand: 2885 regions, Σ Rss 159616 kB, Pss 73857 kB, Private
/// 60216 kB; 51 `stack_and_tls:N` `---p` guards and 56 `rw-p` stacks
/// (grep -c), 57 `thread signal stack`.
#[test]
fn android12_systemui() {
    let r = golden(
        "android12_systemui",
        "gracker-memanalysis__pixel3-android12-systemui-kgsl-linux4.9.smaps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!(t["regions"].as_u64(), Some(2885));
    assert_eq!(
        (kb(&t["rss"]), kb(&t["pss"]), kb(&t["uss"])),
        (159616, 73857, 60216)
    );
    let stacks = r["threads"]["stacks"].as_array().expect("stacks");
    let sat = stacks
        .iter()
        .filter(|s| s["rule"] == "android-stack-and-tls")
        .count();
    assert_eq!(sat, 56);
    assert!(
        stacks
            .iter()
            .filter(|s| s["rule"] == "android-stack-and-tls")
            .all(|s| s["tid"].is_u64())
    );
    assert_eq!(u(&r["threads"]["signal_stacks"]["regions"]), 57);
    assert_eq!(r["allocators"]["libc"], "bionic");
    let rows = r["allocators"]["rows"].as_array().expect("rows");
    assert!(rows.iter().any(|a| a["kind"] == "scudo:primary"));
    assert!(
        r["named"]
            .as_array()
            .expect("named")
            .iter()
            .any(|n| n["name"] == "dalvik-LinearAlloc")
    );
}

/// RHEL 5, Linux 2.6.18, JDK 7 (maps only): anon offset == address, an
/// 8 MB vsyscall. Residency is unknown, never zero. By hand: 821 regions;
/// 150 Java thread stacks, each above its guard.
#[test]
fn jvm_rhel5_maps_only() {
    let r = golden(
        "jvm_rhel5_maps_only",
        "kylinsoong-jvm__x86_64-rhel5-linux2.6.18-jdk7-hserr.maps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!(t["regions"].as_u64(), Some(821));
    assert!(t["rss"].is_null() && t["pss"].is_null());
    assert_eq!(r["has_residency"], false);
    let n = r["threads"]["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|s| s["main"] == false)
        .count();
    assert_eq!(n, 150);
}

/// Linux 6.18, x86_64: hugetlbfs, `/anon_hugepage (deleted)`, a hugetlb
/// memfd, three threads, three glibc arenas. By hand: Σ Rss 14672 kB,
/// Σ Pss 13370 kB, Private_Hugetlb 6144 kB (not in Rss).
#[test]
fn linux618_hugetlb_threads() {
    let r = golden(
        "linux618_hugetlb_threads",
        "localcap__x86_64-linux6.18-python-hugetlb-threads.smaps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!(
        (kb(&t["rss"]), kb(&t["pss"]), kb(&t["hugetlb"])),
        (14672, 13370, 6144)
    );
    assert_eq!(kb(&cat(&r, "hugetlb")["hugetlb"]), 6144);
    assert_eq!(u(&r["allocators"]["glibc_arena_count"]), 3);
    pmap_agrees(
        &r,
        "localcap__x86_64-linux6.18-python-hugetlb-threads-XX.pmap",
        0,
    );
}

/// Linux 6.18, x86_64: odd names (`\012`, spaces, memfd, SysV, /dev/zero),
/// THP. By hand: 147 regions, Σ Size 26812 kB, Rss 19000 kB, Pss 17710 kB,
/// AnonHugePages 4096 kB.
#[test]
fn linux618_oddnames() {
    let r = golden(
        "linux618_oddnames",
        "localcap__x86_64-linux6.18-python-oddnames.smaps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!(
        (kb(&t["size"]), kb(&t["rss"]), kb(&t["pss"]), kb(&t["thp"])),
        (26812, 19000, 17710, 4096)
    );
    pmap_agrees(&r, "localcap__x86_64-linux6.18-python-oddnames-X.pmap", 8);
}

/// Linux 2.6 uClibc busybox init with the oldest smaps (6 fields: no Pss,
/// Swap): those totals are unknown, Rss and USS known. By hand: Σ Rss 272
/// kB, Private 64 kB.
#[test]
fn linux26_six_field_smaps() {
    let r = golden(
        "linux26_six_field_smaps",
        "hikvision__arm32-linux2.6-uclibc-busybox-init-6field.smaps",
    );
    let t = &r["totals"]["usage"];
    assert_eq!((kb(&t["rss"]), kb(&t["uss"])), (272, 64));
    assert!(t["pss"].is_null() && t["swap"].is_null());
}

/// The `pmap -X`/`-XX` footer of the same process, taken a moment later:
/// everything but the `[heap]` (python grew it in between) agrees in Size,
/// and Rss within `rss_slack_kb`. Pss is not compared: pmap itself shares
/// the libraries while it runs, which lowers their Pss.
fn pmap_agrees(r: &Value, pmap: &str, rss_slack_kb: u64) {
    let text = std::fs::read_to_string(fixtures().join(pmap)).expect("pmap fixture");
    let mut header: Vec<&str> = Vec::new();
    let (mut size, mut rss, mut heap_size, mut heap_rss) = (0u64, 0u64, 0u64, 0u64);
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.first() == Some(&"Address") {
            header = w;
            continue;
        }
        if header.is_empty()
            || w.len() < header.len() - 1
            || !w[0].bytes().all(|b| b.is_ascii_hexdigit())
        {
            continue;
        }
        let col = |k: &str| -> u64 {
            let i = header.iter().position(|h| *h == k).expect("column");
            w[i].parse().expect("number")
        };
        size += col("Size");
        rss += col("Rss");
        if line.ends_with("[heap]") {
            heap_size += col("Size");
            heap_rss += col("Rss");
        }
    }
    let heap = r["allocators"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|a| a["kind"] == "brk-heap")
        .expect("heap");
    let t = &r["totals"]["usage"];
    assert_eq!(
        kb(&t["size"]) - kb(&heap["usage"]["size"]),
        size - heap_size,
        "Size without the heap"
    );
    let ours = kb(&t["rss"]) - kb(&heap["usage"]["rss"]);
    let theirs = rss - heap_rss;
    assert!(
        ours.abs_diff(theirs) <= rss_slack_kb,
        "Rss without the heap: {ours} vs pmap {theirs}"
    );
}
