#![cfg(spam_loom)]
//! Models of the lock-free MPSC mailbox (`vm/src/mailbox.rs`), run on the real `Mailbox`
//! through its loom entry points (`loom_push`, `loom_take_all`, `loom_set_waiting`,
//! `loom_close`, which forward to the crate-private operations unchanged).
//!
//! A message here is `(producer, seq)`; each producer sends `seq = 0, 1, ...` in order. It also
//! carries a loom `UnsafeCell` that the producer writes just before the push and the consumer
//! reads after taking it, so loom checks that the push publishes the message (Release CAS vs the
//! consumer's Acquire swap, invariant 2): a push that did not would be a causality violation.
//!
//! Every push and every consumer operation starts with `Turns::step` (see `loom-tests/src/lib.rs`:
//! without it loom never tries a push landing before the consumer's `take_all` fast-path load),
//! and each model checks with `Seen` that loom reached the races it is about.

use loom::thread;
use spam_loom_tests::{model, Seen, Turns};
use spam_scheduler::park::Parker;
use spam_scheduler::sync::atomic::{AtomicUsize, Ordering::*};
use spam_scheduler::sync::{Arc, Mutex, UnsafeCell};
use spam_vm::mailbox::{Mailbox, Pushed};
use spam_vm::Msg;

type M = (usize, usize);

/// What the producers send: `(producer, seq)` plus a cell written by the producer.
struct Payload {
    id: M,
    body: UnsafeCell<usize>,
}

/// Makes message `(p, seq)`, writing its body on this (the producer's) thread.
fn msg(p: usize, seq: usize) -> Payload {
    let m = Payload { id: (p, seq), body: UnsafeCell::new(0) };
    // SAFETY: the payload is not shared yet.
    m.body.with_mut(|b| unsafe { *b = 100 * p + seq });
    m
}

/// Pushes `(p, seq)`; a refused message comes back as its id.
fn push(mb: &Mailbox, p: usize, seq: usize) -> Result<Pushed, M> {
    mb.loom_push(msg(p, seq)).map_err(|m| m.id)
}

/// The ids of `batch`, reading each body on this (the consumer's) thread.
fn values(batch: Vec<Msg>) -> Vec<M> {
    batch
        .into_iter()
        .map(|m| {
            let m = m.downcast::<Payload>().expect("only Payload is sent");
            // SAFETY: the consumer owns the taken message; loom checks that the producer's write
            // happens-before this read.
            let body = m.body.with(|b| unsafe { *b });
            assert_eq!(body, 100 * m.id.0 + m.id.1);
            m.id
        })
        .collect()
}

/// Checks that `got` holds each of `expected` exactly once, and each producer's messages in the
/// order it sent them.
fn assert_complete_and_ordered(got: &[M], expected: &[M]) {
    let mut sorted = got.to_vec();
    sorted.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(sorted, want, "lost or duplicated: got {got:?}");
    for p in 0..=expected.iter().map(|m| m.0).max().unwrap_or(0) {
        let seqs: Vec<usize> = got.iter().filter(|m| m.0 == p).map(|m| m.1).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "producer {p} reordered: {got:?}");
    }
}

/// Pushes `(p, seq)`, recording it in `refused` if the mailbox refuses it.
fn push_or_refuse(mb: &Mailbox, refused: &Mutex<Vec<M>>, p: usize, seq: usize) {
    if let Err(v) = push(mb, p, seq) {
        refused.lock().push(v);
    }
}

/// With a close racing the pushes: every one of `expected` was delivered or refused, exactly
/// once and in order per producer, and each producer's refused messages all come after its
/// delivered ones (what was delivered is a prefix of what it sent).
fn assert_delivered_then_refused(delivered: &[M], refused: &[M], expected: &[M]) {
    let mut all = delivered.to_vec();
    all.extend(refused);
    assert_complete_and_ordered(&all, expected);
    for p in 0..=expected.iter().map(|m| m.0).max().unwrap_or(0) {
        let d = delivered.iter().filter(|m| m.0 == p).count();
        assert!(
            refused.iter().filter(|m| m.0 == p).all(|m| m.1 >= d),
            "producer {p}: a refused push came before a delivered one"
        );
    }
}

