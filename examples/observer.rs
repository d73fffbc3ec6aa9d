//! A supervision tree under load that runs until Ctrl-C with the observer on: open the printed
//! address in a browser to watch it (`docs/observer.md`).
//!
//! ```text
//! top (one_for_one, registered "top")
//! ├── services (one_for_one)
//! │   ├── db        gen_server: a key-value store
//! │   ├── cache     gen_server: reads db every tick, monitors it, crashes now and then
//! │   ├── metrics   gen_server: counts the work the jobs did
//! │   ├── sink      a process whose mailbox grows and shrinks ("bursty mailbox")
//! │   └── producer  floods sink; linked to it
//! ├── pool          dynamic supervisor of short-lived CPU-bound jobs (temporary)
//! ├── spawner       starts jobs in pool at a rate that rises and falls over a minute
//! └── watchdog      monitors db, cache and metrics, and monitors them again after a crash
//! ```
//!
//! `cargo run --release --example observer -- [ADDR] [--seconds N]`: ADDR defaults to
//! `127.0.0.1:4000` (`127.0.0.1:0` picks a free port); `--seconds N` stops after N seconds.
use spam::gen_server::{self, CallResult, GenServer, Init, Next, Server, StartOpts};
use spam::supervisor::{self, ChildSpec, DynamicSpec, DynamicSupervisor, Restart, Strategy, SupFlags};
use spam::{Down, Msg, Reason, Vm};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// The spawner's tick, and the jobs' CPU time at full size.
const TICK: Duration = Duration::from_millis(10);
const JOB_MS: u64 = 20;

/// A small xorshift generator, seeded per process.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(RandomState::new().hash_one(Instant::now()) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// `true` once in `n` on average.
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// CPU work: `n` rounds of a hash mix, with a yield point every 256 rounds.
async fn burn(n: u64) -> u64 {
    let mut x = n;
    for i in 0..n {
        x = (x ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        if i % 256 == 0 {
            spam::maybe_yield().await;
        }
    }
    x
}

/// How many rounds of [`burn`] take a millisecond here, measured once before the VM starts.
fn rounds_per_ms() -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    let mut x = 1u64;
    while start.elapsed() < Duration::from_millis(50) {
        for i in 0..10_000u64 {
            x = (x ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
        n += 10_000;
    }
    std::hint::black_box(x);
    (n / 50).max(1)
}

/// `db`: a key-value store.
struct Db(HashMap<u64, u64>);

enum DbReq {
    Get(u64),
    Put(u64, u64),
}

impl GenServer for Db {
    type Args = ();
    type Call = DbReq;
    type Reply = Option<u64>;
    type Cast = ();

    async fn init(_: ()) -> Init<Self> {
        Init::ok(Db(HashMap::new()))
    }
    async fn handle_call(&mut self, req: DbReq, _: gen_server::ReplyTo<Option<u64>>) -> CallResult<Option<u64>> {
        match req {
            DbReq::Get(k) => CallResult::reply(self.0.get(&k).copied()),
            DbReq::Put(k, v) => CallResult::reply(self.0.insert(k % 1024, v)),
        }
    }
}

/// `cache`: reads db every 100 ms and monitors it; crashes about every 10 s.
struct Cache {
    rng: Rng,
    hits: u64,
}

/// The cache's tick.
struct Refresh;

impl GenServer for Cache {
    type Args = ();
    type Call = ();
    type Reply = u64;
    type Cast = ();

    async fn init(_: ()) -> Init<Self> {
        spam::monitor("db");
        spam::send_after(Duration::from_millis(100), spam::self_pid(), Refresh);
        Init::ok(Cache { rng: Rng::new(), hits: 0 })
    }
    async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<u64>) -> CallResult<u64> {
        CallResult::reply(self.hits)
    }
    async fn handle_info(&mut self, msg: Msg) -> Next {
        if msg.is::<Down>() {
            spam::sleep(Duration::from_millis(50)).await; // db is being restarted
            spam::monitor("db");
            return Next::Wait;
        }
        if self.rng.one_in(100) {
            return Next::Stop(Reason::other("cache: simulated crash"));
        }
        let key = self.rng.next() % 1024;
        if let Ok(Some(_)) = gen_server::call(Server::<Db>::named("db"), DbReq::Get(key)).await {
            self.hits += 1;
        }
        spam::send_after(Duration::from_millis(100), spam::self_pid(), Refresh);
        Next::Wait
    }
}

/// `metrics`: the work units the jobs report.
struct Metrics {
    jobs: u64,
    work: u64,
}

impl GenServer for Metrics {
    type Args = ();
    type Call = ();
    type Reply = (u64, u64);
    type Cast = u64;

    async fn init(_: ()) -> Init<Self> {
        Init::ok(Metrics { jobs: 0, work: 0 })
    }
    async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<(u64, u64)>) -> CallResult<(u64, u64)> {
        CallResult::reply((self.jobs, self.work))
    }
    async fn handle_cast(&mut self, work: u64) -> Next {
        self.jobs += 1;
        self.work += work;
        Next::Wait
    }
}

