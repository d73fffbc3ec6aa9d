//! Sender-side batching: a run of messages from one process poll to one receiver goes into the
//! receiver's mailbox as one chain (one CAS on its head word, at most one wake) instead of a CAS
//! per message. This is what keeps a flooded fan-in from bouncing the receiver's head word
//! between cores for every message.
//!
//! # Rules
//! 1. **Only inside a process's poll**, between [`Scope::open`] and the scope's drop, which
//!    `ProcessFuture::poll` puts around the user future's poll (a drop during an unwind too).
//!    Sends from anywhere else (other threads, timers, exit handling) are pushed at once.
//! 2. **The first message of a run is pushed at once**; the next ones to the same receiver are
//!    gathered into a chain, up to [`LIMIT`]. So a process that sends one message per poll
//!    (request/reply, ping-pong) pays nothing but a thread-local check.
//! 3. **Flushed** (the chain pushed whole, in send order): at [`LIMIT`]; before a message to
//!    another receiver; before any signal from this thread (`Runtime::send_signal`: a link, a
//!    monitor, an exit must not overtake earlier messages to the same process); before a
//!    process is inspected (`process_info`); and when the scope closes. Per-pair order is
//!    therefore kept, and every message a poll sent is in its receiver's mailbox when the poll
//!    returns: an `await` that waits for an answer never waits on our own chain.
//! 4. **Never to oneself**: a self-send is pushed at once, so `receive` with a zero timeout
//!    right after sees it, as in Erlang.
//! 5. **The receiver stays valid**: the chain holds the receiver's task pointer from the
//!    table's worker path (`Target::InPoll`), valid until the current poll ends; rule 3 pushes
//!    the chain before that.
//! 6. **Re-entrancy**: no borrow of the outbox is held while a chain is pushed or a refused one
//!    dropped (a message's destructor may send), and the scope flushes until nothing is left.
//!
//! One consequence to know: a poll that *blocks its thread* (a std channel's `recv`, a
//! `thread::sleep`; never an `await`) after gathering messages holds them until it returns, so a
//! process that sends a receiver two messages and then blocks its thread waiting for the answer
//! would wait forever. Blocking a scheduler thread is already wrong (`spawn_blocking` exists for
//! it); the outbox makes it visible sooner.
//!
//! Erlang's guarantee is order per sender–receiver pair and eventual delivery; it gives none
//! on *when* a message arrives, so holding messages until the end of the sender's poll (which
//! is also when the sender's scheduler could next run the receiver) changes no outcome an
//! Erlang program can rely on.

use crate::mailbox::{Chain, Pushed};
use crate::message::{NodeHeader, OwnedNode};
use crate::process::Process;
use spam_scheduler::sync::atomic::Ordering::AcqRel;
use spam_scheduler::TaskRef;
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// The longest chain gathered before it is pushed.
pub const LIMIT: u32 = 64;

/// This thread's outbox. Fields are cells: every access is a short `with`, never a borrow held
/// across user code (rule 6). No destructor (so the thread-local needs no registration): the
/// chain is empty whenever no scope is open, and scopes close before their thread ends.
struct Outbox {
    /// Inside a process's poll (rule 1).
    open: Cell<bool>,
    /// The polled process (rule 4).
    me: Cell<*const Process>,
    /// The receiver of the last message pushed at once (rule 2).
    last: Cell<*const ()>,
    /// The receiver of the chain; null if none.
    target: Cell<*const ()>,
    /// The chain's newest and oldest nodes (owned; valid while `n > 0`).
    top: Cell<*mut NodeHeader>,
    bottom: Cell<*mut NodeHeader>,
    /// Nodes in the chain.
    n: Cell<u32>,
}

// A template for the thread-local's initialiser (each thread gets its own copy).
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Outbox = Outbox {
    open: Cell::new(false),
    me: Cell::new(ptr::null()),
    last: Cell::new(ptr::null()),
    target: Cell::new(ptr::null()),
    top: Cell::new(ptr::null_mut()),
    bottom: Cell::new(ptr::null_mut()),
    n: Cell::new(0),
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

impl Outbox {
    /// Takes the chain out, if any (rule 6: the caller pushes it with no borrow held).
    fn take(&self) -> Option<(*const (), Chain, u32)> {
        let n = self.n.replace(0);
        if n == 0 {
            return None;
        }
        // SAFETY: with `n > 0`, `top..bottom` is the chain this outbox owns (`offer` built it).
        let chain = unsafe {
            Chain::from_raw(NonNull::new_unchecked(self.top.get()), NonNull::new_unchecked(self.bottom.get()))
        };
        Some((self.target.replace(ptr::null()), chain, n))
    }
}

/// Offers message `node` for receiver task `t` (process `to`), from a worker inside a poll.
#[inline]
pub(crate) fn offer(t: *const (), to: &Process, node: OwnedNode) -> Offer {
    let gathered = OUTBOX.with(|o| {
        if !o.open.get() || ptr::eq(o.me.get(), to) {
            return Err((node, false));
        }
        let n = o.n.get();
        if n > 0 && o.target.get() == t {
            o.top.set(node.into_raw_above(o.top.get()).as_ptr());
            o.n.set(n + 1);
            return Ok(n + 1 >= LIMIT);
        }
        if n == 0 && o.last.get() == t {
            // The second message in a row to `t`: start a chain.
            let p = node.into_raw().as_ptr();
            o.target.set(t);
            o.top.set(p);
            o.bottom.set(p);
            o.n.set(1);
            return Ok(false);
        }
        o.last.set(t);
        Err((node, n > 0))
    });
    match gathered {
        Ok(full) => {
            if full {
                flush();
            }
            Offer::Taken
        }
        Err((node, other)) => {
            if other {
                // Another receiver: what was gathered for the previous one goes first (rule 3).
                flush();
            }
            Offer::Direct(node)
        }
    }
}

/// Pushes the gathered chain, if any (rule 3).
#[inline]
pub(crate) fn flush() {
    while let Some((t, chain, n)) = OUTBOX.with(Outbox::take) {
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
            o.last.set(ptr::null());
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
            o.last.set(ptr::null());
        });
    }
}
