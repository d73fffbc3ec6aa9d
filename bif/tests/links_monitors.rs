//! Links, monitors and exit signals — Erlang-exact.
//!
//! One test per rule. Each cites the Erlang fact it checks: the facts were observed in a real
//! OTP 25 `erl` (erts 13.1.5) and are numbered as in the project's Erlang facts table
//! ("fact N"); DESIGN.md's "Semantics" list is cited as "semantics N".
//!
//! No assertion depends on sleeping. Processes synchronise with messages and monitors; a
//! *negative* ("no Exit arrives") is checked with `receive_timeout(Duration::ZERO)` only after a
//! synchronising round trip (or a `Down`) that orders it after everything that could have sent
//! it. Every blocking receive has a generous watchdog so a broken VM fails instead of hanging.

use spam::{
    demonitor, exit_self, link, monitor, process_info, processes, receive_match_timeout, receive_timeout, recv_timeout,
    register, self_pid, send, spawn, spawn_link, spawn_monitor, spawn_opt, trap_exit, unlink, whereis, yield_now, Down,
    Exit, LinkError, Msg, Pid, ProcessStatus, Reason, Ref, SpawnOpts, Vm,
};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Upper bound on any single wait: only reached when the VM is broken (the test then fails with
/// a message instead of hanging). Never part of what a test asserts.
const WATCHDOG: Duration = Duration::from_secs(20);
const ZERO: Duration = Duration::ZERO;

fn new_vm() -> Vm {
    Vm::builder().schedulers(2).build()
}

/// Runs `f` as the root process of a fresh 2-scheduler VM; the root's assertions fail the test
/// (a failed assert makes the root exit with `Panic`).
fn run<F: Future<Output = ()> + Send + 'static>(f: F) {
    let vm = new_vm();
    let reason = vm.run(f);
    assert_eq!(reason, Reason::Normal, "the root process failed");
}

fn other(s: &'static str) -> Reason {
    Reason::other(s)
}

fn opts(link: bool, monitor: bool, trap_exit: bool) -> SpawnOpts {
    SpawnOpts { link, monitor, trap_exit, ..SpawnOpts::default() }
}

#[derive(Debug)]
struct Go;
#[derive(Debug)]
struct Ready;
#[derive(Debug)]
struct Ping(Pid);
#[derive(Debug)]
struct Pong(bool);
#[derive(Debug)]
struct After;
/// A message nobody ever sends: waiting for it blocks forever.
#[derive(Debug)]
struct Never;
/// A system message forwarded by a child to the root (so it is not mistaken for the root's own).
#[derive(Debug)]
struct Fwd<T>(T);

/// The next message (any), or a failure after the watchdog.
async fn next() -> Msg {
    receive_timeout(WATCHDOG).await.expect("watchdog: no message arrived")
}

/// The first message matching `pred` (selective), or a failure after the watchdog.
async fn next_match<P: FnMut(&Msg) -> bool + Unpin>(pred: P) -> Msg {
    receive_match_timeout(pred, WATCHDOG).await.expect("watchdog: no matching message arrived")
}

/// The first message of type `T` (selective).
async fn recv_t<T: Send + 'static>() -> T {
    recv_timeout::<T>(WATCHDOG).await.expect("watchdog: no message of the awaited type arrived")
}

/// The first `Exit` message from `from`.
async fn exit_from(from: Pid) -> Reason {
    next_match(move |m: &Msg| m.downcast_ref::<Exit>().is_some_and(|e| e.from == from))
        .await
        .downcast::<Exit>()
        .unwrap()
        .reason
}

/// The `Down` of monitor `mref`.
async fn down_of(mref: Ref) -> Down {
    next_match(move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref))
        .await
        .downcast::<Down>()
        .unwrap()
}

/// Fails if any message is in the caller's mailbox now.
async fn assert_no_message(ctx: &str) {
    if let Some(m) = receive_timeout(ZERO).await {
        panic!("unexpected message {m:?}: {ctx}");
    }
}

/// Waits (yielding, never sleeping) until a message matching `pred` is in the caller's queue,
/// without taking it out.
async fn wait_queued<F: Fn(&Msg) -> bool + Sync>(pred: F) {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let mut seen = false;
        let got = receive_match_timeout(
            |m: &Msg| {
                if pred(m) {
                    seen = true;
                }
                false
            },
            ZERO,
        )
        .await;
        assert!(got.is_none());
        if seen {
            return;
        }
        assert!(Instant::now() < deadline, "watchdog: message never queued");
        yield_now().await;
    }
}

/// Waits (yielding) until `pid` is suspended (status `Waiting`), so the test really exercises a
/// blocked process.
async fn wait_until_waiting(pid: Pid) {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let info = process_info(pid).expect("process died while we waited");
        if info.status == ProcessStatus::Waiting {
            return;
        }
        assert!(Instant::now() < deadline, "watchdog: {pid} never blocked");
        yield_now().await;
    }
}

/// A pid that is certainly dead (its `Down` was received).
async fn dead_pid() -> Pid {
    let (p, r) = spawn_monitor(async {});
    let d = down_of(r).await;
    assert_eq!(d.reason, Reason::Normal);
    p
}

/// Answers every `Ping` with a `Pong`, forever.
async fn ponger() {
    loop {
        let Ping(from) = spam::recv::<Ping>().await;
        send(from, Pong(true));
    }
}

/// Blocks forever in a receive.
async fn block_forever() {
    let Never = spam::recv::<Never>().await;
}

// ---------------------------------------------------------------------------------------------
// exit/2 with reason normal
// ---------------------------------------------------------------------------------------------

