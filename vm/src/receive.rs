//! Receiving: the selective-receive future behind `receive`, `receive_match`, `recv` and
//! `receive_timeout`, and `send_async` for bounded mailboxes.
//!
//! # Selective receive
//! The process first scans its private save queue (no shared memory touched), then drains the
//! shared mailbox into the save queue and scans only what is new, then announces it waits
//! (`Mailbox::set_waiting`). Skipped messages stay where they are, in arrival order. A receive
//! suspended across polls remembers the last node it rejected (`save::Cursor`), unless a message
//! was removed meanwhile (`Private::removals`), in which case it rescans (`save.rs`, rule 1).
//!
//! # Selective receive and `demonitor(.., flush)` in a predicate
//! A user predicate may call process functions, so it runs with the save queue taken out
//! (`Taken`, which marks the scan in the thread-local `SCAN`: a predicate runs inside its
//! process's poll, on that thread). A `demonitor(ref, true)` it makes records `ref` there;
//! after each predicate call the scan removes that monitor's `Down` from the taken queue (so it is
//! never received, even if it is the message the predicate just matched), and the queue is put
//! back, with whatever arrived meanwhile after it, when the scan ends or unwinds. A message is
//! taken off the queue only after the predicate accepted it, so an unwinding predicate loses
//! nothing.
//!
//! # Waiting for room (`send_async`)
//! A bounded mailbox has a queue of waiting senders ([`Waiters`]), each entry an id and a waker;
//! a `SendAsync` remembers its id. The rules, each taken under the `waiters` lock:
//! 1. A sender that finds the mailbox full registers (or updates its waker in place: one entry per
//!    sender, however often it is polled), *then* retries once: a receive between the failed try
//!    and the registration is seen by the retry.
//! 2. A receive that frees room pops the first entry and wakes it (outside the lock).
//! 3. A sender that completes while still registered removes its entry.
//! 4. A sender dropped while registered (it died, or a `select` dropped it) removes its entry; if
//!    the entry was already popped, it was owed a room it will never use, so it wakes the next
//!    waiter in its place.
//! 5. The receiver's exit wakes every waiter (they then find it dead).
//!
//! So every room freed while senders wait goes to a sender that retries: none waits while there
//! is room, and no waker is left behind for a sender that is gone. Loom model:
//! `loom-tests/tests/bounded.rs`.
//!
//! # Timeouts
//! Most receive deadlines are never reached (a `call` gets its reply in microseconds and waits
//! up to 5 s), so a receive does not insert and cancel a timer of its own each time. A process
//! keeps one *shared* timer (`Private::armed`: a wake at `at` through a waker). A receive that
//! is about to wait until `d`:
//! 1. relies on the shared timer if it is still pending (`!Timers::passed(at)`: the timer
//!    thread has not yet fired the timers due by `at`), fires no later than `d` (`at <= d`) and
//!    wakes the same task (`Waker::will_wake`): it is polled at `at` at the latest, and then
//!    checks again;
//! 2. arms the shared timer at `d` if there is none pending (fired, or firing);
//! 3. otherwise takes a timer of its own, cancelled when it is dropped (the old rule).
//!
//! A pending shared timer is never cancelled or replaced while a receive may rely on it, only
//! when the process exits (`Process::disarm`, so it does not hold the dead task until `at`).
//! The cost is one spurious wake per process per deadline period, where a receive completed
//! before its deadline; a receive treats any wake as a reason to look again.
//!
//! **The clock is read once per receive that waits, at most.** The deadline is fixed when the
//! receive first has to wait (`Timers::deadline_after`: a long wait reads the cheap coarse
//! clock, `clock.rs`), and a receive polled again with nothing for it asks the timer service
//! whether its deadline has passed (`Timers::passed`), instead of reading the clock. The
//! answer is "yes" exactly once the timer thread has fired the timers due by `d`, which it does
//! no earlier than `d`, so a receive never times out early; and a receive that finds its
//! deadline not yet passed is still woken by a timer due by `d` (rules 1–3), so it never
//! waits past it. A zero timeout times out at once, without a clock read.
//!
//! # Fairness
//! Each message received charges one reduction (`spam_scheduler::budget`). With the budget
//! spent, a receive yields once (wakes itself and returns `Pending`), which puts the process at
//! the back of its worker's queue: a process looping over a full mailbox cannot starve others.

