//! N processes share a CPU-bound job (summing a function over a range); a collector adds up
//! their parts. Prints the time and speedup at 1 scheduler and at all of them.
//!
//! `cargo run --release --example parallel_sum -- [workers] [n]`

use spam::{recv, self_pid, send, spawn, Reason, Vm};
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
    let (tx, rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    let reason = vm.run(async move {
        let me = self_pid().unwrap();
        let chunk = n.div_ceil(workers);
        for w in 0..workers {
            spawn(async move {
                let (lo, hi) = (w * chunk, ((w + 1) * chunk).min(n));
                let mut sum = 0u64;
                for i in lo..hi {
                    sum += work(i);
                    if i % 4096 == 0 {
                        spam::yield_now().await; // be fair to other processes
                    }
                }
                send(me, sum).unwrap();
            })
            .unwrap();
        }
        let mut total = 0u64;
        for _ in 0..workers {
            total += recv::<u64>().await.unwrap();
        }
        tx.send(total).unwrap();
    });
    assert_eq!(reason, Reason::Normal);
    (rx.recv().unwrap(), start.elapsed())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workers: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000_000);
    let all = num_cpus::get();
    let (s1, t1) = run(1, workers, n);
    let (sn, tn) = run(all, workers, n);
    assert_eq!(s1, sn, "same sum at any scheduler count");
    println!("sum = {s1}");
    println!("1 scheduler:   {:.3} s", t1.as_secs_f64());
    println!("{all} schedulers: {:.3} s  (speedup {:.2}x)", tn.as_secs_f64(), t1.as_secs_f64() / tn.as_secs_f64());
}
