//! The README's run command works on a fresh clone, exactly as written.

use std::path::Path;
use std::process::Command;

/// The command the README's "Set-up" section tells a new user to run.
const README_RUN: &str = "cargo run --release -- maps self";

#[test]
fn readme_names_the_run_command() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    assert!(
        readme.lines().any(|l| l.trim() == README_RUN),
        "README.md no longer shows `{README_RUN}`; update this test with it"
    );
}

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `git clone` of this repository's HEAD into a temporary directory, then the
/// README's run command inside it. The clone reuses this build's target
/// directory only to avoid compiling every dependency again; the sources it
/// builds are the clone's own.
#[test]
fn readme_run_command_works_on_a_fresh_clone() {
    let root = repo_root();
    let tmp = tempfile::tempdir().expect("tempdir");
    let clone = tmp.path().join("maplens");
    let st = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(root)
        .arg(&clone)
        .status()
        .expect("git runs");
    assert!(st.success(), "git clone of {} failed", root.display());

    // This build's own target directory: the release build there (CI runs
    // the README's run command before the tests) already holds every
    // dependency, so only the clone's own crates are compiled. Cargo locks
    // a directory per profile, and the tests are built in `debug/`, so the
    // nested release build never waits for the running test build.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut words = README_RUN.split(' ');
    let out = Command::new(words.next().expect("program"))
        .args(words)
        .current_dir(&clone)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`{README_RUN}` failed in a fresh clone:\n{stderr}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("[stack]") && l.contains("main-stack")),
        "no [stack] row in the output of `{README_RUN}`:\n{stdout}"
    );
}
