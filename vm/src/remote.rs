//! Remote pids and the distribution hook (the node that implements [`Distribution`] is
//! `spam`'s `dist/node.rs`).
//!
//! # Remote pids
//! A [`Pid`] stays 8 bytes and `Copy`. A pid of another node has the top bit of its index set
//! ([`REMOTE_BIT`]); the rest of the index is a handle into one process-wide interning table of
//! `(node, id, serial, creation)`: the same remote process always gets the same `Pid`, so pids
//! compare as Erlang's do. Entries are never freed (ERTS refcounts external pids; a `Copy` pid
//! cannot be counted): the table grows with the distinct remote pids this OS process has seen.
//! The process table never hands out an index with the top bit set (`Table::new` caps it).
//!
//! # The hook costs nothing on the local paths
//! A remote pid is never in the process table, so a send or signal to one fails its lookup like
//! a send to a dead pid; only then, on that cold path, is the remote bit tested and the
//! [`Distribution`] called. Local sends are unchanged.

use crate::message::Msg;
use crate::pid::{Pid, Ref};
use crate::reason::Reason;
use crate::runtime::Runtime;
use crate::signal::Signal;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// The index bit that marks a pid of another node.
pub const REMOTE_BIT: u32 = 1 << 31;

/// What a remote pid stands for (Erlang's `NEW_PID_EXT` fields).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemotePid {
    /// The node, `name@host`.
    pub node: Arc<str>,
    /// The process's number on its node.
    pub id: u32,
    /// Its serial there.
    pub serial: u32,
    /// The node's incarnation (from its EPMD).
    pub creation: u32,
    /// For a pid made by [`Pid::remote_name`]: the registered name it stands for (then `id`,
    /// `serial` and `creation` are 0).
    pub name: Option<Arc<str>>,
}

#[derive(Default)]
struct Interned {
    by_key: HashMap<RemotePid, u32>,
    list: Vec<RemotePid>,
    /// Each node's number, for display (`<N.id.serial>`, as Erlang numbers other nodes).
    nodes: HashMap<Arc<str>, u32>,
}

fn table() -> &'static RwLock<Interned> {
    static TABLE: OnceLock<RwLock<Interned>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl Pid {
    /// The pid of process `id.serial` of `node` (incarnation `creation`): always the same `Pid`
    /// for the same four values.
    ///
    /// # Panics
    /// Past 2^31 distinct remote pids in this OS process.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let p = spam::Pid::remote("erl@localhost", 80, 0, 3);
    /// assert!(p.is_remote());
    /// assert_eq!(p, spam::Pid::remote("erl@localhost", 80, 0, 3));
    /// assert_eq!(p.remote_parts().unwrap().id, 80);
    /// ```
    pub fn remote(node: &str, id: u32, serial: u32, creation: u32) -> Pid {
        intern(RemotePid { node: node.into(), id, serial, creation, name: None })
    }

    /// Erlang's `{Name, Node}`: the process registered as `name` on `node`, resolved by that node
    /// when a message or monitor arrives. A send to it is Erlang's `{Name, Node} ! Msg`; a
    /// monitor of it gets a `Down` whose `pid` is this pid. It stands for the name, not a
    /// process: it cannot be linked to.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let db = spam::Pid::remote_name("db", "erl@localhost");
    /// assert!(db.is_remote());
    /// assert_eq!(db.remote_parts().unwrap().name.as_deref(), Some("db"));
    /// assert_eq!(db.to_string(), "{db,erl@localhost}");
    /// ```
    pub fn remote_name(name: &str, node: &str) -> Pid {
        intern(RemotePid { node: node.into(), id: 0, serial: 0, creation: 0, name: Some(name.into()) })
    }
}

fn intern(key: RemotePid) -> Pid {
    {
        if let Some(&h) = table().read().unwrap_or_else(|e| e.into_inner()).by_key.get(&key) {
            return Pid::new(REMOTE_BIT | h, 0);
        }
    }
    let mut t = table().write().unwrap_or_else(|e| e.into_inner());
    if let Some(&h) = t.by_key.get(&key) {
        return Pid::new(REMOTE_BIT | h, 0);
    }
    let h = u32::try_from(t.list.len()).ok().filter(|h| h & REMOTE_BIT == 0).expect("2^31 remote pids");
    let n = t.nodes.len() as u32 + 1;
    let key = RemotePid { node: t.nodes.get_key_value(&key.node).map_or(key.node.clone(), |(k, _)| k.clone()), ..key };
    t.nodes.entry(key.node.clone()).or_insert(n);
    t.by_key.insert(key.clone(), h);
    t.list.push(key);
    Pid::new(REMOTE_BIT | h, 0)
}

impl Pid {
    /// `true` for a pid of another node.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert!(!spam::Pid::UNDEFINED.is_remote());
    /// ```
    #[inline]
    pub fn is_remote(self) -> bool {
        self != Pid::UNDEFINED && self.index() & REMOTE_BIT != 0
    }

    /// What a remote pid stands for; `None` for a local one.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let p = spam::Pid::remote("erl@localhost", 81, 2, 3);
    /// let r = p.remote_parts().unwrap();
    /// assert_eq!((&*r.node, r.id, r.serial, r.creation), ("erl@localhost", 81, 2, 3));
    /// ```
    pub fn remote_parts(self) -> Option<RemotePid> {
        if !self.is_remote() {
            return None;
        }
        table().read().unwrap_or_else(|e| e.into_inner()).list.get((self.index() & !REMOTE_BIT) as usize).cloned()
    }

