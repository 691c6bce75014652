//! Processes `maplens top` cannot read are named in the footer and kept
//! out of the totals, which stay right for the others.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use maplens_core::system::{Reason, ScanHooks, ScanOptions, scan};
use maplens_testkid::{Kid, kid_binary};
use serde_json::Value;

/// A testkid started as another user through `setpriv`; killed on drop.
struct Foreign {
    child: Child,
    pid: u32,
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kid binary copied where any user may run it.
fn public_kid() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = dir.path().join("maplens-testkid");
    std::fs::copy(kid_binary(), &bin).expect("copy kid");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, bin)
}

fn spawn_as(uid: u32, bin: &PathBuf) -> Foreign {
    let mut child = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
        ])
        .arg(bin)
        .args(["--big-anon", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("kid JSON");
    assert!(line.starts_with('{'), "kid as {uid} failed: {line:?}");
    Foreign { child, pid }
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

#[test]
fn another_users_process_is_named_and_not_counted() {
    if !is_root() || Command::new("setpriv").arg("--help").output().is_err() {
        eprintln!("SKIP: needs root and setpriv to run processes as other users");
        return;
    }
    let (_dir, bin) = public_kid();
    // The reader runs as uid 41234; one child is its own, one is nobody's.
    let reader = 41234;
    let own = spawn_as(reader, &bin);
    let other = spawn_as(65534, &bin);
    let pids = format!("{},{}", own.pid, other.pid);
    let run = |format: &str| {
        let out = Command::new("setpriv")
            .args([
                &format!("--reuid={reader}"),
                &format!("--regid={reader}"),
                "--clear-groups",
            ])
            .arg(env!("CARGO_BIN_EXE_maplens"))
            .args(["top", "--pid", &pids, "--format", format])
            .output()
            .expect("maplens as another user");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let doc: Value = serde_json::from_str(&run("json")).expect("json");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{doc}");
    assert_eq!(rows[0]["pid"], own.pid);
    assert_eq!(rows[0]["user"], reader.to_string());
    // Totals are the readable process's figures, nothing of nobody's.
    for k in ["uss_kb", "pss_kb", "rss_kb", "swap_kb"] {
        assert_eq!(doc["totals"][k], rows[0][k], "{k}");
    }
    let un = doc["unreadable"].as_array().expect("unreadable");
    assert_eq!(un.len(), 1, "{doc}");
    assert_eq!(un[0]["pid"], other.pid);
    assert_eq!(un[0]["reason"], "permission-denied");
    assert_eq!(un[0]["comm"], "maplens-testkid");
    assert_eq!(un[0]["user"], "nobody");

    let table = run("table");
    let footer = table
        .lines()
        .find(|l| l.starts_with("not counted, permission denied: 1"))
        .unwrap_or_else(|| panic!("no footer line:\n{table}"));
    assert!(
        footer.contains(&format!("{} (maplens-testkid)", other.pid)),
        "{footer}"
    );
    assert!(table.contains("1 processes: PSS"), "{table}");
}

/// Kills one kid just before the scan looks at it.
struct KillAt {
    pid: u32,
    kid: Option<Kid>,
}

impl ScanHooks for KillAt {
    fn progress(&mut self, _done: usize, _total: usize, pid: u32) {
        if pid == self.pid
            && let Some(mut k) = self.kid.take()
        {
            k.child.kill().expect("kill");
            k.child.wait().expect("reap");
        }
    }
}

#[test]
fn a_process_exiting_during_the_scan_is_reported_and_totals_stay_right() {
    let stays = Kid::spawn(&["--big-anon", "1"]).expect("kid");
    stays.stop().expect("stop");
    // Scan every process, killing `goes` just before it is read.
    let goes2 = Kid::spawn(&["--big-anon", "1"]).expect("kid");
    let gone_pid = goes2.pid;
    let mut hooks = KillAt {
        pid: gone_pid,
        kid: Some(goes2),
    };
    let r = scan(&ScanOptions::default(), &mut hooks).expect("scan");
    let u = r
        .unreadable
        .iter()
        .find(|u| u.pid == gone_pid)
        .unwrap_or_else(|| panic!("{gone_pid} not reported: {:?}", r.unreadable));
    assert_eq!(u.reason, Reason::Exited);
    assert!(r.rows.iter().all(|row| row.meta.pid != gone_pid));
    let row = r
        .rows
        .iter()
        .find(|row| row.meta.pid == stays.pid)
        .expect("the other kid has a row");
    assert!(row.mem.rss > 0);
    // Totals are exactly the sum of the rows.
    let mut sum = maplens_core::system::Mem::default();
    for row in &r.rows {
        sum.add(&row.mem);
    }
    assert_eq!(r.totals, sum);
}
