//! Measuring: run plans, medians, peak RSS from /proc, and a live-heap counter for bytes per process.
//!
//! Every runtime times a run the same way: the clock starts inside the runtime (in the root
//! process or driver task, after the runtime is up) and stops when the checksum is in hand.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering::Relaxed};
use std::time::Duration;

/// How many times to run a case.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed runs first (their checksums are still verified).
    pub warmup: usize,
    /// Timed runs; the report shows their median.
    pub runs: usize,
}

impl Plan {
    pub fn total(&self) -> usize {
        self.warmup + self.runs
    }
}

/// What one runtime produced for one case at one scheduler count.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Wall time of each timed run, in nanoseconds.
    pub runs_ns: Vec<u64>,
    /// The checksum of every run, warm-up included.
    pub checksums: Vec<u64>,
    /// Peak resident set of the whole OS process during the case (VmHWM after a reset).
    pub peak_rss: Option<u64>,
    /// Heap bytes per live idle process (the `memory` case only): the largest over all runs,
    /// so one-time growth (process table pages, queue buffers) in the first run counts.
    pub bytes_per_proc: Option<f64>,
}

impl Sample {
    /// Records one run; the first `plan.warmup` are not timed.
    pub fn record(&mut self, plan: &Plan, elapsed: Duration, checksum: u64) {
        if self.checksums.len() >= plan.warmup {
            self.runs_ns.push(elapsed.as_nanos() as u64);
        }
        self.checksums.push(checksum);
    }

    /// Records the bytes per process one run measured (keeping the largest).
    pub fn record_bytes(&mut self, bytes_per_proc: Option<f64>) {
        if let Some(b) = bytes_per_proc {
            self.bytes_per_proc = Some(self.bytes_per_proc.map_or(b, |old| old.max(b)));
        }
    }

    pub fn median_ns(&self) -> u64 {
        median(&self.runs_ns)
    }

    /// `Err` with the first wrong checksum, if any run missed `expected`.
    pub fn verify(&self, expected: u64) -> Result<(), String> {
        match self.checksums.iter().find(|&&c| c != expected) {
            Some(c) => Err(format!("checksum {c}, expected {expected}")),
            None if self.checksums.is_empty() => Err("no run completed".into()),
            None => Ok(()),
        }
    }
}

/// The median (the lower middle of an even count). Zero for an empty slice.
pub fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// Peak resident set in bytes since start or the last [`reset_peak_rss`] (`VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Reads a `kB` line of `/proc/self/status`.
fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Returns freed heap to the OS and resets `VmHWM` to the current RSS (Linux ≥ 4.0:
/// `echo 5 > /proc/self/clear_refs`), so the next [`peak_rss_bytes`] is the peak of what follows.
/// Returns `false` where the reset is not available (then peaks are cumulative).
pub fn reset_peak_rss() -> bool {
    trim_heap();
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim takes no pointers and only releases free memory at the top of
    // the heaps; it is safe to call at any time from any thread.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// The allocator every Rust runtime of the suite runs on (SPAM and tokio alike): the system's
/// (glibc malloc, what users get by default) unless `--alloc mimalloc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alloc {
    System,
    Mimalloc,
}

impl Alloc {
    pub fn name(self) -> &'static str {
        match self {
            Alloc::System => "system",
            Alloc::Mimalloc => "mimalloc",
        }
    }
}

/// The environment variable that picks the allocator. It must be read before the first
/// allocation (a block must be freed by the allocator that made it), so `--alloc` re-runs the
/// suite with it set (`main.rs`) instead of switching in flight.
pub const ALLOC_ENV: &str = "SPAM_BENCH_ALLOC";

/// 0: not read yet; 1: system; 2: mimalloc.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// The allocator this process runs on (read once, on the first allocation).
pub fn current_alloc() -> Alloc {
    let c = match CHOICE.load(Relaxed) {
        0 => {
            let c = if env_says_mimalloc() { 2 } else { 1 };
            CHOICE.store(c, Relaxed); // racing first allocations compute the same value
            c
        }
        c => c,
    };
    if c == 2 {
        Alloc::Mimalloc
    } else {
        Alloc::System
    }
}

/// `SPAM_BENCH_ALLOC=mimalloc` in the environment, read without allocating.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn env_says_mimalloc() -> bool {
    extern "C" {
        static environ: *const *const std::ffi::c_char;
    }
    const WANT: &[u8] = b"SPAM_BENCH_ALLOC=mimalloc";
    // SAFETY: glibc's `environ` is a null-terminated array of NUL-terminated strings, valid
    // while nothing changes the environment; we read it before `main` can (first allocation).
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
            if entry == WANT {
                return true;
            }
            p = p.add(1);
        }
    }
    false
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn env_says_mimalloc() -> bool {
    false
}

/// The global allocator of the suite: the system's or mimalloc ([`current_alloc`]), plus a
/// live-byte counter that only counts while [`LiveHeap::start`] has switched it on, so timed
/// runs pay one relaxed load of a read-mostly flag per allocation and no shared writes.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

#[inline]
fn count(delta: i64) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_add(delta, Relaxed);
    }
}

/// Calls `$method` on the chosen allocator.
macro_rules! chosen {
    ($method:ident($($arg:expr),*)) => {
        match current_alloc() {
            Alloc::Mimalloc => MiMalloc.$method($($arg),*),
            Alloc::System => System.$method($($arg),*),
        }
    };
}

// SAFETY: every method forwards to the one allocator `current_alloc` picked for the whole run
// (fixed before the first allocation), with the caller's arguments unchanged, so its guarantees
// hold and every block is freed by the allocator that made it; the counting touches only
// atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from our caller, who upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { chosen!(alloc(layout)) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { chosen!(alloc_zeroed(layout)) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (hence from the chosen one) with this `layout`.
        unsafe { chosen!(dealloc(ptr, layout)) };
        count(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr`/`layout` came from the chosen allocator through us.
        let p = unsafe { chosen!(realloc(ptr, layout, new_size)) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// A window during which heap growth is counted: `start`, spawn the idle processes, `bytes`.
/// Frees of blocks allocated before the window count too (as noise of a few bytes per process
/// at most); only one window may be open at a time.
pub struct LiveHeap {
    base: i64,
}

/// Heap bytes now: the global allocator's live bytes (counted while `COUNTING`) plus the pages
/// SPAM's own allocator holds from the system (process cells and message nodes come from
/// there, not from the global allocator; zero growth on the tokio side).
fn live_now() -> i64 {
    LIVE.load(Relaxed) + spam::Vm::allocator_bytes() as i64
}

impl LiveHeap {
    pub fn start() -> LiveHeap {
        COUNTING.store(true, Relaxed);
        LiveHeap { base: live_now() }
    }

    /// Net heap bytes allocated since `start`.
    pub fn bytes(&self) -> i64 {
        live_now() - self.base
    }
}

impl Drop for LiveHeap {
    fn drop(&mut self) {
        COUNTING.store(false, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[5, 1, 3]), 3);
        assert_eq!(median(&[4, 1, 3, 2]), 2);
        assert_eq!(median(&[]), 0);
    }

    #[test]
    fn warmup_runs_are_checked_not_timed() {
        let plan = Plan { warmup: 1, runs: 2 };
        let mut s = Sample::default();
        for c in [7, 7, 8] {
            s.record(&plan, Duration::from_nanos(c), c);
        }
        assert_eq!(s.runs_ns, vec![7, 8]);
        assert!(s.verify(7).is_err());
    }
}
