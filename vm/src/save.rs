//! The save queue: messages taken from the mailbox and not yet received, oldest first, as an
//! intrusive singly linked list through the nodes' own `next` field (Erlang's message queue is
//! one too).
//!
//! # Why a list
//! A drained batch is linked already: the drain reverses the mailbox's stack in place and
//! splices it on with one write, touching each node once. The save queue takes no memory besides
//! the nodes, so a flood of a million messages costs no growing buffer, no copies and no page
//! faults beyond the nodes' own (a `VecDeque` of pointers cost all three per run).
//!
//! # Positions
//! A selective receive resumes its scan after the last node it rejected ([`Cursor`]); a
//! `gen_server` call flushes what of it is queued after a [`Mark`]. A node pointer is only as
//! good as the node's place in the queue:
//! 1. Nodes leave the queue only through this type's removing methods (`pop_front`,
//!    `remove_after`, `extract_after`) or with the whole queue (taken out, dropped). The process
//!    counts each removal in `Private::removals`, and bumps it when the queue is taken out and
//!    put back; a cursor recorded under another count is stale and starts over from the head.
//!    So a cursor used is a node still in the queue, with the same nodes before it.
//! 2. The queue keeps its one mark (the innermost `Process::queue_mark`) true itself: removing
//!    the node a mark starts after moves the mark to that node's predecessor. A mark is dropped
//!    when the queue is taken out; a flush whose mark is gone scans from the head (its
//!    predicate matches only what arrived after the mark, so that is slower, never wrong).
//!
//! Only the owning process touches its save queue (`Private`), inside its own poll.

use crate::mailbox::Messages;
use crate::message::{Msg, NodeHeader};
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

pub(crate) struct SaveQueue {
    /// The oldest node, or null.
    head: *mut NodeHeader,
    /// The newest node (null when empty); its `next` is null.
    tail: *mut NodeHeader,
    len: usize,
    /// The node the innermost mark's window starts after (null: before the head).
    mark: *mut NodeHeader,
    /// That mark's id; 0: none.
    mark_id: u64,
}

// SAFETY: the queue uniquely owns its nodes, whose payloads are Send.
unsafe impl Send for SaveQueue {}

impl Default for SaveQueue {
    fn default() -> Self {
        SaveQueue { head: ptr::null_mut(), tail: ptr::null_mut(), len: 0, mark: ptr::null_mut(), mark_id: 0 }
    }
}

/// Where a selective receive's scan stopped: after `after` (null: before the head), the
/// `count`-th node, recorded under `removals` (module doc, rule 1).
#[derive(Clone, Copy)]
pub(crate) struct Cursor {
    pub(crate) after: *mut NodeHeader,
    pub(crate) count: usize,
    pub(crate) removals: u64,
}

// SAFETY: a cursor is a position, dereferenced only by its process while it is current (rule 1);
// the receive future holding it may move between threads with its process.
unsafe impl Send for Cursor {}
// SAFETY: as above; shared references never dereference it.
unsafe impl Sync for Cursor {}

impl Cursor {
    pub(crate) const START: Cursor = Cursor { after: ptr::null_mut(), count: 0, removals: 0 };

    /// The start of a queue whose removal count is `removals`.
    pub(crate) fn start(removals: u64) -> Cursor {
        Cursor { removals, ..Cursor::START }
    }

    /// The end of `queue` (after all its nodes), under `removals`.
    pub(crate) fn end_of(queue: &SaveQueue, removals: u64) -> Cursor {
        Cursor { after: queue.tail, count: queue.len, removals }
    }
}

/// A message still in the queue, borrowed: derefs to [`Msg`].
pub(crate) struct MsgRef<'a> {
    msg: ManuallyDrop<Msg>,
    _queue: std::marker::PhantomData<&'a SaveQueue>,
}

impl std::ops::Deref for MsgRef<'_> {
    type Target = Msg;
    fn deref(&self) -> &Msg {
        &self.msg
    }
}

