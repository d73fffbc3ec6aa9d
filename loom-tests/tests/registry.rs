#![cfg(spam_loom)]
//! Models of `register` racing with the owner's exit (`vm/src/registry.rs`, "Register vs exit"),
//! on the real VM: `Runtime::loom_new`, the real `Registry` shards, the process `ext` lock and
//! the table's LIVE/DYING states, and the real exit protocol. Process tasks are run by the model
//! on the threads it chooses (`Handle::loom_next`, `Notified::run`).

use loom::thread;
use spam_loom_tests::{model, run_all, Seen, Turns};
use spam_scheduler::budget::yield_now;
use spam_scheduler::sync::{Arc, Mutex};
use spam_vm::error::RegisterError;
use spam_vm::receive::Receive;
use spam_vm::{with_current, Down, Msg, Pid, Runtime, SpawnOpts};

/// A thread outside any process registers `T` under a name while `T` exits on another thread.
///
/// Property: no name outlives its process: once `T` is gone, `whereis` finds nothing and the
/// registry is empty, whether `register` won (`Ok`: the exit then found the name in `ext` and
/// removed it) or lost (`Err(Noproc)`: it saw `T` DYING or gone).
#[test]
fn register_vs_exit_leaves_no_stale_name() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let (t, _) = rt.spawn(None, async {}, SpawnOpts::default()).unwrap();
        let t_task = rt.scheduler().loom_next().unwrap();
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
        let r = rt.register(t, "svc");
        exiting.join().unwrap();
        run_all(&rt);

        assert!(matches!(r, Ok(()) | Err(RegisterError::Noproc)), "{r:?}");
        assert!(!rt.is_alive(t));
        assert_eq!(rt.whereis("svc"), None, "stale name (register returned {r:?})");
        s.saw(format!("{r:?}"));
    });
    seen.assert_saw(&["Ok(())", "Err(Noproc)"]);
}

/// `B` monitors `T`, then registers `T` under a name while `T` exits on another thread; `B`
/// looks the name up as soon as it handles the `Down`.
///
/// Property (docs/semantics.md, semantics 8): the name is freed before the monitor is told: a `Down`
/// is never received while `whereis` still finds the dead process; and no name is left at the
/// end.
#[test]
fn name_is_gone_before_the_down() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let target: Arc<Mutex<Option<Pid>>> = Arc::default();
        let (b_log, b_target) = (log.clone(), target.clone());
        rt.spawn(
            None,
            async move {
                let t = b_target.lock().expect("T is spawned before B runs");
                with_current(|p| p.monitor(t)).unwrap();
                yield_now().await;
                let r = with_current(|p| p.runtime().register(t, "svc")).unwrap();
                b_log.lock().push(format!("register {r:?}"));
                loop {
                    let m = Receive::new(|_: &Msg| true, None).await.unwrap().unwrap();
                    let d = m.downcast_ref::<Down>().expect("only a Down is sent to B");
                    let found = with_current(|p| p.runtime().whereis("svc")).unwrap();
                    b_log.lock().push(format!("down {:?}, whereis {found:?}", d.reason));
                }
            },
            SpawnOpts::default(),
        )
        .unwrap();
        let (t, _) = rt.spawn(None, async {}, SpawnOpts::default()).unwrap();
        *target.lock() = Some(t);
        let b_first = rt.scheduler().loom_next().unwrap();
        let t_task = rt.scheduler().loom_next().unwrap();
        b_first.run(); // B monitors T (T has not run) and yields.
        let b_task = rt.scheduler().loom_next().unwrap();
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
        b_task.run();
        exiting.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        assert_eq!(log.len(), 2, "B was never told (a lost wake-up): {log:?}");
        assert_eq!(log[1], "down Normal, whereis None", "{log:?}");
        assert_eq!(rt.whereis("svc"), None);
        s.saw(log[0].clone());
    });
    seen.assert_saw(&["register Ok(())", "register Err(Noproc)"]);
}
