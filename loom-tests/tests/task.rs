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

/// A one-shot future that also reads and writes a loom cell shared with the task's creator (the
/// user header), standing for the parts of a process's control block that only its poller may
/// touch (`Process::private`): loom reports the poll and the holder's write overlapping.
struct Exclusive {
    cell: Arc<PollerOnly>,
    inner: OneShot,
}

/// A cell only the holder of a task's poll right may touch.
struct PollerOnly(spam_scheduler::sync::UnsafeCell<usize>);

// SAFETY: shared only between a task's poller and its holder, never at once: exactly what the
// model checks (loom tracks every access to the cell).
unsafe impl Sync for PollerOnly {}

impl Future for Exclusive {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the poll right is exclusive (what the model checks: loom reports an overlap).
        self.cell.0.with_mut(|c| unsafe { *c += 1 });
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// The status a wake found, as far as this thread can tell: a load just before the wake that
/// reads `SCHEDULED` means the wake came after `start` (it is coherence-ordered before the wake's
/// RMW); a load just after it that reads `RUNNING` means the wake hit the held task (nothing polls
/// the task in between here).
fn classify_wake(before: spam_scheduler::TaskStatus, after: spam_scheduler::TaskStatus) -> &'static str {
    use spam_scheduler::TaskStatus::*;
    match (before, after) {
        (_, Running) => "woken while held",
        (Scheduled, _) => "woken after start",
        _ => "woken: not classified",
    }
}

/// Transition 6: a task created *held* (`new_task_held`, as `Runtime::spawn` creates a process)
/// is woken from another thread while its creator writes to what only a poller may touch, then
/// starts it (`Held::start`). The waking thread then runs whatever the recorder holds.
///
/// Property: a wake while held only sets `NOTIFIED`: nothing is scheduled before `start` (the
/// recorder never holds the task twice, and the waker thread never finds it queued early, or its
/// poll would overlap the holder's write: a loom cell error); `start` schedules it exactly once
/// (one `schedule` call over the whole execution, whichever of the two came first); the future
/// is polled once, completes, and is dropped once. Both orders are reached: the wake hitting
/// the held task, and the wake coming after `start` (a no-op on a `SCHEDULED` task).
#[test]
fn held_task_woken_while_held_is_scheduled_once_by_start() {
    use spam_scheduler::sync::UnsafeCell;
    use spam_scheduler::task::new_task_held;

    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let slot = Arc::new(Mutex::new(Slot { ready: true, waker: None }));
        let (inner, c) = one_shot(&slot);
        let cell = Arc::new(PollerOnly(UnsafeCell::new(0usize)));
        let fut = Exclusive { cell: cell.clone(), inner };
        let (task, held) = new_task_held(rec.as_dyn(), (), move |_| fut);
        let turns = Turns::new();
        let waking = thread::spawn({
            let (task, rec, turns) = (task.clone(), rec.clone(), turns.clone());
            move || {
                turns.step();
                let before = task.status();
                task.wake_by_ref();
                let after = task.status();
                turns.step();
                // A worker picking the task up as soon as it is queued.
                let ran = rec.pop().map(|t| t.run());
                (classify_wake(before, after), ran.is_some())
            }
        });
        turns.step();
        // The holder's exclusive access (as `die_before_running` writes the private state).
        // SAFETY: nothing polls a held task (what the model checks).
        cell.0.with_mut(|c| unsafe { *c = 10 });
        turns.step();
        held.start();
        let (how, ran_by_waker) = waking.join().unwrap();
        let reruns = run_queued(&rec);
        assert_eq!(rec.scheduled(), 1, "scheduled {} times", rec.scheduled());
        assert_eq!(usize::from(ran_by_waker) + reruns, 1);
        assert!(task.is_done(), "start did not schedule the task");
        assert_eq!(c.polls.load(Relaxed), 1);
        assert_eq!(c.drops.load(Relaxed), 1);
        // SAFETY: the task is done; every thread that touched the cell is joined.
        assert_eq!(cell.0.with(|c| unsafe { *c }), 11, "the poll did not see the holder's write");
        s.saw(how);
    });
    seen.assert_saw(&["woken while held", "woken after start"]);
}

