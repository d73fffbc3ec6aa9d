//! Distribution: SPAM nodes with each other and with real Erlang nodes (`docs/distribution.md`;
//! the rules are the Processes chapter of Erlang's reference manual, signals between nodes:
//! order per pair kept, connection loss is `noconnection` to every link and monitor that
//! crossed it). The Erlang tests start `erl -sname NAME@localhost -setcookie COOKIE` and print
//! SKIPPED where `erl` is not installed (`.ci/run` installs it).

mod common;

use common::within;
use spam::term::Term;
use spam::{Down, Exit, Pid, Reason, SendError, Vm};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A node name no other test (or test run) uses.
fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_{}_{n}@localhost", std::process::id())
}

fn node(prefix: &str, cookie: &str) -> Vm {
    Vm::builder().schedulers(2).node(unique(prefix), cookie).build()
}

/// The name of `vm`'s node.
fn name(vm: &Vm) -> String {
    vm.node_name().unwrap().to_string()
}

/// A process registered as `echo` on `vm`: answers `{From, X}` with `X`.
fn echo(vm: &Vm) {
    let pid = vm
        .spawn(async {
            loop {
                let t: Term = spam::recv().await;
                if let Term::Tuple(v) = t {
                    if let [from, x] = &v[..] {
                        spam::send(Pid::try_from(from).unwrap(), x.clone());
                    }
                }
            }
        })
        .unwrap();
    vm.block_on(async move { spam::register_pid("echo", pid).unwrap() });
}

/// Messages of every kind, to a registered name and back to a pid, between two SPAM nodes; and
/// both see each other in `nodes()` once connected.
#[test]
fn spam_to_spam_messages_by_name_and_pid_round_trip() {
    within(60, "spam to spam", || {
        let (a, b) = (node("sa", "secret"), node("sb", "secret"));
        echo(&b);
        let bn = name(&b);
        let an = name(&a);
        let got = a.block_on(async move {
            assert!(spam::ping(&bn).await, "pong");
            let me = spam::self_pid();
            let mut back = Vec::new();
            for t in kinds() {
                spam::send(("echo", bn.as_str()), Term::tuple(vec![Term::from(me), t.clone()]));
                back.push((t, spam::recv::<Term>().await));
            }
            (back, spam::nodes())
        });
        for (sent, came) in got.0 {
            assert_eq!(sent, came, "{sent} came back as {came}");
        }
        assert_eq!(got.1, vec![name(&b)]);
        assert_eq!(b.block_on(async { spam::nodes() }), vec![an]);
    });
}

/// One of each kind of term.
fn kinds() -> Vec<Term> {
    vec![
        Term::from(1),
        Term::from(-7),
        Term::from(i64::MAX),
        Term::from(u64::MAX),
        Term::from(2.5),
        Term::atom("héllo"),
        Term::binary(&b"bin"[..]),
        Term::bitstring(vec![0b1010_0000], 3),
        Term::charlist("str"),
        Term::improper_list(vec![Term::atom("a")], Term::atom("b")),
        Term::tuple(vec![Term::atom("t"), Term::tuple(vec![])]),
        Term::map([(Term::atom("a"), Term::from(1)), (Term::list(vec![Term::atom("x")]), Term::binary(vec![]))]),
        Term::Nil,
        Term::list((0..1000).map(Term::from).collect()),
        Term::binary(vec![7u8; 100_000]),
    ]
}

/// Signals from one process to another keep their order across the wire (semantics rule 1):
/// every message sent before an exit arrives before it.
#[test]
fn order_per_pair_holds_across_nodes() {
    within(60, "order across nodes", || {
        let (a, b) = (node("oa", "secret"), node("ob", "secret"));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = b
            .spawn(async move {
                spam::trap_exit(true);
                let mut next = 0i64;
                loop {
                    let m = spam::receive().await;
                    match m.downcast::<Term>() {
                        Ok(Term::Integer(n)) => {
                            assert_eq!(n, next, "out of order");
                            next += 1;
                        }
                        Ok(t) => {
                            tx.send((next, Err(t.to_string()))).unwrap();
                            return;
                        }
                        Err(m) => {
                            let e: Exit = m.downcast().unwrap();
                            tx.send((next, Ok(e.reason))).unwrap();
                            return;
                        }
                    }
                }
            })
            .unwrap();
        let sink_term = b.block_on(async move { Term::from(sink) });
        a.block_on(async move {
            let sink = Pid::try_from(&sink_term).unwrap();
            // The sender links first, so its exit crosses as a link exit, after its messages.
            spam::spawn(async move {
                spam::link(sink).unwrap();
                for i in 0..20_000 {
                    spam::send(sink, Term::from(i));
                }
                spam::exit_self(Reason::other(Term::atom("done")));
            });
        });
        let (count, last) = rx.recv().unwrap();
        assert_eq!(count, 20_000);
        assert_eq!(last, Ok(Reason::other(Term::atom("done"))));
    });
}

