//! Tracing: Erlang's `erlang:trace/3` rules (OTP 25 reference manual, `erlang:trace/3`, "Trace
//! messages"), each test naming the rule it mirrors; docs/semantics.md rule 16.
//!
//! The root process is usually the tracer. Processes synchronise with messages; a traced process
//! waits for a `Go` before acting, so tracing is set before anything it reports. A *negative*
//! ("no event arrives") is checked with `receive_timeout(Duration::ZERO)` only after a message
//! from the traced process that was sent after anything that could have reported it (events and
//! messages from one process arrive in order, semantics 1). Receives with a timeout are
//! watchdogs, never timing assertions.

mod common;

use common::within;
use spam::{
    demonitor, exit, exit_self, link, monitor, recv, recv_match_timeout, recv_timeout, register, self_pid, send, spawn,
    spawn_link, spawn_monitor, trace, trace_info, trap_exit, unlink, unregister, Down, Pid, Reason, Trace, TraceEvent,
    TraceFlags, Vm,
};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(20);

/// Tells a traced process to go on.
struct Go;
/// A traced process is done.
struct Done;

fn vm() -> Vm {
    Vm::builder().schedulers(2).build()
}

/// Runs `f` as the root process of a fresh VM under the watchdog.
fn run<F: std::future::Future<Output = ()> + Send + 'static>(what: &'static str, f: F) {
    within(30, what, move || vm().block_on(f));
}

async fn go() {
    let Go = recv_timeout::<Go>(WATCHDOG).await.expect("watchdog: no Go");
}

/// The next trace event about `pid` (events about other pids stay queued).
async fn event_of(pid: Pid) -> Trace {
    let e = recv_match_timeout(move |e: &TraceEvent| e.pid == pid, WATCHDOG).await.expect("watchdog: no trace event");
    e.event
}

/// The events of `pid` received until `pid`'s `Done`, in order.
/// The events, compared by `Debug` (`Trace` has no `PartialEq`).
fn assert_events(events: &[Trace], want: &[Trace]) {
    assert_eq!(format!("{events:?}"), format!("{want:?}"));
}

async fn events_until_done(pid: Pid) -> Vec<Trace> {
    let mut out = Vec::new();
    loop {
        let m = spam::receive_match_timeout(
            move |m| m.downcast_ref::<TraceEvent>().is_some_and(|e| e.pid == pid) || m.is::<Done>(),
            WATCHDOG,
        )
        .await
        .expect("watchdog: no event or Done");
        match m.downcast::<TraceEvent>() {
            Ok(e) => out.push(e.event),
            Err(_) => return out,
        }
    }
}

/// Nothing more is queued for the caller (after a synchronising message; see the module docs).
async fn nothing_queued() {
    if let Some(m) = spam::receive_timeout(Duration::ZERO).await {
        panic!("unexpected message: {m:?}");
    }
}

fn names(events: &[Trace]) -> Vec<&'static str> {
    events.iter().map(Trace::name).collect()
}

/// `send`: "{trace, Pid, send, Msg, To}: when Pid sends Msg to To"; `'receive'`: "{trace, Pid,
/// 'receive', Msg}: when Pid receives Msg" (when it enters the queue). Events come in the order
/// they happened, and the message is named by its Rust type.
#[test]
fn send_and_receive_events_in_order_with_type_names() {
    run("send and receive", async {
        let me = self_pid();
        let echo = spawn(async move {
            let n: u32 = recv().await;
            send(me, format!("got {n}"));
            send(me, Done);
        });
        assert!(trace(echo, TraceFlags::SEND | TraceFlags::RECEIVE, me));
        assert_eq!(trace_info(echo), Some((TraceFlags::SEND | TraceFlags::RECEIVE, me)));
        send(echo, 7u32);
        let events = events_until_done(echo).await;
        assert_events(
            &events,
            &[
                Trace::Receive { msg: "u32" },
                Trace::Send { to: me, msg: "alloc::string::String" },
                Trace::Send { to: me, msg: std::any::type_name::<Done>() },
            ],
        );
        assert_eq!(recv::<String>().await, "got 7");
    });
}

/// `send_to_non_existing_process`: "{trace, Pid, send_to_non_existing_process, Msg, To}: when
/// Pid sends Msg to the non-existing process To". A name nobody holds is reported the same way,
/// with `to` = `Pid::UNDEFINED` (the send itself fails: `badarg`, semantics 2).
#[test]
fn send_to_a_dead_pid_or_a_free_name_is_send_to_non_existing_process() {
    run("send to non-existing", async {
        let me = self_pid();
        let (dead, _) = spawn_monitor(async {});
        let Down { .. } = recv_timeout::<Down>(WATCHDOG).await.expect("watchdog");
        let p = spawn(async move {
            go().await;
            send(dead, 1u8);
            assert!(spam::try_send("nobody_has_this_name", 2u16).is_err());
            send(me, Done);
        });
        assert!(trace(p, TraceFlags::SEND, me));
        send(p, Go);
        let events = events_until_done(p).await;
        assert_events(
            &events,
            &[
                Trace::SendToNonExisting { to: dead, msg: "u8" },
                Trace::SendToNonExisting { to: Pid::UNDEFINED, msg: "u16" },
                Trace::Send { to: me, msg: std::any::type_name::<Done>() },
            ],
        );
    });
}

