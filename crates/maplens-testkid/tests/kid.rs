//! Spawns the kid with every option and checks the layout in /proc/PID/maps,
//! read with plain std, byte-based.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use maplens_testkid::{Kid, kid_binary};
use serde_json::Value;

/// One line of /proc/PID/maps.
#[derive(Debug)]
struct Line {
    start: u64,
    end: u64,
    perms: Vec<u8>,
    /// Everything after the inode field and its padding (may be empty).
    path: Vec<u8>,
}

fn hex(b: &[u8]) -> u64 {
    u64::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap()
}

fn maps(pid: u32) -> Vec<Line> {
    let raw = fs::read(format!("/proc/{pid}/maps")).unwrap();
    raw.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            // 5 space-separated fields, then padding, then the path (which may
            // itself contain spaces).
            let mut rest = l;
            let mut fields = Vec::new();
            for _ in 0..5 {
                let sp = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
                fields.push(&rest[..sp]);
                rest = rest.get(sp + 1..).unwrap_or(&[]);
            }
            let pad = rest.iter().take_while(|&&b| b == b' ').count();
            let path = rest[pad..].to_vec();
            let dash = fields[0].iter().position(|&b| b == b'-').unwrap();
            Line {
                start: hex(&fields[0][..dash]),
                end: hex(&fields[0][dash + 1..]),
                perms: fields[1].to_vec(),
                path,
            }
        })
        .collect()
}

fn num(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

/// The maps line that starts exactly at `info.addr` and spans `info.len`.
fn exact<'a>(m: &'a [Line], info: &Value) -> &'a Line {
    let addr = num(&info["addr"]);
    let len = num(&info["len"]);
    m.iter()
        .find(|l| l.start == addr)
        .filter(|l| l.end - l.start == len)
        .unwrap_or_else(|| panic!("no mapping exactly at {addr:#x}+{len:#x}: {info}"))
}

fn containing(m: &[Line], addr: u64) -> &Line {
    m.iter()
        .find(|l| l.start <= addr && addr < l.end)
        .unwrap_or_else(|| panic!("no mapping contains {addr:#x}"))
}

fn ends_with(hay: &[u8], needle: &str) -> bool {
    hay.ends_with(needle.as_bytes())
}

#[test]
fn binary_is_found() {
    assert!(kid_binary().is_file());
}

#[test]
fn files_memfd_shm_anon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let key = 0x6b00_0000 | (std::process::id() & 0xffff);
    let key_arg = format!("{key:x}");
    let kid = Kid::spawn(&[
        "--file-spaces",
        d,
        "--file-newline",
        d,
        "--deleted",
        d,
        "--memfd",
        "kid memfd",
        "--sysv-shm",
        "--sysv-key",
        &key_arg,
        "--shared-anon",
        "--rwx",
        "--big-anon",
        "16",
    ])
    .unwrap();
    let info = &kid.info;
    assert_eq!(num(&info["pid"]), u64::from(kid.pid));
    let m = maps(kid.pid);

    let l = exact(&m, &info["file_spaces"]);
    let want = format!("{d}/file with  spaces.bin");
    assert_eq!(info["file_spaces"]["path"], want.as_str());
    assert_eq!(l.path, want.as_bytes(), "two spaces are kept");
    assert_eq!(&l.perms, b"r--p");

    let l = exact(&m, &info["file_newline"]);
    assert_eq!(
        info["file_newline"]["path"],
        format!("{d}/new\nline.bin").as_str()
    );
    assert_eq!(l.path, format!("{d}/new\\012line.bin").as_bytes());
    assert_eq!(&l.perms, b"r--s");

    let l = exact(&m, &info["deleted"]);
    assert!(ends_with(&l.path, "to be deleted.bin (deleted)"), "{l:?}");
    assert!(!Path::new(&format!("{d}/to be deleted.bin")).exists());

    let l = exact(&m, &info["memfd"]);
    assert_eq!(l.path, b"/memfd:kid memfd (deleted)");
    assert_eq!(&l.perms, b"rw-s");

    let shm = &info["sysv_shm"];
    assert_eq!(num(&shm["key"]), u64::from(key));
    let l = exact(&m, shm);
    assert_eq!(l.path, format!("/SYSV{key:08x} (deleted)").as_bytes());
    assert_eq!(&l.perms, b"rw-s");
    let shmid = num(&shm["shmid"]);

    let l = exact(&m, &info["shared_anon"]);
    assert_eq!(l.path, b"/dev/zero (deleted)");
    assert_eq!(&l.perms, b"rw-s");

    let l = exact(&m, &info["rwx"]);
    assert_eq!(&l.perms, b"rwxp");
    assert!(l.path.is_empty());

    let l = exact(&m, &info["big_anon"]);
    assert_eq!(num(&info["big_anon"]["len"]), 16 << 20);
    assert_eq!(&l.perms, b"rw-p");

    drop(kid);
    // Cleanup on stdin EOF: files removed, SysV segment gone.
    assert!(!Path::new(&want).exists());
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    let sysv = fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    assert!(
        !sysv.lines().skip(1).any(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            f.get(1) == Some(&shmid.to_string().as_str())
        }),
        "shmid {shmid} still exists"
    );
}

