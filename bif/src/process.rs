//! Process functions: spawning, identity, links, monitors, exits, the registry and inspection.
//! Each acts for the *current* process and panics, naming itself, when called outside one.

use crate::Dest;
use spam_vm::{with_current, LinkError, Pid, Process, ProcessInfo, Reason, Ref, RegisterError, SpawnError, SpawnOpts};
use std::future::Future;

/// Runs `f` on the current process; outside a process, panics naming `function` (tokio's
/// convention for runtime-only functions).
#[track_caller]
#[inline]
pub(crate) fn current<R>(function: &'static str, f: impl FnOnce(&Process) -> R) -> R {
    match with_current(f) {
        Ok(r) => r,
        Err(_) => outside(function),
    }
}

/// The panic of a process function called outside a process.
#[cold]
#[track_caller]
pub(crate) fn outside(function: &str) -> ! {
    panic!(
        "spam::{function} called outside a SPAM process: process functions work only inside a \
         process (start one with Vm::block_on, Vm::run or Vm::spawn)"
    )
}

/// The exit reason of a plain `spawn*` whose [`try_spawn_opt`] would have failed (Erlang's
/// `spawn` raises `system_limit` for a full table, `badarg` for a taken name).
fn spawn_failure(e: SpawnError) -> Reason {
    match e {
        SpawnError::TableFull => Reason::SystemLimit,
        SpawnError::ShutDown => Reason::Shutdown,
        SpawnError::Register(_) => Reason::Badarg,
    }
}

fn spawn_in<F: Future<Output = ()> + Send + 'static>(
    function: &'static str,
    f: F,
    opts: SpawnOpts,
) -> (Pid, Option<Ref>) {
    match current(function, |p| p.runtime().spawn(Some(p), f, opts)) {
        Ok(r) => r,
        Err(e) => exit_self(spawn_failure(e)),
    }
}

/// Spawns a process running `f` and returns its pid at once; the child runs concurrently,
/// possibly on another scheduler.
///
/// # Exits
/// Like Erlang's `spawn`, a spawn that cannot happen ends the *caller*: with
/// [`Reason::SystemLimit`] when the process table is full (`max_processes`), with
/// [`Reason::Shutdown`] when the VM is shutting down. Use [`try_spawn_opt`] to handle those.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(2).build();
/// let answer = vm.block_on(async {
///     let me = spam::self_pid();
///     spam::spawn(async move { spam::send(me, 42u32) });
///     spam::recv::<u32>().await
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) -> Pid {
    spawn_in("spawn", f, SpawnOpts::default()).0
}

/// Spawns a process linked to the caller, atomically: the child cannot die before the link
/// exists. If either exits abnormally the other gets the exit signal.
///
/// # Exits
/// As [`spawn`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::{Exit, Reason};
/// let vm = spam::Vm::builder().schedulers(2).build();
/// let exit = vm.block_on(async {
///     spam::trap_exit(true);
///     let child = spam::spawn_link(async { spam::exit_self(Reason::other("boom")) });
///     let exit: Exit = spam::recv().await;
///     assert_eq!(exit.from, child);
///     exit.reason
/// });
/// assert_eq!(exit, Reason::other("boom"));
/// ```
#[track_caller]
pub fn spawn_link<F: Future<Output = ()> + Send + 'static>(f: F) -> Pid {
    spawn_in("spawn_link", f, SpawnOpts::new().link()).0
}

/// Spawns a process monitored by the caller, atomically; returns its pid and the monitor
/// reference that its [`Down`](crate::Down) will carry.
///
/// # Exits
/// As [`spawn`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::{Down, Reason};
/// let vm = spam::Vm::builder().schedulers(2).build();
/// vm.block_on(async {
///     let (pid, mref) = spam::spawn_monitor(async {});
///     let down: Down = spam::recv().await;
///     assert_eq!((down.pid, down.monitor, down.reason), (pid, mref, Reason::Normal));
/// });
/// ```
#[track_caller]
pub fn spawn_monitor<F: Future<Output = ()> + Send + 'static>(f: F) -> (Pid, Ref) {
    let (pid, mref) = spawn_in("spawn_monitor", f, SpawnOpts::new().monitor());
    (pid, mref.expect("a spawn with monitor inside a process returns its reference"))
}

