#![cfg(spam_loom)]
//! Models of the tracing protocol (`vm/src/trace.rs`, "The protocol") on the real VM: a
//! `Runtime::loom_new`, real processes, the real `ext` lock, table states, send path and exit
//! protocol. `Runtime::trace` runs on one loom thread while the traced process (or its tracer)
//! runs on another; the model runs the process tasks itself (`Handle::loom_next`,
//! `Notified::run`).
//!
//! Each model fails when its rule is broken: `trace_vs_exit_reports_exit_exactly_once` when
//! `Runtime::trace` does not check the slot is LIVE under the `ext` lock (it then returns `true`
//! for a process whose exit already took its `ext`: the exit is never reported), and
//! `a_stale_tracer_death_does_not_clear_a_new_tracer` when the clear does not check the tracer
//! it found dead is still the one set.

use loom::thread;
use spam_loom_tests::{model, next, run_all, Seen, Turns};
use spam_scheduler::budget::yield_now;
use spam_scheduler::sync::{Arc, Mutex};
use spam_vm::receive::Receive;
use spam_vm::{with_current, Msg, Pid, Runtime, SpawnOpts, TraceEvent, TraceFlags};

type Log = Arc<Mutex<Vec<String>>>;

/// A tracer: receives forever, logging each trace event's name.
async fn collect(log: Log) {
    loop {
        let m = Receive::new(|_: &Msg| true, None).await.expect("in a process").expect("no deadline");
        if let Some(e) = m.downcast_ref::<TraceEvent>() {
            log.lock().push(e.event.name().to_string());
        }
    }
}

/// `trace(T, PROCS, R)` on one thread while `T` exits (its future returns) on another.
///
/// Property ("Exit exactly once"): if `trace` returned `true`, the tracer gets exactly one
/// `exit` event; if it returned `false`, none. Never two, never a lost one after `true`.
#[test]
fn trace_vs_exit_reports_exit_exactly_once() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (r, _) = rt.spawn(None, collect(log.clone()), SpawnOpts::default()).unwrap();
        let (t, _) = rt.spawn(None, async {}, SpawnOpts::default()).unwrap();
        let (r_task, t_task) = (next(&rt), next(&rt));
        r_task.run(); // the tracer waits
        let turns = Turns::new();
        let exiting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                t_task.run();
                rt.loom_grace_period();
            }
        });
        turns.step();
        let traced = rt.trace(t, TraceFlags::PROCS, r);
        exiting.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        let exits = log.iter().filter(|l| *l == "exit").count();
        assert_eq!(exits, usize::from(traced), "trace returned {traced}: {log:?}");
        assert_eq!(rt.trace_info(t), None);
        s.saw(format!("traced {traced}"));
    });
    seen.assert_saw(&["traced true", "traced false"]);
}

/// `T`, traced for `send` with tracer `R`, sends while `R` exits on another thread; then (`R`
/// surely gone) sends again.
///
/// Property ("Tracer death"): no crash, whatever the interleaving (the event is queued before
/// `R`'s mailbox closes and dropped with it, refused by the closed mailbox or the failed pin, or
/// not sent because `R` is found dead); and once an event finds `R` dead, `T`'s flags are clear,
/// seen by `T` itself without anyone asking (`trace_info` clears them too).
#[test]
fn tracer_death_clears_the_flags() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (r, _) = rt.spawn(None, async {}, SpawnOpts::default()).unwrap();
        let t_log = log.clone();
        let (t, _) = rt
            .spawn(
                None,
                async move {
                    let me = with_current(|p| p.pid()).unwrap();
                    let _ = with_current(|p| p.send(me, "first")).unwrap();
                    t_log.lock().push(format!("after first: {:?}", with_current(|p| p.trace_flags()).unwrap()));
                    yield_now().await;
                    let _ = with_current(|p| p.send(me, "second")).unwrap();
                    t_log.lock().push(format!("after second: {:?}", with_current(|p| p.trace_flags()).unwrap()));
                },
                SpawnOpts::default(),
            )
            .unwrap();
        assert!(rt.trace(t, TraceFlags::SEND, r));
        let (r_task, t_task) = (next(&rt), next(&rt));
        let turns = Turns::new();
        let dying = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                r_task.run();
                rt.loom_grace_period();
            }
        });
        turns.step();
        t_task.run(); // the first send, racing with R's exit
        dying.join().unwrap();
        run_all(&rt); // the second send: R is gone

        let log = log.lock().clone();
        let empty = format!("{:?}", TraceFlags::empty());
        assert_eq!(log.get(1), Some(&format!("after second: {empty}")), "{log:?}");
        s.saw(log[0].clone());
        assert!(!rt.is_alive(t));
    });
    let empty = format!("{:?}", TraceFlags::empty());
    seen.assert_saw(&[&format!("after first: {empty}"), &format!("after first: {:?}", TraceFlags::SEND)]);
}

/// `T`'s tracer `R1` is dead; `T` sends (its event finds `R1` dead and clears the flags) while
/// another thread sets a new, live tracer `R2`.
///
/// Property: a stale death never clears a newer tracer: if `trace(T, SEND, R2)` returned `true`,
/// `T` ends traced by `R2` (the clear, checked against `R1` under the lock, either came first
/// or found `R2` and did nothing).
#[test]
fn a_stale_tracer_death_does_not_clear_a_new_tracer() {
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (r1, _) = rt.spawn(None, async {}, SpawnOpts::default()).unwrap();
        let (r2, _) = rt.spawn(None, collect(log.clone()), SpawnOpts::default()).unwrap();
        let (t, _) = rt
            .spawn(
                None,
                async move {
                    let _ = with_current(|p| p.send(Pid::UNDEFINED, "m")).unwrap();
                    std::future::pending::<()>().await;
                },
                SpawnOpts::default(),
            )
            .unwrap();
        assert!(rt.trace(t, TraceFlags::SEND, r1));
        let (r1_task, r2_task, t_task) = (next(&rt), next(&rt), next(&rt));
        r1_task.run(); // R1 exits
        rt.loom_grace_period();
        r2_task.run(); // R2 waits
        let turns = Turns::new();
        let setting = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                rt.trace(t, TraceFlags::SEND, r2)
            }
        });
        turns.step();
        t_task.run();
        let set = setting.join().unwrap();
        run_all(&rt);

        assert!(set);
        assert_eq!(rt.trace_info(t), Some((TraceFlags::SEND, r2)));
    });
}
