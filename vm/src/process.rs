//! The process control block and the future that runs a process: signal handling before each
//! poll, panic capture, and the hand-off to the exit protocol (`exit.rs`).
//!
//! # Who touches what
//! - `mailbox`: pushed by anyone (lock-free), drained only by the process itself.
//! - `private` (save queue, pending exit): only the process itself, inside its own poll. The
//!   task state machine guarantees one poll at a time, and a process is polled only on one
//!   thread at a time, so `&mut Private` is exclusive there.
//! - `ext` (name, links, monitors, monitored_by): behind a small lock, because `register_pid`
//!   and `process_info` reach it from other processes. Allocated on first use, so an idle process
//!   without links pays one word.
//! - `trap_exit`, `reductions`, `queue_len`: atomics written by the process, read by
//!   `process_info`.
//! - `trace`: the trace flags, written under the `ext` lock (by `Runtime::trace`, anyone),
//!   read without it by the process's own hooks (`trace.rs`).

use crate::call_slot::CallSlot;
use crate::context::CurrentGuard;
use crate::mailbox::Mailbox;
use crate::message::{Kind, Msg, OwnedNode};
use crate::pid::{Pid, Ref};
use crate::reason::Reason;
use crate::registry::Name;
use crate::runtime::Runtime;
use crate::save::SaveQueue;
use crate::signal::{Down, Exit, Signal};
use crate::trace::{Trace, TraceFlags};
use spam_scheduler::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use spam_scheduler::sync::{Mutex, MutexGuard, UnsafeCell};
use spam_scheduler::HeaderPtr;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Called once with the exit reason.
pub type ExitHook = Box<dyn FnOnce(&Reason) + Send>;

/// Hashes pids, refs and timer ids, which are unique 64-bit ids already: one multiply (FxHash's), not
/// SipHash. Link and monitor sets are hashed so every operation on them is O(1): a supervisor
/// with 100k linked children handles each child's exit in constant time.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type IdBuild = std::hash::BuildHasherDefault<IdHasher>;
/// A set of pids (links).
pub(crate) type PidSet = std::collections::HashSet<Pid, IdBuild>;
/// Monitors by reference: ref → the other process. Most processes hold, or are watched by, a
/// few monitors at a time (a `gen_server::call`'s lives for one request), so the first
/// [`MonitorMap::FEW`] are kept in a vector searched in line (an insert or remove of a call's
/// monitor costs a few compares, where the hash map's probe cost ~60 instructions); the rest go
/// to a hash map. References are unique, so a key is never in both.
#[derive(Default)]
pub(crate) struct MonitorMap {
    few: Vec<(Ref, Pid)>,
    many: std::collections::HashMap<Ref, Pid, IdBuild>,
}

impl MonitorMap {
    const FEW: usize = 8;

    /// Adds a monitor (`mref` is fresh: not in the map).
    pub(crate) fn insert(&mut self, mref: Ref, pid: Pid) {
        if self.few.len() < Self::FEW {
            self.few.push((mref, pid));
        } else {
            self.many.insert(mref, pid);
        }
    }

    /// Removes a monitor; returns its process if it was there.
    pub(crate) fn remove(&mut self, mref: &Ref) -> Option<Pid> {
        match self.few.iter().position(|(r, _)| r == mref) {
            Some(i) => Some(self.few.swap_remove(i).1),
            None if self.many.is_empty() => None,
            None => self.many.remove(mref),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.few.len() + self.many.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every (reference, process), in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Ref, &Pid)> {
        self.few.iter().map(|(r, p)| (r, p)).chain(self.many.iter())
    }

    /// The processes, in no order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Pid> {
        self.iter().map(|(_, p)| p)
    }

    /// Entries it has room for without allocating.
    pub(crate) fn capacity(&self) -> usize {
        self.few.capacity() + self.many.capacity()
    }
}

#[cfg(all(test, not(spam_loom)))]
mod monitor_map_tests {
    use super::*;

