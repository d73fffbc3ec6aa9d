//! Timers: `receive ... after` (receive_timeout), send_after, cancel_timer. Ordering and
//! counts only; timing figures live in the benchmark suite.

use spam::{cancel_timer, receive_match_timeout, receive_timeout, recv, self_pid, send, send_after, spawn, Msg};
use spam::{Reason, Vm};
use std::time::Duration;

fn run(f: impl std::future::Future<Output = ()> + Send + 'static) {
    assert_eq!(Vm::builder().schedulers(2).build().run(f), Reason::Normal);
}

const LONG: Duration = Duration::from_secs(3600);

/// Erlang `receive ... after 0`: looks once, never blocks, and unmatched messages keep their
/// order (checked in erl: queue [a,b,c,d], `after 0` miss, then a match of c leaves [a,b,d]).
#[test]
fn receive_after_zero_never_blocks_and_keeps_skipped_messages_in_order() {
    run(async {
        let me = self_pid();
        for c in ['a', 'b', 'c', 'd'] {
            send(me, c);
        }
        assert!(receive_match_timeout(|m: &Msg| m.is::<u64>(), Duration::ZERO).await.is_none());
        let c = receive_match_timeout(|m: &Msg| m.downcast_ref::<char>() == Some(&'c'), Duration::ZERO).await;
        assert_eq!(c.unwrap().downcast::<char>().unwrap(), 'c');
        let mut rest = Vec::new();
        while let Some(m) = receive_timeout(Duration::ZERO).await {
            rest.push(m.downcast::<char>().unwrap());
        }
        assert_eq!(rest, vec!['a', 'b', 'd']);
    });
}

/// A receive with a timeout returns `None` once the timeout has passed with nothing to match,
/// and returns a message that is there without waiting for the timeout.
#[test]
fn receive_timeout_expires_with_none_or_returns_the_message() {
    run(async {
        assert!(receive_timeout(Duration::from_millis(5)).await.is_none());
        let me = self_pid();
        send(me, 1u8);
        assert_eq!(receive_timeout(LONG).await.unwrap().downcast::<u8>().unwrap(), 1);
    });
}

/// A process waiting in a long `receive_timeout` is woken by a message from another process.
#[test]
fn receive_timeout_is_woken_by_a_message() {
    run(async {
        let me = self_pid();
        let p = spawn(async move {
            let m = receive_timeout(LONG).await;
            send(me, m.is_some());
        });
        send(p, ());
        assert!(recv::<bool>().await);
    });
}

/// `send_after` delivers; timers fire in deadline order; `cancel_timer` returns the time left
/// for a pending timer (at most its delay) and `None` for one that fired.
#[test]
fn send_after_delivers_in_deadline_order_and_cancel_reports_time_left() {
    run(async {
        let me = self_pid();
        let late = send_after(Duration::from_millis(20), me, 2u32);
        let early = send_after(Duration::from_millis(1), me, 1u32);
        assert_eq!(recv::<u32>().await, 1);
        assert_eq!(recv::<u32>().await, 2);
        assert_eq!(cancel_timer(early), None);
        assert_eq!(cancel_timer(late), None);
        let pending = send_after(LONG, me, 3u32);
        let left = cancel_timer(pending).expect("still pending");
        assert!(left <= LONG && left > Duration::from_secs(3000));
        assert_eq!(cancel_timer(pending), None, "cancelled twice");
        assert!(receive_timeout(Duration::from_millis(2)).await.is_none(), "cancelled timer never fires");
    });
}

/// `send_after` to a registered name delivers to the process holding it.
#[test]
fn send_after_to_a_registered_name_delivers() {
    run(async {
        spam::register("later").unwrap();
        send_after(Duration::from_millis(1), "later", 9u8);
        assert_eq!(recv::<u8>().await, 9);
    });
}

/// Many pending timers cost no thread each: 100k pending `send_after`s, then all cancelled,
/// each reporting time left.
#[test]
fn many_pending_timers_are_cancelled() {
    run(async {
        let me = self_pid();
        let refs: Vec<_> = (0..100_000u32).map(|i| send_after(LONG, me, i)).collect();
        for r in refs {
            assert!(cancel_timer(r).is_some());
        }
    });
}

