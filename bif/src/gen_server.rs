//! `gen_server`: Erlang's generic server, with typed requests and replies.
//!
//! A server is a type implementing [`GenServer`]: its value is the server's state, and its
//! callbacks (`init`, `handle_call`, `handle_cast`, `handle_info`, `handle_continue`,
//! `terminate`) are `async`, so a callback may itself call other servers. [`start`] and
//! [`start_link`] run `init` in the new process and return once it has finished; [`call`] sends a
//! request and waits for its reply the Erlang way (a monitor on the server, a unique tag, a
//! selective receive on the reply or the server's `Down`); [`cast`] sends without waiting;
//! [`reply`] answers a deferred call from any process; [`stop`] stops a server and waits for it.
//!
//! ```
//! use spam::gen_server::{self, CallResult, GenServer, Init, Next};
//!
//! /// A counter: `call` with an increment returns the new value.
//! struct Counter(u64);
//!
//! impl GenServer for Counter {
//!     type Args = u64;
//!     type Call = u64;
//!     type Reply = u64;
//!     type Cast = ();
//!
//!     async fn init(start: u64) -> Init<Self> {
//!         Init::ok(Counter(start))
//!     }
//!     async fn handle_call(&mut self, by: u64, _from: gen_server::ReplyTo<u64>) -> CallResult<u64> {
//!         self.0 += by;
//!         CallResult::reply(self.0)
//!     }
//! }
//!
//! let vm = spam::Vm::new();
//! vm.block_on(async {
//!     let counter = gen_server::start::<Counter>(40).await.unwrap();
//!     gen_server::call(counter, 1).await.unwrap();
//!     assert_eq!(gen_server::call(counter, 1).await, Ok(42));
//!     gen_server::stop(counter, spam::Reason::Normal, gen_server::DEFAULT_TIMEOUT).await.unwrap();
//! });
//! ```
//!
//! # Where SPAM differs from OTP 25, and why
//! - **Typed messages.** Requests, replies and casts have the types the server declares, so
//!   OTP's `bad_return_value` and `undef` crashes for a wrong tuple cannot happen: the compiler
//!   refuses them. Other messages reach `handle_info` as [`Msg`].
//! - **Errors are values.** [`call`] returns `Err(CallError)` where OTP's `gen_server:call`
//!   exits the caller (`{timeout, ..}`, `{noproc, ..}`, `{Reason, ..}`, `calling_self`); the
//!   caller decides whether to crash.
//! - **Nothing of a call outlives it.** As with OTP ≥ 24's aliases, a call's reply goes to an
//!   alias of the caller that dies with the call, so a reply after a timeout is dropped by the
//!   VM. SPAM goes further: when the call ends it also flushes what of it is already queued, so a
//!   second reply to the same call (OTP delivers it, rule 5), a reply racing the timeout or the
//!   server's `Down`, and a call abandoned mid-way (its future dropped) leave nothing behind.
//! - **No hibernation** (Rust has no per-process heap to compact); the `hibernate` return and
//!   `hibernate_after` have no equivalent.
//! - **No `sys` module**: `stop` sends an ordinary (typed, private) message, queued behind the
//!   messages already sent, as OTP's system message is.
//! - **Callback panics** are OTP's `error:R`: `terminate` runs with [`Reason::Panic`], then the
//!   server exits with it. [`exit_self`] in a callback is OTP's `exit:R`.

use crate::process::current;
use crate::{
    exit, exit_self, monitor, receive, receive_match_timeout, receive_timeout, self_pid, send_async, try_send,
    try_spawn_opt, unlink, whereis, Down, Exit, Msg, Pid, Reason, Ref, RegisterError, SpawnError, SpawnOpts,
};
use spam_vm::Tagged;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The timeout of [`call`] and of the supervisor's shutdown of a worker: 5 s, as OTP's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits without a limit (OTP's `infinity`): for [`call_timeout`], [`stop`] and
/// [`StartOpts::timeout`].
pub const INFINITY: Duration = Duration::MAX;

/// A generic server: the implementing type is the server's state.
///
/// `init` and `handle_call` are required; the other callbacks have OTP's defaults:
/// `handle_info` drops the message, `terminate` does nothing, and `handle_cast` and
/// `handle_continue` panic (OTP crashes with `undef` when they are missing).
pub trait GenServer: Sized + Send + 'static {
    /// What [`start`] passes to `init`.
    type Args: Send + 'static;
    /// The requests of [`call`].
    type Call: Send + 'static;
    /// The replies to them.
    type Reply: Send + 'static;
    /// The messages of [`cast`] (`()` if the server takes none).
    type Cast: Send + 'static;

    /// The behaviour's name, shown by `process_info` and the observer (`"gen_server"`; the
    /// supervisor, built on this trait, says `"supervisor"`).
    #[doc(hidden)]
    const BEHAVIOUR: &'static str = "gen_server";

    /// Runs in the new server process before [`start`] returns: the state, or why not.
    fn init(args: Self::Args) -> impl Future<Output = Init<Self>> + Send;

    /// Handles a [`call`]. Reply now ([`CallResult::reply`]), or later with [`reply`] on a clone
    /// of `from` ([`CallResult::noreply`]).
    fn handle_call(
        &mut self,
        request: Self::Call,
        from: ReplyTo<Self::Reply>,
    ) -> impl Future<Output = CallResult<Self::Reply>> + Send;

    /// Handles a [`cast`]. The default panics: a server that takes casts implements it.
    fn handle_cast(&mut self, msg: Self::Cast) -> impl Future<Output = Next> + Send {
        drop(msg);
        async { panic!("gen_server: handle_cast is not implemented by {}", std::any::type_name::<Self>()) }
    }

    /// Handles any other message (an [`Exit`] while trapping exits, a [`Down`], a [`Timeout`]
    /// after [`Next::Timeout`], anything sent with `spam::send`). The default drops it.
    fn handle_info(&mut self, msg: Msg) -> impl Future<Output = Next> + Send {
        drop(msg);
        async { Next::Wait }
    }

    /// Runs after a callback returned [`Next::Continue`], before any other message.
    fn handle_continue(&mut self, cont: Msg) -> impl Future<Output = Next> + Send {
        drop(cont);
        async { panic!("gen_server: handle_continue is not implemented by {}", std::any::type_name::<Self>()) }
    }

    /// Runs when the server stops: a callback returned [`Next::Stop`], [`stop`] was called, a
    /// callback panicked, or, if the server traps exits, its parent's exit arrived. Never on
    /// `Kill`, and never when an exit signal kills a server that does not trap exits.
    fn terminate(&mut self, reason: &Reason) -> impl Future<Output = ()> + Send {
        let _ = reason;
        async {}
    }
}