/// Spawns with options (link, monitor, trap_exit, name, mailbox_capacity), all in place before
/// the child first runs. Returns the monitor reference when `opts.monitor`.
///
/// # Exits
/// As [`spawn`]; and with [`Reason::Badarg`] when `opts.name` is taken (Erlang's `register`
/// raises `badarg`). Use [`try_spawn_opt`] to handle those.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::SpawnOpts;
/// let vm = spam::Vm::builder().schedulers(2).build();
/// vm.block_on(async {
///     let (pid, _) = spam::spawn_opt(async { spam::sleep(std::time::Duration::from_secs(60)).await },
///                                    SpawnOpts::new().name("db").link());
///     assert_eq!(spam::whereis("db"), Some(pid));
///     spam::unlink(pid);
///     spam::exit(pid, spam::Reason::Kill);
/// });
/// ```
#[track_caller]
pub fn spawn_opt<F: Future<Output = ()> + Send + 'static>(f: F, opts: SpawnOpts) -> (Pid, Option<Ref>) {
    spawn_in("spawn_opt", f, opts)
}

/// [`spawn_opt`] that returns the failure instead of exiting the caller: a taken name
/// ([`SpawnError::Register`]; the child never runs), a full table ([`SpawnError::TableFull`]), a
/// VM shutting down ([`SpawnError::ShutDown`]).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::{RegisterError, SpawnError, SpawnOpts};
/// let vm = spam::Vm::builder().schedulers(2).build();
/// vm.block_on(async {
///     spam::register("me").unwrap();
///     let r = spam::try_spawn_opt(async {}, SpawnOpts::new().name("me"));
///     assert_eq!(r, Err(SpawnError::Register(RegisterError::NameTaken("me".into()))));
/// });
/// ```
#[track_caller]
pub fn try_spawn_opt<F: Future<Output = ()> + Send + 'static>(
    f: F,
    opts: SpawnOpts,
) -> Result<(Pid, Option<Ref>), SpawnError> {
    current("try_spawn_opt", |p| p.runtime().spawn(Some(p), f, opts))
}

/// The caller's pid (Erlang `self()`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// let pid = vm.block_on(async { spam::self_pid() });
/// assert!(!vm.is_alive(pid)); // the root process has returned
/// ```
#[track_caller]
pub fn self_pid() -> Pid {
    current("self_pid", |p| p.pid())
}

/// A new unique reference (Erlang `make_ref()`): tag a request with it and match the reply on
/// it. Never returns the same reference twice in this OS process. Works anywhere.
///
/// ```
/// let (a, b) = (spam::make_ref(), spam::make_ref());
/// assert_ne!(a, b);
/// ```
pub fn make_ref() -> Ref {
    Ref::make()
}

/// Registers the caller under `name` (Erlang `register(Name, self())`). One name per process;
/// the name is freed when the process exits.
///
/// Errors: [`RegisterError::NameTaken`], [`RegisterError::AlreadyNamed`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::register("logger").unwrap();
///     assert_eq!(spam::whereis("logger"), Some(spam::self_pid()));
/// });
/// ```
#[track_caller]
pub fn register(name: &str) -> Result<(), RegisterError> {
    current("register", |p| p.runtime().register(p.pid(), name))
}

/// Registers another process under `name` (Erlang `register(Name, Pid)`).
///
/// Errors: [`RegisterError::NameTaken`], [`RegisterError::AlreadyNamed`],
/// [`RegisterError::Noproc`] for a dead `pid`.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let pid = spam::spawn(async { let () = spam::recv().await; });
///     spam::register_pid("worker", pid).unwrap();
///     spam::send("worker", ());
/// });
/// ```
#[track_caller]
pub fn register_pid(name: &str, pid: Pid) -> Result<(), RegisterError> {
    current("register_pid", |p| p.runtime().register(pid, name))
}

