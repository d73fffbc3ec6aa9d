//! A SPAM node and an Erlang node calling each other.
//!
//! ```sh
//! # Terminal 1: an Erlang node (any OTP 25+).
//! erl -sname erl@localhost -setcookie secret
//! # Terminal 2:
//! cargo run --release --example cluster -- erl@localhost
//! ```
//!
//! The SPAM node `spam@localhost` registers a `counter` process and an entry point `demo:echo`,
//! pings the Erlang node, sends it a message, and links to and monitors a process it spawns
//! there. From the Erlang shell, meanwhile:
//!
//! ```erlang
//! {counter, 'spam@localhost'} ! {self(), add, 5}, flush().   % {total, 5}
//! P = spawn('spam@localhost', demo, echo, [self()]), P ! hi, flush().   % {echo, hi}
//! ```
//!
//! Without an argument (or without `erl` running) it starts a second SPAM node in the same
//! program and does the same with it, so `cargo run --example cluster` always shows both sides.

use spam::term::Term;
use spam::{Down, Exit, Pid, Reason, Vm};
use std::time::Duration;

/// `counter`: answers `{From, add, N}` with `{total, Sum}`.
async fn counter() {
    let mut sum = 0i64;
    loop {
        let msg: Term = spam::recv().await;
        if let Term::Tuple(v) = &msg {
            if let [from, add, Term::Integer(n)] = &v[..] {
                if add.as_atom() == Some("add") {
                    sum += n;
                    let from = Pid::try_from(from).expect("a pid");
                    spam::send(from, Term::tuple(vec![Term::atom("total"), Term::from(sum)]));
                }
            }
        }
    }
}

/// Starts a node with `counter` registered and `demo:echo` as an entry point.
fn start(name: &str) -> Vm {
    let vm = Vm::builder().node(name, "secret").build();
    vm.register_entry("demo", "echo", |args: Vec<Term>| async move {
        let Some(to) = args.first().and_then(|t| Pid::try_from(t).ok()) else { return };
        let msg: Term = spam::recv().await;
        spam::send(to, Term::tuple(vec![Term::atom("echo"), msg]));
    });
    let pid = vm.spawn(counter()).unwrap();
    vm.block_on(async move { spam::register_pid("counter", pid).unwrap() });
    vm
}

fn main() {
    let vm = start("spam@localhost");
    println!("{} is up (cookie \"secret\")", vm.node_name().unwrap());
    let arg = std::env::args().nth(1);
    let peer_vm; // a second SPAM node, when no Erlang node is given
    let peer = match arg {
        Some(erl) => erl,
        None => {
            peer_vm = start("spam_peer@localhost");
            peer_vm.node_name().unwrap().to_string()
        }
    };
    let report = vm.block_on(async move {
        if !spam::ping(&peer).await {
            return format!("{peer} does not answer (is it running, with cookie \"secret\"?)");
        }
        let me = Term::from(spam::self_pid());
        let mut lines = vec![format!("ping {peer}: pong; connected to {:?}", spam::nodes())];

        // A message to a registered name there: Erlang's {counter, Node} ! Msg. (An Erlang
        // peer has no `counter`: the message is dropped, as Erlang drops it.)
        spam::send(("counter", peer.as_str()), Term::tuple(vec![me.clone(), Term::atom("add"), Term::from(5)]));
        if let Some(t) = spam::recv_timeout::<Term>(Duration::from_secs(2)).await {
            lines.push(format!("counter on {peer} answered {t}"));
        }

        // A process there (Erlang's spawn(Node, M, F, A)): on a SPAM peer, the entry point
        // demo:echo; on an Erlang one, erlang:apply(timer, sleep, [infinity]) stands in.
        let (m, f, args) = if peer.starts_with("spam") {
            ("demo", "echo", vec![me.clone()])
        } else {
            ("timer", "sleep", vec![Term::atom("infinity")])
        };
        let remote = spam::spawn_remote(&peer, m, f, args).await.expect("spawned");
        lines.push(format!("spawned {remote} on {peer}"));
        spam::trap_exit(true);
        spam::link(remote).unwrap();
        let mref = spam::monitor(remote);
        if m == "demo" {
            spam::send(remote, Term::atom("hello"));
            lines.push(format!("echo answered {}", spam::recv::<Term>().await));
        } else {
            spam::exit(remote, Reason::from(Term::atom("bye")));
        }
        let down: Down = spam::recv_match(move |d: &Down| d.monitor == mref).await;
        let exit: Exit = spam::recv().await;
        lines.push(format!("it exited: Down {}, Exit {}", down.reason, exit.reason));
        lines.join("\n")
    });
    println!("{report}");
}
