//! Name registry rules (DESIGN Semantics 8; Erlang `register/2`, `whereis/1`, `Name ! Msg`).

use spam::{recv, register, register_pid, self_pid, send, spawn, spawn_monitor, unregister, whereis, Down, Reason};
use spam::{try_send, RegisterError, SendError, Vm};

fn run(f: impl std::future::Future<Output = ()> + Send + 'static) {
    assert_eq!(Vm::builder().schedulers(2).build().run(f), Reason::Normal);
}

/// `register` then send by name reaches the process; `whereis` finds it.
#[test]
fn send_by_registered_name_reaches_the_process() {
    run(async {
        register("me").unwrap();
        assert_eq!(whereis("me"), Some(self_pid()));
        send("me", 5u8);
        assert_eq!(recv::<u8>().await, 5);
    });
}

/// Erlang: `Name ! Msg` with an unregistered name raises badarg: here `try_send` gives
/// `Err(NotRegistered)`, with the message handed back (`send` exits the caller with `Badarg`:
/// see `api.rs`).
#[test]
fn send_to_unregistered_name_is_an_error_returning_the_message() {
    run(async {
        match try_send("nobody", 9u8) {
            Err(SendError::NotRegistered(n, m)) => assert_eq!((n.as_str(), m), ("nobody", 9)),
            other => panic!("expected NotRegistered, got {other:?}"),
        }
    });
}

/// Erlang: registering a taken name is badarg; so is naming a process twice; so is registering
/// a dead pid; `unregister` of a free name is badarg.
#[test]
fn registry_errors_taken_name_second_name_dead_pid_unknown_name() {
    run(async {
        register("taken").unwrap();
        let other = spawn(async {
            let _ = recv::<()>().await;
        });
        assert_eq!(register_pid("taken", other), Err(RegisterError::NameTaken("taken".into())));
        assert_eq!(register("second"), Err(RegisterError::AlreadyNamed));
        let (dead, _) = spawn_monitor(async {});
        let _: Down = recv().await;
        assert_eq!(register_pid("ghost", dead), Err(RegisterError::Noproc));
        assert_eq!(unregister("never"), Err(RegisterError::NotRegistered("never".into())));
        unregister("taken").unwrap();
        assert_eq!(whereis("taken"), None);
        register_pid("taken", other).unwrap();
        assert_eq!(whereis("taken"), Some(other));
        spam::exit(other, Reason::Kill);
    });
}

/// DESIGN Semantics 8: the name is freed when the process exits, and can be taken again.
#[test]
fn name_is_freed_when_the_process_exits() {
    run(async {
        let (p, _) = spawn_monitor(async {
            register("short-lived").unwrap();
        });
        let d: Down = recv().await;
        assert_eq!(d.pid, p);
        assert_eq!(whereis("short-lived"), None);
        register("short-lived").unwrap();
    });
}
