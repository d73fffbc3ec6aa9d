//! Send + receive between two processes: a ping-pong round trip on one scheduler, and on all.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spam::Pid;
use std::time::Instant;

enum Echo {
    Ping(Pid, u64),
    Stop,
}
struct Pong(u64);

fn send_receive(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_receive");
    g.throughput(Throughput::Elements(1));
    for s in common::scheduler_counts() {
        g.bench_with_input(BenchmarkId::new("round_trip", s), &s, |b, &s| {
            b.iter_custom(|iters| {
                common::in_vm(s, iters, |iters| async move {
                    let me = spam::self_pid();
                    let echo = spam::spawn(async {
                        while let Echo::Ping(from, i) = spam::recv::<Echo>().await {
                            spam::send(from, Pong(i));
                        }
                    });
                    let start = Instant::now();
                    for i in 0..iters {
                        spam::send(echo, Echo::Ping(me, i));
                        let Pong(got) = spam::recv::<Pong>().await;
                        debug_assert_eq!(got, i);
                    }
                    let elapsed = start.elapsed();
                    spam::send(echo, Echo::Stop);
                    elapsed
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, send_receive);
criterion_main!(benches);