/// Fact 4 (semantics 5): `exit(P, normal)` from another process is ignored by a non-trapping P
/// (`is_process_alive(P)` stays true and P later exits with its own reason); a trapping P gets
/// `{'EXIT', SenderPid, normal}`, From being the *sender*, not the target.
#[test]
fn exit_normal_from_other_process_is_ignored_unless_trapping() {
    run(async {
        let root = self_pid();
        // Not trapping: ignored.
        let (p, mref) = spawn_monitor(async move {
            let Ping(from) = recv_t::<Ping>().await;
            // The exit signal was queued before the Ping: it is handled, and it made no message.
            let nothing_else = receive_timeout(ZERO).await.is_none();
            send(from, Pong(nothing_else));
            let _ = recv_t::<Go>().await;
            exit_self(other("own"));
        });
        spam::exit(p, Reason::Normal);
        send(p, Ping(root));
        let Pong(nothing_else) = recv_t::<Pong>().await;
        assert!(nothing_else, "a non-trapping process got a message from exit(P, normal)");
        assert!(process_info(p).is_some(), "exit(P, normal) killed P");
        send(p, Go);
        assert_eq!(down_of(mref).await.reason, other("own"));

        // Trapping: {'EXIT', Sender, normal}.
        let (p, mref) = spawn_opt(
            async move {
                let e = next().await.downcast::<Exit>().unwrap();
                send(root, Fwd(e));
            },
            opts(false, true, true),
        );
        spam::exit(p, Reason::Normal);
        let Fwd(e) = recv_t::<Fwd<Exit>>().await;
        assert_eq!(e, Exit { from: root, reason: Reason::Normal });
        assert_eq!(down_of(mref.unwrap()).await.reason, Reason::Normal);
        assert_no_message("root").await;
    });
}

/// Fact 1 (semantics 5): `exit(self(), normal)` in a non-trapping process terminates it with
/// reason `normal`, and the code after the call does not run. Fact 3: `exit(self(), foo)`, not
/// trapping, kills it with `foo`.
#[test]
fn exit_self_normal_ends_non_trapping_caller() {
    run(async {
        let root = self_pid();
        for reason in [Reason::Normal, other("foo")] {
            let r2 = reason.clone();
            let (p, mref) = spawn_monitor(async move {
                spam::exit(self_pid(), r2);
                send(root, After); // must not run
            });
            // Messages from p would arrive before its Down (fact 20): the first message must be
            // the Down.
            let first = next().await;
            let d = first.downcast::<Down>().expect("code after exit(self, _) ran: got a message before the Down");
            assert_eq!(d, Down { monitor: mref, pid: p, reason });
            assert_no_message("nothing after the Down").await;
        }
    });
}

/// Facts 2/22 and 3: a trapping process that calls `exit(self(), normal)` does not die; it gets
/// `{'EXIT', Self, normal}` (From = its own pid). Likewise `exit(self(), foo)` → `{'EXIT', Self,
/// foo}`, and it stays alive.
#[test]
fn exit_self_normal_while_trapping_delivers_exit_from_self() {
    run(async {
        let root = self_pid();
        let (p, mref) = spawn_opt(
            async move {
                let me = self_pid();
                spam::exit(me, Reason::Normal);
                let a = receive_timeout(ZERO).await;
                send(root, Fwd(a.map(|m| m.downcast::<Exit>().unwrap())));
                spam::exit(me, other("foo"));
                let b = receive_timeout(ZERO).await;
                send(root, Fwd(b.map(|m| m.downcast::<Exit>().unwrap())));
                send(root, After); // still alive
            },
            opts(false, true, true),
        );
        let Fwd(a) = recv_t::<Fwd<Option<Exit>>>().await;
        assert_eq!(a, Some(Exit { from: p, reason: Reason::Normal }));
        let Fwd(b) = recv_t::<Fwd<Option<Exit>>>().await;
        assert_eq!(b, Some(Exit { from: p, reason: other("foo") }));
        let _ = recv_t::<After>().await;
        assert_eq!(down_of(mref.unwrap()).await.reason, Reason::Normal);
    });
}

/// Facts 3/4 (semantics 3): a trapping process turns every exit signal except `kill` into an
/// `{'EXIT', From, Reason}` message — including `killed`, `noproc`, `shutdown`, panics and user
/// reasons — and survives all of them.
#[test]
fn trapping_turns_every_non_kill_exit_into_exit_message() {
    run(async {
        let root = self_pid();
        let reasons = vec![
            Reason::Normal,
            Reason::Shutdown,
            Reason::Killed,
            Reason::Noproc,
            Reason::Panic("boom".into()),
            other("foo"),
        ];
        let n = reasons.len();
        let (p, mref) = spawn_opt(
            async move {
                for _ in 0..n {
                    let e = next().await.downcast::<Exit>().unwrap();
                    send(root, Fwd(e));
                }
                let _ = recv_t::<Go>().await;
            },
            opts(false, true, true),
        );
        for r in &reasons {
            spam::exit(p, r.clone());
        }
        for r in reasons {
            let Fwd(e) = recv_t::<Fwd<Exit>>().await;
            assert_eq!(e, Exit { from: root, reason: r });
        }
        assert!(process_info(p).is_some());
        send(p, Go);
        assert_eq!(down_of(mref.unwrap()).await.reason, Reason::Normal);
    });
}

// ---------------------------------------------------------------------------------------------
// kill
// ---------------------------------------------------------------------------------------------

/// Fact 5 (semantics 4): `exit(T, kill)` kills T even when T traps; T dies with `killed`. A
/// trapping process linked to and monitoring T gets `{'EXIT',T,killed}` and then
/// `{'DOWN',Ref,process,T,killed}`, in that order. Fact 5b: the same for a non-trapping T. A
/// non-trapping process linked to T dies too, with `killed` (semantics 3/4: links see Killed).
#[test]
fn kill_is_untrappable_and_becomes_killed() {
    run(async {
        assert!(!trap_exit(true));
        for t_traps in [true, false] {
            let (t, mref) = spawn_opt(block_forever(), opts(true, true, t_traps));
            let mref = mref.unwrap();
            // A non-trapping bystander linked to T.
            let root = self_pid();
            let (nt, nt_ref) = spawn_monitor(async move {
                link(t).unwrap();
                send(root, Ready);
                block_forever().await;
            });
            let _ = recv_t::<Ready>().await;
            // The Link from nt was pushed to T before nt's Ready, so before our kill.
            spam::exit(t, Reason::Kill);
            // Exit then Down, in that order (from T to us).
            let m1 = next_match(|m: &Msg| {
                m.downcast_ref::<Exit>().is_some_and(|e| e.from == t)
                    || m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref)
            })
            .await;
            assert_eq!(
                m1.downcast::<Exit>().expect("the Exit must come before the Down"),
                Exit { from: t, reason: Reason::Killed }
            );
            assert_eq!(down_of(mref).await, Down { monitor: mref, pid: t, reason: Reason::Killed });
            assert_eq!(
                down_of(nt_ref).await,
                Down { monitor: nt_ref, pid: nt, reason: Reason::Killed },
                "a non-trapping link of a killed process dies with Killed"
            );
            assert!(process_info(t).is_none());
        }
        assert_no_message("root").await;
    });
}

