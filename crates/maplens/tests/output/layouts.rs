//! Real layouts: arenas, stacks and runtime heaps, counted once. The
//! report, `check` and `maps` JSON agree on the number of glibc arenas and
//! thread stacks, and every saving `check` promises is at most the memory
//! of the regions it is about — on hand-written 32-bit text, on a live
//! 32-bit child (20 threads, 8 arenas), on a live JVM (50 named threads,
//! `-Xmx256m`) and on a live Go program.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as Std, Stdio};

use serde_json::Value;

use crate::offline::run_ok;

/// What the three commands say about one target.
struct Counts {
    /// glibc arena heaps: report, check (None: no finding), maps.
    arenas: (u64, Option<u64>, u64),
    /// Thread stacks (main and signal stacks aside): report, maps.
    stacks: (u64, u64),
    report: Value,
    maps: Value,
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().expect("hex address");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

const HEADS: &[&str] = &["glibc-arena", "glibc-arena-merged", "anon-name-glibc-arena"];
const TAILS: &[&str] = &["glibc-arena-tail", "glibc-arena-named-tail"];

/// Runs report, check and maps on `target` and checks that their counts
/// agree and that every saving is bounded by its regions.
fn agree(target: &str) -> Counts {
    let report: Value =
        serde_json::from_str(&run_ok(&["report", "--format", "json", target])).expect("report");
    let check: Value =
        serde_json::from_str(&run_ok(&["check", "--format", "json", target])).expect("check");
    let maps: Value =
        serde_json::from_str(&run_ok(&["maps", "--format", "json", target])).expect("maps");

    let findings = check["targets"][0]["findings"]
        .as_array()
        .expect("findings")
        .clone();
    for f in &findings {
        let Some(bytes) = f["saving"]["bytes"].as_u64() else {
            continue;
        };
        let regions = f["regions"].as_array().expect("regions");
        let held: u64 = regions
            .iter()
            .map(|r| hex(&r["end"]) - hex(&r["start"]))
            .sum();
        assert!(
            regions.is_empty() || bytes <= held,
            "{}: saving {bytes} > the {held} bytes of its regions",
            f["id"]
        );
    }
    let check_arenas = findings
        .iter()
        .find(|f| f["id"] == "malloc-arenas")
        .map(|f| f["numbers"]["arenas"].as_u64().expect("arenas"));

    let regions = maps["regions"].as_array().expect("regions");
    let mut maps_arenas = 0;
    let mut prev: Option<&Value> = None;
    for r in regions {
        let rule = r["rule"].as_str().unwrap_or("");
        let continues = prev.is_some_and(|p| {
            p["end"] == r["start"]
                && (HEADS.contains(&p["rule"].as_str().unwrap_or(""))
                    || TAILS.contains(&p["rule"].as_str().unwrap_or("")))
        });
        if HEADS.contains(&rule) && r["category"] == "malloc-arena"
            || TAILS.contains(&rule) && !continues
        {
            maps_arenas += 1;
        }
        prev = Some(r);
    }
    let maps_stacks = regions
        .iter()
        .filter(|r| r["category"] == "thread-stack" && r["rule"] != "anon-name-signal-stack")
        .count() as u64;
    let report_stacks = report["threads"]["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|s| s["main"] == false)
        .count() as u64;
    let c = Counts {
        arenas: (
            report["allocators"]["glibc_arena_count"]
                .as_u64()
                .expect("count"),
            check_arenas,
            maps_arenas,
        ),
        stacks: (report_stacks, maps_stacks),
        report,
        maps,
    };
    assert_eq!(c.arenas.0, c.arenas.2, "arenas: report vs maps");
    if let Some(n) = c.arenas.1 {
        assert_eq!(n, c.arenas.0, "arenas: check vs report");
    } else {
        assert!(c.arenas.0 < 4, "check reports from 4 arenas on");
    }
    assert_eq!(c.stacks.0, c.stacks.1, "thread stacks: report vs maps");
    c
}

/// A 32-bit map: `stacks` 1 MiB glibc thread stacks (4 KiB guard below)
/// and `arenas` 1 MiB arena heaps (rw-p head, ---p tail), interleaved.
fn mixed_32(stacks: u32, arenas: u32) -> String {
    let mut s = String::from("08048000-08049000 r-xp 00000000 08:01 11 /usr/bin/prog\n");
    let mut at: u64 = 0x4000_0000;
    let (mut st, mut ar) = (0, 0);
    while st < stacks || ar < arenas {
        if st < stacks {
            s += &format!("{:08x}-{:08x} ---p 00000000 00:00 0\n", at, at + 0x1000);
            s += &format!(
                "{:08x}-{:08x} rw-p 00000000 00:00 0\n",
                at + 0x1000,
                at + 0x10_0000
            );
            at += 0x10_0000;
            st += 1;
        }
        if ar < arenas {
            s += &format!("{:08x}-{:08x} rw-p 00000000 00:00 0\n", at, at + 0x2_1000);
            s += &format!(
                "{:08x}-{:08x} ---p 00000000 00:00 0\n",
                at + 0x2_1000,
                at + 0x10_0000
            );
            at += 0x10_0000;
            ar += 1;
        }
    }
    s += "bf000000-bf021000 rw-p 00000000 00:00 0 [stack]\n";
    s
}

#[test]
fn offline_32bit_arenas_among_1mib_stacks_counted_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("maps");
    std::fs::write(&f, mixed_32(20, 8)).expect("write");
    let c = agree(f.to_str().expect("utf-8"));
    assert_eq!(c.arenas, (8, Some(8), 8));
    assert_eq!(c.stacks, (20, 20));
}

#[test]
fn offline_named_glibc_go_art_regions_and_their_unnamed_tails() {
    let text = "\
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 [anon: glibc: malloc arena]
7f0000021000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0004000000 ---p 00000000 00:00 0
7f0004000000-7f0004001000 ---p 00000000 00:00 0
7f0004001000-7f0004801000 rw-p 00000000 00:00 0 [anon: glibc: pthread stack: 4242]
7f0005000000-7f0005400000 rw-p 00000000 00:00 0 [anon: Go: heap]
7f0006000000-7f0006100000 rw-p 00000000 00:00 0 [anon:dalvik-main space (region space)]
7f0007000000-7f0007100000 rw-p 00000000 00:05 77 /memfd:qv4-jit (deleted)
7f0007100000-7f0007120000 r--s 00000000 00:10 301 /dev/__properties__/u:object_r:build_prop:s0
7f0007120000-7f0007140000 rw-s 00000000 00:0c 305 /kgsl-3d0 (deleted)
";
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("maps");
    std::fs::write(&f, text).expect("write");
    let c = agree(f.to_str().expect("utf-8"));
    assert_eq!(c.arenas.0, 1);
    assert_eq!(c.stacks, (1, 1));
    let cat: Vec<&str> = c.maps["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| r["category"].as_str().expect("category"))
        .collect();
    assert_eq!(
        cat,
        [
            "malloc-arena",
            "malloc-arena",
            "malloc-arena",
            "guard-page",
            "thread-stack",
            "managed-heap",
            "managed-heap",
            "mapped-file",
            "mapped-file",
            "device"
        ]
    );
    // Neither the memfd nor the driver's buffer is a deleted file.
    let check = run_ok(&["check", "--format", "json", f.to_str().expect("utf-8")]);
    assert!(!check.contains("\"deleted-file\""), "{check}");
}

/// A child the test started; killed and reaped when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Started {
    /// Waits for the child's first line (`ready`), then freezes it.
    fn ready_and_stop(&mut self) {
        let out = self.0.stdout.take().expect("stdout piped");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read child");
        assert_eq!(line.trim(), "ready", "the child did not start");
        let pid = self.0.id().to_string();
        let st = Std::new("kill")
            .args(["-STOP", &pid])
            .status()
            .expect("kill");
        assert!(st.success());
        // Every thread stopped (state T) before reading.
        for _ in 0..500 {
            let all = std::fs::read_dir(format!("/proc/{pid}/task"))
                .expect("task")
                .filter_map(Result::ok)
                .all(|t| {
                    std::fs::read_to_string(t.path().join("stat")).is_ok_and(|s| {
                        s.rsplit(')')
                            .next()
                            .is_some_and(|r| r.trim_start().starts_with('T'))
                    })
                });
            if all {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("child {pid} did not stop");
    }
}

/// The tool is missing: a failure in CI, a skip (with the reason) elsewhere.
fn missing(tool: &str) -> bool {
    let found = Std::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing (scripts/test.sh installs it)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    !found
}

const THREADS_C: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started;
static void *run(void *arg) {
    volatile char *p = malloc(1000); /* the first malloc: a new arena, up to MALLOC_ARENA_MAX */
    p[0] = 1;
    pthread_mutex_lock(&m); started++; pthread_cond_signal(&cv); pthread_mutex_unlock(&m);
    for (;;) pause();
    return arg;
}
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    pthread_attr_t a; pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 1 << 20);
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, &a, run, 0)) return 1;
        pthread_mutex_lock(&m); while (started <= i) pthread_cond_wait(&cv, &m); pthread_mutex_unlock(&m);
    }
    printf("ready\n"); fflush(stdout);
    for (;;) pause();
}
"#;

