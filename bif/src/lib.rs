//! # SPAM: Erlang's process model for Rust, on every core
//!
//! Lightweight processes (Rust futures with a mailbox), message passing, selective receive,
//! links, monitors, exit trapping, a name registry and process inspection, scheduled by a
//! work-stealing VM with one thread per core.
//!
//! ```
//! use spam::{Addr, Vm};
//!
//! struct Double { n: u64, reply_to: Addr<u64> }
//!
//! let vm = Vm::new();
//! let answer = vm.block_on(async {
//!     let doubler: Addr<Double> = Addr::new(spam::spawn(async {
//!         loop {
//!             let Double { n, reply_to } = spam::recv().await;
//!             reply_to.send(n * 2);
//!         }
//!     }));
//!     doubler.send(Double { n: 21, reply_to: spam::self_addr() });
//!     spam::recv::<u64>().await
//! });
//! assert_eq!(answer, 42);
//! ```
//!
//! - **Starting**: a [`Vm`] runs processes; [`Vm::block_on`] runs a root process and returns
//!   its value, [`Vm::run`] its exit reason.
//! - **Process functions** (everything else here) act for the *current* process. Outside a
//!   process they panic with a message naming the function, as tokio's `spawn` does outside a
//!   runtime; their `# Panics` sections say so. Only outcomes a caller handles are `Result`s: a
//!   taken name, a dead process to link to, a full bounded mailbox ([`try_send`]), a spawn
//!   past the process limit ([`try_spawn_opt`]).
//! - **The rules** (signal order, links, monitors, exit reasons, the registry) are Erlang's,
//!   written down in the repository's `docs/semantics.md`, with the performance contract.
//! - **OTP behaviours**: [`gen_server`] (typed generic servers: `call`, `cast`, deferred
//!   replies, `stop`) and [`supervisor`] (supervision trees and dynamic supervisors), following
//!   OTP 25's rules (`docs/otp-semantics.md`).
//! - **Watching it run**: [`VmBuilder::observer`] serves a live web page of the VM (processes,
//!   schedulers, links and monitors, supervision trees) and its JSON API, documented in the
//!   repository's `docs/observer.md`; [`trace`] sends a process's events to a tracer process,
//!   as Erlang's `erlang:trace/3`; [`set_label`] names a process for both.
//! - **The guide**: [`guide`] (request/reply with timeouts, supervision, map-reduce, timers,
//!   bounded mailboxes, exits and `panic = "abort"`, naming processes).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod addr;
mod dist;
mod distribution;
pub mod gen_server;
mod message;
mod observer;
mod process;
mod rt_ref;
pub mod supervisor;
pub mod term;
mod timer;
mod trace;
mod vm;

#[doc = include_str!("../../docs/guide.md")]
pub mod guide {}

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use addr::{self_addr, Addr};
pub use distribution::{disconnect_node, node, nodes, ping, spawn_remote};
pub use message::{
    receive, receive_match, receive_match_timeout, receive_timeout, recv, recv_match, recv_match_timeout, recv_timeout,
    send, send_async, try_send, Dest,
};
pub use process::{
    demonitor, exit, exit_self, is_alive, link, make_ref, monitor, process_info, processes, register, register_pid,
    self_pid, set_label, spawn, spawn_link, spawn_monitor, spawn_opt, trap_exit, try_spawn_opt, unlink, unregister,
    whereis,
};
pub use spam_scheduler::budget::YieldNow;
pub use spam_scheduler::{BlockingError, WorkerStats};
pub use spam_vm::{
    Down, Exit, LinkError, Msg, Pid, ProcessInfo, ProcessStatus, Reason, Ref, RegisterError, SendError, SpawnError,
    SpawnOpts, UserReason,
};
pub use spam_vm::{Trace, TraceEvent, TraceFlags};
pub use timer::{cancel_timer, send_after, sleep, TimerRef};
pub use trace::{trace, trace_info};
pub use vm::{Vm, VmBuilder};

use process::current;

/// `true` when called inside a process, where the process functions work; `false` elsewhere
/// (`main`, another thread, a destructor the VM runs outside any poll, such as a message dropped
/// by [`Vm::send`](crate::Vm::send) to a dead pid). Code that may run on either side, a
/// destructor above all, checks it before calling a process function, which would panic outside.
///
/// ```
/// assert!(!spam::in_process());
/// let vm = spam::Vm::builder().schedulers(1).build();
/// assert!(vm.block_on(async { spam::in_process() }));
/// ```
pub fn in_process() -> bool {
    spam_vm::in_process()
}

/// Lets other processes run: the caller goes to the back of its scheduler's queue once. For
/// long CPU loops prefer [`maybe_yield`], which yields only when the time slice is spent.
/// Works in any future run by a SPAM scheduler; elsewhere it just returns `Pending` once.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async { spam::yield_now().await });
/// ```
pub fn yield_now() -> YieldNow {
    spam_scheduler::budget::yield_now()
}

/// A yield point for CPU-bound loops: charges one reduction to the current time slice and
/// yields (as [`yield_now`]) only once the slice is spent, so a loop calling it every iteration
/// costs a thread-local decrement per call and still lets other processes, and exit signals,
/// in. Without such points a process that never awaits cannot be preempted or killed: Rust
/// futures are cooperative. Outside a SPAM scheduler it never yields.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// let sum = vm.block_on(async {
///     let mut sum = 0u64;
///     for i in 0..1_000_000u64 {
///         sum += i;
///         spam::maybe_yield().await;
///     }
///     sum
/// });
/// assert_eq!(sum, 499_999_500_000);
/// ```
pub async fn maybe_yield() {
    if !spam_scheduler::budget::consume(1) {
        yield_now().await
    }
}

/// Runs a blocking closure (file I/O, a C library, a long computation that cannot yield) on the
/// VM's blocking pool, off the schedulers, and awaits its value: Erlang's dirty schedulers.
/// Errors: [`BlockingError::Panicked`] (the closure panicked; the process goes on) and
/// [`BlockingError::Shutdown`] (the VM shut down before it ran).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// let len = vm.block_on(async {
///     spam::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0)).await
/// });
/// assert!(len.is_ok());
/// ```
pub async fn spawn_blocking<R, F>(f: F) -> Result<R, BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    current("spawn_blocking", |p| p.runtime().scheduler().spawn_blocking(f)).await
}
