#![cfg(spam_loom)]
//! Models of the task state machine (`scheduler/src/task.rs`): real tasks made by
//! `spam_scheduler::task::new_task`, scheduled into a [`Recorder`] (which asserts that a task is
//! never queued twice), and polled with `Notified::run` on the thread the model chooses.
//!
//! The future under test is a one-shot channel: a loom `Mutex` holding `ready` and the waker of
//! the last poll, which is how real futures (a blocking task's slot, a bounded mailbox's waiters)
//! hand a waker to another thread. The task's future cell is a loom `UnsafeCell`, so a poll
//! overlapping another poll, or a poll after the future was dropped, is reported by loom.

use loom::thread;
use spam_loom_tests::{model, Recorder, Seen, Turns};
use spam_scheduler::sync::atomic::{AtomicUsize, Ordering::*};
use spam_scheduler::sync::{Arc, Mutex};
use spam_scheduler::task::new_task;
use spam_scheduler::PollOutcome;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The shared half of a one-shot channel.
#[derive(Default)]
struct Slot {
    ready: bool,
    waker: Option<Waker>,
}

/// Completes once `ready` is set; registers its waker otherwise. Counts polls and drops.
struct OneShot {
    slot: Arc<Mutex<Slot>>,
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

impl Future for OneShot {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Relaxed);
        let mut s = self.slot.lock();
        if s.ready {
            return Poll::Ready(());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for OneShot {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Relaxed);
    }
}

/// Sets `ready` and wakes the registered waker, if any (the sender's side).
fn complete(slot: &Mutex<Slot>) {
    let w = {
        let mut s = slot.lock();
        s.ready = true;
        s.waker.take()
    };
    if let Some(w) = w {
        w.wake();
    }
}

struct Counters {
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

fn one_shot(slot: &Arc<Mutex<Slot>>) -> (OneShot, Counters) {
    let c = Counters { polls: Arc::new(AtomicUsize::new(0)), drops: Arc::new(AtomicUsize::new(0)) };
    (OneShot { slot: slot.clone(), polls: c.polls.clone(), drops: c.drops.clone() }, c)
}

/// Runs every task the recorder holds until none is left; returns how many runs that took.
fn run_queued(rec: &Recorder) -> usize {
    let mut n = 0;
    while let Some(t) = rec.pop() {
        t.run();
        n += 1;
    }
    n
}

/// The first poll of a one-shot future races with its completion (a thread that sets `ready`
/// and wakes the registered waker) and with a second, spurious waker (`wake_by_ref` on a clone
/// taken before the poll). Whatever is queued afterwards is run to the end.
///
/// Property: a wake during a poll reschedules the task exactly once: the recorder never holds it
/// twice, and one poll's wakes (two here) give at most one requeue, either by the worker
/// (`RUNNING | NOTIFIED`, `yielded`) or by the waker (idle). No wake is lost: the task always
/// completes. The future is never polled concurrently (loom's cell check), is polled once per
/// run, and is dropped exactly once.
#[test]
fn wake_during_poll_reschedules_exactly_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let slot = Arc::new(Mutex::new(Slot::default()));
        let (fut, c) = one_shot(&slot);
        let task = new_task(rec.as_dyn(), (), move |_| fut);
        let spurious = task.waker();
        task.wake_by_ref();
        let first = rec.pop().expect("the first wake schedules");
        let turns = Turns::new();

        let t1 = thread::spawn({
            let (slot, turns) = (slot.clone(), turns.clone());
            move || {
                turns.step();
                complete(&slot);
            }
        });
        let t2 = thread::spawn({
            let turns = turns.clone();
            move || {
                turns.step();
                spurious.wake_by_ref();
                drop(spurious);
            }
        });
        turns.step();
        let outcome = first.run();
        t1.join().unwrap();
        t2.join().unwrap();
        let requeues = rec.scheduled() - 1;
        let by_worker = rec.yielded();
        let reruns = run_queued(&rec);

