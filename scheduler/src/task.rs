//! A task: one heap cell holding a header, a user header value `H`, and a future, with the
//! state machine that makes a wake during a poll reschedule exactly once.
//!
//! # Layout
//! `Cell<H, F> = { Header, H, UnsafeCell<Stage<F>> }`, `#[repr(C)]`, one allocation per task,
//! from the runtime's own allocator (`slab.rs`).
//! The user header `H` (the VM puts its process control block there) sits right after the
//! [`Header`], so [`TaskRef<H>`] reaches it without knowing `F`.
//!
//! # State word (`Header::state`)
//! Low bits are flags, the rest is the reference count (unit [`REF_ONE`]).
//!
//! | state                  | meaning                                              |
//! |------------------------|------------------------------------------------------|
//! | idle (no flag)         | waiting for a wake; nobody will poll it              |
//! | `SCHEDULED`            | sits in exactly one run queue; that queue holds a ref |
//! | `RUNNING`              | a worker is polling it, exclusively                   |
//! | `RUNNING \| NOTIFIED`   | woken during the poll: the worker requeues it after   |
//! | `DONE`                 | completed or cancelled; the future is dropped         |
//!
//! Transitions (all by CAS or RMW on the one word, so flag and refcount move together):
//! 1. wake, idle → `SCHEDULED` (+1 ref, handed to the queue). wake, `DONE` → no-op.
//!    wake, `SCHEDULED`/`NOTIFIED` → no-op, *confirmed by a CAS of the state onto itself*: a plain
//!    load could be stale (store buffering: the waker's push and the worker's "mailbox empty?"
//!    load can miss each other), and the CAS's release is what the coming poll acquires.
//!    wake, `RUNNING` → `RUNNING | NOTIFIED` (no ref: the running worker already holds one).
//! 2. run: `SCHEDULED` → `RUNNING`, consuming the queue's ref into the worker.
//! 3. after a `Pending` poll: `RUNNING | NOTIFIED` → `SCHEDULED` (the worker's ref goes back to a
//!    queue, at the back: a self-wake is a yield); `RUNNING` → idle (worker's ref dropped).
//! 4. after `Ready`: the future is dropped *while `RUNNING` is still set* (exclusive access), then
//!    → `DONE`. Wakes after that touch only the state word, never the scheduler.
//! 5. last ref dropped → the cell is freed, dropping whatever stage remains.
//! 6. *held* creation ([`new_task_held`]): the task starts `RUNNING` with a second ref owned by a
//!    [`Held`] token, as if its creator were polling it. Wakes meanwhile only set `NOTIFIED`, so
//!    nothing polls the task before [`Held::start`] (`RUNNING` → `SCHEDULED`, the token's ref goes
//!    to a queue), and the creator has the exclusive access a poller has until then.
//! 7. cancel from outside ([`TaskRef::cancel`], shutdown): idle → `RUNNING` by CAS takes the poll
//!    right like a worker would; the future is dropped; → `DONE`. A task that is `SCHEDULED` or
//!    `RUNNING` is left to whoever holds its poll right (a queue is drained and cancelled at
//!    shutdown, a poller finishes its poll, a [`Held`] token starts or cancels it).
//!
//! Invariant: at most one of {a queue, a worker} owns the right to poll, so a future is never
//! polled concurrently, and never polled after `DONE`.

use crate::slab::SlabBox;
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::{Arc, UnsafeCell};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

const SCHEDULED: usize = 1;
const RUNNING: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const DONE: usize = 1 << 3;
/// One reference in the state word.
pub const REF_ONE: usize = 1 << 4;
const FLAGS: usize = REF_ONE - 1;

/// A task's scheduling state, as seen from outside (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for a wake.
    Idle,
    /// In a run queue.
    Scheduled,
    /// Being polled.
    Running,
    /// Completed or cancelled.
    Done,
}

/// Where a woken task goes. Implemented by the scheduler's shared state (and by mocks in loom
/// models).
pub trait Schedule: Send + Sync + 'static {
    /// Queue `task` to be polled. `yielded` is `true` when the task woke itself during its own
    /// poll (it used its budget or called `yield_now`): it must go to the *back* of a queue, never
    /// to a LIFO slot.
    fn schedule(&self, task: Notified, yielded: bool);
}

