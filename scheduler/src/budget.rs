//! The reduction budget of the current poll: cooperative fairness between tasks on one worker.
//!
//! A worker refills the budget before each poll. Code running inside the task (the VM's send
//! and receive) charges it; once it is spent, the next await point should wake the task and
//! return `Pending`, which puts the task at the back of a queue (a self-wake during a poll is a
//! yield, see `task.rs`). Outside a worker the budget is unlimited.
//!
//! This is a plain thread-local `Cell`, not part of any cross-thread protocol, so it does not go
//! through the sync shim.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Reductions per poll. The BEAM gives a process 4000 reductions per slice; our unit is one
/// message sent or received, which is more work than one BEAM reduction.
pub const BUDGET_PER_POLL: u32 = 2000;

std::thread_local! {
    static BUDGET: Cell<u32> = const { Cell::new(u32::MAX) };
}

/// Refills the budget (called by the worker before each poll).
#[inline]
pub(crate) fn reset() {
    BUDGET.with(|b| b.set(BUDGET_PER_POLL));
}

/// Restores an unlimited budget (called when the worker thread stops).
pub(crate) fn unlimited() {
    BUDGET.with(|b| b.set(u32::MAX));
}

/// Charges `n` reductions. Returns `false` once the budget is spent: the caller should yield at
/// its next await point.
#[inline]
pub fn consume(n: u32) -> bool {
    BUDGET.with(|b| {
        let left = b.get();
        if left == u32::MAX {
            return true;
        }
        let left = left.saturating_sub(n);
        b.set(left);
        left > 0
    })
}

/// `true` while the current poll still has budget left.
#[inline]
pub fn has_budget() -> bool {
    BUDGET.with(|b| b.get() > 0)
}

/// Spends the whole remaining budget, so the next budget check yields.
#[inline]
pub fn exhaust() {
    BUDGET.with(|b| {
        if b.get() != u32::MAX {
            b.set(0)
        }
    });
}

/// Lets other tasks run: the caller wakes itself and returns `Pending` once, which puts it at
/// the back of its worker's queue (a self-wake during a poll is a yield, see `task.rs`). Use it
/// in long CPU-bound loops.
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// The future of [`yield_now`].
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
