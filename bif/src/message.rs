//! Sending and receiving: `send` (Erlang `!`), its fallible and backpressured forms, and
//! `receive` in its untyped, typed, selective and timed forms.

use crate::process::{current, exit_self, outside};
use crate::Addr;
use spam_vm::{Msg, NotInProcess, Pid, Reason, Receive, SendAsync, SendError};
use std::time::Duration;

/// Where a message goes: a pid or a registered name. Functions that take a destination take
/// `impl Into<Dest>`: a [`Pid`], an [`Addr`], a `&str` or a `&String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<'a> {
    /// A process by pid.
    Pid(Pid),
    /// A process by registered name, resolved at the call.
    Name(&'a str),
}

impl From<Pid> for Dest<'_> {
    fn from(p: Pid) -> Self {
        Dest::Pid(p)
    }
}
impl<M> From<Addr<M>> for Dest<'_> {
    fn from(a: Addr<M>) -> Self {
        Dest::Pid(a.pid())
    }
}
impl<'a> From<&'a str> for Dest<'a> {
    fn from(n: &'a str) -> Self {
        Dest::Name(n)
    }
}
impl<'a> From<&'a String> for Dest<'a> {
    fn from(n: &'a String) -> Self {
        Dest::Name(n)
    }
}
/// Erlang's `{Name, Node}`: the process registered as `Name` on node `Node`
/// ([`Pid::remote_name`]). On this node's own name it is the local name.
impl<'a> From<(&'a str, &'a str)> for Dest<'a> {
    fn from((name, node): (&'a str, &'a str)) -> Self {
        Dest::Pid(Pid::remote_name(name, node))
    }
}

/// [`try_send`], naming `function` if called outside a process.
#[inline]
#[track_caller]
pub(crate) fn send_in<T: Send + 'static>(function: &'static str, dest: Dest<'_>, msg: T) -> Result<(), SendError<T>> {
    current(function, |p| {
        spam_scheduler::budget::consume(1);
        p.bump_reductions(1);
        let pid = match dest {
            Dest::Pid(pid) => pid,
            Dest::Name(n) => match p.runtime().whereis(n) {
                Some(pid) => pid,
                None => {
                    p.trace_send_unregistered(std::any::type_name::<T>());
                    return Err(SendError::NotRegistered(n.to_string(), msg));
                }
            },
        };
        if !crate::distribution::may_send::<T>(pid) {
            return Err(SendError::NotATerm(msg));
        }
        p.send(pid, msg)
    })
}

/// Sends `msg` (Erlang `Dest ! Msg`): never blocks, never fails for a pid with an unbounded
/// mailbox. A message to a dead pid is dropped, as in Erlang. Messages from one process to
/// another arrive in the order sent.
///
/// Any `Send + 'static` value is a message; the receiver picks it by type with [`recv`]. Mind
/// the literal's type: `send(pid, 21)` sends an `i32`. [`Addr::send`] checks the type for you.
///
/// # Exits
/// With [`Reason::Badarg`], as Erlang's `!` does, when the name is not registered; and when the
/// receiver's bounded mailbox is full (`SpawnOpts::mailbox_capacity`). [`try_send`] returns
/// those instead, [`send_async`] waits for room.
///
/// # Panics
/// Outside a process ([`Vm::send`](crate::Vm::send) sends from outside).
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// let n = vm.block_on(async {
///     spam::send(spam::self_pid(), 7u64);
///     spam::recv::<u64>().await
/// });
/// assert_eq!(n, 7);
/// ```
#[track_caller]
pub fn send<'a, T: Send + 'static>(dest: impl Into<Dest<'a>>, msg: T) {
    send_or_exit("send", dest.into(), msg)
}

/// [`send`], naming `function` if called outside a process.
#[inline]
#[track_caller]
pub(crate) fn send_or_exit<T: Send + 'static>(function: &'static str, dest: Dest<'_>, msg: T) {
    if send_in(function, dest, msg).is_err() {
        exit_self(Reason::Badarg)
    }
}

/// [`send`] that returns the failures instead of exiting: [`SendError::NotRegistered`] for a
/// name nobody holds, [`SendError::Full`] for a full bounded mailbox. Each hands the message
/// back ([`SendError::into_inner`]).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::SendError;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let r = spam::try_send("nobody", "hello");
///     assert!(matches!(r, Err(SendError::NotRegistered(_, "hello"))));
/// });
/// ```
#[track_caller]
pub fn try_send<'a, T: Send + 'static>(dest: impl Into<Dest<'a>>, msg: T) -> Result<(), SendError<T>> {
    send_in("try_send", dest.into(), msg)
}

