//! Exact ELF segments: for every object a running process maps, the
//! report's text, rodata, relro, data and bss sizes equal what
//! `readelf -lW` says of the file, page-rounded as the loader maps it; a
//! bundle gives the same. And the layout rules for saved text, each on maps
//! text built from a real layout: lld's, GNU ld's with and without
//! `-z separate-code`, old two-segment objects, a RELRO sharing a page with
//! the data or parted from it by a hole, bss bounded, Android's
//! `[page size compat]`, an APK with two libraries, text remapped onto
//! huge pages.

use std::collections::BTreeMap;
use std::process::Command;

use maplens_testkid::Kid;
use serde_json::Value;

use crate::offline::{run_ok, serial};

const KINDS: [&str; 5] = ["code", "read-only-data", "relro", "writable-data", "bss"];

/// `readelf` is in binutils; CI installs it (scripts/test.sh).
fn have_readelf() -> bool {
    let ok = Command::new("readelf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "readelf (binutils) is missing; scripts/test.sh installs it"
        );
        eprintln!("skipped: readelf (binutils) is not installed");
    }
    ok
}

/// (p_type, p_offset, p_vaddr, p_filesz, p_memsz, flags) of each program
/// header `readelf -lW` prints.
fn readelf(path: &str) -> Vec<(String, u64, u64, u64, u64, String)> {
    let out = Command::new("readelf")
        .args(["-lW", path])
        .output()
        .expect("run readelf");
    assert!(out.status.success(), "readelf -lW {path} failed");
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            // Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg… Align
            (t.len() >= 8 && t[1].starts_with("0x") && t[t.len() - 1].starts_with("0x")).then(
                || {
                    (
                        t[0].to_owned(),
                        hex(t[1]),
                        hex(t[2]),
                        hex(t[4]),
                        hex(t[5]),
                        t[6..t.len() - 1].concat(),
                    )
                },
            )
        })
        .collect()
}

/// The sizes of text, rodata, relro, data and bss of a file as glibc's
/// loader maps it on `page`-sized pages: each PT_LOAD's file part from its
/// page down to the page up of `p_filesz`, the rest of `p_memsz` to its
/// page up anonymous (bss); later segments take a shared page; RELRO from
/// its page down to the page down of its end (`_dl_protect_relro`).
fn expected(path: &str, page: u64) -> BTreeMap<&'static str, u64> {
    let down = |x: u64| x / page * page;
    let up = |x: u64| x.div_ceil(page) * page;
    let mut pages: BTreeMap<u64, &'static str> = BTreeMap::new();
    let phs = readelf(path);
    for (t, _off, v, filesz, memsz, flags) in &phs {
        if t != "LOAD" {
            continue;
        }
        let kind = if flags.contains('E') {
            "code"
        } else if flags.contains('W') {
            "writable-data"
        } else {
            "read-only-data"
        };
        let mut a = down(*v);
        while a < up(v + filesz) {
            pages.insert(a, kind);
            a += page;
        }
        while a < up(v + memsz) {
            pages.insert(a, "bss");
            a += page;
        }
    }
    for (t, _off, v, _filesz, memsz, _flags) in &phs {
        if t == "GNU_RELRO" {
            let mut a = down(*v);
            while a < down(v + memsz) {
                if let Some(k) = pages.get_mut(&a) {
                    *k = "relro";
                }
                a += page;
            }
        }
    }
    let mut sizes: BTreeMap<&'static str, u64> = KINDS.iter().map(|&k| (k, 0)).collect();
    for k in pages.values() {
        *sizes.get_mut(k).expect("kind") += page;
    }
    sizes
}

