//! The benchmark catalogue: each case's workload, sizes, operation count and expected checksum.
//!
//! The same programs are written three times (`spam_impl.rs`, `tokio_impl.rs`,
//! `erlang/spam_bench.erl`); this file is what they must agree on. A case's checksum is computed
//! here from its sizes alone, so every runtime is checked against the same number.

use crate::args::Sizes;

/// What a case computes. Sizes are total counts unless said otherwise.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Spawn `n` idle processes that wait in `receive`; measures bytes per live process.
    Idle { n: u64 },
    /// Skynet: a 10-ary tree of processes with `n` leaves (a power of 10); leaves send their
    /// number, parents sum. Checksum `n(n-1)/2`.
    Skynet { n: u64 },
    /// Savina fork-join create: spawn `n` workers, send each one message, each acks and exits.
    FjCreate { n: u64 },
    /// Savina PingPong: `n` round trips between the driver and an echo process, `across` asks
    /// for the two on different schedulers. Checksum: the sum of the echoed `1..=n`.
    PingPong { n: u64, across: bool },
    /// `pairs` independent ping-pong pairs sharing `n` round trips.
    PingPongPairs { pairs: u64, n: u64 },
    /// OTP `gen_server:call`: `n` calls `1..=n` from the driver to a fresh server that replies
    /// with the request + 1 (tokio: an mpsc request channel and a oneshot reply). Checksum: the
    /// sum of the replies, `n(n+3)/2`.
    GenCall { n: u64 },
    /// Savina ThreadRing: `actors` in a ring pass one token `hops` times.
    ThreadRing { actors: u64, hops: u64 },
    /// A ring of `n` processes built as a chain, the token goes around once (spawn included).
    Ring { n: u64 },
    /// Savina Counting with `producers` senders of `n` messages each into one counter.
    FanIn { producers: u64, n: u64 },
    /// Savina fork-join throughput: `actors` receive `n` messages each from the driver.
    FjThrput { actors: u64, n: u64 },
    /// Recursive Fibonacci where every call is a process. Checksum `fib(n)`.
    Fib { n: u64 },
    /// Savina Big: `actors` each ping random peers `pings` times, answering pings meanwhile.
    Big { actors: u64, pings: u64 },
    /// Savina Chameneos: `creatures` meet in one mall `meetings` times. Checksum `2 * meetings`.
    Chameneos { creatures: u64, meetings: u64 },
    /// Mandelbrot `size`×`size`, `max_iter` iterations, split into `chunks` processes; checksum
    /// is the total iteration count.
    Mandelbrot { size: u64, max_iter: u64, chunks: u64 },
}

/// Which scheduler counts a case runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sched {
    /// Every count of `--schedulers` (the scaling sweep).
    Sweep,
    /// Exactly this many, whatever `--schedulers` says.
    Fixed(usize),
}

/// One row family of the report.
#[derive(Clone, Debug)]
pub struct Case {
    /// Unique row name, e.g. `fanin-2`.
    pub name: String,
    /// The benchmark it belongs to, e.g. `fanin` (what `--only` matches, with `family`).
    pub bench: &'static str,
    /// The suite section: spawn, pingpong, otp, ring, fanin, forkjoin, many, cpu, memory.
    pub family: &'static str,
    /// What one operation is, for the report ("process", "round trip", ...).
    pub op: &'static str,
    pub kind: Kind,
    pub sched: Sched,
    /// Operations per run: ns/op = run time / ops.
    pub ops: u64,
    /// The checksum every run must produce.
    pub expected: u64,
}

impl Case {
    fn new(name: impl Into<String>, kind: Kind, sched: Sched) -> Case {
        let (bench, family, op) = match kind {
            Kind::Idle { .. } => ("memory", "memory", "idle process"),
            Kind::Skynet { .. } => ("skynet", "spawn", "process"),
            Kind::FjCreate { .. } => ("fjcreate", "spawn", "process"),
            Kind::PingPong { .. } => ("pingpong", "pingpong", "round trip"),
            Kind::PingPongPairs { .. } => ("pingpong", "pingpong", "round trip"),
            Kind::GenCall { .. } => ("gencall", "otp", "call"),
            Kind::ThreadRing { .. } => ("threadring", "ring", "hop"),
            Kind::Ring { .. } => ("ring", "ring", "process"),
            Kind::FanIn { .. } => ("fanin", "fanin", "message"),
            Kind::FjThrput { .. } => ("fjthrput", "forkjoin", "message"),
            Kind::Fib { .. } => ("fib", "forkjoin", "process"),
            Kind::Big { .. } => ("big", "many", "ping"),
            Kind::Chameneos { .. } => ("chameneos", "many", "meeting"),
            Kind::Mandelbrot { .. } => ("mandelbrot", "cpu", "pixel"),
        };
        Case { name: name.into(), bench, family, op, ops: kind.ops(), expected: kind.expected(), kind, sched }
    }