use crate::context::{with_current, with_current_unchecked};
use crate::error::{NotInProcess, SendError};
use crate::message::Msg;
use crate::process::Process;
use crate::save::{Cursor, SaveQueue};
use crate::timer::{Deadline, TimerId};
use spam_scheduler::budget;
use spam_scheduler::sync::atomic::Ordering::*;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::Waker;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits for the first message matching the predicate, or the timeout.
pub struct Receive<P> {
    pred: P,
    limit: Limit,
    /// A timer of this receive's own (rule 3 of "Timeouts"), cancelled when it is dropped.
    timer: Option<TimerId>,
    /// Where the last scan stopped: after the last message `pred` rejected.
    cursor: Cursor,
    /// `pred` is the VM's own (a type test or "anything"): it cannot call back into the process,
    /// so the save queue can be scanned in place.
    trusted: bool,
}

/// How long a receive waits.
#[derive(Clone, Copy)]
enum Limit {
    Forever,
    /// Not yet waited: the deadline is this long after the receive first has to wait.
    After(Duration),
    At(Deadline),
}

impl<P: FnMut(&Msg) -> bool> Receive<P> {
    /// `timeout: None` waits forever. The timeout runs from when the receive first has to wait
    /// (Erlang's `receive .. after T`): a receive that finds its message at once never reads
    /// the clock, and one that waits reads it once.
    pub fn new(pred: P, timeout: Option<Duration>) -> Self {
        let limit = timeout.map_or(Limit::Forever, Limit::After);
        Receive { pred, limit, timer: None, cursor: Cursor::START, trusted: false }
    }

    /// For predicates that call no process function (so they cannot re-enter the process's
    /// private state): `recv::<T>` and plain `receive`. Scans in place.
    pub fn new_trusted(pred: P, timeout: Option<Duration>) -> Self {
        let mut r = Self::new(pred, timeout);
        r.trusted = true;
        r
    }

    /// Skips the messages queued now: for a reply tagged with a reference made after them,
    /// which none of them can be (OTP's receive-marker optimisation: a `gen_server::call` costs
    /// the same with 100 000 messages waiting as with none). The mark is the queue position and
    /// the removal count; if anything is removed from the queue before the receive runs, it
    /// falls back to a full scan (`sync_cursor`).
    pub fn skip_queued(mut self, p: &Process) -> Self {
        p.with_private(|pv| {
            self.cursor = Cursor::end_of(&pv.save, pv.removals);
        });
        self
    }

    fn poll_in(&mut self, p: &Process, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        if !budget::has_budget() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            if let Some(m) = self.scan(p) {
                return Poll::Ready(Some(taken(p, m)));
            }
            if p.mailbox.has_pending() {
                p.drain();
                if p.pending_exit() {
                    return Poll::Pending; // the process future exits after this poll
                }
                continue;
            }
            let d = match self.limit {
                Limit::Forever => None,
                Limit::At(d) if p.runtime().timers.passed(d) => return Poll::Ready(None),
                Limit::At(d) => Some(d),
                Limit::After(t) if t.is_zero() => return Poll::Ready(None),
                Limit::After(t) => {
                    let d = p.runtime().timers.deadline_after(t);
                    self.limit = d.map_or(Limit::Forever, Limit::At);
                    d
                }
            };
            if p.mailbox.set_waiting() {
                if let (Some(d), None) = (d, self.timer) {
                    self.timer = arm(p, d, cx.waker());
                }
                return Poll::Pending;
            }
        }
    }

    /// Scans the save queue from where the last scan stopped; removes and returns the first match.
    fn scan(&mut self, p: &Process) -> Option<Msg> {
        if self.trusted {
            self.scan_in_place(p)
        } else {
            self.scan_taken(p)
        }
    }

    /// Resets the cursor if a message was removed (or the queue taken out) since it was
    /// recorded (`save.rs`, rule 1).
    fn sync_cursor(&mut self, pv: &crate::process::Private) {
        if pv.removals != self.cursor.removals {
            self.cursor = Cursor::start(pv.removals);
        }
    }

    fn scan_in_place(&mut self, p: &Process) -> Option<Msg> {
        p.with_private(|pv| {
            self.sync_cursor(pv);
            let m = pv.save.take_first_after(&mut self.cursor, &mut self.pred)?;
            pv.removals += 1;
            self.cursor.removals = pv.removals;
            Some(m)
        })
    }

    /// For user predicates: take the queue out while `pred` runs, so a re-entrant process
    /// function (say, a `demonitor(.., true)` inside `pred`) never aliases it (module doc).
    /// Out of line: the trusted receives' polls stay small.
    #[inline(never)]
    fn scan_taken(&mut self, p: &Process) -> Option<Msg> {
        let mut done = p.with_private(|pv| {
            self.sync_cursor(pv);
            if self.cursor.count >= pv.save.len() {
                return None;
            }
            pv.removals += 1; // taken out: every other cursor is stale
            Some(std::mem::take(&mut pv.save))
        })?;
        let rest = done.split_after(self.cursor.after, self.cursor.count);
        let prev = SCAN.with(|s| s.replace(Some(Scan { proc: p, flushed: Vec::new() })));
        let mut taken = Taken { p, done, rest, prev };
        let mut hit = None;
        // Judged in place: an unwinding `pred` leaves the message queued.
        while let Some(matched) = taken.rest.front().map(|front| (self.pred)(&front)) {
            if taken.apply_flushes() {
                continue; // the front was a flushed `Down`: never received
            }
            let m = taken.rest.pop_front().expect("the front judged is still there");
            if matched {
                hit = Some(m);
                break;
            }
            taken.done.push_back(m);
        }
        // The rejected messages lead the queue put back, in place.
        let rejected = Cursor::end_of(&taken.done, 0);
        drop(taken); // puts the queue back, bumping `removals`
        p.with_private(|pv| {
            if hit.is_some() {
                pv.removals += 1;
                self.cursor = Cursor::start(pv.removals);
            } else {
                self.cursor = Cursor { removals: pv.removals, ..rejected };
            }
        });
        hit
    }
}

