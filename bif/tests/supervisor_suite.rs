//! OTP's `supervisor_SUITE`, ported: one test per OTP case, named after it, each citing the
//! supervisor rule it checks (rules 26–47 of `docs/otp-semantics.md`, section 2, checked on
//! OTP 25). Cases with no SPAM equivalent are listed at the end of this comment.
//!
//! No assertion depends on timing. Tests observe outcomes with monitors (`Down` reasons),
//! `Exit` messages, events the children and their start functions send to the test process, and
//! the supervisor's own answers. Ordering facts the tests rely on:
//! - a child that exits tells its links (the supervisor) before its monitors (the test), so a
//!   call the test makes to the supervisor after the child's `Down` is handled after the
//!   supervisor has handled the child's `Exit` (and its restart);
//! - a supervisor stops children one at a time and waits for each `Down`, so the events a
//!   stopping child sends arrive in stop order.
//!
//! Every blocking wait has a generous watchdog: reached only when something is broken. The
//! restart-intensity window test (`multiple_restarts`) sleeps past a short period and asserts
//! only that the supervisor survived.
//!
//! Not ported (no SPAM equivalent): `sup_start_ignore_init`, `sup_start_error_return` (no
//! callback module: flags and specs are values), `sup_start_map_faulty_specs` and most of
//! `child_specs`/`sup_flags` (ids, restart types, shutdowns and strategies are typed; what is
//! left is checked in `child_specs` and `sup_flags`), `extra_return` and
//! `simple_one_for_one_extra` (no `{ok, Pid, Info}`), `do_not_save_start_parameters_*` (it
//! measures process memory), `code_change*`, `simple_global_supervisor` (no global names),
//! `faulty_application_shutdown` (no applications).

mod common;
use common::Worker;
use spam::gen_server::{self, CallError, Server};
use spam::supervisor::{
    self, AutoShutdown, ChildCounts, ChildError, ChildPid, ChildSpec, ChildType, DynamicSpec, DynamicSupervisor,
    Restart, Shutdown, StartResult, Strategy, SupFlags, SupStartError, Supervisor,
};
use spam::{
    exit, exit_self, is_alive, monitor, process_info, receive, receive_match_timeout, recv_timeout, self_pid, send,
    spawn, spawn_link, spawn_opt, trap_exit, unlink, Down, Exit, Msg, Pid, Reason, Ref, SpawnOpts, Vm,
};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Upper bound on any single wait; reached only when something is broken (the test then fails
/// with a message instead of hanging). Never part of what a test asserts.
const WATCHDOG: Duration = Duration::from_secs(30);
const HOUR: Duration = Duration::from_secs(3600);

/// Runs `f` as the root process of a fresh 4-scheduler VM; its assertions fail the test.
fn run<F: Future<Output = ()> + Send + 'static>(f: F) {
    let vm = Vm::builder().schedulers(4).build();
    let reason = vm.run(f);
    assert_eq!(reason, Reason::Normal, "the root process failed");
}

fn other(s: &'static str) -> Reason {
    Reason::other(s)
}

/// OTP's `{Strategy, Intensity, Period}`.
fn flags(strategy: Strategy, intensity: u32, period: Duration) -> SupFlags {
    SupFlags::new(strategy).intensity(intensity).period(period)
}

/// A permanent gen_server worker with a 1 s shutdown (OTP's `{Id, {supervisor_1, start_child,
/// []}, permanent, 1000, worker, []}`).
fn worker(id: &str) -> ChildSpec {
    ChildSpec::gen_server::<Worker>(id, ()).shutdown(Shutdown::Timeout(Duration::from_secs(1)))
}

async fn start_worker() -> StartResult {
    gen_server::start_link::<Worker>(()).await.map(|s| s.pid()).map_err(Reason::other)
}

/// A worker whose first start succeeds and every later one fails (OTP's `supervisor_1` with
/// `[error]`), and the count of its starts.
fn worker_failing_restarts(id: &str) -> (ChildSpec, Arc<AtomicUsize>) {
    let starts = Arc::new(AtomicUsize::new(0));
    let n = starts.clone();
    let spec = ChildSpec::worker(id, move || {
        let first = n.fetch_add(1, SeqCst) == 0;
        async move {
            if first {
                start_worker().await
            } else {
                Err(other("no restart"))
            }
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
    (spec, starts)
}

/// Makes the child exit with `reason` (the gen_server `Worker` stops, a traced child exits)
/// and waits for its `Down`, so the supervisor has handled its exit before the next call.
async fn terminate(pid: Pid, reason: Reason) {
    let mref = monitor(pid);
    if reason == Reason::Kill {
        exit(pid, Reason::Kill);
    } else {
        gen_server::cast(Server::<Worker>::from_pid(pid), reason.clone());
        send(pid, Cmd::Stop(reason.clone())); // for traced children (a Worker ignores it)
    }
    let got = down(mref).await;
    let want = if reason == Reason::Kill { Reason::Killed } else { reason };
    assert_eq!(got, want, "the child exited with another reason");
}

/// A `Down` with this reference.
async fn down(mref: Ref) -> Reason {
    let m = receive_match_timeout(move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref), WATCHDOG)
        .await
        .expect("watchdog: no Down");
    m.downcast::<Down>().unwrap().reason
}

/// The `Exit` from `pid` (the test process traps exits).
async fn exit_from(pid: Pid) -> Reason {
    let m = receive_match_timeout(move |m: &Msg| m.downcast_ref::<Exit>().is_some_and(|e| e.from == pid), WATCHDOG)
        .await
        .expect("watchdog: no Exit");
    m.downcast::<Exit>().unwrap().reason
}

/// Checks that the supervisor exits with `Shutdown` (OTP `check_exit([SupPid])`).
async fn check_exit_shutdown(sup: Pid) {
    assert_eq!(exit_from(sup).await, Reason::Shutdown, "the supervisor should exit with shutdown");
}

/// The pids of the running children, newest first.
async fn pids(sup: Supervisor) -> Vec<Pid> {
    sup.which_children().await.unwrap().iter().filter_map(|c| c.pid.pid()).collect()
}

/// The child `id`'s pid.
async fn pid_of(sup: Supervisor, id: &str) -> Pid {
    let children = sup.which_children().await.unwrap();
    let c = children.iter().find(|c| c.id.as_deref() == Some(id)).expect("no such child");
    c.pid.pid().expect("not running")
}

/// OTP's `get_child_counts`: `[specs, active, supervisors, workers]`.
async fn counts(sup: Supervisor) -> [usize; 4] {
    let ChildCounts { specs, active, supervisors, workers } = sup.count_children().await.unwrap();
    [specs, active, supervisors, workers]
}

async fn dyn_counts<A: Clone + Send + 'static>(sup: DynamicSupervisor<A>) -> [usize; 4] {
    let ChildCounts { specs, active, supervisors, workers } = sup.count_children().await.unwrap();
    [specs, active, supervisors, workers]
}

fn info(id: &str, pid: ChildPid) -> supervisor::ChildInfo {
    supervisor::ChildInfo { id: Some(id.to_string()), pid, kind: ChildType::Worker }
}

/// Spawns a process linked to the caller (the supervisor, when called from a start function)
/// that traps exits from the start: set at spawn, so no exit signal can arrive before it.
fn spawn_trapping<F: Future<Output = ()> + Send + 'static>(f: F) -> Pid {
    spawn_opt(f, SpawnOpts::new().link().trap_exit()).0
}

/// A worker that is a process trapping exits from its start.
fn trapping_child<F, Fut>(id: &str, f: F) -> ChildSpec
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    ChildSpec::worker(id, move || {
        let pid = spawn_trapping(f());
        async move { Ok(Some(pid)) }
    })
}

/// Commands to traced children.
#[derive(Debug)]
enum Cmd {
    Stop(Reason),
}