#[test]
fn private_sysv_key() {
    let kid = Kid::spawn(&["--sysv-shm"]).unwrap();
    let shm = &kid.info["sysv_shm"];
    assert_eq!(num(&shm["key"]), 0);
    assert_eq!(shm["key_hex"], "00000000");
    let m = maps(kid.pid);
    assert_eq!(exact(&m, shm).path, b"/SYSV00000000 (deleted)");
}

#[test]
fn threads_named_with_stacks() {
    let n = 5;
    let kid = Kid::spawn(&["--threads", &n.to_string(), "--thread-names"]).unwrap();
    let threads = kid.info["threads"].as_array().unwrap();
    assert_eq!(threads.len(), n);
    let tasks: Vec<u64> = fs::read_dir(kid.proc("task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(tasks.len(), n + 1, "main + {n} workers: {tasks:?}");
    let m = maps(kid.pid);
    let mut stacks = Vec::new();
    for (i, t) in threads.iter().enumerate() {
        let tid = num(&t["tid"]);
        assert!(tasks.contains(&tid));
        let want = format!("kid-worker-{i}");
        assert_eq!(t["name"], want.as_str());
        let comm = fs::read_to_string(kid.proc(&format!("task/{tid}/comm"))).unwrap();
        assert_eq!(comm.trim_end(), want);
        let stack = containing(&m, num(&t["sp"]));
        assert_eq!(&stack.perms, b"rw-p");
        assert!(stack.end - stack.start >= 8 << 20, "8 MiB stack: {stack:?}");
        stacks.push(stack.start);
    }
    stacks.dedup();
    assert_eq!(stacks.len(), n, "each thread has its own stack mapping");
}

#[test]
fn unnamed_threads() {
    let kid = Kid::spawn(&["--threads", "2"]).unwrap();
    let threads = kid.info["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    for t in threads {
        assert!(!t["name"].as_str().unwrap().starts_with("kid-worker"));
    }
}

#[test]
fn arenas_are_64mib_aligned() {
    let kid = Kid::spawn(&["--arenas", "3"]).unwrap();
    let arenas = kid.info["arenas"].as_array().unwrap();
    assert_eq!(arenas.len(), 3);
    let m = maps(kid.pid);
    let mut heaps = Vec::new();
    for a in arenas {
        assert!(kid.proc(&format!("task/{}", num(&a["tid"]))).exists());
        let l = containing(&m, num(&a["first"]));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(l.start % (64 << 20), 0, "arena heap not aligned: {l:?}");
        }
        heaps.push(l.start);
    }
    heaps.sort_unstable();
    heaps.dedup();
    assert_eq!(heaps.len(), 3, "one arena per thread");
}

fn check_regions(m: &[Line], r: &Value) {
    let base = num(&r["base"]);
    let count = num(&r["count"]);
    let ps = num(&r["page_size"]);
    let i0 = m.iter().position(|l| l.start == base).expect("region base");
    let run = &m[i0..];
    assert!(run.len() as u64 >= count);
    for (i, l) in run.iter().take(count as usize).enumerate() {
        let i = i as u64;
        assert_eq!(l.start, base + i * ps, "region {i} contiguous");
        assert_eq!(l.end - l.start, ps, "region {i} is one page");
        let want: &[u8] = if i.is_multiple_of(2) {
            b"rw-p"
        } else {
            b"r--p"
        };
        assert_eq!(l.perms, want, "region {i} perms");
    }
}

#[test]
fn regions_1000() {
    let kid = Kid::spawn(&["--regions", "1000"]).unwrap();
    let m = maps(kid.pid);
    check_regions(&m, &kid.info["regions"]);
}

#[test]
fn mappings_60000_fast() {
    let max: u64 = fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530);
    let n = 60_000u64.min(max.saturating_sub(2000));
    let t = Instant::now();
    let kid = Kid::spawn(&["--mappings", &n.to_string()]).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "too slow: {:?}",
        t.elapsed()
    );
    let m = maps(kid.pid);
    assert!(m.len() as u64 >= n);
    check_regions(&m, &kid.info["mappings"]);
}

