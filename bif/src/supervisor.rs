//! `supervisor`: Erlang's supervisor and dynamic supervisor (OTP `supervisor`, with
//! `simple_one_for_one` as the typed [`DynamicSupervisor`]).
//!
//! A supervisor is a process that starts child processes, watches them, and restarts them when
//! they exit, following the children's [`Restart`] type and its [`Strategy`]. It traps exits and
//! links to each child, so a child's exit reaches it as an [`Exit`] message; when it stops, it
//! stops its children first, newest first, each the way its [`Shutdown`] says. Too many restarts
//! in a period ([`SupFlags::intensity`] within [`SupFlags::period`]) mean restarting does not
//! help: the supervisor then stops its children and exits with [`Reason::Shutdown`], and the
//! failure goes up the tree to its own supervisor.
//!
//! A child is described by a [`ChildSpec`]: an id, a start function (a closure returning a
//! future that starts a process *linked to the caller*, the supervisor, and returns its pid),
//! its restart type, shutdown and kind. [`ChildSpec::gen_server`] and [`ChildSpec::spawn_link`]
//! build the usual ones; [`ChildSpec::supervisor_of`] nests a supervisor, which is a child like
//! any other.
//!
//! ```
//! use spam::gen_server::{self, CallResult, GenServer, Init, Server};
//! use spam::supervisor::{self, ChildPid, ChildSpec, Restart, Strategy, SupFlags};
//!
//! /// A registered counter: `call` with an increment returns the new value.
//! struct Counter(u64);
//! impl GenServer for Counter {
//!     type Args = ();
//!     type Call = u64;
//!     type Reply = u64;
//!     type Cast = ();
//!     async fn init(_: ()) -> Init<Self> {
//!         spam::register("counter").unwrap();
//!         Init::ok(Counter(0))
//!     }
//!     async fn handle_call(&mut self, by: u64, _: gen_server::ReplyTo<u64>) -> CallResult<u64> {
//!         if by == 0 {
//!             spam::exit_self(spam::Reason::other("zero")); // the counter crashes...
//!         }
//!         self.0 += by;
//!         CallResult::reply(self.0)
//!     }
//! }
//!
//! let vm = spam::Vm::new();
//! vm.block_on(async {
//!     let flags = SupFlags::new(Strategy::OneForOne).intensity(3);
//!     let children = vec![
//!         ChildSpec::gen_server::<Counter>("counter", ()),
//!         ChildSpec::spawn_link("idle", || async { spam::sleep(std::time::Duration::MAX).await })
//!             .restart(Restart::Transient),
//!     ];
//!     let sup = supervisor::start_link(flags, children).await.unwrap();
//!     let counter = Server::<Counter>::named("counter");
//!     assert_eq!(gen_server::call(counter, 2).await, Ok(2));
//!     assert!(gen_server::call(counter, 0).await.is_err()); // crashed...
//!
//!     // The counter's exit reached the supervisor before our call's `Down` reached us, so the
//!     // supervisor has restarted it by the time it answers this call:
//!     let children = sup.which_children().await.unwrap(); // newest first
//!     assert_eq!(children[0].id.as_deref(), Some("idle"));
//!     assert!(matches!(children[1].pid, ChildPid::Running(_)));
//!     assert_eq!(gen_server::call(counter, 1).await, Ok(1)); // ... restarted, fresh
//!
//!     sup.stop().await.unwrap(); // stops "idle", then "counter", then itself
//! });
//! ```
//!
//! # The rules (OTP 25, `docs/otp-semantics.md` section 2)
//! - **Start** (rules 28, 37, 38): children start one at a time in list order. A child whose
//!   start fails makes the start fail: the children already started are stopped, newest first,
//!   and [`start_link`] returns [`SupStartError::FailedToStartChild`] (the supervisor process
//!   exits with that reason, so a linked caller that does not trap exits dies of it, as in OTP).
//!   A start returning `Ok(None)` (OTP `ignore`) keeps a permanent or transient spec with no
//!   process ([`ChildPid::Undefined`]) and forgets a temporary one.
//! - **Restart** (rules 31, 32, 35, 44): `Permanent` children are restarted on every exit,
//!   `Normal` included; `Transient` ones unless they exit `Normal` or `Shutdown` (the spec is
//!   kept, with no process); `Temporary` ones never (the spec is deleted). [`Strategy`] says
//!   which other children are restarted with the failed one; temporary children stopped as
//!   bystanders are deleted, not restarted.
//! - **Intensity** (rules 33, 35): each automatic restart is recorded; restarts older than the
//!   period are forgotten; more than `intensity` left stop the supervisor: it stops all its
//!   children, newest first, and exits [`Reason::Shutdown`]. The API's restarts
//!   ([`Supervisor::restart_child`]) do not count.
//! - **Stop** (rules 30, 36): children stop one at a time, newest first. The supervisor monitors
//!   the child and sends `exit(child, Shutdown)`, then `Kill` if it is not gone within its
//!   [`Shutdown::Timeout`]; [`Shutdown::BrutalKill`] kills at once; [`Shutdown::Infinity`] waits.
//!   After the `Down` it unlinks the child and drops its `Exit`, so a stop it caused is never
//!   taken for a crash. Being monitor-based, a child that unlinked itself cannot hang it.
//! - **A failed restart** (rule 42) marks the child [`ChildPid::Restarting`] and retries
//!   through a message to itself, so API calls are answered between attempts; each attempt
//!   counts toward the intensity.
//! - **The API** (rules 29, 39–41): [`Supervisor::which_children`] lists newest first;
//!   [`Supervisor::count_children`]; [`Supervisor::start_child`], `terminate_child`,
//!   `restart_child`, `delete_child` answer OTP's errors as a typed [`ChildError`]. Each is a
//!   `gen_server` call without a timeout (OTP's `infinity`, rule 9): it waits while the
//!   supervisor is busy stopping or starting a child.
//! - **Dynamic supervisor** (rule 43): [`DynamicSupervisor`] is `simple_one_for_one`: one
//!   template ([`DynamicSpec`]), children started by [`DynamicSupervisor::start_child`] with an
//!   argument, no ids, terminated by pid; on shutdown it stops all its children at once, under
//!   one timer.
//! - **Auto-shutdown** (rule 45): with [`AutoShutdown::AnySignificant`] or
//!   [`AutoShutdown::AllSignificant`], a significant child (transient or temporary) that exits
//!   by itself and is not restarted shuts the supervisor down.
//! - Messages the supervisor does not expect, and `Exit`s from processes that are not its
//!   children, are ignored (rule 47).
//!
//! # Where SPAM differs from OTP 25, and why
//! - **Child specs are Rust values.** The start function is a closure (no `{M, F, A}`), and
//!   the restart type, shutdown and kind are enums: OTP's `invalid_restart_type`,
//!   `invalid_shutdown`, `missing_id`, `invalid_strategy` and friends cannot be written. No
//!   `modules` (no hot code upgrade, so no `code_change` either), no `get_childspec`.
//! - **No callback module.** Flags and specs are given to [`start_link`] directly, so OTP's
//!   `init` returning `ignore` or a bad value has no equivalent; a start function can do any
//!   setup a child needs.
//! - **Spec errors are found before spawning.** A duplicate id, a zero period or a bad
//!   significant combination makes [`start_link`] return the error without starting a process,
//!   so no exit signal reaches the caller (OTP starts the supervisor, which exits with
//!   `{start_spec, ..}`/`{supervisor_data, ..}`).
//! - **Start results.** A start function returns `Ok(Some(pid))`, `Ok(None)` (`ignore`) or
//!   `Err(reason)`; OTP's `{ok, Pid, Info}` has no equivalent. A start function that panics
//!   counts as one returning the panic (OTP catches the start call). A failed
//!   [`Supervisor::start_child`] returns [`ChildError::StartFailed`] with the reason (OTP
//!   `{error, {R, ChildRecord}}`, the child record being internal).
//! - **`{shutdown, Term}`** has no equivalent ([`Reason`] has no such variant): only `Normal`
//!   and `Shutdown` are clean exits for a transient child.
//! - **The period is exact.** Restarts are timed with `Instant`s and forgotten once older than
//!   the period, to the nanosecond; OTP counts whole seconds, so its window is
//!   `Period..Period+1` s (rule 34).
//! - **Errors are values.** A call to a supervisor that is not running returns
//!   [`ChildError::Call`] / `Err(CallError::Noproc)` instead of exiting the caller.
//! - **The dynamic supervisor is its own type.** Its children take an argument of type `A`, so
//!   the OTP errors of an id-based call on it (`simple_one_for_one`) cannot happen unless a
//!   handle is built from the wrong pid ([`Supervisor::from_pid`]); then they are answered as
//!   in OTP. [`DynamicSupervisor::which_children`] lists newest first (OTP: map order).
//! - **No reports.** OTP logs crash, progress and `reached_max_restart_intensity` reports; SPAM
//!   has no logger: watch the supervisor with a monitor.
//! - **[`Supervisor::stop`]** stops with `Normal` (OTP's `gen_server:stop/1`); a parent's
//!   `exit(sup, Shutdown)` stops it with `Shutdown`.

use crate::gen_server::{self, CallError, CallResult, GenServer, Init, Next, Server, StartError, StartOpts, INFINITY};
use crate::{
    cancel_timer, exit, is_alive, monitor, receive_match, receive_match_timeout, self_pid, send, send_after,
    spawn_link, trap_exit, unlink, Down, Exit, Msg, Pid, Reason, Ref,
};
use std::any::Any;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a child's start function returns: `Ok(Some(pid))` for a child started and linked to the
/// supervisor, `Ok(None)` for a child that chose not to start (OTP `ignore`), `Err(reason)` for
/// a failed start (OTP `{error, Reason}`).
pub type StartResult = Result<Option<Pid>, Reason>;

/// The future a start function returns.
pub type StartFuture = Pin<Box<dyn Future<Output = StartResult> + Send>>;

/// A static child's start function, shared by the clones of its spec.
type StartFn = Arc<dyn Fn() -> StartFuture + Send + Sync>;

/// A dynamic template's start function, taking the child's argument.
type DynStartFn<A> = Arc<dyn Fn(A) -> StartFuture + Send + Sync>;

/// The OTP shutdown default of a worker.
const WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

// ---------------------------------------------------------------------------------------------
// Flags and specs
// ---------------------------------------------------------------------------------------------

/// Which children a supervisor restarts when one of them has to be restarted (rule 31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the child that exited (OTP `one_for_one`, the default).
    #[default]
    OneForOne,
    /// All children: the others are stopped (newest first), then all are started again in
    /// order (OTP `one_for_all`).
    OneForAll,
    /// The child that exited and those started after it: those are stopped (newest first),
    /// then started again in order (OTP `rest_for_one`).
    RestForOne,
}

