//! Messaging rules: per-sender order, selective receive, dynamic messages, sends to dead pids.

use spam::{receive, receive_match, recv, self_pid, send, spawn, Msg, Reason, Vm};
use std::time::Duration;

fn vm() -> Vm {
    Vm::builder().schedulers(2).build()
}

/// DESIGN Semantics 1 (Erlang: signals from one sender to one receiver arrive in send order):
/// with many senders racing, each sender's messages arrive in the order it sent them.
#[test]
fn message_order_per_sender_pair_under_many_concurrent_senders() {
    const SENDERS: usize = 16;
    const PER: u64 = 2_000;
    let reason = vm().run(async {
        let me = self_pid();
        for s in 0..SENDERS {
            spawn(async move {
                for i in 0..PER {
                    send(me, (s, i));
                }
            });
        }
        let mut next = [0u64; SENDERS];
        for _ in 0..SENDERS as u64 * PER {
            let (s, i): (usize, u64) = recv().await;
            assert_eq!(i, next[s], "sender {s} out of order");
            next[s] += 1;
        }
        assert!(next.iter().all(|&n| n == PER));
    });
    assert_eq!(reason, Reason::Normal);
}

/// Erlang selective receive: a receive that matches a later message leaves the skipped ones in
/// the mailbox, in their original order.
#[test]
fn selective_receive_keeps_skipped_messages_in_order() {
    let reason = vm().run(async {
        let me = self_pid();
        for i in 0..10u32 {
            send(me, i);
        }
        send(me, "marker");
        let m = receive_match(|m: &Msg| m.is::<&str>()).await;
        assert_eq!(m.downcast::<&str>().unwrap(), "marker");
        let odd = receive_match(|m: &Msg| m.downcast_ref::<u32>().is_some_and(|n| n % 2 == 1)).await;
        assert_eq!(odd.downcast::<u32>().unwrap(), 1);
        let rest: Vec<u32> = {
            let mut v = Vec::new();
            for _ in 0..9 {
                v.push(recv::<u32>().await);
            }
            v
        };
        assert_eq!(rest, vec![0, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
    assert_eq!(reason, Reason::Normal);
}

/// A selective receive suspended while unmatched messages keep arriving still sees them all, in
/// order, once it matches.
#[test]
fn selective_receive_suspended_across_arrivals() {
    let reason = vm().run(async {
        let me = self_pid();
        spawn(async move {
            for i in 0..100u32 {
                send(me, i);
            }
            send(me, "go");
        });
        let _ = recv::<&str>().await;
        for i in 0..100u32 {
            assert_eq!(recv::<u32>().await, i);
        }
    });
    assert_eq!(reason, Reason::Normal);
}

/// Polls `f` once, by hand, inside the calling process's poll (so two receives of one process
/// can be interleaved without a `select`).
fn poll_once<F: std::future::Future + ?Sized>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// A suspended selective receive remembers where its scan stopped. When the message it stopped
/// after is taken by another receive (its node freed, and reused by the next send of the same
/// size), the suspended receive must scan again from the front: Erlang's receive sees every
/// message that arrived, whatever else was received meanwhile.
#[test]
fn a_suspended_receive_rescans_when_the_message_it_stopped_after_is_taken() {
    struct Hit(u64);
    let reason = vm().run(async {
        let me = self_pid();
        send(me, 1u64);
        send(me, 2u64);
        let mut waiting = Box::pin(receive_match(|m: &Msg| m.is::<Hit>()));
        assert!(poll_once(waiting.as_mut()).is_pending(), "nothing matches yet");
        assert_eq!(spam::recv_match::<u64>(|v| *v == 2).await, 2);
        send(me, Hit(9));
        let std::task::Poll::Ready(m) = poll_once(waiting.as_mut()) else {
            panic!("the suspended receive missed a message queued after the one taken")
        };
        assert_eq!(m.downcast::<Hit>().ok().map(|h| h.0), Some(9));
        assert_eq!(recv::<u64>().await, 1);
    });
    assert_eq!(reason, Reason::Normal);
}

/// A receive predicate that panics (Erlang: a guard that fails matches nothing) loses no
/// message: every message, the one it was judging included, stays queued in order.
#[test]
fn a_panicking_receive_predicate_leaves_every_message_queued_in_order() {
    let reason = vm().run(async {
        let me = self_pid();
        for i in 0..5u32 {
            send(me, i);
        }
        let mut bad = Box::pin(receive_match(|m: &Msg| {
            assert_ne!(m.downcast_ref::<u32>(), Some(&2), "a predicate panics on 2");
            false
        }));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(bad.as_mut())));
        assert!(caught.is_err());
        drop(bad);
        send(me, 5u32);
        assert_eq!(spam::recv_match::<u32>(|v| *v == 3).await, 3, "a later scan sees the rest");
        for i in [0, 1, 2, 4, 5] {
            assert_eq!(recv::<u32>().await, i);
        }
    });
    assert_eq!(reason, Reason::Normal);
}

/// DESIGN Semantics 2: send to a dead or never-existing pid succeeds silently: `send` returns
/// (the caller is not exited, so the root ends `Normal`) and `try_send` is `Ok`.
#[test]
fn send_to_dead_pid_is_silently_ok() {
    let reason = vm().run(async {
        let (child, _) = spam::spawn_monitor(async {});
        let _down: spam::Down = recv().await;
        send(child, 1u8);
        assert!(spam::try_send(child, 2u8).is_ok());
    });
    assert_eq!(reason, Reason::Normal);
}

/// Messages are dynamic: any `Send + 'static` value, received as `Msg`.
#[test]
fn msg_is_downcast_and_downcast_ref() {
    let reason = vm().run(async {
        let me = self_pid();
        send(me, String::from("hello"));
        send(me, vec![1u8, 2, 3]);
        let m = receive().await;
        assert!(m.is::<String>());
        assert!(!m.is::<&str>());
        assert_eq!(m.downcast_ref::<String>().map(String::as_str), Some("hello"));
        let m = m.downcast::<u32>().unwrap_err();
        assert_eq!(m.downcast::<String>().unwrap(), "hello");
        assert_eq!(recv::<Vec<u8>>().await, vec![1, 2, 3]);
    });
    assert_eq!(reason, Reason::Normal);
}

/// A message of a type the receiver never matches stays in its mailbox (like Erlang).
#[test]
fn unmatched_message_stays_in_mailbox() {
    let reason = vm().run(async {
        let me = self_pid();
        send(me, 1.5f64);
        send(me, 7u8);
        assert_eq!(recv::<u8>().await, 7);
        let info = spam::process_info(me).unwrap();
        assert_eq!(info.message_queue_len, 1);
        let left = spam::receive_timeout(Duration::ZERO).await.unwrap();
        assert_eq!(left.downcast::<f64>().unwrap(), 1.5);
    });
    assert_eq!(reason, Reason::Normal);
}

/// Ping-pong between two processes with two schedulers: every round trip completes, in order.
#[test]
fn ping_pong_across_two_schedulers() {
    const ROUNDS: u64 = 20_000;
    let vm = vm();
    let reason = vm.run(async {
        let me = self_pid();
        let pong = spawn(async {
            loop {
                let (from, n): (spam::Pid, u64) = recv().await;
                send(from, n + 1);
            }
        });
        for i in 0..ROUNDS {
            send(pong, (me, i));
            assert_eq!(recv::<u64>().await, i + 1);
        }
        spam::exit(pong, Reason::Kill);
    });
    assert_eq!(reason, Reason::Normal);
    let polls: u64 = vm.scheduler_stats().iter().map(|s| s.polls).sum();
    assert!(polls >= ROUNDS, "each round trip polls both processes");
}

/// Sender-side batching (`vm/src/outbox.rs`) keeps DESIGN Semantics 1 between messages and
/// signals: a run of messages sent in one poll, then an exit signal (`exit/2`, trapped) to the
/// same receiver from the same poll, arrive in that order — the gathered chain is pushed before
/// the signal, not when the poll ends.
#[test]
fn gathered_messages_arrive_before_a_later_signal_from_the_same_sender() {
    const N: u32 = 1_000;
    let reason = vm().run(async {
        let me = self_pid();
        // Linked: a failed check in it ends the test instead of hanging it.
        let receiver = spam::spawn_link(async move {
            spam::trap_exit(true);
            send(me, "ready");
            // `receive` takes whatever is oldest, so an overtaking `Exit` would show here.
            for i in 0..N {
                let m = receive().await;
                assert_eq!(m.downcast::<u32>().ok(), Some(i), "a message overtaken by the exit signal");
            }
            let e = receive().await.downcast::<spam::Exit>().expect("the exit signal, last");
            assert_eq!(e.reason, Reason::Shutdown);
            send(me, "in order");
        });
        let _: &str = recv().await;
        let sender = spawn(async move {
            for i in 0..N {
                send(receiver, i); // one poll: all but the first are gathered
            }
            spam::exit(receiver, Reason::Shutdown); // same poll, still running after it
            let _: &str = recv().await;
        });
        assert_eq!(recv::<&str>().await, "in order");
        send(sender, "stop");
    });
    assert_eq!(reason, Reason::Normal);
}

/// The outbox gathers one chain per receiver for many receivers at once (`vm/src/outbox.rs`):
/// a poll that spreads runs over more receivers than it keeps chains for (so chains are evicted
/// and pushed mid-poll), then sends each an exit signal, delivers every message exactly once,
/// in order per pair (DESIGN Semantics 1), and each receiver's messages before the signal.
#[test]
fn interleaved_runs_to_many_receivers_arrive_whole_in_pair_order_before_a_later_signal() {
    const RECEIVERS: usize = 300; // more than the outbox's 128 slots
    const ROUNDS: u32 = 50;
    let reason = vm().run(async {
        let me = self_pid();
        let receivers: Vec<spam::Pid> = (0..RECEIVERS)
            .map(|r| {
                // Linked: a failed check in one ends the test instead of hanging it.
                spam::spawn_link(async move {
                    spam::trap_exit(true);
                    send(me, "ready");
                    for i in 0..ROUNDS {
                        let m = receive().await;
                        assert_eq!(m.downcast::<u32>().ok(), Some(i), "receiver {r}: a message lost or reordered");
                    }
                    let e = receive().await.downcast::<spam::Exit>().expect("the exit signal, last");
                    assert_eq!(e.reason, Reason::Shutdown);
                    send(me, r);
                })
            })
            .collect();
        for _ in 0..RECEIVERS {
            let _: &str = recv().await;
        }
        // One poll: round robin, then a signal to each.
        for i in 0..ROUNDS {
            for &r in &receivers {
                send(r, i);
            }
        }
        for &r in &receivers {
            spam::exit(r, Reason::Shutdown);
        }
        let mut done = vec![false; RECEIVERS];
        for _ in 0..RECEIVERS {
            let r: usize = recv().await;
            assert!(!std::mem::replace(&mut done[r], true), "receiver {r} reported twice");
        }
    });
    assert_eq!(reason, Reason::Normal);
}

/// A message to oneself is in one's own mailbox at once (Erlang: `self() ! a, receive a -> ok
/// after 0 -> timeout end` gives `ok`), even in the middle of a run of sends that the outbox
/// gathers for another receiver.
#[test]
fn self_send_is_received_at_once_with_a_zero_timeout() {
    let reason = vm().run(async {
        let me = self_pid();
        let sink = spawn(async {
            let _: &str = recv().await;
        });
        for i in 0..10u32 {
            send(sink, i);
        }
        send(me, "mine");
        let got = spam::recv_timeout::<&str>(Duration::ZERO).await;
        assert_eq!(got, Some("mine"));
        send(sink, "stop");
    });
    assert_eq!(reason, Reason::Normal);
}

/// Hostile: messages gathered for a receiver that exits before the chain is pushed are dropped
/// (as sends to a dead pid are), each destructor runs exactly once, and a destructor that sends
/// again from inside the flush does not disturb the VM.
#[test]
fn chain_to_an_exiting_receiver_is_dropped_and_destructors_may_send() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    struct Noisy(Arc<AtomicUsize>, spam::Pid);
    impl Drop for Noisy {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
            send(self.1, "from a destructor"); // re-enters the outbox (rule 6)
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let reason = vm().run(async move {
        let me = self_pid();
        let victim = spawn(async {
            std::future::pending::<()>().await;
        });
        spam::exit(victim, Reason::Kill);
        // Its mailbox closes as it exits; whether before or after each push, every message
        // is dropped (none is received), once.
        let dead = spawn(async {});
        for _ in 0..200 {
            send(victim, Noisy(d.clone(), dead));
        }
        spam::sleep(Duration::from_millis(1)).await; // lets the poll end (the chain is pushed)
        let _ = me;
    });
    assert_eq!(reason, Reason::Normal);
    assert_eq!(drops.load(SeqCst), 200, "every message dropped exactly once");
}
