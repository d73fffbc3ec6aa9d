//! Coordinates idling workers: who sleeps, who gets woken when work is posted.
//!
//! The protocol (states, counters, the post-work and fall-asleep steps, and the proof that no
//! wake-up is lost) is written out in `idle.md` beside this file; the step names below refer to it.

use crate::park::Parker;
use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::Mutex;

/// The sleep registry shared by all workers of one scheduler.
#[derive(Debug)]
pub struct Idle {
    /// Indices of sleeping workers. Only changed under this lock.
    sleepers: Mutex<Vec<usize>>,
    /// `sleepers.len()`, readable without the lock (post step 3).
    num_sleeping: AtomicUsize,
    /// One parker per worker, by index.
    parkers: Box<[Parker]>,
    /// Set once by [`Idle::shutdown`].
    shutdown: AtomicBool,
}

impl Idle {
    pub fn new(workers: usize) -> Self {
        Idle {
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            num_sleeping: AtomicUsize::new(0),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            shutdown: AtomicBool::new(false),
        }
    }

    /// Post work, steps 2–5: call after making a task runnable in a stealable place. Wakes one
    /// sleeping worker if there is any.
    pub fn notify_one(&self) {
        // PushFence: pairs with SleepFence in `sleep` (idle.md, "The lost wake-up").
        fence(SeqCst);
        if self.num_sleeping.load(SeqCst) == 0 {
            return;
        }
        let woken = {
            let mut sleepers = self.sleepers.lock();
            let w = sleepers.pop();
            if w.is_some() {
                self.num_sleeping.fetch_sub(1, SeqCst);
            }
            w
        };
        if let Some(i) = woken {
            self.parkers[i].unpark();
        }
    }

    /// Fall asleep, steps 1–4, for worker `index`. `has_work` is the re-check of every
    /// stealable place (step 2). With a `timeout` the worker wakes by itself after it (it has
    /// deferred work to retry); it then deregisters as in step 3. Returns `true` if the worker
    /// actually parked.
    pub fn sleep(&self, index: usize, timeout: Option<std::time::Duration>, has_work: impl Fn() -> bool) -> bool {
        {
            let mut sleepers = self.sleepers.lock();
            sleepers.push(index);
            // SleepFence: a SeqCst RMW; see idle.md for why it pairs with PushFence.
            self.num_sleeping.fetch_add(1, SeqCst);
        }
        if has_work() || self.is_shutdown() {
            // If a waker popped us already, its token makes the next park return at once.
            self.deregister(index);
            return false;
        }
        match timeout {
            None => self.parkers[index].park(),
            Some(t) => {
                if !self.parkers[index].park_timeout(t) {
                    // Timed out: nobody popped us, unless a waker did so just now (then its
                    // token stays for the next park: a spurious wake, never a lost one).
                    self.deregister(index);
                }
            }
        }
        true
    }

    /// Step 3: removes `index` from the sleepers if it is still there.
    fn deregister(&self, index: usize) {
        let mut sleepers = self.sleepers.lock();
        if let Some(pos) = sleepers.iter().position(|&i| i == index) {
            sleepers.swap_remove(pos);
            self.num_sleeping.fetch_sub(1, SeqCst);
        }
    }

    /// The number of workers registered as sleeping right now (a snapshot).
    pub fn num_sleeping(&self) -> usize {
        self.num_sleeping.load(Relaxed)
    }

    /// Sets the shutdown flag and wakes every worker.
    pub fn shutdown(&self) {
        self.shutdown.store(true, SeqCst);
        {
            let mut sleepers = self.sleepers.lock();
            sleepers.clear();
            self.num_sleeping.store(0, SeqCst);
        }
        for p in self.parkers.iter() {
            p.unpark();
        }
    }

    pub fn is_shutdown(&self) -> bool {
        self.shutdown.load(SeqCst)
    }
}
