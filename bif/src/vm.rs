//! `Vm`: starting, running and stopping a SPAM virtual machine from ordinary (non-process) code.

use crate::dist::node::{Entries, NodeConfig, NodeHandle, NET_TICKTIME};
use crate::observer::Observer;
use spam_scheduler::WorkerStats;
use spam_vm::{Config, Pid, ProcessInfo, Reason, Runtime, SendError, SpawnError, SpawnOpts};
use std::future::Future;
use std::sync::{mpsc, Arc, Mutex};

/// Configures a [`Vm`]: start with [`Vm::builder`], end with [`VmBuilder::build`].
#[derive(Debug, Clone, Default)]
pub struct VmBuilder {
    config: Config,
    /// Where the observer listens, if on, and whether the program asked for it (or only the
    /// `SPAM_OBSERVER` environment variable did).
    observer: Option<(String, bool)>,
    /// The node to start, if any ([`VmBuilder::node`]).
    node: Option<NodeConfig>,
}

impl VmBuilder {
    /// Scheduler threads (default: one per CPU the process may use, as `num_cpus::get()` counts
    /// them). At least 1.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(3).build();
    /// assert_eq!(vm.schedulers(), 3);
    /// ```
    pub fn schedulers(mut self, n: usize) -> Self {
        self.config.schedulers = n.max(1);
        self
    }
    /// Upper bound on live processes (default 2^24; rounded up to the process table's page of
    /// 4096 slots). [`try_spawn_opt`](crate::try_spawn_opt) past it fails with `TableFull`;
    /// plain `spawn` exits the caller with `SystemLimit`.
    ///
    /// ```
    /// use spam::{SpawnError, SpawnOpts};
    /// let vm = spam::Vm::builder().max_processes(4096).build();
    /// let spawned = vm.block_on(async {
    ///     let mut n = 0;
    ///     while spam::try_spawn_opt(spam::sleep(std::time::Duration::MAX), SpawnOpts::new()).is_ok() {
    ///         n += 1;
    ///     }
    ///     n
    /// });
    /// assert_eq!(spawned, 4095); // and the root process
    /// ```
    pub fn max_processes(mut self, n: usize) -> Self {
        self.config.max_processes = n.max(1);
        self
    }
    /// Upper bound on threads of the blocking pool ([`spawn_blocking`](crate::spawn_blocking);
    /// default 64). Jobs past it wait for a thread.
    ///
    /// ```
    /// let vm = spam::Vm::builder().max_blocking_threads(2).build();
    /// # drop(vm);
    /// ```
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.config.max_blocking_threads = n.max(1);
        self
    }
    /// Serves the observer, a live web page of the VM's processes and schedulers and its JSON
    /// API (`docs/observer.md`), on `addr` while the VM runs: `"127.0.0.1:0"` picks a free
    /// loopback port ([`Vm::observer_addr`] tells it), a bare port (`"4000"`, `":4000"`) means
    /// loopback too; another interface only when written out. Off by default, and then it costs
    /// nothing. [`Vm::builder`] turns it on when the environment has `SPAM_OBSERVER=ADDR`
    /// (`SPAM_OBSERVER=1`: loopback, any port); this call wins over that.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).observer("127.0.0.1:0").build();
    /// let addr = vm.observer_addr().unwrap();
    /// assert!(addr.ip().is_loopback());
    /// ```
    pub fn observer(mut self, addr: impl Into<String>) -> Self {
        self.observer = Some((addr.into(), true));
        self
    }

    /// Makes the VM a node of an Erlang cluster (`docs/distribution.md`): it listens, registers
    /// `name` with the local EPMD (starting `epmd -daemon` if none runs, as `erl` does) and
    /// then talks to other SPAM nodes and to Erlang and Elixir nodes with the same `cookie`:
    /// messages ([`Term`](crate::term::Term)s) to remote pids and to `(name, node)`, links,
    /// monitors and exit signals across nodes, [`ping`](crate::ping),
    /// [`spawn_remote`](crate::spawn_remote). `name` is `name@host` (`name` alone means
    /// `name@localhost`). The node is visible (Erlang's `nodes()` lists it) unless
    /// [`VmBuilder::hidden`]. Connections are made on first use, one per pair of nodes, on the
    /// node's own threads.
    ///
    /// ```no_run
    /// let vm = spam::Vm::builder().node("spam@localhost", "secret").build();
    /// assert_eq!(vm.node_name(), Some("spam@localhost"));
    /// ```
    pub fn node(mut self, name: impl Into<String>, cookie: impl Into<String>) -> Self {
        let (hidden, ticktime) = self.node.as_ref().map_or((false, NET_TICKTIME), |n| (n.hidden, n.ticktime));
        self.node = Some(NodeConfig { name: name.into(), cookie: cookie.into(), hidden, ticktime });
        self
    }

    /// With [`VmBuilder::node`]: Erlang's `net_ticktime` (default 60 s, at least 400 ms). A
    /// connection that hears nothing from its peer for this long is taken for dead (links and
    /// monitors across it get `noconnection`); a quiet one sends a tick every quarter of it.
    /// Nodes of a cluster should agree on it, as Erlang's do.
    ///
    /// ```no_run
    /// let vm = spam::Vm::builder()
    ///     .node("spam@localhost", "secret")
    ///     .net_ticktime(std::time::Duration::from_secs(10))
    ///     .build();
    /// # drop(vm);
    /// ```
    pub fn net_ticktime(mut self, t: std::time::Duration) -> Self {
        if let Some(n) = &mut self.node {
            n.ticktime = t.max(std::time::Duration::from_millis(400));
        }
        self
    }

    /// With [`VmBuilder::node`]: a hidden node (Erlang's `-hidden`): connected nodes list it in
    /// `nodes(hidden)`, not `nodes()`, and it joins no global name space.
    ///
    /// ```no_run
    /// let vm = spam::Vm::builder().node("tool@localhost", "secret").hidden(true).build();
    /// # drop(vm);
    /// ```
    pub fn hidden(mut self, hidden: bool) -> Self {
        if let Some(n) = &mut self.node {
            n.hidden = hidden;
        }
        self
    }

    /// Starts the VM: its scheduler threads and its timer thread (and the observer's, if on).
    ///
    /// # Panics
    /// If [`VmBuilder::observer`] was called and its address cannot be bound (the message names
    /// it; use [`VmBuilder::try_build`] to handle that); if [`VmBuilder::node`] was called and
    /// the node cannot start (EPMD unreachable, the name taken). An address that only `SPAM_OBSERVER`
    /// gave is not worth a panic: the VM starts without the observer and says why on stderr.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(2).build();
    /// assert_eq!(vm.schedulers(), 2);
    /// ```
    pub fn build(self) -> Vm {
        let fallback = self.clone();
        match self.try_build() {
            Ok(vm) => vm,
            Err(e) => match fallback.observer {
                Some((addr, false)) => {
                    eprintln!("spam: SPAM_OBSERVER={addr}: cannot serve the observer there ({e}); running without it");
                    VmBuilder { observer: None, ..fallback }.build()
                }
                addr => panic!(
                    "spam: cannot start the VM (observer {:?}, node {:?}): {e}",
                    addr.map(|a| a.0),
                    fallback.node.map(|n| n.name)
                ),
            },
        }
    }

    /// As [`VmBuilder::build`], but an observer address that cannot be bound, or a node that
    /// cannot start, is an error.
    ///
    /// ```
    /// let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = taken.local_addr().unwrap().to_string();
    /// assert!(spam::Vm::builder().schedulers(1).observer(addr).try_build().is_err());
    /// ```
    pub fn try_build(self) -> std::io::Result<Vm> {
        let rt = Box::new(Runtime::new(self.config));
        rt.install_maintenance();
        let mut vm =
            Vm { rt: std::mem::ManuallyDrop::new(rt), observer: None, node: None, entries: Entries::default() };
        if let Some((addr, _)) = &self.observer {
            vm.observer = Some(Observer::start(&vm.rt, addr)?);
        }
        if let Some(cfg) = &self.node {
            vm.node = Some(NodeHandle::start(&vm.rt, cfg, vm.entries.clone())?);
        }
        Ok(vm)
    }
}