impl<P: FnMut(&Msg) -> bool> Receive<P> {
    /// What a fresh receive with the VM's own predicate `pred` (see [`Receive::new_trusted`])
    /// returns on its first poll when the oldest saved message matches: that message, taken with
    /// the same accounting. `None`, having done nothing, otherwise (then build and await the
    /// receive). Saves a flooded receiver the future's machinery per message.
    #[inline]
    pub fn take_front(mut pred: P) -> Option<Msg> {
        with_current(|p| {
            if !budget::has_budget() {
                return None; // the receive yields first
            }
            let m = p.with_private(|pv| {
                let m = pv.save.pop_front_if(&mut pred)?;
                pv.removals += 1;
                Some(m)
            })?;
            Some(taken(p, m))
        })
        .ok()
        .flatten()
    }
}

/// [`Receive::take_front`] for a receive of one type (`recv::<T>`): the value itself, with one
/// type test.
#[inline]
pub fn take_front_as<T: std::any::Any>() -> Option<T> {
    let m = Receive::take_front(|m: &Msg| m.is::<T>())?;
    // SAFETY: the predicate matched it as a `T`.
    Some(unsafe { m.downcast_unchecked::<T>() })
}

/// The accounting of a received message `m`: the published queue length, a bounded mailbox's
/// room (and the first sender waiting for it), the budget and the reductions. Inlined in each
/// receive path (a call cost a flooded receiver 22 instructions of saves per message); the bound
/// is out of line.
#[inline(always)]
fn taken(p: &Process, m: Msg) -> Msg {
    p.publish_queue_len();
    if let Some(b) = &p.bound {
        if m.is_sent() {
            room_freed(b);
        }
    }
    budget::consume(1);
    p.bump_reductions(1);
    m
}

/// A bounded mailbox's message was received: one more room, and the first waiting sender woken.
#[cold]
#[inline(never)]
fn room_freed(b: &crate::process::Bound) {
    b.len.fetch_sub(1, AcqRel);
    let next = b.waiters.lock().pop();
    if let Some(w) = next {
        w.wake();
    }
}

/// Makes sure the process is woken by `d` (module doc, "Timeouts"); returns the receive's own
/// timer if it needs one (rule 3).
#[inline(never)]
fn arm(p: &Process, d: Deadline, waker: &Waker) -> Option<TimerId> {
    enum Rule {
        Rely,
        Arm,
        Own,
    }
    let timers = &p.runtime().timers;
    let rule = p.with_private(|pv| match &pv.armed {
        Some(a) if timers.passed(a.at) => Rule::Arm,
        Some(a) if a.at <= d && a.waker.will_wake(waker) => Rule::Rely,
        Some(_) => Rule::Own,
        None => Rule::Arm,
    });
    match rule {
        Rule::Rely => None,
        Rule::Own => Some(timers.wake_by(d, waker.clone())),
        Rule::Arm => {
            let id = timers.wake_by(d, waker.clone());
            // The one it replaces has fired, or fires now: nothing to cancel. Its box is reused;
            // its waker is dropped outside the private state (a drop may run other code).
            let old = p.with_private(|pv| match &mut pv.armed {
                Some(a) => {
                    (a.at, a.id) = (d, id);
                    Some(std::mem::replace(&mut a.waker, waker.clone()))
                }
                None => {
                    pv.armed = Some(Box::new(crate::process::Armed { at: d, id, waker: waker.clone() }));
                    None
                }
            });
            drop(old);
            None
        }
    }
}

