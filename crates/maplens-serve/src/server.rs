//! The HTTP side: hyper 1.x HTTP/1.1 on a current-thread tokio runtime.
//!
//! Hardened for an exporter that may be reachable by more than Prometheus:
//! - a cap on connections served at once (a semaphore); when every slot
//!   is taken, a new client evicts the oldest connection between requests
//!   (its first request head not yet whole, or idle after an answer), so
//!   slow, silent or idle clients past the cap cannot make a scrape wait
//!   for their timeouts; extra clients wait in the kernel's backlog (and
//!   cost nothing here) only while every slot is answering a request;
//! - a timeout for the request headers (slowloris), a size limit on them
//!   (431 past it) and a timeout for the whole connection;
//! - two paths, `/metrics` and `/healthz`, `GET` and `HEAD` only; a request
//!   that announces a body is refused with 413 before it is read;
//! - no panic on any request: the handler returns a response for every
//!   input, and a panic in a connection task would end that task only;
//! - graceful shutdown on SIGTERM and SIGINT: stop accepting, let the
//!   connections in flight finish (bounded by the connection timeout).
//!
//! The handler never touches `/proc`: it encodes the last complete
//! collection, which the collector's own threads publish.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

use crate::config::Server as Limits;
use crate::metrics::{Format, encode};

/// What the server answers a request, decided from its method, path and
/// headers alone (no body is ever read): [`route`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// 404: a path other than `/metrics` and `/healthz`.
    NotFound,
    /// 405 with `Allow: GET, HEAD`: another method on one of the two paths.
    MethodNotAllowed,
    /// 413: the request announces a body (`Transfer-Encoding`, or a
    /// `Content-Length` other than `0`).
    PayloadTooLarge,
    /// 200 `ok` (`/healthz`).
    Health,
    /// 200 with the metrics in this format (`/metrics`; 500 if encoding
    /// fails).
    Metrics(Format),
}

impl Route {
    /// The status of the answer (before encoding: [`Route::Metrics`] is
    /// 200 unless encoding then fails).
    pub fn status(self) -> StatusCode {
        match self {
            Route::NotFound => StatusCode::NOT_FOUND,
            Route::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Route::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Route::Health | Route::Metrics(_) => StatusCode::OK,
        }
    }
}

/// Decides the answer to a request: the path first (404), then the method
/// (405), then a body (413), then which of the two pages, with the format
/// the `Accept` header asks for ([`Format::negotiate`]).
///
/// ```
/// use hyper::{HeaderMap, Method};
/// use maplens_serve::metrics::Format;
/// use maplens_serve::server::{Route, route};
/// let h = HeaderMap::new();
/// assert_eq!(route(&Method::GET, "/metrics", &h), Route::Metrics(Format::Text));
/// assert_eq!(route(&Method::HEAD, "/healthz", &h), Route::Health);
/// assert_eq!(route(&Method::POST, "/healthz", &h), Route::MethodNotAllowed);
/// assert_eq!(route(&Method::GET, "/metrics/", &h), Route::NotFound);
/// ```
pub fn route(method: &Method, path: &str, headers: &HeaderMap) -> Route {
    if path != "/metrics" && path != "/healthz" {
        return Route::NotFound;
    }
    if method != Method::GET && method != Method::HEAD {
        return Route::MethodNotAllowed;
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        return Route::PayloadTooLarge;
    }
    if path == "/healthz" {
        return Route::Health;
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    Route::Metrics(Format::negotiate(accept))
}

/// Answers one request ([`route`], then the page).
pub fn respond<B>(registry: &Registry, req: &Request<B>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    let format = match route(req.method(), req.uri().path(), req.headers()) {
        Route::NotFound => {
            return plain(
                StatusCode::NOT_FOUND,
                "not found: try /metrics or /healthz\n",
            );
        }
        Route::MethodNotAllowed => {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        Route::PayloadTooLarge => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "no request body is accepted\n",
            );
        }
        Route::Health => return plain(StatusCode::OK, "ok\n"),
        Route::Metrics(format) => format,
    };
    let began = std::time::Instant::now();
    let encoded = encode(registry, format);
    crate::metrics::record_scrape(began.elapsed());
    match encoded {
        Ok(text) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            r
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
    }
}

