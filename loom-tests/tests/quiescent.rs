#![cfg(spam_loom)]
//! Model of the quiescent-state grace periods (`scheduler/src/quiescent.rs`) that let a send from
//! a worker read a process's table slot without a pin (`vm/src/table.rs`, "The worker path"), on
//! the real `Quiescent`.
//!
//! The object is a slot: a state word (LIVE, then DYING) and a body in a loom `UnsafeCell`. The
//! reader is worker 0: in each poll it reads the body if the state says LIVE, as
//! `lookup_unpinned` does, and it announces a quiescent point between polls. The retirer marks
//! the slot DYING with a `SeqCst` RMW (as `Table::mark_dying`), takes a snapshot, waits for the
//! grace period and then frees the body (a write to the cell). A read of a freed body is a loom
//! causality violation.
//!
//! # A fence, not only SeqCst accesses
//! loom models `SeqCst` *accesses* as `AcqRel` (only `fence(SeqCst)` is sequentially consistent),
//! so `Quiescent::snapshot_into` starts with a `fence(SeqCst)` (one per sealed batch): the proof
//! then rests on fences on both sides, which loom checks. Without that fence loom reports a read
//! racing with the free; removing the announce fence is caught the same way.
//! (`LOOM_MAX_PREEMPTIONS=2`: 70 executions; `=3`: 224.)

use loom::thread;
use spam_loom_tests::model;
use spam_scheduler::sync::atomic::{AtomicU64, Ordering::*};
use spam_scheduler::sync::{Arc, UnsafeCell};
use spam_scheduler::Quiescent;

const LIVE: u64 = 1;
const DYING: u64 = 2;

struct Slot {
    state: AtomicU64,
    body: UnsafeCell<u64>,
}

/// Worker 0 polls twice (reading the slot if it is LIVE) with a quiescent point after each poll,
/// then parks (offline), while another thread retires the slot and frees it after a grace
/// period.
///
/// Property (quiescent.rs, "Why 4 is safe"): once the grace period has elapsed, no poll can
/// still be reading the retired object, nor read it later: the free never races with a read.
#[test]
fn grace_period_outlives_every_reader() {
    model(|| {
        let q = Arc::new(Quiescent::new(1));
        let slot = Arc::new(Slot { state: AtomicU64::new(LIVE), body: UnsafeCell::new(42) });
        let reader = thread::spawn({
            let (q, slot) = (q.clone(), slot.clone());
            move || {
                q.announce(0); // the worker starts online
                for _poll in 0..2 {
                    if slot.state.load(Acquire) == LIVE {
                        // SAFETY: LIVE seen inside a poll: not freed before this poll ends.
                        let v = slot.body.with(|b| unsafe { *b });
                        assert_eq!(v, 42, "read a freed body");
                    }
                    q.announce(0); // quiescent point between polls
                }
                q.offline(0); // nothing left to run: the worker parks
            }
        });
        slot.state.fetch_xor(LIVE | DYING, SeqCst); // retire (mark_dying)
        let snap = q.snapshot();
        while !q.elapsed(&snap) {
            thread::yield_now();
        }
        // SAFETY: the grace period has elapsed: no reader can access the body any more.
        slot.body.with_mut(|b| unsafe { *b = 0xdead });
        reader.join().unwrap();
    });
}