/// What the server does after a callback (OTP's `{noreply, S}`, `{noreply, S, Timeout}`,
/// `{noreply, S, {continue, C}}`, `{stop, R, S}`).
#[derive(Debug)]
pub enum Next {
    /// Waits for the next message.
    Wait,
    /// Waits for the next message at most this long; then `handle_info` gets a [`Timeout`].
    Timeout(Duration),
    /// Calls `handle_continue` with this value before any other message.
    Continue(Msg),
    /// Stops: `terminate(reason)`, then the server exits with `reason`.
    Stop(Reason),
}

impl Next {
    /// [`Next::Continue`] with `value`.
    ///
    /// ```
    /// use spam::gen_server::Next;
    /// assert!(matches!(Next::cont("step 2"), Next::Continue(m) if m.is::<&str>()));
    /// ```
    pub fn cont<T: Send + 'static>(value: T) -> Next {
        Next::Continue(Msg::new(value))
    }
}

/// The message `handle_info` gets when a [`Next::Timeout`] passes without a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

/// The result of `init`.
#[derive(Debug)]
pub enum Init<S> {
    /// Started with this state, then does `Next` (OTP `{ok, S}` and its 3-tuples).
    Ok(S, Next),
    /// Does not start: [`start`] returns `Err(StartError::Ignored)` and the process exits
    /// `Normal` (OTP `ignore`).
    Ignore,
    /// Does not start: [`start`] returns `Err(StartError::Failed(reason))` and the process exits
    /// with `reason` (OTP `{stop, R}`).
    Stop(Reason),
}

impl<S> Init<S> {
    /// Started with `state`, waiting for messages (OTP `{ok, S}`).
    ///
    /// ```
    /// use spam::gen_server::{Init, Next};
    /// assert!(matches!(Init::ok(7u8), Init::Ok(7, Next::Wait)));
    /// ```
    pub fn ok(state: S) -> Init<S> {
        Init::Ok(state, Next::Wait)
    }
}

/// The result of `handle_call`.
#[derive(Debug)]
pub enum CallResult<R> {
    /// Replies, then does `Next`. With [`Next::Stop`], `terminate` runs first and the reply is
    /// sent after it (OTP `{stop, R, Reply, S}`).
    Reply(R, Next),
    /// Does not reply now (a clone of `from` answers later with [`reply`]), then does `Next`.
    NoReply(Next),
}

impl<R> CallResult<R> {
    /// Replies `value` and waits for the next message (OTP `{reply, R, S}`).
    ///
    /// ```
    /// use spam::gen_server::{CallResult, Next};
    /// assert!(matches!(CallResult::reply(1u8), CallResult::Reply(1, Next::Wait)));
    /// ```
    pub fn reply(value: R) -> CallResult<R> {
        CallResult::Reply(value, Next::Wait)
    }
    /// No reply now (OTP `{noreply, S}`): answer later with [`reply`].
    ///
    /// ```
    /// use spam::gen_server::{CallResult, Next};
    /// assert!(matches!(CallResult::<u8>::noreply(), CallResult::NoReply(Next::Wait)));
    /// ```
    pub fn noreply() -> CallResult<R> {
        CallResult::NoReply(Next::Wait)
    }
}

/// Where a call's reply goes: the caller and the alias of that one call. Pass a clone to
/// another process to answer from there with [`reply`].
pub struct ReplyTo<R> {
    pid: Pid,
    tag: Ref,
    _reply: PhantomData<fn(R)>,
}

