//! Per-worker counters, written by their worker only and readable by anyone at run time.

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::time::Instant;

/// Live counters of one worker. Each is written by its own worker thread only (a relaxed load +
/// store, no RMW), so counting costs no shared cache-line traffic; readers get a recent snapshot.
///
/// Sleep time is measured on the way into and out of `Idle::sleep` only (the idle path, which
/// makes system calls anyway), never per poll: utilisation is `1 - asleep / wall time`.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    polls: AtomicU64,
    lifo_polls: AtomicU64,
    steals: AtomicU64,
    steal_attempts: AtomicU64,
    parks: AtomicU64,
    injector_pops: AtomicU64,
    /// The task this worker polls now or polled last (its header address; 0 before the first).
    /// A plain store next to `polls`, on the worker's own cache line.
    current: AtomicUsize,
    /// Nanoseconds spent in finished sleeps.
    asleep_ns: AtomicU64,
    /// When the current sleep began (ns since the scheduler's epoch, plus 1), or 0 while awake.
    asleep_since: AtomicU64,
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
    /// Time spent asleep (parked or about to park, waiting for work) since the scheduler
    /// started, in nanoseconds, the current sleep included.
    pub asleep_ns: u64,
    /// Asleep at the time of the snapshot.
    pub sleeping: bool,
    /// Tasks in its deque and LIFO slot at the time of the snapshot.
    pub run_queue: usize,
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
    pub(crate) fn poll(&self, task: usize, lifo: bool) {
        self.current.store(task, Relaxed);
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

    /// The task this worker is polling, or polled last (0 if none yet): its header address, as
    /// `TaskRef::into_raw` gives it. Whether it is polled *now* is the task's own status.
    pub fn current_task(&self) -> usize {
        self.current.load(Relaxed)
    }

    /// Going to sleep; returns the start, for [`WorkerCounters::woke`].
    pub(crate) fn falling_asleep(&self, epoch: Instant) -> u64 {
        let since = epoch.elapsed().as_nanos() as u64 + 1;
        self.asleep_since.store(since, Release);
        since
    }

    /// Awake again after a sleep that began at `since`.
    pub(crate) fn woke(&self, epoch: Instant, since: u64) {
        let now = epoch.elapsed().as_nanos() as u64 + 1;
        self.asleep_ns.store(self.asleep_ns.load(Relaxed) + now.saturating_sub(since), Relaxed);
        self.asleep_since.store(0, Release);
    }

    /// A snapshot; `epoch` is the scheduler's start (to count the current sleep).
    pub fn snapshot(&self, epoch: Instant) -> WorkerStats {
        // Read the sleep's start first: if it is already 0 (woken), the Acquire makes the
        // finished sleep's time visible. A reader racing the wake may count a sleep twice for
        // an instant; `asleep_ns` is a statistic and readers clamp it.
        let since = self.asleep_since.load(Acquire);
        let mut asleep_ns = self.asleep_ns.load(Relaxed);
        if since != 0 {
            asleep_ns += (epoch.elapsed().as_nanos() as u64 + 1).saturating_sub(since);
        }
        WorkerStats {
            asleep_ns,
            sleeping: since != 0,
            run_queue: 0,
            polls: self.polls.load(Relaxed),
            lifo_polls: self.lifo_polls.load(Relaxed),
            steals: self.steals.load(Relaxed),
            steal_attempts: self.steal_attempts.load(Relaxed),
            parks: self.parks.load(Relaxed),
            injector_pops: self.injector_pops.load(Relaxed),
        }
    }
}