    /// Past `FEW` entries the rest go to the hash map; removal finds each in either part,
    /// once, and the count and the listing stay true throughout.
    #[test]
    fn entries_in_line_and_spilled_are_found_once_and_counted() {
        let mut m = MonitorMap::default();
        let refs: Vec<Ref> = (0..20).map(|_| Ref::make()).collect();
        for (i, &r) in refs.iter().enumerate() {
            m.insert(r, Pid::new(i as u32, 1));
        }
        assert_eq!((m.len(), m.iter().count()), (20, 20));
        for (i, r) in refs.iter().enumerate().step_by(3) {
            assert_eq!(m.remove(r), Some(Pid::new(i as u32, 1)));
            assert_eq!(m.remove(r), None, "removed twice");
        }
        assert_eq!((m.len(), m.iter().count()), (13, 13));
        let mut left: Vec<Pid> = m.values().copied().collect();
        left.sort();
        let want: Vec<Pid> = (0..20u32).filter(|i| i % 3 != 0).map(|i| Pid::new(i, 1)).collect();
        assert_eq!(left, want);
        m.insert(Ref::make(), Pid::new(99, 1)); // room in line again
        assert_eq!(m.len(), 14);
        for r in &refs {
            m.remove(r);
        }
        assert_eq!(m.len(), 1);
        assert!(!m.is_empty());
    }
}

pub(crate) type RefSet = std::collections::HashSet<Ref, IdBuild>;

/// Links, monitors and name: the rarely used, cross-process-visible part of a process.
#[derive(Default)]
pub(crate) struct Ext {
    pub(crate) name: Option<Name>,
    pub(crate) links: PidSet,
    /// Monitors this process holds: ref → monitored pid.
    pub(crate) monitors: MonitorMap,
    /// Monitors held on this process: ref → watcher pid.
    pub(crate) monitored_by: MonitorMap,
    /// Called with the exit reason at the end of the exit (used by `Vm::run` for the root).
    pub(crate) on_exit: Option<ExitHook>,
    /// Active aliases (`alias()`): messages sent to another alias of this process are dropped.
    pub(crate) aliases: RefSet,
    /// Where its trace events go while `Process::trace` has flags (`trace.rs`).
    pub(crate) tracer: Option<Pid>,
    /// Its label (`set_label`), shown by `process_info` and the observer.
    pub(crate) label: Option<String>,
    /// The OTP behaviour it runs, and the process that started it (`set_behaviour`).
    pub(crate) behaviour: Option<&'static str>,
    pub(crate) parent: Option<Pid>,
}

/// State only the process itself touches, inside its own poll.
#[derive(Default)]
pub(crate) struct Private {
    /// Messages taken from the mailbox and not yet received, in arrival order.
    pub(crate) save: SaveQueue,
    /// Bumped on every removal from `save` (and when it is taken out and put back), so a
    /// suspended selective receive knows its scan cursor may be stale (`save.rs`, rule 1).
    pub(crate) removals: u64,
    /// The last `queue_mark`'s id.
    pub(crate) marks: u64,
    /// Set when a handled signal decided that the process dies. Once set it stays set until the
    /// process future takes it at the end of the poll: a user `catch_unwind` cannot cancel it.
    /// Boxed: rare, and a `Reason` is three words.
    pub(crate) pending_exit: Option<Box<Reason>>,
    /// The process's shared receive timer (`receive.rs`, "Timeouts"); boxed, so a process that
    /// never waits with a deadline pays one word for it.
    pub(crate) armed: Option<Box<Armed>>,
}

/// A wake of the process at `at` through `waker`: the timer that every receive waiting with a
/// deadline at or after `at`, under the same waker, relies on (`receive.rs`, "Timeouts").
pub(crate) struct Armed {
    pub(crate) at: crate::timer::Deadline,
    pub(crate) id: crate::timer::TimerId,
    pub(crate) waker: std::task::Waker,
}

/// The bound of a bounded mailbox (`SpawnOpts::mailbox_capacity`).
pub(crate) struct Bound {
    pub(crate) capacity: usize,
    /// Messages in the mailbox (queued + saved). Incremented by senders before pushing.
    pub(crate) len: AtomicUsize,
    /// Senders waiting for room (`send_async`; protocol in `receive.rs`).
    pub(crate) waiters: Mutex<crate::receive::Waiters>,
}

