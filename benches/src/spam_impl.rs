//! The suite on SPAM: processes, `send` and selective `recv`, written as an Erlang user would.
//!
//! Each protocol is a small message type (an enum where a process takes several), received with
//! `recv::<T>()`. The root process of one `Vm::block_on` is the driver: it times every run itself.

use crate::harness::{LiveHeap, Plan, Sample};
use crate::suite::{self, Kind};
use spam::gen_server::{self, CallResult, GenServer, Init};
use spam::Pid;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Runs `kind` `plan.total()` times in one VM with `schedulers` schedulers. A root process that
/// exits before returning its sample makes `block_on` panic, which the caller reports as a failure.
pub fn run(kind: &Kind, schedulers: usize, plan: Plan) -> Result<Sample, String> {
    let vm = spam::Vm::builder().schedulers(schedulers).build();
    let kind = kind.clone();
    let sample = vm.block_on(async move {
        spam::set_label(format!("driver: {kind:?}")); // what `--observe` shows running
        let mut sample = Sample::default();
        for _ in 0..plan.total() {
            let start = Instant::now();
            let (checksum, bytes_per_proc) = one(&kind).await;
            sample.record(&plan, start.elapsed(), checksum);
            sample.record_bytes(bytes_per_proc);
        }
        sample
    });
    vm.shutdown();
    Ok(sample)
}

// ---------------------------------------------------------------- the benchmarks

