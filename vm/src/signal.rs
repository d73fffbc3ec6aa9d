//! Signals: what processes send each other besides messages, carried in the same mailbox queue
//! so that everything from one sender to one receiver keeps its order. Also the public system
//! messages (`Exit`, `Down`) that some signals turn into.
//!
//! # How a receiver handles each signal (in `Process::handle_signal`, when it drains its queue)
//! | signal | effect |
//! |---|---|
//! | `Exit { link: true }` | ignored if the sender is no longer linked (unlinked meanwhile); else the link is removed, then as below |
//! | `Exit { reason: Kill, link: false }` | untrappable: the receiver dies with `Killed` |
//! | `Exit`, receiver traps | becomes an [`Exit`] message |
//! | `Exit { reason: Normal }` | ignored, unless the receiver sent it to itself with `exit(self, Normal)`: then it dies with `Normal` |
//! | `Exit { reason }` otherwise | the receiver dies with `reason` |
//! | `Link` / `Unlink` | adds / removes the sender in the receiver's link set |
//! | `Monitor` / `Demonitor` | adds / removes the sender in `monitored_by` |
//! | `Down` | becomes a [`Down`] message if the monitor is still active, else dropped |
//!
//! Trap state is read when the signal is handled, not when it was sent.
//!
//! Two more control nodes stand for signals without being `Signal`s (`message.rs`, `Kind`),
//! filed by `Process::file`:
//! | node | effect |
//! |---|---|
//! | request (`Process::request`, a `gen_server::call`) | the `Monitor` it carries, then its message |
//! | reply (`Process::reply`: a message to an alias) | queued if the alias is still active, else dropped (Erlang's aliases, OTP 24); a monitor's reply alias ends that monitor as it passes (OTP's `reply_demonitor`) |

use crate::pid::{Pid, Ref};
use crate::reason::Reason;

#[derive(Debug)]
pub(crate) enum Signal {
    /// An exit signal. `link` says it was sent because a linked process exited (and is void if
    /// the link is gone by the time it is handled); otherwise it came from `exit(pid, reason)`.
    Exit {
        from: Pid,
        reason: Reason,
        link: bool,
    },
    Link {
        from: Pid,
    },
    Unlink {
        from: Pid,
    },
    Monitor {
        from: Pid,
        mref: Ref,
    },
    Demonitor {
        mref: Ref,
    },
    Down {
        from: Pid,
        mref: Ref,
        reason: Reason,
    },
}

/// The message a process that traps exits receives instead of dying: Erlang's
/// `{'EXIT', From, Reason}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The process whose exit (or `exit/2` call) sent the signal.
    pub from: Pid,
    /// The exit reason it carried.
    pub reason: Reason,
}

/// The message a monitor delivers when the monitored process exits: Erlang's
/// `{'DOWN', Ref, process, Pid, Reason}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// The reference `monitor` (or `spawn_monitor`) returned.
    pub monitor: Ref,
    /// The monitored process (`Pid::UNDEFINED` for a name nobody held).
    pub pid: Pid,
    /// Its exit reason (`Noproc` if it was already dead).
    pub reason: Reason,
}