/// Sends, waiting while the receiver's bounded mailbox is full (backpressure). To an unbounded
/// or dead receiver it is [`send`].
///
/// # Exits
/// With [`Reason::Badarg`] when the name is not registered.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::SpawnOpts;
/// let vm = spam::Vm::builder().schedulers(2).build();
/// let sum = vm.block_on(async {
///     let me = spam::self_pid();
///     let (sink, _) = spam::spawn_opt(async move {
///         let mut sum = 0;
///         for _ in 0..100 { sum += spam::recv::<u64>().await; }
///         spam::send(me, sum);
///     }, SpawnOpts::new().mailbox_capacity(4));
///     for i in 0..100u64 { spam::send_async(sink, i).await; } // never more than 4 queued
///     spam::recv::<u64>().await
/// });
/// assert_eq!(sum, 4950);
/// ```
pub async fn send_async<'a, T: Send + 'static>(dest: impl Into<Dest<'a>>, msg: T) {
    SendAsync::new(async_target("send_async", dest.into()), msg).await
}

/// The pid a `send_async` goes to, naming `function` if called outside a process. (Sync, so the
/// callers' futures hold only their `SendAsync` across the await.)
pub(crate) fn async_target(function: &'static str, dest: Dest<'_>) -> Pid {
    match dest {
        Dest::Pid(p) => current(function, |_| p),
        Dest::Name(n) => match current(function, |p| p.runtime().whereis(n)) {
            Some(p) => p,
            None => exit_self(Reason::Badarg),
        },
    }
}

/// Awaits the receive `r` in a local of the calling future (`Receive::in_place`), not moved
/// into the awaiting future's state.
macro_rules! in_place {
    ($r:expr) => {{
        let mut r = $r;
        r.in_place().await
    }};
}
pub(crate) use in_place;

/// The outcome of an awaited [`Receive`], panicking with `function`'s name outside a process.
///
/// A plain function called after the `.await`, not an `async fn` wrapping it: each receive's
/// future then holds only its `Receive` and the borrow `in_place!` polls it through (80 bytes
/// for `recv`), where a nested `async fn` held the `Receive` twice (160 bytes), which every
/// process waiting in a receive pays and every spawn copies.
#[inline]
fn received(function: &'static str, r: Result<Option<Msg>, NotInProcess>) -> Option<Msg> {
    match r {
        Ok(m) => m,
        Err(_) => outside(function),
    }
}

/// A receive's timeout, `None` for no end: `Duration::MAX` (`gen_server::INFINITY`) waits
/// forever, as does a timeout too far to represent (`Receive` finds that at its first wait).
pub(crate) fn limit(timeout: Duration) -> Option<Duration> {
    (timeout != Duration::MAX).then_some(timeout)
}

/// The value of a message that a typed receive's predicate matched (each tests `is::<T>()` or
/// `downcast_ref::<T>()` before it accepts a message), without testing the type again.
///
/// # Safety
/// `m` holds a `T`.
#[inline]
unsafe fn into<T: 'static>(m: Msg) -> T {
    debug_assert!(m.is::<T>(), "matched by type");
    // SAFETY: per the contract.
    unsafe { m.downcast_unchecked::<T>() }
}

/// Receives the next message, whatever its type, in arrival order (Erlang `receive X -> X end`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::send(spam::self_pid(), "text");
///     let m = spam::receive().await;
///     assert_eq!(m.downcast_ref::<&str>(), Some(&"text"));
/// });
/// ```
pub async fn receive() -> Msg {
    if let Some(m) = Receive::take_front(|_: &Msg| true) {
        return m;
    }
    received("receive", in_place!(Receive::new_trusted(|_: &Msg| true, None))).expect("no deadline")
}

/// Selective receive: the first message for which `pred` is true. The others stay in the
/// mailbox, in order, for later receives.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::send(spam::self_pid(), 1u8);
///     spam::send(spam::self_pid(), 2u16);
///     let m = spam::receive_match(|m| m.is::<u16>()).await; // skips the u8
///     assert_eq!(m.downcast::<u16>().ok(), Some(2));
///     assert_eq!(spam::recv::<u8>().await, 1);
/// });
/// ```
pub async fn receive_match<P: FnMut(&Msg) -> bool + Unpin>(pred: P) -> Msg {
    received("receive_match", in_place!(Receive::new(pred, None))).expect("no deadline")
}