/// A process control block. Lives in the scheduler task's header, next to the process future.
///
/// # Layout
/// Fields in this order (`repr(C)`): what *senders* read on every send (`pid`, `rt`, `bound`,
/// the flags) first, in the task cell's first cache line next to the task header
/// ([`spam_scheduler::HEADER_LINE_ROOM`]); from the `mailbox` on, what the process itself writes for every
/// message it takes (reductions, queue length, save queue) and then its future. A sender
/// therefore reads a line the receiver writes only per poll (the task state), not per message:
/// with `bound` among the receiver's hot fields, a flooded fan-in moved one line back and forth
/// per message.
#[repr(C)]
pub struct Process {
    pid: Pid,
    rt: *const Runtime,
    pub(crate) bound: Option<Box<Bound>>,
    pub(crate) trap_exit: AtomicBool,
    /// Trace flags (`trace.rs`): read with one relaxed load by each hook of the process itself;
    /// written under the `ext` lock. One byte, in what was padding.
    pub(crate) trace: crate::trace::AtomicU8,
    pub(crate) mailbox: Mailbox,
    pub(crate) reductions: AtomicU64,
    pub(crate) queue_len: AtomicUsize,
    private: UnsafeCell<Private>,
    pub(crate) ext: Mutex<Option<Box<Ext>>>,
    /// The monitor of its pending call, if one is there rather than in `Ext::monitors`
    /// (`call_slot.rs`): written by the process alone, without the `ext` lock.
    pub(crate) call: CallSlot,
}

// (loom's atomics are bigger, and cache lines do not matter to a model.)
#[cfg(not(spam_loom))]
const _: () = assert!(std::mem::offset_of!(Process, mailbox) == spam_scheduler::HEADER_LINE_ROOM, "see Layout");

// SAFETY: `rt` points to the Runtime, which outlives every process (shutdown destroys the
// processes first) and is Sync. `private` is touched only by the process's own poll (one thread
// at a time, serialised by the task state machine). Everything else is atomics or locks.
unsafe impl Send for Process {}
// SAFETY: as above.
unsafe impl Sync for Process {}

