//! Timers: one thread per VM serving every timeout (`receive_timeout`, `send_after`).
//!
//! Pending timers sit in a `BTreeMap` ordered by (deadline, id), with an id → deadline index for
//! cancellation: insert and cancel are O(log n), a cancelled timer is freed at once, and a
//! million pending timeouts cost memory, not threads. The thread sleeps on a condition variable
//! until the earliest deadline, or until an earlier timer is inserted.
//!
//! # Firing (`Inner::fired`)
//! Each time the thread reads the clock, it stores the reading in `fired` *before* it fires the
//! timers due by it; the readings only grow. So a task woken by a timer due at `at` loads
//! `fired >= at` (the wake's Release/Acquire on the task state carries the store; the store's
//! own Release and the load's Acquire add nothing needed), and `fired < at` means no timer due
//! at `at` has fired yet. Loom model: `loom-tests/tests/timeout.rs`.
//! A receive asks this (`Timers::passed`) instead of reading the clock: whether its deadline
//! has come, and whether the process's shared timer is still pending (`receive.rs`,
//! "Timeouts"). A deadline counts as reached when the thread serving it says so, which is
//! when its timer wakes the receive anyway.
//!
//! # Waking the thread (`State::sleep`)
//! Most timers are receive timeouts that are cancelled long before they fire (a `call` that got
//! its reply): inserting one must not cost a cross-thread wake. So the thread records, under the
//! lock, the deadline it sleeps until, and an insert notifies it only if the new deadline is
//! earlier (or it sleeps with no timer at all). No wake is lost: the thread decides to sleep and
//! records its deadline under the same lock an insert takes, so an insert either comes before
//! that decision (and the thread sees the new timer) or after it (and sees the recorded deadline);
//! a later deadline needs no wake, since the thread wakes at its own, earlier, one and looks again.
//! A cancel never wakes it (at worst it wakes once for nothing).
//!
//! A timer's action may hold user values (the message of a `send_after`): firing, cancelling or
//! dropping one at shutdown runs their destructors, each contained (`spam_scheduler::contain`),
//! so a panicking destructor can neither kill the timer thread nor break a shutdown.

use crate::clock::Clock;
use spam_scheduler::contain;
use spam_scheduler::sync::atomic::{AtomicU64, Ordering::*};
use spam_scheduler::sync::{Arc, Condvar, Mutex};
use std::collections::{BTreeMap, HashMap};
use std::task::Waker;
use std::time::{Duration, Instant};

/// Longer than any timer lives: delays beyond it are clamped to it.
pub(crate) const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `delay` from now; a delay too long to represent (`Duration::MAX`, "infinity")
/// is clamped to a century, which no timer outlives.
pub fn deadline_after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay.min(CENTURY)).unwrap_or(now)
}

/// Identifies a pending timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

enum Action {
    Wake(Waker),
    Call(Box<dyn FnOnce() + Send>),
}

#[derive(Default)]
struct State {
    queue: BTreeMap<(Instant, u64), Action>,
    deadlines: HashMap<u64, Instant, crate::process::IdBuild>,
    next_id: u64,
    shutdown: bool,
    /// While the thread waits: `Some(Some(d))`, it wakes by itself at `d`; `Some(None)`, no timer
    /// was pending and only a notify wakes it. `None` while it is awake or already notified.
    sleep: Option<Option<Instant>>,
}

struct Inner {
    state: Mutex<State>,
    cvar: Condvar,
    /// The thread's clock, as nanoseconds since `base`, stored before it fires the timers due
    /// by it ("Firing" in the module doc).
    fired: AtomicU64,
    clock: Clock,
}

impl Inner {
    fn new() -> Inner {
        let (state, cvar) = (Mutex::new(State::default()), Condvar::new());
        Inner { state, cvar, fired: AtomicU64::new(0), clock: Clock::new() }
    }
}

/// A receive's deadline: nanoseconds since its timer service started (`clock.rs`). Plain
/// integers, so the receive path does no `Instant` arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(u64);

