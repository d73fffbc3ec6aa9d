//! Two processes bounce a counter back and forth; prints the round-trip time.
//!
//! `cargo run --release --example ping_pong -- [round_trips] [schedulers]`

use spam::{recv, self_pid, send, spawn, Pid, Reason, Vm};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let schedulers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or_else(num_cpus::get);
    let vm = Vm::builder().schedulers(schedulers).build();
    let reason = vm.run(async move {
        let me = self_pid().unwrap();
        let pong = spawn(async {
            while let Ok((from, n)) = recv::<(Pid, u64)>().await {
                send(from, n).unwrap();
            }
        })
        .unwrap();
        let start = Instant::now();
        for i in 0..rounds {
            send(pong, (me, i)).unwrap();
            let back: u64 = recv().await.unwrap();
            assert_eq!(back, i);
        }
        let el = start.elapsed();
        println!(
            "{rounds} round trips on {schedulers} scheduler(s): {:.1} ms, {:.0} ns per round trip",
            el.as_secs_f64() * 1e3,
            el.as_nanos() as f64 / rounds as f64
        );
        spam::exit(pong, Reason::Kill).unwrap();
    });
    assert_eq!(reason, Reason::Normal);
}
