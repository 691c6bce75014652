//! `maplens serve` under abuse, on loopback: slow clients (a header byte a
//! second), silent ones, idle keep-alive ones, 1 MiB headers, garbage, HTTP/0.9, a bad method,
//! absurd `Content-Length`s, other paths, a 100 MiB body, and four times
//! the connection cap at once. The exporter stays up, its RSS stays under a
//! bound, its descriptors come back, and a `/metrics` scrape keeps
//! answering within a generous budget while it goes on.
//!
//! Bounded: 256 abusive connections, 20 s of abuse.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::serve::{Serve, fds, get, http, lock, status_kb};

/// How long the abuse goes on: four header timeouts (5 s, the default).
const ABUSE: Duration = Duration::from_secs(20);
/// Abusive connections held open at once: 4x the cap (64, the default).
const HELD: usize = 256;
/// The budget of one scrape during the abuse (not a timing assertion: a
/// scrape answers in milliseconds when nothing is wrong).
const SCRAPE_BUDGET: Duration = Duration::from_secs(10);
/// The bound on the exporter's RSS (kB) throughout: a few MiB of buffers
/// (64 connections of at most 16 KiB of head each) above its idle size.
const RSS_BOUND_KB: u64 = 64 * 1024;

/// How a held connection abuses its slot.
#[derive(Clone, Copy, PartialEq)]
enum Held {
    /// Sends a request head a byte a second (slowloris).
    Slow,
    /// Sends nothing.
    Silent,
    /// Sends one whole keep-alive request, reads the answer, then idles.
    Idle,
}

/// A held connection: its stream, bytes sent, whether it was answered.
struct Conn {
    s: TcpStream,
    how: Held,
    sent: usize,
    answered: bool,
}

impl Conn {
    fn open(addr: SocketAddr, how: Held) -> Conn {
        let mut s = TcpStream::connect(addr).expect("connect");
        if how == Held::Idle {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("send");
        }
        s.set_nonblocking(true).expect("nonblocking");
        Conn {
            s,
            how,
            sent: 0,
            answered: false,
        }
    }

    /// One second of abuse; false once the server has closed it (an
    /// answer to a slow or silent one ends it too: a 408 or a 400).
    fn tick(&mut self) -> bool {
        const HEAD: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let mut buf = [0u8; 512];
        let open = match self.s.read(&mut buf) {
            Ok(0) => false,
            Ok(_answer) if self.how == Held::Idle && !self.answered => {
                self.answered = true;
                true
            }
            Ok(_answer) => false,
            Err(e) => e.kind() == ErrorKind::WouldBlock,
        };
        if !open {
            return false;
        }
        if self.how == Held::Slow {
            let byte = &HEAD[self.sent % HEAD.len()..][..1];
            self.sent += 1;
            return self.s.write_all(byte).is_ok();
        }
        true
    }
}

