#![cfg(spam_loom)]
//! Models of a process exit racing with what other processes do to it, on the real VM: a
//! `Runtime::loom_new` (the ordinary runtime with no scheduler or timer threads), real processes
//! spawned with `Runtime::spawn`, the real table pins, mailboxes, signals and exit protocol
//! (`vm/src/exit.rs`). The model runs the process tasks itself, each on the loom thread it
//! chooses, by taking them from the injector (`Handle::loom_next`) and calling `Notified::run`.
//!
//! Processes record what they receive in a log; the models check the log once every thread is
//! done and every queued task has run.
//!
//! On 686c757, `message_then_exit_signal_keep_order` and
//! `kill_reaches_a_process_that_is_not_receiving` fail: a wake that loads a stale `SCHEDULED`
//! task state returns without a write, and the process goes idle with a message or a signal in
//! its mailbox (see `waking_push_reaches_a_waiting_consumer_task` in mailbox.rs).

use loom::thread;
use spam_loom_tests::{model, next, run_all, Seen, Turns};
use spam_scheduler::budget::yield_now;
use spam_scheduler::sync::{Arc, Mutex};
use spam_vm::receive::Receive;
use spam_vm::{with_current, Down, Exit, Msg, Pid, Reason, Runtime, SpawnOpts};

type Log = Arc<Mutex<Vec<String>>>;

/// One line per received message: `exit <reason>`, `down <reason>` or `msg <text>`.
fn describe(m: &Msg) -> String {
    if let Some(e) = m.downcast_ref::<Exit>() {
        format!("exit {:?}", e.reason)
    } else if let Some(d) = m.downcast_ref::<Down>() {
        format!("down {:?}", d.reason)
    } else if let Some(s) = m.downcast_ref::<&'static str>() {
        format!("msg {s}")
    } else {
        "other".to_string()
    }
}

/// Receives forever, appending each message to `log` (the process body of the observer).
async fn log_all(log: Log) {
    loop {
        let m = Receive::new(|_: &Msg| true, None).await.expect("in a process").expect("no deadline");
        let line = describe(&m);
        log.lock().push(line);
    }
}

fn opts(trap_exit: bool) -> SpawnOpts {
    SpawnOpts { trap_exit, ..SpawnOpts::default() }
}

/// `T` exits (its future returns: reason `Normal`) while process `A`, trapping exits, links to
/// it. `T`'s task runs on one thread, `A`'s first poll (the `link`) on another.
///
/// Property (docs/semantics.md, semantics 9): `A` is told exactly once, with either the real reason
/// (`Normal`: the link landed before `T`'s exit took its link set) or `Noproc` (the pin failed,
/// the push was refused by the closed mailbox, or the `Link` was drained by the close and
/// answered); never both, never nothing. `link` itself returns `Ok` (a trapping caller).
#[test]
fn link_vs_exit_tells_exactly_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (t, _) = rt.spawn(None, async {}, opts(false)).unwrap();
        let a_log = log.clone();
        rt.spawn(
            None,
            async move {
                let linked = with_current(|p| p.link(t)).expect("in a process");
                a_log.lock().push(format!("link ok: {}", linked.is_ok()));
                log_all(a_log).await;
            },
            opts(true),
        )
        .unwrap();
        let (t_task, a_task) = (next(&rt), next(&rt));
        let turns = Turns::new();
        let exiting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                rt.loom_grace_period(); // the worker's quiescent points after the poll
            }
        });
        turns.step();
        a_task.run();
        exiting.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        assert_eq!(log.first().map(String::as_str), Some("link ok: true"), "{log:?}");
        let told: Vec<&String> = log.iter().filter(|l| l.starts_with("exit")).collect();
        assert_eq!(told.len(), 1, "told {} times: {log:?}", told.len());
        assert!(told[0] == "exit Normal" || told[0] == "exit Noproc", "{log:?}");
        assert!(!rt.is_alive(t));
        s.saw(told[0].clone());
    });
    seen.assert_saw(&["exit Normal", "exit Noproc"]);
}

/// `T` exits while `A` (not trapping) monitors it; as above, on two threads.
///
/// Property (docs/semantics.md, semantics 7 and 9): exactly one `Down` for the monitor `A` got back,
/// with `Normal` or `Noproc`.
#[test]
fn monitor_vs_exit_downs_exactly_once() {
    watch_vs_exit_downs_exactly_once(|p, t| p.monitor(t));
}

