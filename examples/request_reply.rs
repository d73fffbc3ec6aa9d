//! A registered worker answering requests, and a client that waits for each reply with a
//! timeout. `cargo run --release --example request_reply`
use spam::{Addr, Ref, SpawnOpts, Vm};
use std::time::Duration;

/// Asks for the square of `n`; the answer goes to `reply_to`, tagged with `tag`.
struct Square {
    n: u64,
    tag: Ref,
    reply_to: Addr<(Ref, u64)>,
}

async fn squarer() {
    loop {
        let Square { n, tag, reply_to } = spam::recv().await;
        if n == 13 {
            spam::sleep(Duration::from_millis(200)).await; // unlucky number: too slow
        }
        reply_to.send((tag, n * n));
    }
}

/// Asks the process registered as "squarer"; `None` if no reply comes within `timeout`.
async fn square(n: u64, timeout: Duration) -> Option<u64> {
    let tag = spam::make_ref();
    spam::send("squarer", Square { n, tag, reply_to: spam::self_addr() });
    let reply = spam::recv_match_timeout(|(t, _): &(Ref, u64)| *t == tag, timeout).await;
    reply.map(|(_, square)| square)
}

fn main() {
    Vm::new().block_on(async {
        spam::spawn_opt(squarer(), SpawnOpts::new().name("squarer"));
        for n in [3, 12, 13, 4] {
            match square(n, Duration::from_millis(50)).await {
                Some(sq) => println!("{n}² = {sq}"),
                None => println!("{n}²: no reply within 50 ms"),
            }
        }
    });
}