/// Facts 6/6b: `exit(self(), kill)` kills the caller even if it traps; its reason is `killed`:
/// links see `{'EXIT',T,killed}`, the monitor sees DOWN `killed`; code after does not run.
#[test]
fn exit_self_kill_signal_is_untrappable_and_becomes_killed() {
    run(async {
        trap_exit(true);
        let root = self_pid();
        for t_traps in [false, true] {
            let (t, mref) = spawn_opt(
                async move {
                    spam::exit(self_pid(), Reason::Kill);
                    send(root, After); // must not run
                },
                opts(true, true, t_traps),
            );
            let first = next().await;
            assert_eq!(
                first.downcast::<Exit>().expect("first message must be the Exit"),
                Exit { from: t, reason: Reason::Killed }
            );
            assert_eq!(down_of(mref.unwrap()).await.reason, Reason::Killed);
            assert_no_message("code after exit(self, kill) ran").await;
        }
    });
}

/// Fact 7: a process that terminates *by itself* with reason `kill` (`exit(kill)`, here
/// `exit_self(Kill)`) sends `kill` as an ordinary reason: no rewrite to `killed`. Its trapping
/// link gets `{'EXIT',T,kill}` and survives, the monitor gets DOWN `kill`, and a non-trapping
/// linked process dies with reason `kill`.
#[test]
fn exit_self_kill_reason_reaches_links_as_trappable_kill() {
    run(async {
        trap_exit(true);
        let root = self_pid();
        let (t, mref) = spawn_opt(
            async {
                let _ = recv_t::<Go>().await;
                exit_self(Reason::Kill);
            },
            opts(true, true, false),
        );
        let mref = mref.unwrap();
        let (nt, nt_ref) = spawn_monitor(async move {
            link(t).unwrap();
            send(root, Ready);
            block_forever().await;
        });
        let _ = recv_t::<Ready>().await;
        send(t, Go);
        assert_eq!(exit_from(t).await, Reason::Kill, "trapping link sees kill");
        assert_eq!(down_of(mref).await, Down { monitor: mref, pid: t, reason: Reason::Kill });
        assert_eq!(
            down_of(nt_ref).await,
            Down { monitor: nt_ref, pid: nt, reason: Reason::Kill },
            "a non-trapping link dies with reason kill (not killed)"
        );
        // The trapping link (us) survived: we are running this line.
        assert_no_message("root").await;
    });
}

// ---------------------------------------------------------------------------------------------
// link / monitor to a dead pid
// ---------------------------------------------------------------------------------------------

/// Fact 8 (semantics 6): `link(DeadPid)` in a non-trapping process raises `noproc`
/// (`Err(LinkError::Noproc)`), the process survives and no message arrives. Trapping: it returns
/// `true` (`Ok`) and then `{'EXIT', DeadPid, noproc}` arrives.
#[test]
fn link_to_dead_pid_fails_with_noproc_unless_trapping() {
    run(async {
        let dead = dead_pid().await;
        // Not trapping.
        assert_eq!(link(dead), Err(LinkError::Noproc));
        assert_no_message("non-trapping link to a dead pid").await;
        assert!(process_info(self_pid()).unwrap().links.is_empty());
        // Trapping.
        assert!(!trap_exit(true));
        assert_eq!(link(dead), Ok(()));
        let m = next().await;
        assert_eq!(m.downcast::<Exit>().unwrap(), Exit { from: dead, reason: Reason::Noproc });
        assert_no_message("exactly one Exit").await;
        assert!(process_info(self_pid()).unwrap().links.is_empty());
    });
}

/// Fact 9 (semantics 7): `monitor(process, DeadPid)` returns a ref and
/// `{'DOWN', Ref, process, DeadPid, noproc}` arrives at once.
#[test]
fn monitor_of_dead_pid_gives_down_noproc_at_once() {
    run(async {
        let dead = dead_pid().await;
        let mref = monitor(dead);
        // "At once": already there for a zero-timeout receive.
        let m = receive_timeout(ZERO).await.expect("the Down of a dead pid must be there at once");
        assert_eq!(m.downcast::<Down>().unwrap(), Down { monitor: mref, pid: dead, reason: Reason::Noproc });
        assert_no_message("exactly one Down").await;
        assert!(process_info(self_pid()).unwrap().monitors.is_empty());
    });
}

// ---------------------------------------------------------------------------------------------
// monitors
// ---------------------------------------------------------------------------------------------

/// Semantics 7/9: each monitor fires exactly once, and independent monitors — two from the same
/// process, and one from another process — each get their own `Down`.
#[test]
fn every_monitor_fires_once_and_independent_monitors_each_fire() {
    run(async {
        let root = self_pid();
        let t = spawn(async {
            let _ = recv_t::<Go>().await;
            exit_self(other("bye"));
        });
        let r1 = monitor(t);
        let r2 = monitor(t);
        assert_ne!(r1, r2);
        let (w, w_ref) = spawn_monitor(async move {
            let r = monitor(t);
            send(root, Ready);
            let d = down_of(r).await;
            assert_eq!(d.monitor, r);
            send(root, Fwd(d));
        });
        let _ = recv_t::<Ready>().await;
        send(t, Go);
        for r in [r1, r2] {
            assert_eq!(down_of(r).await, Down { monitor: r, pid: t, reason: other("bye") });
        }
        let Fwd(d) = recv_t::<Fwd<Down>>().await;
        assert_eq!((d.pid, d.reason), (t, other("bye")));
        assert_eq!(down_of(w_ref).await, Down { monitor: w_ref, pid: w, reason: Reason::Normal });
        // Fired once: nothing more, and neither monitor is active any more.
        assert_no_message("a monitor fired twice").await;
        assert!(!demonitor(r1, false));
        assert!(!demonitor(r2, false));
        assert!(process_info(self_pid()).unwrap().monitors.is_empty());
    });
}

