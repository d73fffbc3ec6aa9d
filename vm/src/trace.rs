//! Tracing, as Erlang's `erlang:trace/3`: a process's trace flags say which of its events go,
//! as [`TraceEvent`] messages, to its *tracer* process.
//!
//! # Cost when untraced
//! The flags are one byte in the control block (`Process::trace`, in what was padding next to
//! `trap_exit`). Every hook is one relaxed load of the *acting* process's own byte and a branch;
//! everything else (reading the tracer, building and sending the event) is in `#[cold]` functions.
//! The receive hook loads the byte once per drained batch, not per message. A message's type name
//! comes from its node's vtable (`message::Payload`), so nodes are no bigger and nothing is
//! written per message.
//!
//! # The protocol (loom model: `loom-tests/tests/trace.rs`)
//! - **Where things live.** The flags in `Process::trace` (atomic, read without a lock by the
//!   process itself); the tracer pid in `Ext::tracer` (under the `ext` lock).
//! - **Setting** ([`Runtime::trace`]): under the target's `ext` lock, check the slot is still LIVE
//!   (`Table::is_alive`), then write `Ext::tracer` and store the flags. Flags and tracer are only
//!   ever written under that lock, so whoever holds the lock sees a matching pair.
//! - **Emitting** (any hook, run by the traced process itself): the flag was seen set (one relaxed
//!   load); the tracer is read under the lock, the lock is *released*, and the event is sent with
//!   the ordinary send path. If the tracer is gone by then (flags cleared meanwhile), nothing is
//!   sent. No lock is held while sending, so a process that is its own tracer, or a tracer that is
//!   itself traced, cannot deadlock; and a [`TraceEvent`] is sent by the VM, never through a
//!   traced send, and is never reported as `receive`, so tracing cannot feed itself.
//! - **Exit exactly once.** The exit protocol (`exit.rs`) marks the slot DYING (step 1) before it
//!   takes `ext` under the lock (step 3), and emits `exit` (and `unregister` for a name) with the
//!   tracer it took there. A `trace` that returned `true` held the lock before step 3 and saw the
//!   slot LIVE, so its tracer is in the `ext` taken at step 3: told once. A `trace` that takes the
//!   lock after step 1 sees the slot not LIVE and returns `false`. Nothing else emits `exit`.
//! - **Tracer death.** An event whose tracer is not alive is dropped, and the traced process's
//!   flags and tracer are cleared under the lock, *only if the tracer is still the one found
//!   dead* (a racing `trace` that set a new tracer wins). [`Runtime::trace_info`] applies the
//!   same check, so tracing is off as soon as anyone looks after the tracer died (Erlang turns
//!   tracing off when the tracer dies; it, too, finds out lazily).
//! - **Soundness of emitting from inside `drain` and the exit protocol.** Emitting only reads
//!   `ext` under its lock and sends a message to another pid (or to ourselves: a push onto our
//!   own mailbox, as `push_self_signal` does); it never touches the process's private state, so
//!   it is sound wherever the process's own code may run.
//!
//! # What is reported (flag → events), with the acting process as `TraceEvent::pid`
//! - `SEND`: `send` to a live pid (`spam::send`, `try_send`, `send_async`, `Addr`, a send to a
//!   name, a reply to an alias), reported just before the message is queued, as Erlang does
//!   (`send_async`: once it is queued); `send_to_non_existing_process` for a dead pid or a name
//!   nobody holds (then `to` is `Pid::UNDEFINED`). A `try_send` that a full bounded mailbox
//!   refuses is reported too (the attempt; Erlang has no bounded mailboxes).
//! - `RECEIVE`: `receive` when a message enters the process's queue (Erlang's rule: not when the
//!   process takes it), system messages (`Exit`, `Down`) and alias replies included; never for a
//!   `TraceEvent`.
//! - `PROCS`: `spawn` (parent side), `spawned` (child side, only for a child that inherited the
//!   flags with `SET_ON_SPAWN`), `exit` with the reason, `register`, `unregister` (also the name
//!   freed at exit). A name given with `SpawnOpts::name` is registered before the child inherits
//!   anything, so no `register` is reported for it.
//! - `LINKS`: `link`, `unlink`, `monitor`, `demonitor` on the caller's side (also the link and
//!   monitor of `spawn_link`/`spawn_monitor`), `getting_linked`, `getting_unlinked` on the other
//!   side when it handles the signal (also for a child of `spawn_link` that inherited `LINKS`).