    /// The number this OS process gave the remote pid's node (1, 2, ...), as Erlang shows it in
    /// `<N.id.serial>`.
    pub(crate) fn remote_node_number(self) -> Option<u32> {
        let parts = self.remote_parts()?;
        table().read().unwrap_or_else(|e| e.into_inner()).nodes.get(&parts.node).copied()
    }
}

/// A signal to or from a process of another node (the distribution's control messages).
#[derive(Debug)]
pub enum RemoteSignal {
    /// `from` links to the receiver.
    Link {
        /// The linking process.
        from: Pid,
    },
    /// `from` unlinks from the receiver.
    Unlink {
        /// The unlinking process.
        from: Pid,
    },
    /// An exit signal: from a linked process's exit (`link`), or `exit/2`.
    Exit {
        /// The process it is from.
        from: Pid,
        /// The reason.
        reason: Reason,
        /// Sent because a linked process exited.
        link: bool,
    },
    /// `from` monitors the receiver with `mref`.
    Monitor {
        /// The monitoring process.
        from: Pid,
        /// The monitor.
        mref: Ref,
    },
    /// `from` removes its monitor `mref` of the receiver.
    Demonitor {
        /// The monitoring process.
        from: Pid,
        /// The monitor.
        mref: Ref,
    },
    /// The process `from`, monitored by the receiver with `mref`, exited.
    Down {
        /// The monitored process.
        from: Pid,
        /// The monitor.
        mref: Ref,
        /// Its exit reason.
        reason: Reason,
    },
}

/// What the VM asks of the node: carry a message or a signal to a remote pid. Called on the
/// sending thread (a scheduler, inside the sender's poll): it must not block; a node queues the
/// frame for its connection's writer.
pub trait Distribution: Send + Sync + 'static {
    /// The node itself, for the layer that installed it (`spam` reads its name and creation).
    fn as_any(&self) -> &dyn std::any::Any;
    /// A message from `from` (the sending process, if any) for the remote pid `to`.
    fn send(&self, from: Option<Pid>, to: Pid, msg: Msg);
    /// A signal for the remote pid `to`.
    fn signal(&self, to: Pid, sig: RemoteSignal);
}

impl Runtime {
    /// Installs the node (once; `false` if one is installed already).
    pub fn set_distribution(&self, d: Box<dyn Distribution>) -> bool {
        self.dist.set(d).is_ok()
    }

    /// The installed node, if any.
    pub fn distribution(&self) -> Option<&dyn Distribution> {
        self.dist.get().map(|d| &**d)
    }

    /// The cold path of a send whose target is not in the table: a remote pid goes to the node.
    #[cold]
    #[inline(never)]
    pub(crate) fn send_remote(&self, to: Pid, msg: Msg) {
        match self.dist.get() {
            Some(d) if to.is_remote() => {
                let from = crate::context::with_current_unchecked(|p| p.pid()).ok();
                d.send(from, to, msg);
            }
            // No node, or a dead local pid: dropped, as a send to a dead pid.
            _ => spam_scheduler::contain::drop_value(msg),
        }
    }

    /// The cold path of a signal whose target is not in the table: `Ok` if a node took it for a
    /// remote pid.
    #[cold]
    #[inline(never)]
    pub(crate) fn signal_remote(&self, to: Pid, sig: Signal) -> Result<(), Signal> {
        let Some(d) = self.dist.get().filter(|_| to.is_remote()) else {
            return Err(sig);
        };
        let me = crate::context::with_current_unchecked(|p| p.pid()).unwrap_or(Pid::UNDEFINED);
        d.signal(to, to_remote(sig, me));
        Ok(())
    }

    /// Delivers a signal from a remote process to the local process `to` (the node's reader
    /// calls it, in the order the connection delivered them). `Err` gives it back if `to` is not
    /// alive: the node answers for it (a `Link` with an exit `noproc`, a `Monitor` with a
    /// `Down` `noproc`), as a local process would (semantics 4 and 5).
    pub fn deliver(&self, to: Pid, sig: RemoteSignal) -> Result<(), RemoteSignal> {
        let local = match sig {
            RemoteSignal::Exit { from, reason, link } => Signal::Exit { from, reason, link },
            RemoteSignal::Link { from } => Signal::Link { from },
            RemoteSignal::Unlink { from } => Signal::Unlink { from },
            RemoteSignal::Monitor { from, mref } => Signal::Monitor { from, mref },
            RemoteSignal::Demonitor { mref, .. } => Signal::Demonitor { mref },
            RemoteSignal::Down { from, mref, reason } => Signal::Down { from, mref, reason },
        };
        if to.is_remote() {
            return Err(to_remote(local, Pid::UNDEFINED));
        }
        self.send_signal(to, local).map_err(|s| to_remote(s, Pid::UNDEFINED))
    }
}

/// `sig` as a remote signal; `me` is the sender, for a `Demonitor` (which does not carry it).
fn to_remote(sig: Signal, me: Pid) -> RemoteSignal {
    match sig {
        Signal::Exit { from, reason, link } => RemoteSignal::Exit { from, reason, link },
        Signal::Link { from } => RemoteSignal::Link { from },
        Signal::Unlink { from } => RemoteSignal::Unlink { from },
        Signal::Monitor { from, mref } => RemoteSignal::Monitor { from, mref },
        Signal::Demonitor { mref } => RemoteSignal::Demonitor { from: me, mref },
        Signal::Down { from, mref, reason } => RemoteSignal::Down { from, mref, reason },
    }
}