/// How a poll went, as the worker needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// The task is idle or already requeued; nothing more to do.
    Pending,
    /// The task completed (or panicked) and is `DONE`.
    Complete,
}

pub(crate) struct Header {
    state: AtomicUsize,
    vtable: &'static Vtable,
    sched: Arc<dyn Schedule>,
}

/// Bytes of the user header `H` that share the cell's first cache line with the task
/// [`Header`] (the cell is 64-byte aligned).
pub const HEADER_LINE_ROOM: usize = 64 - std::mem::size_of::<Header>();

struct Vtable {
    /// Size of the whole cell in bytes (for memory accounting).
    size: usize,
    /// Polls the future once; the caller has set `RUNNING`.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> Poll<()>,
    /// Drops the future (stage → consumed). Caller has exclusive access.
    drop_future: unsafe fn(NonNull<Header>),
    /// Frees the cell. Caller held the last ref.
    dealloc: unsafe fn(NonNull<Header>),
}

#[repr(C)]
struct Prefix<H> {
    header: Header,
    data: H,
}

/// Line-aligned, so what a task shares with other threads falls on lines of its own: the
/// header and the first [`HEADER_LINE_ROOM`] bytes of `H` share the first line (a user header
/// puts there what other threads read on every operation), and the rest of `H` and the future,
/// which the task's own poll writes, never share a line with another task's.
#[repr(C, align(64))]
struct Cell<H, F> {
    prefix: Prefix<H>,
    future: UnsafeCell<Option<F>>,
}

/// A borrowed pointer to a task's user header, handed to the future's constructor so the
/// future can reach its own control block. Valid as long as the future exists (the future lives
/// inside the same cell).
pub struct HeaderPtr<H>(NonNull<H>);

// SAFETY: a `HeaderPtr<H>` only ever yields `&H`; sending it is sending `&H`, sound when `H: Sync`.
unsafe impl<H: Sync> Send for HeaderPtr<H> {}
// SAFETY: as above, sharing it shares `&H`.
unsafe impl<H: Sync> Sync for HeaderPtr<H> {}

impl<H> HeaderPtr<H> {
    /// # Safety
    /// The caller must be inside the task's own future (or otherwise know the cell is alive).
    #[inline]
    pub unsafe fn get(&self) -> &H {
        // SAFETY: the caller guarantees the cell, hence `data`, is alive.
        unsafe { self.0.as_ref() }
    }
}

/// An owned, counted reference to a task, typed by its user header.
pub struct TaskRef<H> {
    raw: RawTask,
    _h: PhantomData<H>,
}

// SAFETY: the cell is shared across threads only through atomics and `&H` (H: Sync); dropping a
// ref from another thread may free the cell, which drops H and F, both Send.
unsafe impl<H: Send + Sync> Send for TaskRef<H> {}
// SAFETY: `&TaskRef<H>` exposes `&H` (H: Sync) and wake operations, which are thread-safe.
unsafe impl<H: Send + Sync> Sync for TaskRef<H> {}

/// An untyped task pointer: the common currency of queues and wakers. Does not own a ref by
/// itself; [`Notified`] and [`TaskRef`] do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RawTask(NonNull<Header>);

/// A task that holds one ref and the right to be polled: what run queues carry.
pub struct Notified(RawTask);

// SAFETY: a `Notified` is a counted ref plus the exclusive right to poll, handed from the waker's
// thread to the worker's; the future and header it points to are `Send`.
unsafe impl Send for Notified {}

impl std::fmt::Debug for Notified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notified({:p})", self.0 .0)
    }
}

/// Creates a task cell. Returns the ref; the task is idle: call [`TaskRef::wake_by_ref`] to run it.
#[inline]
pub fn new_task<H, F>(sched: Arc<dyn Schedule>, data: H, make: impl FnOnce(HeaderPtr<H>) -> F) -> TaskRef<H>
where
    H: Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let cell = SlabBox::new(Cell::<H, F> {
        prefix: Prefix { header: Header { state: AtomicUsize::new(REF_ONE), vtable: vtable::<H, F>(), sched }, data },
        future: UnsafeCell::new(None),
    });
    let cell = SlabBox::into_raw(cell);
    // SAFETY: the cell was just allocated and is not yet shared; `data` is initialised.
    let hp = HeaderPtr(unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*cell.as_ptr()).prefix.data)) });
    let fut = make(hp);
    // SAFETY: nobody else can see the cell yet, so writing the future is exclusive.
    unsafe { (*cell.as_ptr()).future.with_mut(|p| *p = Some(fut)) };
    TaskRef { raw: RawTask(cell.cast()), _h: PhantomData }
}

