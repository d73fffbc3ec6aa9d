//! N processes share a CPU-bound job (summing a function over a range); a collector adds up
//! their parts. Prints the time and speedup at 1 scheduler and at all of them.
//!
//! `cargo run --release --example parallel_sum -- [workers] [n]`

use spam::Vm;
use std::time::{Duration, Instant};

/// Deliberately CPU-bound: a few hundred cycles per element.
fn work(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..64 {
        x ^= x >> 13;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    x & 0xFFFF
}

fn run(schedulers: usize, workers: u64, n: u64) -> (u64, Duration) {
    let vm = Vm::builder().schedulers(schedulers).build();
    let start = Instant::now();
    let total = vm.block_on(async move {
        let me = spam::self_addr::<u64>();
        let chunk = n.div_ceil(workers);
        for w in 0..workers {
            spam::spawn(async move {
                let mut sum = 0u64;
                for i in (w * chunk)..((w + 1) * chunk).min(n) {
                    sum += work(i);
                    spam::maybe_yield().await; // be fair to other processes
                }
                me.send(sum);
            });
        }
        let mut total = 0u64;
        for _ in 0..workers {
            total += spam::recv::<u64>().await;
        }
        total
    });
    (total, start.elapsed())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workers: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000_000);
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (s1, t1) = run(1, workers, n);
    let (sn, tn) = run(all, workers, n);
    assert_eq!(s1, sn, "same sum at any scheduler count");
    println!("sum = {s1}");
    println!("1 scheduler:   {:.3} s", t1.as_secs_f64());
    println!("{all} schedulers: {:.3} s  (speedup {:.2}x)", tn.as_secs_f64(), t1.as_secs_f64() / tn.as_secs_f64());
}
