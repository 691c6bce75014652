//! ` (deleted)` in the scans of `maplens libs` and `top --by object|shm`:
//! decided by the file, as `maplens maps` decides it (see
//! `deleted_names.rs`), not by the text. A file really named `x (deleted)`
//! is not deleted; an unlinked file is. A capture bundle gives the answer
//! its capture checked live.

use std::path::Path;

use maplens_testkid::Kid;
use serde_json::Value;

use crate::offline::{run_ok, serial};

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&run_ok(args)).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"))
}

/// A kid mapping `DIR/x (deleted)` (a live file) and `DIR/to be deleted.bin`
/// (unlinked); returns it with both paths as the kid reports them.
fn kid_in(dir: &Path) -> (Kid, String, String) {
    let named = dir.join("x (deleted)");
    let kid = Kid::spawn(&[
        "--named-file",
        named.to_str().expect("UTF-8 temp path"),
        "--deleted",
        dir.to_str().expect("UTF-8 temp path"),
    ])
    .expect("spawn kid");
    let path = |k: &str| kid.info[k]["path"].as_str().expect("path").to_owned();
    let (named, gone) = (path("named_file"), path("deleted"));
    assert!(named.ends_with("/x (deleted)"), "{named}");
    (kid, named, gone)
}

/// `libs` rows whose path starts with `dir`, as `(path, deleted)`, sorted.
fn libs_under(doc: &Value, dir: &str) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = doc["libs"]
        .as_array()
        .expect("libs")
        .iter()
        .filter_map(|l| {
            let p = l["path"].as_str()?;
            p.starts_with(dir)
                .then(|| (p.to_owned(), l["deleted"].as_bool().expect("deleted")))
        })
        .collect();
    v.sort();
    v
}

/// Names under `dir` of a `top --by object|shm` document's `key` array.
fn names_under(doc: &Value, list: &str, key: &str, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list}: {doc}"))
        .iter()
        .filter_map(|o| o[key].as_str())
        .filter(|n| n.starts_with(dir))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn libs_and_top_objects_decide_deleted_by_the_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (kid, named, gone) = kid_in(dir.path());
    let d = dir.path().to_str().expect("UTF-8 temp path");
    let pid = kid.pid.to_string();
    let mut want = vec![(named.clone(), false), (gone.clone(), true)];
    want.sort();

    let live = json(&["libs", "--pid", &pid, "--format", "json"]);
    assert_eq!(libs_under(&live, d), want, "libs, live");

    // A bundle gives what its capture checked.
    let bundle = dir.path().join("cap.tar");
    let bundle = bundle.to_str().expect("UTF-8 temp path");
    run_ok(&["capture", &pid, "-q", "-o", bundle]);
    let offline = json(&["libs", bundle, "--format", "json"]);
    assert_eq!(libs_under(&offline, d), want, "libs, bundle");

    // By object, a deleted file is named without the kernel's mark; the
    // file named `x (deleted)` keeps its whole name.
    let objects = json(&["top", "--by", "object", "--pid", &pid, "--format", "json"]);
    let mut want = vec![named.clone(), gone.clone()];
    want.sort();
    assert_eq!(
        names_under(&objects, "objects", "object", d),
        want,
        "top --by object"
    );
    let objects = json(&["top", "--by", "object", bundle, "--format", "json"]);
    assert_eq!(
        names_under(&objects, "objects", "object", d),
        want,
        "top --by object, bundle"
    );

    // A saved text cannot tell: there both read as deleted (the old answer).
    let saved = dir.path().join("saved");
    std::fs::create_dir_all(saved.join(&pid)).expect("mkdir");
    for f in ["smaps", "cmdline", "comm", "stat", "status"] {
        std::fs::copy(kid.proc(f), saved.join(&pid).join(f)).expect("copy");
    }
    let copied = json(&[
        "libs",
        "--proc-root",
        saved.to_str().expect("UTF-8"),
        "--pid",
        &pid,
        "--format",
        "json",
    ]);
    let both: Vec<bool> = libs_under(&copied, d).iter().map(|l| l.1).collect();
    assert_eq!(both, [true, true], "libs, copied /proc without root/");
}

#[test]
fn top_shm_decides_deleted_by_the_file() {
    let _serial = serial();
    // tmpfs: the files are shared memory.
    let dir = tempfile::tempdir_in("/dev/shm").expect("tempdir in /dev/shm");
    let (kid, named, gone) = kid_in(dir.path());
    let d = dir.path().to_str().expect("UTF-8 temp path");
    let pid = kid.pid.to_string();
    let shm = json(&["top", "--by", "shm", "--pid", &pid, "--format", "json"]);
    let mut want = vec![named, gone];
    want.sort();
    assert_eq!(
        names_under(&shm, "shared_memory", "name", d),
        want,
        "top --by shm: {shm}"
    );
}