    /// The scheduler counts this case runs at, given the sweep.
    pub fn schedulers(&self, sweep: &[usize]) -> Vec<usize> {
        match self.sched {
            Sched::Sweep => sweep.to_vec(),
            Sched::Fixed(n) => vec![n],
        }
    }

    /// `true` if `--only` selects this case (by row name, benchmark or family).
    pub fn selected(&self, only: &[String]) -> bool {
        only.is_empty() || only.iter().any(|o| o == &self.name || o == self.bench || o == self.family)
    }

    /// The case as the Erlang driver takes it: `name=kind,arg,...`.
    pub fn erlang_spec(&self) -> String {
        let args: Vec<u64> = match self.kind {
            Kind::Idle { n } => vec![n],
            Kind::Skynet { n } => vec![n],
            Kind::FjCreate { n } => vec![n],
            Kind::PingPong { n, across } => vec![n, across as u64],
            Kind::PingPongPairs { pairs, n } => vec![pairs, n],
            Kind::GenCall { n } => vec![n],
            Kind::ThreadRing { actors, hops } => vec![actors, hops],
            Kind::Ring { n } => vec![n],
            Kind::FanIn { producers, n } => vec![producers, n],
            Kind::FjThrput { actors, n } => vec![actors, n],
            Kind::Fib { n } => vec![n],
            Kind::Big { actors, pings } => vec![actors, pings],
            Kind::Chameneos { creatures, meetings } => vec![creatures, meetings],
            Kind::Mandelbrot { size, max_iter, chunks } => vec![size, max_iter, chunks],
        };
        let args: Vec<String> = args.iter().map(u64::to_string).collect();
        format!("{}={},{}", self.name, self.erlang_kind(), args.join(","))
    }

    fn erlang_kind(&self) -> &'static str {
        match self.kind {
            Kind::Idle { .. } => "idle",
            Kind::PingPongPairs { .. } => "pairs",
            _ => self.bench,
        }
    }
}

impl Kind {
    /// Operations in one run.
    pub fn ops(&self) -> u64 {
        match *self {
            // Every node of the tree is a process: n + n/10 + ... + 1.
            Kind::Skynet { n } => (10 * n - 1) / 9,
            Kind::Idle { n } | Kind::FjCreate { n } | Kind::PingPong { n, .. } | Kind::Ring { n } => n,
            Kind::GenCall { n } => n,
            Kind::PingPongPairs { pairs, n } => pairs * (n / pairs),
            Kind::ThreadRing { hops, .. } => hops,
            Kind::FanIn { producers, n } => producers * n,
            Kind::FjThrput { actors, n } => actors * n,
            // Calls of the naive recursion: 2 fib(n+1) - 1.
            Kind::Fib { n } => 2 * fib(n + 1) - 1,
            Kind::Big { actors, pings } => actors * pings,
            Kind::Chameneos { meetings, .. } => meetings,
            Kind::Mandelbrot { size, .. } => size * size,
        }
    }

    /// The checksum a correct run produces.
    pub fn expected(&self) -> u64 {
        match *self {
            Kind::Idle { n } | Kind::FjCreate { n } | Kind::Ring { n } => n,
            Kind::Skynet { n } => n * (n - 1) / 2,
            Kind::PingPong { n, .. } => n * (n + 1) / 2,
            Kind::PingPongPairs { pairs, n } => {
                let m = n / pairs;
                pairs * (m * (m + 1) / 2)
            }
            // Σ (i + 1) for i in 1..=n.
            Kind::GenCall { n } => n * (n + 3) / 2,
            Kind::ThreadRing { hops, .. } => hops,
            Kind::FanIn { producers, n } => producers * n,
            Kind::FjThrput { actors, n } => actors * n,
            Kind::Fib { n } => fib(n),
            Kind::Big { actors, pings } => actors * pings,
            Kind::Chameneos { meetings, .. } => 2 * meetings,
            Kind::Mandelbrot { size, max_iter, .. } => (0..size).map(|y| mandel_rows(y, y + 1, size, max_iter)).sum(),
        }
    }
}

