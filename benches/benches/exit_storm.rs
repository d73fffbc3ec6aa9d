//! A supervisor's exit storm: a trapping parent linked to N children kills them all and takes
//! their N `Exit` messages. Each exit signal costs the parent one lookup in its link set, so the
//! whole storm must grow linearly with N (a linear scan per link made it quadratic: 80k children
//! took ~0.5 s, now ~60 ms on the 2-core machine).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Instant;

fn exit_storm(c: &mut Criterion) {
    let mut g = c.benchmark_group("exit_storm");
    g.sample_size(10);
    for n in [1_000u64, 10_000, 80_000] {
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::new("linked_children_killed", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                common::in_vm(2, iters, move |iters| async move {
                    spam::trap_exit(true);
                    let mut total = std::time::Duration::ZERO;
                    for _ in 0..iters {
                        let kids: Vec<_> = (0..n)
                            .map(|_| {
                                spam::spawn_link(async {
                                    let _: u8 = spam::recv().await;
                                })
                            })
                            .collect();
                        let start = Instant::now();
                        for &k in &kids {
                            spam::exit(k, spam::Reason::Kill);
                        }
                        for _ in 0..n {
                            let _: spam::Exit = spam::recv().await;
                        }
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, exit_storm);
criterion_main!(benches);
