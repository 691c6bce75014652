//! `maplens top` against Debian's smem, on frozen children.
//!
//! smem sums full `/proc/PID/smaps` per process (USS = Private_Clean +
//! Private_Dirty), per user (`-u`) and per mapping name (`-m`, first word of
//! the name, truncated to 40 characters in its table).
//!
//! Two comparisons:
//!
//! * On one copy of the children's /proc files (`smem -S DIR`, `maplens
//!   --proc-root DIR/proc`): both tools read the same bytes, so every figure
//!   must be equal in kB, PSS included.
//! * Live: USS, RSS and swap must be equal. PSS may not be: a page's PSS is
//!   its size divided by the number of processes mapping it *now*, and smem
//!   (Python, mapping libpython, libc, …) and maplens map different pages of
//!   the shared libraries the children also map (libc, ld.so, libgcc_s,
//!   vdso). The children are copies of the testkid binary (`spawn_copy`), so
//!   only those library mappings can differ: the live PSS difference must be
//!   within the children's RSS of shared-library mappings.
//!
//! smaps_rollup (plain `maplens top`) sums PSS before truncating to kB, where
//! smaps truncates per region: rollup PSS is ≥ the smaps sum and less than
//! it plus one kB per region.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use maplens_testkid::Kid;
use serde_json::Value;

