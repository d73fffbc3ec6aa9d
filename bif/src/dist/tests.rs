//! The handshake against itself, and EPMD and the handshake against a real `erl` (OTP 25; those
//! tests print SKIPPED and pass where `erl` is not installed).

use super::epmd::{self, NodeType};
use super::handshake::{self, HandshakeError, FLAGS_HIDDEN};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Both sides of a handshake over loopback: `(initiator's result, acceptor's result)`.
fn pair(
    cookie_a: &str,
    cookie_b: &str,
) -> (Result<handshake::Peer, HandshakeError>, Result<handshake::Peer, HandshakeError>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cookie_b = cookie_b.to_string();
    let acceptor = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = handshake::accept(&mut s, "b@localhost", 7, FLAGS_HIDDEN, &cookie_b, |_| "ok");
        drop(s); // a failed acceptor closes, as Erlang does
        r
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let a = handshake::initiate(&mut s, "a@localhost", 3, FLAGS_HIDDEN, cookie_a, "b@localhost", || true);
    drop(s);
    (a, acceptor.join().unwrap())
}

#[test]
fn same_cookie_both_sides_agree_and_learn_each_other() {
    let (a, b) = pair("secret", "secret");
    let a = a.expect("initiator");
    let b = b.expect("acceptor");
    assert_eq!((a.name.as_str(), a.creation, a.flags), ("b@localhost", 7, FLAGS_HIDDEN));
    assert_eq!((b.name.as_str(), b.creation, b.flags), ("a@localhost", 3, FLAGS_HIDDEN));
}

#[test]
fn different_cookies_are_refused_on_both_sides() {
    let (a, b) = pair("secret", "other");
    assert!(matches!(b, Err(HandshakeError::BadCookie)), "acceptor: {b:?}");
    assert!(matches!(a, Err(HandshakeError::BadCookie | HandshakeError::Io(_))), "initiator: {a:?}");
}

/// `erlang:md5("secret" ++ integer_to_list(1234567890))`, as OTP 25 computes it.
#[test]
fn digest_is_md5_of_cookie_and_decimal_challenge() {
    let otp_25 = [224, 252, 252, 27, 165, 17, 252, 111, 230, 238, 53, 124, 154, 221, 185, 50];
    assert_eq!(handshake::digest("secret", 1_234_567_890), otp_25);
}

