//! The suite on raw tokio: tasks and channels, what a Rust user would pick instead of SPAM.
//!
//! A process becomes a task, its mailbox an unbounded `mpsc` channel (Erlang mailboxes are
//! unbounded too), a one-message mailbox a `oneshot`, a pid the index of a sender in a shared
//! `Vec`. Each run's driver is itself a spawned task, so it runs on a worker like SPAM's root.

use crate::harness::{LiveHeap, Plan, Sample};
use crate::suite::{self, Kind};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel as channel, UnboundedReceiver as Rx, UnboundedSender as Tx};
use tokio::sync::oneshot;

/// Runs `kind` `plan.total()` times on a multi-thread runtime with `threads` workers.
pub fn run(kind: &Kind, threads: usize, plan: Plan) -> Result<Sample, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let kind = kind.clone();
    let driver = rt.spawn(async move {
        let mut sample = Sample::default();
        for _ in 0..plan.total() {
            let start = Instant::now();
            let (checksum, bytes_per_proc) = one(&kind).await;
            sample.record(&plan, start.elapsed(), checksum);
            sample.record_bytes(bytes_per_proc);
        }
        sample
    });
    let result = rt.block_on(driver).map_err(|e| format!("tokio driver task failed: {e}"));
    rt.shutdown_timeout(Duration::from_secs(5));
    result
}

/// One run: the checksum, and bytes per task for the memory case.
async fn one(kind: &Kind) -> (u64, Option<f64>) {
    let checksum = match *kind {
        Kind::Idle { n } => return idle(n).await,
        Kind::Skynet { n } => {
            let (tx, mut rx) = channel();
            tokio::spawn(skynet(tx, 0, n));
            rx.recv().await.expect("skynet root")
        }
        Kind::FjCreate { n } => fjcreate(n).await,
        Kind::PingPong { n, .. } => pingpong(1, n).await,
        Kind::PingPongPairs { pairs, n } => ping_pairs(pairs, n / pairs).await,
        Kind::GenCall { n } => gencall(n).await,
        Kind::ThreadRing { actors, hops } => threadring(actors, hops).await,
        Kind::Ring { n } => ring(n).await,
        Kind::FanIn { producers, n } => fanin(producers, n).await,
        Kind::FjThrput { actors, n } => fjthrput(actors, n).await,
        Kind::Fib { n } => {
            let (tx, mut rx) = channel();
            tokio::spawn(fib(tx, n));
            rx.recv().await.expect("fib root")
        }
        Kind::Big { actors, pings } => big(actors, pings).await,
        Kind::Chameneos { creatures, meetings } => chameneos(creatures, meetings).await,
        Kind::Mandelbrot { size, max_iter, chunks } => mandelbrot(size, max_iter, chunks).await,
    };
    (checksum, None)
}

/// `n` tasks parked on a oneshot; heap bytes per task (task + channel) while they wait.
/// Returns once every task has finished, so its memory is not freed during the next run.
async fn idle(n: u64) -> (u64, Option<f64>) {
    let mut stops = Vec::with_capacity(n as usize);
    let (started, finished) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let heap = LiveHeap::start();
    for _ in 0..n {
        let (stop, wait) = oneshot::channel::<()>();
        let (started, finished) = (started.clone(), finished.clone());
        tokio::spawn(async move {
            started.fetch_add(1, Relaxed);
            let _ = wait.await;
            finished.fetch_add(1, Relaxed);
        });
        stops.push(stop);
    }
    while started.load(Relaxed) < n {
        tokio::task::yield_now().await;
    }
    let bytes = heap.bytes();
    drop(heap);
    drop(stops);
    while finished.load(Relaxed) < n {
        tokio::task::yield_now().await;
    }
    (started.load(Relaxed), Some(bytes as f64 / n as f64))
}

/// A Skynet node: a leaf sends its number, an inner node spawns 10 children and sums.
// Not an `async fn`: the declared `Send` lets the body spawn itself (no auto-trait cycle).
#[allow(clippy::manual_async_fn)]
fn skynet(parent: Tx<u64>, num: u64, size: u64) -> impl Future<Output = ()> + Send + 'static {
    async move {
        if size == 1 {
            let _ = parent.send(num);
            return;
        }
        let (tx, mut rx) = channel();
        let sz = size / 10;
        for i in 0..10 {
            tokio::spawn(skynet(tx.clone(), num + i * sz, sz));
        }
        let mut sum = 0;
        for _ in 0..10 {
            sum += rx.recv().await.expect("skynet child");
        }
        let _ = parent.send(sum);
    }
}

async fn fjcreate(n: u64) -> u64 {
    let (done, mut acks) = channel::<()>();
    for _ in 0..n {
        let (go, mailbox) = oneshot::channel::<Tx<()>>();
        tokio::spawn(async move {
            if let Ok(reply) = mailbox.await {
                let _ = reply.send(());
            }
        });
        let _ = go.send(done.clone());
    }
    let mut count = 0;
    while count < n {
        acks.recv().await.expect("fjcreate ack");
        count += 1;
    }
    count
}