/// `'receive'` for system messages: an `{'EXIT', From, Reason}` a trapping process gets is
/// received like any message, so it is traced (by its Rust type, `Exit`).
#[test]
fn a_trapped_exit_is_traced_as_a_receive() {
    run("trapped exit", async {
        let me = self_pid();
        let p = spawn(async move {
            trap_exit(true);
            go().await;
            spawn_link(async { exit_self(Reason::Shutdown) });
            let e = recv::<spam::Exit>().await;
            assert_eq!(e.reason, Reason::Shutdown);
            send(me, Done);
        });
        assert!(trace(p, TraceFlags::RECEIVE, me));
        send(p, Go);
        let events = events_until_done(p).await;
        assert_events(
            &events,
            &[
                Trace::Receive { msg: std::any::type_name::<Go>() },
                Trace::Receive { msg: std::any::type_name::<spam::Exit>() },
            ],
        );
    });
}

/// `procs`: "{trace, Pid, spawn, Pid2, ..}: when Pid spawns Pid2"; "{trace, Pid, exit,
/// Reason}: when Pid exits with Reason"; "{trace, Pid, register, RegName}" and "unregister"
/// (also when a registered process exits: its name is unregistered).
#[test]
fn spawn_register_unregister_and_exit_with_the_reason() {
    run("procs", async {
        let me = self_pid();
        let (p, _) = spawn_monitor(async move {
            go().await;
            let child = spawn(async {});
            send(me, child);
            register("traced_procs_a").unwrap();
            unregister("traced_procs_a").unwrap();
            register("traced_procs_b").unwrap();
            exit_self(Reason::other("done here"))
        });
        assert!(trace(p, TraceFlags::PROCS, me));
        send(p, Go);
        let child: Pid = recv_timeout(WATCHDOG).await.expect("watchdog");
        let mut events = Vec::new();
        for _ in 0..6 {
            events.push(event_of(p).await);
        }
        assert_events(
            &events,
            &[
                Trace::Spawn { child },
                Trace::Register { name: "traced_procs_a".into() },
                Trace::Unregister { name: "traced_procs_a".into() },
                Trace::Register { name: "traced_procs_b".into() },
                Trace::Unregister { name: "traced_procs_b".into() },
                Trace::Exit { reason: Reason::other("done here") },
            ],
        );
        // The exit event comes before the `Down` (both from p, in order).
        let d = recv_timeout::<Down>(WATCHDOG).await.expect("watchdog");
        assert_eq!(d.pid, p);
        nothing_queued().await;
    });
}

/// `set_on_spawn`: "Makes any process created by a traced process inherit its trace flags,
/// including flag set_on_spawn" (and its tracer); the child reports "{trace, Pid, spawned,
/// Parent, ..}". `spawn_link` reports the parent's `link` and the child's `getting_linked`.
/// Without it, children are not traced.
#[test]
fn set_on_spawn_children_inherit_flags_and_tracer() {
    run("set_on_spawn", async {
        let me = self_pid();
        let flags = TraceFlags::PROCS | TraceFlags::LINKS | TraceFlags::SET_ON_SPAWN;
        let p = spawn(async move {
            go().await;
            let inherits = spawn_link(async { go().await });
            send(me, inherits);
            trace(self_pid(), TraceFlags::PROCS, me); // drop SET_ON_SPAWN
            let plain = spawn(async {});
            send(me, plain);
            go().await;
        });
        assert!(trace(p, flags, me));
        send(p, Go);
        let c: Pid = recv_timeout(WATCHDOG).await.expect("watchdog");
        let plain: Pid = recv_timeout(WATCHDOG).await.expect("watchdog");
        assert_eq!(trace_info(c), Some((flags, me)));
        assert_eq!(trace_info(plain), None);
        assert_eq!(
            format!("{:?}", [event_of(p).await, event_of(p).await, event_of(p).await]),
            format!("{:?}", [Trace::Spawn { child: c }, Trace::Link { other: c }, Trace::Spawn { child: plain }])
        );
        assert_eq!(
            format!("{:?}", [event_of(c).await, event_of(c).await]),
            format!("{:?}", [Trace::Spawned { parent: p }, Trace::GettingLinked { other: p }])
        );
        send(c, Go);
        assert!(matches!(event_of(c).await, Trace::Exit { reason: Reason::Normal }));
        send(p, Go);
        assert!(matches!(event_of(p).await, Trace::Exit { reason: Reason::Normal }));
    });
}

