//! Hostile review of `gen_server` and `supervisor` against `docs/otp-semantics.md` (OTP 25
//! rules 1–47): races, leaks, hangs and supervisor panics the two suites do not cover.
//!
//! Each test is named after the behaviour and cites its rule. Four of them found bugs, fixed
//! since (a dynamic start function panicking when called crashed the supervisor; a `stop` or
//! `start` future dropped mid-way left its monitor behind); the others verify behaviour the
//! suites do not reach. No assertion depends on timing: every scenario runs under a 60 s watchdog thread, and
//! the waits inside it only bound something that must come.

mod common;
use common::{within, Worker};
use spam::gen_server::{self, CallError, CallResult, GenServer, Init, Server, StartOpts};
use spam::supervisor::{
    self, ChildError, ChildPid, ChildSpec, DynamicSpec, DynamicSupervisor, Shutdown, Strategy, SupFlags, Supervisor,
};
use spam::{
    exit, exit_self, is_alive, monitor, process_info, receive, receive_match_timeout, recv_timeout, self_pid, send,
    spawn, spawn_link, spawn_opt, trap_exit, Down, Exit, Msg, Pid, Reason, Ref, SpawnOpts, Vm,
};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Bound on one wait for something that must come; reached only when something is broken.
const WAIT: Duration = Duration::from_secs(20);
const HOUR: Duration = Duration::from_secs(3600);
/// The watchdog on a whole scenario.
const WATCHDOG_SECS: u64 = 60;

/// Runs `fut` as the root process of a fresh 4-scheduler VM, under the watchdog.
fn run<T: Send + 'static>(what: &'static str, fut: impl Future<Output = T> + Send + 'static) -> T {
    within(WATCHDOG_SECS, what, move || Vm::builder().schedulers(4).build().block_on(fut))
}

fn other(s: &'static str) -> Reason {
    Reason::other(s)
}

fn flags(strategy: Strategy, intensity: u32) -> SupFlags {
    SupFlags::new(strategy).intensity(intensity).period(HOUR)
}

/// A `Down` with this reference.
async fn down(mref: Ref) -> Reason {
    let m = receive_match_timeout(move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref), WAIT)
        .await
        .expect("watchdog: no Down");
    m.downcast::<Down>().unwrap().reason
}

/// The `Exit` from `pid` (the caller traps exits).
async fn exit_from(pid: Pid) -> Reason {
    let m = receive_match_timeout(move |m: &Msg| m.downcast_ref::<Exit>().is_some_and(|e| e.from == pid), WAIT)
        .await
        .expect("watchdog: no Exit");
    m.downcast::<Exit>().unwrap().reason
}

/// Waits for `pid` to die; its exit reason.
async fn death(pid: Pid) -> Reason {
    down(monitor(pid)).await
}

/// What is left in the caller's queue, described.
async fn leftovers() -> Vec<String> {
    let mut v = vec![];
    while let Some(m) = receive_match_timeout(|_: &Msg| true, Duration::ZERO).await {
        v.push(describe(&m));
    }
    v
}

fn describe(m: &Msg) -> String {
    if let Some(d) = m.downcast_ref::<Down>() {
        format!("{d:?}")
    } else if let Some(e) = m.downcast_ref::<Exit>() {
        format!("{e:?}")
    } else if let Some(s) = m.downcast_ref::<&str>() {
        format!("{s:?}")
    } else if let Some(p) = m.downcast_ref::<Pid>() {
        format!("Pid {p}")
    } else {
        "<a message of another type>".to_string()
    }
}

/// The supervisor's queue is empty and it holds no monitor (nothing of a finished operation
/// is left in it). A call first, so whatever it was sent has been handled.
async fn assert_sup_clean(sup: Supervisor, what: &str) {
    sup.which_children().await.unwrap();
    let info = process_info(sup.pid().unwrap()).expect("the supervisor is alive");
    assert_eq!(info.message_queue_len, 0, "{what}: messages left in the supervisor's queue");
    assert_eq!(info.monitors, vec![], "{what}: monitors left in the supervisor");
}

/// Spawns a process linked to the caller (the supervisor, in a start function) that traps
/// exits from its first instruction.
fn spawn_trapping<F: Future<Output = ()> + Send + 'static>(f: F) -> Pid {
    spawn_opt(f, SpawnOpts::new().link().trap_exit()).0
}

