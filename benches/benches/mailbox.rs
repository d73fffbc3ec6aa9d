//! Mailbox push/pop through the public API: one process sending to itself, and N producer
//! processes filling one consumer.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Instant;

fn mailbox(c: &mut Criterion) {
    let mut g = c.benchmark_group("mailbox");
    g.throughput(Throughput::Elements(1));
    // Push and pop alternately on a never-empty-for-long queue (no wake-up involved).
    g.bench_function("self_send_receive", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                let start = Instant::now();
                for i in 0..iters {
                    spam::send(me, i);
                    spam::receive().await;
                }
                start.elapsed()
            })
        })
    });
    // 1k pushes, then 1k pops: the queue grows and drains in batches.
    g.bench_function("push_1k_then_pop_1k", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let batch = left.min(1000);
                    for i in 0..batch {
                        spam::send(me, i);
                    }
                    for _ in 0..batch {
                        spam::receive().await;
                    }
                    left -= batch;
                }
                start.elapsed()
            })
        })
    });
    // N producers on all schedulers push into one consumer (the root), which pops everything.
    let s = *common::scheduler_counts().last().unwrap();
    for producers in [1u64, 2, 4] {
        g.bench_with_input(BenchmarkId::new("producers", producers), &producers, |b, &p| {
            b.iter_custom(|iters| {
                common::in_vm(s, iters, move |iters| async move {
                    let me = spam::self_pid();
                    let each = iters.div_ceil(p);
                    let start = Instant::now();
                    for _ in 0..p {
                        spam::spawn(async move {
                            for i in 0..each {
                                spam::send(me, i);
                            }
                        });
                    }
                    for _ in 0..each * p {
                        spam::receive().await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, mailbox);
criterion_main!(benches);