/// A message to another node must be a `Term`: `try_send` says so, `send` exits `badarg`.
#[test]
fn a_non_term_to_a_remote_pid_is_refused() {
    within(60, "not a term", || {
        let a = node("nt", "secret");
        let remote = Pid::remote("nobody@localhost", 1, 0, 1);
        let r = a.block_on(async move { matches!(spam::try_send(remote, 5u32), Err(SendError::NotATerm(5))) });
        assert!(r);
        assert_eq!(a.run(async move { spam::send(remote, "text") }), Reason::Badarg);
        assert!(matches!(a.send(remote, 7u8), Err(SendError::NotATerm(7))));
    });
}

/// Links and monitors across nodes: exits and `Down`s carry the reason; a dead remote pid gives
/// `noproc`; `disconnect_node` gives `noconnection` to every link and monitor on both sides.
#[test]
fn links_and_monitors_across_spam_nodes() {
    within(60, "links and monitors", || {
        let (a, b) = (node("la", "secret"), node("lb", "secret"));
        let bn = name(&b);
        // On b: a process that waits for an order, then exits with it.
        let (tx, rx) = std::sync::mpsc::channel();
        let victim = b
            .spawn(async move {
                spam::trap_exit(true);
                let reason: Term = spam::recv().await;
                tx.send(()).unwrap();
                spam::exit_self(Reason::from(reason));
            })
            .unwrap();
        let victim_term = b.block_on(async move { Term::from(victim) });
        let a_side = a.block_on(async move {
            spam::trap_exit(true);
            let v = Pid::try_from(&victim_term).unwrap();
            assert!(v.is_remote());
            spam::link(v).unwrap();
            let m = spam::monitor(v);
            spam::send(v, Term::tuple(vec![Term::atom("shutdown"), Term::binary(&b"bye"[..])]));
            let e: Exit = spam::recv().await;
            let d: Down = spam::recv().await;
            // A dead remote pid: `noproc` for a monitor and for a link.
            let m2 = spam::monitor(v);
            let d2: Down = spam::recv().await;
            spam::link(v).unwrap();
            let e2: Exit = spam::recv().await;
            (v, m, e, d, m2, d2, e2)
        });
        rx.recv().unwrap();
        let (v, m, e, d, m2, d2, e2) = a_side;
        let reason = Reason::from(Term::tuple(vec![Term::atom("shutdown"), Term::binary(&b"bye"[..])]));
        assert_eq!(e, Exit { from: v, reason: reason.clone() });
        assert_eq!(d, Down { monitor: m, pid: v, reason });
        assert_eq!(d2, Down { monitor: m2, pid: v, reason: Reason::Noproc });
        assert_eq!(e2, Exit { from: v, reason: Reason::Noproc });

        // Both directions, then the connection goes: noconnection everywhere.
        let (tx, rx) = std::sync::mpsc::channel();
        let b_proc = b
            .spawn(async move {
                spam::trap_exit(true);
                let peer: Term = spam::recv().await;
                let p = Pid::try_from(&peer).unwrap();
                spam::link(p).unwrap();
                let m = spam::monitor(p);
                spam::send(p, Term::atom("linked"));
                let e: Exit = spam::recv().await;
                let d: Down = spam::recv().await;
                tx.send((p, m, e, d)).unwrap();
            })
            .unwrap();
        let b_term = b.block_on(async move { Term::from(b_proc) });
        let an = name(&a);
        let (bp, am, ae, ad) = a.block_on(async move {
            spam::trap_exit(true);
            let bp = Pid::try_from(&b_term).unwrap();
            spam::link(bp).unwrap();
            let m = spam::monitor(bp);
            spam::send(bp, Term::from(spam::self_pid()));
            assert_eq!(spam::recv::<Term>().await, Term::atom("linked"));
            assert!(spam::disconnect_node(&bn));
            let e: Exit = spam::recv().await;
            let d: Down = spam::recv().await;
            (bp, m, e, d)
        });
        assert_eq!(ae, Exit { from: bp, reason: Reason::Noconnection });
        assert_eq!(ad, Down { monitor: am, pid: bp, reason: Reason::Noconnection });
        let (ap, bm, be, bd) = rx.recv().unwrap();
        assert_eq!(ap.remote_parts().unwrap().node.as_ref(), an);
        assert_eq!(be, Exit { from: ap, reason: Reason::Noconnection });
        assert_eq!(bd, Down { monitor: bm, pid: ap, reason: Reason::Noconnection });
    });
}