/// Builds the cases of the suite from the sizes, in report order.
pub fn cases(s: &Sizes, cores: usize) -> Vec<Case> {
    use Kind::*;
    let mut v = vec![Case::new("memory", Idle { n: s.memory_n }, Sched::Sweep)];
    v.push(Case::new("skynet", Skynet { n: s.skynet_n }, Sched::Sweep));
    for &n in &s.fjcreate_n {
        v.push(Case::new(format!("fjcreate-{}", short(n)), FjCreate { n }, Sched::Sweep));
    }
    let n = s.pingpong_n;
    v.push(Case::new("pingpong-same", PingPong { n, across: false }, Sched::Fixed(1)));
    if cores >= 2 {
        v.push(Case::new("pingpong-across", PingPong { n, across: true }, Sched::Fixed(2)));
    }
    let pairs = s.pingpong_pairs;
    v.push(Case::new(format!("pingpong-pairs{pairs}"), PingPongPairs { pairs, n }, Sched::Sweep));
    // One caller, one server: a latency case like pingpong-same, at 1 scheduler.
    v.push(Case::new("gencall", GenCall { n: s.gencall_n }, Sched::Fixed(1)));
    let (actors, hops) = (s.threadring_n, s.threadring_r);
    v.push(Case::new("threadring", ThreadRing { actors, hops }, Sched::Sweep));
    v.push(Case::new("ring", Ring { n: s.ring_n }, Sched::Sweep));
    let mut producers: Vec<u64> = Vec::new();
    for &p in &s.fanin_producers {
        if !producers.contains(&p) {
            producers.push(p);
        }
    }
    for &p in &producers {
        v.push(Case::new(format!("fanin-{p}"), FanIn { producers: p, n: s.fanin_n }, Sched::Sweep));
    }
    let (actors, n) = (s.fjthrput_actors, s.fjthrput_n);
    v.push(Case::new("fjthrput", FjThrput { actors, n }, Sched::Sweep));
    v.push(Case::new("fib", Fib { n: s.fib_n }, Sched::Sweep));
    v.push(Case::new("big", Big { actors: s.big_actors, pings: s.big_n }, Sched::Sweep));
    let (creatures, meetings) = (s.chameneos_creatures, s.chameneos_n);
    v.push(Case::new("chameneos", Chameneos { creatures, meetings }, Sched::Sweep));
    let (size, max_iter, chunks) = (s.mandelbrot_size, s.mandelbrot_iter, s.mandelbrot_chunks);
    v.push(Case::new("mandelbrot", Mandelbrot { size, max_iter, chunks }, Sched::Sweep));
    v
}

/// `40000` → `40k`, `1000000` → `1m`.
fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Fibonacci, iteratively (the reference for the process tree).
pub fn fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// The next state of the xorshift32 generator every Big implementation uses (same in Erlang).
pub fn xorshift32(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// The peer a Big actor `me` pings next, advancing its generator; never itself unless alone.
pub fn big_target(state: &mut u32, me: u64, actors: u64) -> u64 {
    *state = xorshift32(*state);
    let t = *state as u64 % actors;
    if t == me {
        (t + 1) % actors
    } else {
        t
    }
}

/// Chameneos colour rule: the same colour stays, two different ones give the third.
pub fn complement(a: u8, b: u8) -> u8 {
    if a == b {
        a
    } else {
        3 - a - b
    }
}

/// The rows `[lo, hi)` of chunk `k` of `chunks`.
pub fn chunk_rows(k: u64, chunks: u64, size: u64) -> (u64, u64) {
    (k * size / chunks, (k + 1) * size / chunks)
}

/// Sum of Mandelbrot iteration counts over rows `[lo, hi)` of a `size`×`size` image of
/// [-2, 1] × [-1.5, 1.5]. Written op for op like the Erlang `mandel_*` functions, so the sums
/// are bit-identical.
pub fn mandel_rows(lo: u64, hi: u64, size: u64, max_iter: u64) -> u64 {
    let dx = 3.0 / size as f64;
    let mut sum = 0;
    for py in lo..hi {
        let ci = -1.5 + py as f64 * dx;
        for px in 0..size {
            let cr = -2.0 + px as f64 * dx;
            let (mut x, mut y, mut i) = (0.0f64, 0.0f64, 0u64);
            while i < max_iter {
                let (x2, y2) = (x * x, y * y);
                if x2 + y2 > 4.0 {
                    break;
                }
                y = 2.0 * x * y + ci;
                x = x2 - y2 + cr;
                i += 1;
            }
            sum += i;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_of_the_default_sizes() {
        assert_eq!(Kind::Skynet { n: 1_000_000 }.expected(), 499_999_500_000);
        assert_eq!(Kind::Skynet { n: 1_000_000 }.ops(), 1_111_111);
        assert_eq!(Kind::Fib { n: 25 }.expected(), 75_025);
        assert_eq!(Kind::Chameneos { creatures: 100, meetings: 200_000 }.expected(), 400_000);
        assert_eq!(Kind::GenCall { n: 3 }.expected(), 2 + 3 + 4);
        assert_eq!(Kind::GenCall { n: 1_000_000 }.expected(), 500_001_500_000);
    }

    #[test]
    fn mandelbrot_chunks_add_up() {
        let (size, it, k) = (64, 50, 7);
        let whole = mandel_rows(0, size, size, it);
        let parts: u64 = (0..k)
            .map(|c| {
                let (lo, hi) = chunk_rows(c, k, size);
                mandel_rows(lo, hi, size, it)
            })
            .sum();
        assert_eq!(whole, parts);
    }
}