use crate::error::SendError;
use crate::pid::{Pid, Ref};
use crate::process::{ExtGuard, Process};
use crate::reason::Reason;
use crate::runtime::Runtime;
use spam_scheduler::sync::atomic::Ordering::*;
use std::time::Instant;

// The flags' atomic, from the one sync shim (loom under `--cfg spam_loom`).
pub(crate) use spam_scheduler::sync::atomic::AtomicU8;

/// Which events of a process are traced (Erlang's `erlang:trace/3` flags). Combine with `|`.
///
/// ```
/// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
/// use spam::TraceFlags;
/// let f = TraceFlags::SEND | TraceFlags::RECEIVE;
/// assert!(f.contains(TraceFlags::SEND) && !f.contains(TraceFlags::PROCS));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// `send` and `send_to_non_existing_process` events.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::TraceFlags::SEND.names(), ["send"]);
    /// ```
    pub const SEND: TraceFlags = TraceFlags(1);
    /// `receive` events: a message entered the process's queue.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::TraceFlags::RECEIVE.names(), ["receive"]);
    /// ```
    pub const RECEIVE: TraceFlags = TraceFlags(2);
    /// `spawn`, `spawned`, `exit`, `register`, `unregister` events.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::TraceFlags::PROCS.names(), ["procs"]);
    /// ```
    pub const PROCS: TraceFlags = TraceFlags(4);
    /// `link`, `unlink`, `getting_linked`, `getting_unlinked`, `monitor`, `demonitor` events.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::TraceFlags::LINKS.names(), ["links"]);
    /// ```
    pub const LINKS: TraceFlags = TraceFlags(8);
    /// Processes spawned by a traced process inherit its flags and tracer.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::TraceFlags::SET_ON_SPAWN.names(), ["set_on_spawn"]);
    /// ```
    pub const SET_ON_SPAWN: TraceFlags = TraceFlags(16);
    /// `SEND | RECEIVE | PROCS | LINKS` (not `SET_ON_SPAWN`).
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::TraceFlags::ALL.names(), ["send", "receive", "procs", "links"]);
    /// ```
    pub const ALL: TraceFlags = TraceFlags(1 | 2 | 4 | 8);

    const NAMES: [(TraceFlags, &'static str); 5] = [
        (TraceFlags::SEND, "send"),
        (TraceFlags::RECEIVE, "receive"),
        (TraceFlags::PROCS, "procs"),
        (TraceFlags::LINKS, "links"),
        (TraceFlags::SET_ON_SPAWN, "set_on_spawn"),
    ];

    /// No flags: not traced.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::TraceFlags::empty().is_empty());
    /// ```
    pub const fn empty() -> Self {
        TraceFlags(0)
    }
    /// `true` for no flags.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(!spam::TraceFlags::SEND.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// `true` if every flag of `other` is set in `self`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// use spam::TraceFlags;
    /// assert!(TraceFlags::ALL.contains(TraceFlags::LINKS | TraceFlags::SEND));
    /// assert!(!TraceFlags::ALL.contains(TraceFlags::SET_ON_SPAWN));
    /// ```
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// The flags' names, in the order `send`, `receive`, `procs`, `links`, `set_on_spawn`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// use spam::TraceFlags;
    /// assert_eq!((TraceFlags::LINKS | TraceFlags::SEND).names(), ["send", "links"]);
    /// ```
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(f, _)| self.contains(*f)).map(|&(_, n)| n).collect()
    }
    /// Parses a comma-separated list of the names of [`TraceFlags::names`] (spaces around a
    /// name and empty entries are ignored); `None` for an unknown name.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// use spam::TraceFlags;
    /// assert_eq!(TraceFlags::from_names("send,procs"), Some(TraceFlags::SEND | TraceFlags::PROCS));
    /// assert_eq!(TraceFlags::from_names(""), Some(TraceFlags::empty()));
    /// assert_eq!(TraceFlags::from_names("send,call"), None);
    /// ```
    pub fn from_names(list: &str) -> Option<TraceFlags> {
        let mut flags = TraceFlags::empty();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            flags |= Self::NAMES.iter().find(|(_, n)| *n == name)?.0;
        }
        Some(flags)
    }
    #[inline]
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for TraceFlags {
    type Output = TraceFlags;
    fn bitor(self, rhs: TraceFlags) -> TraceFlags {
        TraceFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for TraceFlags {
    fn bitor_assign(&mut self, rhs: TraceFlags) {
        self.0 |= rhs.0
    }
}

/// One trace event, as the tracer receives it (a message of this type).
///
/// ```
/// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
/// use spam::{Pid, Trace, TraceEvent};
/// let e = TraceEvent { pid: Pid::UNDEFINED, at: std::time::Instant::now(), event: Trace::Receive { msg: "u32" } };
/// assert_eq!(e.event.name(), "receive");
/// ```
#[derive(Debug, Clone)]
pub struct TraceEvent {
    /// The traced process the event is about.
    pub pid: Pid,
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub event: Trace,
}

/// What a traced process did (Erlang's trace message tags). `msg` is the message's Rust type
/// name (`std::any::type_name`): a message is a Rust value, it is not copied to the tracer.
///
/// ```
/// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
/// use spam::{Pid, Trace};
/// assert_eq!(Trace::Send { to: Pid::UNDEFINED, msg: "u8" }.name(), "send");
/// ```
#[derive(Debug, Clone)]
pub enum Trace {
    /// Sent `msg` to `to` (`SEND`).
    Send {
        /// The receiver.
        to: Pid,
        /// The message's type name.
        msg: &'static str,
    },
    /// Sent `msg` to a dead pid, or to a name nobody holds (`to` is then `Pid::UNDEFINED`)
    /// (`SEND`).
    SendToNonExisting {
        /// The receiver.
        to: Pid,
        /// The message's type name.
        msg: &'static str,
    },
    /// A message entered the process's queue (`RECEIVE`).
    Receive {
        /// The message's type name.
        msg: &'static str,
    },
    /// Spawned `child` (`PROCS`).
    Spawn {
        /// The new process.
        child: Pid,
    },
    /// Was spawned by `parent`, and inherited its flags (`PROCS` with `SET_ON_SPAWN`).
    Spawned {
        /// The spawning process.
        parent: Pid,
    },
    /// Exited (`PROCS`).
    Exit {
        /// The exit reason.
        reason: Reason,
    },
    /// Got the name `name` (`PROCS`).
    Register {
        /// The name.
        name: String,
    },
    /// Lost the name `name`, by `unregister` or at exit (`PROCS`).
    Unregister {
        /// The name.
        name: String,
    },
    /// Linked to `other` (`LINKS`).
    Link {
        /// The other process.
        other: Pid,
    },
    /// Unlinked from `other` (`LINKS`).
    Unlink {
        /// The other process.
        other: Pid,
    },
    /// `other` linked to this process (`LINKS`).
    GettingLinked {
        /// The other process.
        other: Pid,
    },
    /// `other` unlinked from this process (`LINKS`).
    GettingUnlinked {
        /// The other process.
        other: Pid,
    },
    /// Started monitoring `target` (`LINKS`).
    Monitor {
        /// The monitored process.
        target: Pid,
        /// The monitor's reference.
        mref: Ref,
    },
    /// Stopped the monitor `mref` (`LINKS`).
    Demonitor {
        /// The monitor's reference.
        mref: Ref,
    },
}

impl Trace {
    /// Erlang's name of the event: `send`, `send_to_non_existing_process`, `receive`, `spawn`,
    /// `spawned`, `exit`, `register`, `unregister`, `link`, `unlink`, `getting_linked`,
    /// `getting_unlinked`, `monitor`, `demonitor`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// use spam::{Pid, Trace};
    /// assert_eq!(Trace::GettingLinked { other: Pid::UNDEFINED }.name(), "getting_linked");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Trace::Send { .. } => "send",
            Trace::SendToNonExisting { .. } => "send_to_non_existing_process",
            Trace::Receive { .. } => "receive",
            Trace::Spawn { .. } => "spawn",
            Trace::Spawned { .. } => "spawned",
            Trace::Exit { .. } => "exit",
            Trace::Register { .. } => "register",
            Trace::Unregister { .. } => "unregister",
            Trace::Link { .. } => "link",
            Trace::Unlink { .. } => "unlink",
            Trace::GettingLinked { .. } => "getting_linked",
            Trace::GettingUnlinked { .. } => "getting_unlinked",
            Trace::Monitor { .. } => "monitor",
            Trace::Demonitor { .. } => "demonitor",
        }
    }
}