/// A node that shuts down (its `Vm` dropped) while its peer is linked to, monitoring and
/// flooding its processes: the drop ends (no hang), and the peer gets `noconnection`.
#[test]
fn dropping_a_node_mid_traffic_gives_its_peers_noconnection() {
    within(60, "drop mid traffic", || {
        let (a, b) = (node("da", "secret"), node("db", "secret"));
        let sink = b
            .spawn(async {
                loop {
                    spam::recv::<Term>().await;
                }
            })
            .unwrap();
        let sink_term = b.block_on(async move { Term::from(sink) });
        let (tx, rx) = std::sync::mpsc::channel();
        a.spawn(async move {
            spam::trap_exit(true);
            let sink = Pid::try_from(&sink_term).unwrap();
            spam::link(sink).unwrap();
            let m = spam::monitor(sink);
            tx.send(None).unwrap();
            // Flood until the link fires.
            let mut i = 0i64;
            loop {
                spam::send(sink, Term::from(i));
                i += 1;
                if let Some(e) = spam::recv_timeout::<Exit>(std::time::Duration::ZERO).await {
                    let d: Down = spam::recv().await;
                    tx.send(Some((sink, m, e, d))).unwrap();
                    return;
                }
                spam::maybe_yield().await;
            }
        })
        .unwrap();
        assert!(rx.recv().unwrap().is_none());
        drop(b);
        let (sink, m, e, d) = rx.recv().unwrap().unwrap();
        // Its processes were shut down before the connection closed, or the connection first:
        // either is Erlang's (a process exit `killed`/`shutdown`, or the node's `noconnection`).
        assert_eq!(e.from, sink);
        assert_eq!((d.monitor, d.pid), (m, sink));
        assert!(e.reason == Reason::Noconnection || e.reason == Reason::Killed, "{:?}", e.reason);
        assert_eq!(d.reason, e.reason);
    });
}

/// `monitor((Name, Node))`: the `Down` names `{Name, Node}`; a name nobody holds is `noproc`.
#[test]
fn monitor_of_a_remote_name() {
    within(60, "remote name monitor", || {
        let (a, b) = (node("ma", "secret"), node("mb", "secret"));
        let db = b
            .spawn(async {
                spam::recv::<Term>().await;
            })
            .unwrap();
        b.block_on(async move { spam::register_pid("db", db).unwrap() });
        let bn = name(&b);
        let (m, m2, d2) = a.block_on({
            let bn = bn.clone();
            async move {
                let m = spam::monitor(("db", bn.as_str()));
                let m2 = spam::monitor(("nobody", bn.as_str()));
                let d2: Down = spam::recv().await;
                (m, m2, d2)
            }
        });
        assert_eq!(d2, Down { monitor: m2, pid: Pid::remote_name("nobody", &bn), reason: Reason::Noproc });
        let _ = m;
        let d = a.block_on({
            let bn = bn.clone();
            async move {
                let m = spam::monitor(("db", bn.as_str()));
                // The monitor is in place once a message sent after it has been seen there.
                spam::send(("db", bn.as_str()), Term::atom("stop"));
                let d: Down = spam::recv().await;
                (m, d)
            }
        });
        let _ = db;
        assert_eq!(d.1.monitor, d.0);
        assert_eq!(d.1.pid, Pid::remote_name("db", &bn));
        assert_eq!(d.1.pid.to_string(), format!("{{db,{bn}}}"));
    });
}

