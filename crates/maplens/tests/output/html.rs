//! `maplens html` in a real browser: Debian's headless `chromium`, driven
//! over the DevTools protocol (a websocket on the loopback), loads the
//! report of a live child from disk and the test reads the page as a person
//! would see it: the treemap and tables hold the child's known regions,
//! typing in the search box filters the rows, the log-scale switch redraws
//! the map, no request leaves the page, and files named
//! `"><img src=x onerror=alert(1)>` and `<script>alert(1)</script>` show
//! as text, with no dialog and no console error. With a recording of a
//! leaking child (`--recording`, or the recording as the target) the page
//! draws the time plot: one stacked series per recorded category, the
//! leaking mapping's category growing, the leak marked.
//!
//! `scripts/test.sh` installs chromium. Without it the test fails in CI
//! (`CI` set) and says why and passes elsewhere.
//!
//! `MAPLENS_HTML_SHOT=FILE.png` also saves a full-page screenshot.

#![cfg(feature = "html")]

use std::ffi::OsString;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use maplens_testkid::Kid;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

const CHROMIUM: &str = "/usr/bin/chromium";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const SCRIPT_DIR: &str = "<script>alert(1)<";
const SCRIPT_FILE: &str = "script>";

/// A headless chromium and one page of it, attached over the DevTools
/// protocol. Killed when dropped.
struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Every event the page sent, in order.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it chose and the browser's websocket
        // path into the profile.
        let active = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let text = loop {
            if let Ok(t) = std::fs::read_to_string(&active)
                && t.lines().count() >= 2
            {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "chromium wrote no DevToolsActivePort"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut lines = text.lines();
        let port: u16 = lines.next().unwrap().trim().parse().expect("port");
        let path = lines.next().unwrap().trim().to_owned();
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to chromium");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let (ws, _) = tungstenite::client::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .expect("websocket handshake");
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let att = b.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        b.session = att["sessionId"].as_str().expect("sessionId").to_owned();
        for domain in ["Page", "Runtime", "Network", "Log"] {
            b.call(&format!("{domain}.enable"), json!({}));
        }
        b
    }

    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = Value::String(self.session.clone());
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("send to chromium");
        self.next_id
    }

    /// One command; events that arrive meanwhile are kept. A dialog is
    /// recorded and dismissed at once (it would block the page).
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        loop {
            let msg = match self.ws.read() {
                Ok(m) => m,
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                    panic!("chromium did not answer {method} in 60 s")
                }
                // A signal to this thread (CI once saw EINTR here): the
                // frame is still to come, and tungstenite resumes it.
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => panic!("reading from chromium: {e}"),
            };
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            if v["method"] == "Page.javascriptDialogOpening" {
                self.send("Page.handleJavaScriptDialog", json!({"accept": false}));
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Evaluates an expression in the page; its JSON value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expr}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    fn wait_for(&mut self, expr: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(expr) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "waited 60 s for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn events_named(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["method"] == name).collect()
    }

    /// Console errors, uncaught exceptions and error log entries.
    fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str() {
                Some("Runtime.consoleAPICalled")
                    if p["type"] == "error" || p["type"] == "assert" =>
                {
                    out.push(format!("console: {}", p["args"]))
                }
                Some("Runtime.exceptionThrown") => out.push(format!("exception: {p}")),
                Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                    out.push(format!("log: {}", p["entry"]["text"]))
                }
                _ => {}
            }
        }
        out
    }
}

/// Whether the browser is here; in CI it must be.
fn have_chromium() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium"
    );
    eprintln!("skipped: {CHROMIUM} is missing (apt-get install chromium)");
    false
}

