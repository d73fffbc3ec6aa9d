//! Worker threads: the run loop (LIFO slot, local deque, injector, stealing, sleeping) and the
//! shared state that wakes route work through.
//!
//! # Where a woken task goes (`Shared::schedule`)
//! 1. Woken by its own poll (`yielded`): back of the current worker's deque.
//! 2. Woken from a worker of this scheduler: that worker's LIFO slot; the task it displaces
//!    goes to the back of the deque (and is posted as work).
//! 3. Woken from any other thread: the global injector (posted as work).
//!
//! # The run loop, per tick
//! 1. Every `INJECTOR_INTERVAL` ticks, take from the injector first (so outside work is never
//!    starved by a busy local queue).
//! 2. Else the LIFO slot (at most `MAX_LIFO_POLLS` in a row), then the deque, then the injector.
//! 3. Else search: steal half of a peer's deque (random victim order), or from the injector,
//!    for `SEARCH_ROUNDS` rounds; from the second round on, also a *stuck* LIFO slot (below).
//! 4. Else fall asleep (`idle.md`).
//!
//! # Stuck LIFO slots
//! A task woken into a LIFO slot waits for the end of its waker's poll. Polls are cooperative, so
//! that poll may compute for a long time while another worker is idle. A slot is *stuck* when it
//! is occupied and its owner's poll counter has not moved over an interval: the owner is still
//! in the poll that filled it. Then (and only then, so ping-pong keeps its locality) peers take
//! the task:
//! - a searching worker looks at each victim once a round and steals a LIFO task seen stuck
//!   from one round of this search to the next (`Shared::lifo_stuck`);
//! - the *monitor* thread (`monitor`, one per scheduler of more than one worker) looks every
//!   `MONITOR_TICK` while some worker is awake, and wakes a sleeping worker (`notify_one`) for
//!   each slot it saw stuck over a whole tick, so the task is taken even when every other
//!   worker was asleep when it was woken. The hot path pays little for this: putting into the
//!   slot is a plain store and taking it back one swap (queue.rs, `LifoSlot`), with no
//!   notification.
//!
//! # Wakes after shutdown
//! A wake from outside the workers pushes to the injector, then (after `notify_one`'s SeqCst
//! fence) reads the shutdown flag; `Scheduler::shutdown` sets the flag, fences, and drains the
//! injector after the workers are joined. Either the drain sees the push or the waker sees the
//! flag, and then drains the injector itself, cancelling what it finds: no task is left in a
//! queue nobody will read.

use crate::budget;
use crate::idle::Idle;
use crate::queue::{Injector, LifoSlot, Local, Steal, Stealer};
use crate::quiescent::{Quiescent, ANNOUNCE_EVERY};
use crate::stats::WorkerCounters;
use crate::sync::Arc;
use crate::task::{Notified, Schedule};
use crossbeam_utils::CachePadded;
use std::cell::Cell;

/// Take from the injector first every this many ticks.
const INJECTOR_INTERVAL: u32 = 61;
/// A worker with deferred maintenance work sleeps at most this long before retrying it.
const DEFERRED_RETRY: std::time::Duration = std::time::Duration::from_millis(1);
/// Rounds of stealing before a worker tries to sleep.
const SEARCH_ROUNDS: u32 = 4;
/// How often the monitor looks for stuck LIFO slots while some worker is awake.
const MONITOR_TICK: std::time::Duration = std::time::Duration::from_millis(1);
/// The monitor's longest sleep while every worker sleeps (it then has nothing to watch).
const MONITOR_IDLE_TICK: std::time::Duration = std::time::Duration::from_millis(20);

/// State shared by all workers of one scheduler and by every task's waker.
pub(crate) struct Shared {
    pub(crate) quiescent: Quiescent,
    /// See `Handle::set_maintenance`.
    pub(crate) maintenance: std::sync::OnceLock<Box<dyn Fn(usize) -> bool + Send + Sync>>,
    pub(crate) idle: Idle,
    pub(crate) injector: Injector,
    pub(crate) stealers: Box<[Stealer]>,
    /// Each worker's LIFO slot, by index (stealable when stuck, see above).
    pub(crate) lifos: Box<[Arc<LifoSlot>]>,
    pub(crate) counters: Box<[CachePadded<WorkerCounters>]>,
    /// When the scheduler was made: the zero of the sleep timestamps in `counters`.
    pub(crate) epoch: std::time::Instant,
    /// Parks the monitor thread; unparked at shutdown.
    pub(crate) monitor: crate::park::Parker,
}

