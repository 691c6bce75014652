//! Invariants of the exporter's request handling and of its config file
//! parser, whatever the bytes. Shared by the `cargo fuzz` targets
//! `serve_http` and `serve_config` (`fuzz/fuzz_targets/`, which include
//! this file by path) and the bounded stable run in `tests/fuzz_regress.rs`.

use std::sync::{Arc, RwLock};

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use maplens_serve::config::{Config, Subject};
use maplens_serve::metrics::Format;
use maplens_serve::server::{Route, respond, route};
use prometheus_client::registry::Registry;

thread_local! {
    /// A registry over an empty collection, as before the first one.
    static REGISTRY: Registry = maplens_serve::metrics::registry(Arc::new(RwLock::new(Arc::new(
        maplens_serve::collect::Collection::default(),
    ))));
}

/// A request as hyper hands it over: parsed by `httparse` (what hyper
/// uses), its target a `Uri`, its header names and values checked. `None`
/// where hyper itself would answer (400, or wait for more bytes).
pub fn request(input: &[u8]) -> Option<Request<()>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(input), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let method = Method::from_bytes(req.method?.as_bytes()).ok()?;
    let uri: Uri = req.path?.parse().ok()?;
    let mut b = Request::builder().method(method).uri(uri);
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(h.value).ok()?;
        b = b.header(name, value);
    }
    b.body(()).ok()
}

/// The answer the documentation promises, decided independently of
/// [`route`]: only `GET`/`HEAD` of `/metrics` and `/healthz` without a
/// body give 200.
fn expected(method: &Method, path: &str, headers: &HeaderMap) -> StatusCode {
    let documented = path == "/metrics" || path == "/healthz";
    let body = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next()
        .is_some()
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v != "0");
    if !documented {
        StatusCode::NOT_FOUND
    } else if !matches!(method.as_str(), "GET" | "HEAD") {
        StatusCode::METHOD_NOT_ALLOWED
    } else if body {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::OK
    }
}

/// Panics (with a message) when an invariant does not hold: no panic; the
/// decision is the documented one (only the two paths give 200), the same
/// every time, and the response carries it with a content type (and
/// `Allow` on 405).
pub fn check_http(input: &[u8]) {
    let Some(req) = request(input) else {
        return;
    };
    let (m, path, h) = (req.method(), req.uri().path(), req.headers());
    let decided = route(m, path, h);
    assert_eq!(decided, route(m, path, h), "not deterministic");
    assert_eq!(decided.status(), expected(m, path, h), "{m} {path} {h:?}");
    match decided {
        Route::Health => assert_eq!(path, "/healthz"),
        Route::Metrics(f) => {
            assert_eq!(path, "/metrics");
            let accept = h.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            assert_eq!(f, Format::negotiate(accept));
        }
        _ => {}
    }
    let resp = REGISTRY.with(|r| respond(r, &req));
    assert_eq!(resp.status(), decided.status());
    assert!(resp.headers().contains_key(header::CONTENT_TYPE));
    assert_eq!(
        resp.headers().contains_key(header::ALLOW),
        decided == Route::MethodNotAllowed
    );
}

/// The keys [`Config`]'s own checks name in their errors.
const KEYS: &[&str] = &[
    "collect.interval_seconds",
    "collect.full_interval_seconds",
    "collect.budget_seconds",
    "collect.threads",
    "server.header_timeout_seconds",
    "server.connection_timeout_seconds",
    "server.max_connections",
    "a [[group]] has an empty name",
];

/// Panics (with a message) when an invariant does not hold: no panic; an
/// error is one line naming a line of the text (`line N: `) or a key; an
/// accepted config holds the documented bounds, parses the same again,
/// and its rules match and label any process without panicking.
pub fn check_config(input: &[u8]) {
    // `Config::load` reads text: a file that is not UTF-8 stops there.
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match Config::parse(text) {
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains('\n'), "error spans lines: {m:?}");
            let lines = text.split('\n').count();
            let line = m
                .strip_prefix("line ")
                .and_then(|r| r.split_once(": "))
                .and_then(|(n, _)| n.parse::<usize>().ok());
            match line {
                Some(n) => assert!(n >= 1 && n <= lines, "line {n} of {lines}: {m:?}"),
                None => assert!(
                    KEYS.iter().any(|k| m.starts_with(k)),
                    "error names no line or key: {m:?}"
                ),
            }
        }
        Ok(c) => {
            let again = Config::parse(text).expect("parses again");
            assert_eq!(format!("{c:?}"), format!("{again:?}"), "not deterministic");
            let secs = |v: f64| v.is_finite() && v > 0.0 && v < 86_400.0;
            assert!(secs(c.collect.interval_seconds));
            assert!(secs(c.collect.full_interval_seconds));
            assert!(secs(c.collect.budget_seconds));
            assert!(secs(c.server.header_timeout_seconds));
            assert!(secs(c.server.connection_timeout_seconds));
            assert!((1..=64).contains(&c.collect.threads));
            assert!((1..=10_000).contains(&c.server.max_connections));
            let s = Subject {
                comm: "python3",
                exe: Some("/usr/bin/python3"),
                cmdline: "python3 -m gunicorn app",
                user: "www-data",
                uid: Some(33),
                cgroup: Some("/system.slice/web.service"),
            };
            for g in c.groups.iter().take(16) {
                assert!(!g.name.is_empty());
                let _ = g.matches(&s);
                let label = g.label(&s);
                assert_eq!(label.is_empty(), g.name.is_empty());
            }
        }
    }
}
