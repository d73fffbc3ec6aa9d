#![cfg(spam_loom)]
//! Models of the bounded mailbox's waiter protocol (`vm/src/receive.rs`, "Waiting for room":
//! `Waiters`, `SendAsync`, and the receive side in `Receive::scan`), on the real VM: a
//! `Runtime::loom_new`, a consumer process `C` spawned with `mailbox_capacity: Some(1)`, and two
//! producer processes doing `SendAsync` to it. The model runs the process tasks itself, each on
//! the loom thread it chooses, taking them from the injector (`Handle::loom_next`) and calling
//! `Notified::run`, as `exit_race.rs` does. A loom thread is never a worker, so every lookup
//! pins.
//!
//! A lost wake-up shows as a process that is neither done nor queued at the end: once every
//! model thread is joined, the main thread runs everything queued until the injector is empty,
//! and then each process that should have finished must be dead.

use loom::thread;
use spam_loom_tests::{model, next, run_all, Seen, Turns};
use spam_scheduler::sync::{Arc, Mutex};
use spam_vm::receive::{Receive, SendAsync};
use spam_vm::{Msg, Pid, Reason, Runtime, SpawnOpts};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Log = Arc<Mutex<Vec<String>>>;

fn bounded() -> SpawnOpts {
    SpawnOpts { mailbox_capacity: Some(1), ..SpawnOpts::default() }
}

/// The consumer: receives `n` messages (all `&'static str`), logging each as `got <text>`, then
/// ends (`n == None`: receives forever).
async fn consume(log: Log, n: Option<usize>) {
    let mut got = 0;
    while n.is_none_or(|n| got < n) {
        let m: Msg = Receive::new(|_: &Msg| true, None).await.expect("in a process").expect("no deadline");
        let text = *m.downcast_ref::<&'static str>().expect("only text is sent");
        log.lock().push(format!("got {text}"));
        got += 1;
    }
}

/// Counts the polls of the wrapped future (a `SendAsync`): how often its producer waited.
struct Polls<F> {
    inner: F,
    polls: usize,
}

impl<F: Future + Unpin> Future for Polls<F> {
    type Output = (F::Output, usize);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls += 1;
        let polls = self.polls;
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(r) => Poll::Ready((r, polls)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A producer: `send_async(to, text)`, then logs `sent <text> after <k> polls`.
async fn produce(log: Log, to: Pid, text: &'static str) {
    // `SendAsync` completes with `()`: sent, or dropped because the receiver died (a send to a
    // dead pid); the log line below is what the model checks.
    let ((), polls) = Polls { inner: SendAsync::new(to, text), polls: 0 }.await;
    log.lock().push(format!("sent {text} after {polls} polls"));
}

/// The lines of `log` that start with `prefix`, sorted.
fn lines(log: &[String], prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = log.iter().filter(|l| l.starts_with(prefix)).cloned().collect();
    v.sort();
    v
}

/// `C`'s mailbox (capacity 1) holds `m0`, sent from outside, so both producers find it full.
/// Three model threads then poll `C`, `P1` and `P2` once each, concurrently: `C` receives `m0`
/// (freeing the room, popping a waiter if one is registered, and waking it) and then whatever
/// else arrived; each producer tries, finds the mailbox full or not, registers and retries
/// (rule 1). Everything queued afterwards runs to the end on the main thread; `C` receives
/// `N = 3` messages in all.
///
/// Property (receive.rs, "Waiting for room"): no lost wake-up: every message is received exactly
/// once and every process finishes, in every interleaving. A producer that registered after the
/// receive's pop sees the room in its retry; one registered before is popped and woken; a woken
/// producer that finds the room taken registers again. The outcomes reached include both
/// producers sending at their first poll and each of them waiting.
///
/// Fails on 3f12a57 (a lost wake-up: `C` got only `m0`, both producers wait forever on an empty
/// mailbox). `Runtime::send_message` reserves room with `len.fetch_add(1)` and undoes it with
/// `fetch_sub(1)` when over capacity, so a failed try briefly counts as a message. `len` after
/// each step (`m0` makes it 1):
/// `P2` tries: add sees 1, Full (2); `C` receives `m0`: sub (1), pops no waiter; `P1` tries: add
/// sees 1 (`P2`'s transient), Full, undo (1); `P1` registers and retries: add sees 1, Full (2);
/// `P2` undoes (1), registers and retries: add sees 1 (`P1`'s retry), Full, undo (1); `P1`
/// undoes (0). Both retries failed on a transient, not on a message, so no receive will ever
/// pop them. Fixed: room is reserved with a CAS that never goes over capacity (`fetch_update`);
/// the model passes (10779 executions).
#[test]
fn two_producers_one_room_no_lost_wakeup() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (c, _) = rt.spawn(None, consume(log.clone(), Some(3)), bounded()).unwrap();
        let (p1, _) = rt.spawn(None, produce(log.clone(), c, "p1"), SpawnOpts::default()).unwrap();
        let (p2, _) = rt.spawn(None, produce(log.clone(), c, "p2"), SpawnOpts::default()).unwrap();
        rt.send_message(c, "m0").unwrap_or_else(|_| panic!("the mailbox has room for m0"));
        let (c_task, p1_task, p2_task) = (next(&rt), next(&rt), next(&rt));
        let turns = Turns::new();
        let threads: Vec<_> = [c_task, p1_task]
            .into_iter()
            .map(|task| {
                let turns = turns.clone();
                thread::spawn(move || {
                    turns.step();
                    task.run();
                })
            })
            .collect();
        turns.step();
        p2_task.run();
        for t in threads {
            t.join().unwrap();
        }
        run_all(&rt);

        let log = log.lock().clone();
        assert_eq!(lines(&log, "got"), ["got m0", "got p1", "got p2"], "{log:?}");
        let sent = lines(&log, "sent");
        assert_eq!(sent.len(), 2, "a producer never finished (a lost wake-up): {log:?}");
        for p in [c, p1, p2] {
            assert!(!rt.is_alive(p), "{p:?} is idle but not done: a lost wake-up; {log:?}");
        }
        s.saw(sent.join(", "));
    });
    seen.assert_saw(&[
        "sent p1 after 1 polls, sent p2 after 1 polls",
        "sent p1 after 1 polls, sent p2 after 2 polls",
        "sent p1 after 2 polls, sent p2 after 1 polls",
    ]);
}

