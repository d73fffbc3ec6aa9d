//! `spam-vm`: processes on top of `spam-scheduler`.
//!
//! A process is a scheduler task whose header is its control block (`process.rs`) and whose
//! future wraps the user's future (`ProcessFuture`). Pids index a lock-free table (`table.rs`);
//! every message and signal to a process goes through its lock-free MPSC mailbox
//! (`mailbox.rs`), so everything one sender sends one receiver arrives in order. Links, monitors
//! and exits are signals (`signal.rs`, `ops.rs`); a process ends through the exit protocol
//! (`exit.rs`).
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod call_slot;
mod clock;
pub mod context;
pub mod error;
mod exit;
pub mod info;
pub mod mailbox;
pub mod message;
mod ops;
mod outbox;
pub mod pid;
pub mod process;
pub mod reason;
pub mod receive;
pub mod registry;
pub mod remote;
pub mod runtime;
mod save;
pub mod signal;
pub mod table;
pub mod timer;
pub mod trace;

pub use context::{in_process, with_current};
pub use error::{LinkError, NotInProcess, RegisterError, SendError, SpawnError};
pub use info::{ProcessInfo, ProcessStatus, ProcessSummary, SystemCounters};
pub use message::{Msg, Tagged};
pub use pid::{ParsePidError, Pid, Ref};
pub use process::Process;
pub use reason::{Reason, UserReason};
pub use receive::{Receive, SendAsync};
pub use remote::{Distribution, RemotePid, RemoteSignal};
pub use runtime::{Config, Runtime, SpawnOpts};
pub use signal::{Down, Exit};
pub use timer::TimerId;
pub use trace::{Trace, TraceEvent, TraceFlags};
