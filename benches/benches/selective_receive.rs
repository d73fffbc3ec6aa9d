//! Selective receive: find the one matching message behind 1,000 that do not match.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Instant;

struct Noise(#[allow(dead_code)] u64);
struct Needle(u64);

const QUEUE: u64 = 1_000;

fn selective_receive(c: &mut Criterion) {
    let mut g = c.benchmark_group("selective_receive");
    g.throughput(Throughput::Elements(1));
    // By type: `recv::<Needle>()` skips the 1k `Noise` messages, which keep their place.
    g.bench_function("recv_type_behind_1k", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                for i in 0..QUEUE {
                    spam::send(me, Noise(i));
                }
                let start = Instant::now();
                for i in 0..iters {
                    spam::send(me, Needle(i));
                    let Needle(got) = spam::recv::<Needle>().await;
                    assert_eq!(got, i);
                }
                start.elapsed()
            })
        })
    });
    // By predicate: `receive_match` looking at the payload.
    g.bench_function("receive_match_behind_1k", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                for i in 0..QUEUE {
                    spam::send(me, Noise(i));
                }
                let start = Instant::now();
                for i in 0..iters {
                    spam::send(me, Needle(i));
                    spam::receive_match(move |m: &spam::Msg| m.downcast_ref::<Needle>().is_some_and(|n| n.0 == i))
                        .await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, selective_receive);
criterion_main!(benches);
