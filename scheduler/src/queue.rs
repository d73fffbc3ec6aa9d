//! Run queues: each worker's local deque plus its LIFO "next" slot, the stealer handle peers
//! use, and the global injector for work from outside the workers.
//!
//! Normally these are crossbeam-deque's `Worker`/`Stealer`/`Injector`. Under `--cfg spam_loom`
//! they are a loom mutex around a `VecDeque` with the same API, so loom can interleave queue
//! operations with the idle protocol.

use crate::sync::atomic::{AtomicPtr, Ordering::*};
use crate::sync::Arc;
use crate::task::Notified;
use std::cell::Cell;

/// The three-way result of a steal, as in crossbeam.
pub enum Steal {
    Empty,
    Success(Notified),
    Retry,
}

#[cfg(not(spam_loom))]
mod imp {
    use super::Steal;
    use crate::task::Notified;
    use crossbeam_deque as cd;

    fn conv(s: cd::Steal<Notified>) -> Steal {
        match s {
            cd::Steal::Empty => Steal::Empty,
            cd::Steal::Success(t) => Steal::Success(t),
            cd::Steal::Retry => Steal::Retry,
        }
    }

    /// The owner's end of a worker deque. May only be used from its worker thread.
    pub struct Deque(cd::Worker<Notified>);
    /// The peers' end of a worker deque. May be used from many threads.
    #[derive(Clone)]
    pub struct Stealer(cd::Stealer<Notified>);
    /// The global queue of tasks scheduled from outside any worker.
    pub struct Injector(cd::Injector<Notified>);