/// What traced children and their start functions tell the test, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    /// A start function started the child (sent from the supervisor).
    Started(&'static str, Pid),
    /// A start function failed (sent from the supervisor).
    StartFailed(&'static str),
    /// The child got the supervisor's exit signal with this reason, and exits with it.
    Term(&'static str, Reason),
}

/// A child that traps exits and reports the supervisor's exit signal before dying of it (so the
/// order of stops is observable), and whose starts fail while `fail` is above zero.
fn traced_with(id: &'static str, rec: Pid, fail: Arc<AtomicUsize>) -> ChildSpec {
    ChildSpec::worker(id, move || {
        let sup = self_pid(); // the start function runs in the supervisor
        let failing = fail.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        async move {
            if failing {
                send(rec, Ev::StartFailed(id));
                return Err(other("start failed"));
            }
            let pid = spawn_trapping(traced_body(id, rec, sup));
            send(rec, Ev::Started(id, pid));
            Ok(Some(pid))
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(10)))
}

fn traced(id: &'static str, rec: Pid) -> ChildSpec {
    traced_with(id, rec, Arc::new(AtomicUsize::new(0)))
}

async fn traced_body(id: &'static str, rec: Pid, sup: Pid) {
    loop {
        let m = receive().await;
        if let Some(e) = m.downcast_ref::<Exit>() {
            if e.from == sup {
                send(rec, Ev::Term(id, e.reason.clone()));
                exit_self(e.reason.clone());
            }
        } else if let Ok(Cmd::Stop(r)) = m.downcast::<Cmd>() {
            exit_self(r);
        }
    }
}

async fn next_ev() -> Ev {
    recv_timeout::<Ev>(WATCHDOG).await.expect("watchdog: no event")
}

/// The next `n` events.
async fn evs(n: usize) -> Vec<Ev> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(next_ev().await);
    }
    v
}

/// Asserts no event is queued (call after a synchronising round trip).
async fn no_more_evs() {
    let m = receive_match_timeout(|m: &Msg| m.is::<Ev>(), Duration::ZERO).await;
    assert!(m.is_none(), "unexpected event {:?}", m.and_then(|m| m.downcast::<Ev>().ok()));
}

fn started_pid(ev: &Ev) -> Pid {
    match ev {
        Ev::Started(_, p) => *p,
        e => panic!("expected Started, got {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// sup_start group
// ---------------------------------------------------------------------------------------------

/// `sup_start_normal` — rules 28, 29, 30: children start one at a time in list order,
/// `which_children` lists them newest first, and the parent's `exit(Sup, shutdown)` stops them
/// one at a time newest first, then the supervisor exits `shutdown`.
#[test]
fn sup_start_normal() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        let children = vec![traced("a", me), traced("b", me), traced("c", me)];
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), children).await.unwrap();
        let started: Vec<&str> = evs(3)
            .await
            .iter()
            .map(|e| match e {
                Ev::Started(id, _) => *id,
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(started, ["a", "b", "c"]); // rule 28
        let ids: Vec<String> = sup.which_children().await.unwrap().into_iter().map(|c| c.id.unwrap()).collect();
        assert_eq!(ids, ["c", "b", "a"]); // rule 29
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        assert_eq!(
            evs(3).await,
            [Ev::Term("c", Reason::Shutdown), Ev::Term("b", Reason::Shutdown), Ev::Term("a", Reason::Shutdown)]
        ); // rule 30
        check_exit_shutdown(sup_pid).await;
    });
}

/// `sup_start_ignore_child` — rule 38: a start returning ignore gives `{ok, undefined}`, and a
/// permanent spec is kept with pid `undefined`.
#[test]
fn sup_start_ignore_child() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let child1 = ChildSpec::worker("child1", || async { Ok(None) });
        assert_eq!(sup.start_child(child1).await, Ok(None));
        let cpid2 = sup.start_child(worker("child2")).await.unwrap().unwrap();
        assert_eq!(
            sup.which_children().await.unwrap(),
            [info("child2", ChildPid::Running(cpid2)), info("child1", ChildPid::Undefined)]
        );
        assert_eq!(counts(sup).await, [2, 1, 0, 2]);
    });
}

/// `sup_start_ignore_temporary_child` — rule 38: a temporary child ignoring its start during the
/// supervisor's init is not kept.
#[test]
fn sup_start_ignore_temporary_child() {
    run(async {
        trap_exit(true);
        let child1 = ChildSpec::worker("child1", || async { Ok(None) }).restart(Restart::Temporary);
        let child2 = worker("child2").restart(Restart::Temporary);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![child1, child2]).await.unwrap();
        let children = sup.which_children().await.unwrap();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].id.as_deref(), Some("child2"));
        assert!(children[0].pid.pid().is_some_and(is_alive));
        assert_eq!(counts(sup).await, [1, 1, 0, 1]);
    });
}

/// `sup_start_ignore_temporary_child_start_child` — rule 38: same, through `start_child`.
#[test]
fn sup_start_ignore_temporary_child_start_child() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let child1 = ChildSpec::worker("child1", || async { Ok(None) }).restart(Restart::Temporary);
        assert_eq!(sup.start_child(child1).await, Ok(None));
        let cpid2 = sup.start_child(worker("child2").restart(Restart::Temporary)).await.unwrap().unwrap();
        assert_eq!(sup.which_children().await.unwrap(), [info("child2", ChildPid::Running(cpid2))]);
        assert_eq!(counts(sup).await, [1, 1, 0, 1]);
    });
}

/// The template of `sup_start_ignore_*_simple`: ignores when the argument says so.
fn ignoring_template(restart: Restart) -> DynamicSpec<bool> {
    DynamicSpec::worker(|ignore: bool| async move {
        if ignore {
            Ok(None)
        } else {
            start_worker().await
        }
    })
    .restart(restart)
}

/// `sup_start_ignore_temporary_child_start_child_simple` — rules 38, 43: a dynamic temporary
/// child ignoring its start is not kept.
#[test]
fn sup_start_ignore_temporary_child_start_child_simple() {
    run(async {
        trap_exit(true);
        let template = ignoring_template(Restart::Temporary);
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        assert_eq!(sup.start_child(true).await, Ok(None));
        let cpid2 = sup.start_child(false).await.unwrap().unwrap();
        let children = sup.which_children().await.unwrap();
        assert_eq!(
            children,
            [supervisor::ChildInfo { id: None, pid: ChildPid::Running(cpid2), kind: ChildType::Worker }]
        );
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]);
    });
}

/// `sup_start_ignore_permanent_child_start_child_simple` — rules 38, 43: same with a permanent
/// template; then the supervisor still stops cleanly (`shutdown`).
#[test]
fn sup_start_ignore_permanent_child_start_child_simple() {
    run(async {
        trap_exit(true);
        let template = ignoring_template(Restart::Permanent);
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        assert_eq!(sup.start_child(true).await, Ok(None));
        let cpid2 = sup.start_child(false).await.unwrap().unwrap();
        let children = sup.which_children().await.unwrap();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].pid, ChildPid::Running(cpid2));
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]);
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
    });
}

/// `sup_start_fail` — rule 37 (OTP's case is a crashing `init`; SPAM has no callback module,
/// so this is its child-start form, S13/X01): a child failing to start stops the children
/// started before it, newest first; `start_link` returns `failed_to_start_child`, and the linked
/// caller gets the supervisor's exit with that reason (a non-trapping caller dies of it).
#[test]
fn sup_start_fail() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        let bad = ChildSpec::worker("c", || async { Err(other("no resources")) });
        let children = vec![traced("a", me), traced("b", me), bad];
        let err = supervisor::start_link(SupFlags::default(), children).await.unwrap_err();
        let want = SupStartError::FailedToStartChild { id: "c".into(), reason: other("no resources") };
        assert_eq!(err, want);
        let evs = evs(4).await;
        assert!(matches!(evs[..2], [Ev::Started("a", _), Ev::Started("b", _)]), "{evs:?}");
        assert_eq!(evs[2..], [Ev::Term("b", Reason::Shutdown), Ev::Term("a", Reason::Shutdown)]);
        // The supervisor exited with the error as its reason; it reaches us as an Exit.
        let m = receive_match_timeout(|m: &Msg| m.is::<Exit>(), WATCHDOG).await.expect("watchdog: no Exit");
        assert_eq!(m.downcast::<Exit>().unwrap().reason, Reason::from(want.clone()));

        // A caller that does not trap exits dies of it.
        let (caller, mref) = spam::spawn_monitor(async {
            let bad = ChildSpec::worker("c", || async { Err(other("no resources")) });
            let _ = supervisor::start_link(SupFlags::default(), vec![bad]).await;
            spam::sleep(WATCHDOG).await; // killed by the supervisor's exit before this ends
        });
        assert_eq!(down(mref).await, Reason::from(want));
        assert!(!is_alive(caller));
    });
}

/// `sup_start_map` — rules 26, 27: the defaults: `one_for_one`, intensity 1, period 5 s;
/// children permanent, shutdown 5000 for a worker and infinity for a supervisor.
#[test]
fn sup_start_map() {
    let f = SupFlags::default();
    assert_eq!(
        (f.strategy, f.intensity, f.period, f.auto_shutdown),
        (Strategy::OneForOne, 1, Duration::from_secs(5), AutoShutdown::Never)
    );
    let w = ChildSpec::worker("child1", || async { Ok(None) });
    assert_eq!(
        (w.restart, w.shutdown, w.kind, w.significant),
        (Restart::Permanent, Shutdown::Timeout(Duration::from_millis(5000)), ChildType::Worker, false)
    );
    let s = ChildSpec::supervisor("child3", || async { Ok(None) });
    assert_eq!((s.restart, s.shutdown, s.kind), (Restart::Permanent, Shutdown::Infinity, ChildType::Supervisor));
    let n = ChildSpec::supervisor_of("child4", SupFlags::default(), vec![]);
    assert_eq!((n.shutdown, n.kind), (Shutdown::Infinity, ChildType::Supervisor));
    let b = ChildSpec::worker("child2", || async { Ok(None) }).shutdown(Shutdown::BrutalKill);
    assert_eq!(b.shutdown, Shutdown::BrutalKill);
    let d = DynamicSpec::spawn_link(|_: ()| async {});
    assert_eq!(
        (d.restart, d.shutdown, d.kind),
        (Restart::Permanent, Shutdown::Timeout(Duration::from_secs(5)), ChildType::Worker)
    );
    run(async {
        trap_exit(true);
        let children = vec![worker("child1"), worker("child2").shutdown(Shutdown::BrutalKill)];
        let sup = supervisor::start_link(SupFlags::default(), children).await.unwrap();
        assert_eq!(counts(sup).await, [2, 2, 0, 2]);
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
    });
}

