//! The exit protocol: what happens, in order, when a process ends.
//!
//! Run by the process itself, at the end of its last poll, after its future was dropped:
//! 1. **Dying.** The table slot goes LIVE → DYING (`table.rs`): from now on a pin of this pid
//!    fails, so a new `send` is dropped and a new `link`/`monitor` gets `Noproc` from the requester
//!    side, synchronously.
//! 2. **Close.** The mailbox is closed (a push after this is refused and the requester answers
//!    itself `Noproc`: mailbox.rs, invariant 5), and the messages queued or saved are dropped.
//!    Their destructors are user code and run here, as this process, while its links and monitors
//!    are still in place: a link or monitor such a destructor makes (a `spawn_link`, say) is in
//!    the sets taken at step 3 and is told at step 5. Each drop is contained (a panic in it is
//!    discarded), so the steps after it always run.
//! 3. **Name.** The `ext` block (name, links, monitors) is taken under its lock and the name is
//!    removed from the registry — before anyone is told, so a `whereis` after a `Down` never
//!    finds the dead process (registry.rs has the race with `register`). No user code runs
//!    after this point.
//! 4. **Answer what raced in.** Signals pushed before the close: a `Link` is answered with an
//!    exit signal `Noproc`, a `Monitor` (also the one a request carries) with a `Down`
//!    `Noproc`; an `Unlink` or `Demonitor` removes its entry; the rest are dropped.
//! 5. **Tell.** Every linked process gets an exit signal with the reason, every watcher a
//!    `Down`, and every process this one monitored a `Demonitor`. Each link and monitor was
//!    either in the sets at step 3 or answered at step 4 or refused at push: told exactly once.
//!    Senders blocked in `send_async` on our full mailbox are woken (they find us dead).
//! 6. **Release.** The `on_exit` hook runs (root process of `Vm::run`) and the pid is retired:
//!    its owner pin is dropped after a grace period (senders on workers read the slot without a
//!    pin, table.rs), and the slot is reclaimed when the last pin is gone.
//!
//! Signals to one receiver from this process are pushed in program order, so messages sent
//! just before the exit arrive before the exit signal or `Down` (docs: signal ordering).

use crate::message::Kind;
use crate::process::Process;
use crate::reason::Reason;
use crate::signal::Signal;
use spam_scheduler::contain::drop_value;

pub(crate) fn exit(proc: &Process, reason: Reason) {
    let rt = proc.runtime();
    let me = proc.pid();
    // 1. Dying. Losing this race means the shutdown drain took the slot (and owes its release).
    let owner = rt.table.mark_dying(me);
    // 2. Close, and drop the user's messages while the relation sets are still in place.
    let mut raced = Vec::new();
    let closed = proc.mailbox.close();
    if !closed.is_empty() {
        for node in closed {
            match node.kind() {
                Kind::Signal => raced.push(node.into_signal()),
                // A request is the `Monitor` it carries (answered at step 4) and its message.
                Kind::Request => {
                    let (from, mref) = node.tagged_head();
                    raced.push(Signal::Monitor { from, mref });
                    drop_value(node);
                }
                _ => drop_value(node),
            }
        }
    }
    proc.drop_saved();
    proc.disarm();
    // 3. Name, and take the relation sets.
    let mut ext = proc.ext.lock().take().unwrap_or_default();
    if let Some((mref, target)) = proc.call.owner_get() {
        proc.call.clear();
        ext.monitors.insert(mref, target); // a pending call's monitor (`call_slot.rs`)
    }
    let name = ext.name.take();
    if let Some(name) = &name {
        rt.registry.remove(name, me);
    }
    // Trace (`trace.rs`, "Exit exactly once"): one load of our own flags; `unregister` for the
    // name, then `exit`, to the tracer taken with `ext` (no lock held).
    if proc.traced(crate::trace::TraceFlags::PROCS) {
        crate::trace::exited(proc, ext.tracer, name.as_deref(), &reason);
    }
    // 4. Answer what raced in.
    for sig in raced {
        match sig {
            Signal::Link { from } => {
                let _ = rt.send_signal(from, Signal::Exit { from: me, reason: Reason::Noproc, link: true });
            }
            Signal::Monitor { from, mref } => {
                let _ = rt.send_signal(from, Signal::Down { from: me, mref, reason: Reason::Noproc });
            }
            Signal::Unlink { from } => {
                ext.links.remove(&from);
            }
            Signal::Demonitor { mref } => {
                ext.monitored_by.remove(&mref);
            }
            // Reasons and alias messages may hold user values.
            other @ (Signal::Exit { .. } | Signal::Down { .. }) => drop_value(other),
        }
    }
    // 5. Tell. (Most processes have no relations: skip the empty sets' iterators.)
    if !ext.links.is_empty() {
        for &l in &ext.links {
            let _ = rt.send_signal(l, Signal::Exit { from: me, reason: reason.clone(), link: true });
        }
    }
    if !ext.monitored_by.is_empty() {
        for (&mref, &watcher) in ext.monitored_by.iter() {
            let _ = rt.send_signal(watcher, Signal::Down { from: me, mref, reason: reason.clone() });
        }
    }
    if !ext.monitors.is_empty() {
        for (&mref, &target) in ext.monitors.iter() {
            let _ = rt.send_signal(target, Signal::Demonitor { mref });
        }
    }
    if let Some(b) = &proc.bound {
        let waiters = std::mem::take(&mut *b.waiters.lock());
        waiters.wake_all();
    }
    // 6. Release.
    if let Some(hook) = ext.on_exit.take() {
        hook(&reason);
    }
    if owner {
        rt.table.retire(me);
    }
    // The reason may be a user value (`Reason::other`) and this its last clone.
    drop_value(reason);
}
