//! The node: this VM as a member of an Erlang cluster (`Vm::builder().node(name, cookie)`).
//!
//! # Threads (none of them a scheduler)
//! - `spam-dist-accept`: accepts connections; each handshake runs on a `spam-dist-handshake`
//!   thread, so a slow dialler never holds the listener.
//! - `spam-dist-connect`: one per connection we dial (EPMD's PORT_PLEASE2, then the handshake).
//! - Per connection, `spam-dist-read` decodes frames in order and acts on them (delivers
//!   messages and signals to local processes), and `spam-dist-write` writes queued frames and
//!   ticks (every `net_ticktime / 4` of quiet; a peer silent for `net_ticktime` is dropped). A process that sends to a remote pid only encodes the frame and queues it (an
//!   unbounded channel): a slow or dead peer never blocks a scheduler.
//!
//! # One connection per node pair
//! `conns` maps a node's name to its connection, created on first need (a send, a link, a
//! monitor) or on an accepted handshake. Frames queued while it is pending go out once it is
//! up, in order. Simultaneous connects follow OTP's rule: the acceptor whose name is greater
//! answers `nok` (its own dial wins); the other answers `ok_simultaneous` and takes the
//! accepted socket for the connection it was dialling.
//!
//! # What crossed a connection
//! Each connection records the links and monitors that crossed it (`ConnState`). Recording
//! and the phase check happen under one lock, so a link made while the connection dies is
//! either recorded before the drain (and answered by it) or refused at once: either way its
//! process gets `noconnection`, exactly once. When the connection goes down (EOF, an error, a
//! garbage frame, missed ticks, a failed connect) every local process linked across it gets an
//! exit signal `noconnection` from its remote peer, every local monitor of a remote process a
//! `Down` `noconnection`, and every remote monitor of a local process is removed.
//!
//! # Lifetime
//! The threads reach the VM through an [`RtRef`]; [`NodeHandle`]'s drop stops and joins them
//! (shutting their sockets down first), and `Vm` drops it before it frees the runtime.

