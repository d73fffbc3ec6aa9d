//! API misuse: every process function called outside a process panics with a message naming
//! the function (docs/semantics.md rule 12, tokio's convention for runtime-only functions),
//! never UB and never a silent no-op. A `Vm` call that would block one of the VM's own threads
//! panics, naming the function.

use spam::*;
use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

/// A tiny executor of our own (no new dependency): polls `f` once with a no-op waker.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    pin!(f).poll(&mut cx)
}

/// The text of a panic payload (`panic!` with arguments gives a `String`, without a `&str`).
fn panic_text(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<String>(), payload.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => (*s).to_string(),
        (None, None) => "<non-string panic payload>".to_string(),
    }
}

/// Runs `f` and returns its panic message; fails the test if it does not panic.
fn panic_message(name: &str, f: impl FnOnce()) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => panic!("spam::{name} outside a process returned instead of panicking"),
        Err(p) => panic_text(&*p),
    }
}

/// Asserts that `f` panics with a message naming `spam::<name>` as the function called outside a
/// process (the exact name: `spam::send` must not pass for `spam::send_async`).
fn assert_panics_naming(name: &str, f: impl FnOnce()) {
    let msg = panic_message(name, f);
    let expected = format!("spam::{name} called outside a SPAM process");
    assert!(
        msg.contains(&expected),
        "spam::{name} outside a process: expected {expected:?} in the panic message {msg:?}"
    );
}

/// Ignores a value (`drop` of a `Copy` value is linted as a mistake).
fn discard<T>(_: T) {}

/// A `TimerRef` (its field is private) and a `Ref` obtained inside a process, for the calls
/// that need one.
fn handles() -> (TimerRef, Ref) {
    let vm = Vm::builder().schedulers(1).build();
    vm.block_on(async {
        let t = send_after(LONG, self_pid(), ());
        (t, monitor(self_pid()))
    })
}

