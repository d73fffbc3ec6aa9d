//! Receiving: the selective-receive future behind `receive`, `receive_match`, `recv` and
//! `receive_timeout`, and `send_async` for bounded mailboxes.
//!
//! # Selective receive
//! The process first scans its private save queue (no shared memory touched), then drains the
//! shared mailbox into the save queue and scans only what is new, then announces it waits
//! (`Mailbox::set_waiting`). Skipped messages stay where they are, in arrival order. A receive
//! suspended across polls remembers how far it scanned, unless another receive removed a message
//! meanwhile (`Private::removals`), in which case it rescans.
//!
//! # Fairness
//! Each message received charges one reduction (`spam_scheduler::budget`). With the budget
//! spent, a receive yields once (wakes itself and returns `Pending`), which puts the process at
//! the back of its worker's queue: a process looping over a full mailbox cannot starve others.

use crate::context::with_current;
use crate::error::{NotInProcess, SendError};
use crate::message::Msg;
use crate::process::Process;
use crate::timer::TimerId;
use spam_scheduler::budget;
use spam_scheduler::sync::atomic::Ordering::*;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Waits for the first message matching the predicate, or the deadline.
pub struct Receive<P> {
    pred: P,
    deadline: Option<Instant>,
    timer: Option<TimerId>,
    /// Save-queue entries already rejected by `pred`.
    scanned: usize,
    /// `Private::removals` when `scanned` was recorded.
    removals: u64,
    /// `pred` is the VM's own (a type test or "anything"): it cannot call back into the process,
    /// so the save queue can be scanned in place.
    trusted: bool,
}

impl<P: FnMut(&Msg) -> bool> Receive<P> {
    /// `deadline: None` waits forever.
    pub fn new(pred: P, deadline: Option<Instant>) -> Self {
        Receive { pred, deadline, timer: None, scanned: 0, removals: 0, trusted: false }
    }

    /// For predicates that call no process function (so they cannot re-enter the process's
    /// private state): `recv::<T>` and plain `receive`. Scans in place.
    pub fn new_trusted(pred: P, deadline: Option<Instant>) -> Self {
        let mut r = Self::new(pred, deadline);
        r.trusted = true;
        r
    }

    fn poll_in(&mut self, p: &Process, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        if !budget::has_budget() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            if let Some(m) = self.scan(p) {
                budget::consume(1);
                p.bump_reductions(1);
                return Poll::Ready(Some(m));
            }
            if p.mailbox.has_pending() {
                p.drain();
                if p.pending_exit() {
                    return Poll::Pending; // the process future exits after this poll
                }
                continue;
            }
            if let Some(d) = self.deadline {
                if Instant::now() >= d {
                    return Poll::Ready(None);
                }
            }
            if p.mailbox.set_waiting() {
                if let (Some(d), None) = (self.deadline, self.timer) {
                    self.timer = Some(p.runtime().timers.wake_at(d, cx.waker().clone()));
                }
                return Poll::Pending;
            }
        }
    }

    /// Scans the save queue from where the last scan stopped; removes and returns the first match.
    fn scan(&mut self, p: &Process) -> Option<Msg> {
        let msg = if self.trusted { self.scan_in_place(p) } else { self.scan_taken(p) }?;
        p.publish_queue_len();
        if msg.is_sent() {
            if let Some(b) = &p.bound {
                b.len.fetch_sub(1, AcqRel);
                if let Some(w) = b.waiters.lock().pop_front() {
                    w.wake();
                }
            }
        }
        Some(msg)
    }

    /// Resets the cursor if another receive removed a message; returns the queue length.
    fn sync_cursor(&mut self, pv: &mut crate::process::Private) -> usize {
        if pv.removals != self.removals {
            self.scanned = 0;
            self.removals = pv.removals;
        }
        pv.save.len()
    }

    fn scan_in_place(&mut self, p: &Process) -> Option<Msg> {
        p.with_private(|pv| {
            let len = self.sync_cursor(pv);
            let hit = (self.scanned.min(len)..len).find(|&i| (self.pred)(&pv.save[i]));
            match hit {
                Some(i) => {
                    pv.removals += 1;
                    self.removals = pv.removals;
                    self.scanned = 0;
                    pv.save.remove(i)
                }
                None => {
                    self.scanned = len;
                    None
                }
            }
        })
    }

    /// For user predicates: take the queue out while `pred` runs, so a re-entrant process
    /// function (say, a `demonitor(.., true)` inside `pred`) never aliases it.
    fn scan_taken(&mut self, p: &Process) -> Option<Msg> {
        let mut save = p.with_private(|pv| {
            let len = self.sync_cursor(pv);
            if self.scanned >= len {
                return None;
            }
            Some(std::mem::take(&mut pv.save))
        })?;
        let hit = (self.scanned..save.len()).find(|&i| (self.pred)(&save[i]));
        let msg = hit.and_then(|i| save.remove(i));
        self.scanned = if msg.is_some() { 0 } else { save.len() };
        p.with_private(|pv| {
            let arrived = std::mem::replace(&mut pv.save, save);
            pv.save.extend(arrived);
            if msg.is_some() {
                pv.removals += 1;
                self.removals = pv.removals;
            }
        });
        msg
    }
}

impl<P: FnMut(&Msg) -> bool + Unpin> Future for Receive<P> {
    type Output = Result<Option<Msg>, NotInProcess>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match with_current(|p| this.poll_in(p, cx)) {
            Ok(Poll::Ready(m)) => Poll::Ready(Ok(m)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl<P> Drop for Receive<P> {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            let _ = with_current(|p| p.runtime().timers.cancel(t));
        }
    }
}

/// Sends, waiting for room while the receiver's bounded mailbox is full.
pub struct SendAsync<T> {
    to: crate::Pid,
    msg: Option<T>,
}

impl<T> SendAsync<T> {
    pub fn new(to: crate::Pid, msg: T) -> Self {
        SendAsync { to, msg: Some(msg) }
    }
}

impl<T: Send + 'static> Future for SendAsync<T> {
    type Output = Result<(), SendError<T>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: no field is structurally pinned; `T` is only moved in and out by value.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(msg) = this.msg.take() else {
            return Poll::Ready(Ok(()));
        };
        if !crate::context::in_process() {
            return Poll::Ready(Err(SendError::NotInProcess(msg)));
        }
        let to = this.to;
        let r = with_current(|p| {
            let rt = p.runtime();
            match rt.send_message(to, msg) {
                Err(SendError::Full(m)) => {
                    // Register, then retry once: a receive between our failed try and the
                    // registration would otherwise find no waiter to wake.
                    let Some(pinned) = rt.target(to) else {
                        return Poll::Ready(Ok(()));
                    };
                    if let Some(b) = &pinned.process().bound {
                        b.waiters.lock().push_back(cx.waker().clone());
                    }
                    drop(pinned);
                    match rt.send_message(to, m) {
                        Err(SendError::Full(m)) => {
                            this.msg = Some(m);
                            Poll::Pending
                        }
                        r => Poll::Ready(r),
                    }
                }
                r => Poll::Ready(r),
            }
        });
        r.unwrap_or(Poll::Ready(Ok(()))) // unreachable Err: in_process() was checked
    }
}