impl SaveQueue {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The oldest node (null when empty).
    pub(crate) fn head(&self) -> *mut NodeHeader {
        self.head
    }

    /// The newest node (null when empty): a position to scan after.
    pub(crate) fn tail(&self) -> *mut NodeHeader {
        self.tail
    }

    /// The node after position `after` (null: the head).
    fn after(&self, after: *mut NodeHeader) -> *mut NodeHeader {
        if after.is_null() {
            self.head
        } else {
            // SAFETY: `after` is a node of this queue (callers' contract, module doc).
            unsafe { (*after).next }
        }
    }

    /// Borrows node `p` of this queue as a message.
    fn view(&self, p: *mut NodeHeader) -> MsgRef<'_> {
        // SAFETY: `p` is a live node of this queue, owned by it for the borrow's lifetime; the
        // view is never dropped (ManuallyDrop), so ownership stays with the queue.
        let msg = ManuallyDrop::new(unsafe { Msg::from_node(NonNull::new_unchecked(p)) });
        MsgRef { msg, _queue: std::marker::PhantomData }
    }

    /// Appends a message.
    pub(crate) fn push_back(&mut self, m: Msg) {
        let p = m.into_node().as_ptr();
        // SAFETY: the node is ours alone and becomes the queue's tail.
        unsafe { self.splice(p, p, 1) };
    }

    /// Appends a drained batch of messages whole (one write: the drain linked them already).
    #[inline]
    pub(crate) fn append_messages(&mut self, m: Messages) {
        // SAFETY: a `Messages` owns its nodes, linked head to tail, and is consumed here.
        unsafe { self.splice(m.head.as_ptr(), m.tail.as_ptr(), m.len) };
    }

    /// Appends the list `head` → … → `tail` of `n` nodes.
    ///
    /// # Safety
    /// The caller owns those nodes (none is in any queue), linked by `next` from `head` to `tail`,
    /// and gives them up.
    unsafe fn splice(&mut self, head: *mut NodeHeader, tail: *mut NodeHeader, n: usize) {
        // SAFETY: per the contract, and `self.tail` is our last node.
        unsafe {
            (*tail).next = ptr::null_mut();
            if self.tail.is_null() {
                self.head = head;
            } else {
                (*self.tail).next = head;
            }
        }
        self.tail = tail;
        self.len += n;
    }

    /// Appends every message of `other`, in order; its mark, if any, comes along.
    pub(crate) fn append(&mut self, mut other: SaveQueue) {
        if other.mark_id != 0 {
            self.mark_id = other.mark_id;
            self.mark = if other.mark.is_null() { self.tail } else { other.mark };
        }
        if !other.is_empty() {
            // SAFETY: `other`'s nodes, linked head to tail, are given up by it below.
            unsafe { self.splice(other.head, other.tail, other.len) };
        }
        (other.head, other.tail, other.len, other.mark_id) = (ptr::null_mut(), ptr::null_mut(), 0, 0);
    }

    /// Unlinks the node after `prev` (null: the head), which exists, and returns it (the
    /// queue no longer owns it).
    #[inline(always)]
    fn detach_after(&mut self, prev: *mut NodeHeader) -> NonNull<NodeHeader> {
        let p = self.after(prev);
        debug_assert!(!p.is_null());
        // SAFETY: `p` is a node of this queue; `prev` is its predecessor (or null for the head).
        unsafe {
            let next = (*p).next;
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                self.tail = prev;
            }
            if self.mark == p {
                self.mark = prev; // rule 2
            }
            self.len -= 1;
            NonNull::new_unchecked(p)
        }
    }

    /// Unlinks the node after `prev` (null: the head), which exists, as a message.
    fn unlink_after(&mut self, prev: *mut NodeHeader) -> Msg {
        let p = self.detach_after(prev);
        // SAFETY: detached just now: ours alone, and a message (signals never reach the queue).
        unsafe { Msg::from_node(p) }
    }

    /// The oldest message, borrowed.
    pub(crate) fn front(&self) -> Option<MsgRef<'_>> {
        (!self.head.is_null()).then(|| self.view(self.head))
    }

    /// Removes and returns the oldest message.
    pub(crate) fn pop_front(&mut self) -> Option<Msg> {
        (!self.head.is_null()).then(|| self.unlink_after(ptr::null_mut()))
    }

    /// Removes and returns the oldest message if `pred` accepts it (a flooded receiver's path:
    /// the message judged is the one returned, and the head is unlinked in line).
    #[inline]
    pub(crate) fn pop_front_if(&mut self, pred: impl FnOnce(&Msg) -> bool) -> Option<Msg> {
        let p = self.head;
        if p.is_null() {
            return None;
        }
        let view = self.view(p);
        if !pred(&view) {
            return None;
        }
        // The queue gives up the node judged, which is the message returned.
        let msg = ManuallyDrop::into_inner(view.msg);
        self.detach_after(ptr::null_mut());
        Some(msg)
    }

    /// Scans from `cur` for the first message `pred` accepts: removes and returns it (the
    /// cursor is then the start again), or moves the cursor to the end. `cur` must be current
    /// (module doc, rule 1).
    #[inline]
    pub(crate) fn take_first_after(&mut self, cur: &mut Cursor, mut pred: impl FnMut(&Msg) -> bool) -> Option<Msg> {
        let (mut prev, mut count) = (cur.after, cur.count);
        let mut p = self.after(prev);
        while !p.is_null() {
            if pred(&self.view(p)) {
                (cur.after, cur.count) = (ptr::null_mut(), 0);
                return Some(self.unlink_after(prev));
            }
            prev = p;
            count += 1;
            // SAFETY: a node of this queue.
            p = unsafe { (*p).next };
        }
        (cur.after, cur.count) = (prev, count);
        None
    }

    /// The messages after `after` (null: all), oldest first.
    pub(crate) fn iter_after(&self, after: *mut NodeHeader) -> impl Iterator<Item = MsgRef<'_>> + '_ {
        let mut p = self.after(after);
        std::iter::from_fn(move || {
            let node = NonNull::new(p)?;
            // SAFETY: a node of this queue.
            p = unsafe { (*node.as_ptr()).next };
            Some(self.view(node.as_ptr()))
        })
    }

    /// Removes every message after `after` (null: all) that `pred` accepts, in order, into a
    /// queue of their own (for the caller to drop outside the process's private state).
    pub(crate) fn extract_after(&mut self, after: *mut NodeHeader, mut pred: impl FnMut(&Msg) -> bool) -> SaveQueue {
        let mut out = SaveQueue::default();
        let mut prev = after;
        let mut p = self.after(prev);
        while !p.is_null() {
            // SAFETY: a node of this queue.
            let next = unsafe { (*p).next };
            if pred(&self.view(p)) {
                out.push_back(self.unlink_after(prev));
            } else {
                prev = p;
            }
            p = next;
        }
        out
    }

    /// Splits the queue after its `count`-th node `after` (a current cursor's position): `self`
    /// keeps the first `count` messages, the rest are returned. Marks are not kept (the queue is
    /// being taken out, rule 2).
    pub(crate) fn split_after(&mut self, after: *mut NodeHeader, count: usize) -> SaveQueue {
        self.mark_id = 0;
        if after.is_null() {
            return std::mem::take(self);
        }
        // SAFETY: `after` is our `count`-th node (the caller's cursor is current).
        let rest_head = unsafe { std::mem::replace(&mut (*after).next, ptr::null_mut()) };
        let rest = SaveQueue {
            head: rest_head,
            tail: if rest_head.is_null() { ptr::null_mut() } else { self.tail },
            len: self.len - count,
            ..SaveQueue::default()
        };
        (self.tail, self.len) = (after, count);
        rest
    }

    /// Sets the queue's mark at its end now, under a new id.
    pub(crate) fn set_mark(&mut self, id: u64) {
        (self.mark, self.mark_id) = (self.tail, id);
    }

    /// Where mark `id`'s window starts (null: the head); the head if the mark is gone.
    pub(crate) fn mark_start(&self, id: u64) -> *mut NodeHeader {
        if self.mark_id == id {
            self.mark
        } else {
            ptr::null_mut()
        }
    }

    /// Forgets mark `id` if it is the queue's.
    pub(crate) fn clear_mark(&mut self, id: u64) {
        if self.mark_id == id {
            self.mark_id = 0;
        }
    }
}

