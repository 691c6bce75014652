//! Command-line manners: options where a user puts them, words of digits,
//! help that names every kind of target.

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn maplens(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("maplens")
        .expect("built")
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn target_options_go_before_or_after_the_subcommand() {
    for args in [
        &["--strict", "maps", "self"][..],
        &["maps", "--strict", "self"],
        &["maps", "self", "--strict"],
        &["--proc-root", "/proc", "maps", "self"],
        &["--proc-root=/proc", "--strict", "report", "self"],
        &["--strict", "self"],
    ] {
        let out = maplens(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("[stack]")
                || String::from_utf8_lossy(&out.stdout).contains("By category"),
            "{args:?}"
        );
    }
    // --strict really is strict wherever it stands: a bad line is an error.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("bad.maps");
    std::fs::write(
        &f,
        "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \nnot a line\n",
    )
    .expect("write");
    let f = f.to_str().expect("utf-8");
    for args in [&["--strict", "maps", f][..], &["maps", f, "--strict"]] {
        let out = maplens(args);
        assert!(!out.status.success(), "{args:?} accepted a bad line");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("line 2"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_word_of_digits_is_always_a_pid() {
    for word in ["99999999999999999999", "4294967296"] {
        let out = maplens(&["maps", word]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("larger than any PID"), "{word}: {err}");
        assert!(!err.contains("no process named"), "{word}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn help_names_bundles_and_the_bare_command() {
    let out = maplens(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("cap.tar:PID"), "{help}");
    assert!(help.contains("`maplens top`"), "{help}");
    assert!(help.contains("before or after the subcommand"), "{help}");
}

/// "Run as root" is advice only for a user who is not root.
#[test]
fn permission_advice_fits_who_runs() {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
        })
        .unwrap_or_default();
    if euid != "0" || Command::new("setpriv").arg("--help").output().is_err() {
        eprintln!("SKIP: needs root and setpriv");
        return;
    }
    // As nobody, PID 1's smaps is refused: the advice names root.
    let bin = assert_cmd::cargo::cargo_bin("maplens");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["maps", "1"])
        .output()
        .expect("setpriv");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("or as root"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