/// Two producers push two messages each while the consumer takes everything twice; a final
/// `take_all` after the producers are done collects the rest.
///
/// Property: every message is taken exactly once (none lost, none duplicated), and each
/// producer's messages come out in the order it pushed them, across batch boundaries.
#[test]
fn two_producers_no_loss_no_dup_fifo_per_producer() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let mb = Arc::new(Mailbox::new());
        let turns = Turns::new();
        let producers: Vec<_> = (0..2usize)
            .map(|p| {
                let (mb, turns) = (mb.clone(), turns.clone());
                thread::spawn(move || {
                    for seq in 0..2usize {
                        turns.step();
                        assert!(push(&mb, p, seq).is_ok());
                    }
                })
            })
            .collect();
        turns.step();
        let mut got = values(mb.loom_take_all());
        turns.step();
        got.extend(values(mb.loom_take_all()));
        s.saw(format!("concurrent takes got {}", got.len()));
        for t in producers {
            t.join().unwrap();
        }
        got.extend(values(mb.loom_take_all()));
        assert_complete_and_ordered(&got, &[(0, 0), (0, 1), (1, 0), (1, 1)]);
    });
    seen.assert_saw(&["concurrent takes got 0", "concurrent takes got 2", "concurrent takes got 4"]);
}

/// Three producers push one message each while the consumer takes once.
///
/// Property: as above with three concurrent CAS pushers: nothing lost or duplicated.
#[test]
fn three_producers_no_loss_no_dup() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let mb = Arc::new(Mailbox::new());
        let turns = Turns::new();
        let producers: Vec<_> = (0..3usize)
            .map(|p| {
                let (mb, turns) = (mb.clone(), turns.clone());
                thread::spawn(move || {
                    turns.step();
                    assert!(push(&mb, p, 0).is_ok())
                })
            })
            .collect();
        turns.step();
        let mut got = values(mb.loom_take_all());
        s.saw(format!("concurrent take got {}", got.len()));
        for t in producers {
            t.join().unwrap();
        }
        got.extend(values(mb.loom_take_all()));
        assert_complete_and_ordered(&got, &[(0, 0), (1, 0), (2, 0)]);
    });
    seen.assert_saw(&["concurrent take got 0", "concurrent take got 1", "concurrent take got 2"]);
}