/// A 32-bit (i686) child with 20 threads on 1 MiB stacks and 8 glibc arenas
/// (MALLOC_ARENA_MAX=9: the main arena and 8 mapped ones): the report's
/// counts equal the child's, and check agrees.
#[test]
fn live_32bit_child_20_threads_8_arenas() {
    if missing("gcc") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("t.c");
    let bin = dir.path().join("t32");
    std::fs::write(&src, THREADS_C).expect("write");
    let cc = Std::new("gcc")
        .args(["-m32", "-O1", "-pthread", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc");
    if !cc.status.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "gcc -m32 failed (scripts/test.sh installs libc6-dev-i386 and lib32gcc-N-dev): {}",
            String::from_utf8_lossy(&cc.stderr)
        );
        eprintln!("skipped: gcc -m32 cannot build (libc6-dev-i386 or lib32gcc-N-dev missing)");
        return;
    }
    let mut kid = Started(
        Std::new(&bin)
            .arg("20")
            .env("MALLOC_ARENA_MAX", "9")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn 32-bit child"),
    );
    kid.ready_and_stop();
    let pid = kid.0.id().to_string();
    let c = agree(&pid);
    assert_eq!(c.report["is_64bit"], false);
    assert_eq!(c.report["threads"]["count"], 21);
    assert_eq!(c.arenas, (8, Some(8), 8));
    assert_eq!(c.stacks, (20, 20));
}

