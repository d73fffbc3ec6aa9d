//! Bounded mailboxes: `try_send` hands the message back when full, `send_async` waits for room,
//! and signals are never refused by the bound (DESIGN Semantics 10).

use spam::{recv, self_pid, send, send_async, spawn_opt, try_send, Down, Reason, SendError, SpawnOpts, Vm};

fn run(f: impl std::future::Future<Output = ()> + Send + 'static) {
    assert_eq!(Vm::builder().schedulers(2).build().run(f), Reason::Normal);
}

fn bounded(cap: usize) -> SpawnOpts {
    SpawnOpts::new().mailbox_capacity(cap)
}

/// A full bounded mailbox refuses `try_send` with `Full(msg)`, every time it is tried; room
/// comes back as the owner receives. (`send` to a full mailbox exits the caller with `Badarg`:
/// see `api.rs`.)
#[test]
fn try_send_to_full_mailbox_returns_the_message() {
    run(async {
        let me = self_pid();
        let (p, _) = spawn_opt(
            async move {
                let _go: &str = recv().await;
                let a: u32 = recv().await;
                let b: u32 = recv().await;
                send(me, (a, b));
            },
            bounded(3),
        );
        try_send(p, 1u32).unwrap();
        try_send(p, 2u32).unwrap();
        try_send(p, "go").unwrap();
        match try_send(p, 4u32) {
            Err(SendError::Full(m)) => assert_eq!(m, 4),
            other => panic!("expected Full, got {other:?}"),
        }
        assert!(matches!(try_send(p, 5u32), Err(SendError::Full(5))));
        assert_eq!(recv::<(u32, u32)>().await, (1, 2));
    });
}

/// `send_async` waits while the mailbox is full and delivers everything, in order.
#[test]
fn send_async_waits_for_room_and_keeps_order() {
    const N: u32 = 2_000;
    run(async {
        let me = self_pid();
        let (consumer, _) = spawn_opt(
            async move {
                for i in 0..N {
                    assert_eq!(recv::<u32>().await, i);
                }
                send(me, "done");
            },
            bounded(2),
        );
        for i in 0..N {
            send_async(consumer, i).await;
        }
        assert_eq!(recv::<&str>().await, "done");
    });
}

/// Signals ignore the bound: a full mailbox still takes a monitor, a link and an exit signal.
#[test]
fn signals_are_never_refused_by_a_full_mailbox() {
    run(async {
        spam::trap_exit(true);
        let (p, _) = spawn_opt(
            async {
                let _: u64 = recv().await; // never sent
            },
            bounded(1),
        );
        try_send(p, 1u8).unwrap();
        assert!(try_send(p, 2u8).is_err(), "full");
        let mref = spam::monitor(p);
        spam::link(p).unwrap();
        spam::exit(p, Reason::Kill);
        let d: Down = recv().await;
        assert_eq!((d.monitor, d.reason), (mref, Reason::Killed));
        let e: spam::Exit = recv().await;
        assert_eq!((e.from, e.reason), (p, Reason::Killed));
    });
}