/// Creates a task *held* by its creator (transition 6): nothing polls it before [`Held::start`],
/// and until then the holder has a poller's exclusive access to the future and to the parts of
/// `H` a poll may touch. Returns the ref and the token.
#[inline]
pub fn new_task_held<H, F>(
    sched: Arc<dyn Schedule>,
    data: H,
    make: impl FnOnce(HeaderPtr<H>) -> F,
) -> (TaskRef<H>, Held<H>)
where
    H: Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let task = new_task(sched, data, make);
    // Not yet shared: a plain store of RUNNING and the token's ref.
    task.raw.header().state.store(RUNNING | (2 * REF_ONE), Relaxed);
    let held = Held { raw: task.raw, _h: PhantomData };
    (task, held)
}

/// The poll right of a task created by [`new_task_held`], with one ref. Start it with
/// [`Held::start`]; dropped unstarted, it cancels the task (the future never runs).
pub struct Held<H> {
    raw: RawTask,
    _h: PhantomData<H>,
}

// SAFETY: like `Notified`: a counted ref plus the exclusive poll right, handed between threads;
// it exposes `&H` (H: Sync) and the cell's `H` and future are `Send`.
unsafe impl<H: Send + Sync> Send for Held<H> {}

impl<H> Held<H> {
    /// The user header. While the task is held, the holder has a poller's exclusive access to
    /// the parts of `H` a poll may touch.
    #[inline]
    pub fn header(&self) -> &H {
        // SAFETY: the token holds a ref, so the cell is alive.
        unsafe { self.raw.data() }
    }

    /// Transition 6 ends: `RUNNING` → `SCHEDULED`, and the task goes to a queue (with this ref).
    pub fn start(self) {
        let raw = self.raw;
        std::mem::forget(self);
        let header = raw.header();
        let mut cur = header.state.load(Acquire);
        loop {
            debug_assert!(cur & RUNNING != 0 && cur & (SCHEDULED | DONE) == 0, "start of unheld task {cur:#x}");
            match header.state.compare_exchange_weak(cur, (cur & !(RUNNING | NOTIFIED)) | SCHEDULED, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        header.sched.schedule(Notified(raw), false);
    }
}

impl<H> Drop for Held<H> {
    fn drop(&mut self) {
        let raw = self.raw;
        // SAFETY: the token is the poll right: exclusive access to the future.
        unsafe { finish_cancel(raw) };
        raw.ref_dec();
    }
}

fn vtable<H: Send + Sync + 'static, F: Future<Output = ()> + Send + 'static>() -> &'static Vtable {
    struct V<H, F>(PhantomData<(H, F)>);
    impl<H: Send + Sync + 'static, F: Future<Output = ()> + Send + 'static> V<H, F> {
        const VTABLE: Vtable = Vtable {
            size: std::mem::size_of::<Cell<H, F>>(),
            poll: poll::<H, F>,
            drop_future: drop_future::<H, F>,
            dealloc: dealloc::<H, F>,
        };
    }
    &V::<H, F>::VTABLE
}

unsafe fn poll<H, F: Future<Output = ()>>(ptr: NonNull<Header>, cx: &mut Context<'_>) -> Poll<()> {
    let cell = ptr.cast::<Cell<H, F>>();
    // SAFETY: the caller set RUNNING, which gives this thread exclusive access to the stage; the
    // future is never moved out of the cell while present, so pinning it in place is sound.
    unsafe {
        (*cell.as_ptr()).future.with_mut(|p| match &mut *p {
            Some(f) => Pin::new_unchecked(f).poll(cx),
            None => Poll::Ready(()),
        })
    }
}

unsafe fn drop_future<H, F>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<H, F>>();
    // SAFETY: the caller has exclusive access (it holds the poll right). Dropped in place: the
    // stage may be large, and moving it out would copy it; nothing reads the stage during the
    // drop (the poll right is ours), and the assignment leaves `None` even if the drop unwinds.
    unsafe { (*cell.as_ptr()).future.with_mut(|p| *p = None) };
}