/// Fact 11 (semantics 7): with the DOWN already queued, `demonitor(R, [flush])` removes it
/// (queue length 1 before, empty after); with `[flush, info]` it returns `false` (the monitor
/// had already fired) — SPAM's return value is Erlang's `info` answer.
#[test]
fn demonitor_flush_leaves_no_down_behind() {
    run(async {
        let (t, mref) = spawn_monitor(async { exit_self(other("bye")) });
        wait_queued(move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref)).await;
        assert_eq!(process_info(self_pid()).unwrap().message_queue_len, 1);
        assert!(!demonitor(mref, true), "[flush, info] gives false");
        assert_eq!(process_info(self_pid()).unwrap().message_queue_len, 0);
        assert_no_message("demonitor(flush) left the Down behind").await;
        let _ = t;

        // Target alive: demonitor gives true and no Down ever arrives (fact 11, 3rd row).
        let t = spawn(async {
            let _ = recv_t::<Go>().await;
            exit_self(other("bye"));
        });
        let r1 = monitor(t);
        let r2 = monitor(t);
        assert!(demonitor(r1, true));
        send(t, Go);
        assert_eq!(down_of(r2).await.reason, other("bye"));
        assert_no_message("a Down of a demonitored ref arrived").await;
    });
}

/// Semantics 3/4 (fact 5: `exit(T, kill)` → T dies with `killed`; fact 14: `shutdown` kills a
/// non-trapping process with `shutdown`): an exit signal that the process handles while it runs
/// — here inside `demonitor(.., flush)`, which drains the mailbox — still ends it with that
/// reason; the process must not go on to exit `normal` as if the signal had never come.
#[test]
fn exit_signal_handled_inside_demonitor_flush_is_not_lost() {
    let vm = Arc::new(new_vm());
    let vm2 = vm.clone();
    let reason = vm.run(async move {
        trap_exit(true);
        for (sent, expected) in [(Reason::Kill, Reason::Killed), (Reason::Shutdown, Reason::Shutdown)] {
            let vm3 = vm2.clone();
            let (p, mref) = spawn_opt(
                async move {
                    let me = self_pid();
                    let done = Arc::new(AtomicBool::new(false));
                    let d2 = done.clone();
                    // The exit signal comes from outside the VM while we run; with no await in
                    // between, it stays queued until demonitor(flush) drains the mailbox.
                    let t = std::thread::spawn(move || {
                        vm3.exit(me, sent);
                        d2.store(true, SeqCst);
                    });
                    while !done.load(SeqCst) {
                        std::hint::spin_loop();
                    }
                    t.join().unwrap();
                    let _ = demonitor(Ref::make(), true);
                    // ... then returns, as if nothing had happened.
                },
                opts(true, true, false),
            );
            assert_eq!(exit_from(p).await, expected, "the link saw the wrong reason");
            assert_eq!(down_of(mref.unwrap()).await.reason, expected);
        }
    });
    assert_eq!(reason, Reason::Normal, "the root process failed");
}

/// Fact 11: with the DOWN already queued, `demonitor(R)` (demonitor/1, no flush) returns and the
/// DOWN **stays** in the queue (`[info]` answers `false`). A stale ref and a ref that was never a
/// monitor answer `false`.
#[test]
fn demonitor_without_flush_leaves_queued_down() {
    run(async {
        let (t, mref) = spawn_monitor(async { exit_self(other("bye")) });
        wait_queued(move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref)).await;
        assert!(!demonitor(mref, false), "[info] gives false");
        let m = receive_timeout(ZERO).await.expect("demonitor without flush removed the queued Down");
        assert_eq!(m.downcast::<Down>().unwrap(), Down { monitor: mref, pid: t, reason: other("bye") });
        // Stale ref, and a ref that never was a monitor.
        assert!(!demonitor(mref, false));
        assert!(!demonitor(Ref::make(), false));
        assert!(!demonitor(Ref::make(), true));
        assert_no_message("root").await;
    });
}

/// Fact 12 / semantics 8: the name is freed when the process exits, before its links and monitors
/// are told: `whereis` returns none when the DOWN is received, and the name can be registered
/// again at once.
#[test]
fn registered_name_is_gone_before_monitor_down_arrives() {
    run(async {
        for i in 0..200 {
            let (p, mref) = spawn_opt(
                async {
                    let _ = recv_t::<Go>().await;
                    exit_self(other("bye"));
                },
                SpawnOpts::new().monitor().name("lm_gone"),
            );
            assert_eq!(whereis("lm_gone"), Some(p));
            if i % 2 == 0 {
                send(p, Go);
            } else {
                spam::exit(p, Reason::Kill);
            }
            let d = down_of(mref.unwrap()).await;
            assert_eq!(whereis("lm_gone"), None, "name outlived the Down (iter {i})");
            assert_eq!(d.reason, if i % 2 == 0 { other("bye") } else { Reason::Killed });
        }
        // Free again: registering it works.
        register("lm_gone").unwrap();
        assert_eq!(whereis("lm_gone"), Some(self_pid()));
    });
}

/// Fact 18 / DESIGN "a panicking process exits with Panic(message)": the panic reason reaches a
/// trapping link as `Exit{reason: Panic(msg)}` and the monitor as `Down{reason: Panic(msg)}`, and a
/// non-trapping link dies with the same reason (semantics 3).
#[test]
fn panic_reason_reaches_links_and_monitors() {
    run(async {
        trap_exit(true);
        let root = self_pid();
        let (t, mref) = spawn_opt(
            async {
                let _ = recv_t::<Go>().await;
                panic!("boom");
            },
            opts(true, true, false),
        );
        let (nt, nt_ref) = spawn_monitor(async move {
            link(t).unwrap();
            send(root, Ready);
            block_forever().await;
        });
        let _ = recv_t::<Ready>().await;
        send(t, Go);
        let boom = Reason::Panic("boom".to_string());
        assert_eq!(exit_from(t).await, boom);
        assert_eq!(down_of(mref.unwrap()).await, Down { monitor: mref.unwrap(), pid: t, reason: boom.clone() });
        assert_eq!(down_of(nt_ref).await, Down { monitor: nt_ref, pid: nt, reason: boom });
    });
}