/// The consumer's receive loop against two producers: take everything; if not done, announce
/// waiting (`set_waiting`) and park on the real `Parker`; a producer whose push returns
/// `WakeConsumer` unparks it.
///
/// Property: no lost wake-up: the consumer never parks forever while a message is queued (loom
/// reports a deadlock otherwise); a wake is never spurious (after each park the consumer finds a
/// message); and exactly one `WakeConsumer` is handed out per successful `set_waiting`.
#[test]
fn waiting_flag_never_loses_a_wakeup() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let mb = Arc::new(Mailbox::new());
        let parker = Arc::new(Parker::new());
        let wakes = Arc::new(AtomicUsize::new(0));
        let turns = Turns::new();
        let producers: Vec<_> = (0..2usize)
            .map(|p| {
                let (mb, parker, wakes, turns) = (mb.clone(), parker.clone(), wakes.clone(), turns.clone());
                thread::spawn(move || {
                    turns.step();
                    match push(&mb, p, 0) {
                        Ok(Pushed::WakeConsumer) => {
                            wakes.fetch_add(1, Relaxed);
                            parker.unpark();
                        }
                        Ok(Pushed::Queued) => {}
                        Err(_) => panic!("mailbox is never closed here"),
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        let mut waits = 0;
        loop {
            turns.step();
            got.extend(values(mb.loom_take_all()));
            if got.len() == 2 {
                break;
            }
            turns.step();
            if mb.loom_set_waiting() {
                waits += 1;
                parker.park();
                assert!(mb.has_pending(), "woken with nothing queued");
            } else {
                s.saw("set_waiting refused: a push landed");
            }
        }
        for t in producers {
            t.join().unwrap();
        }
        assert_complete_and_ordered(&got, &[(0, 0), (1, 0)]);
        assert_eq!(wakes.load(Relaxed), waits, "a wait without its wake, or a wake without a wait");
        s.saw(format!("parked {waits} times"));
    });
    seen.assert_saw(&["parked 0 times", "parked 1 times", "parked 2 times", "set_waiting refused: a push landed"]);
}

/// The owner exits (takes once, then `close`) while two producers push two messages each.
///
/// Property: every message either lands before the close (and is returned by `take_all` or by
/// `close`) or is refused and handed back to its sender: never lost, never both. Once one push
/// of a producer is refused, all its later ones are too (what was delivered is a prefix of what
/// it sent), and a push after the close is refused.
#[test]
fn close_races_push_delivered_or_refused() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let mb = Arc::new(Mailbox::new());
        let refused = Arc::new(Mutex::new(Vec::new()));
        let turns = Turns::new();
        let producers: Vec<_> = (0..2usize)
            .map(|p| {
                let (mb, refused, turns) = (mb.clone(), refused.clone(), turns.clone());
                thread::spawn(move || {
                    for seq in 0..2usize {
                        turns.step();
                        push_or_refuse(&mb, &refused, p, seq);
                    }
                })
            })
            .collect();
        turns.step();
        let mut delivered = values(mb.loom_take_all());
        turns.step();
        let closed = values(mb.loom_close());
        s.saw(format!("take got {}, close got {}", delivered.len(), closed.len()));
        delivered.extend(closed);
        for t in producers {
            t.join().unwrap();
        }
        assert!(mb.is_closed());
        assert!(mb.loom_take_all().is_empty(), "a node slipped in after close");
        assert_eq!(push(&mb, 9, 9), Err((9, 9)), "push after close accepted");
        let refused = refused.lock().clone();
        assert_delivered_then_refused(&delivered, &refused, &[(0, 0), (0, 1), (1, 0), (1, 1)]);
    });
    // Pushes landing before the take, between take and close, and after the close (refused).
    seen.assert_saw(&[
        "take got 0, close got 0",
        "take got 0, close got 2",
        "take got 2, close got 2",
        "take got 1, close got 0",
        "take got 4, close got 0",
    ]);
}

