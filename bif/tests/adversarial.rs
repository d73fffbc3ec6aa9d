//! Hostile regression tests: one per defect found in a hostile review of the VM, each named after
//! the rule it protects. Every scenario runs under a watchdog ([`within`]): a lost wake-up or a
//! deadlock fails the test with a message instead of hanging it. Leaks are checked with
//! `Vm::process_count` and with drop-counting guards ([`Tally`]). No assertion depends on sleeping:
//! the only time limits are watchdogs, reached only when the VM is broken.
//!
//! Pitfall kept in mind throughout: a process spawned or woken from a worker goes to that worker's
//! LIFO slot, so a process that busy-spins without awaiting would keep it from running. Helpers
//! that must run next to a spinning process are spawned from the test thread with `Vm::spawn`
//! (the global queue) instead.

mod common;
use common::{epoch, gave_up, slowdown, within};
use spam::{
    demonitor, link, monitor, processes, receive, receive_match, receive_match_timeout, receive_timeout, recv,
    register, self_pid, send, send_after, send_async, spawn, spawn_blocking, spawn_link, spawn_monitor, spawn_opt,
    trap_exit, try_send, try_spawn_opt, yield_now, Down, Exit, Msg, Pid, ProcessStatus, Reason, Ref, RegisterError,
    SpawnError, SpawnOpts, Vm,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The watchdog of each scenario, in seconds.
const LIMIT: u64 = 60;
/// Upper bound on one wait inside a scenario (a missing `Down`, say), so a broken VM fails with
/// a precise message before the scenario's watchdog.
const WAIT_BASE: Duration = Duration::from_secs(20);
const ZERO: Duration = Duration::ZERO;

/// One wait's bound, `WAIT_BASE` times the slowdown.
fn wait() -> Duration {
    WAIT_BASE * slowdown()
}

/// Polls `cond` (1 ms apart) until it holds; fails after `wait()`. A watchdog, not a timing test.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + wait();
    while !cond() {
        assert!(Instant::now() < deadline, "never happened within {:?}: {what}", wait());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Inside a process: yields until `cond` holds (the scenario's watchdog bounds it).
async fn yield_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        yield_now().await;
    }
}

fn new_vm() -> Vm {
    Vm::builder().schedulers(2).build()
}

/// Counts guards made and guards dropped: at the end every guard must be dropped exactly once.
#[derive(Clone, Default)]
struct Tally(Arc<(AtomicUsize, AtomicUsize)>);

struct Guard(Arc<(AtomicUsize, AtomicUsize)>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0 .1.fetch_add(1, SeqCst);
    }
}

impl Tally {
    fn guard(&self) -> Guard {
        self.0 .0.fetch_add(1, SeqCst);
        Guard(self.0.clone())
    }
    fn made(&self) -> usize {
        self.0 .0.load(SeqCst)
    }
    fn dropped(&self) -> usize {
        self.0 .1.load(SeqCst)
    }
    fn balanced(&self) -> bool {
        self.made() == self.dropped()
    }
    fn assert_balanced(&self, what: &str) {
        assert_eq!(self.dropped(), self.made(), "{what}: guards dropped != guards made (leak or double drop)");
    }
}

/// A message (or value) whose destructor panics, after counting itself.
struct Bomb(Arc<AtomicUsize>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
        panic!("adversarial: this destructor panics on purpose");
    }
}

/// Sends `()` when dropped (to learn from another thread that something was dropped).
struct Notify(mpsc::Sender<()>);