use super::control::{self, Control, Frame};
use super::epmd::{self, NodeType, Registration};
use super::handshake::{self, FLAGS_HIDDEN, PUBLISHED, UNLINK_ID};
use crate::rt_ref::RtRef;
use crate::term::{Atom, ExternalPid, ExternalRef, Term};
use spam_vm::{Distribution, Msg, Pid, Reason, Ref, RemoteSignal, Runtime, SpawnOpts};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Erlang's default `net_ticktime`: silence after which a connection is taken for dead; a
/// quiet connection ticks every quarter of it.
pub(crate) const NET_TICKTIME: Duration = Duration::from_secs(60);
/// How long a handshake may take, and a connect.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A registered entry point for remote `spawn` (Erlang's `spawn(Node, M, F, A)`).
pub(crate) type Entry = Arc<dyn Fn(Vec<Term>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
/// The VM's entry points, by `(module, function)`.
pub(crate) type Entries = Arc<RwLock<HashMap<(String, String), Entry>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How the node was asked for.
#[derive(Debug, Clone)]
pub(crate) struct NodeConfig {
    pub(crate) name: String,
    pub(crate) cookie: String,
    pub(crate) hidden: bool,
    pub(crate) ticktime: Duration,
}

/// The message a `spawn_remote` caller waits for (the reader turns SPAWN_REPLY into it).
#[derive(Debug)]
pub(crate) struct SpawnReply {
    pub(crate) req: Ref,
    pub(crate) result: Result<Pid, Reason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Being dialled or accepted; frames queue. `accepting`: an accepted handshake has claimed
    /// it (our own dial's failure is then not the connection's).
    Pending {
        accepting: bool,
    },
    /// Our dial lost a simultaneous connect (`nok`): the peer's dial, coming in, will bring it
    /// up (else it goes down after the handshake timeout).
    Awaiting,
    Up,
    Down,
}

/// A remote process's monitor of a local one.
struct MonitorIn {
    watcher: Pid,
    target: Pid,
    /// Its reference as the remote node made it.
    rref: Term,
    /// Monitored by name: the name goes back in the exit message, as ERTS does.
    name: Option<Atom>,
}

struct ConnState {
    /// `Down` once taken down; then the records below are empty and stay so (`record`).
    phase: Phase,
    /// The peer's flags (known once up).
    flags: u64,
    /// `(local, remote)` links across this connection.
    links: HashSet<(Pid, Pid)>,
    /// Local monitors of remote processes: our reference → (watcher, target).
    monitors_out: HashMap<Ref, (Pid, Pid)>,
    /// Remote monitors of local processes, by the local reference standing for them.
    monitors_in: HashMap<Ref, MonitorIn>,
    /// The same, by the remote reference.
    monitors_in_by_rref: HashMap<Term, Ref>,
    /// `spawn_remote` calls waiting for their reply: request → caller.
    spawns: HashMap<Ref, Pid>,
}

impl ConnState {
    fn new(phase: Phase) -> ConnState {
        ConnState {
            phase,
            flags: 0,
            links: HashSet::new(),
            monitors_out: HashMap::new(),
            monitors_in: HashMap::new(),
            monitors_in_by_rref: HashMap::new(),
            spawns: HashMap::new(),
        }
    }
}

/// What is waiting to be written on a connection (see `Conn::push`).
#[derive(Default)]
struct Outbox {
    /// The socket's write half, once the connection is up (`None` before, and after `down`).
    sock: Option<TcpStream>,
    /// Frames for the writer thread, in order.
    queue: VecDeque<Vec<u8>>,
    /// The writer thread holds frames it took from `queue` and is writing them.
    busy: bool,
    closed: bool,
}

struct Conn {
    peer: Atom,
    out: Mutex<Outbox>,
    /// Wakes the writer thread: frames queued, or the connection closed.
    wake: Condvar,
    /// A frame was written since the writer thread last looked (no tick needed).
    wrote: AtomicBool,
    st: Mutex<ConnState>,
    /// A clone of the socket, to shut it down.
    socket: Mutex<Option<TcpStream>>,
    /// Milliseconds since the node started when the peer was last heard from.
    heard: AtomicU64,
}

/// How long a sender's direct write may wait for room in the socket's buffer (the kernel rounds
/// it up to one clock tick, a few milliseconds) before the rest goes to the writer thread.
const DIRECT_WRITE_TIMEOUT: Duration = Duration::from_micros(1);

impl Conn {
    fn new(peer: Atom, phase: Phase) -> Arc<Conn> {
        Arc::new(Conn {
            peer,
            out: Mutex::new(Outbox::default()),
            wake: Condvar::new(),
            wrote: AtomicBool::new(false),
            st: Mutex::new(ConnState::new(phase)),
            socket: Mutex::new(None),
            heard: AtomicU64::new(0),
        })
    }

    /// Sends a frame, in order with every frame pushed before it (dropped once the connection
    /// is down, as Erlang drops them).
    ///
    /// The protocol (`out`'s lock orders every step): while nothing is queued and the writer
    /// thread is idle, the sender writes the frame itself, with a write timeout of one kernel
    /// tick, so a round trip costs no thread hand-off. Whatever it could not write (the socket's
    /// buffer is full: a slow peer), and every frame pushed while anything is queued or the
    /// writer is busy, goes to the queue, which only the writer thread drains, in order. So a
    /// slow peer costs a sender at most one tick once, then only a queue push.
    fn push(&self, c: &Control) {
        let frame = control::encode_frame(c);
        let mut o = lock(&self.out);
        if o.closed {
            return;
        }
        let direct = !o.busy && o.queue.is_empty();
        let rest = match (&o.sock, direct) {
            (Some(sock), true) => {
                let mut sock: &TcpStream = sock;
                let mut off = 0;
                while off < frame.len() {
                    match sock.write(&frame[off..]) {
                        Ok(n) if n > 0 => off += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // No room (or the socket failed: the writer thread finds out).
                        _ => break,
                    }
                }
                self.wrote.store(true, Relaxed);
                if off == frame.len() {
                    return;
                }
                frame[off..].to_vec()
            }
            _ => frame,
        };
        o.queue.push_back(rest);
        drop(o);
        self.wake.notify_one();
    }

    /// Runs `f` on the state if the connection is not down; `false` if it is.
    fn record(&self, f: impl FnOnce(&mut ConnState)) -> bool {
        let mut st = lock(&self.st);
        if st.phase == Phase::Down {
            return false;
        }
        f(&mut st);
        true
    }
}

/// The node's state, shared by its threads and the VM's hook.
pub(crate) struct Shared {
    rt: RtRef,
    me: Atom,
    creation: u32,
    cookie: String,
    flags: u64,
    port: u16,
    /// `net_ticktime`: a connection silent this long is dropped; a quiet one ticks every quarter.
    ticktime: Duration,
    started: Instant,
    conns: Mutex<HashMap<Atom, Arc<Conn>>>,
    entries: Entries,
    stopping: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Sockets in a handshake, to shut down on stop.
    handshaking: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    registration: Mutex<Option<Registration>>,
}

/// Keeps the node running; dropping it stops the node (the `Vm` does, before freeing the
/// runtime).
pub(crate) struct NodeHandle(Arc<Shared>);

impl NodeHandle {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

/// The hook installed in the runtime.
struct Hook(Arc<Shared>);

/// The part of a node name before `@`, and the host after it.
fn split(node: &str) -> Option<(&str, &str)> {
    node.split_once('@').filter(|(n, h)| !n.is_empty() && !h.is_empty())
}

impl NodeHandle {
    /// Listens, registers with EPMD (starting it if it is not running, as `erl` does), and
    /// installs the node in `rt`.
    pub(crate) fn start(rt: &Runtime, cfg: &NodeConfig, entries: Entries) -> io::Result<NodeHandle> {
        let full = if cfg.name.contains('@') { cfg.name.clone() } else { format!("{}@localhost", cfg.name) };
        let Some((alive, _host)) = split(&full) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad node name {full:?}: want name@host")));
        };
        let me = Atom::try_new(&full).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let listener = TcpListener::bind("0.0.0.0:0")?;
        let port = listener.local_addr()?.port();
        let kind = if cfg.hidden { NodeType::Hidden } else { NodeType::Normal };
        let registration = register_starting_epmd(alive, port, kind)?;
        let shared = Arc::new(Shared {
            rt: RtRef::new(rt),
            me,
            creation: registration.creation,
            cookie: cfg.cookie.clone(),
            flags: if cfg.hidden { FLAGS_HIDDEN } else { FLAGS_HIDDEN | PUBLISHED },
            port,
            ticktime: cfg.ticktime,
            started: Instant::now(),
            conns: Mutex::new(HashMap::new()),
            entries,
            stopping: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            handshaking: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            registration: Mutex::new(Some(registration)),
        });
        if !rt.set_distribution(Box::new(Hook(shared.clone()))) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "the VM already has a node"));
        }
        let s = shared.clone();
        shared.spawn_thread("spam-dist-accept", move || s.accept_loop(listener));
        Ok(NodeHandle(shared))
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        let s = &self.0;
        s.stopping.store(true, Relaxed);
        drop(lock(&s.registration).take()); // EPMD forgets us
        let _ = TcpStream::connect(("127.0.0.1", s.port)); // wakes the accept loop
        for (_, sock) in lock(&s.handshaking).drain() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        let conns: Vec<_> = lock(&s.conns).values().cloned().collect();
        for c in conns {
            s.down(&c);
        }
        loop {
            let threads = std::mem::take(&mut *lock(&s.threads));
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

/// ALIVE2, starting `epmd -daemon` first if nothing listens on its port (what `erl -sname`
/// does).
fn register_starting_epmd(alive: &str, port: u16, kind: NodeType) -> io::Result<Registration> {
    match epmd::register(alive, port, kind) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::process::Command::new("epmd")
                .arg("-daemon")
                .status()
                .map_err(|e2| io::Error::new(e.kind(), format!("epmd is not running and cannot be started: {e2}")))?;
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match epmd::register(alive, port, kind) {
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    r => return r,
                }
            }
        }
        r => r,
    }
}