/// A running VM: its schedulers, processes, registry and timers. Dropping it shuts it down.
///
/// A `Vm` may be dropped anywhere, also inside one of its own processes (the last clone of an
/// `Arc<Vm>`, say) or in a destructor the VM runs: there the shutdown cannot wait for the running
/// poll it is part of, so it is finished, and the VM freed, on a new thread.
pub struct Vm {
    rt: std::mem::ManuallyDrop<Box<Runtime>>,
    /// Reads `rt` from its own threads: stopped (joined) before `rt` is freed.
    observer: Option<Observer>,
    /// The node, if any: its threads read `rt` too, and are joined before it is freed.
    node: Option<NodeHandle>,
    /// Entry points for remote `spawn` ([`Vm::register_entry`]).
    entries: Entries,
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: taken once, here; `self.rt` is not used again.
        let rt = unsafe { std::mem::ManuallyDrop::take(&mut self.rt) };
        let observer = (self.observer.take(), self.node.take());
        if !rt.on_own_thread() {
            drop(observer); // their threads read `rt`: joined first
            drop(rt); // shuts down and waits for it
            return;
        }
        rt.begin_shutdown(); // workers leave after their current polls; the drop does the rest
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some((observer, rt))));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new().name("spam-drop".into()).spawn(move || {
            if let Some((observer, rt)) = theirs.lock().unwrap_or_else(|e| e.into_inner()).take() {
                drop(observer);
                drop(rt);
            }
        });
        if spawned.is_err() {
            // No thread to free it on: leaking it is the only sound choice left (the observer
            // too: its threads may still read the runtime).
            if let Some(both) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                std::mem::forget(both);
            }
        }
    }
}