impl Runtime {
    /// Erlang's `erlang:trace(Pid, true, Flags ++ [{tracer, Tracer}])`: sets `pid`'s trace flags
    /// and tracer (empty flags stop tracing, `erlang:trace(Pid, false, all)`). `false` if `pid`
    /// is not alive. Replaces what was set before (no merging of flags).
    pub fn trace(&self, pid: Pid, flags: TraceFlags, tracer: Pid) -> bool {
        crate::outbox::flush(); // messages sent before tracing starts are not traced (outbox.rs)
        let Some(target) = self.target(pid) else {
            return false;
        };
        let proc = target.process();
        let mut g = proc.ext.lock();
        if !self.table.is_alive(pid) {
            return false;
        }
        if flags.is_empty() {
            if let Some(e) = g.as_mut() {
                e.tracer = None;
            }
        } else {
            g.get_or_insert_with(Default::default).tracer = Some(tracer);
        }
        proc.trace.store(flags.bits(), Relaxed);
        true
    }

    /// Erlang's `erlang:trace_info(Pid, flags)` and `(Pid, tracer)` together: `(flags, tracer)`
    /// if `pid` is alive and traced. A tracer found dead turns tracing off here.
    pub fn trace_info(&self, pid: Pid) -> Option<(TraceFlags, Pid)> {
        let target = self.target(pid)?;
        let proc = target.process();
        let mut g = proc.ext.lock();
        if !self.table.is_alive(pid) {
            return None;
        }
        let flags = TraceFlags(proc.trace.load(Relaxed));
        let ext = g.as_mut()?;
        let tracer = ext.tracer?;
        if flags.is_empty() {
            return None;
        }
        if !self.is_alive(tracer) {
            ext.tracer = None;
            proc.trace.store(0, Relaxed);
            return None;
        }
        Some((flags, tracer))
    }
}

