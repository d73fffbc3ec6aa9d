//! `spam-scheduler`: a work-stealing executor of futures. Knows nothing of processes.
//!
//! One worker thread per scheduler, each with a local deque and a LIFO slot; a global injector
//! for work from outside; idle workers steal from peers before parking (`idle.md`). A task is one
//! allocation (`task.rs`) whose state machine makes a wake during a poll reschedule exactly once.
//! A reduction budget per poll (`budget.rs`) lets cooperative code yield fairly, and a separate
//! blocking pool (`blocking.rs`) keeps blocking closures off the workers.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod blocking;
pub mod budget;
pub mod contain;
pub mod idle;
pub mod park;
pub mod queue;
pub mod quiescent;
pub mod slab;
pub mod stats;
pub mod sync;
pub mod task;
mod worker;

pub use blocking::{BlockingError, BlockingPool, BlockingTask};
pub use quiescent::{Quiescent, Snapshot};
pub use stats::WorkerStats;
pub use task::{HeaderPtr, Held, Notified, PollOutcome, Schedule, TaskRef, TaskStatus, HEADER_LINE_ROOM};
pub use worker::current_worker;

use std::future::Future;
use std::time::Duration;
use sync::{Arc, Mutex};
use worker::Shared;

/// Configures a [`Scheduler`].
#[derive(Debug, Clone)]
pub struct Builder {
    workers: usize,
    thread_name: String,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: num_cpus::get().max(1),
            thread_name: "spam-worker".into(),
            max_blocking_threads: 64,
            blocking_keep_alive: Duration::from_secs(10),
        }
    }
}

impl Builder {
    /// Number of worker threads (default: `num_cpus::get()`). Zero is taken as one.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }
    /// Name prefix of worker threads.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }
    /// Upper bound on blocking-pool threads (default 64).
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.max_blocking_threads = n.max(1);
        self
    }
    /// How long an idle blocking thread lives (default 10 s).
    pub fn blocking_keep_alive(mut self, d: Duration) -> Self {
        self.blocking_keep_alive = d;
        self
    }
    /// Starts the worker threads.
    pub fn build(self) -> Scheduler {
        let (shared, locals) = Shared::new(self.workers);
        let shared = Arc::new(shared);
        let mut threads = locals
            .into_iter()
            .enumerate()
            .map(|(i, local)| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("{}-{i}", self.thread_name))
                    .spawn(move || worker::run(s, i, local))
                    .expect("failed to start a scheduler worker thread")
            })
            .collect::<Vec<_>>();
        if self.workers > 1 {
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("{}-monitor", self.thread_name))
                    .spawn(move || worker::monitor(s))
                    .expect("failed to start the scheduler monitor thread"),
            );
        }
        Scheduler {
            handle: Handle { shared, blocking: BlockingPool::new(self.max_blocking_threads, self.blocking_keep_alive) },
            threads: Mutex::new(threads),
            stopped: std::sync::Once::new(),
        }
    }
}

/// A cloneable handle to spawn tasks on a running scheduler.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    blocking: BlockingPool,
}

