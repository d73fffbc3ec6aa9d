//! Command-line flags, parsed by hand, and the default and `--quick` sizes.

use std::path::PathBuf;
use std::time::Duration;

/// Every size the suite uses; `--<flag> N` overrides one (see [`SIZE_FLAGS`]).
#[derive(Clone, Debug)]
pub struct Sizes {
    pub memory_n: u64,
    pub skynet_n: u64,
    pub fjcreate_n: Vec<u64>,
    pub pingpong_n: u64,
    pub pingpong_pairs: u64,
    pub gencall_n: u64,
    pub threadring_n: u64,
    pub threadring_r: u64,
    pub ring_n: u64,
    pub fanin_n: u64,
    pub fanin_producers: Vec<u64>,
    pub fjthrput_actors: u64,
    pub fjthrput_n: u64,
    pub fib_n: u64,
    pub big_actors: u64,
    pub big_n: u64,
    pub chameneos_creatures: u64,
    pub chameneos_n: u64,
    pub mandelbrot_size: u64,
    pub mandelbrot_iter: u64,
    pub mandelbrot_chunks: u64,
}

/// The size flags and what they set (the help text lists them in this order).
pub const SIZE_FLAGS: &[(&str, &str)] = &[
    ("--memory-n", "idle processes spawned to measure bytes per process"),
    ("--skynet-n", "Skynet leaves (a power of 10)"),
    ("--fjcreate-n", "fork-join create sizes, comma-separated"),
    ("--pingpong-n", "ping-pong round trips (shared by the pairs)"),
    ("--pingpong-pairs", "independent ping-pong pairs"),
    ("--gencall-n", "gen_server calls (one caller, one server)"),
    ("--threadring-n", "ThreadRing actors"),
    ("--threadring-r", "ThreadRing token passes"),
    ("--ring-n", "processes in the once-around ring"),
    ("--fanin-n", "messages per fan-in producer"),
    ("--fanin-producers", "fan-in producer counts, comma-separated"),
    ("--fjthrput-actors", "fork-join throughput actors"),
    ("--fjthrput-n", "messages per fork-join throughput actor"),
    ("--fib-n", "Fib argument (fib(25) = 75025)"),
    ("--big-actors", "Big actors"),
    ("--big-n", "pings per Big actor"),
    ("--chameneos-creatures", "Chameneos creatures (at least 2)"),
    ("--chameneos-n", "Chameneos meetings"),
    ("--mandelbrot-size", "Mandelbrot image side in pixels"),
    ("--mandelbrot-iter", "Mandelbrot maximum iterations per pixel"),
    ("--mandelbrot-chunks", "Mandelbrot chunks (one process each)"),
];

impl Sizes {
    /// The suite's full sizes (the brief's numbers).
    pub fn full(cores: usize) -> Sizes {
        Sizes {
            memory_n: 100_000,
            skynet_n: 1_000_000,
            fjcreate_n: vec![40_000, 1_000_000],
            pingpong_n: 1_000_000,
            pingpong_pairs: 2 * cores as u64,
            gencall_n: 1_000_000,
            threadring_n: 100,
            threadring_r: 100_000,
            ring_n: 1_000_000,
            fanin_n: 1_000_000,
            fanin_producers: vec![1, 2, cores as u64],
            fjthrput_actors: 60,
            fjthrput_n: 10_000,
            fib_n: 25,
            big_actors: 120,
            big_n: 20_000,
            chameneos_creatures: 100,
            chameneos_n: 200_000,
            mandelbrot_size: 1_000,
            mandelbrot_iter: 100,
            mandelbrot_chunks: 250,
        }
    }

    /// `--quick`: every size cut by 10 to 100 (most by 20) so the suite ends well within a minute.
    pub fn quick(cores: usize) -> Sizes {
        Sizes {
            memory_n: 10_000,
            skynet_n: 10_000,
            fjcreate_n: vec![2_000, 50_000],
            pingpong_n: 50_000,
            gencall_n: 50_000,
            threadring_r: 5_000,
            ring_n: 50_000,
            fanin_n: 50_000,
            fjthrput_n: 500,
            fib_n: 18,
            big_n: 1_000,
            chameneos_n: 10_000,
            mandelbrot_size: 250,
            mandelbrot_chunks: 50,
            ..Sizes::full(cores)
        }
    }