/// `T` exits while `A` sends it a request (`Process::request`: a monitor and a message in one
/// node, as `gen_server::call` does); as above, on two threads.
///
/// Property (docs/semantics.md, semantics 7 and 9): the monitor a request carries is told as a
/// separate `Monitor` signal would be: exactly one `Down`, with `Normal` (the request was filed
/// before the exit) or `Noproc` (the pin failed, the closed mailbox refused the node, or the
/// exit found it in the mailbox and answered it: `exit.rs`, step 4).
#[test]
fn request_vs_exit_downs_exactly_once() {
    watch_vs_exit_downs_exactly_once(|p, t| {
        let (mref, rest) = p.request(t, "request");
        assert!(rest.is_none(), "T's mailbox is not bounded");
        mref
    });
}

/// The two models above: `A` watches `T` with `watch` (which returns the monitor reference)
/// while `T` exits, and must get exactly one `Down` for it, `Normal` or `Noproc`; both are seen.
fn watch_vs_exit_downs_exactly_once(watch: fn(&spam_vm::Process, Pid) -> spam_vm::Ref) {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (t, _) = rt.spawn(None, async {}, opts(false)).unwrap();
        let a_log = log.clone();
        rt.spawn(
            None,
            async move {
                let mref = with_current(|p| watch(p, t)).expect("in a process");
                loop {
                    let m = Receive::new(|_: &Msg| true, None).await.unwrap().unwrap();
                    let d = m.downcast_ref::<Down>().expect("only a Down is sent to A");
                    assert_eq!((d.monitor, d.pid), (mref, t));
                    a_log.lock().push(describe(&m));
                }
            },
            opts(false),
        )
        .unwrap();
        let (t_task, a_task) = (next(&rt), next(&rt));
        let turns = Turns::new();
        let exiting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                rt.loom_grace_period(); // the worker's quiescent points after the poll
            }
        });
        turns.step();
        a_task.run();
        exiting.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        assert_eq!(log.len(), 1, "told {} times: {log:?}", log.len());
        assert!(log[0] == "down Normal" || log[0] == "down Noproc", "{log:?}");
        s.saw(log[0].clone());
    });
    seen.assert_saw(&["down Normal", "down Noproc"]);
}

/// `A` (trapping) linked to `T` beforehand. `T` sends `A` a message and then ends (the link
/// tells `A` `Exit { Normal }`), while `A` receives on another thread.
///
/// Property (docs/semantics.md, semantics 1): signals from one sender to one receiver arrive in the
/// order sent, whatever the receiver is doing: `A` gets the message, then the exit signal, each
/// once, whether it was draining, waiting or not yet polled when each arrived.
#[test]
fn message_then_exit_signal_keep_order() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let target: Arc<Mutex<Option<Pid>>> = Arc::default();
        let a_log = log.clone();
        let a_target = target.clone();
        let (a, _) = rt
            .spawn(
                None,
                async move {
                    let t = a_target.lock().expect("T is spawned before A runs");
                    with_current(|p| p.link(t)).unwrap().unwrap();
                    yield_now().await;
                    log_all(a_log).await;
                },
                opts(true),
            )
            .unwrap();
        let (t, _) = rt
            .spawn(
                None,
                async move {
                    with_current(|p| p.runtime().send_message(a, "m1")).unwrap().unwrap();
                },
                opts(false),
            )
            .unwrap();
        *target.lock() = Some(t);
        let (a_first, t_task) = (next(&rt), next(&rt));
        a_first.run(); // A links to T (T has not run yet) and yields.
        let a_task = next(&rt);
        let turns = Turns::new();
        let exiting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                rt.loom_grace_period(); // the worker's quiescent points after the poll
            }
        });
        turns.step();
        a_task.run();
        let during = log.lock().len();
        exiting.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        assert_eq!(log, ["msg m1", "exit Normal"], "out of order, or never delivered (a lost wake-up)");
        s.saw(format!("received during the race: {during}"));
    });
    seen.assert_saw(&["received during the race: 0", "received during the race: 1", "received during the race: 2"]);
}

/// `exit(T, Shutdown)` from `A` races with `T` ending normally; `B`, trapping and linked to `T`
/// beforehand, watches.
///
/// Property: `T` ends exactly once, with one reason, and `B` is told exactly that reason once:
/// `Shutdown` if the exit signal was handled first, `Normal` if `T`'s future finished first.
#[test]
fn exit_signal_vs_normal_end_one_reason() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let target: Arc<Mutex<Option<Pid>>> = Arc::default();
        let b_log = log.clone();
        let b_target = target.clone();
        rt.spawn(
            None,
            async move {
                let t = b_target.lock().expect("T is spawned before B runs");
                with_current(|p| p.link(t)).unwrap().unwrap();
                log_all(b_log).await;
            },
            opts(true),
        )
        .unwrap();
        let (t, _) = rt.spawn(None, yield_now(), opts(false)).unwrap();
        *target.lock() = Some(t);
        let (b_first, t_first) = (next(&rt), next(&rt));
        b_first.run(); // B links to T.
        t_first.run(); // T takes the link and yields once.
        let t_task = next(&rt);
        let turns = Turns::new();
        let ending = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                rt.loom_grace_period(); // the worker's quiescent points after the poll
            }
        });
        turns.step();
        rt.exit_from(Pid::UNDEFINED, t, Reason::Shutdown);
        ending.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        assert_eq!(log.len(), 1, "B told {} times: {log:?}", log.len());
        assert!(log[0] == "exit Normal" || log[0] == "exit Shutdown", "{log:?}");
        s.saw(log[0].clone());
    });
    seen.assert_saw(&["exit Normal", "exit Shutdown"]);
}