async fn forever() {
    spam::sleep(Duration::MAX).await
}

/// A child that does nothing until killed.
fn idle(id: &str) -> ChildSpec {
    ChildSpec::spawn_link(id, forever)
}

/// A child whose starts are counted.
fn counted(id: &str, starts: Arc<AtomicUsize>) -> ChildSpec {
    ChildSpec::worker(id, move || {
        starts.fetch_add(1, SeqCst);
        async { Ok(Some(spawn_link(forever()))) }
    })
}

// ---------------------------------------------------------------------------------------------
// Supervisor: start functions and the supervisor's own survival
// ---------------------------------------------------------------------------------------------

/// Rules 39, 43 (and the module docs: "A start function that panics counts as one returning the
/// panic (OTP catches the start call)"): a dynamic template's start function that panics when
/// called (before returning its future) is a failed `start_child`; the supervisor and its
/// other children live on.
///
/// OTP 25 (`simple_one_for_one`, start function `start(N) when N < 0 -> error(negative)`):
/// `start_child(Sup, [-1]) -> {error, {'EXIT', {negative, [...]}}}`, `alive true`, and the next
/// `start_child(Sup, [1]) -> {ok, <0.80.0>}`.
#[test]
fn dynamic_start_function_panic_is_a_start_failure_not_a_supervisor_crash_rule_39_43() {
    run("dynamic start panic", async {
        trap_exit(true);
        let template = DynamicSpec::worker(|n: i32| {
            assert!(n >= 0, "negative");
            async { Ok(Some(spawn_link(forever()))) }
        });
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 5), template).await.unwrap();
        let sup_pid = sup.pid().unwrap();
        let first = sup.start_child(1).await.unwrap().unwrap();
        let r = sup.start_child(-1).await;
        assert!(matches!(r, Err(ChildError::StartFailed(Reason::Panic(_)))), "start_child(-1) gave {r:?}");
        assert!(is_alive(sup_pid), "the supervisor died of its start function's panic");
        assert!(is_alive(first), "the supervisor's other child died");
        assert_eq!(sup.count_children().await.unwrap().active, 1);
        sup.stop().await.unwrap();
    });
}

/// Same as above for [`DynamicSpec::spawn_link`], whose `f(arg)` is called in the supervisor.
#[test]
fn dynamic_spawn_link_body_constructor_panic_is_a_start_failure_rule_39_43() {
    run("dynamic spawn_link panic", async {
        trap_exit(true);
        let template = DynamicSpec::spawn_link(|n: i32| {
            assert!(n >= 0, "negative");
            forever()
        });
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 5), template).await.unwrap();
        let sup_pid = sup.pid().unwrap();
        let r = sup.start_child(-1).await;
        assert!(matches!(r, Err(ChildError::StartFailed(Reason::Panic(_)))), "start_child(-1) gave {r:?}");
        assert!(is_alive(sup_pid), "the supervisor died of its start function's panic");
        sup.stop().await.unwrap();
    });
}

/// The static equivalent is fine (checked here so the contrast is explicit): a static start
/// function that panics when called is a failed `start_child`.
#[test]
fn static_start_function_panic_is_a_start_failure_rule_39() {
    run("static start panic", async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 5), vec![idle("a")]).await.unwrap();
        let boom = ChildSpec::spawn_link("boom", || -> std::future::Ready<()> { panic!("boom") });
        let r = sup.start_child(boom).await;
        assert!(matches!(r, Err(ChildError::StartFailed(Reason::Panic(_)))), "{r:?}");
        assert_sup_clean(sup, "after a panicking start").await;
        sup.stop().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// Supervisor: races with the children
// ---------------------------------------------------------------------------------------------

