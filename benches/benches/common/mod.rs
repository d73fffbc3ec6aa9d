//! Shared by the criterion benches: run one timed body as the root process of a fresh SPAM VM.

use std::future::Future;
use std::time::Duration;

/// Builds a VM with `schedulers` schedulers, runs `body(iters)` as its root process and returns
/// the duration the body measured itself (VM start and shutdown are not timed). Panics, with the
/// root's exit reason, if the root exits before returning it.
pub fn in_vm<F, Fut>(schedulers: usize, iters: u64, body: F) -> Duration
where
    F: FnOnce(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Duration> + Send + 'static,
{
    let vm = spam::Vm::builder().schedulers(schedulers).build();
    let elapsed = vm.block_on(async move { body(iters).await });
    vm.shutdown();
    elapsed
}

/// Scheduler counts worth benching on this machine: 1 and all cores (once if they are equal).
#[allow(dead_code)]
pub fn scheduler_counts() -> Vec<usize> {
    let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if n > 1 {
        vec![1, n]
    } else {
        vec![1]
    }
}