/// Each object of a report document: path → (sizes by kind, exact).
fn objects(doc: &Value) -> BTreeMap<String, (BTreeMap<&'static str, u64>, bool)> {
    let mut out = BTreeMap::new();
    for o in doc["objects"].as_array().expect("objects") {
        let mut sizes: BTreeMap<&'static str, u64> = KINDS.iter().map(|&k| (k, 0)).collect();
        for s in o["segments"].as_array().expect("segments") {
            let kind = s["kind"].as_str().expect("kind");
            if let Some(k) = KINDS.iter().find(|&&k| k == kind) {
                *sizes.get_mut(k).expect("kind") += s["usage"]["size"].as_u64().expect("size");
            }
            assert_eq!(
                s["heuristic"],
                Value::Bool(o["exact"] != Value::Bool(true)),
                "a segment of an object whose headers were read is no guess: {s}"
            );
        }
        let path = o["path"].as_str().expect("path").to_owned();
        out.insert(path, (sizes, o["exact"] == Value::Bool(true)));
    }
    out
}

/// The live report's objects of `pid`, each compared with `readelf -lW`.
fn live_objects_equal_readelf(
    pid: &str,
    page: u64,
) -> BTreeMap<String, (BTreeMap<&'static str, u64>, bool)> {
    let live = objects(
        &serde_json::from_str(&run_ok(&["report", "--format", "json", pid])).expect("JSON"),
    );
    for (path, (sizes, exact)) in &live {
        assert!(exact, "{path}: headers not read");
        let want = expected(path, page);
        assert_eq!(
            sizes, &want,
            "{path}: maplens (left) vs readelf -lW (right)"
        );
    }
    live
}

#[test]
fn exact_segments_of_a_live_process_equal_readelf() {
    if !have_readelf() {
        return;
    }
    let _serial = serial();
    let kid = Kid::spawn(&["--threads", "2"]).expect("spawn kid");
    kid.stop().expect("stop kid");
    let page = kid.info["page_size"].as_u64().expect("page_size");
    let pid = kid.pid.to_string();
    let live = live_objects_equal_readelf(&pid, page);
    assert!(
        live.len() >= 3,
        "the kid, libc and the loader at least: {live:?}"
    );
    // The kid links libc: its RELRO and bss are there, exactly.
    let libc = live
        .iter()
        .find(|(p, _)| p.ends_with("/libc.so.6"))
        .expect("libc mapped");
    assert!(libc.1.0["relro"] > 0 && libc.1.0["bss"] > 0, "{libc:?}");

    // The same from a bundle, analysed offline.
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("cap.tar");
    let bundle = bundle.to_str().expect("utf-8 path");
    run_ok(&["capture", &pid, "-o", bundle]);
    kid.cont().expect("cont kid");
    drop(kid);
    let offline = objects(
        &serde_json::from_str(&run_ok(&["report", "--format", "json", bundle])).expect("JSON"),
    );
    assert_eq!(offline, live, "bundle (left) vs live (right)");
}

/// More objects, from other linkers' runs: perl (Debian's perl-base is
/// Essential) with four of its XS modules loaded, waiting on its stdin.
#[test]
fn exact_segments_of_perl_and_its_modules_equal_readelf() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    if !have_readelf() {
        return;
    }
    let spawned = Command::new("perl")
        .args([
            "-MPOSIX",
            "-MSocket",
            "-MFcntl",
            "-MIO::Handle",
            "-e",
            "$| = 1; print qq(ready\\n); <STDIN>",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut perl = match spawned {
        Ok(p) => p,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "perl: {e}");
            eprintln!("skipped: perl: {e}");
            return;
        }
    };
    let mut line = String::new();
    BufReader::new(perl.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("perl says ready");
    assert_eq!(line, "ready\n");
    let page = rustix::param::page_size() as u64;
    let live = live_objects_equal_readelf(&perl.id().to_string(), page);
    drop(perl.stdin.take());
    let _ = perl.wait();
    let modules = live.keys().filter(|p| p.contains("/auto/")).count();
    assert!(modules >= 4, "POSIX, Socket, Fcntl and IO: {live:?}");
}

/// Runs `maplens maps --format json` on maps text; each region's
/// (category, rule, heuristic).
fn classes(text: &str) -> Vec<(String, String, bool)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("maps");
    std::fs::write(&f, text).expect("write maps");
    let doc: Value = serde_json::from_str(&run_ok(&[
        "maps",
        "--explain",
        "--format",
        "json",
        f.to_str().unwrap(),
    ]))
    .expect("JSON");
    doc["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| {
            (
                r["category"].as_str().expect("category").to_owned(),
                r["rule"].as_str().expect("rule").to_owned(),
                r["heuristic"].as_bool().expect("heuristic"),
            )
        })
        .collect()
}

