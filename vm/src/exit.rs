//! The exit protocol: what happens, in order, when a process ends.
//!
//! Run by the process itself, at the end of its last poll, after its future was dropped:
//! 1. **Dying.** The table slot goes LIVE → DYING (`table.rs`): from now on a pin of this pid
//!    fails, so a new `send` is dropped and a new `link`/`monitor` gets `Noproc` from the requester
//!    side, synchronously.
//! 2. **Name.** The `ext` block (name, links, monitors) is taken under its lock and the name is
//!    removed from the registry — before anyone is told, so a `whereis` after a `Down` never
//!    finds the dead process (registry.rs has the race with `register`).
//! 3. **Close.** The mailbox is closed; what was pushed before is drained: a `Link` that arrived
//!    is answered with an exit signal `Noproc`, a `Monitor` with a `Down` `Noproc`; an `Unlink`
//!    or `Demonitor` removes its entry; messages and other signals are dropped. A push after the
//!    close is refused and the requester answers itself `Noproc` (mailbox.rs, invariant 5).
//! 4. **Tell.** Every linked process gets an exit signal with the reason, every watcher a
//!    `Down`, and every process this one monitored a `Demonitor`. Each link and monitor was
//!    either in the set at step 2 or answered at step 3 or refused at push: told exactly once.
//! 5. **Release.** The `on_exit` hook runs (root process of `Vm::run`) and the pid is retired:
//!    its owner pin is dropped after a grace period (senders on workers read the slot without a
//!    pin, table.rs), and the slot is reclaimed when the last pin is gone.
//!
//! Signals to one receiver from this process are pushed in program order, so messages sent
//! just before the exit arrive before the exit signal or `Down` (DESIGN.md, Semantics 1).

use crate::process::Process;
use crate::reason::Reason;
use crate::signal::Signal;

pub(crate) fn exit(proc: &Process, reason: Reason) {
    let rt = proc.runtime();
    let me = proc.pid();
    // 1. Dying.
    rt.table.mark_dying(me);
    // 2. Name, and take the relation sets.
    let mut ext = proc.ext.lock().take().unwrap_or_default();
    if let Some(name) = ext.name.take() {
        rt.registry.remove(&name, me);
    }
    // 3. Close and answer what raced in.
    for node in proc.mailbox.close() {
        if node.kind() != crate::message::Kind::Signal {
            continue;
        }
        match node.into_signal() {
            Signal::Link { from } => {
                let _ = rt.send_signal(from, Signal::Exit { from: me, reason: Reason::Noproc, link: true });
            }
            Signal::Monitor { from, mref } => {
                let _ = rt.send_signal(from, Signal::Down { from: me, mref, reason: Reason::Noproc });
            }
            Signal::Unlink { from } => ext.links.retain(|&p| p != from),
            Signal::Demonitor { mref } => ext.monitored_by.retain(|&(r, _)| r != mref),
            Signal::Exit { .. } | Signal::Down { .. } => {}
        }
    }
    // Take the queue out before dropping it: a message's destructor is user code and may call a
    // process function that touches the private state again.
    drop(proc.with_private(|p| std::mem::take(&mut p.save)));
    proc.queue_len.store(0, std::sync::atomic::Ordering::Relaxed);
    // 4. Tell.
    for &l in &ext.links {
        let _ = rt.send_signal(l, Signal::Exit { from: me, reason: reason.clone(), link: true });
    }
    for &(mref, watcher) in &ext.monitored_by {
        let _ = rt.send_signal(watcher, Signal::Down { from: me, mref, reason: reason.clone() });
    }
    for &(mref, target) in &ext.monitors {
        let _ = rt.send_signal(target, Signal::Demonitor { mref });
    }
    if let Some(b) = &proc.bound {
        // Wake senders blocked on our full mailbox: their send now finds us dead.
        for w in b.waiters.lock().drain(..) {
            w.wake();
        }
    }
    // 5. Release.
    if let Some(hook) = ext.on_exit.take() {
        hook(&reason);
    }
    rt.table.retire(me);
}
