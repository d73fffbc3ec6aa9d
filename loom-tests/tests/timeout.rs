#![cfg(spam_loom)]
//! Model of a receive's deadline against the timer thread (`vm/src/timer.rs`, "Firing", and
//! `vm/src/receive.rs`, "Timeouts"), on the real VM: a process waits in a receive with a
//! timeout (its deadline fixed, the process's shared timer armed), then the timer thread's step
//! (`Runtime::loom_fire_timers`: publish the clock reading in `fired`, then wake what is due)
//! runs on one thread while, on another, a message the receive does not take wakes the process
//! and it runs again, asking `Timers::passed` whether its deadline has come.
//!
//! Property: the receive ends with a timeout, exactly once, whatever the order: a poll that
//! finds the deadline not passed leaves the process waiting on the timer, whose wake comes after
//! the reading it published. It fails when the thread publishes `fired` after the wakes
//! (mutation tried): the process, woken by the timer, reads the old reading and waits for a
//! wake that never comes. (A Relaxed store passes, rightly: the wake's own Release/Acquire on
//! the task state carries every store made before it. The order is what matters.)

use loom::thread;
use spam_loom_tests::{model, next, run_all, Seen, Turns};
use spam_scheduler::sync::{Arc, Mutex};
use spam_vm::receive::Receive;
use spam_vm::{Msg, Runtime, SpawnOpts};
use std::time::{Duration, Instant};

#[test]
fn a_fired_deadline_ends_the_receive_whatever_the_order() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let out: Arc<Mutex<Vec<Option<u8>>>> = Arc::default();
        let (p, _) = rt
            .spawn(
                None,
                {
                    let out = out.clone();
                    async move {
                        let pred = |m: &Msg| m.is::<u8>();
                        let got = Receive::new(pred, Some(Duration::from_millis(1))).await.expect("in a process");
                        out.lock().push(got.and_then(|m| m.downcast::<u8>().ok()));
                    }
                },
                SpawnOpts::default(),
            )
            .unwrap();
        next(&rt).run(); // waits: its deadline fixed, the shared timer armed
        let turns = Turns::new();
        let timer = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                rt.loom_fire_timers(Instant::now() + Duration::from_secs(3600));
            }
        });
        turns.step();
        rt.send_message(p, 7u16).unwrap_or_else(|_| panic!("p is alive")); // not taken
        run_all(&rt); // the re-poll, racing the timer's step
        s.saw(if out.lock().is_empty() { "re-poll before the deadline passed" } else { "timed out at once" });
        timer.join().unwrap();
        run_all(&rt); // woken by the timer, if it still waited
        assert_eq!(*out.lock(), vec![None], "the receive times out, once");
    });
    seen.assert_saw(&["re-poll before the deadline passed", "timed out at once"]);
}