impl Process {
    /// This process's trace flags, as its hooks see them now (empty: not traced).
    pub fn trace_flags(&self) -> TraceFlags {
        TraceFlags(self.trace.load(Relaxed))
    }

    /// `true` if any of `flags` is set for this process: the hook's one relaxed load.
    #[inline(always)]
    pub(crate) fn traced(&self, flags: TraceFlags) -> bool {
        self.trace.load(Relaxed) & flags.bits() != 0
    }

    /// This process's tracer, read under the `ext` lock (not held on return).
    fn tracer(&self) -> Option<Pid> {
        self.ext.lock().as_ref().and_then(|e| e.tracer)
    }

    /// Reports `event` of this process to its tracer, if it still has one. Never under the
    /// `ext` lock.
    #[cold]
    #[inline(never)]
    pub(crate) fn emit(&self, event: Trace) {
        if let Some(tracer) = self.tracer() {
            self.emit_to(tracer, event);
        }
    }

    /// [`Process::emit`] for a caller holding the `ext` lock: reads the tracer under it, then
    /// releases it before sending.
    #[cold]
    #[inline(never)]
    pub(crate) fn emit_unlocking(&self, ext: ExtGuard<'_>, event: Trace) {
        let tracer = ext.tracer;
        drop(ext);
        if let Some(tracer) = tracer {
            self.emit_to(tracer, event);
        }
    }