fn have_smem() -> bool {
    Command::new("smem")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn maplens(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args(args)
        .output()
        .expect("run maplens");
    assert!(
        out.status.success(),
        "maplens {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("maplens JSON")
}

/// smem's table, without header: one Vec of words per line.
fn smem(args: &[&str]) -> Vec<Vec<String>> {
    let out = Command::new("smem")
        .arg("-H")
        .args(args)
        .output()
        .expect("run smem");
    assert!(
        out.status.success(),
        "smem {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn kb(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

struct Kids {
    kids: Vec<Kid>,
    /// A regex matching the children's command lines but not itself.
    regex: String,
}

fn spawn_kids() -> Kids {
    let kids: Vec<Kid> = [
        vec!["--big-anon", "8"],
        vec!["--memfd", "m1", "--shared-anon", "--regions", "6"],
        vec!["--sysv-shm", "--threads", "2"],
    ]
    .iter()
    .map(|a| Kid::spawn_copy(a).expect("spawn kid"))
    .collect();
    let tags: Vec<String> = kids
        .iter()
        .map(|k| {
            let exe = std::fs::read_link(k.proc("exe")).expect("exe");
            let name = exe
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let tag = name
                .strip_prefix("maplens-testkid-copy-")
                .expect("a spawn_copy name");
            regex_escape(tag)
        })
        .collect();
    // `[m]` keeps the pattern from matching the command line holding it
    // (smem's and maplens's own).
    let regex = format!("[m]aplens-testkid-copy-({})", tags.join("|"));
    for k in &kids {
        k.stop().expect("freeze kid");
    }
    Kids { kids, regex }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Copies the children's /proc files (and meminfo) into `dir/proc`.
fn copy_proc(kids: &[Kid], dir: &Path) {
    let proc = dir.join("proc");
    std::fs::create_dir_all(&proc).expect("mkdir");
    std::fs::copy("/proc/meminfo", proc.join("meminfo")).expect("meminfo");
    std::fs::copy("/proc/version", proc.join("version")).expect("version");
    for k in kids {
        let d = proc.join(k.pid.to_string());
        std::fs::create_dir(&d).expect("mkdir pid");
        let (smaps, rollup) = consistent_pair(k);
        std::fs::write(d.join("smaps"), smaps).expect("write copy");
        std::fs::write(d.join("smaps_rollup"), rollup).expect("write copy");
        for f in ["stat", "cmdline", "status", "comm"] {
            let b = std::fs::read(k.proc(f)).expect("read proc file");
            std::fs::write(d.join(f), b).expect("write copy");
        }
    }
}

/// Σ of a field (kB) over every line of `text` that starts with `key`.
fn field_sum(text: &[u8], key: &str) -> u64 {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| l.strip_prefix(key))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A child's smaps and smaps_rollup read at one moment of sharing.
///
/// The children are frozen, but their library pages are not theirs alone:
/// a process elsewhere on the machine (another test, cargo, the shell) that
/// maps or unmaps libc between the two reads changes every sharer's PSS
/// and can turn a shared page private. CI once caught rollup PSS 4 kB
/// below the smaps sum that way. Re-read the pair until the rollup agrees
/// with the smaps it was copied beside (USS and RSS equal, PSS within the
/// truncation bound), as the report does on a live process.
fn consistent_pair(k: &Kid) -> (Vec<u8>, Vec<u8>) {
    let read = |f: &str| std::fs::read(k.proc(f)).expect("read proc file");
    for _ in 0..50 {
        let smaps = read("smaps");
        let rollup = read("smaps_rollup");
        let uss = |t: &[u8]| field_sum(t, "Private_Clean:") + field_sum(t, "Private_Dirty:");
        let regions = String::from_utf8_lossy(&smaps)
            .lines()
            .filter(|l| l.starts_with("Size:"))
            .count() as u64;
        let (sp, rp) = (field_sum(&smaps, "Pss:"), field_sum(&rollup, "Pss:"));
        if uss(&smaps) == uss(&rollup)
            && field_sum(&smaps, "Rss:") == field_sum(&rollup, "Rss:")
            && rp >= sp
            && rp < sp + regions.max(1)
        {
            return (smaps, rollup);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!(
        "pid {}: smaps and smaps_rollup never agreed in 50 reads",
        k.pid
    );
}

fn rows_by_pid(doc: &Value) -> HashMap<u64, Value> {
    doc["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (kb(r, "pid"), r.clone()))
        .collect()
}

/// Σ Rss and Σ Private_Clean (kB) of a child's mappings of files other
/// processes map too: the shared libraries and the kernel's vdso pages.
/// Only those pages can change sharing when smem or maplens runs.
fn shared_lib_rss(pid: u32) -> u64 {
    let text = std::fs::read(format!("/proc/{pid}/smaps")).expect("smaps");
    let snap =
        maplens_core::model::Snapshot::from_text("smaps", &text, maplens_core::parse::Mode::Strict)
            .expect("parse");
    use maplens_core::parse::Field;
    snap.regions
        .iter()
        .filter(|r| {
            let p = r.path.raw();
            p.starts_with(b"/usr/") || p.starts_with(b"/lib") || p.starts_with(b"[v")
        })
        .map(|r| r.kb(Field::Rss).unwrap_or(0))
        .sum()
}

#[test]
fn per_process_user_and_mapping_equal_smem_on_a_copy() {
    if !have_smem() {
        eprintln!("SKIP: smem is not installed (scripts/test.sh installs it)");
        return;
    }
    let k = spawn_kids();
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_proc(&k.kids, tmp.path());
    let src = tmp.path().to_str().expect("utf-8 temp dir");
    let root = tmp.path().join("proc");
    let root = root.to_str().expect("utf-8");

    // Per process.
    let s = smem(&["-S", src, "-c", "pid uss pss rss swap"]);
    let m = rows_by_pid(&maplens(&[
        "top",
        "--proc-root",
        root,
        "--smaps",
        "--format",
        "json",
    ]));
    let r = rows_by_pid(&maplens(&["top", "--proc-root", root, "--format", "json"]));
    assert_eq!(s.len(), k.kids.len(), "smem rows: {s:?}");
    assert_eq!(m.len(), k.kids.len());
    for line in &s {
        let pid = num(&line[0]);
        let row = &m[&pid];
        let got = [
            kb(row, "uss_kb"),
            kb(row, "pss_kb"),
            kb(row, "rss_kb"),
            kb(row, "swap_kb"),
        ];
        let want = [num(&line[1]), num(&line[2]), num(&line[3]), num(&line[4])];
        assert_eq!(
            got, want,
            "pid {pid}: maplens --smaps vs smem (uss pss rss swap)"
        );
        // smaps_rollup: the same, but PSS truncated once instead of per region.
        let roll = &r[&pid];
        assert_eq!(roll["source"], "smaps_rollup");
        assert_eq!(kb(roll, "uss_kb"), want[0], "pid {pid}: rollup USS");
        assert_eq!(kb(roll, "rss_kb"), want[2], "pid {pid}: rollup RSS");
        assert_eq!(kb(roll, "swap_kb"), want[3], "pid {pid}: rollup swap");
        let regions = std::fs::read_to_string(root.to_owned() + &format!("/{pid}/smaps"))
            .expect("copy")
            .lines()
            .filter(|l| l.starts_with("Size:"))
            .count() as u64;
        let rp = kb(roll, "pss_kb");
        assert!(
            rp >= want[1] && rp < want[1] + regions.max(1),
            "pid {pid}: rollup PSS {rp} not in [{}, {} + {regions} regions)",
            want[1],
            want[1]
        );
    }

    // Per user.
    let s = smem(&["-S", src, "-u", "-c", "user count uss pss rss swap"]);
    let doc = maplens(&[
        "top",
        "--proc-root",
        root,
        "--smaps",
        "--by",
        "user",
        "--format",
        "json",
    ]);
    let groups = doc["groups"].as_array().expect("groups");
    assert_eq!(s.len(), groups.len(), "smem -u: {s:?}");
    for line in &s {
        let g = groups
            .iter()
            .find(|g| g["user"] == line[0].as_str())
            .unwrap_or_else(|| panic!("no user {} in {doc}", line[0]));
        let got = [
            kb(g, "count"),
            kb(g, "uss_kb"),
            kb(g, "pss_kb"),
            kb(g, "rss_kb"),
            kb(g, "swap_kb"),
        ];
        let want: Vec<u64> = line[1..6].iter().map(|x| num(x)).collect();
        assert_eq!(got.as_slice(), want.as_slice(), "user {}", line[0]);
    }

    // Per mapping.
    let s = smem(&["-S", src, "-m", "-c", "pids uss pss rss swap map"]);
    let doc = maplens(&[
        "top",
        "--proc-root",
        root,
        "--by",
        "object",
        "--format",
        "json",
    ]);
    let objs = doc["objects"].as_array().expect("objects");
    assert_eq!(s.len(), objs.len(), "smem -m: {s:?}");
    for line in &s {
        // smem prints the map name's first word, cut to 40 characters.
        let name = &line[5];
        let matching: Vec<&Value> = objs
            .iter()
            .filter(|o| {
                let n = o["object"].as_str().unwrap_or("");
                n.chars().take(40).collect::<String>() == *name
            })
            .collect();
        assert_eq!(matching.len(), 1, "map {name}: {matching:?}");
        let o = matching[0];
        let got = [
            o["pids"].as_array().map_or(0, |a| a.len() as u64),
            kb(o, "uss_kb"),
            kb(o, "pss_kb"),
            kb(o, "rss_kb"),
            kb(o, "swap_kb"),
        ];
        let want: Vec<u64> = line[0..5].iter().map(|x| num(x)).collect();
        assert_eq!(got.as_slice(), want.as_slice(), "map {name}");
    }
}

#[test]
fn live_per_process_equal_smem_within_shared_library_pss() {
    if !have_smem() {
        eprintln!("SKIP: smem is not installed (scripts/test.sh installs it)");
        return;
    }
    let k = spawn_kids();
    let s = smem(&["-P", &k.regex, "-c", "pid uss pss rss swap"]);
    let m = rows_by_pid(&maplens(&[
        "top", "--smaps", "-P", &k.regex, "--format", "json",
    ]));
    assert_eq!(s.len(), k.kids.len(), "smem rows for {}: {s:?}", k.regex);
    assert_eq!(m.len(), k.kids.len(), "maplens rows for {}", k.regex);
    for line in &s {
        let pid = num(&line[0]);
        let row = &m[&pid];
        // RSS and swap do not depend on who else maps a page.
        assert_eq!(kb(row, "rss_kb"), num(&line[3]), "pid {pid} RSS");
        assert_eq!(kb(row, "swap_kb"), num(&line[4]), "pid {pid} swap");
        // USS and PSS do, through the shared-library pages only: any of
        // them can turn from shared to private (or back) between the two
        // readings as other processes on the machine start and exit, so
        // the bound is every resident library page, not the ones private
        // at a third reading (CI once saw USS move by 8 kB with 0 kB
        // private then).
        let lib_rss = shared_lib_rss(pid as u32);
        let (a, b) = (kb(row, "uss_kb"), num(&line[1]));
        assert!(
            a.abs_diff(b) <= lib_rss,
            "pid {pid}: USS {a} vs smem {b}: more apart than the {lib_rss} kB of \
             shared-library pages it maps"
        );
        let (a, b) = (kb(row, "pss_kb"), num(&line[2]));
        assert!(
            a.abs_diff(b) <= lib_rss,
            "pid {pid}: PSS {a} vs smem {b}: more apart than the {lib_rss} kB of shared libraries"
        );
    }
}