/// One run: the checksum, and bytes per process for the memory case.
async fn one(kind: &Kind) -> (u64, Option<f64>) {
    let checksum = match *kind {
        Kind::Idle { n } => return idle(n).await,
        Kind::Skynet { n } => {
            spam::spawn(skynet(spam::self_pid(), 0, n));
            spam::recv::<Sky>().await.0
        }
        Kind::FjCreate { n } => fjcreate(n).await,
        Kind::PingPong { n, .. } => pingpong(n).await,
        Kind::PingPongPairs { pairs, n } => ping_pairs(pairs, n / pairs).await,
        Kind::GenCall { n } => gencall(n).await,
        Kind::ThreadRing { actors, hops } => threadring(actors, hops).await,
        Kind::Ring { n } => ring(n).await,
        Kind::FanIn { producers, n } => fanin(producers, n).await,
        Kind::FjThrput { actors, n } => fjthrput(actors, n).await,
        Kind::Fib { n } => {
            spam::spawn(fib(spam::self_pid(), n));
            spam::recv::<FibValue>().await.0
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
    let root = spam::self_pid();
    let mut pids = Vec::with_capacity(n as usize);
    let heap = LiveHeap::start();
    for _ in 0..n {
        pids.push(spam::spawn(async move {
            spam::send(root, Ready);
            spam::recv::<Quit>().await;
            spam::send(root, Bye);
        }));
    }
    let mut ready = 0;
    while ready < n {
        spam::recv::<Ready>().await;
        ready += 1;
    }
    let bytes = heap.bytes();
    drop(heap);
    for pid in pids {
        spam::send(pid, Quit);
    }
    for _ in 0..n {
        spam::recv::<Bye>().await;
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
            spam::send(parent, Sky(num));
            return;
        }
        let (me, sz) = (spam::self_pid(), size / 10);
        for i in 0..10 {
            spam::spawn(skynet(me, num + i * sz, sz));
        }
        let mut sum = 0;
        for _ in 0..10 {
            sum += spam::recv::<Sky>().await.0;
        }
        spam::send(parent, Sky(sum));
    }
}

struct Go(Pid);
struct Ack;

async fn fjcreate(n: u64) -> u64 {
    let root = spam::self_pid();
    for _ in 0..n {
        let worker = spam::spawn(async {
            let Go(from) = spam::recv::<Go>().await;
            spam::send(from, Ack);
        });
        spam::send(worker, Go(root));
    }
    let mut count = 0;
    while count < n {
        spam::recv::<Ack>().await;
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
    while let Echo::Ping(from, i) = spam::recv::<Echo>().await {
        spam::send(from, Pong(i));
    }
}

/// `n` round trips with a fresh echo process; the sum of the echoed `1..=n`.
async fn pingpong(n: u64) -> u64 {
    let (me, echo) = (spam::self_pid(), spam::spawn(pong()));
    let mut sum = 0;
    for i in 1..=n {
        spam::send(echo, Echo::Ping(me, i));
        sum += spam::recv::<Pong>().await.0;
    }
    spam::send(echo, Echo::Stop);
    sum
}

struct PairSum(u64);

async fn ping_pairs(pairs: u64, each: u64) -> u64 {
    let root = spam::self_pid();
    for _ in 0..pairs {
        spam::spawn(async move { spam::send(root, PairSum(pingpong(each).await)) });
    }
    let mut sum = 0;
    for _ in 0..pairs {
        sum += spam::recv::<PairSum>().await.0;
    }
    sum
}

/// The `gencall` server: replies to each call with the request + 1.
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

/// `n` calls `1..=n` to a fresh server (`gen_server::call`, OTP's default 5 s timeout, as
/// Erlang's `gen_server:call/2`); the sum of the replies.
async fn gencall(n: u64) -> u64 {
    let server = gen_server::start::<Incr>(()).await.expect("gencall: start");
    let mut sum = 0;
    for i in 1..=n {
        sum += gen_server::call(server, i).await.expect("gencall: call");
    }
    gen_server::stop(server, spam::Reason::Normal, gen_server::DEFAULT_TIMEOUT).await.expect("gencall: stop");
    sum
}

struct Next(Pid);
enum Ring {
    Token { left: u64, hops: u64 },
    Stop,
}
struct RingDone(u64);

async fn threadring(actors: u64, hops: u64) -> u64 {
    let root = spam::self_pid();
    let pids: Vec<Pid> = (0..actors)
        .map(|_| {
            spam::spawn(async move {
                let Next(next) = spam::recv::<Next>().await;
                while let Ring::Token { left, hops } = spam::recv::<Ring>().await {
                    if left == 0 {
                        spam::send(root, RingDone(hops));
                    } else {
                        spam::send(next, Ring::Token { left: left - 1, hops: hops + 1 });
                    }
                }
            })
        })
        .collect();
    for (i, &pid) in pids.iter().enumerate() {
        spam::send(pid, Next(pids[(i + 1) % pids.len()]));
    }
    spam::send(pids[0], Ring::Token { left: hops, hops: 0 });
    let total = spam::recv::<RingDone>().await.0;
    for &pid in &pids {
        spam::send(pid, Ring::Stop);
    }
    total
}

struct Token(u64);

/// A chain of `n` processes, each adds one and forwards; the last one tells the root.
async fn ring(n: u64) -> u64 {
    let mut next = spam::self_pid();
    for _ in 0..n {
        let forward = next;
        next = spam::spawn(async move {
            let Token(t) = spam::recv::<Token>().await;
            spam::send(forward, Token(t + 1));
        });
    }
    spam::send(next, Token(0));
    spam::recv::<Token>().await.0
}

enum Count {
    Inc,
    Done,
}
struct Total(u64);

async fn fanin(producers: u64, n: u64) -> u64 {
    let root = spam::self_pid();
    let counter = spam::spawn(async move {
        let (mut count, mut done) = (0u64, 0u64);
        while done < producers {
            match spam::recv::<Count>().await {
                Count::Inc => count += 1,
                Count::Done => done += 1,
            }
        }
        spam::send(root, Total(count));
    });
    for _ in 0..producers {
        spam::spawn(async move {
            for _ in 0..n {
                spam::send(counter, Count::Inc);
            }
            spam::send(counter, Count::Done);
        });
    }
    spam::recv::<Total>().await.0
}

struct Work;
struct Worked(u64);

async fn fjthrput(actors: u64, n: u64) -> u64 {
    let root = spam::self_pid();
    let pids: Vec<Pid> = (0..actors)
        .map(|_| {
            spam::spawn(async move {
                for _ in 0..n {
                    spam::recv::<Work>().await;
                }
                spam::send(root, Worked(n));
            })
        })
        .collect();
    for _ in 0..n {
        for &pid in &pids {
            spam::send(pid, Work);
        }
    }
    let mut sum = 0;
    for _ in 0..actors {
        sum += spam::recv::<Worked>().await.0;
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
            spam::send(parent, FibValue(n));
            return;
        }
        let me = spam::self_pid();
        spam::spawn(fib(me, n - 1));
        spam::spawn(fib(me, n - 2));
        let a = spam::recv::<FibValue>().await.0;
        let b = spam::recv::<FibValue>().await.0;
        spam::send(parent, FibValue(a + b));
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
    let root = spam::self_pid();
    let pids: Vec<Pid> = (0..actors).map(|i| spam::spawn(big_actor(root, i, actors, pings))).collect();
    let peers = Arc::new(pids);
    for &pid in peers.iter() {
        spam::send(pid, Peers(peers.clone()));
    }
    let mut sum = 0;
    for _ in 0..actors {
        sum += spam::recv::<BigDone>().await.0;
    }
    for &pid in peers.iter() {
        spam::send(pid, Big::Stop);
    }
    sum
}

async fn big_actor(root: Pid, i: u64, actors: u64, pings: u64) {
    // Pings that arrive before the peer list wait in the mailbox (selective receive).
    let Peers(peers) = spam::recv::<Peers>().await;
    let me = spam::self_pid();
    let mut seed = i as u32 + 1;
    let ping = |seed: &mut u32| spam::send(peers[suite::big_target(seed, i, actors) as usize], Big::Ping(me));
    ping(&mut seed);
    let (mut left, mut got) = (pings - 1, 0u64);
    loop {
        match spam::recv::<Big>().await {
            Big::Ping(from) => spam::send(from, Big::Pong),
            Big::Pong => {
                got += 1;
                if left > 0 {
                    left -= 1;
                    ping(&mut seed);
                } else {
                    spam::send(root, BigDone(got));
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
    let root = spam::self_pid();
    let mall = spam::spawn(async move {
        let (mut left, mut waiting) = (meetings, None::<Pid>);
        let (mut reported, mut sum) = (0u64, 0u64);
        while reported < creatures {
            match spam::recv::<ToMall>().await {
                ToMall::Meet { color, from } if left > 0 => match waiting.take() {
                    None => waiting = Some(from),
                    Some(w) => {
                        spam::send(w, ToCreature::Meet { color, partner: from });
                        left -= 1;
                    }
                },
                ToMall::Meet { from, .. } => spam::send(from, ToCreature::Exit),
                ToMall::Count(k) => {
                    sum += k;
                    reported += 1;
                }
            }
        }
        spam::send(root, MallDone(sum));
    });
    for i in 0..creatures {
        spam::spawn(async move {
            let (me, mut color, mut met) = (spam::self_pid(), (i % 3) as u8, 0u64);
            loop {
                spam::send(mall, ToMall::Meet { color, from: me });
                match spam::recv::<ToCreature>().await {
                    ToCreature::Meet { color: other, partner } => {
                        color = suite::complement(color, other);
                        spam::send(partner, ToCreature::Change(color));
                    }
                    ToCreature::Change(new) => color = new,
                    ToCreature::Exit => break,
                }
                met += 1;
            }
            spam::send(mall, ToMall::Count(met));
        });
    }
    spam::recv::<MallDone>().await.0
}

struct Chunk(u64);

async fn mandelbrot(size: u64, max_iter: u64, chunks: u64) -> u64 {
    let root = spam::self_pid();
    for k in 0..chunks {
        spam::spawn(async move {
            let (lo, hi) = suite::chunk_rows(k, chunks, size);
            spam::send(root, Chunk(suite::mandel_rows(lo, hi, size, max_iter)));
        });
    }
    let mut sum = 0;
    for _ in 0..chunks {
        sum += spam::recv::<Chunk>().await.0;
    }
    sum
}