/// When a supervisor shuts itself down because significant children exited (rule 45).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// Never (the default); no child may be significant.
    #[default]
    Never,
    /// When any significant child exits by itself and is not restarted.
    AnySignificant,
    /// When a significant child exits by itself and is not restarted, and no other significant
    /// child is left with a process.
    AllSignificant,
}

/// A supervisor's flags: strategy, restart intensity and auto-shutdown (OTP's `sup_flags()`).
/// The default is OTP's: `one_for_one`, at most 1 restart in 5 s, no auto-shutdown.
///
/// ```
/// use spam::supervisor::{Strategy, SupFlags};
/// use std::time::Duration;
///
/// let flags = SupFlags::new(Strategy::RestForOne).intensity(10).period(Duration::from_secs(60));
/// assert_eq!((flags.strategy, flags.intensity, flags.period.as_secs()), (Strategy::RestForOne, 10, 60));
/// assert_eq!(SupFlags::default().intensity, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupFlags {
    /// Which children are restarted together. A [`DynamicSupervisor`] takes only the default,
    /// [`Strategy::OneForOne`] (it is OTP's `simple_one_for_one`).
    pub strategy: Strategy,
    /// The most automatic restarts allowed within `period`; one more stops the supervisor.
    pub intensity: u32,
    /// The sliding window of `intensity`; must not be zero.
    pub period: Duration,
    /// Whether significant children shut the supervisor down.
    pub auto_shutdown: AutoShutdown,
}

impl Default for SupFlags {
    fn default() -> Self {
        SupFlags {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
        }
    }
}

impl SupFlags {
    /// The default flags with `strategy`.
    ///
    /// ```
    /// use spam::supervisor::{Strategy, SupFlags};
    /// let flags = SupFlags::new(Strategy::OneForAll);
    /// assert_eq!((flags.strategy, flags.intensity), (Strategy::OneForAll, 1));
    /// ```
    pub fn new(strategy: Strategy) -> SupFlags {
        SupFlags { strategy, ..SupFlags::default() }
    }
    /// Sets the intensity: at most `n` automatic restarts within the period.
    ///
    /// ```
    /// use spam::supervisor::SupFlags;
    /// assert_eq!(SupFlags::default().intensity(0).intensity, 0); // the first restart is fatal
    /// ```
    pub fn intensity(self, n: u32) -> SupFlags {
        SupFlags { intensity: n, ..self }
    }
    /// Sets the period of the intensity.
    ///
    /// ```
    /// use spam::supervisor::SupFlags;
    /// use std::time::Duration;
    /// assert_eq!(SupFlags::default().period(Duration::from_secs(1)).period, Duration::from_secs(1));
    /// ```
    pub fn period(self, period: Duration) -> SupFlags {
        SupFlags { period, ..self }
    }
    /// Sets the auto-shutdown.
    ///
    /// ```
    /// use spam::supervisor::{AutoShutdown, SupFlags};
    /// let flags = SupFlags::default().auto_shutdown(AutoShutdown::AnySignificant);
    /// assert_eq!(flags.auto_shutdown, AutoShutdown::AnySignificant);
    /// ```
    pub fn auto_shutdown(self, auto_shutdown: AutoShutdown) -> SupFlags {
        SupFlags { auto_shutdown, ..self }
    }
}

/// When a child is restarted (rule 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always, whatever its exit reason, `Normal` included (the default).
    #[default]
    Permanent,
    /// Unless it exits `Normal` or `Shutdown`; then its spec is kept with no process.
    Transient,
    /// Never; its spec is deleted when it exits.
    Temporary,
}

/// How a child is stopped (rule 36).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `exit(child, Kill)` at once: it dies `Killed`, without running any cleanup.
    BrutalKill,
    /// `exit(child, Shutdown)`, then `exit(child, Kill)` if it is still alive after this long.
    /// A worker's default is 5 s.
    Timeout(Duration),
    /// `exit(child, Shutdown)`, then waits as long as it takes: a supervisor's default.
    Infinity,
}

/// Whether a child is a worker or a supervisor (OTP `type`). It sets the default shutdown and
/// is reported by [`Supervisor::which_children`] and [`Supervisor::count_children`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildType {
    /// Any process that is not a supervisor (the default).
    #[default]
    Worker,
    /// A supervisor.
    Supervisor,
}

/// A child of a [`Supervisor`]: its id, start function, restart type, shutdown and kind (OTP's
/// `child_spec()`). Build one with [`ChildSpec::worker`], [`ChildSpec::gen_server`],
/// [`ChildSpec::spawn_link`], [`ChildSpec::supervisor`] or [`ChildSpec::supervisor_of`], then
/// adjust it with [`restart`](ChildSpec::restart), [`shutdown`](ChildSpec::shutdown) and
/// [`significant`](ChildSpec::significant). Cloning shares the start function.
#[derive(Clone)]
pub struct ChildSpec {
    /// The child's id, unique within its supervisor.
    pub id: String,
    /// When it is restarted (default [`Restart::Permanent`]).
    pub restart: Restart,
    /// How it is stopped (default 5 s for a worker, [`Shutdown::Infinity`] for a supervisor).
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub kind: ChildType,
    /// Whether its exit can shut the supervisor down ([`AutoShutdown`]); only for transient and
    /// temporary children. Default `false`.
    pub significant: bool,
    start: StartFn,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    fn with_start(id: String, kind: ChildType, start: StartFn) -> ChildSpec {
        let shutdown = match kind {
            ChildType::Worker => WORKER_SHUTDOWN,
            ChildType::Supervisor => Shutdown::Infinity,
        };
        ChildSpec { id, restart: Restart::Permanent, shutdown, kind, significant: false, start }
    }

    /// A worker started by `start`, which runs in the supervisor and must start a process
    /// *linked to its caller* (the supervisor): permanent, 5 s shutdown.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = ChildSpec::worker("ticker", || async {
    ///         Ok(Some(spam::spawn_link(async { spam::sleep(std::time::Duration::MAX).await })))
    ///     });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     assert_eq!(sup.count_children().await.unwrap().active, 1);
    ///     sup.stop().await.unwrap();
    /// });
    /// ```
    pub fn worker<F, Fut>(id: impl Into<String>, start: F) -> ChildSpec
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = StartResult> + Send + 'static,
    {
        ChildSpec::with_start(id.into(), ChildType::Worker, Arc::new(move || Box::pin(start())))
    }

    /// A supervisor child started by `start` (which must start a supervisor linked to its
    /// caller): permanent, [`Shutdown::Infinity`]. [`ChildSpec::supervisor_of`] is the usual
    /// way to nest a supervisor.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, ChildType, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let inner = ChildSpec::supervisor("inner", || async {
    ///         let sup = supervisor::start_link(SupFlags::default(), vec![]).await?;
    ///         Ok(sup.pid())
    ///     });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![inner]).await.unwrap();
    ///     assert_eq!(sup.which_children().await.unwrap()[0].kind, ChildType::Supervisor);
    ///     sup.stop().await.unwrap();
    /// });
    /// ```
    pub fn supervisor<F, Fut>(id: impl Into<String>, start: F) -> ChildSpec
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = StartResult> + Send + 'static,
    {
        ChildSpec::with_start(id.into(), ChildType::Supervisor, Arc::new(move || Box::pin(start())))
    }