/// Rules 35, 36: `terminate_child` of a child that traps exits and crashes (abnormal reason)
/// on the supervisor's `Shutdown`: the crash is the supervisor's own doing, so it is not a
/// restart (intensity 0 would make a counted restart fatal), the child is not restarted, and
/// nothing of it is left in the supervisor.
#[test]
fn terminate_child_racing_the_childs_own_crash_is_not_a_restart_rule_35_36() {
    run("terminate_child vs crash", async {
        trap_exit(true);
        let starts = Arc::new(AtomicUsize::new(0));
        let n = starts.clone();
        let crasher = ChildSpec::worker("c", move || {
            n.fetch_add(1, SeqCst);
            async {
                Ok(Some(spawn_trapping(async {
                    loop {
                        if receive().await.is::<Exit>() {
                            exit_self(other("crashed while stopping"));
                        }
                    }
                })))
            }
        });
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 0), vec![crasher]).await.unwrap();
        let sup_pid = sup.pid().unwrap();
        for _ in 0..20 {
            let pid = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
            let mref = monitor(pid);
            assert_eq!(sup.terminate_child("c").await, Ok(()));
            assert_eq!(down(mref).await, other("crashed while stopping"));
            assert_eq!(sup.which_children().await.unwrap()[0].pid, ChildPid::Undefined);
            assert_sup_clean(sup, "after terminate_child").await;
            assert!(sup.restart_child("c").await.unwrap().is_some());
        }
        assert!(is_alive(sup_pid));
        assert_eq!(starts.load(SeqCst), 21, "no automatic restart happened");
        sup.stop().await.unwrap();
    });
}

/// Rule 36: a child that traps exits and ignores `Shutdown`, with a finite timeout, is killed
/// after it, by `terminate_child` as by the supervisor's own stop; no restart, no leftovers.
#[test]
fn deaf_child_with_finite_timeout_is_killed_and_not_restarted_rule_36() {
    run("deaf child", async {
        trap_exit(true);
        let starts = Arc::new(AtomicUsize::new(0));
        let n = starts.clone();
        let deaf = ChildSpec::worker("deaf", move || {
            n.fetch_add(1, SeqCst);
            async {
                Ok(Some(spawn_trapping(async {
                    loop {
                        let _ = receive().await;
                    }
                })))
            }
        })
        .shutdown(Shutdown::Timeout(Duration::from_millis(50)));
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 0), vec![deaf.clone()]).await.unwrap();
        let pid = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
        let mref = monitor(pid);
        sup.terminate_child("deaf").await.unwrap();
        assert_eq!(down(mref).await, Reason::Killed);
        assert_sup_clean(sup, "after killing the deaf child").await;
        let pid = sup.restart_child("deaf").await.unwrap().unwrap();
        let mref = monitor(pid);
        sup.stop().await.unwrap();
        assert_eq!(down(mref).await, Reason::Killed);
        assert_eq!(starts.load(SeqCst), 2);
    });
}

/// Rules 30, 36, 47 (`sup_stop_race`): children exiting by themselves while the supervisor
/// stops its children (one of them takes a sibling down on its way out) are not restarted,
/// and the stop neither hangs nor fails; every child is dead afterwards.
#[test]
fn children_exiting_during_supervisor_shutdown_are_not_restarted_rule_30_36() {
    run("children exit during shutdown", async {
        trap_exit(true);
        let starts = Arc::new(AtomicUsize::new(0));
        let a = counted("a", starts.clone());
        let b = counted("b", starts.clone());
        // c, stopped first, kills a and b on its way out.
        let c = ChildSpec::worker("c", || async {
            Ok(Some(spawn_trapping(async {
                let (a, b): (Pid, Pid) = spam::recv().await;
                loop {
                    if receive().await.is::<Exit>() {
                        exit(a, other("collateral"));
                        exit(b, Reason::Kill);
                        exit_self(Reason::Shutdown);
                    }
                }
            })))
        });
        let sup = supervisor::start_link(flags(Strategy::OneForAll, 10), vec![a, b, c]).await.unwrap();
        let kids: Vec<Pid> = sup.which_children().await.unwrap().iter().map(|c| c.pid.pid().unwrap()).collect();
        send(kids[0], (kids[2], kids[1]));
        let mrefs: Vec<Ref> = kids.iter().map(|&p| monitor(p)).collect();
        sup.stop().await.unwrap();
        let reasons = [down(mrefs[0]).await, down(mrefs[1]).await, down(mrefs[2]).await];
        assert_eq!(reasons, [Reason::Shutdown, Reason::Killed, other("collateral")]);
        assert_eq!(starts.load(SeqCst), 2, "a child was restarted during the shutdown");
        assert_eq!(exit_from(sup.pid().unwrap()).await, Reason::Normal);
        assert_eq!(leftovers().await, Vec::<String>::new(), "left in the test's queue");
    });
}