/// `spawn_remote` of a registered entry point (Erlang's `spawn(Node, M, F, A)`); an unknown one
/// gives a process that exits `{undef, {M, F}}`; an unreachable node is `noconnection`.
#[test]
fn spawn_on_a_remote_spam_node() {
    within(60, "remote spawn", || {
        let (a, b) = (node("spa", "secret"), node("spb", "secret"));
        b.register_entry("demo", "echo", |args: Vec<Term>| async move {
            let to = Pid::try_from(&args[0]).unwrap();
            let msg: Term = spam::recv().await;
            spam::send(to, Term::tuple(vec![Term::atom("echo"), msg]));
        });
        let bn = name(&b);
        let (got, undef) = a.block_on(async move {
            let me = Term::from(spam::self_pid());
            let p = spam::spawn_remote(&bn, "demo", "echo", vec![me]).await.unwrap();
            assert!(p.is_remote());
            spam::send(p, Term::from(42));
            let got = spam::recv::<Term>().await;
            let q = spam::spawn_remote(&bn, "demo", "nothing", vec![]).await.unwrap();
            let m = spam::monitor(q);
            let d: Down = spam::recv().await;
            assert_eq!(d.monitor, m);
            let gone = spam::spawn_remote("nobody_here@localhost", "demo", "echo", vec![]).await;
            assert_eq!(gone, Err(Reason::Noconnection));
            (got, d.reason)
        });
        assert_eq!(got, Term::tuple(vec![Term::atom("echo"), Term::from(42)]));
        // `undef`, or `noproc` if it was gone before the monitor arrived.
        let undef_term = undef.downcast_ref::<Term>().map(|t| t.to_string());
        assert!(undef == Reason::Noproc || undef_term.as_deref() == Some("{undef,{demo,nothing}}"), "{undef:?}");
    });
}

/// A node with another cookie is refused: `ping` says `false`, both ways.
#[test]
fn a_wrong_cookie_is_refused() {
    within(60, "wrong cookie", || {
        let (a, b) = (node("ca", "secret"), node("cb", "other"));
        let bn = name(&b);
        assert!(!a.block_on(async move { spam::ping(&bn).await }));
        let an = name(&a);
        assert!(!b.block_on(async move { spam::ping(&an).await }));
        assert!(a.block_on(async { spam::nodes() }).is_empty());
    });
}

// ---- With a real Erlang node ----

/// A background `erl`, killed on drop; its stdout read line by line.
struct Erl {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
    name: String,
}

impl Drop for Erl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Erl {
    /// Starts `erl` as node `prefix_N@localhost` running `eval`; `None` without `erl`.
    fn start(prefix: &str, cookie: &str, eval: &str) -> Option<Erl> {
        let name = unique(prefix);
        let child = Command::new("erl")
            .args(["-sname", &name, "-setcookie", cookie, "-noshell", "-eval", eval])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(_) => {
                eprintln!("SKIPPED: erl not found");
                return None;
            }
        };
        let out = BufReader::new(child.stdout.take().unwrap());
        Some(Erl { child, out, name })
    }

    /// The next line it prints.
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).unwrap();
        l.trim().to_string()
    }

    /// Waits until it prints `ready` (its script got that far).
    fn ready(&mut self) {
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "erl exited before it was ready");
            if l == "ready" {
                return;
            }
        }
    }
}

/// `net_adm:ping` from Erlang reaches SPAM, and SPAM's `ping` reaches Erlang; each then lists
/// the other as connected.
#[test]
fn erlang_and_spam_ping_each_other() {
    within(90, "erl ping", || {
        let vm = node("pe", "secret");
        let me = name(&vm);
        let script = format!(
            "io:format(\"ready~n\"), R = net_adm:ping('{me}'), io:format(\"~p ~p~n\", [R, lists:member('{me}', nodes())]), \
             receive after 60000 -> ok end."
        );
        let Some(mut erl) = Erl::start("pe_erl", "secret", &script) else { return };
        erl.ready();
        assert_eq!(erl.line(), "pong true", "a visible SPAM node is in Erlang's nodes()");
        let en = erl.name.clone();
        assert!(vm.block_on(async move { spam::ping(&en).await }));
        assert_eq!(vm.block_on(async { spam::nodes() }), vec![erl.name.clone()]);
    });
}