/// `child_specs` — rules 26, 28, 45: what the types leave to check: duplicate ids
/// (`duplicate_child_name`), significant with permanent or with auto-shutdown `never`
/// (`bad_combination`), in `check_child_specs`, in `start_link` (before any child starts) and
/// in `start_child`.
#[test]
fn child_specs() {
    let c1 = ChildSpec::supervisor("child", || async { Ok(None) });
    let c2 = ChildSpec::worker("child", || async { Ok(None) });
    assert_eq!(
        supervisor::check_child_specs(&[c1.clone(), c2.clone()], AutoShutdown::Never),
        Err(SupStartError::DuplicateChildId("child".into()))
    );
    assert_eq!(supervisor::check_child_specs(std::slice::from_ref(&c1), AutoShutdown::Never), Ok(()));
    let perm_sig = c2.clone().significant(true);
    assert_eq!(
        supervisor::check_child_specs(std::slice::from_ref(&perm_sig), AutoShutdown::AnySignificant),
        Err(SupStartError::BadCombination("child".into()))
    );
    let trans_sig = c2.clone().restart(Restart::Transient).significant(true);
    assert_eq!(
        supervisor::check_child_specs(std::slice::from_ref(&trans_sig), AutoShutdown::Never),
        Err(SupStartError::BadCombination("child".into()))
    );
    assert_eq!(supervisor::check_child_specs(std::slice::from_ref(&trans_sig), AutoShutdown::AllSignificant), Ok(()));

    run(async move {
        trap_exit(true);
        // Found before any child starts: this start function must never run.
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let counted = ChildSpec::worker("x", move || {
            r.fetch_add(1, SeqCst);
            async { Ok(None) }
        });
        let dup = vec![counted.clone(), counted.clone()];
        let err = supervisor::start_link(SupFlags::default(), dup).await;
        assert_eq!(err, Err(SupStartError::DuplicateChildId("x".into())));
        let err = supervisor::start_link(SupFlags::default(), vec![counted, trans_sig.clone()]).await;
        assert_eq!(err, Err(SupStartError::BadCombination("child".into())));
        assert_eq!(ran.load(SeqCst), 0);
        // No exit signal reached us: no process was started.
        assert!(receive_match_timeout(|m: &Msg| m.is::<Exit>(), Duration::ZERO).await.is_none());

        let sup = supervisor::start_link(SupFlags::default(), vec![]).await.unwrap();
        assert_eq!(sup.start_child(perm_sig).await, Err(ChildError::BadCombination));
        assert_eq!(sup.start_child(trans_sig).await, Err(ChildError::BadCombination));
        assert_eq!(sup.which_children().await.unwrap(), []);
    });
}

/// `sup_flags` — rule 27: the period must be positive (`invalid_period`); a dynamic supervisor
/// takes only its own strategy; a significant template needs an auto-shutdown.
#[test]
fn sup_flags() {
    run(async {
        trap_exit(true);
        let zero = SupFlags::default().period(Duration::ZERO);
        assert_eq!(supervisor::start_link(zero, vec![]).await, Err(SupStartError::InvalidPeriod));
        let idle = DynamicSpec::spawn_link(|_: ()| async {});
        let r = DynamicSupervisor::start_link(zero, idle.clone()).await;
        assert_eq!(r, Err(SupStartError::InvalidPeriod));
        let r = DynamicSupervisor::start_link(SupFlags::new(Strategy::OneForAll), idle.clone()).await;
        assert_eq!(r, Err(SupStartError::InvalidStrategy(Strategy::OneForAll)));
        let sig = idle.restart(Restart::Temporary).significant(true);
        let r = DynamicSupervisor::start_link(SupFlags::default(), sig).await;
        assert!(matches!(r, Err(SupStartError::BadCombination(_))));
        let sup = supervisor::start_link(SupFlags::default().intensity(0), vec![]).await.unwrap(); // 0 is valid
        assert_eq!(counts(sup).await, [0, 0, 0, 0]);
    });
}

// ---------------------------------------------------------------------------------------------
// sup_stop group
// ---------------------------------------------------------------------------------------------

/// A child that traps exits and takes a while to stop after the supervisor's exit signal, then
/// exits with its reason.
fn slow_stopper(id: &str, delay: Duration) -> ChildSpec {
    trapping_child(id, move || async move {
        loop {
            if let Ok(e) = receive().await.downcast::<Exit>() {
                spam::sleep(delay).await;
                exit_self(e.reason);
            }
        }
    })
}

/// A child that traps exits and ignores them all.
fn deaf(id: &str) -> ChildSpec {
    trapping_child(id, || async {
        loop {
            let _ = receive().await;
        }
    })
}

/// `sup_stop_infinity` — rule 36: `infinity` waits as long as the child takes (a supervisor
/// child and a slow worker both exit `shutdown`, not `killed`).
#[test]
fn sup_stop_infinity() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let child1 = ChildSpec::supervisor_of("child1", SupFlags::default(), vec![]);
        let child2 = slow_stopper("child2", Duration::from_millis(200)).shutdown(Shutdown::Infinity);
        let cpid1 = sup.start_child(child1).await.unwrap().unwrap();
        let cpid2 = sup.start_child(child2).await.unwrap().unwrap();
        let (m1, m2) = (monitor(cpid1), monitor(cpid2));
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
        assert_eq!(down(m1).await, Reason::Shutdown);
        assert_eq!(down(m2).await, Reason::Shutdown);
    });
}

/// `sup_stop_timeout` — rule 36: past the shutdown timeout the child is killed (`killed`); a
/// child that does not trap exits dies `shutdown` at once.
#[test]
fn sup_stop_timeout() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let cpid1 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        let child2 = deaf("child2").shutdown(Shutdown::Timeout(Duration::from_millis(200)));
        let cpid2 = sup.start_child(child2).await.unwrap().unwrap();
        let (m1, m2) = (monitor(cpid1), monitor(cpid2));
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
        assert_eq!(down(m1).await, Reason::Shutdown);
        assert_eq!(down(m2).await, Reason::Killed);
    });
}

/// `sup_stop_brutal_kill` — rule 36: `brutal_kill` kills at once, even a child trapping exits.
#[test]
fn sup_stop_brutal_kill() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let cpid1 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        let cpid2 = sup.start_child(deaf("child2").shutdown(Shutdown::BrutalKill)).await.unwrap().unwrap();
        let (m1, m2) = (monitor(cpid1), monitor(cpid2));
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
        assert_eq!(down(m1).await, Reason::Shutdown);
        assert_eq!(down(m2).await, Reason::Killed);
    });
}

/// `sup_stop_brutal_kill_dynamic` — rules 36, 43: a dynamic supervisor's `brutal_kill` kills all
/// its children, trapping or not.
#[test]
fn sup_stop_brutal_kill_dynamic() {
    run(async {
        trap_exit(true);
        let template = DynamicSpec::spawn_link(|trap: bool| async move {
            trap_exit(trap);
            loop {
                let _ = receive().await;
            }
        })
        .shutdown(Shutdown::BrutalKill);
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        let mut mrefs = vec![];
        for trap in [true, false, true] {
            mrefs.push(monitor(sup.start_child(trap).await.unwrap().unwrap()));
        }
        let sup_pid = sup.pid().unwrap();
        exit(sup_pid, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
        for m in mrefs {
            assert_eq!(down(m).await, Reason::Killed);
        }
    });
}

/// `child_unlink` — rule 36: shutdown is monitor-based, so a child that unlinked itself from
/// the supervisor cannot hang `terminate_child`; the supervisor then handles its next message.
#[test]
fn child_unlink() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let naughty = ChildSpec::spawn_link("naughty_child", || {
            let sup = self_pid();
            async move {
                unlink(sup);
                loop {
                    let _ = receive().await;
                }
            }
        });
        let cpid = sup.start_child(naughty).await.unwrap().unwrap();
        let mref = monitor(cpid);
        assert_eq!(sup.terminate_child("naughty_child").await, Ok(()));
        assert_eq!(down(mref).await, Reason::Shutdown);
        let sup_pid = sup.pid().unwrap();
        send(sup_pid, "foo");
        assert_eq!(sup.which_children().await.unwrap(), [info("naughty_child", ChildPid::Undefined)]);
        assert_eq!(process_info(sup_pid).unwrap().message_queue_len, 0); // "foo" was handled
    });
}

// ---------------------------------------------------------------------------------------------
// child_adm
// ---------------------------------------------------------------------------------------------

/// `child_adm` — rules 39, 40, 41: `start_child`, `terminate_child`, `restart_child`,
/// `delete_child`, `which_children` and `count_children`, with OTP's error atoms as
/// `ChildError`s, and `noproc` for a supervisor that does not exist.
#[test]
fn child_adm() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![worker("child1")]).await.unwrap();
        let foo = Supervisor::named("foo");
        let cpid = pid_of(sup, "child1").await;
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Running(cpid))]);
        assert_eq!(counts(sup).await, [1, 1, 0, 1]);
        let mref = monitor(cpid);

        // Start of an already running process
        assert_eq!(sup.start_child(worker("child1")).await, Err(ChildError::AlreadyStarted(cpid)));
        // A start function's own `{already_started, Pid}` (a gen_server name held) passes through.
        let (holder, _) = spawn_opt(
            async {
                let () = spam::recv().await;
            },
            SpawnOpts::new().name("taken"),
        );
        let opts = gen_server::StartOpts { name: Some("taken".into()), ..Default::default() };
        let named = ChildSpec::gen_server_opts::<Worker>("named", (), opts);
        assert_eq!(sup.start_child(named).await, Err(ChildError::AlreadyStarted(holder)));

        // Termination
        assert_eq!(sup.terminate_child("hej").await, Err(ChildError::NotFound));
        assert_eq!(foo.terminate_child("child1").await, Err(ChildError::Call(CallError::Noproc)));
        assert_eq!(sup.terminate_child("child1").await, Ok(()));
        assert_eq!(down(mref).await, Reason::Shutdown);
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Undefined)]);
        assert_eq!(counts(sup).await, [1, 0, 0, 1]);
        // Like deleting something that does not exist, it will succeed!
        assert_eq!(sup.terminate_child("child1").await, Ok(()));

        // Start of already existing but not running process
        assert_eq!(sup.start_child(worker("child1")).await, Err(ChildError::AlreadyPresent));

        // Restart
        let cpid2 = sup.restart_child("child1").await.unwrap().unwrap();
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Running(cpid2))]);
        assert_eq!(counts(sup).await, [1, 1, 0, 1]);
        assert_eq!(sup.restart_child("child1").await, Err(ChildError::Running));
        assert_eq!(sup.restart_child("child2").await, Err(ChildError::NotFound));

        // Deletion
        assert_eq!(sup.delete_child("child1").await, Err(ChildError::Running));
        assert_eq!(sup.delete_child("hej").await, Err(ChildError::NotFound));
        assert_eq!(foo.delete_child("child1").await, Err(ChildError::Call(CallError::Noproc)));
        assert_eq!(sup.terminate_child("child1").await, Ok(()));
        assert_eq!(sup.delete_child("child1").await, Ok(()));
        assert_eq!(sup.restart_child("child1").await, Err(ChildError::NotFound));
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(counts(sup).await, [0, 0, 0, 0]);

        // Start
        assert_eq!(foo.start_child(worker("child1")).await, Err(ChildError::Call(CallError::Noproc)));
        let cpid3 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Running(cpid3))]);
        assert_eq!(counts(sup).await, [1, 1, 0, 1]);

        // Terminate with Pid not allowed when not simple_one_for_one
        let as_dynamic = DynamicSupervisor::<()>::from_pid(sup.pid().unwrap());
        assert_eq!(as_dynamic.terminate_child(cpid3).await, Err(ChildError::NotFound));
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Running(cpid3))]);
        assert_eq!(counts(sup).await, [1, 1, 0, 1]);
        // ... and a dynamic start on a static supervisor is refused.
        assert_eq!(as_dynamic.start_child(()).await, Err(ChildError::Badarg));

        assert_eq!(foo.which_children().await, Err(CallError::Noproc));
        assert_eq!(foo.count_children().await, Err(CallError::Noproc));
    });
}