    /// A worker running the generic server `G`, started with
    /// [`gen_server::start_link`]`(args.clone())`. `init` returning [`Init::Ignore`] is OTP's
    /// `ignore`; a failed `init` fails the start with its reason. As in OTP, the server's
    /// `terminate` runs when the supervisor stops it only if it traps exits
    /// ([`trap_exit`]`(true)` in `init`); otherwise the `Shutdown` signal ends it
    /// at once.
    ///
    /// ```
    /// use spam::gen_server::{self, CallResult, GenServer, Init};
    /// use spam::supervisor::{self, ChildSpec, SupFlags};
    ///
    /// struct Echo;
    /// impl GenServer for Echo {
    ///     type Args = ();
    ///     type Call = u32;
    ///     type Reply = u32;
    ///     type Cast = ();
    ///     async fn init(_: ()) -> Init<Self> { Init::ok(Echo) }
    ///     async fn handle_call(&mut self, n: u32, _: gen_server::ReplyTo<u32>) -> CallResult<u32> {
    ///         CallResult::reply(n)
    ///     }
    /// }
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![ChildSpec::gen_server::<Echo>("echo", ())])
    ///         .await
    ///         .unwrap();
    ///     let pid = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
    ///     assert_eq!(gen_server::call(gen_server::Server::<Echo>::from_pid(pid), 7).await, Ok(7));
    /// });
    /// ```
    pub fn gen_server<G: GenServer>(id: impl Into<String>, args: G::Args) -> ChildSpec
    where
        G::Args: Clone + Sync,
    {
        ChildSpec::gen_server_opts::<G>(id, args, StartOpts::default())
    }

    /// [`ChildSpec::gen_server`] with start options (a registered name, an `init` timeout);
    /// `opts.link` is ignored: a child is always linked. A taken name fails the start with
    /// [`ChildError::AlreadyStarted`] from [`Supervisor::start_child`].
    ///
    /// ```
    /// use spam::gen_server::{self, CallResult, GenServer, Init, Server, StartOpts};
    /// use spam::supervisor::{self, ChildSpec, SupFlags};
    ///
    /// struct Db;
    /// impl GenServer for Db {
    ///     type Args = ();
    ///     type Call = ();
    ///     type Reply = &'static str;
    ///     type Cast = ();
    ///     async fn init(_: ()) -> Init<Self> { Init::ok(Db) }
    ///     async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<&'static str>) -> CallResult<&'static str> {
    ///         CallResult::reply("pong")
    ///     }
    /// }
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let opts = StartOpts { name: Some("db".into()), ..StartOpts::default() };
    ///     let spec = ChildSpec::gen_server_opts::<Db>("db", (), opts);
    ///     let _sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     assert_eq!(gen_server::call(Server::<Db>::named("db"), ()).await, Ok("pong"));
    /// });
    /// ```
    pub fn gen_server_opts<G: GenServer>(id: impl Into<String>, args: G::Args, opts: StartOpts) -> ChildSpec
    where
        G::Args: Clone + Sync,
    {
        let opts = StartOpts { link: true, ..opts };
        ChildSpec::worker(id, move || gen_server_start::<G>(args.clone(), opts.clone()))
    }

    /// A worker that is a plain process: [`spawn_link`]`(f())`.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = ChildSpec::spawn_link("sleeper", || async {
    ///         spam::sleep(std::time::Duration::MAX).await
    ///     });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     assert_eq!(sup.count_children().await.unwrap().workers, 1);
    /// });
    /// ```
    pub fn spawn_link<F, Fut>(id: impl Into<String>, f: F) -> ChildSpec
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        ChildSpec::worker(id, move || {
            let pid = spawn_link(f());
            async move { Ok(Some(pid)) }
        })
    }

    /// A nested supervisor with these flags and children (rule 46): a supervisor child,
    /// permanent, [`Shutdown::Infinity`], started with [`start_link`] each time.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let worker = ChildSpec::spawn_link("w", || async { spam::sleep(std::time::Duration::MAX).await });
    ///     let inner = ChildSpec::supervisor_of("inner", SupFlags::default(), vec![worker]);
    ///     let top = supervisor::start_link(SupFlags::default(), vec![inner]).await.unwrap();
    ///     let counts = top.count_children().await.unwrap();
    ///     assert_eq!((counts.supervisors, counts.workers), (1, 0));
    ///     top.stop().await.unwrap(); // stops "inner", which stops "w"
    /// });
    /// ```
    pub fn supervisor_of(id: impl Into<String>, flags: SupFlags, children: Vec<ChildSpec>) -> ChildSpec {
        ChildSpec::supervisor(id, move || {
            let children = children.clone();
            async move {
                match start_link(flags, children).await {
                    Ok(sup) => Ok(sup.pid()),
                    Err(e) => Err(e.into()),
                }
            }
        })
    }

    /// A nested [`DynamicSupervisor`] with these flags and template: a supervisor child,
    /// permanent, [`Shutdown::Infinity`]. Its children are started later, through a handle
    /// from [`DynamicSupervisor::from_pid`] or a registered name.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let template = DynamicSpec::spawn_link(|secs: u64| async move {
    ///         spam::sleep(std::time::Duration::from_secs(secs)).await
    ///     });
    ///     let pool = ChildSpec::dynamic_supervisor_of("pool", SupFlags::default(), template);
    ///     let top = supervisor::start_link(SupFlags::default(), vec![pool]).await.unwrap();
    ///     let pid = top.which_children().await.unwrap()[0].pid.pid().unwrap();
    ///     let pool = DynamicSupervisor::<u64>::from_pid(pid);
    ///     assert!(pool.start_child(60).await.unwrap().is_some());
    /// });
    /// ```
    pub fn dynamic_supervisor_of<A: Clone + Send + 'static>(
        id: impl Into<String>,
        flags: SupFlags,
        spec: DynamicSpec<A>,
    ) -> ChildSpec {
        ChildSpec::supervisor(id, move || {
            let spec = spec.clone();
            async move {
                match DynamicSupervisor::start_link(flags, spec).await {
                    Ok(sup) => Ok(sup.pid()),
                    Err(e) => Err(e.into()),
                }
            }
        })
    }

    /// Sets the restart type.
    ///
    /// ```
    /// use spam::supervisor::{ChildSpec, Restart};
    /// let spec = ChildSpec::spawn_link("job", || async {}).restart(Restart::Transient);
    /// assert_eq!(spec.restart, Restart::Transient);
    /// ```
    pub fn restart(self, restart: Restart) -> ChildSpec {
        ChildSpec { restart, ..self }
    }

    /// Sets the shutdown.
    ///
    /// ```
    /// use spam::supervisor::{ChildSpec, Shutdown};
    /// let spec = ChildSpec::spawn_link("job", || async {}).shutdown(Shutdown::BrutalKill);
    /// assert_eq!(spec.shutdown, Shutdown::BrutalKill);
    /// ```
    pub fn shutdown(self, shutdown: Shutdown) -> ChildSpec {
        ChildSpec { shutdown, ..self }
    }

    /// Marks the child significant ([`AutoShutdown`]); only for transient and temporary
    /// children of a supervisor whose auto-shutdown is not `Never`.
    ///
    /// ```
    /// use spam::supervisor::{ChildSpec, Restart};
    /// let spec = ChildSpec::spawn_link("job", || async {}).restart(Restart::Temporary).significant(true);
    /// assert!(spec.significant);
    /// ```
    pub fn significant(self, significant: bool) -> ChildSpec {
        ChildSpec { significant, ..self }
    }
}

/// Starts a gen_server child; the `StartError`s become start results.
fn gen_server_start<G: GenServer>(args: G::Args, opts: StartOpts) -> StartFuture {
    Box::pin(async move {
        match gen_server::start_opts::<G>(args, opts).await {
            Ok(server) => Ok(server.pid()),
            Err(StartError::Ignored) => Ok(None),
            Err(StartError::Failed(reason)) => Err(reason),
            Err(e @ (StartError::AlreadyStarted(_) | StartError::Timeout)) => Err(Reason::other(e)),
        }
    })
}

/// The template of a [`DynamicSupervisor`]'s children (OTP's one child spec of a
/// `simple_one_for_one` supervisor): a start function taking each child's argument, and the
/// restart type, shutdown and kind they share. Cloning shares the start function.
pub struct DynamicSpec<A> {
    /// When a child is restarted (default [`Restart::Permanent`]); a restart passes the same
    /// argument again.
    pub restart: Restart,
    /// How a child is stopped (default 5 s for workers, [`Shutdown::Infinity`] for
    /// supervisors).
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub kind: ChildType,
    /// Whether the children's exits can shut the supervisor down ([`AutoShutdown`]).
    pub significant: bool,
    start: DynStartFn<A>,
}

impl<A> Clone for DynamicSpec<A> {
    fn clone(&self) -> Self {
        DynamicSpec {
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            significant: self.significant,
            start: self.start.clone(),
        }
    }
}

impl<A> std::fmt::Debug for DynamicSpec<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSpec")
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}

impl<A: Send + 'static> DynamicSpec<A> {
    fn with_start(kind: ChildType, start: DynStartFn<A>) -> DynamicSpec<A> {
        let shutdown = match kind {
            ChildType::Worker => WORKER_SHUTDOWN,
            ChildType::Supervisor => Shutdown::Infinity,
        };
        DynamicSpec { restart: Restart::Permanent, shutdown, kind, significant: false, start }
    }

    /// Workers started by `start(arg)`, which runs in the supervisor and must start a process
    /// linked to its caller: permanent, 5 s shutdown.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::worker(|name: String| async move {
    ///         let pid = spam::spawn_link(async { spam::sleep(std::time::Duration::MAX).await });
    ///         spam::register_pid(&name, pid).map_err(spam::Reason::other)?;
    ///         Ok(Some(pid))
    ///     });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     let pid = sup.start_child("conn-1".to_string()).await.unwrap();
    ///     assert_eq!(spam::whereis("conn-1"), pid);
    /// });
    /// ```
    pub fn worker<F, Fut>(start: F) -> DynamicSpec<A>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = StartResult> + Send + 'static,
    {
        DynamicSpec::with_start(ChildType::Worker, Arc::new(move |a| Box::pin(start(a))))
    }

    /// Supervisor children started by `start(arg)`: permanent, [`Shutdown::Infinity`].
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, ChildType, DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     // A supervisor per tenant, each with the tenant's workers.
    ///     let spec = DynamicSpec::supervisor(|workers: usize| async move {
    ///         let children = (0..workers)
    ///             .map(|i| ChildSpec::spawn_link(format!("w{i}"), || async { spam::sleep(std::time::Duration::MAX).await }))
    ///             .collect();
    ///         Ok(supervisor::start_link(SupFlags::default(), children).await?.pid())
    ///     });
    ///     let tenants = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     tenants.start_child(3).await.unwrap();
    ///     assert_eq!(tenants.count_children().await.unwrap().supervisors, 1);
    /// });
    /// ```
    pub fn supervisor<F, Fut>(start: F) -> DynamicSpec<A>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = StartResult> + Send + 'static,
    {
        DynamicSpec::with_start(ChildType::Supervisor, Arc::new(move |a| Box::pin(start(a))))
    }

    /// Workers running the generic server `G`, each started with
    /// [`gen_server::start_link`]`(arg)`.
    ///
    /// ```
    /// use spam::gen_server::{self, CallResult, GenServer, Init, Server};
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// struct Session(String);
    /// impl GenServer for Session {
    ///     type Args = String;
    ///     type Call = ();
    ///     type Reply = String;
    ///     type Cast = ();
    ///     async fn init(user: String) -> Init<Self> { Init::ok(Session(user)) }
    ///     async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<String>) -> CallResult<String> {
    ///         CallResult::reply(self.0.clone())
    ///     }
    /// }
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), DynamicSpec::gen_server::<Session>())
    ///         .await
    ///         .unwrap();
    ///     let pid = sup.start_child("ada".to_string()).await.unwrap().unwrap();
    ///     let session = Server::<Session>::from_pid(pid);
    ///     assert_eq!(gen_server::call(session, ()).await.as_deref(), Ok("ada"));
    /// });
    /// ```
    pub fn gen_server<G: GenServer<Args = A>>() -> DynamicSpec<A> {
        DynamicSpec::gen_server_opts::<G>(StartOpts::default())
    }

    /// [`DynamicSpec::gen_server`] with start options (an `init` timeout, say; a name would
    /// let only one child run); `opts.link` is ignored: a child is always linked.
    ///
    /// ```
    /// use spam::gen_server::{self, CallResult, GenServer, Init, StartOpts};
    /// use spam::supervisor::{ChildError, DynamicSpec, DynamicSupervisor, SupFlags};
    /// use std::time::Duration;
    ///
    /// struct Slow;
    /// impl GenServer for Slow {
    ///     type Args = Duration;
    ///     type Call = ();
    ///     type Reply = ();
    ///     type Cast = ();
    ///     async fn init(d: Duration) -> Init<Self> {
    ///         spam::sleep(d).await;
    ///         Init::ok(Slow)
    ///     }
    ///     async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> {
    ///         CallResult::reply(())
    ///     }
    /// }
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let opts = StartOpts { timeout: Some(Duration::from_millis(50)), ..StartOpts::default() };
    ///     let spec = DynamicSpec::gen_server_opts::<Slow>(opts);
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     assert!(sup.start_child(Duration::ZERO).await.is_ok());
    ///     let late = sup.start_child(Duration::from_secs(60)).await;
    ///     assert!(matches!(late, Err(ChildError::StartFailed(_))));
    /// });
    /// ```
    pub fn gen_server_opts<G: GenServer<Args = A>>(opts: StartOpts) -> DynamicSpec<A> {
        let opts = StartOpts { link: true, ..opts };
        DynamicSpec::worker(move |arg| gen_server_start::<G>(arg, opts.clone()))
    }

    /// Workers that are plain processes: [`spawn_link`]`(f(arg))`.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let me = spam::self_pid();
    ///     let spec = DynamicSpec::spawn_link(move |n: u32| async move { spam::send(me, n * 2) });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec.restart(spam::supervisor::Restart::Temporary))
    ///         .await
    ///         .unwrap();
    ///     sup.start_child(21).await.unwrap();
    ///     assert_eq!(spam::recv::<u32>().await, 42);
    /// });
    /// ```
    pub fn spawn_link<F, Fut>(f: F) -> DynamicSpec<A>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        DynamicSpec::worker(move |arg| {
            let pid = spawn_link(f(arg));
            async move { Ok(Some(pid)) }
        })
    }

    /// Sets the restart type.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, Restart};
    /// let spec = DynamicSpec::spawn_link(|_: ()| async {}).restart(Restart::Temporary);
    /// assert_eq!(spec.restart, Restart::Temporary);
    /// ```
    pub fn restart(self, restart: Restart) -> DynamicSpec<A> {
        DynamicSpec { restart, ..self }
    }

    /// Sets the shutdown.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, Shutdown};
    /// let spec = DynamicSpec::spawn_link(|_: ()| async {}).shutdown(Shutdown::BrutalKill);
    /// assert_eq!(spec.shutdown, Shutdown::BrutalKill);
    /// ```
    pub fn shutdown(self, shutdown: Shutdown) -> DynamicSpec<A> {
        DynamicSpec { shutdown, ..self }
    }

    /// Marks the children significant ([`AutoShutdown`]).
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, Restart};
    /// let spec = DynamicSpec::spawn_link(|_: ()| async {}).restart(Restart::Transient).significant(true);
    /// assert!(spec.significant);
    /// ```
    pub fn significant(self, significant: bool) -> DynamicSpec<A> {
        DynamicSpec { significant, ..self }
    }
}

