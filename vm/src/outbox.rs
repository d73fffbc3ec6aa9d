//! Sender-side batching: runs of messages from one process poll to a receiver go into the
//! receiver's mailbox as chains (one CAS on its head word, at most one wake per chain) instead of
//! a CAS per message. This is what keeps a flooded fan-in from bouncing the receiver's head word
//! between cores for every message, and a sender spreading a flood over many receivers (a
//! round robin: `fjthrput`) from waking each of them once per message while a peer scheduler
//! drains them as fast as they come.
//!
//! # Rules
//! 1. **Only inside a process's poll**, between [`Scope::open`] and the scope's drop, which
//!    `ProcessFuture::poll` puts around the user future's poll (a drop during an unwind too).
//!    Sends from anywhere else (other threads, timers, exit handling) are pushed at once.
//! 2. **The first message to a receiver in a poll is pushed at once**; the next ones to the same
//!    receiver in that poll are gathered into its chain, up to [`LIMIT`]. So a process that sends
//!    one message per receiver per poll (request/reply, ping-pong) pays nothing but a
//!    thread-local check. Chains for up to [`SLOTS`] receivers are kept at once (a small hash
//!    table keyed by the receiver's task; a receiver whose slots are taken evicts a chain,
//!    which is pushed then).
//! 3. **Flushed** (every chain pushed whole, each in send order): a chain at [`LIMIT`], or when
//!    its slot is taken for another receiver; all of them before any signal from this thread
//!    (`Runtime::send_signal`: a link, a monitor, an exit must not overtake earlier messages to
//!    the same process), before a request or reply (`Runtime::push_node`), before a process is
//!    inspected (`process_info`), and when the scope closes. Per-pair order is therefore kept,
//!    and every message a poll sent is in its receiver's mailbox when the poll returns: an
//!    `await` that waits for an answer never waits on our own chain.
//! 4. **Never to oneself**: a self-send is pushed at once, so `receive` with a zero timeout
//!    right after sees it, as in Erlang.
//! 5. **The receiver stays valid**: a chain holds the receiver's task pointer from the
//!    table's worker path (`Target::InPoll`), valid until the current poll ends; rule 3 pushes
//!    the chains before that.
//! 6. **Re-entrancy**: no borrow of the outbox is held while a chain is pushed or a refused one
//!    dropped (a message's destructor may send), and a flush goes on until nothing is left.
//!
//! One consequence to know: a poll that *blocks its thread* (a std channel's `recv`, a
//! `thread::sleep`; never an `await`) after gathering messages holds them until it returns, so a
//! process that sends a receiver two messages and then blocks its thread waiting for the answer
//! would wait forever. Blocking a scheduler thread is already wrong (`spawn_blocking` exists for
//! it); the outbox makes it visible sooner.
//!
//! Erlang's guarantee is order per sender–receiver pair and eventual delivery ("the only
//! signal ordering guarantee given": Reference Manual, Processes, "Signal Delivery"); it gives
//! none on *when* a message arrives, nor on the order in which messages from one sender to
//! *different* receivers land. So if A sends to B, then to C, and C passes something on to B,
//! that may reach B before A's message (here: A's second message to B, held in its chain).
//! Holding a poll's messages until the end of that poll at the latest (which is also when the
//! sender's scheduler could next run the receivers) changes no outcome an Erlang program can
//! rely on.

use crate::mailbox::{Chain, Pushed};
use crate::message::{NodeHeader, OwnedNode};
use crate::process::Process;
use spam_scheduler::sync::atomic::Ordering::AcqRel;
use spam_scheduler::TaskRef;
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// The longest chain gathered before it is pushed.
pub const LIMIT: u32 = 64;

/// Receivers whose chains are kept at once (the slots' bitmask is a `u128`).
pub const SLOTS: usize = 128;

/// The slots a receiver may use: its home slot and the next `WAYS - 1`.
const WAYS: usize = 4;

/// One receiver's chain, or the mark that a message went to it directly in this poll (`n == 0`,
/// rule 2). Valid only in the poll whose `epoch` it holds.
struct Slot {
    epoch: Cell<u32>,
    /// Nodes in the chain (0: none; one message went directly).
    n: Cell<u32>,
    /// The receiver's task.
    target: Cell<*const ()>,
    /// The chain's newest and oldest nodes (owned; valid while `n > 0`).
    top: Cell<*mut NodeHeader>,
    bottom: Cell<*mut NodeHeader>,
}