impl<R> Clone for ReplyTo<R> {
    fn clone(&self) -> Self {
        ReplyTo { pid: self.pid, tag: self.tag, _reply: PhantomData }
    }
}

impl<R> std::fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplyTo({}, {:?})", self.pid, self.tag)
    }
}

impl<R> ReplyTo<R> {
    /// The calling process.
    ///
    /// ```
    /// use spam::gen_server::{self, CallResult, GenServer, Init};
    /// /// Answers with the caller's pid.
    /// struct Who;
    /// impl GenServer for Who {
    ///     type Args = ();
    ///     type Call = ();
    ///     type Reply = spam::Pid;
    ///     type Cast = ();
    ///     async fn init(_: ()) -> Init<Self> { Init::ok(Who) }
    ///     async fn handle_call(&mut self, _: (), from: gen_server::ReplyTo<spam::Pid>) -> CallResult<spam::Pid> {
    ///         CallResult::reply(from.pid())
    ///     }
    /// }
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let s = gen_server::start::<Who>(()).await.unwrap();
    ///     assert_eq!(gen_server::call(s, ()).await, Ok(spam::self_pid()));
    /// });
    /// ```
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

/// The reply on the wire, as `Tagged<ReplyMsg<R>>` to the caller's alias (the call's monitor).
struct ReplyMsg<R>(R);

/// Answers a call (OTP `gen_server:reply/2`), from any process. Never fails: a reply to a
/// caller that has died, timed out or been answered already is dropped.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::gen_server::{self, CallResult, GenServer, Init};
///
/// /// Answers each call from a helper process.
/// struct Deferred;
/// impl GenServer for Deferred {
///     type Args = ();
///     type Call = u32;
///     type Reply = u32;
///     type Cast = ();
///     async fn init(_: ()) -> Init<Self> { Init::ok(Deferred) }
///     async fn handle_call(&mut self, n: u32, from: gen_server::ReplyTo<u32>) -> CallResult<u32> {
///         spam::spawn(async move { gen_server::reply(&from, n + 1) });
///         CallResult::noreply()
///     }
/// }
///
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let s = gen_server::start::<Deferred>(()).await.unwrap();
///     assert_eq!(gen_server::call(s, 1).await, Ok(2));
/// });
/// ```
#[track_caller]
pub fn reply<R: Send + 'static>(from: &ReplyTo<R>, value: R) {
    current("gen_server::reply", |p| p.reply(from.pid, from.tag, ReplyMsg(value)))
}

/// A server: by pid, or by registered name (resolved at each use, so it follows a restarted
/// server). `Copy`; typed by the server's `GenServer` impl, so `call` takes only its requests.
pub struct Server<G> {
    target: Target,
    _server: PhantomData<fn() -> G>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Pid(Pid),
    Name(&'static str),
}

impl<G> Clone for Server<G> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<G> Copy for Server<G> {}
impl<G> PartialEq for Server<G> {
    fn eq(&self, other: &Self) -> bool {
        self.target == other.target
    }
}
impl<G> Eq for Server<G> {}
impl<G> std::fmt::Debug for Server<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.target {
            Target::Pid(p) => write!(f, "Server<{}>({p})", std::any::type_name::<G>()),
            Target::Name(n) => write!(f, "Server<{}>({n:?})", std::any::type_name::<G>()),
        }
    }
}

impl<G: GenServer> Server<G> {
    /// The server registered as `name`, looked up at each `call`, `cast` and `stop`.
    ///
    /// ```
    /// use spam::gen_server::{Server, GenServer};
    /// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
    /// #   async fn init(_: ()) -> spam::gen_server::Init<S> { spam::gen_server::Init::ok(S) }
    /// #   async fn handle_call(&mut self, _: (), _: spam::gen_server::ReplyTo<()>) -> spam::gen_server::CallResult<()> { spam::gen_server::CallResult::reply(()) } }
    /// let db: Server<S> = Server::named("db");
    /// # let _ = db;
    /// ```
    pub const fn named(name: &'static str) -> Server<G> {
        Server { target: Target::Name(name), _server: PhantomData }
    }

    /// The server at `pid` (the caller promises it runs `G`).
    ///
    /// ```
    /// # use spam::gen_server::{self, CallResult, GenServer, Init};
    /// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
    /// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
    /// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
    /// use spam::gen_server::Server;
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let pid = gen_server::start::<S>(()).await.unwrap().pid().unwrap();
    ///     assert_eq!(gen_server::call(Server::<S>::from_pid(pid), ()).await, Ok(()));
    /// });
    /// ```
    pub const fn from_pid(pid: Pid) -> Server<G> {
        Server { target: Target::Pid(pid), _server: PhantomData }
    }

    /// Its pid now: `None` for a name nobody holds.
    ///
    /// # Panics
    /// Outside a process, for a server by name.
    ///
    /// ```
    /// # use spam::gen_server::{self, CallResult, GenServer, Init};
    /// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
    /// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
    /// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
    /// use spam::gen_server::Server;
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let s = gen_server::start::<S>(()).await.unwrap();
    ///     assert!(s.pid().is_some_and(spam::is_alive));
    ///     assert_eq!(Server::<S>::named("nobody").pid(), None);
    /// });
    /// ```
    pub fn pid(self) -> Option<Pid> {
        match self.target {
            Target::Pid(p) => Some(p),
            Target::Name(n) => whereis(n),
        }
    }
}

