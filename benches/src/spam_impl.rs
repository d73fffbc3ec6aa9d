//! The suite on SPAM: processes, `send` and selective `recv`, written as an Erlang user would.
//!
//! Each protocol is a small message type (an enum where a process takes several), received with
//! `recv::<T>()`. The root process of one `Vm::run` is the driver: it times every run itself.

use crate::harness::{LiveHeap, Plan, Sample};
use crate::suite::{self, Kind};
use spam::Pid;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Runs `kind` `plan.total()` times in one VM with `schedulers` schedulers.
pub fn run(kind: &Kind, schedulers: usize, plan: Plan) -> Result<Sample, String> {
    let vm = spam::Vm::builder().schedulers(schedulers).build();
    let (tx, rx) = std::sync::mpsc::channel();
    let kind = kind.clone();
    let reason = vm.run(async move {
        let mut sample = Sample::default();
        for _ in 0..plan.total() {
            let start = Instant::now();
            let (checksum, bytes_per_proc) = one(&kind).await;
            sample.record(&plan, start.elapsed(), checksum);
            sample.record_bytes(bytes_per_proc);
        }
        let _ = tx.send(sample);
    });
    vm.shutdown();
    rx.try_recv().map_err(|_| format!("the root process exited with {reason:?} before reporting"))
}

// ---------------------------------------------------------------- the four calls used below

fn me() -> Pid {
    spam::self_pid().expect("called inside a process")
}

fn go(f: impl Future<Output = ()> + Send + 'static) -> Pid {
    spam::spawn(f).expect("called inside a process")
}

fn tell<M: Send + 'static>(to: Pid, msg: M) {
    // A send to a pid never fails in SPAM (a dead pid swallows it, as in Erlang).
    if spam::send(to, msg).is_err() {
        panic!("send to {to} failed");
    }
}

async fn take<M: Send + 'static>() -> M {
    spam::recv::<M>().await.expect("called inside a process")
}

// ---------------------------------------------------------------- the benchmarks

/// One run: the checksum, and bytes per process for the memory case.
async fn one(kind: &Kind) -> (u64, Option<f64>) {
    let checksum = match *kind {
        Kind::Idle { n } => return idle(n).await,
        Kind::Skynet { n } => {
            go(skynet(me(), 0, n));
            take::<Sky>().await.0
        }
        Kind::FjCreate { n } => fjcreate(n).await,
        Kind::PingPong { n, .. } => pingpong(n).await,
        Kind::PingPongPairs { pairs, n } => ping_pairs(pairs, n / pairs).await,
        Kind::ThreadRing { actors, hops } => threadring(actors, hops).await,
        Kind::Ring { n } => ring(n).await,
        Kind::FanIn { producers, n } => fanin(producers, n).await,
        Kind::FjThrput { actors, n } => fjthrput(actors, n).await,
        Kind::Fib { n } => {
            go(fib(me(), n));
            take::<FibValue>().await.0
        }
        Kind::Big { actors, pings } => big(actors, pings).await,
        Kind::Chameneos { creatures, meetings } => chameneos(creatures, meetings).await,
        Kind::Mandelbrot { size, max_iter, chunks } => mandelbrot(size, max_iter, chunks).await,
    };
    (checksum, None)
}

struct Ready;
struct Quit;
struct Bye;

/// `n` processes waiting in `recv`; heap bytes per process while they wait. Returns once every
/// process has said goodbye, so their memory is not freed during the next run.
async fn idle(n: u64) -> (u64, Option<f64>) {
    let root = me();
    let mut pids = Vec::with_capacity(n as usize);
    let heap = LiveHeap::start();
    for _ in 0..n {
        pids.push(go(async move {
            tell(root, Ready);
            take::<Quit>().await;
            tell(root, Bye);
        }));
    }
    let mut ready = 0;
    while ready < n {
        take::<Ready>().await;
        ready += 1;
    }
    let bytes = heap.bytes();
    drop(heap);
    for pid in pids {
        tell(pid, Quit);
    }
    for _ in 0..n {
        take::<Bye>().await;
    }
    (ready, Some(bytes as f64 / n as f64))
}

struct Sky(u64);

