//! `maplens tui` in a real terminal: tmux runs it on a live child, the test
//! types keys (send-keys) and reads the screen (capture-pane). The terminal
//! must come back as it was (`stty -a` before and after).
//!
//! Needs tmux (scripts/test.sh installs it). Without it the tests say so
//! and pass, except under CI, where they fail.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use maplens_testkid::Kid;

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing (scripts/test.sh installs it)"
        );
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

/// A tmux server of our own (its own socket, no config) with one pane.
struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Runs `maplens ARGS` in a `w`×`h` pane, between two `stty -a`
    /// readings of the pane's terminal; the shell then waits, so the pane
    /// stays readable.
    fn start(w: u16, h: u16, args: &[&str], env: &[(&str, &str)]) -> Tmux {
        static N: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "maplens-tui-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = assert_cmd::cargo::cargo_bin("maplens");
        let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut cmd = String::new();
        for (k, v) in env {
            cmd.push_str(&format!("{k}={} ", q(v)));
        }
        cmd.push_str(&q(bin.to_str().expect("utf-8 path")));
        for a in args {
            cmd.push(' ');
            cmd.push_str(&q(a));
        }
        let d = dir.path().to_str().expect("utf-8 path");
        let script = format!(
            "stty -a > {b}; {cmd} 2> {e}; echo $? > {rc}; stty -a > {a}; exec sleep 600",
            b = q(&format!("{d}/before")),
            e = q(&format!("{d}/stderr")),
            rc = q(&format!("{d}/rc")),
            a = q(&format!("{d}/after")),
        );
        let t = Tmux { socket, dir };
        let ok = t
            .tmux()
            .args(["new-session", "-d", "-s", "main", "-x"])
            .arg(w.to_string())
            .arg("-y")
            .arg(h.to_string())
            .arg(script)
            .status()
            .expect("runs tmux");
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// Types keys (tmux key names: `Enter`, `Escape`, `C-c`, or text).
    fn keys(&self, keys: &[&str]) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", "main"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    /// Types text literally (`/` and letters).
    fn text(&self, s: &str) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", "main", "-l", s])
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (up to 20 s: a loaded machine is slow, nothing is timed) for
    /// the screen to satisfy `ok` in two captures alike (not a frame half
    /// drawn), and returns it.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        loop {
            let s = self.screen();
            if ok(&s) && s == last {
                return s;
            }
            last = s.clone();
            if Instant::now() > deadline {
                let err = std::fs::read_to_string(self.path("stderr")).unwrap_or_default();
                panic!("waited for {what}; the screen is:\n{s}\nstderr: {err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for maplens to exit; returns its exit code and the two
    /// `stty -a` readings.
    fn finished(&self) -> (String, String, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.path("after").exists()
            || std::fs::read(self.path("after")).is_ok_and(|b| b.is_empty())
        {
            assert!(
                Instant::now() < deadline,
                "maplens did not exit; the screen is:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        let read = |n: &str| std::fs::read_to_string(self.path(n)).unwrap_or_default();
        (read("rc").trim().to_owned(), read("before"), read("after"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// The kind filter named in the tab line (`kind=ID`), or "".
fn kind_shown(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(":Regions("))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("kind=")))
        .unwrap_or("")
        .to_owned()
}

/// The lines of the region table: from the header to the first blank line.
fn table_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|l| !l.contains("PERM SIZE"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.contains("detail") && !l.starts_with('▼'))
        .collect()
}

fn spaces_file(kid: &Kid) -> String {
    kid.info["file_spaces"]["path"]
        .as_str()
        .expect("file_spaces path")
        .to_owned()
}

/// The whole walk: search a path, filter by kind, open the detail, switch
/// to threads, quit; the screens say what the child has where it should.
fn walk(w: u16, h: u16, quit: &[&str]) {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let kid =
        Kid::spawn(&["--threads", "2", "--thread-names", "--file-spaces", d]).expect("kid starts");
    let pid = kid.pid.to_string();
    let file = spaces_file(&kid);
    let t = Tmux::start(w, h, &["tui", &pid, "--interval", "0.5"], &[]);
    let s = t.wait("the first screen", |s| {
        s.contains(":Regions(") && s.contains("live")
    });
    assert!(
        s.lines().next().unwrap_or("").contains(&format!("({pid})")),
        "{s}"
    );
    assert!(s.contains("PERM SIZE"), "{s}");

    // Search a path: only the child's file with two spaces in its name.
    t.text("/spaces");
    t.wait("the search prompt", |s| s.contains("search path: /spaces"));
    t.keys(&["Enter"]);
    let s = t.wait("the search applied", |s| {
        s.contains("Regions(1)") && s.contains("spaces.bin")
    });
    let rows = table_rows(&s);
    assert_eq!(rows.len(), 1, "{s}");
    assert!(
        rows[0].contains("spaces.bin") && rows[0].contains("r--p"),
        "{s}"
    );
    assert!(rows[0].contains("mapped-file"), "{s}");
    assert!(
        s.contains("/spaces"),
        "the filter shows in the tab line\n{s}"
    );

    // Filter by kind: step until thread stacks, with the search cleared.
    t.keys(&["Escape"]);
    t.wait("the search cleared", |s| !s.contains("/spaces"));
    let mut shown = String::new();
    let mut s = None;
    for _ in 0..=maplens_core::analysis::Category::ALL.len() {
        t.text("f");
        let x = t.wait("the next kind", |x| kind_shown(x) != shown);
        shown = kind_shown(&x);
        if shown == "thread-stack" {
            s = Some(x);
            break;
        }
    }
    let s = s.expect("f reaches thread-stack");
    assert_eq!(table_rows(&s).len(), 2, "the two workers' stacks\n{s}");
    for r in table_rows(&s) {
        assert!(r.contains("thread-stack") && r.contains("rw-p"), "{s}");
        assert!(r.contains("8.0M"), "8 MiB stacks: {s}");
    }

    // The detail pane of the first stack: the rule and the evidence, and
    // its smaps fields.
    t.keys(&["Enter"]);
    let s = t.wait("the detail pane", |s| {
        s.contains("evidence") && s.contains("rule")
    });
    assert!(s.contains("thread-stack (thread stacks)"), "{s}");
    assert!(s.contains("thread    "), "the stack's thread: {s}");
    assert!(s.contains("kid-worker-"), "the thread's name: {s}");
    // Scroll to the smaps fields.
    for _ in 0..6 {
        t.text("J");
    }
    let s = t.wait("smaps fields", |s| s.contains("Rss ") && s.contains("kB"));
    assert!(s.contains("Resident set size"), "{s}");
    t.keys(&["Escape"]);
    t.wait("the detail closed", |s| !s.contains("evidence"));
    t.text("c");
    t.wait("the filters cleared", |s| kind_shown(s).is_empty());

    // The searched file's detail carries its whole name.
    t.text("/spaces");
    t.keys(&["Enter"]);
    t.wait("the search again", |s| s.contains("Regions(1)"));
    t.keys(&["Enter"]);
    let s = t.wait("the file's detail", |s| {
        s.contains("evidence") && s.contains("path      ")
    });
    assert!(s.contains(&format!("path      {file}")), "{s}");

    // Threads: both named workers and the main thread, with stack use.
    t.text("3");
    let s = t.wait("the threads view", |s| {
        s.contains("USED (RSS)") && s.contains("kid-worker-1") && s.contains(" main ")
    });
    for name in ["kid-worker-0", "kid-worker-1"] {
        let line = s
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in\n{s}"));
        assert!(line.contains("thread") && line.contains("8.0M"), "{line}");
        assert!(line.contains('%'), "stack use in {line}");
    }
    let main = s
        .lines()
        .find(|l| l.contains(" main "))
        .unwrap_or_else(|| panic!("main in\n{s}"));
    assert!(main.trim_start().starts_with(&pid), "{main}");

    t.keys(quit);
    let (rc, before, after) = t.finished();
    assert_eq!(rc, "0", "exit code");
    // A cooked terminal to begin with, and the same after.
    assert!(
        before.contains(" icanon") && before.contains(" echo "),
        "{before}"
    );
    assert_eq!(before, after, "stty -a before and after");
    drop(kid);
}

#[test]
fn tui_live_walk_80x24_quit_with_q() {
    walk(80, 24, &["q"]);
}

#[test]
fn tui_live_walk_200x60_quit_with_ctrl_c() {
    walk(200, 60, &["C-c"]);
}

/// A saved smaps file: no refresh, the same panes; NO_COLOR leaves every
/// cell uncoloured; `?` shows the keys.
#[test]
fn tui_saved_file_no_color_and_help() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let kid = Kid::spawn(&["--file-spaces", d]).expect("kid starts");
    kid.stop().expect("stops");
    let saved = dir.path().join("saved.smaps");
    std::fs::copy(kid.proc("smaps"), &saved).expect("copy smaps");
    drop(kid);
    let t = Tmux::start(
        100,
        30,
        &["tui", saved.to_str().expect("utf-8")],
        &[("NO_COLOR", "1")],
    );
    let s = t.wait("the first screen", |s| {
        s.contains(":Regions(") && s.contains("spaces.bin")
    });
    assert!(s.lines().next().unwrap_or("").contains("saved"), "{s}");
    assert!(s.contains("spaces.bin"), "{s}");
    let colored = t
        .tmux()
        .args(["capture-pane", "-e", "-p", "-t", "main"])
        .output()
        .expect("capture");
    let esc = String::from_utf8_lossy(&colored.stdout);
    // Reverse video and bold only: no SGR colour (30-37, 38;…, 40-47, 48;…, 90-107).
    for seq in esc.split("\x1b[").skip(1) {
        let params = seq.split('m').next().unwrap_or("");
        for p in params.split(';') {
            let n: u32 = p.parse().unwrap_or(0);
            assert!(
                !(30..=49).contains(&n) && !(90..=107).contains(&n) || n == 39 || n == 49,
                "colour {params} with NO_COLOR"
            );
        }
    }
    t.text("?");
    let s = t.wait("the help", |s| s.contains("keys (any key closes)"));
    assert!(s.contains("search paths"), "{s}");
    t.text("x");
    t.wait("the help closed", |s| !s.contains("keys (any key closes)"));
    t.text("q");
    let (rc, before, after) = t.finished();
    assert_eq!(rc, "0");
    assert_eq!(before, after);
}

/// A panic inside the explorer gives the terminal back before its message
/// is printed (debug builds panic on request after the first draw).
#[test]
fn tui_panic_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("one.maps");
    std::fs::write(
        &f,
        "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]\n",
    )
    .expect("write");
    let t = Tmux::start(
        80,
        24,
        &["tui", f.to_str().expect("utf-8")],
        &[("MAPLENS_TUI_TEST_PANIC", "1")],
    );
    let (rc, before, after) = t.finished();
    assert_eq!(rc, "101", "a panic's exit code");
    assert_eq!(before, after, "stty -a before and after the panic");
    let err = std::fs::read_to_string(t.path("stderr")).expect("stderr");
    assert!(err.contains("MAPLENS_TUI_TEST_PANIC is set"), "{err}");
    // The message went to the main screen, not the alternate one: the
    // shell's screen shows it after exit.
    let s = t.screen();
    assert!(
        !s.contains(":Regions("),
        "the alternate screen was left\n{s}"
    );
}

/// A capture bundle: the same panes, threads with their names.
#[test]
fn tui_on_a_capture_bundle() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let kid =
        Kid::spawn(&["--threads", "2", "--thread-names", "--file-spaces", d]).expect("kid starts");
    kid.stop().expect("stops");
    let cap = dir.path().join("cap.tar");
    let out = Command::new(assert_cmd::cargo::cargo_bin("maplens"))
        .args(["capture", &kid.pid.to_string(), "-o"])
        .arg(&cap)
        .output()
        .expect("capture runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(kid);
    let t = Tmux::start(200, 60, &["tui", cap.to_str().expect("utf-8")], &[]);
    let s = t.wait("the first screen", |s| {
        s.contains(":Regions(") && s.contains("spaces.bin")
    });
    assert!(s.lines().next().unwrap_or("").contains("saved"), "{s}");
    assert!(s.contains("spaces.bin"), "{s}");
    t.text("3");
    t.wait("the threads view", |s| {
        s.contains("USED (RSS)") && s.contains("kid-worker-0") && s.contains("kid-worker-1")
    });
    t.text("q");
    let (rc, before, after) = t.finished();
    assert_eq!((rc.as_str(), before == after), ("0", true));
}

/// A target that cannot be read: one line on stderr, exit 1, and the
/// terminal never touched.
#[test]
fn tui_bad_target_is_one_line_and_the_terminal_stays() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start(80, 24, &["tui", "/nonexistent/smaps"], &[]);
    let (rc, before, after) = t.finished();
    assert_eq!(rc, "1");
    assert_eq!(before, after);
    let err = std::fs::read_to_string(t.path("stderr")).expect("stderr");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/smaps"), "{err}");
}