/// `link`/`unlink`: "{trace, Pid, link, Pid2}: when Pid links to Pid2", "{trace, Pid, unlink,
/// Pid2}"; `getting_linked`/`getting_unlinked`: "when Pid2 links to Pid" (reported by the
/// linked process when it handles the link).
#[test]
fn link_unlink_getting_linked_getting_unlinked() {
    run("links", async {
        let me = self_pid();
        let q = spawn(async move {
            go().await; // handles the link and unlink signals queued before the Go
            send(me, Done);
            go().await;
        });
        let p = spawn(async move {
            go().await;
            link(q).unwrap();
            unlink(q);
            send(me, Done);
            go().await;
        });
        assert!(trace(p, TraceFlags::LINKS, me));
        assert!(trace(q, TraceFlags::LINKS, me));
        send(p, Go);
        let p_events = events_until_done(p).await;
        send(q, Go); // after p's link and unlink: q handles them first
        let q_events = events_until_done(q).await;
        assert_eq!(format!("{p_events:?}"), format!("{:?}", [Trace::Link { other: q }, Trace::Unlink { other: q }]));
        assert_eq!(
            format!("{q_events:?}"),
            format!("{:?}", [Trace::GettingLinked { other: p }, Trace::GettingUnlinked { other: p }])
        );
        exit(p, Reason::Kill);
        exit(q, Reason::Kill);
    });
}

/// A `gen_server::call` traced with `LINKS` shows OTP's pair: `monitor` of the server, then
/// `demonitor` of the same reference once the reply is in (here the reply ends the monitor as
/// it passes the call's alias, `reply_demonitor`; OTP's call demonitors explicitly).
#[test]
fn a_call_is_traced_as_monitor_then_demonitor() {
    use spam::gen_server::{self, CallResult, GenServer, Init};
    struct Id;
    impl GenServer for Id {
        type Args = ();
        type Call = u32;
        type Reply = u32;
        type Cast = ();
        async fn init(_: ()) -> Init<Self> {
            Init::ok(Id)
        }
        async fn handle_call(&mut self, n: u32, _: gen_server::ReplyTo<u32>) -> CallResult<u32> {
            CallResult::reply(n)
        }
    }
    run("a traced call", async {
        let me = self_pid();
        let s = gen_server::start::<Id>(()).await.expect("start");
        let server = s.pid().expect("started");
        let p = spawn(async move {
            go().await;
            assert_eq!(gen_server::call(s, 7).await, Ok(7));
            send(me, Done);
        });
        assert!(trace(p, TraceFlags::LINKS, me));
        send(p, Go);
        let events = events_until_done(p).await;
        let [Trace::Monitor { target, mref }, Trace::Demonitor { mref: ended }] = events[..] else {
            panic!("want monitor then demonitor, got {events:?}");
        };
        assert_eq!((target, ended), (server, mref));
    });
}

/// `monitor`/`demonitor` (OTP's `monitor` trace flag: "{trace, Pid, monitor, ..}" and
/// "demonitor"), reported by the monitoring process with the monitor's reference.
#[test]
fn monitor_and_demonitor_with_the_reference() {
    run("monitors", async {
        let me = self_pid();
        let q = spawn(async { go().await });
        let p = spawn(async move {
            go().await;
            let r = monitor(q);
            send(me, r);
            assert!(demonitor(r, true));
            send(me, Done);
        });
        assert!(trace(p, TraceFlags::LINKS, me));
        send(p, Go);
        let r: spam::Ref = recv_timeout(WATCHDOG).await.expect("watchdog");
        let events = events_until_done(p).await;
        assert_events(&events, &[Trace::Monitor { target: q, mref: r }, Trace::Demonitor { mref: r }]);
        send(q, Go);
    });
}

/// `erlang:trace(Pid, false, all)` turns tracing off: nothing is reported afterwards.
#[test]
fn untrace_stops_events() {
    run("untrace", async {
        let me = self_pid();
        let p = spawn(async move {
            loop {
                go().await;
                send(me, 1u8);
                send(me, Done);
            }
        });
        assert!(trace(p, TraceFlags::SEND | TraceFlags::RECEIVE, me));
        send(p, Go);
        assert_eq!(events_until_done(p).await.len(), 3); // receive Go, send u8, send Done
        assert!(trace(p, TraceFlags::empty(), me));
        assert_eq!(trace_info(p), None);
        send(p, Go);
        let Done = recv_timeout::<Done>(WATCHDOG).await.expect("watchdog");
        let _ = recv::<u8>().await;
        let _ = recv::<u8>().await;
        nothing_queued().await;
        exit(p, Reason::Kill);
    });
}