impl Process {
    pub(crate) fn new(
        pid: Pid,
        rt: &Runtime,
        ext: Option<Box<Ext>>,
        trap_exit: bool,
        capacity: Option<usize>,
    ) -> Process {
        Process {
            pid,
            rt,
            mailbox: Mailbox::new(),
            trap_exit: AtomicBool::new(trap_exit),
            trace: crate::trace::AtomicU8::new(0),
            reductions: AtomicU64::new(0),
            queue_len: AtomicUsize::new(0),
            ext: Mutex::new(ext),
            call: CallSlot::default(),
            private: UnsafeCell::new(Private::default()),
            bound: capacity.map(|c| {
                Box::new(Bound {
                    capacity: c.max(1),
                    len: AtomicUsize::new(0),
                    waiters: Mutex::new(Default::default()),
                })
            }),
        }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    pub fn runtime(&self) -> &Runtime {
        // SAFETY: the Runtime outlives every process (see the Send impl).
        unsafe { &*self.rt }
    }

    /// Runs `f` on the private state.
    ///
    /// Must be called only by the process itself, inside its poll (the current process); `f`
    /// must not call back into anything that takes the private state again.
    pub(crate) fn with_private<R>(&self, f: impl FnOnce(&mut Private) -> R) -> R {
        // SAFETY: per the contract above, this is the only live access to `private`.
        self.private.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Removes the monitor `mref` this process holds, from its call slot or from `Ext`;
    /// returns the monitored pid if it was active. Owner only.
    pub(crate) fn take_monitor(&self, mref: Ref) -> Option<Pid> {
        if let Some(pid) = self.call.take(mref) {
            return Some(pid);
        }
        self.ext.lock().as_mut().and_then(|e| e.monitors.remove(&mref))
    }

    /// The `ext` lock, allocating `Ext` on first use.
    pub(crate) fn ext(&self) -> ExtGuard<'_> {
        let mut g = self.ext.lock();
        if g.is_none() {
            *g = Some(Box::default());
        }
        ExtGuard(g)
    }

    /// Adds `n` to the reduction counter. Call only from the process itself (single writer).
    #[inline]
    pub fn bump_reductions(&self, n: u64) {
        self.reductions.store(self.reductions.load(Relaxed) + n, Relaxed);
    }

    /// Moves everything queued in the mailbox into the save queue, handling signals on the way
    /// (see the table in `signal.rs`). Owner only.
    ///
    /// One pass over the (possibly long and cache-cold) stack reverses it in place; a batch of
    /// messages only is then spliced onto the save queue whole. Each node is touched here once,
    /// and once more when it is received.
    pub(crate) fn drain(&self) {
        let batch = self.mailbox.take_newest_first();
        if batch.is_empty() {
            return;
        }
        // The receive hook: one load per batch (`trace.rs`).
        if self.traced(TraceFlags::RECEIVE) {
            return self.drain_traced(batch);
        }
        self.file(batch);
        self.publish_queue_len();
    }

    /// Files a taken batch, oldest first: messages into the save queue, signals handled.
    #[inline(always)]
    pub(crate) fn file(&self, batch: crate::mailbox::Batch) {
        match batch.into_oldest_first() {
            Ok(messages) => self.with_private(|p| p.save.append_messages(messages)),
            // Signals are handled in their place in the order (a trapped exit's message after
            // the messages sent before it); the batch owns the nodes not yet filed.
            Err(batch) => {
                for node in batch {
                    match node.kind() {
                        Kind::Message | Kind::System => self.with_private(|p| p.save.push_back(node.into_msg())),
                        Kind::Signal => self.handle_signal(node.into_signal()),
                        Kind::Request => self.file_request(node),
                        Kind::Reply | Kind::ReplyDemonitored => self.file_reply(node),
                    }
                }
            }
        }
    }

    /// A request (`Process::request`): the `Monitor` signal it carries, then its message.
    fn file_request(&self, mut node: OwnedNode) {
        let (from, tag) = node.tagged_head();
        self.ext().monitored_by.insert(tag, from);
        node.set_kind(Kind::Message);
        self.with_private(|p| p.save.push_back(node.into_msg()));
    }

    /// A reply to an alias (`Process::reply`): queued if the alias is active, else dropped.
    /// A reply alias is active while its monitor is, and the monitor ends as the reply passes
    /// (`reply_demonitor`); unless the replier dropped its side already (`ReplyDemonitored`),
    /// the monitored process is told with a `Demonitor`, as `demonitor` would.
    fn file_reply(&self, mut node: OwnedNode) {
        let ((_, tag), told) = (node.tagged_head(), node.kind() == Kind::ReplyDemonitored);
        // The monitor this reply ends, if its alias is a monitor's.
        let (active, ended) = if tag.is_reply_alias() {
            let target = self.take_monitor(tag);
            (target.is_some(), target)
        } else {
            (self.ext().aliases.contains(&tag), None)
        };
        if active {
            node.set_kind(Kind::System);
            self.with_private(|p| p.save.push_back(node.into_msg()));
        } else {
            spam_scheduler::contain::drop_value(node); // a late reply: a user value
        }
        if let Some(target) = ended {
            if !told {
                let _ = self.runtime().send_signal(target, Signal::Demonitor { mref: tag });
            }
            if self.traced(TraceFlags::LINKS) {
                self.emit(Trace::Demonitor { mref: tag }); // as OTP's call, which demonitors then
            }
        }
    }

    #[inline]
    pub(crate) fn publish_queue_len(&self) {
        let n = self.with_private(|p| p.save.len());
        self.queue_len.store(n, Relaxed);
    }

    /// Marks a process that never ran (its spawn failed) to exit with `reason` on its first
    /// poll, before its code runs, through the ordinary exit protocol.
    ///
    /// # Safety
    /// The caller holds the process task's poll right (it is held: `Runtime::spawn`).
    pub(crate) unsafe fn die_before_running(&self, reason: Reason) {
        self.set_exit(reason);
    }

    /// Cancels the shared receive timer, so it does not keep the process's task alive past its
    /// exit (a `receive_timeout` of an hour would otherwise hold a dead process for an hour).
    pub(crate) fn disarm(&self) {
        if let Some(a) = self.with_private(|p| p.armed.take()) {
            self.runtime().timers.cancel(a.id);
        }
    }

    /// Drops every message of the save queue, each contained. The queue is taken out first: a
    /// message's destructor may call a process function that touches the private state again.
    pub(crate) fn drop_saved(&self) {
        let save = self.with_private(|p| {
            p.removals += 1;
            std::mem::take(&mut p.save)
        });
        drop(save); // each message contained
        self.queue_len.store(0, Relaxed);
    }

    /// Cancelled without an exit (shutdown): tears the control block down so nothing it holds
    /// outlives the VM or keeps another task alive (a waker of a blocked sender in `bound`, the
    /// `on_exit` hook `Vm::run` waits on, messages holding pids or wakers). Only with the poll
    /// right (from the process future's drop).
    fn teardown(&self) {
        use spam_scheduler::contain::{drop_each, drop_value};
        drop_each(self.mailbox.close());
        self.drop_saved();
        self.disarm();
        // Take each out under its lock, drop it after (destructors must not run under a lock).
        let ext = self.ext.lock().take();
        drop_value(ext);
        if let Some(b) = &self.bound {
            let waiters = std::mem::take(&mut *b.waiters.lock());
            drop(waiters);
        }
    }

    fn set_exit(&self, reason: Reason) {
        self.with_private(|p| {
            if p.pending_exit.is_none() {
                p.pending_exit = Some(Box::new(reason));
            }
        });
    }

    #[inline]
    pub(crate) fn pending_exit(&self) -> bool {
        self.with_private(|p| p.pending_exit.is_some())
    }

    /// Twice per poll: inlined down to a load and a branch; the unboxing is out of line.
    #[inline]
    pub(crate) fn take_pending_exit(&self) -> Option<Reason> {
        #[cold]
        #[inline(never)]
        #[allow(clippy::boxed_local)] // the point: the box's free out of the hot path
        fn unbox(r: Box<Reason>) -> Reason {
            *r
        }
        self.with_private(|p| p.pending_exit.take()).map(unbox)
    }

    /// Applies one signal, as tabled in `signal.rs`. Owner only.
    pub(crate) fn handle_signal(&self, sig: Signal) {
        match sig {
            Signal::Exit { from, reason, link } => {
                if link && !self.ext().links.remove(&from) {
                    // Unlinked meanwhile: the signal is void. A user reason may be a user value
                    // whose last clone this is; the drain runs outside the poll's catch_unwind.
                    spam_scheduler::contain::drop_value(reason);
                    return;
                }
                if !link && reason == Reason::Kill {
                    self.set_exit(Reason::Killed);
                } else if self.trap_exit.load(Relaxed) {
                    self.with_private(|p| p.save.push_back(Msg::system(Exit { from, reason })));
                } else if reason == Reason::Normal {
                    if from == self.pid && !link {
                        self.set_exit(Reason::Normal);
                    }
                } else {
                    self.set_exit(reason);
                }
            }
            Signal::Link { from } => {
                self.ext().links.insert(from);
                if self.traced(TraceFlags::LINKS) {
                    self.emit(Trace::GettingLinked { other: from });
                }
            }
            Signal::Unlink { from } => {
                self.ext().links.remove(&from);
                if self.traced(TraceFlags::LINKS) {
                    self.emit(Trace::GettingUnlinked { other: from });
                }
            }
            Signal::Monitor { from, mref } => {
                self.ext().monitored_by.insert(mref, from);
            }
            Signal::Demonitor { mref } => {
                self.ext().monitored_by.remove(&mref);
            }
            Signal::Down { from, mref, reason } => {
                let active = self.take_monitor(mref).is_some();
                if active {
                    self.with_private(|p| p.save.push_back(Msg::system(Down { monitor: mref, pid: from, reason })));
                } else {
                    spam_scheduler::contain::drop_value(reason); // as for a void exit signal
                }
            }
        }
    }

    /// Where the queue ends now, for [`Process::flush_queued`]: messages queued before it were
    /// there before whatever the caller is about to start.
    pub fn queue_mark(&self) -> QueueMark {
        self.with_private(|pv| {
            pv.marks += 1;
            pv.save.set_mark(pv.marks);
            QueueMark { id: pv.marks }
        })
    }

    /// Removes from the queue every received-but-not-taken message for which `pred` is true (a
    /// flush, as `demonitor(.., flush)` does for a `Down`); returns how many. With `since`, only
    /// messages queued after that mark are looked at (the mark is then spent), or the whole
    /// queue if the mark was lost (`save.rs`, rule 2): `pred` must match only messages queued
    /// after the mark. Their destructors run after the queue is put back, each contained.
    /// `pred` must not call process functions. Never unwinds: usable in destructors.
    pub fn flush_queued(&self, since: Option<QueueMark>, pred: impl FnMut(&Msg) -> bool) -> usize {
        let removed = self.with_private(|pv| {
            let start = since.map_or(std::ptr::null_mut(), |m| pv.save.mark_start(m.id));
            if let Some(m) = since {
                pv.save.clear_mark(m.id);
            }
            let removed = pv.save.extract_after(start, pred);
            pv.removals += removed.len() as u64;
            removed
        });
        let n = removed.len();
        if n > 0 {
            self.publish_queue_len();
            drop(removed); // each message contained
        }
        n
    }

    /// Erlang's `alias()`: a new active alias of this process (messages sent to it with
    /// [`Process::reply`] are received until [`Process::unalias`]).
    pub fn alias(&self) -> Ref {
        let r = Ref::make();
        self.ext().aliases.insert(r);
        r
    }

    /// Erlang's `unalias/1`: deactivates an alias; messages to it that arrive afterwards, also
    /// those already sent but not yet handled, are dropped. Returns `true` if it was active.
    pub fn unalias(&self, alias: Ref) -> bool {
        self.ext().aliases.remove(&alias)
    }

    /// Sets this process's label (OTP 27's `proc_lib:set_label/1`): free text shown by
    /// `process_info` and the observer. Replaces the previous one.
    pub fn set_label(&self, label: String) {
        let old = self.ext().label.replace(label);
        drop(old);
    }

    /// Records the OTP behaviour this process runs and the process that started it (for
    /// `process_info` and the observer's supervision tree).
    pub fn set_behaviour(&self, behaviour: &'static str, parent: Option<Pid>) {
        let mut ext = self.ext();
        ext.behaviour = Some(behaviour);
        ext.parent = parent;
    }

    /// Pushes a signal into this process's own mailbox (e.g. the `Noproc` answer to a link or
    /// monitor of a dead process), to be handled in order at the next drain.
    pub(crate) fn push_self_signal(&self, sig: Signal) {
        // Our own mailbox is closed only by our own exit, which has not started (we are running).
        let _ = self.mailbox.push(OwnedNode::signal(sig));
    }
}

/// A position in a process's queue ([`Process::queue_mark`]).
#[derive(Debug, Clone, Copy)]
pub struct QueueMark {
    id: u64,
}

/// The `ext` lock guard, with `Ext` known to be allocated.
pub(crate) struct ExtGuard<'a>(MutexGuard<'a, Option<Box<Ext>>>);