#[test]
fn stop_and_cont() {
    let kid = Kid::spawn(&["--threads", "2"]).unwrap();
    let state = || {
        let s = fs::read(kid.proc("stat")).unwrap();
        let i = s.iter().rposition(|&b| b == b')').unwrap();
        s[i + 2]
    };
    kid.stop().unwrap();
    assert_eq!(state(), b'T');
    kid.cont().unwrap();
    let t = Instant::now();
    while state() == b'T' {
        assert!(t.elapsed() < Duration::from_secs(5), "still stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Drop while stopped must still end the child quickly.
    kid.stop().unwrap();
    let pid = kid.pid;
    let t = Instant::now();
    drop(kid);
    assert!(t.elapsed() < Duration::from_secs(4));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn copy_runs_a_private_binary() {
    let kid = Kid::spawn_copy(&["--rwx"]).unwrap();
    let exe = kid.info["exe"].as_str().unwrap().to_owned();
    assert_ne!(Path::new(&exe), kid_binary());
    assert!(exe.contains("maplens-testkid-copy-"), "{exe}");
    let m = maps(kid.pid);
    assert!(m.iter().any(|l| l.path == exe.as_bytes()));
    let dir = Path::new(&exe).parent().unwrap().to_owned();
    drop(kid);
    assert!(!dir.exists(), "copy dir removed");

    let kid = Kid::spawn(&["--static-copy"]).unwrap();
    assert_eq!(kid.info["static_copy"], true);
    assert!(
        kid.info["exe"]
            .as_str()
            .unwrap()
            .contains("maplens-testkid-copy-")
    );
}

#[test]
fn everything_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let kid = Kid::spawn(&[
        "--file-spaces",
        d,
        "--file-newline",
        d,
        "--deleted",
        d,
        "--memfd",
        "all",
        "--sysv-shm",
        "--shared-anon",
        "--threads",
        "3",
        "--thread-names",
        "--arenas",
        "2",
        "--regions",
        "64",
        "--rwx",
        "--big-anon",
        "8",
        "--mappings",
        "2000",
    ])
    .unwrap();
    let m = maps(kid.pid);
    for k in [
        "file_spaces",
        "file_newline",
        "deleted",
        "memfd",
        "sysv_shm",
        "shared_anon",
        "rwx",
        "big_anon",
    ] {
        exact(&m, &kid.info[k]);
    }
    check_regions(&m, &kid.info["regions"]);
    check_regions(&m, &kid.info["mappings"]);
    assert_eq!(kid.info["threads"].as_array().unwrap().len(), 3);
    assert_eq!(kid.info["arenas"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_option_is_an_error() {
    let err = Kid::spawn(&["--no-such-option"]).err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}
