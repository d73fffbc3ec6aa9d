//! The observer: a read-only web page and JSON API served by the VM on its own threads (the
//! API is documented in `docs/observer.md`).
//!
//! # Threads, and what each may touch
//! - `spam-observer`: accepts requests (tiny_http) and computes each answer from the VM, the way
//!   `process_info` reads it (atomics, pins, each process's small `ext` lock). It hands the
//!   writing of the answer to a short-lived `spam-observer-reply` thread, so a client that does
//!   not read never holds this thread.
//! - `spam-observer-sampler`: one sample per interval (`sampler.rs`).
//! - `spam-observer-events`: one per `/api/events` client; reads rendered samples only, never
//!   the VM. At most [`MAX_STREAMS`] at a time.
//! - The tracer: an ordinary SPAM process in the VM, spawned on the first trace request
//!   (`trace.rs`).
//!
//! # Lifetime
//! The threads that read the VM (`spam-observer`, the sampler) hold a raw pointer to the
//! `Runtime` ([`RtRef`]); dropping the [`Observer`] stops and joins them, and `Vm` drops its
//! observer before its runtime. The threads that write to sockets hold no pointer to the VM and
//! are not joined.

mod api;
mod json;
mod sampler;
mod trace;

pub(crate) use crate::rt_ref::RtRef;
use spam_vm::Runtime;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Concurrent `/api/events` streams served; more get 503.
const MAX_STREAMS: usize = 16;

/// The sampling interval (and of the event stream).
const INTERVAL: Duration = Duration::from_secs(1);

/// State shared by the observer's threads.
pub(crate) struct Shared {
    pub(crate) sampler: sampler::Sampler,
    pub(crate) traces: trace::Traces,
    /// `/api/events` streams open now.
    streams: AtomicUsize,
    stop: AtomicBool,
}

/// A running observer; dropping it stops it.
pub(crate) struct Observer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// `None` once stopped.
    server: Option<Arc<tiny_http::Server>>,
    threads: Vec<JoinHandle<()>>,
}

/// Reads `SPAM_OBSERVER`: `1` means loopback with any port, anything else is an address.
pub(crate) fn from_env() -> Option<String> {
    let v = std::env::var("SPAM_OBSERVER").ok()?;
    match v.trim() {
        "" | "0" => None,
        "1" => Some("127.0.0.1:0".into()),
        other => Some(other.into()),
    }
}

/// `addr` as a socket address; a bare port (`4000`, `:4000`) means loopback.
fn resolve(addr: &str) -> std::io::Result<SocketAddr> {
    let port = addr.strip_prefix(':').unwrap_or(addr);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr} resolves to no address")))
}

impl Observer {
    /// Binds `addr` and starts the threads. `rt` must outlive the returned observer.
    pub(crate) fn start(rt: &Runtime, addr: &str) -> std::io::Result<Observer> {
        let bind = resolve(addr)?;
        let server = tiny_http::Server::http(bind).map_err(std::io::Error::other)?;
        let addr = server.server_addr().to_ip().ok_or_else(|| std::io::Error::other("not an IP listener"))?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            sampler: sampler::Sampler::new(INTERVAL),
            traces: trace::Traces::default(),
            streams: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let rt = RtRef::new(rt);
        let mut threads = Vec::new();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| std::thread::Builder::new().name(name.into()).spawn(f);
        let sh = shared.clone();
        threads.push(spawn("spam-observer-sampler", Box::new(move || sh.sampler.run(rt)))?);
        let (sh, srv) = (shared.clone(), server.clone());
        let loopback = addr.ip().is_loopback();
        match spawn("spam-observer", Box::new(move || serve(rt, &sh, &srv, loopback))) {
            Ok(t) => threads.push(t),
            Err(e) => {
                shared.sampler.stop();
                threads.into_iter().for_each(|t| drop(t.join()));
                return Err(e);
            }
        }
        eprintln!("spam: observer at http://{addr}/");
        Ok(Observer { addr, shared, server: Some(server), threads })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        self.shared.sampler.stop();
        let Some(server) = self.server.take() else { return };
        server.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // The last reference (the joined threads held the others). tiny_http closes its listener
        // on its own accept thread after the server drops, and does not join it. Wait for that (a
        // connection is refused then; each one accepted meanwhile is closed at once), so the
        // address is free when the Vm's drop returns.
        drop(server);
        let target = match self.addr.ip().is_unspecified() {
            true => SocketAddr::new([127, 0, 0, 1].into(), self.addr.port()),
            false => self.addr,
        };
        for _ in 0..2000 {
            match std::net::TcpStream::connect_timeout(&target, Duration::from_millis(100)) {
                Ok(_) => std::thread::sleep(Duration::from_millis(1)),
                Err(_) => break,
            }
        }
    }
}