/// Transition 6, the other end: the held token is dropped unstarted (a spawn that failed) while
/// another thread wakes the task.
///
/// Property: the task is cancelled: never scheduled (the wake finds it held or `DONE`), never
/// polled, its future dropped exactly once, and it ends `DONE`.
#[test]
fn held_token_dropped_cancels_without_a_poll() {
    use spam_scheduler::task::new_task_held;

    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let slot = Arc::new(Mutex::new(Slot { ready: true, waker: None }));
        let (fut, c) = one_shot(&slot);
        let (task, held) = new_task_held(rec.as_dyn(), (), move |_| fut);
        let turns = Turns::new();
        let waking = thread::spawn({
            let (task, turns) = (task.clone(), turns.clone());
            move || {
                turns.step();
                let before = task.status();
                task.wake_by_ref();
                before
            }
        });
        turns.step();
        drop(held);
        let before = waking.join().unwrap();
        assert_eq!(rec.scheduled(), 0, "a held task was scheduled");
        assert!(task.is_done());
        assert_eq!(c.polls.load(Relaxed), 0, "a cancelled task was polled");
        assert_eq!(c.drops.load(Relaxed), 1);
        s.saw(format!("wake found {before:?}"));
    });
    seen.assert_saw(&["wake found Running", "wake found Done"]);
}

/// Transition 7: `TaskRef::cancel` from outside (the shutdown drain) races with a wake of the
/// task (a thread completes its one-shot and wakes it) and with the run that wake leads to: the
/// waking thread then takes what the recorder holds and, as its queue holder, runs it
/// (`holder_cancels == false`) or cancels it (`Notified::cancel`, a queue drained at shutdown).
/// The task was polled once before (it is idle, its waker registered).
///
/// Property: the future is dropped exactly once and never polled after that (polls stop at 2:
/// the first one and at most one run), never polled concurrently with the cancel's drop (the
/// future cell is a loom `UnsafeCell`); cancel takes the poll right only from an idle task
/// (returns `true`, nothing is scheduled any more) and leaves a `SCHEDULED` or `RUNNING` task to
/// its queue holder (returns `false`), whose run or cancel then finishes it; either way the task
/// ends `DONE`.
fn cancel_races_wake_and_run(holder_cancels: bool) {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let slot = Arc::new(Mutex::new(Slot::default()));
        let (fut, c) = one_shot(&slot);
        let task = new_task(rec.as_dyn(), (), move |_| fut);
        task.wake_by_ref();
        assert_eq!(rec.pop().expect("the first wake schedules").run(), PollOutcome::Pending);
        let turns = Turns::new();
        let holder = thread::spawn({
            let (slot, rec, turns) = (slot.clone(), rec.clone(), turns.clone());
            move || {
                turns.step();
                complete(&slot);
                turns.step();
                match rec.pop() {
                    Some(t) if holder_cancels => {
                        t.cancel();
                        "holder cancelled"
                    }
                    Some(t) => {
                        t.run();
                        "holder ran"
                    }
                    None => "nothing queued",
                }
            }
        });
        turns.step();
        let status = task.status();
        let cancelled = task.cancel();
        let held = holder.join().unwrap();
        let late = run_queued(&rec);
        assert_eq!(late, 0, "a task was queued after its holder looked");
        assert!(task.is_done());
        assert_eq!(c.drops.load(Relaxed), 1, "future dropped {} times", c.drops.load(Relaxed));
        let polls = c.polls.load(Relaxed);
        match (cancelled, held) {
            // cancel took the poll right (idle) or found the task done: no second poll after it.
            (true, "nothing queued") => assert_eq!(polls, 1),
            (true, _) => assert_eq!(polls, 1 + usize::from(!holder_cancels), "ran after the cancel"),
            (false, _) => assert!(held != "nothing queued", "cancel left the task to nobody"),
        }
        assert!(rec.scheduled() <= 2);
        s.saw(format!("cancel -> {cancelled} ({status:?}), {held}"));
    });
    let holder = if holder_cancels { "holder cancelled" } else { "holder ran" };
    seen.assert_saw(&[
        // cancel first (the wake finds RUNNING or DONE: nothing queued)
        "cancel -> true (Idle), nothing queued",
        // the wake first: cancel finds the task queued or running and leaves it
        &format!("cancel -> false (Scheduled), {holder}"),
        // the holder finished the task before cancel looked
        &format!("cancel -> true (Done), {holder}"),
    ]);
}

#[test]
fn cancel_races_wake_and_run_by_the_holder() {
    cancel_races_wake_and_run(false);
}

#[test]
fn cancel_races_wake_and_cancel_by_the_holder() {
    cancel_races_wake_and_run(true);
}