/// Every kind of term goes SPAM → Erlang → SPAM unchanged, and Erlang's own terms (pids, refs,
/// funs) come through and can be sent back.
#[test]
fn terms_round_trip_through_erlang() {
    within(90, "erl terms", || {
        let vm = node("te", "secret");
        let script = "register(echo, self()), io:format(\"ready~n\"), \
                      L = fun L() -> receive {From, probe} -> \
                        T = {self(), make_ref(), fun erlang:abs/1, fun() -> ok end, hd(erlang:ports())}, \
                        From ! T, receive {back, T2} -> io:format(\"~p~n\", [T =:= T2]) end, L(); \
                      {From, X} -> From ! X, L() end end, L().";
        let Some(mut erl) = Erl::start("te_erl", "secret", script) else { return };
        erl.ready();
        let en = erl.name.clone();
        let back = vm.block_on(async move {
            let me = Term::from(spam::self_pid());
            let mut back = Vec::new();
            for t in kinds() {
                spam::send(("echo", en.as_str()), Term::tuple(vec![me.clone(), t.clone()]));
                back.push((t, spam::recv::<Term>().await));
            }
            // Erlang's own pid, reference, funs and port: sent back unchanged.
            spam::send(("echo", en.as_str()), Term::tuple(vec![me.clone(), Term::atom("probe")]));
            let theirs = spam::recv::<Term>().await;
            assert!(matches!(&theirs, Term::Tuple(v) if Pid::try_from(&v[0]).is_ok_and(|p| p.is_remote())));
            spam::send(("echo", en.as_str()), Term::tuple(vec![Term::atom("back"), theirs]));
            back
        });
        for (sent, came) in back {
            assert_eq!(sent, came, "{sent} came back from Erlang as {came}");
        }
        assert_eq!(erl.line(), "true", "Erlang's pid, ref, funs and port came back =:=");
    });
}

/// Links and monitors between SPAM and Erlang processes, both directions: exit reasons cross;
/// killing the Erlang node gives `noconnection` to SPAM's links and monitors of its processes.
#[test]
fn links_and_monitors_with_erlang_and_noconnection_when_it_dies() {
    within(90, "erl links", || {
        let vm = node("le", "secret");
        // The Erlang side: `holder` hands out its pid; `watcher` links to and monitors the
        // SPAM pid it is sent, and prints what it gets when that process exits.
        let script = "register(holder, spawn(fun H() -> receive {From, pid} -> From ! self(), H() end end)), \
             register(watcher, spawn(fun() -> process_flag(trap_exit, true), \
                receive P -> link(P), M = monitor(process, P), P ! {linked, self()}, \
                  receive {'EXIT', P, R1} -> receive {'DOWN', M, process, P, R2} -> \
                    io:format(\"~p ~p~n\", [R1, R2]) end end end end)), \
             io:format(\"ready~n\"), receive after 60000 -> ok end.";
        let Some(mut erl) = Erl::start("le_erl", "secret", script) else { return };
        erl.ready();
        let en = erl.name.clone();
        // Erlang links to and monitors a SPAM process, which exits {shutdown, <<"bye">>}.
        let en2 = en.clone();
        vm.block_on(async move {
            let p = spam::spawn(async {
                let t: Term = spam::recv().await;
                assert!(matches!(&t, Term::Tuple(v) if v[0] == Term::atom("linked")));
                spam::exit_self(Reason::from(Term::tuple(vec![Term::atom("shutdown"), Term::binary(&b"bye"[..])])));
            });
            spam::send(("watcher", en2.as_str()), Term::from(p));
        });
        assert_eq!(erl.line(), "{shutdown,<<\"bye\">>} {shutdown,<<\"bye\">>}");
        // SPAM links to and monitors Erlang's holder; then the Erlang node is killed.
        let (tx, rx) = std::sync::mpsc::channel();
        vm.spawn(async move {
            spam::trap_exit(true);
            let me = Term::from(spam::self_pid());
            spam::send(("holder", en.as_str()), Term::tuple(vec![me, Term::atom("pid")]));
            let holder = Pid::try_from(spam::recv::<Term>().await).unwrap();
            spam::link(holder).unwrap();
            let m = spam::monitor(holder);
            tx.send(None).unwrap();
            let e: Exit = spam::recv().await;
            let d: Down = spam::recv().await;
            tx.send(Some((holder, m, e, d))).unwrap();
        })
        .unwrap();
        assert!(rx.recv().unwrap().is_none());
        // Both signals are on the wire before the kill: a ping after them round-trips.
        let en3 = erl.name.clone();
        assert!(vm.block_on(async move { spam::ping(&en3).await }));
        let _ = erl.child.kill();
        let (holder, m, e, d) = rx.recv().unwrap().unwrap();
        assert_eq!(e, Exit { from: holder, reason: Reason::Noconnection });
        assert_eq!(d, Down { monitor: m, pid: holder, reason: Reason::Noconnection });
    });
}