// ---------------------------------------------------------------------------------------------
// What the API returns
// ---------------------------------------------------------------------------------------------

/// A child's process, as [`Supervisor::which_children`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildPid {
    /// Started, with this pid.
    Running(Pid),
    /// Its restart failed; the supervisor is retrying (rule 42).
    Restarting,
    /// No process: terminated, ignored at start, or a transient child that exited cleanly.
    Undefined,
}

impl ChildPid {
    /// The pid if it is running.
    ///
    /// ```
    /// use spam::supervisor::ChildPid;
    /// assert_eq!(ChildPid::Undefined.pid(), None);
    /// ```
    pub fn pid(self) -> Option<Pid> {
        match self {
            ChildPid::Running(p) => Some(p),
            _ => None,
        }
    }
}

/// One child, as [`Supervisor::which_children`] reports it (OTP `{Id, Child, Type, Modules}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its id; `None` for the children of a [`DynamicSupervisor`] (OTP `undefined`).
    pub id: Option<String>,
    /// Its process.
    pub pid: ChildPid,
    /// Worker or supervisor.
    pub kind: ChildType,
}

/// What [`Supervisor::count_children`] counts (rule 41).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChildCounts {
    /// Child specs, with or without a process (always 1 for a [`DynamicSupervisor`]: its
    /// template, as OTP).
    pub specs: usize,
    /// Children whose process is alive.
    pub active: usize,
    /// Children of kind [`ChildType::Supervisor`], alive or not.
    pub supervisors: usize,
    /// Children of kind [`ChildType::Worker`], alive or not.
    pub workers: usize,
}

/// Why a supervisor did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupStartError {
    /// A child failed to start (its start function returned `Err(reason)`); the children
    /// started before it were stopped (rule 37; OTP `{shutdown, {failed_to_start_child, Id,
    /// Reason}}`). The supervisor process exits with this error as its reason
    /// ([`Reason::other`]), which a linked caller that does not trap exits dies of, as in OTP.
    FailedToStartChild {
        /// The child's id.
        id: String,
        /// Why its start failed.
        reason: Reason,
    },
    /// Two children have this id (OTP `{duplicate_child_name, Id}`).
    DuplicateChildId(String),
    /// This child (empty for a dynamic supervisor's template) is significant but permanent, or
    /// the supervisor's auto-shutdown is `Never` (OTP `{bad_combination, ..}`).
    BadCombination(String),
    /// The period is zero (OTP `{invalid_period, 0}`).
    InvalidPeriod,
    /// A dynamic supervisor was given a strategy other than `OneForOne`.
    InvalidStrategy(Strategy),
    /// The name in the start options is held by this process (OTP `{already_started, Pid}`).
    AlreadyStarted(Pid),
    /// The children did not all start within the start options' timeout.
    Timeout,
    /// The supervisor process could not be spawned, or died while starting (killed, say).
    Failed(Reason),
}

impl std::fmt::Display for SupStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupStartError::FailedToStartChild { id, reason } => write!(f, "child {id:?} failed to start: {reason}"),
            SupStartError::DuplicateChildId(id) => write!(f, "duplicate child id {id:?}"),
            SupStartError::BadCombination(id) => {
                write!(f, "child {id:?} is significant but permanent, or auto_shutdown is never")
            }
            SupStartError::InvalidPeriod => f.write_str("the restart period is zero"),
            SupStartError::InvalidStrategy(s) => write!(f, "a dynamic supervisor takes only one_for_one, not {s:?}"),
            SupStartError::AlreadyStarted(p) => write!(f, "already started as {p}"),
            SupStartError::Timeout => f.write_str("the supervisor did not start in time"),
            SupStartError::Failed(r) => write!(f, "the supervisor failed to start: {r}"),
        }
    }
}
impl std::error::Error for SupStartError {}

/// The exit reason of a supervisor that failed to start with this error: the error itself
/// ([`Reason::other`]), or the reason inside [`SupStartError::Failed`]. A start function
/// starting a supervisor returns it as its error.
///
/// ```
/// use spam::supervisor::SupStartError;
/// use spam::Reason;
///
/// let e = SupStartError::FailedToStartChild { id: "db".into(), reason: Reason::other("no disk") };
/// assert_eq!(Reason::from(e.clone()).downcast_ref::<SupStartError>(), Some(&e));
/// assert_eq!(Reason::from(SupStartError::Failed(Reason::Killed)), Reason::Killed);
/// ```
impl From<SupStartError> for Reason {
    fn from(e: SupStartError) -> Reason {
        match e {
            SupStartError::Failed(r) => r,
            e => Reason::other(e),
        }
    }
}

/// Why a child operation failed: OTP's `{error, ..}` answers of `start_child`,
/// `terminate_child`, `restart_child` and `delete_child` (rules 39, 40, 42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildError {
    /// A child with this id is running, as this pid; or the start function's own gen_server
    /// name is held by this pid (OTP `{already_started, Pid}`).
    AlreadyStarted(Pid),
    /// A child with this id exists but is not running (OTP `already_present`); also while it
    /// is being restarted.
    AlreadyPresent,
    /// No such child (OTP `not_found`).
    NotFound,
    /// The child is running (OTP `running`): stop it first.
    Running,
    /// The child's restart failed and is being retried (OTP `restarting`).
    Restarting,
    /// An id-based operation reached a dynamic supervisor (OTP `simple_one_for_one`); only
    /// through a handle made with [`Supervisor::from_pid`] or [`Supervisor::named`].
    SimpleOneForOne,
    /// The start function returned this error (OTP `{error, Reason}` / `{error, {Reason, Child}}`).
    StartFailed(Reason),
    /// The spec is significant but permanent, or the supervisor's auto-shutdown is `Never`
    /// (OTP `{bad_combination, ..}`).
    BadCombination,
    /// A [`DynamicSupervisor`] handle reached a static supervisor, or a dynamic one whose
    /// children take another argument type (only through `from_pid` or `named`).
    Badarg,
    /// The supervisor did not answer: not running ([`CallError::Noproc`]) or died meanwhile.
    Call(CallError),
}

impl std::fmt::Display for ChildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildError::AlreadyStarted(p) => write!(f, "already started as {p}"),
            ChildError::AlreadyPresent => f.write_str("already present"),
            ChildError::NotFound => f.write_str("no such child"),
            ChildError::Running => f.write_str("the child is running"),
            ChildError::Restarting => f.write_str("the child is restarting"),
            ChildError::SimpleOneForOne => f.write_str("not supported by a dynamic (simple_one_for_one) supervisor"),
            ChildError::StartFailed(r) => write!(f, "the child failed to start: {r}"),
            ChildError::BadCombination => f.write_str("significant child that is permanent, or auto_shutdown never"),
            ChildError::Badarg => f.write_str("wrong kind of supervisor or argument type"),
            ChildError::Call(e) => write!(f, "supervisor call failed: {e}"),
        }
    }
}
impl std::error::Error for ChildError {}

impl From<CallError> for ChildError {
    fn from(e: CallError) -> ChildError {
        ChildError::Call(e)
    }
}

// ---------------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------------

/// Where a handle's calls go: a pid, or a registered name resolved at each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Pid(Pid),
    Name(&'static str),
}

impl Target {
    fn server(self) -> Server<SupServer> {
        match self {
            Target::Pid(p) => Server::from_pid(p),
            Target::Name(n) => Server::named(n),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pid(p) => write!(f, "{p}"),
            Target::Name(n) => write!(f, "{n:?}"),
        }
    }
}

/// A running supervisor: by pid, or by registered name (resolved at each call). `Copy`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Supervisor {
    target: Target,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Supervisor({})", self.target)
    }
}

/// A running dynamic supervisor (OTP `simple_one_for_one`) whose children take an `A`: by pid
/// or by registered name. `Copy`. Its children are started on demand by
/// [`DynamicSupervisor::start_child`] from one [`DynamicSpec`]; `A: Clone` because a permanent
/// or transient child is restarted with a clone of the argument it was started with.
pub struct DynamicSupervisor<A> {
    target: Target,
    _arg: PhantomData<fn(A)>,
}

impl<A> Clone for DynamicSupervisor<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A> Copy for DynamicSupervisor<A> {}
impl<A> PartialEq for DynamicSupervisor<A> {
    fn eq(&self, other: &Self) -> bool {
        self.target == other.target
    }
}
impl<A> Eq for DynamicSupervisor<A> {}
impl<A> std::fmt::Debug for DynamicSupervisor<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DynamicSupervisor({})", self.target)
    }
}

/// Sends a request and waits without a limit (rule 9: OTP's supervisor calls use `infinity`).
async fn call(target: Target, request: Request) -> Result<Response, CallError> {
    gen_server::call_timeout(target.server(), request, INFINITY).await
}

/// A call answered with the child a start or restart started (`what` names the API function).
async fn call_started(target: Target, what: &str, request: Request) -> Result<Option<Pid>, ChildError> {
    match call(target, request).await? {
        Response::Started(r) => r,
        r => unreachable!("{what} answered {r:?}"),
    }
}

/// A call answered with the outcome of a terminate or delete (`what` names the API function).
async fn call_done(target: Target, what: &str, request: Request) -> Result<(), ChildError> {
    match call(target, request).await? {
        Response::Done(r) => r,
        r => unreachable!("{what} answered {r:?}"),
    }
}

