//! `maplens serve` as a monitoring system meets it: a real Prometheus
//! (Debian's `prometheus`, with `promtool`) scrapes it on loopback, and what
//! it stores for a frozen child equals `maplens --format json` of that
//! child. Also: the metrics pass `promtool check metrics`, the alert rules
//! pass `promtool check rules` and their unit tests, 200 processes with 20
//! names make 20 groups, and the server survives odd requests and a
//! bounded load.
//!
//! The tests of this module take one lock: the 200 children of one would
//! move the shared-page figures of another's child.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use maplens_testkid::Kid;
use serde_json::Value;

static LOCK: Mutex<()> = Mutex::new(());

pub(crate) fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a tool is there; without it the test fails in CI (which
/// installs it: scripts/test.sh) and is skipped, with a reason, elsewhere.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing: scripts/test.sh installs Debian's prometheus"
        );
        eprintln!("skipped: {tool} is not installed (apt-get install prometheus)");
    }
    ok
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `maplens serve`, ended (SIGTERM) on drop.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Serve {
    pub(crate) fn start(config: &str, dir: &Path) -> Serve {
        let cfg = dir.join("serve.toml");
        std::fs::write(&cfg, config).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_maplens"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn maplens serve");
        let mut line = String::new();
        BufReader::new(child.stderr.take().expect("stderr"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("maplens serve: listening on http://")
            .and_then(|s| s.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .expect("an address");
        Serve { child, addr }
    }

    /// `/metrics` in the text format, once a collection has completed.
    pub(crate) fn metrics_after(&self, collections: u64) -> String {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _, body) = get(self.addr, "/metrics", "text/plain");
            assert_eq!(status, 200);
            let text = String::from_utf8(body).expect("UTF-8");
            if value(&text, "maplens_collections_total").is_some_and(|n| n >= collections as f64) {
                return text;
            }
            assert!(Instant::now() < until, "no collection within 60 s:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends it with SIGTERM and returns its exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        term(&self.child);
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < until, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn term(child: &Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`):
/// status, headers, body (chunked bodies decoded).
pub(crate) fn http(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {raw:?}")))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size");
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).expect("hex"), 16)
                .expect("chunk size");
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 4 + size..];
        }
        body = out;
    }
    Ok((status, head, body))
}

pub(crate) fn get(addr: SocketAddr, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    http(addr, req.as_bytes()).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The value of the one sample `series` (name and labels as printed).
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// A `/proc/PID/status` figure in kB (`VmRSS:`, `VmHWM:`).
pub(crate) fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .expect("a status line in kB")
}

/// The open descriptors of a process, counted `n` times 50 ms apart (a
/// collection in progress holds a few for a moment).
pub(crate) fn fds(pid: u32, n: usize) -> Vec<usize> {
    (0..n)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .expect("fd dir")
                .count()
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus on loopback with a temporary config and storage, ended on
/// drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: maplens\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("write prometheus.yml");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--storage.tsdb.retention.time=1h")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let p = Prometheus { child, addr };
        let until = Instant::now() + Duration::from_secs(60);
        while !http(addr, b"GET /-/ready HTTP/1.0\r\n\r\n").is_ok_and(|r| r.0 == 200) {
            assert!(
                Instant::now() < until,
                "prometheus not ready in 60 s: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// An instant query: the `data.result` array.
    fn query(&self, q: &str) -> Vec<Value> {
        let (status, _, body) = http(
            self.addr,
            format!("GET /api/v1/query?query={} HTTP/1.0\r\n\r\n", percent(q)).as_bytes(),
        )
        .expect("query prometheus");
        let v: Value = serde_json::from_slice(&body).expect("JSON from prometheus");
        assert_eq!(status, 200, "{q}: {v}");
        assert_eq!(v["status"], "success", "{q}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The values of an instant query by one label (`""`: the only one).
    fn values_by(&self, q: &str, label: &str) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = self
            .query(q)
            .iter()
            .map(|r| {
                let l = r["metric"][label].as_str().unwrap_or("").to_owned();
                let x = r["value"][1]
                    .as_str()
                    .expect("value")
                    .parse()
                    .expect("number");
                (l, x)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        term(&self.child);
        let until = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `maplens --format json PID` says, as the exporter's series for a
/// group of that one process: (series, value), sorted.
fn expected_from_report(pid: u32) -> Vec<(String, f64)> {
    let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
        .args([&pid.to_string(), "--format", "json"])
        .output()
        .expect("run maplens");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    // The sum over smaps: the child's pages are all its own, so no Pss is
    // rounded away per region and it equals the exporter's smaps_rollup.
    let r = &j["totals"]["usage"];
    let mut v = vec![
        ("pss".to_owned(), n(&r["pss"])),
        ("uss".to_owned(), n(&r["uss"])),
        ("rss".to_owned(), n(&r["rss"])),
        ("swap".to_owned(), n(&r["swap"])),
        ("swap_pss".to_owned(), n(&r["swap_pss"])),
        ("threads".to_owned(), n(&j["threads"]["count"])),
        ("processes".to_owned(), 1.0),
        ("regions".to_owned(), n(&j["totals"]["usage"]["regions"])),
        (
            "stack_reserved".to_owned(),
            n(&j["threads"]["thread_stacks"]["size"]),
        ),
        (
            "stack_resident".to_owned(),
            n(&j["threads"]["thread_stacks"]["rss"]),
        ),
        (
            "arenas".to_owned(),
            n(&j["allocators"]["glibc_arena_count"]),
        ),
    ];
    for c in j["categories"].as_array().expect("categories") {
        // The JSON names the kernel's category `kernel-provided`; its id
        // (`Category::id`, as `maps --kind` takes it) is `kernel`.
        let id = match c["category"].as_str().expect("id") {
            "kernel-provided" => "kernel",
            id => id,
        };
        v.push((format!("category_pss/{id}"), n(&c["usage"]["pss"])));
        v.push((format!("category_rss/{id}"), n(&c["usage"]["rss"])));
        v.push((format!("category_virtual/{id}"), n(&c["usage"]["size"])));
    }
    let mut findings = std::collections::BTreeMap::<String, f64>::new();
    for f in j["findings"]["findings"].as_array().expect("findings") {
        let key = format!(
            "finding/{}/{}",
            f["id"].as_str().expect("id"),
            f["severity"].as_str().expect("severity")
        );
        *findings.entry(key).or_default() += 1.0;
    }
    v.extend(findings);
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The same figures as Prometheus has them for group `kid`.
fn stored_in_prometheus(p: &Prometheus) -> Vec<(String, f64)> {
    let g = r#"{job="maplens",group="kid"}"#;
    let mut v = Vec::new();
    for (name, metric) in [
        ("pss", "maplens_group_pss_bytes"),
        ("uss", "maplens_group_uss_bytes"),
        ("rss", "maplens_group_rss_bytes"),
        ("swap", "maplens_group_swap_bytes"),
        ("swap_pss", "maplens_group_swap_pss_bytes"),
        ("threads", "maplens_group_threads"),
        ("processes", "maplens_group_processes"),
        ("regions", "maplens_group_regions"),
        (
            "stack_reserved",
            "maplens_group_thread_stack_reserved_bytes",
        ),
        (
            "stack_resident",
            "maplens_group_thread_stack_resident_bytes",
        ),
        ("arenas", "maplens_group_glibc_arenas"),
    ] {
        for (_, x) in p.values_by(&format!("{metric}{g}"), "") {
            v.push((name.to_owned(), x));
        }
    }
    for kind in ["pss", "rss", "virtual"] {
        for (cat, x) in p.values_by(
            &format!("maplens_group_category_{kind}_bytes{g}"),
            "category",
        ) {
            v.push((format!("category_{kind}/{cat}"), x));
        }
    }
    for r in p.query(&format!("maplens_group_findings{g}")) {
        let m = &r["metric"];
        let x: f64 = r["value"][1].as_str().expect("v").parse().expect("n");
        v.push((
            format!(
                "finding/{}/{}",
                m["id"].as_str().expect("id"),
                m["severity"].as_str().expect("sev")
            ),
            x,
        ));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn prometheus_stores_what_the_report_says_of_a_frozen_child() {
    let _l = lock();
    if !have("prometheus") || !have("promtool") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Every file page of this kid is its own (private copies of the binary,
    // glibc and the loader): its PSS does not move with other processes.
    let kid = Kid::spawn_private(&[
        "--comm",
        "serve-kid",
        "--threads",
        "3",
        "--arenas",
        "2",
        "--rwx",
        "--big-anon",
        "4",
    ])
    .expect("spawn kid");
    kid.stop().expect("freeze the kid");
    let serve = Serve::start(
        "unmatched = \"other\"\n[collect]\ninterval_seconds = 0.5\nfull_interval_seconds = 0.5\n\
         [[group]]\nname = \"kid\"\ncomm = [\"serve-kid\"]\ncmdline = 'maplens-testkid'\n",
        dir.path(),
    );
    let text = serve.metrics_after(1);

    // promtool check metrics: the text format and its naming conventions.
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // OpenMetrics by content negotiation, as Prometheus asks.
    let (status, head, body) = get(
        serve.addr,
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    );
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).ends_with("# EOF\n"));

    let prom = Prometheus::start(dir.path(), serve.addr);
    // At least three scrapes stored.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let n = prom.values_by(
            r#"count_over_time(maplens_group_pss_bytes{group="kid"}[5m])"#,
            "",
        );
        if n.first().is_some_and(|(_, c)| *c >= 3.0) {
            break;
        }
        assert!(
            Instant::now() < until,
            "fewer than 3 scrapes in 60 s: {n:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        prom.values_by(r#"up{job="maplens"}"#, ""),
        vec![(String::new(), 1.0)]
    );

    // Exactly what the report says: the child is frozen and shares no
    // page with another process, so one reading of each must agree.
    let want = expected_from_report(kid.pid);
    let got = stored_in_prometheus(&prom);
    assert_eq!(got, want, "Prometheus (left) and the report (right) differ");
    assert!(
        want.iter()
            .any(|(k, v)| k == "pss" && *v > 4.0 * 1024.0 * 1024.0)
    );
    // The W+X mapping is a finding.
    let wx = prom.values_by(
        r#"maplens_group_findings{group="kid",id="wx-memory"}"#,
        "severity",
    );
    assert_eq!(wx.len(), 1, "{wx:?}");
    assert_eq!(wx[0].1, 1.0);

    // Every query of the Grafana dashboard runs on this Prometheus, and
    // the per-group ones find the kid.
    let dash: Value = serde_json::from_slice(
        &std::fs::read(repo().join("deploy/grafana-dashboard.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    let mut exprs = 0;
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            let e = t["expr"]
                .as_str()
                .expect("expr")
                .replace("$instance", ".*")
                .replace("$group", "kid");
            let r = prom.query(&e);
            if e.contains("group=~\"kid\"") && !e.contains("> 0") && !e.contains("growth") {
                assert!(!r.is_empty(), "dashboard query found nothing: {e}");
            }
            exprs += 1;
        }
    }
    assert!(exprs >= 12);
    drop(prom);
    assert!(
        serve.stop().success(),
        "maplens serve did not exit 0 on SIGTERM"
    );
}

#[test]
fn alert_rules_pass_promtool_and_their_unit_tests_can_fail() {
    if !have("promtool") {
        return;
    }
    let deploy = repo().join("deploy");
    let run = |args: &[&str], cwd: &Path| {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("promtool");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, msg) = run(&["check", "rules", "alerts.yml"], &deploy);
    assert!(ok, "{msg}");
    assert!(msg.contains("SUCCESS: 4 rules found"), "{msg}");
    let (ok, msg) = run(&["test", "rules", "alerts_test.yml"], &deploy);
    assert!(ok, "{msg}");
    // The same tests, with the growth alert also expected on the flat
    // series: promtool must say no (the alert is quiet there).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(deploy.join("alerts.yml"), dir.path().join("alerts.yml")).expect("copy");
    let tests = std::fs::read_to_string(deploy.join("alerts_test.yml")).expect("read");
    let wrong = tests.replacen(
        "      - eval_time: 30m\n        alertname: MaplensAnonMemoryGrowing\n        exp_alerts: []",
        "      - eval_time: 30m\n        alertname: MaplensAnonMemoryGrowing\n        exp_alerts:\n          - exp_labels:\n              severity: warning\n              instance: h:9935\n              job: maplens\n              group: steady",
        1,
    );
    assert_ne!(wrong, tests, "the test file changed shape");
    std::fs::write(dir.path().join("alerts_test.yml"), wrong).expect("write");
    let (ok, msg) = run(&["test", "rules", "alerts_test.yml"], dir.path());
    assert!(!ok, "promtool accepted an alert on a flat series: {msg}");
}

#[test]
fn two_hundred_processes_with_twenty_names_make_twenty_groups() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut kids = Vec::new();
    for i in 0..200 {
        let name = format!("card-{:02}", i % 20);
        kids.push(Kid::spawn(&["--comm", &name]).expect("spawn kid"));
    }
    // Grouped by comm (no rules): one group per name.
    let serve = Serve::start(
        "[collect]\ninterval_seconds = 0.5\nthreads = 2\n",
        dir.path(),
    );
    let text = serve.metrics_after(2);
    let groups: Vec<(&str, f64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("maplens_group_processes{group=\"card-")?;
            let (name, v) = rest.split_once("\"} ")?;
            Some((name, v.parse().ok()?))
        })
        .collect();
    assert_eq!(groups.len(), 20, "{groups:?}");
    assert!(groups.iter().all(|(_, n)| *n == 10.0), "{groups:?}");
    let pss_series = text
        .lines()
        .filter(|l| l.starts_with("maplens_group_pss_bytes{group=\"card-"))
        .count();
    assert_eq!(pss_series, 20);
    // Every series of a card group names one of the 20 groups.
    for l in text.lines().filter(|l| l.contains("group=\"card-")) {
        let name = &l[l.find("group=\"card-").expect("label") + 12..][..2];
        assert!(name.parse::<u32>().is_ok_and(|n| n < 20), "{l}");
    }
    drop(kids);
    assert!(serve.stop().success());
}

#[test]
fn the_server_refuses_what_it_does_not_serve_and_survives_a_load() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    // A process of 60,000 regions on the machine while scrapes run.
    let big = Kid::spawn(&["--mappings", "60000", "--comm", "serve-big"]).expect("spawn kid");
    let serve = Serve::start(
        "unmatched = \"other\"\n[[group]]\nname = \"big\"\ncomm = [\"serve-big\"]\n\
         [collect]\ninterval_seconds = 1\n[server]\nmax_connections = 64\n",
        dir.path(),
    );
    // While the first collection reads it, a scrape does not wait: it gets
    // the last complete collection (none yet: no groups, age NaN).
    let t = Instant::now();
    let (status, _, early) = get(serve.addr, "/metrics", "text/plain");
    let early_took = t.elapsed();
    assert_eq!(status, 200);
    let early = String::from_utf8(early).expect("UTF-8");
    let first = serve.metrics_after(1);
    if !early.contains("maplens_collections_total 1") {
        assert!(early.contains("maplens_sample_age_seconds NaN"), "{early}");
        assert!(!early.contains("group=\"big\""), "{early}");
    }
    eprintln!(
        "serve: a scrape during the first collection (a 60,000-region process) took {early_took:?}; \
         that collection was served after {:?}",
        t.elapsed()
    );
    let hwm = |key: &str| {
        std::fs::read_to_string(format!("/proc/{}/status", serve.child.id()))
            .expect("status")
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
            .expect("a status line")
    };
    let hwm_collect = hwm("VmHWM:");
    let regions = value(&first, r#"maplens_group_regions{group="big"}"#).expect("big group");
    assert!(regions >= 60_000.0, "{regions}");
    let a = serve.addr;
    let send = |req: &[u8]| http(a, req).expect("a response").0;
    assert_eq!(
        send(b"POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        405
    );
    assert_eq!(
        send(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        404
    );
    assert_eq!(
        send(b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        404
    );
    assert_eq!(
        send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
        413
    );
    assert_eq!(
        send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"),
        413
    );
    assert_eq!(
        send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        200
    );
    // Garbage and a request line of 64 KiB: an error status or a closed
    // connection, never a crash.
    for req in [
        &b"\x00\xff\r\n\r\n"[..],
        &b"GET /metrics HTTP/9.9\r\n\r\n"[..],
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(65536)).as_bytes(),
    ] {
        if let Ok((status, _, _)) = http(a, req) {
            assert!((400..500).contains(&status), "{status}");
        }
    }
    assert_eq!(
        send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        200
    );

    // 2,000 scrapes, 50 at once, each on its own connection.
    let latencies = Mutex::new(Vec::with_capacity(2000));
    let errors = Mutex::new(Vec::new());
    let began = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..50 {
            s.spawn(|| {
                for _ in 0..40 {
                    let t = Instant::now();
                    match http(
                        a,
                        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
                    ) {
                        Ok((200, _, body)) if body.ends_with(b"\n") => {
                            latencies.lock().expect("lock").push(t.elapsed());
                        }
                        Ok((status, _, _)) => errors.lock().expect("lock").push(format!("{status}")),
                        Err(e) => errors.lock().expect("lock").push(e.to_string()),
                    }
                }
            });
        }
    });
    let took = began.elapsed();
    let errors = errors.into_inner().expect("lock");
    assert!(
        errors.is_empty(),
        "{} errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    let mut l = latencies.into_inner().expect("lock");
    assert_eq!(l.len(), 2000);
    l.sort();
    let rss = hwm("VmHWM:");
    eprintln!(
        "serve: 2000 scrapes at 50 concurrent in {took:?}: p50 {:?}, p99 {:?}, max {:?}; \
         exporter peak RSS {hwm_collect} after the first collection, {rss} after the load, \
         {} now",
        l[1000],
        l[1980],
        l[1999],
        hwm("VmRSS:")
    );
    // The bound: the exporter's peak RSS stays under 128 MiB with a
    // 60,000-region process read in full (the snapshot of one process at a
    // time) and 50 scrapes in flight.
    let kb: u64 = rss.trim_end_matches(" kB").parse().expect("kB");
    assert!(kb < 128 * 1024, "peak RSS {kb} kB");
    drop(big);
    assert!(serve.stop().success());
}

#[test]
fn a_client_past_the_connection_cap_evicts_a_silent_one() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Serve::start(
        "unmatched = \"drop\"\n[server]\nmax_connections = 1\nheader_timeout_seconds = 1\n",
        dir.path(),
    );
    serve.metrics_after(1);
    // A holds the only slot and sends nothing (a slow client).
    let mut a = TcpStream::connect(serve.addr).expect("connect A");
    // B takes A's slot: A has not sent a request head, so it is evicted
    // (before, B waited for the header timeout to close A).
    b_is_served_and_a_closed(serve, &mut a);
}

/// B's request is answered, and then, without waiting, A must be closed
/// already (EOF, perhaps after a 408), not merely quiet (WouldBlock).
fn b_is_served_and_a_closed(serve: Serve, a: &mut TcpStream) {
    let (status, _, _) = get(serve.addr, "/healthz", "*/*");
    assert_eq!(status, 200);
    a.set_nonblocking(true).expect("nonblocking");
    let mut rest = Vec::new();
    let closed = a.read_to_end(&mut rest);
    assert!(
        closed.is_ok(),
        "A was still open when B was served: {closed:?}"
    );
    assert!(serve.stop().success());
}

#[test]
fn an_idle_keep_alive_client_gives_its_slot_up_too() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    // Timeouts longer than a client's read timeout (30 s): B is served
    // only if A is evicted.
    let serve = Serve::start(
        "unmatched = \"drop\"\n[server]\nmax_connections = 1\nheader_timeout_seconds = 60\n\
         connection_timeout_seconds = 120\n",
        dir.path(),
    );
    serve.metrics_after(1);
    // A: one whole request, kept alive, answered, then idle.
    let mut a = TcpStream::connect(serve.addr).expect("connect A");
    a.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send A");
    a.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut answer = [0u8; 256];
    let n = a.read(&mut answer).expect("A's answer");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &answer[..n]
    );
    b_is_served_and_a_closed(serve, &mut a);
}

#[test]
fn bad_configs_and_busy_ports_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_maplens"))
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[group]]\nname = \"x\"\ncmdline = \"(\"\n").expect("write");
    let err = run(&["--config", bad.to_str().expect("utf-8")]);
    assert!(
        err.starts_with(&format!(
            "maplens: error: config {}: line 3: bad regex '('",
            bad.display()
        )),
        "{err}"
    );
    let err = run(&["--config", "/nonexistent/serve.toml"]);
    assert!(
        err.contains("cannot read config /nonexistent/serve.toml"),
        "{err}"
    );
    let err = run(&["--interval", "0"]);
    assert!(err.contains("--interval must be"), "{err}");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let err = run(&["--listen", &addr]);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}
