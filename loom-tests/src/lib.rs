//! Empty outside `--cfg spam_loom`: the models live in `tests/` and only compile under it.
//!
//! Under `--cfg spam_loom` this holds what several models share: the model runner, a mock
//! [`Schedule`] that records woken tasks instead of running them, the [`Turns`] work-around for
//! a gap in loom's search, and [`Seen`], which checks that a model reached every outcome it
//! claims to cover.
//!
//! Run the suite (see each model's doc comment for the property it checks):
//!
//! ```text
//! RUSTFLAGS="--cfg spam_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
//!     CARGO_TARGET_DIR=target/loom cargo test -p spam-loom-tests --release
//! ```
#![cfg(spam_loom)]

use spam_scheduler::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use spam_scheduler::sync::{Arc, Mutex};
use spam_scheduler::{Notified, Schedule};
use spam_vm::Runtime;
use std::collections::BTreeSet;

/// The next task a model's runtime queued (models run process tasks themselves: a loom thread is
/// never a worker, so every wake lands in the injector).
pub fn next(rt: &Runtime) -> Notified {
    rt.scheduler().loom_next().expect("a task is queued")
}

/// Runs every queued task until none is left (everything after the race, on one thread).
pub fn run_all(rt: &Runtime) {
    while let Some(t) = rt.scheduler().loom_next() {
        t.run();
    }
}

/// Runs `f` under loom with the settings from the environment (`LOOM_MAX_PREEMPTIONS`,
/// `LOOM_MAX_BRANCHES`, ...). Without `LOOM_MAX_PREEMPTIONS` the bound is 2, as in CI: an
/// unbounded search of these models does not end in reasonable time. Prints how many
/// executions loom explored (shown with `--nocapture`).
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    use std::sync::atomic::{AtomicUsize as StdCounter, Ordering::Relaxed as StdRelaxed};
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    let executions = std::sync::Arc::new(StdCounter::new(0));
    let counted = executions.clone();
    b.check(move || {
        counted.fetch_add(1, StdRelaxed);
        f()
    });
    eprintln!("loom: {} executions", executions.load(StdRelaxed));
}

/// Marks the start of a step of a model thread, so that loom tries the steps of different
/// threads in every order.
///
/// Why: loom's partial-order reduction remembers only the *last* access to an atomic. When
/// thread B loads a word and then writes it (every CAS loop: `Mailbox::push`, the task state
/// machine), after thread A only loaded it, the order "B's write before A's load" is never
/// tried (tokio-rs/loom#392, open). A relaxed RMW on one shared word at the start of each step
/// makes every pair of steps on different threads dependent, so both orders are explored; the
/// real accesses inside a step still interleave as loom sees fit.
///
/// It adds no happens-before edge to the code under test: the RMW is relaxed, and a relaxed
/// store only carries a release *fence* that precedes it on its thread. So never call `step`
/// after a `fence` on the same thread within a model (only `Idle::notify_one` has one; the idle
/// model does not use `Turns`).
#[derive(Clone)]
pub struct Turns(Arc<AtomicUsize>);

impl Default for Turns {
    fn default() -> Self {
        Self::new()
    }
}

impl Turns {
    pub fn new() -> Self {
        Turns(Arc::new(AtomicUsize::new(0)))
    }
    /// One step boundary.
    pub fn step(&self) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// The outcomes a model reached, over all its executions: a model that claims to cover a race
/// asserts afterwards that loom really drove it down each branch ([`Seen::assert_saw`]).
#[derive(Clone, Default)]
pub struct Seen(std::sync::Arc<std::sync::Mutex<BTreeSet<String>>>);

impl Seen {
    /// Records an outcome of this execution. (A std lock held for an instant: it never spans a
    /// loom operation, so it cannot block a loom thread.)
    pub fn saw(&self, outcome: impl Into<String>) {
        self.0.lock().unwrap().insert(outcome.into());
    }
    /// Panics unless every one of `outcomes` was recorded by some execution.
    pub fn assert_saw(&self, outcomes: &[&str]) {
        let seen = self.0.lock().unwrap();
        for o in outcomes {
            assert!(seen.contains(*o), "no execution reached {o:?}; reached {seen:?}");
        }
    }
}

/// A scheduler that only records what it is given: the model decides which thread runs a task
/// and when (`Notified::run`).
#[derive(Clone, Default)]
pub struct Recorder {
    /// Tasks handed over by `Schedule::schedule`, oldest first.
    pub queue: Arc<Mutex<Vec<Notified>>>,
    /// How many times `schedule` was called.
    pub scheduled: Arc<AtomicUsize>,
    /// How many of those calls had `yielded` set (a requeue by the worker after a wake during
    /// the poll, or a self-wake).
    pub yielded: Arc<AtomicUsize>,
}

impl Recorder {
    /// Takes the oldest queued task.
    pub fn pop(&self) -> Option<Notified> {
        let mut q = self.queue.lock();
        (!q.is_empty()).then(|| q.remove(0))
    }

    /// How many times `schedule` was called so far.
    pub fn scheduled(&self) -> usize {
        self.scheduled.load(Relaxed)
    }

    /// How many `schedule` calls had `yielded` set.
    pub fn yielded(&self) -> usize {
        self.yielded.load(Relaxed)
    }

    /// The recorder as a task's scheduler. loom's `Arc` cannot unsize, so the trait object is
    /// made as a `std::sync::Arc` and adopted with `Arc::from_std`.
    pub fn as_dyn(&self) -> Arc<dyn Schedule> {
        Arc::from_std(std::sync::Arc::new(self.clone()))
    }
}

impl Schedule for Recorder {
    /// Records `task`. Every model using a `Recorder` takes a task out before the next one can
    /// be woken, so a non-empty queue here means one task was scheduled twice.
    fn schedule(&self, task: Notified, yielded: bool) {
        let mut q = self.queue.lock();
        assert!(q.is_empty(), "a task was scheduled while already queued");
        q.push(task);
        self.scheduled.fetch_add(1, Relaxed);
        if yielded {
            self.yielded.fetch_add(1, Relaxed);
        }
    }
}