impl Drop for Notify {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A message nobody ever sends: waiting for it blocks forever.
struct Never;
struct Go;
struct Stop;
struct Marker(u64);

fn bounded(cap: usize) -> SpawnOpts {
    SpawnOpts::new().mailbox_capacity(cap)
}

/// The next `Down` of `mref`, or `None` after `wait()`.
async fn down_of(mref: Ref) -> Option<Down> {
    receive_match_timeout(move |m: &Msg| m.downcast_ref::<Down>().is_some_and(|d| d.monitor == mref), wait())
        .await
        .map(|m| m.downcast::<Down>().ok().unwrap())
}

/// Receives everything up to a marker sent to ourselves now, and returns it: messages that were
/// already on their way (from processes whose sends are ordered before ours) are all in it.
async fn round_trip(tag: u64) -> Vec<Msg> {
    send(self_pid(), Marker(tag));
    let mut out = Vec::new();
    loop {
        let m = receive().await;
        if m.downcast_ref::<Marker>().is_some_and(|k| k.0 == tag) {
            return out;
        }
        out.push(m);
    }
}

/// Inside a process: yields until `p` is waiting (suspended, not queued or running).
async fn wait_waiting(p: Pid) {
    yield_until(|| spam::process_info(p).is_some_and(|i| i.status == ProcessStatus::Waiting)).await;
}

/// Spawns a consumer with a mailbox of capacity 1 that receives nothing until `trigger` (also
/// returned) gets a `Stop`; it tells `root` `Go` once set up, then receives `n` `u32`s and sends
/// them to `root` as a `Vec<u32>`. Returns (trigger, consumer, monitor of the consumer).
fn gated_consumer(root: Pid, n: usize) -> (Pid, Pid, Ref) {
    let trigger = spawn(async {
        let _: Stop = recv().await;
    });
    let (c, cref) = spawn_opt(
        async move {
            // Waiting for a `Down` (a system message) takes no room in the bounded mailbox.
            let r = monitor(trigger);
            send(root, Go);
            down_of(r).await.expect("trigger down");
            let mut got = Vec::new();
            for _ in 0..n {
                got.push(recv::<u32>().await);
            }
            send(root, got);
        },
        SpawnOpts::new().monitor().mailbox_capacity(1),
    );
    (trigger, c, cref.unwrap())
}

// ---------------------------------------------------------------------------------------------
// 1. spawn with a taken name
// ---------------------------------------------------------------------------------------------

/// Rule (spawn is atomic; `Runtime::spawn`): a spawn whose name is taken fails with
/// `Register(NameTaken)` and the child never runs its code; but the child was in the table for a
/// moment, so a process on another worker may have found it through `processes()`. It must end
/// through the ordinary exit protocol, its slot freed only after a grace period: a send to it is
/// dropped safely (no use after free), and every monitor taken on it gets exactly one `Down`.
#[test]
fn spawn_with_taken_name_never_frees_a_process_another_thread_can_reach() {
    let ep = epoch();
    within(LIMIT, "taken-name spawns vs a processes() scanner", move || {
        const SPAWNS: usize = 100_000;
        const NAME: &str = "adversarial-taken";
        let vm = new_vm();
        let tally = Tally::default();
        let ran = Arc::new(AtomicBool::new(false));
        let go = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));

        // The name's holder.
        let (tx, rx) = mpsc::channel();
        let holder = vm
            .spawn(async move {
                register(NAME).unwrap();
                tx.send(()).unwrap();
                let _: Never = recv().await;
            })
            .expect("Vm::spawn");
        rx.recv().expect("holder registered");

        // The spawner: occupies one worker (it never awaits) and spawns with the taken name.
        let (started_tx, started_rx) = mpsc::channel();
        let (spawned_tx, spawned_rx) = mpsc::channel();
        let spawner = {
            let (ran, go, stop) = (ran.clone(), go.clone(), stop.clone());
            vm.spawn(async move {
                started_tx.send(()).unwrap();
                while !go.load(SeqCst) && !gave_up(ep) {
                    std::hint::spin_loop();
                }
                let mut wrong = Vec::new();
                for k in 0..SPAWNS {
                    if k % 64 == 63 {
                        yield_now().await; // let the children of failed spawns run (and exit)
                    }
                    let ran = ran.clone();
                    // try_spawn_opt: a plain spawn_opt would exit the spawner with Badarg.
                    match try_spawn_opt(async move { ran.store(true, SeqCst) }, SpawnOpts::new().name(NAME)) {
                        Err(SpawnError::Register(RegisterError::NameTaken(n))) if n == NAME => {}
                        other => wrong.push(format!("{other:?}")),
                    }
                }
                stop.store(true, SeqCst);
                spawned_tx.send(wrong).unwrap();
            })
            .expect("Vm::spawn")
        };
        started_rx.recv().expect("spawner started");

        // The scanner, on the other worker: sends to and monitors every process it finds.
        let (report_tx, report_rx) = mpsc::channel();
        {
            let (tally, go, stop) = (tally.clone(), go.clone(), stop.clone());
            vm.spawn(async move {
                let me = self_pid();
                go.store(true, SeqCst);
                let mut seen = HashSet::new();
                let mut refs = HashSet::new();
                while !stop.load(SeqCst) && !gave_up(ep) {
                    for p in processes() {
                        if p == me || p == holder || p == spawner || !seen.insert(p) {
                            continue;
                        }
                        send(p, tally.guard());
                        refs.insert(monitor(p));
                    }
                }
                let mut told = HashSet::new();
                let (mut dup, mut foreign) = (0, 0);
                while told.len() < refs.len() {
                    match receive_match_timeout(|m: &Msg| m.is::<Down>(), wait()).await {
                        Some(m) => {
                            let d = m.downcast::<Down>().ok().unwrap();
                            if !refs.contains(&d.monitor) {
                                foreign += 1;
                            } else if !told.insert(d.monitor) {
                                dup += 1;
                            }
                        }
                        None => break,
                    }
                }
                for m in round_trip(1).await {
                    if let Some(d) = m.downcast_ref::<Down>() {
                        if refs.contains(&d.monitor) {
                            dup += 1;
                        } else {
                            foreign += 1;
                        }
                    }
                }
                report_tx.send((refs.len(), told.len(), dup, foreign)).unwrap();
            })
            .expect("Vm::spawn");
        }

        let wrong = spawned_rx.recv().expect("the spawner died");
        assert!(wrong.is_empty(), "spawn with a taken name must fail with NameTaken; got {:?}", &wrong[..1]);
        let (monitored, told, dup, foreign) = report_rx.recv().expect("the scanner died");
        eprintln!("taken-name: the scanner reached {monitored} children of failed spawns");
        assert_eq!(told, monitored, "monitors of failed-spawn children never told (no Down)");
        assert_eq!(dup, 0, "a monitor got more than one Down");
        assert_eq!(foreign, 0, "a Down for a monitor nobody took");
        assert!(!ran.load(SeqCst), "the child of a failed spawn ran its code");

        vm.exit(holder, Reason::Kill);
        wait_until("every process reclaimed", || vm.process_count() == 0);
        vm.shutdown();
        assert_eq!(vm.process_count(), 0);
        tally.assert_balanced("messages sent to failed-spawn children");
    });
}

// ---------------------------------------------------------------------------------------------
// 2. Vm calls from other threads during shutdown
// ---------------------------------------------------------------------------------------------