/// This thread's outbox. Fields are cells: every access is a short `with`, never a borrow held
/// across user code (rule 6). No destructor (so the thread-local needs no registration): no
/// chain is held whenever no scope is open, and scopes close before their thread ends.
struct Outbox {
    /// Inside a process's poll (rule 1).
    open: Cell<bool>,
    /// The polled process (rule 4).
    me: Cell<*const Process>,
    /// Counts scopes opened and closed: a slot of an earlier poll is stale (rule 2's mark is
    /// per poll), without clearing every slot per poll.
    epoch: Cell<u32>,
    /// Slots holding a chain (`n > 0` in the current epoch).
    busy: Cell<u128>,
    slots: [Slot; SLOTS],
}

// A template for the thread-local's initialiser (each thread gets its own copy).
#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    epoch: Cell::new(0),
    n: Cell::new(0),
    target: Cell::new(ptr::null()),
    top: Cell::new(ptr::null_mut()),
    bottom: Cell::new(ptr::null_mut()),
};
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Outbox = Outbox {
    open: Cell::new(false),
    me: Cell::new(ptr::null()),
    epoch: Cell::new(1),
    busy: Cell::new(0),
    slots: [FREE; SLOTS],
};

#[cfg(not(spam_loom))]
std::thread_local! {
    static OUTBOX: Outbox = const { EMPTY };
}
#[cfg(spam_loom)]
spam_scheduler::sync::thread_local! {
    static OUTBOX: Outbox = EMPTY;
}

/// What [`offer`] did with a message.
pub(crate) enum Offer {
    /// Gathered: the sender is done.
    Taken,
    /// Push it now.
    Direct(OwnedNode),
}

/// What the outbox did with an offered node.
enum Step {
    /// Gathered.
    Taken,
    /// Gathered, and slot `i`'s chain is full: push it.
    Full(usize),
    /// Not gathered (the first message to its receiver in this poll, or not in a poll).
    Direct,
    /// Every slot the receiver may use holds another receiver's chain: push slot `i`'s, then
    /// offer again.
    Evict(usize),
}

/// A chain taken out of its slot, to be pushed with no borrow held (rule 6).
type Taken = (*const (), Chain, u32);

impl Outbox {
    /// The first of the [`WAYS`] slots `t` may use (task cells are 64-byte aligned: the low
    /// bits carry nothing).
    #[inline]
    fn home(t: *const ()) -> usize {
        (t as usize >> 6).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SLOTS.trailing_zeros())
    }

    /// Gathers node `p` (owned by the caller until this returns `Taken` or `Full`) for receiver
    /// task `t` (process `to`), or says why not.
    ///
    /// Slots are placed in probe order and never emptied within an epoch, so a slot unused in
    /// this epoch ends the search: a receiver placed in this epoch sits before it.
    #[inline]
    fn place(&self, t: *const (), to: &Process, p: NonNull<NodeHeader>) -> Step {
        if !self.open.get() || ptr::eq(self.me.get(), to) {
            return Step::Direct;
        }
        let (epoch, home) = (self.epoch.get(), Outbox::home(t));
        let mut marked = None;
        for k in 0..WAYS {
            let i = (home + k) % SLOTS;
            let s = &self.slots[i];
            if s.epoch.get() != epoch {
                // The first message to `t` in this poll: pushed at once, and marked.
                s.epoch.set(epoch);
                s.target.set(t);
                s.n.set(0);
                return Step::Direct;
            }
            if s.target.get() != t {
                if s.n.get() == 0 && marked.is_none() {
                    marked = Some(i);
                }
                continue;
            }
            let n = s.n.get();
            if n == 0 {
                // The second message to `t` in this poll: its chain starts.
                s.top.set(p.as_ptr());
                s.bottom.set(p.as_ptr());
                s.n.set(1);
                self.busy.set(self.busy.get() | 1 << i);
                return Step::Taken;
            }
            // SAFETY: the node is ours and unpublished; it goes on top of the chain.
            unsafe { (*p.as_ptr()).next = s.top.get() };
            s.top.set(p.as_ptr());
            s.n.set(n + 1);
            return if n + 1 >= LIMIT { Step::Full(i) } else { Step::Taken };
        }
        match marked {
            // Another receiver's mark: that receiver's next message goes at once again.
            Some(i) => {
                self.slots[i].target.set(t);
                Step::Direct
            }
            None => Step::Evict(home),
        }
    }

    /// Takes slot `i`'s chain out, if it holds one in this epoch (leaving its receiver's mark).
    fn take(&self, i: usize) -> Option<Taken> {
        let s = &self.slots[i];
        if s.epoch.get() != self.epoch.get() {
            return None;
        }
        let n = s.n.replace(0);
        if n == 0 {
            return None;
        }
        self.busy.set(self.busy.get() & !(1 << i));
        // SAFETY: with `n > 0` in this epoch, `top..bottom` is the chain this slot owns
        // (`place` built it).
        let chain =
            unsafe { Chain::from_raw(NonNull::new_unchecked(s.top.get()), NonNull::new_unchecked(s.bottom.get())) };
        Some((s.target.get(), chain, n))
    }

    /// Takes any one chain out.
    fn take_any(&self) -> Option<Taken> {
        let busy = self.busy.get();
        if busy == 0 {
            return None;
        }
        self.take(busy.trailing_zeros() as usize)
    }
}

