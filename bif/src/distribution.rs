//! Distribution for processes: which node this is, the nodes it is connected to, `ping`,
//! remote `spawn`, and the conversions between the VM's pids, references and exit reasons and
//! the [`Term`]s the wire carries. The node itself is `dist/node.rs`; it is started by
//! [`VmBuilder::node`](crate::VmBuilder::node).

use crate::dist::node::{self, Shared, SpawnReply};
use crate::process::current;
use crate::term::{Atom, Term, TermError};
use spam_vm::{Msg, Pid, Reason, Ref};
use std::sync::Arc;
use std::time::Duration;

/// Erlang's name for a node that is not distributed.
const NONODE: &str = "nonode@nohost";

/// The current process's node, if its VM is one (`None` outside a process too).
fn this_node() -> Option<Arc<Shared>> {
    spam_vm::context::with_current_unchecked(|p| node::of(p.runtime()).cloned()).ok().flatten()
}

/// The current process's pid and node; outside a process, panics naming `function`.
#[track_caller]
fn current_node(function: &'static str) -> (Pid, Option<Arc<Shared>>) {
    current(function, |p| (p.pid(), node::of(p.runtime()).cloned()))
}

/// `false` for a message that cannot cross to `to`: only a [`Term`] goes to another node. The
/// check of every send from `spam` (process or `Vm`), before the runtime, which knows no terms.
#[inline]
pub(crate) fn may_send<T: 'static>(to: Pid) -> bool {
    !to.is_remote() || std::any::TypeId::of::<T>() == std::any::TypeId::of::<Term>()
}

/// The name of this node (Erlang's `node()`): `name@host`, or `nonode@nohost` when the VM is not
/// a node.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// assert_eq!(vm.block_on(async { spam::node() }), "nonode@nohost");
/// ```
#[track_caller]
pub fn node() -> String {
    current_node("node").1.map_or_else(|| NONODE.to_string(), |n| n.name().to_string())
}

/// The nodes this node is connected to now, sorted (Erlang's `nodes(connected)`: visible and
/// hidden alike). Empty when the VM is not a node.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// assert!(vm.block_on(async { spam::nodes() }).is_empty());
/// ```
#[track_caller]
pub fn nodes() -> Vec<String> {
    current_node("nodes").1.map(|n| n.nodes()).unwrap_or_default()
}

/// Closes the connection to `node` (Erlang's `disconnect_node/1`): every link and monitor that
/// crossed it gets `noconnection`, on both sides. `false` if there was no connection.
///
/// # Panics
/// Outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// assert!(!vm.block_on(async { spam::disconnect_node("other@localhost") }));
/// ```
#[track_caller]
pub fn disconnect_node(node: &str) -> bool {
    current_node("disconnect_node").1.is_some_and(|n| n.disconnect(node))
}

/// How long [`ping`] waits for an answer from a connected node before it says `false`.
const PING_TIMEOUT: Duration = Duration::from_secs(60);

/// Erlang's `net_adm:ping(Node)`: connects to `node` if need be and asks its `net_kernel`
/// whether it accepts us. `true` (Erlang's `pong`) if it does; `false` (`pang`) if the node
/// cannot be reached, refuses our cookie, or does not answer within 60 seconds. A VM that is
/// not a node answers `false`, except for its own name.
///
/// # Panics
/// When polled outside a process.
///
/// ```
/// let vm = spam::Vm::builder().schedulers(1).build();
/// assert!(!vm.block_on(spam::ping("nobody@localhost")));
/// ```
pub fn ping(node: &str) -> impl std::future::Future<Output = bool> + Send + 'static {
    let node = node.to_string();
    async move {
        let (me, here) = current_node("ping");
        let Some(here) = here else { return node == NONODE };
        if node == here.name() {
            return true;
        }
        let kernel = Pid::remote_name("net_kernel", &node);
        let mref = crate::monitor(kernel);
        let tag = Ref::make();
        let tag_term = Term::from(tag);
        let call = Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![Term::from(me), tag_term.clone()]),
            Term::tuple(vec![Term::atom("is_auth"), Term::atom(here.name())]),
        ]);
        crate::send(kernel, call);
        let answer = crate::receive_match_timeout(
            move |m: &Msg| match (m.downcast_ref::<Term>(), m.downcast_ref::<crate::Down>()) {
                (Some(Term::Tuple(t)), _) => t.len() == 2 && t[0] == tag_term,
                (_, Some(d)) => d.monitor == mref,
                _ => false,
            },
            PING_TIMEOUT,
        )
        .await;
        crate::demonitor(mref, true);
        match answer.map(|m| m.downcast::<Term>()) {
            Some(Ok(Term::Tuple(t))) => t[1].as_atom() == Some("yes"),
            _ => false,
        }
    }
}