const THREADS_JAVA: &str = r#"
public class Threads {
    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]);
        // Ready once every worker runs: HotSpot names a thread's task (its
        // comm) as the thread starts, after start() has returned.
        java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(() -> {
                running.countDown();
                try { Thread.sleep(1000000); } catch (Exception e) { }
            }, "worker-" + i);
            t.setDaemon(true);
            t.start();
        }
        running.await();
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(1000000);
    }
}
"#;

/// OpenJDK with -Xmx256m and 50 named threads: the Java heap (256 MiB at
/// the compressed-oops address), the code cache and every worker's stack
/// by name are found, and report, check and maps agree.
#[test]
fn live_jvm_heap_code_cache_and_50_named_stacks() {
    if missing("javac") || missing("java") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("Threads.java");
    std::fs::write(&src, THREADS_JAVA).expect("write");
    let mut kid = Started(
        Std::new("java")
            .args(["-Xmx256m", "-Xshare:auto"])
            .arg(&src)
            .arg("50")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn java"),
    );
    kid.ready_and_stop();
    let pid = kid.0.id().to_string();
    let c = agree(&pid);
    let regions = c.maps["regions"].as_array().expect("regions");
    let heap: u64 = regions
        .iter()
        .filter(|r| r["rule"] == "jvm-heap")
        .map(|r| r["size"].as_u64().expect("size"))
        .sum();
    // 256 MiB less the CDS archive's heap part mapped inside it.
    assert!(
        (200 << 20..=256 << 20).contains(&heap),
        "Java heap {heap} bytes"
    );
    assert!(regions.iter().any(|r| r["rule"] == "jvm-code-cache"));
    assert!(
        regions
            .iter()
            .filter(|r| r["category"] == "jit-code")
            .all(|r| r["perms"] == "rwxp" || r["perms"] == "---p")
    );
    let names: Vec<&str> = c.report["threads"]["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for i in 0..50 {
        let w = format!("worker-{i}");
        assert!(names.contains(&w.as_str()), "{w}'s stack not found");
    }
    // Every thread has a stack, and no stack is counted twice.
    assert_eq!(
        c.stacks.0 + 1,
        c.report["threads"]["count"].as_u64().expect("count")
    );
}

const GO_MAIN: &str = r#"
package main

import (
	"fmt"
	"os"
	"time"
)

var keep [][]byte

func main() {
	for i := 0; i < 64; i++ {
		keep = append(keep, make([]byte, 64<<10))
	}
	fmt.Println("ready")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}
"#;

/// A Go program: its heap at the 0xc000000000 hint is a managed heap.
#[test]
fn live_go_heap_at_its_hint() {
    if missing("go") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.go"), GO_MAIN).expect("write");
    let bin = dir.path().join("goheap");
    let cache = dir.path().join("cache");
    let build = Std::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg("main.go")
        .current_dir(dir.path())
        .env("GOCACHE", &cache)
        .env("GOPATH", dir.path().join("gopath"))
        .env("GO111MODULE", "off")
        .output()
        .expect("go build");
    assert!(
        build.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let mut kid = Started(
        Std::new(&bin)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn go"),
    );
    kid.ready_and_stop();
    let pid = kid.0.id().to_string();
    let c = agree(&pid);
    let heap: Vec<&Value> = c.maps["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter(|r| hex(&r["start"]) >> 32 == 0xc0)
        .collect();
    assert!(!heap.is_empty(), "no region at the Go heap hint");
    assert!(heap.iter().all(|r| r["category"] == "managed-heap"));
    let _ = Path::new(&bin);
}

/// A thread stack made executable (`rwxp`: a library without
/// `-z noexecstack`) stays a thread stack, with the exec-stack finding
/// naming it, and is no writable+executable JIT memory.
#[test]
fn offline_rwx_thread_stack_is_a_stack_with_the_exec_stack_finding() {
    let text = "\
7f0000000000-7f0000001000 ---p 00000000 00:00 0
7f0000001000-7f0000801000 rwxp 00000000 00:00 0
7f0000801000-7f0000802000 ---p 00000000 00:00 0
7f0000802000-7f0001002000 rwxp 00000000 00:00 0
";
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("maps");
    std::fs::write(&f, text).expect("write");
    let c = agree(f.to_str().expect("utf-8"));
    assert_eq!(c.stacks, (2, 2));
    let check: Value = serde_json::from_str(&run_ok(&[
        "check",
        "--format",
        "json",
        f.to_str().expect("utf-8"),
    ]))
    .expect("check");
    let ids: Vec<&str> = check["targets"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&"exec-stack"), "{ids:?}");
    assert!(!ids.contains(&"wx-memory"), "{ids:?}");
}