/// Erlang's `spawn(Node, M, F, A)` starts a registered entry point on the SPAM node; SPAM's
/// `spawn_remote` starts `erlang:apply`-able functions on the Erlang node.
#[test]
fn erlang_spawns_on_spam_and_spam_spawns_on_erlang() {
    within(90, "erl spawn", || {
        let vm = node("se", "secret");
        vm.register_entry("demo", "echo", |args: Vec<Term>| async move {
            let to = Pid::try_from(&args[0]).unwrap();
            let msg: Term = spam::recv().await;
            spam::send(to, Term::tuple(vec![Term::atom("echo"), msg]));
        });
        let me = name(&vm);
        let script = format!(
            "io:format(\"ready~n\"), P = spawn('{me}', demo, echo, [self()]), P ! hello, \
             receive R -> io:format(\"~p~n\", [R]) after 10000 -> io:format(\"timeout~n\") end, \
             receive after 60000 -> ok end."
        );
        let Some(mut erl) = Erl::start("se_erl", "secret", &script) else { return };
        erl.ready();
        assert_eq!(erl.line(), "{echo,hello}");
        let en = erl.name.clone();
        let got = vm.block_on(async move {
            let me = Term::from(spam::self_pid());
            // erlang:send(Me, {hi, node()}) run on the Erlang node.
            let msg = Term::tuple(vec![Term::atom("hi"), Term::atom("from_erlang")]);
            let p = spam::spawn_remote(&en, "erlang", "send", vec![me, msg]).await.unwrap();
            assert!(p.is_remote());
            spam::recv::<Term>().await
        });
        assert_eq!(got, Term::tuple(vec![Term::atom("hi"), Term::atom("from_erlang")]));
    });
}

/// A hidden SPAM node is in Erlang's `nodes(hidden)`, not in `nodes()`.
#[test]
fn a_hidden_node_is_hidden_from_erlang() {
    within(90, "hidden", || {
        let vm = Vm::builder().schedulers(1).node(unique("hid"), "secret").hidden(true).build();
        let me = name(&vm);
        let script = format!(
            "io:format(\"ready~n\"), R = net_adm:ping('{me}'), \
             io:format(\"~p ~p ~p~n\", [R, lists:member('{me}', nodes()), lists:member('{me}', nodes(hidden))]), \
             receive after 60000 -> ok end."
        );
        let Some(mut erl) = Erl::start("hid_erl", "secret", &script) else { return };
        erl.ready();
        assert_eq!(erl.line(), "pong false true");
    });
}

/// A wrong cookie is refused by Erlang (our `ping` is `false`) and by us (Erlang's is `pang`).
#[test]
fn erlang_with_another_cookie_is_refused() {
    within(90, "erl cookie", || {
        let vm = node("ce", "secret");
        let me = name(&vm);
        let script = format!(
            "io:format(\"ready~n\"), io:format(\"~p~n\", [net_adm:ping('{me}')]), receive after 60000 -> ok end."
        );
        let Some(mut erl) = Erl::start("ce_erl", "other", &script) else { return };
        erl.ready();
        assert_eq!(erl.line(), "pang");
        let en = erl.name.clone();
        assert!(!vm.block_on(async move { spam::ping(&en).await }));
    });
}
