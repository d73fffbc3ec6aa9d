//! The one sync shim of the project: `std`/`parking_lot` normally, `loom` under `--cfg spam_loom`.
//!
//! Every atomic, lock, cell, `Arc` and thread-local that takes part in a concurrent protocol of the
//! scheduler or the VM is imported from here, so the code loom checks is the code that ships. The
//! `vm` crate re-uses this module (`spam_scheduler::sync`); there is no second shim.
//!
//! The std [`UnsafeCell`] wrapper copies loom's `with`/`with_mut` API and inlines to nothing.

#[cfg(not(spam_loom))]
mod imp {
    pub use std::sync::Arc;
    pub use std::thread_local;

    pub mod atomic {
        pub use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }

    pub mod thread {
        pub use std::thread::{current, spawn, yield_now, Builder, JoinHandle};
    }

    /// A mutex whose `lock` cannot fail (parking_lot's; loom's under `spam_loom`).
    #[derive(Debug, Default)]
    pub struct Mutex<T>(parking_lot::Mutex<T>);
    pub type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Self {
            Mutex(parking_lot::const_mutex(value))
        }
        #[inline]
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }
        #[inline]
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock()
        }
    }

    /// A condition variable paired with [`Mutex`].
    #[derive(Debug, Default)]
    pub struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub const fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }
        #[inline]
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            self.0.wait(guard);
        }
        /// Waits at most `timeout`; returns `true` if it timed out.
        #[inline]
        pub fn wait_for<T>(&self, guard: &mut MutexGuard<'_, T>, timeout: std::time::Duration) -> bool {
            self.0.wait_for(guard, timeout).timed_out()
        }
        #[inline]
        pub fn notify_one(&self) {
            self.0.notify_one();
        }
        #[inline]
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// `core::cell::UnsafeCell` with loom's closure API.
    #[derive(Debug, Default)]
    pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub const fn new(value: T) -> Self {
            UnsafeCell(core::cell::UnsafeCell::new(value))
        }
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    /// Spin hint in busy loops; a yield point under loom.
    #[inline(always)]
    pub fn spin_loop() {
        std::hint::spin_loop();
    }
}

#[cfg(spam_loom)]
mod imp {
    pub use loom::sync::Arc;
    pub use loom::thread_local;

    pub mod atomic {
        pub use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }

    pub mod thread {
        pub use loom::thread::{current, spawn, yield_now, JoinHandle};
        pub use std::thread::Builder;
    }

    /// loom's mutex behind the same infallible API as the normal build.
    #[derive(Debug, Default)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);
    pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    #[derive(Debug, Default)]
    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            // loom's wait takes the guard by value; swap it through a raw read/write.
            // SAFETY: `guard` is read out and immediately replaced by the guard `wait` returns, so
            // the caller's reference never observes a moved-from value; no panic can occur between
            // the read and the write except loom's own abort of the whole model.
            unsafe {
                let g = core::ptr::read(guard);
                let g = self.0.wait(g).unwrap();
                core::ptr::write(guard, g);
            }
        }
        pub fn wait_for<T>(&self, guard: &mut MutexGuard<'_, T>, _timeout: std::time::Duration) -> bool {
            // loom has no time: a timed wait is a wait that may end spuriously.
            self.wait(guard);
            false
        }
        pub fn notify_one(&self) {
            self.0.notify_one();
        }
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    pub use loom::cell::UnsafeCell;

    pub fn spin_loop() {
        loom::thread::yield_now();
    }
}

pub use imp::*;
