//! What a process does to others and to itself: link, unlink, monitor, demonitor, exit, trap.
//! Each is called on the current process (`bif` looks it up); the rules are Erlang's, as
//! checked in `erl` (OTP 25) and cited in the tests.

use crate::error::LinkError;
use crate::message::{Kind, Tagged};
use crate::pid::{Pid, Ref};
use crate::process::{unwind_pending, Process};
use crate::reason::Reason;
use crate::runtime::Delivery;
use crate::signal::Signal;
use crate::trace::{Trace, TraceFlags};
use spam_scheduler::sync::atomic::Ordering::*;

impl Process {
    /// `link/1`. Linking to self or to an already linked process does nothing. To a dead
    /// process: `Err(Noproc)` if not trapping; if trapping, `Ok` and an `Exit { reason: Noproc }`
    /// message follows.
    pub fn link(&self, target: Pid) -> Result<(), LinkError> {
        if target == self.pid() {
            return Ok(());
        }
        if !self.ext().links.insert(target) {
            return Ok(());
        }
        if self.runtime().send_signal(target, Signal::Link { from: self.pid() }).is_ok() {
            if self.traced(TraceFlags::LINKS) {
                self.emit(Trace::Link { other: target });
            }
            return Ok(());
        }
        if self.trap_exit.load(Relaxed) {
            // Handled in order at our next drain: removes the link, becomes an Exit message.
            self.push_self_signal(Signal::Exit { from: target, reason: Reason::Noproc, link: true });
            Ok(())
        } else {
            self.ext().links.remove(&target);
            Err(LinkError::Noproc)
        }
    }

    /// `unlink/1`: removes the link both ways; an exit signal of that link already on its way
    /// is then ignored (signal.rs). Always succeeds.
    pub fn unlink(&self, target: Pid) {
        let was = self.ext().links.remove(&target);
        if was {
            let _ = self.runtime().send_signal(target, Signal::Unlink { from: self.pid() });
            if self.traced(TraceFlags::LINKS) {
                self.emit(Trace::Unlink { other: target });
            }
        }
    }

    /// `monitor(process, Pid)`. A dead target gives `Down { reason: Noproc }` at once (in order
    /// with the rest of our queue). Monitoring oneself does nothing (as in Erlang: no `Down`).
    pub fn monitor(&self, target: Pid) -> Ref {
        let mref = Ref::make();
        if target == self.pid() {
            return mref;
        }
        self.ext().monitors.insert(mref, target);
        if self.runtime().send_signal(target, Signal::Monitor { from: self.pid(), mref }).is_err() {
            self.push_self_signal(Signal::Down { from: target, mref, reason: Reason::Noproc });
        }
        if self.traced(TraceFlags::LINKS) {
            self.emit(Trace::Monitor { target, mref });
        }
        mref
    }

    /// `monitor(process, Name)` for a name nobody holds: a `Down { pid: Pid::UNDEFINED, reason:
    /// Noproc }` at once (Erlang puts `{Name, Node}` in that slot).
    pub fn monitor_unregistered(&self) -> Ref {
        let mref = Ref::make();
        self.ext().monitors.insert(mref, Pid::UNDEFINED);
        self.push_self_signal(Signal::Down { from: Pid::UNDEFINED, mref, reason: Reason::Noproc });
        mref
    }

    /// `demonitor(Ref, [flush?, info])`: stops the monitor; returns `true` if it was active.
    /// With `flush`, a `Down` of this monitor already in the queue is removed too; either way no
    /// `Down` for it is received afterwards (an in-flight one is dropped when handled).
    pub fn demonitor(&self, mref: Ref, flush: bool) -> bool {
        let target = self.take_monitor(mref);
        if let Some(t) = target {
            let _ = self.runtime().send_signal(t, Signal::Demonitor { mref });
            if self.traced(TraceFlags::LINKS) {
                self.emit(Trace::Demonitor { mref });
            }
        }
        if flush {
            self.drain();
            // Inside a selective receive's predicate the save queue is taken out: the scan
            // removes this monitor's `Down` from it (receive.rs).
            crate::receive::note_flush(self, mref);
            self.flush_queued(None, |m| m.downcast_ref::<crate::Down>().is_some_and(|d| d.monitor == mref));
            // The drain may have handled a fatal exit signal: die here, as `exit_signal` does,
            // so no user code runs after it. The exit stays pending (a `catch_unwind` around
            // this call does not save the process).
            if self.pending_exit() {
                unwind_pending();
            }
        }
        target.is_some()
    }

