#![cfg(spam_loom)]
//! Models of the VM's shutdown (`vm/src/runtime.rs`, `Runtime::shutdown`; `vm/src/table.rs`,
//! "Shutdown") racing with what another thread does to a process, on the real VM: a
//! `Runtime::loom_new`, whose scheduler has no worker threads and whose timers have no thread,
//! so the real `Runtime::shutdown` runs all its steps on the model thread that calls it: the
//! flag, the timers, the scheduler's shutdown (nothing to join; the injector is cancelled; a wake
//! from now on cancels its task), the table drain (`Table::drain`: limbo pins released, every
//! LIVE slot won by the `mark_dying` CAS, its task cancelled with `TaskRef::cancel`, its owner pin
//! released), the registry. No entry point of its own is needed.
//!
//! The model runs process tasks itself (`Handle::loom_next`, `Notified::run`), as the exit
//! models do. A loom thread is never a worker, so every lookup pins. In the real VM the workers
//! are joined before the drain, so no poll overlaps it; here a process may be polled on one
//! model thread while another drains: a stronger setting than the VM's, which the drain's CAS is
//! meant to cover anyway (table.rs: "exactly one of the process's own exit and the shutdown
//! drain wins").
//!
//! Drops of user values (messages, process futures) are counted with std types and recorded
//! with the role of the model thread they ran on (a loom thread-local), so each model checks
//! "dropped exactly once" and reports where.

use loom::thread;
use spam_loom_tests::{model, next, Seen, Turns};
use spam_scheduler::sync::{Arc, Mutex};
use spam_vm::receive::Receive;
use spam_vm::{with_current, Msg, Pid, Runtime, SpawnOpts};

loom::thread_local! {
    /// What this model thread stands for ("main" unless set).
    static ROLE: std::cell::Cell<&'static str> = std::cell::Cell::new("main");
}

fn set_role(r: &'static str) {
    ROLE.with(|c| c.set(r));
}

/// Where each drop of one kind of value ran (by role), in order. A std lock held for an
/// instant: it never spans a loom operation.
#[derive(Clone, Default)]
struct Drops(std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>);

impl Drops {
    fn record(&self) {
        let role = ROLE.with(|c| c.get());
        self.0.lock().unwrap().push(role);
    }
    fn get(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().clone()
    }
    /// The one role that dropped the value; panics unless there was exactly one drop.
    fn once(&self, what: &str) -> &'static str {
        let d = self.get();
        assert_eq!(d.len(), 1, "{what} dropped {} times: {d:?}", d.len());
        d[0]
    }
}

/// A value that records its drop (a message, or a guard living in a process's future).
struct Tracked(Drops);

impl Drop for Tracked {
    fn drop(&mut self) {
        // No assertion here: the VM contains panics in user destructors.
        self.0.record();
    }
}

/// A process that receives (and drops) messages forever; `guard` drops with its future.
async fn receive_forever(guard: Tracked) {
    let _guard = guard;
    loop {
        let m: Msg = Receive::new(|_: &Msg| true, None).await.expect("in a process").expect("no deadline");
        drop(m);
    }
}

/// After everything: the VM is empty and nothing is left in a queue nobody reads.
fn assert_all_gone(rt: &Runtime, pids: &[Pid]) {
    for &p in pids {
        assert!(!rt.is_alive(p), "{p:?} outlived the shutdown");
    }
    assert_eq!(rt.process_count(), 0, "a slot was not reclaimed (an owner pin not released), or twice");
    assert!(rt.scheduler().loom_next().is_none(), "a task left in the injector after shutdown");
}

/// A thread that is not a worker (`Vm::send` from outside) sends a message to `T`, which waits
/// in a receive (its first poll ran), while the main thread runs `Runtime::shutdown`.
///
/// Property: the message is dropped exactly once: refused (the pin failed on a DYING slot, or the
/// push found the mailbox closed) and dropped by the sender, or delivered and dropped with the
/// process when it is torn down (by the drain's cancel, or by the sender itself: its wake, seeing
/// the shutdown, cancels the task, worker.rs "Wakes after shutdown"). `T`'s future is dropped
/// exactly once; its slot is reclaimed (`process_count() == 0`); nothing is left in the
/// injector; no loom-detected overlap of the future's cell or the private state.
#[test]
fn send_racing_shutdown_drops_the_message_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let (msg_drops, fut_drops) = (Drops::default(), Drops::default());
        let (t, _) = rt.spawn(None, receive_forever(Tracked(fut_drops.clone())), SpawnOpts::default()).unwrap();
        next(&rt).run(); // T waits for a message.
        let turns = Turns::new();
        let sender = thread::spawn({
            let (rt, turns, msg_drops) = (rt.clone(), turns.clone(), msg_drops.clone());
            move || {
                set_role("sender");
                turns.step();
                assert!(rt.send_message(t, Tracked(msg_drops)).is_ok(), "unbounded: a send never fails");
            }
        });
        set_role("shutdown");
        turns.step();
        rt.shutdown();
        sender.join().unwrap();
        set_role("main");

        let msg = msg_drops.once("the message");
        let fut = fut_drops.once("T's future");
        assert_all_gone(&rt, &[t]);
        s.saw(match (msg, fut) {
            ("sender", "shutdown") => "refused",
            ("shutdown", "shutdown") => "delivered, torn down by the shutdown",
            ("sender", "sender") => "delivered, torn down by the sender's wake after shutdown",
            other => panic!("unexpected drops {other:?}"),
        });
    });
    seen.assert_saw(&[
        "refused",
        "delivered, torn down by the shutdown",
        "delivered, torn down by the sender's wake after shutdown",
    ]);
}