unsafe fn dealloc<H, F>(ptr: NonNull<Header>) {
    // SAFETY: the caller dropped the last ref: no other pointer to the cell exists, and it was
    // created by `SlabBox::new` in `new_task` with exactly this type.
    let cell = unsafe { SlabBox::from_raw(ptr.cast::<Cell<H, F>>()) };
    // The future first (it may still reach the user header through its `HeaderPtr`), then the
    // rest. Both are user values and the last ref may be dropped anywhere (a waker in a timer, a
    // queue at shutdown): a panic is contained, and the memory is freed either way. The future
    // is dropped in place (no move of a possibly large stage); usually it is gone already.
    cell.future.with_mut(|p| {
        // SAFETY: we own the cell exclusively (last ref): no other access to the stage.
        if unsafe { (*p).is_some() } {
            // SAFETY: as above.
            crate::contain::run(|| unsafe { *p = None });
        }
    });
    crate::contain::drop_value(cell);
}

impl RawTask {
    /// The user header `H` of the cell.
    ///
    /// # Safety
    /// The cell's user header is an `H`, and a ref keeps the cell alive for `'a`.
    #[inline]
    unsafe fn data<'a, H>(self) -> &'a H {
        // SAFETY: per the contract; `Prefix<H>` is the cell's repr(C) prefix.
        unsafe { &(*self.0.cast::<Prefix<H>>().as_ptr()).data }
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: a RawTask is only used while some ref keeps the cell alive.
        unsafe { self.0.as_ref() }
    }

