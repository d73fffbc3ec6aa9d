//! Two processes bounce a counter back and forth; prints the round-trip time.
//!
//! `cargo run --release --example ping_pong -- [round_trips] [schedulers]`
use spam::{Addr, Reason, Vm};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let vm = match args.next().and_then(|a| a.parse().ok()) {
        Some(n) => Vm::builder().schedulers(n).build(),
        None => Vm::new(), // one scheduler per CPU
    };
    let schedulers = vm.schedulers();
    vm.block_on(async move {
        let pong: Addr<(Addr<u64>, u64)> = Addr::new(spam::spawn(async {
            loop {
                let (from, n): (Addr<u64>, u64) = spam::recv().await;
                from.send(n);
            }
        }));
        let me = spam::self_addr();
        let start = Instant::now();
        for i in 0..rounds {
            pong.send((me, i));
            assert_eq!(spam::recv::<u64>().await, i);
        }
        let el = start.elapsed();
        println!(
            "{rounds} round trips on {schedulers} scheduler(s): {:.1} ms, {:.0} ns per round trip",
            el.as_secs_f64() * 1e3,
            el.as_nanos() as f64 / rounds as f64
        );
        spam::exit(pong.pid(), Reason::Kill);
    });
}