fn named(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn js_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The rows of the region table whose path cell is exactly `path`.
fn rows_with_path(b: &mut Browser, path: &str) -> u64 {
    b.eval(&format!(
        "Array.from(document.querySelectorAll('#regions tbody td.path'))\
         .filter(td => td.textContent === {}).length",
        js_str(path)
    ))
    .as_u64()
    .unwrap()
}

fn shown_rows(b: &mut Browser) -> u64 {
    b.eval("document.querySelectorAll('#regions tbody tr').length")
        .as_u64()
        .unwrap()
}

#[test]
fn html_report_of_a_live_child_in_headless_chromium() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join(SCRIPT_DIR)).expect("mkdir");
    let img_path = named(dir.path(), IMG);
    let script_path = dir.path().join(SCRIPT_DIR).join(SCRIPT_FILE);
    let spaces = dir.path().join("file with  spaces.bin");
    let args: Vec<OsString> = vec![
        "--named-file".into(),
        img_path.clone().into(),
        "--named-file".into(),
        script_path.clone().into(),
        "--file-spaces".into(),
        dir.path().into(),
        "--threads".into(),
        "3".into(),
        "--thread-names".into(),
        "--big-anon".into(),
        "64".into(),
        "--comm".into(),
        OsString::from_vec(b"<b>kid</b>".to_vec()),
    ];
    let kid = Kid::spawn_copy_os(&args).expect("spawn the kid");
    kid.stop().expect("freeze the kid");
    let report = dir.path().join("report.html");
    let out = Command::cargo_bin("maplens")
        .expect("maplens is built")
        .args(["html", &kid.pid.to_string(), "-o"])
        .arg(&report)
        .output()
        .expect("run maplens html");
    assert!(
        out.status.success(),
        "maplens html: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&report).expect("read the report");
    assert!(!page.contains("<img"), "the file name became markup");
    let big = kid.info["big_anon"]["addr"].as_u64().unwrap();
    let big_hex = format!("{big:x}");

    let mut b = Browser::launch();
    let url = format!("file://{}", report.display());
    b.call("Page.navigate", json!({"url": url}));
    b.wait_for(
        "document.body && document.body.getAttribute('data-ready') === 'yes'",
        "the report's script",
    );

    // The text the process chose is shown as text.
    let title = b.eval("document.title");
    assert_eq!(
        title,
        json!(format!("maplens: <b>kid</b> (pid {})", kid.pid))
    );
    assert_eq!(
        b.eval("document.querySelectorAll('b, img').length"),
        json!(0)
    );
    assert_eq!(b.eval("document.scripts.length"), json!(2));

    // The region table holds the known files, byte for byte as text.
    let img_s = img_path.to_str().unwrap().to_owned();
    let script_s = script_path.to_str().unwrap().to_owned();
    let spaces_s = spaces.to_str().unwrap().to_owned();
    assert!(
        b.eval("document.querySelectorAll('#regions tbody tr').length")
            .as_u64()
            .unwrap()
            > 20
    );
    assert_eq!(rows_with_path(&mut b, &img_s), 1, "{img_s}");
    assert_eq!(rows_with_path(&mut b, &script_s), 1, "{script_s}");
    assert_eq!(rows_with_path(&mut b, &spaces_s), 1, "{spaces_s}");

    // The thread table names the kid's workers; the category table has
    // their stacks.
    let threads = b.eval("document.getElementById('threads').tBodies[0].textContent");
    for i in 0..3 {
        assert!(
            threads
                .as_str()
                .unwrap()
                .contains(&format!("kid-worker-{i}")),
            "{threads}"
        );
    }
    let cats = b.eval("document.getElementById('categories').textContent");
    assert!(cats.as_str().unwrap().contains("thread stacks"), "{cats}");

    // The treemap, by size: the 64 MiB anonymous region is one of its
    // rectangles; the thread stacks a labelled category.
    b.eval(
        "(() => { const s = document.getElementById('tm-metric'); s.value = 'size';
           s.dispatchEvent(new Event('change')); return true; })()",
    );
    let rects = b.eval("document.querySelectorAll('#treemap rect').length");
    assert!(rects.as_u64().unwrap() >= 10, "treemap rects: {rects}");
    let big_rect = b.eval(&format!(
        "Array.from(document.querySelectorAll('#treemap rect > title'))\
         .filter(t => t.textContent.startsWith({})).length",
        js_str(&big_hex)
    ));
    assert_eq!(big_rect, json!(1), "treemap rect for {big_hex}");
    let labels = b.eval("document.getElementById('treemap').textContent");
    assert!(
        labels.as_str().unwrap().contains("thread stacks"),
        "{labels}"
    );
    // Clicking the thread stacks zooms in: the crumbs name it, and every
    // box drawn is a thread stack.
    b.eval(
        "Array.from(document.querySelectorAll('#treemap g.tm-d1'))\
         .find(g => g.textContent.startsWith('thread stacks'))\
         .dispatchEvent(new MouseEvent('click', {bubbles: true})), true",
    );
    let crumbs = b.eval("document.getElementById('tm-crumbs').textContent");
    assert_eq!(crumbs, json!("all memory › thread stacks"));
    let zoomed = b.eval(
        "Array.from(document.querySelectorAll('#treemap rect > title')).map(t => t.textContent)",
    );
    let zoomed = zoomed.as_array().unwrap();
    assert!(zoomed.len() >= 4, "{zoomed:?}");
    assert!(
        zoomed
            .iter()
            .all(|t| t.as_str().unwrap().contains("thread stack")),
        "{zoomed:?}"
    );
    b.eval("document.querySelector('#tm-crumbs button').click(), true");

    // The address map: on the log scale every region gets a visible run,
    // so there are more runs than on the linear scale.
    let linear = b.eval("+document.getElementById('addrmap').getAttribute('data-runs')");
    b.eval("document.getElementById('map-log').click(), true");
    let log = b.eval("+document.getElementById('addrmap').getAttribute('data-runs')");
    assert!(
        log.as_u64().unwrap() > linear.as_u64().unwrap() && linear.as_u64().unwrap() > 0,
        "runs: linear {linear}, log {log}"
    );

    // Search: typed text filters the rows, clearing it brings them back.
    let all = shown_rows(&mut b);
    b.eval("document.getElementById('search').focus(), true");
    b.call("Input.insertText", json!({"text": "with  spaces"}));
    assert_eq!(shown_rows(&mut b), 1);
    assert_eq!(rows_with_path(&mut b, &spaces_s), 1);
    b.eval(
        "(() => { const s = document.getElementById('search'); s.value = '';
             s.dispatchEvent(new Event('input')); return true; })()",
    );
    assert_eq!(shown_rows(&mut b), all);
    b.eval("document.getElementById('search').focus(), true");
    b.call("Input.insertText", json!({"text": format!("0x{big_hex}")}));
    assert_eq!(shown_rows(&mut b), 1);
    let size_cell = b.eval("document.querySelector('#regions tbody tr').cells[2].textContent");
    assert_eq!(size_cell, json!("64 MiB"));

    // Sorting by size puts the 64 MiB region (the largest here but for
    // stacks of 8 MiB and reservations) before smaller ones.
    b.eval(
        "(() => { const s = document.getElementById('search'); s.value = '';
             s.dispatchEvent(new Event('input')); return true; })()",
    );
    b.eval("document.querySelectorAll('#regions th')[2].click(), true");
    let sizes = b.eval(
        "Array.from(document.querySelectorAll('#regions tbody tr')).slice(0, 20)\
         .map(tr => +tr.cells[2].title.split(' ')[0])",
    );
    let sizes: Vec<u64> = sizes
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");

    if let Some(shot) = std::env::var_os("MAPLENS_HTML_SHOT") {
        let r = b.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(shot, png).unwrap();
    }

    // Nothing ran that we did not write, nothing was fetched but the page.
    assert!(b.events_named("Page.javascriptDialogOpening").is_empty());
    assert_eq!(b.errors(), Vec::<String>::new());
    let requests: Vec<String> = b
        .events_named("Network.requestWillBeSent")
        .iter()
        .map(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(
        requests
            .iter()
            .all(|u| *u == url || u.starts_with("about:")),
        "requests: {requests:?}"
    );

    // And the policy would stop one: a fetch from the page (to the
    // loopback's discard port) is refused by the Content-Security-Policy.
    let refused = b.eval(
        "new Promise(done => {
           document.addEventListener('securitypolicyviolation',
             e => done(e.violatedDirective + ' ' + e.blockedURI));
           fetch('http://127.0.0.1:9/probe').catch(() => {});
         })",
    );
    let refused = refused.as_str().unwrap_or("");
    assert!(
        refused.starts_with("connect-src") || refused.starts_with("default-src"),
        "{refused}"
    );
    assert!(refused.contains("127.0.0.1:9"), "{refused}");
}