/// A Skynet node: a leaf sends its number, an inner node spawns 10 children and sums.
// Not an `async fn`: the declared `Send` lets the body spawn itself (no auto-trait cycle).
#[allow(clippy::manual_async_fn)]
fn skynet(parent: Pid, num: u64, size: u64) -> impl Future<Output = ()> + Send + 'static {
    async move {
        if size == 1 {
            tell(parent, Sky(num));
            return;
        }
        let (me, sz) = (me(), size / 10);
        for i in 0..10 {
            go(skynet(me, num + i * sz, sz));
        }
        let mut sum = 0;
        for _ in 0..10 {
            sum += take::<Sky>().await.0;
        }
        tell(parent, Sky(sum));
    }
}

struct Go(Pid);
struct Ack;

async fn fjcreate(n: u64) -> u64 {
    let root = me();
    for _ in 0..n {
        let worker = go(async {
            let Go(from) = take::<Go>().await;
            tell(from, Ack);
        });
        tell(worker, Go(root));
    }
    let mut count = 0;
    while count < n {
        take::<Ack>().await;
        count += 1;
    }
    count
}

enum Echo {
    Ping(Pid, u64),
    Stop,
}
struct Pong(u64);

async fn pong() {
    while let Echo::Ping(from, i) = take::<Echo>().await {
        tell(from, Pong(i));
    }
}

/// `n` round trips with a fresh echo process; the sum of the echoed `1..=n`.
async fn pingpong(n: u64) -> u64 {
    let (me, echo) = (me(), go(pong()));
    let mut sum = 0;
    for i in 1..=n {
        tell(echo, Echo::Ping(me, i));
        sum += take::<Pong>().await.0;
    }
    tell(echo, Echo::Stop);
    sum
}

struct PairSum(u64);

async fn ping_pairs(pairs: u64, each: u64) -> u64 {
    let root = me();
    for _ in 0..pairs {
        go(async move { tell(root, PairSum(pingpong(each).await)) });
    }
    let mut sum = 0;
    for _ in 0..pairs {
        sum += take::<PairSum>().await.0;
    }
    sum
}

struct Next(Pid);
enum Ring {
    Token { left: u64, hops: u64 },
    Stop,
}
struct RingDone(u64);

async fn threadring(actors: u64, hops: u64) -> u64 {
    let root = me();
    let pids: Vec<Pid> = (0..actors)
        .map(|_| {
            go(async move {
                let Next(next) = take::<Next>().await;
                while let Ring::Token { left, hops } = take::<Ring>().await {
                    if left == 0 {
                        tell(root, RingDone(hops));
                    } else {
                        tell(next, Ring::Token { left: left - 1, hops: hops + 1 });
                    }
                }
            })
        })
        .collect();
    for (i, &pid) in pids.iter().enumerate() {
        tell(pid, Next(pids[(i + 1) % pids.len()]));
    }
    tell(pids[0], Ring::Token { left: hops, hops: 0 });
    let total = take::<RingDone>().await.0;
    for &pid in &pids {
        tell(pid, Ring::Stop);
    }
    total
}

struct Token(u64);

/// A chain of `n` processes, each adds one and forwards; the last one tells the root.
async fn ring(n: u64) -> u64 {
    let mut next = me();
    for _ in 0..n {
        let forward = next;
        next = go(async move {
            let Token(t) = take::<Token>().await;
            tell(forward, Token(t + 1));
        });
    }
    tell(next, Token(0));
    take::<Token>().await.0
}

enum Count {
    Inc,
    Done,
}
struct Total(u64);

async fn fanin(producers: u64, n: u64) -> u64 {
    let root = me();
    let counter = go(async move {
        let (mut count, mut done) = (0u64, 0u64);
        while done < producers {
            match take::<Count>().await {
                Count::Inc => count += 1,
                Count::Done => done += 1,
            }
        }
        tell(root, Total(count));
    });
    for _ in 0..producers {
        go(async move {
            for _ in 0..n {
                tell(counter, Count::Inc);
            }
            tell(counter, Count::Done);
        });
    }
    take::<Total>().await.0
}

struct Work;
struct Worked(u64);

async fn fjthrput(actors: u64, n: u64) -> u64 {
    let root = me();
    let pids: Vec<Pid> = (0..actors)
        .map(|_| {
            go(async move {
                for _ in 0..n {
                    take::<Work>().await;
                }
                tell(root, Worked(n));
            })
        })
        .collect();
    for _ in 0..n {
        for &pid in &pids {
            tell(pid, Work);
        }
    }
    let mut sum = 0;
    for _ in 0..actors {
        sum += take::<Worked>().await.0;
    }
    sum
}

