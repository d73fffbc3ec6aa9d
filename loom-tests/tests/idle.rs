#![cfg(spam_loom)]
//! Models of the scheduler's idle protocol (`scheduler/src/idle.rs`, `idle.md`) on the real
//! `Idle` and `Parker`, and of a worker's own queues against a stealer (`queue.rs`).
//!
//! A lost wake-up shows as a loom deadlock: every thread blocked (the sleeper in `Parker::park`,
//! the main thread waiting for the work to be taken) while work sits in the queue.
//!
//! These models do not use `Turns`: `Idle::notify_one` issues a `fence(SeqCst)`, and a relaxed
//! step counter after it could carry that fence to another thread (see `Turns`).
//!
//! # The model can fail
//! With PushFence removed from `Idle::notify_one` (`fence(SeqCst);` commented out, then
//! restored; the file's SHA-1 was the same after), `sleep_vs_notify_one_never_loses_work` fails
//! at once (`two_sleepers_one_task_is_taken` does not: its queue is a mutex, whose lock orders
//! the push against the re-check by itself):
//!
//! ```text
//! test sleep_vs_notify_one_never_loses_work ... FAILED
//! ---- sleep_vs_notify_one_never_loses_work stdout ----
//! thread 'sleep_vs_notify_one_never_loses_work' panicked at .../loom-0.7.3/src/rt/execution.rs:215:13:
//! deadlock; threads = [(Id(0), Blocked(Location(None))), (Id(1), Terminated)]
//! test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.21s
//! ```
//!
//! The interleaving: the producer stores the task and, with no fence, loads `num_sleeping == 0`
//! before the worker registers; the worker registers, and its re-check (fence, load) does not
//! see the producer's store, which no fence of the producer's published. It parks; the producer
//! has already returned: thread 0 (the worker) blocked forever, thread 1 terminated.

use loom::thread;
use spam_loom_tests::{model, Recorder, Seen};
use spam_scheduler::idle::Idle;
use spam_scheduler::queue::{LifoSlot, Local, Steal};
use spam_scheduler::sync::atomic::{fence, AtomicUsize, Ordering::*};
use spam_scheduler::sync::{Arc, Condvar, Mutex};
use spam_scheduler::task::new_task;
use std::collections::VecDeque;

/// One worker goes to sleep (`Idle::sleep`, re-checking the queue) while a producer pushes one
/// task and posts it (`Idle::notify_one`). The queue is a loom `AtomicUsize` with the orderings
/// of crossbeam's deque, the real queue outside loom: the push is a `Release` store; the
/// emptiness check (`Stealer::is_empty`) is a `fence(SeqCst)` then an `Acquire` load. (loom
/// models `SeqCst` loads and RMWs as `AcqRel` and only `fence(SeqCst)` as SC, so the fence is
/// what carries the check's half of the argument under loom.)
///
/// Property (idle.md, "The lost wake-up"): the work is always found: either the sleeper's
/// re-check sees it and it cancels its sleep, or the producer sees the sleeper and unparks it.
/// Both may happen (a spare token: one more search, never a lost wake-up).
///
/// Limit: with a fenced re-check, PushFence pairs with the re-check's fence, so this model does
/// not need (and cannot check) SleepFence, the `SeqCst` increment of `num_sleeping`, which is
/// what pairs with PushFence when the re-check is made of `SeqCst` loads without a fence
/// (crossbeam's `Injector::is_empty`). loom cannot model that case: it treats `SeqCst` loads and
/// RMWs as `AcqRel` and reports a deadlock there even for the correct protocol.
#[test]
fn sleep_vs_notify_one_never_loses_work() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let idle = Arc::new(Idle::new(1));
        let queue = Arc::new(AtomicUsize::new(0));
        let producer = thread::spawn({
            let (idle, queue) = (idle.clone(), queue.clone());
            move || {
                queue.store(1, Release); // post work, step 1: push
                idle.notify_one(); // steps 2-5
            }
        });
        let has_work = || {
            fence(SeqCst);
            queue.load(Acquire) > 0
        };
        let mut parked = 0;
        while !has_work() {
            // The search found nothing: fall asleep (steps 1-4).
            if idle.sleep(0, None, has_work) {
                parked += 1;
            }
        }
        producer.join().unwrap();
        s.saw(format!("parked {parked} times"));
    });
    seen.assert_saw(&["parked 0 times", "parked 1 times"]);
}

