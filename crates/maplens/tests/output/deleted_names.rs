//! ` (deleted)` at the end of a name: the kernel's mark on an unlinked
//! file, or part of a file's name. A live process (and its capture bundle)
//! is decided by the file system; a saved text says it cannot tell.

use maplens_testkid::Kid;
use serde_json::Value;

use crate::offline::{run_ok, serial};

/// The `maps` region starting at `addr`.
fn region(doc: &Value, addr: u64) -> &Value {
    let want = format!("0x{addr:x}");
    doc["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .find(|r| r["start"] == want.as_str())
        .unwrap_or_else(|| panic!("no region at {want}"))
}

fn maps(target: &str) -> Value {
    serde_json::from_str(&run_ok(&["maps", target, "--format", "json"])).expect("JSON")
}

#[test]
fn a_file_named_x_deleted_is_not_deleted() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let named = dir.path().join("x (deleted)");
    let kid = Kid::spawn(&[
        "--named-file",
        named.to_str().expect("UTF-8 temp path"),
        "--deleted",
        dir.path().to_str().expect("UTF-8 temp path"),
    ])
    .expect("spawn kid");
    let addr = |k: &str| kid.info[k]["addr"].as_u64().expect("addr");
    let (named_at, gone_at) = (addr("named_file"), addr("deleted"));
    let gone_path = kid.info["deleted"]["path"].as_str().expect("path");
    let pid = kid.pid.to_string();

    let live = maps(&pid);
    let bundle = dir.path().join("cap.tar");
    let bundle = bundle.to_str().expect("UTF-8 temp path");
    run_ok(&["capture", &pid, "-q", "-o", bundle]);
    let offline = maps(&format!("{bundle}:{pid}"));
    for (what, doc) in [("live", &live), ("bundle", &offline)] {
        let n = region(doc, named_at);
        assert_eq!(n["deleted"], false, "{what}: {n}");
        assert_eq!(n["path"], named.to_str().expect("UTF-8"), "{what}: {n}");
        let g = region(doc, gone_at);
        assert_eq!(g["deleted"], true, "{what}: {g}");
        assert_eq!(g["path"], gone_path, "{what}: {g}");
    }

    // check: the really deleted file is a finding, the other is not.
    let check: Value =
        serde_json::from_str(&run_ok(&["check", "--format", "json", &pid])).expect("JSON");
    let subjects: Vec<&str> = check["targets"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == "deleted-file")
        .filter_map(|f| f["subject"].as_str())
        .collect();
    assert_eq!(subjects, vec![gone_path], "deleted-file findings");

    // A saved maps text cannot tell: both read as deleted, and the finding
    // says why it may be wrong.
    let saved = dir.path().join("saved.maps");
    std::fs::copy(kid.proc("maps"), &saved).expect("copy maps");
    let saved = saved.to_str().expect("UTF-8 temp path");
    let text = maps(saved);
    assert_eq!(region(&text, named_at)["deleted"], true);
    assert_eq!(region(&text, gone_at)["deleted"], true);
    let check: Value =
        serde_json::from_str(&run_ok(&["check", "--format", "json", saved])).expect("JSON");
    let evidence: Vec<&str> = check["targets"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == "deleted-file")
        .filter_map(|f| f["evidence"][0].as_str())
        .collect();
    assert_eq!(evidence.len(), 2, "{check}");
    for e in evidence {
        assert!(
            e.contains("marked deleted by the kernel, or a file whose name ends in ' (deleted)'"),
            "{e}"
        );
    }
}
