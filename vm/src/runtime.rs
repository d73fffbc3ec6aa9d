//! The runtime of one VM: process table, registry, timers, the scheduler, and the paths every
//! operation goes through: spawn, send a message, send a signal, shutdown.
//!
//! # The send path (`send_message`)
//! pin the receiver's slot (one RMW) → [bounded only: reserve room, one RMW] → push the node
//! (one CAS on the receiver's mailbox word) → if the receiver was waiting, wake its task (one
//! CAS on the task state, + the queue push) → unpin (one RMW). One allocation (the node), no
//! lock, no `Arc` clone.

use crate::error::{RegisterError, SendError, SpawnError};
use crate::mailbox::Pushed;
use crate::message::{Kind, Msg, OwnedNode};
use crate::pid::{Pid, Ref};
use crate::process::{Ext, Process, ProcessFuture};
use crate::reason::Reason;
use crate::registry::{Name, Registry};
use crate::signal::Signal;
use crate::table::Table;
use crate::timer::Timers;
use spam_scheduler::sync::atomic::Ordering::*;
use spam_scheduler::sync::Mutex;
use spam_scheduler::{Handle, Held, Scheduler};
use std::future::Future;

/// How [`Runtime::push_node`] went.
pub(crate) enum Delivery<P> {
    /// In the receiver's mailbox, or gathered by the outbox for it.
    Sent,
    /// Not in the process table: dead, never alive, or a pid of another node.
    Absent(P),
    /// A counted node to a full bounded mailbox.
    Full(P),
    /// The receiver is exiting: its mailbox refused the node, which was dropped.
    Refused,
}

/// A process found by pid: pinned (any thread) or read in place (a worker inside a poll).
pub(crate) enum Target<'a> {
    Pinned(crate::table::Pinned<'a>),
    /// Raw `TaskRef<Process>` pointer, valid until the current poll ends (table.rs, "The worker
    /// path").
    InPoll(*const ()),
}

impl Target<'_> {
    #[inline]
    pub(crate) fn process(&self) -> &Process {
        match self {
            Target::Pinned(p) => p.process(),
            // SAFETY: valid until this poll ends (table.rs), which outlives `self`'s use here.
            Target::InPoll(t) => unsafe { spam_scheduler::TaskRef::<Process>::header_of_raw(*t) },
        }
    }
    #[inline]
    pub(crate) fn wake(&self) {
        match self {
            Target::Pinned(p) => p.wake(),
            // SAFETY: as in `process`.
            Target::InPoll(t) => unsafe { spam_scheduler::TaskRef::<Process>::wake_raw(*t) },
        }
    }
    /// The task's header address (what `Handle::current_task` reports for a worker polling it).
    pub(crate) fn task_addr(&self) -> usize {
        match self {
            Target::Pinned(p) => p.task_addr(),
            Target::InPoll(t) => *t as usize,
        }
    }
    /// Runs `f` on the slot's own task ref, without counting a new one.
    pub(crate) fn with_task<R>(&self, f: impl FnOnce(&spam_scheduler::TaskRef<Process>) -> R) -> R {
        match self {
            Target::Pinned(p) => p.with_task(f),
            Target::InPoll(t) => {
                // SAFETY: as in `process`; the ref is the slot's, borrowed for the call and never
                // dropped.
                let r = std::mem::ManuallyDrop::new(unsafe { spam_scheduler::TaskRef::<Process>::from_raw(*t) });
                f(&r)
            }
        }
    }
}

/// Options of `spawn_opt`: set the fields, or chain the methods of the same names.
#[derive(Debug, Clone, Default)]
pub struct SpawnOpts {
    /// Link the child to the parent, atomically with its creation.
    pub link: bool,
    /// Monitor the child from the parent, atomically with its creation.
    pub monitor: bool,
    /// The child starts trapping exits.
    pub trap_exit: bool,
    /// Register the child under this name before it runs; the spawn fails if the name is taken.
    pub name: Option<String>,
    /// Bound the child's mailbox to this many messages (signals are never bounded).
    pub mailbox_capacity: Option<usize>,
}

