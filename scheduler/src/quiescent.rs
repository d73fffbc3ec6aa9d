//! Quiescent states of workers: a generic grace-period facility (QSBR) for code running in tasks.
//!
//! A task may read a shared pointer during its poll without any reference count, provided the
//! object is freed only after a *grace period*: every worker has since passed a quiescent point
//! (it is between polls, holding nothing). The VM uses this so a send from a worker needs no pin
//! on the receiver (vm/src/table.rs).
//!
//! # Protocol
//! Each worker owns one counter `qs[w]`: even while online, odd while parked.
//! 1. **Announce** (every `ANNOUNCE_EVERY` polls, and when waking up): `qs[w] += 2` (or `+1`
//!    from odd) with Release, then `fence(SeqCst)`. Release orders every access of the polls
//!    before it ahead of the new value; the fence orders the new value ahead of every load after.
//! 2. **Offline** (before parking): `qs[w] += 1` (odd) with Release.
//! 3. **Retire** (the user): make the object unreachable for new readers with a SeqCst write
//!    (the VM: slot LIVE → DYING), then take a [`Snapshot`] of every `qs[w]` (SeqCst loads).
//! 4. **Grace** ([`Quiescent::elapsed`]): for every worker, `qs[w]` differs from the snapshot or
//!    the snapshot was odd. Then it may be freed.
//!
//! Why 4 is safe: a worker whose counter moved has finished every poll that was running at the
//! snapshot (Release/Acquire on `qs[w]`). Any poll it starts later comes after its announce
//! fence; the snapshot load read an older value of `qs[w]`, so in the single SeqCst order the
//! retiring write < snapshot load < that fence, and every load after the fence observes the
//! retiring write (C++ [atomics.order]: a load after a SeqCst fence sees the last SeqCst write
//! before the fence, or later). So no later poll can reach the object. A worker parked at the
//! snapshot (odd) runs nothing until it announces, which is the same case.

use crate::sync::atomic::{fence, AtomicU64, Ordering::*};
use crossbeam_utils::CachePadded;

/// A worker announces a quiescent point every this many polls.
pub const ANNOUNCE_EVERY: u32 = 32;

/// The per-worker quiescent-state counters of one scheduler.
#[derive(Debug)]
pub struct Quiescent {
    qs: Box<[CachePadded<AtomicU64>]>,
}

/// The counters as they were when an object was retired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(Vec<u64>);

impl Quiescent {
    pub fn new(workers: usize) -> Self {
        Quiescent { qs: (0..workers).map(|_| CachePadded::new(AtomicU64::new(0))).collect() }
    }

    /// Step 1, by worker `w` only.
    pub fn announce(&self, w: usize) {
        let q = &self.qs[w];
        let v = q.load(Relaxed);
        q.store((v | 1) + 1, Release);
        fence(SeqCst);
    }

    /// Step 2, by worker `w` only.
    pub fn offline(&self, w: usize) {
        let q = &self.qs[w];
        let v = q.load(Relaxed);
        q.store(v | 1, Release);
    }

    /// Step 3: call after the SeqCst write that retired the object.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot(Vec::with_capacity(self.qs.len()));
        self.snapshot_into(&mut s);
        s
    }

    /// Step 3, reusing `into`'s buffer.
    pub fn snapshot_into(&self, into: &mut Snapshot) {
        // Orders the retiring writes before the loads below in the SeqCst order by a fence, not
        // only by the SeqCst loads themselves: the proof above then uses fences on both sides,
        // which is also what loom models (it treats SeqCst accesses as AcqRel). One fence per
        // sealed batch of retirements.
        fence(SeqCst);
        into.0.clear();
        into.0.extend(self.qs.iter().map(|q| q.load(SeqCst)));
    }

    /// Step 4: `true` once every worker has passed a quiescent point since `snap`.
    pub fn elapsed(&self, snap: &Snapshot) -> bool {
        self.qs.iter().zip(&snap.0).all(|(q, &s)| s & 1 == 1 || q.load(Acquire) != s)
    }
}
