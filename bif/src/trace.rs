//! Tracing (Erlang's `erlang:trace/3`): a traced process's events ([`Trace`]) go as
//! [`TraceEvent`] messages to its tracer, an ordinary process that receives them with
//! [`recv`](crate::recv). Untraced processes pay one relaxed load and a branch per event point.
//! The rules: `docs/semantics.md`, rule 16; the protocol: `vm/src/trace.rs`.

use crate::process::current;
use spam_vm::{Pid, TraceFlags};

#[cfg(doc)]
use spam_vm::{Trace, TraceEvent};

/// Sets `pid`'s trace flags and tracer (Erlang's `erlang:trace(Pid, true, Flags ++ [{tracer,
/// Tracer}])`): from now on, the events `flags` select go to `tracer` as [`TraceEvent`]
/// messages. Empty flags stop tracing (`erlang:trace(Pid, false, all)`). Replaces what was set
/// before. Returns `false` if `pid` is not alive. Tracing stops by itself when the tracer dies.
///
/// # Panics
/// Outside a process ([`Vm::trace`](crate::Vm::trace) traces from outside).
///
/// ```
/// use spam::{Trace, TraceEvent, TraceFlags};
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let me = spam::self_pid();
///     let child = spam::spawn(async { spam::send(spam::self_pid(), 1u8); let _ = spam::recv::<u8>().await; });
///     assert!(spam::trace(child, TraceFlags::PROCS, me)); // before the child runs: it runs on our thread
///     let e = spam::recv::<TraceEvent>().await;
///     assert_eq!(e.pid, child);
///     assert!(matches!(e.event, Trace::Exit { reason: spam::Reason::Normal }));
/// });
/// ```
#[track_caller]
pub fn trace(pid: Pid, flags: TraceFlags, tracer: Pid) -> bool {
    current("trace", |p| p.runtime().trace(pid, flags, tracer))
}

/// `(flags, tracer)` if `pid` is alive and traced (Erlang's `erlang:trace_info/2` for `flags`
/// and `tracer`); `None` otherwise, also once its tracer has died.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::TraceFlags;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let me = spam::self_pid();
///     assert_eq!(spam::trace_info(me), None);
///     spam::trace(me, TraceFlags::SEND, me);
///     assert_eq!(spam::trace_info(me), Some((TraceFlags::SEND, me)));
///     spam::trace(me, TraceFlags::empty(), me);
///     assert_eq!(spam::trace_info(me), None);
/// });
/// ```
#[track_caller]
pub fn trace_info(pid: Pid) -> Option<(TraceFlags, Pid)> {
    current("trace_info", |p| p.runtime().trace_info(pid))
}
