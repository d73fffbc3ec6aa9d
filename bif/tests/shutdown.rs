//! Shutdown: processes still waiting are dropped, nothing leaks, no thread is left running.

use spam::{recv, spawn, Vm};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Guard(Arc<AtomicUsize>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Processes blocked in `receive` at shutdown are dropped (their futures' destructors run),
/// queued messages too, and `shutdown` returns (all scheduler threads joined).
#[test]
fn shutdown_with_processes_still_waiting_drops_them_all() {
    const N: usize = 1_000;
    let dropped = Arc::new(AtomicUsize::new(0));
    let vm = Vm::builder().schedulers(2).build();
    let d = dropped.clone();
    vm.run(async move {
        for _ in 0..N {
            let g = Guard(d.clone());
            let p = spawn(async move {
                let _g = g;
                let _: u8 = recv().await;
                unreachable!("nobody sends a u8");
            });
            // A message it never matches: must be freed with it.
            spam::send(p, Guard(d.clone()));
        }
    });
    vm.shutdown();
    assert_eq!(dropped.load(Ordering::SeqCst), 2 * N);
    assert_eq!(vm.process_count(), 0);
    vm.shutdown(); // idempotent
}

/// Dropping a VM shuts it down the same way.
#[test]
fn dropping_the_vm_shuts_it_down() {
    let dropped = Arc::new(AtomicUsize::new(0));
    {
        let vm = Vm::builder().schedulers(2).build();
        let g = Guard(dropped.clone());
        vm.spawn(async move {
            let _g = g;
            std::future::pending::<()>().await;
        })
        .unwrap();
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// After shutdown a VM starts nothing: `run` returns at once with `Noproc` (the root could not
/// be spawned) instead of blocking on a root that would never run, and `spawn` gives
/// `Err(SpawnError::ShutDown)`.
#[test]
fn run_and_spawn_after_shutdown_return_at_once() {
    let vm = Vm::builder().schedulers(1).build();
    vm.shutdown();
    assert_eq!(vm.run(async {}), spam::Reason::Noproc);
    assert_eq!(vm.spawn(async {}), Err(spam::SpawnError::ShutDown));
    assert_eq!(vm.process_count(), 0);
}