/// Serves until SIGTERM or SIGINT (or until `stop` says so), on a
/// current-thread runtime of its own. Calls `ready` with the bound address
/// once listening.
pub fn serve(
    addr: SocketAddr,
    registry: Registry,
    limits: &Limits,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    rt.block_on(run(addr, Arc::new(registry), limits.clone(), ready))
}

/// The connections between requests (before their first request head
/// is whole, or idle after an answer), oldest first, each with the means
/// to close it: the ones a new client may evict when every slot is taken.
#[derive(Default)]
struct Waiting {
    next: u64,
    conns: BTreeMap<u64, Arc<Notify>>,
}

impl Waiting {
    fn lock(w: &Mutex<Waiting>) -> std::sync::MutexGuard<'_, Waiting> {
        w.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists a connection as the newest one waiting; returns its key.
    fn add(&mut self, evict: &Arc<Notify>) -> u64 {
        let id = self.next;
        self.next += 1;
        self.conns.insert(id, evict.clone());
        id
    }
}

async fn run(
    addr: SocketAddr,
    registry: Arc<Registry>,
    limits: Limits,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    ready(listener.local_addr()?);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let waiting = Arc::new(Mutex::new(Waiting::default()));
    let header_timeout = Duration::from_secs_f64(limits.header_timeout_seconds);
    let conn_timeout = Duration::from_secs_f64(limits.connection_timeout_seconds);
    let max_buf = limits.max_header_bytes;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        // Wait for a free slot only while every connection holding one is
        // being served: then extra clients wait in the kernel's backlog.
        if slots.available_permits() == 0 && Waiting::lock(&waiting).conns.is_empty() {
            tokio::select! {
                p = slots.clone().acquire_owned() => drop(p?),
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                // Out of descriptors and the like: wait a little, go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        // Every slot taken: the oldest connection between requests gives
        // its slot up, so that slow, silent or idle clients past the cap
        // cannot keep a scrape waiting for their timeouts.
        if slots.available_permits() == 0
            && let Some((_, evict)) = Waiting::lock(&waiting).conns.pop_first()
        {
            evict.notify_one();
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p?,
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let evict = Arc::new(Notify::new());
        let key = Arc::new(AtomicU64::new(Waiting::lock(&waiting).add(&evict)));
        let registry = registry.clone();
        let waiting = waiting.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let (w, k, e) = (waiting.clone(), key.clone(), evict.clone());
            let svc = service_fn(move |req: Request<Incoming>| {
                // A whole request head has come: not evictable while it is
                // answered (synchronously, here), then idle again, as the
                // newest.
                Waiting::lock(&w).conns.remove(&k.load(Ordering::Relaxed));
                let r = respond(&registry, &req);
                k.store(Waiting::lock(&w).add(&e), Ordering::Relaxed);
                async move { Ok::<_, Infallible>(r) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(max_buf)
                .serve_connection(TokioIo::new(stream), svc);
            let mut conn = std::pin::pin!(conn);
            let deadline = tokio::time::sleep(conn_timeout);
            let mut deadline = std::pin::pin!(deadline);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = &mut deadline => {}
                _ = evict.notified() => {}
                _ = stop.changed() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = &mut deadline => {}
                    }
                }
            }
            Waiting::lock(&waiting)
                .conns
                .remove(&key.load(Ordering::Relaxed));
        });
        // Reap finished connection tasks as we go.
        while tasks.try_join_next().is_some() {}
        // Let the new connection read the request it may have sent already
        // before the next accept can evict it.
        tokio::task::yield_now().await;
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(conn_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