    fn set(&mut self, flag: &str, v: &str) -> Result<(), String> {
        let one = || v.parse::<u64>().map_err(|_| format!("{flag}: not a count: {v}"));
        let list = || -> Result<Vec<u64>, String> {
            v.split(',').map(|x| x.trim().parse().map_err(|_| format!("{flag}: bad list: {v}"))).collect()
        };
        match flag {
            "--memory-n" => self.memory_n = one()?,
            "--skynet-n" => self.skynet_n = one()?,
            "--fjcreate-n" => self.fjcreate_n = list()?,
            "--pingpong-n" => self.pingpong_n = one()?,
            "--pingpong-pairs" => self.pingpong_pairs = one()?,
            "--gencall-n" => self.gencall_n = one()?,
            "--threadring-n" => self.threadring_n = one()?,
            "--threadring-r" => self.threadring_r = one()?,
            "--ring-n" => self.ring_n = one()?,
            "--fanin-n" => self.fanin_n = one()?,
            "--fanin-producers" => self.fanin_producers = list()?,
            "--fjthrput-actors" => self.fjthrput_actors = one()?,
            "--fjthrput-n" => self.fjthrput_n = one()?,
            "--fib-n" => self.fib_n = one()?,
            "--big-actors" => self.big_actors = one()?,
            "--big-n" => self.big_n = one()?,
            "--chameneos-creatures" => self.chameneos_creatures = one()?,
            "--chameneos-n" => self.chameneos_n = one()?,
            "--mandelbrot-size" => self.mandelbrot_size = one()?,
            "--mandelbrot-iter" => self.mandelbrot_iter = one()?,
            "--mandelbrot-chunks" => self.mandelbrot_chunks = one()?,
            _ => return Err(format!("unknown flag {flag} (try --help)")),
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let mut n = self.skynet_n;
        while n > 1 && n.is_multiple_of(10) {
            n /= 10;
        }
        if n != 1 {
            return Err(format!("--skynet-n must be a power of 10, got {}", self.skynet_n));
        }
        let positive = [
            ("--memory-n", self.memory_n),
            ("--pingpong-n", self.pingpong_n),
            ("--pingpong-pairs", self.pingpong_pairs),
            ("--gencall-n", self.gencall_n),
            ("--threadring-n", self.threadring_n),
            ("--threadring-r", self.threadring_r),
            ("--ring-n", self.ring_n),
            ("--fanin-n", self.fanin_n),
            ("--fjthrput-actors", self.fjthrput_actors),
            ("--fjthrput-n", self.fjthrput_n),
            ("--big-actors", self.big_actors),
            ("--big-n", self.big_n),
            ("--chameneos-n", self.chameneos_n),
            ("--mandelbrot-size", self.mandelbrot_size),
            ("--mandelbrot-iter", self.mandelbrot_iter),
            ("--mandelbrot-chunks", self.mandelbrot_chunks),
        ];
        for (flag, v) in positive {
            if v == 0 {
                return Err(format!("{flag} must be at least 1"));
            }
        }
        if self.fjcreate_n.contains(&0) || self.fanin_producers.contains(&0) {
            return Err("--fjcreate-n and --fanin-producers take counts of at least 1".into());
        }
        if self.pingpong_pairs > self.pingpong_n {
            return Err("--pingpong-pairs must not exceed --pingpong-n".into());
        }
        if self.chameneos_creatures < 2 {
            return Err("--chameneos-creatures must be at least 2".into());
        }
        if self.fib_n > 40 {
            return Err("--fib-n above 40 spawns billions of processes".into());
        }
        if self.mandelbrot_chunks > self.mandelbrot_size {
            return Err("--mandelbrot-chunks must not exceed --mandelbrot-size (rows)".into());
        }
        Ok(())
    }
}

/// Everything the command line decides.
#[derive(Clone, Debug)]
pub struct Config {
    pub quick: bool,
    /// `--only`: row names, benchmark names or families; empty = all.
    pub only: Vec<String>,
    /// The scaling sweep, e.g. `[1, 2, 4, 8]`.
    pub schedulers: Vec<usize>,
    pub runs: usize,
    pub warmup: usize,
    pub spam: bool,
    pub tokio: bool,
    pub erlang: bool,
    /// Where report.md and the SVGs go (default `<target>/spam-bench`).
    pub out: Option<PathBuf>,
    /// Wall-clock limit for one in-process figure or one `erl` invocation.
    pub timeout: Duration,
    pub sizes: Sizes,
    /// `--observe`: where each SPAM case's VM serves the observer.
    pub observe: Option<String>,
    /// `--alloc`: the allocator to run on (default: the system's).
    pub alloc: crate::harness::Alloc,
}

pub const USAGE: &str = "\
spam-benches: the SPAM benchmark suite, side by side with Erlang/OTP and tokio.

USAGE: spam-benches [FLAGS]