impl Shared {
    fn rt(&self) -> &Runtime {
        self.rt.get()
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Starts a node thread, remembered for the join on stop (finished ones are forgotten).
    fn spawn_thread(&self, name: &str, f: impl FnOnce() + Send + 'static) {
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        if self.stopping.load(Relaxed) && name != "spam-dist-accept" {
            return;
        }
        match std::thread::Builder::new().name(name.into()).spawn(f) {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("spam: {}: cannot start thread {name}: {e}", self.me),
        }
    }

    // ---- Terms for our pids and references ----

    /// A pid as the wire carries it.
    pub(crate) fn pid_term(&self, p: Pid) -> Term {
        pid_term(&self.me, self.creation, p)
    }

    /// The pid a wire pid stands for: ours (local), or another node's (remote). `None` for
    /// something else, or for a pid of an earlier incarnation of this node.
    pub(crate) fn term_pid(&self, t: &Term) -> Option<Pid> {
        term_pid(&self.me, self.creation, t)
    }

    fn ref_term(&self, r: Ref) -> Term {
        ref_term(&self.me, self.creation, r)
    }

    fn term_ref(&self, t: &Term) -> Option<Ref> {
        term_ref(&self.me, self.creation, t)
    }

    pub(crate) fn creation(&self) -> u32 {
        self.creation
    }

    // ---- Connections ----

    /// The connection to `node`, dialled now if there is none.
    fn conn_for(self: &Arc<Self>, node: &str) -> Arc<Conn> {
        let mut conns = lock(&self.conns);
        if let Some(c) = conns.get(node) {
            return c.clone();
        }
        let peer = Atom::new(node);
        if self.stopping.load(Relaxed) || split(node).is_none() || peer == self.me {
            return Conn::new(peer, Phase::Down); // refuses every record: noconnection at once
        }
        let c = Conn::new(peer.clone(), Phase::Pending { accepting: false });
        conns.insert(peer, c.clone());
        drop(conns);
        let (s, dial) = (self.clone(), c.clone());
        self.spawn_thread("spam-dist-connect", move || s.dial(dial));
        c
    }

    /// The connection to `node` if it is up or being made (no dial).
    fn existing(&self, node: &str) -> Option<Arc<Conn>> {
        lock(&self.conns).get(node).cloned()
    }

    fn dial(self: Arc<Self>, c: Arc<Conn>) {
        let attempt = || -> Result<(TcpStream, handshake::Peer), String> {
            let (alive, host) = split(c.peer.as_str()).ok_or("bad node name")?;
            let port = epmd::port_please(host, alive)
                .map_err(|e| format!("epmd at {host}: {e}"))?
                .ok_or_else(|| format!("{alive} is not registered with epmd at {host}"))?;
            let mut s = epmd::dial(host, port.port, HANDSHAKE_TIMEOUT).map_err(|e| e.to_string())?;
            let id = self.track_handshake(&s);
            // `alive`: the peer holds a connection to us. If one is up or coming up here too (it
            // came in while we dialled), keep it; else the peer's is stale (we dropped it and it
            // has not noticed yet): replace it.
            let replace = || lock(&c.st).phase == Phase::Pending { accepting: false };
            let (me, peer) = (self.me.as_str(), c.peer.as_str());
            let r = handshake::initiate(&mut s, me, self.creation, self.flags, &self.cookie, peer, replace);
            lock(&self.handshaking).remove(&id);
            r.map(|p| (s, p)).map_err(|e| match e {
                handshake::HandshakeError::Refused(s) if s == "nok" => s,
                e => e.to_string(),
            })
        };
        match attempt() {
            Ok((s, peer)) => self.attach(&c, s, peer.flags),
            Err(e) if e == "nok" => {
                {
                    let mut st = lock(&c.st);
                    if st.phase != (Phase::Pending { accepting: false }) {
                        return; // the peer's dial came in already
                    }
                    st.phase = Phase::Awaiting;
                }
                let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
                while lock(&c.st).phase == Phase::Awaiting {
                    if Instant::now() > deadline || self.stopping.load(Relaxed) {
                        return self.down(&c);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Err(e) => {
                let ours = { lock(&c.st).phase == Phase::Pending { accepting: false } };
                if ours {
                    if !self.stopping.load(Relaxed) {
                        eprintln!("spam: {}: cannot connect to {}: {e}", self.me, c.peer);
                    }
                    self.down(&c);
                }
            }
        }
    }

    fn track_handshake(&self, s: &TcpStream) -> u64 {
        let id = self.next_id.fetch_add(1, Relaxed);
        if let Ok(clone) = s.try_clone() {
            lock(&self.handshaking).insert(id, clone);
        }
        id
    }

    fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        for s in listener.incoming() {
            if self.stopping.load(Relaxed) {
                return;
            }
            let Ok(s) = s else { continue };
            let me = self.clone();
            self.spawn_thread("spam-dist-handshake", move || me.accept_one(s));
        }
    }

    fn accept_one(self: Arc<Self>, mut s: TcpStream) {
        let id = self.track_handshake(&s);
        let _ = s.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
        let _ = s.set_nodelay(true);
        // What the admission decided: the connection to bring up, and one to replace.
        let mut claimed: Option<(Arc<Conn>, Option<Arc<Conn>>)> = None;
        let r = handshake::accept(&mut s, self.me.as_str(), self.creation, self.flags, &self.cookie, |name| {
            let mut conns = lock(&self.conns);
            let peer = Atom::new(name);
            match conns.get(name).cloned() {
                None => {
                    let c = Conn::new(peer.clone(), Phase::Pending { accepting: true });
                    conns.insert(peer, c.clone());
                    claimed = Some((c, None));
                    "ok"
                }
                Some(c) => {
                    let mut st = lock(&c.st);
                    match st.phase {
                        // Both dialled: the greater name's dial wins (OTP's rule).
                        Phase::Pending { accepting: false } if self.me.as_str() > name => "nok",
                        Phase::Pending { accepting: false } => {
                            st.phase = Phase::Pending { accepting: true };
                            drop(st);
                            claimed = Some((c, None));
                            "ok_simultaneous"
                        }
                        Phase::Awaiting => {
                            st.phase = Phase::Pending { accepting: true };
                            drop(st);
                            claimed = Some((c, None));
                            "ok"
                        }
                        Phase::Pending { accepting: true } => "nok",
                        // Connected already: `alive`. The dialler replaces it if its side is gone
                        // (a restarted peer), once the handshake succeeds.
                        Phase::Up | Phase::Down => {
                            drop(st);
                            claimed = Some((Conn::new(peer, Phase::Pending { accepting: true }), Some(c)));
                            "alive"
                        }
                    }
                }
            }
        });
        lock(&self.handshaking).remove(&id);
        let Some((c, old)) = claimed else { return };
        match r {
            Ok(peer) => {
                if let Some(old) = old {
                    self.down(&old);
                    lock(&self.conns).insert(c.peer.clone(), c.clone());
                }
                self.attach(&c, s, peer.flags)
            }
            Err(_) if old.is_none() => self.down(&c),
            Err(_) => {}
        }
    }

    /// Brings `c` up on the handshaken socket `s`: starts its reader and writer.
    fn attach(self: &Arc<Self>, c: &Arc<Conn>, s: TcpStream, flags: u64) {
        let _ = s.set_read_timeout(None);
        let (Ok(rs), Ok(ws)) = (s.try_clone(), s.try_clone()) else { return self.down(c) };
        {
            let mut st = lock(&c.st);
            if matches!(st.phase, Phase::Down | Phase::Up | Phase::Awaiting) {
                return; // lost a race: this socket is not the connection's
            }
            st.phase = Phase::Up;
            st.flags = flags;
            *lock(&c.socket) = Some(s);
        }
        c.heard.store(self.now_ms(), Relaxed);
        let _ = ws.set_write_timeout(Some(DIRECT_WRITE_TIMEOUT));
        {
            let mut o = lock(&c.out);
            if o.closed {
                return;
            }
            o.sock = ws.try_clone().ok();
        }
        let (me, conn) = (self.clone(), c.clone());
        self.spawn_thread("spam-dist-write", move || me.write_loop(&conn, ws));
        let (me, conn) = (self.clone(), c.clone());
        self.spawn_thread("spam-dist-read", move || me.read_loop(&conn, rs));
    }

    /// The writer thread: writes what senders queued (`Conn::push`), in order, and ticks after
    /// `net_ticktime / 4` without a write; drops the connection after `net_ticktime` without a
    /// word from the peer.
    fn write_loop(&self, c: &Conn, mut s: TcpStream) {
        let tick = self.ticktime / 4;
        let ok = loop {
            let batch = {
                let mut o = lock(&c.out);
                loop {
                    if o.closed {
                        return;
                    }
                    if !o.queue.is_empty() {
                        o.busy = true;
                        break Some(std::mem::take(&mut o.queue));
                    }
                    let (g, t) = c.wake.wait_timeout(o, tick).unwrap_or_else(|e| e.into_inner());
                    o = g;
                    if t.timed_out() && o.queue.is_empty() && !o.closed {
                        o.busy = true;
                        break None;
                    }
                }
            };
            let r = match batch {
                Some(frames) => {
                    let all: Vec<u8> = frames.into_iter().flatten().collect();
                    write_fully(&mut s, &all)
                }
                None => {
                    let silent = self.now_ms().saturating_sub(c.heard.load(Relaxed));
                    if silent > self.ticktime.as_millis() as u64 {
                        break false; // the peer stopped ticking
                    }
                    if c.wrote.swap(false, Relaxed) {
                        Ok(()) // senders wrote meanwhile: that is our sign of life
                    } else {
                        write_fully(&mut s, &control::TICK)
                    }
                }
            };
            lock(&c.out).busy = false;
            if r.is_err() {
                break false;
            }
        };
        if !ok {
            self.down(c);
        }
    }

    fn read_loop(self: &Arc<Self>, c: &Arc<Conn>, s: TcpStream) {
        let mut r = BufReader::with_capacity(64 << 10, s);
        loop {
            match control::read_frame(&mut r) {
                Ok(f) => {
                    c.heard.store(self.now_ms(), Relaxed);
                    if let Frame::Control(ctl) = f {
                        self.handle(c, ctl);
                    }
                }
                Err(e) => {
                    if e.kind() == io::ErrorKind::InvalidData && !self.stopping.load(Relaxed) {
                        eprintln!("spam: {}: closing the connection to {}: {e}", self.me, c.peer);
                    }
                    break;
                }
            }
        }
        self.down(c);
    }

    /// Takes `c` down (once): closes it and tells every process whose link or monitor crossed
    /// it.
    fn down(&self, c: &Conn) {
        let st = {
            let mut st = lock(&c.st);
            if st.phase == Phase::Down {
                return;
            }
            // What crossed the connection, taken whole; it is told below, outside the lock.
            std::mem::replace(&mut *st, ConnState::new(Phase::Down))
        };
        {
            let mut conns = lock(&self.conns);
            if conns.get(&c.peer).is_some_and(|x| std::ptr::eq(&**x, c)) {
                conns.remove(&c.peer);
            }
        }
        if let Some(s) = lock(&c.socket).take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        {
            let mut o = lock(&c.out);
            o.closed = true;
            o.sock = None;
            o.queue.clear();
        }
        c.wake.notify_all();
        let rt = self.rt();
        for (local, remote) in st.links {
            let _ = rt.deliver(local, RemoteSignal::Exit { from: remote, reason: Reason::Noconnection, link: true });
        }
        for (mref, (watcher, target)) in st.monitors_out {
            let _ = rt.deliver(watcher, RemoteSignal::Down { from: target, mref, reason: Reason::Noconnection });
        }
        for (mref, m) in st.monitors_in {
            let _ = rt.deliver(m.target, RemoteSignal::Demonitor { from: m.watcher, mref });
        }
        for (req, caller) in st.spawns {
            let _ = rt.send_message(caller, SpawnReply { req, result: Err(Reason::Noconnection) });
        }
    }

    /// The names of the nodes connected now.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let conns = lock(&self.conns);
        let mut v: Vec<String> =
            conns.values().filter(|c| lock(&c.st).phase == Phase::Up).map(|c| c.peer.as_str().to_string()).collect();
        v.sort();
        v
    }

    /// Closes the connection to `node` (Erlang's `disconnect_node/1`): `false` if there was none.
    pub(crate) fn disconnect(&self, node: &str) -> bool {
        match self.existing(node) {
            Some(c) => {
                self.down(&c);
                true
            }
            None => false,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.me.as_str()
    }

    // ---- Incoming ----

    /// Acts on one control message from `c`'s peer, in arrival order.
    fn handle(self: &Arc<Self>, c: &Arc<Conn>, ctl: Control) {
        let rt = self.rt();
        match ctl {
            Control::Send { to, msg } | Control::SendSender { to, msg, .. } => {
                if let Some(p) = self.term_pid(&to).filter(|p| !p.is_remote()) {
                    let _ = rt.send_message(p, msg);
                }
            }
            Control::RegSend { from, to, msg } => match to.as_atom() {
                Some("net_kernel") => self.net_kernel(c, from, msg),
                Some(name) => {
                    if let Some(p) = rt.whereis(name) {
                        let _ = rt.send_message(p, msg);
                    }
                }
                None => {}
            },
            Control::AliasSend { .. } => {} // we never hand out aliases (no DFLAG_ALIAS)
            Control::Link { from, to } => {
                let (Some(from), Some(to)) = (self.term_pid(&from), self.term_pid(&to)) else { return };
                c.record(|st| {
                    st.links.insert((to, from));
                });
                if to.is_remote() || rt.deliver(to, RemoteSignal::Link { from }).is_err() {
                    lock(&c.st).links.remove(&(to, from));
                    let exit = RemoteSignal::Exit { from: to, reason: Reason::Noproc, link: true };
                    self.signal_on(c, from, exit);
                }
            }
            Control::Unlink { from, to } => self.unlinked(c, from, to, None),
            Control::UnlinkId { id, from, to } => self.unlinked(c, from, to, Some(id)),
            Control::UnlinkIdAck { .. } => {}
            Control::Exit { from, to, reason } => self.exited(c, from, to, reason, true),
            Control::Exit2 { from, to, reason } => self.exited(c, from, to, reason, false),
            Control::Monitor { from, to, mref } => self.monitored(c, from, to, mref),
            Control::Demonitor { from, mref, .. } => {
                let Some(watcher) = self.term_pid(&from) else { return };
                let m = {
                    let mut st = lock(&c.st);
                    st.monitors_in_by_rref.remove(&mref).and_then(|l| st.monitors_in.remove(&l).map(|m| (l, m)))
                };
                if let Some((l, m)) = m {
                    let _ = rt.deliver(m.target, RemoteSignal::Demonitor { from: watcher, mref: l });
                }
            }
            // Its `from` is the pid, or the name, we monitored: our record's `target` stands for
            // either.
            Control::MonitorExit { mref, reason, .. } => {
                let Some(l) = self.term_ref(&mref) else { return };
                let Some((watcher, target)) = lock(&c.st).monitors_out.remove(&l) else { return };
                let _ = rt.deliver(watcher, RemoteSignal::Down { from: target, mref: l, reason: term_reason(reason) });
            }
            Control::SpawnRequest { req, from, mfa, opts, args, .. } => {
                self.spawn_request(c, req, from, mfa, opts, args)
            }
            Control::SpawnReply { req, to, result, .. } => {
                let (Some(req), Some(to)) = (self.term_ref(&req), self.term_pid(&to)) else { return };
                if lock(&c.st).spawns.remove(&req).is_none() {
                    return;
                }
                let result = match &result {
                    Term::Pid(_) => self.term_pid(&result).ok_or(Reason::Badarg),
                    other => Err(term_reason(other.clone())),
                };
                let _ = rt.send_message(to, SpawnReply { req, result });
            }
        }
    }

    /// A remote process unlinks from a local one; UNLINK_ID (`id`) is acknowledged.
    fn unlinked(&self, c: &Conn, from: Term, to: Term, id: Option<Term>) {
        let (Some(from_pid), Some(to_pid)) = (self.term_pid(&from), self.term_pid(&to)) else { return };
        lock(&c.st).links.remove(&(to_pid, from_pid));
        let _ = self.rt().deliver(to_pid, RemoteSignal::Unlink { from: from_pid });
        if let Some(id) = id {
            c.push(&Control::UnlinkIdAck { id, from: to, to: from });
        }
    }

    /// An exit signal from a remote process: of a link (`link`), or `exit/2`.
    fn exited(&self, c: &Conn, from: Term, to: Term, reason: Term, link: bool) {
        let (Some(from), Some(to)) = (self.term_pid(&from), self.term_pid(&to)) else { return };
        if link {
            lock(&c.st).links.remove(&(to, from));
        }
        let _ = self.rt().deliver(to, RemoteSignal::Exit { from, reason: term_reason(reason), link });
    }

    /// A remote process monitors a local one (by pid or registered name).
    fn monitored(&self, c: &Arc<Conn>, from: Term, to: Term, rref: Term) {
        let rt = self.rt();
        let Some(watcher) = self.term_pid(&from) else { return };
        if to.as_atom() == Some("net_kernel") {
            // The node's own net_kernel (answered by `net_kernel` below) lives as long as the
            // connection: the monitor fires only as `noconnection`, which the watcher's node
            // gives itself.
            return;
        }
        let (target, name) = match &to {
            Term::Atom(a) => (rt.whereis(a.as_str()), Some(a.clone())),
            t => (self.term_pid(t).filter(|p| !p.is_remote()), None),
        };
        let l = Ref::make();
        let recorded = target.is_some_and(|target| {
            c.record(|st| {
                st.monitors_in_by_rref.insert(rref.clone(), l);
                st.monitors_in.insert(l, MonitorIn { watcher, target, rref: rref.clone(), name: name.clone() });
            })
        });
        let alive = recorded
            && target
                .is_some_and(|target| rt.deliver(target, RemoteSignal::Monitor { from: watcher, mref: l }).is_ok());
        if !alive {
            if recorded {
                let mut st = lock(&c.st);
                st.monitors_in.remove(&l);
                st.monitors_in_by_rref.remove(&rref);
            }
            let from = name.map_or_else(|| to.clone(), Term::Atom);
            c.push(&Control::MonitorExit {
                from,
                to: self.pid_term(watcher),
                mref: rref,
                reason: Term::atom("noproc"),
            });
        }
    }

    /// net_kernel's part of `net_adm:ping`: `{'$gen_call', {From, Tag}, {is_auth, Node}}` is
    /// answered `{Tag, yes}`.
    fn net_kernel(&self, c: &Conn, _from: Term, msg: Term) {
        let Term::Tuple(call) = msg else { return };
        let [Term::Atom(tag), Term::Tuple(from_tag), req] = &call[..] else { return };
        if tag.as_str() != "$gen_call" || from_tag.len() != 2 {
            return;
        }
        let is_auth = matches!(req, Term::Tuple(r) if r.first().and_then(Term::as_atom) == Some("is_auth"));
        if is_auth {
            let reply = Term::tuple(vec![from_tag[1].clone(), Term::atom("yes")]);
            c.push(&Control::Send { to: from_tag[0].clone(), msg: reply });
        }
    }

    /// SPAWN_REQUEST: starts the registered entry point `{M, F}` with the arguments (a process
    /// that exits `undef` if there is none, as Erlang's does), answering SPAWN_REPLY from the
    /// child's first poll, so the reply precedes anything the child sends.
    fn spawn_request(self: &Arc<Self>, c: &Arc<Conn>, req: Term, from: Term, mfa: Term, opts: Term, args: Term) {
        let rt = self.rt();
        let Some(caller) = self.term_pid(&from) else { return };
        let (module, function) = match &mfa {
            Term::Tuple(t) if t.len() == 3 => {
                (t[0].as_atom().unwrap_or("").to_string(), t[1].as_atom().unwrap_or("").to_string())
            }
            _ => Default::default(),
        };
        let args: Vec<Term> = match args {
            Term::List(v, tail) if *tail == Term::Nil => v,
            _ => Vec::new(),
        };
        let opt = |name: &str| matches!(&opts, Term::List(v, _) if v.iter().any(|o| o.as_atom() == Some(name)));
        let (link, monitor) = (opt("link"), opt("monitor"));
        let entry =
            self.entries.read().unwrap_or_else(|e| e.into_inner()).get(&(module.clone(), function.clone())).cloned();
        let body: Pin<Box<dyn Future<Output = ()> + Send>> = match entry {
            Some(f) => f(args),
            None => Box::pin(async move {
                let undef = Term::tuple(vec![
                    Term::atom("undef"),
                    Term::tuple(vec![Term::atom(&module), Term::atom(&function)]),
                ]);
                crate::exit_self(Reason::other(undef))
            }),
        };
        let (node, conn, req_again) = (self.clone(), c.clone(), req.clone());
        let child = async move {
            let me = crate::self_pid();
            let mut flags = 0;
            if link && crate::link(caller).is_ok() {
                flags |= 1;
            }
            if monitor {
                let l = Ref::make();
                let recorded = conn.record(|st| {
                    st.monitors_in_by_rref.insert(req.clone(), l);
                    st.monitors_in.insert(l, MonitorIn { watcher: caller, target: me, rref: req.clone(), name: None });
                });
                if recorded && node.rt().deliver(me, RemoteSignal::Monitor { from: caller, mref: l }).is_ok() {
                    flags |= 2;
                }
            }
            // SPAWN_REPLY before the LINK the `link` above queued would be the natural order,
            // but ERTS accepts either: a link it already has is a no-op.
            conn.push(&Control::SpawnReply {
                req,
                to: node.pid_term(caller),
                flags: Term::from(flags),
                result: node.pid_term(me),
            });
            body.await
        };
        if let Err(e) = rt.spawn(None, child, SpawnOpts::new()) {
            let why = match e {
                spam_vm::SpawnError::TableFull => "system_limit",
                _ => "badarg",
            };
            c.push(&Control::SpawnReply { req: req_again, to: from, flags: Term::from(0), result: Term::atom(why) });
        }
    }

    // ---- Outgoing ----

    /// Sends `sig` for the remote `to` on `c`, recording what it sets up.
    fn signal_on(&self, c: &Conn, to: Pid, sig: RemoteSignal) {
        let rt = self.rt();
        let to_term = self.pid_term(to);
        // `{Name, Node}` (`Pid::remote_name`): monitored by its name.
        let name = to.remote_parts().and_then(|p| p.name);
        let named = name.is_some();
        let monitored = || name.as_deref().map_or_else(|| to_term.clone(), Term::atom);
        match sig {
            RemoteSignal::Link { from } => {
                if named
                    || !c.record(|st| {
                        st.links.insert((from, to));
                    })
                {
                    let reason = if named { Reason::Noproc } else { Reason::Noconnection };
                    let _ = rt.deliver(from, RemoteSignal::Exit { from: to, reason, link: true });
                    return;
                }
                c.push(&Control::Link { from: self.pid_term(from), to: to_term });
            }
            RemoteSignal::Unlink { from } => {
                let flags = {
                    let mut st = lock(&c.st);
                    st.links.remove(&(from, to));
                    st.flags
                };
                let from = self.pid_term(from);
                if flags & UNLINK_ID != 0 {
                    let id = Term::from(self.next_id.fetch_add(1, Relaxed) as i64);
                    c.push(&Control::UnlinkId { id, from, to: to_term });
                } else {
                    c.push(&Control::Unlink { from, to: to_term });
                }
            }
            RemoteSignal::Exit { from, reason, link } => {
                if link {
                    lock(&c.st).links.remove(&(from, to));
                }
                let (from, reason) = (self.pid_term(from), reason_term(&reason));
                c.push(&if link {
                    Control::Exit { from, to: to_term, reason }
                } else {
                    Control::Exit2 { from, to: to_term, reason }
                });
            }
            RemoteSignal::Monitor { from, mref } => {
                if !c.record(|st| {
                    st.monitors_out.insert(mref, (from, to));
                }) {
                    let _ = rt.deliver(from, RemoteSignal::Down { from: to, mref, reason: Reason::Noconnection });
                    return;
                }
                c.push(&Control::Monitor { from: self.pid_term(from), to: monitored(), mref: self.ref_term(mref) });
            }
            RemoteSignal::Demonitor { from, mref } => {
                if lock(&c.st).monitors_out.remove(&mref).is_none() {
                    return;
                }
                c.push(&Control::Demonitor { from: self.pid_term(from), to: monitored(), mref: self.ref_term(mref) });
            }
            RemoteSignal::Down { from, mref, reason } => {
                let m = {
                    let mut st = lock(&c.st);
                    let m = st.monitors_in.remove(&mref);
                    if let Some(m) = &m {
                        st.monitors_in_by_rref.remove(&m.rref);
                    }
                    m
                };
                if let Some(m) = m {
                    let from = m.name.map_or_else(|| self.pid_term(from), Term::Atom);
                    c.push(&Control::MonitorExit { from, to: to_term, mref: m.rref, reason: reason_term(&reason) });
                }
            }
        }
    }

    /// `spawn_remote`'s request: the caller then waits for its [`SpawnReply`].
    pub(crate) fn spawn_remote(
        self: &Arc<Self>,
        caller: Pid,
        node: &str,
        module: &str,
        function: &str,
        args: Vec<Term>,
    ) -> Ref {
        let req = Ref::make();
        let c = self.conn_for(node);
        let arity = args.len() as i64;
        if !c.record(|st| {
            st.spawns.insert(req, caller);
        }) {
            let _ = self.rt().send_message(caller, SpawnReply { req, result: Err(Reason::Noconnection) });
            return req;
        }
        c.push(&Control::SpawnRequest {
            req: self.ref_term(req),
            from: self.pid_term(caller),
            group_leader: self.pid_term(caller),
            mfa: Term::tuple(vec![Term::atom(module), Term::atom(function), Term::from(arity)]),
            opts: Term::Nil,
            args: Term::list(args),
        });
        req
    }
}

impl Distribution for Hook {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn send(&self, from: Option<Pid>, to: Pid, msg: Msg) {
        let s = &self.0;
        let Some(parts) = to.remote_parts() else { return };
        let msg = match msg.downcast::<Term>() {
            Ok(t) => t,
            // `spam::send` refuses a non-term for a remote pid before it gets here; a message
            // that still does (a timer's, say) is dropped, as to a dead pid.
            Err(m) => return spam_scheduler::contain::drop_value(m),
        };
        if *parts.node == *s.me.as_str() {
            // Our own node under a remote-looking pid (a name): delivered here.
            if let Some(p) = parts.name.and_then(|n| s.rt().whereis(&n)) {
                let _ = s.rt().send_message(p, msg);
            }
            return;
        }
        let c = s.conn_for(&parts.node);
        match parts.name {
            Some(name) => {
                let from = from.map_or_else(|| Term::atom("undefined"), |p| s.pid_term(p));
                c.push(&Control::RegSend { from, to: Term::atom(&name), msg })
            }
            None => c.push(&Control::Send { to: s.pid_term(to), msg }),
        }
    }

    fn signal(&self, to: Pid, sig: RemoteSignal) {
        let s = &self.0;
        let Some(parts) = to.remote_parts() else { return };
        // Answers to what crossed a connection need that connection; the rest dial on demand.
        let c = match sig {
            RemoteSignal::Link { .. } | RemoteSignal::Monitor { .. } | RemoteSignal::Exit { link: false, .. } => {
                s.conn_for(&parts.node)
            }
            _ => match s.existing(&parts.node) {
                Some(c) => c,
                None => return,
            },
        };
        s.signal_on(&c, to, sig);
    }
}

impl Hook {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

/// The node of the runtime `rt`, if it has one.
pub(crate) fn of(rt: &Runtime) -> Option<&Arc<Shared>> {
    rt.distribution()?.as_any().downcast_ref::<Hook>().map(Hook::shared)
}

/// A pid as node `me` (incarnation `creation`) puts it on the wire.
pub(crate) fn pid_term(me: &Atom, creation: u32, p: Pid) -> Term {
    match p.remote_parts() {
        Some(r) => {
            Term::Pid(ExternalPid { node: Atom::new(&r.node), id: r.id, serial: r.serial, creation: r.creation })
        }
        None => Term::Pid(ExternalPid { node: me.clone(), id: p.index(), serial: p.serial(), creation }),
    }
}

/// A wire pid as node `me` reads it.
pub(crate) fn term_pid(me: &Atom, creation: u32, t: &Term) -> Option<Pid> {
    let Term::Pid(p) = t else { return None };
    if p.node == *me {
        let local = p.creation == creation && p.id & spam_vm::remote::REMOTE_BIT == 0;
        return local.then(|| Pid::from_bits((u64::from(p.serial) << 32) | u64::from(p.id)));
    }
    Some(Pid::remote(p.node.as_str(), p.id, p.serial, p.creation))
}

/// Writes all of `buf` on a socket with a short write timeout (`DIRECT_WRITE_TIMEOUT`):
/// waits out a full buffer instead of failing.
fn write_fully(s: &mut TcpStream, buf: &[u8]) -> io::Result<()> {
    let mut off = 0;
    while off < buf.len() {
        match s.write(&buf[off..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A reference of node `me` on the wire (three words, as ERTS makes them).
pub(crate) fn ref_term(me: &Atom, creation: u32, r: Ref) -> Term {
    let b = r.to_bits();
    Term::Reference(ExternalRef { node: me.clone(), creation, ids: vec![b as u32, (b >> 32) as u32, 0] })
}

/// Node `me`'s reference back from the wire; `None` for another node's.
pub(crate) fn term_ref(me: &Atom, creation: u32, t: &Term) -> Option<Ref> {
    match t {
        Term::Reference(r) if r.node == *me && r.creation == creation && r.ids.len() >= 2 => {
            Some(Ref::from_bits(u64::from(r.ids[0]) | (u64::from(r.ids[1]) << 32)))
        }
        _ => None,
    }
}

/// An exit reason as the wire carries it: Erlang's atoms for ours, a user reason that is a
/// [`Term`] as itself, a panic as `{panic, Message}`, any other user reason as its `Debug`
/// text in a binary.
pub(crate) fn reason_term(r: &Reason) -> Term {
    match r {
        Reason::Panic(m) => Term::tuple(vec![Term::atom("panic"), Term::binary(m.as_bytes())]),
        Reason::Other(v) => match (**v).as_any().downcast_ref::<Term>() {
            Some(t) => t.clone(),
            None => Term::binary(format!("{v:?}").into_bytes()),
        },
        other => Term::atom(&other.to_string()),
    }
}

/// A wire reason as a [`Reason`]: the atoms of our variants as them, anything else a user
/// reason holding the term.
pub(crate) fn term_reason(t: Term) -> Reason {
    match t.as_atom() {
        Some("normal") => Reason::Normal,
        Some("kill") => Reason::Kill,
        Some("killed") => Reason::Killed,
        Some("noproc") => Reason::Noproc,
        Some("shutdown") => Reason::Shutdown,
        Some("badarg") => Reason::Badarg,
        Some("system_limit") => Reason::SystemLimit,
        Some("noconnection") => Reason::Noconnection,
        _ => Reason::other(t),
    }
}