/// Ends a request (a `call`, `stop` or `start`): deactivates its alias, stops its monitor, and
/// flushes from the queue whatever of it is there (for a call: a second reply, a reply that came
/// with or after the server's `Down`, a reply that raced the timeout), so nothing of a request
/// outlives it: OTP ≥ 24 drops such replies at the alias, and the one already queued is this
/// request's too. Runs when the request returns and also when the caller drops its future
/// mid-way (a `select`, say).
struct Undo<F: FnMut(&Msg) -> bool> {
    mref: Ref,
    alias: Option<Ref>,
    /// The queue's end when the request began: nothing of it can be before.
    mark: spam_vm::process::QueueMark,
    /// This request's answers (besides the monitor's `Down`).
    answer: F,
}

impl<F: FnMut(&Msg) -> bool> Undo<F> {
    fn new(mref: Ref, alias: Option<Ref>, mark: spam_vm::process::QueueMark, answer: F) -> Self {
        Undo { mref, alias, mark, answer }
    }
}

impl<F: FnMut(&Msg) -> bool> Drop for Undo<F> {
    fn drop(&mut self) {
        let mref = self.mref;
        // Unchecked and without `demonitor`'s flush: neither may unwind (a drop may run while
        // the caller unwinds). Outside a process (the future dropped at shutdown) there is
        // nothing to undo.
        let _ = spam_vm::context::with_current_unchecked(|p| {
            if let Some(a) = self.alias {
                p.unalias(a); // from here on, the VM drops an answer to it
            }
            p.demonitor(mref, false); // ... and the monitor's `Down`
            let answer = &mut self.answer;
            p.flush_queued(Some(self.mark), |m| {
                answer(m) || m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref)
            });
        });
    }
}

/// Why [`call`] (or [`stop`]) got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No reply within the timeout (OTP: the caller exits `{timeout, ..}`).
    Timeout,
    /// The server was not alive, or no process held its name (OTP `noproc`).
    Noproc,
    /// The server exited with this reason before replying (OTP `{Reason, ..}`), also
    /// `Normal`.
    Exit(Reason),
    /// The caller is the server itself (OTP `calling_self`).
    CallingSelf,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => f.write_str("gen_server call timed out"),
            CallError::Noproc => f.write_str("gen_server is not running (noproc)"),
            CallError::Exit(r) => write!(f, "gen_server exited before replying: {r}"),
            CallError::CallingSelf => f.write_str("gen_server called itself"),
        }
    }
}
impl std::error::Error for CallError {}

/// A call on the wire, as `Tagged<CallMsg<Q, R>>` from the caller with the call's monitor
/// (`Process::request`); `R` keeps calls of servers with other reply types apart.
struct CallMsg<Q, R>(Q, PhantomData<fn(R)>);

/// A cast on the wire.
struct CastMsg<C>(C);

/// `stop` on the wire.
struct StopMsg(Reason);

/// A selective receive for a reply tagged with a fresh reference: the messages queued now cannot
/// match, so it skips them (`Receive::skip_queued`). Made before anything of the request can
/// arrive, and awaited after (`awaited`): what arrives in between is after its start, also
/// while the request waits for room in a full mailbox (the `Down` of a server that dies then).
/// `pred` calls no process function.
fn receive_after_queued<P: FnMut(&Msg) -> bool + Unpin>(
    p: &spam_vm::Process,
    pred: P,
    timeout: Duration,
) -> spam_vm::Receive<P> {
    spam_vm::Receive::new_trusted(pred, crate::message::limit(timeout)).skip_queued(p)
}

/// Awaits a [`receive_after_queued`] where it lies (`Receive::in_place`).
async fn awaited<P: FnMut(&Msg) -> bool + Unpin>(r: &mut spam_vm::Receive<P>) -> Option<Msg> {
    match r.in_place().await {
        Ok(m) => m,
        Err(_) => crate::process::outside("gen_server::call"),
    }
}

/// The reply of the call whose monitor (and alias) is `mref`.
fn is_reply<R: 'static>(mref: Ref) -> impl Fn(&Msg) -> bool + Copy + Unpin {
    move |m: &Msg| m.downcast_ref::<Tagged<ReplyMsg<R>>>().is_some_and(|r| r.tag == mref)
}

/// What ends the call whose monitor is `mref`: its reply, or its monitor's `Down`.
fn is_ours<R: 'static>(mref: Ref) -> impl Fn(&Msg) -> bool + Copy + Unpin {
    move |m: &Msg| is_reply::<R>(mref)(m) || m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref)
}

/// Calls `server` with the default 5 s timeout ([`DEFAULT_TIMEOUT`]); see [`call_timeout`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// # use spam::gen_server::{self, CallResult, GenServer, Init};
/// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
/// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
/// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let s = gen_server::start::<S>(()).await.unwrap();
///     assert_eq!(gen_server::call(s, ()).await, Ok(()));
/// });
/// ```
pub fn call<G: GenServer>(server: Server<G>, request: G::Call) -> impl Future<Output = Result<G::Reply, CallError>> {
    call_timeout(server, request, DEFAULT_TIMEOUT) // its future itself: not wrapped in another
}