  --quick              small sizes, 3 runs: the whole suite well within a minute (CI)
  --only A,B,..        run only these rows, benchmarks or families
                       (memory, spawn, skynet, fjcreate, pingpong, otp, gencall, ring,
                        threadring, fanin, forkjoin, fjthrput, fib, many, big, chameneos, cpu,
                        mandelbrot)
  --schedulers 1,2     scheduler counts of the sweep (default 1, 2, 4, .. and num_cpus)
  --runs N             timed runs per figure, the median is reported (default 5, quick 3)
  --warmup N           untimed runs before them (default 1)
  --no-spam            skip the SPAM side
  --no-tokio           skip the tokio side
  --no-erlang          skip the Erlang side (skipped anyway when `erl` is not on PATH)
  --out DIR            where report.md and the plots go (default target/spam-bench)
  --timeout SECS       limit for one SPAM/tokio figure or one erl run; a hang fails the
                       suite (default 1800, quick 300)
  --observe ADDR       serve SPAM's observer on ADDR (e.g. 127.0.0.1:4000) while the suite
                       runs: open it in a browser to watch each case live
  --alloc A            the Rust runtimes' allocator: system (default, what users get) or
                       mimalloc (the suite re-runs itself with SPAM_BENCH_ALLOC set)
  --list               print the cases with their sizes and exit
  -h, --help           this text

SIZES (each `--flag N`):
";

/// What `parse` found: run with a config, or print something and exit.
pub enum Parsed {
    Run(Config),
    Help,
    List(Config),
}

/// Parses `args` (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>, cores: usize) -> Result<Parsed, String> {
    let mut quick = false;
    let mut list = false;
    let mut only = Vec::new();
    let mut schedulers: Option<Vec<usize>> = None;
    let mut runs = None;
    let mut warmup = 1;
    let (mut spam, mut tokio, mut erlang) = (cfg!(feature = "spam"), true, true);
    let mut out = None;
    let mut timeout = None;
    let mut observe = None;
    let mut alloc = crate::harness::Alloc::System;
    let mut size_overrides: Vec<(String, String)> = Vec::new();

    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            inline.clone().or_else(|| it.next()).ok_or(format!("{flag} needs a value"))
        };
        let count = |v: String| v.parse::<usize>().map_err(|_| format!("{flag}: not a count: {v}"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quick" => quick = true,
            "--list" => list = true,
            "--only" => only.extend(value()?.split(',').filter(|s| !s.is_empty()).map(String::from)),
            "--schedulers" => {
                let v = value()?;
                let s: Result<Vec<usize>, _> = v.split(',').map(|x| x.trim().parse()).collect();
                let s = s.map_err(|_| format!("--schedulers: bad list: {v}"))?;
                if s.is_empty() || s.contains(&0) {
                    return Err("--schedulers takes counts of at least 1".into());
                }
                schedulers = Some(s);
            }
            "--runs" => runs = Some(count(value()?)?.max(1)),
            "--warmup" => warmup = count(value()?)?,
            "--no-spam" => spam = false,
            "--no-tokio" => tokio = false,
            "--no-erlang" => erlang = false,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--timeout" => timeout = Some(Duration::from_secs(count(value()?)? as u64)),
            "--observe" => observe = Some(value()?),
            "--alloc" => {
                alloc = match value()?.as_str() {
                    "system" => crate::harness::Alloc::System,
                    "mimalloc" => crate::harness::Alloc::Mimalloc,
                    other => return Err(format!("--alloc {other}: want system or mimalloc")),
                }
            }
            f if SIZE_FLAGS.iter().any(|(s, _)| *s == f) => size_overrides.push((flag.clone(), value()?)),
            _ => return Err(format!("unknown flag {arg} (try --help)")),
        }
    }

    let mut sizes = if quick { Sizes::quick(cores) } else { Sizes::full(cores) };
    for (flag, v) in &size_overrides {
        sizes.set(flag, v)?;
    }
    sizes.check()?;
    let config = Config {
        quick,
        only,
        schedulers: schedulers.unwrap_or_else(|| default_sweep(cores)),
        runs: runs.unwrap_or(if quick { 3 } else { 5 }),
        warmup,
        spam,
        tokio,
        erlang,
        out,
        timeout: timeout.unwrap_or(Duration::from_secs(if quick { 300 } else { 1800 })),
        sizes,
        observe,
        alloc,
    };
    Ok(if list { Parsed::List(config) } else { Parsed::Run(config) })
}