fn cats(text: &str) -> Vec<String> {
    classes(text).into_iter().map(|c| c.0).collect()
}

/// The report's objects of maps text: (path, sizes by kind).
fn report_objects(text: &str) -> Vec<(String, BTreeMap<String, u64>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("maps");
    std::fs::write(&f, text).expect("write maps");
    let doc: Value = serde_json::from_str(&run_ok(&[
        "report",
        "--format",
        "json",
        f.to_str().unwrap(),
    ]))
    .expect("JSON");
    let mut out: Vec<(String, BTreeMap<String, u64>)> = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let mut m = BTreeMap::new();
            for s in o["segments"].as_array().expect("segments") {
                *m.entry(s["kind"].as_str().unwrap().to_owned()).or_insert(0) +=
                    s["usage"]["size"].as_u64().unwrap();
            }
            (o["path"].as_str().unwrap().to_owned(), m)
        })
        .collect();
    out.sort();
    out
}

/// lld (Android NDK, Chrome, LLVM toolchains): R (headers, rodata), RX,
/// RW made read-only (RELRO, its padding not in the file, so the data
/// segment's first page is RELRO's last file page), RW data, bss.
#[test]
fn lld_layout() {
    let text = "\
7f1000000000-7f1000004000 r--p 00000000 08:01 100 /usr/lib/liblld.so
7f1000004000-7f100000a000 r-xp 00003000 08:01 100 /usr/lib/liblld.so
7f100000a000-7f100000b000 r--p 00008000 08:01 100 /usr/lib/liblld.so
7f100000b000-7f100000c000 rw-p 00008000 08:01 100 /usr/lib/liblld.so
7f100000c000-7f100000e000 rw-p 00000000 00:00 0
";
    assert_eq!(
        cats(text),
        ["read-only-data", "code", "relro", "writable-data", "bss"]
    );
    let c = classes(text);
    assert!(
        c[2].1 == "elf-relro" && c[2].2,
        "RELRO by layout is a guess: {c:?}"
    );
}

/// GNU ld with `-z separate-code` (the default on x86 since binutils
/// 2.31): R, RX, R (rodata), RW whose head the loader makes read-only.
/// Offsets of the rodata and RELRO share a page of the file (glibc's
/// libc.so.6 on Debian 12).
#[test]
fn gnu_ld_separate_code_layout() {
    let text = "\
7f0000000000-7f0000026000 r--p 00000000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000026000-7f000017c000 r-xp 00026000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6
7f000017c000-7f00001cf000 r--p 0017c000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00001cf000-7f00001d3000 r--p 001cf000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00001d3000-7f00001d5000 rw-p 001d3000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00001d5000-7f00001e2000 rw-p 00000000 00:00 0
";
    assert_eq!(
        cats(text),
        [
            "read-only-data",
            "code",
            "read-only-data",
            "relro",
            "writable-data",
            "bss"
        ]
    );
}

/// GNU ld without `-z separate-code`, and old objects: RX (headers, text,
/// rodata), RW whose head is RELRO; with the 2 MiB `max-page-size` of old
/// x86_64 binutils a `---p` gap between them.
#[test]
fn two_segment_layouts() {
    let text = "\
00400000-00452000 r-xp 00000000 08:01 7 /usr/bin/old
00651000-00652000 r--p 00051000 08:01 7 /usr/bin/old
00652000-00655000 rw-p 00052000 08:01 7 /usr/bin/old
00655000-00658000 rw-p 00000000 00:00 0
7f2000000000-7f2000030000 r-xp 00000000 08:01 8 /lib/libold.so.1
7f2000030000-7f200022f000 ---p 00030000 08:01 8 /lib/libold.so.1
7f200022f000-7f2000230000 r--p 0002f000 08:01 8 /lib/libold.so.1
7f2000230000-7f2000231000 rw-p 00030000 08:01 8 /lib/libold.so.1
";
    assert_eq!(
        cats(text),
        [
            "code",
            "relro",
            "writable-data",
            "bss",
            "code",
            "linker-gap",
            "relro",
            "writable-data"
        ]
    );
}