impl Iterator for SaveQueue {
    type Item = Msg;
    fn next(&mut self) -> Option<Msg> {
        self.pop_front()
    }
}

impl Drop for SaveQueue {
    fn drop(&mut self) {
        if !self.is_empty() {
            // Messages are user values: one containment each (a panic must not abort the drop).
            spam_scheduler::contain::drop_each(self.by_ref());
        }
    }
}

#[cfg(all(test, not(spam_loom)))]
mod tests {
    use super::*;

    fn queue(values: &[u32]) -> SaveQueue {
        let mut q = SaveQueue::default();
        values.iter().for_each(|&v| q.push_back(Msg::new(v)));
        q
    }

    fn values(q: &SaveQueue) -> Vec<u32> {
        q.iter_after(ptr::null_mut()).map(|m| *m.downcast_ref::<u32>().unwrap()).collect()
    }

    fn value(m: Msg) -> u32 {
        m.downcast::<u32>().ok().unwrap()
    }

    /// The node holding `v`.
    fn node(q: &SaveQueue, v: u32) -> *mut NodeHeader {
        let mut p = q.head();
        while *q.view(p).downcast_ref::<u32>().unwrap() != v {
            // SAFETY: `p` is a node of `q` (the test's value is further on).
            p = unsafe { (*p).next };
        }
        p
    }