/// Sends `request` to `server` and waits at most `timeout` ([`INFINITY`] for no limit) for the
/// reply (OTP `gen_server:call/3`). The caller monitors the server for the call, so a server
/// that dies, or is not there, ends the wait at once. A reply that arrives after the timeout is
/// dropped by the VM: it never lands in the caller's mailbox.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::gen_server::{self, CallError, CallResult, GenServer, Init, Server};
/// use std::time::Duration;
///
/// struct Slow;
/// impl GenServer for Slow {
///     type Args = ();
///     type Call = Duration;
///     type Reply = ();
///     type Cast = ();
///     async fn init(_: ()) -> Init<Self> { Init::ok(Slow) }
///     async fn handle_call(&mut self, d: Duration, _: gen_server::ReplyTo<()>) -> CallResult<()> {
///         spam::sleep(d).await;
///         CallResult::reply(())
///     }
/// }
///
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let s = gen_server::start::<Slow>(()).await.unwrap();
///     let r = gen_server::call_timeout(s, Duration::from_millis(50), Duration::from_millis(1)).await;
///     assert_eq!(r, Err(CallError::Timeout));
///     spam::sleep(Duration::from_millis(100)).await; // the late reply is sent meanwhile ...
///     assert!(spam::receive_timeout(Duration::ZERO).await.is_none()); // ... and never arrives
///     let nobody: Server<Slow> = Server::named("nobody");
///     assert_eq!(gen_server::call(nobody, Duration::ZERO).await, Err(CallError::Noproc));
/// });
/// ```
pub fn call_timeout<G: GenServer>(
    server: Server<G>,
    request: G::Call,
    timeout: Duration,
) -> impl Future<Output = Result<G::Reply, CallError>> {
    // The future's first state holds its arguments, and an awaiting caller copies it: as whole
    // nanoseconds (`u64::MAX`: no limit) the timeout copies cleanly, where a `Duration` (a word
    // and a `u32`) made the copy reload 16 bytes across what had been stored in other pieces,
    // a store-forwarding stall of 10 ns per call.
    call_nanos(server, request, u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX))
}

/// [`call_timeout`] with its timeout in nanoseconds.
async fn call_nanos<G: GenServer>(server: Server<G>, request: G::Call, nanos: u64) -> Result<G::Reply, CallError> {
    let timeout = if nanos == u64::MAX { INFINITY } else { Duration::from_nanos(nanos) };
    let Some(pid) = server.pid() else {
        return Err(CallError::Noproc);
    };
    let me = self_pid();
    if pid == me {
        return Err(CallError::CallingSelf);
    }
    // `monitor(process, Pid, [{alias, reply_demonitor}])` and the send, as one node: the
    // monitor's reference is the reply's alias (`Process::request`).
    let (mark, mref, rest, mut receive) = current("gen_server::call", |p| {
        let mark = p.queue_mark();
        let (mref, rest) = p.request(pid, CallMsg::<G::Call, G::Reply>(request, PhantomData));
        (mark, mref, rest, receive_after_queued(p, is_ours::<G::Reply>(mref), timeout))
    });
    let end = Undo::new(mref, None, mark, is_reply::<G::Reply>(mref)); // also if dropped mid-call
    if let Some(call) = rest {
        send_async(pid, call).await; // a full bounded mailbox: the monitor is in place already
    }
    let mut got = awaited(&mut receive).await;
    if got.is_none() {
        // OTP's last look: a reply that raced the timer is still taken, before the alias goes.
        let mut last =
            current("gen_server::call", |p| receive_after_queued(p, is_ours::<G::Reply>(mref), Duration::ZERO));
        got = awaited(&mut last).await;
    }
    let m = match got.map(|m| m.downcast::<Tagged<ReplyMsg<G::Reply>>>()) {
        Some(Ok(r)) => {
            // The reply passed the alias, and the VM ended the monitor with it
            // (`reply_demonitor`): no `Down` of it follows, a second reply finds the alias gone,
            // and none came before (a `Down` first ends the monitor, and the reply is dropped).
            // Nothing to undo; the queue mark is left for the next one to replace.
            std::mem::forget(end);
            return Ok(r.value.0);
        }
        Some(Err(m)) => Some(m),
        None => None,
    };
    drop(end); // nothing of this call arrives or stays after this
    let Some(m) = m else {
        return Err(CallError::Timeout);
    };
    match m.downcast::<Down>() {
        Ok(d) if d.reason == Reason::Noproc => Err(CallError::Noproc),
        Ok(d) => Err(CallError::Exit(d.reason)),
        Err(_) => unreachable!("matched a reply or a Down"),
    }
}

