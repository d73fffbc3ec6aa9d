//! The process table: pid → process in O(1), with no lock on the lookup (send) path.
//!
//! Slots live in lazily allocated pages that are never freed while the VM lives, so a slot's
//! address is stable. Each slot has one state word and a pointer to the process's task:
//!
//! ```text
//! state: | serial (32) | LIVE (1) | DYING (1) | pins (30) |
//! ```
//!
//! # The pin protocol (how a sender keeps a process alive while it pushes)
//! 1. `pin(pid)`: `fetch_add(1)` on the state. If the serial matches the pid and `LIVE` is set,
//!    the process is pinned: its task cannot be freed until the matching unpin. Otherwise unpin
//!    at once and report "no such process".
//! 2. The process itself holds one pin from insertion to the end of its exit (the owner pin).
//! 3. Exit: the process turns `LIVE` into `DYING` (new pins fail from then on), runs the exit
//!    protocol, then drops its owner pin.
//! 4. Whoever drops the last pin of a `DYING` slot (the owner or a sender that pinned just
//!    before `DYING`) reclaims it with one CAS `serial|DYING|0 → serial+1|0`: the CAS succeeds for
//!    exactly one thread, which then releases the task ref and returns the index to the free list.
//! 5. Insert adds `LIVE|1` with `fetch_add`, never a plain store, so a stale lookup's transient
//!    pin on a vacant slot (which fails its serial check and unpins) is never lost.
//!
//! Invariant: a slot's task pointer is valid whenever pins > 0 and the serial matches the pinner's pid.
//!
//! # The worker path: no pin at all
//! Inside a poll on a scheduler worker, a send reads the slot without pinning
//! ([`Table::lookup_unpinned`]): the exiting process does not drop its owner pin at once but
//! *retires* it ([`Table::retire`]) — the pid waits in its worker's limbo until a grace period
//! has passed (`spam_scheduler::quiescent`: every worker has been between polls since the slot
//! went DYING), and only then is the owner pin dropped (step 4 above). A pointer read during a
//! poll is therefore valid until that poll ends. Threads that are not workers (timers, `Vm::send`,
//! the blocking pool) keep using pins.
//!
//! # Shutdown (`Table::drain`), and who may touch a slot when
//! - A slot's task pointer is written only by `insert` (slot vacant, index reserved by the
//!   inserting thread) and cleared only by the reclaiming CAS winner (step 4). `drain` does not
//!   touch it directly: it goes through the same steps as an exit.
//! - LIVE → DYING is a CAS ([`Table::mark_dying`]): exactly one of the process's own exit and the
//!   shutdown drain wins, and the winner owes the owner pin's release (the exit through the limbo,
//!   the drain at once: every worker is joined by then, so no unpinned reader is left).
//! - `drain`: 1. wait until no insert from a thread that is not a worker is in progress
//!   ([`Table::begin_install`]; the caller set its shutdown flag first, so none starts after);
//!   2. release the owner pins waiting in every limbo; 3. for every LIVE slot: win LIVE → DYING,
//!   cancel the task (its future is dropped under the poll right, `TaskRef::cancel`), release the
//!   owner pin. A sender still holding a pin on that slot keeps the task alive until its unpin,
//!   which then reclaims the slot.
//! - The install/shutdown handshake: an outside installer bumps its shard's `installing`
//!   (SeqCst), then reads the shutdown flag (SeqCst); shutdown stores the flag (SeqCst), then reads
//!   every `installing`. Either the installer sees the flag and backs off, or shutdown sees the
//!   count and waits for the insert to finish. Workers skip the count: they are joined before
//!   the drain.

use crate::pid::Pid;
use crate::process::Process;
use crossbeam_utils::CachePadded;
use spam_scheduler::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use spam_scheduler::sync::Mutex;
use spam_scheduler::{Quiescent, Snapshot, TaskRef};
use std::ptr;

const PAGE_BITS: u32 = 12;
const PAGE: usize = 1 << PAGE_BITS;
const LIVE: u64 = 1 << 31;
const DYING: u64 = 1 << 30;
const PINS: u64 = DYING - 1;
const SERIAL_ONE: u64 = 1 << 32;

struct Slot {
    state: AtomicU64,
    /// `TaskRef<Process>::into_raw`, or null when vacant.
    task: AtomicPtr<()>,
}

struct Page {
    slots: Box<[Slot]>,
}

