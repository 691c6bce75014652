//! `maplens check --format sarif` validates against the SARIF 2.1.0 JSON
//! schema (tests/data/sarif-schema-2.1.0.json, see docs/check.md for where
//! it comes from), on fixtures with findings of every kind and on a live
//! child.

use std::path::Path;

use assert_cmd::Command;
use maplens_testkid::Kid;
use serde_json::Value;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("tests/data/sarif-schema-2.1.0.json"))
        .expect("schema file");
    // The schema's `language` pattern `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`
    // has an unescaped `]`: a literal in ECMA-262 regexes, an error for the
    // Rust regex engine the validator checks patterns with. The file stays
    // verbatim; the in-memory copy escapes it (same meaning). maplens never
    // emits `language`.
    let text = text.replace("{2}]?$", "{2}\\\\]?$");
    assert_eq!(text.matches("{2}\\\\]?$").count(), 2, "pattern not found");
    let schema: Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn sarif(args: &[&str]) -> Value {
    let out = Command::cargo_bin("maplens")
        .expect("maplens")
        .current_dir(root())
        .args(["check", "--format", "sarif", "--min-severity", "info"])
        .args(args)
        .output()
        .expect("run");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("SARIF is JSON")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid:\n{}", errors.join("\n"));
}

#[test]
fn sarif_of_fixtures_is_valid() {
    let v = validator();
    let fx = |n: &str| format!("tests/data/fixtures/{n}");
    let doc = sarif(&[
        &fx("zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.smaps"),
        &fx("krashpad__x86_64-rhel8-linux4.18-jdk8-gtk-wayland-i915-hserr.maps"),
        &fx("hikvision__arm32-linux2.6-uclibc-busybox-init.maps"),
        &fx("gracker-systraceanalysis__android-arm64-app.smaps"),
        &fx("aosp-libmeminfo__android-x86_64-cuttlefish-system_server.smaps"),
        &fx("innofirmware__armv7-linux4.4-miner-stackTID.smaps"),
        &fx("localcap__x86_64-linux6.18-python-oddnames.smaps"),
        &fx("prometheus-procfs__x86_64-alertmanager-smaps_rollup.smaps"),
    ]);
    assert_valid(&v, &doc);
    let results = doc["runs"][0]["results"].as_array().expect("results");
    let ids: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    for id in [
        "dev-mem",
        "wx-memory",
        "exec-stack",
        "deleted-file",
        "shared-writable-file",
        "malloc-arenas",
        "stack-reserve",
        "swap",
        "anon-untouched",
        "exec-anon",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    // Every result points at its rule and at a line of the text read.
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    for r in results {
        let i = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].as_str().is_some());
    }
    // The /dev/mem finding names the line of the region in the smaps file.
    let devmem = results
        .iter()
        .find(|r| r["ruleId"] == "dev-mem")
        .expect("dev-mem");
    assert_eq!(devmem["level"], "error");
    let line = devmem["locations"][0]["physicalLocation"]["region"]["startLine"]
        .as_u64()
        .expect("line") as usize;
    let text = std::fs::read_to_string(root().join(fx(
        "zteorange__armv7-linux4.1-uclibc-router-pc-sysv-devmem.smaps",
    )))
    .expect("fixture");
    let l = text.lines().nth(line - 1).expect("line exists");
    assert!(l.ends_with("/dev/mem"), "line {line}: {l}");
}

#[test]
fn sarif_of_live_child_is_valid() {
    let v = validator();
    let kid = Kid::spawn(&["--rwx", "--exec-anon", "--threads", "4"]).expect("spawn");
    kid.stop().expect("stop");
    let doc = sarif(&[&kid.pid.to_string()]);
    kid.cont().expect("cont");
    assert_valid(&v, &doc);
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["ruleId"] == "wx-memory"));
}

#[test]
fn an_invalid_document_is_caught() {
    // The validator is live: a result without a message fails.
    let v = validator();
    let bad: Value = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "maplens"}}, "results": [{"ruleId": "x"}]}],
    });
    assert!(!v.is_valid(&bad));
}