/// A selective receive running a user predicate on this thread: its process, and the monitors
/// the predicate flushed. Kept out of the control block (it exists only during one scan), in a
/// thread-local through the sync shim (under loom each model thread has its own).
struct Scan {
    proc: *const Process,
    flushed: Vec<crate::Ref>,
}

#[cfg(not(spam_loom))]
std::thread_local! {
    static SCAN: std::cell::Cell<Option<Scan>> = const { std::cell::Cell::new(None) };
}
#[cfg(spam_loom)]
spam_scheduler::sync::thread_local! {
    static SCAN: std::cell::Cell<Option<Scan>> = std::cell::Cell::new(None);
}

/// `demonitor(mref, true)` on `p`: if `p`'s save queue is taken out by a predicate scan on this
/// thread, records `mref` so the scan removes its `Down` (module doc).
pub(crate) fn note_flush(p: &Process, mref: crate::Ref) {
    SCAN.with(|s| {
        if let Some(mut scan) = s.take() {
            if std::ptr::eq(scan.proc, p) {
                scan.flushed.push(mref);
            }
            s.set(Some(scan));
        }
    });
}

/// The save queue, taken out while a user predicate runs: the messages the scan rejected (or
/// skipped by its cursor), and those it has yet to judge. Dropped (also when the predicate
/// unwinds), it goes back whole, in order, in front of whatever arrived meanwhile.
struct Taken<'a> {
    p: &'a Process,
    done: SaveQueue,
    rest: SaveQueue,
    /// The scan this one nests in, if any, restored at drop.
    prev: Option<Scan>,
}

impl Taken<'_> {
    /// Removes the `Down`s of monitors flushed by the predicate; says whether the front of
    /// `rest` (the message just judged) was one.
    fn apply_flushes(&mut self) -> bool {
        let flushed = SCAN.with(|s| {
            let mut scan = s.take();
            let flushed = scan.as_mut().map(|sc| std::mem::take(&mut sc.flushed)).unwrap_or_default();
            s.set(scan);
            flushed
        });
        if flushed.is_empty() {
            return false;
        }
        let is_flushed = |m: &Msg| m.downcast_ref::<crate::Down>().is_some_and(|d| flushed.contains(&d.monitor));
        let front = self.rest.head();
        let a = self.done.extract_after(std::ptr::null_mut(), is_flushed);
        let b = self.rest.extract_after(std::ptr::null_mut(), is_flushed);
        self.p.with_private(|pv| pv.removals += (a.len() + b.len()) as u64);
        // Removing the front moves the head; removing any other message does not.
        !front.is_null() && self.rest.head() != front
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.apply_flushes();
        let prev = self.prev.take();
        SCAN.with(|s| s.set(prev));
        let mut save = std::mem::take(&mut self.done);
        save.append(std::mem::take(&mut self.rest));
        self.p.with_private(|pv| {
            let arrived = std::mem::replace(&mut pv.save, save);
            pv.save.append(arrived);
            pv.removals += 1; // put back: a cursor recorded meanwhile is stale
        });
        self.p.publish_queue_len();
    }
}

impl<P: FnMut(&Msg) -> bool + Unpin> Receive<P> {
    /// Awaits this receive where it lies, through a borrow: `receive.await` moves it into the
    /// awaiting future's state, and that copy reloaded, in other pieces, what the construction
    /// had just stored: a store-forwarding stall on every receive that waits (9% of a
    /// message's time in the `big` benchmark at two schedulers, 8% of a `gen_server::call`).
    #[inline]
    pub fn in_place(&mut self) -> impl Future<Output = Result<Option<Msg>, NotInProcess>> + '_ {
        std::future::poll_fn(move |cx| Pin::new(&mut *self).poll(cx))
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
            let _ = with_current_unchecked(|p| p.runtime().timers.cancel(t));
        }
    }
}

/// Senders waiting for room in a bounded mailbox (module doc, "Waiting for room").
#[derive(Default)]
pub(crate) struct Waiters {
    queue: VecDeque<(u64, Waker)>,
    next_id: u64,
}

