//! Work stealing in `spam-scheduler`: one task spawns a burst of small tasks onto its own
//! worker's queue; with more workers the others must steal them.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spam_scheduler::Scheduler;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks per burst.
const BURST: usize = 1024;
/// Spin iterations per task, so a task is worth stealing (about a microsecond).
const WORK: u64 = 500;

/// Runs one burst on `sched` and returns its wall time.
fn burst(sched: &Scheduler) -> Duration {
    let (done, finished) = std::sync::mpsc::sync_channel(1);
    let left = Arc::new(AtomicUsize::new(BURST));
    let handle = sched.handle().clone();
    let start = Instant::now();
    sched.spawn(async move {
        for _ in 0..BURST {
            let (left, done) = (left.clone(), done.clone());
            handle.spawn(async move {
                let mut x = 0u64;
                for i in 0..WORK {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                std::hint::black_box(x);
                if left.fetch_sub(1, AcqRel) == 1 {
                    let _ = done.send(());
                }
            });
        }
    });
    finished.recv().expect("the burst finished");
    start.elapsed()
}

fn steal(c: &mut Criterion) {
    let mut g = c.benchmark_group("steal");
    g.throughput(Throughput::Elements(BURST as u64));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut workers = vec![1];
    if cores > 1 {
        workers.push(cores);
    }
    for w in workers {
        let sched = Scheduler::new(w);
        g.bench_with_input(BenchmarkId::new("burst_1k", w), &w, |b, _| {
            b.iter_custom(|iters| (0..iters).map(|_| burst(&sched)).sum())
        });
        let steals: u64 = sched.stats().iter().map(|s| s.steals).sum();
        eprintln!("steal/burst_1k/{w}: {steals} successful steals over the whole bench");
        sched.shutdown();
    }
    g.finish();
}

criterion_group!(benches, steal);
criterion_main!(benches);