/// Sends `msg` to `server` without waiting (OTP `gen_server:cast/2`). Never fails: to a dead
/// server or a name nobody holds the message is dropped, as OTP's cast always returns `ok`.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::gen_server::{self, CallResult, GenServer, Init, Next};
///
/// struct Total(u64);
/// impl GenServer for Total {
///     type Args = ();
///     type Call = ();
///     type Reply = u64;
///     type Cast = u64;
///     async fn init(_: ()) -> Init<Self> { Init::ok(Total(0)) }
///     async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<u64>) -> CallResult<u64> {
///         CallResult::reply(self.0)
///     }
///     async fn handle_cast(&mut self, n: u64) -> Next {
///         self.0 += n;
///         Next::Wait
///     }
/// }
///
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let t = gen_server::start::<Total>(()).await.unwrap();
///     for n in 1..=4 { gen_server::cast(t, n); }
///     assert_eq!(gen_server::call(t, ()).await, Ok(10)); // casts first: one sender, in order
/// });
/// ```
#[track_caller]
pub fn cast<G: GenServer>(server: Server<G>, msg: G::Cast) {
    if let Some(pid) = server.pid() {
        let _ = try_send(pid, CastMsg(msg)); // dead: dropped; a full bounded mailbox: dropped
    }
}

/// Stops `server` (OTP `gen_server:stop/3`): it runs `terminate(reason)` and exits with
/// `reason`; returns once it has exited. Errors: [`CallError::Noproc`] if it is not running,
/// [`CallError::Timeout`] if it has not exited within `timeout`, [`CallError::Exit`] if it
/// exited with another reason (`terminate` panicked, say), [`CallError::CallingSelf`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::gen_server::{self, CallError, CallResult, GenServer, Init};
/// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
/// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
/// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let s = gen_server::start::<S>(()).await.unwrap();
///     gen_server::stop(s, spam::Reason::Shutdown, gen_server::DEFAULT_TIMEOUT).await.unwrap();
///     let again = gen_server::stop(s, spam::Reason::Shutdown, gen_server::DEFAULT_TIMEOUT).await;
///     assert_eq!(again, Err(CallError::Noproc));
/// });
/// ```
pub async fn stop<G: GenServer>(server: Server<G>, reason: Reason, timeout: Duration) -> Result<(), CallError> {
    let Some(pid) = server.pid() else {
        return Err(CallError::Noproc);
    };
    if pid == self_pid() {
        return Err(CallError::CallingSelf);
    }
    if !crate::is_alive(pid) {
        // Dead already: `noproc` whatever the reason asked for (OTP 25), `Noproc` included.
        return Err(CallError::Noproc);
    }
    let mark = current("gen_server::stop", |p| p.queue_mark());
    let mref = monitor(pid);
    let _end = Undo::new(mref, None, mark, |_| false); // also if dropped mid-way
    send_async(pid, StopMsg(reason.clone())).await;
    let down = receive_match_timeout(move |m| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref), timeout);
    match down.await.map(|m| m.downcast::<Down>()) {
        Some(Ok(d)) if d.reason == reason => Ok(()),
        Some(Ok(d)) if d.reason == Reason::Noproc => Err(CallError::Noproc),
        Some(Ok(d)) => Err(CallError::Exit(d.reason)),
        Some(Err(_)) => unreachable!("matched a Down"),
        None => Err(CallError::Timeout),
    }
}

/// Options of [`start_opts`].
#[derive(Debug, Clone, Default)]
pub struct StartOpts {
    /// Link the server to the caller (OTP `start_link`).
    pub link: bool,
    /// Register the server under this name before `init` runs; a taken name gives
    /// [`StartError::AlreadyStarted`].
    pub name: Option<String>,
    /// Limit on `init`: past it the half-started server is killed and [`StartError::Timeout`]
    /// returned. `None` waits as long as `init` takes (OTP's default, `infinity`).
    pub timeout: Option<Duration>,
}

impl StartOpts {
    /// No options: unlinked, unnamed, no init timeout.
    ///
    /// ```
    /// use spam::gen_server::StartOpts;
    /// let opts = StartOpts::new().link().name("db").timeout(std::time::Duration::from_secs(1));
    /// assert!(opts.link && opts.name.as_deref() == Some("db") && opts.timeout.is_some());
    /// ```
    pub fn new() -> StartOpts {
        StartOpts::default()
    }
    /// Sets [`StartOpts::link`].
    ///
    /// ```
    /// assert!(spam::gen_server::StartOpts::new().link().link);
    /// ```
    pub fn link(mut self) -> StartOpts {
        self.link = true;
        self
    }
    /// Sets [`StartOpts::name`].
    ///
    /// ```
    /// assert_eq!(spam::gen_server::StartOpts::new().name("db").name.as_deref(), Some("db"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> StartOpts {
        self.name = Some(name.into());
        self
    }
    /// Sets [`StartOpts::timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = spam::gen_server::StartOpts::new().timeout(Duration::from_secs(1));
    /// assert_eq!(opts.timeout, Some(Duration::from_secs(1)));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> StartOpts {
        self.timeout = Some(timeout);
        self
    }
}

