#![cfg(spam_loom)]
//! Models of a worker's stealable LIFO slot (`scheduler/src/queue.rs`, `LifoSlot`): the owner
//! puts woken tasks in with `Local::push_lifo` (the task it displaces goes to its deque, as
//! `Shared::schedule` does) and takes them out with `Local::pop`, or with `Local::drain` at
//! shutdown, while a peer takes the slot's task with `LifoSlot::steal` (what `worker::search`
//! does to a stuck slot through `Shared::lifos`).
//!
//! The tasks are real (`new_task` on a [`Recorder`]); each one completes at its first poll.
//! Its future counts polls and drops, and reads a loom cell the creating (owner) thread wrote
//! when it made the task: loom checks that whoever polls it sees that write. (The task state
//! word's AcqRel CASes publish the cell by themselves, so this does not check the slot's own
//! orderings; what the models check is that each task leaves the slot exactly once.)
//!
//! Every owner and thief operation starts with `Turns::step` (see `loom-tests/src/lib.rs`:
//! `steal` is a load then a swap, the pattern loom's search misses without it).

use loom::thread;
use spam_loom_tests::{model, Recorder, Seen, Turns};
use spam_scheduler::queue::{LifoSlot, Local};
use spam_scheduler::sync::atomic::{AtomicUsize, Ordering::*};
use spam_scheduler::sync::{Arc, UnsafeCell};
use spam_scheduler::task::new_task;
use spam_scheduler::{Notified, TaskRef};

loom::thread_local! {
    /// Set on the thief's thread.
    static THIEF: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// Per task: polls, polls on the thief's thread, drops of the future, and the body the creator
/// wrote.
struct Probe {
    polls: AtomicUsize,
    stolen: AtomicUsize,
    drops: AtomicUsize,
    body: UnsafeCell<usize>,
}

// SAFETY: `body` is written once by the creating thread before the task is published and only
// read afterwards by whoever polls the task: loom checks that the publication orders them.
unsafe impl Sync for Probe {}

/// Counts the drop of the task's future.
struct DropCount(Arc<Probe>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Relaxed);
    }
}

/// Makes `n` scheduled tasks (each woken once; the recorder hands back its `Notified`).
fn tasks(rec: &Recorder, n: usize) -> (Vec<TaskRef<()>>, Vec<Notified>, Vec<Arc<Probe>>) {
    let mut refs = Vec::new();
    let mut queued = Vec::new();
    let mut probes = Vec::new();
    for i in 0..n {
        let probe = Arc::new(Probe {
            polls: AtomicUsize::new(0),
            stolen: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            body: UnsafeCell::new(0),
        });
        // SAFETY: not shared yet.
        probe.body.with_mut(|b| unsafe { *b = 100 + i });
        let guard = DropCount(probe.clone());
        let t = new_task(rec.as_dyn(), (), move |_| async move {
            let p = &guard.0;
            // SAFETY: written before the task was published; only read from here on.
            assert_eq!(p.body.with(|b| unsafe { *b }), 100 + i, "a stale body: the task was not published");
            p.polls.fetch_add(1, Relaxed);
            if THIEF.with(|t| t.get()) {
                p.stolen.fetch_add(1, Relaxed);
            }
        });
        t.wake_by_ref();
        queued.push(rec.pop().expect("a first wake schedules"));
        refs.push(t);
        probes.push(probe);
    }
    (refs, queued, probes)
}

/// A thief thread that tries to steal the slot twice and runs what it gets; joins to how many.
fn spawn_thief(slot: &Arc<LifoSlot>, turns: &Turns) -> thread::JoinHandle<usize> {
    let (slot, turns) = (slot.clone(), turns.clone());
    thread::spawn(move || {
        THIEF.with(|t| t.set(true));
        let mut got = 0;
        for _ in 0..2 {
            turns.step();
            if let Some(t) = slot.steal() {
                t.run();
                got += 1;
            }
        }
        got
    })
}

/// Puts `t` in the owner's LIFO slot; a displaced task goes to the owner's deque.
fn push(local: &Local, t: Notified) {
    if let Some(d) = local.push_lifo(t) {
        local.deque.push(d);
    }
}

