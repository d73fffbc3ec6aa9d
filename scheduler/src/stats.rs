//! Per-worker counters, written by their worker only and readable by anyone at run time.

use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one worker. Each is written by its own worker thread only (a relaxed load +
/// store, no RMW), so counting costs no shared cache-line traffic; readers get a recent snapshot.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    polls: AtomicU64,
    lifo_polls: AtomicU64,
    steals: AtomicU64,
    steal_attempts: AtomicU64,
    parks: AtomicU64,
    injector_pops: AtomicU64,
}

/// A snapshot of one worker's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Tasks polled.
    pub polls: u64,
    /// Of those, taken from the LIFO slot.
    pub lifo_polls: u64,
    /// Successful steals from a peer (each may move a batch).
    pub steals: u64,
    /// Steal attempts on peers, successful or not.
    pub steal_attempts: u64,
    /// Times the worker parked its thread.
    pub parks: u64,
    /// Tasks (batches) taken from the global injector.
    pub injector_pops: u64,
}

#[inline]
fn bump(c: &AtomicU64) {
    // Single writer: load + store is enough and avoids a locked RMW.
    c.store(c.load(Relaxed) + 1, Relaxed);
}

impl WorkerCounters {
    /// Tasks polled so far (read by peers and the monitor to tell a long poll).
    #[inline]
    pub(crate) fn polls(&self) -> u64 {
        self.polls.load(Relaxed)
    }
    #[inline]
    pub(crate) fn poll(&self, lifo: bool) {
        bump(&self.polls);
        if lifo {
            bump(&self.lifo_polls);
        }
    }
    #[inline]
    pub(crate) fn steal_attempt(&self, success: bool) {
        bump(&self.steal_attempts);
        if success {
            bump(&self.steals);
        }
    }
    #[inline]
    pub(crate) fn park(&self) {
        bump(&self.parks);
    }
    #[inline]
    pub(crate) fn injector_pop(&self) {
        bump(&self.injector_pops);
    }

    pub fn snapshot(&self) -> WorkerStats {
        WorkerStats {
            polls: self.polls.load(Relaxed),
            lifo_polls: self.lifo_polls.load(Relaxed),
            steals: self.steals.load(Relaxed),
            steal_attempts: self.steal_attempts.load(Relaxed),
            parks: self.parks.load(Relaxed),
            injector_pops: self.injector_pops.load(Relaxed),
        }
    }
}