    #[test]
    fn first_in_first_out_with_head_tail_and_length_kept() {
        let mut q = queue(&[1, 2, 3]);
        assert_eq!((q.len(), values(&q)), (3, vec![1, 2, 3]));
        assert_eq!(q.pop_front().map(value), Some(1));
        assert_eq!(q.pop_front_if(|m| m.is::<u64>()).map(value), None, "rejected: stays");
        assert_eq!(q.pop_front_if(|m| m.is::<u32>()).map(value), Some(2));
        q.push_back(Msg::new(4u32));
        assert_eq!((q.len(), values(&q)), (2, vec![3, 4]));
        assert_eq!(q.pop_front().map(value), Some(3));
        assert_eq!(q.pop_front().map(value), Some(4));
        assert!(q.pop_front().is_none() && q.head().is_null() && q.tail().is_null());
        q.push_back(Msg::new(5u32)); // an emptied queue links a new head
        assert_eq!(values(&q), vec![5]);
    }

    #[test]
    fn a_cursor_resumes_after_the_last_rejected_and_starts_over_on_a_hit() {
        let mut q = queue(&[1, 2, 3]);
        let mut cur = Cursor::START;
        let mut seen = Vec::new();
        let mut pred = |m: &Msg| {
            let v = *m.downcast_ref::<u32>().unwrap();
            seen.push(v);
            v == 9
        };
        assert!(q.take_first_after(&mut cur, &mut pred).is_none());
        assert_eq!((cur.count, cur.after), (3, q.tail()));
        q.push_back(Msg::new(9u32));
        q.push_back(Msg::new(4u32));
        assert_eq!(q.take_first_after(&mut cur, &mut pred).map(value), Some(9), "from the middle");
        assert_eq!(seen, vec![1, 2, 3, 9], "nothing judged twice");
        assert_eq!((cur.count, cur.after), (0, ptr::null_mut()));
        assert_eq!((q.len(), values(&q)), (4, vec![1, 2, 3, 4]));
        // Removing the tail relinks it.
        let mut last = Cursor::START;
        assert_eq!(q.take_first_after(&mut last, |m| m.downcast_ref() == Some(&4u32)).map(value), Some(4));
        q.push_back(Msg::new(5u32));
        assert_eq!(values(&q), vec![1, 2, 3, 5]);
    }