/// What the page's time plot draws: per stacked area, its category and
/// values; the leak marks; the verdict.
fn time_plot(b: &mut Browser) -> Value {
    b.eval(
        "(() => ({
           shown: !document.getElementById('time-section').hidden,
           areas: Array.from(document.querySelectorAll('#timeplot path.tp-area')).map(p => ({
             id: p.getAttribute('data-category'),
             values: p.getAttribute('data-values').split(',').map(Number),
             d: p.getAttribute('d').length })),
           leakMarks: document.querySelectorAll('#timeplot circle.tp-leak').length,
           leakLines: document.querySelectorAll('#timeplot path.tp-leak-line').length,
           total: document.querySelectorAll('#timeplot path.tp-total').length,
           verdict: document.getElementById('tp-verdict').textContent,
           legend: document.getElementById('tp-legend').textContent }))()",
    )
}

/// The categories with memory in some full sample of a JSON Lines
/// recording, read from the file itself.
fn recorded_categories(rec: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(rec).expect("recording").lines() {
        let s: Value = serde_json::from_str(line).expect("a sample");
        for c in s["categories"].as_array().into_iter().flatten() {
            let u = &c["usage"];
            let w = u["rss"].as_u64().unwrap_or(u["size"].as_u64().unwrap_or(0));
            let name = c["name"].as_str().unwrap().to_owned();
            if w > 0 && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn html_report_with_a_recording_of_a_leaking_child_draws_the_time_plot() {
    if !have_chromium() {
        return;
    }
    let _g = crate::offline::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("rec.jsonl");
    let kid = Kid::spawn(&["--leak", "400"]).expect("spawn the kid");
    let pid = kid.pid.to_string();
    let leak_addr = format!("{:x}", kid.info["leak"]["addr"].as_u64().unwrap());
    let out = Command::cargo_bin("maplens")
        .unwrap()
        .args(["watch", &pid, "--interval", "200ms", "--duration", "2500ms"])
        .args(["--full", "--record"])
        .arg(&rec)
        .output()
        .expect("watch");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    kid.stop().expect("freeze the kid");
    let truth = recorded_categories(&rec);
    assert!(truth.iter().any(|c| c == "anon-mmap"), "{truth:?}");
    let report = dir.path().join("report.html");
    let from_rec = dir.path().join("from-recording.html");
    let html = |args: &[&str], out: &Path| {
        let o = Command::cargo_bin("maplens")
            .unwrap()
            .arg("html")
            .args(args)
            .arg("-o")
            .arg(out)
            .output()
            .expect("run maplens html");
        assert!(
            o.status.success(),
            "maplens html {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let rec_s = rec.to_str().unwrap();
    html(&[&pid, "--recording", &format!("{rec_s}:{pid}")], &report);
    // A recording as the target: its last full sample is the report.
    html(&[rec_s], &from_rec);

    let mut b = Browser::launch();
    for page in [&report, &from_rec] {
        let url = format!("file://{}", page.display());
        b.call("Page.navigate", json!({"url": url}));
        b.wait_for(
            "document.body && document.body.getAttribute('data-ready') === 'yes'",
            "the report's script",
        );
        let plot = time_plot(&mut b);
        assert_eq!(plot["shown"], true, "{}: {plot}", page.display());
        // One stacked series per category that had memory, each with a
        // value per full sample.
        let areas = plot["areas"].as_array().unwrap();
        let mut ids: Vec<String> = areas
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        assert_eq!(ids, truth, "{plot}");
        let full = areas[0]["values"].as_array().unwrap().len();
        assert!(full >= 8, "{full} full samples: {plot}");
        assert!(
            areas
                .iter()
                .all(|a| a["values"].as_array().unwrap().len() == full)
        );
        // The leaking mapping's category grows: by at least 10 MiB over
        // the recording (the kid touches 10 MiB a second for 2.5 s).
        let anon = areas.iter().find(|a| a["id"] == "anon-mmap").unwrap();
        let v: Vec<u64> = anon["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert!(
            v.last().unwrap() >= &(v[0] + (10 << 20)),
            "anon-mmap over time: {v:?}"
        );
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");
        // The verdict: a leak, with the mapping marked at each sample.
        assert!(plot["leakLines"].as_u64().unwrap() >= 1, "{plot}");
        assert!(plot["leakMarks"].as_u64().unwrap() >= full as u64, "{plot}");
        assert_eq!(plot["total"], 1);
        let verdict = plot["verdict"].as_str().unwrap();
        assert!(verdict.contains("Leak:"), "{verdict}");
        assert!(verdict.contains(&leak_addr), "{verdict} lacks {leak_addr}");
        assert!(
            plot["legend"].as_str().unwrap().contains("anonymous mmap"),
            "{plot}"
        );
    }
    // The report from the recording holds the mapping in its region table.
    assert!(
        b.eval(&format!(
            "Array.from(document.querySelectorAll('#regions tbody td.addr'))\
             .some(td => td.textContent === {})",
            js_str(&leak_addr)
        )) == json!(true)
    );
    assert!(b.events_named("Page.javascriptDialogOpening").is_empty());
    assert_eq!(b.errors(), Vec::<String>::new());
}