/// Free slot indices cached by one scheduler worker, and that worker's share of the live count.
/// Only its own worker uses a shard (threads that are not workers share the last one), so the
/// lock is uncontended and the counter's cache line stays put: spawn and exit touch no line
/// shared with other workers.
#[derive(Default)]
struct Shard {
    free: Mutex<Vec<u32>>,
    /// Inserts minus reclaims done on this shard (may go negative). An RMW: threads that are not
    /// workers share a shard, and so do workers of two VMs with the same index.
    live: std::sync::atomic::AtomicIsize,
    /// Inserts on this shard since the table was made (for the observer's spawn total); a
    /// second RMW on the line `live` already holds.
    inserted: std::sync::atomic::AtomicU64,
    /// Exited processes waiting for a grace period before their owner pin is dropped.
    limbo: Mutex<Limbo>,
    /// Inserts in progress on threads that are not workers (see "Shutdown"). Plain std, like the
    /// VM's shutdown flag it pairs with.
    installing: std::sync::atomic::AtomicUsize,
}

/// Retired pids of one shard: `open` since the last quiescent point, `sealed` batches with the
/// snapshot taken when they were sealed (after every pid in them was DYING).
#[derive(Default)]
struct Limbo {
    open: Vec<Pid>,
    sealed: std::collections::VecDeque<(Snapshot, Vec<Pid>)>,
}

/// Indices moved between a shard and the global free list at a time.
const BATCH: usize = 128;

/// The table of all processes of one VM.
pub struct Table {
    pages: Box<[AtomicPtr<Page>]>,
    /// Reclaimed slot indices overflowing the shards.
    free: Mutex<Vec<u32>>,
    /// Next never-used index.
    fresh: AtomicUsize,
    capacity: usize,
    shards: Box<[CachePadded<Shard>]>,
}

/// A pinned process: the process cannot be freed while this lives.
pub struct Pinned<'a> {
    table: &'a Table,
    slot: &'a Slot,
    index: u32,
}

impl<'a> Pinned<'a> {
    /// The pinned process.
    pub fn process(&self) -> &Process {
        let p = self.slot.task.load(Acquire);
        // SAFETY: pinned with a matching serial: the slot holds a live task ref (invariant),
        // which outlives this pin.
        unsafe { TaskRef::<Process>::header_of_raw(p) }
    }
    /// Wakes the pinned process's task.
    pub fn wake(&self) {
        let p = self.slot.task.load(Acquire);
        // SAFETY: as in `process`.
        unsafe { TaskRef::<Process>::wake_raw(p) }
    }
    /// The task's header address (what `Handle::current_task` reports for a worker polling it).
    pub fn task_addr(&self) -> usize {
        self.slot.task.load(Acquire) as usize
    }
    /// Runs `f` on the slot's own task ref, without counting a new one (no RMW on the task):
    /// the pin keeps it valid for the call.
    pub fn with_task<R>(&self, f: impl FnOnce(&TaskRef<Process>) -> R) -> R {
        let p = self.slot.task.load(Acquire);
        // SAFETY: as in `process`; the ref is the slot's, borrowed for the call and never dropped.
        let t = std::mem::ManuallyDrop::new(unsafe { TaskRef::<Process>::from_raw(p) });
        f(&t)
    }
    /// A new counted ref to the task.
    pub fn task(&self) -> TaskRef<Process> {
        self.with_task(TaskRef::clone)
    }
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.table.unpin(self.slot, self.index);
    }
}

impl Table {
    /// A table for up to `capacity` live processes (rounded up to a page), used by `workers`
    /// scheduler threads.
    pub fn new(capacity: usize, workers: usize) -> Table {
        // At most 2^31 slots: an index with the top bit set is a remote pid (`remote.rs`).
        let pages = capacity.div_ceil(PAGE).clamp(1, 1 << (31 - PAGE_BITS));
        Table {
            pages: (0..pages).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
            free: Mutex::new(Vec::new()),
            fresh: AtomicUsize::new(0),
            capacity: pages * PAGE,
            shards: (0..workers + 1).map(|_| CachePadded::new(Shard::default())).collect(),
        }
    }

    /// This thread's shard: its worker's, or the shared last one.
    fn shard(&self) -> &Shard {
        let last = self.shards.len() - 1;
        let i = spam_scheduler::current_worker().map_or(last, |w| w.min(last));
        &self.shards[i]
    }

    fn take_free(&self) -> Option<u32> {
        let mut mine = self.shard().free.lock();
        if let Some(i) = mine.pop() {
            return Some(i);
        }
        let mut global = self.free.lock();
        let at = global.len().saturating_sub(BATCH);
        mine.extend(global.drain(at..));
        mine.pop()
    }

