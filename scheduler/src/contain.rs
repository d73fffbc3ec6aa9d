//! Running user code where the VM cannot let a panic escape: destructors of messages, futures and
//! closures that the VM drops on its own threads or in the middle of its own bookkeeping.
//!
//! A panic there is caught and discarded (the default panic hook has already reported it), so
//! the VM's bookkeeping after it still runs: an exit still tells links and monitors, the timer
//! thread keeps firing, shutdown still returns. Dropping a collection of user values goes
//! through [`drop_each`], one containment per value: a second panic while the first is
//! unwinding would abort the program.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, discarding a panic. Returns `false` if it panicked.
#[inline]
pub fn run(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_ok()
}

/// Drops `value`, discarding a panic from its destructor.
#[inline]
pub fn drop_value<T>(value: T) {
    run(move || drop(value));
}

/// Drops every item of `items`, each in its own containment.
#[inline]
pub fn drop_each<T>(items: impl IntoIterator<Item = T>) {
    for v in items {
        drop_value(v);
    }
}