impl Handle {
    /// Creates a task carrying the user header `data`; `make` builds its future from a pointer to
    /// that header. The task is idle: wake it (`TaskRef::wake_by_ref`) to run it.
    pub fn create<H, F>(&self, data: H, make: impl FnOnce(HeaderPtr<H>) -> F) -> TaskRef<H>
    where
        H: Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        task::new_task(self.dyn_schedule(), data, make)
    }

    /// Like [`Handle::create`], but the task is *held* (task.rs, transition 6): nothing polls it
    /// before [`Held::start`], and until then the holder has a poller's exclusive access.
    #[inline]
    pub fn create_held<H, F>(&self, data: H, make: impl FnOnce(HeaderPtr<H>) -> F) -> (TaskRef<H>, Held<H>)
    where
        H: Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        task::new_task_held(self.dyn_schedule(), data, make)
    }

    /// The shared state as a task's `Arc<dyn Schedule>`. loom's `Arc` cannot unsize, so under
    /// `--cfg spam_loom` a forwarding wrapper goes through `std::sync::Arc` and `Arc::from_std`.
    #[inline]
    fn dyn_schedule(&self) -> Arc<dyn Schedule> {
        #[cfg(not(spam_loom))]
        return self.shared.clone();
        #[cfg(spam_loom)]
        {
            struct Fwd(Arc<Shared>);
            impl Schedule for Fwd {
                fn schedule(&self, task: Notified, yielded: bool) {
                    self.0.schedule(task, yielded)
                }
            }
            Arc::from_std(std::sync::Arc::new(Fwd(self.shared.clone())))
        }
    }

    /// Spawns a plain future.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        let t = self.create((), |_| f);
        t.wake_by_ref();
    }

    /// Runs a blocking closure on the blocking pool.
    pub fn spawn_blocking<R, F>(&self, f: F) -> BlockingTask<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.blocking.spawn(f)
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.stealers.len()
    }

    /// A snapshot of every worker's counters, by worker index.
    pub fn stats(&self) -> Vec<WorkerStats> {
        let sh = &self.shared;
        (sh.counters.iter().zip(sh.stealers.iter()).zip(sh.lifos.iter()))
            .map(|((c, s), l)| WorkerStats { run_queue: s.len() + l.is_occupied() as usize, ..c.snapshot(sh.epoch) })
            .collect()
    }

    /// Tasks waiting in the global injector (a snapshot).
    pub fn injector_len(&self) -> usize {
        self.shared.injector.len()
    }

    /// The task worker `w` is polling now or polled last (its header address, as
    /// [`TaskRef::into_raw`] gives it), 0 if none yet or no such worker. Whether it is polled
    /// now is the task's own status.
    pub fn current_task(&self, w: usize) -> usize {
        self.shared.counters.get(w).map_or(0, |c| c.current_task())
    }

    /// How long ago the scheduler started.
    pub fn uptime(&self) -> Duration {
        self.shared.epoch.elapsed()
    }

    /// The workers' quiescent-state counters (grace periods for pointers read inside polls).
    pub fn quiescent(&self) -> &Quiescent {
        &self.shared.quiescent
    }

    /// The index of the worker of *this* scheduler running on the current thread, if any.
    #[inline]
    pub fn current_worker(&self) -> Option<usize> {
        worker::current_worker_of(&self.shared)
    }

    /// Installs the maintenance hook: called by worker `w` at each quiescent point and before it
    /// parks; it returns `true` if it still has deferred work (the worker then parks with a
    /// timeout so the work is retried). Set once; later calls are ignored.
    pub fn set_maintenance(&self, hook: Box<dyn Fn(usize) -> bool + Send + Sync>) {
        let _ = self.shared.maintenance.set(hook);
    }

    /// Workers asleep right now (a snapshot).
    pub fn sleeping_workers(&self) -> usize {
        self.shared.idle.num_sleeping()
    }

    /// The blocking pool.
    pub fn blocking_pool(&self) -> &BlockingPool {
        &self.blocking
    }

    /// Starts a shutdown without waiting for it: the workers leave their loops after their
    /// current polls, and wakes from now on cancel their tasks (worker.rs). For a thread of this
    /// scheduler, which cannot join itself; [`Scheduler::shutdown`] finishes the job.
    pub fn begin_shutdown(&self) {
        self.shared.idle.shutdown();
        sync::atomic::fence(sync::atomic::Ordering::SeqCst);
        self.shared.monitor.unpark();
    }

    /// `true` once shutdown started.
    pub fn is_shutdown(&self) -> bool {
        self.shared.idle.is_shutdown()
    }
}

/// A running work-stealing scheduler. Dropping it shuts it down.
pub struct Scheduler {
    handle: Handle,
    /// Worker threads and the monitor thread.
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Runs the shutdown once; later calls wait for it to finish.
    stopped: std::sync::Once,
}

impl Scheduler {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A scheduler with `workers` threads and default settings.
    pub fn new(workers: usize) -> Scheduler {
        Builder::default().workers(workers).build()
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Shutdown protocol:
    /// 1. set the shutdown flag and unpark every worker (`Idle::shutdown`), then a SeqCst fence
    ///    (pairs with the one a waker runs before reading the flag: worker.rs, "Wakes after
    ///    shutdown");
    /// 2. each worker leaves its loop at the next tick, cancels what is left in its own queues;
    /// 3. join every worker thread and the monitor (a task in the middle of a poll finishes that
    ///    poll first);
    /// 4. cancel what is left in the injector; a wake from now on cancels its task itself;
    /// 5. shut the blocking pool down (queued jobs fail with `Shutdown`; running ones get at most
    ///    one second to finish).
    ///
    /// Idempotent: a second call waits for the first to finish. Must not be called from a worker
    /// thread of this scheduler (it would join itself): a worker skips joining itself, and the
    /// caller must make sure that thread's poll ends.
    pub fn shutdown(&self) {
        self.stopped.call_once(|| {
            let shared = &self.handle.shared;
            self.handle.begin_shutdown();
            let threads = std::mem::take(&mut *self.threads.lock());
            let me = std::thread::current().id();
            for t in threads {
                if t.thread().id() != me {
                    let _ = t.join();
                }
            }
            shared.cancel_injected();
            self.handle.blocking.shutdown(Duration::from_secs(1));
        });
    }
}

/// Entry points for the loom models (`loom-tests/`), compiled only under `--cfg spam_loom`: a
/// model cannot have OS worker threads, so it runs the tasks itself, on its own loom threads.
#[cfg(spam_loom)]
impl Scheduler {
    /// A scheduler whose `workers` never start: every wake from outside a worker lands in the
    /// injector, where [`Handle::loom_next`] finds it.
    pub fn loom_new(workers: usize) -> Scheduler {
        let (shared, _locals) = Shared::new(workers.max(1));
        Scheduler {
            handle: Handle { shared: Arc::new(shared), blocking: BlockingPool::new(1, Duration::from_secs(1)) },
            threads: Mutex::new(Vec::new()),
            stopped: std::sync::Once::new(),
        }
    }
}

#[cfg(spam_loom)]
impl Handle {
    /// The next task in the global injector, for the model to `run` on a thread of its choice.
    pub fn loom_next(&self) -> Option<Notified> {
        match self.shared.injector.steal() {
            queue::Steal::Success(t) => Some(t),
            queue::Steal::Empty | queue::Steal::Retry => None,
        }
    }
}

impl std::ops::Deref for Scheduler {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}