/// "If the tracer process exits, the trace flags are cleared" (erlang:trace/3, the `tracer`
/// option): tracing is off once the tracer is dead, and the traced process goes on.
#[test]
fn tracer_death_turns_tracing_off() {
    run("tracer death", async {
        let me = self_pid();
        let (tracer, _) = spawn_monitor(async { go().await });
        let p = spawn(async move {
            loop {
                go().await;
                send(me, Done);
            }
        });
        assert!(trace(p, TraceFlags::ALL, tracer));
        assert_eq!(trace_info(p), Some((TraceFlags::ALL, tracer)));
        exit(tracer, Reason::Kill);
        let Down { .. } = recv_timeout::<Down>(WATCHDOG).await.expect("watchdog");
        // The next event finds the tracer dead and clears the flags (the event is dropped).
        send(p, Go);
        let Done = recv_timeout::<Done>(WATCHDOG).await.expect("watchdog");
        assert_eq!(trace_info(p), None);
        // And so does trace_info itself, for a process with no event since.
        let q = spawn(async { go().await });
        let (tracer2, _) = spawn_monitor(async {});
        let Down { .. } = recv_timeout::<Down>(WATCHDOG).await.expect("watchdog");
        assert!(trace(q, TraceFlags::ALL, tracer2)); // a dead tracer can be set, as in Erlang ...
        assert_eq!(trace_info(q), None); // ... and is off at once
        exit(p, Reason::Kill);
        send(q, Go);
    });
}

/// A process may be its own tracer (`erlang:trace(self(), true, [all, {tracer, self()}])`):
/// receiving its trace events is not reported again, so tracing does not feed itself.
#[test]
fn a_process_tracing_itself_does_not_loop() {
    run("self-tracing", async {
        let me = self_pid();
        assert!(trace(me, TraceFlags::ALL, me));
        send(me, 5u8);
        assert_eq!(recv::<u8>().await, 5);
        let a = recv_timeout::<TraceEvent>(WATCHDOG).await.expect("watchdog").event;
        let b = recv_timeout::<TraceEvent>(WATCHDOG).await.expect("watchdog").event;
        assert_eq!(
            format!("{:?}", [a, b]),
            format!("{:?}", [Trace::Send { to: me, msg: "u8" }, Trace::Receive { msg: "u8" }])
        );
        // Everything the drains above could report is reported by now: nothing more comes.
        nothing_queued().await;
        trace(me, TraceFlags::empty(), me);
    });
}

/// `erlang:trace/3` on a dead pid is `badarg` in Erlang; here `trace` returns `false`.
#[test]
fn tracing_a_dead_pid_returns_false() {
    run("dead pid", async {
        let me = self_pid();
        let (dead, _) = spawn_monitor(async {});
        let Down { .. } = recv_timeout::<Down>(WATCHDOG).await.expect("watchdog");
        assert!(!trace(dead, TraceFlags::ALL, me));
        assert!(!trace(Pid::UNDEFINED, TraceFlags::ALL, me));
        assert_eq!(trace_info(dead), None);
    });
}

/// The tracer is an ordinary process (Erlang's `{tracer, Pid}`): a collector written with the
/// public API receives the events; tracing set from outside the VM (`Vm::trace`).
#[test]
fn an_ordinary_process_collects_events_as_tracer() {
    within(30, "collector", || {
        let vm = vm();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<&'static str>>();
        let collector = vm
            .spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let e = recv::<TraceEvent>().await;
                    let done = matches!(e.event, Trace::Exit { .. });
                    seen.push(e.event.name());
                    if done {
                        let _ = tx.send(seen);
                        return;
                    }
                }
            })
            .unwrap();
        let worker = vm
            .spawn(async {
                go().await;
                let _ = spawn(async {});
            })
            .unwrap();
        assert!(vm.trace(worker, TraceFlags::ALL, collector));
        vm.send(worker, Go).unwrap();
        let seen = rx.recv_timeout(WATCHDOG).expect("watchdog");
        assert_eq!(seen, ["receive", "spawn", "exit"]);
    });
}

/// Semantics 12: a process function outside a process panics naming itself.
#[test]
fn trace_outside_a_process_panics_naming_itself() {
    let r = std::panic::catch_unwind(|| trace(Pid::UNDEFINED, TraceFlags::ALL, Pid::UNDEFINED));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("spam::trace called outside"), "{msg}");
}

/// The events' names are Erlang's trace message tags.
#[test]
fn event_names_are_erlangs() {
    assert_eq!(names(&[Trace::SendToNonExisting { to: Pid::UNDEFINED, msg: "" }]), ["send_to_non_existing_process"]);
    assert_eq!(TraceFlags::from_names("send,receive,procs,links"), Some(TraceFlags::ALL));
}