    /// Sends the event to `tracer` with the ordinary send path (never traced itself). A dead
    /// tracer turns tracing off (module docs, "Tracer death").
    fn emit_to(&self, tracer: Pid, event: Trace) {
        let rt = self.runtime();
        let ev = TraceEvent { pid: self.pid(), at: Instant::now(), event };
        if !rt.is_alive(tracer) {
            self.tracer_died(tracer);
            spam_scheduler::contain::drop_value(ev); // a user reason may be in it
            return;
        }
        if let Err(e) = rt.send_message(tracer, ev) {
            // The tracer's bounded mailbox is full: the event is lost.
            spam_scheduler::contain::drop_value(e);
        }
    }

    /// Clears the flags and tracer if the tracer is still `dead` (a racing `trace` that set
    /// another tracer wins).
    fn tracer_died(&self, dead: Pid) {
        let mut g = self.ext.lock();
        if let Some(e) = g.as_mut() {
            if e.tracer == Some(dead) {
                e.tracer = None;
                self.trace.store(0, Relaxed);
            }
        }
    }

    /// Sends `msg` to `to` as this process: the send hook, then the send path
    /// ([`Runtime::send_message`]). What `spam::send` and its kin call. (Always inlined: as a
    /// call of its own it cost some 40 instructions per send, the hook itself two.)
    ///
    /// The send is reported before the message is queued, as Erlang does, so a tracer that is
    /// also the receiver gets the event first. The cold part takes no `msg` (it is not generic),
    /// so the message stays where the send path wants it.
    #[inline(always)]
    pub fn send<T: Send + 'static>(&self, to: Pid, msg: T) -> Result<(), SendError<T>> {
        if self.traced(TraceFlags::SEND) {
            self.trace_sent(to, std::any::type_name::<T>());
        }
        self.runtime().send_message(to, msg)
    }

    /// The send hook for a send to a name nobody holds (found by the caller's `whereis`):
    /// reported as `send_to_non_existing_process` to `Pid::UNDEFINED` if this process traces its
    /// sends. `msg` is the message's type name.
    #[inline]
    pub fn trace_send_unregistered(&self, msg: &'static str) {
        if self.traced(TraceFlags::SEND) {
            self.emit(Trace::SendToNonExisting { to: Pid::UNDEFINED, msg });
        }
    }

    /// Reports a send of a `msg` to `to`: `send` to a live pid, else
    /// `send_to_non_existing_process` (`send_async` calls it once the message is in).
    #[cold]
    #[inline(never)]
    pub(crate) fn trace_sent(&self, to: Pid, msg: &'static str) {
        let event =
            if self.runtime().is_alive(to) { Trace::Send { to, msg } } else { Trace::SendToNonExisting { to, msg } };
        self.emit(event);
    }

    /// The receive hook's cold part: reports the messages queued after the save queue's node
    /// `after` (null: all) by the drain that just ended (`Process::drain`), skipping trace events
    /// (so tracing never feeds itself).
    #[cold]
    #[inline(never)]
    pub(crate) fn trace_received(&self, after: *mut crate::message::NodeHeader) {
        let names: Vec<&'static str> = self.with_private(|p| {
            p.save.iter_after(after).filter(|m| !m.is::<TraceEvent>()).map(|m| m.type_name()).collect()
        });
        if names.is_empty() {
            return;
        }
        let Some(tracer) = self.tracer() else {
            return;
        };
        for msg in names {
            self.emit_to(tracer, Trace::Receive { msg });
        }
    }

    /// `Process::drain` for a process that traces its receives (the receive hook's cold part):
    /// files the batch, then reports what it added to the save queue.
    #[cold]
    #[inline(never)]
    pub(crate) fn drain_traced(&self, batch: crate::mailbox::Batch) {
        let after = self.with_private(|p| p.save.tail());
        self.file(batch);
        self.trace_received(after);
        self.publish_queue_len();
    }
}