/// A RELRO parted from the data segment by a hole in memory (an object
/// linked with a larger `max-page-size` than the running page size, loaded
/// by the kernel, which leaves holes unmapped), sharing its last file page.
#[test]
fn relro_past_a_hole_and_on_a_shared_page() {
    let text = "\
55d000000000-55d000001000 r--p 00000000 08:01 9 /usr/bin/holey
55d000010000-55d000012000 r-xp 00000000 08:01 9 /usr/bin/holey
55d000020000-55d000021000 r--p 00002000 08:01 9 /usr/bin/holey
55d000030000-55d000031000 rw-p 00002000 08:01 9 /usr/bin/holey
";
    assert_eq!(
        cats(text),
        ["read-only-data", "code", "relro", "writable-data"]
    );
}

/// bss is the anonymous rw right after the object's last data segment,
/// and no longer than the object could have: 64 MiB after a 40 KiB
/// library is an anonymous mapping the kernel merged with it (or not bss
/// at all), not 64 MiB of bss. An anonymous rw after the first of two
/// data segments is not bss either.
#[test]
fn bss_is_bounded() {
    let text = "\
7f3000000000-7f3000001000 r--p 00000000 08:01 11 /usr/lib/libsmall.so
7f3000001000-7f3000008000 r-xp 00001000 08:01 11 /usr/lib/libsmall.so
7f3000008000-7f3000009000 r--p 00007000 08:01 11 /usr/lib/libsmall.so
7f3000009000-7f300000a000 rw-p 00008000 08:01 11 /usr/lib/libsmall.so
7f300000a000-7f300400a000 rw-p 00000000 00:00 0
7f3100000000-7f3100001000 r--p 00000000 08:01 12 /usr/lib/libfine.so
7f3100001000-7f3100002000 r-xp 00001000 08:01 12 /usr/lib/libfine.so
7f3100002000-7f3100003000 rw-p 00002000 08:01 12 /usr/lib/libfine.so
7f3100003000-7f3100013000 rw-p 00000000 00:00 0
";
    let c = cats(text);
    assert_eq!(c[4], "anon-mmap", "{c:?}");
    assert_eq!(c[8], "bss", "{c:?}");
    let objs = report_objects(text);
    assert_eq!(objs[1].0, "/usr/lib/libsmall.so");
    assert_eq!(objs[1].1.get("bss"), None, "{objs:?}");
    assert_eq!(objs[0].1.get("bss"), Some(&0x10000), "{objs:?}");
}

/// Android 15+ on 16 KiB pages running a 4 KiB-aligned library: the
/// kernel shows each segment's padding as `---p` named `[page size
/// compat]`. It is a gap of that library (the one after its last segment
/// too), and RELRO is still found past it.
#[test]
fn android_page_size_compat() {
    let text = "\
74a023606000-74a023633000 r--p 00000000 fd:05 2291 /apex/com.android.art/lib64/libopenjdkjvmti.so
74a023633000-74a023636000 ---p 00000000 00:00 0 [page size compat]
74a023636000-74a0236f6000 r-xp 0002c000 fd:05 2291 /apex/com.android.art/lib64/libopenjdkjvmti.so
74a0236f6000-74a0236f9000 ---p 00000000 00:00 0 [page size compat]
74a0236f9000-74a0236fd000 r--p 000ec000 fd:05 2291 /apex/com.android.art/lib64/libopenjdkjvmti.so
74a0236fd000-74a023700000 ---p 00000000 00:00 0 [page size compat]
74a023700000-74a023701000 rw-p 000ef000 fd:05 2291 /apex/com.android.art/lib64/libopenjdkjvmti.so
74a023701000-74a023704000 ---p 00000000 00:00 0 [page size compat]
";
    let c = classes(text);
    let cats: Vec<&str> = c.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        cats,
        [
            "read-only-data",
            "linker-gap",
            "code",
            "linker-gap",
            "relro",
            "linker-gap",
            "writable-data",
            "linker-gap"
        ]
    );
    assert_eq!(c[1].1, "android-page-size-compat");
    assert_eq!(c[7].1, "android-page-size-compat");
    let objs = report_objects(text);
    assert_eq!(objs.len(), 1, "{objs:?}");
    assert_eq!(objs[0].1["linker-gap"], 4 * 0x3000);
}

