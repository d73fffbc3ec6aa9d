//! # SPAM: Erlang's process model for Rust, on every core
//!
//! Lightweight processes (Rust futures with a mailbox), message passing, selective receive,
//! links, monitors, exit trapping, a name registry and process inspection, scheduled by a
//! work-stealing VM with one thread per core.
//!
//! ```
//! use spam::{Vm, Reason};
//!
//! let vm = Vm::builder().schedulers(2).build();
//! let reason = vm.run(async {
//!     let me = spam::self_pid().unwrap();
//!     let child = spam::spawn(async move {
//!         let n: u64 = spam::recv().await.unwrap();
//!         spam::send(me, n * 2).unwrap();
//!     })
//!     .unwrap();
//!     spam::send(child, 21u64).unwrap();
//!     assert_eq!(spam::recv::<u64>().await.unwrap(), 42);
//! });
//! assert_eq!(reason, Reason::Normal);
//! ```
//!
//! Process functions (everything below but [`Vm`]) act on the *current* process. Called outside a
//! process they return a `NotInProcess` error; they never panic for it.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod vm;

pub use spam_scheduler::budget::{yield_now, YieldNow};
pub use spam_scheduler::{BlockingError, WorkerStats};
pub use spam_vm::{
    Down, Exit, LinkError, Msg, NotInProcess, Pid, ProcessInfo, ProcessStatus, Reason, Ref, RegisterError, SendError,
    SpawnError, SpawnOpts,
};
pub use vm::{Vm, VmBuilder};

use spam_vm::{with_current, Receive, SendAsync};
use std::future::Future;
use std::time::{Duration, Instant};

/// Where a message goes: a pid, or a registered name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<'a> {
    Pid(Pid),
    Name(&'a str),
}

impl From<Pid> for Dest<'_> {
    fn from(p: Pid) -> Self {
        Dest::Pid(p)
    }
}
impl<'a> From<&'a str> for Dest<'a> {
    fn from(n: &'a str) -> Self {
        Dest::Name(n)
    }
}
impl<'a> From<&'a String> for Dest<'a> {
    fn from(n: &'a String) -> Self {
        Dest::Name(n)
    }
}

/// A pending `send_after` timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerRef(spam_vm::TimerId);

/// Spawns a process running `f`. Returns at once; the child runs concurrently.
/// Errors: `NotInProcess` outside a process, `ShutDown` once the VM is shut down, `TableFull`
/// past `max_processes`.
pub fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) -> Result<Pid, SpawnError> {
    spawn_opt(f, SpawnOpts::default()).map(|(p, _)| p)
}

/// Spawns a process linked to the caller, atomically.
pub fn spawn_link<F: Future<Output = ()> + Send + 'static>(f: F) -> Result<Pid, SpawnError> {
    spawn_opt(f, SpawnOpts { link: true, ..SpawnOpts::default() }).map(|(p, _)| p)
}

/// Spawns a process monitored by the caller, atomically.
pub fn spawn_monitor<F: Future<Output = ()> + Send + 'static>(f: F) -> Result<(Pid, Ref), SpawnError> {
    let (p, r) = spawn_opt(f, SpawnOpts { monitor: true, ..SpawnOpts::default() })?;
    Ok((p, r.expect("spawn_opt with monitor inside a process returns its reference")))
}

/// Spawns with options (link, monitor, trap_exit, name, mailbox_capacity), all applied before
/// the child first runs. Returns the monitor reference when `opts.monitor`.
pub fn spawn_opt<F: Future<Output = ()> + Send + 'static>(
    f: F,
    opts: SpawnOpts,
) -> Result<(Pid, Option<Ref>), SpawnError> {
    with_current(|p| p.runtime().spawn(Some(p), f, opts))?
}

/// The caller's pid.
pub fn self_pid() -> Result<Pid, NotInProcess> {
    with_current(|p| p.pid())
}