    fn ref_inc(self) {
        let prev = self.header().state.fetch_add(REF_ONE, Relaxed);
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Drops one ref; frees the cell on the last.
    fn ref_dec(self) {
        let prev = self.header().state.fetch_sub(REF_ONE, AcqRel);
        debug_assert!(prev >= REF_ONE);
        if prev & !FLAGS == REF_ONE {
            // SAFETY: this was the last ref; AcqRel orders every other thread's use before.
            unsafe { (self.header().vtable.dealloc)(self.0) };
        }
    }

    /// Transition 1. Returns `true` if the caller must hand a new `Notified` to the scheduler.
    fn wake_by_ref(self) {
        let state = &self.header().state;
        let mut cur = state.load(Acquire);
        loop {
            if cur & DONE != 0 {
                return;
            }
            if cur & (SCHEDULED | NOTIFIED) != 0 {
                // Already due a poll. Confirm it with an RMW rather than the load, which may be
                // stale: the RMW reads the latest state, and its release is what the coming poll
                // acquires, so that poll sees what the waker did before waking.
                match state.compare_exchange_weak(cur, cur, AcqRel, Acquire) {
                    Ok(_) => return,
                    Err(actual) => {
                        cur = actual;
                        continue;
                    }
                }
            }
            let running = cur & RUNNING != 0;
            let next = if running { cur | NOTIFIED } else { (cur | SCHEDULED) + REF_ONE };
            match state.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => {
                    if !running {
                        self.header().sched.schedule(Notified(self), false);
                    }
                    return;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    fn is_done(self) -> bool {
        self.header().state.load(Acquire) & DONE != 0
    }
}

impl Notified {
    /// Transitions 2–4: polls the task once. Consumes the queue's ref.
    pub fn run(self) -> PollOutcome {
        let raw = self.0;
        std::mem::forget(self);
        let header = raw.header();
        // 2. SCHEDULED -> RUNNING. A task cancelled at shutdown while queued is DONE.
        let mut cur = header.state.load(Acquire);
        loop {
            if cur & DONE != 0 {
                raw.ref_dec();
                return PollOutcome::Complete;
            }
            debug_assert!(cur & SCHEDULED != 0 && cur & RUNNING == 0, "run of unscheduled task {cur:#x}");
            match header.state.compare_exchange_weak(cur, (cur & !SCHEDULED) | RUNNING, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        // The waker borrows our ref; cloning it adds refs of its own.
        // SAFETY: `waker_vtable` functions uphold RawWaker's contract over a live task pointer;
        // ManuallyDrop keeps the borrowed ref from being released here.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(raw)) });
        let mut cx = Context::from_waker(&waker);
        // SAFETY: RUNNING was set by us above: exclusive access to the future.
        let res =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (header.vtable.poll)(raw.0, &mut cx) }));
        let done = !matches!(res, Ok(Poll::Pending));
        if done {
            // 4. Drop the future while still RUNNING (exclusive), then publish DONE.
            // SAFETY: RUNNING is still set by this thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
                (header.vtable.drop_future)(raw.0)
            }));
        }
        // 3./4. One CAS ends the poll: requeue if notified (keeping our ref for the queue),
        // else go idle or DONE and release our ref in the same operation.
        let mut cur = header.state.load(Acquire);
        loop {
            let requeue = !done && cur & NOTIFIED != 0;
            let next = if requeue {
                (cur & !(RUNNING | NOTIFIED)) | SCHEDULED
            } else if done {
                ((cur & !(RUNNING | NOTIFIED | SCHEDULED)) | DONE) - REF_ONE
            } else {
                (cur & !RUNNING) - REF_ONE
            };
            match header.state.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => {
                    if requeue {
                        header.sched.schedule(Notified(raw), true);
                    } else if cur & !FLAGS == REF_ONE {
                        // We released the last ref.
                        // SAFETY: no other ref exists; AcqRel ordered every other use before.
                        unsafe { (header.vtable.dealloc)(raw.0) };
                    }
                    return if done { PollOutcome::Complete } else { PollOutcome::Pending };
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Cancels a queued task without polling it (shutdown): drops its future, marks it `DONE`,
    /// releases the queue's ref.
    pub fn cancel(self) {
        let raw = self.0;
        std::mem::forget(self);
        // SAFETY: a Notified holds the right to poll, hence exclusive access to the future.
        unsafe { finish_cancel(raw) };
        raw.ref_dec();
    }
}

impl Notified {
    /// The task's header address, the same as [`TaskRef::into_raw`] gives (an identity, for
    /// statistics: which task a worker polls).
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self.0 .0.as_ptr() as usize
    }

    /// Gives up the ref and poll right as a raw pointer (for an atomic slot).
    pub(crate) fn into_raw(self) -> *mut () {
        let p = self.0 .0.as_ptr() as *mut ();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` came from [`Notified::into_raw`] and is taken back exactly once.
    pub(crate) unsafe fn from_raw(p: *mut ()) -> Notified {
        // SAFETY: per the contract, a live task pointer.
        Notified(RawTask(unsafe { NonNull::new_unchecked(p as *mut Header) }))
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // A Notified dropped without run/cancel (e.g. a queue dropped at shutdown): cancel it so
        // no future outlives its scheduler.
        let raw = self.0;
        // SAFETY: as in `cancel`.
        unsafe { finish_cancel(raw) };
        raw.ref_dec();
    }
}

/// Drops the future and publishes `DONE`: the end of a cancellation.
///
/// # Safety
/// The caller holds the task's poll right (a `Notified`, a `Held`, or the `RUNNING` it set in
/// [`TaskRef::cancel`]): exclusive access to the future.
unsafe fn finish_cancel(raw: RawTask) {
    let header = raw.header();
    if header.state.load(Acquire) & DONE == 0 {
        // The future is user code: its destructor may panic; the state must still become DONE.
        // SAFETY: exclusive access per the caller's contract.
        crate::contain::run(|| unsafe { (header.vtable.drop_future)(raw.0) });
        let mut cur = header.state.load(Acquire);
        loop {
            let next = (cur & !(RUNNING | NOTIFIED | SCHEDULED)) | DONE;
            match header.state.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
    }
}

impl<H> TaskRef<H> {
    /// The user header value.
    #[inline]
    pub fn header(&self) -> &H {
        // SAFETY: we hold a ref, so the cell is alive.
        unsafe { self.raw.data() }
    }

    /// Wakes the task (schedules it if idle). Never consumes this ref.
    #[inline]
    pub fn wake_by_ref(&self) {
        self.raw.wake_by_ref();
    }

    /// A `Waker` for this task (one more ref).
    pub fn waker(&self) -> Waker {
        self.raw.ref_inc();
        // SAFETY: the ref just taken is owned by the new waker.
        unsafe { Waker::from_raw(raw_waker(self.raw)) }
    }

    /// `true` once the future completed or was cancelled.
    pub fn is_done(&self) -> bool {
        self.raw.is_done()
    }

    /// The scheduling state right now.
    pub fn status(&self) -> TaskStatus {
        let s = self.raw.header().state.load(Acquire);
        if s & DONE != 0 {
            TaskStatus::Done
        } else if s & RUNNING != 0 {
            TaskStatus::Running
        } else if s & SCHEDULED != 0 {
            TaskStatus::Scheduled
        } else {
            TaskStatus::Idle
        }
    }

    /// Bytes of the task's allocation (header, user header and future).
    pub fn cell_size(&self) -> usize {
        self.raw.header().vtable.size
    }

    /// Cancels the task from outside (shutdown, transition 7): if it is idle, takes the poll right
    /// with a CAS, drops the future and marks it `DONE`; returns `true` then (or if it was `DONE`
    /// already). A task that is queued or being polled is left alone (`false`): the holder of its
    /// poll right finishes or cancels it. Safe to race with wakes, polls and other cancels.
    pub fn cancel(&self) -> bool {
        let state = &self.raw.header().state;
        let mut cur = state.load(Acquire);
        loop {
            if cur & DONE != 0 {
                return true;
            }
            if cur & (SCHEDULED | RUNNING) != 0 {
                return false;
            }
            match state.compare_exchange_weak(cur, cur | RUNNING, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        // SAFETY: we set RUNNING from idle: the poll right is ours.
        unsafe { finish_cancel(self.raw) };
        true
    }

    /// Gives up this ref as a raw pointer (see [`TaskRef::from_raw`]).
    pub fn into_raw(self) -> *const () {
        let p = self.raw.0.as_ptr() as *const ();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `ptr` came from [`TaskRef::into_raw`] of a `TaskRef<H>` with the same `H`, and that ref
    /// is not used again.
    pub unsafe fn from_raw(ptr: *const ()) -> Self {
        // SAFETY: per the contract, a non-null pointer to a live cell with one ref owned.
        TaskRef { raw: RawTask(unsafe { NonNull::new_unchecked(ptr as *mut Header) }), _h: PhantomData }
    }

    /// Borrows the header of a raw ref without taking it.
    ///
    /// # Safety
    /// As [`TaskRef::from_raw`], and the ref must stay alive for `'a`.
    pub unsafe fn header_of_raw<'a>(ptr: *const ()) -> &'a H {
        // SAFETY: the caller keeps the cell alive for 'a; Prefix<H> is its repr(C) prefix.
        unsafe { &(*(ptr as *const Prefix<H>)).data }
    }

    /// Wakes through a raw ref without taking it.
    ///
    /// # Safety
    /// As [`TaskRef::header_of_raw`].
    pub unsafe fn wake_raw(ptr: *const ()) {
        // SAFETY: the caller keeps the cell alive for the call.
        RawTask(unsafe { NonNull::new_unchecked(ptr as *mut Header) }).wake_by_ref();
    }
}

impl<H> Clone for TaskRef<H> {
    fn clone(&self) -> Self {
        self.raw.ref_inc();
        TaskRef { raw: self.raw, _h: PhantomData }
    }
}

impl<H> Drop for TaskRef<H> {
    fn drop(&mut self) {
        self.raw.ref_dec();
    }
}

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

fn raw_waker(raw: RawTask) -> RawWaker {
    RawWaker::new(raw.0.as_ptr() as *const (), &WAKER_VTABLE)
}

unsafe fn waker_clone(p: *const ()) -> RawWaker {
    // SAFETY: wakers are built only over live task pointers holding (or borrowing) a ref.
    let raw = RawTask(unsafe { NonNull::new_unchecked(p as *mut Header) });
    raw.ref_inc();
    raw_waker(raw)
}

unsafe fn waker_wake(p: *const ()) {
    // SAFETY: as in `waker_clone`; this waker owns one ref, released after the wake.
    let raw = RawTask(unsafe { NonNull::new_unchecked(p as *mut Header) });
    raw.wake_by_ref();
    raw.ref_dec();
}

unsafe fn waker_wake_by_ref(p: *const ()) {
    // SAFETY: as in `waker_clone`.
    RawTask(unsafe { NonNull::new_unchecked(p as *mut Header) }).wake_by_ref();
}

unsafe fn waker_drop(p: *const ()) {
    // SAFETY: as in `waker_clone`; this waker owns one ref.
    RawTask(unsafe { NonNull::new_unchecked(p as *mut Header) }).ref_dec();
}