/// Rule 36 (`child_unlink`): a child that unlinked itself, then exited by itself, is never
/// seen to exit; the supervisor's stop does not hang on it and stops the others.
#[test]
fn child_that_unlinked_itself_and_died_does_not_hang_the_stop_rule_36() {
    run("unlinked child", async {
        trap_exit(true);
        let sneaky = ChildSpec::worker("sneaky", || {
            let sup = self_pid();
            async move {
                Ok(Some(spawn_link(async move {
                    spam::unlink(sup);
                    let () = spam::recv().await;
                })))
            }
        });
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 0), vec![idle("a"), sneaky]).await.unwrap();
        let kids: Vec<Pid> = sup.which_children().await.unwrap().iter().map(|c| c.pid.pid().unwrap()).collect();
        let m = monitor(kids[0]);
        send(kids[0], ());
        assert_eq!(down(m).await, Reason::Normal);
        // The supervisor never heard of it: no restart, no intensity (0) exceeded.
        assert_eq!(sup.which_children().await.unwrap()[0].pid, ChildPid::Running(kids[0]));
        assert_eq!(sup.count_children().await.unwrap().active, 1);
        let ma = monitor(kids[1]);
        sup.stop().await.unwrap();
        assert_eq!(down(ma).await, Reason::Shutdown);
    });
}