/// The default sweep: powers of two below `cores`, then `cores` itself (1, 2, 4, 6 on 6 cores).
pub fn default_sweep(cores: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2)).take_while(|&n| n < cores).collect();
    v.push(cores.max(1));
    v
}

/// The help text with the size flags appended.
pub fn usage() -> String {
    let mut s = USAGE.to_string();
    for (flag, what) in SIZE_FLAGS {
        s.push_str(&format!("  {flag:<22} {what}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Config {
        match parse(args.iter().map(|s| s.to_string()), 4) {
            Ok(Parsed::Run(c)) => c,
            _ => panic!("{args:?} did not parse"),
        }
    }

    #[test]
    fn default_sweep_is_powers_of_two_and_all_cores() {
        assert_eq!(default_sweep(1), vec![1]);
        assert_eq!(default_sweep(2), vec![1, 2]);
        assert_eq!(default_sweep(6), vec![1, 2, 4, 6]);
        assert_eq!(default_sweep(8), vec![1, 2, 4, 8]);
    }

    #[test]
    fn flags_and_size_overrides() {
        let c = parse_ok(&["--quick", "--skynet-n", "1000", "--only=fib,ring", "--schedulers", "1,3"]);
        assert!(c.quick);
        assert_eq!(c.sizes.skynet_n, 1000);
        assert_eq!(c.only, vec!["fib", "ring"]);
        assert_eq!(c.schedulers, vec![1, 3]);
        assert_eq!(c.observe, None);
        assert_eq!(parse_ok(&["--observe", "127.0.0.1:4000"]).observe.as_deref(), Some("127.0.0.1:4000"));
        assert_eq!(c.runs, 3);
        // An override wins over --quick whatever the order.
        assert_eq!(parse_ok(&["--fib-n", "20", "--quick"]).sizes.fib_n, 20);
    }

    #[test]
    fn bad_flags_are_errors() {
        for bad in [&["--skynet-n", "1234"][..], &["--bogus"], &["--runs"], &["--chameneos-creatures", "1"]] {
            assert!(parse(bad.iter().map(|s| s.to_string()), 4).is_err(), "{bad:?}");
        }
        assert!(parse(["--alloc", "jemalloc"].iter().map(|s| s.to_string()), 4).is_err());
    }

    #[test]
    fn the_allocator_is_the_system_one_unless_asked() {
        use crate::harness::Alloc;
        assert_eq!(parse_ok(&[]).alloc, Alloc::System);
        assert_eq!(parse_ok(&["--alloc", "mimalloc"]).alloc, Alloc::Mimalloc);
        assert_eq!(parse_ok(&["--alloc", "system"]).alloc, Alloc::System);
    }
}