    fn put_free(&self, index: u32) {
        let mut mine = self.shard().free.lock();
        mine.push(index);
        if mine.len() >= 2 * BATCH {
            let at = mine.len() - BATCH;
            self.free.lock().extend(mine.drain(at..));
        }
    }

    fn slot(&self, index: u32) -> Option<&Slot> {
        let page = self.pages.get((index >> PAGE_BITS) as usize)?.load(Acquire);
        if page.is_null() {
            return None;
        }
        // SAFETY: pages are installed once and freed only when the table drops.
        Some(unsafe { &(*page).slots[index as usize & (PAGE - 1)] })
    }

    fn page_for(&self, index: u32) -> &Slot {
        let cell = &self.pages[(index >> PAGE_BITS) as usize];
        let mut page = cell.load(Acquire);
        if page.is_null() {
            let fresh = Box::into_raw(Box::new(Page {
                slots: (0..PAGE)
                    .map(|_| Slot { state: AtomicU64::new(0), task: AtomicPtr::new(ptr::null_mut()) })
                    .collect(),
            }));
            match cell.compare_exchange(ptr::null_mut(), fresh, AcqRel, Acquire) {
                Ok(_) => page = fresh,
                Err(existing) => {
                    // SAFETY: our page lost the race and was never shared.
                    drop(unsafe { Box::from_raw(fresh) });
                    page = existing;
                }
            }
        }
        // SAFETY: as in `slot`.
        unsafe { &(*page).slots[index as usize & (PAGE - 1)] }
    }

    /// Reserves a vacant slot and returns the pid the process there will have.
    pub fn reserve(&self) -> Option<Pid> {
        let index = match self.take_free() {
            Some(i) => i,
            None => {
                let i = self.fresh.fetch_add(1, Relaxed);
                if i >= self.capacity {
                    self.fresh.fetch_sub(1, Relaxed);
                    // Full of fresh slots: a reclaimed one may still sit in another worker's
                    // cache. Only this slow path looks there.
                    return self.take_from_any_shard().map(|i| self.pid_at(i));
                }
                i as u32
            }
        };
        Some(self.pid_at(index))
    }

    /// The pid a process installed in slot `index` will have (the slot's current serial).
    fn pid_at(&self, index: u32) -> Pid {
        let slot = self.page_for(index);
        Pid::new(index, (slot.state.load(Acquire) >> 32) as u32)
    }

    fn take_from_any_shard(&self) -> Option<u32> {
        self.shards.iter().find_map(|s| s.free.lock().pop())
    }

    /// Step 5: installs the task of `pid` (reserved) and makes it LIVE with its owner pin.
    pub fn insert(&self, pid: Pid, task: TaskRef<Process>) {
        let slot = self.page_for(pid.index());
        slot.task.store(task.into_raw() as *mut (), Release);
        let prev = slot.state.fetch_add(LIVE | 1, Release);
        debug_assert_eq!((prev >> 32) as u32, pid.serial());
        debug_assert_eq!(prev & (LIVE | DYING), 0);
        let shard = self.shard();
        shard.live.fetch_add(1, Relaxed);
        shard.inserted.fetch_add(1, Relaxed);
    }

    /// Processes inserted since the table was made.
    pub fn inserted(&self) -> u64 {
        self.shards.iter().map(|s| s.inserted.load(Relaxed)).sum()
    }

    /// Calls `f` with every live process, pinned, in slot order (the pin protocol, so any thread
    /// may scan; each pin is held only during its call). A process that exits meanwhile is left
    /// out or seen exiting.
    pub fn for_each_live(&self, mut f: impl FnMut(Pid, &Pinned<'_>)) {
        let used = self.fresh.load(Acquire).min(self.capacity);
        for index in 0..used as u32 {
            let Some(s) = self.slot(index) else { continue };
            let st = s.state.load(Acquire);
            if st & LIVE == 0 {
                continue;
            }
            let pid = Pid::new(index, (st >> 32) as u32);
            if let Some(pinned) = self.pin(pid) {
                f(pid, &pinned);
            }
        }
    }

    /// Step 1: pins `pid` if it is alive (LIVE, not DYING).
    #[inline]
    pub fn pin(&self, pid: Pid) -> Option<Pinned<'_>> {
        let slot = self.slot(pid.index())?;
        let s = slot.state.fetch_add(1, Acquire);
        let pinned = Pinned { table: self, slot, index: pid.index() };
        if (s >> 32) as u32 == pid.serial() && s & LIVE != 0 {
            Some(pinned)
        } else {
            None // `pinned` drops: unpin
        }
    }

