//! Static builds for aarch64 and armv7, run under qemu-user, print the same
//! JSON as the native build: on every fixture, and on the emulated process's
//! own maps (32-bit addresses on armv7) captured by the emulated binary.
//!
//! Needs `rustup target add aarch64-unknown-linux-musl
//! armv7-unknown-linux-gnueabihf` (or `armv7-unknown-linux-musleabihf`),
//! Debian's `qemu-user` and, for gnueabihf, `gcc-arm-linux-gnueabihf`.
//! Anything missing: the test says what and skips. `MAPLENS_CROSS=0` skips
//! it on purpose (the builds take minutes).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/leaks.rs"]
mod leaks;
use leaks::leaking_regions;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn native() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_maplens"))
}

fn installed(target: &str) -> bool {
    Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|d| {
            d.join("libstd").exists()
                || std::fs::read_dir(&d).is_ok_and(|mut r| {
                    r.any(|e| {
                        e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
                    })
                })
        })
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds the static binary for `target` with scripts/cross-build.sh, with
/// every feature so that its output can be compared with the native build's
/// (the lite build leaves out the findings of `check`; its size is measured
/// by the script, see docs/embedded.md).
fn build(target: &str) -> Result<PathBuf, String> {
    let out = Command::new("bash")
        .arg(workspace().join("scripts/cross-build.sh"))
        .arg("--full")
        .arg(target)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        return Err(tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let path = line.rsplit(' ').next().unwrap_or_default().to_owned();
    Ok(PathBuf::from(path))
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Same stdout and exit status from the native and the emulated binary.
fn same(qemu: &str, bin: &Path, args: &[&str]) {
    let n = run(Command::new(native()).args(args));
    let e = run(Command::new(qemu).arg(bin).args(args));
    assert_eq!(
        n.0, e.0,
        "{qemu} maplens {args:?}: exit differs: {} / {}",
        n.2, e.2
    );
    assert!(
        n.1 == e.1,
        "{qemu} maplens {args:?}: output differs from native"
    );
}

fn check_target(target: &str, qemu: &str, bits32: bool) -> Result<(), String> {
    if !installed(target) {
        return Err(format!(
            "rustup has no std for {target} (rustup target add {target})"
        ));
    }
    if !have(qemu) {
        return Err(format!("{qemu} missing (apt-get install qemu-user)"));
    }
    if target.contains("gnueabihf") && !have("arm-linux-gnueabihf-gcc") {
        return Err(
            "arm-linux-gnueabihf-gcc missing (apt-get install gcc-arm-linux-gnueabihf)".into(),
        );
    }
    let bin = build(target).map_err(|e| format!("building {target} failed:\n{e}"))?;
    // Static: no interpreter, so qemu needs no target sysroot.
    let file = run(Command::new("file").arg(&bin));
    if file.0 {
        assert!(
            file.1.contains("statically linked") || file.1.contains("static-pie"),
            "{target}: not static: {}",
            file.1
        );
    }
    let fixtures = workspace().join("tests/data/fixtures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "maps" || x == "smaps"))
        .collect();
    names.sort();
    assert!(names.len() > 10);
    for p in &names {
        let f = p.to_str().expect("UTF-8 fixture path");
        same(qemu, &bin, &["maps", f, "--format", "json"]);
        same(qemu, &bin, &["report", f, "--format", "json"]);
    }
    // The emulated process's own view: qemu-user prints the guest's maps
    // (8-hex-digit addresses for a 32-bit guest).
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("self.tar");
    let cap = cap.to_str().expect("UTF-8");
    let (ok, _, err) = run(Command::new(qemu)
        .arg(&bin)
        .args(["capture", "self", "-q", "-o", cap]));
    assert!(ok, "{target}: capture self: {err}");
    let (ok, maps, err) = run(Command::new(native()).args(["maps", cap, "--format", "json"]));
    assert!(ok, "native maps of the {target} capture: {err}");
    same(qemu, &bin, &["maps", cap, "--format", "json"]);
    same(qemu, &bin, &["report", cap, "--format", "json"]);
    // The guest's maps text alone (smaps under qemu-user may be the host's).
    let list = run(Command::new("tar").args(["tf", cap]));
    let maps_name = list
        .1
        .lines()
        .find(|l| l.ends_with("/maps"))
        .expect("maps in the capture")
        .to_owned();
    let text = Command::new("tar")
        .args(["xOf", cap, &maps_name])
        .output()
        .expect("tar")
        .stdout;
    let maps_file = dir.path().join("guest.maps");
    std::fs::write(&maps_file, &text).expect("write");
    let mf = maps_file.to_str().expect("UTF-8");
    same(qemu, &bin, &["maps", mf, "--format", "json"]);
    if bits32 {
        // qemu-user prints the 32-bit guest's own layout (unpadded hex,
        // unlike the kernel's %08lx; the fixtures cover 8-digit text).
        for line in String::from_utf8_lossy(&text).lines() {
            let range = line.split(' ').next().unwrap_or_default();
            let (_, end) = range.split_once('-').expect("start-end");
            let end = u64::from_str_radix(end, 16).expect("hex");
            assert!(
                end <= 1 << 32,
                "{target}: guest address above 4 GiB: {line}"
            );
        }
    }
    assert!(maps.contains("\"regions\""));
    Ok(())
}

#[test]
fn static_cross_builds_match_native_under_qemu() {
    if std::env::var("MAPLENS_CROSS").is_ok_and(|v| v == "0") {
        eprintln!("SKIPPED: MAPLENS_CROSS=0");
        return;
    }
    let armv7 = if installed("armv7-unknown-linux-musleabihf") {
        "armv7-unknown-linux-musleabihf"
    } else {
        "armv7-unknown-linux-gnueabihf"
    };
    let mut skipped = Vec::new();
    for (target, qemu, bits32) in [
        ("aarch64-unknown-linux-musl", "qemu-aarch64", false),
        (armv7, "qemu-arm", true),
    ] {
        if let Err(why) = check_target(target, qemu, bits32) {
            if why.starts_with("building") {
                panic!("{why}");
            }
            eprintln!("SKIPPED {target}: {why}");
            skipped.push(target);
        }
    }
    if !skipped.is_empty() {
        eprintln!("cross test: skipped {skipped:?} (see reasons above)");
    }
}

/// The lite device build for `target`, in a target directory of its own
/// (`--full` builds land at the same path in the default one).
fn build_lite(target: &str) -> Result<PathBuf, String> {
    let out = Command::new("bash")
        .arg(workspace().join("scripts/cross-build.sh"))
        .arg("--lite")
        .arg(target)
        .env("CARGO_TARGET_DIR", workspace().join("target/cross-lite"))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(PathBuf::from(line.rsplit(' ').next().unwrap_or_default()))
}

/// Record on the device, analyse on the laptop: the lite aarch64 build,
/// under qemu-user, records a leaking process as JSON Lines; the full
/// native build records it in SQLite; `leaks` on the two gives the same
/// leaking regions, the child's growing mapping among them.
#[test]
fn lite_json_lines_recording_under_qemu_gives_the_sqlite_verdict() {
    if std::env::var("MAPLENS_CROSS").is_ok_and(|v| v == "0") {
        eprintln!("SKIPPED: MAPLENS_CROSS=0");
        return;
    }
    let target = "aarch64-unknown-linux-musl";
    if !installed(target) || !have("qemu-aarch64") {
        eprintln!("SKIPPED: needs rustup's {target} std and qemu-aarch64");
        return;
    }
    let lite = build_lite(target).unwrap_or_else(|e| panic!("building lite {target}:\n{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (jl, db) = (dir.path().join("dev.jsonl"), dir.path().join("lap.db"));
    let kid = maplens_testkid::Kid::spawn(&["--leak", "400"]).expect("spawn kid");
    let pid = kid.pid.to_string();
    let watch = |cmd: &mut Command, rec: &Path| {
        let args = [
            "watch",
            &pid,
            "--interval",
            "250ms",
            "--duration",
            "3s",
            "--record",
        ];
        let (ok, _, err) = run(cmd.args(args).arg(rec));
        assert!(ok, "watch --record {}: {err}", rec.display());
    };
    watch(Command::new("qemu-aarch64").arg(&lite), &jl);
    watch(&mut Command::new(native()), &db);
    let text = std::fs::read_to_string(&jl).expect("the JSON Lines recording");
    assert!(
        text.lines().count() >= 5,
        "{} samples",
        text.lines().count()
    );
    let verdict = |rec: &Path| {
        let out = Command::new(native())
            .args(["leaks", rec.to_str().expect("UTF-8"), "--format", "json"])
            .output()
            .expect("leaks");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        leaking_regions(&serde_json::from_slice(&out.stdout).expect("JSON"))
    };
    let (dev, lap) = (verdict(&jl), verdict(&db));
    let addr = kid.info["leak"]["addr"].as_u64().expect("leak addr");
    assert!(dev.contains(&addr), "{dev:x?} lacks {addr:#x}");
    assert_eq!(dev, lap);
}