/// Both producers wait on `C`'s full mailbox (registered in the order `P1`, `P2`); `C` then
/// receives `m0`, which pops `P1`'s entry and wakes it. `P1`'s woken poll races on another thread
/// with `exit(P1, kill)` from the main thread. `C` receives forever.
///
/// Property (rule 4): a woken waiter that dies before using its room passes the wake on: if the
/// kill is handled first, `P1`'s `SendAsync` is dropped with its entry already popped, and its
/// drop wakes `P2` in its place; if `P1` sends first, its message is received and `C`'s next
/// receive wakes `P2`. Either way `P2` sends, `C` receives `m0`, `p2`, and `p1` exactly when
/// `P1` reported it sent, and both producers end (no lost wake-up).
#[test]
fn woken_waiter_killed_passes_the_wake_on() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rt = std::sync::Arc::new(Runtime::loom_new(8));
        let log: Log = Arc::default();
        let (c, _) = rt.spawn(None, consume(log.clone(), None), bounded()).unwrap();
        let (p1, _) = rt.spawn(None, produce(log.clone(), c, "p1"), SpawnOpts::default()).unwrap();
        let (p2, _) = rt.spawn(None, produce(log.clone(), c, "p2"), SpawnOpts::default()).unwrap();
        rt.send_message(c, "m0").unwrap_or_else(|_| panic!("the mailbox has room for m0"));
        let (c_task, p1_task, p2_task) = (next(&rt), next(&rt), next(&rt));
        p1_task.run(); // full: P1 registers first
        p2_task.run(); // then P2
        c_task.run(); // C receives m0, pops P1's entry and wakes it
        let p1_woken = next(&rt);
        assert!(rt.scheduler().loom_next().is_none(), "only P1 was woken");
        let turns = Turns::new();
        let woken = thread::spawn({
            let (rt, turns) = (rt.clone(), turns.clone());
            move || {
                turns.step();
                p1_woken.run();
                rt.loom_grace_period();
            }
        });
        turns.step();
        rt.exit_from(Pid::UNDEFINED, p1, Reason::Kill);
        woken.join().unwrap();
        run_all(&rt);

        let log = log.lock().clone();
        let p1_sent = log.iter().any(|l| l.starts_with("sent p1"));
        let mut want = vec!["got m0", "got p2"];
        if p1_sent {
            want.insert(1, "got p1");
        }
        assert_eq!(lines(&log, "got"), want, "{log:?}");
        assert!(log.iter().any(|l| l.starts_with("sent p2")), "P2 was never woken: {log:?}");
        assert!(!rt.is_alive(p1) && !rt.is_alive(p2), "a producer is idle but not done: {log:?}");
        assert!(rt.is_alive(c));
        s.saw(if p1_sent { "P1 sent before the kill" } else { "P1 killed after its wake: the wake passed to P2" });
    });
    seen.assert_saw(&["P1 sent before the kill", "P1 killed after its wake: the wake passed to P2"]);
}