/// Erlang's `receive X -> X after T -> timeout end`: the next message, or `None` once `timeout`
/// has passed. `Duration::ZERO` looks once and never blocks. Never early; a timeout of about a
/// second or more may end up to 1% late (its deadline comes from the kernel's cheap coarse
/// clock, `spam_vm`'s `clock.rs`), shorter ones as soon as the timer thread wakes.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     assert!(spam::receive_timeout(Duration::from_millis(10)).await.is_none());
/// });
/// ```
pub async fn receive_timeout(timeout: Duration) -> Option<Msg> {
    received("receive_timeout", in_place!(Receive::new_trusted(|_: &Msg| true, limit(timeout))))
}

/// Selective receive with a timeout: the first message for which `pred` is true, or `None`
/// once `timeout` has passed.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::send(spam::self_pid(), 1u8);
///     let m = spam::receive_match_timeout(|m| m.is::<u16>(), Duration::from_millis(5)).await;
///     assert!(m.is_none()); // the u8 stays queued
///     assert_eq!(spam::recv::<u8>().await, 1);
/// });
/// ```
pub async fn receive_match_timeout<P: FnMut(&Msg) -> bool + Unpin>(pred: P, timeout: Duration) -> Option<Msg> {
    received("receive_match_timeout", in_place!(Receive::new(pred, limit(timeout))))
}

/// The first message of type `T`; messages of other types stay queued, in order. The usual way
/// to receive: name the type, or let inference do it.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     spam::send(spam::self_pid(), "ignored for now");
///     spam::send(spam::self_pid(), 5u64);
///     let n: u64 = spam::recv().await;
///     assert_eq!(n, 5);
/// });
/// ```
pub async fn recv<T: Send + 'static>() -> T {
    if let Some(v) = spam_vm::receive::take_front_as::<T>() {
        return v;
    }
    let m = received("recv", in_place!(Receive::new_trusted(|m: &Msg| m.is::<T>(), None))).expect("no deadline");
    // SAFETY: the predicate accepted it as a `T`.
    unsafe { into(m) }
}

/// The first message of type `T`, or `None` once `timeout` has passed.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     assert_eq!(spam::recv_timeout::<u64>(Duration::from_millis(5)).await, None);
/// });
/// ```
pub async fn recv_timeout<T: Send + 'static>(timeout: Duration) -> Option<T> {
    let r = in_place!(Receive::new_trusted(|m: &Msg| m.is::<T>(), limit(timeout)));
    // SAFETY: the predicate accepted it as a `T`.
    received("recv_timeout", r).map(|m| unsafe { into(m) })
}

/// The first message of type `T` for which `pred` is true: a typed selective receive, for
/// matching a reply on its tag.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let me = spam::self_pid();
///     spam::send(me, (1u32, "first"));
///     spam::send(me, (2u32, "second"));
///     let (_, s) = spam::recv_match(|(tag, _): &(u32, &str)| *tag == 2).await;
///     assert_eq!(s, "second");
/// });
/// ```
pub async fn recv_match<T: Send + 'static>(mut pred: impl FnMut(&T) -> bool + Unpin) -> T {
    let r = in_place!(Receive::new(move |m: &Msg| m.downcast_ref::<T>().is_some_and(&mut pred), None));
    let m = received("recv_match", r).expect("no deadline");
    // SAFETY: the predicate accepted it as a `T` (`downcast_ref` succeeded).
    unsafe { into(m) }
}

/// [`recv_match`] with a timeout: `None` once `timeout` has passed. The way to wait for a reply
/// tagged with a [`make_ref`](crate::make_ref) reference.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let tag = spam::make_ref();
///     let reply = spam::recv_match_timeout(|(t, _): &(spam::Ref, u64)| *t == tag,
///                                          Duration::from_millis(5)).await;
///     assert_eq!(reply, None); // nobody answered
/// });
/// ```
pub async fn recv_match_timeout<T: Send + 'static>(
    mut pred: impl FnMut(&T) -> bool + Unpin,
    timeout: Duration,
) -> Option<T> {
    let r = in_place!(Receive::new(move |m: &Msg| m.downcast_ref::<T>().is_some_and(&mut pred), limit(timeout)));
    // SAFETY: the predicate accepted it as a `T` (`downcast_ref` succeeded).
    received("recv_match_timeout", r).map(|m| unsafe { into(m) })
}