/// Offers message `node` for receiver task `t` (process `to`), from a worker inside a poll.
#[inline]
pub(crate) fn offer(t: *const (), to: &Process, node: OwnedNode) -> Offer {
    let p = node.into_raw();
    loop {
        match OUTBOX.with(|o| o.place(t, to, p)) {
            Step::Taken => return Offer::Taken,
            Step::Full(i) => {
                flush_slot(i);
                return Offer::Taken;
            }
            // SAFETY: not gathered: still ours, from `into_raw` above.
            Step::Direct => return Offer::Direct(unsafe { OwnedNode::from_raw(p) }),
            Step::Evict(i) => flush_slot(i),
        }
    }
}

/// Pushes slot `i`'s chain, if any.
#[cold]
fn flush_slot(i: usize) {
    if let Some((t, chain, n)) = OUTBOX.with(|o| o.take(i)) {
        push(t, chain, n);
    }
}

/// Pushes every gathered chain (rule 3).
#[inline]
pub(crate) fn flush() {
    if OUTBOX.with(|o| o.busy.get() != 0) {
        flush_all();
    }
}

#[cold]
fn flush_all() {
    while let Some((t, chain, n)) = OUTBOX.with(Outbox::take_any) {
        push(t, chain, n);
    }
}

#[cold]
fn push(t: *const (), chain: Chain, n: u32) {
    // SAFETY: rule 5: the receiver's task is valid until this poll ends, and we are in it.
    let to = unsafe { TaskRef::<Process>::header_of_raw(t) };
    match to.mailbox.push_chain(chain) {
        // SAFETY: as above.
        Ok(Pushed::WakeConsumer) => unsafe { TaskRef::<Process>::wake_raw(t) },
        Ok(Pushed::Queued) => {}
        Err(refused) => {
            // The receiver is exiting: dropped, as sends to a dead pid are.
            if let Some(b) = &to.bound {
                b.len.fetch_sub(n as usize, AcqRel);
            }
            for node in refused.into_nodes() {
                spam_scheduler::contain::drop_value(node);
            }
        }
    }
}

/// The batching window of one process poll (rule 1).
pub(crate) struct Scope {
    prev_open: bool,
    prev_me: *const Process,
}

impl Scope {
    /// Opens the window for `me`'s poll (nested polls keep their own window).
    #[inline]
    pub(crate) fn open(me: &Process) -> Scope {
        flush();
        OUTBOX.with(|o| {
            o.epoch.set(o.epoch.get().wrapping_add(1));
            Scope { prev_open: o.open.replace(true), prev_me: o.me.replace(me) }
        })
    }
}

impl Drop for Scope {
    #[inline]
    fn drop(&mut self) {
        flush();
        OUTBOX.with(|o| {
            o.open.set(self.prev_open);
            o.me.set(self.prev_me);
            o.epoch.set(o.epoch.get().wrapping_add(1));
        });
    }
}
