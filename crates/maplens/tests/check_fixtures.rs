//! `maplens check` on every real capture in `tests/data/fixtures/`, kept as
//! golden files (tests/snapshots/check_fixtures__*.snap). Each was reviewed
//! by hand; docs/check.md says why each finding stands.

use std::path::Path;

use assert_cmd::Command;

fn fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".maps") || n.ends_with(".smaps"))
        .collect();
    names.sort();
    names
}

#[test]
fn golden_findings_of_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let names = fixtures();
    assert!(names.len() >= 30, "fixtures missing: {names:?}");
    for name in names {
        let out = Command::cargo_bin("maplens")
            .expect("maplens binary")
            .current_dir(&root)
            .args(["check", "--min-severity", "info", "--bytes"])
            .arg(format!("tests/data/fixtures/{name}"))
            .output()
            .expect("run maplens");
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "{name}: exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = format!("exit {code}\n{}", String::from_utf8_lossy(&out.stdout));
        let snap = name
            .trim_end_matches(".smaps")
            .trim_end_matches(".maps")
            .replace('.', "_");
        let ext = if name.ends_with(".smaps") {
            "smaps"
        } else {
            "maps"
        };
        insta::assert_snapshot!(format!("{snap}-{ext}"), text);
    }
}