/// Process `A`, polled on one model thread (a loom thread pins, like any thread that is not a
/// worker), monitors `T` (waiting in a receive) and ends, while the main thread runs
/// `Runtime::shutdown`. `A`'s thread then lets a grace period pass, as a worker would after the
/// poll (its owner pin waits in the limbo if its exit won).
///
/// Property: the `Monitor` signal, and the `Demonitor` of `A`'s exit, land before `T`'s mailbox
/// closes and are dropped with it, or are refused; either way `T`'s future is dropped exactly
/// once, by the shutdown or by `A`'s wake after it; `A`'s future is dropped once; both slots are
/// reclaimed exactly once (`A`'s exit and the drain race for LIVE → DYING: whichever wins
/// releases the owner pin, once; a double release trips the pin count's debug assertion), and
/// nothing is left in the injector.
#[test]
fn monitor_signal_racing_shutdown() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let (t_drops, a_drops) = (Drops::default(), Drops::default());
        let (t, _) = rt.spawn(None, receive_forever(Tracked(t_drops.clone())), SpawnOpts::default()).unwrap();
        next(&rt).run(); // T waits for a message.
        let guard = Tracked(a_drops.clone());
        let (a, _) = rt
            .spawn(
                None,
                async move {
                    let _guard = guard;
                    with_current(|p| p.monitor(t)).expect("in a process");
                },
                SpawnOpts::default(),
            )
            .unwrap();
        let a_task = next(&rt);
        let turns = Turns::new();
        let monitoring = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                set_role("A");
                turns.step();
                a_task.run();
                rt.loom_grace_period();
            }
        });
        set_role("shutdown");
        turns.step();
        rt.shutdown();
        monitoring.join().unwrap();
        set_role("main");

        assert_eq!(a_drops.once("A's future"), "A", "A's future completes in its poll");
        let t_by = t_drops.once("T's future");
        assert_all_gone(&rt, &[t, a]);
        s.saw(format!("T torn down by {t_by}"));
    });
    seen.assert_saw(&["T torn down by shutdown", "T torn down by A"]);
}

/// `T`'s future completes while it is polled on one model thread (its exit protocol then
/// runs, and the thread lets a grace period pass, as a worker would after the poll) while the
/// main thread runs `Runtime::shutdown`.
///
/// Property: exactly one of `T`'s exit and the drain wins LIVE → DYING (`Table::mark_dying`);
/// the owner pin is released exactly once (by the grace period or the drain's limbo sweep if the
/// exit won, by the drain if it won: a second release trips the pin count's debug assertion, a
/// missing one leaves `process_count() == 1`); the slot is reclaimed and the task cell freed
/// once (a leaked cell is a leaked loom `Arc`, a double free a loom error); `T`'s future is
/// dropped once, by its own poll.
#[test]
fn exit_racing_shutdown_releases_the_slot_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let drops = Drops::default();
        let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let guard = Tracked(drops.clone());
        let t_log = log.clone();
        let (t, _) = rt
            .spawn(
                None,
                async move {
                    let _guard = guard;
                    t_log.lock().push("T polled");
                },
                SpawnOpts::default(),
            )
            .unwrap();
        let t_task = next(&rt);
        let turns = Turns::new();
        let exiting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                set_role("T");
                turns.step();
                t_task.run();
                rt.loom_grace_period();
            }
        });
        set_role("shutdown");
        turns.step();
        log.lock().push("drain start");
        rt.shutdown();
        log.lock().push("drain done");
        exiting.join().unwrap();
        set_role("main");

        assert_eq!(drops.once("T's future"), "T");
        assert_all_gone(&rt, &[t]);
        let log = log.lock().clone();
        s.saw(match log.iter().position(|&l| l == "T polled").unwrap() {
            0 => "T ran before the shutdown",
            1 => "T ran during the shutdown",
            _ => "T ran after the drain",
        });
    });
    seen.assert_saw(&["T ran before the shutdown", "T ran during the shutdown", "T ran after the drain"]);
}