/// `sink`: takes one message per millisecond for 6 s, then drains its mailbox for 4 s, so its
/// queue grows and shrinks while `producer` sends 2 messages per millisecond.
async fn sink() {
    spam::set_label("bursty mailbox");
    let _ = spam::register("sink");
    let start = Instant::now();
    loop {
        let slow = start.elapsed().as_secs() % 10 < 6;
        let _: u64 = spam::recv().await;
        if slow {
            spam::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// `producer`: floods `sink`, linked to it.
async fn producer() {
    spam::set_label("producer");
    let (mut n, mut linked) = (0u64, None);
    loop {
        match spam::whereis("sink") {
            Some(sink) => {
                if linked != Some(sink) && spam::link(sink).is_ok() {
                    linked = Some(sink);
                }
                for _ in 0..20 {
                    spam::send(sink, n);
                    n += 1;
                }
            }
            None => spam::sleep(Duration::from_millis(100)).await,
        }
        spam::sleep(TICK).await;
    }
}

/// `watchdog`: monitors the named servers, and monitors each again once it is back.
async fn watchdog() {
    spam::set_label("watchdog");
    let mut watched: HashMap<spam::Ref, &'static str> = HashMap::new();
    for name in ["db", "cache", "metrics"] {
        watched.insert(spam::monitor(name), name);
    }
    loop {
        let down: Down = spam::recv().await;
        if let Some(name) = watched.remove(&down.monitor) {
            spam::sleep(Duration::from_millis(200)).await; // its supervisor restarts it meanwhile
            watched.insert(spam::monitor(name), name);
        }
    }
}

/// What the pool's children do.
#[derive(Clone, Copy)]
enum Job {
    /// CPU work of this many milliseconds: see [`job`].
    Cpu(u64),
    /// A session: idle for this many milliseconds, then gone.
    Idle(u64),
}

/// A child of the pool.
async fn pool_child(job_: Job, rounds_per_ms: u64) {
    match job_ {
        Job::Cpu(size) => job(size, rounds_per_ms).await,
        Job::Idle(ms) => {
            let _ = spam::recv_timeout::<()>(Duration::from_millis(ms)).await;
        }
    }
}

/// A job of the pool: `size` ms of CPU work in slices, a write to db now and then, a report to
/// metrics; one in 40 crashes.
async fn job(size: u64, rounds_per_ms: u64) {
    let mut rng = Rng::new();
    if rng.one_in(8) {
        spam::set_label(format!("job {size} ms"));
    }
    let mut acc = 0u64;
    for _ in 0..size {
        acc = acc.wrapping_add(burn(rounds_per_ms).await);
        spam::maybe_yield().await;
    }
    if rng.one_in(4) {
        let _ = gen_server::call(Server::<Db>::named("db"), DbReq::Put(acc, size)).await;
    }
    if rng.one_in(40) {
        spam::exit_self(Reason::other("job: simulated failure"));
    }
    gen_server::cast(Server::<Metrics>::named("metrics"), size);
}

/// `spawner`: starts jobs in `pool` so that the schedulers' load follows a wave of a minute,
/// between about 10 % and 90 %, and idle sessions at a rate following a slower wave.
async fn spawner(schedulers: u64) {
    spam::set_label("load generator");
    let pool = DynamicSupervisor::<Job>::named("pool");
    let (start, mut rng) = (Instant::now(), Rng::new());
    let (mut jobs, mut sessions) = (0.0f64, 0.0f64);
    loop {
        let secs = start.elapsed().as_secs_f64();
        let load = 0.5 + 0.4 * (secs * std::f64::consts::TAU / 60.0).sin();
        // Jobs of JOB_MS on average: this many per tick keeps `load` of the schedulers busy.
        jobs += load * schedulers as f64 * TICK.as_millis() as f64 / JOB_MS as f64;
        // Sessions of 5 s on average: 20 to 180 of them alive.
        sessions += (1.0 - 0.8 * (secs * std::f64::consts::TAU / 90.0).cos()) * 0.2;
        let mut started = Ok(None);
        while jobs >= 1.0 && started.is_ok() {
            jobs -= 1.0;
            started = pool.start_child(Job::Cpu(1 + rng.next() % (2 * JOB_MS))).await;
        }
        while sessions >= 1.0 && started.is_ok() {
            sessions -= 1.0;
            started = pool.start_child(Job::Idle(1000 + rng.next() % 8000)).await;
        }
        if started.is_err() {
            return; // the pool is restarting: so does the spawner
        }
        spam::sleep(TICK).await;
    }
}

fn tree(schedulers: u64, rounds_per_ms: u64) -> Vec<ChildSpec> {
    let named = |name: &str| StartOpts::new().name(name);
    let services = vec![
        ChildSpec::gen_server_opts::<Db>("db", (), named("db")),
        ChildSpec::gen_server_opts::<Cache>("cache", (), named("cache")),
        ChildSpec::gen_server_opts::<Metrics>("metrics", (), named("metrics")),
        ChildSpec::spawn_link("sink", sink),
        ChildSpec::spawn_link("producer", producer),
    ];
    let restarts = SupFlags::new(Strategy::OneForOne).intensity(50).period(Duration::from_secs(10));
    let jobs = DynamicSpec::spawn_link(move |job_: Job| pool_child(job_, rounds_per_ms)).restart(Restart::Temporary);
    // Registered (unlike `supervisor_of`'s), so that the observer shows their names.
    let services = ChildSpec::supervisor("services", move || {
        let children = services.clone();
        async move { Ok(supervisor::start_opts(restarts, children, named("services").link()).await?.pid()) }
    });
    let pool = ChildSpec::supervisor("pool", move || {
        let jobs = jobs.clone();
        async move { Ok(DynamicSupervisor::start_opts(restarts, jobs, named("pool").link()).await?.pid()) }
    });
    vec![
        services,
        pool,
        ChildSpec::spawn_link("spawner", move || spawner(schedulers)),
        ChildSpec::spawn_link("watchdog", watchdog),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut addr = String::from("127.0.0.1:4000");
    let mut seconds = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = Some(args.next().ok_or("--seconds needs a number")?.parse::<u64>()?),
            "-h" | "--help" => {
                println!("usage: observer [ADDR (default 127.0.0.1:4000)] [--seconds N]");
                return Ok(());
            }
            _ => addr = arg,
        }
    }
    let rounds_per_ms = rounds_per_ms();
    let vm = Vm::builder().observer(addr.as_str()).build();
    let bound = vm.observer_addr().ok_or("the observer is not running")?;
    println!("observer at http://{bound}/");
    match seconds {
        Some(n) => println!("running for {n} s"),
        None => println!("running until Ctrl-C"),
    }
    let schedulers = vm.schedulers() as u64;
    vm.block_on(async move {
        spam::set_label("main");
        let flags = SupFlags::new(Strategy::OneForOne).intensity(50).period(Duration::from_secs(10));
        let opts = StartOpts::new().link().name("top");
        let top = supervisor::start_opts(flags, tree(schedulers, rounds_per_ms), opts).await?;
        match seconds {
            Some(n) => spam::sleep(Duration::from_secs(n)).await,
            None => loop {
                spam::sleep(Duration::from_secs(3600)).await;
            },
        }
        let (jobs, work) = gen_server::call(Server::<Metrics>::named("metrics"), ()).await.unwrap_or_default();
        println!("jobs done since metrics last started: {jobs} ({work} ms of work)");
        top.stop().await?;
        Ok(())
    })
}