/// Why a server did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The name is held by this process (OTP `{error, {already_started, Pid}}`).
    AlreadyStarted(Pid),
    /// `init` returned [`Init::Ignore`] (OTP `ignore`).
    Ignored,
    /// `init` returned [`Init::Stop`], panicked or exited, or the process could not be spawned
    /// (`SystemLimit`, `Shutdown`) (OTP `{error, Reason}`).
    Failed(Reason),
    /// `init` did not finish within [`StartOpts::timeout`] (OTP `{error, timeout}`).
    Timeout,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::AlreadyStarted(p) => write!(f, "already started as {p}"),
            StartError::Ignored => f.write_str("init returned ignore"),
            StartError::Failed(r) => write!(f, "init failed: {r}"),
            StartError::Timeout => f.write_str("init timed out"),
        }
    }
}
impl std::error::Error for StartError {}

/// Starts a server, not linked, and waits for its `init` (OTP `gen_server:start/3`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// # use spam::gen_server::{self, CallResult, GenServer, Init};
/// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
/// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
/// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let s = gen_server::start::<S>(()).await.unwrap(); // init has run
///     assert!(s.pid().is_some());
/// });
/// ```
pub async fn start<G: GenServer>(args: G::Args) -> Result<Server<G>, StartError> {
    start_opts(args, StartOpts::default()).await
}

/// Starts a server linked to the caller and waits for its `init` (OTP
/// `gen_server:start_link/3`). As in OTP 25, a failed `init` leaves the link in place: the
/// server's exit reaches the caller, which dies of it unless it traps exits.
///
/// # Panics
/// Outside a process.
///
/// ```
/// # use spam::gen_server::{self, CallResult, GenServer, Init};
/// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
/// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
/// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let s = gen_server::start_link::<S>(()).await.unwrap();
///     let info = spam::process_info(spam::self_pid()).unwrap();
///     assert_eq!(info.links, vec![s.pid().unwrap()]);
/// });
/// ```
pub async fn start_link<G: GenServer>(args: G::Args) -> Result<Server<G>, StartError> {
    start_opts(args, StartOpts { link: true, ..StartOpts::default() }).await
}

/// `init`'s outcome, from the new server to its starter, as `Tagged<InitAck>` to the starter's
/// alias (`Process::reply`).
struct InitAck(Result<(), StartError>);

/// Starts a server with options (link, name, init timeout) and waits for its `init`. A named
/// server is registered before `init` runs; if `init` does not start it, the name is free again
/// when this returns.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::gen_server::{self, CallResult, GenServer, Init, Server, StartError, StartOpts};
/// # struct S; impl GenServer for S { type Args = (); type Call = (); type Reply = (); type Cast = ();
/// #   async fn init(_: ()) -> Init<S> { Init::ok(S) }
/// #   async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> { CallResult::reply(()) } }
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let opts = StartOpts { name: Some("s".into()), ..StartOpts::default() };
///     let s = gen_server::start_opts::<S>((), opts.clone()).await.unwrap();
///     let again = gen_server::start_opts::<S>((), opts).await;
///     assert_eq!(again, Err(StartError::AlreadyStarted(s.pid().unwrap())));
///     assert_eq!(gen_server::call(Server::<S>::named("s"), ()).await, Ok(()));
/// });
/// ```
pub async fn start_opts<G: GenServer>(args: G::Args, opts: StartOpts) -> Result<Server<G>, StartError> {
    let parent = self_pid();
    let mark = current("gen_server::start", |p| p.queue_mark());
    // The acknowledgement goes to an alias, so one that races an init timeout is dropped.
    let tag = current("gen_server::start", |p| p.alias());
    let ack =
        move |result: Result<(), StartError>| current("gen_server::start", |p| p.reply(parent, tag, InitAck(result)));
    let name = opts.name.clone();
    let linked = opts.link;
    let body = async move {
        // Tells the starter; a failed start frees the name first (OTP: the name is free when
        // `start` returns ignore or an error), then exits.
        let fail = |result: StartError, reason: Reason| {
            if let Some(n) = &name {
                let _ = crate::unregister(n);
            }
            ack(Err(result));
            exit_self(reason)
        };
        current("gen_server::start", |p| p.set_behaviour(G::BEHAVIOUR, Some(parent)));
        match Guarded(G::init(args)).await {
            Ok(Init::Ok(state, next)) => {
                ack(Ok(()));
                // OTP: an unlinked server is its own parent (an exit from its starter is
                // only a message to it).
                let parent = if linked { parent } else { self_pid() };
                serve(state, parent, next).await
            }
            Ok(Init::Ignore) => fail(StartError::Ignored, Reason::Normal),
            Ok(Init::Stop(reason)) => fail(StartError::Failed(reason.clone()), reason),
            Err(reason) => fail(StartError::Failed(reason.clone()), reason),
        }
    };
    let mut spawn_opts = SpawnOpts::new().monitor();
    spawn_opts.link = opts.link;
    spawn_opts.name = opts.name.clone();
    let spawned = try_spawn_opt(body, spawn_opts);
    if spawned.is_err() {
        current("gen_server::start", |p| p.unalias(tag));
    }
    let (pid, mref) = match spawned {
        Ok((pid, mref)) => (pid, mref.expect("spawned with a monitor")),
        Err(SpawnError::Register(RegisterError::NameTaken(n))) => {
            return Err(StartError::AlreadyStarted(whereis(&n).unwrap_or(Pid::UNDEFINED)))
        }
        Err(SpawnError::Register(_)) => return Err(StartError::Failed(Reason::Badarg)),
        Err(SpawnError::TableFull) => return Err(StartError::Failed(Reason::SystemLimit)),
        Err(SpawnError::ShutDown) => return Err(StartError::Failed(Reason::Shutdown)),
    };
    let is_ack = move |m: &Msg| m.downcast_ref::<Tagged<InitAck>>().is_some_and(|a| a.tag == tag);
    let is_ours = move |m: &Msg| is_ack(m) || m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref);
    let end = Undo::new(mref, Some(tag), mark, is_ack); // also if dropped mid-init
    let got = receive_match_timeout(is_ours, opts.timeout.unwrap_or(INFINITY)).await;
    drop(end);
    let Some(m) = got else {
        // OTP: the half-started server is unlinked and killed.
        unlink(pid);
        exit(pid, Reason::Kill);
        return Err(StartError::Timeout);
    };
    match m.downcast::<Tagged<InitAck>>() {
        Ok(ack) => ack.value.0.map(|()| Server::from_pid(pid)),
        // Died before acknowledging (killed during init, say).
        Err(m) => Err(StartError::Failed(m.downcast::<Down>().map_or(Reason::Noproc, |d| d.reason))),
    }
}