/// `child_adm_simple` — rules 40, 43: a dynamic supervisor's children have no ids, are
/// terminated by pid (a dead pid is ok, a live non-child is `not_found`), and the id-based
/// calls answer `simple_one_for_one`.
#[test]
fn child_adm_simple() {
    run(async {
        trap_exit(true);
        let template = DynamicSpec::worker(|()| start_worker()).shutdown(Shutdown::Timeout(Duration::from_secs(1)));
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        let foo = DynamicSupervisor::<()>::named("foo");
        // In simple_one_for_one all children are added dynamically
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(dyn_counts(sup).await, [1, 0, 0, 0]);

        // Start
        assert_eq!(foo.start_child(()).await, Err(ChildError::Call(CallError::Noproc)));
        let cpid1 = sup.start_child(()).await.unwrap().unwrap();
        let c = |p| supervisor::ChildInfo { id: None, pid: ChildPid::Running(p), kind: ChildType::Worker };
        assert_eq!(sup.which_children().await.unwrap(), [c(cpid1)]);
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]);
        let cpid2 = sup.start_child(()).await.unwrap().unwrap();
        assert_eq!(sup.which_children().await.unwrap(), [c(cpid2), c(cpid1)]);
        assert_eq!(dyn_counts(sup).await, [1, 2, 0, 2]);

        // Termination
        let by_id = Supervisor::from_pid(sup.pid().unwrap());
        assert_eq!(by_id.terminate_child("child1").await, Err(ChildError::SimpleOneForOne));
        assert_eq!(dyn_counts(sup).await, [1, 2, 0, 2]);
        assert_eq!(sup.terminate_child(cpid1).await, Ok(()));
        assert_eq!(sup.which_children().await.unwrap(), [c(cpid2)]);
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]);
        assert!(!is_alive(cpid1));
        // Terminate non-existing process is ok
        assert_eq!(sup.terminate_child(cpid1).await, Ok(()));
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]);
        // Terminate pid which is not a child of this supervisor is not ok
        let no_child = spawn_link(async {
            let () = spam::recv().await;
        });
        assert_eq!(sup.terminate_child(no_child).await, Err(ChildError::NotFound));
        assert!(is_alive(no_child));

        // Restart, deletion, start of a spec
        assert_eq!(by_id.restart_child("child1").await, Err(ChildError::SimpleOneForOne));
        assert_eq!(by_id.delete_child("child1").await, Err(ChildError::SimpleOneForOne));
        assert_eq!(by_id.start_child(worker("child1")).await, Err(ChildError::SimpleOneForOne));
        // A handle with the wrong argument type is refused.
        let wrong = DynamicSupervisor::<String>::from_pid(sup.pid().unwrap());
        assert_eq!(wrong.start_child("x".into()).await, Err(ChildError::Badarg));
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]);
    });
}

// ---------------------------------------------------------------------------------------------
// Restart type × exit reason (rule 32)
// ---------------------------------------------------------------------------------------------

/// Starts `child1` with `restart` under a `{one_for_one, 2, 3600}` supervisor, makes it exit
/// with `reason`, and returns the supervisor and the old pid.
async fn exit_child(restart: Restart, reason: Reason) -> (Supervisor, Pid) {
    trap_exit(true);
    let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
    let cpid1 = sup.start_child(worker("child1").restart(restart)).await.unwrap().unwrap();
    terminate(cpid1, reason).await;
    (sup, cpid1)
}

async fn assert_restarted(sup: Supervisor, old: Pid) {
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    let new = children[0].pid.pid().expect("the child was not restarted");
    assert_ne!(new, old);
    assert_eq!(counts(sup).await, [1, 1, 0, 1]);
}

/// `permanent_normal` — rules 32, 35: a permanent child is restarted also after `normal`.
#[test]
fn permanent_normal() {
    run(async {
        let (sup, old) = exit_child(Restart::Permanent, Reason::Normal).await;
        assert_restarted(sup, old).await;
    });
}

/// `transient_normal` — rule 32: a transient child exiting `normal` is not restarted; its spec
/// is kept with pid `undefined`.
#[test]
fn transient_normal() {
    run(async {
        let (sup, _) = exit_child(Restart::Transient, Reason::Normal).await;
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Undefined)]);
        assert_eq!(counts(sup).await, [1, 0, 0, 1]);
    });
}

/// `temporary_normal` — rule 32: a temporary child is never restarted, and its spec is deleted.
#[test]
fn temporary_normal() {
    run(async {
        let (sup, _) = exit_child(Restart::Temporary, Reason::Normal).await;
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(counts(sup).await, [0, 0, 0, 0]);
    });
}

/// `permanent_shutdown` — rule 32: a permanent child is restarted also after `shutdown`.
#[test]
fn permanent_shutdown() {
    run(async {
        let (sup, old) = exit_child(Restart::Permanent, Reason::Shutdown).await;
        assert_restarted(sup, old).await;
    });
}

/// `transient_shutdown` — rule 32: a transient child exiting `shutdown` is not restarted; its
/// spec is kept, and `restart_child` starts it again.
#[test]
fn transient_shutdown() {
    run(async {
        let (sup, _) = exit_child(Restart::Transient, Reason::Shutdown).await;
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Undefined)]);
        assert_eq!(counts(sup).await, [1, 0, 0, 1]);
        let cpid2 = sup.restart_child("child1").await.unwrap().unwrap();
        terminate(cpid2, Reason::Shutdown).await;
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Undefined)]);
        assert_eq!(counts(sup).await, [1, 0, 0, 1]);
    });
}

/// `temporary_shutdown` — rule 32: a temporary child exiting `shutdown` is deleted; the same
/// spec can be started again.
#[test]
fn temporary_shutdown() {
    run(async {
        let (sup, _) = exit_child(Restart::Temporary, Reason::Shutdown).await;
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(counts(sup).await, [0, 0, 0, 0]);
        let cpid2 = sup.start_child(worker("child1").restart(Restart::Temporary)).await.unwrap().unwrap();
        terminate(cpid2, Reason::Shutdown).await;
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(counts(sup).await, [0, 0, 0, 0]);
    });
}

/// `permanent_abnormal` — rule 32: a permanent child is restarted after a crash.
#[test]
fn permanent_abnormal() {
    run(async {
        let (sup, old) = exit_child(Restart::Permanent, other("abnormal")).await;
        assert_restarted(sup, old).await;
    });
}

/// `transient_abnormal` — rule 32: a transient child is restarted after a crash (also a kill).
#[test]
fn transient_abnormal() {
    run(async {
        let (sup, old) = exit_child(Restart::Transient, other("abnormal")).await;
        assert_restarted(sup, old).await;
        let pid = pid_of(sup, "child1").await;
        terminate(pid, Reason::Kill).await;
        assert_restarted(sup, pid).await;
    });
}

/// `temporary_abnormal` — rule 32: a temporary child is not restarted after a crash, and its
/// spec is deleted.
#[test]
fn temporary_abnormal() {
    run(async {
        let (sup, _) = exit_child(Restart::Temporary, other("abnormal")).await;
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(counts(sup).await, [0, 0, 0, 0]);
    });
}

/// `temporary_bystander` — rule 44: a temporary child stopped by a `one_for_all` or
/// `rest_for_one` restart is deleted, not restarted (restarting it would need its start
/// arguments, which are not kept).
#[test]
fn temporary_bystander() {
    run(async {
        trap_exit(true);
        for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
            let sup = supervisor::start_link(flags(strategy, 2, Duration::from_secs(300)), vec![]).await.unwrap();
            let child1 = worker("child1").shutdown(Shutdown::Timeout(Duration::from_millis(100)));
            let child2 =
                worker("child2").restart(Restart::Temporary).shutdown(Shutdown::Timeout(Duration::from_millis(100)));
            let cpid1 = sup.start_child(child1).await.unwrap().unwrap();
            let cpid2 = sup.start_child(child2).await.unwrap().unwrap();
            let m2 = monitor(cpid2);
            terminate(cpid1, Reason::Normal).await;
            assert_eq!(down(m2).await, Reason::Shutdown, "{strategy:?}: the bystander is stopped");
            let children = sup.which_children().await.unwrap();
            assert_eq!(children.len(), 1, "{strategy:?}: {children:?}");
            assert_eq!(children[0].id.as_deref(), Some("child1"));
            assert!(children[0].pid.pid().is_some_and(|p| p != cpid1 && is_alive(p)));
            assert!(is_alive(sup.pid().unwrap()));
        }
    });
}