/// `n` round trips with a fresh echo task; the sum of the echoed `1..=n`.
async fn pingpong(first: u64, n: u64) -> u64 {
    let (ping, mut pings) = channel::<u64>();
    let (pong, mut pongs) = channel::<u64>();
    tokio::spawn(async move {
        while let Some(i) = pings.recv().await {
            if pong.send(i).is_err() {
                break;
            }
        }
    });
    let mut sum = 0;
    for i in first..first + n {
        ping.send(i).expect("pong alive");
        sum += pongs.recv().await.expect("pong reply");
    }
    sum
}

async fn ping_pairs(pairs: u64, each: u64) -> u64 {
    let (tx, mut rx) = channel();
    for _ in 0..pairs {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(pingpong(1, each).await);
        });
    }
    let mut sum = 0;
    for _ in 0..pairs {
        sum += rx.recv().await.expect("pair result");
    }
    sum
}

/// `n` requests `1..=n` to a fresh server task, the idiomatic tokio request/reply: each request
/// carries a oneshot for its reply (the request + 1); the sum of the replies. The server ends
/// when the driver drops its sender.
async fn gencall(n: u64) -> u64 {
    let (server, mut requests) = channel::<(u64, oneshot::Sender<u64>)>();
    tokio::spawn(async move {
        while let Some((i, reply)) = requests.recv().await {
            let _ = reply.send(i + 1);
        }
    });
    let mut sum = 0;
    for i in 1..=n {
        let (reply, answer) = oneshot::channel();
        server.send((i, reply)).expect("gencall server alive");
        sum += answer.await.expect("gencall reply");
    }
    sum
}

enum Ring {
    Token { left: u64, hops: u64 },
    Stop,
}

async fn threadring(actors: u64, hops: u64) -> u64 {
    let (done, mut result) = channel::<u64>();
    let (txs, rxs): (Vec<Tx<Ring>>, Vec<Rx<Ring>>) = (0..actors).map(|_| channel()).unzip();
    for (i, mut mailbox) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % txs.len()].clone();
        let done = done.clone();
        tokio::spawn(async move {
            while let Some(Ring::Token { left, hops }) = mailbox.recv().await {
                if left == 0 {
                    let _ = done.send(hops);
                } else {
                    let _ = next.send(Ring::Token { left: left - 1, hops: hops + 1 });
                }
            }
        });
    }
    let _ = txs[0].send(Ring::Token { left: hops, hops: 0 });
    let total = result.recv().await.expect("threadring result");
    for tx in &txs {
        let _ = tx.send(Ring::Stop);
    }
    total
}

/// A chain of `n` one-shot tasks, each adds one and forwards; the last one tells the driver.
async fn ring(n: u64) -> u64 {
    let (last, result) = oneshot::channel::<u64>();
    let mut next = last;
    for _ in 0..n {
        let (tx, mailbox) = oneshot::channel::<u64>();
        let forward = next;
        tokio::spawn(async move {
            if let Ok(t) = mailbox.await {
                let _ = forward.send(t + 1);
            }
        });
        next = tx;
    }
    let _ = next.send(0);
    result.await.expect("ring result")
}

enum Count {
    Inc,
    Done,
}

async fn fanin(producers: u64, n: u64) -> u64 {
    let (tx, mut mailbox) = channel::<Count>();
    let (result_tx, result) = oneshot::channel();
    tokio::spawn(async move {
        let (mut count, mut done) = (0u64, 0u64);
        while done < producers {
            match mailbox.recv().await {
                Some(Count::Inc) => count += 1,
                Some(Count::Done) => done += 1,
                None => break,
            }
        }
        let _ = result_tx.send(count);
    });
    for _ in 0..producers {
        let tx = tx.clone();
        tokio::spawn(async move {
            for _ in 0..n {
                let _ = tx.send(Count::Inc);
            }
            let _ = tx.send(Count::Done);
        });
    }
    result.await.expect("fanin counter")
}

async fn fjthrput(actors: u64, n: u64) -> u64 {
    let (done, mut results) = channel::<u64>();
    let txs: Vec<Tx<()>> = (0..actors)
        .map(|_| {
            let (tx, mut mailbox) = channel::<()>();
            let done = done.clone();
            tokio::spawn(async move {
                let mut count = 0;
                while count < n && mailbox.recv().await.is_some() {
                    count += 1;
                }
                let _ = done.send(count);
            });
            tx
        })
        .collect();
    for _ in 0..n {
        for tx in &txs {
            let _ = tx.send(());
        }
    }
    let mut sum = 0;
    for _ in 0..actors {
        sum += results.recv().await.expect("fjthrput result");
    }
    sum
}

