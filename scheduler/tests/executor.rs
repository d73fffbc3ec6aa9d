//! The executor on its own: every task runs to completion exactly once, a wake during a poll
//! reschedules exactly once, idle workers steal, shutdown leaves no task or thread behind.

use spam_scheduler::{budget, Scheduler};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};

/// Counts down, waking itself during each poll: `polls` must equal `n + 1` exactly (a wake
/// during a poll reschedules once, never twice, never zero times).
struct SelfWaking {
    left: usize,
    polls: Arc<AtomicUsize>,
    done: Option<mpsc::Sender<()>>,
}

impl Future for SelfWaking {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, SeqCst);
        if self.left == 0 {
            self.done.take().unwrap().send(()).unwrap();
            return Poll::Ready(());
        }
        self.left -= 1;
        // Wake twice, by reference and by value (which also releases the clone's ref): the
        // second must be absorbed (already NOTIFIED).
        cx.waker().wake_by_ref();
        #[allow(clippy::waker_clone_wake)]
        cx.waker().clone().wake();
        Poll::Pending
    }
}

#[test]
fn wake_during_poll_reschedules_exactly_once() {
    let s = Scheduler::new(2);
    let polls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    const TASKS: usize = 64;
    const WAKES: usize = 100;
    for _ in 0..TASKS {
        s.spawn(SelfWaking { left: WAKES, polls: polls.clone(), done: Some(tx.clone()) });
    }
    for _ in 0..TASKS {
        rx.recv().unwrap();
    }
    assert_eq!(polls.load(SeqCst), TASKS * (WAKES + 1));
}

#[test]
fn every_task_runs_exactly_once_across_workers() {
    const N: usize = 100_000;
    let s = Scheduler::new(2);
    let hits: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let (tx, rx) = mpsc::channel();
    let h = s.handle().clone();
    let (hits2, tx2) = (hits.clone(), tx.clone());
    // Spawned from inside a worker, so they land in that worker's queues and the other must steal.
    s.spawn(async move {
        for i in 0..N {
            let (hits, tx) = (hits2.clone(), tx2.clone());
            h.spawn(async move {
                hits[i].fetch_add(1, SeqCst);
                tx.send(()).unwrap();
            });
        }
    });
    for _ in 0..N {
        rx.recv().unwrap();
    }
    assert!(hits.iter().all(|h| h.load(SeqCst) == 1));
    let polls: u64 = s.stats().iter().map(|w| w.polls).sum();
    assert!(polls > N as u64);
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Shutdown: tasks still queued are cancelled (their futures dropped, never polled), and
/// every worker thread is joined.
#[test]
fn shutdown_cancels_queued_tasks_without_running_them() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let s = Arc::new(Scheduler::new(1));
    // Occupy the only worker until shutdown has started.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (busy_tx, busy_rx) = mpsc::channel::<()>();
    s.spawn(async move {
        busy_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    busy_rx.recv().unwrap();
    for _ in 0..100 {
        let (g, ran) = (DropCount(dropped.clone()), ran.clone());
        s.spawn(async move {
            let _g = g;
            ran.fetch_add(1, SeqCst);
        });
    }
    let s2 = s.clone();
    let stopper = std::thread::spawn(move || s2.shutdown());
    while !s.is_shutdown() {
        std::thread::yield_now();
    }
    release_tx.send(()).unwrap();
    stopper.join().unwrap();
    assert_eq!(ran.load(SeqCst), 0, "queued tasks must not run after shutdown began");
    assert_eq!(dropped.load(SeqCst), 100, "every queued future is dropped");
}

/// The budget: a poll starts with `BUDGET_PER_POLL`; consuming it all reports exhaustion.
#[test]
fn budget_is_refilled_per_poll_and_runs_out() {
    let s = Scheduler::new(1);
    let (tx, rx) = mpsc::channel();
    s.spawn(async move {
        let mut n = 0;
        while budget::consume(1) {
            n += 1;
        }
        tx.send(n).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), budget::BUDGET_PER_POLL - 1);
    // Outside a worker the budget is unlimited.
    assert!(budget::consume(1_000_000));
}

/// Per-worker counters are readable while the scheduler runs, and idle workers park.
#[test]
fn stats_are_readable_at_run_time() {
    let s = Scheduler::new(2);
    let (tx, rx) = mpsc::channel();
    for _ in 0..1000 {
        let tx = tx.clone();
        s.spawn(async move { tx.send(()).unwrap() });
    }
    for _ in 0..1000 {
        rx.recv().unwrap();
    }
    let st = s.stats();
    assert_eq!(st.len(), 2);
    assert!(st.iter().map(|w| w.polls).sum::<u64>() >= 1000);
    assert!(st.iter().map(|w| w.injector_pops).sum::<u64>() >= 1, "outside spawns go through the injector");
}

/// The blocking pool starts threads on demand, never more than its bound, and an idle thread
/// retires after its keep-alive (waited for by polling the count, with a generous watchdog).
#[test]
fn blocking_pool_is_bounded_and_idle_threads_retire() {
    use spam_scheduler::BlockingPool;
    use std::time::{Duration, Instant};
    let pool = BlockingPool::new(3, Duration::from_millis(20));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (rx, started) = (release_rx.clone(), started_tx.clone());
            pool.spawn(move || {
                started.send(()).unwrap();
                rx.lock().unwrap().recv().unwrap();
                i
            })
        })
        .collect();
    for _ in 0..3 {
        started_rx.recv().unwrap();
    }
    assert_eq!(pool.threads(), 3, "bounded at 3 while 6 jobs wait");
    for _ in 0..6 {
        release_tx.send(()).unwrap();
    }
    let s = Scheduler::new(1);
    let (tx, rx) = mpsc::channel();
    s.spawn(async move {
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        tx.send(sum).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 15);
    let deadline = Instant::now() + Duration::from_secs(20);
    while pool.threads() > 0 {
        assert!(Instant::now() < deadline, "idle blocking threads never retired");
        std::thread::yield_now();
    }
}