/// `do_not_save_child_specs_for_temporary_children` — rules 32, 40: after each way a child can
/// stop (killed, `normal`, a crash, `terminate_child`), under each static strategy, a permanent
/// spec is kept (restarted, or present), a transient one is restarted or present by reason, a
/// temporary one is gone (its spec can be started again).
#[test]
fn do_not_save_child_specs_for_temporary_children() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum How {
        Kill,
        Normal,
        Abnormal,
        Supervisor,
    }
    async fn stop(sup: Supervisor, pid: Pid, id: &str, how: How) {
        match how {
            How::Kill => terminate(pid, Reason::Kill).await,
            How::Normal => terminate(pid, Reason::Normal).await,
            How::Abnormal => terminate(pid, other("abnormal")).await,
            How::Supervisor => sup.terminate_child(id).await.unwrap(),
        }
    }
    run(async {
        trap_exit(true);
        for strategy in [Strategy::OneForAll, Strategy::OneForOne, Strategy::RestForOne] {
            for how in [How::Kill, How::Normal, How::Abnormal, How::Supervisor] {
                let sup = supervisor::start_link(flags(strategy, 2, HOUR), vec![]).await.unwrap();
                let ctx = format!("{strategy:?} {how:?}");
                for (id, restart) in
                    [("child1", Restart::Permanent), ("child2", Restart::Transient), ("child3", Restart::Temporary)]
                {
                    let spec = worker(id).restart(restart);
                    let pid = sup.start_child(spec.clone()).await.unwrap().unwrap();
                    stop(sup, pid, id, how).await;
                    let kept_stopped = how == How::Supervisor || (restart == Restart::Transient && how == How::Normal);
                    match restart {
                        Restart::Temporary => {
                            assert!(sup.start_child(spec).await.is_ok(), "{ctx}: temporary spec kept");
                        }
                        _ if kept_stopped => {
                            assert_eq!(sup.start_child(spec).await, Err(ChildError::AlreadyPresent), "{ctx} {id}");
                            assert!(sup.restart_child(id).await.is_ok(), "{ctx} {id}");
                        }
                        _ => {
                            let r = sup.start_child(spec).await;
                            assert!(matches!(r, Err(ChildError::AlreadyStarted(_))), "{ctx} {id}: {r:?}");
                        }
                    }
                }
                let sup_pid = sup.pid().unwrap();
                exit(sup_pid, Reason::Shutdown);
                check_exit_shutdown(sup_pid).await;
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Intensity (rules 33–35)
// ---------------------------------------------------------------------------------------------

/// `multiple_restarts` — rules 33, 34: restarts spaced wider than the period never reach the
/// intensity (1 restart per 300 ms here; OTP: per 1 s, with 2.1 s between crashes).
#[test]
fn multiple_restarts() {
    run(async {
        trap_exit(true);
        let period = Duration::from_millis(300);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 1, period), vec![]).await.unwrap();
        let child1 = worker("child1").shutdown(Shutdown::BrutalKill);
        let cpid1 = sup.start_child(child1).await.unwrap().unwrap();
        terminate(cpid1, other("abnormal")).await;
        for _ in 0..3 {
            spam::sleep(period * 2).await;
            let pid = pids(sup).await[0];
            terminate(pid, other("abnormal")).await;
        }
        // Verify that the supervisor is still alive and clean up.
        assert_eq!(sup.terminate_child("child1").await, Ok(()));
        assert_eq!(sup.delete_child("child1").await, Ok(()));
        assert!(is_alive(sup.pid().unwrap()));
    });
}

/// Rule 35 (S24, S27; no OTP SUITE case): a permanent child exiting `normal` counts toward the
/// intensity (with intensity 0 it stops the supervisor); `terminate_child` and
/// `restart_child` do not count.
#[test]
fn permanent_normal_counts_toward_intensity() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 0, HOUR), vec![worker("child1")]).await.unwrap();
        for _ in 0..5 {
            sup.terminate_child("child1").await.unwrap();
            sup.restart_child("child1").await.unwrap();
        }
        assert!(is_alive(sup.pid().unwrap()));
        let child = pid_of(sup, "child1").await;
        let m = monitor(child);
        let sup_pid = sup.pid().unwrap();
        gen_server::cast(Server::<Worker>::from_pid(child), Reason::Normal);
        assert_eq!(down(m).await, Reason::Normal);
        check_exit_shutdown(sup_pid).await;
    });
}

// ---------------------------------------------------------------------------------------------
// Strategies (rule 31) and escalation (rules 33, 42)
// ---------------------------------------------------------------------------------------------

/// `one_for_one` — rules 31, 33: only the failed child is restarted; a third restart within
/// the period (intensity 2) stops the supervisor with `shutdown`.
#[test]
fn one_for_one() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), vec![]).await.unwrap();
        let cpid1 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        let cpid2 = sup.start_child(worker("child2")).await.unwrap().unwrap();
        terminate(cpid1, other("abnormal")).await;
        let now = pids(sup).await;
        assert_eq!(now.len(), 2);
        assert!(now.contains(&cpid2));
        assert!(!now.contains(&cpid1));
        assert_eq!(counts(sup).await, [2, 2, 0, 2]);
        // Test restart frequency property
        terminate(cpid2, other("abnormal")).await;
        let sup_pid = sup.pid().unwrap();
        let pid4 = pids(sup).await[0];
        terminate(pid4, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
    });
}

/// `one_for_one_escalation` — rules 33, 42: a child that cannot be restarted is retried until
/// the intensity is reached; the supervisor then stops its other children and exits `shutdown`.
#[test]
fn one_for_one_escalation() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 4, HOUR), vec![]).await.unwrap();
        let (child1, starts) = worker_failing_restarts("child1");
        let cpid1 = sup.start_child(child1).await.unwrap().unwrap();
        let cpid2 = sup.start_child(worker("child2")).await.unwrap().unwrap();
        let m2 = monitor(cpid2);
        let sup_pid = sup.pid().unwrap();
        terminate(cpid1, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
        assert_eq!(down(m2).await, Reason::Shutdown);
        assert_eq!(starts.load(SeqCst), 1 + 4, "the first start, then 4 failed restarts");
    });
}

/// `one_for_all` — rules 31, 33: the other children are stopped and all restarted (no old pid
/// left); the intensity then stops the supervisor.
#[test]
fn one_for_all() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::OneForAll, 2, HOUR), vec![]).await.unwrap();
        let cpid1 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        let cpid2 = sup.start_child(worker("child2")).await.unwrap().unwrap();
        let m2 = monitor(cpid2);
        terminate(cpid1, other("abnormal")).await;
        assert_eq!(down(m2).await, Reason::Shutdown);
        let now = pids(sup).await;
        assert_eq!(now.len(), 2);
        assert!(!now.contains(&cpid1) && !now.contains(&cpid2), "no old child is still listed");
        assert_eq!(counts(sup).await, [2, 2, 0, 2]);
        // Test restart frequency property
        let sup_pid = sup.pid().unwrap();
        terminate(pids(sup).await[0], other("abnormal")).await;
        terminate(pids(sup).await[0], other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
    });
}

/// `one_for_all_escalation` — rules 31, 33, 42: a sibling that cannot be restarted makes every
/// retry restart all, until the intensity stops the supervisor.
#[test]
fn one_for_all_escalation() {
    escalation(Strategy::OneForAll);
}

/// The escalation cases of `one_for_all` and `rest_for_one`: child2's restarts always fail, so
/// killing child1 (restarting both) ends with the supervisor over its intensity.
fn escalation(strategy: Strategy) {
    run(async move {
        trap_exit(true);
        let sup = supervisor::start_link(flags(strategy, 4, HOUR), vec![]).await.unwrap();
        let cpid1 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        let (child2, _) = worker_failing_restarts("child2");
        let cpid2 = sup.start_child(child2).await.unwrap().unwrap();
        let m2 = monitor(cpid2);
        let sup_pid = sup.pid().unwrap();
        terminate(cpid1, other("abnormal")).await;
        assert_eq!(down(m2).await, Reason::Shutdown);
        check_exit_shutdown(sup_pid).await;
    });
}

/// `one_for_all_other_child_fails_restart` — rules 31, 42: when a sibling fails to start
/// during a `one_for_all` restart, the retry stops the child restarted meanwhile and restarts
/// all again, in order.
#[test]
fn one_for_all_other_child_fails_restart() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        let fail2 = Arc::new(AtomicUsize::new(0));
        let children = vec![traced("child1", me), traced_with("child2", me, fail2.clone())];
        let sup = supervisor::start_link(flags(Strategy::OneForAll, 3, HOUR), children).await.unwrap();
        let init = evs(2).await;
        let child1 = started_pid(&init[0]);
        fail2.store(1, SeqCst); // child2's next start fails
        terminate(child1, other("die")).await;
        let e = evs(6).await;
        assert_eq!(e[0], Ev::Term("child2", Reason::Shutdown), "{e:?}");
        let child1b = started_pid(&e[1]);
        assert_eq!(e[1], Ev::Started("child1", child1b));
        assert_eq!(e[2], Ev::StartFailed("child2"));
        // The retry: the restarted child1 is stopped, then all start again.
        assert_eq!(e[3], Ev::Term("child1", Reason::Shutdown), "{e:?}");
        let (child1c, child2c) = (started_pid(&e[4]), started_pid(&e[5]));
        assert_eq!((&e[4], &e[5]), (&Ev::Started("child1", child1c), &Ev::Started("child2", child2c)));
        assert!(!is_alive(child1b));
        assert_eq!(pids(sup).await, [child2c, child1c]);
        no_more_evs().await;
    });
}

