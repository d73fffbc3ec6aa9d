//! Timers: one thread per VM serving every timeout (`receive_timeout`, `send_after`).
//!
//! Pending timers sit in a `BTreeMap` ordered by (deadline, id), with an id → deadline index for
//! cancellation: insert and cancel are O(log n), a cancelled timer is freed at once, and a
//! million pending timeouts cost memory, not threads. The thread sleeps on a condition variable
//! until the earliest deadline, or until an earlier timer is inserted.

use spam_scheduler::sync::{Arc, Condvar, Mutex};
use std::collections::{BTreeMap, HashMap};
use std::task::Waker;
use std::time::{Duration, Instant};

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
    deadlines: HashMap<u64, Instant>,
    next_id: u64,
    shutdown: bool,
}

struct Inner {
    state: Mutex<State>,
    cvar: Condvar,
}

/// The timer service of one VM.
pub struct Timers {
    inner: Arc<Inner>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Timers {
    pub fn start() -> Timers {
        let inner = Arc::new(Inner { state: Mutex::new(State::default()), cvar: Condvar::new() });
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
        Timers {
            inner: Arc::new(Inner { state: Mutex::new(State::default()), cvar: Condvar::new() }),
            thread: Mutex::new(None),
        }
    }

    fn insert(&self, deadline: Instant, action: Action) -> TimerId {
        let mut st = self.inner.state.lock();
        if st.shutdown {
            return TimerId(u64::MAX);
        }
        st.next_id += 1;
        let id = st.next_id;
        let earliest = st.queue.keys().next().is_none_or(|&(d, _)| deadline < d);
        st.queue.insert((deadline, id), action);
        st.deadlines.insert(id, deadline);
        drop(st);
        if earliest {
            self.inner.cvar.notify_one();
        }
        TimerId(id)
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
        action.map(|(_, d)| d.saturating_duration_since(Instant::now()))
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
        drop(dropped);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(inner: Arc<Inner>) {
    let mut due = Vec::new();
    loop {
        {
            let mut st = inner.state.lock();
            loop {
                if st.shutdown {
                    return;
                }
                let now = Instant::now();
                while let Some(entry) = st.queue.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let ((_, id), action) = entry.remove_entry();
                    st.deadlines.remove(&id);
                    due.push(action);
                }
                if !due.is_empty() {
                    break;
                }
                match st.queue.keys().next() {
                    Some(&(d, _)) => {
                        inner.cvar.wait_for(&mut st, d.saturating_duration_since(now));
                    }
                    None => inner.cvar.wait(&mut st),
                }
            }
        }
        for action in due.drain(..) {
            match action {
                Action::Wake(w) => w.wake(),
                Action::Call(f) => f(),
            }
        }
    }
}
