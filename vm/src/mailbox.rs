//! The lock-free MPSC mailbox: one atomic word that is at once the queue of signals and
//! messages, the consumer's "waiting" flag, and the "closed" flag.
//!
//! # Representation
//! `head` holds one of:
//! - `EMPTY` (null): nothing queued, consumer not waiting;
//! - `WAITING` (the sentinel 1): nothing queued, the consumer is parked on it and must be woken
//!   by the next push;
//! - `CLOSED` (the sentinel 2): the owner exited; pushes are refused;
//! - a pointer to the most recently pushed node: a LIFO stack linked by `NodeHeader::next`.
//!
//! # Invariants
//! 1. Only producers turn `head` into a node pointer (CAS from `EMPTY`/`WAITING`/a node), and
//!    only the consumer turns it back into `EMPTY`/`WAITING`/`CLOSED` (swap/CAS). So a node,
//!    once pushed, is owned by the queue until the consumer takes the whole stack.
//! 2. A node's `next` is written before the Release CAS that publishes it, and read only after
//!    the consumer's Acquire swap that takes it: the stack the consumer holds is complete.
//! 3. Per-producer order: a producer's later push sits above its earlier one in the same stack,
//!    or in a later stack; the consumer reverses each stack, so it sees them in push order.
//!    (Across producers there is no order, as in Erlang.)
//! 4. No lost wake-up: the consumer announces it is waiting with `CAS(EMPTY -> WAITING)`. A push
//!    that replaces `WAITING` learns so from the same CAS and must wake the consumer; a push that
//!    lands first makes the consumer's CAS fail, so the consumer drains instead of sleeping.
//! 5. Close: `swap(CLOSED)` takes whatever was pushed; a push after it is refused and handed back
//!    to the sender. A push thus either lands before close (and is drained by the exiting owner)
//!    or is refused, never lost and never both.
//!
//! Loom models: `loom-tests/tests/mailbox.rs`.

use crate::message::{NodeHeader, OwnedNode};
use spam_scheduler::sync::atomic::{AtomicPtr, Ordering::*};
use std::ptr::{self, NonNull};

const WAITING: *mut NodeHeader = ptr::without_provenance_mut(1);
const CLOSED: *mut NodeHeader = ptr::without_provenance_mut(2);

fn is_node(p: *mut NodeHeader) -> bool {
    !p.is_null() && p != WAITING && p != CLOSED
}

/// A lock-free multi-producer, single-consumer queue of nodes. The consumer is the owning process.
pub struct Mailbox {
    head: AtomicPtr<NodeHeader>,
}

