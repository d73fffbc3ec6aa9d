//! Time: `sleep`, and timers that send a message later (Erlang `send_after`/`cancel_timer`).

use crate::process::{current, outside};
use crate::Dest;
use spam_vm::{Msg, Receive};
use std::time::Duration;

/// A pending [`send_after`] timer, for [`cancel_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerRef(spam_vm::TimerId);

/// Suspends the calling process for `d` (Erlang `timer:sleep/1`, which is
/// `receive after T -> ok end`). Messages that arrive meanwhile stay queued; exit signals act
/// as usual (a killed sleeper dies at once). The scheduler runs other processes meanwhile.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::{Duration, Instant};
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let t = Instant::now();
///     spam::sleep(Duration::from_millis(20)).await;
///     assert!(t.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub async fn sleep(d: Duration) {
    let r = crate::message::in_place!(Receive::new_trusted(|_: &Msg| false, crate::message::limit(d)));
    if r.is_err() {
        outside("sleep");
    }
}

/// Sends `msg` to `dest` after `delay` (Erlang `erlang:send_after/3`); a name is resolved when
/// the timer fires (and the message dropped if nobody holds it then). Returns the timer's
/// reference for [`cancel_timer`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::send_after(Duration::from_millis(5), spam::self_pid(), "tick");
///     assert_eq!(spam::recv::<&str>().await, "tick");
/// });
/// ```
#[track_caller]
pub fn send_after<'a, T: Send + 'static>(delay: Duration, dest: impl Into<Dest<'a>>, msg: T) -> TimerRef {
    let to = match dest.into() {
        Dest::Pid(p) => Ok(p),
        Dest::Name(n) => Err(n.to_string()),
    };
    current("send_after", |p| TimerRef(p.runtime().send_after(delay, to, msg)))
}

/// Cancels a [`send_after`] timer: the time it had left, or `None` if it already fired (or was
/// cancelled). A cancelled timer's message is never delivered.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let t = spam::send_after(Duration::from_secs(60), spam::self_pid(), "never");
///     assert!(spam::cancel_timer(t).is_some());
///     assert!(spam::cancel_timer(t).is_none());
/// });
/// ```
#[track_caller]
pub fn cancel_timer(t: TimerRef) -> Option<Duration> {
    current("cancel_timer", |p| p.runtime().cancel_timer(t.0))
}