    #[inline]
    fn unpin(&self, slot: &Slot, index: u32) {
        let prev = slot.state.fetch_sub(1, Release);
        debug_assert!(prev & PINS > 0);
        if prev & DYING != 0 && prev & PINS == 1 {
            self.reclaim(slot, index, prev - 1);
        }
    }

    /// Step 4: exactly one of the last unpinners wins the CAS and frees the slot.
    fn reclaim(&self, slot: &Slot, index: u32, expected: u64) {
        let vacant = (expected & !(LIVE | DYING | PINS)).wrapping_add(SERIAL_ONE);
        if slot.state.compare_exchange(expected, vacant, AcqRel, Relaxed).is_ok() {
            let task = slot.task.swap(ptr::null_mut(), AcqRel);
            self.put_free(index);
            self.shard().live.fetch_sub(1, Relaxed);
            // SAFETY: the winning CAS makes us the only owner of the slot's task ref.
            drop(unsafe { TaskRef::<Process>::from_raw(task) });
        }
    }

    /// Step 3: LIVE → DYING, by CAS; `false` if `pid` is not LIVE (another thread won: the
    /// shutdown drain, see "Shutdown"). The winner owes the release of the owner pin.
    /// SeqCst: it is the retiring write of the grace-period protocol (`quiescent.rs`).
    pub fn mark_dying(&self, pid: Pid) -> bool {
        let Some(slot) = self.slot(pid.index()) else {
            return false;
        };
        Self::mark_slot_dying(slot, Some(pid.serial()))
    }

