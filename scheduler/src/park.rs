//! A per-worker parker: a sticky wake token under a mutex and condition variable.

use crate::sync::{Condvar, Mutex};

/// Blocks one worker thread until woken. A wake that comes before the block is kept (the
/// token is sticky), so `unpark` then `park` returns at once.
#[derive(Debug, Default)]
pub struct Parker {
    /// `true` while a wake token is pending.
    notified: Mutex<bool>,
    cvar: Condvar,
}

impl Parker {
    pub fn new() -> Self {
        Parker { notified: Mutex::new(false), cvar: Condvar::new() }
    }

    /// Blocks until a token is available, then consumes it.
    pub fn park(&self) {
        let mut n = self.notified.lock();
        while !*n {
            self.cvar.wait(&mut n);
        }
        *n = false;
    }

    /// Like [`park`](Self::park) but gives up after `timeout`. Returns `true` if a token was consumed.
    pub fn park_timeout(&self, timeout: std::time::Duration) -> bool {
        let mut n = self.notified.lock();
        if !*n {
            self.cvar.wait_for(&mut n, timeout);
        }
        std::mem::replace(&mut *n, false)
    }

    /// Sets the token and wakes the parked thread, if any.
    pub fn unpark(&self) {
        let mut n = self.notified.lock();
        *n = true;
        drop(n);
        self.cvar.notify_one();
    }
}