/// `T` awaits something other than a message (a future that never completes, standing for a
/// timer or a blocking call) while the main thread sends it `exit(T, Kill)`, racing with `T`'s
/// first poll. `T` was already scheduled when the kill was sent (just spawned).
///
/// Property (docs/semantics.md, semantics 4 and "signals must be handled promptly"): a signal always
/// wakes its receiver, so `T` dies (`Killed`) even though nothing else will ever wake it; its
/// monitor `B` is told `Killed` exactly once.
#[test]
fn kill_reaches_a_process_that_is_not_receiving() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let target: Arc<Mutex<Option<Pid>>> = Arc::default();
        let b_log = log.clone();
        let b_target = target.clone();
        rt.spawn(
            None,
            async move {
                let t = b_target.lock().expect("T is spawned before B runs");
                with_current(|p| p.monitor(t)).unwrap();
                log_all(b_log).await;
            },
            opts(false),
        )
        .unwrap();
        let (t, _) = rt.spawn(None, std::future::pending::<()>(), opts(false)).unwrap();
        *target.lock() = Some(t);
        let (b_first, t_task) = (next(&rt), next(&rt));
        b_first.run(); // B monitors T; T has not run yet.
        let turns = Turns::new();
        let running = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                rt.loom_grace_period(); // the worker's quiescent points after the poll
            }
        });
        turns.step();
        rt.exit_from(Pid::UNDEFINED, t, Reason::Kill);
        running.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        assert!(!rt.is_alive(t), "the kill was lost: T still waits, nothing will wake it");
        assert_eq!(log, ["down Killed"]);
        s.saw("killed");
    });
    seen.assert_saw(&["killed"]);
}

/// The table's pin protocol (`vm/src/table.rs`): two threads send to `T` while `T` exits. A
/// sender (not a worker) pins `T`'s slot for its push; the exit marks the slot DYING and retires
/// the pid, whose owner pin the exiting thread then drops after a grace period
/// (`Runtime::loom_grace_period`, standing for the worker's quiescent points); whoever drops the
/// last pin reclaims the slot. (The unpinned worker path of table.rs is not modelled: a loom
/// thread is never a worker.)
///
/// Property: sending to a process that is exiting or gone succeeds silently (docs/semantics.md,
/// Semantics 2); the slot is reclaimed exactly once, by the last unpinner, and only then: the
/// next spawn reuses its index with the next serial, the one after gets another index, and
/// `T`'s task is never freed under a pin (a use after free would trip the refcount's debug
/// assertion, or loom's checks on the freed cell).
#[test]
fn sends_racing_exit_reclaim_the_slot_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let (t, _) = rt.spawn(None, async {}, opts(false)).unwrap();
        let t_task = next(&rt);
        let turns = Turns::new();
        let exiting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                // The exit retired T's pid: its owner pin is dropped after a grace period, at the
                // quiescent points that follow the poll on a worker (table.rs).
                rt.loom_grace_period();
            }
        });
        let sender = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                rt.send_message(t, 1u32).is_ok()
            }
        });
        turns.step();
        let sent = rt.send_message(t, 2u32).is_ok();
        exiting.join().unwrap();
        assert!(sender.join().unwrap() && sent, "a send to an exiting process failed");
        run_all(&rt);

        assert!(!rt.is_alive(t));
        assert_eq!(rt.process_count(), 0, "slot not reclaimed, or reclaimed twice");
        let (t2, _) = rt.spawn(None, std::future::pending::<()>(), opts(false)).unwrap();
        assert_eq!((t2.index(), t2.serial()), (t.index(), t.serial() + 1), "slot not reused once");
        let (t3, _) = rt.spawn(None, std::future::pending::<()>(), opts(false)).unwrap();
        assert_ne!(t3.index(), t2.index(), "slot handed out twice");
        s.saw("ok");
    });
    seen.assert_saw(&["ok"]);
}
