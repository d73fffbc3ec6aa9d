//! Spawning: many processes across all schedulers, panics isolated, the exit reason of `run`.

use spam::{recv, self_pid, send, spawn, spawn_monitor, Down, Reason, SpawnOpts, Vm};
use std::collections::HashSet;

/// 100k processes spawned from many processes across all schedulers: each runs, reports and
/// exits, and every one is accounted for (distinct pids, all reclaimed).
#[test]
fn spawn_100k_processes_from_many_spawners_all_accounted_for() {
    const SPAWNERS: usize = 100;
    const EACH: usize = 1_000;
    let vm = Vm::builder().schedulers(2).build();
    let reason = vm.run(async {
        let me = self_pid();
        for _ in 0..SPAWNERS {
            spawn(async move {
                let spawner = self_pid();
                for _ in 0..EACH {
                    spawn(async move {
                        send(spawner, self_pid());
                    });
                }
                let mut seen = Vec::with_capacity(EACH);
                for _ in 0..EACH {
                    seen.push(recv::<spam::Pid>().await);
                }
                send(me, seen);
            });
        }
        let mut all = HashSet::new();
        for _ in 0..SPAWNERS {
            for p in recv::<Vec<spam::Pid>>().await {
                assert!(all.insert(p), "pid {p} reported twice");
            }
        }
        assert_eq!(all.len(), SPAWNERS * EACH);
    });
    assert_eq!(reason, Reason::Normal);
    // Every child and spawner exited; the root is reclaimed once its exit finishes, which
    // `run` observed. Wait for the table to drain without sleeping: spin on the count.
    let mut spins = 0u64;
    while vm.process_count() > 0 {
        std::thread::yield_now();
        spins += 1;
        assert!(spins < 100_000_000, "processes leaked: {}", vm.process_count());
    }
    let stats = vm.scheduler_stats();
    assert_eq!(stats.len(), 2);
    assert!(stats.iter().all(|s| s.polls > 0), "both schedulers ran processes: {stats:?}");
}

/// A panicking process exits with `Reason::Panic(message)`; the VM and other processes go on.
#[test]
fn panic_is_isolated_and_becomes_the_exit_reason() {
    let vm = Vm::builder().schedulers(2).build();
    let reason = vm.run(async {
        let (p, mref) = spawn_monitor(async {
            panic!("boom {}", 42);
        });
        let d: Down = recv().await;
        assert_eq!((d.pid, d.monitor), (p, mref));
        assert_eq!(d.reason, Reason::Panic("boom 42".into()));
        // The VM goes on: a fresh process still works.
        let me = self_pid();
        spawn(async move { send(me, "alive") });
        assert_eq!(recv::<&str>().await, "alive");
    });
    assert_eq!(reason, Reason::Normal);
    // A panicking root is reported as such by `run`.
    assert_eq!(vm.run(async { panic!("root") }), Reason::Panic("root".into()));
    assert_eq!(vm.run(async {}), Reason::Normal);
}

/// `exit_self(reason)` ends the process with that reason (Erlang `exit/1`).
#[test]
fn exit_self_sets_the_exit_reason() {
    let vm = Vm::builder().schedulers(1).build();
    assert_eq!(
        vm.run(async {
            spam::exit_self(Reason::Shutdown);
        }),
        Reason::Shutdown
    );
    assert_eq!(
        vm.run(async {
            spam::exit_self(Reason::other("my reason"));
        }),
        Reason::other("my reason")
    );
}

/// Spawning from outside processes (`Vm::spawn`) and sending from outside (`Vm::send`) work.
#[test]
fn vm_spawn_and_send_from_outside() {
    let vm = Vm::builder().schedulers(2).build();
    let (tx, rx) = std::sync::mpsc::channel();
    let p = vm
        .spawn(async move {
            let n: u32 = recv().await;
            tx.send(n * 2).unwrap();
        })
        .unwrap();
    vm.send(p, 21u32).unwrap();
    assert_eq!(rx.recv().unwrap(), 42);
}

/// Past `max_processes` (rounded up to a table page of 4096 slots) `try_spawn_opt` fails with
/// the typed `TableFull`, not a crash (plain `spawn` exits the caller with `SystemLimit`: see
/// `api.rs`); once processes exit, all their slots can be taken again (the
/// cross-worker case is forced in `vm/src/table.rs`'s unit test).
#[test]
fn spawn_past_max_processes_is_table_full() {
    let vm = Vm::builder().schedulers(2).max_processes(1).build();
    let reason = vm.run(async {
        let mut kids = Vec::new();
        let err = loop {
            match spam::try_spawn_opt(
                async {
                    let _ = recv::<()>().await;
                },
                SpawnOpts::new(),
            ) {
                Ok((p, _)) => kids.push(p),
                Err(e) => break e,
            }
        };
        assert_eq!(err, spam::SpawnError::TableFull);
        assert_eq!(kids.len(), 4096 - 1, "the root holds one slot");
        // Let every child exit: their slots are reclaimed on whichever worker ran them, so
        // the free slots end up spread over both workers' caches.
        for &k in &kids {
            spam::monitor(k);
            send(k, ());
        }
        for _ in 0..kids.len() {
            let _: Down = recv().await;
        }
        // The root can take every one of them back (after their grace periods).
        let mut yields = 0u64;
        for _ in 0..kids.len() {
            loop {
                match spam::try_spawn_opt(async {}, SpawnOpts::new()) {
                    Ok(_) => break,
                    Err(spam::SpawnError::TableFull) => {
                        yields += 1;
                        assert!(yields < 10_000_000, "freed slots never came back");
                        spam::yield_now().await;
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        }
    });
    assert_eq!(reason, Reason::Normal);
}