impl Supervisor {
    /// The supervisor registered as `name` (started with [`StartOpts::name`]), looked up at
    /// each call.
    ///
    /// ```
    /// use spam::gen_server::StartOpts;
    /// use spam::supervisor::{self, Supervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let opts = StartOpts { name: Some("top".into()), ..StartOpts::default() };
    ///     supervisor::start_opts(SupFlags::default(), vec![], opts).await.unwrap();
    ///     assert!(Supervisor::named("top").which_children().await.unwrap().is_empty());
    /// });
    /// ```
    pub const fn named(name: &'static str) -> Supervisor {
        Supervisor { target: Target::Name(name) }
    }

    /// The supervisor at `pid`.
    ///
    /// ```
    /// use spam::supervisor::{self, Supervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![]).await.unwrap();
    ///     assert_eq!(Supervisor::from_pid(sup.pid().unwrap()), sup);
    /// });
    /// ```
    pub const fn from_pid(pid: Pid) -> Supervisor {
        Supervisor { target: Target::Pid(pid) }
    }

    /// Its pid now: `None` for a name nobody holds.
    ///
    /// # Panics
    /// Outside a process, for a supervisor by name.
    ///
    /// ```
    /// use spam::supervisor::Supervisor;
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async { assert_eq!(Supervisor::named("nobody").pid(), None) });
    /// ```
    pub fn pid(self) -> Option<Pid> {
        self.target.server().pid()
    }

    /// Its children, newest first (rule 29; OTP `which_children/1`).
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let idle = || async { spam::sleep(std::time::Duration::MAX).await };
    ///     let children = vec![ChildSpec::spawn_link("a", idle), ChildSpec::spawn_link("b", idle)];
    ///     let sup = supervisor::start_link(SupFlags::default(), children).await.unwrap();
    ///     let ids: Vec<_> = sup.which_children().await.unwrap().into_iter().map(|c| c.id.unwrap()).collect();
    ///     assert_eq!(ids, ["b", "a"]);
    /// });
    /// ```
    pub async fn which_children(self) -> Result<Vec<ChildInfo>, CallError> {
        match call(self.target, Request::WhichChildren).await? {
            Response::Children(c) => Ok(c),
            r => unreachable!("which_children answered {r:?}"),
        }
    }

    /// Counts its children (rule 41; OTP `count_children/1`).
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildCounts, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = ChildSpec::spawn_link("w", || async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     let counts = sup.count_children().await.unwrap();
    ///     assert_eq!(counts, ChildCounts { specs: 1, active: 1, supervisors: 0, workers: 1 });
    /// });
    /// ```
    pub async fn count_children(self) -> Result<ChildCounts, CallError> {
        match call(self.target, Request::CountChildren).await? {
            Response::Counts(c) => Ok(c),
            r => unreachable!("count_children answered {r:?}"),
        }
    }

    /// Adds a child and starts it (rule 39; OTP `start_child/2`): `Ok(Some(pid))`, or
    /// `Ok(None)` if its start returned `Ok(None)` (a temporary spec is then not kept).
    /// Errors: [`ChildError::AlreadyStarted`] (the id runs), [`ChildError::AlreadyPresent`]
    /// (the id exists without a process), [`ChildError::StartFailed`],
    /// [`ChildError::BadCombination`], [`ChildError::Call`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildError, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![]).await.unwrap();
    ///     let spec = ChildSpec::spawn_link("w", || async { spam::sleep(std::time::Duration::MAX).await });
    ///     let pid = sup.start_child(spec.clone()).await.unwrap().unwrap();
    ///     assert_eq!(sup.start_child(spec).await, Err(ChildError::AlreadyStarted(pid)));
    /// });
    /// ```
    pub async fn start_child(self, spec: ChildSpec) -> Result<Option<Pid>, ChildError> {
        call_started(self.target, "start_child", Request::StartChild(spec)).await
    }

    /// Stops the child `id` as its [`Shutdown`] says (rule 40; OTP `terminate_child/2`). Its
    /// spec is kept ([`ChildPid::Undefined`]) unless it is temporary. Idempotent: a child with
    /// no process gives `Ok` too. Errors: [`ChildError::NotFound`], [`ChildError::Call`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildPid, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = ChildSpec::spawn_link("w", || async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     sup.terminate_child("w").await.unwrap();
    ///     assert_eq!(sup.which_children().await.unwrap()[0].pid, ChildPid::Undefined);
    ///     sup.terminate_child("w").await.unwrap(); // again: still Ok
    /// });
    /// ```
    pub async fn terminate_child(self, id: &str) -> Result<(), ChildError> {
        call_done(self.target, "terminate_child", Request::TerminateChild(id.to_string())).await
    }

    /// Starts again a child that has no process (rule 40; OTP `restart_child/2`); does not
    /// count toward the intensity. `Ok(None)` if its start returned `Ok(None)`. Errors:
    /// [`ChildError::Running`], [`ChildError::Restarting`], [`ChildError::NotFound`],
    /// [`ChildError::StartFailed`], [`ChildError::Call`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildError, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = ChildSpec::spawn_link("w", || async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     assert_eq!(sup.restart_child("w").await, Err(ChildError::Running));
    ///     sup.terminate_child("w").await.unwrap();
    ///     assert!(sup.restart_child("w").await.unwrap().is_some());
    /// });
    /// ```
    pub async fn restart_child(self, id: &str) -> Result<Option<Pid>, ChildError> {
        call_started(self.target, "restart_child", Request::RestartChild(id.to_string())).await
    }

    /// Deletes the spec of a child that has no process (rule 40; OTP `delete_child/2`).
    /// Errors: [`ChildError::Running`], [`ChildError::Restarting`], [`ChildError::NotFound`],
    /// [`ChildError::Call`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{self, ChildError, ChildSpec, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = ChildSpec::spawn_link("w", || async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![spec]).await.unwrap();
    ///     assert_eq!(sup.delete_child("w").await, Err(ChildError::Running));
    ///     sup.terminate_child("w").await.unwrap();
    ///     sup.delete_child("w").await.unwrap();
    ///     assert_eq!(sup.delete_child("w").await, Err(ChildError::NotFound));
    /// });
    /// ```
    pub async fn delete_child(self, id: &str) -> Result<(), ChildError> {
        call_done(self.target, "delete_child", Request::DeleteChild(id.to_string())).await
    }

    /// Stops the supervisor with reason `Normal` after it has stopped its children, newest
    /// first; returns once it has exited (OTP `gen_server:stop/1`). Errors as
    /// [`gen_server::stop`]: [`CallError::Noproc`] if it is not running.
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::gen_server::CallError;
    /// use spam::supervisor::{self, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let sup = supervisor::start_link(SupFlags::default(), vec![]).await.unwrap();
    ///     sup.stop().await.unwrap();
    ///     assert_eq!(sup.stop().await, Err(CallError::Noproc));
    /// });
    /// ```
    pub async fn stop(self) -> Result<(), CallError> {
        gen_server::stop(self.target.server(), Reason::Normal, INFINITY).await
    }
}