/// A receive that ends before its deadline leaves the process's receive timer armed for the
/// next one (the VM does not insert and cancel a timer per `call`); the process's exit cancels
/// it, so a dead process is not kept until the deadline.
#[test]
fn a_receive_timer_outlives_its_receive_and_is_cancelled_by_the_exit() {
    let vm = Vm::builder().schedulers(2).build();
    let child = vm.block_on(async {
        let me = self_pid();
        let child = spawn(async move {
            assert_eq!(receive_timeout(LONG).await.and_then(|m| m.downcast::<u8>().ok()), Some(1));
            send(me, ());
            let () = recv().await;
        });
        when_waiting(child).await;
        send(child, 1u8);
        let () = recv().await;
        child
    });
    assert_eq!(vm.pending_timers(), 1, "armed by the receive, kept after it");
    vm.block_on(async move {
        let mref = spam::monitor(child);
        send(child, ());
        let down = recv::<spam::Down>().await;
        assert_eq!((down.monitor, down.reason), (mref, Reason::Normal));
    });
    assert_eq!(vm.pending_timers(), 0, "cancelled by the exit");
}

/// Yields until `pid` waits in a receive.
async fn when_waiting(pid: spam::Pid) {
    while spam::process_info(pid).is_none_or(|i| i.status != spam::ProcessStatus::Waiting) {
        spam::yield_now().await;
    }
}

/// Receive deadlines sharing the process's timer each expire at their own time, and only then:
/// - a deadline earlier than the armed timer takes a timer of its own, and fires;
/// - a deadline later than the armed timer relies on it: woken early by it, the receive keeps
///   waiting (a spurious wake is not a timeout) and gets the message that comes later.
#[test]
fn receive_deadlines_sharing_the_process_timer_each_expire_at_their_own_time() {
    run(async {
        let me = self_pid();
        spawn(async move {
            when_waiting(me).await;
            send(me, 1u8);
        });
        assert!(receive_timeout(LONG).await.is_some(), "waited: armed the shared timer at LONG");
        assert!(receive_timeout(Duration::from_millis(5)).await.is_none(), "earlier: its own timer");

        spawn(async move {
            let p = self_pid();
            spawn(async move {
                when_waiting(p).await;
                send(p, 1u8);
            });
            // Arms the shared timer 50 ms ahead (unless the machine is so slow that it fires:
            // then the next receive arms its own and this test checks less).
            let _ = receive_timeout(Duration::from_millis(50)).await;
            spawn(async move {
                spam::sleep(Duration::from_millis(150)).await;
                send(p, 2u8);
            });
            let got = receive_timeout(LONG).await.and_then(|m| m.downcast::<u8>().ok());
            send(me, got);
        });
        assert_eq!(recv::<Option<u8>>().await, Some(2), "woken at 50 ms, kept waiting");
    });
}

/// Erlang's `receive .. after T` waits *at least* T, and a message that does not match does
/// not end the wait. A wait of a second or more takes its deadline from the coarse clock
/// (`vm/src/clock.rs`), and a receive polled again asks the timer thread whether its deadline
/// has passed instead of reading the clock (`vm/src/receive.rs`, "Timeouts"): neither may
/// expire it early. Both a plain receive and a `gen_server::call` to a server that never
/// replies are timed; the waits run side by side.
#[test]
fn a_long_timeout_never_expires_early_even_when_woken_by_other_messages() {
    use spam::gen_server::{self, CallError, CallResult, GenServer, Init, ReplyTo};
    use std::time::Instant;
    struct Mute;
    impl GenServer for Mute {
        type Args = ();
        type Call = ();
        type Reply = ();
        type Cast = ();
        async fn init(_: ()) -> Init<Self> {
            Init::ok(Mute)
        }
        async fn handle_call(&mut self, _: (), _: ReplyTo<()>) -> CallResult<()> {
            CallResult::noreply()
        }
    }
    const T: Duration = Duration::from_millis(1200);
    run(async {
        let me = self_pid();
        let receiver = spawn(async move {
            let t0 = Instant::now();
            let got = receive_match_timeout(|m: &Msg| m.is::<u64>(), T).await;
            send(me, ("receive", got.is_none(), t0.elapsed() >= T));
        });
        spawn(async move {
            let server = gen_server::start::<Mute>(()).await.expect("start");
            let t0 = Instant::now();
            let got = gen_server::call_timeout(server, (), T).await;
            send(me, ("call", got == Err(CallError::Timeout), t0.elapsed() >= T));
        });
        // Wakes the receive again and again, up to its end, with messages it does not take.
        let mut done = Vec::new();
        while done.len() < 2 {
            match spam::recv_timeout::<(&str, bool, bool)>(T / 40).await {
                Some(r) => done.push(r),
                None => send(receiver, 0u8),
            }
        }
        done.sort();
        assert_eq!(done, [("call", true, true), ("receive", true, true)]);
    });
}
