//! The blocking ("dirty") pool: runs closures that block off the scheduler threads.
//!
//! Jobs go through a crossbeam-channel queue to at most `max_threads` threads. A thread is
//! started when a job arrives and no thread is idle; a thread idle for `keep_alive` retires.
//!
//! # No job left without a thread
//! `idle` and `threads` change only under `state`'s lock. A submitter pushes the job, *then*
//! takes the lock and starts a thread if none is idle. A thread that timed out takes the lock
//! and retires only if the queue is empty. Either the retiring thread's emptiness check sees the
//! job (it stays), or the submitter's lock comes after the retirement and sees `idle == 0` (it
//! starts a thread).

use crate::sync::{Arc, Condvar, Mutex};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

struct PoolState {
    threads: usize,
    idle: usize,
    shutdown: bool,
}

struct Inner {
    tx: Mutex<Option<Sender<Job>>>,
    rx: Receiver<Job>,
    state: Mutex<PoolState>,
    /// Signalled when a thread exits (shutdown waits on it).
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// A bounded pool of threads for blocking closures.
#[derive(Clone)]
pub struct BlockingPool {
    inner: Arc<Inner>,
}

/// Why a blocking job produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingError {
    /// The closure panicked; the panic message.
    Panicked(String),
    /// The pool was shut down before the job ran.
    Shutdown,
}

impl std::fmt::Display for BlockingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockingError::Panicked(m) => write!(f, "blocking job panicked: {m}"),
            BlockingError::Shutdown => f.write_str("blocking pool shut down before the job ran"),
        }
    }
}

impl std::error::Error for BlockingError {}

/// The panic message carried by a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

struct Slot<R> {
    result: Option<Result<R, BlockingError>>,
    waker: Option<Waker>,
}

/// Resolves to the closure's result once a pool thread has run it.
pub struct BlockingTask<R> {
    slot: Arc<Mutex<Slot<R>>>,
}

impl<R> Future for BlockingTask<R> {
    type Output = Result<R, BlockingError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock();
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// The job's side of the result slot. Dropped without [`Completion::complete`] (the job was
/// discarded at shutdown), it fails the waiting future with [`BlockingError::Shutdown`].
struct Completion<R> {
    slot: Arc<Mutex<Slot<R>>>,
    done: bool,
}

impl<R> Completion<R> {
    fn complete(mut self, r: Result<R, BlockingError>) {
        self.done = true;
        fill(&self.slot, r);
    }
}

impl<R> Drop for Completion<R> {
    fn drop(&mut self) {
        if !self.done {
            fill(&self.slot, Err(BlockingError::Shutdown));
        }
    }
}

fn fill<R>(slot: &Mutex<Slot<R>>, r: Result<R, BlockingError>) {
    let waker = {
        let mut s = slot.lock();
        s.result = Some(r);
        s.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

impl BlockingPool {
    pub fn new(max_threads: usize, keep_alive: Duration) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        BlockingPool {
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                rx,
                state: Mutex::new(PoolState { threads: 0, idle: 0, shutdown: false }),
                exited: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive,
            }),
        }
    }

    /// Runs `f` on a pool thread; the returned future resolves to its result.
    pub fn spawn<R, F>(&self, f: F) -> BlockingTask<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Slot { result: None, waker: None }));
        let completion = Completion { slot: slot.clone(), done: false };
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(|p| BlockingError::Panicked(panic_message(&*p)));
            completion.complete(r);
        });
        // A job refused here is dropped, and its Completion fails the task with Shutdown.
        let sent = match &*self.inner.tx.lock() {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return BlockingTask { slot };
        }
        let mut st = self.inner.state.lock();
        if st.idle == 0 && st.threads < self.inner.max_threads && !st.shutdown {
            st.threads += 1;
            drop(st);
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new().name("spam-blocking".into()).spawn(move || worker(inner));
            if spawned.is_err() {
                self.inner.state.lock().threads -= 1;
            }
        }
        BlockingTask { slot }
    }

    /// `true` on one of this pool's threads.
    pub fn is_current_thread(&self) -> bool {
        POOL.with(|p| std::ptr::eq(p.get(), &*self.inner as *const Inner as *const ()))
    }

    /// Threads alive right now (a snapshot).
    pub fn threads(&self) -> usize {
        self.inner.state.lock().threads
    }

    /// Stops taking jobs, fails queued ones with [`BlockingError::Shutdown`], and waits up to
    /// `timeout` for running jobs' threads to exit (a job that blocks forever is left detached).
    pub fn shutdown(&self, timeout: Duration) {
        self.inner.tx.lock().take();
        self.inner.state.lock().shutdown = true;
        let deadline = Instant::now() + timeout;
        let mut st = self.inner.state.lock();
        while st.threads > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.inner.exited.wait_for(&mut st, deadline - now);
        }
    }
}

std::thread_local! {
    /// The pool whose thread this is (its `Inner`'s address), or null.
    static POOL: std::cell::Cell<*const ()> = const { std::cell::Cell::new(std::ptr::null()) };
}

fn worker(inner: Arc<Inner>) {
    POOL.with(|p| p.set(&*inner as *const Inner as *const ()));
    loop {
        inner.state.lock().idle += 1;
        let got = inner.rx.recv_timeout(inner.keep_alive);
        let mut st = inner.state.lock();
        st.idle -= 1;
        match got {
            Ok(job) => {
                let shutdown = st.shutdown;
                drop(st);
                if shutdown {
                    // Its Completion fails the waiting task with Shutdown. The closure is a user
                    // value: a panic in its drop must not kill this thread uncounted.
                    crate::contain::drop_value(job);
                    continue;
                }
                // The job catches its closure's panic itself; what it drops afterwards (its result,
                // when the waiting task is gone) is a user value too.
                crate::contain::run(job);
            }
            Err(RecvTimeoutError::Timeout) if inner.rx.is_empty() && !st.shutdown => {
                st.threads -= 1;
                inner.exited.notify_all();
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                st.threads -= 1;
                inner.exited.notify_all();
                return;
            }
        }
    }
}