impl<A: Clone + Send + 'static> DynamicSupervisor<A> {
    /// Starts a dynamic supervisor linked to the caller, with no children yet (rule 43). The
    /// flags' strategy must be `OneForOne` (the default), else
    /// [`SupStartError::InvalidStrategy`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: ()| async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     assert!(sup.which_children().await.unwrap().is_empty());
    /// });
    /// ```
    pub async fn start_link(flags: SupFlags, spec: DynamicSpec<A>) -> Result<DynamicSupervisor<A>, SupStartError> {
        DynamicSupervisor::start_opts(flags, spec, StartOpts { link: true, ..StartOpts::default() }).await
    }

    /// [`DynamicSupervisor::start_link`] with options: `link`, a registered `name`, an init
    /// `timeout`.
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::gen_server::StartOpts;
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: ()| async { spam::sleep(std::time::Duration::MAX).await });
    ///     let opts = StartOpts { name: Some("pool".into()), ..StartOpts::default() };
    ///     DynamicSupervisor::start_opts(SupFlags::default(), spec, opts).await.unwrap();
    ///     DynamicSupervisor::<()>::named("pool").start_child(()).await.unwrap();
    /// });
    /// ```
    pub async fn start_opts(
        flags: SupFlags,
        spec: DynamicSpec<A>,
        opts: StartOpts,
    ) -> Result<DynamicSupervisor<A>, SupStartError> {
        if flags.strategy != Strategy::OneForOne {
            return Err(SupStartError::InvalidStrategy(flags.strategy));
        }
        check_flags(&flags)?;
        if bad_combination(spec.significant, spec.restart, flags.auto_shutdown) {
            return Err(SupStartError::BadCombination(String::new()));
        }
        let args = InitArgs { flags, children: InitChildren::Dynamic(Template::erase(spec)) };
        Ok(DynamicSupervisor { target: start_server(args, opts).await?, _arg: PhantomData })
    }

    /// The dynamic supervisor registered as `name`, looked up at each call.
    ///
    /// ```
    /// use spam::supervisor::DynamicSupervisor;
    /// let pool: DynamicSupervisor<u32> = DynamicSupervisor::named("pool");
    /// # let _ = pool;
    /// ```
    pub const fn named(name: &'static str) -> DynamicSupervisor<A> {
        DynamicSupervisor { target: Target::Name(name), _arg: PhantomData }
    }

    /// The dynamic supervisor at `pid` (the caller promises its children take an `A`; if not,
    /// [`DynamicSupervisor::start_child`] answers [`ChildError::Badarg`]).
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: u8| async {});
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     assert_eq!(DynamicSupervisor::<u8>::from_pid(sup.pid().unwrap()), sup);
    /// });
    /// ```
    pub const fn from_pid(pid: Pid) -> DynamicSupervisor<A> {
        DynamicSupervisor { target: Target::Pid(pid), _arg: PhantomData }
    }

    /// Its pid now: `None` for a name nobody holds.
    ///
    /// # Panics
    /// Outside a process, for a supervisor by name.
    ///
    /// ```
    /// use spam::supervisor::DynamicSupervisor;
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async { assert_eq!(DynamicSupervisor::<()>::named("nobody").pid(), None) });
    /// ```
    pub fn pid(self) -> Option<Pid> {
        self.target.server().pid()
    }

    /// Starts a child with `arg` (rule 43; OTP `start_child(Sup, ExtraArgs)`): `Ok(Some(pid))`,
    /// or `Ok(None)` if its start returned `Ok(None)` (nothing is kept). A permanent or
    /// transient child keeps `arg` for its restarts; a temporary one does not. Errors:
    /// [`ChildError::StartFailed`], [`ChildError::AlreadyStarted`] (a gen_server's name is
    /// held), [`ChildError::Badarg`], [`ChildError::Call`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{ChildError, DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::worker(|n: i32| async move {
    ///         if n < 0 {
    ///             return Err(spam::Reason::other("negative"));
    ///         }
    ///         Ok(Some(spam::spawn_link(async { spam::sleep(std::time::Duration::MAX).await })))
    ///     });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     assert!(sup.start_child(1).await.unwrap().is_some());
    ///     let err = sup.start_child(-1).await;
    ///     assert_eq!(err, Err(ChildError::StartFailed(spam::Reason::other("negative"))));
    /// });
    /// ```
    pub async fn start_child(self, arg: A) -> Result<Option<Pid>, ChildError> {
        call_started(self.target, "start_child", Request::StartDynamic(Box::new(arg))).await
    }

    /// Stops the child `pid` as the template's [`Shutdown`] says and forgets it (rule 40). `Ok`
    /// also for a pid that is not alive (idempotent, as OTP); [`ChildError::NotFound`] for a
    /// live process that is not its child; [`ChildError::Call`].
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: ()| async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     let pid = sup.start_child(()).await.unwrap().unwrap();
    ///     sup.terminate_child(pid).await.unwrap();
    ///     assert!(!spam::is_alive(pid));
    ///     assert!(sup.which_children().await.unwrap().is_empty());
    /// });
    /// ```
    pub async fn terminate_child(self, pid: Pid) -> Result<(), ChildError> {
        call_done(self.target, "terminate_child", Request::TerminatePid(pid)).await
    }

    /// Its children, newest first, with no ids (OTP `which_children/1`).
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{ChildPid, DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: ()| async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     let pid = sup.start_child(()).await.unwrap().unwrap();
    ///     let children = sup.which_children().await.unwrap();
    ///     assert_eq!((children[0].id.clone(), children[0].pid), (None, ChildPid::Running(pid)));
    /// });
    /// ```
    pub async fn which_children(self) -> Result<Vec<ChildInfo>, CallError> {
        Supervisor { target: self.target }.which_children().await
    }

    /// Counts its children (OTP `count_children/1`): `specs` is 1 (the template).
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{ChildCounts, DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: ()| async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     sup.start_child(()).await.unwrap();
    ///     sup.start_child(()).await.unwrap();
    ///     let counts = sup.count_children().await.unwrap();
    ///     assert_eq!(counts, ChildCounts { specs: 1, active: 2, supervisors: 0, workers: 2 });
    /// });
    /// ```
    pub async fn count_children(self) -> Result<ChildCounts, CallError> {
        Supervisor { target: self.target }.count_children().await
    }

    /// Stops the supervisor with reason `Normal` after it has stopped all its children at
    /// once; returns once it has exited.
    ///
    /// # Panics
    /// Outside a process.
    ///
    /// ```
    /// use spam::supervisor::{DynamicSpec, DynamicSupervisor, SupFlags};
    ///
    /// let vm = spam::Vm::new();
    /// vm.block_on(async {
    ///     let spec = DynamicSpec::spawn_link(|_: ()| async { spam::sleep(std::time::Duration::MAX).await });
    ///     let sup = DynamicSupervisor::start_link(SupFlags::default(), spec).await.unwrap();
    ///     let child = sup.start_child(()).await.unwrap().unwrap();
    ///     sup.stop().await.unwrap();
    ///     assert!(!spam::is_alive(child));
    /// });
    /// ```
    pub async fn stop(self) -> Result<(), CallError> {
        Supervisor { target: self.target }.stop().await
    }
}

// ---------------------------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------------------------

/// Starts a supervisor linked to the caller (OTP `supervisor:start_link/2`): it traps exits,
/// starts `children` in order, and returns once they have all started (rule 28). If one fails,
/// those started are stopped (newest first) and [`SupStartError::FailedToStartChild`] returned
/// (rule 37). Spec errors ([`SupStartError::DuplicateChildId`],
/// [`SupStartError::BadCombination`], [`SupStartError::InvalidPeriod`]) are found before any
/// process starts.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::supervisor::{self, ChildSpec, SupFlags, SupStartError};
///
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     spam::trap_exit(true); // the failed supervisor's exit reaches us as a message
///     let ok = ChildSpec::spawn_link("ok", || async { spam::sleep(std::time::Duration::MAX).await });
///     let bad = ChildSpec::worker("bad", || async { Err(spam::Reason::other("no disk")) });
///     let err = supervisor::start_link(SupFlags::default(), vec![ok, bad]).await.unwrap_err();
///     assert_eq!(err, SupStartError::FailedToStartChild { id: "bad".into(), reason: spam::Reason::other("no disk") });
/// });
/// ```
pub async fn start_link(flags: SupFlags, children: Vec<ChildSpec>) -> Result<Supervisor, SupStartError> {
    start_opts(flags, children, StartOpts { link: true, ..StartOpts::default() }).await
}

/// [`start_link`] without the link: a supervisor with no parent to stop it (stop it with
/// [`Supervisor::stop`]).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::supervisor::{self, SupFlags};
///
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let sup = supervisor::start(SupFlags::default(), vec![]).await.unwrap();
///     assert!(spam::process_info(spam::self_pid()).unwrap().links.is_empty());
///     sup.stop().await.unwrap();
/// });
/// ```
pub async fn start(flags: SupFlags, children: Vec<ChildSpec>) -> Result<Supervisor, SupStartError> {
    start_opts(flags, children, StartOpts::default()).await
}

/// [`start_link`] with options: `link`, a registered `name` (a taken one gives
/// [`SupStartError::AlreadyStarted`]), a `timeout` on starting the children.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::gen_server::StartOpts;
/// use spam::supervisor::{self, SupFlags, SupStartError};
///
/// let vm = spam::Vm::new();
/// vm.block_on(async {
///     let opts = StartOpts { link: true, name: Some("app_sup".into()), ..StartOpts::default() };
///     let sup = supervisor::start_opts(SupFlags::default(), vec![], opts.clone()).await.unwrap();
///     let again = supervisor::start_opts(SupFlags::default(), vec![], opts).await;
///     assert_eq!(again, Err(SupStartError::AlreadyStarted(sup.pid().unwrap())));
/// });
/// ```
pub async fn start_opts(
    flags: SupFlags,
    children: Vec<ChildSpec>,
    opts: StartOpts,
) -> Result<Supervisor, SupStartError> {
    check_flags(&flags)?;
    check_child_specs(&children, flags.auto_shutdown)?;
    let args = InitArgs { flags, children: InitChildren::Static(children) };
    Ok(Supervisor { target: start_server(args, opts).await? })
}

/// Checks child specs as [`start_link`] does (OTP `check_childspecs/2`): unique ids, and
/// `significant` only on transient or temporary children under an auto-shutdown other than
/// `Never`.
///
/// ```
/// use spam::supervisor::{self, AutoShutdown, ChildSpec, Restart, SupStartError};
///
/// let a = ChildSpec::spawn_link("a", || async {});
/// assert_eq!(
///     supervisor::check_child_specs(&[a.clone(), a.clone()], AutoShutdown::Never),
///     Err(SupStartError::DuplicateChildId("a".into()))
/// );
/// let sig = a.restart(Restart::Transient).significant(true);
/// assert!(supervisor::check_child_specs(&[sig.clone()], AutoShutdown::Never).is_err());
/// assert!(supervisor::check_child_specs(&[sig], AutoShutdown::AnySignificant).is_ok());
/// ```
pub fn check_child_specs(children: &[ChildSpec], auto_shutdown: AutoShutdown) -> Result<(), SupStartError> {
    let mut ids = HashSet::new();
    for c in children {
        if bad_combination(c.significant, c.restart, auto_shutdown) {
            return Err(SupStartError::BadCombination(c.id.clone()));
        }
        if !ids.insert(c.id.as_str()) {
            return Err(SupStartError::DuplicateChildId(c.id.clone()));
        }
    }
    Ok(())
}

fn check_flags(flags: &SupFlags) -> Result<(), SupStartError> {
    if flags.period.is_zero() {
        return Err(SupStartError::InvalidPeriod);
    }
    Ok(())
}

/// OTP's `validSignificant`: significant only with transient/temporary and an auto-shutdown.
fn bad_combination(significant: bool, restart: Restart, auto_shutdown: AutoShutdown) -> bool {
    significant && (restart == Restart::Permanent || auto_shutdown == AutoShutdown::Never)
}

async fn start_server(args: InitArgs, opts: StartOpts) -> Result<Target, SupStartError> {
    let started = gen_server::start_opts::<SupServer>(args, opts).await;
    let server = started.map_err(|e| match e {
        StartError::AlreadyStarted(p) => SupStartError::AlreadyStarted(p),
        StartError::Timeout => SupStartError::Timeout,
        StartError::Failed(r) => r.downcast_ref::<SupStartError>().cloned().unwrap_or(SupStartError::Failed(r)),
        StartError::Ignored => SupStartError::Failed(Reason::Normal), // init never ignores
    })?;
    Ok(Target::Pid(server.pid().expect("a server started by pid")))
}

// ---------------------------------------------------------------------------------------------
// The supervisor process
// ---------------------------------------------------------------------------------------------

/// A child's start function inside the supervisor (Sync, so a `&Child` may live across an
/// await in the supervisor's `Send` callbacks).
type ChildStart = Box<dyn Fn() -> StartFuture + Send + Sync>;

/// The type-erased start of a dynamic child: the argument in, the start future and (unless the
/// template is temporary) the function that restarts the child with the same argument out;
/// `Err` for an argument of another type.
type ErasedStart = Box<dyn Fn(Box<dyn Any + Send>) -> Result<(StartFuture, Option<ChildStart>), ()> + Send + Sync>;

/// A dynamic supervisor's template with its argument type erased, so one server type serves
/// both kinds of supervisor and a mistyped handle gets an error instead of a hang.
struct Template {
    start: ErasedStart,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildType,
    significant: bool,
}

impl Template {
    fn erase<A: Clone + Send + 'static>(spec: DynamicSpec<A>) -> Template {
        let DynamicSpec { restart, shutdown, kind, significant, start } = spec;
        let erased: ErasedStart = Box::new(move |arg: Box<dyn Any + Send>| {
            let arg: A = *arg.downcast::<A>().map_err(|_| ())?;
            let again: Option<ChildStart> = (restart != Restart::Temporary).then(|| {
                // A Mutex makes the kept argument Sync without asking `A: Sync`.
                let (start, kept) = (start.clone(), Mutex::new(arg.clone()));
                Box::new(move || {
                    let arg = kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    start(arg)
                }) as ChildStart
            });
            Ok((start(arg), again))
        });
        Template { start: erased, restart, shutdown, kind, significant }
    }
}

struct InitArgs {
    flags: SupFlags,
    children: InitChildren,
}

enum InitChildren {
    Static(Vec<ChildSpec>),
    Dynamic(Template),
}

/// The API's requests.
enum Request {
    WhichChildren,
    CountChildren,
    StartChild(ChildSpec),
    StartDynamic(Box<dyn Any + Send>),
    TerminateChild(String),
    TerminatePid(Pid),
    RestartChild(String),
    DeleteChild(String),
}