/// Removes a registered name (Erlang `unregister/1`).
///
/// Errors: [`RegisterError::NotRegistered`] when nobody holds it.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::register("tmp").unwrap();
///     spam::unregister("tmp").unwrap();
///     assert_eq!(spam::whereis("tmp"), None);
/// });
/// ```
#[track_caller]
pub fn unregister(name: &str) -> Result<(), RegisterError> {
    current("unregister", |p| p.runtime().unregister(name))
}

/// The pid registered under `name`, if any (Erlang `whereis/1`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async { assert_eq!(spam::whereis("nobody"), None) });
/// ```
#[track_caller]
pub fn whereis(name: &str) -> Option<Pid> {
    current("whereis", |p| p.runtime().whereis(name))
}

/// Every live process, a snapshot (Erlang `processes()`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async { assert!(spam::processes().contains(&spam::self_pid())) });
/// ```
#[track_caller]
pub fn processes() -> Vec<Pid> {
    current("processes", |p| p.runtime().processes())
}

/// `true` if `pid` is alive: not exited and not exiting (Erlang `is_process_alive/1`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async { assert!(spam::is_alive(spam::self_pid())) });
/// ```
#[track_caller]
pub fn is_alive(pid: Pid) -> bool {
    current("is_alive", |p| p.runtime().is_alive(pid))
}

/// A snapshot of a process (status, queue length, links, monitors, name, reductions, memory),
/// `None` if it is dead or exiting (Erlang `process_info/1`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::register("me").unwrap();
///     let info = spam::process_info(spam::self_pid()).unwrap();
///     assert_eq!(info.registered_name.as_deref(), Some("me"));
/// });
/// ```
#[track_caller]
pub fn process_info(pid: Pid) -> Option<ProcessInfo> {
    current("process_info", |p| p.runtime().process_info(pid))
}

/// Labels the calling process (OTP 27's `proc_lib:set_label/1`): free text that
/// [`process_info`] and the observer show next to its pid, to tell apart processes without a
/// registered name. Replaces the previous label.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::set_label("connection 42");
///     let info = spam::process_info(spam::self_pid()).unwrap();
///     assert_eq!(info.label.as_deref(), Some("connection 42"));
/// });
/// ```
#[track_caller]
pub fn set_label(label: impl Into<String>) {
    let label = label.into();
    current("set_label", |p| p.set_label(label))
}

/// Links the caller and `pid` (Erlang `link/1`): when either exits abnormally, the other gets
/// the exit signal. Linking to a dead `pid` gives [`LinkError::Noproc`] if the caller does not
/// trap exits; if it does, `Ok` and an [`Exit`](crate::Exit) with [`Reason::Noproc`] arrives.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let (pid, _) = spam::spawn_monitor(async {});
///     let _: spam::Down = spam::recv().await; // it is gone
///     assert_eq!(spam::link(pid), Err(spam::LinkError::Noproc));
/// });
/// ```
#[track_caller]
pub fn link(pid: Pid) -> Result<(), LinkError> {
    current("link", |p| p.link(pid))
}

/// Removes the link between the caller and `pid`, if any (Erlang `unlink/1`). No exit signal of
/// that link is received afterwards.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let pid = spam::spawn_link(async { let () = spam::recv().await; });
///     spam::unlink(pid);
///     assert!(spam::process_info(spam::self_pid()).unwrap().links.is_empty());
///     spam::send(pid, ());
/// });
/// ```
#[track_caller]
pub fn unlink(pid: Pid) {
    current("unlink", |p| p.unlink(pid))
}