/// Rules 31, 33, 46: nested supervisors over intensity. The inner one (intensity 0) exits
/// `Shutdown` on its child's first crash; the outer (intensity 1) restarts it once; the second
/// time the outer is over its intensity too and exits `Shutdown`. Every process of the tree is
/// dead afterwards.
#[test]
fn nested_supervisors_over_intensity_take_the_whole_tree_down_rule_33_46() {
    run("nested intensity", async {
        trap_exit(true);
        let inner = ChildSpec::supervisor_of(
            "inner",
            flags(Strategy::OneForOne, 0),
            vec![ChildSpec::gen_server::<Worker>("w", ()), idle("bystander")],
        );
        let top = supervisor::start_link(flags(Strategy::OneForOne, 1), vec![idle("sibling"), inner]).await.unwrap();
        let top_pid = top.pid().unwrap();
        let mut all = vec![];
        for round in 0..2 {
            let inner_pid = top.which_children().await.unwrap()[0].pid.pid().unwrap();
            let inner_sup = Supervisor::from_pid(inner_pid);
            let kids = inner_sup.which_children().await.unwrap();
            let (bystander, w) = (kids[0].pid.pid().unwrap(), kids[1].pid.pid().unwrap());
            all.extend([inner_pid, bystander, w]);
            let m_inner = monitor(inner_pid);
            gen_server::cast(Server::<Worker>::from_pid(w), other("crash"));
            assert_eq!(down(m_inner).await, Reason::Shutdown, "round {round}: the inner supervisor's exit");
        }
        assert_eq!(exit_from(top_pid).await, Reason::Shutdown, "the top supervisor is over its intensity");
        for p in all {
            assert!(!is_alive(p), "{p} outlived the tree");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Supervisor: API calls racing
// ---------------------------------------------------------------------------------------------

/// Rules 9, 14, 30: calls to a supervisor that is stopping wait (supervisor calls have no
/// timeout), then fail with the supervisor's exit reason; a `start_child` queued behind the
/// stop never runs its start function; nothing of the calls is left in the caller.
#[test]
fn calls_to_a_supervisor_that_is_shutting_down_fail_cleanly_rule_9_30() {
    run("calls during shutdown", async {
        let me = self_pid();
        // A child that tells the test it is being stopped, and waits for the go-ahead.
        let slow = ChildSpec::worker("slow", move || async move {
            Ok(Some(spawn_trapping(async move {
                loop {
                    if let Ok(e) = receive().await.downcast::<Exit>() {
                        send(me, "stopping");
                        let () = spam::recv().await;
                        exit_self(e.reason);
                    }
                }
            })))
        })
        .shutdown(Shutdown::Infinity);
        let sup = supervisor::start(flags(Strategy::OneForOne, 1), vec![slow]).await.unwrap();
        let child = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
        let stopper = spawn(async move { sup.stop().await.unwrap() });
        let ms = monitor(stopper);
        assert_eq!(spam::recv_timeout::<&str>(WAIT).await, Some("stopping"));
        // Both calls are queued behind the stop; the callers are plain processes.
        let ran = Arc::new(AtomicUsize::new(0));
        let r2 = ran.clone();
        let late = ChildSpec::worker("late", move || {
            r2.fetch_add(1, SeqCst);
            async { Ok(Some(spawn_link(forever()))) }
        });
        let caller = spawn(async move {
            let r = sup.start_child(late).await;
            send(me, format!("{r:?}"));
            let left = leftovers().await;
            send(me, left);
        });
        let mc = monitor(caller);
        // Let the caller's request reach the supervisor's queue before the child goes.
        while process_info(sup.pid().unwrap()).is_some_and(|i| i.message_queue_len == 0) {
            spam::yield_now().await;
        }
        send(child, ());
        let which = sup.which_children().await;
        assert_eq!(which, Err(CallError::Exit(Reason::Normal)));
        assert_eq!(recv_timeout::<String>(WAIT).await.as_deref(), Some("Err(Call(Exit(Normal)))"));
        assert_eq!(recv_timeout::<Vec<String>>(WAIT).await, Some(vec![]), "left in the caller's queue");
        assert_eq!(down(mc).await, Reason::Normal);
        assert_eq!(down(ms).await, Reason::Normal);
        assert_eq!(ran.load(SeqCst), 0, "a start function ran after the stop");
        assert_eq!(leftovers().await, Vec::<String>::new(), "left in the test's queue");
        assert_eq!(process_info(self_pid()).unwrap().monitors, vec![], "monitors left in the caller");
    });
}

/// Rules 35, 40: `restart_child` and `terminate_child` racing a child's own crash. Whichever
/// the supervisor handles first, the outcome is consistent: the child ends stopped, at most one
/// automatic restart per crash is counted, and nothing is left in the supervisor.
#[test]
fn api_calls_racing_a_childs_crash_stay_consistent_rule_35_40() {
    run("API vs crash", async {
        trap_exit(true);
        let sup =
            supervisor::start_link(flags(Strategy::OneForOne, 1000), vec![ChildSpec::gen_server::<Worker>("w", ())])
                .await
                .unwrap();
        for _ in 0..50 {
            let pid = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
            gen_server::cast(Server::<Worker>::from_pid(pid), other("crash"));
            let r = sup.restart_child("w").await;
            assert_eq!(r, Err(ChildError::Running), "restart_child during a crash");
            let pid = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
            gen_server::cast(Server::<Worker>::from_pid(pid), other("crash"));
            sup.terminate_child("w").await.unwrap();
            assert_eq!(sup.which_children().await.unwrap()[0].pid, ChildPid::Undefined);
            assert_sup_clean(sup, "after the race").await;
            sup.restart_child("w").await.unwrap();
        }
        sup.stop().await.unwrap();
    });
}

/// Rules 18, 39: a gen_server child killed by a third party during its `init` is a failed
/// start (reason `Killed`), not a crash of a running child: no restart is counted (intensity
/// 0) and nothing is left in the supervisor.
#[test]
fn gen_server_child_killed_during_init_is_a_failed_start_rule_18_39() {
    struct Slow;
    impl GenServer for Slow {
        type Args = Pid;
        type Call = ();
        type Reply = ();
        type Cast = ();
        async fn init(test: Pid) -> Init<Self> {
            send(test, self_pid());
            let () = spam::recv().await;
            Init::ok(Slow)
        }
        async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> {
            CallResult::reply(())
        }
    }
    run("killed during init", async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 0), vec![idle("a")]).await.unwrap();
        // The child's init reports its pid to the killer.
        let killer = spawn(async move {
            let victim: Pid = spam::recv().await;
            exit(victim, Reason::Kill);
        });
        let r = sup.start_child(ChildSpec::gen_server::<Slow>("slow", killer)).await;
        assert_eq!(r, Err(ChildError::StartFailed(Reason::Killed)));
        assert_sup_clean(sup, "after a child killed in init").await;
        assert_eq!(sup.which_children().await.unwrap().len(), 1);
        sup.stop().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// gen_server: leaks in the caller
// ---------------------------------------------------------------------------------------------

/// Rules 2, 14, 18–20: after `start` (failed or not), `call`, `stop` (also one that times out)
/// the caller holds no monitor and no message of them.
#[test]
fn start_call_stop_leave_nothing_in_the_caller_rule_2_14_20() {
    struct S;
    impl GenServer for S {
        type Args = u8;
        type Call = Duration;
        type Reply = ();
        type Cast = ();
        async fn init(mode: u8) -> Init<Self> {
            match mode {
                0 => Init::ok(S),
                1 => Init::Ignore,
                2 => Init::Stop(other("no")),
                _ => panic!("init panics"),
            }
        }
        async fn handle_call(&mut self, d: Duration, _: gen_server::ReplyTo<()>) -> CallResult<()> {
            spam::sleep(d).await;
            CallResult::reply(())
        }
    }
    run("caller leaks", async {
        for mode in 1..4 {
            assert!(gen_server::start::<S>(mode).await.is_err());
        }
        let s = gen_server::start::<S>(0).await.unwrap();
        gen_server::call(s, Duration::ZERO).await.unwrap();
        let r = gen_server::call_timeout(s, Duration::from_millis(200), Duration::from_millis(1)).await;
        assert_eq!(r, Err(CallError::Timeout));
        // The server is busy 200 ms: stop times out, then succeeds.
        assert_eq!(gen_server::stop(s, Reason::Normal, Duration::from_millis(1)).await, Err(CallError::Timeout));
        let pid = s.pid().unwrap();
        death(pid).await;
        assert_eq!(gen_server::stop(s, Reason::Normal, gen_server::DEFAULT_TIMEOUT).await, Err(CallError::Noproc));
        // The server is dead: whatever it sent us (a late reply) was queued before its Down.
        assert_eq!(leftovers().await, Vec::<String>::new());
        assert_eq!(process_info(self_pid()).unwrap().monitors, vec![]);
    });
}

/// Polls `fut` once (as a `select` whose other branch wins would), returning whether it
/// finished.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx).is_ready())).await
}

/// A server whose `init` waits for a message, and whose calls sleep.
struct Gate;

impl GenServer for Gate {
    type Args = ();
    type Call = ();
    type Reply = ();
    type Cast = ();
    async fn init(_: ()) -> Init<Self> {
        let () = spam::recv().await;
        Init::ok(Gate)
    }
    async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> {
        CallResult::reply(())
    }
}

/// Rule 2 and the module's promise "Nothing of a call outlives it ... a call abandoned mid-way
/// (its future dropped) leave[s] nothing behind", applied to `stop` (rule 14): a `stop` future
/// dropped mid-way (a `select` with another branch) leaves its monitor in the caller, and the
/// server's `Down` lands in the caller's queue when it exits. `call` cleans up on drop
/// (`CallGuard`); `stop` does not.
#[test]
fn stop_future_dropped_midway_leaves_no_monitor_or_down_rule_2_14() {
    run("dropped stop", async {
        let s = gen_server::start::<Worker>(()).await.unwrap();
        let pid = s.pid().unwrap();
        let mut stop = Box::pin(gen_server::stop(s, Reason::Normal, gen_server::DEFAULT_TIMEOUT));
        assert!(!poll_once(&mut stop).await, "the stop cannot finish in one poll");
        drop(stop);
        let m = monitor(pid);
        down(m).await; // the StopMsg was sent: the server exits
        assert_eq!(process_info(self_pid()).unwrap().monitors, vec![], "monitor left by the dropped stop");
        assert_eq!(leftovers().await, Vec::<String>::new(), "left in the caller's queue");
    });
}

/// Rules 2, 18 and the same promise, for `start`: a `start` future dropped while `init` runs
/// leaves its monitor (and alias) in the caller; the server's ack or its `Down` lands later.
#[test]
fn start_future_dropped_during_init_leaves_no_monitor_or_message_rule_2_18() {
    run("dropped start", async {
        let mut start = Box::pin(gen_server::start::<Gate>(()));
        assert!(!poll_once(&mut start).await, "init cannot finish: it waits for a message");
        drop(start);
        let pids: Vec<Pid> = spam::processes().into_iter().filter(|&p| p != self_pid()).collect();
        for p in pids {
            let m = monitor(p);
            exit(p, Reason::Kill);
            down(m).await;
        }
        assert_eq!(process_info(self_pid()).unwrap().monitors, vec![], "monitor left by the dropped start");
        assert_eq!(leftovers().await, Vec::<String>::new(), "left in the caller's queue");
    });
}

/// Rule 18: a linked start whose `init` times out, from a caller that traps exits: the
/// half-started server is unlinked before it is killed, so no `Exit` (nor `Down`, nor ack)
/// reaches the caller.
#[test]
fn start_link_init_timeout_leaves_no_exit_in_a_trapping_caller_rule_18() {
    run("init timeout", async {
        trap_exit(true);
        let opts = StartOpts::new().link().timeout(Duration::from_millis(20));
        let r = gen_server::start_opts::<Gate>((), opts).await;
        assert_eq!(r, Err(gen_server::StartError::Timeout));
        let pids: Vec<Pid> = spam::processes().into_iter().filter(|&p| p != self_pid()).collect();
        for p in pids {
            death(p).await;
        }
        assert_eq!(leftovers().await, Vec::<String>::new());
        assert_eq!(process_info(self_pid()).unwrap().monitors, vec![]);
        assert_eq!(process_info(self_pid()).unwrap().links, vec![]);
    });
}

/// The supervisor's links are exactly its parent and its running children: no orphan (a
/// process it started and forgot) and no stale link.
async fn assert_links_are_children(sup: Supervisor, parent: Option<Pid>, what: &str) {
    let kids: Vec<Pid> = sup.which_children().await.unwrap().iter().filter_map(|c| c.pid.pid()).collect();
    for &k in &kids {
        assert!(is_alive(k), "{what}: a child listed as running is dead");
    }
    let mut want: Vec<Pid> = kids.into_iter().chain(parent).collect();
    want.sort();
    let info = process_info(sup.pid().unwrap()).unwrap();
    assert_eq!(info.links, want, "{what}: the supervisor's links are not its children");
}

fn api_and_crash_storm(strategy: Strategy) {
    run("stress", async move {
        trap_exit(true);
        let me = self_pid();
        let specs: Vec<ChildSpec> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| ChildSpec::gen_server::<Worker>(*id, ()).shutdown(Shutdown::Timeout(Duration::from_secs(5))))
            .collect();
        let sup = supervisor::start_link(flags(strategy, 100_000), specs).await.unwrap();
        let mut workers = vec![];
        for w in 0..4u64 {
            workers.push(spawn_link(async move {
                let ids = ["a", "b", "c", "d"];
                for i in 0..200u64 {
                    let id = ids[((i * 7 + w * 3) % 4) as usize];
                    match (i + w) % 5 {
                        0 | 1 => {
                            if let Ok(kids) = sup.which_children().await {
                                if let Some(p) =
                                    kids.iter().find(|c| c.id.as_deref() == Some(id)).and_then(|c| c.pid.pid())
                                {
                                    exit(p, other("crash"));
                                }
                            }
                        }
                        2 => {
                            let _ = sup.terminate_child(id).await;
                        }
                        3 => {
                            let _ = sup.restart_child(id).await;
                        }
                        _ => {
                            let _ = sup.count_children().await;
                        }
                    }
                }
                send(me, "done");
            }));
        }
        for _ in 0..4 {
            assert_eq!(recv_timeout::<&str>(WAIT * 2).await, Some("done"));
        }
        for w in workers {
            death(w).await;
        }
        // Quiesce: the crash signals the workers sent have all been handled once every
        // listed child answers a call (a signal sent before the call is handled before it);
        // restart what is stopped until then.
        'quiet: loop {
            for id in ["a", "b", "c", "d"] {
                let _ = sup.restart_child(id).await;
            }
            let kids = sup.which_children().await.unwrap();
            for c in &kids {
                let Some(p) = c.pid.pid() else { continue 'quiet };
                if gen_server::call(Server::<Worker>::from_pid(p), ()).await.is_err() {
                    continue 'quiet;
                }
            }
            break;
        }
        assert_links_are_children(sup, Some(me), "after the stress").await;
        assert_sup_clean(sup, "after the stress").await;
        let kids: Vec<Pid> = sup.which_children().await.unwrap().iter().filter_map(|c| c.pid.pid()).collect();
        let mrefs: Vec<Ref> = kids.iter().map(|&p| monitor(p)).collect();
        sup.stop().await.unwrap();
        for m in mrefs {
            down(m).await;
        }
    });
}

/// Rules 31, 35, 36, 40: four processes crash children and call `terminate_child`,
/// `restart_child`, `which_children` and `count_children` concurrently. Afterwards the
/// supervisor's links are exactly its parent and its live children (no orphan, no stale pid),
/// its queue is empty and it holds no monitor.
#[test]
fn api_calls_and_crashes_interleaved_leave_no_orphan_one_for_one_rule_31_40() {
    api_and_crash_storm(Strategy::OneForOne)
}
/// As above, one_for_all.
#[test]
fn api_calls_and_crashes_interleaved_leave_no_orphan_one_for_all_rule_31_40() {
    api_and_crash_storm(Strategy::OneForAll)
}
/// As above, rest_for_one.
#[test]
fn api_calls_and_crashes_interleaved_leave_no_orphan_rest_for_one_rule_31_40() {
    api_and_crash_storm(Strategy::RestForOne)
}

/// A gen_server worker child whose every started pid is recorded.
fn recorded(id: &str, log: Arc<std::sync::Mutex<Vec<Pid>>>) -> ChildSpec {
    ChildSpec::worker(id, move || {
        let log = log.clone();
        async move {
            let pid = gen_server::start_link::<Worker>(()).await.map_err(Reason::other)?.pid().unwrap();
            log.lock().unwrap().push(pid);
            Ok(Some(pid))
        }
    })
}

fn crash_storm_then_parent_stop(strategy: Strategy, dynamic: bool) {
    run("stress stop", async move {
        trap_exit(true);
        let me = self_pid();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sup_pid, dsup) = if dynamic {
            let l = log.clone();
            let t = DynamicSpec::worker(move |_: ()| {
                let l = l.clone();
                async move {
                    let pid = gen_server::start_link::<Worker>(()).await.map_err(Reason::other)?.pid().unwrap();
                    l.lock().unwrap().push(pid);
                    Ok(Some(pid))
                }
            });
            let d = DynamicSupervisor::start_link(flags(strategy, 100_000), t).await.unwrap();
            for _ in 0..4 {
                d.start_child(()).await.unwrap();
            }
            (d.pid().unwrap(), Some(d))
        } else {
            let specs = ["a", "b", "c", "d"].iter().map(|id| recorded(id, log.clone())).collect();
            let s = supervisor::start_link(flags(strategy, 100_000), specs).await.unwrap();
            (s.pid().unwrap(), None)
        };
        let sup = Supervisor::from_pid(sup_pid);
        for w in 0..4u64 {
            spawn(async move {
                for i in 0..100u64 {
                    let Ok(kids) = sup.which_children().await else { break };
                    if let Some(p) = kids.get(((i + w) % 4) as usize).and_then(|c| c.pid.pid()) {
                        exit(p, other("crash"));
                    }
                    if let Some(d) = dsup {
                        let _ = d.start_child(()).await;
                        if let Some(p) = kids.get(((i + w + 1) % 4) as usize).and_then(|c| c.pid.pid()) {
                            let _ = d.terminate_child(p).await;
                        }
                    } else {
                        let _ = sup.terminate_child(["a", "b", "c", "d"][(i % 4) as usize]).await;
                        let _ = sup.restart_child(["a", "b", "c", "d"][((i + 2) % 4) as usize]).await;
                    }
                    if i == 50 && w == 0 {
                        send(me, "stop now");
                    }
                }
            });
        }
        assert_eq!(recv_timeout::<&str>(WAIT).await, Some("stop now"));
        exit(sup_pid, Reason::Shutdown);
        assert_eq!(exit_from(sup_pid).await, Reason::Shutdown);
        let pids = log.lock().unwrap().clone();
        for p in pids {
            // Dead already, or dying of a signal sent before the supervisor died.
            let r = death(p).await;
            assert!([Reason::Shutdown, other("crash"), Reason::Killed, Reason::Noproc].contains(&r), "{r:?}");
        }
    });
}

/// Rules 30, 36: the parent's `exit(Sup, Shutdown)` arrives while children crash and API calls
/// restart and terminate them: the supervisor exits `Shutdown` and every process it ever
/// started is dead afterwards (none left alive).
#[test]
fn parent_stop_during_crash_storm_leaves_no_child_alive_one_for_all_rule_30_36() {
    crash_storm_then_parent_stop(Strategy::OneForAll, false)
}
/// As above, rest_for_one.
#[test]
fn parent_stop_during_crash_storm_leaves_no_child_alive_rest_for_one_rule_30_36() {
    crash_storm_then_parent_stop(Strategy::RestForOne, false)
}
/// As above, for a dynamic supervisor (rule 43: concurrent shutdown under one timer), with
/// `start_child` and `terminate_child(pid)` in the storm.
#[test]
fn parent_stop_during_crash_storm_leaves_no_child_alive_dynamic_rule_36_43() {
    crash_storm_then_parent_stop(Strategy::OneForOne, true)
}