/// The API's replies.
#[derive(Debug)]
enum Response {
    Children(Vec<ChildInfo>),
    Counts(ChildCounts),
    Started(Result<Option<Pid>, ChildError>),
    Done(Result<(), ChildError>),
}

/// OTP's `{try_again_restart, Id}`: a failed restart is retried through the mailbox, so the
/// requests queued meanwhile are answered first (rule 42).
struct TryAgain(Key);

enum Key {
    /// A static child.
    Id(String),
    /// A dynamic child, by the pid it had before its restart failed.
    Pid(Pid),
}

/// Fires when a dynamic supervisor's shutdown timeout has passed: kill the children left.
struct KillTimer(Ref);

/// A child's process, inside the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Running(Pid),
    Restarting,
    Stopped,
}

/// A child, inside the supervisor (OTP's `#child{}`).
struct Child {
    /// `None` for a dynamic child.
    id: Option<String>,
    slot: Slot,
    /// `None` for a temporary child once started: it is never started again, and OTP keeps no
    /// start arguments for it (rule 43).
    start: Option<ChildStart>,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildType,
    significant: bool,
    /// Start order of dynamic children (for `which_children`, newest first).
    seq: u64,
}

impl Child {
    fn from_spec(spec: ChildSpec) -> Child {
        let f = spec.start;
        Child {
            id: Some(spec.id),
            slot: Slot::Stopped,
            start: Some(Box::new(move || f())),
            restart: spec.restart,
            shutdown: spec.shutdown,
            kind: spec.kind,
            significant: spec.significant,
            seq: 0,
        }
    }

    fn info(&self) -> ChildInfo {
        let pid = match self.slot {
            Slot::Running(p) => ChildPid::Running(p),
            Slot::Restarting => ChildPid::Restarting,
            Slot::Stopped => ChildPid::Undefined,
        };
        ChildInfo { id: self.id.clone(), pid, kind: self.kind }
    }

    /// Starts it (the start function runs here, in the supervisor) and records the outcome.
    /// A temporary child forgets its start function once started.
    async fn start(&mut self) -> StartResult {
        let fut = match &self.start {
            Some(f) => catch_start(f),
            None => return Err(Reason::other("a temporary child is never started again")),
        };
        // A panic (or `exit_self`) in the start future is a failed start (OTP's
        // `catch apply(M, F, A)`).
        let r = crate::gen_server::Guarded(fut).await.unwrap_or_else(Err);
        if let Ok(Some(pid)) = r {
            self.slot = Slot::Running(pid);
            if self.restart == Restart::Temporary {
                self.start = None;
            }
        }
        r
    }
}

/// Calls a start function, turning a panic in the call into a failed start.
fn catch_start(f: &(dyn Fn() -> StartFuture + Send + Sync)) -> StartFuture {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(fut) => fut,
        Err(payload) => {
            let reason = crate::gen_server::unwind_to_reason(payload);
            Box::pin(async move { Err(reason) })
        }
    }
}

/// The children: an ordered list (static) or a map by pid (dynamic).
enum Children {
    /// In start order (oldest first).
    Static(Vec<Child>),
    Dynamic(Dynamic),
}

struct Dynamic {
    template: Template,
    /// By pid: the running one, or the one before a failed restart while `Restarting`.
    children: HashMap<Pid, Child>,
    next_seq: u64,
}

/// The supervisor's state.
struct SupServer {
    flags: SupFlags,
    /// When the recent automatic restarts happened, oldest first (rule 33).
    restarts: VecDeque<Instant>,
    children: Children,
}

impl GenServer for SupServer {
    const BEHAVIOUR: &'static str = "supervisor";
    type Args = InitArgs;
    type Call = Request;
    type Reply = Response;
    type Cast = ();

    async fn init(args: InitArgs) -> Init<Self> {
        trap_exit(true);
        let InitArgs { flags, children } = args;
        let children = match children {
            InitChildren::Dynamic(template) => {
                Children::Dynamic(Dynamic { template, children: HashMap::new(), next_seq: 0 })
            }
            InitChildren::Static(specs) => {
                let mut list: Vec<Child> = specs.into_iter().map(Child::from_spec).collect();
                if let Err((i, reason)) = start_children(&mut list, 0).await {
                    let id = list[i].id.clone().unwrap_or_default();
                    terminate_children(&mut list, 0).await;
                    return Init::Stop(Reason::other(SupStartError::FailedToStartChild { id, reason }));
                }
                Children::Static(list)
            }
        };
        Init::ok(SupServer { flags, restarts: VecDeque::new(), children })
    }

    async fn handle_call(&mut self, request: Request, _from: gen_server::ReplyTo<Response>) -> CallResult<Response> {
        let response = match request {
            Request::WhichChildren => Response::Children(self.which_children()),
            Request::CountChildren => Response::Counts(self.count_children()),
            Request::StartChild(spec) => Response::Started(self.start_child(spec).await),
            Request::StartDynamic(arg) => Response::Started(self.start_dynamic(arg).await),
            Request::TerminateChild(id) => Response::Done(self.terminate_child(&id).await),
            Request::TerminatePid(pid) => Response::Done(self.terminate_pid(pid).await),
            Request::RestartChild(id) => Response::Started(self.restart_child(&id).await),
            Request::DeleteChild(id) => Response::Done(self.delete_child(&id)),
        };
        CallResult::reply(response)
    }

    async fn handle_info(&mut self, msg: Msg) -> Next {
        let msg = match msg.downcast::<Exit>() {
            Ok(Exit { from, reason }) => return self.child_exited(from, reason).await,
            Err(m) => m,
        };
        match msg.downcast::<TryAgain>() {
            Ok(TryAgain(key)) => self.try_again(key).await,
            Err(_) => Next::Wait, // rule 47: stray messages are ignored
        }
    }

    async fn terminate(&mut self, _reason: &Reason) {
        match &mut self.children {
            Children::Static(list) => terminate_children(list, 0).await,
            Children::Dynamic(d) => terminate_dynamic_children(d).await,
        }
    }
}

impl SupServer {
    fn which_children(&self) -> Vec<ChildInfo> {
        match &self.children {
            Children::Static(list) => list.iter().rev().map(Child::info).collect(),
            Children::Dynamic(d) => {
                let mut all: Vec<&Child> = d.children.values().collect();
                all.sort_unstable_by_key(|c| std::cmp::Reverse(c.seq));
                all.into_iter().map(Child::info).collect()
            }
        }
    }

    fn count_children(&self) -> ChildCounts {
        let mut counts = ChildCounts::default();
        let mut count = |c: &Child| {
            if matches!(c.slot, Slot::Running(p) if is_alive(p)) {
                counts.active += 1;
            }
            match c.kind {
                ChildType::Worker => counts.workers += 1,
                ChildType::Supervisor => counts.supervisors += 1,
            }
        };
        match &self.children {
            Children::Static(list) => {
                list.iter().for_each(&mut count);
                counts.specs = list.len();
            }
            Children::Dynamic(d) => {
                d.children.values().for_each(&mut count);
                counts.specs = 1;
            }
        }
        counts
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<Option<Pid>, ChildError> {
        let auto_shutdown = self.flags.auto_shutdown;
        let Children::Static(list) = &mut self.children else {
            return Err(ChildError::SimpleOneForOne);
        };
        if bad_combination(spec.significant, spec.restart, auto_shutdown) {
            return Err(ChildError::BadCombination);
        }
        if let Some(c) = list.iter().find(|c| c.id.as_deref() == Some(spec.id.as_str())) {
            return Err(match c.slot {
                Slot::Running(p) => ChildError::AlreadyStarted(p),
                _ => ChildError::AlreadyPresent,
            });
        }
        let mut child = Child::from_spec(spec);
        match child.start().await {
            Ok(None) if child.restart == Restart::Temporary => Ok(None), // not kept (rule 38)
            Ok(started) => {
                list.push(child);
                Ok(started)
            }
            Err(reason) => Err(start_failed(reason)),
        }
    }

    async fn start_dynamic(&mut self, arg: Box<dyn Any + Send>) -> Result<Option<Pid>, ChildError> {
        let Children::Dynamic(d) = &mut self.children else {
            return Err(ChildError::Badarg);
        };
        let t = &d.template;
        // A start function (or the argument's `clone`) that panics when called is a failed
        // start, as OTP catches the start call (rules 39, 43), never a supervisor crash.
        let started = match catch_unwind(AssertUnwindSafe(|| (t.start)(arg))) {
            Ok(started) => started,
            Err(payload) => return Err(start_failed(crate::gen_server::unwind_to_reason(payload))),
        };
        let Ok((fut, again)) = started else {
            return Err(ChildError::Badarg);
        };
        match crate::gen_server::Guarded(fut).await.unwrap_or_else(Err) {
            Ok(Some(pid)) => {
                let child = Child {
                    id: None,
                    slot: Slot::Running(pid),
                    start: again,
                    restart: t.restart,
                    shutdown: t.shutdown,
                    kind: t.kind,
                    significant: t.significant,
                    seq: d.next_seq,
                };
                d.next_seq += 1;
                d.children.insert(pid, child);
                Ok(Some(pid))
            }
            Ok(None) => Ok(None),
            Err(reason) => Err(start_failed(reason)),
        }
    }

    async fn terminate_child(&mut self, id: &str) -> Result<(), ChildError> {
        let Children::Static(list) = &mut self.children else {
            return Err(ChildError::SimpleOneForOne);
        };
        let i = find_id(list, id).ok_or(ChildError::NotFound)?;
        if let Slot::Running(pid) = list[i].slot {
            shutdown_child(pid, list[i].shutdown).await;
        }
        forget(list, i);
        Ok(())
    }

    async fn terminate_pid(&mut self, pid: Pid) -> Result<(), ChildError> {
        let Children::Dynamic(d) = &mut self.children else {
            return Err(ChildError::NotFound); // rule 40: a pid only under simple_one_for_one
        };
        match d.children.get(&pid).map(|c| (c.slot, c.shutdown)) {
            Some((slot, shutdown)) => {
                if let Slot::Running(p) = slot {
                    shutdown_child(p, shutdown).await;
                }
                d.children.remove(&pid);
                Ok(())
            }
            None if is_alive(pid) => Err(ChildError::NotFound),
            None => Ok(()), // OTP: terminating a dead pid is ok
        }
    }

    /// The static child `id` and its place, if it is stopped: what `restart_child` and
    /// `delete_child` act on (OTP's errors otherwise).
    fn stopped_child(&mut self, id: &str) -> Result<(&mut Vec<Child>, usize), ChildError> {
        let Children::Static(list) = &mut self.children else {
            return Err(ChildError::SimpleOneForOne);
        };
        let i = find_id(list, id).ok_or(ChildError::NotFound)?;
        match list[i].slot {
            Slot::Running(_) => Err(ChildError::Running),
            Slot::Restarting => Err(ChildError::Restarting),
            Slot::Stopped => Ok((list, i)),
        }
    }

    async fn restart_child(&mut self, id: &str) -> Result<Option<Pid>, ChildError> {
        let (list, i) = self.stopped_child(id)?;
        list[i].start().await.map_err(start_failed)
    }

    fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let (list, i) = self.stopped_child(id)?;
        list.remove(i);
        Ok(())
    }