/// What a successful push found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The consumer was not waiting.
    Queued,
    /// The consumer was waiting: the pusher must wake it.
    WakeConsumer,
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Mailbox {
    pub fn new() -> Self {
        Mailbox { head: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Producer: pushes `node`; refused (and handed back) if the mailbox is closed.
    #[inline]
    pub(crate) fn push(&self, node: OwnedNode) -> Result<Pushed, OwnedNode> {
        self.push_chain(Chain::one(node))
            .map_err(|c| c.into_nodes().next().expect("a chain of one hands back its node"))
    }

    /// Producer: pushes a whole chain with one CAS, its nodes in the order they were added;
    /// refused (and handed back whole) if the mailbox is closed. The chain lands above
    /// everything pushed before, so per-producer order holds (invariant 3).
    pub(crate) fn push_chain(&self, chain: Chain) -> Result<Pushed, Chain> {
        let (top, bottom) = (chain.top, chain.bottom);
        let mut cur = self.head.load(Relaxed);
        loop {
            if cur == CLOSED {
                return Err(chain);
            }
            let next = if is_node(cur) { cur } else { ptr::null_mut() };
            // SAFETY: the chain is not yet published: this thread has exclusive access to its
            // nodes (inv. 2); the rest of the chain was linked when its nodes were added.
            unsafe { (*bottom.as_ptr()).next = next };
            match self.head.compare_exchange_weak(cur, top.as_ptr(), Release, Relaxed) {
                Ok(_) => {
                    std::mem::forget(chain);
                    return Ok(if cur == WAITING { Pushed::WakeConsumer } else { Pushed::Queued });
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Consumer: takes everything pushed so far, oldest first. Clears a `WAITING` flag.
    /// (The process drain orders batches itself, see `Process::drain`; the loom models use this.)
    #[cfg_attr(not(spam_loom), allow(dead_code))]
    pub(crate) fn take_all(&self) -> Batch {
        let newest_first = self.take_newest_first();
        let top = newest_first.0;
        std::mem::forget(newest_first);
        Batch(reverse(top).0)
    }

    /// Consumer: takes everything pushed so far as pushed, *newest first* (no reversal: the
    /// caller orders it, touching each node once). Clears a `WAITING` flag.
    pub(crate) fn take_newest_first(&self) -> Batch {
        let cur = self.head.load(Relaxed);
        if !is_node(cur) {
            // Fast path: nothing queued (EMPTY, WAITING or CLOSED); leave the flag alone.
            return Batch(ptr::null_mut());
        }
        Batch(self.head.swap(ptr::null_mut(), Acquire))
    }

    /// `true` if nodes are queued (a hint: a push may land right after).
    pub fn has_pending(&self) -> bool {
        is_node(self.head.load(Relaxed))
    }

    /// Consumer: announces it is about to wait. Returns `false` if nodes arrived meanwhile (take
    /// them instead of sleeping).
    pub(crate) fn set_waiting(&self) -> bool {
        match self.head.compare_exchange(ptr::null_mut(), WAITING, AcqRel, Acquire) {
            Ok(_) => true,
            Err(actual) => !is_node(actual),
        }
    }

    /// Consumer: closes the mailbox for good and takes what was pushed before.
    pub(crate) fn close(&self) -> Batch {
        let top = self.head.swap(CLOSED, Acquire);
        Batch(if is_node(top) { reverse(top).0 } else { ptr::null_mut() })
    }

    pub fn is_closed(&self) -> bool {
        self.head.load(Acquire) == CLOSED
    }
}

/// loom models only (`--cfg spam_loom`): the crate-private operations above, unchanged, with
/// plain values for nodes so `loom-tests/tests/mailbox.rs` can drive them.
#[cfg(spam_loom)]
impl Mailbox {
    /// [`Mailbox::push`] of a message holding `value`; a refused value is handed back.
    pub fn loom_push<T: std::any::Any + Send>(&self, value: T) -> Result<Pushed, T> {
        self.push(OwnedNode::message(value)).map_err(|node| match node.into_msg().downcast::<T>() {
            Ok(v) => v,
            Err(_) => unreachable!("the node was made from a T"),
        })
    }
    /// [`Mailbox::push_chain`] of messages holding `values` (in that order); a refused chain is
    /// handed back, oldest first.
    pub fn loom_push_chain<T: std::any::Any + Send>(&self, values: Vec<T>) -> Result<Pushed, Vec<T>> {
        let mut it = values.into_iter().map(OwnedNode::message);
        let mut chain = Chain::one(it.next().expect("a chain has a node"));
        it.for_each(|n| chain.add(n));
        self.push_chain(chain).map_err(|c| {
            let mut v: Vec<T> = c
                .into_nodes()
                .map(|n| match n.into_msg().downcast::<T>() {
                    Ok(v) => v,
                    Err(_) => unreachable!("the nodes were made from Ts"),
                })
                .collect();
            v.reverse();
            v
        })
    }
    /// [`Mailbox::take_all`], as messages.
    pub fn loom_take_all(&self) -> Vec<crate::Msg> {
        self.take_all().map(OwnedNode::into_msg).collect()
    }
    /// [`Mailbox::set_waiting`].
    pub fn loom_set_waiting(&self) -> bool {
        self.set_waiting()
    }
    /// [`Mailbox::close`], as messages.
    pub fn loom_close(&self) -> Vec<crate::Msg> {
        self.close().map(OwnedNode::into_msg).collect()
    }
}

/// Nodes linked newest first, not yet in a mailbox, for [`Mailbox::push_chain`]; owned (dropped
/// with their values if never pushed).
pub(crate) struct Chain {
    /// The newest node.
    top: NonNull<NodeHeader>,
    /// The oldest node (its `next` is set by the push).
    bottom: NonNull<NodeHeader>,
}

// SAFETY: a Chain uniquely owns its nodes, whose payloads are Send.
unsafe impl Send for Chain {}

impl Chain {
    pub(crate) fn one(node: OwnedNode) -> Chain {
        let p = node.into_raw();
        Chain { top: p, bottom: p }
    }
    /// A chain built by hand: `top` linked by `next` down to `bottom`.
    ///
    /// # Safety
    /// The caller owns those nodes, unpublished, and gives them up.
    pub(crate) unsafe fn from_raw(top: NonNull<NodeHeader>, bottom: NonNull<NodeHeader>) -> Chain {
        Chain { top, bottom }
    }
    /// Adds `node` as the newest.
    #[cfg_attr(not(spam_loom), allow(dead_code))]
    pub(crate) fn add(&mut self, node: OwnedNode) {
        self.top = node.into_raw_above(self.top.as_ptr());
    }
    /// Its nodes, newest first (to drop them one at a time, contained).
    pub(crate) fn into_nodes(self) -> Batch {
        let batch = self.as_batch();
        std::mem::forget(self);
        batch
    }
    /// Ends the list at the bottom node, which makes the chain a batch (the caller then owns
    /// the nodes through it exactly once).
    fn as_batch(&self) -> Batch {
        // SAFETY: the bottom node is ours and unpublished.
        unsafe { (*self.bottom.as_ptr()).next = ptr::null_mut() };
        Batch(self.top.as_ptr())
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        drop(self.as_batch());
    }
}

/// Reverses a stack taken from `head` into oldest-first order, in place, reading and writing
/// each node's header once: the oldest node, how many, and whether any is a control node
/// (a signal, a request or a reply: `Kind::is_control`).
fn reverse(mut top: *mut NodeHeader) -> (*mut NodeHeader, usize, bool) {
    let (mut prev, mut len, mut control) = (ptr::null_mut(), 0, false);
    while !top.is_null() {
        // SAFETY: the consumer owns every node of a taken stack (invariant 1) and sees their
        // headers (invariant 2).
        unsafe {
            let next = (*top).next;
            (*top).next = prev;
            control |= (*top).kind().is_control();
            prev = top;
            top = next;
        }
        len += 1;
    }
    (prev, len, control)
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let top = self.head.load(Acquire);
        drop(Batch(if is_node(top) { top } else { ptr::null_mut() }));
    }
}

/// Nodes taken from a mailbox (oldest first from `take_all`/`close`, newest first from
/// `take_newest_first`); owned by the consumer. Unconsumed nodes are freed on drop.
pub(crate) struct Batch(*mut NodeHeader);

// SAFETY: a Batch uniquely owns its nodes, whose payloads are Send.
unsafe impl Send for Batch {}

impl Iterator for Batch {
    type Item = OwnedNode;
    fn next(&mut self) -> Option<OwnedNode> {
        let p = NonNull::new(self.0)?;
        // SAFETY: we own the chain; take the first node off it.
        unsafe {
            self.0 = (*p.as_ptr()).next;
            Some(OwnedNode::from_raw(p))
        }
    }
}

/// A drained batch of messages only, oldest first: `head` linked by `next` to `tail`, `len`
/// nodes, owned (for `SaveQueue::append_messages`, which takes them all).
pub(crate) struct Messages {
    pub(crate) head: NonNull<NodeHeader>,
    pub(crate) tail: NonNull<NodeHeader>,
    pub(crate) len: usize,
}

impl Batch {
    /// Reverses a newest-first batch ([`Mailbox::take_newest_first`]) into oldest-first order in
    /// place, in one pass that reads and writes each node's header once. Messages only come back
    /// as a list to splice onto the save queue whole; a batch holding a control node (a signal,
    /// request or reply) comes back as an oldest-first batch, to file node by node. An empty
    /// batch is `Err` (empty).
    pub(crate) fn into_oldest_first(self) -> Result<Messages, Batch> {
        let newest = self.0;
        std::mem::forget(self);
        let (oldest, len, control) = reverse(newest);
        match (NonNull::new(oldest), NonNull::new(newest)) {
            (Some(head), Some(tail)) if !control => Ok(Messages { head, tail, len }),
            _ => Err(Batch(oldest)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_null()
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for n in self.by_ref() {
            drop(n);
        }
    }
}

#[cfg(all(test, not(spam_loom)))]
mod tests {
    use super::*;
    use crate::message::Kind;
    use crate::signal::Signal;

    fn push(mb: &Mailbox, node: OwnedNode) {
        assert!(mb.push(node).is_ok());
    }

    /// Invariant 3 through the drain's one-pass reversal: messages only come back spliceable,
    /// oldest first; a signal among them sends the batch node by node, still oldest first.
    #[test]
    fn a_reversed_batch_is_in_push_order_and_spliceable_only_without_signals() {
        let mb = Mailbox::new();
        (0..4u32).for_each(|i| push(&mb, OwnedNode::message(i)));
        let Ok(m) = mb.take_newest_first().into_oldest_first() else { panic!("messages only") };
        assert_eq!(m.len, 4);
        let mut q = crate::save::SaveQueue::default();
        q.append_messages(m);
        let got: Vec<u32> = q.map(|m| m.downcast::<u32>().ok().unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3]);

        push(&mb, OwnedNode::message(7u32));
        push(&mb, OwnedNode::signal(Signal::Link { from: crate::Pid::new(1, 1) }));
        push(&mb, OwnedNode::message(8u32));
        let Err(batch) = mb.take_newest_first().into_oldest_first() else { panic!("holds a signal") };
        let kinds: Vec<Kind> = batch.map(|n| n.kind()).collect();
        assert_eq!(kinds, vec![Kind::Message, Kind::Signal, Kind::Message]);
        assert!(mb.take_newest_first().into_oldest_first().is_err_and(|b| b.is_empty()));
    }
}
