//! Receive deadlines without a precise clock read where a long timeout allows it.
//!
//! A receive that has to wait reads the clock once, to fix its deadline. `Instant::now()` is a
//! `clock_gettime(CLOCK_MONOTONIC)`: about 25 ns here (2 vCPUs under KVM, TSC clock source),
//! 15% of a whole `gen_server::call`. Linux also keeps `CLOCK_MONOTONIC_COARSE`, the same clock
//! as of the last timer tick: about 5 ns to read, and never ahead of the precise clock.
//!
//! # The rule
//! A wait of `t` at least [`COARSE_MIN_SLACKS`] slacks long (`t >= 100 × slack`: about
//! 0.9 s with Linux's usual 4 ms tick, so `gen_server::call`'s default 5 s qualifies) takes
//! its deadline from the coarse clock:
//!
//! `deadline = coarse_now + slack + t`, where `slack` is 2 ticks + 1 ms, or 1% of `t` if
//! that is more (50 ms for a call's 5 s).
//!
//! 1. **Never early.** The coarse clock trails the precise one by less than a tick while the
//!    kernel's timekeeping runs, so `coarse_now + slack` is later than the true start: the
//!    deadline is later than `start + t`, which is all Erlang promises (`receive .. after T`
//!    waits *at least* T). The rest of the slack covers ticks the kernel handles late (under
//!    a hypervisor the vCPU that keeps time can be descheduled for milliseconds), and the few
//!    nanoseconds between the two reads that map the coarse clock onto `Instant`
//!    (`Clock::base` is read after `Clock::raw0`, so the map errs late).
//! 2. **Late by at most `slack`** (the coarse reading is never ahead of the true start): 1% of
//!    `t`, or a little more for a wait near the minimum.
//! 3. Shorter waits read the precise clock (`CLOCK_MONOTONIC` directly on 64-bit Linux,
//!    `Instant::now()` elsewhere and in loom models).
//!
//! Whether a deadline has passed is decided by the timer service, not by reading the clock
//! again (`Timers::passed`): see `receive.rs`, "Timeouts".

use std::time::{Duration, Instant};

/// A wait this many coarse slacks long, or longer, takes a coarse deadline (rule 2: late by
/// about 1% of the wait at most).
pub(crate) const COARSE_MIN_SLACKS: u32 = 100;

/// Time as nanoseconds since `base`, read from the kernel's clocks where it can (no `Instant`
/// arithmetic on the receive path).
pub(crate) struct Clock {
    base: Instant,
    /// `CLOCK_MONOTONIC` (the clock behind `Instant`) in nanoseconds, read just before `base`:
    /// a raw reading minus `raw0` is never less than the same moment's `Instant` minus `base`
    /// (so deadlines built on it err late). `None` where the clocks are not read directly.
    raw0: Option<u64>,
    coarse: Option<Coarse>,
}