struct FibValue(u64);

/// A Fib node: below 2 it answers `n`, else it spawns the two sub-calls and adds their answers.
// Not an `async fn`: the declared `Send` lets the body spawn itself (no auto-trait cycle).
#[allow(clippy::manual_async_fn)]
fn fib(parent: Pid, n: u64) -> impl Future<Output = ()> + Send + 'static {
    async move {
        if n < 2 {
            tell(parent, FibValue(n));
            return;
        }
        let me = me();
        go(fib(me, n - 1));
        go(fib(me, n - 2));
        let a = take::<FibValue>().await.0;
        let b = take::<FibValue>().await.0;
        tell(parent, FibValue(a + b));
    }
}

struct Peers(Arc<Vec<Pid>>);
enum Big {
    Ping(Pid),
    Pong,
    Stop,
}
struct BigDone(u64);

async fn big(actors: u64, pings: u64) -> u64 {
    let root = me();
    let pids: Vec<Pid> = (0..actors).map(|i| go(big_actor(root, i, actors, pings))).collect();
    let peers = Arc::new(pids);
    for &pid in peers.iter() {
        tell(pid, Peers(peers.clone()));
    }
    let mut sum = 0;
    for _ in 0..actors {
        sum += take::<BigDone>().await.0;
    }
    for &pid in peers.iter() {
        tell(pid, Big::Stop);
    }
    sum
}

async fn big_actor(root: Pid, i: u64, actors: u64, pings: u64) {
    // Pings that arrive before the peer list wait in the mailbox (selective receive).
    let Peers(peers) = take::<Peers>().await;
    let me = me();
    let mut seed = i as u32 + 1;
    let ping = |seed: &mut u32| tell(peers[suite::big_target(seed, i, actors) as usize], Big::Ping(me));
    ping(&mut seed);
    let (mut left, mut got) = (pings - 1, 0u64);
    loop {
        match take::<Big>().await {
            Big::Ping(from) => tell(from, Big::Pong),
            Big::Pong => {
                got += 1;
                if left > 0 {
                    left -= 1;
                    ping(&mut seed);
                } else {
                    tell(root, BigDone(got));
                }
            }
            Big::Stop => break,
        }
    }
}

enum ToMall {
    Meet { color: u8, from: Pid },
    Count(u64),
}
enum ToCreature {
    Meet { color: u8, partner: Pid },
    Change(u8),
    Exit,
}
struct MallDone(u64);

async fn chameneos(creatures: u64, meetings: u64) -> u64 {
    let root = me();
    let mall = go(async move {
        let (mut left, mut waiting) = (meetings, None::<Pid>);
        let (mut reported, mut sum) = (0u64, 0u64);
        while reported < creatures {
            match take::<ToMall>().await {
                ToMall::Meet { color, from } if left > 0 => match waiting.take() {
                    None => waiting = Some(from),
                    Some(w) => {
                        tell(w, ToCreature::Meet { color, partner: from });
                        left -= 1;
                    }
                },
                ToMall::Meet { from, .. } => tell(from, ToCreature::Exit),
                ToMall::Count(k) => {
                    sum += k;
                    reported += 1;
                }
            }
        }
        tell(root, MallDone(sum));
    });
    for i in 0..creatures {
        go(async move {
            let (me, mut color, mut met) = (me(), (i % 3) as u8, 0u64);
            loop {
                tell(mall, ToMall::Meet { color, from: me });
                match take::<ToCreature>().await {
                    ToCreature::Meet { color: other, partner } => {
                        color = suite::complement(color, other);
                        tell(partner, ToCreature::Change(color));
                    }
                    ToCreature::Change(new) => color = new,
                    ToCreature::Exit => break,
                }
                met += 1;
            }
            tell(mall, ToMall::Count(met));
        });
    }
    take::<MallDone>().await.0
}

struct Chunk(u64);

async fn mandelbrot(size: u64, max_iter: u64, chunks: u64) -> u64 {
    let root = me();
    for k in 0..chunks {
        go(async move {
            let (lo, hi) = suite::chunk_rows(k, chunks, size);
            tell(root, Chunk(suite::mandel_rows(lo, hi, size, max_iter)));
        });
    }
    let mut sum = 0;
    for _ in 0..chunks {
        sum += take::<Chunk>().await.0;
    }
    sum
}
