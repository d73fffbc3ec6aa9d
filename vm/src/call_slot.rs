//! The monitor of a process's pending call, where others can read it without a lock.
//!
//! A `gen_server::call` monitors the server for the length of the call (`Process::request`,
//! ended by the reply: `Process::file_reply`). The monitors a process holds live in `Ext`, under
//! its lock, because other threads read them (`process_info`, the observer); but a call's
//! monitor is made in one poll and ended in the next, so it cost the caller two lock round trips
//! per call, four atomic read-modify-writes, about 11 ns of a 180 ns call at one scheduler.
//!
//! A process is in one call at a time, as a rule (a call blocks). Its monitor goes in this slot
//! instead: two words written only by the process itself, with plain stores, and read by
//! others with a retry loop. A second call while one is pending (a `select` of two, say) uses
//! `Ext` as before.
//!
//! # Protocol
//! `tag` is the monitor's reference (a reply alias: never 0), or 0 for empty; `pid` the
//! monitored process. References are never reused.
//! 1. **Only the owner writes** (`set`, `clear`), so it reads the slot with plain loads
//!    (`owner_get`).
//! 2. `set(t, p)`: a Release fence, `pid = p`, then `tag = t` (Release). `clear`: `tag = 0`.
//! 3. A reader loads `tag` (Acquire), then `pid`, then an Acquire fence, then `tag` again; the
//!    pair is the slot's if both `tag` loads agree and are not 0, and it retries if they
//!    differ.
//!
//! Why a pair read this way is one that `set` wrote together: the first `tag` load returning
//! `t` synchronises with the `set` that stored it (Release/Acquire), so the `pid` load returns
//! that `set`'s `p` or a later store. A later `pid` store comes after a `clear` or a newer `set`
//! in the owner's order, and after the Release fence that opens its `set`; the reader's Acquire
//! fence after loading it makes that `clear` or `set` visible to the second `tag` load, which
//! then returns 0 or a newer tag, never `t` again (tags are not reused): the reader retries. No
//! read-modify-write anywhere: on x86 every operation here is a plain move.
//!
//! Loom model: `loom-tests/tests/call_slot.rs`.

use crate::pid::{Pid, Ref};
use spam_scheduler::sync::atomic::{fence, AtomicU64, Ordering::*};

/// One pending call's monitor (module doc).
#[derive(Default)]
pub struct CallSlot {
    tag: AtomicU64,
    pid: AtomicU64,
}

impl CallSlot {
    /// Fills the empty slot (rule 2). Owner only.
    #[inline]
    pub(crate) fn set(&self, tag: Ref, pid: Pid) {
        debug_assert!(self.owner_get().is_none() && tag.to_bits() != 0);
        fence(Release);
        self.pid.store(pid.to_bits(), Relaxed);
        self.tag.store(tag.to_bits(), Release);
    }

    /// Empties the slot (rule 2). Owner only.
    #[inline]
    pub(crate) fn clear(&self) {
        self.tag.store(0, Release);
    }

    /// What the slot holds, read by its owner (rule 1).
    #[inline]
    pub(crate) fn owner_get(&self) -> Option<(Ref, Pid)> {
        match self.tag.load(Relaxed) {
            0 => None,
            t => Some((Ref::from_bits(t), Pid::from_bits(self.pid.load(Relaxed)))),
        }
    }

    /// Removes the monitor `tag` if the slot holds it; returns the monitored process. Owner only.
    #[inline]
    pub(crate) fn take(&self, tag: Ref) -> Option<Pid> {
        let (t, pid) = self.owner_get()?;
        (t == tag).then(|| {
            self.clear();
            pid
        })
    }

    /// What the slot holds, read from any thread (rule 3).
    pub fn read(&self) -> Option<(Ref, Pid)> {
        loop {
            let t = self.tag.load(Acquire);
            if t == 0 {
                return None;
            }
            let pid = self.pid.load(Relaxed);
            fence(Acquire);
            if self.tag.load(Relaxed) == t {
                return Some((Ref::from_bits(t), Pid::from_bits(pid)));
            }
            spam_scheduler::sync::spin_loop();
        }
    }

    /// loom models only: the owner's `set`, with the raw values a model picks.
    #[cfg(spam_loom)]
    pub fn loom_set(&self, tag: u64, pid: u64) {
        self.set(Ref::from_bits(tag), Pid::from_bits(pid));
    }

    /// loom models only: the owner's `clear`.
    #[cfg(spam_loom)]
    pub fn loom_clear(&self) {
        self.clear();
    }
}
