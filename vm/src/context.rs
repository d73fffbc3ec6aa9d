//! The current process of this thread: set by the process future around each poll, read by
//! every process function (`send`, `receive`, ...). Outside a poll it is unset and those
//! functions return `NotInProcess`.

use crate::error::NotInProcess;
use crate::process::Process;
use std::cell::Cell;

#[cfg(not(spam_loom))]
std::thread_local! {
    static CURRENT: Cell<*const Process> = const { Cell::new(std::ptr::null()) };
}
// Under loom, through the shim: each model thread has its own, as each OS thread does (loom's
// macro takes no `const` initialiser).
#[cfg(spam_loom)]
spam_scheduler::sync::thread_local! {
    static CURRENT: Cell<*const Process> = Cell::new(std::ptr::null());
}

/// Sets the current process for the guard's lifetime, restoring the previous one after.
pub(crate) struct CurrentGuard(*const Process);

impl CurrentGuard {
    pub(crate) fn enter(p: &Process) -> CurrentGuard {
        CurrentGuard(CURRENT.with(|c| c.replace(p)))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` with the current process.
///
/// A process that has handled a fatal exit signal (its pending exit is set: a `Kill`, say, whose
/// unwind the user's code caught) is dead already: instead of running `f`, this unwinds again
/// (`process::unwind_pending`), so no process function acts for it. The exit itself happens at
/// the end of the poll.
#[inline]
pub fn with_current<R>(f: impl FnOnce(&Process) -> R) -> Result<R, NotInProcess> {
    // Not through `with_current_unchecked`: wrapping `f` would move it (and a future it owns,
    // for `spawn`) once more.
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err(NotInProcess);
    }
    // SAFETY: as in `with_current_unchecked`.
    let p = unsafe { &*p };
    if p.pending_exit() {
        crate::process::unwind_pending();
    }
    Ok(f(p))
}

/// [`with_current`] without the pending-exit check, for clean-up in destructors (the VM's own, and
/// the OTP behaviours'): it never unwinds, so it is safe while unwinding. Do not use it to act for
/// a process that may be dead (its pending exit set).
#[inline]
pub fn with_current_unchecked<R>(f: impl FnOnce(&Process) -> R) -> Result<R, NotInProcess> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err(NotInProcess);
    }
    // SAFETY: CURRENT is set only by `CurrentGuard` inside the process's own poll, during which
    // the process (in its task cell) is alive; the guard clears it before the poll returns.
    Ok(f(unsafe { &*p }))
}

/// `true` inside a process.
pub fn in_process() -> bool {
    CURRENT.with(|c| !c.get().is_null())
}