/// `rest_for_one` — rules 31, 33: the children started after the failed one are stopped and
/// restarted with it; those before keep running; the intensity then stops the supervisor.
#[test]
fn rest_for_one() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(flags(Strategy::RestForOne, 2, HOUR), vec![]).await.unwrap();
        let cpid1 = sup.start_child(worker("child1")).await.unwrap().unwrap();
        let cpid2 = sup.start_child(worker("child2")).await.unwrap().unwrap();
        let cpid3 = sup.start_child(worker("child3")).await.unwrap().unwrap();
        let m3 = monitor(cpid3);
        assert_eq!(counts(sup).await, [3, 3, 0, 3]);
        terminate(cpid2, other("abnormal")).await;
        assert_eq!(down(m3).await, Reason::Shutdown); // check that cpid3 did die
        let now = pids(sup).await;
        assert_eq!(now.len(), 3);
        assert_eq!(now[2], cpid1);
        assert!(!now.contains(&cpid2) && !now.contains(&cpid3));
        assert_eq!(counts(sup).await, [3, 3, 0, 3]);
        // Test restart frequency property
        let sup_pid = sup.pid().unwrap();
        terminate(pid_of(sup, "child3").await, other("abnormal")).await;
        terminate(pid_of(sup, "child2").await, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
    });
}

/// `rest_for_one_escalation` — rules 31, 33, 42: as `one_for_all_escalation`, under
/// `rest_for_one`.
#[test]
fn rest_for_one_escalation() {
    escalation(Strategy::RestForOne);
}

/// `rest_for_one_other_child_fails_restart` — rules 31, 42: under `rest_for_one` the retry
/// restarts from the child that failed to start, not the child restarted before it.
#[test]
fn rest_for_one_other_child_fails_restart() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        let fail2 = Arc::new(AtomicUsize::new(0));
        let children = vec![traced("child1", me), traced_with("child2", me, fail2.clone())];
        let sup = supervisor::start_link(flags(Strategy::RestForOne, 3, HOUR), children).await.unwrap();
        let init = evs(2).await;
        fail2.store(1, SeqCst);
        terminate(started_pid(&init[0]), other("die")).await;
        let e = evs(4).await;
        assert_eq!(e[0], Ev::Term("child2", Reason::Shutdown));
        let child1b = started_pid(&e[1]);
        assert_eq!(e[1], Ev::Started("child1", child1b));
        assert_eq!(e[2], Ev::StartFailed("child2"));
        let child2c = started_pid(&e[3]);
        assert_eq!(e[3], Ev::Started("child2", child2c), "the retry starts child2 only: {e:?}");
        assert_eq!(pids(sup).await, [child2c, child1b]);
        no_more_evs().await;
    });
}

/// `order_of_children` — rules 29, 30, 31 (S05, S06): after restarts the children keep their
/// start order: `one_for_all` stops the others newest first and starts all in order, and a
/// later shutdown still goes newest first.
#[test]
fn order_of_children() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
            let children = vec![traced("a", me), traced("b", me), traced("c", me)];
            let sup = supervisor::start_link(flags(strategy, 3, HOUR), children).await.unwrap();
            let init = evs(3).await;
            terminate(started_pid(&init[1]), other("crash")).await; // b crashes
            let e = evs(if strategy == Strategy::OneForAll { 5 } else { 3 }).await;
            let got: Vec<(&str, Option<Reason>)> = e
                .iter()
                .map(|e| match e {
                    Ev::Started(id, _) => (*id, None),
                    Ev::Term(id, r) => (*id, Some(r.clone())),
                    Ev::StartFailed(id) => panic!("{id} failed"),
                })
                .collect();
            let s = Some(Reason::Shutdown);
            let want: Vec<(&str, Option<Reason>)> = match strategy {
                Strategy::OneForAll => vec![("c", s.clone()), ("a", s), ("a", None), ("b", None), ("c", None)],
                _ => vec![("c", s), ("b", None), ("c", None)],
            };
            assert_eq!(got, want, "{strategy:?}");
            let ids: Vec<String> = sup.which_children().await.unwrap().into_iter().map(|c| c.id.unwrap()).collect();
            assert_eq!(ids, ["c", "b", "a"], "{strategy:?}");
            let sup_pid = sup.pid().unwrap();
            exit(sup_pid, Reason::Shutdown);
            let stops: Vec<Ev> = evs(3).await;
            assert_eq!(
                stops,
                [Ev::Term("c", Reason::Shutdown), Ev::Term("b", Reason::Shutdown), Ev::Term("a", Reason::Shutdown)]
            );
            check_exit_shutdown(sup_pid).await;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// simple_one_for_one (rule 43)
// ---------------------------------------------------------------------------------------------

/// `simple_one_for_one` — rules 31, 33, 43: a dynamic child is restarted alone, with its
/// argument; the intensity stops the supervisor.
#[test]
fn simple_one_for_one() {
    run(async {
        trap_exit(true);
        let template = DynamicSpec::worker(|()| start_worker());
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        let cpid1 = sup.start_child(()).await.unwrap().unwrap();
        let cpid2 = sup.start_child(()).await.unwrap().unwrap();
        terminate(cpid1, other("abnormal")).await;
        let children = sup.which_children().await.unwrap();
        assert_eq!(children.len(), 2);
        assert!(children.iter().any(|c| c.pid == ChildPid::Running(cpid2)));
        assert!(children.iter().all(|c| c.pid != ChildPid::Running(cpid1) && c.id.is_none()));
        assert_eq!(dyn_counts(sup).await, [1, 2, 0, 2]);
        // Test restart frequency property
        let sup_pid = sup.pid().unwrap();
        terminate(cpid2, other("abnormal")).await;
        let pid4 = sup.which_children().await.unwrap()[0].pid.pid().unwrap();
        terminate(pid4, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
    });
}

/// `simple_one_for_one_shutdown` — rules 36, 43: a dynamic supervisor stops its children all
/// at once (each has the exit signal before any has exited) under one timer that kills those
/// still running when it fires.
#[test]
fn simple_one_for_one_shutdown() {
    #[derive(Debug)]
    struct Stopping(Pid);
    #[derive(Debug)]
    struct Release;
    #[derive(Debug)]
    struct Stopped(Result<(), CallError>);
    run(async {
        trap_exit(true);
        let me = self_pid();
        // Each child reports the exit signal, then exits with it once released (or ignores it).
        let template = DynamicSpec::worker(move |obey: bool| {
            let pid = spawn_trapping(stopping_child(me, obey));
            async move { Ok(Some(pid)) }
        })
        .shutdown(Shutdown::Timeout(Duration::from_secs(2)));
        async fn stopping_child(me: Pid, obey: bool) {
            let e: Exit = spam::recv().await;
            send(me, Stopping(self_pid()));
            if obey {
                let Release = spam::recv().await;
                exit_self(e.reason);
            }
            loop {
                let _ = receive().await;
            }
        }
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        let obeying = [sup.start_child(true).await.unwrap().unwrap(), sup.start_child(true).await.unwrap().unwrap()];
        let stubborn = sup.start_child(false).await.unwrap().unwrap();
        let mrefs: Vec<Ref> = [obeying[0], obeying[1], stubborn].iter().map(|&p| monitor(p)).collect();
        spawn(async move { send(me, Stopped(sup.stop().await)) });
        // All three have the exit signal while none has exited yet: the stop is concurrent.
        let mut stopping = vec![];
        for _ in 0..3 {
            stopping.push(recv_timeout::<Stopping>(WATCHDOG).await.expect("watchdog: not all were told").0);
        }
        stopping.sort();
        let mut all = vec![obeying[0], obeying[1], stubborn];
        all.sort();
        assert_eq!(stopping, all);
        obeying.iter().for_each(|&p| send(p, Release));
        assert_eq!(down(mrefs[0]).await, Reason::Shutdown);
        assert_eq!(down(mrefs[1]).await, Reason::Shutdown);
        assert_eq!(down(mrefs[2]).await, Reason::Killed); // past the timeout
        let Stopped(r) = recv_timeout(WATCHDOG).await.expect("watchdog: stop did not return");
        assert_eq!(r, Ok(()));
    });
}

/// `simple_one_for_one_escalation` — rules 33, 42, 43: a dynamic child that cannot be
/// restarted is retried until the intensity stops the supervisor, which stops the others.
#[test]
fn simple_one_for_one_escalation() {
    run(async {
        trap_exit(true);
        // The argument says whether restarts fail (OTP's `[error]`).
        let template = DynamicSpec::worker(|fails: Arc<AtomicUsize>| async move {
            if fails.fetch_add(1, SeqCst) > 0 {
                Err(other("no restart"))
            } else {
                start_worker().await
            }
        });
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 4, HOUR), template).await.unwrap();
        let cpid1 = sup.start_child(Arc::new(AtomicUsize::new(0))).await.unwrap().unwrap();
        let cpid2 = sup.start_child(Arc::new(AtomicUsize::new(usize::MIN))).await.unwrap().unwrap();
        let m2 = monitor(cpid2);
        let sup_pid = sup.pid().unwrap();
        terminate(cpid1, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
        assert_eq!(down(m2).await, Reason::Shutdown);
    });
}

