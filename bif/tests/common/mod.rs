//! Shared by the integration tests: the watchdog (a scenario runs on its own thread and fails
//! with a message, instead of hanging CI, if it does not finish in time: a liveness bound, never
//! a timing assertion) and OTP's `supervisor_1` test server. (Each test binary compiles this
//! module; not every one uses every item.)
#![allow(dead_code)]

use spam::gen_server::{self, CallResult, GenServer, Init, Next};
use spam::Reason;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

/// Bumped each time a watchdog fires: spin loops in processes watch it (`gave_up`) and give up,
/// so a hung scenario does not keep burning a core for the tests after it.
static GAVE_UP: AtomicU64 = AtomicU64::new(0);

/// The watchdog count now, for [`gave_up`].
pub fn epoch() -> u64 {
    GAVE_UP.load(SeqCst)
}

/// `true` once a watchdog has fired since `epoch()` returned `since`.
pub fn gave_up(since: u64) -> bool {
    GAVE_UP.load(SeqCst) != since
}

/// Watchdogs and waits are multiplied by `SPAM_TEST_SLOWDOWN` (default 1): under valgrind, which
/// runs the code some 50 times slower and one thread at a time, set it to 20 or so.
pub fn slowdown() -> u32 {
    std::env::var("SPAM_TEST_SLOWDOWN").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// Runs `f` on its own thread; fails with "lost wake-up / hang" if it does not finish in `secs`
/// (times [`slowdown`]). A panic in `f` is re-raised here.
pub fn within<T: Send + 'static>(secs: u64, what: &'static str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel::<()>();
    let h = std::thread::Builder::new()
        .name(format!("scenario: {what}"))
        .spawn(move || {
            let r = f();
            let _ = tx.send(());
            r
        })
        .expect("spawn the scenario thread");
    match rx.recv_timeout(Duration::from_secs(secs * u64::from(slowdown()))) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let n = GAVE_UP.fetch_add(1, SeqCst) + 1;
            panic!("lost wake-up / hang: `{what}` did not finish within {secs} s (watchdog #{n})");
        }
    }
}

/// OTP's `supervisor_1`: a gen_server child that stops with the reason cast to it.
pub struct Worker;

impl GenServer for Worker {
    type Args = ();
    type Call = ();
    type Reply = ();
    type Cast = Reason;
    async fn init(_: ()) -> Init<Self> {
        Init::ok(Worker)
    }
    async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> {
        CallResult::reply(())
    }
    async fn handle_cast(&mut self, reason: Reason) -> Next {
        Next::Stop(reason)
    }
}