    impl Deque {
        pub fn new() -> (Deque, Stealer) {
            let w = cd::Worker::new_fifo();
            let s = w.stealer();
            (Deque(w), Stealer(s))
        }
        #[inline]
        pub fn push(&self, t: Notified) {
            self.0.push(t)
        }
        #[inline]
        pub fn pop(&self) -> Option<Notified> {
            self.0.pop()
        }
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    impl Stealer {
        /// Steals about half of the victim's tasks into `dest`, returning one of them.
        #[inline]
        pub fn steal_into(&self, dest: &Deque) -> Steal {
            conv(self.0.steal_batch_and_pop(&dest.0))
        }
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// Tasks in the deque now (a snapshot, for statistics).
        pub fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl Default for Injector {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Injector {
        pub fn new() -> Self {
            Injector(cd::Injector::new())
        }
        #[inline]
        pub fn push(&self, t: Notified) {
            self.0.push(t)
        }
        #[inline]
        pub fn steal_into(&self, dest: &Deque) -> Steal {
            conv(self.0.steal_batch_and_pop(&dest.0))
        }
        #[inline]
        pub fn steal(&self) -> Steal {
            conv(self.0.steal())
        }
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// Tasks queued now (a snapshot, for statistics).
        pub fn len(&self) -> usize {
            self.0.len()
        }
    }
}

#[cfg(spam_loom)]
mod imp {
    use super::Steal;
    use crate::sync::{Arc, Mutex};
    use crate::task::Notified;
    use std::collections::VecDeque;

    pub struct Deque(Arc<Mutex<VecDeque<Notified>>>);
    #[derive(Clone)]
    pub struct Stealer(Arc<Mutex<VecDeque<Notified>>>);
    pub struct Injector(Mutex<VecDeque<Notified>>);

    impl Deque {
        pub fn new() -> (Deque, Stealer) {
            let q = Arc::new(Mutex::new(VecDeque::new()));
            (Deque(q.clone()), Stealer(q))
        }
        pub fn push(&self, t: Notified) {
            self.0.lock().push_back(t)
        }
        pub fn pop(&self) -> Option<Notified> {
            self.0.lock().pop_front()
        }
        pub fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
    }

    impl Stealer {
        pub fn steal_into(&self, _dest: &Deque) -> Steal {
            match self.0.lock().pop_front() {
                Some(t) => Steal::Success(t),
                None => Steal::Empty,
            }
        }
        pub fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    impl Injector {
        pub fn new() -> Self {
            Injector(Mutex::new(VecDeque::new()))
        }
        pub fn push(&self, t: Notified) {
            self.0.lock().push_back(t)
        }
        pub fn steal_into(&self, _dest: &Deque) -> Steal {
            self.steal()
        }
        pub fn steal(&self) -> Steal {
            match self.0.lock().pop_front() {
                Some(t) => Steal::Success(t),
                None => Steal::Empty,
            }
        }
        pub fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub fn len(&self) -> usize {
            self.0.lock().len()
        }
    }
}

pub use imp::{Deque, Injector, Stealer};

/// How many tasks in a row a worker takes from its LIFO slot before it must take one from the
/// deque: message ping-pong keeps its locality, yet cannot starve the deque.
pub const MAX_LIFO_POLLS: u32 = 8;

/// A worker's LIFO ("next") slot: the task its current poll woke last, polled next by the owner
/// for locality. Peers may steal it too ([`LifoSlot::steal`]), but the run loop only does so when
/// the owner has stayed in one poll for a while (worker.rs, "Stuck LIFO slots"): a woken process
/// must not wait behind a long poll while another worker is idle.
///
/// # Protocol
/// One atomic word holding a `Notified` pointer or null. Only the owner puts a task in; anyone
/// takes one out with `swap(null)`, so each task leaves the slot exactly once, to whoever's swap
/// returned it. Since only the owner makes the word non-null, an owner that left it null knows it
/// is still null: it keeps that knowledge in `Local::lifo_full`, puts into an empty slot with a
/// plain Release store and skips the take when it put nothing (no atomic RMW at all). Only a
/// put into a slot it filled, or a take of a task it put, needs the swap, since a thief may have
/// taken the task meanwhile. So a wake-then-run costs one RMW. The taker's swap is AcqRel: it
/// sees everything the putter did before putting (the task cell itself is published by its state
/// word). Loom model: `loom-tests/tests/lifo.rs`.
#[derive(Debug)]
pub struct LifoSlot {
    task: AtomicPtr<()>,
}

impl LifoSlot {
    pub fn new() -> Self {
        LifoSlot { task: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// Owner, slot known empty: puts `t` in.
    #[inline]
    fn put_empty(&self, t: Notified) {
        #[cfg(not(spam_loom))]
        self.task.store(t.into_raw(), Release);
        // loom does not keep a plain store out of a concurrent RMW's read-write window
        // (tokio-rs/loom#254), so a thief's swap could "miss" this store there. In the C++ model
        // the store is equivalent to a swap that finds null; model it as that swap, and check
        // the invariant the store relies on (only the owner fills the slot).
        #[cfg(spam_loom)]
        {
            let old = self.task.swap(t.into_raw(), AcqRel);
            assert!(old.is_null(), "the owner's LIFO slot was not empty although it left it empty");
        }
    }

    /// Owner, slot possibly full: puts `t` in; returns the task it displaced.
    #[inline]
    fn put(&self, t: Notified) -> Option<Notified> {
        self.exchange(t.into_raw())
    }

    /// Owner: takes out what it put, unless a thief took it.
    #[inline]
    fn take(&self) -> Option<Notified> {
        self.exchange(std::ptr::null_mut())
    }

    /// Swaps `new` in; the task that was there, if any, is now the caller's.
    #[inline]
    fn exchange(&self, new: *mut ()) -> Option<Notified> {
        let old = self.task.swap(new, AcqRel);
        // SAFETY: a non-null pointer in the slot came from `into_raw` and is taken out once,
        // by this swap.
        (!old.is_null()).then(|| unsafe { Notified::from_raw(old) })
    }

    /// Anyone: takes the task out, if there is one.
    #[inline]
    pub fn steal(&self) -> Option<Notified> {
        if self.task.load(Relaxed).is_null() {
            return None;
        }
        self.take()
    }

    /// `true` if a task sits in the slot (a snapshot).
    #[inline]
    pub fn is_occupied(&self) -> bool {
        !self.task.load(Relaxed).is_null()
    }
}

impl Default for LifoSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.steal());
    }
}

/// A worker's own queues: the FIFO deque peers steal from, and its LIFO slot.
/// May only be used from its worker thread.
pub struct Local {
    pub deque: Deque,
    lifo: Arc<LifoSlot>,
    /// `false` only while the LIFO slot is known to be empty (see `LifoSlot`, "Protocol").
    lifo_full: Cell<bool>,
    lifo_streak: Cell<u32>,
}

impl Local {
    /// A worker's queues; `lifo` is its slot, shared with the peers that may steal from it.
    pub fn new(lifo: Arc<LifoSlot>) -> (Local, Stealer) {
        let (deque, stealer) = Deque::new();
        (Local { deque, lifo, lifo_full: Cell::new(false), lifo_streak: Cell::new(0) }, stealer)
    }

    /// Puts a freshly woken task in the LIFO slot. Returns the task it displaced, which the
    /// caller must push to the deque (and post as work).
    #[inline]
    pub fn push_lifo(&self, t: Notified) -> Option<Notified> {
        if self.lifo_full.replace(true) {
            self.lifo.put(t)
        } else {
            self.lifo.put_empty(t);
            None
        }
    }

    /// `true` if this worker has no task queued (the LIFO slot as known here, and the deque).
    #[inline]
    pub fn is_empty(&self) -> bool {
        !self.lifo_full.get() && self.deque.is_empty()
    }

    /// Takes the LIFO task back, if it is still there.
    #[inline]
    fn take_lifo(&self) -> Option<Notified> {
        if self.lifo_full.replace(false) {
            self.lifo.take()
        } else {
            None
        }
    }

    /// The next task to run from this worker's own queues, and whether it came from the LIFO
    /// slot. After [`MAX_LIFO_POLLS`] LIFO tasks in a row the LIFO task goes to the back of the
    /// deque instead.
    #[inline]
    pub fn pop(&self) -> Option<(Notified, bool)> {
        if let Some(t) = self.take_lifo() {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_POLLS {
                self.lifo_streak.set(streak + 1);
                return Some((t, true));
            }
            self.deque.push(t);
        }
        self.lifo_streak.set(0);
        self.deque.pop().map(|t| (t, false))
    }

    /// Takes everything left (shutdown).
    pub fn drain(&self) -> Vec<Notified> {
        let mut v: Vec<Notified> = self.take_lifo().into_iter().collect();
        while let Some(t) = self.deque.pop() {
            v.push(t);
        }
        v
    }
}