/// Holds `HELD` connections, a third of each kind ([`Held`]); a closed one
/// is reopened at once. Returns how many were closed by the server.
fn hold(addr: SocketAddr, stop: &AtomicBool) -> u64 {
    let kinds = [Held::Slow, Held::Silent, Held::Idle];
    let mut conns: Vec<Conn> = (0..HELD).map(|i| Conn::open(addr, kinds[i % 3])).collect();
    let mut reopened = 0;
    while !stop.load(Ordering::Relaxed) {
        for c in &mut conns {
            if !c.tick() {
                *c = Conn::open(addr, c.how);
                reopened += 1;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    reopened
}

/// A request head, the body bytes sent after it and what may come back
/// (`None`: a close without an answer).
type Abuse = (Vec<u8>, usize, &'static [Option<u16>]);

/// One abusive exchange: the status, if the server answered before
/// closing. Writes may fail once the server has answered and closed.
fn abuse(addr: SocketAddr, head: &[u8], body: usize) -> Option<u16> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut ok = s.write_all(head).is_ok();
    let chunk = vec![b'x'; 64 << 10];
    let mut left = body;
    while ok && left > 0 {
        let n = left.min(chunk.len());
        ok = s.write_all(&chunk[..n]).is_ok();
        left -= n;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let line = raw.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn the_exporter_stays_up_bounded_and_answering_under_abuse() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut serve = Serve::start(
        "unmatched = \"other\"\n[collect]\ninterval_seconds = 1\n",
        dir.path(),
    );
    serve.metrics_after(1);
    let pid = serve.child.id();
    let addr = serve.addr;
    let fds_before = *fds(pid, 5).iter().max().expect("samples");
    let rss_before = status_kb(pid, "VmRSS:");

    let huge_header = {
        let mut h = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        h.resize(h.len() + (1 << 20), b'a');
        h.extend_from_slice(b"\r\n\r\n");
        h
    };
    let malformed: Vec<Abuse> = vec![
        (huge_header, 0, &[Some(431), None]),
        (
            b"\x00\xff\x16\x03\x01garbage\r\n\r\n".to_vec(),
            0,
            &[Some(400), None],
        ),
        (
            b"FOO /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            0,
            &[Some(405)],
        ),
        (
            b"G\x01T /metrics HTTP/1.1\r\n\r\n".to_vec(),
            0,
            &[Some(400), None],
        ),
        (b"GET /metrics\r\n\r\n".to_vec(), 0, &[Some(400), None]),
        (
            b"GET /metrics HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            0,
            &[Some(400), None],
        ),
        (
            b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
            0,
            &[Some(400), None],
        ),
        (
            b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".to_vec(),
            0,
            &[Some(400), None],
        ),
        (
            b"GET /metrics HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n".to_vec(),
            0,
            // hyper refuses a length it cannot count to as too large.
            &[Some(413), Some(431)],
        ),
        (
            b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            0,
            &[Some(404)],
        ),
        (
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n".to_vec(),
            100 << 20,
            &[Some(413)],
        ),
    ];

    let stop = AtomicBool::new(false);
    let rss_max = AtomicU64::new(rss_before);
    let unexpected = Mutex::new(Vec::new());
    let rounds = AtomicU64::new(0);
    let mut scrapes = Vec::new();
    let mut reopened = 0;
    std::thread::scope(|s| {
        let held = s.spawn(|| hold(addr, &stop));
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for (head, body, allowed) in &malformed {
                    let got = abuse(addr, head, *body);
                    if !allowed.contains(&got) {
                        let start = String::from_utf8_lossy(&head[..head.len().min(60)]);
                        unexpected
                            .lock()
                            .expect("lock")
                            .push(format!("{start:?}: {got:?}"));
                    }
                }
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                rss_max.fetch_max(status_kb(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        // The legitimate scraper, every half second while the abuse goes
        // on (after a second, once the 256 are held).
        std::thread::sleep(Duration::from_secs(1));
        let began = Instant::now();
        while began.elapsed() < ABUSE {
            let t = Instant::now();
            let got = scrape(addr);
            scrapes.push((t.elapsed(), got));
            std::thread::sleep(Duration::from_millis(500));
        }
        stop.store(true, Ordering::Relaxed);
        reopened = held.join().expect("holder");
    });

    let exited = serve.child.try_wait().expect("wait");
    assert!(exited.is_none(), "the exporter died: {exited:?}");
    let failed: Vec<_> = scrapes.iter().filter(|(_, r)| r.is_err()).collect();
    let slowest = scrapes.iter().map(|(d, _)| *d).max().expect("scrapes");
    let rss_max = rss_max.into_inner();
    eprintln!(
        "serve under abuse for {ABUSE:?}: {} scrapes, {} failed, slowest {slowest:?}; \
         {reopened} held connections closed by the server and reopened; {} rounds of \
         {} malformed requests; RSS {rss_before} kB before, at most {rss_max} kB \
         (VmHWM {} kB); {fds_before} fds before",
        scrapes.len(),
        failed.len(),
        rounds.load(Ordering::Relaxed),
        malformed.len(),
        status_kb(pid, "VmHWM:"),
    );
    assert!(failed.is_empty(), "scrapes failed: {failed:?}");
    assert!(scrapes.len() >= 10, "only {} scrapes", scrapes.len());
    let mut unexpected = unexpected.into_inner().expect("lock");
    unexpected.sort();
    unexpected.dedup();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    assert!(
        rounds.load(Ordering::Relaxed) >= 1,
        "no malformed round ended"
    );
    // The slow, silent and idle clients were closed by the server
    // (evicted or timed out), not merely left waiting.
    assert!(reopened >= HELD as u64, "only {reopened} were closed");
    assert!(rss_max < RSS_BOUND_KB, "RSS reached {rss_max} kB");

    // Once the abuse ends, the descriptors come back.
    let until = Instant::now() + Duration::from_secs(40);
    let mut now = fds(pid, 1)[0];
    while now > fds_before && Instant::now() < until {
        now = *fds(pid, 4).iter().min().expect("samples");
    }
    assert!(now <= fds_before, "{fds_before} fds before, {now} after");
    let (status, _, _) = get(addr, "/healthz", "*/*");
    assert_eq!(status, 200);
    assert!(serve.stop().success());
}

/// One `/metrics` scrape within `SCRAPE_BUDGET`.
fn scrape(addr: SocketAddr) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = http(
            addr,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        );
        let _ = tx.send(r);
    });
    match rx.recv_timeout(SCRAPE_BUDGET) {
        Ok(Ok((200, _, body))) if body.windows(25).any(|w| w == b"maplens_collections_total") => {
            Ok(())
        }
        Ok(Ok((status, _, _))) => Err(format!("status {status}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {SCRAPE_BUDGET:?}")),
    }
}

#[test]
fn max_header_bytes_is_the_limit_on_a_request_head() {
    let _l = lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let head = |filler: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fill: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(filler)
        )
    };
    // 12 KiB of head: under the default (16 KiB), over 8192.
    let twelve = head(12 << 10);
    let default = Serve::start("unmatched = \"drop\"\n", dir.path());
    assert_eq!(
        http(default.addr, twelve.as_bytes()).expect("answer").0,
        200
    );
    assert!(default.stop().success());
    let small = Serve::start(
        "unmatched = \"drop\"\n[server]\nmax_header_bytes = 8192\n",
        dir.path(),
    );
    // (The server may reset the connection after its answer: the head's
    // rest is unread.)
    assert_eq!(abuse(small.addr, twelve.as_bytes(), 0), Some(431));
    assert_eq!(
        http(small.addr, head(4096).as_bytes()).expect("answer").0,
        200
    );
    assert!(small.stop().success());
}
