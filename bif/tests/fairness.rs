//! Fairness: the reduction budget makes busy processes yield; CPU-bound processes that call
//! `yield_now` cannot starve message traffic; blocking closures run off the schedulers.

use spam::{recv, self_pid, send, spawn, spawn_blocking, yield_now, Pid, Reason, Vm};

async fn ping_pong(rounds: u64) {
    let me = self_pid();
    let pong = spawn(async {
        loop {
            let (from, n): (Pid, u64) = recv().await;
            send(from, n);
        }
    });
    for i in 0..rounds {
        send(pong, (me, i));
        assert_eq!(recv::<u64>().await, i);
    }
    spam::exit(pong, Reason::Kill);
}

/// With one scheduler, a process that loops over its own mailbox forever (send to self,
/// receive, repeat: never `Pending` on its own) cannot starve others: the budget charged on send
/// and receive makes it yield (DESIGN Semantics 11).
#[test]
fn mailbox_loop_cannot_starve_its_scheduler() {
    let vm = Vm::builder().schedulers(1).build();
    let reason = vm.run(async {
        let looper = spawn(async {
            let me = self_pid();
            send(me, 0u64);
            loop {
                let n: u64 = recv().await;
                send(me, n + 1);
            }
        });
        ping_pong(1_000).await;
        let info = spam::process_info(looper).unwrap();
        assert!(info.reductions > 2_000, "the looper ran meanwhile: {info:?}");
        spam::exit(looper, Reason::Kill);
    });
    assert_eq!(reason, Reason::Normal);
}

/// A ping-pong pair keeps progressing while CPU-bound processes (that `yield_now`) saturate
/// every scheduler.
#[test]
fn ping_pong_progresses_while_cpu_bound_processes_saturate_all_schedulers() {
    let vm = Vm::builder().schedulers(2).build();
    let reason = vm.run(async {
        let hogs: Vec<Pid> = (0..8)
            .map(|_| {
                spawn(async {
                    let mut x = 1u64;
                    loop {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                        }
                        yield_now().await;
                    }
                })
            })
            .collect();
        ping_pong(2_000).await;
        for h in hogs {
            spam::exit(h, Reason::Kill);
        }
    });
    assert_eq!(reason, Reason::Normal);
}

/// More blocking closures than schedulers, all blocked at once, while messages keep flowing;
/// then released, each delivers its result.
#[test]
fn blocking_closures_beyond_scheduler_count_do_not_stop_message_traffic() {
    const BLOCKERS: usize = 6;
    let vm = Vm::builder().schedulers(2).build();
    let reason = vm.run(async {
        let me = self_pid();
        let (release_tx, release_rx) = crossbeam_like::channel(BLOCKERS);
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        for i in 0..BLOCKERS {
            let rx = release_rx.clone();
            let started = started_tx.clone();
            spawn(async move {
                let v = spawn_blocking(move || {
                    started.send(()).unwrap();
                    rx.lock().unwrap().recv().unwrap();
                    i * 10
                })
                .await
                .unwrap();
                send(me, v);
            });
        }
        // Wait (off-scheduler) until every closure is blocked.
        spawn_blocking(move || {
            for _ in 0..BLOCKERS {
                started_rx.recv().unwrap();
            }
        })
        .await
        .unwrap();
        ping_pong(1_000).await; // schedulers still free
        for _ in 0..BLOCKERS {
            release_tx.send(()).unwrap();
        }
        let mut got: Vec<usize> = Vec::new();
        for _ in 0..BLOCKERS {
            got.push(recv().await);
        }
        got.sort();
        assert_eq!(got, (0..BLOCKERS).map(|i| i * 10).collect::<Vec<_>>());
    });
    assert_eq!(reason, Reason::Normal);
}

/// A panicking blocking closure is reported, not propagated.
#[test]
fn blocking_closure_panic_is_an_error() {
    let vm = Vm::builder().schedulers(1).build();
    let reason = vm.run(async {
        let r = spawn_blocking(|| -> u8 { panic!("dirty") }).await;
        assert_eq!(r, Err(spam::BlockingError::Panicked("dirty".into())));
    });
    assert_eq!(reason, Reason::Normal);
}

/// A tiny shared-receiver channel for the test (std's Receiver is not Clone).
mod crossbeam_like {
    use std::sync::{mpsc, Arc, Mutex};
    pub fn channel(_n: usize) -> (mpsc::Sender<()>, Arc<Mutex<mpsc::Receiver<()>>>) {
        let (tx, rx) = mpsc::channel();
        (tx, Arc::new(Mutex::new(rx)))
    }
}