impl Waiters {
    /// Rule 1: registers the sender `id` (a new one if `None`), or updates its waker in place.
    /// O(waiters), like [`Waiters::remove`]: the queue holds one entry per blocked sender.
    fn register(&mut self, id: &mut Option<u64>, waker: &Waker) {
        if let Some(i) = *id {
            if let Some(entry) = self.queue.iter_mut().find(|(e, _)| *e == i) {
                if !entry.1.will_wake(waker) {
                    entry.1 = waker.clone();
                }
                return;
            }
        }
        self.next_id += 1;
        *id = Some(self.next_id);
        self.queue.push_back((self.next_id, waker.clone()));
    }

    /// Rules 3 and 4: removes `id`; `false` if it was popped (woken) already.
    fn remove(&mut self, id: u64) -> bool {
        match self.queue.iter().position(|(e, _)| *e == id) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// Rule 2: the first waiter's waker, to be woken outside the lock.
    pub(crate) fn pop(&mut self) -> Option<Waker> {
        self.queue.pop_front().map(|(_, w)| w)
    }

    /// Rule 5 (call on a queue taken out of its lock).
    pub(crate) fn wake_all(self) {
        for (_, w) in self.queue {
            w.wake();
        }
    }
}

/// Sends, waiting for room while the receiver's bounded mailbox is full.
pub struct SendAsync<T> {
    to: crate::Pid,
    msg: Option<T>,
    /// Our entry in the receiver's [`Waiters`], while registered.
    waiter: Option<u64>,
}

impl<T> SendAsync<T> {
    /// A send of `msg` to `to`, to be awaited in a process.
    pub fn new(to: crate::Pid, msg: T) -> Self {
        SendAsync { to, msg: Some(msg), waiter: None }
    }

    /// Runs `f` on the receiver's waiter queue, if the receiver is alive and bounded.
    fn with_waiters<R>(&self, p: &Process, f: impl FnOnce(&mut Waiters) -> R) -> Option<R> {
        let target = p.runtime().target(self.to)?;
        let b = target.process().bound.as_ref()?;
        let r = f(&mut b.waiters.lock());
        Some(r)
    }

    /// Rule 3: done (sent, or the receiver is gone): leave the queue.
    fn finish(&mut self, p: &Process) {
        if let Some(id) = self.waiter.take() {
            self.with_waiters(p, |w| w.remove(id));
        }
    }
}

/// Done when the message is in the receiver's mailbox, or dropped because the receiver is dead.
///
/// # Panics
/// Polled outside a process.
impl<T: Send + 'static> Future for SendAsync<T> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: no field is structurally pinned; `T` is only moved in and out by value.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(msg) = this.msg.take() else {
            return Poll::Ready(());
        };
        if !crate::context::in_process() {
            drop(msg);
            panic!("spam::send_async called outside a SPAM process (a process function works only inside a process)");
        }
        let r = with_current(|p| {
            let rt = p.runtime();
            let r = match rt.send_message(this.to, msg) {
                Err(SendError::Full(m)) => {
                    // Rule 1: register, then retry once.
                    let mut id = this.waiter;
                    if this.with_waiters(p, |w| w.register(&mut id, cx.waker())).is_none() {
                        return Poll::Ready(()); // died meanwhile: dropped, as a send to a dead pid
                    }
                    this.waiter = id;
                    match rt.send_message(this.to, m) {
                        Err(SendError::Full(m)) => {
                            this.msg = Some(m);
                            return Poll::Pending;
                        }
                        r => r,
                    }
                }
                r => r,
            };
            // A send to a pid fails only when full (handled above).
            debug_assert!(r.is_ok());
            if p.traced(crate::trace::TraceFlags::SEND) {
                p.trace_sent(this.to, std::any::type_name::<T>());
            }
            this.finish(p);
            Poll::Ready(())
        });
        r.unwrap_or(Poll::Ready(())) // unreachable Err: in_process() was checked
    }
}

impl<T> Drop for SendAsync<T> {
    fn drop(&mut self) {
        // Rule 4. Outside a process (cancelled at shutdown) the receiver is being torn down too.
        if let Some(id) = self.waiter.take() {
            let _ = with_current_unchecked(|p| {
                let next = self.with_waiters(p, |w| if w.remove(id) { None } else { w.pop() }).flatten();
                if let Some(w) = next {
                    w.wake();
                }
            });
        }
    }
}
