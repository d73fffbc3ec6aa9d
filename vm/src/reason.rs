//! Exit reasons.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Why a process exited, or what an exit signal carries.
#[derive(Clone)]
pub enum Reason {
    /// Returned from its future, or `exit_self(Normal)`. Links that do not trap ignore it.
    Normal,
    /// The untrappable kill, as sent by `exit(pid, Kill)`. The target dies with [`Reason::Killed`].
    /// A process that calls `exit_self(Kill)` exits with `Kill` itself, which its links receive as
    /// an ordinary (trappable) reason, as in Erlang.
    Kill,
    /// The reason of a process killed by `exit(pid, Kill)`.
    Killed,
    /// The process did not exist (link or monitor to a dead pid).
    Noproc,
    /// Orderly shutdown (supervisors); also the reason of a process whose `spawn` failed because
    /// the VM is shutting down.
    Shutdown,
    /// Erlang's `badarg`: a process function was given an argument it cannot act on, and the
    /// caller used the variant that exits instead of returning the error (`send` to a name
    /// nobody holds or to a full bounded mailbox, `spawn_opt` with a taken name).
    Badarg,
    /// Erlang's `system_limit`: `spawn` found the process table full (`max_processes`).
    SystemLimit,
    /// Erlang's `noconnection`: the connection to the node of a linked or monitored remote
    /// process was lost (or never came up).
    Noconnection,
    /// The process panicked; the panic message.
    Panic(String),
    /// A user reason: any `Debug + Send + Sync` value. Two are equal when they hold the same type
    /// and print the same.
    Other(Arc<dyn UserReason>),
}

/// A value usable as a user exit reason. Implemented for every `Debug + Send + Sync + 'static`.
pub trait UserReason: fmt::Debug + Send + Sync + 'static {
    /// The value, for downcasting.
    fn as_any(&self) -> &dyn Any;
}

impl<T: fmt::Debug + Send + Sync + 'static> UserReason for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Reason {
    /// A user reason holding `value`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let r = spam::Reason::other("disk full");
    /// assert_eq!(r, spam::Reason::other("disk full")); // same type, same text
    /// assert_eq!(r.to_string(), "\"disk full\"");
    /// ```
    pub fn other<T: fmt::Debug + Send + Sync + 'static>(value: T) -> Reason {
        Reason::Other(Arc::new(value))
    }
    /// Borrows a user reason's value if it is a `T`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// #[derive(Debug, PartialEq)]
    /// struct Timeout { after_ms: u64 }
    /// let r = spam::Reason::other(Timeout { after_ms: 50 });
    /// assert_eq!(r.downcast_ref::<Timeout>(), Some(&Timeout { after_ms: 50 }));
    /// assert_eq!(spam::Reason::Normal.downcast_ref::<Timeout>(), None);
    /// ```
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        match self {
            Reason::Other(v) => (**v).as_any().downcast_ref::<T>(),
            _ => None,
        }
    }
    /// `true` for [`Reason::Normal`].
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(spam::Reason::Normal.is_normal() && !spam::Reason::Killed.is_normal());
    /// ```
    pub fn is_normal(&self) -> bool {
        matches!(self, Reason::Normal)
    }
}

impl PartialEq for Reason {
    fn eq(&self, other: &Reason) -> bool {
        use Reason::*;
        match (self, other) {
            (Normal, Normal) | (Kill, Kill) | (Killed, Killed) | (Noproc, Noproc) | (Shutdown, Shutdown) => true,
            (Badarg, Badarg) | (SystemLimit, SystemLimit) | (Noconnection, Noconnection) => true,
            (Panic(a), Panic(b)) => a == b,
            (Other(a), Other(b)) => {
                Arc::ptr_eq(a, b)
                    || ((**a).as_any().type_id() == (**b).as_any().type_id() && format!("{a:?}") == format!("{b:?}"))
            }
            _ => false,
        }
    }
}

impl Eq for Reason {}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Normal => f.write_str("Normal"),
            Reason::Kill => f.write_str("Kill"),
            Reason::Killed => f.write_str("Killed"),
            Reason::Noproc => f.write_str("Noproc"),
            Reason::Shutdown => f.write_str("Shutdown"),
            Reason::Badarg => f.write_str("Badarg"),
            Reason::SystemLimit => f.write_str("SystemLimit"),
            Reason::Noconnection => f.write_str("Noconnection"),
            Reason::Panic(m) => f.debug_tuple("Panic").field(m).finish(),
            Reason::Other(v) => f.debug_tuple("Other").field(v).finish(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Normal => f.write_str("normal"),
            Reason::Kill => f.write_str("kill"),
            Reason::Killed => f.write_str("killed"),
            Reason::Noproc => f.write_str("noproc"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::Badarg => f.write_str("badarg"),
            Reason::SystemLimit => f.write_str("system_limit"),
            Reason::Noconnection => f.write_str("noconnection"),
            Reason::Panic(m) => write!(f, "panic: {m}"),
            Reason::Other(v) => write!(f, "{v:?}"),
        }
    }
}