/// Awaits a callback's future; if it panics or calls `exit_self`, runs `terminate` with that
/// reason and exits (OTP: a callback crash runs terminate, also without trap_exit). A macro, not
/// a function: the callback's borrow of the state must end before `terminate` takes it again.
macro_rules! callback {
    ($state:ident, $fut:expr) => {
        match Guarded($fut).await {
            Ok(v) => v,
            Err(reason) => terminate::<G, ()>($state, reason, None).await,
        }
    };
}

/// The server's loop: acts on `next`, then on each message, until it stops.
async fn serve<G: GenServer>(mut state: G, parent: Pid, mut next: Next) -> ! {
    loop {
        let msg = match next {
            Next::Wait => receive().await,
            Next::Timeout(d) => match receive_timeout(d).await {
                Some(m) => m,
                None => Msg::new(Timeout),
            },
            Next::Continue(c) => {
                let state = &mut state;
                next = callback!(state, state.handle_continue(c));
                continue;
            }
            Next::Stop(reason) => terminate::<G, ()>(&mut state, reason, None).await,
        };
        next = dispatch(&mut state, msg, parent).await;
    }
}

/// Routes one message to its callback.
async fn dispatch<G: GenServer>(state: &mut G, msg: Msg, parent: Pid) -> Next {
    let msg = match msg.downcast::<Tagged<CallMsg<G::Call, G::Reply>>>() {
        Ok(Tagged { pid, tag, value: CallMsg(request, _) }) => {
            let from = ReplyTo { pid, tag, _reply: PhantomData };
            let answer = callback!(state, state.handle_call(request, from.clone()));
            return match answer {
                CallResult::Reply(value, Next::Stop(reason)) => terminate(state, reason, Some((from, value))).await,
                CallResult::Reply(value, next) => {
                    reply(&from, value);
                    next
                }
                CallResult::NoReply(next) => next,
            };
        }
        Err(m) => m,
    };
    let msg = match msg.downcast::<CastMsg<G::Cast>>() {
        Ok(CastMsg(c)) => return callback!(state, state.handle_cast(c)),
        Err(m) => m,
    };
    let msg = match msg.downcast::<StopMsg>() {
        Ok(StopMsg(reason)) => return Next::Stop(reason),
        Err(m) => m,
    };
    // OTP: the parent's exit (seen only while trapping) stops the server; handle_info never
    // sees it.
    if let Some(e) = msg.downcast_ref::<Exit>() {
        if e.from == parent {
            return Next::Stop(e.reason.clone());
        }
    }
    callback!(state, state.handle_info(msg))
}

/// OTP's stop: `terminate(reason)`, then the pending reply (for `{stop, R, Reply, S}`), then
/// exit with `reason` (or with the panic of `terminate`).
async fn terminate<G: GenServer, R: Send + 'static>(
    state: &mut G,
    reason: Reason,
    pending: Option<(ReplyTo<R>, R)>,
) -> ! {
    let done = Guarded(state.terminate(&reason)).await;
    if let Some((from, value)) = pending {
        reply(&from, value);
    }
    match done {
        Ok(()) => exit_self(reason),
        Err(crash) => exit_self(crash),
    }
}

/// Polls a future inside `catch_unwind`: `Err(reason)` if it panicked or exited
/// (`exit_self`); the unwind of a process killed meanwhile goes on unwinding. (Also the
/// supervisor's guard around start functions.)
pub(crate) struct Guarded<F>(pub(crate) F);

/// The reason of a caught unwind; the unwind of a process already dead goes on unwinding.
pub(crate) fn unwind_to_reason(payload: Box<dyn std::any::Any + Send>) -> Reason {
    match spam_vm::process::unwind_reason(payload) {
        Ok(reason) => reason,
        Err(dead) => std::panic::resume_unwind(dead),
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, Reason>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|g| &mut g.0) };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(unwind_to_reason(payload))),
        }
    }
}