/// The receive loop as a process runs it: the consumer is a real task (`new_task`, polled with
/// `Notified::run`) whose poll takes everything and, if it is not done, calls `set_waiting` and
/// returns `Pending`. A producer on another thread pushes one message and, on `WakeConsumer`,
/// wakes the task (`wake_by_ref`), as `Runtime::send_message` does. The task was woken once
/// before the producer started (it is `SCHEDULED`, as a process just spawned or woken is).
///
/// Property: no lost wake-up across the mailbox and the task state machine: the task always
/// receives the message (it is polled again after the push, or its running poll sees it).
///
/// (`waiting_flag_never_loses_a_wakeup` cannot see this: its consumer parks on a mutex, which
/// orders everything. Fails on 686c757: the push's CAS is `Release` only, so the producer has no
/// happens-before with the consumer's `SCHEDULED -> RUNNING`; its `wake_by_ref` may load the
/// stale `SCHEDULED` and return without a write, while the consumer's poll ends idle. The fix
/// proposed with these models: `wake_by_ref` confirms "already scheduled" with an RMW.)
#[test]
fn waking_push_reaches_a_waiting_consumer_task() {
    use spam_loom_tests::Recorder;
    use spam_scheduler::task::new_task;
    use std::task::Poll;

    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let rec = Recorder::default();
        let mb = Arc::new(Mailbox::new());
        let got = Arc::new(Mutex::new(Vec::new()));
        let task = new_task(rec.as_dyn(), (), {
            let (mb, got) = (mb.clone(), got.clone());
            move |_| {
                std::future::poll_fn(move |_cx| loop {
                    let mut g = got.lock();
                    g.extend(values(mb.loom_take_all()));
                    if !g.is_empty() {
                        return Poll::Ready(());
                    }
                    if mb.loom_set_waiting() {
                        return Poll::Pending;
                    }
                })
            }
        });
        task.wake_by_ref();
        let first = rec.pop().expect("the first wake schedules");
        let turns = Turns::new();
        let producer = thread::spawn({
            let (mb, task, turns) = (mb.clone(), task.clone(), turns.clone());
            move || {
                turns.step();
                match push(&mb, 0, 0) {
                    Ok(Pushed::WakeConsumer) => task.wake_by_ref(),
                    Ok(Pushed::Queued) => {}
                    Err(_) => panic!("mailbox is never closed here"),
                }
            }
        });
        turns.step();
        let first_poll = first.run();
        producer.join().unwrap();
        while let Some(t) = rec.pop() {
            t.run();
        }
        assert!(task.is_done(), "lost wake-up: the message sits in the mailbox of an idle task");
        assert_eq!(*got.lock(), [(0, 0)]);
        s.saw(format!("first poll {first_poll:?}"));
    });
    seen.assert_saw(&["first poll Complete", "first poll Pending"]);
}

/// Chains (`Mailbox::push_chain`, what the sender-side outbox pushes: `vm/src/outbox.rs`):
/// producer 0 pushes a chain of two then a single message, producer 1 two singles, while the
/// consumer takes twice and then closes.
///
/// Property: a chain lands whole or is refused whole (never split by a take or a close), its
/// messages in the order they were added, and per-producer order holds across chains and
/// singles (invariant 3); nothing is lost or duplicated.
#[test]
fn chains_land_whole_in_order_or_are_refused_whole() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let mb = Arc::new(Mailbox::new());
        let refused = Arc::new(Mutex::new(Vec::new()));
        let turns = Turns::new();
        let p0 = {
            let (mb, refused, turns) = (mb.clone(), refused.clone(), turns.clone());
            thread::spawn(move || {
                turns.step();
                if let Err(v) = mb.loom_push_chain(vec![msg(0, 0), msg(0, 1)]) {
                    refused.lock().extend(v.into_iter().map(|m| m.id));
                }
                turns.step();
                push_or_refuse(&mb, &refused, 0, 2);
            })
        };
        let p1 = {
            let (mb, refused, turns) = (mb.clone(), refused.clone(), turns.clone());
            thread::spawn(move || {
                for seq in 0..2usize {
                    turns.step();
                    push_or_refuse(&mb, &refused, 1, seq);
                }
            })
        };
        turns.step();
        let first = values(mb.loom_take_all());
        let whole = |got: &[M]| got.contains(&(0, 0)) == got.contains(&(0, 1));
        assert!(whole(&first), "a chain split by a take: {first:?}");
        turns.step();
        let closed = values(mb.loom_close());
        assert!(whole(&closed), "a chain split by the close: {closed:?}");
        p0.join().unwrap();
        p1.join().unwrap();
        let refused = refused.lock().clone();
        assert!(whole(&refused), "a chain split by a refusal: {refused:?}");
        s.saw(format!("first take {}, chain refused {}", first.len(), refused.contains(&(0, 0))));
        let mut delivered = first;
        delivered.extend(closed);
        assert_delivered_then_refused(&delivered, &refused, &[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]);
    });
    seen.assert_saw(&[
        "first take 0, chain refused true",
        "first take 2, chain refused false",
        "first take 0, chain refused false",
    ]);
}
