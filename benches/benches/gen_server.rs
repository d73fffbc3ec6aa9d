//! `gen_server::call` round trip against the raw send/recv round trip it is built on, at 1
//! scheduler: the same work (the server replies with the request + 1), so the difference is what
//! a call adds (monitor, alias, selective receive on the tag, timer for the timeout, demonitor).

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spam::gen_server::{self, CallResult, GenServer, Init};
use spam::Pid;
use std::time::{Duration, Instant};

/// Replies to each call with the request + 1.
struct Incr;

impl GenServer for Incr {
    type Args = ();
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn init(_: ()) -> Init<Self> {
        Init::ok(Incr)
    }
    async fn handle_call(&mut self, i: u64, _from: gen_server::ReplyTo<u64>) -> CallResult<u64> {
        CallResult::reply(i + 1)
    }
}

enum Request {
    Call(Pid, u64),
    Stop,
}
struct Reply(u64);

/// `iters` calls to a fresh `Incr` server: `gen_server::call` (the default 5 s timeout), or
/// with `infinity` `call_timeout(.., INFINITY)`; the time of the calls alone.
async fn calls(iters: u64, infinity: bool) -> Duration {
    let server = gen_server::start::<Incr>(()).await.expect("start");
    let start = Instant::now();
    for i in 0..iters {
        let got = if infinity {
            gen_server::call_timeout(server, i, gen_server::INFINITY).await
        } else {
            gen_server::call(server, i).await
        };
        debug_assert_eq!(got, Ok(i + 1));
        std::hint::black_box(got.ok());
    }
    let elapsed = start.elapsed();
    gen_server::stop(server, spam::Reason::Normal, gen_server::DEFAULT_TIMEOUT).await.expect("stop");
    elapsed
}

fn gen_server_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("gen_server");
    g.throughput(Throughput::Elements(1));
    // The baseline: a process that answers `Call(from, i)` with `Reply(i + 1)`, by plain
    // send and typed receive.
    g.bench_function("raw_round_trip/1", |b| {
        b.iter_custom(|iters| {
            common::in_vm(1, iters, |iters| async move {
                let me = spam::self_pid();
                let server = spam::spawn(async {
                    while let Request::Call(from, i) = spam::recv::<Request>().await {
                        spam::send(from, Reply(i + 1));
                    }
                });
                let start = Instant::now();
                for i in 0..iters {
                    spam::send(server, Request::Call(me, i));
                    let Reply(got) = spam::recv::<Reply>().await;
                    debug_assert_eq!(got, i + 1);
                    std::hint::black_box(got);
                }
                let elapsed = start.elapsed();
                spam::send(server, Request::Stop);
                elapsed
            })
        })
    });
    // `gen_server::call`: the default 5 s timeout, as OTP's `gen_server:call/2`.
    g.bench_function("call/1", |b| b.iter_custom(|iters| common::in_vm(1, iters, |n| calls(n, false))));
    // The same without a timeout (OTP's `infinity`): no timer armed and cancelled per call.
    g.bench_function("call_infinity/1", |b| b.iter_custom(|iters| common::in_vm(1, iters, |n| calls(n, true))));
    g.finish();
}

criterion_group!(benches, gen_server_call);
criterion_main!(benches);