/// A Fib node: below 2 it answers `n`, else it spawns the two sub-calls and adds their answers.
// Not an `async fn`: the declared `Send` lets the body spawn itself (no auto-trait cycle).
#[allow(clippy::manual_async_fn)]
fn fib(parent: Tx<u64>, n: u64) -> impl Future<Output = ()> + Send + 'static {
    async move {
        if n < 2 {
            let _ = parent.send(n);
            return;
        }
        let (tx, mut rx) = channel();
        tokio::spawn(fib(tx.clone(), n - 1));
        tokio::spawn(fib(tx, n - 2));
        let a = rx.recv().await.expect("fib child");
        let b = rx.recv().await.expect("fib child");
        let _ = parent.send(a + b);
    }
}

enum Big {
    Ping(usize),
    Pong,
    Stop,
}

async fn big(actors: u64, pings: u64) -> u64 {
    let (done, mut results) = channel::<u64>();
    let (txs, rxs): (Vec<Tx<Big>>, Vec<Rx<Big>>) = (0..actors).map(|_| channel()).unzip();
    let peers = Arc::new(txs);
    for (me, mut mailbox) in rxs.into_iter().enumerate() {
        let (peers, done) = (peers.clone(), done.clone());
        tokio::spawn(async move {
            let mut seed = me as u32 + 1;
            let ping = |seed: &mut u32| {
                let to = suite::big_target(seed, me as u64, actors) as usize;
                let _ = peers[to].send(Big::Ping(me));
            };
            ping(&mut seed);
            let (mut left, mut got) = (pings - 1, 0u64);
            while let Some(msg) = mailbox.recv().await {
                match msg {
                    Big::Ping(from) => {
                        let _ = peers[from].send(Big::Pong);
                    }
                    Big::Pong => {
                        got += 1;
                        if left > 0 {
                            left -= 1;
                            ping(&mut seed);
                        } else {
                            let _ = done.send(got);
                        }
                    }
                    Big::Stop => break,
                }
            }
        });
    }
    let mut sum = 0;
    for _ in 0..actors {
        sum += results.recv().await.expect("big result");
    }
    for tx in peers.iter() {
        let _ = tx.send(Big::Stop);
    }
    sum
}

enum ToMall {
    Meet { color: u8, from: usize },
    Count(u64),
}

enum ToCreature {
    Meet { color: u8, partner: usize },
    Change(u8),
    Exit,
}

async fn chameneos(creatures: u64, meetings: u64) -> u64 {
    let (mall, mut mall_box) = channel::<ToMall>();
    let (txs, rxs): (Vec<Tx<ToCreature>>, Vec<Rx<ToCreature>>) = (0..creatures).map(|_| channel()).unzip();
    let others = Arc::new(txs);
    let (result_tx, result) = oneshot::channel();
    let all = others.clone();
    tokio::spawn(async move {
        let (mut left, mut waiting) = (meetings, None::<usize>);
        let (mut reported, mut sum) = (0u64, 0u64);
        while let Some(msg) = mall_box.recv().await {
            match msg {
                ToMall::Meet { color, from } if left > 0 => match waiting.take() {
                    None => waiting = Some(from),
                    Some(w) => {
                        let _ = all[w].send(ToCreature::Meet { color, partner: from });
                        left -= 1;
                    }
                },
                ToMall::Meet { from, .. } => {
                    let _ = all[from].send(ToCreature::Exit);
                }
                ToMall::Count(k) => {
                    sum += k;
                    reported += 1;
                    if reported == creatures {
                        break;
                    }
                }
            }
        }
        let _ = result_tx.send(sum);
    });
    for (me, mut mailbox) in rxs.into_iter().enumerate() {
        let (mall, others) = (mall.clone(), others.clone());
        tokio::spawn(async move {
            let (mut color, mut met) = ((me % 3) as u8, 0u64);
            let _ = mall.send(ToMall::Meet { color, from: me });
            while let Some(msg) = mailbox.recv().await {
                match msg {
                    ToCreature::Meet { color: other, partner } => {
                        color = suite::complement(color, other);
                        let _ = others[partner].send(ToCreature::Change(color));
                    }
                    ToCreature::Change(new) => color = new,
                    ToCreature::Exit => {
                        let _ = mall.send(ToMall::Count(met));
                        break;
                    }
                }
                met += 1;
                let _ = mall.send(ToMall::Meet { color, from: me });
            }
        });
    }
    result.await.expect("chameneos mall")
}

async fn mandelbrot(size: u64, max_iter: u64, chunks: u64) -> u64 {
    let (tx, mut rx) = channel();
    for k in 0..chunks {
        let tx = tx.clone();
        tokio::spawn(async move {
            let (lo, hi) = suite::chunk_rows(k, chunks, size);
            let _ = tx.send(suite::mandel_rows(lo, hi, size, max_iter));
        });
    }
    let mut sum = 0;
    for _ in 0..chunks {
        sum += rx.recv().await.expect("mandelbrot chunk");
    }
    sum
}