    #[test]
    fn a_mark_moves_back_when_the_node_it_starts_after_is_removed() {
        let mut q = queue(&[1, 2, 3]);
        q.set_mark(7);
        q.push_back(Msg::new(10u32));
        assert_eq!(q.mark_start(7), node(&q, 3));
        // The marked node goes (a receive took it): the window now starts after 2.
        let mut cur = Cursor::START;
        assert_eq!(q.take_first_after(&mut cur, |m| m.downcast_ref() == Some(&3u32)).map(value), Some(3));
        assert_eq!(q.mark_start(7), node(&q, 2));
        // So does the front, twice: the window starts at the head.
        assert_eq!(q.pop_front().map(value), Some(1));
        assert_eq!(q.pop_front().map(value), Some(2));
        assert_eq!(q.mark_start(7), ptr::null_mut());
        q.push_back(Msg::new(11u32));
        let flushed = q.extract_after(q.mark_start(7), |m| m.downcast_ref::<u32>().is_some_and(|v| *v >= 10));
        assert_eq!((values(&flushed), q.len()), (vec![10, 11], 0));
        // Another mark replaces it: flushing the old one scans the whole queue.
        let mut q = queue(&[1]);
        q.set_mark(1);
        q.set_mark(2);
        assert_eq!(q.mark_start(1), ptr::null_mut());
        q.clear_mark(1);
        assert_eq!(q.mark_start(2), node(&q, 1), "clearing another id leaves the mark");
        q.clear_mark(2);
        assert_eq!(q.mark_start(2), ptr::null_mut());
    }

    #[test]
    fn extracting_keeps_the_rest_linked_in_order() {
        let mut q = queue(&[1, 2, 3, 4, 5, 6]);
        let odd = q.extract_after(ptr::null_mut(), |m| m.downcast_ref::<u32>().unwrap() % 2 == 1);
        assert_eq!((values(&odd), values(&q)), (vec![1, 3, 5], vec![2, 4, 6]));
        let after_4 = node(&q, 4);
        let six = q.extract_after(after_4, |_| true);
        assert_eq!((values(&six), values(&q), q.len()), (vec![6], vec![2, 4], 2));
        q.push_back(Msg::new(7u32)); // the tail moved back to 4
        assert_eq!(values(&q), vec![2, 4, 7]);
    }

    #[test]
    fn split_and_append_put_the_queue_back_in_order_with_its_mark() {
        let mut q = queue(&[1, 2, 3, 4]);
        let two = node(&q, 2);
        let rest = q.split_after(two, 2);
        assert_eq!((values(&q), values(&rest), q.len(), rest.len()), (vec![1, 2], vec![3, 4], 2, 2));
        q.append(rest);
        // A mark made on the (empty) queue of arrivals starts after 4 once put back.
        let mut arrived = SaveQueue::default();
        arrived.set_mark(3);
        arrived.push_back(Msg::new(5u32));
        q.append(arrived);
        assert_eq!((values(&q), q.len()), (vec![1, 2, 3, 4, 5], 5));
        assert_eq!(q.mark_start(3), node(&q, 4));
        let all = q.split_after(ptr::null_mut(), 0);
        assert_eq!((q.len(), values(&all)), (0, vec![1, 2, 3, 4, 5]));
        assert_eq!(all.mark_start(3), ptr::null_mut(), "a queue taken out loses its mark");
    }

    #[test]
    fn dropping_a_queue_drops_every_message_even_past_a_panicking_one() {
        struct Loud(std::sync::Arc<std::sync::atomic::AtomicUsize>, bool);
        impl Drop for Loud {
            fn drop(&mut self) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if self.1 {
                    panic!("a message's destructor panics");
                }
            }
        }
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut q = SaveQueue::default();
        for i in 0..5 {
            q.push_back(Msg::new(Loud(n.clone(), i == 1)));
        }
        drop(q);
        assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 5);
    }
}
