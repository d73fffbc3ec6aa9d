//! Timers: arm and cancel a `send_after` that never fires, and a zero-timeout receive poll.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};

struct Tick;

fn timer(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer");
    g.throughput(Throughput::Elements(1));
    // Insert one timer an hour out and cancel it again: the timer map's insert + remove.
    g.bench_function("send_after_then_cancel", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                let start = Instant::now();
                for _ in 0..iters {
                    let t = spam::send_after(Duration::from_secs(3600), me, Tick);
                    std::hint::black_box(spam::cancel_timer(t));
                }
                start.elapsed()
            })
        })
    });
    // 1k timers armed, then all cancelled: insert and remove with a populated timer map.
    g.bench_function("arm_1k_cancel_1k", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let batch = left.min(1000);
                    let timers: Vec<_> =
                        (0..batch).map(|i| spam::send_after(Duration::from_secs(3600 + i), me, Tick)).collect();
                    for t in timers {
                        std::hint::black_box(spam::cancel_timer(t));
                    }
                    left -= batch;
                }
                start.elapsed()
            })
        })
    });
    // `receive_timeout(ZERO)` on an empty mailbox: Erlang's `receive ... after 0`.
    g.bench_function("receive_timeout_zero_empty", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let got = spam::receive_timeout(Duration::ZERO).await;
                    assert!(got.is_none());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, timer);
criterion_main!(benches);