impl Default for Vm {
    fn default() -> Self {
        Vm::builder().build()
    }
}

impl Vm {
    /// A VM with the default configuration: one scheduler per CPU.
    ///
    /// ```
    /// let vm = spam::Vm::new();
    /// assert!(vm.schedulers() >= 1);
    /// ```
    pub fn new() -> Vm {
        Vm::builder().build()
    }

    /// A [`VmBuilder`] with the defaults, to set the scheduler count and limits.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(2).max_processes(1_000_000).build();
    /// # drop(vm);
    /// ```
    pub fn builder() -> VmBuilder {
        VmBuilder {
            config: Config { schedulers: num_cpus::get().max(1), ..Config::default() },
            observer: crate::observer::from_env().map(|a| (a, false)),
            node: None,
        }
    }

    /// The VM's runtime, for the crate's own tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// This node's name, `name@host`, if the VM is a node ([`VmBuilder::node`]).
    ///
    /// ```
    /// assert_eq!(spam::Vm::new().node_name(), None);
    /// ```
    pub fn node_name(&self) -> Option<&str> {
        self.node.as_ref().map(|n| n.shared().name())
    }

    /// Registers the entry point `module:function` for [`spawn_remote`](crate::spawn_remote)
    /// from other nodes (Erlang's `spawn(Node, Module, Function, Args)`; an Erlang node calls it
    /// the same way): `f` gets the call's arguments and returns the new process's body. A second
    /// registration of the same pair replaces the first.
    ///
    /// ```
    /// use spam::term::Term;
    /// let vm = spam::Vm::new();
    /// vm.register_entry("demo", "echo", |args: Vec<Term>| async move {
    ///     if let Some(to) = args.first().and_then(|t| spam::Pid::try_from(t).ok()) {
    ///         let msg: Term = spam::recv().await;
    ///         spam::send(to, msg);
    ///     }
    /// });
    /// ```
    pub fn register_entry<F, Fut>(&self, module: &str, function: &str, f: F)
    where
        F: Fn(Vec<crate::term::Term>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let entry: crate::dist::node::Entry = Arc::new(move |args| Box::pin(f(args)));
        self.entries.write().unwrap_or_else(|e| e.into_inner()).insert((module.into(), function.into()), entry);
    }