impl SpawnOpts {
    /// No options: an unlinked, unmonitored, unnamed process with an unbounded mailbox.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(!spam::SpawnOpts::new().link && spam::SpawnOpts::new().name.is_none());
    /// ```
    pub fn new() -> SpawnOpts {
        SpawnOpts::default()
    }
    /// Sets [`SpawnOpts::link`].
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::SpawnOpts::new().link().link);
    /// ```
    pub fn link(mut self) -> SpawnOpts {
        self.link = true;
        self
    }
    /// Sets [`SpawnOpts::monitor`].
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::SpawnOpts::new().monitor().monitor);
    /// ```
    pub fn monitor(mut self) -> SpawnOpts {
        self.monitor = true;
        self
    }
    /// Sets [`SpawnOpts::trap_exit`].
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::SpawnOpts::new().trap_exit().trap_exit);
    /// ```
    pub fn trap_exit(mut self) -> SpawnOpts {
        self.trap_exit = true;
        self
    }
    /// Sets [`SpawnOpts::name`].
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::SpawnOpts::new().name("db").name.as_deref() == Some("db"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> SpawnOpts {
        self.name = Some(name.into());
        self
    }
    /// Sets [`SpawnOpts::mailbox_capacity`].
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::SpawnOpts::new().mailbox_capacity(8).mailbox_capacity == Some(8));
    /// ```
    pub fn mailbox_capacity(mut self, n: usize) -> SpawnOpts {
        self.mailbox_capacity = Some(n);
        self
    }
}

/// VM configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub schedulers: usize,
    pub max_processes: usize,
    pub max_blocking_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { schedulers: num_cpus_default(), max_processes: 1 << 24, max_blocking_threads: 64 }
    }
}