/// Rule (`Vm::shutdown`, table.rs "Shutdown"): `Vm::send`, `Vm::exit`, `Vm::spawn`,
/// `Vm::process_info` and `Vm::run` may be called from any thread at any time, also while
/// `shutdown` runs: the shutdown drain never
/// frees or swaps out a task a pinned sender is using, a spawn racing it is either refused or
/// drained, and afterwards nothing is left: `process_count() == 0`, every future and message
/// dropped exactly once.
#[test]
fn vm_calls_from_other_threads_during_shutdown_are_safe() {
    within(LIMIT, "send/exit/spawn from threads vs shutdown", || {
        for round in 0..50 {
            let tally = Tally::default();
            let vm = new_vm();
            let spawn_one = |vm: &Vm, g: Guard| {
                vm.spawn(async move {
                    let _g = g;
                    loop {
                        receive().await;
                    }
                })
            };
            // A spawn racing the shutdown may be refused, but only as `ShutDown`.
            let ok_or_shut_down = |r: Result<Pid, SpawnError>| matches!(r, Ok(_) | Err(SpawnError::ShutDown));
            for _ in 0..100 {
                spawn_one(&vm, tally.guard()).expect("Vm::spawn before the shutdown");
            }
            let stop = AtomicBool::new(false);
            let passes = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let (vm, tally, stop, passes) = (&vm, &tally, &stop, &passes);
                    s.spawn(move || {
                        let mut i = t;
                        while !stop.load(SeqCst) {
                            for p in vm.processes() {
                                i += 1;
                                let _ = vm.send(p, tally.guard());
                                match i % 8 {
                                    0 => vm.exit(p, Reason::Kill),
                                    1 | 2 => {
                                        assert!(ok_or_shut_down(spawn_one(vm, tally.guard())));
                                    }
                                    3 => {
                                        // Inspection pins the slot too; the answer may be None.
                                        let info = vm.process_info(p);
                                        assert!(info.is_none_or(|i| i.pid == p));
                                        let _ = vm.is_alive(p);
                                        let _ = vm.whereis("nobody");
                                    }
                                    _ => vm.exit(p, Reason::Normal), // ignored: not trapping
                                }
                            }
                            let _ = vm.send(Pid::UNDEFINED, tally.guard());
                            assert!(ok_or_shut_down(spawn_one(vm, tally.guard())));
                            passes.fetch_add(1, SeqCst);
                        }
                    });
                }
                // A root process started while the VM shuts down: `run` returns whatever happens
                // (refused: Noproc; cancelled by the drain: Killed; or it ended: Normal).
                let (vm_ref, tally_ref, stop_ref) = (&vm, &tally, &stop);
                s.spawn(move || {
                    while !stop_ref.load(SeqCst) {
                        let g = tally_ref.guard();
                        let r = vm_ref.run(async move {
                            let _g = g;
                            let _ = receive_timeout(Duration::from_millis(1)).await;
                        });
                        assert!(matches!(r, Reason::Normal | Reason::Killed | Reason::Noproc), "run returned {r:?}");
                    }
                });
                while passes.load(SeqCst) < 4 {
                    std::thread::yield_now();
                }
                vm.shutdown();
                stop.store(true, SeqCst);
            });
            assert_eq!(vm.process_count(), 0, "round {round}: processes left after shutdown");
            drop(vm);
            tally.assert_balanced(&format!("round {round}"));
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 3. dropping the last Vm inside one of its processes
// ---------------------------------------------------------------------------------------------

/// Rule (`Vm` doc): a `Vm` may be dropped anywhere, also inside one of its own processes (the last
/// clone of an `Arc<Vm>`): the shutdown cannot wait for the running poll, so it finishes in the
/// background; nothing is used after it is freed, and every other process is still dropped.
#[test]
fn dropping_the_last_vm_handle_inside_its_own_process_is_safe() {
    within(LIMIT, "last Arc<Vm> dropped inside a process", || {
        let tally = Tally::default();
        let vm = Arc::new(new_vm());
        let (other_tx, other_rx) = mpsc::channel();
        let g = tally.guard();
        vm.spawn(async move {
            let _n = Notify(other_tx);
            let _g = g;
            let _: Never = recv().await;
        })
        .expect("Vm::spawn");
        let (ready_tx, ready_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (mine_tx, mine_rx) = mpsc::channel();
        let mine = vm.clone();
        let g = tally.guard();
        vm.spawn(async move {
            let _n = Notify(mine_tx);
            let _g = g;
            ready_tx.send(()).unwrap();
            // Holds this worker: the drop of the last handle below happens mid-poll.
            go_rx.recv().unwrap();
            drop(mine);
            // Keep going as a process for a moment: nothing here may touch freed memory.
            let me = self_pid();
            send(me, 1u8);
            let _ = spam::process_info(me);
            yield_now().await;
            let _: Never = recv().await;
        })
        .expect("Vm::spawn");
        ready_rx.recv().expect("the process started");
        drop(vm); // not the last one: the process holds a clone
        go_tx.send(()).unwrap();
        other_rx.recv().expect("the other process was never dropped");
        mine_rx.recv().expect("the dropping process was never dropped");
        wait_until("every guard dropped by the background shutdown", || tally.balanced());
    });
}

// ---------------------------------------------------------------------------------------------
// 4. send_async wake-ups
// ---------------------------------------------------------------------------------------------

/// Rule (receive.rs, "Waiting for room"): every room freed in a bounded mailbox while senders
/// wait goes to a sender that retries; none waits while there is room (one entry per waiting
/// sender, however often it is polled).
///
/// a) Deterministic: a waiting sender woken for another reason (a signal: here a monitor taken
///    on it) is polled again while the mailbox is still full, and must not end up with two
///    entries, one of which would later eat the wake owed to the next waiter.
/// b) Stress: four producers flood a consumer of capacity 1 with `send_async`; the consumer must
///    receive everything, in each producer's order, every round.
#[test]
fn send_async_never_loses_a_wake_up() {
    within(LIMIT, "send_async to a capacity-1 mailbox: re-polled waiter, then 4 producers x 500 rounds", || {
        const ROUNDS: u32 = 500;
        const PER: u32 = 50;
        const PRODUCERS: usize = 4;
        // A little work per message, so producers and consumer overlap on the two workers (the
        // races between a failed try, the registration and a receive need real concurrency).
        fn work() {
            for _ in 0..50 {
                std::hint::spin_loop();
            }
        }
        let vm = new_vm();
        let reason = vm.run(async {
            let root = self_pid();
            // a) P waits, is woken by a signal and polled again while still full; then Q waits.
            let (trigger, c, cref) = gated_consumer(root, 3);
            let _: Go = recv().await;
            try_send(c, 0u32).ok().unwrap(); // full now
            let p = spawn(async move { send_async(c, 1u32).await });
            wait_waiting(p).await;
            let pref = monitor(p); // a signal: wakes p, which polls its send_async again
            wait_waiting(p).await;
            let q = spawn(async move { send_async(c, 2u32).await });
            wait_waiting(q).await;
            send(trigger, Stop); // the consumer now receives three messages
            let got = receive_match_timeout(|m: &Msg| m.is::<Vec<u32>>(), wait()).await;
            let got = got.expect("a waiting sender was never woken: its wake went to a stale duplicate entry of a sender that had finished");
            assert_eq!(got.downcast::<Vec<u32>>().ok().unwrap(), vec![0, 1, 2]);
            assert_eq!(down_of(pref).await.expect("p down").reason, Reason::Normal);
            assert_eq!(down_of(cref).await.expect("consumer down").reason, Reason::Normal);

            // b) Stress.
            for round in 0..ROUNDS {
                let (consumer, mref) = spawn_opt(
                    async move {
                        let mut next = [0u32; PRODUCERS];
                        for _ in 0..PER * PRODUCERS as u32 {
                            let (who, i): (usize, u32) = recv().await;
                            work();
                            assert_eq!(i, next[who], "producer {who}'s messages out of order");
                            next[who] += 1;
                        }
                    },
                    SpawnOpts::new().monitor().mailbox_capacity(1),
                );
                for who in 0..PRODUCERS {
                    spawn(async move {
                        for i in 0..PER {
                            work();
                            send_async(consumer, (who, i)).await;
                        }
                    });
                }
                let d = down_of(mref.unwrap())
                    .await
                    .unwrap_or_else(|| panic!("round {round}: the consumer stalled (a send_async wake-up was lost)"));
                assert_eq!(d.reason, Reason::Normal, "round {round}");
            }
        });
        assert_eq!(reason, Reason::Normal);
        wait_until("every process reclaimed", || vm.process_count() == 0);
    });
}

/// Rule (receive.rs, "Waiting for room", rule 4): a sender that dies while waiting in
/// `send_async` leaves the queue of waiters, and if the room it was owed was already handed to it,
/// passes it on: it never eats the wake of another waiter.
#[test]
fn a_sender_killed_in_send_async_does_not_eat_another_waiters_wake() {
    within(LIMIT, "killed send_async waiter", || {
        let vm = new_vm();
        let reason = vm.run(async {
            let root = self_pid();
            // Deterministic: P1 then P2 wait; P1 is killed; the consumer frees one room.
            let (trigger, c, cref) = gated_consumer(root, 2);
            let _: Go = recv().await;
            try_send(c, 0u32).ok().unwrap(); // full now
            let p1 = spawn(async move {
                send_async(c, 1u32).await;
            });
            wait_waiting(p1).await;
            let p2 = spawn(async move {
                send_async(c, 2u32).await;
            });
            wait_waiting(p2).await;
            let r1 = monitor(p1);
            spam::exit(p1, Reason::Kill);
            assert_eq!(down_of(r1).await.expect("p1 down").reason, Reason::Killed);
            send(trigger, Stop);
            let got = receive_match_timeout(|m: &Msg| m.is::<Vec<u32>>(), wait()).await;
            let got = got.expect("the surviving waiter was never woken: the killed waiter ate its wake");
            assert_eq!(got.downcast::<Vec<u32>>().ok().unwrap(), vec![0, 2]);
            assert_eq!(down_of(cref).await.expect("consumer down").reason, Reason::Normal);

            // Stress: half of the producers are killed at random points while they wait.
            let mut seed = 0x2545_f491u32;
            for round in 0..100 {
                let (c, cref) = spawn_opt(
                    async {
                        loop {
                            let m = receive().await;
                            if m.is::<Stop>() {
                                break;
                            }
                        }
                    },
                    SpawnOpts::new().monitor().mailbox_capacity(1),
                );
                let mut producers = Vec::new();
                for _ in 0..6 {
                    let (p, r) = spawn_monitor(async move {
                        for i in 0..50u32 {
                            send_async(c, i).await;
                        }
                    });
                    producers.push((p, r));
                }
                for (k, (p, _)) in producers.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    for _ in 0..(seed % 8) {
                        yield_now().await;
                    }
                    let _ = k;
                    spam::exit(*p, Reason::Kill);
                }
                for (k, (_, r)) in producers.iter().enumerate() {
                    let d = down_of(*r)
                        .await
                        .unwrap_or_else(|| panic!("round {round}: producer {k} never finished (lost wake-up)"));
                    assert!(matches!(d.reason, Reason::Normal | Reason::Killed), "round {round}: {:?}", d.reason);
                }
                send_async(c, Stop).await;
                assert_eq!(down_of(cref.unwrap()).await.expect("consumer down").reason, Reason::Normal);
            }
        });
        assert_eq!(reason, Reason::Normal);
        wait_until("every process reclaimed", || vm.process_count() == 0);
    });
}

// ---------------------------------------------------------------------------------------------
// 5. messages whose destructor panics
// ---------------------------------------------------------------------------------------------

/// Rule (exit.rs, "Close"; contained user drops): a message is a user value whose destructor may
/// panic; where the VM drops it (here: a process exits with it still queued, in its mailbox or
/// its save queue) the panic is contained and the exit protocol still runs in full: its monitor
/// gets exactly one `Down`, a trapping linked process its `Exit`, the other queued messages are
/// dropped, and the process is reclaimed.
#[test]
fn a_panicking_message_destructor_at_exit_still_tells_links_and_monitors() {
    within(LIMIT, "panicking message drop at exit", || {
        let vm = new_vm();
        let tally = Tally::default();
        let bombs = Arc::new(AtomicUsize::new(0));
        let (pids_tx, pids_rx) = mpsc::channel();
        let (blocked_tx, blocked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (report_tx, report_rx) = mpsc::channel();
        vm.spawn(async move {
            trap_exit(true);
            let both = SpawnOpts::new().link().monitor();
            // X exits with the messages still in its mailbox (it never drains it).
            let (x, xr) = spawn_opt(
                async move {
                    blocked_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                },
                both.clone(),
            );
            // Y exits with them in its save queue (drained while looking for `Go`).
            let (y, yr) = spawn_opt(
                async {
                    let _: Go = recv().await;
                },
                both,
            );
            pids_tx.send((x, y)).unwrap();
            let mut downs = Vec::new();
            let mut exits = Vec::new();
            while downs.len() < 2 || exits.len() < 2 {
                match receive_match_timeout(|m: &Msg| m.is::<Down>() || m.is::<Exit>(), wait()).await {
                    Some(m) => match m.downcast::<Down>() {
                        Ok(d) => downs.push((d.monitor, d.pid)),
                        Err(m) => exits.push(m.downcast::<Exit>().ok().unwrap().from),
                    },
                    None => break,
                }
            }
            for m in round_trip(5).await {
                match m.downcast::<Down>() {
                    Ok(d) => downs.push((d.monitor, d.pid)),
                    Err(m) => {
                        if let Ok(e) = m.downcast::<Exit>() {
                            exits.push(e.from)
                        }
                    }
                }
            }
            downs.sort();
            exits.sort();
            let mut want_downs = vec![(xr.unwrap(), x), (yr.unwrap(), y)];
            want_downs.sort();
            let mut want_exits = vec![x, y];
            want_exits.sort();
            report_tx.send((downs == want_downs, exits == want_exits, downs, exits)).unwrap();
        })
        .expect("Vm::spawn");
        let (x, y) = pids_rx.recv().expect("watcher started");
        blocked_rx.recv().expect("x started");
        vm.send(x, Bomb(bombs.clone())).ok().unwrap();
        vm.send(x, tally.guard()).ok().unwrap();
        vm.send(y, Bomb(bombs.clone())).ok().unwrap();
        vm.send(y, tally.guard()).ok().unwrap();
        vm.send(y, Go).ok().unwrap();
        release_tx.send(()).unwrap();
        let (downs_ok, exits_ok, downs, exits) = report_rx.recv().expect("the watcher died");
        assert!(downs_ok, "expected exactly one Down each for x={x} and y={y}, got {downs:?}");
        assert!(exits_ok, "expected exactly one Exit each from x={x} and y={y}, got {exits:?}");
        assert_eq!(bombs.load(SeqCst), 2, "each panicking message dropped once");
        wait_until("the exited processes reclaimed", || vm.process_count() == 0);
        tally.assert_balanced("messages queued next to the panicking ones");
        vm.shutdown();
        assert_eq!(vm.process_count(), 0);
    });
}

/// Rule (timer.rs: timer actions are contained): a `send_after` whose message is dropped on the
/// timer thread (its target is dead, or its name unregistered) may panic in that destructor;
/// timers keep working after it: `receive_timeout` still times out and `send_after` still
/// delivers.
#[test]
fn a_panicking_message_destructor_on_the_timer_thread_keeps_timers_running() {
    within(LIMIT, "panicking send_after message to a dead pid", || {
        let vm = new_vm();
        let bombs = Arc::new(AtomicUsize::new(0));
        let b = bombs.clone();
        let (step_tx, step_rx) = mpsc::channel();
        vm.spawn(async move {
            let me = self_pid();
            let (dead, r) = spawn_monitor(async {});
            down_of(r).await.expect("down");
            for (n, to) in [Ok(dead), Err("adversarial-nobody")].into_iter().enumerate() {
                match to {
                    Ok(pid) => send_after(Duration::from_millis(1), pid, Bomb(b.clone())),
                    Err(name) => send_after(Duration::from_millis(1), name, Bomb(b.clone())),
                };
                yield_until(|| b.load(SeqCst) == n + 1).await; // the timer fired, the drop panicked
                let timed_out = receive_timeout(Duration::from_millis(10)).await.is_none();
                send_after(Duration::from_millis(1), me, 7u32);
                let got = recv::<u32>().await;
                step_tx.send((timed_out, got)).unwrap();
            }
        })
        .expect("Vm::spawn");
        for what in ["a dead pid", "an unregistered name"] {
            let (timed_out, got) = step_rx.recv_timeout(wait()).unwrap_or_else(|_| {
                panic!("after a send_after message to {what} panicked in its destructor, timers stopped firing")
            });
            assert!(timed_out, "receive_timeout returned a message nobody sent");
            assert_eq!(got, 7);
        }
        assert_eq!(bombs.load(SeqCst), 2);
        wait_until("every process reclaimed", || vm.process_count() == 0);
        vm.shutdown();
        assert_eq!(vm.process_count(), 0);
    });
}

/// Rule (`Vm::shutdown` drops every remaining process and its messages, each drop contained):
/// shutdown with two or more messages whose destructors panic still queued in live processes
/// returns normally: no panic escapes it and no double panic aborts the program.
#[test]
fn shutdown_with_panicking_messages_queued_returns_normally() {
    within(LIMIT, "shutdown with panicking messages queued", || {
        let vm = new_vm();
        let tally = Tally::default();
        let bombs = Arc::new(AtomicUsize::new(0));
        // p: the messages in its save queue (it drained them looking for a `Never`).
        let g = tally.guard();
        let p = vm
            .spawn(async move {
                let _g = g;
                let _: Never = recv().await;
            })
            .expect("Vm::spawn");
        for _ in 0..2 {
            vm.send(p, Bomb(bombs.clone())).ok().unwrap();
            vm.send(p, tally.guard()).ok().unwrap();
        }
        wait_until("p drained its mailbox", || vm.process_info(p).is_some_and(|i| i.message_queue_len == 4));
        // q: they may still be in its mailbox.
        let g = tally.guard();
        let q = vm
            .spawn(async move {
                let _g = g;
                let _: Never = recv().await;
            })
            .expect("Vm::spawn");
        for _ in 0..3 {
            vm.send(q, Bomb(bombs.clone())).ok().unwrap();
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vm.shutdown()));
        assert!(r.is_ok(), "a message destructor's panic escaped Vm::shutdown");
        assert_eq!(bombs.load(SeqCst), 5, "every panicking message dropped exactly once");
        assert_eq!(vm.process_count(), 0);
        tally.assert_balanced("processes and messages dropped at shutdown");
    });
}

// ---------------------------------------------------------------------------------------------
// 6. links and monitors made by a message destructor during exit
// ---------------------------------------------------------------------------------------------

/// On drop, while its owner exits: spawns a linked child (trapping exits, it forwards any `Exit`
/// to `watcher`), links to the existing `watcher`, and monitors it.
struct Linker {
    watcher: Pid,
}

struct Forwarded(Exit);

impl Drop for Linker {
    fn drop(&mut self) {
        let watcher = self.watcher;
        // try_spawn_opt: the spawn's outcome is reported, as link's, instead of exiting (on
        // failure) the process whose exit runs this destructor.
        let child = try_spawn_opt(
            async move {
                let e: Exit = recv().await;
                send(watcher, Forwarded(e));
            },
            SpawnOpts::new().link().trap_exit(),
        );
        let linked = link(watcher);
        let monitored = monitor(watcher);
        send(watcher, (format!("{child:?}"), format!("{linked:?}"), format!("{monitored:?}")));
    }
}

/// Rule (exit.rs, "Close" before "Tell"): message destructors run as the exiting process while
/// its links and monitors are still in place, so a link or monitor such a destructor makes is told
/// like any other: a child it `spawn_link`s gets an `Exit` from its dead parent, a process it
/// links to gets an `Exit`, and a process it monitors gets the `Demonitor` (no stale entry in its
/// `monitored_by`).
#[test]
fn links_and_monitors_made_by_a_message_destructor_during_exit_are_told() {
    within(LIMIT, "links/monitors made in a destructor during exit", || {
        let vm = new_vm();
        let (report_tx, report_rx) = mpsc::channel();
        let (w_tx, w_rx) = mpsc::channel();
        let w = vm
            .spawn(async move {
                trap_exit(true);
                let w = self_pid();
                let (x, xr) = spawn_monitor(async {
                    let _: Go = recv().await;
                });
                w_tx.send(x).unwrap();
                let d = down_of(xr).await.expect("x down");
                let what: (String, String, String) =
                    receive_match_timeout(|m: &Msg| m.is::<(String, String, String)>(), wait())
                        .await
                        .expect("the destructor ran")
                        .downcast()
                        .ok()
                        .unwrap();
                let mut child_exit = None;
                let mut my_exit = None;
                while child_exit.is_none() || my_exit.is_none() {
                    let Some(m) = receive_match_timeout(|m: &Msg| m.is::<Forwarded>() || m.is::<Exit>(), wait()).await
                    else {
                        break;
                    };
                    match m.downcast::<Forwarded>() {
                        Ok(f) => child_exit = Some(f.0),
                        Err(m) => my_exit = Some(m.downcast::<Exit>().ok().unwrap()),
                    }
                }
                report_tx.send((w, x, d.reason, what, child_exit, my_exit)).unwrap();
                let _: Never = recv().await;
            })
            .expect("Vm::spawn");
        let x = w_rx.recv().expect("watcher started");
        vm.send(x, Linker { watcher: w }).ok().unwrap();
        vm.send(x, Go).ok().unwrap();
        let (w, x, reason, what, child_exit, my_exit) = report_rx.recv().expect("the watcher died");
        assert_eq!(reason, Reason::Normal);
        eprintln!("destructor during exit: spawn_link -> {}, link -> {}, monitor -> {}", what.0, what.1, what.2);
        let told = Exit { from: x, reason: Reason::Normal };
        let mut problems = Vec::new();
        if child_exit.as_ref() != Some(&told) {
            problems.push(format!("the child it spawn_link'ed got {child_exit:?}, not {told:?}"));
        }
        if my_exit.as_ref() != Some(&told) {
            problems.push(format!("the process it linked got {my_exit:?}, not {told:?}"));
        }
        // The Demonitor is the last thing the exit sends the watcher: poll for it (watchdog only).
        let deadline = Instant::now() + wait();
        while vm.process_info(w).is_some_and(|i| i.monitored_by.contains(&x)) {
            if Instant::now() > deadline {
                problems.push("the process it monitored still lists the dead process in monitored_by".into());
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(problems.is_empty(), "links/monitors made by a destructor during exit: {problems:#?}");
        vm.exit(w, Reason::Kill);
        wait_until("every process reclaimed", || vm.process_count() == 0);
    });
}

// ---------------------------------------------------------------------------------------------
// 7. timers firing during shutdown
// ---------------------------------------------------------------------------------------------

/// Rule (`Vm::shutdown`): every process is dropped, with its control block and the messages in
/// it, whatever it waits on. Timers firing while the shutdown runs (wakes racing the drain) must
/// not leave a process behind: each of 2,000 processes looping on a 1 ms timeout holds a guard in
/// its future and one in its save queue (a message it never matches), and all of them are
/// dropped. Ten rounds as is; in an eleventh, a blocking job outlives the shutdown's wait for the
/// blocking pool (at most a second, by design), and 200 more processes wait on 1.5 s timeouts, so
/// their timers fire while the shutdown is surely still running.
#[test]
fn timers_firing_during_shutdown_leak_no_process() {
    within(LIMIT, "2000 receive_timeout(1ms) loops vs shutdown, 11 rounds", || {
        for round in 0..11 {
            let long_job = round == 10;
            let vm = new_vm();
            let tally = Tally::default();
            let ticks = Arc::new(AtomicUsize::new(0));
            for _ in 0..2_000u64 {
                let (g, ticks) = (tally.guard(), ticks.clone());
                let p = vm
                    .spawn(async move {
                        let _g = g;
                        loop {
                            let _ = receive_match_timeout(|m: &Msg| m.is::<Never>(), Duration::from_millis(1)).await;
                            ticks.fetch_add(1, SeqCst);
                        }
                    })
                    .expect("Vm::spawn");
                vm.send(p, tally.guard()).ok().unwrap();
            }
            let (release_tx, release_rx) = mpsc::channel::<()>();
            if long_job {
                for _ in 0..200 {
                    let g = tally.guard();
                    let p = vm
                        .spawn(async move {
                            let _g = g;
                            loop {
                                let _ =
                                    receive_match_timeout(|m: &Msg| m.is::<Never>(), Duration::from_millis(1500)).await;
                            }
                        })
                        .expect("Vm::spawn");
                    vm.send(p, tally.guard()).ok().unwrap();
                }
                let (started_tx, started_rx) = mpsc::channel();
                let g = tally.guard();
                vm.spawn(async move {
                    let _g = g;
                    let _ = spawn_blocking(move || {
                        let _ = started_tx.send(());
                        let _ = release_rx.recv();
                    })
                    .await;
                })
                .expect("Vm::spawn");
                started_rx.recv().expect("the blocking job started");
            }
            wait_until("timeouts fire", || ticks.load(SeqCst) >= 2_000);
            vm.shutdown();
            drop(release_tx);
            assert_eq!(vm.process_count(), 0, "round {round}: processes left after shutdown");
            tally.assert_balanced(&format!("round {round}"));
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 8. shutdown ends everything
// ---------------------------------------------------------------------------------------------

/// Rule (`Vm::shutdown` ends every process, whatever it waits on): two processes deadlocked in
/// `send_async` on each other's full mailbox, and a root blocked sending to one of them, are all
/// dropped: `Vm::run` returns, every guard is dropped.
#[test]
fn shutdown_ends_processes_deadlocked_in_send_async() {
    within(LIMIT, "send_async deadlock vs shutdown", || {
        let vm = Arc::new(new_vm());
        let tally = Tally::default();
        let (pids_tx, pids_rx) = mpsc::channel();
        let stopper = {
            let vm = vm.clone();
            std::thread::spawn(move || {
                let pids: Vec<Pid> = pids_rx.recv().expect("root started");
                wait_until("all three blocked", || {
                    pids.iter().all(|&p| vm.process_info(p).is_some_and(|i| i.status == ProcessStatus::Waiting))
                });
                vm.shutdown();
            })
        };
        let t = tally.clone();
        let reason = vm.run(async move {
            let _g = t.guard();
            let peer = |t: Tally| async move {
                let _g = t.guard();
                let other: Pid = recv().await;
                loop {
                    send_async(other, t.guard()).await;
                }
            };
            let (p, _) = spawn_opt(peer(t.clone()), bounded(1));
            let (q, _) = spawn_opt(peer(t.clone()), bounded(1));
            send(p, q);
            send(q, p);
            pids_tx.send(vec![self_pid(), p, q]).unwrap();
            loop {
                send_async(p, t.guard()).await;
            }
        });
        stopper.join().unwrap();
        assert_eq!(reason, Reason::Killed, "the root was ended by the shutdown");
        assert_eq!(vm.process_count(), 0);
        tally.assert_balanced("deadlocked processes and their messages");
    });
}

/// Rule (`Vm::shutdown` ends every process): a root awaiting a `spawn_blocking` job that does not
/// finish is ended by a shutdown from another thread: `Vm::run` returns (the job may outlive it).
#[test]
fn shutdown_ends_a_root_waiting_on_a_long_blocking_job() {
    within(LIMIT, "root awaiting spawn_blocking vs shutdown", || {
        let vm = Arc::new(new_vm());
        let tally = Tally::default();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let stopper = {
            let vm = vm.clone();
            std::thread::spawn(move || {
                started_rx.recv().expect("the job started");
                vm.shutdown();
            })
        };
        let g = tally.guard();
        let reason = vm.run(async move {
            let _g = g;
            let _ = spawn_blocking(move || {
                started_tx.send(()).unwrap();
                let _ = release_rx.recv();
            })
            .await;
        });
        release_tx.send(()).unwrap();
        stopper.join().unwrap();
        assert_eq!(reason, Reason::Killed, "the root was ended by the shutdown");
        assert_eq!(vm.process_count(), 0);
        tally.assert_balanced("the root's future");
    });
}

// ---------------------------------------------------------------------------------------------
// 9. an untrappable Kill caught by catch_unwind
// ---------------------------------------------------------------------------------------------

/// Rule (signal.rs: `Kill` is untrappable; process.rs `Private::pending_exit`): a process that
/// handled a `Kill` is dead, even if its code catches the unwind: `catch_unwind(|| exit(self,
/// Kill))` and then returning normally, or going on waiting, still ends it with `Killed`.
#[test]
fn a_kill_to_self_cannot_be_swallowed_by_catch_unwind() {
    within(LIMIT, "catch_unwind around exit(self, Kill)", || {
        let vm = new_vm();
        let reason = vm.run(async {
            let (_, returns) = spawn_monitor(async {
                let me = self_pid();
                let _ = std::panic::catch_unwind(move || spam::exit(me, Reason::Kill));
            });
            let (waiter, keeps_going) = spawn_monitor(async {
                let me = self_pid();
                let _ = std::panic::catch_unwind(move || spam::exit(me, Reason::Kill));
                let _: Never = recv().await;
            });
            let d = down_of(returns).await.expect("down");
            assert_eq!(d.reason, Reason::Killed, "caught Kill, then returned normally");
            match down_of(keeps_going).await {
                Some(d) => assert_eq!(d.reason, Reason::Killed, "caught Kill, then kept running"),
                None => {
                    spam::exit(waiter, Reason::Kill);
                    panic!("a process that caught the unwind of its own Kill kept running");
                }
            }
        });
        assert_eq!(reason, Reason::Normal);
    });
}

/// Rule (as above; ops.rs `demonitor`): `demonitor(r, true)` drains the mailbox; a `Kill` already
/// queued there is handled, and the process is dead even if its code catches that unwind.
#[test]
fn a_kill_handled_by_demonitor_flush_cannot_be_swallowed_by_catch_unwind() {
    let ep = epoch();
    within(LIMIT, "catch_unwind around demonitor(flush) with a Kill queued", move || {
        let vm = new_vm();
        let z = vm
            .spawn(async {
                let _: Never = recv().await;
            })
            .expect("Vm::spawn");
        let ready = Arc::new(AtomicBool::new(false));
        let killed = Arc::new(AtomicBool::new(false));
        let victim = {
            let (ready, killed) = (ready.clone(), killed.clone());
            vm.spawn(async move {
                let r = monitor(z);
                ready.store(true, SeqCst);
                // Do not touch the mailbox until the killer has queued its Kill.
                while !killed.load(SeqCst) && !gave_up(ep) {
                    std::hint::spin_loop();
                }
                let _ = std::panic::catch_unwind(move || demonitor(r, true));
            })
            .expect("Vm::spawn")
        };
        wait_until("the victim runs", || ready.load(SeqCst));
        let (tx, rx) = mpsc::channel();
        vm.spawn(async move {
            let r = monitor(victim);
            spam::exit(victim, Reason::Kill);
            killed.store(true, SeqCst);
            tx.send(down_of(r).await.map(|d| d.reason)).unwrap();
        })
        .expect("Vm::spawn");
        let reason = rx.recv().expect("the killer died").expect("no Down for the victim");
        assert_eq!(reason, Reason::Killed, "the Kill handled inside demonitor(flush) was swallowed");
        vm.exit(z, Reason::Kill);
        wait_until("every process reclaimed", || vm.process_count() == 0);
    });
}

// ---------------------------------------------------------------------------------------------
// 10. demonitor(flush) inside a receive_match predicate
// ---------------------------------------------------------------------------------------------

/// Rule (`demonitor` doc; receive.rs "Selective receive and demonitor(.., flush) in a
/// predicate"): after `demonitor(r, true)` no `Down` for `r` is ever received, also when it is
/// called from a `receive_match` predicate while the `Down` sits in the queue being scanned, and
/// also when the predicate matched that very `Down`.
#[test]
fn demonitor_flush_inside_a_receive_predicate_removes_the_down() {
    within(LIMIT, "demonitor(flush) in a predicate", || {
        let vm = new_vm();
        let reason = vm.run(async {
            let me = self_pid();
            let (dead, r) = spawn_monitor(async {});
            down_of(r).await.expect("down");

            // a) The predicate flushes the Down and matches something else.
            let r1 = monitor(dead); // its Down (Noproc) is queued at once
            send(me, "marker-1");
            let mut first = true;
            let m = receive_match(move |m: &Msg| {
                if first {
                    first = false;
                    let _ = demonitor(r1, true);
                }
                m.downcast_ref::<&str>() == Some(&"marker-1")
            })
            .await;
            assert_eq!(m.downcast_ref::<&str>(), Some(&"marker-1"));
            for m in round_trip(10).await {
                let d = m.downcast_ref::<Down>();
                assert!(d.is_none_or(|d| d.monitor != r1), "a Down flushed by demonitor(r, true) was received");
            }

            // b) The predicate flushes the very Down it is looking at and says it matches.
            let r2 = monitor(dead);
            send(me, "marker-2");
            let m = receive_match(move |m: &Msg| {
                if m.downcast_ref::<Down>().is_some_and(|d| d.monitor == r2) {
                    let _ = demonitor(r2, true);
                    return true;
                }
                m.downcast_ref::<&str>() == Some(&"marker-2")
            })
            .await;
            assert!(m.downcast_ref::<Down>().is_none(), "receive_match returned the Down it had just flushed");
            assert_eq!(m.downcast_ref::<&str>(), Some(&"marker-2"));
            for m in round_trip(11).await {
                let d = m.downcast_ref::<Down>();
                assert!(d.is_none_or(|d| d.monitor != r2), "a Down flushed by demonitor(r, true) was received");
            }
            assert!(receive_timeout(ZERO).await.is_none());
        });
        assert_eq!(reason, Reason::Normal);
    });
}

// ---------------------------------------------------------------------------------------------
// 11. a woken process stuck behind a long poll
// ---------------------------------------------------------------------------------------------

/// Rule (worker.rs, "Stuck LIFO slots"): a task woken into a worker's LIFO slot does not wait for
/// the end of that worker's (long, cooperative) poll while another scheduler is idle: the idle
/// one takes it. Process A wakes B and then spins, without awaiting, until B has run.
#[test]
fn a_woken_process_does_not_wait_behind_a_long_poll_while_a_scheduler_idles() {
    let ep = epoch();
    within(LIMIT, "B woken into A's LIFO slot while A spins", move || {
        let vm = new_vm();
        let got = Arc::new(AtomicBool::new(false));
        let b = {
            let got = got.clone();
            vm.spawn(async move {
                let _: u8 = recv().await;
                got.store(true, SeqCst);
            })
            .expect("Vm::spawn")
        };
        wait_until("B waits", || vm.process_info(b).is_some_and(|i| i.status == ProcessStatus::Waiting));
        let (tx, rx) = mpsc::channel();
        vm.spawn(async move {
            send(b, 1u8); // B's wake goes to this worker's LIFO slot
            while !got.load(SeqCst) {
                if gave_up(ep) {
                    return; // the watchdog fired: stop burning the core
                }
                std::hint::spin_loop();
            }
            tx.send(()).unwrap();
        })
        .expect("Vm::spawn");
        rx.recv().expect("A gave up");
        wait_until("every process reclaimed", || vm.process_count() == 0);
    });
}

// ---------------------------------------------------------------------------------------------
// Extra rules (may pass today; they assert real behaviour)
// ---------------------------------------------------------------------------------------------

/// Rule (exit.rs "Tell": each link told exactly once): 1,000 linked children killed at once, from
/// inside and outside the VM; the trapping parent gets exactly one `Exit` per child, with
/// `Killed`; the children are all reclaimed, then the parent.
#[test]
fn every_link_is_told_exactly_once_in_an_exit_storm() {
    within(LIMIT, "exit storm", || {
        const KIDS: usize = 1_000;
        let vm = new_vm();
        let (kids_tx, kids_rx) = mpsc::channel();
        let (report_tx, report_rx) = mpsc::channel();
        let parent = vm
            .spawn(async move {
                trap_exit(true);
                let kids: Vec<Pid> = (0..KIDS)
                    .map(|_| {
                        spawn_link(async {
                            let _: Never = recv().await;
                        })
                    })
                    .collect();
                kids_tx.send(kids.clone()).unwrap();
                for &k in kids.iter().step_by(2) {
                    spam::exit(k, Reason::Kill);
                }
                let kids: HashSet<Pid> = kids.into_iter().collect();
                let mut from = HashSet::new();
                let mut problems = Vec::new();
                while from.len() < KIDS {
                    let Some(m) = receive_match_timeout(|m: &Msg| m.is::<Exit>(), wait()).await else {
                        problems.push(format!("only {} of {KIDS} Exits arrived", from.len()));
                        break;
                    };
                    let e = m.downcast::<Exit>().ok().unwrap();
                    if !kids.contains(&e.from) || e.reason != Reason::Killed || !from.insert(e.from) {
                        problems.push(format!("unexpected or duplicate {e:?}"));
                    }
                }
                for m in round_trip(20).await {
                    if let Some(e) = m.downcast_ref::<Exit>() {
                        problems.push(format!("extra {e:?}"));
                    }
                }
                report_tx.send(problems).unwrap();
                let _: Stop = recv().await;
            })
            .expect("Vm::spawn");
        let kids: Vec<Pid> = kids_rx.recv().expect("the parent died");
        for &k in kids.iter().skip(1).step_by(2) {
            vm.exit(k, Reason::Kill);
        }
        let problems = report_rx.recv().expect("the parent died");
        assert!(problems.is_empty(), "{problems:?}");
        wait_until("the children reclaimed", || vm.process_count() == 1);
        vm.send(parent, Stop).ok().unwrap();
        wait_until("the parent reclaimed", || vm.process_count() == 0);
        vm.shutdown();
        assert_eq!(vm.process_count(), 0);
    });
}

/// Rule (process.rs: the future is dropped as the process, before the exit protocol): a process
/// whose future panics while being dropped (here: a value held across an await, the process
/// ended by an exit signal) still exits through the protocol: its monitor gets exactly one
/// `Down` with the signal's reason, its trapping link one `Exit`, and it is reclaimed.
#[test]
fn a_process_panicking_in_its_own_futures_drop_still_tells_its_monitors() {
    within(LIMIT, "panic in the drop of a process future", || {
        let vm = new_vm();
        let bombs = Arc::new(AtomicUsize::new(0));
        let b = bombs.clone();
        let reason = vm.run(async move {
            trap_exit(true);
            let mut victims = Vec::new();
            for reason in [Reason::Kill, Reason::other("bye")] {
                let b = b.clone();
                let (p, r) = spawn_opt(
                    async move {
                        let _held = Bomb(b);
                        let _: Never = recv().await;
                    },
                    SpawnOpts::new().link().monitor(),
                );
                victims.push((p, r.unwrap(), reason));
            }
            yield_until(|| {
                victims
                    .iter()
                    .all(|(p, _, _)| spam::process_info(*p).is_some_and(|i| i.status == ProcessStatus::Waiting))
            })
            .await;
            for (p, _, reason) in &victims {
                spam::exit(*p, reason.clone());
            }
            for (p, r, reason) in &victims {
                let want = if *reason == Reason::Kill { Reason::Killed } else { reason.clone() };
                let d = down_of(*r).await.expect("no Down for a process whose future panicked in drop");
                assert_eq!(d.reason, want);
                let e = receive_match_timeout(
                    move |m: &Msg| m.downcast_ref::<Exit>().is_some_and(|e| e.from == *p),
                    wait(),
                );
                let e = e.await.expect("no Exit for a process whose future panicked in drop");
                assert_eq!(e.downcast::<Exit>().ok().unwrap().reason, want);
            }
            for m in round_trip(30).await {
                assert!(!m.is::<Down>() && !m.is::<Exit>(), "told twice: {m:?}");
            }
        });
        assert_eq!(reason, Reason::Normal);
        assert_eq!(bombs.load(SeqCst), 2);
        wait_until("every process reclaimed", || vm.process_count() == 0);
        vm.shutdown();
        assert_eq!(vm.process_count(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// 5d. a user exit reason whose destructor panics, dropped by a receiver's drain
// ---------------------------------------------------------------------------------------------

/// A user exit reason whose destructor panics (`Reason::other` keeps it behind an `Arc`: the
/// process that drops the last clone runs it).
struct BombReason {
    _bomb: Bomb,
}

impl std::fmt::Debug for BombReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BombReason")
    }
}

struct Ready;
struct Ping(Pid);
struct Pong;

/// Rule (process.rs `handle_signal`, exit.rs; `spam_scheduler::contain`): a signal a receiver
/// ignores (a `Down` of a monitor it dropped) is a user value when its reason is
/// `Reason::other(..)`, and whoever drops the last clone runs its destructor: the receiver's
/// drain (outside the poll's `catch_unwind`) or the end of the exiting process's own exit. A
/// panicking destructor must be contained in both: the receiver goes on (it answers a ping) and is
/// told about normally when it ends. Which side drops last is a race, so the scenario repeats.
/// Order within one round: A monitors D and exits with the bomb reason; A pushes B's `Down` before
/// its `Demonitor` to D (exit step 5), so once D no longer lists A among its watchers, B's `Down`
/// is queued; B then drops its monitor without draining (`demonitor(r, false)`), and its next
/// receive meets the stale `Down`.
#[test]
fn a_panicking_user_reason_dropped_by_a_receivers_drain_is_contained() {
    within(LIMIT, "stale Down with a panicking user reason", || {
        const ROUNDS: usize = 30;
        let bombs = Arc::new(AtomicUsize::new(0));
        let vm = new_vm();
        let b2 = bombs.clone();
        let reason = vm.run(async move {
            let root = self_pid();
            // D: drains its mailbox every millisecond, so it handles A's Demonitor promptly.
            let d = spawn(async {
                loop {
                    let _ = receive_timeout(Duration::from_millis(1)).await;
                }
            });
            for round in 0..ROUNDS {
                let b3 = b2.clone();
                let a = spawn(async move {
                    monitor(d);
                    let _: Go = recv().await;
                    spam::exit_self(Reason::other(BombReason { _bomb: Bomb(b3) }));
                });
                let (b, bref) = spawn_monitor(async move {
                    let r = monitor(a);
                    send(a, Go);
                    // Spin without awaiting: an await would start a poll that drains our mailbox.
                    let e = epoch();
                    while spam::process_info(d).is_some_and(|i| i.monitored_by.contains(&a)) && !gave_up(e) {
                        std::hint::spin_loop();
                    }
                    // Drop the monitor without draining: the queued Down becomes stale.
                    assert!(demonitor(r, false), "the monitor was active (its Down not handled yet)");
                    send(root, Ready);
                    let Ping(from) = recv().await;
                    send(from, Pong);
                });
                receive_match_timeout(|m: &Msg| m.is::<Ready>(), wait())
                    .await
                    .unwrap_or_else(|| panic!("round {round}: B never got ready"));
                send(b, Ping(root));
                let pong = receive_match_timeout(|m: &Msg| m.is::<Pong>(), wait()).await;
                assert!(pong.is_some(), "round {round}: B did not survive a stale Down with a panicking reason");
                let down = down_of(bref).await.expect("B's Down");
                assert_eq!(down.reason, Reason::Normal, "round {round}: B must end normally, and be told about");
            }
            spam::exit(d, Reason::Kill);
        });
        assert_eq!(reason, Reason::Normal);
        wait_until("every reason's destructor ran", || bombs.load(SeqCst) == ROUNDS);
        wait_until("every process reclaimed", || vm.process_count() == 0);
        assert_eq!(bombs.load(SeqCst), ROUNDS, "each reason's destructor ran exactly once");
    });
}