    /// Where the observer listens, if it is on ([`VmBuilder::observer`]).
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).observer("127.0.0.1:0").build();
    /// println!("observer at http://{}/", vm.observer_addr().unwrap());
    /// ```
    pub fn observer_addr(&self) -> Option<std::net::SocketAddr> {
        self.observer.as_ref().map(Observer::addr)
    }

    /// Refuses to block a thread the VM itself needs (see `# Panics` of `run` and `block_on`).
    #[track_caller]
    fn assert_may_block(&self, function: &str) {
        assert!(
            !self.rt.on_scheduler_or_timer_thread(),
            "Vm::{function} called on one of this VM's own scheduler or timer threads; it would \
             block the thread its root process may need: spawn a process instead"
        );
    }

    /// Starts `f` as a root process and blocks until it exits; returns its exit reason
    /// ([`Reason::Normal`] when `f` returns, [`Reason::Panic`] when it panics, ...). Other
    /// processes keep running afterwards, until [`Vm::shutdown`] or the drop of the `Vm`. If the
    /// root cannot start: [`Reason::SystemLimit`] when the process table is full,
    /// [`Reason::Noproc`] when the VM is shut down.
    ///
    /// # Panics
    /// On one of this VM's scheduler threads (inside one of its processes) or on its timer thread
    /// (in a destructor it runs): blocking there could wait for the very thread the root needs.
    /// Spawn a process instead.
    ///
    /// ```
    /// use spam::Reason;
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// assert_eq!(vm.run(async {}), Reason::Normal);
    /// assert_eq!(vm.run(async { panic!("oops") }), Reason::Panic("oops".into()));
    /// ```
    pub fn run<F: Future<Output = ()> + Send + 'static>(&self, f: F) -> Reason {
        self.assert_may_block("run");
        let (tx, rx) = mpsc::sync_channel(1);
        let hook = Box::new(move |r: &Reason| {
            let _ = tx.send(r.clone());
        });
        match self.rt.spawn_root(f, hook) {
            Ok(_) => {}
            Err(SpawnError::TableFull) => return Reason::SystemLimit,
            Err(_) => return Reason::Noproc,
        }
        // The sender is dropped without sending only if the VM shut down under the root.
        rx.recv().unwrap_or(Reason::Killed)
    }

    /// Starts `f` as a root process, blocks until it completes and returns its value: the way
    /// from `main` into the VM, as tokio's `block_on`. Other processes keep running afterwards.
    ///
    /// # Panics
    /// - If the root process ends without a value: with the panic's message if it panicked,
    ///   with its exit reason if it was killed or called [`exit_self`](crate::exit_self).
    /// - If the root cannot start: the VM is shut down or its process table is full.
    /// - On one of this VM's own scheduler or timer threads, as [`Vm::run`].
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(2).build();
    /// let n = vm.block_on(async {
    ///     let me = spam::self_pid();
    ///     for i in 0..10u64 {
    ///         spam::spawn(async move { spam::send(me, i * i) });
    ///     }
    ///     let mut sum = 0;
    ///     for _ in 0..10 { sum += spam::recv::<u64>().await; }
    ///     sum
    /// });
    /// assert_eq!(n, 285);
    /// ```
    pub fn block_on<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.assert_may_block("block_on");
        let value = Arc::new(Mutex::new(None));
        let slot = value.clone();
        let root = async move {
            let v = f.await;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        };
        let reason = self.run(root);
        let v = value.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (v, reason) {
            (Some(v), _) => v,
            (None, Reason::Panic(m)) => panic!("Vm::block_on: the root process panicked: {m}"),
            (None, Reason::Noproc) => panic!("Vm::block_on: the VM is shut down"),
            (None, Reason::SystemLimit) => {
                panic!("Vm::block_on: the root process could not start or exited with system_limit")
            }
            (None, r) => panic!("Vm::block_on: the root process exited with `{r}` before returning its value"),
        }
    }

    /// Spawns a process from outside any process (inside one, use [`spawn`](crate::spawn)).
    /// Errors: [`SpawnError::ShutDown`], [`SpawnError::TableFull`].
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pid = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// assert!(vm.is_alive(pid));
    /// vm.send(pid, ()).unwrap();
    /// ```
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) -> Result<Pid, SpawnError> {
        self.rt.spawn(None, f, SpawnOpts::default()).map(|(p, _)| p)
    }

    /// Sends a message from outside any process (as [`try_send`](crate::try_send) to a pid): a
    /// dead pid drops it; a full bounded mailbox gives [`SendError::Full`]; a pid of another node
    /// takes only a [`Term`](crate::term::Term) ([`SendError::NotATerm`] otherwise).
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pid = vm.spawn(async {
    ///     assert_eq!(spam::recv::<&str>().await, "from main");
    /// }).unwrap();
    /// vm.send(pid, "from main").unwrap();
    /// ```
    pub fn send<T: Send + 'static>(&self, to: Pid, msg: T) -> Result<(), SendError<T>> {
        if !crate::distribution::may_send::<T>(to) {
            return Err(SendError::NotATerm(msg));
        }
        self.rt.send_message(to, msg)
    }

    /// Sends an exit signal from outside any process (as [`exit`](crate::exit); the `from` of
    /// an [`Exit`](crate::Exit) it causes is [`Pid::UNDEFINED`]).
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pid = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// vm.exit(pid, spam::Reason::Kill);
    /// ```
    pub fn exit(&self, to: Pid, reason: Reason) {
        self.rt.exit_from(Pid::UNDEFINED, to, reason);
    }

    /// The pid registered under `name`, if any.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// assert_eq!(vm.whereis("nobody"), None);
    /// ```
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.rt.whereis(name)
    }

    /// Every live process, a snapshot.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pid = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// assert!(vm.processes().contains(&pid));
    /// ```
    pub fn processes(&self) -> Vec<Pid> {
        self.rt.processes()
    }

    /// Processes not yet fully reclaimed: live ones and those finishing their exit.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// assert!(vm.process_count() >= 1);
    /// ```
    pub fn process_count(&self) -> usize {
        self.rt.process_count()
    }

    /// A snapshot of a process ([`process_info`](crate::process_info) from outside).
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pid = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// assert_eq!(vm.process_info(pid).map(|i| i.pid), Some(pid));
    /// ```
    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        self.rt.process_info(pid)
    }

    /// `true` if `pid` is alive (not exited and not exiting).
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pid = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// assert!(vm.is_alive(pid));
    /// ```
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.rt.is_alive(pid)
    }

    /// Timers waiting to fire: `send_after`s, and receive deadlines. A process keeps one timer
    /// for its receive deadlines while it lives (a receive that ends early leaves it armed for
    /// the next one), and its exit cancels it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let t = vm.block_on(async { spam::send_after(Duration::from_secs(60), spam::self_pid(), ()) });
    /// assert_eq!(vm.pending_timers(), 1);
    /// vm.block_on(async move { spam::cancel_timer(t) });
    /// assert_eq!(vm.pending_timers(), 0);
    /// ```
    pub fn pending_timers(&self) -> usize {
        self.rt.pending_timers()
    }

    /// Bytes the VM's own allocator holds from the system, for every VM of this program
    /// together: the 64 KiB pages that process control blocks and message nodes live in (used
    /// or kept for reuse). They do not come from the `#[global_allocator]`, so a count of the
    /// global allocator's bytes must add this to see what processes cost.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let pids: Vec<_> = (0..1000).map(|_| vm.spawn(async { let () = spam::recv().await; }).unwrap()).collect();
    /// assert!(spam::Vm::allocator_bytes() >= 1000 * 64);
    /// # drop(pids);
    /// ```
    pub fn allocator_bytes() -> usize {
        spam_scheduler::slab::system_bytes()
    }

    /// The number of scheduler threads.
    ///
    /// ```
    /// assert_eq!(spam::Vm::builder().schedulers(2).build().schedulers(), 2);
    /// ```
    pub fn schedulers(&self) -> usize {
        self.rt.scheduler().workers()
    }

    /// Per-scheduler counters (polls, steals, steal attempts, parks, injector pops), live.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(2).build();
    /// vm.block_on(async {});
    /// let polls: u64 = vm.scheduler_stats().iter().map(|s| s.polls).sum();
    /// assert!(polls >= 1);
    /// ```
    pub fn scheduler_stats(&self) -> Vec<WorkerStats> {
        self.rt.scheduler().stats()
    }

    /// Stops the VM: timers stopped, schedulers joined, every remaining process dropped (its
    /// future and control block, without the exit protocol). Idempotent; blocks until done.
    /// Called from inside one of this VM's processes (or a blocking job, or a destructor the VM
    /// runs), it only starts the shutdown and returns: the calling process is stopped after its
    /// current poll, and the rest finishes on another thread. Dropping the `Vm` does the same.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.shutdown();
    /// assert!(vm.spawn(async {}).is_err());
    /// ```
    pub fn shutdown(&self) {
        self.rt.shutdown();
    }

    /// [`trace`](crate::trace) from outside any process: sets `pid`'s trace flags and tracer
    /// (empty flags stop tracing); `false` if `pid` is not alive.
    ///
    /// ```
    /// use spam::{TraceEvent, TraceFlags};
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let worker = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// let tracer = vm.spawn(async { loop { let _ = spam::recv::<TraceEvent>().await; } }).unwrap();
    /// assert!(vm.trace(worker, TraceFlags::RECEIVE | TraceFlags::PROCS, tracer));
    /// vm.send(worker, ()).unwrap(); // the tracer gets `receive` (of `()`), then `exit`
    /// assert!(!vm.trace(spam::Pid::UNDEFINED, TraceFlags::ALL, tracer)); // not alive
    /// ```
    pub fn trace(&self, pid: Pid, flags: crate::TraceFlags, tracer: Pid) -> bool {
        self.rt.trace(pid, flags, tracer)
    }

    /// [`trace_info`](crate::trace_info) from outside any process: `(flags, tracer)` if `pid`
    /// is alive and traced (a tracer found dead turns tracing off here, as in Erlang).
    ///
    /// ```
    /// use spam::{TraceEvent, TraceFlags};
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// let worker = vm.spawn(async { let () = spam::recv().await; }).unwrap();
    /// let tracer = vm.spawn(async { loop { let _ = spam::recv::<TraceEvent>().await; } }).unwrap();
    /// assert_eq!(vm.trace_info(worker), None);
    /// vm.trace(worker, TraceFlags::SEND, tracer);
    /// assert_eq!(vm.trace_info(worker), Some((TraceFlags::SEND, tracer)));
    /// ```
    pub fn trace_info(&self, pid: Pid) -> Option<(crate::TraceFlags, Pid)> {
        self.rt.trace_info(pid)
    }
}