/// `count_children` — rule 41 (and OTP-9242's scaling): 1000, then 2000 temporary dynamic
/// children are counted and listed; once they are killed the counts are back to zero.
#[test]
fn count_children() {
    run(async {
        trap_exit(true);
        let template = DynamicSpec::worker(|()| start_worker()).restart(Restart::Temporary);
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 2, HOUR), template).await.unwrap();
        for _ in 0..1000 {
            sup.start_child(()).await.unwrap();
        }
        let children = sup.which_children().await.unwrap();
        let count = dyn_counts(sup).await;
        for _ in 0..1000 {
            sup.start_child(()).await.unwrap();
        }
        let count2 = dyn_counts(sup).await;
        let children2 = sup.which_children().await.unwrap();
        let count3 = dyn_counts(sup).await;
        let children3 = sup.which_children().await.unwrap();
        assert_eq!(children.len(), 1000);
        assert_eq!(count, [1, 1000, 0, 1000]);
        assert_eq!(children2.len(), 2000);
        assert_eq!(count2, [1, 2000, 0, 2000]);
        assert_eq!(children3, children2);
        assert_eq!(count3, count2);
        let mrefs: Vec<Ref> = children3
            .iter()
            .map(|c| {
                let p = c.pid.pid().unwrap();
                let m = monitor(p);
                exit(p, Reason::Kill);
                m
            })
            .collect();
        for m in mrefs {
            assert_eq!(down(m).await, Reason::Killed);
        }
        assert_eq!(dyn_counts(sup).await, [1, 0, 0, 0]);
    });
}

// ---------------------------------------------------------------------------------------------
// A failing restart loop (rule 42)
// ---------------------------------------------------------------------------------------------

/// A worker whose starts fail (after a short pause, so a retry loop is slow) while `fail` is
/// set, and the count of its failed starts.
fn flaky(id: &str, fail: Arc<AtomicUsize>, failed: Arc<AtomicUsize>) -> ChildSpec {
    ChildSpec::worker(id, move || {
        let (fail, failed) = (fail.load(SeqCst) > 0, failed.clone());
        async move {
            if fail {
                failed.fetch_add(1, SeqCst);
                spam::sleep(Duration::from_millis(5)).await;
                Err(other("fail_start"))
            } else {
                start_worker().await
            }
        }
    })
    .shutdown(Shutdown::BrutalKill)
}

/// `hanging_restart_loop` — rule 42: a restart that keeps failing leaves the child
/// `restarting` and is retried through the supervisor's mailbox, so API calls are answered in
/// between (`already_present`, `restarting`, counts); `terminate_child` ends the loop; and a
/// supervisor with intensity 3 shuts down after 3 failed attempts instead of looping forever.
#[test]
fn hanging_restart_loop() {
    run(async {
        trap_exit(true);
        let (fail, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 1_000_000, HOUR), vec![]).await.unwrap();
        let child1 = flaky("child1", fail.clone(), failed.clone());
        let cpid1 = sup.start_child(child1.clone()).await.unwrap().unwrap();
        fail.store(1, SeqCst);
        terminate(cpid1, other("abnormal")).await;
        // The first attempt failed while the Exit was handled, before this call.
        assert_eq!(sup.start_child(child1.clone()).await, Err(ChildError::AlreadyPresent));
        assert_eq!(sup.restart_child("child1").await, Err(ChildError::Restarting));
        assert_eq!(sup.delete_child("child1").await, Err(ChildError::Restarting));
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Restarting)]);
        assert_eq!(counts(sup).await, [1, 0, 0, 1]);
        assert!(failed.load(SeqCst) >= 1);

        assert_eq!(sup.terminate_child("child1").await, Ok(()));
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Undefined)]);
        let failed_then = failed.load(SeqCst);
        // The queued retry finds the child stopped and does nothing.
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Undefined)]);
        assert_eq!(failed.load(SeqCst), failed_then);

        fail.store(0, SeqCst);
        let cpid2 = sup.restart_child("child1").await.unwrap().unwrap();
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Running(cpid2))]);

        // Ensure that we don't get stuck in the restart loop: with intensity 3, three failed
        // attempts, then the supervisor shuts down.
        let (fail, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let sup = supervisor::start_link(flags(Strategy::OneForOne, 3, HOUR), vec![]).await.unwrap();
        let cpid = sup.start_child(flaky("child1", fail.clone(), failed.clone())).await.unwrap().unwrap();
        fail.store(1, SeqCst);
        let sup_pid = sup.pid().unwrap();
        terminate(cpid, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
        assert_eq!(failed.load(SeqCst), 3);
    });
}

/// `hanging_restart_loop_simple` — rules 42, 43: the same for a dynamic child, which is then
/// known by its old pid.
#[test]
fn hanging_restart_loop_simple() {
    run(async {
        trap_exit(true);
        let fail = Arc::new(AtomicUsize::new(0));
        let f = fail.clone();
        let template = DynamicSpec::worker(move |()| {
            let fail = f.load(SeqCst) > 0;
            async move {
                if fail {
                    spam::sleep(Duration::from_millis(5)).await;
                    Err(other("fail_start"))
                } else {
                    start_worker().await
                }
            }
        })
        .shutdown(Shutdown::BrutalKill);
        let sup =
            DynamicSupervisor::start_link(flags(Strategy::OneForOne, 1_000_000, HOUR), template.clone()).await.unwrap();
        let cpid1 = sup.start_child(()).await.unwrap().unwrap();
        fail.store(1, SeqCst);
        terminate(cpid1, other("abnormal")).await;
        let restarting = supervisor::ChildInfo { id: None, pid: ChildPid::Restarting, kind: ChildType::Worker };
        assert_eq!(sup.which_children().await.unwrap(), [restarting]);
        assert_eq!(dyn_counts(sup).await, [1, 0, 0, 1]);
        assert_eq!(sup.terminate_child(cpid1).await, Ok(())); // by its old pid
        assert_eq!(sup.which_children().await.unwrap(), []);
        assert_eq!(dyn_counts(sup).await, [1, 0, 0, 0]);

        fail.store(0, SeqCst);
        let sup = DynamicSupervisor::start_link(flags(Strategy::OneForOne, 3, HOUR), template).await.unwrap();
        let cpid = sup.start_child(()).await.unwrap().unwrap();
        fail.store(1, SeqCst);
        let sup_pid = sup.pid().unwrap();
        terminate(cpid, other("abnormal")).await;
        check_exit_shutdown(sup_pid).await;
    });
}

