//! API misuse: every process function called outside a process returns `NotInProcess` (or its
//! typed equivalent); none panics. A `Vm` call that would block one of the VM's own threads
//! panics, naming the function.

use spam::*;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    pin!(f).poll(&mut cx)
}

#[test]
fn every_process_function_outside_a_process_returns_not_in_process() {
    assert_eq!(self_pid(), Err(NotInProcess));
    assert_eq!(spawn(async {}), Err(SpawnError::NotInProcess));
    assert_eq!(spawn_link(async {}), Err(SpawnError::NotInProcess));
    assert_eq!(spawn_monitor(async {}), Err(SpawnError::NotInProcess));
    assert_eq!(spawn_opt(async {}, SpawnOpts::default()).unwrap_err(), SpawnError::NotInProcess);
    assert!(matches!(send("x", 1u8), Err(SendError::NotInProcess(1))));
    assert!(matches!(try_send("x", 1u8), Err(SendError::NotInProcess(1))));
    assert_eq!(register("x"), Err(RegisterError::NotInProcess));
    assert_eq!(unregister("x"), Err(RegisterError::NotInProcess));
    assert_eq!(whereis("x"), Err(NotInProcess));
    assert_eq!(processes(), Err(NotInProcess));
    assert_eq!(trap_exit(true), Err(NotInProcess));
    assert_eq!(demonitor(Ref::make(), true), Err(NotInProcess));
    assert!(matches!(poll_once(receive()), Poll::Ready(Err(NotInProcess))));
    assert!(matches!(poll_once(recv::<u8>()), Poll::Ready(Err(NotInProcess))));
    assert!(matches!(poll_once(receive_timeout(Duration::ZERO)), Poll::Ready(Err(NotInProcess))));
    assert!(matches!(poll_once(send_async("x", 2u8)), Poll::Ready(Err(SendError::NotInProcess(2)))));
    assert!(matches!(poll_once(spawn_blocking(|| 1)), Poll::Ready(Err(BlockingError::NotInProcess))));
    assert_eq!(exit_self(Reason::Normal), NotInProcess);
    assert_eq!(send_after(Duration::ZERO, "x", 1u8).unwrap_err(), NotInProcess);
    assert_eq!(monitor("x"), Err(NotInProcess));
    assert_eq!(process_info(self_pid().unwrap_or(Pid::UNDEFINED)), Err(NotInProcess));
    assert_eq!(link(Pid::UNDEFINED), Err(LinkError::NotInProcess));
    assert_eq!(unlink(Pid::UNDEFINED), Err(NotInProcess));
    assert_eq!(exit(Pid::UNDEFINED, Reason::Kill), Err(NotInProcess));
}

/// `Vm::run` inside one of the VM's own processes would block a scheduler thread waiting for a
/// root that may need that very thread (a hang from safe code): it panics instead, naming the
/// function, as tokio's `block_on` does inside a runtime. The calling process exits with that
/// panic; the VM goes on.
#[test]
fn vm_run_inside_its_own_process_panics_naming_the_function() {
    let vm = std::sync::Arc::new(Vm::builder().schedulers(2).build());
    let inner = vm.clone();
    let reason = vm.run(async move {
        inner.run(async {});
    });
    match reason {
        Reason::Panic(msg) => assert!(msg.contains("Vm::run"), "panic message: {msg}"),
        other => panic!("expected the caller to die with a panic naming Vm::run, got {other:?}"),
    }
    assert_eq!(vm.run(async {}), Reason::Normal, "the VM goes on");
}