impl std::ops::Deref for ExtGuard<'_> {
    type Target = Ext;
    fn deref(&self) -> &Ext {
        self.0.as_deref().expect("ext allocated by Process::ext")
    }
}

impl std::ops::DerefMut for ExtGuard<'_> {
    fn deref_mut(&mut self) -> &mut Ext {
        self.0.as_deref_mut().expect("ext allocated by Process::ext")
    }
}

/// The panic payload `exit_self` unwinds with; caught by [`ProcessFuture`].
pub(crate) struct SelfExit(pub(crate) Reason);

/// Unwinds the current process with `reason` (no panic hook runs: `resume_unwind`). Call only
/// inside a process: the process future catches it and exits with `reason`. This is Erlang's
/// `exit/1`, an exception the process's own code may catch.
pub fn unwind_exit(reason: Reason) -> ! {
    std::panic::resume_unwind(Box::new(SelfExit(reason)))
}

/// The payload of [`unwind_pending`].
pub(crate) struct PendingExit;

/// Unwinds the current process because a fatal signal was handled (its pending exit is set and
/// stays set: catching this unwind does not save the process, which exits at the end of the
/// poll, and every process function it calls meanwhile unwinds again). Not while already
/// unwinding (a second panic would abort): then it returns and the poll's end does the exit.
pub(crate) fn unwind_pending() {
    if !std::thread::panicking() {
        std::panic::resume_unwind(Box::new(PendingExit))
    }
}

