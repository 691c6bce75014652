//! The invariants of the `cargo fuzz` targets `serve_http` and
//! `serve_config`, run by `cargo test` on stable in a few seconds:
//! arbitrary and mutated requests and config files, the committed seed
//! corpora (`fuzz/corpus/serve_*`: requests as curl and wget send them,
//! the shipped and documented configs), and every input that ever broke
//! one.

#[path = "../../maplens-core/tests/common/seeds.rs"]
mod seeds;
#[path = "common/serve_invariants.rs"]
mod serve_invariants;

use hyper::StatusCode;
use maplens_serve::server::route;
use proptest::prelude::*;
use seeds::named_corpus;

#[test]
fn http_corpus_statuses() {
    let want = [
        ("absolute-form-http10", StatusCode::OK),
        ("content-length-zero", StatusCode::OK),
        ("curl-get-metrics", StatusCode::OK),
        ("curl-get-openmetrics", StatusCode::OK),
        ("curl-get-other-path", StatusCode::NOT_FOUND),
        ("curl-get-query", StatusCode::OK),
        ("curl-head-healthz", StatusCode::OK),
        ("curl-post-metrics", StatusCode::METHOD_NOT_ALLOWED),
        ("curl-put-chunked", StatusCode::METHOD_NOT_ALLOWED),
        ("options-star", StatusCode::NOT_FOUND),
        ("wget-get-healthz", StatusCode::OK),
    ];
    let seeds = named_corpus("serve_http");
    assert_eq!(seeds.len(), want.len());
    for ((name, data), (want_name, status)) in seeds.iter().zip(want) {
        assert_eq!(name, want_name);
        serve_invariants::check_http(data);
        let req = serve_invariants::request(data).unwrap_or_else(|| panic!("{name}"));
        let r = route(req.method(), req.uri().path(), req.headers());
        assert_eq!(r.status(), status, "{name}");
    }
}

#[test]
fn config_corpus() {
    let seeds = named_corpus("serve_config");
    assert!(seeds.len() >= 8);
    for (name, data) in &seeds {
        serve_invariants::check_config(data);
        let ok = maplens_serve::config::Config::parse(std::str::from_utf8(data).unwrap()).is_ok();
        assert_eq!(ok, !name.starts_with("bad-"), "{name}");
    }
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "GET", "HEAD", "POST", "PUT", "OPTIONS", "get", "CONNECT"
        ])
        .prop_map(String::from),
        "[A-Z]{1,8}",
    ]
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "/metrics",
            "/healthz",
            "/metrics/",
            "/METRICS",
            "//metrics",
            "/metrics?x",
            "/healthz#f",
            "http://h/metrics",
            "*",
            "/%6detrics",
            "/metrics%00",
        ])
        .prop_map(String::from),
        "/[a-z%?#/.]{0,12}",
    ]
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Content-Length: 0",
            "Content-Length: 5",
            "content-length: 00",
            "Content-Length: 0, 0",
            "Transfer-Encoding: chunked",
            "transfer-encoding: identity",
            "Accept: application/openmetrics-text;version=1.0.0",
            "Accept: application/openmetrics-text;version=2.0.0;q=1,text/plain;q=0.5",
            "Accept: */*;q=nan",
            "Accept: text/plain;q=-1",
            "Host: x",
        ])
        .prop_map(String::from),
        "[A-Za-z-]{1,12}: [ -~]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn http_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        serve_invariants::check_http(&data);
    }

    #[test]
    fn http_requests(m in method(), t in target(), hs in prop::collection::vec(header(), 0..5), v10: bool) {
        let mut req = format!("{m} {t} HTTP/1.{}\r\n", u8::from(!v10));
        for h in hs {
            req.push_str(&h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        serve_invariants::check_http(req.as_bytes());
    }

    #[test]
    fn config_arbitrary_text(text in "[ -~\n]{0,120}") {
        serve_invariants::check_config(text.as_bytes());
    }

    #[test]
    fn config_lines(lines in prop::collection::vec(prop_oneof![
        prop::sample::select(vec![
            "[collect]", "[server]", "[[group]]", "[group]", "unmatched = \"other\"",
            "unmatched = \"nope\"", "name = \"\"", "name = \"g-{comm}\"", "threads = 65",
            "interval_seconds = 0.5", "interval_seconds = nan", "budget_seconds = 86400",
            "max_connections = 0", "cmdline = \"a{99999}{99999}\"", "cgroup = \"[\"",
            "user = [\"33\", \"root\"]", "full = 1", "listen = 5", "comm = \"x\"",
        ]).prop_map(String::from),
        "[a-z_]{1,12} = [0-9\"a-z.\\[\\]]{0,10}",
    ], 0..10)) {
        serve_invariants::check_config(lines.join("\n").as_bytes());
    }
}

/// Inputs that once broke an invariant, kept so they stay fixed.
#[test]
fn regressions() {
    let http: &[&[u8]] = &[b"GET /metrics HTTP/1.1\r\n\r\n"];
    for c in http {
        serve_invariants::check_http(c);
    }
    let config: &[&str] = &["", "\n"];
    for c in config {
        serve_invariants::check_config(c.as_bytes());
    }
}