    /// OTP's `restart_child/3` and `do_restart/3`: a child's exit, by its restart type and
    /// reason (rule 32). An `Exit` from a process that is not a running child is ignored
    /// (rule 47).
    async fn child_exited(&mut self, from: Pid, reason: Reason) -> Next {
        let clean = matches!(reason, Reason::Normal | Reason::Shutdown);
        let wants_restart = |c: &Child| match c.restart {
            Restart::Permanent => true,
            Restart::Transient => !clean,
            Restart::Temporary => false,
        };
        let significant = match &mut self.children {
            Children::Static(list) => {
                let Some(i) = list.iter().position(|c| c.slot == Slot::Running(from)) else {
                    return Next::Wait;
                };
                if wants_restart(&list[i]) {
                    return self.restart_static(i).await;
                }
                let significant = list[i].significant;
                forget(list, i);
                significant
            }
            Children::Dynamic(d) => {
                let Some(c) = d.children.get(&from).filter(|c| c.slot == Slot::Running(from)) else {
                    return Next::Wait;
                };
                if wants_restart(c) {
                    return self.restart_dynamic(from).await;
                }
                let significant = c.significant;
                d.children.remove(&from);
                significant
            }
        };
        self.auto_shutdown(significant)
    }

    /// OTP's `do_auto_shutdown/2` (rule 45), after a child exited by itself and was not
    /// restarted.
    fn auto_shutdown(&self, significant: bool) -> Next {
        if !significant {
            return Next::Wait;
        }
        let shut = match self.flags.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => match &self.children {
                Children::Static(list) => !list.iter().any(|c| c.significant && c.slot != Slot::Stopped),
                Children::Dynamic(d) => d.children.is_empty(),
            },
        };
        if shut {
            Next::Stop(Reason::Shutdown)
        } else {
            Next::Wait
        }
    }

    /// OTP's `add_restart/1`: records a restart now; `false` once more than `intensity` remain
    /// within the period (rule 33).
    fn add_restart(&mut self) -> bool {
        let now = Instant::now();
        while self.restarts.front().is_some_and(|&t| now.duration_since(t) > self.flags.period) {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.flags.intensity as usize
    }

    /// OTP's `restart/2` for the static child at `i` (its process is gone): counts the restart,
    /// then restarts by strategy (rule 31). A failed start leaves the child `Restarting` and
    /// queues a retry (rule 42).
    async fn restart_static(&mut self, i: usize) -> Next {
        let ok = self.add_restart();
        let strategy = self.flags.strategy;
        let Children::Static(list) = &mut self.children else { unreachable!("a static child") };
        list[i].slot = Slot::Stopped;
        if !ok {
            return Next::Stop(Reason::Shutdown); // reached_max_restart_intensity
        }
        let from = match strategy {
            Strategy::OneForOne => {
                if list[i].start().await.is_err() {
                    list[i].slot = Slot::Restarting;
                    try_again(Key::Id(list[i].id.clone().unwrap_or_default()));
                }
                return Next::Wait;
            }
            Strategy::OneForAll => 0,
            Strategy::RestForOne => i,
        };
        terminate_children(list, from).await;
        if let Err((k, _)) = start_children(list, from).await {
            list[k].slot = Slot::Restarting;
            try_again(Key::Id(list[k].id.clone().unwrap_or_default()));
        }
        Next::Wait
    }

    /// OTP's `restart(simple_one_for_one, ..)`: the dynamic child keyed `key` (its old pid).
    async fn restart_dynamic(&mut self, key: Pid) -> Next {
        let ok = self.add_restart();
        let Children::Dynamic(d) = &mut self.children else { unreachable!("a dynamic child") };
        let Some(mut child) = d.children.remove(&key) else { return Next::Wait };
        if !ok {
            return Next::Stop(Reason::Shutdown);
        }
        match child.start().await {
            Ok(Some(pid)) => {
                d.children.insert(pid, child);
            }
            Ok(None) => {} // ignored on restart: the child is gone
            Err(_) => {
                child.slot = Slot::Restarting;
                d.children.insert(key, child);
                try_again(Key::Pid(key));
            }
        }
        Next::Wait
    }

    /// OTP's `handle_cast({try_again_restart, Id})`: restarts the child if it is still
    /// `Restarting` (`terminate_child` may have stopped it meanwhile).
    async fn try_again(&mut self, key: Key) -> Next {
        match (&self.children, key) {
            (Children::Static(list), Key::Id(id)) => match find_id(list, &id) {
                Some(i) if list[i].slot == Slot::Restarting => self.restart_static(i).await,
                _ => Next::Wait,
            },
            (Children::Dynamic(d), Key::Pid(p)) => match d.children.get(&p) {
                Some(c) if c.slot == Slot::Restarting => self.restart_dynamic(p).await,
                _ => Next::Wait,
            },
            _ => Next::Wait,
        }
    }
}

fn find_id(list: &[Child], id: &str) -> Option<usize> {
    list.iter().position(|c| c.id.as_deref() == Some(id))
}

/// OTP's `del_child`: a temporary child's spec is deleted, another's kept with no process.
fn forget(list: &mut Vec<Child>, i: usize) {
    if list[i].restart == Restart::Temporary {
        list.remove(i);
    } else {
        list[i].slot = Slot::Stopped;
    }
}

/// A start function's error as `start_child` reports it: a gen_server name held elsewhere is
/// OTP's `{already_started, Pid}`.
fn start_failed(reason: Reason) -> ChildError {
    match reason.downcast_ref::<StartError>() {
        Some(StartError::AlreadyStarted(p)) => ChildError::AlreadyStarted(*p),
        _ => ChildError::StartFailed(reason),
    }
}

/// Queues a retry of a failed restart behind the messages already queued (rule 42).
fn try_again(key: Key) {
    send(self_pid(), TryAgain(key));
}

/// OTP's `start_children/2` from `from` on, in order. A start returning `Ok(None)` leaves the
/// child with no process (a temporary one is deleted). Stops at the first failure: `Err((index,
/// reason))`, the children after it not started.
async fn start_children(list: &mut Vec<Child>, from: usize) -> Result<(), (usize, Reason)> {
    let mut i = from;
    while i < list.len() {
        match list[i].start().await {
            Ok(Some(_)) => i += 1,
            Ok(None) if list[i].restart == Restart::Temporary => {
                list.remove(i);
            }
            Ok(None) => {
                list[i].slot = Slot::Stopped;
                i += 1;
            }
            Err(reason) => return Err((i, reason)),
        }
    }
    Ok(())
}

/// OTP's `terminate_children/2` from `from` on: stops the children one at a time, newest first
/// (rule 30); temporary children are deleted (rule 44), the others kept with no process.
async fn terminate_children(list: &mut Vec<Child>, from: usize) {
    for i in (from..list.len()).rev() {
        if let Slot::Running(pid) = list[i].slot {
            shutdown_child(pid, list[i].shutdown).await;
        }
        forget(list, i);
    }
}

/// OTP's `shutdown/2` (rule 36): monitor, `exit(child, Shutdown)` (or `Kill`), wait for the
/// `Down` (past the timeout, `Kill` and wait again), then unlink and drop the child's `Exit`,
/// so the stop is never taken for a crash. Returns the child's exit reason.
async fn shutdown_child(pid: Pid, how: Shutdown) -> Reason {
    let mref = monitor(pid);
    let is_down = move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref);
    let down = match how {
        Shutdown::BrutalKill => {
            exit(pid, Reason::Kill);
            receive_match(is_down).await
        }
        Shutdown::Infinity => {
            exit(pid, Reason::Shutdown);
            receive_match(is_down).await
        }
        Shutdown::Timeout(t) => {
            exit(pid, Reason::Shutdown);
            match receive_match_timeout(is_down, t).await {
                Some(m) => m,
                None => {
                    exit(pid, Reason::Kill);
                    receive_match(is_down).await
                }
            }
        }
    };
    // The link's Exit was sent before the Down (the dying process tells links first), so it
    // is queued by now; unlinking voids any still on its way.
    unlink(pid);
    let is_exit = move |m: &Msg| m.downcast_ref::<Exit>().is_some_and(|e| e.from == pid);
    let _ = receive_match_timeout(is_exit, Duration::ZERO).await;
    down.downcast::<Down>().map_or(Reason::Noproc, |d| d.reason)
}

/// OTP's `terminate_dynamic_children/1` (rule 43): all children are sent the exit signal at
/// once and one timer kills those left when the template's timeout passes.
async fn terminate_dynamic_children(d: &mut Dynamic) {
    let how = d.template.shutdown;
    let signal = if how == Shutdown::BrutalKill { Reason::Kill } else { Reason::Shutdown };
    let mut waiting: HashMap<Ref, Pid> = HashMap::new();
    for c in d.children.values() {
        if let Slot::Running(pid) = c.slot {
            waiting.insert(monitor(pid), pid);
            exit(pid, signal.clone());
        }
    }
    d.children.clear();
    let pids: HashSet<Pid> = waiting.values().copied().collect();
    let tag = crate::make_ref();
    let timer = match how {
        // A timeout too far to represent is infinity: no kill timer.
        Shutdown::Timeout(t) if !waiting.is_empty() && Instant::now().checked_add(t).is_some() => {
            Some(send_after(t, self_pid(), KillTimer(tag)))
        }
        _ => None,
    };
    while !waiting.is_empty() {
        // The children's Exits are taken too (and dropped), so the receive never rescans them.
        let m = receive_match(|m: &Msg| {
            m.downcast_ref::<Down>().is_some_and(|d| waiting.contains_key(&d.monitor))
                || m.downcast_ref::<Exit>().is_some_and(|e| pids.contains(&e.from))
                || m.downcast_ref::<KillTimer>().is_some_and(|k| k.0 == tag)
        })
        .await;
        if let Some(d) = m.downcast_ref::<Down>() {
            waiting.remove(&d.monitor);
        } else if m.is::<KillTimer>() {
            waiting.values().for_each(|&p| exit(p, Reason::Kill));
        }
    }
    if let Some(t) = timer {
        if cancel_timer(t).is_none() {
            // Fired meanwhile: drop its message.
            let fired = move |m: &Msg| m.downcast_ref::<KillTimer>().is_some_and(|k| k.0 == tag);
            let _ = receive_match_timeout(fired, Duration::ZERO).await;
        }
    }
}