        assert!(requeues <= 1, "{requeues} requeues for one poll");
        assert_eq!(reruns, requeues);
        assert!(task.is_done(), "a wake was lost");
        assert_eq!(c.polls.load(Relaxed), 1 + reruns, "a run without a poll, or a poll without a run");
        assert_eq!(c.drops.load(Relaxed), 1, "future dropped {} times", c.drops.load(Relaxed));
        let how = match (requeues, by_worker) {
            (0, _) => "no requeue",
            (_, 1) => "requeued by the worker (notified while running)",
            _ => "requeued by a waker (task was idle)",
        };
        s.saw(format!("first run {outcome:?}, {how}"));
    });
    seen.assert_saw(&[
        "first run Complete, no requeue",
        "first run Pending, requeued by the worker (notified while running)",
        "first run Pending, requeued by a waker (task was idle)",
    ]);
}

/// A future that completes at its first poll, while another thread wakes it through a waker
/// cloned before the poll.
///
/// Property: a wake after (or during) the poll that completes the task is a no-op: nothing is
/// ever scheduled again, the future is polled once and dropped once.
#[test]
fn wake_after_done_is_a_noop() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let slot = Arc::new(Mutex::new(Slot { ready: true, waker: None }));
        let (fut, c) = one_shot(&slot);
        let task = new_task(rec.as_dyn(), (), move |_| fut);
        let waker = task.waker();
        task.wake_by_ref();
        let first = rec.pop().expect("the first wake schedules");
        let turns = Turns::new();
        let woke = Arc::new(AtomicUsize::new(0));
        let t = thread::spawn({
            let (turns, woke) = (turns.clone(), woke.clone());
            move || {
                turns.step();
                waker.wake();
                woke.store(1, Relaxed);
            }
        });
        turns.step();
        assert_eq!(first.run(), PollOutcome::Complete);
        s.saw(format!("waker finished before run returned: {}", woke.load(Relaxed) == 1));
        t.join().unwrap();
        assert_eq!(rec.scheduled(), 1, "a done task was scheduled again");
        assert!(rec.pop().is_none());
        assert!(task.is_done());
        assert_eq!(c.polls.load(Relaxed), 1);
        assert_eq!(c.drops.load(Relaxed), 1);
    });
    seen.assert_saw(&["waker finished before run returned: true", "waker finished before run returned: false"]);
}

/// Counts drops of the task's user header, i.e. frees of the task cell.
struct HeaderProbe(Arc<AtomicUsize>);

impl Drop for HeaderProbe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// Three refs to one task end on three threads: the worker's (`Notified::run`, which completes
/// the future), a waker's (`Waker::wake`, by value), and the spawner's `TaskRef`.
///
/// Property: whichever drops last frees the cell, exactly once (the header's destructor runs
/// once, loom finds no leaked `Arc` and no access to a freed cell's `UnsafeCell`), and never
/// while another thread still uses it: the refcount never underflows (a debug assertion in
/// `ref_dec`) and the header stays readable by the `TaskRef` holder until it drops.
#[test]
fn last_ref_dropped_on_any_thread_frees_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let freed = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Mutex::new(Slot { ready: true, waker: None }));
        let (fut, _c) = one_shot(&slot);
        let task = new_task(rec.as_dyn(), HeaderProbe(freed.clone()), move |_| fut);
        let waker = task.waker();
        task.wake_by_ref();
        let first = rec.pop().expect("the first wake schedules");
        let turns = Turns::new();
        let worker = thread::spawn({
            let turns = turns.clone();
            move || {
                turns.step();
                first.run();
            }
        });
        let waking = thread::spawn({
            let turns = turns.clone();
            move || {
                turns.step();
                waker.wake();
            }
        });
        turns.step();
        assert_eq!(task.header().0.load(Relaxed), 0, "header freed under a live TaskRef");
        drop(task);
        let before_joins = freed.load(Relaxed);
        worker.join().unwrap();
        waking.join().unwrap();
        assert_eq!(freed.load(Relaxed), 1, "cell freed {} times", freed.load(Relaxed));
        s.saw(format!("freed before joins: {before_joins}"));
    });
    seen.assert_saw(&["freed before joins: 0", "freed before joins: 1"]);
}