/// `count_restarting_children` — rules 41, 42: a child being restarted counts as a spec and
/// a worker but not as active.
#[test]
fn count_restarting_children() {
    run(async {
        trap_exit(true);
        let (fail, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let sup =
            supervisor::start_link(flags(Strategy::OneForOne, 1_000_000, HOUR), vec![worker("child0")]).await.unwrap();
        let cpid = sup.start_child(flaky("child1", fail.clone(), failed)).await.unwrap().unwrap();
        assert_eq!(counts(sup).await, [2, 2, 0, 2]);
        fail.store(1, SeqCst);
        terminate(cpid, other("abnormal")).await;
        assert_eq!(counts(sup).await, [2, 1, 0, 2]);
        fail.store(0, SeqCst);
        // A retry succeeds eventually; then the child is active again (polled, watchdog-bound).
        let deadline = std::time::Instant::now() + WATCHDOG;
        while counts(sup).await != [2, 2, 0, 2] {
            assert!(std::time::Instant::now() < deadline, "watchdog: the retry never succeeded");
            spam::sleep(Duration::from_millis(1)).await;
        }
        assert!(matches!(sup.which_children().await.unwrap()[0].pid, ChildPid::Running(_)));
    });
}

// ---------------------------------------------------------------------------------------------
// Trees (rule 46), auto-shutdown (rule 45), stray messages (rule 47)
// ---------------------------------------------------------------------------------------------

/// `tree` — rules 31, 33, 46: nested supervisors. A crash inside an inner supervisor is
/// handled there; an inner supervisor over its intensity exits `shutdown`, and the top
/// `one_for_all` supervisor restarts both inner ones from their specs (children added later
/// with `start_child` are gone).
#[test]
fn tree() {
    run(async {
        trap_exit(true);
        let child_sup1 = ChildSpec::supervisor_of(
            "supchild1",
            flags(Strategy::OneForOne, 4, HOUR),
            vec![worker("child1"), worker("child2")],
        );
        let child_sup2 = ChildSpec::supervisor_of("supchild2", flags(Strategy::OneForOne, 4, HOUR), vec![]);

        // Top supervisor
        let top = supervisor::start_link(flags(Strategy::OneForAll, 4, HOUR), vec![]).await.unwrap();

        // Child supervisors
        let sup1 = Supervisor::from_pid(top.start_child(child_sup1).await.unwrap().unwrap());
        let sup2 = Supervisor::from_pid(top.start_child(child_sup2).await.unwrap().unwrap());
        assert_eq!(counts(top).await, [2, 2, 2, 0]);

        // Workers
        let sup1_pids = pids(sup1).await;
        assert_eq!(sup1_pids.len(), 2);
        assert_eq!(counts(sup1).await, [2, 2, 0, 2]);
        assert_eq!(counts(sup2).await, [0, 0, 0, 0]);

        // Dynamic children
        let (child3, _) = worker_failing_restarts("child3");
        let cpid3 = sup2.start_child(child3).await.unwrap().unwrap();
        let cpid4 = sup2.start_child(worker("child4")).await.unwrap().unwrap();
        assert_eq!(counts(sup1).await, [2, 2, 0, 2]);
        assert_eq!(counts(sup2).await, [2, 2, 0, 2]);

        // Test that only the process that dies is restarted
        terminate(cpid4, other("abnormal")).await;
        assert_eq!(pids(sup1).await, sup1_pids);
        assert_eq!(counts(sup1).await, [2, 2, 0, 2]);
        let sup2_pids = pids(sup2).await;
        assert_eq!(sup2_pids.len(), 2);
        assert_ne!(sup2_pids[0], cpid4);
        assert_eq!(sup2_pids[1], cpid3);
        assert_eq!(counts(sup2).await, [2, 2, 0, 2]);

        // Test that the supervisor tree is restarted, but not the dynamic children.
        let sup2_down = monitor(sup2.pid().unwrap());
        terminate(cpid3, other("abnormal")).await;
        assert_eq!(down(sup2_down).await, Reason::Shutdown);
        let tops = top.which_children().await.unwrap();
        assert_eq!(tops.iter().map(|c| c.id.clone().unwrap()).collect::<Vec<_>>(), ["supchild2", "supchild1"]);
        assert_eq!(counts(top).await, [2, 2, 2, 0]);
        let new_sup2 = Supervisor::from_pid(tops[0].pid.pid().unwrap());
        let new_sup1 = Supervisor::from_pid(tops[1].pid.pid().unwrap());
        assert_ne!(new_sup1, sup1);
        assert_ne!(new_sup2, sup2);
        let ids: Vec<String> = new_sup1.which_children().await.unwrap().into_iter().map(|c| c.id.unwrap()).collect();
        assert_eq!(ids, ["child2", "child1"]);
        assert_eq!(counts(new_sup1).await, [2, 2, 0, 2]);
        assert_eq!(new_sup2.which_children().await.unwrap(), []);
        assert_eq!(counts(new_sup2).await, [0, 0, 0, 0]);
    });
}

/// Rules 37, 46 (no OTP SUITE case): a nested supervisor whose child fails to start fails its
/// parent's start, with the inner failure as the reason.
#[test]
fn sup_start_fail_nested() {
    run(async {
        trap_exit(true);
        let bad = ChildSpec::worker("bad", || async { Err(other("boom")) });
        let inner = ChildSpec::supervisor_of("inner", SupFlags::default(), vec![bad]);
        let err = supervisor::start_link(SupFlags::default(), vec![worker("w"), inner]).await.unwrap_err();
        let inner_err = SupStartError::FailedToStartChild { id: "bad".into(), reason: other("boom") };
        assert_eq!(err, SupStartError::FailedToStartChild { id: "inner".into(), reason: Reason::from(inner_err) });
    });
}

/// A transient or temporary significant child that stops when told, by `Cmd::Stop`.
fn significant(id: &'static str, me: Pid, restart: Restart) -> ChildSpec {
    traced(id, me).restart(restart).significant(true)
}

/// `significant_temporary` — rule 45: with `any_significant`, a significant temporary child
/// exiting by itself shuts the supervisor down (its other children are stopped).
#[test]
fn significant_temporary() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        let f = SupFlags::default().auto_shutdown(AutoShutdown::AnySignificant);
        let children = vec![significant("a", me, Restart::Temporary), worker("b")];
        let sup = supervisor::start_link(f, children).await.unwrap();
        let a = started_pid(&next_ev().await);
        let mb = monitor(pid_of(sup, "b").await);
        let sup_pid = sup.pid().unwrap();
        terminate(a, Reason::Normal).await;
        check_exit_shutdown(sup_pid).await;
        assert_eq!(down(mb).await, Reason::Shutdown);
    });
}

/// `significant_transient` — rule 45: with `all_significant`, a crashing significant transient
/// child is restarted instead; `terminate_child` never triggers the auto-shutdown; the
/// supervisor shuts down when the last significant child exits cleanly by itself.
#[test]
fn significant_transient() {
    run(async {
        trap_exit(true);
        let me = self_pid();
        let f = flags(Strategy::OneForOne, 5, HOUR).auto_shutdown(AutoShutdown::AllSignificant);
        let children = vec![significant("a", me, Restart::Transient), significant("b", me, Restart::Transient)];
        let sup = supervisor::start_link(f, children).await.unwrap();
        let e = evs(2).await;
        let (a, b) = (started_pid(&e[0]), started_pid(&e[1]));
        let sup_pid = sup.pid().unwrap();
        terminate(a, other("crash")).await; // restarted
        let a2 = started_pid(&next_ev().await);
        terminate(a2, Reason::Normal).await; // b still runs
        assert_eq!(sup.which_children().await.unwrap()[1], info("a", ChildPid::Undefined));
        sup.terminate_child("b").await.unwrap(); // not by itself: no auto-shutdown
        assert_eq!(next_ev().await, Ev::Term("b", Reason::Shutdown));
        assert!(is_alive(sup_pid));
        let b2 = sup.restart_child("b").await.unwrap().unwrap();
        assert_eq!(next_ev().await, Ev::Started("b", b2));
        assert_ne!(b, b2);
        terminate(b2, Reason::Shutdown).await; // the last significant child: shut down
        check_exit_shutdown(sup_pid).await;
    });
}

/// `significant_simple` — rules 43, 45: a dynamic supervisor with `all_significant` shuts down
/// when its last significant child exits by itself.
#[test]
fn significant_simple() {
    run(async {
        trap_exit(true);
        let template = DynamicSpec::worker(|()| start_worker()).restart(Restart::Temporary).significant(true);
        let f = SupFlags::default().auto_shutdown(AutoShutdown::AllSignificant);
        let sup = DynamicSupervisor::start_link(f, template).await.unwrap();
        let c1 = sup.start_child(()).await.unwrap().unwrap();
        let c2 = sup.start_child(()).await.unwrap().unwrap();
        let sup_pid = sup.pid().unwrap();
        terminate(c1, Reason::Normal).await;
        assert_eq!(dyn_counts(sup).await, [1, 1, 0, 1]); // still running
        terminate(c2, other("crash")).await;
        check_exit_shutdown(sup_pid).await;
    });
}

/// Rule 47 (S26; no OTP SUITE case): stray messages and exits of processes that are not its
/// children are ignored; the supervisor and its children go on.
#[test]
fn stray_messages_ignored() {
    run(async {
        trap_exit(true);
        let sup = supervisor::start_link(SupFlags::default().intensity(0), vec![worker("child1")]).await.unwrap();
        let sup_pid = sup.pid().unwrap();
        let child = pid_of(sup, "child1").await;
        send(sup_pid, "hello");
        send(sup_pid, 42u64);
        // An Exit from a linked non-child (it links to the supervisor, then crashes) ...
        let (stranger, m) = spam::spawn_monitor(async move {
            spam::link(sup_pid).unwrap();
            exit_self(other("stranger crashed"));
        });
        assert_eq!(down(m).await, other("stranger crashed"));
        // ... and an exit signal from a process that is not its parent.
        let (_, m) = spam::spawn_monitor(async move { exit(sup_pid, other("not your parent")) });
        down(m).await;
        assert_eq!(sup.which_children().await.unwrap(), [info("child1", ChildPid::Running(child))]);
        assert!(is_alive(sup_pid) && is_alive(child) && !is_alive(stranger));
        assert_eq!(process_info(sup_pid).unwrap().message_queue_len, 0);
    });
}

/// Rule 9 (no OTP SUITE case): a supervisor's API calls have no timeout (OTP's `infinity`): a
/// call made while the supervisor is busy stopping a slow child waits, and is answered once
/// the stop is done.
#[test]
fn api_calls_wait_for_a_busy_supervisor() {
    #[derive(Debug)]
    struct Answer(Result<Vec<supervisor::ChildInfo>, CallError>);
    run(async {
        trap_exit(true);
        let me = self_pid();
        let gate = trapping_child("gate", move || async move {
            let _: Exit = spam::recv().await;
            send(me, "stopping");
            let () = spam::recv().await; // exits only when the test says so
        })
        .shutdown(Shutdown::Infinity);
        let sup = supervisor::start_link(SupFlags::default(), vec![gate]).await.unwrap();
        let gate_pid = pid_of(sup, "gate").await;
        spawn(async move {
            let _ = sup.terminate_child("gate").await;
        });
        assert_eq!(recv_timeout::<&str>(WATCHDOG).await, Some("stopping")); // the supervisor is busy
        spawn(async move { send(me, Answer(sup.which_children().await)) });
        send(gate_pid, ());
        let Answer(r) = recv_timeout(WATCHDOG).await.expect("watchdog: no answer");
        assert_eq!(r, Ok(vec![info("gate", ChildPid::Undefined)]));
    });
}

/// A start function that panics counts as a failed start (OTP catches the start call), both at
/// the supervisor's start and in `start_child`; the supervisor survives the latter.
#[test]
fn start_function_panics_are_start_failures() {
    run(async {
        trap_exit(true);
        let boom = ChildSpec::worker("boom", || -> std::future::Ready<StartResult> { panic!("start panicked") });
        let err = supervisor::start_link(SupFlags::default(), vec![boom.clone()]).await.unwrap_err();
        assert_eq!(
            err,
            SupStartError::FailedToStartChild { id: "boom".into(), reason: Reason::Panic("start panicked".into()) }
        );
        let sup = supervisor::start_link(SupFlags::default(), vec![]).await.unwrap();
        async fn panicking() -> StartResult {
            panic!("in the future")
        }
        let late = ChildSpec::worker("late", panicking);
        assert_eq!(sup.start_child(late).await, Err(ChildError::StartFailed(Reason::Panic("in the future".into()))));
        assert_eq!(sup.start_child(boom).await, Err(ChildError::StartFailed(Reason::Panic("start panicked".into()))));
        assert_eq!(sup.which_children().await.unwrap(), []);
    });
}