    /// LIVE → DYING for the process in `slot` (of serial `serial`, or any serial).
    fn mark_slot_dying(slot: &Slot, serial: Option<u32>) -> bool {
        let mut cur = slot.state.load(Relaxed);
        loop {
            if cur & LIVE == 0 || serial.is_some_and(|s| (cur >> 32) as u32 != s) {
                return false;
            }
            match slot.state.compare_exchange_weak(cur, cur ^ (LIVE | DYING), SeqCst, Relaxed) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// `true` while `pid` is LIVE.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.slot(pid.index()).is_some_and(|s| {
            let st = s.state.load(Acquire);
            (st >> 32) as u32 == pid.serial() && st & LIVE != 0
        })
    }

    /// Looks `pid` up without pinning it: the raw task pointer of a LIVE process.
    ///
    /// # Safety
    /// The caller runs inside a poll on a worker of the scheduler whose [`Quiescent`] is passed
    /// to [`Table::retire`] and [`Table::maintain`], and uses the pointer only until that poll
    /// ends (the grace period keeps it valid that long).
    #[inline]
    pub unsafe fn lookup_unpinned(&self, pid: Pid) -> Option<*const ()> {
        let slot = self.slot(pid.index())?;
        let s = slot.state.load(Acquire);
        if (s >> 32) as u32 != pid.serial() || s & LIVE == 0 {
            return None;
        }
        // Not reclaimable before this poll ends, so the pointer belongs to `pid`'s serial.
        Some(slot.task.load(Acquire) as *const ())
    }

    /// End of exit: instead of dropping the owner pin now, park the pid in this thread's limbo
    /// until a grace period has passed (see "The worker path"). Call after [`Table::mark_dying`].
    pub fn retire(&self, pid: Pid) {
        self.shard().limbo.lock().open.push(pid);
    }

    /// At a quiescent point of worker `w`: seals the open batch of `w`'s shard (and of the
    /// shared one) with a fresh snapshot, and drops the owner pins of every batch whose grace
    /// period has passed. Returns `true` if some pids still wait.
    pub fn maintain(&self, w: usize, q: &Quiescent) -> bool {
        let last = self.shards.len() - 1;
        let mine = w.min(last);
        let mut waiting = self.maintain_shard(&self.shards[mine], q, true);
        if mine != last {
            waiting |= self.maintain_shard(&self.shards[last], q, false);
        }
        waiting
    }

    fn maintain_shard(&self, shard: &Shard, q: &Quiescent, own: bool) -> bool {
        let mut limbo = if own {
            shard.limbo.lock()
        } else {
            match shard.limbo.try_lock() {
                Some(l) => l,
                None => return true, // someone else is at it; retry later
            }
        };
        if !limbo.open.is_empty() {
            // Every pid in `open` is DYING already: the snapshot comes after the retiring writes.
            let batch = std::mem::take(&mut limbo.open);
            limbo.sealed.push_back((q.snapshot(), batch));
        }
        let mut ready = Vec::new();
        while limbo.sealed.front().is_some_and(|(snap, _)| q.elapsed(snap)) {
            ready.extend(limbo.sealed.pop_front().expect("front exists").1);
        }
        let waiting = !limbo.sealed.is_empty();
        drop(limbo);
        for pid in ready {
            self.release_owner(pid);
        }
        waiting
    }

    /// Drops the owner pin of `pid` (end of exit). Only the thread that won
    /// [`Table::mark_dying`] for `pid`, once no worker can still read the slot unpinned.
    pub fn release_owner(&self, pid: Pid) {
        let slot = self.slot(pid.index()).expect("a live process has a slot");
        self.unpin(slot, pid.index());
    }

    /// The capacity in processes (the configured maximum rounded up to a page).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Live (not DYING) processes, a snapshot in slot order.
    pub fn pids(&self) -> Vec<Pid> {
        let mut out = Vec::with_capacity(self.len());
        let used = self.fresh.load(Acquire).min(self.capacity);
        for index in 0..used as u32 {
            if let Some(s) = self.slot(index) {
                let st = s.state.load(Acquire);
                if st & LIVE != 0 {
                    out.push(Pid::new(index, (st >> 32) as u32));
                }
            }
        }
        out
    }

    /// Processes installed and not yet reclaimed.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.live.load(Relaxed)).sum::<isize>().max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts an insert from a thread that is not a worker; `shut_down` is the VM's shutdown
    /// flag. Returns `None` (and counts nothing) once it is set. See "Shutdown".
    pub fn begin_install<'a>(&'a self, shut_down: &std::sync::atomic::AtomicBool) -> Option<InstallGuard<'a>> {
        let count = &self.shard().installing;
        count.fetch_add(1, SeqCst);
        if shut_down.load(SeqCst) {
            count.fetch_sub(1, Release);
            return None;
        }
        Some(InstallGuard(count))
    }

    /// Shutdown (see "Shutdown" above): ends every process still in the table. Call after the
    /// VM's shutdown flag is set and its scheduler's workers are joined.
    pub fn drain(&self) {
        // 1. No insert from outside is in progress (and none starts: the flag is set).
        while self.shards.iter().any(|s| s.installing.load(SeqCst) != 0) {
            std::thread::yield_now();
        }
        // 2. Owner pins waiting for a grace period: no worker runs, so the period is over.
        for shard in self.shards.iter() {
            let pids: Vec<Pid> = {
                let mut limbo = shard.limbo.lock();
                let mut pids = std::mem::take(&mut limbo.open);
                pids.extend(limbo.sealed.drain(..).flat_map(|(_, batch)| batch));
                pids
            };
            for pid in pids {
                self.release_owner(pid);
            }
        }
        // 3. Every process still LIVE.
        let used = self.fresh.load(Acquire).min(self.capacity);
        for index in 0..used as u32 {
            let Some(slot) = self.slot(index) else { continue };
            if !Self::mark_slot_dying(slot, None) {
                continue;
            }
            // We won LIVE → DYING: the owner pin is ours. As a `Pinned` it keeps the task valid
            // while we cancel it, and its drop releases the pin (the last one reclaims the slot).
            let owner = Pinned { table: self, slot, index };
            owner.task().cancel();
        }
    }
}

/// An insert in progress from a thread that is not a worker ([`Table::begin_install`]).
pub struct InstallGuard<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InstallGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Release);
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        self.drain();
        for p in self.pages.iter() {
            let page = p.load(Acquire);
            if !page.is_null() {
                // SAFETY: the table is being dropped: no pin or lookup can exist any more.
                drop(unsafe { Box::from_raw(page) });
            }
        }
    }
}

#[cfg(all(test, not(spam_loom)))]
mod tests {
    use super::*;

    /// A full table must still hand out a slot that was reclaimed into another worker's cache
    /// (per-worker caches must not strand free slots): here the test thread, which is no worker,
    /// uses the shared shard while the free slot sits in worker 0's.
    #[test]
    fn full_table_reserves_a_slot_cached_by_another_worker() {
        let t = Table::new(PAGE, 2);
        for _ in 0..PAGE {
            assert!(t.reserve().is_some());
        }
        assert!(t.reserve().is_none(), "full");
        t.shards[0].free.lock().push(7);
        assert_eq!(t.reserve().map(Pid::index), Some(7));
        assert!(t.reserve().is_none());
    }
}