/// Monitors a process, by pid, registered name or [`Addr`](crate::Addr) (Erlang `monitor/2`).
/// When it exits, a [`Down`](crate::Down) with the returned reference arrives. A dead target,
/// or a name nobody holds, gives a `Down` with [`Reason::Noproc`] at once. A name is resolved
/// now; its `Down` carries the pid ([`Pid::UNDEFINED`] when the name was free).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::{Down, Reason};
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let mref = spam::monitor("nobody");
///     let down: Down = spam::recv().await;
///     assert_eq!((down.monitor, down.reason), (mref, Reason::Noproc));
/// });
/// ```
#[track_caller]
pub fn monitor<'a>(dest: impl Into<Dest<'a>>) -> Ref {
    let dest = dest.into();
    current("monitor", |p| match dest {
        Dest::Pid(pid) => p.monitor(pid),
        Dest::Name(n) => match p.runtime().whereis(n) {
            Some(pid) => p.monitor(pid),
            None => p.monitor_unregistered(),
        },
    })
}

/// Stops a monitor (Erlang `demonitor/2`). With `flush`, a `Down` of it already queued is
/// removed as well; either way no `Down` of it is received afterwards. Returns `true` if the
/// monitor was still active.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let mref = spam::monitor("nobody"); // its Down is queued at once
///     spam::demonitor(mref, true); // ... and flushed
///     assert!(spam::receive_timeout(std::time::Duration::ZERO).await.is_none());
/// });
/// ```
#[track_caller]
pub fn demonitor(mref: Ref, flush: bool) -> bool {
    current("demonitor", |p| p.demonitor(mref, flush))
}

/// Sets the trap-exit flag and returns the previous one (Erlang `process_flag(trap_exit, B)`).
/// A process that traps exits receives exit signals (other than `Kill`) as [`Exit`](crate::Exit)
/// messages instead of dying.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     assert!(!spam::trap_exit(true));
///     spam::exit(spam::self_pid(), spam::Reason::Shutdown);
///     let exit: spam::Exit = spam::recv().await;
///     assert_eq!(exit.reason, spam::Reason::Shutdown);
/// });
/// ```
#[track_caller]
pub fn trap_exit(flag: bool) -> bool {
    current("trap_exit", |p| p.set_trap_exit(flag))
}

/// Sends an exit signal to `pid` (Erlang `exit/2`). [`Reason::Kill`] kills it, trapping or not;
/// [`Reason::Normal`] is ignored unless it traps exits; any other reason kills it unless it
/// traps exits (then it receives an [`Exit`](crate::Exit)). Sent to the caller itself, a fatal
/// signal ends the caller here (the call does not return).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::{Down, Reason};
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let (pid, _) = spam::spawn_monitor(async { let () = spam::recv().await; });
///     spam::exit(pid, Reason::Kill);
///     let down: Down = spam::recv().await;
///     assert_eq!(down.reason, Reason::Killed);
/// });
/// ```
#[track_caller]
pub fn exit(pid: Pid, reason: Reason) {
    current("exit", |p| p.exit_signal(pid, reason))
}

/// Ends the calling process with `reason` (Erlang `exit/1`); never returns.
///
/// The process's future is unwound (a panic payload of the VM's own, not a panic: no panic hook
/// runs), so its destructors run before its links and monitors are told. With
/// `panic = "abort"` there is no unwinding: the whole program aborts. Like Erlang's `exit/1` it
/// is an exception: a `catch_unwind` around it catches it, as Erlang's `catch exit(R)` does, and
/// the process goes on. (An exit *signal*, such as [`exit`]`(self_pid(), reason)` with a fatal
/// reason, cannot be caught that way: the process is dead, and its next process function
/// unwinds again.)
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::Reason;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// let reason = vm.run(async { spam::exit_self(Reason::other("done early")) });
/// assert_eq!(reason, Reason::other("done early"));
/// ```
#[track_caller]
pub fn exit_self(reason: Reason) -> ! {
    if !spam_vm::in_process() {
        outside("exit_self");
    }
    spam_vm::process::unwind_exit(reason)
}