    /// What `gen_server:call` starts with, in one node: Erlang's `monitor(process, To,
    /// [{alias, reply_demonitor}])`, then a send of `value` to `To` as a [`Tagged`] message
    /// (`pid` = this process, `tag` = the monitor). `To` files the node as the `Monitor` signal
    /// and then the message (`Kind::Request`); one push, one wake.
    ///
    /// The reference is also an alias: a [`Process::reply`] to it passes while the monitor is
    /// active, and ends the monitor as it passes (`reply_demonitor`). A dead `To` gives
    /// `Down { reason: Noproc }`, as `monitor` does. When `To`'s bounded mailbox is full, the
    /// monitor goes as a signal and the message comes back, to be sent with
    /// [`SendAsync`](crate::SendAsync).
    pub fn request<T: Send + 'static>(&self, to: Pid, value: T) -> (Ref, Option<Tagged<T>>) {
        let tag = Ref::make_reply_alias();
        if self.call.owner_get().is_none() {
            self.call.set(tag, to); // one call at a time, as a rule: no lock (`call_slot.rs`)
        } else {
            self.ext().monitors.insert(tag, to);
        }
        if self.traced(TraceFlags::LINKS) {
            self.emit(Trace::Monitor { target: to, mref: tag });
        }
        let rt = self.runtime();
        let monitor = || rt.send_signal(to, Signal::Monitor { from: self.pid(), mref: tag }).is_ok();
        let mut rest = None;
        let req = Tagged { pid: self.pid(), tag, value };
        // SAFETY: a request with its `Tagged` payload.
        let monitored = match unsafe { rt.push_node(to, Kind::Request, req) } {
            Delivery::Sent => true,
            Delivery::Refused => false,
            Delivery::Full(req) => {
                rest = Some(req);
                monitor()
            }
            // Dead, or of another node: the monitor as a signal, the message as a plain send.
            Delivery::Absent(req) => {
                let remote = monitor();
                if remote {
                    rt.send_remote(to, crate::Msg::new(req));
                } else {
                    spam_scheduler::contain::drop_value(req); // as a send to a dead pid
                }
                remote
            }
        };
        if !monitored {
            self.push_self_signal(Signal::Down { from: to, mref: tag, reason: Reason::Noproc });
        }
        if rest.is_none() && self.traced(TraceFlags::SEND) {
            self.trace_sent(to, std::any::type_name::<T>());
        }
        (tag, rest)
    }

    /// Sends `value` to the alias `tag` of `to` (made by [`Process::alias`] or
    /// [`Process::request`]) as a [`Tagged`] message (`pid` = this process): what
    /// `gen_server:reply` does. Received if the alias is still active when `to` handles
    /// it, dropped otherwise (and when `to` is dead). Never counted against a bounded mailbox.
    ///
    /// When `tag` is a [`Process::request`] monitor held on this process by `to` (a server
    /// answering its own call), this process drops its side of the monitor here, and the reply
    /// says so (`Kind::ReplyDemonitored`). Nothing observable changes: the caller ends the
    /// whole monitor when the reply passes the alias (`reply_demonitor`), and a `Down` this
    /// process could still send for it would come after the reply and be dropped. What it
    /// saves is the `Demonitor` signal the caller would send back, and its handling here.
    pub fn reply<T: Send + 'static>(&self, to: Pid, tag: Ref, value: T) {
        let kind =
            if tag.is_reply_alias() && self.drop_watcher(tag, to) { Kind::ReplyDemonitored } else { Kind::Reply };
        if self.traced(TraceFlags::SEND) {
            self.trace_sent(to, std::any::type_name::<T>());
        }
        let rt = self.runtime();
        // SAFETY: a reply with its `Tagged` payload.
        match unsafe { rt.push_node(to, kind, Tagged { pid: self.pid(), tag, value }) } {
            Delivery::Sent | Delivery::Refused => {}
            Delivery::Full(_) => unreachable!("replies are never counted against a bound"),
            // The node carries an alias of a remote process as a plain send (`signal_remote`).
            Delivery::Absent(t) if to.is_remote() => rt.send_remote(to, crate::Msg::new(t)),
            Delivery::Absent(t) => spam_scheduler::contain::drop_value(t),
        }
    }

    /// Removes the monitor `tag` that `watcher` holds on this process, if it does.
    fn drop_watcher(&self, tag: Ref, watcher: Pid) -> bool {
        let mut g = self.ext.lock();
        let Some(ext) = g.as_mut() else {
            return false; // holds nothing (and needs no `Ext` for it)
        };
        match ext.monitored_by.remove(&tag) {
            Some(w) if w == watcher => true,
            Some(w) => {
                ext.monitored_by.insert(tag, w); // not `watcher`'s: left alone
                false
            }
            None => false,
        }
    }

    /// `exit(Pid, Reason)`: sends an exit signal. To oneself it is handled at once: if it is
    /// fatal (a non-trapping caller, or `Kill`), the caller unwinds and exits right here, as in
    /// Erlang where the code after `exit(self(), R)` does not run.
    pub fn exit_signal(&self, target: Pid, reason: Reason) {
        let sig = Signal::Exit { from: self.pid(), reason, link: false };
        if target != self.pid() {
            let _ = self.runtime().send_signal(target, sig);
            return;
        }
        // Keep order with what is already queued: drain, then handle ours.
        self.drain();
        self.handle_signal(sig);
        self.publish_queue_len();
        if self.pending_exit() {
            unwind_pending();
        }
    }

    /// `process_flag(trap_exit, flag)`: returns the previous value.
    pub fn set_trap_exit(&self, flag: bool) -> bool {
        self.trap_exit.swap(flag, Relaxed)
    }

    /// The process's registered name, if any.
    pub fn registered_name(&self) -> Option<String> {
        self.ext.lock().as_ref().and_then(|e| e.name.as_deref().map(str::to_string))
    }
}
