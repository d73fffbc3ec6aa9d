//! Typed errors, one per operation, for outcomes a caller handles. Errors of sends hand the
//! message back. Calling a process function outside a process is not among them: the `spam`
//! API panics for it, naming the function (`NotInProcess` is the VM-internal signal of it).

use std::fmt;

/// A process function was called outside any process (VM-internal; the `spam` API panics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotInProcess;

impl fmt::Display for NotInProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("called outside a SPAM process")
    }
}
impl std::error::Error for NotInProcess {}

/// Why a send failed. Each variant hands the message back.
#[derive(PartialEq, Eq)]
pub enum SendError<T> {
    /// No process is registered under the name (Erlang: `badarg`).
    NotRegistered(String, T),
    /// The receiver's bounded mailbox is full.
    Full(T),
    /// The receiver is a process of another node, and the message is not a `spam::term::Term`
    /// (only terms cross the wire; Erlang: `badarg`).
    NotATerm(T),
}

impl<T> SendError<T> {
    /// The message that was not sent.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let e = spam::SendError::Full(String::from("job"));
    /// assert_eq!(e.into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::NotRegistered(_, m) | SendError::Full(m) | SendError::NotATerm(m) => m,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotRegistered(n, _) => write!(f, "NotRegistered({n:?}, ..)"),
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::NotATerm(_) => f.write_str("NotATerm(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotRegistered(n, _) => write!(f, "no process registered as {n:?}"),
            SendError::Full(_) => f.write_str("the receiver's bounded mailbox is full"),
            SendError::NotATerm(_) => f.write_str("a message to another node must be a spam::term::Term"),
        }
    }
}
impl<T> std::error::Error for SendError<T> {}

/// Why a name operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// The name is taken by another process.
    NameTaken(String),
    /// The process already has a name (one name per process).
    AlreadyNamed,
    /// The process is dead.
    Noproc,
    /// `unregister` of a name nobody holds.
    NotRegistered(String),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::NameTaken(n) => write!(f, "name {n:?} is already registered"),
            RegisterError::AlreadyNamed => f.write_str("the process already has a registered name"),
            RegisterError::Noproc => f.write_str("the process is not alive"),
            RegisterError::NotRegistered(n) => write!(f, "name {n:?} is not registered"),
        }
    }
}
impl std::error::Error for RegisterError {}

/// Why `link` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The target is dead and the caller does not trap exits (Erlang: `noproc` exception).
    Noproc,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Noproc => f.write_str("noproc: the process to link to is not alive"),
        }
    }
}
impl std::error::Error for LinkError {}

/// Why `spawn_opt` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// `SpawnOpts::name` could not be registered; the process was not started.
    Register(RegisterError),
    /// The process table is full (`max_processes`).
    TableFull,
    /// The VM is shut down.
    ShutDown,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Register(e) => write!(f, "spawn: {e}"),
            SpawnError::TableFull => f.write_str("the process table is full"),
            SpawnError::ShutDown => f.write_str("the VM is shut down"),
        }
    }
}
impl std::error::Error for SpawnError {}