/// Libraries stored uncompressed in an APK are mapped from inside it: one
/// object per library, found by its offsets; the dex and resources mapped
/// from the same APK stay mapped data files.
#[test]
fn apk_with_two_embedded_libraries() {
    let apk = "/data/app/~~Xy==/com.example-Ab==/base.apk";
    let text = format!(
        "\
7000000000-7000200000 r--p 00001000 fd:05 777 {apk}
7100000000-7100010000 r--p 00a3c000 fd:05 777 {apk}
7100010000-7100050000 r-xp 00a4c000 fd:05 777 {apk}
7100050000-7100052000 r--p 00a8c000 fd:05 777 {apk}
7100052000-7100053000 rw-p 00a8e000 fd:05 777 {apk}
7100053000-7100055000 rw-p 00000000 00:00 0 [anon:.bss]
7200000000-7200004000 r--p 00b00000 fd:05 777 {apk}
7200004000-7200008000 r-xp 00b04000 fd:05 777 {apk}
7200008000-7200009000 r--p 00b08000 fd:05 777 {apk}
7200009000-720000a000 rw-p 00b09000 fd:05 777 {apk}
7300000000-7300080000 r--p 00200000 fd:05 777 {apk}
"
    );
    let c = cats(&text);
    assert_eq!(
        c,
        [
            "mapped-file",
            "read-only-data",
            "code",
            "relro",
            "writable-data",
            "bss",
            "read-only-data",
            "code",
            "relro",
            "writable-data",
            "mapped-file"
        ]
    );
    let objs = report_objects(&text);
    assert_eq!(objs.len(), 2, "{objs:?}");
    assert_eq!(objs[0].1["code"], 0x40000);
    assert_eq!(objs[1].1["code"], 0x4000);
}

/// Text remapped onto huge pages (hugify, MySQL's and HHVM's text
/// remapping, `libhugetlbfs`): the program's code copied to anonymous
/// `r-xp` memory over its own text. It is that program's code, and no
/// finding about executable anonymous memory.
#[test]
fn huge_page_text_remap() {
    let text = "\
00200000-00400000 r--p 00000000 08:01 21 /usr/sbin/mysqld
00400000-14400000 r-xp 00000000 00:00 0
14400000-14600000 r-xp 14200000 08:01 21 /usr/sbin/mysqld
14600000-14700000 r--p 14400000 08:01 21 /usr/sbin/mysqld
14700000-14800000 rw-p 14500000 08:01 21 /usr/sbin/mysqld
14800000-14900000 rw-p 00000000 00:00 0
7f4000000000-7f4000200000 r-xp 00000000 00:00 0
7f4000200000-7f4000300000 r--p 00200000 08:01 22 /usr/bin/fully-remapped
7f4000300000-7f4000301000 rw-p 00300000 08:01 22 /usr/bin/fully-remapped
";
    let c = classes(text);
    let cats: Vec<&str> = c.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        cats,
        [
            "read-only-data",
            "code",
            "code",
            "relro",
            "writable-data",
            "bss",
            "code",
            "relro",
            "writable-data"
        ]
    );
    assert_eq!(c[1].1, "elf-text-anon");
    let objs = report_objects(text);
    assert_eq!(objs.len(), 2, "{objs:?}");
    let mysqld = objs.iter().find(|o| o.0 == "/usr/sbin/mysqld").unwrap();
    assert_eq!(mysqld.1["code"], 0x14200000);
    // No alarm about executable anonymous memory.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("maps");
    std::fs::write(&f, text).expect("write maps");
    let doc: Value =
        serde_json::from_str(&run_ok(&["check", "--format", "json", f.to_str().unwrap()]))
            .expect("JSON");
    let ids: Vec<&str> = doc["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(!ids.contains(&"exec-anon"), "{ids:?}");
}