/// What a worker thread knows about itself; reachable through `CONTEXT` while it runs.
struct Context {
    shared: *const Shared,
    index: usize,
    local: Local,
}

std::thread_local! {
    /// The worker context of this thread, or null on a thread that is not a worker.
    static CONTEXT: Cell<*const Context> = const { Cell::new(std::ptr::null()) };
}

/// The index of the worker of `shared`'s scheduler running on this thread, if any.
#[inline]
pub(crate) fn current_worker_of(shared: &Shared) -> Option<usize> {
    CONTEXT.with(|c| {
        let p = c.get();
        // SAFETY: see `current_worker`.
        (!p.is_null() && std::ptr::eq(unsafe { (*p).shared }, shared)).then(|| unsafe { (*p).index })
    })
}

/// The index of the scheduler worker running on this thread, if any.
pub fn current_worker() -> Option<usize> {
    CONTEXT.with(|c| {
        let p = c.get();
        // SAFETY: a non-null CONTEXT points to the worker's stack frame in `run`, which outlives
        // every call made on this thread while it is set.
        (!p.is_null()).then(|| unsafe { (*p).index })
    })
}

impl Shared {
    pub(crate) fn new(workers: usize) -> (Shared, Vec<Local>) {
        let lifos: Box<[Arc<LifoSlot>]> = (0..workers).map(|_| Arc::new(LifoSlot::new())).collect();
        let (locals, stealers): (Vec<_>, Vec<_>) = lifos.iter().map(|l| Local::new(l.clone())).unzip();
        let shared = Shared {
            quiescent: Quiescent::new(workers),
            maintenance: std::sync::OnceLock::new(),
            idle: Idle::new(workers),
            injector: Injector::new(),
            stealers: stealers.into_boxed_slice(),
            lifos,
            counters: (0..workers).map(|_| CachePadded::new(WorkerCounters::default())).collect(),
            epoch: std::time::Instant::now(),
            monitor: crate::park::Parker::new(),
        };
        (shared, locals)
    }

    fn has_stealable_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// The rule of "Stuck LIFO slots": worker `w`'s slot is occupied and `w` is still in the poll
    /// it was in at the last look (`seen`, updated here; `None` when the slot was empty then).
    fn lifo_stuck(&self, w: usize, seen: &mut Option<u64>) -> bool {
        let polls = self.counters[w].polls();
        let occupied = self.lifos[w].is_occupied();
        let stuck = occupied && *seen == Some(polls);
        *seen = occupied.then_some(polls);
        stuck
    }

    /// Cancels everything in the injector (shutdown; see "Wakes after shutdown").
    pub(crate) fn cancel_injected(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(t) => t.cancel(),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }
}

impl Schedule for Shared {
    fn schedule(&self, task: Notified, yielded: bool) {
        let cx = CONTEXT.with(|c| c.get());
        // SAFETY: see `current_worker`; we only use the context if it belongs to this scheduler.
        if !cx.is_null() && std::ptr::eq(unsafe { (*cx).shared }, self) {
            // SAFETY: as above; `local` is only touched from its own thread, which is this one.
            let local = unsafe { &(*cx).local };
            let spill = if yielded { Some(task) } else { local.push_lifo(task) };
            if let Some(t) = spill {
                // A task yielding on a worker with nothing else queued runs next right here:
                // waking a peer to find nothing costs the yielder a futex wake per budget
                // (idle.md, "Post work", the exceptions).
                let alone = yielded && local.is_empty();
                local.deque.push(t);
                if !alone {
                    self.idle.notify_one();
                }
            }
            return;
        }
        self.injector.push(task);
        self.idle.notify_one(); // its SeqCst fence orders the push before the flag load
        if self.idle.is_shutdown() {
            self.cancel_injected();
        }
    }
}