/// The `spam-observer` thread: one request at a time until the server is unblocked.
fn serve(rt: RtRef, shared: &Arc<Shared>, server: &tiny_http::Server, loopback: bool) {
    while !shared.stop.load(SeqCst) {
        let Ok(req) = server.recv() else { break };
        if shared.stop.load(SeqCst) {
            break;
        }
        if let Err(why) = allowed(&req, loopback) {
            answer(req, api::Reply::error(403, why));
            continue;
        }
        if req.url().split('?').next() == Some("/api/events") && *req.method() == tiny_http::Method::Get {
            stream_events(shared, req);
            continue;
        }
        let reply = api::handle(rt.get(), shared, req.method(), req.url());
        answer(req, reply);
    }
}

/// Answers `req` with `reply` on a short-lived thread of its own: a client that does not read
/// must not hold the `spam-observer` thread.
fn answer(req: tiny_http::Request, reply: api::Reply) {
    let _ = std::thread::Builder::new().name("spam-observer-reply".into()).spawn(move || {
        let _ = write_reply(req.into_writer(), reply);
    });
}

/// What a browser on this machine may ask of an observer on loopback, and what another site's
/// page may not: a loopback observer answers only requests whose `Host` is an IP address or
/// `localhost` (a DNS name pointing at 127.0.0.1 is how another site's page would read it: DNS
/// rebinding), and takes a `POST`/`DELETE` (tracing) only without an `Origin` or from its own
/// (another site's page may send them, though it cannot read the answer). An observer the user
/// bound to another interface skips the `Host` rule (it is reached by whatever name they use).
fn allowed(req: &tiny_http::Request, loopback: bool) -> Result<(), &'static str> {
    let header = |name: &'static str| req.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str());
    let host = header("Host").unwrap_or("");
    if loopback {
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        if !(name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()) {
            return Err("forbidden host");
        }
    }
    let mutates = !matches!(req.method(), tiny_http::Method::Get | tiny_http::Method::Head);
    if mutates {
        if let Some(origin) = header("Origin") {
            if origin.strip_prefix("http://") != Some(host) {
                return Err("forbidden origin");
            }
        }
    }
    Ok(())
}

/// Writes `reply` as a whole HTTP/1.1 response with `Connection: close`.
///
/// Every answer closes its connection: tiny_http serves each connection on a thread of its pool
/// for as long as the client keeps it alive, and its pool can queue a new connection behind
/// such a thread (two connections arriving while one pool thread waits: the second waits for
/// the first to end). A browser keeps connections alive indefinitely, so one of its requests
/// could wait forever; closed after each answer, a connection frees its pool thread at once.
/// (tiny_http's own `Response` refuses to set `Connection`, so the head is written here.)
fn write_reply(mut out: impl std::io::Write, reply: api::Reply) -> std::io::Result<()> {
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(&reply.body)?;
    out.flush()
}

/// Hands an `/api/events` client to its own thread (or answers 503 past [`MAX_STREAMS`]).
fn stream_events(shared: &Arc<Shared>, req: tiny_http::Request) {
    if shared.streams.fetch_add(1, SeqCst) >= MAX_STREAMS {
        shared.streams.fetch_sub(1, SeqCst);
        answer(req, api::Reply::error(503, "too many event streams"));
        return;
    }
    let sh = shared.clone();
    let spawned = std::thread::Builder::new().name("spam-observer-events".into()).spawn(move || {
        sh.sampler.stream(req.into_writer());
        sh.streams.fetch_sub(1, SeqCst);
    });
    if spawned.is_err() {
        shared.streams.fetch_sub(1, SeqCst);
    }
}