/// The spawn hook's cold part (the caller loaded the parent's flags: not empty). `child` is
/// held (not yet running). Reports `spawn` (and the `link`/`monitor` of `spawn_link`/
/// `spawn_monitor`) for the parent; with `SET_ON_SPAWN`, the child inherits flags and tracer and
/// reports `spawned` (and `getting_linked`).
#[cold]
#[inline(never)]
pub(crate) fn spawned(parent: &Process, child: &Process, link: bool, mref: Option<Ref>) {
    let (flags, tracer) = {
        let g = parent.ext.lock();
        let Some(tracer) = g.as_ref().and_then(|e| e.tracer) else {
            return;
        };
        (TraceFlags(parent.trace.load(Relaxed)), tracer)
    };
    let (ppid, cpid) = (parent.pid(), child.pid());
    if flags.contains(TraceFlags::PROCS) {
        parent.emit_to(tracer, Trace::Spawn { child: cpid });
    }
    if flags.contains(TraceFlags::LINKS) {
        if link {
            parent.emit_to(tracer, Trace::Link { other: cpid });
        }
        if let Some(mref) = mref {
            parent.emit_to(tracer, Trace::Monitor { target: cpid, mref });
        }
    }
    if flags.contains(TraceFlags::SET_ON_SPAWN) {
        {
            let mut g = child.ext.lock();
            g.get_or_insert_with(Default::default).tracer = Some(tracer);
            child.trace.store(flags.bits(), Relaxed);
        }
        if flags.contains(TraceFlags::PROCS) {
            child.emit_to(tracer, Trace::Spawned { parent: ppid });
        }
        if link && flags.contains(TraceFlags::LINKS) {
            child.emit_to(tracer, Trace::GettingLinked { other: ppid });
        }
    }
}

/// The exit hook's cold part (exit.rs, after step 3; the caller saw `PROCS` set):
/// `unregister` for the name freed at exit, then `exit`, to the tracer taken with `ext`.
#[cold]
#[inline(never)]
pub(crate) fn exited(proc: &Process, tracer: Option<Pid>, name: Option<&str>, reason: &Reason) {
    let Some(tracer) = tracer else {
        return;
    };
    if let Some(name) = name {
        proc.emit_to(tracer, Trace::Unregister { name: name.to_string() });
    }
    proc.emit_to(tracer, Trace::Exit { reason: reason.clone() });
}

#[cfg(all(test, not(spam_loom)))]
mod tests {
    use super::*;

    /// The flags byte sits in what was padding: the control block is no bigger (136 bytes
    /// before tracing, on 64-bit targets; 144 since the boxed shared receive timer; 160 since
    /// the linked save queue with its mark; still 160 with the call slot, for which the pending
    /// exit reason went into a box).
    #[test]
    fn the_flags_do_not_grow_the_control_block() {
        if cfg!(target_pointer_width = "64") {
            assert!(std::mem::size_of::<Process>() <= 160, "{}", std::mem::size_of::<Process>());
        }
    }

    #[test]
    fn names_round_trip() {
        for bits in 0..32u8 {
            let f = TraceFlags(bits);
            assert_eq!(TraceFlags::from_names(&f.names().join(",")), Some(f));
        }
    }
}
