//! Spawn: the cost of `spawn` alone, and of a whole process life (spawn, run, ack, exit).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Instant;

struct Ack;

fn spawn(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn");
    g.throughput(Throughput::Elements(1));
    for s in common::scheduler_counts() {
        // The spawn call only; the empty processes run and exit after the clock stops.
        g.bench_with_input(BenchmarkId::new("spawn_call", s), &s, |b, &s| {
            b.iter_custom(|iters| {
                common::in_vm(s, iters, |iters| async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        spam::spawn(async {});
                    }
                    start.elapsed()
                })
            })
        });
        // Spawn, first poll, one message back to the parent, exit.
        g.bench_with_input(BenchmarkId::new("spawn_ack_exit", s), &s, |b, &s| {
            b.iter_custom(|iters| {
                common::in_vm(s, iters, |iters| async move {
                    let me = spam::self_pid();
                    let start = Instant::now();
                    for _ in 0..iters {
                        spam::spawn(async move { spam::send(me, Ack) });
                    }
                    for _ in 0..iters {
                        spam::recv::<Ack>().await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, spawn);
criterion_main!(benches);