fn resolve<T>(p: &spam_vm::Process, dest: Dest<'_>, msg: T) -> Result<(Pid, T), SendError<T>> {
    match dest {
        Dest::Pid(pid) => Ok((pid, msg)),
        Dest::Name(n) => match p.runtime().whereis(n) {
            Some(pid) => Ok((pid, msg)),
            None => Err(SendError::NotRegistered(n.to_string(), msg)),
        },
    }
}

/// Sends `msg` (Erlang `!`). Never blocks. To a dead pid: `Ok` (the message is dropped, as in
/// Erlang). To an unregistered name: `Err(NotRegistered)`. To a full bounded mailbox:
/// `Err(Full)` — the bound is a real bound, see ARCHITECTURE.md. Every error hands `msg` back.
pub fn send<'a, T: Send + 'static>(dest: impl Into<Dest<'a>>, msg: T) -> Result<(), SendError<T>> {
    let dest = dest.into();
    let mut slot = Some(msg);
    let r = with_current(|p| {
        let msg = slot.take().expect("taken once");
        spam_scheduler::budget::consume(1);
        p.bump_reductions(1);
        let (pid, msg) = resolve(p, dest, msg)?;
        p.runtime().send_message(pid, msg)
    });
    match r {
        Ok(r) => r,
        Err(NotInProcess) => Err(SendError::NotInProcess(slot.take().expect("closure not run"))),
    }
}

/// The same as [`send`]; the name says the caller expects `Full` and handles it.
pub fn try_send<'a, T: Send + 'static>(dest: impl Into<Dest<'a>>, msg: T) -> Result<(), SendError<T>> {
    send(dest, msg)
}

/// Sends, waiting while the receiver's bounded mailbox is full (backpressure). Unbounded or dead
/// receivers behave as [`send`].
pub async fn send_async<'a, T: Send + 'static>(dest: impl Into<Dest<'a>>, msg: T) -> Result<(), SendError<T>> {
    let dest = dest.into();
    let pid = match dest {
        Dest::Pid(p) => p,
        Dest::Name(n) => match whereis(n) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(SendError::NotRegistered(n.to_string(), msg)),
            Err(_) => return Err(SendError::NotInProcess(msg)),
        },
    };
    SendAsync::new(pid, msg).await
}

/// Receives the next message, in arrival order.
pub async fn receive() -> Result<Msg, NotInProcess> {
    Receive::new(|_: &Msg| true, None).await.map(|m| m.expect("no deadline"))
}

/// Selective receive: the first message for which `pred` is true. Skipped messages stay in the
/// mailbox, in order.
pub async fn receive_match<P: FnMut(&Msg) -> bool + Unpin>(pred: P) -> Result<Msg, NotInProcess> {
    Receive::new(pred, None).await.map(|m| m.expect("no deadline"))
}

/// The first message of type `T` (selective: other messages stay queued, in order).
pub async fn recv<T: Send + 'static>() -> Result<T, NotInProcess> {
    let m = Receive::new_trusted(|m: &Msg| m.is::<T>(), None).await?.expect("no deadline");
    Ok(m.downcast::<T>().unwrap_or_else(|_| unreachable!("matched by type")))
}

/// Erlang's `receive ... after`: the next message, or `None` once `timeout` has passed.
/// `Duration::ZERO` looks once and never blocks.
pub async fn receive_timeout(timeout: Duration) -> Result<Option<Msg>, NotInProcess> {
    Receive::new_trusted(|_: &Msg| true, Instant::now().checked_add(timeout)).await
}

/// Selective receive with a timeout.
pub async fn receive_match_timeout<P: FnMut(&Msg) -> bool + Unpin>(
    pred: P,
    timeout: Duration,
) -> Result<Option<Msg>, NotInProcess> {
    let deadline = Instant::now().checked_add(timeout);
    Receive::new(pred, deadline).await
}

/// Registers the caller under `name`.
pub fn register(name: &str) -> Result<(), RegisterError> {
    with_current(|p| p.runtime().register(p.pid(), name))?
}

/// Registers `pid` under `name`.
pub fn register_pid(name: &str, pid: Pid) -> Result<(), RegisterError> {
    with_current(|p| p.runtime().register(pid, name))?
}