/// Runs `erl -noshell -eval CODE`; `None` (and a SKIPPED line) without `erl`.
fn erl_eval(code: &str) -> Option<String> {
    let out = match Command::new("erl").args(["-noshell", "-eval", code]).output() {
        Ok(o) => o,
        Err(_) => {
            eprintln!("SKIPPED: erl not found");
            return None;
        }
    };
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A background `erl -sname NAME@localhost -setcookie COOKIE`, killed on drop.
struct Erl(Child);

impl Drop for Erl {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A node name no other test (or test run) uses.
fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn start_erl(name: &str, cookie: &str, eval: &str) -> Option<Erl> {
    let child = Command::new("erl")
        .args(["-sname", &format!("{name}@localhost"), "-setcookie", cookie, "-noshell", "-eval", eval])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(c) => Some(Erl(c)),
        Err(_) => {
            eprintln!("SKIPPED: erl not found");
            None
        }
    }
}

/// Waits (bounded) until EPMD knows `name`.
fn wait_registered(name: &str) -> epmd::NodePort {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(p)) = epmd::port_please("localhost", name) {
            return p;
        }
        assert!(Instant::now() < deadline, "{name} never registered with epmd");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn real_erl_accepts_our_handshake_and_refuses_a_wrong_cookie() {
    let name = unique("hs_erl");
    let Some(_erl) = start_erl(&name, "secret", "timer:sleep(60000), init:stop().") else { return };
    let port = wait_registered(&name);
    assert_eq!(port.node_type, NodeType::Normal);
    assert!(port.lowest <= 6 && 6 <= port.highest, "{port:?}");
    let full = format!("{name}@localhost");
    let dial = || {
        let s = TcpStream::connect(("127.0.0.1", port.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let peer = handshake::initiate(&mut dial(), "spam_hs@localhost", 1, FLAGS_HIDDEN, "secret", &full, || true)
        .expect("OTP 25 takes our handshake");
    assert_eq!(peer.name, full);
    assert_ne!(peer.creation, 0, "a real node's creation comes from EPMD");
    assert_eq!(peer.flags & handshake::MANDATORY_25, handshake::MANDATORY_25);
    let wrong = handshake::initiate(&mut dial(), "spam_hs2@localhost", 1, FLAGS_HIDDEN, "wrong", &full, || true);
    assert!(matches!(wrong, Err(HandshakeError::BadCookie | HandshakeError::Io(_))), "{wrong:?}");
}

#[test]
fn real_erl_dials_us_through_epmd() {
    if erl_eval("init:stop().").is_none() {
        return;
    }
    // EPMD runs once any distributed node started on this machine; start it ourselves (a no-op
    // when it runs).
    let _ = Command::new("epmd").arg("-daemon").status();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let me = unique("spam_acc");
    let reg = epmd::register(&me, port, NodeType::Hidden).expect("register with epmd");
    assert_ne!(reg.creation, 0);
    let found = epmd::port_please("localhost", &me).unwrap().expect("epmd knows us");
    assert_eq!((found.port, found.node_type), (port, NodeType::Hidden));
    assert!(epmd::names("localhost").unwrap().iter().any(|(n, p)| *n == me && *p == port));
    // erl pings us: its net_kernel dials, and we accept the handshake (the ping itself needs the
    // node's net_kernel answer, built next; erl's answer is not checked here).
    let ping = format!("net_adm:ping('{me}@localhost'), init:stop().");
    let Some(_erl) = start_erl(&unique("hs_dialer"), "secret", &ping) else { return };
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let peer = handshake::accept(&mut s, &format!("{me}@localhost"), reg.creation, FLAGS_HIDDEN, "secret", |_| "ok")
        .expect("we accept erl's handshake");
    assert!(peer.name.starts_with("hs_dialer"), "{peer:?}");
    drop(reg);
    // Closing the registration socket unregisters us.
    let deadline = Instant::now() + Duration::from_secs(10);
    while epmd::port_please("localhost", &me).unwrap().is_some() {
        assert!(Instant::now() < deadline, "still registered after the socket closed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

mod frames {
    use super::super::control::{self, Control, Frame};
    use crate::term::{Atom, ExternalPid, ExternalRef, Term};

    fn pid(id: u32) -> Term {
        Term::Pid(ExternalPid { node: Atom::new("erl@localhost"), id, serial: 0, creation: 9 })
    }

    fn all() -> Vec<Control> {
        let r = Term::Reference(ExternalRef { node: Atom::new("erl@localhost"), creation: 9, ids: vec![1, 2, 3] });
        let reason = Term::tuple(vec![Term::atom("shutdown"), Term::binary(&b"why"[..])]);
        vec![
            Control::Link { from: pid(1), to: pid(2) },
            Control::Send { to: pid(2), msg: Term::from(vec![1, 2, 3]) },
            Control::Exit { from: pid(1), to: pid(2), reason: reason.clone() },
            Control::Unlink { from: pid(1), to: pid(2) },
            Control::RegSend { from: pid(1), to: Term::atom("db"), msg: Term::atom("hello") },
            Control::Exit2 { from: pid(1), to: pid(2), reason: Term::atom("kill") },
            Control::Monitor { from: pid(1), to: Term::atom("net_kernel"), mref: r.clone() },
            Control::Demonitor { from: pid(1), to: pid(2), mref: r.clone() },
            Control::MonitorExit { from: pid(2), to: pid(1), mref: r.clone(), reason },
            Control::SendSender { from: pid(1), to: pid(2), msg: Term::Nil },
            Control::AliasSend { from: pid(1), alias: r, msg: Term::from(1.5) },
            Control::UnlinkId { id: Term::from(7), from: pid(1), to: pid(2) },
            Control::UnlinkIdAck { id: Term::from(7), from: pid(2), to: pid(1) },
            Control::SpawnRequest {
                req: Term::Reference(ExternalRef { node: Atom::new("erl@localhost"), creation: 9, ids: vec![4, 5, 6] }),
                from: pid(1),
                group_leader: pid(0),
                mfa: Term::tuple(vec![Term::atom("demo"), Term::atom("echo"), Term::from(1)]),
                opts: Term::list(vec![Term::atom("link")]),
                args: Term::list(vec![Term::from(42)]),
            },
            Control::SpawnReply { req: Term::from(1), to: pid(1), flags: Term::from(1), result: pid(3) },
        ]
    }

    #[test]
    fn every_control_message_round_trips_through_a_frame() {
        for c in all() {
            let bytes = control::encode_frame(&c);
            let got = control::read_frame(&mut &bytes[..]).unwrap();
            assert_eq!(got, Frame::Control(c));
        }
        assert_eq!(control::read_frame(&mut &[0u8, 0, 0, 0][..]).unwrap(), Frame::Tick);
    }

    /// Hostile input closes the connection with an error, never a panic or a huge allocation.
    #[test]
    fn garbage_frames_are_errors() {
        let huge = (control::MAX_FRAME as u32 + 1).to_be_bytes();
        assert!(control::read_frame(&mut &huge[..]).is_err(), "refused before it is read");
        let cases: [&[u8]; 6] = [
            &[0, 0, 0, 1, 112],                      // no control message
            &[0, 0, 0, 2, 68, 0],                    // atom cache header: not negotiated
            &[0, 0, 0, 4, 112, 131, 97, 2],          // control is not a tuple
            &[0, 0, 0, 6, 112, 131, 104, 1, 97, 99], // unknown operation
            &[0, 0, 0, 6, 112, 131, 104, 1, 97, 2],  // SEND of the wrong arity
            &[0, 0, 0, 9],                           // truncated
        ];
        for c in cases {
            assert!(control::read_frame(&mut &c[..]).is_err(), "{c:?}");
        }
        // Every prefix and single-byte change of a valid frame.
        let good = control::encode_frame(&all()[1]);
        let mut x: u32 = 0x9E37_79B9;
        for i in 4..good.len() {
            let _ = control::decode_frame(&good[4..i]);
            for _ in 0..16 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let mut bad = good[4..].to_vec();
                let at = x as usize % bad.len();
                bad[at] = (x >> 8) as u8;
                let _ = control::decode_frame(&bad);
            }
        }
    }
}

/// `net_adm:ping` from a real Erlang node reaches us (handshake, then net_kernel's `is_auth`
/// call, answered `yes`), and a term of every kind sent to our registered name comes back to
/// the Erlang process unchanged (`=:=`).
#[test]
fn real_erl_pings_us_and_gets_its_term_back() {
    use super::control::{self, Control, Frame};
    use crate::term::Term;
    if erl_eval("init:stop().").is_none() {
        return;
    }
    let _ = Command::new("epmd").arg("-daemon").status();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let me = unique("spam_ping");
    let reg = epmd::register(&me, listener.local_addr().unwrap().port(), NodeType::Hidden).unwrap();
    let term = "[1, -7, 300, 2.5, -123456789012345678901234567890, <<\"bin\">>, <<1:3>>, 'héllo', \
                \"str\", [a | b], {t, {}}, #{a => 1, [x] => <<>>}, []]";
    let script = format!(
        "pong = net_adm:ping('{me}@localhost'), T = {term}, {{echo, '{me}@localhost'}} ! {{self(), T}}, \
         receive T -> io:format(\"same~n\"); Other -> io:format(\"different: ~p~n\", [Other]) \
         after 10000 -> io:format(\"timeout~n\") end, init:stop()."
    );
    let Some(erl) = Command::new("erl")
        .args(["-sname", &format!("{}@localhost", unique("pinger")), "-setcookie", "secret", "-noshell", "-eval"])
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()
    else {
        return;
    };
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    handshake::accept(&mut s, &format!("{me}@localhost"), reg.creation, FLAGS_HIDDEN, "secret", |_| "ok").unwrap();
    loop {
        match control::read_frame(&mut s).expect("a frame from erl") {
            Frame::Tick => std::io::Write::write_all(&mut s, &control::TICK).unwrap(),
            Frame::Control(Control::RegSend { to, msg, .. }) if to == Term::atom("net_kernel") => {
                // {'$gen_call', {From, Tag}, {is_auth, Node}} -> From ! {Tag, yes}
                let Term::Tuple(call) = msg else { panic!("not a gen_call: {msg}") };
                let Term::Tuple(from_tag) = &call[1] else { panic!("no {{From, Tag}}") };
                let reply = Term::tuple(vec![from_tag[1].clone(), Term::atom("yes")]);
                control::write_frame(&mut s, &Control::Send { to: from_tag[0].clone(), msg: reply }).unwrap();
            }
            Frame::Control(Control::RegSend { to, msg, .. }) if to == Term::atom("echo") => {
                let Term::Tuple(mut pair) = msg else { panic!("not {{Pid, T}}: {msg}") };
                let t = pair.pop().unwrap();
                let from = pair.pop().unwrap();
                control::write_frame(&mut s, &Control::Send { to: from, msg: t }).unwrap();
                break;
            }
            Frame::Control(_) => {} // net_kernel's monitor and demonitor
        }
    }
    let out = erl.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim(), "same", "erl said: {stdout} {}", String::from_utf8_lossy(&out.stderr));
}

/// The VM's side of remote pids (`spam_vm::remote`), with a stand-in node that records what the
/// VM hands it.
mod vm_hook {
    use crate::{Down, Exit, Reason, Vm};
    use spam_vm::{Distribution, Msg, Pid, RemoteSignal};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
        /// Waits (bounded) until `n` entries are recorded.
        fn wait(&self, n: usize) -> Vec<String> {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while self.0.lock().unwrap().len() < n {
                assert!(std::time::Instant::now() < deadline, "recorded only {:?}", self.0.lock().unwrap());
                std::thread::sleep(Duration::from_millis(5));
            }
            self.take()
        }
    }

    impl Distribution for Recorder {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn send(&self, from: Option<Pid>, to: Pid, msg: Msg) {
            let what = msg.downcast::<crate::term::Term>().map_or("?".to_string(), |n| n.to_string());
            self.0
                .lock()
                .unwrap()
                .push(format!("send {what} from {} to {to}", from.map_or("-".into(), |p| p.to_string())));
        }
        fn signal(&self, to: Pid, sig: RemoteSignal) {
            let s = match sig {
                RemoteSignal::Link { from } => format!("link {from}"),
                RemoteSignal::Unlink { from } => format!("unlink {from}"),
                RemoteSignal::Exit { from, reason, link } => format!("exit {from} {reason} link={link}"),
                RemoteSignal::Monitor { from, .. } => format!("monitor {from}"),
                RemoteSignal::Demonitor { from, .. } => format!("demonitor {from}"),
                RemoteSignal::Down { from, reason, .. } => format!("down {from} {reason}"),
            };
            self.0.lock().unwrap().push(format!("{s} to {to}"));
        }
    }

    fn node() -> (Vm, Recorder) {
        let vm = Vm::builder().schedulers(2).build();
        let rec = Recorder::default();
        assert!(vm.runtime().set_distribution(Box::new(rec.clone())));
        assert!(!vm.runtime().set_distribution(Box::new(Recorder::default())), "once");
        (vm, rec)
    }

    #[test]
    fn remote_pids_are_interned_and_displayed_as_erlang_does() {
        let a = Pid::remote("hook_a@localhost", 80, 0, 5);
        let b = Pid::remote("hook_a@localhost", 81, 0, 5);
        assert_eq!(a, Pid::remote("hook_a@localhost", 80, 0, 5));
        assert_ne!(a, b);
        assert_ne!(a, Pid::remote("hook_a@localhost", 80, 0, 6), "another incarnation");
        assert!(a.is_remote() && !Pid::UNDEFINED.is_remote());
        let shown = a.to_string();
        assert!(shown.starts_with('<') && shown.ends_with(".80.0>") && !shown.starts_with("<0."), "{shown}");
    }

    /// Sends, links and monitors to a remote pid reach the node; the local exit protocol tells
    /// the remote link (an exit signal) and the remote monitor holder (a `Down`) through it.
    #[test]
    fn sends_links_monitors_and_exits_go_to_the_node() {
        let (vm, rec) = node();
        let remote = Pid::remote("hook_b@localhost", 7, 1, 2);
        let me = vm.block_on(async move {
            crate::send(remote, crate::term::Term::from(42));
            crate::link(remote).expect("a remote link is taken by the node");
            let m = crate::monitor(remote);
            crate::demonitor(m, false);
            crate::unlink(remote);
            crate::self_pid()
        });
        assert_eq!(
            rec.take(),
            [
                format!("send 42 from {me} to {remote}"),
                format!("link {me} to {remote}"),
                format!("monitor {me} to {remote}"),
                format!("demonitor {me} to {remote}"),
                format!("unlink {me} to {remote}"),
            ]
        );
        // A remote process links to a local one and monitors it; the local one then crashes.
        let victim = vm
            .spawn(async {
                let () = crate::recv().await;
            })
            .unwrap();
        vm.runtime().deliver(victim, RemoteSignal::Link { from: remote }).unwrap();
        let mref = spam_vm::Ref::make();
        vm.runtime().deliver(victim, RemoteSignal::Monitor { from: remote, mref }).unwrap();
        vm.exit(victim, Reason::Kill);
        let mut told = rec.wait(2);
        told.sort();
        assert_eq!(
            told,
            [format!("down {victim} killed to {remote}"), format!("exit {victim} killed link=true to {remote}")]
        );
    }

    /// Signals delivered from a remote process act as local ones: an exit kills (or reaches a
    /// trapping process as a message), a `Down` answers a monitor; a dead target gives it back.
    #[test]
    fn delivered_signals_act_as_local_ones() {
        let (vm, rec) = node();
        let remote = Pid::remote("hook_c@localhost", 9, 0, 1);
        let (tx, rx) = std::sync::mpsc::channel();
        let trapper = vm
            .spawn(async move {
                crate::trap_exit(true);
                let m = crate::monitor(remote);
                tx.send(m).unwrap();
                let e: Exit = crate::recv().await;
                let d: Down = crate::recv().await;
                assert_eq!((e.from, e.reason, d.pid, d.monitor), (remote, Reason::Shutdown, remote, m));
                assert_eq!(d.reason, Reason::Noproc);
            })
            .unwrap();
        let mref = rx.recv().unwrap();
        vm.runtime()
            .deliver(trapper, RemoteSignal::Exit { from: remote, reason: Reason::Shutdown, link: false })
            .unwrap();
        vm.runtime().deliver(trapper, RemoteSignal::Down { from: remote, mref, reason: Reason::Noproc }).unwrap();
        // The trapper returned: its monitor of the remote process went to the node first.
        let told = rec.wait(1);
        assert_eq!(told, [format!("monitor {trapper} to {remote}")]);
        let dead = vm.spawn(async {}).unwrap();
        while vm.is_alive(dead) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(matches!(
            vm.runtime().deliver(dead, RemoteSignal::Link { from: remote }),
            Err(RemoteSignal::Link { .. })
        ));
    }

    /// Without a node a remote pid is as a dead one: sends vanish, a link is `noproc`.
    #[test]
    fn without_a_node_a_remote_pid_is_a_dead_one() {
        let vm = Vm::builder().schedulers(1).build();
        let remote = Pid::remote("hook_d@localhost", 1, 0, 1);
        vm.block_on(async move {
            crate::send(remote, crate::term::Term::from(1));
            assert!(crate::link(remote).is_err());
            let m = crate::monitor(remote);
            let d: Down = crate::recv().await;
            assert_eq!((d.monitor, d.reason), (m, Reason::Noproc));
        });
    }
}

/// A whole node against a hand-driven peer: what a hostile or dead peer does to it.
mod node_against_raw_peer {
    use super::super::control::{self, Control, Frame};
    use super::super::{epmd, handshake};
    use crate::term::{Atom, ExternalPid, Term};
    use crate::{Exit, Reason, Vm};
    use std::net::TcpStream;
    use std::time::Duration;

    fn node(prefix: &str, ticktime: Duration) -> Option<Vm> {
        let name = format!("{}@localhost", super::unique(prefix));
        match Vm::builder().schedulers(2).node(name, "secret").net_ticktime(ticktime).try_build() {
            Ok(vm) => Some(vm),
            Err(e) => {
                eprintln!("SKIPPED: no node without epmd ({e})");
                None
            }
        }
    }

    /// Dials `vm`'s node as `me`, with the handshake done: the socket, and `vm`'s creation.
    fn dial(vm: &Vm, me: &str) -> (TcpStream, u32) {
        let full = vm.node_name().unwrap();
        let (alive, _) = full.split_once('@').unwrap();
        let port = epmd::port_please("localhost", alive).unwrap().expect("registered");
        let mut s = TcpStream::connect(("127.0.0.1", port.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let peer =
            handshake::initiate(&mut s, me, 1, handshake::FLAGS_HIDDEN, "secret", full, || true).expect("handshake");
        (s, peer.creation)
    }

    /// A trapping process of `vm` that reports its first exit signal; and its pid as a term.
    fn trapper(vm: &Vm) -> (std::sync::mpsc::Receiver<Exit>, Term) {
        let (tx, rx) = std::sync::mpsc::channel();
        let pid = vm
            .spawn(async move {
                crate::trap_exit(true);
                tx.send(crate::recv::<Exit>().await).unwrap();
            })
            .unwrap();
        (rx, vm.block_on(async move { Term::from(pid) }))
    }

    fn fake_pid(node: &str) -> Term {
        Term::Pid(ExternalPid { node: Atom::new(node), id: 1, serial: 0, creation: 1 })
    }

    /// Garbage on one connection closes that connection only: the node's other connections,
    /// and the links across them, are untouched (semantics: a bad peer never takes the VM
    /// down).
    #[test]
    fn garbage_closes_that_connection_only() {
        let Some(b) = node("garbage_b", super::super::node::NET_TICKTIME) else { return };
        let Some(a) = node("garbage_a", super::super::node::NET_TICKTIME) else { return };
        let bn = b.node_name().unwrap().to_string();
        // A healthy connection a <-> b with a link across it.
        let (exits, b_term) = trapper(&b);
        let a_proc = a
            .spawn(async move {
                crate::link(crate::Pid::try_from(&b_term).unwrap()).unwrap();
                let () = crate::recv().await;
            })
            .unwrap();
        let bn2 = bn.clone();
        assert!(a.block_on(async move { crate::ping(&bn2).await }));
        // A second peer sends garbage after its handshake.
        let me = format!("{}@localhost", super::unique("garbage_peer"));
        let (mut s, _) = dial(&b, &me);
        std::io::Write::write_all(&mut s, &[0, 0, 0, 4, 112, 131, 1, 2]).unwrap();
        while control::read_frame(&mut s).is_ok() {} // ticks, until it closes
                                                     // a <-> b is still up and the link holds.
        assert!(a.block_on(async move { crate::ping(&bn).await }));
        assert!(exits.try_recv().is_err(), "the link across the healthy connection fired");
        a.send(a_proc, ()).unwrap();
        assert_eq!(exits.recv_timeout(Duration::from_secs(30)).unwrap().reason, Reason::Normal);
    }

    /// A peer that stops talking (no ticks) is dropped after `net_ticktime`: the link it made
    /// gets `noconnection`. The node ticked to it meanwhile.
    #[test]
    fn a_silent_peer_is_dropped_after_net_ticktime() {
        let Some(b) = node("silent_b", Duration::from_millis(800)) else { return };
        let (exits, target) = trapper(&b);
        let me = format!("{}@localhost", super::unique("silent_peer"));
        let (mut s, _) = dial(&b, &me);
        control::write_frame(&mut s, &Control::Link { from: fake_pid(&me), to: target }).unwrap();
        let mut ticks = 0;
        while let Ok(f) = control::read_frame(&mut s) {
            if f == Frame::Tick {
                ticks += 1;
            }
        }
        assert!(ticks >= 1, "the node never ticked");
        let e = exits.recv_timeout(Duration::from_secs(30)).expect("noconnection");
        assert_eq!(e.reason, Reason::Noconnection);
        assert_eq!(e.from.remote_parts().unwrap().node.as_ref(), me);
    }

    /// A peer that stops reading never stalls the processes sending to it: their frames queue
    /// for the connection's writer thread once the socket's buffer is full (docs/distribution.md,
    /// "Threads and failure").
    #[test]
    fn a_peer_that_does_not_read_never_blocks_a_sender() {
        let Some(b) = node("deaf_b", super::super::node::NET_TICKTIME) else { return };
        let me = format!("{}@localhost", super::unique("deaf_peer"));
        let (s, _) = dial(&b, &me);
        let deaf = crate::Pid::remote(&me, 1, 0, 1);
        let sent = b.block_on(async move {
            let big = Term::binary(vec![7u8; 1 << 20]);
            for _ in 0..64 {
                crate::send(deaf, big.clone()); // 64 MiB to a peer that reads nothing
            }
            crate::ping("nobody_at_all@localhost").await; // and the process goes on
            64
        });
        assert_eq!(sent, 64);
        drop(s);
    }

    /// Two nodes that dial each other at once end with one connection that both use (OTP's
    /// rule: the greater name's dial wins).
    #[test]
    fn simultaneous_connects_end_with_one_connection() {
        for _ in 0..20 {
            let Some(a) = node("sim_a", super::super::node::NET_TICKTIME) else { return };
            let Some(b) = node("sim_b", super::super::node::NET_TICKTIME) else { return };
            let (an, bn) = (a.node_name().unwrap().to_string(), b.node_name().unwrap().to_string());
            let a = std::sync::Arc::new(a);
            let a2 = a.clone();
            let bn2 = bn.clone();
            let t = std::thread::spawn(move || a2.block_on(async move { crate::ping(&bn2).await }));
            let an2 = an.clone();
            assert!(b.block_on(async move { crate::ping(&an2).await }));
            assert!(t.join().unwrap());
            assert_eq!(a.block_on(async { crate::nodes() }), vec![bn]);
            assert_eq!(b.block_on(async { crate::nodes() }), vec![an]);
        }
    }
}