/// The future the scheduler polls for a process: the user's future plus the VM's duties.
pub(crate) struct ProcessFuture<F> {
    proc: HeaderPtr<Process>,
    /// The user's future; `None` once the exit protocol started. Dropped while still `Some`
    /// (cancelled at shutdown), the process future tears the control block down.
    fut: Option<F>,
}

impl<F> ProcessFuture<F> {
    #[inline]
    pub(crate) fn new(proc: HeaderPtr<Process>, fut: F) -> Self {
        ProcessFuture { proc, fut: Some(fut) }
    }
}

impl<F> Drop for ProcessFuture<F> {
    fn drop(&mut self) {
        if self.fut.is_some() {
            spam_scheduler::contain::run(|| self.fut = None);
            // SAFETY: the future lives inside its own task cell (dropped before the header, see
            // task.rs `dealloc`), so the header is alive; we are dropped under the poll right.
            unsafe { self.proc.get() }.teardown();
        }
    }
}

impl<F: Future<Output = ()>> Future for ProcessFuture<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we never move `fut` out while it is polled; it is dropped in place (set to
        // None) and `proc` is a plain pointer: a pin projection.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: the future lives inside its own task cell, so the header is alive.
        let proc = unsafe { this.proc.get() };
        let _current = CurrentGuard::enter(proc);
        proc.bump_reductions(1);
        // 1. Signals first: a kill must not wait for the user code to receive.
        if proc.mailbox.has_pending() {
            proc.drain();
        }
        let reason = match proc.take_pending_exit() {
            Some(r) => r,
            None => {
                let Some(fut) = this.fut.as_mut() else {
                    return Poll::Ready(());
                };
                // SAFETY: `fut` is pinned inside the task cell (projection above).
                let fut = unsafe { Pin::new_unchecked(fut) };
                let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _batch = crate::outbox::Scope::open(proc);
                    fut.poll(cx)
                }));
                // A fatal signal handled during the poll (by a receive, a `demonitor(.., true)`,
                // ...) was decided first: it wins over how the poll ended.
                match (proc.take_pending_exit(), polled) {
                    (Some(r), _) => r,
                    (None, Ok(Poll::Pending)) => return Poll::Pending,
                    (None, Ok(Poll::Ready(()))) => Reason::Normal,
                    (None, Err(payload)) => reason_of_unwind(payload),
                }
            }
        };
        // 2. Exit: drop the user future first (its destructors still run as this process), then
        //    run the exit protocol.
        let reason = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| this.fut = None)) {
            Ok(()) => reason,
            Err(payload) => match reason {
                Reason::Normal => reason_of_unwind(payload),
                r => r,
            },
        };
        crate::exit::exit(proc, reason);
        Poll::Ready(())
    }
}

/// What an unwind caught inside a process means, for code that catches unwinds around user
/// callbacks (the OTP behaviours): `Ok(reason)` for `exit_self(reason)` (and the exits of
/// `send`/`spawn`) and for a panic (`Reason::Panic`); `Err(payload)` for the unwind of a process
/// that is already dead (a fatal exit signal): the caller must `resume_unwind` it at once.
pub fn unwind_reason(payload: Box<dyn std::any::Any + Send>) -> Result<Reason, Box<dyn std::any::Any + Send>> {
    if payload.is::<PendingExit>() {
        return Err(payload);
    }
    Ok(reason_of_unwind(payload))
}

fn reason_of_unwind(payload: Box<dyn std::any::Any + Send>) -> Reason {
    match payload.downcast::<SelfExit>() {
        Ok(e) => e.0,
        // Unreachable in practice: a pending exit is taken before the payload is looked at.
        Err(p) if p.is::<PendingExit>() => Reason::Killed,
        Err(p) => Reason::Panic(spam_scheduler::blocking::panic_message(&*p)),
    }
}