struct Coarse {
    /// Added to the coarse reading (rule 1), in nanoseconds.
    slack: u64,
    /// The shortest wait that takes a coarse deadline, in nanoseconds.
    min: u64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let raw0 = sys::now(sys::MONOTONIC);
        let base = Instant::now();
        let coarse = raw0.and(sys::res(sys::MONOTONIC_COARSE)).and_then(|tick| {
            sys::now(sys::MONOTONIC_COARSE)?; // served, not just declared
            let slack = tick.checked_mul(2)?.checked_add(1_000_000)?;
            Some(Coarse { slack, min: slack.checked_mul(COARSE_MIN_SLACKS.into())? })
        });
        Clock { base, raw0, coarse }
    }

    /// Nanoseconds since `base`, now (never less than `Instant::now()` minus `base`).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self.raw0.and_then(|r0| Some(sys::now(sys::MONOTONIC)?.saturating_sub(r0))) {
            Some(n) => n,
            None => self.since_base(Instant::now()),
        }
    }

    /// The deadline of a wait of `t` starting now, in nanoseconds since `base`: never before
    /// `Instant::now() + t` (module doc). `None` if too far to represent (584 years).
    #[inline]
    pub(crate) fn deadline_after(&self, t: Duration) -> Option<u64> {
        let t = u64::try_from(t.as_nanos()).ok()?;
        let start = match (&self.coarse, self.raw0) {
            (Some(c), Some(r0)) if t >= c.min => {
                let slack = c.slack.max(t / u64::from(COARSE_MIN_SLACKS)); // rule 2
                sys::now(sys::MONOTONIC_COARSE)?.checked_add(slack)?.saturating_sub(r0)
            }
            _ => self.now(),
        };
        start.checked_add(t)
    }

    /// `at` as nanoseconds since `base` (0 before it).
    pub(crate) fn since_base(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `n` nanoseconds after `base` (a century on at most: no timer outlives it).
    pub(crate) fn instant(&self, n: u64) -> Instant {
        self.base + Duration::from_nanos(n).min(crate::timer::CENTURY)
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64", not(spam_loom)))]
mod sys {
    pub(super) const MONOTONIC: i32 = 1;
    pub(super) const MONOTONIC_COARSE: i32 = 6;

    /// `struct timespec` on 64-bit Linux.
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }

    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        fn clock_getres(clock: i32, ts: *mut Timespec) -> i32;
    }

    /// Nanoseconds, from one of the two calls.
    #[inline(always)]
    fn call(f: unsafe extern "C" fn(i32, *mut Timespec) -> i32, clock: i32) -> Option<u64> {
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `ts` is a valid, writable `struct timespec` (64-bit Linux layout: two 64-bit
        // fields), and both functions only write it.
        let rc = unsafe { f(clock, &mut ts) };
        let (sec, nsec) = (u64::try_from(ts.sec).ok()?, u64::try_from(ts.nsec).ok()?);
        (rc == 0).then_some(())?;
        sec.checked_mul(1_000_000_000)?.checked_add(nsec)
    }

    /// The clock's reading, in nanoseconds since its epoch.
    #[inline]
    pub(super) fn now(clock: i32) -> Option<u64> {
        call(clock_gettime, clock)
    }

    /// The clock's resolution in nanoseconds (for the coarse clock: its tick).
    pub(super) fn res(clock: i32) -> Option<u64> {
        call(clock_getres, clock)
    }
}

/// Elsewhere (and in loom models) the clocks are not read directly: `Instant` serves.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64", not(spam_loom))))]
mod sys {
    pub(super) const MONOTONIC: i32 = 1;
    pub(super) const MONOTONIC_COARSE: i32 = 6;

    pub(super) fn now(_: i32) -> Option<u64> {
        None
    }

    pub(super) fn res(_: i32) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule 1: a coarse deadline is never before the precise one (a call's 5 s: 50 ms of
    /// slack); rule 2: it is late by the slack at most.
    #[test]
    fn a_coarse_deadline_is_never_early_and_late_by_the_slack_at_most() {
        let clock = Clock::new();
        let Some(c) = &clock.coarse else {
            return; // no coarse clock on this platform: every deadline is precise
        };
        let t = Duration::from_secs(5).max(Duration::from_nanos(c.min));
        let slack = c.slack.max(t.as_nanos() as u64 / u64::from(COARSE_MIN_SLACKS));
        for _ in 0..10_000 {
            let before = clock.since_base(Instant::now());
            let d = clock.deadline_after(t).expect("representable");
            let after = clock.since_base(Instant::now());
            let t = t.as_nanos() as u64;
            assert!(d >= before + t, "early by {} ns", before + t - d);
            // (50 ms more for a preemption between the two reads that map the clocks)
            assert!(d <= after + t + slack + 50_000_000, "late by {} ns", d - (after + t));
        }
    }

    /// A short wait's deadline is never early either.
    #[test]
    fn a_short_wait_is_never_early() {
        let clock = Clock::new();
        for t in [1, 1_000, 5_000_000].map(Duration::from_nanos) {
            let before = Instant::now();
            let d = clock.deadline_after(t).expect("representable");
            assert!(clock.instant(d) >= before + t);
        }
    }

    /// `now` never runs behind `Instant` (deadlines built on it err late).
    #[test]
    fn now_is_never_behind_instant() {
        let clock = Clock::new();
        for _ in 0..10_000 {
            let i = clock.since_base(Instant::now());
            assert!(clock.now() >= i);
        }
    }
}