fn num_cpus_default() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A pointer to the Runtime for closures run by its own threads (the timer thread, the
/// scheduler's workers through the maintenance hook).
struct RtPtr(*const Runtime);

// SAFETY: `Runtime::shutdown` joins every thread that runs such a closure (workers, timer
// thread) and drops the closures before the Runtime is freed, so the pointer never dangles
// where it is used; `Runtime` is `Sync`, so sharing `&Runtime` across threads is sound.
unsafe impl Send for RtPtr {}
// SAFETY: as above.
unsafe impl Sync for RtPtr {}

/// One VM.
pub struct Runtime {
    pub(crate) table: Table,
    pub(crate) registry: Registry,
    pub(crate) timers: Timers,
    sched: Handle,
    scheduler: Mutex<Option<Scheduler>>,
    shut_down: std::sync::atomic::AtomicBool,
    /// The shutdown steps ran (see `shutdown`).
    stopped: std::sync::Once,
    /// The thread running the shutdown started from one of the VM's own threads.
    reaper: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The node, when the VM is one (`remote.rs`).
    pub(crate) dist: std::sync::OnceLock<Box<dyn crate::remote::Distribution>>,
}

impl Runtime {
    pub fn new(config: Config) -> Runtime {
        let scheduler =
            Scheduler::builder().workers(config.schedulers).max_blocking_threads(config.max_blocking_threads).build();
        Runtime {
            table: Table::new(config.max_processes, config.schedulers.max(1)),
            registry: Registry::new(),
            timers: Timers::start(),
            sched: scheduler.handle().clone(),
            scheduler: Mutex::new(Some(scheduler)),
            shut_down: std::sync::atomic::AtomicBool::new(false),
            stopped: std::sync::Once::new(),
            reaper: Mutex::new(None),
            dist: std::sync::OnceLock::new(),
        }
    }

    /// loom models only (`--cfg spam_loom`): a VM whose scheduler has no worker threads and whose
    /// timers have no thread. The model runs process tasks itself, taking them from
    /// `self.scheduler().loom_next()`; everything else is the ordinary runtime.
    #[cfg(spam_loom)]
    pub fn loom_new(max_processes: usize) -> Runtime {
        let scheduler = Scheduler::loom_new(1);
        Runtime {
            table: Table::new(max_processes, 1),
            registry: Registry::new(),
            timers: Timers::loom_new(),
            sched: scheduler.handle().clone(),
            scheduler: Mutex::new(Some(scheduler)),
            shut_down: std::sync::atomic::AtomicBool::new(false),
            stopped: std::sync::Once::new(),
            reaper: Mutex::new(None),
            dist: std::sync::OnceLock::new(),
        }
    }

    /// Finds a live process: without a pin when called from a worker of this VM (which is always
    /// inside a poll: workers run nothing else), with a pin otherwise.
    #[inline]
    pub(crate) fn target(&self, pid: Pid) -> Option<Target<'_>> {
        if self.sched.current_worker().is_some() {
            // SAFETY: we are on a worker of this VM's scheduler, inside a poll; retirements
            // wait for this scheduler's grace periods (`install_maintenance`), and the pointer
            // is used only within this call chain.
            unsafe { self.table.lookup_unpinned(pid) }.map(Target::InPoll)
        } else {
            self.table.pin(pid).map(Target::Pinned)
        }
    }

    /// Hooks the table's grace-period maintenance into the scheduler's quiescent points. Call
    /// once the runtime is at its final address (it is referenced by raw pointer).
    pub fn install_maintenance(&self) {
        let rt = RtPtr(self);
        self.sched.set_maintenance(Box::new(move |w| {
            let rt = &rt;
            // SAFETY: see RtPtr.
            let rt = unsafe { &*rt.0 };
            rt.table.maintain(w, rt.sched.quiescent())
        }));
    }

    /// loom models only (`--cfg spam_loom`): one step of the timer thread at clock reading
    /// `now` (`Timers::loom_fire`).
    #[cfg(spam_loom)]
    pub fn loom_fire_timers(&self, now: std::time::Instant) {
        self.timers.loom_fire(now);
    }

    /// loom models only (`--cfg spam_loom`): lets a grace period pass, as the quiescent points
    /// of worker 0 would between polls (a model has no workers): seals the pids retired so far,
    /// announces, and drops the owner pins that are then due (`Table::maintain`).
    #[cfg(spam_loom)]
    pub fn loom_grace_period(&self) {
        let q = self.sched.quiescent();
        self.table.maintain(0, q);
        q.announce(0);
        self.table.maintain(0, q);
    }

    /// The scheduler handle (stats, blocking pool).
    pub fn scheduler(&self) -> &Handle {
        &self.sched
    }

    /// Creates and starts a process. `parent` is the spawning process (needed for link/monitor).
    ///
    /// Atomic: the child's side of a link or monitor is in its control block before it first
    /// runs, so it cannot die unseen; and the child runs only once the spawn has succeeded (it is
    /// *held* until then, `task.rs` transition 6). If its name is taken, the child never runs its
    /// code: it exits with `Noproc` through the ordinary exit protocol (so a sender, linker or
    /// monitor that found it meanwhile, through `processes()`, is answered as by any exit), and
    /// its slot is freed after a grace period like any other.
    pub fn spawn<F>(&self, parent: Option<&Process>, fut: F, opts: SpawnOpts) -> Result<(Pid, Option<Ref>), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mref = (opts.monitor && parent.is_some()).then(Ref::make);
        let ext = match parent {
            Some(p) if opts.link || mref.is_some() => {
                let mut e = Box::<Ext>::default();
                if opts.link {
                    e.links.insert(p.pid());
                }
                if let Some(r) = mref {
                    e.monitored_by.insert(r, p.pid());
                }
                Some(e)
            }
            _ => None,
        };
        let (pid, held) = self.install(ext, opts.trap_exit, opts.mailbox_capacity, fut)?;
        if let Some(name) = opts.name {
            if let Err(e) = self.register(pid, &name) {
                // SAFETY: `held` is the child's poll right: we have a poller's exclusive access.
                unsafe { held.header().die_before_running(Reason::Noproc) };
                held.start();
                return Err(SpawnError::Register(e));
            }
        }
        if let Some(p) = parent {
            if opts.link {
                p.ext().links.insert(pid);
            }
            if let Some(r) = mref {
                p.ext().monitors.insert(r, pid);
            }
            // The spawn hook: one load of the parent's own flags (`trace.rs`).
            if p.trace.load(Relaxed) != 0 {
                crate::trace::spawned(p, held.header(), opts.link, mref);
            }
        }
        held.start();
        Ok((pid, mref))
    }

    /// Spawns a root process and calls `on_exit` with its reason when it ends.
    pub fn spawn_root<F>(&self, fut: F, on_exit: crate::process::ExitHook) -> Result<Pid, SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let ext = Box::new(Ext { on_exit: Some(on_exit), ..Ext::default() });
        let (pid, held) = self.install(Some(ext), false, None, fut)?;
        held.start();
        Ok(pid)
    }

    /// Creates a process and puts it in the table, held (not yet running): refused once the VM
    /// is shut down or the table is full. Returns its pid and its poll right.
    fn install<F>(
        &self,
        ext: Option<Box<Ext>>,
        trap_exit: bool,
        capacity: Option<usize>,
        fut: F,
    ) -> Result<(Pid, Held<Process>), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Workers are joined before the shutdown drain; any other thread registers its insert
        // so the drain waits for it (table.rs, "Shutdown").
        let _installing = match self.sched.current_worker() {
            Some(_) if !self.shut_down.load(Acquire) => None,
            Some(_) => return Err(SpawnError::ShutDown),
            None => Some(self.table.begin_install(&self.shut_down).ok_or(SpawnError::ShutDown)?),
        };
        let pid = self.table.reserve().ok_or(SpawnError::TableFull)?;
        let proc = Process::new(pid, self, ext, trap_exit, capacity);
        let (task, held) = self.sched.create_held(proc, |hp| ProcessFuture::new(hp, fut));
        self.table.insert(pid, task);
        Ok((pid, held))
    }

    /// Sends a message. A dead or never-existing pid is not an error (Erlang).
    /// Timers waiting to fire (`send_after`s and receive deadlines).
    pub fn pending_timers(&self) -> usize {
        self.timers.pending()
    }

    #[inline]
    pub fn send_message<T: Send + 'static>(&self, to: Pid, msg: T) -> Result<(), SendError<T>> {
        // SAFETY: a plain message.
        match unsafe { self.push_node(to, Kind::Message, msg) } {
            Delivery::Sent | Delivery::Refused => Ok(()),
            Delivery::Full(msg) => Err(SendError::Full(msg)),
            Delivery::Absent(msg) => {
                // Dead, or a pid of another node (`remote.rs`; the cold path only).
                if to.is_remote() {
                    self.send_remote(to, Msg::new(msg));
                }
                Ok(())
            }
        }
    }

    /// Pushes `payload` to `to` as a node of `kind`: a `Message`, or a `Request` or reply
    /// (`Process::request`, `Process::reply`). Messages and requests count against a bounded
    /// mailbox; replies, as the signals they stand for, never do. A message may be gathered
    /// by the outbox; a request or reply is pushed at once, after what the outbox gathered
    /// (as a signal is: it must not overtake the messages sent before it).
    ///
    /// # Safety
    /// For a `Request`, `Reply` or `ReplyDemonitored` kind, `P` is a [`Tagged`](crate::Tagged)
    /// (the receiver reads its head without knowing `T`: `OwnedNode::tagged_head`).
    #[inline(always)]
    pub(crate) unsafe fn push_node<P: Send + 'static>(&self, to: Pid, kind: Kind, payload: P) -> Delivery<P> {
        if kind != Kind::Message {
            crate::outbox::flush();
        }
        let Some(pinned) = self.target(to) else {
            return Delivery::Absent(payload);
        };
        let target = pinned.process();
        let counted = matches!(kind, Kind::Message | Kind::Request);
        if let (true, Some(b)) = (counted, &target.bound) {
            // Reserve room by CAS, never by add-then-undo: a refused try must not count, even
            // for an instant, or a racing sender's retry would see a message that is not there
            // and wait for a receive that never comes (found by loom: tests/bounded.rs).
            if b.len.fetch_update(AcqRel, Acquire, |l| (l < b.capacity).then_some(l + 1)).is_err() {
                return Delivery::Full(payload);
            }
        }
        let mut node = OwnedNode::new(kind, payload);
        if let (Kind::Message, Target::InPoll(t)) = (kind, &pinned) {
            // On a worker, in a poll: a run of messages to one receiver goes as one chain.
            match crate::outbox::offer(*t, target, node) {
                crate::outbox::Offer::Taken => return Delivery::Sent,
                crate::outbox::Offer::Direct(n) => node = n,
            }
        }
        match target.mailbox.push(node) {
            Ok(Pushed::WakeConsumer) => pinned.wake(),
            Ok(Pushed::Queued) => {}
            Err(closed) => {
                if let (true, Some(b)) = (counted, &target.bound) {
                    b.len.fetch_sub(1, AcqRel);
                }
                drop(pinned);
                // Exiting: dropped, as a send to a dead pid. The payload is a user value.
                spam_scheduler::contain::drop_value(closed);
                return Delivery::Refused;
            }
        }
        Delivery::Sent
    }

    /// Sends a signal; always wakes the receiver (signals must be handled promptly, e.g. a kill
    /// of a process that waits on a timer). Returns the signal if the receiver is dead or exiting.
    pub(crate) fn send_signal(&self, to: Pid, sig: Signal) -> Result<(), Signal> {
        // Messages this poll gathered go first: a signal must not overtake them (outbox.rs).
        crate::outbox::flush();
        let Some(pinned) = self.target(to) else {
            return self.signal_remote(to, sig); // `Err` unless a node takes it for a remote pid
        };
        match pinned.process().mailbox.push(OwnedNode::signal(sig)) {
            Ok(_) => {
                pinned.wake();
                Ok(())
            }
            Err(node) => Err(node.into_signal()),
        }
    }

    /// Sends `msg` to `to` (a pid, or a name resolved when the timer fires) after `delay`.
    pub fn send_after<T: Send + 'static>(
        &self,
        delay: std::time::Duration,
        to: Result<Pid, String>,
        msg: T,
    ) -> crate::TimerId {
        let rt = RtPtr(self);
        let deadline = crate::timer::deadline_after(delay);
        self.timers.call_at(
            deadline,
            Box::new(move || {
                let rt = &rt;
                // SAFETY: see `RtPtr`.
                let rt = unsafe { &*rt.0 };
                let pid = match &to {
                    Ok(p) => Some(*p),
                    Err(name) => rt.whereis(name),
                };
                if let Some(p) = pid {
                    let _ = rt.send_message(p, msg);
                }
            }),
        )
    }

    /// Cancels a timer of `send_after`: the time it had left, or `None` if it already fired.
    pub fn cancel_timer(&self, t: crate::TimerId) -> Option<std::time::Duration> {
        self.timers.cancel(t)
    }

    /// `exit(pid, reason)` from outside any process (`from` is shown to a trapping target).
    pub fn exit_from(&self, from: Pid, to: Pid, reason: Reason) {
        let _ = self.send_signal(to, Signal::Exit { from, reason, link: false });
    }

    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.registry.whereis(name)
    }

    /// Registers `pid` under `name` (registry.rs has the protocol against a racing exit).
    pub fn register(&self, pid: Pid, name: &str) -> Result<(), RegisterError> {
        let Some(pinned) = self.target(pid) else {
            return Err(RegisterError::Noproc);
        };
        let proc = pinned.process();
        let mut ext = proc.ext();
        if !self.table.is_alive(pid) {
            return Err(RegisterError::Noproc);
        }
        if ext.name.is_some() {
            return Err(RegisterError::AlreadyNamed);
        }
        let name: Name = name.into();
        if !self.registry.insert(&name, pid) {
            return Err(RegisterError::NameTaken(name.to_string()));
        }
        ext.name = Some(name);
        if proc.traced(crate::trace::TraceFlags::PROCS) {
            let name = ext.name.as_deref().unwrap_or_default().to_string();
            proc.emit_unlocking(ext, crate::trace::Trace::Register { name });
        }
        Ok(())
    }

    /// Removes a name (whoever holds it).
    pub fn unregister(&self, name: &str) -> Result<(), RegisterError> {
        let not_registered = || RegisterError::NotRegistered(name.to_string());
        let pid = self.registry.whereis(name).ok_or_else(not_registered)?;
        match self.target(pid) {
            Some(pinned) => {
                let proc = pinned.process();
                let mut ext = proc.ext();
                if ext.name.as_deref() == Some(name) && self.registry.remove(name, pid) {
                    ext.name = None;
                    if proc.traced(crate::trace::TraceFlags::PROCS) {
                        proc.emit_unlocking(ext, crate::trace::Trace::Unregister { name: name.to_string() });
                    }
                    return Ok(());
                }
                Err(not_registered())
            }
            // Exiting: its exit removes the name; the name is as good as gone.
            None => self.registry.remove(name, pid).then_some(()).ok_or_else(not_registered),
        }
    }

    /// Live processes (a snapshot).
    pub fn processes(&self) -> Vec<Pid> {
        self.table.pids()
    }

    /// Number of processes not yet reclaimed.
    pub fn process_count(&self) -> usize {
        self.table.len()
    }

    pub fn is_alive(&self, pid: Pid) -> bool {
        self.table.is_alive(pid)
    }

    /// `true` on a thread that belongs to this VM: one of its scheduler's workers or blocking
    /// threads, or its timer thread. Shutdown cannot block on such a thread (it would join
    /// itself, or free the runtime under a running poll).
    pub fn on_own_thread(&self) -> bool {
        self.sched.current_worker().is_some()
            || self.sched.blocking_pool().is_current_thread()
            || self.timers.is_current_thread()
    }

    /// `true` on one of this VM's scheduler workers or on its timer thread: a thread that must
    /// never block waiting for a process of this VM.
    pub fn on_scheduler_or_timer_thread(&self) -> bool {
        self.sched.current_worker().is_some() || self.timers.is_current_thread()
    }

    /// Shutdown protocol (who may touch a table slot when: `table.rs`, "Shutdown"):
    /// 1. refuse new spawns (the flag; spawns from outside in flight are waited for in 4);
    /// 2. stop the timer thread: pending timers are dropped, none fires from now on;
    /// 3. shut the scheduler down: workers (and the monitor) joined, queued tasks cancelled, a
    ///    wake from now on cancels its task at once, blocking pool stopped;
    /// 4. drain the table: every process still LIVE is cancelled (its future dropped under its
    ///    poll right, then its control block torn down: mailbox, save queue, links, monitors,
    ///    name, waiting senders, the `on_exit` hook) without the exit protocol (there is nobody
    ///    left to tell), and its slot released; exited processes waiting for a grace period are
    ///    released;
    /// 5. clear the registry.
    ///
    /// Idempotent: a second caller waits for the first to finish. Called on one of the VM's own
    /// threads (a process, a message destructor on the timer thread, a blocking job), it only
    /// starts the shutdown: steps 1–5 run on a new thread, which the next blocking call (or the
    /// runtime's drop) waits for.
    pub fn shutdown(&self) {
        if IN_SHUTDOWN.with(|c| std::ptr::eq(c.get(), self)) {
            return; // a destructor run by this very shutdown (steps 2–4) asked again
        }
        if self.on_own_thread() {
            self.begin_shutdown();
            let mut reaper = self.reaper.lock();
            if reaper.is_none() && !self.stopped.is_completed() {
                let rt = RtPtr(self);
                let spawned = std::thread::Builder::new().name("spam-shutdown".into()).spawn(move || {
                    let rt = &rt;
                    // SAFETY: see RtPtr; the runtime's drop joins this thread first.
                    unsafe { &*rt.0 }.shutdown_now();
                });
                // Without a thread, the steps run at the next blocking call or at drop.
                *reaper = spawned.ok();
            }
            return;
        }
        self.shutdown_now();
        if let Some(t) = self.reaper.lock().take() {
            let _ = t.join();
        }
    }

    /// Sets the shutdown flags without waiting: no spawn from now on, the workers leave after
    /// their current polls. Safe on any thread; the steps themselves run in `shutdown`.
    pub fn begin_shutdown(&self) {
        self.shut_down.store(true, SeqCst);
        self.sched.begin_shutdown();
    }

    /// Steps 1–5, once; a concurrent caller waits for the first. Never on a thread of this VM.
    fn shutdown_now(&self) {
        self.stopped.call_once(|| {
            let _mark = InShutdown::enter(self);
            self.shut_down.store(true, SeqCst);
            self.timers.shutdown();
            if let Some(s) = self.scheduler.lock().take() {
                s.shutdown();
            }
            self.table.drain();
            self.registry.clear();
        });
    }
}

std::thread_local! {
    /// The runtime whose shutdown steps this thread is running, or null.
    static IN_SHUTDOWN: std::cell::Cell<*const Runtime> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Marks this thread as running `rt`'s shutdown steps until dropped.
struct InShutdown(*const Runtime);

impl InShutdown {
    fn enter(rt: &Runtime) -> InShutdown {
        InShutdown(IN_SHUTDOWN.with(|c| c.replace(rt)))
    }
}

impl Drop for InShutdown {
    fn drop(&mut self) {
        IN_SHUTDOWN.with(|c| c.set(self.0));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.on_own_thread() {
            // `Vm` hands a runtime dropped on its own threads to a new thread; freeing it here
            // would free it under the running poll or timer.
            eprintln!("spam: a Runtime was dropped on one of its own threads; aborting");
            std::process::abort();
        }
        self.shutdown();
    }
}