/// The timer service of one VM.
pub struct Timers {
    inner: Arc<Inner>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Timers {
    pub fn start() -> Timers {
        let inner = Arc::new(Inner::new());
        let i2 = inner.clone();
        let thread = std::thread::Builder::new()
            .name("spam-timer".into())
            .spawn(move || run(i2))
            .expect("failed to start the timer thread");
        Timers { inner, thread: Mutex::new(Some(thread)) }
    }

    /// loom models only (`--cfg spam_loom`): a timer service without its thread (a model has no
    /// clock; pending timers are dropped at shutdown).
    #[cfg(spam_loom)]
    pub(crate) fn loom_new() -> Timers {
        Timers { inner: Arc::new(Inner::new()), thread: Mutex::new(None) }
    }

    fn insert(&self, deadline: Instant, action: Action) -> TimerId {
        let mut st = self.inner.state.lock();
        if st.shutdown {
            drop(st);
            contain::drop_value(action);
            return TimerId(u64::MAX);
        }
        st.next_id += 1;
        let id = st.next_id;
        let wake = match st.sleep {
            Some(None) => true,
            Some(Some(until)) => deadline < until,
            None => false,
        };
        if wake {
            st.sleep = None; // notified: later inserts need not notify again
        }
        st.queue.insert((deadline, id), action);
        st.deadlines.insert(id, deadline);
        drop(st);
        if wake {
            self.inner.cvar.notify_one();
        }
        TimerId(id)
    }

    /// The deadline of a receive waiting `t` (not zero) from now: never earlier than
    /// `Instant::now() + t`, perhaps a little later (`clock.rs`). `None` if unrepresentable.
    #[inline]
    pub fn deadline_after(&self, t: Duration) -> Option<Deadline> {
        self.inner.clock.deadline_after(t).map(Deadline)
    }

    /// `true` once the timer thread has fired, or is firing, every timer due by `at` ("Firing"):
    /// a timer of this service due at `at` has woken its task, or is about to. `false` means
    /// such a timer, if pending, is still to fire.
    #[inline]
    pub fn passed(&self, at: Deadline) -> bool {
        self.inner.fired.load(Acquire) >= at.0
    }

    /// Wakes `waker` at `deadline`.
    pub fn wake_by(&self, deadline: Deadline, waker: Waker) -> TimerId {
        self.wake_at(self.inner.clock.instant(deadline.0), waker)
    }

    /// loom models only (they have no timer thread): one step of the thread with its clock
    /// reading `now`, as `run` takes it (`take_due`, then `fire`).
    #[cfg(spam_loom)]
    pub fn loom_fire(&self, now: Instant) {
        let mut due = Vec::new();
        take_due(&self.inner, &mut self.inner.state.lock(), now, &mut due);
        fire(&mut due);
    }

    /// Wakes `waker` at `deadline`.
    pub fn wake_at(&self, deadline: Instant, waker: Waker) -> TimerId {
        self.insert(deadline, Action::Wake(waker))
    }

    /// Runs `f` on the timer thread at `deadline` (it must not block).
    pub fn call_at(&self, deadline: Instant, f: Box<dyn FnOnce() + Send>) -> TimerId {
        self.insert(deadline, Action::Call(f))
    }

    /// Cancels a pending timer: returns the time it had left, or `None` if it already fired
    /// (or was cancelled).
    pub fn cancel(&self, id: TimerId) -> Option<Duration> {
        let action = {
            let mut st = self.inner.state.lock();
            let deadline = st.deadlines.remove(&id.0)?;
            st.queue.remove(&(deadline, id.0)).map(|a| (a, deadline))
        };
        // Drop the action (a waker, or a message never to be sent) outside the lock.
        action.map(|(a, d)| {
            contain::drop_value(a);
            d.saturating_duration_since(Instant::now())
        })
    }

    /// Timers pending right now.
    pub fn pending(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Stops the thread; pending timers are dropped without firing.
    pub fn shutdown(&self) {
        let dropped = {
            let mut st = self.inner.state.lock();
            st.shutdown = true;
            st.deadlines.clear();
            std::mem::take(&mut st.queue)
        };
        self.inner.cvar.notify_one();
        contain::drop_each(dropped.into_values());
        let thread = self.thread.lock().take();
        if let Some(t) = thread {
            // On the timer thread itself (a destructor it runs shut the VM down) it cannot join
            // itself; it sees the flag and returns after its current batch.
            if !self.is_current_thread() {
                let _ = t.join();
            }
        }
    }

    /// `true` on this service's timer thread.
    pub fn is_current_thread(&self) -> bool {
        TIMER_OF.with(|t| std::ptr::eq(t.get(), &*self.inner as *const Inner as *const ()))
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

std::thread_local! {
    /// The service whose timer thread this is (its `Inner`'s address), or null.
    static TIMER_OF: std::cell::Cell<*const ()> = const { std::cell::Cell::new(std::ptr::null()) };
}

fn run(inner: Arc<Inner>) {
    TIMER_OF.with(|t| t.set(&*inner as *const Inner as *const ()));
    let mut due = Vec::new();
    loop {
        {
            let mut st = inner.state.lock();
            loop {
                if st.shutdown {
                    return;
                }
                let now = Instant::now();
                take_due(&inner, &mut st, now, &mut due);
                if !due.is_empty() {
                    break;
                }
                match st.queue.keys().next() {
                    Some(&(d, _)) => {
                        st.sleep = Some(Some(d));
                        inner.cvar.wait_for(&mut st, d.saturating_duration_since(now));
                    }
                    None => {
                        st.sleep = Some(None);
                        inner.cvar.wait(&mut st);
                    }
                }
                st.sleep = None;
            }
        }
        fire(&mut due);
    }
}

/// The thread's step at its clock reading `now`, under the state lock: publishes `now` in
/// `fired` ("Firing": before any of these fires), then takes every timer due by it.
fn take_due(inner: &Inner, st: &mut State, now: Instant, due: &mut Vec<Action>) {
    inner.fired.store(inner.clock.since_base(now), Release);
    while let Some(entry) = st.queue.first_entry() {
        if entry.key().0 > now {
            break;
        }
        let ((_, id), action) = entry.remove_entry();
        st.deadlines.remove(&id);
        due.push(action);
    }
}

/// Runs the actions taken by [`take_due`], outside the lock.
fn fire(due: &mut Vec<Action>) {
    for action in due.drain(..) {
        match action {
            Action::Wake(w) => w.wake(),
            // User values inside (a message to a dead pid is dropped here): contained.
            Action::Call(f) => {
                contain::run(f);
            }
        }
    }
}