/// Fact 20 (semantics 1): a child sends `{m,1..5}` to its monitorer then exits; in 3000 runs all
/// five messages always arrived before the DOWN, in order. Here 1000 runs.
#[test]
fn messages_sent_before_exit_arrive_before_down() {
    run(async {
        let root = self_pid();
        for i in 0..1000u32 {
            let (p, mref) = spawn_monitor(async move {
                for k in 1..=5u32 {
                    send(root, (i, k));
                }
                exit_self(other("done"));
            });
            for k in 1..=5u32 {
                let m = next().await;
                assert_eq!(
                    m.downcast::<(u32, u32)>().unwrap_or_else(|m| panic!("iter {i}: expected message {k}, got {m:?}")),
                    (i, k)
                );
            }
            let d = next().await.downcast::<Down>().unwrap();
            assert_eq!(d, Down { monitor: mref, pid: p, reason: other("done") });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// link propagation
// ---------------------------------------------------------------------------------------------

/// Fact 13 (semantics 3): a linked peer that exits `normal` does not kill a non-trapping partner
/// (which gets no message); a trapping partner gets `{'EXIT', P, normal}`.
#[test]
fn linked_exit_normal_does_not_kill_non_trapping_partner() {
    run(async {
        let root = self_pid();
        // Non-trapping partner.
        let (partner, pref) = spawn_monitor(async move {
            let (c, cref) = spawn_opt(async {}, opts(true, true, false));
            let d = down_of(cref.unwrap()).await;
            assert_eq!((d.pid, d.reason), (c, Reason::Normal));
            // The link's exit signal came before the Down (same sender): handled, no message.
            let nothing = receive_timeout(ZERO).await.is_none();
            send(root, Pong(nothing));
            let _ = recv_t::<Go>().await;
        });
        let Pong(nothing) = recv_t::<Pong>().await;
        assert!(nothing, "a non-trapping partner got a message for a normal exit");
        send(partner, Go);
        assert_eq!(down_of(pref).await.reason, Reason::Normal);

        // Trapping partner (us).
        trap_exit(true);
        let c = spawn_link(async {});
        assert_eq!(exit_from(c).await, Reason::Normal);
        assert_no_message("root").await;
    });
}

/// Fact 14 (semantics 3): linked B calls `exit(shutdown)`: a non-trapping A dies with `shutdown`;
/// a trapping A gets `{'EXIT', B, shutdown}`.
#[test]
fn linked_exit_shutdown_kills_non_trapping_partner() {
    run(async {
        let (a, aref) = spawn_monitor(async {
            let _b = spawn_link(async { exit_self(Reason::Shutdown) });
            block_forever().await;
        });
        assert_eq!(down_of(aref).await, Down { monitor: aref, pid: a, reason: Reason::Shutdown });
        trap_exit(true);
        let b = spawn_link(async { exit_self(Reason::Shutdown) });
        assert_eq!(exit_from(b).await, Reason::Shutdown);
    });
}

/// Fact 15: trapping, `unlink(T)` then T exits `bye`: no EXIT arrives. `unlink` again, `unlink`
/// of a dead pid and `unlink(self())` all succeed.
#[test]
fn unlink_then_peer_dies_gives_no_exit() {
    run(async {
        trap_exit(true);
        let (t, tref) = spawn_opt(
            async {
                let _ = recv_t::<Go>().await;
                exit_self(other("bye"));
            },
            opts(true, true, false),
        );
        assert_eq!(process_info(self_pid()).unwrap().links, vec![t]);
        unlink(t);
        assert!(process_info(self_pid()).unwrap().links.is_empty());
        send(t, Go);
        // The Down comes after any exit signal T could have sent us.
        assert_eq!(down_of(tref.unwrap()).await.reason, other("bye"));
        assert_no_message("an Exit arrived after unlink").await;
        unlink(t);
        unlink(dead_pid().await);
        unlink(self_pid());
        assert_no_message("root").await;
    });
}

/// Fact 16: `link(self())` returns `true`, trapping or not; `links` stays `[]` and no message
/// arrives.
#[test]
fn link_to_self_is_ok_and_does_nothing() {
    run(async {
        for trapping in [false, true] {
            trap_exit(trapping);
            assert_eq!(link(self_pid()), Ok(()));
            assert!(process_info(self_pid()).unwrap().links.is_empty());
            assert_no_message("link(self)").await;
        }
    });
}

/// Fact 17: `process_flag(trap_exit, X)` for true, true, false, false returns
/// `[false, true, true, false]`: the previous value each time.
#[test]
fn trap_exit_returns_previous_value() {
    run(async {
        let got: Vec<bool> = [true, true, false, false].into_iter().map(trap_exit).collect();
        assert_eq!(got, vec![false, true, true, false]);
        assert!(!process_info(self_pid()).unwrap().trap_exit);
    });
}

/// Fact 19: `monitor(process, self())` is allowed and does nothing: it returns a ref, `monitors`
/// and `monitored_by` stay `[]`, no DOWN ever arrives (not even when the process dies), and
/// `demonitor(Ref, [info])` gives `false`.
#[test]
fn monitor_on_self_does_nothing() {
    run(async {
        let mref = monitor(self_pid());
        let info = process_info(self_pid()).unwrap();
        assert!(info.monitors.is_empty());
        assert!(info.monitored_by.is_empty());
        assert_no_message("monitor(self)").await;
        assert!(!demonitor(mref, false));

        // A process that monitors itself and dies: only our own monitor fires, with its reason.
        let root = self_pid();
        let (p, pref) = spawn_monitor(async move {
            let r = monitor(self_pid());
            send(root, Fwd(r));
            let _ = recv_t::<Go>().await;
            exit_self(other("bye"));
        });
        let Fwd(_self_ref) = recv_t::<Fwd<Ref>>().await;
        let info = process_info(p).unwrap();
        assert!(info.monitors.is_empty());
        assert_eq!(info.monitored_by, vec![root]);
        send(p, Go);
        assert_eq!(down_of(pref).await.reason, other("bye"));
        assert_no_message("root").await;
    });
}

/// Semantics 9 / DESIGN "spawn_link / spawn_monitor / spawn_opt atomically": a child that exits
/// at once is still seen with its real reason (never `noproc`): spawn_link → Exit, spawn_monitor
/// → Down, spawn_opt(link+monitor) → both.
#[test]
fn spawn_link_spawn_monitor_spawn_opt_are_atomic() {
    run(async {
        trap_exit(true);
        for i in 0..200 {
            let c = spawn_link(async { exit_self(other("quick")) });
            assert_eq!(exit_from(c).await, other("quick"), "spawn_link, iter {i}");

            let (c, r) = spawn_monitor(async { exit_self(other("quick")) });
            assert_eq!(
                down_of(r).await,
                Down { monitor: r, pid: c, reason: other("quick") },
                "spawn_monitor, iter {i}"
            );

            let (c, r) = spawn_opt(async { exit_self(other("quick")) }, opts(true, true, false));
            assert_eq!(exit_from(c).await, other("quick"), "spawn_opt link, iter {i}");
            assert_eq!(down_of(r.unwrap()).await.reason, other("quick"), "spawn_opt monitor, iter {i}");
        }
        assert_no_message("root").await;
        let info = process_info(self_pid()).unwrap();
        assert!(info.links.is_empty() && info.monitors.is_empty());
    });
}

/// Fact 21: `process_info(DeadPid)` is `undefined`; for a live process it has the fields, with
/// status `waiting` for a process blocked in receive and `running` for oneself. Links, monitors,
/// monitored_by, registered_name, trap_exit and message_queue_len (3 unmatched messages) match.
#[test]
fn process_info_none_for_dead_and_fields_for_live() {
    run(async {
        let root = self_pid();
        assert!(process_info(dead_pid().await).is_none());
        assert_eq!(process_info(root).unwrap().status, ProcessStatus::Running);

        let q = spawn(ponger());
        let (p, pref) = spawn_opt(
            async move {
                let qref = monitor(q);
                send(root, Fwd(qref));
                let mut seen = 0;
                // Selective receive for Go: the three u32 stay queued; tell root once all three
                // are in our queue (sending from the predicate is allowed).
                let _ = next_match(move |m: &Msg| {
                    if m.is::<u32>() {
                        seen += 1;
                        if seen == 3 {
                            send(root, Ready);
                        }
                    }
                    m.is::<Go>()
                })
                .await;
            },
            SpawnOpts::new().link().monitor().trap_exit().name("lm_info"),
        );
        let pref = pref.unwrap();
        let Fwd(qref) = recv_t::<Fwd<Ref>>().await;
        for k in 0..3u32 {
            send(p, k);
        }
        let _ = recv_t::<Ready>().await;
        wait_until_waiting(p).await;
        let info = process_info(p).expect("live process has info");
        assert_eq!(info.pid, p);
        assert_eq!(info.status, ProcessStatus::Waiting);
        assert_eq!(info.links, vec![root]);
        assert_eq!(info.monitors, vec![(qref, q)]);
        assert_eq!(info.monitored_by, vec![root]);
        assert_eq!(info.registered_name.as_deref(), Some("lm_info"));
        assert!(info.trap_exit);
        assert_eq!(info.message_queue_len, 3);

        // p's Monitor was pushed to q before p told us Ready, so before this Ping: after the
        // round trip q has handled it.
        send(q, Ping(root));
        let _ = recv_t::<Pong>().await;
        let q_info = process_info(q).unwrap();
        assert_eq!(q_info.monitored_by, vec![p]);
        assert!(!q_info.trap_exit);
        assert_eq!(q_info.registered_name, None);

        let mine = process_info(root).unwrap();
        assert_eq!(mine.links, vec![p]);
        assert_eq!(mine.monitors, vec![(pref, p)]);

        send(p, Go);
        assert_eq!(down_of(pref).await.reason, Reason::Normal);
        assert!(process_info(p).is_none());
        // p's monitor of q went away with p.
        let deadline = Instant::now() + WATCHDOG;
        while !process_info(q).unwrap().monitored_by.is_empty() {
            assert!(Instant::now() < deadline, "q's monitored_by kept a dead watcher");
            // q handles the Demonitor (sent by p's exit) when it next runs: a round trip.
            send(q, Ping(root));
            let _ = recv_t::<Pong>().await;
            yield_now().await;
        }
    });
}

/// Fact 10: `monitor(process, Name)` of a registered process fires when it exits with its
/// reason; of a name nobody holds, DOWN `noproc` at once. (Erlang puts `{Name, Node}` in the
/// DOWN's pid slot; SPAM's `Down.pid` is a `Pid`, documented as the resolved pid, or
/// `Pid::UNDEFINED` for a free name.)
#[test]
fn monitor_by_registered_name() {
    run(async {
        let p = spawn_opt(
            async {
                let Ping(from) = recv_t::<Ping>().await;
                send(from, Pong(true));
                let _ = recv_t::<Go>().await;
                exit_self(other("bye"));
            },
            SpawnOpts::new().name("lm_q10name"),
        )
        .0;
        let mref = monitor("lm_q10name");
        // A round trip through p: it has handled our Monitor signal (sent before the Ping).
        send("lm_q10name", Ping(self_pid()));
        let _ = recv_t::<Pong>().await;
        assert_eq!(process_info(p).unwrap().monitored_by, vec![self_pid()], "the monitor by name is on the process");
        send("lm_q10name", Go);
        let d = down_of(mref).await;
        assert_eq!(d.reason, other("bye"));
        assert_eq!(d.pid, p);

        let r = monitor("lm_no_such_name");
        let m = receive_timeout(ZERO).await.expect("Down noproc at once for a free name");
        assert_eq!(m.downcast::<Down>().unwrap(), Down { monitor: r, pid: Pid::UNDEFINED, reason: Reason::Noproc });
        assert_no_message("root").await;
    });
}

/// Semantics 3 / fact 4 (P later exited): an exit signal reaches a process blocked in `receive`,
/// in `receive_timeout` with a long timeout, or in a selective receive with unmatched messages
/// queued, and ends it at once (not at the timeout).
#[test]
fn exit_signal_wakes_and_terminates_process_blocked_in_receive() {
    run(async {
        let root = self_pid();
        // 0: receive(); 1: receive_timeout(1 h); 2: selective receive, 3 messages it skips;
        // 3: receive(), killed through a link.
        let cases: Vec<(u32, Reason)> =
            vec![(0, other("wake")), (1, Reason::Kill), (2, Reason::Shutdown), (3, other("linked"))];
        for (kind, reason) in cases {
            let (p, mref) = spawn_monitor(async move {
                send(root, Ready);
                match kind {
                    0 | 3 => {
                        let _ = spam::receive().await;
                    }
                    1 => {
                        let _ = receive_timeout(Duration::from_secs(3600)).await;
                    }
                    _ => {
                        let _ = spam::recv::<Never>().await;
                    }
                }
                send(root, After); // must not run
            });
            let _ = recv_t::<Ready>().await;
            if kind == 2 {
                for k in 0..3u32 {
                    send(p, k);
                }
            }
            wait_until_waiting(p).await;
            if kind == 2 {
                // wait_until_waiting may have seen it before the messages woke it; wait again
                // until it has queued them and blocked.
                let deadline = Instant::now() + WATCHDOG;
                loop {
                    let i = process_info(p).unwrap();
                    if i.message_queue_len == 3 && i.status == ProcessStatus::Waiting {
                        break;
                    }
                    assert!(Instant::now() < deadline);
                    yield_now().await;
                }
            }
            let expected = if kind == 3 {
                // A linked peer dies with `reason`: p, not trapping, dies with it.
                let r2 = reason.clone();
                spawn(async move {
                    link(p).unwrap();
                    exit_self(r2);
                });
                reason.clone()
            } else {
                spam::exit(p, reason.clone());
                if reason == Reason::Kill {
                    Reason::Killed
                } else {
                    reason.clone()
                }
            };
            let d = down_of(mref).await;
            assert_eq!((d.pid, d.reason), (p, expected), "case {kind}");
            assert_no_message("the blocked process ran on after the exit signal").await;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// storms and races
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Node(Pid);

/// A node of an 8-ary tree of `n` processes numbered like a heap: node `i` spawn_links nodes
/// `8i+1 ..= 8i+8` (those below `n`), reports its pid, then waits in receive.
fn tree_node(i: usize, n: usize, collector: Pid) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        for c in (8 * i + 1)..=(8 * i + 8) {
            if c < n {
                spawn_link(tree_node(c, n, collector));
            }
        }
        send(collector, Node(self_pid()));
        block_forever().await;
    })
}

/// Semantics 3/4 (a linked exit storm): a tree of 10 000 processes linked parent–child, leaves
/// blocked in receive; killing the root brings every one down (each with `killed`: the root is
/// killed, and every link then carries `killed`, fact 5b/6), and the VM's process count comes back
/// to its baseline.
#[test]
fn linked_exit_storm_kills_whole_tree() {
    const N: usize = 10_000;
    let vm = Arc::new(new_vm());
    let vm2 = vm.clone();
    let reason = vm.run(async move {
        let root = self_pid();
        let baseline_live = processes().len();
        let baseline_count = vm2.process_count();
        let t = spawn(tree_node(0, N, root));
        // Monitor every node (all alive: none dies before the kill).
        let mut refs = HashMap::with_capacity(N);
        for _ in 0..N {
            let Node(p) = recv_t::<Node>().await;
            refs.insert(monitor(p), p);
        }
        assert_eq!(refs.len(), N);
        assert_eq!(processes().len(), baseline_live + N);
        spam::exit(t, Reason::Kill);
        let mut downed = HashSet::with_capacity(N);
        for _ in 0..N {
            let d = next_match(|m: &Msg| m.is::<Down>()).await.downcast::<Down>().unwrap();
            assert_eq!(refs.get(&d.monitor), Some(&d.pid), "unknown monitor");
            assert_eq!(d.reason, Reason::Killed, "{} died with {:?}", d.pid, d.reason);
            assert!(downed.insert(d.pid), "two Downs for {}", d.pid);
        }
        assert_no_message("root").await;
        // Every node is dead (each Down was sent after its process left the live set).
        assert_eq!(processes().len(), baseline_live);
        // And reclaimed: the count returns to the baseline once the last exits finish.
        let deadline = Instant::now() + WATCHDOG;
        while vm2.process_count() != baseline_count {
            assert!(
                Instant::now() < deadline,
                "process_count stuck at {} (baseline {baseline_count})",
                vm2.process_count()
            );
            yield_now().await;
        }
    });
    assert_eq!(reason, Reason::Normal, "the root process failed");
}

/// Semantics 3/9 and fact 13/14 (trapping partner gets the EXIT): a trapping supervisor with N
/// spawn_link'ed children gets exactly one Exit per child, with that child's reason, when they
/// all die (normal, shutdown, user reason, killed).
#[test]
fn trapping_supervisor_gets_exactly_one_exit_per_child() {
    const N: usize = 1000;
    run(async {
        trap_exit(true);
        let mut children = Vec::with_capacity(N);
        for i in 0..N {
            let (c, r) = spawn_opt(
                async move {
                    let _ = recv_t::<Go>().await;
                    match i % 4 {
                        0 => {}
                        1 => exit_self(Reason::Shutdown),
                        2 => exit_self(Reason::other(i)),
                        _ => block_forever().await,
                    }
                },
                opts(true, true, false),
            );
            children.push((c, r.unwrap()));
        }
        let expected = |i: usize| match i % 4 {
            0 => Reason::Normal,
            1 => Reason::Shutdown,
            2 => Reason::other(i),
            _ => Reason::Killed,
        };
        for (i, &(c, _)) in children.iter().enumerate() {
            if i % 4 == 3 {
                spam::exit(c, Reason::Kill);
            } else {
                send(c, Go);
            }
        }
        let index: HashMap<Pid, usize> = children.iter().enumerate().map(|(i, &(c, _))| (c, i)).collect();
        let mut exits = vec![0usize; N];
        let mut downs = vec![0usize; N];
        // Each child tells its link before its monitor (same sender, in order), so once all the
        // Downs are in, every Exit a child sent us is queued too.
        while downs.contains(&0) {
            let m = next().await;
            match m.downcast::<Exit>() {
                Ok(e) => {
                    let i = index[&e.from];
                    assert_eq!(e.reason, expected(i), "child {i}");
                    exits[i] += 1;
                }
                Err(m) => {
                    let d = m.downcast::<Down>().unwrap();
                    let i = index[&d.pid];
                    assert_eq!(d.monitor, children[i].1);
                    assert_eq!(d.reason, expected(i), "child {i}");
                    downs[i] += 1;
                    assert_eq!(exits[i], 1, "child {i}: Exit not before its Down");
                }
            }
        }
        while let Some(m) = receive_timeout(ZERO).await {
            let e = m.downcast::<Exit>().unwrap();
            exits[index[&e.from]] += 1;
        }
        assert!(exits.iter().all(|&n| n == 1), "not exactly one Exit per child");
        assert!(downs.iter().all(|&n| n == 1));
        let info = process_info(self_pid()).unwrap();
        assert!(info.links.is_empty(), "links left: {:?}", info.links);
        assert!(info.monitors.is_empty());
    });
}

/// Semantics 9 (the exit-vs-link/monitor race): a process that exits at once while its spawner
/// links (trapping) and monitors it right after the spawn. Each requester is told exactly once:
/// one Exit from the pid and one Down for the ref, each with the real reason or `noproc` — never
/// neither, never both. 20 000 iterations across 2 schedulers.
#[test]
fn exit_racing_link_and_monitor_is_told_exactly_once() {
    const ITERS: usize = 20_000;
    let vm = Arc::new(new_vm());
    let vm2 = vm.clone();
    let reason = vm.run(async move {
        trap_exit(true);
        let baseline = vm2.process_count();
        let real = other("fast");
        let (mut link_real, mut link_noproc, mut mon_real, mut mon_noproc) = (0, 0, 0, 0);
        let mut mixed = 0; // one requester saw the real reason, the other noproc
        let mut seen = Vec::with_capacity(ITERS);
        for i in 0..ITERS {
            let c = spawn(async { exit_self(Reason::other("fast")) });
            // Vary the timing so that every outcome happens: link/monitor at once (the child has
            // usually not run: it sits in our worker's LIFO slot), after letting it run (dead:
            // noproc), or — the real race — after pushing it out of the LIFO slot with a second
            // spawn, so that the other scheduler steals it and runs it while we spin a varying
            // while and then link and monitor.
            match i % 3 {
                0 => {}
                1 => yield_now().await,
                _ => {
                    spawn(async {});
                    for _ in 0..(i * 7919) % 4000 {
                        std::hint::spin_loop();
                    }
                }
            }
            let (link_result, mref) = if i % 2 == 0 {
                let l = link(c);
                (l, monitor(c))
            } else {
                let r = monitor(c);
                (link(c), r)
            };
            assert_eq!(link_result, Ok(()), "a trapping link never fails");
            let e = exit_from(c).await;
            let link_saw_real = e == real;
            if e == real {
                link_real += 1;
            } else {
                assert_eq!(e, Reason::Noproc, "iter {i}");
                link_noproc += 1;
            }
            let d = down_of(mref).await;
            assert_eq!(d.pid, c);
            if (d.reason == real) != link_saw_real {
                mixed += 1;
            }
            if d.reason == real {
                mon_real += 1;
            } else {
                assert_eq!(d.reason, Reason::Noproc, "iter {i}");
                mon_noproc += 1;
            }
            seen.push((c, mref));
        }
        // Wait until every child has finished its exit protocol (all its signals are pushed),
        // then nothing more may be queued for any of them.
        let deadline = Instant::now() + WATCHDOG;
        while vm2.process_count() != baseline {
            assert!(Instant::now() < deadline, "children never reclaimed");
            yield_now().await;
        }
        let pids: HashSet<Pid> = seen.iter().map(|&(c, _)| c).collect();
        if let Some(m) = receive_timeout(ZERO).await {
            if let Some(e) = m.downcast_ref::<Exit>() {
                assert!(!pids.contains(&e.from), "a second Exit from {}", e.from);
            }
            if let Some(d) = m.downcast_ref::<Down>() {
                assert!(!pids.contains(&d.pid), "a second Down for {}", d.pid);
            }
            panic!("unexpected message {m:?}");
        }
        let info = process_info(self_pid()).unwrap();
        assert!(info.links.is_empty(), "links left: {}", info.links.len());
        assert!(info.monitors.is_empty(), "monitors left: {}", info.monitors.len());
        eprintln!(
            "race outcomes over {ITERS}: link real {link_real} / noproc {link_noproc}; \
             monitor real {mon_real} / noproc {mon_noproc}; mixed {mixed}"
        );
    });
    assert_eq!(reason, Reason::Normal, "the root process failed");
}

/// Semantics 7 / fact 11 (`demonitor(R, [flush])`: after it returns no DOWN of R is ever
/// received), under the race with the target's exit: the target dies at once on the other
/// scheduler while we monitor and then demonitor with flush, sometimes letting the Down reach our
/// queue first. Once every target has finished exiting, no Down of any of those refs is queued.
#[test]
fn demonitor_flush_racing_exit_leaves_no_down() {
    const ITERS: usize = 5000;
    let vm = Arc::new(new_vm());
    let vm2 = vm.clone();
    let reason = vm.run(async move {
        let baseline = vm2.process_count();
        let mut refs = HashSet::with_capacity(ITERS);
        let mut active = 0;
        for i in 0..ITERS {
            let c = spawn(async { exit_self(Reason::other("fast")) });
            if i % 2 == 0 {
                // Push c out of our LIFO slot so that the other scheduler may run it now.
                spawn(async {});
            }
            for _ in 0..(i * 7919) % 2000 {
                std::hint::spin_loop();
            }
            let r = monitor(c);
            match i % 3 {
                0 => {}
                // Let the Down (if c is dead) be drained into our queue before the flush.
                1 => yield_now().await,
                _ => {
                    for _ in 0..(i * 104_729) % 2000 {
                        std::hint::spin_loop();
                    }
                }
            }
            if demonitor(r, true) {
                active += 1;
            }
            refs.insert(r);
        }
        let deadline = Instant::now() + WATCHDOG;
        while vm2.process_count() != baseline {
            assert!(Instant::now() < deadline, "children never reclaimed");
            yield_now().await;
        }
        if let Some(m) = receive_timeout(ZERO).await {
            match m.downcast_ref::<Down>() {
                Some(d) if refs.contains(&d.monitor) => {
                    panic!("a Down after demonitor(flush): {d:?}")
                }
                _ => panic!("unexpected message {m:?}"),
            }
        }
        assert!(process_info(self_pid()).unwrap().monitors.is_empty());
        eprintln!("demonitor race: {active} of {ITERS} monitors were still active at demonitor");
    });
    assert_eq!(reason, Reason::Normal, "the root process failed");
}
