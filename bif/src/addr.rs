//! `Addr<M>`: a pid that accepts only messages of type `M`.

use crate::message::{async_target, send_in, send_or_exit};
use crate::process::current;
use spam_vm::{Pid, SendError};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// The address of a process that receives messages of type `M`: a pid whose `send` accepts only
/// an `M`, so `addr.send(21)` sends the `u64` the receiver's `recv::<u64>()` waits for, where
/// `spam::send(pid, 21)` would send an `i32` it never matches.
///
/// Zero-cost: the same 8 bytes as a [`Pid`], `Copy`, compared and hashed as the pid. The type is
/// a promise made where the `Addr` is created ([`Addr::new`], [`self_addr`]): processes are
/// untyped, as in Erlang, and the receiver still receives with [`recv::<M>`](crate::recv).
/// Typed addresses are the documented default for request/reply (see the guide); untyped pids
/// stay for Erlang-style code. `Addr<M>` converts into a [`Pid`] and is accepted wherever a
/// destination is ([`monitor`](crate::monitor), [`send_after`](crate::send_after)).
#[repr(transparent)]
pub struct Addr<M> {
    pid: Pid,
    _msg: PhantomData<fn(M)>,
}

impl<M> Addr<M> {
    /// The typed address of `pid`: the caller promises the process receives `M`s.
    ///
    /// ```
    /// use spam::Addr;
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.block_on(async {
    ///     let me: Addr<u64> = Addr::new(spam::self_pid());
    ///     me.send(21); // a u64, by the address's type
    ///     assert_eq!(spam::recv::<u64>().await, 21);
    /// });
    /// ```
    pub const fn new(pid: Pid) -> Addr<M> {
        Addr { pid, _msg: PhantomData }
    }

    /// The untyped pid.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.block_on(async { assert_eq!(spam::self_addr::<()>().pid(), spam::self_pid()) });
    /// ```
    pub const fn pid(self) -> Pid {
        self.pid
    }
}

impl<M: Send + 'static> Addr<M> {
    /// [`send`](crate::send) of an `M` (exits the caller with `Badarg` on a full bounded
    /// mailbox; panics outside a process).
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.block_on(async {
    ///     spam::self_addr::<String>().send("hi".to_string());
    ///     assert_eq!(spam::recv::<String>().await, "hi");
    /// });
    /// ```
    #[track_caller]
    pub fn send(self, msg: M) {
        send_or_exit("Addr::send", self.pid.into(), msg)
    }

    /// [`try_send`](crate::try_send) of an `M`: `Err(SendError::Full)` on a full bounded mailbox.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.block_on(async {
    ///     assert!(spam::self_addr::<u8>().try_send(1).is_ok());
    /// });
    /// ```
    #[track_caller]
    pub fn try_send(self, msg: M) -> Result<(), SendError<M>> {
        send_in("Addr::try_send", self.pid.into(), msg)
    }

    /// [`send_async`](crate::send_async) of an `M`: waits while a bounded mailbox is full.
    ///
    /// ```
    /// let vm = spam::Vm::builder().schedulers(1).build();
    /// vm.block_on(async {
    ///     spam::self_addr::<u8>().send_async(1).await;
    ///     assert_eq!(spam::recv::<u8>().await, 1);
    /// });
    /// ```
    pub async fn send_async(self, msg: M) {
        spam_vm::SendAsync::new(async_target("Addr::send_async", self.pid.into()), msg).await
    }
}

/// The caller's own address, typed with the messages it receives: put it in a request so the
/// server's reply can only be the type the caller waits for.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use spam::Addr;
/// struct Double { n: u64, reply_to: Addr<u64> }
///
/// let vm = spam::Vm::builder().schedulers(2).build();
/// let n = vm.block_on(async {
///     let server: Addr<Double> = Addr::new(spam::spawn(async {
///         let Double { n, reply_to } = spam::recv().await;
///         reply_to.send(n * 2);
///     }));
///     server.send(Double { n: 21, reply_to: spam::self_addr() });
///     spam::recv::<u64>().await
/// });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn self_addr<M: Send + 'static>() -> Addr<M> {
    Addr::new(current("self_addr", |p| p.pid()))
}

impl<M> From<Addr<M>> for Pid {
    fn from(a: Addr<M>) -> Pid {
        a.pid
    }
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Addr<M> {}
impl<M> PartialEq for Addr<M> {
    fn eq(&self, other: &Self) -> bool {
        self.pid == other.pid
    }
}
impl<M> Eq for Addr<M> {}
impl<M> Hash for Addr<M> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.pid.hash(h)
    }
}
impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr<{}>({})", std::any::type_name::<M>(), self.pid)
    }
}