/// Checks that every task came out exactly once: polled at most once, its future dropped exactly
/// once (by the run that completed it, or by a cancel), and that `out` tasks were taken out of
/// the queues in all. Returns how many ran, and which ones ran on the thief.
fn assert_each_out_once(probes: &[Arc<Probe>], refs: &[TaskRef<()>], out: usize) -> (usize, Vec<usize>) {
    assert_eq!(out, probes.len(), "{out} tasks came out of the queues, {} went in", probes.len());
    let mut ran = 0;
    for (i, p) in probes.iter().enumerate() {
        let (polls, drops) = (p.polls.load(Relaxed), p.drops.load(Relaxed));
        assert!(polls <= 1, "task {i} ran {polls} times");
        assert_eq!(drops, 1, "task {i}: future dropped {drops} times (0: lost in a queue)");
        ran += polls;
    }
    assert!(refs.iter().all(|t| t.is_done()));
    (ran, (0..probes.len()).filter(|&i| probes[i].stolen.load(Relaxed) > 0).collect())
}

/// The owner puts task 0 in its slot, displaces it with task 1 (0 goes to the deque), pops once
/// and runs what it got, puts task 2 in the slot, then pops and runs until its queues are empty.
/// A thief steals the slot twice and runs what it gets.
///
/// Property: every task is run exactly once, by the owner or by the thief: none lost, none run
/// twice (a steal and the owner's put or pop never both get one task: each transfer is one
/// swap), and nothing is left in the slot.
#[test]
fn push_pop_vs_steal_runs_every_task_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let (refs, mut queued, probes) = tasks(&rec, 3);
        let slot = Arc::new(LifoSlot::new());
        let (local, _stealer) = Local::new(slot.clone());
        let turns = Turns::new();
        let thief = spawn_thief(&slot, &turns);
        let t2 = queued.pop().unwrap();
        let t1 = queued.pop().unwrap();
        let t0 = queued.pop().unwrap();
        let mut own = 0;
        turns.step();
        push(&local, t0);
        turns.step();
        push(&local, t1);
        turns.step();
        if let Some((t, _)) = local.pop() {
            t.run();
            own += 1;
        }
        turns.step();
        push(&local, t2);
        loop {
            turns.step();
            let Some((t, _)) = local.pop() else { break };
            t.run();
            own += 1;
        }
        let stolen = thief.join().unwrap();
        assert!(!slot.is_occupied(), "a task left in the slot");
        let (ran, by_thief) = assert_each_out_once(&probes, &refs, own + stolen);
        assert_eq!(ran, 3);
        assert_eq!(by_thief.len(), stolen);
        s.saw(format!("thief ran {by_thief:?}"));
    });
    // Stolen: task 0 before task 1 displaced it, task 1 before the owner's pop, task 2 before
    // the owner's last pops (two steals in one execution take three preemptions).
    seen.assert_saw(&["thief ran []", "thief ran [0]", "thief ran [1]", "thief ran [2]"]);
}

/// Shutdown: the owner puts task 0 in its slot and displaces it with task 1, then drains its
/// queues (`Local::drain`, as a worker leaving its loop does) and cancels what it got, while a
/// thief steals the slot twice and runs what it gets.
///
/// Property: every task comes out exactly once, run by the thief or cancelled by the owner
/// (its future dropped once, never polled after); the drain leaves nothing in the slot.
#[test]
fn drain_vs_steal_each_task_out_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let (refs, mut queued, probes) = tasks(&rec, 2);
        let slot = Arc::new(LifoSlot::new());
        let (local, _stealer) = Local::new(slot.clone());
        let turns = Turns::new();
        let thief = spawn_thief(&slot, &turns);
        let t1 = queued.pop().unwrap();
        let t0 = queued.pop().unwrap();
        turns.step();
        push(&local, t0);
        turns.step();
        push(&local, t1);
        turns.step();
        let left = local.drain();
        let cancelled = left.len();
        left.into_iter().for_each(Notified::cancel);
        let stolen = thief.join().unwrap();
        assert!(!slot.is_occupied(), "a task left in the slot");
        let (ran, by_thief) = assert_each_out_once(&probes, &refs, cancelled + stolen);
        assert_eq!(ran, stolen, "a cancelled task was polled");
        assert_eq!(by_thief.len(), stolen);
        s.saw(format!("thief ran {by_thief:?}"));
    });
    // Task 0 stolen before task 1 displaced it, task 1 stolen before the drain, or both drained.
    seen.assert_saw(&["thief ran []", "thief ran [0]", "thief ran [1]"]);
}