/// Rule 12: each process function outside a process panics naming itself. Async ones panic on
/// their first poll.
#[test]
fn every_process_function_outside_a_process_panics_naming_itself() {
    let (timer, mref) = handles();
    let pid = Pid::UNDEFINED;
    type Case = (&'static str, Box<dyn FnOnce()>);
    let cases: Vec<Case> = vec![
        ("spawn", Box::new(|| discard(spawn(async {})))),
        ("spawn_link", Box::new(|| discard(spawn_link(async {})))),
        ("spawn_monitor", Box::new(|| discard(spawn_monitor(async {})))),
        ("spawn_opt", Box::new(|| discard(spawn_opt(async {}, SpawnOpts::new())))),
        ("try_spawn_opt", Box::new(|| discard(try_spawn_opt(async {}, SpawnOpts::new())))),
        ("self_pid", Box::new(|| discard(self_pid()))),
        ("send", Box::new(move || send(pid, 1u8))),
        ("send", Box::new(|| send("x", 1u8))),
        ("try_send", Box::new(move || discard(try_send(pid, 1u8)))),
        ("try_send", Box::new(|| discard(try_send("x", 1u8)))),
        ("send_async", Box::new(move || discard(poll_once(send_async(pid, 2u8))))),
        ("send_async", Box::new(|| discard(poll_once(send_async("x", 2u8))))),
        ("receive", Box::new(|| discard(poll_once(receive())))),
        ("receive_match", Box::new(|| discard(poll_once(receive_match(|_: &Msg| true))))),
        ("receive_timeout", Box::new(|| discard(poll_once(receive_timeout(Duration::ZERO))))),
        ("receive_match_timeout", Box::new(|| discard(poll_once(receive_match_timeout(|_: &Msg| true, LONG))))),
        ("recv", Box::new(|| discard(poll_once(recv::<u8>())))),
        ("recv_timeout", Box::new(|| discard(poll_once(recv_timeout::<u8>(Duration::ZERO))))),
        ("recv_match", Box::new(|| discard(poll_once(recv_match(|_: &u8| true))))),
        ("recv_match_timeout", Box::new(|| discard(poll_once(recv_match_timeout(|_: &u8| true, LONG))))),
        ("register", Box::new(|| discard(register("x")))),
        ("register_pid", Box::new(move || discard(register_pid("x", pid)))),
        ("unregister", Box::new(|| discard(unregister("x")))),
        ("whereis", Box::new(|| discard(whereis("x")))),
        ("processes", Box::new(|| discard(processes()))),
        ("is_alive", Box::new(move || discard(is_alive(pid)))),
        ("process_info", Box::new(move || discard(process_info(pid)))),
        ("link", Box::new(move || discard(link(pid)))),
        ("unlink", Box::new(move || unlink(pid))),
        ("monitor", Box::new(move || discard(monitor(pid)))),
        ("monitor", Box::new(|| discard(monitor("x")))),
        ("demonitor", Box::new(move || discard(demonitor(mref, true)))),
        ("trap_exit", Box::new(|| discard(trap_exit(true)))),
        ("exit", Box::new(move || exit(pid, Reason::Kill))),
        (
            "exit_self",
            Box::new(|| {
                exit_self(Reason::Normal);
            }),
        ),
        ("send_after", Box::new(move || discard(send_after(LONG, pid, 1u8)))),
        ("send_after", Box::new(move || discard(send_after(LONG, "x", 1u8)))),
        ("cancel_timer", Box::new(move || discard(cancel_timer(timer)))),
        ("sleep", Box::new(|| discard(poll_once(sleep(Duration::ZERO))))),
        ("spawn_blocking", Box::new(|| discard(poll_once(spawn_blocking(|| 1))))),
        ("Addr::send", Box::new(move || Addr::<u8>::new(pid).send(1))),
        ("Addr::try_send", Box::new(move || discard(Addr::<u8>::new(pid).try_send(1)))),
        ("Addr::send_async", Box::new(move || discard(poll_once(Addr::<u8>::new(pid).send_async(1))))),
    ];
    for (name, f) in cases {
        assert_panics_naming(name, f);
    }
}

/// Rule 12 for `self_addr`: outside a process it panics, and its message should name
/// `spam::self_addr` as every other process function's does.
#[test]
fn self_addr_outside_a_process_panics_naming_itself() {
    assert_panics_naming("self_addr", || {
        let _ = self_addr::<u8>();
    });
}

/// `self_addr` outside a process does panic (whatever the name in the message), like the other
/// process functions: never a silent no-op or an undefined address.
#[test]
fn self_addr_outside_a_process_panics() {
    let msg = panic_message("self_addr", || {
        let _ = self_addr::<u8>();
    });
    assert!(msg.contains("called outside a SPAM process"), "panic message: {msg:?}");
}

/// The functions documented to work anywhere do not panic outside a process: `in_process`
/// (false there, true inside), `make_ref` (unique references), `yield_now` (returns `Pending`
/// once), `maybe_yield` (never yields there).
#[test]
fn in_process_make_ref_yield_now_and_maybe_yield_work_outside_a_process() {
    assert!(!in_process());
    assert!(Vm::builder().schedulers(1).build().block_on(async { in_process() }));
    let (a, b) = (make_ref(), make_ref());
    assert_ne!(a, b);
    let mut y = pin!(yield_now());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(y.as_mut().poll(&mut cx).is_pending(), "yield_now yields once");
    assert!(y.as_mut().poll(&mut cx).is_ready(), "and only once");
    assert!(poll_once(maybe_yield()).is_ready());
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

/// The same for `Vm::block_on` inside one of the VM's own processes.
#[test]
fn vm_block_on_inside_its_own_process_panics_naming_the_function() {
    let vm = std::sync::Arc::new(Vm::builder().schedulers(2).build());
    let inner = vm.clone();
    let reason = vm.run(async move {
        inner.block_on(async { 1u8 });
    });
    match reason {
        Reason::Panic(msg) => assert!(msg.contains("Vm::block_on"), "panic message: {msg}"),
        other => panic!("expected the caller to die with a panic naming Vm::block_on, got {other:?}"),
    }
    assert_eq!(vm.block_on(async { 7u8 }), 7, "the VM goes on");
}