/// Erlang's `spawn(Node, Module, Function, Args)`: starts, on `node` (a SPAM node or an Erlang
/// one), the process `Module:Function(Args...)`. On a SPAM node, `(module, function)` names an
/// entry point registered with [`Vm::register_entry`](crate::Vm::register_entry); an unknown
/// one starts a process that exits with `{undef, {Module, Function}}`, as Erlang's `undef`.
/// Returns the new process's pid, or why there is none: [`Reason::Noconnection`] if `node`
/// cannot be reached (or the VM is not a node), or the reason the node gave
/// (`system_limit`, ...).
///
/// # Panics
/// When polled outside a process.
///
/// ```
/// use spam::Reason;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// let r = vm.block_on(spam::spawn_remote("nobody@localhost", "demo", "echo", vec![]));
/// assert_eq!(r, Err(Reason::Noconnection));
/// ```
pub fn spawn_remote(
    node: &str,
    module: &str,
    function: &str,
    args: Vec<Term>,
) -> impl std::future::Future<Output = Result<Pid, Reason>> + Send + 'static {
    let (node, module, function) = (node.to_string(), module.to_string(), function.to_string());
    async move {
        let (me, here) = current_node("spawn_remote");
        let Some(here) = here else { return Err(Reason::Noconnection) };
        let req = here.spawn_remote(me, &node, &module, &function, args);
        crate::recv_match(move |r: &SpawnReply| r.req == req).await.result
    }
}

/// The identity of the current process's node: its name and creation, or `nonode@nohost`, 0.
fn identity() -> (Atom, u32) {
    match this_node() {
        Some(n) => (Atom::new(n.name()), n.creation()),
        None => (Atom::new(NONODE), 0),
    }
}

/// A pid as a term (what the wire carries; `self()` in a message to Erlang). A local pid is
/// named with the current process's node (`nonode@nohost` outside a process or a node).
///
/// ```
/// use spam::term::Term;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let me = Term::from(spam::self_pid());
///     assert_eq!(spam::Pid::try_from(&me), Ok(spam::self_pid()));
/// });
/// ```
impl From<Pid> for Term {
    fn from(p: Pid) -> Term {
        let (me, creation) = identity();
        node::pid_term(&me, creation, p)
    }
}

/// A term's pid: one of this node (the current process's), or a remote one.
///
/// ```
/// use spam::term::{Atom, ExternalPid, Term};
/// let t = Term::Pid(ExternalPid { node: Atom::new("erl@localhost"), id: 80, serial: 0, creation: 3 });
/// let p = spam::Pid::try_from(&t).unwrap();
/// assert!(p.is_remote());
/// assert!(spam::Pid::try_from(&Term::atom("x")).is_err());
/// ```
impl TryFrom<&Term> for Pid {
    type Error = TermError;
    fn try_from(t: &Term) -> Result<Pid, TermError> {
        let (me, creation) = identity();
        node::term_pid(&me, creation, t).ok_or_else(|| TermError::new("a pid of a live incarnation", t.clone()))
    }
}

/// As `TryFrom<&Term>`.
///
/// ```
/// use spam::term::Term;
/// assert!(spam::Pid::try_from(Term::from(1)).is_err());
/// ```
impl TryFrom<Term> for Pid {
    type Error = TermError;
    fn try_from(t: Term) -> Result<Pid, TermError> {
        Pid::try_from(&t)
    }
}

/// A reference as a term, named with the current process's node: a reply tag for Erlang.
///
/// ```
/// use spam::term::Term;
/// let vm = spam::Vm::builder().schedulers(1).build();
/// vm.block_on(async {
///     let r = spam::make_ref();
///     assert_eq!(spam::Ref::try_from(&Term::from(r)), Ok(r));
/// });
/// ```
impl From<Ref> for Term {
    fn from(r: Ref) -> Term {
        let (me, creation) = identity();
        node::ref_term(&me, creation, r)
    }
}

/// A term's reference, if this node (the current process's) made it.
///
/// ```
/// use spam::term::Term;
/// assert!(spam::Ref::try_from(&Term::atom("x")).is_err());
/// ```
impl TryFrom<&Term> for Ref {
    type Error = TermError;
    fn try_from(t: &Term) -> Result<Ref, TermError> {
        let (me, creation) = identity();
        node::term_ref(&me, creation, t).ok_or_else(|| TermError::new("a reference of this node", t.clone()))
    }
}

/// An exit reason as Erlang sees it: `normal`, `kill`, `killed`, `noproc`, `shutdown`,
/// `badarg`, `system_limit`, `noconnection`; a user reason that is a [`Term`] as itself; a
/// panic as `{panic, <<Message>>}`; any other user reason as its `Debug` text in a binary.
///
/// ```
/// use spam::{term::Term, Reason};
/// assert_eq!(Term::from(&Reason::Noconnection), Term::atom("noconnection"));
/// assert_eq!(Term::from(&Reason::other(Term::atom("boom"))), Term::atom("boom"));
/// ```
impl From<&Reason> for Term {
    fn from(r: &Reason) -> Term {
        node::reason_term(r)
    }
}

/// A reason from Erlang: the atoms above as their variants, anything else a user reason holding
/// the term ([`Reason::downcast_ref::<Term>`](Reason::downcast_ref)).
///
/// ```
/// use spam::{term::Term, Reason};
/// assert_eq!(Reason::from(Term::atom("shutdown")), Reason::Shutdown);
/// let r = Reason::from(Term::tuple(vec![Term::atom("bad"), Term::from(1)]));
/// assert_eq!(r.downcast_ref::<Term>().unwrap().to_string(), "{bad,1}");
/// ```
impl From<Term> for Reason {
    fn from(t: Term) -> Reason {
        node::term_reason(t)
    }
}