/// Small xorshift for victim order; no shared state.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// The body of worker thread `index`. Returns at shutdown, after cancelling what is left in
/// its own queues.
pub(crate) fn run(shared: Arc<Shared>, index: usize, local: Local) {
    let cx = Context { shared: &*shared, index, local };
    CONTEXT.with(|c| c.set(&cx));
    let counters = &shared.counters[index];
    let mut rng = Rng(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1);
    let mut tick: u32 = 0;
    let mut seen_polls = vec![None; shared.stealers.len()];
    let maintain = || shared.maintenance.get().is_some_and(|m| m(index));
    shared.quiescent.announce(index);
    loop {
        if shared.idle.is_shutdown() {
            break;
        }
        tick = tick.wrapping_add(1);
        if tick.is_multiple_of(ANNOUNCE_EVERY) {
            shared.quiescent.announce(index);
            maintain();
        }
        let next = if tick.is_multiple_of(INJECTOR_INTERVAL) {
            pop_injector(&shared, &cx.local, counters).or_else(|| cx.local.pop())
        } else {
            cx.local.pop().or_else(|| pop_injector(&shared, &cx.local, counters))
        };
        let next = next.or_else(|| search(&shared, &cx, counters, &mut rng, &mut seen_polls).map(|t| (t, false)));
        match next {
            Some((task, lifo)) => {
                counters.poll(task.addr(), lifo);
                budget::reset();
                task.run();
            }
            None => {
                // Quiescent before sleeping: deferred work may complete now, and a parked worker
                // must not hold up anyone's grace period. Nor strand freed blocks of other
                // threads' pages in its pending batch (`slab.rs`).
                crate::slab::flush();
                shared.quiescent.announce(index);
                let deferred = maintain();
                shared.quiescent.offline(index);
                let timeout = deferred.then_some(DEFERRED_RETRY);
                let since = counters.falling_asleep(shared.epoch);
                if shared.idle.sleep(index, timeout, || shared.has_stealable_work()) {
                    counters.park();
                }
                counters.woke(shared.epoch, since);
                shared.quiescent.announce(index);
            }
        }
    }
    budget::unlimited();
    // Shutdown: cancel what is left here. Cancelling may wake other tasks into this queue, so
    // loop until it stays empty.
    loop {
        let left = cx.local.drain();
        if left.is_empty() {
            break;
        }
        left.into_iter().for_each(Notified::cancel);
    }
    CONTEXT.with(|c| c.set(std::ptr::null()));
}

fn pop_injector(shared: &Shared, local: &Local, counters: &WorkerCounters) -> Option<(Notified, bool)> {
    loop {
        match shared.injector.steal_into(&local.deque) {
            Steal::Success(t) => {
                counters.injector_pop();
                return Some((t, false));
            }
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

fn search(
    shared: &Shared,
    cx: &Context,
    counters: &WorkerCounters,
    rng: &mut Rng,
    seen_polls: &mut [Option<u64>],
) -> Option<Notified> {
    let n = shared.stealers.len();
    seen_polls.fill(None); // a slot counts as stuck only over rounds of this search
    for round in 0..SEARCH_ROUNDS {
        if n > 1 {
            let start = rng.next() as usize % n;
            for k in 0..n {
                let victim = (start + k) % n;
                if victim == cx.index {
                    continue;
                }
                loop {
                    match shared.stealers[victim].steal_into(&cx.local.deque) {
                        Steal::Success(t) => {
                            counters.steal_attempt(true);
                            return Some(t);
                        }
                        Steal::Empty => {
                            counters.steal_attempt(false);
                            break;
                        }
                        Steal::Retry => continue,
                    }
                }
                // Stuck LIFO slot: the victim is still in the poll it was in last round.
                if shared.lifo_stuck(victim, &mut seen_polls[victim]) {
                    if let Some(t) = shared.lifos[victim].steal() {
                        counters.steal_attempt(true);
                        return Some(t);
                    }
                }
            }
        }
        if let Some((t, _)) = pop_injector(shared, &cx.local, counters) {
            return Some(t);
        }
        if shared.idle.is_shutdown() {
            return None;
        }
        if round + 1 < SEARCH_ROUNDS {
            crate::sync::thread::yield_now();
        }
    }
    None
}

/// The monitor thread of a scheduler with more than one worker (see "Stuck LIFO slots"). Runs
/// until shutdown.
pub(crate) fn monitor(shared: Arc<Shared>) {
    let n = shared.lifos.len();
    let mut last: Vec<Option<u64>> = vec![None; n];
    while !shared.idle.is_shutdown() {
        let all_asleep = shared.idle.num_sleeping() == n;
        shared.monitor.park_timeout(if all_asleep { MONITOR_IDLE_TICK } else { MONITOR_TICK });
        for (w, seen) in last.iter_mut().enumerate() {
            if shared.lifo_stuck(w, seen) {
                shared.idle.notify_one();
            }
        }
    }
}