/// Two workers of the same scheduler fall asleep while the main thread pushes one task to a
/// queue shaped like the loom build's injector (a loom `Mutex<VecDeque>`), posts it, and waits
/// until some worker took it; then it shuts the scheduler down (`Idle::shutdown`).
///
/// Property: the task is taken by exactly one worker before shutdown, whichever of the two is
/// asleep, searching or re-checking when it is posted (the sleepers list, the counter and the
/// wake tokens stay consistent with two sleepers: `notify_one` pops one, a worker that cancels
/// its sleep removes only itself); no worker sleeps through shutdown.
#[test]
fn two_sleepers_one_task_is_taken() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let idle = Arc::new(Idle::new(2));
        let queue: Arc<Mutex<VecDeque<u32>>> = Arc::new(Mutex::new(VecDeque::new()));
        let taken = Arc::new((Mutex::new(Vec::<usize>::new()), Condvar::new()));
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let (idle, queue, taken) = (idle.clone(), queue.clone(), taken.clone());
                thread::spawn(move || {
                    let mut parked = 0;
                    loop {
                        let task = queue.lock().pop_front();
                        if task.is_some() {
                            taken.0.lock().push(i);
                            taken.1.notify_one();
                            continue;
                        }
                        if idle.is_shutdown() {
                            return parked;
                        }
                        if idle.sleep(i, None, || !queue.lock().is_empty()) {
                            parked += 1;
                        }
                    }
                })
            })
            .collect();
        queue.lock().push_back(7);
        idle.notify_one();
        {
            let mut t = taken.0.lock();
            while t.is_empty() {
                taken.1.wait(&mut t);
            }
        }
        idle.shutdown();
        let parked: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let takers = taken.0.lock().clone();
        assert_eq!(takers.len(), 1, "the task was taken {} times", takers.len());
        assert!(queue.lock().is_empty());
        s.saw(format!("parked {parked:?}"));
    });
    // Both workers asleep when the task was posted, only one, or neither.
    seen.assert_saw(&["parked [1, 1]", "parked [0, 1]", "parked [1, 0]", "parked [0, 0]"]);
}

loom::thread_local! {
    /// Set on the stealing thread of `local_pop_vs_steal_runs_every_task_once`.
    static THIEF: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// A worker's own queues (`queue::Local`: the LIFO slot and the deque) against a peer stealing
/// from its `Stealer`. Three real tasks (`new_task`, each completing at its first poll): the
/// owner puts task 0 in the LIFO slot, displaces it with task 1 (the displaced one goes to the
/// deque, as `Shared::schedule` does), pushes task 2 to the deque, then pops and runs until its
/// queues are empty; the thief steals twice and runs what it got.
///
/// Property: every task runs exactly once (none lost, none run twice), and the task in the
/// LIFO slot is never stolen.
#[test]
fn local_pop_vs_steal_runs_every_task_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        // Per task: runs, and runs on the thief.
        let runs: Arc<Vec<(AtomicUsize, AtomicUsize)>> =
            Arc::new((0..3).map(|_| (AtomicUsize::new(0), AtomicUsize::new(0))).collect());
        let (refs, mut notified): (Vec<_>, Vec<_>) = (0..3usize)
            .map(|i| {
                let runs = runs.clone();
                let t = new_task(rec.as_dyn(), i, move |_| async move {
                    runs[i].0.fetch_add(1, Relaxed);
                    if THIEF.with(|t| t.get()) {
                        runs[i].1.fetch_add(1, Relaxed);
                    }
                });
                t.wake_by_ref();
                (t, rec.pop().expect("a first wake schedules"))
            })
            .unzip();
        let (local, stealer) = Local::new(Arc::new(LifoSlot::new()));
        let thief = thread::spawn(move || {
            THIEF.with(|t| t.set(true));
            let (dest, _) = Local::new(Arc::new(LifoSlot::new()));
            let mut got = 0;
            for _ in 0..2 {
                if let Steal::Success(t) = stealer.steal_into(&dest.deque) {
                    t.run();
                    got += 1;
                }
            }
            got
        });
        let t2 = notified.pop().unwrap();
        let t1 = notified.pop().unwrap();
        let t0 = notified.pop().unwrap();
        assert!(local.push_lifo(t0).is_none());
        let displaced = local.push_lifo(t1).expect("the slot held task 0");
        local.deque.push(displaced);
        local.deque.push(t2);
        let mut own = 0;
        while let Some((t, _from_lifo)) = local.pop() {
            t.run();
            own += 1;
        }
        let stolen = thief.join().unwrap();
        assert_eq!(own + stolen, 3, "owner ran {own}, thief ran {stolen}");
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(r.0.load(Relaxed), 1, "task {i} ran {} times", r.0.load(Relaxed));
        }
        assert_eq!(runs[1].1.load(Relaxed), 0, "the LIFO slot's task was stolen");
        assert!(refs.iter().all(|t| t.is_done()));
        s.saw(format!("stolen {stolen}"));
    });
    seen.assert_saw(&["stolen 0", "stolen 1", "stolen 2"]);
}