/// Removes a registered name.
pub fn unregister(name: &str) -> Result<(), RegisterError> {
    with_current(|p| p.runtime().unregister(name))?
}

/// The pid registered under `name`.
pub fn whereis(name: &str) -> Result<Option<Pid>, NotInProcess> {
    with_current(|p| p.runtime().whereis(name))
}

/// Every live process (a snapshot).
pub fn processes() -> Result<Vec<Pid>, NotInProcess> {
    with_current(|p| p.runtime().processes())
}

/// Links the caller and `pid` (Erlang `link/1`; see `LinkError` for a dead `pid`).
pub fn link(pid: Pid) -> Result<(), LinkError> {
    with_current(|p| p.link(pid))?
}

/// Removes the link between the caller and `pid`, if any.
pub fn unlink(pid: Pid) -> Result<(), NotInProcess> {
    with_current(|p| p.unlink(pid))
}

/// Monitors a process (by pid or registered name). A dead target, or a name nobody holds, gives
/// a `Down { reason: Noproc }` at once. A name is resolved now; the `Down` carries the pid
/// (`Pid::UNDEFINED` when the name was free).
pub fn monitor<'a>(dest: impl Into<Dest<'a>>) -> Result<Ref, NotInProcess> {
    let dest = dest.into();
    with_current(|p| match dest {
        Dest::Pid(pid) => p.monitor(pid),
        Dest::Name(n) => match p.runtime().whereis(n) {
            Some(pid) => p.monitor(pid),
            None => p.monitor_unregistered(),
        },
    })
}

/// Stops a monitor. With `flush`, a `Down` of it already queued is removed as well; in both
/// cases no `Down` for it is received afterwards. Returns `true` if the monitor was active.
pub fn demonitor(mref: Ref, flush: bool) -> Result<bool, NotInProcess> {
    with_current(|p| p.demonitor(mref, flush))
}

/// Sets the trap-exit flag; returns the previous one.
pub fn trap_exit(flag: bool) -> Result<bool, NotInProcess> {
    with_current(|p| p.set_trap_exit(flag))
}

/// Sends an exit signal to `pid` (Erlang `exit/2`). To the caller itself, a fatal signal ends
/// the caller right here (the call does not return).
pub fn exit(pid: Pid, reason: Reason) -> Result<(), NotInProcess> {
    with_current(|p| p.exit_signal(pid, reason))
}

/// Ends the calling process with `reason` (Erlang `exit/1`). Inside a process it never returns;
/// outside one it returns `NotInProcess`.
pub fn exit_self(reason: Reason) -> NotInProcess {
    if spam_vm::in_process() {
        spam_vm::process::unwind_exit(reason);
    }
    NotInProcess
}

/// A snapshot of a process, `None` if it is dead or exiting.
pub fn process_info(pid: Pid) -> Result<Option<ProcessInfo>, NotInProcess> {
    with_current(|p| p.runtime().process_info(pid))
}

/// Sends `msg` to `dest` after `delay` (a name is resolved when the timer fires).
pub fn send_after<'a, T: Send + 'static>(
    delay: Duration,
    dest: impl Into<Dest<'a>>,
    msg: T,
) -> Result<TimerRef, NotInProcess> {
    let to = match dest.into() {
        Dest::Pid(p) => Ok(p),
        Dest::Name(n) => Err(n.to_string()),
    };
    with_current(|p| TimerRef(p.runtime().send_after(delay, to, msg)))
}

/// Cancels a `send_after` timer: the time it had left, or `None` if it already fired.
pub fn cancel_timer(t: TimerRef) -> Result<Option<Duration>, NotInProcess> {
    with_current(|p| p.runtime().cancel_timer(t.0))
}

/// Runs a blocking closure on the VM's blocking pool, off the schedulers.
pub async fn spawn_blocking<R, F>(f: F) -> Result<R, BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let task = match with_current(|p| p.runtime().scheduler().spawn_blocking(f)) {
        Ok(t) => t,
        Err(NotInProcess) => return Err(BlockingError::NotInProcess),
    };
    task.await
}
