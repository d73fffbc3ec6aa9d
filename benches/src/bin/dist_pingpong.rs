//! dist-pingpong: remote ping-pong over Erlang distribution on loopback, three ways.
//!
//! 1. `SPAM <-> SPAM`: two VMs in this process, each a node; the ponger on B, the pinger on A.
//! 2. `SPAM <-> Erlang`: the SPAM pinger, an `erl` node's ponger.
//! 3. `Erlang <-> Erlang`: two `erl` nodes; the pinger times itself and prints each run.
//!
//! The same protocol everywhere (`erlang/dist_pingpong.erl` is the Erlang side): the pinger
//! sends `{Pinger, hello}` to the registered name `dist_pong` on the other node and gets
//! `{hello, PongerPid}`; from then on it sends `{Pinger, Counter}` to that pid and the ponger
//! answers `{pong, Counter}`, one round trip at a time. Every reply's counter is checked; a
//! wrong one exits 1. Each figure: the median of `--runs` timed runs of N round trips, after
//! N/10 untimed ones. A watchdog exits 1 (killing the `erl` children) when nothing progresses for
//! `--timeout` seconds.
//!
//! ```sh
//! cargo run --release -p spam-benches --bin dist-pingpong -- [--quick] [--n N] [--runs R] \
//!     [--schedulers S] [--no-erlang] [--timeout SECS] [--out DIR]
//! ```

use spam::term::Term;
use spam::{Pid, Vm};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../child_lines.rs"]
mod child_lines;

// The suite's allocator (benches/README.md), for the SPAM side.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Erlang side, embedded so the binary runs from anywhere.
const ERL_SOURCE: &str = include_str!("../../erlang/dist_pingpong.erl");
/// The ponger's registered name, on every node.
const PONG_NAME: &str = "dist_pong";
/// How long the pinger waits for the answer to `hello` (the connection is set up then).
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

const USAGE: &str = "\
dist-pingpong: remote ping-pong over Erlang distribution on loopback
(SPAM<->SPAM, SPAM<->Erlang, Erlang<->Erlang); a markdown table on stdout and in OUT/dist.md

usage: dist-pingpong [--quick] [--n N] [--runs R] [--schedulers S] [--no-erlang]
                     [--timeout SECS] [--out DIR]

  --quick          N = 5000, 3 runs (CI)
  --n N            round trips per timed run (default 100000)
  --runs R         timed runs per case; the median is reported (default 5)
  --schedulers S   schedulers of each SPAM VM and each erl node (`erl +S S:S`; default 2)
  --no-erlang      only SPAM<->SPAM (also when `erl`/`erlc` are not on PATH)
  --timeout SECS   exit 1 when nothing progresses for this long (default 120)
  --out DIR        where dist.md and the compiled Erlang go (default <target>/spam-bench)
";

struct Config {
    quick: bool,
    n: u64,
    runs: usize,
    schedulers: usize,
    erlang: bool,
    timeout: Duration,
    out: Option<PathBuf>,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let args: Vec<String> = args.into_iter().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut c = Config {
        quick,
        n: if quick { 5_000 } else { 100_000 },
        runs: if quick { 3 } else { 5 },
        schedulers: 2,
        erlang: true,
        timeout: Duration::from_secs(120),
        out: None,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => {}
            "--no-erlang" => c.erlang = false,
            "-h" | "--help" => return Ok(None),
            "--n" => c.n = number(&a, &value(&a)?)?,
            "--runs" => c.runs = number(&a, &value(&a)?)? as usize,
            "--schedulers" => c.schedulers = number(&a, &value(&a)?)? as usize,
            "--timeout" => c.timeout = Duration::from_secs(number(&a, &value(&a)?)?),
            "--out" => c.out = Some(PathBuf::from(value(&a)?)),
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    Ok(Some(c))
}

fn number(flag: &str, v: &str) -> Result<u64, String> {
    match v.replace('_', "").parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} wants a positive integer, not {v:?}")),
    }
}

fn main() {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("dist-pingpong: {e}");
            std::process::exit(2);
        }
    };
    watchdog::start(config.timeout);
    let status = run(&config);
    children::kill_all();
    std::process::exit(status);
}

/// One case's figures: the elapsed time of each timed run.
struct Row {
    case: &'static str,
    n: u64,
    runs_ns: Vec<u64>,
}

impl Row {
    /// µs per round trip of each run, sorted.
    fn per_trip_us(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.runs_ns.iter().map(|&ns| ns as f64 / self.n as f64 / 1000.0).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn median_us(&self) -> f64 {
        let v = self.per_trip_us();
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        }
    }
}

/// Runs the cases; returns the exit status.
fn run(c: &Config) -> i32 {
    let out = c.out.clone().unwrap_or_else(default_out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("dist-pingpong: cannot create {}: {e}", out.display());
        return 2;
    }
    let warmup = (c.n / 10).max(100);
    let me = std::process::id();
    let cookie = format!("dpp_cookie_{me}");
    let mut notes = vec![format!(
        "{} mode: {} round trips per run, median of {} runs after {warmup} warm-up round trips; \
         {} schedulers per node; {} CPUs; loopback; message `{{Pid, Counter}}`, reply `{{pong, Counter}}`",
        if c.quick { "quick" } else { "full" },
        c.n,
        c.runs,
        c.schedulers,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    )];
    let mut rows = Vec::new();

    // 1. SPAM <-> SPAM.
    watchdog::progress("SPAM<->SPAM: starting two nodes");
    let pong_vm = Vm::builder().schedulers(c.schedulers).node(format!("dpp_spam_pong_{me}@localhost"), &cookie).build();
    let ping_vm = Vm::builder().schedulers(c.schedulers).node(format!("dpp_spam_ping_{me}@localhost"), &cookie).build();
    let ponger = pong_vm.spawn(spam_ponger()).expect("spawn the ponger");
    pong_vm.block_on(async move { spam::register_pid(PONG_NAME, ponger).expect("register dist_pong") });
    let pong_node = pong_vm.node_name().expect("a node").to_string();
    let runs = spam_pinger(&ping_vm, &pong_node, c.n, c.runs, warmup, "SPAM<->SPAM");
    rows.push(Row { case: "SPAM ↔ SPAM", n: c.n, runs_ns: runs });
    let _ = pong_vm.send(ponger, Term::atom("stop"));
    drop(pong_vm);

    // 2 and 3, with Erlang.
    let erlang = if c.erlang { erlang::setup(&out.join("erl")) } else { None };
    match (&erlang, c.erlang) {
        (_, false) => skipped(&mut notes, "Erlang cases skipped: --no-erlang"),
        (None, true) => skipped(&mut notes, "Erlang cases skipped: `erl`/`erlc` not found on PATH"),
        (Some(erl), true) => {
            notes.push(format!(
                "Erlang: {}, `erl +S {s}:{s}` (default flags otherwise)",
                erl.version,
                s = c.schedulers
            ));
            // 2. SPAM pinger, Erlang ponger.
            watchdog::progress("SPAM<->Erlang: starting the erl ponger");
            let pong = erl.start_ponger(&format!("dpp_erl_pong_{me}_a@localhost"), &cookie, c.schedulers);
            let runs = spam_pinger(&ping_vm, &pong.name, c.n, c.runs, warmup, "SPAM<->Erlang");
            rows.push(Row { case: "SPAM ↔ Erlang", n: c.n, runs_ns: runs });
            drop(pong);
            // 3. Erlang <-> Erlang.
            watchdog::progress("Erlang<->Erlang: starting the erl ponger");
            let pong = erl.start_ponger(&format!("dpp_erl_pong_{me}_b@localhost"), &cookie, c.schedulers);
            let runs = erl.pinger(
                &format!("dpp_erl_ping_{me}@localhost"),
                &cookie,
                c.schedulers,
                &pong.name,
                [c.n, c.runs as u64, warmup],
            );
            rows.push(Row { case: "Erlang ↔ Erlang", n: c.n, runs_ns: runs });
            drop(pong);
        }
    }
    drop(ping_vm);
    watchdog::disarm();

    let md = markdown(&rows, &notes);
    println!("\n{md}");
    let path = out.join("dist.md");
    match std::fs::write(&path, &md) {
        Ok(()) => {
            println!("written: {}", path.display());
            0
        }
        Err(e) => {
            eprintln!("dist-pingpong: writing {}: {e}", path.display());
            1
        }
    }
}

fn skipped(notes: &mut Vec<String>, why: &str) {
    println!("{why}");
    notes.push(why.to_string());
}

/// `<target>/spam-bench`, found from the binary's own path (`<target>/<profile>/dist-pingpong`),
/// as the suite's `spam-benches` does.
fn default_out() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("spam-bench")))
        .unwrap_or_else(|| PathBuf::from("target/spam-bench"))
}

fn markdown(rows: &[Row], notes: &[String]) -> String {
    let mut s = String::from("# Remote ping-pong (distribution)\n\n");
    for n in notes {
        s.push_str(&format!("- {n}\n"));
    }
    s.push_str(
        "\n| case | round trips | median µs / round trip | round trips / s | min µs | max µs |\n\
         |---|--:|--:|--:|--:|--:|\n",
    );
    for r in rows {
        let v = r.per_trip_us();
        let med = r.median_us();
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |\n",
            r.case,
            r.n,
            med,
            1e6 / med,
            v[0],
            v[v.len() - 1]
        ));
    }
    s
}

/// Prints why and exits 1, killing the `erl` children first.
fn die(msg: &str) -> ! {
    eprintln!("\nFAILED: {msg}");
    children::kill_all();
    std::process::exit(1);
}

// ---- The SPAM side ----

/// The ponger: `{From, hello}` -> `{hello, self()}`, `{From, N}` -> `{pong, N}`, `stop` ends it.
async fn spam_ponger() {
    let hello = Term::atom("hello");
    let pong = Term::atom("pong");
    loop {
        match spam::recv::<Term>().await {
            Term::Tuple(v) => {
                let Ok([from, x]) = <[Term; 2]>::try_from(v) else { continue };
                let Ok(from) = Pid::try_from(&from) else { continue };
                if x == hello {
                    spam::send(from, Term::tuple(vec![hello.clone(), Term::from(spam::self_pid())]));
                } else {
                    spam::send(from, Term::tuple(vec![pong.clone(), x]));
                }
            }
            t if t.as_atom() == Some("stop") => return,
            _ => {}
        }
    }
}

/// Runs the pinger on `vm` against `dist_pong` on `node`: `warmup` untimed round trips, then
/// `runs` timed runs of `n`; the elapsed time of each. Exits 1 on a wrong or missing reply.
fn spam_pinger(vm: &Vm, node: &str, n: u64, runs: usize, warmup: u64, case: &'static str) -> Vec<u64> {
    watchdog::progress(&format!("{case}: hello and {warmup} warm-up round trips"));
    let node = node.to_string();
    let got = vm.block_on(async move {
        let me = Term::from(spam::self_pid());
        spam::send((PONG_NAME, node.as_str()), Term::tuple(vec![me.clone(), Term::atom("hello")]));
        let pong = match spam::recv_timeout::<Term>(HELLO_TIMEOUT).await {
            Some(Term::Tuple(v)) if v.len() == 2 && v[0].as_atom() == Some("hello") => {
                Pid::try_from(&v[1]).map_err(|e| format!("{case}: the hello answer holds no pid: {e}"))?
            }
            Some(t) => return Err(format!("{case}: answer to hello: {t}")),
            None => return Err(format!("{case}: no answer to hello from {node} in {HELLO_TIMEOUT:?}")),
        };
        rounds(pong, &me, 1, warmup).await.map_err(|e| format!("{case}: {e}"))?;
        let mut first = warmup + 1;
        let mut times = Vec::with_capacity(runs);
        for run in 1..=runs {
            let t0 = Instant::now();
            rounds(pong, &me, first, first + n - 1).await.map_err(|e| format!("{case}: {e}"))?;
            let ns = t0.elapsed().as_nanos() as u64;
            times.push(ns);
            first += n;
            watchdog::progress(&format!("{case}: {run} of {runs} timed runs done"));
            println!("{case} run {run}: {:.2} µs / round trip", ns as f64 / n as f64 / 1000.0);
        }
        Ok(times)
    });
    got.unwrap_or_else(|e| die(&e))
}

/// Round trips `first..=last`, one at a time: `{Me, I}` out, `{pong, I}` expected back.
async fn rounds(pong: Pid, me: &Term, first: u64, last: u64) -> Result<(), String> {
    let pong_atom = Term::atom("pong");
    for i in first..=last {
        let i = i as i64;
        spam::send(pong, Term::tuple(vec![me.clone(), Term::from(i)]));
        let reply = spam::recv::<Term>().await;
        let ok = matches!(&reply, Term::Tuple(v) if v.len() == 2 && v[0] == pong_atom && v[1] == Term::Integer(i));
        if !ok {
            return Err(format!("MISMATCH sent {i} got {reply}"));
        }
    }
    Ok(())
}

// ---- The Erlang side ----

mod erlang {
    use super::*;

    /// `erl`, and the directory holding the compiled `dist_pingpong` module.
    pub struct Erlang {
        erl: PathBuf,
        beam_dir: PathBuf,
        /// e.g. `OTP 25 (erts 13.1.5)`.
        pub version: String,
    }

    /// Looks for `program` on `PATH`.
    fn which(program: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
    }

    /// Compiles `dist_pingpong.erl` into `dir`; `None` when `erl` or `erlc` is not on PATH.
    pub fn setup(dir: &Path) -> Option<Erlang> {
        let (erl, erlc) = (which("erl")?, which("erlc")?);
        watchdog::progress("compiling dist_pingpong.erl");
        if let Err(e) = std::fs::create_dir_all(dir) {
            die(&format!("creating {}: {e}", dir.display()));
        }
        let src = dir.join("dist_pingpong.erl");
        if let Err(e) = std::fs::write(&src, ERL_SOURCE) {
            die(&format!("writing {}: {e}", src.display()));
        }
        match Command::new(&erlc).arg("-o").arg(dir).arg(&src).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => die(&format!(
                "erlc failed on {}:\n{}{}",
                src.display(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => die(&format!("running erlc: {e}")),
        }
        let version = Command::new(&erl)
            .args(["-noshell", "-eval"])
            .arg(r#"io:format("OTP ~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt()."#)
            .stdin(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Some(Erlang { erl, beam_dir: dir.to_path_buf(), version })
    }

    impl Erlang {
        /// Starts `erl` as node `name` with the module on its path, running `args`.
        fn start(&self, name: &str, cookie: &str, schedulers: usize, args: &[&str]) -> Node {
            let s = format!("{schedulers}:{schedulers}");
            let child = Command::new(&self.erl)
                .args(["-sname", name, "-setcookie", cookie, "-noshell", "+S", &s, "-pa"])
                .arg(&self.beam_dir)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn();
            match child {
                Ok(c) => Node::new(c, name),
                Err(e) => die(&format!("starting erl: {e}")),
            }
        }

        /// An `erl` node whose `dist_pong` is ready.
        pub fn start_ponger(&self, name: &str, cookie: &str, schedulers: usize) -> Node {
            let node = self.start(name, cookie, schedulers, &["-s", "dist_pingpong", "pong"]);
            loop {
                match node.line().as_str() {
                    "ready" => return node,
                    other => eprintln!("erl {name}: {other}"),
                }
            }
        }

        /// Runs the Erlang pinger against `pong_node`; the elapsed time of each timed run.
        /// `sizes`: round trips per run, runs, warm-up round trips.
        pub fn pinger(
            &self,
            name: &str,
            cookie: &str,
            schedulers: usize,
            pong_node: &str,
            sizes: [u64; 3],
        ) -> Vec<u64> {
            let [n, runs, warmup] = sizes.map(|v| v.to_string());
            let args = ["-run", "dist_pingpong", "ping", pong_node, n.as_str(), runs.as_str(), warmup.as_str()];
            watchdog::progress("Erlang<->Erlang: starting the erl pinger");
            let node = self.start(name, cookie, schedulers, &args);
            let mut times = Vec::new();
            loop {
                let line = node.line();
                if let Some(ns) = line.strip_prefix("RUN ") {
                    let ns: u64 = ns.parse().unwrap_or_else(|_| die(&format!("erl pinger: bad line {line:?}")));
                    times.push(ns);
                    watchdog::progress(&format!("Erlang<->Erlang: {} of {runs} timed runs done", times.len()));
                    println!(
                        "Erlang<->Erlang run {}: {:.2} µs / round trip",
                        times.len(),
                        ns as f64 / sizes[0] as f64 / 1000.0
                    );
                } else if line == "DONE" {
                    if times.len() as u64 != sizes[1] {
                        die(&format!("erl pinger: {} runs reported, {runs} expected", times.len()));
                    }
                    return times;
                } else if line.starts_with("MISMATCH") || line.starts_with("TIMEOUT") {
                    die(&format!("Erlang<->Erlang: {line}"));
                } else {
                    eprintln!("erl {name}: {line}");
                }
            }
        }
    }

    /// A running `erl`, killed on drop; its stdout line by line, its stderr kept for errors.
    pub struct Node {
        pub name: String,
        id: u32,
        lines: mpsc::Receiver<String>,
        stderr: Arc<Mutex<String>>,
    }

    impl Node {
        fn new(mut child: Child, name: &str) -> Node {
            let lines = crate::child_lines::stdout_lines(&mut child);
            let stderr = Arc::new(Mutex::new(String::new()));
            let mut err = child.stderr.take().expect("piped stderr");
            let keep = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(k @ 1..) = err.read(&mut buf) {
                    keep.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&buf[..k]));
                }
            });
            let id = child.id();
            children::add(child);
            Node { name: name.to_string(), id, lines, stderr }
        }

        /// The next line it prints (trimmed); exits 1 if it exits first. The watchdog bounds
        /// the wait.
        pub fn line(&self) -> String {
            match self.lines.recv() {
                Ok(l) => l.trim().to_string(),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100)); // let stderr arrive
                    let err = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let tail: Vec<&str> = err.lines().take(20).collect();
                    die(&format!("erl {} exited before it was done:\n{}", self.name, tail.join("\n")))
                }
            }
        }
    }

    impl Drop for Node {
        fn drop(&mut self) {
            children::kill(self.id);
        }
    }
}

/// Every `erl` this process started, so that any way out (the end, a failure, the watchdog)
/// kills them.
mod children {
    use std::process::Child;
    use std::sync::Mutex;

    static CHILDREN: Mutex<Vec<Child>> = Mutex::new(Vec::new());

    fn list() -> std::sync::MutexGuard<'static, Vec<Child>> {
        CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(c: Child) {
        list().push(c);
    }

    pub fn kill(id: u32) {
        let child = {
            let mut l = list();
            l.iter().position(|c| c.id() == id).map(|i| l.swap_remove(i))
        };
        if let Some(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn kill_all() {
        for mut c in std::mem::take(&mut *list()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Exits 1 when nothing has progressed for the limit: every wait in this program (a reply, a
/// line from `erl`, a node's start) is bounded by it.
mod watchdog {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    static ARMED: Mutex<Option<(Instant, String)>> = Mutex::new(None);

    pub fn start(limit: Duration) {
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let stuck = match &*ARMED.lock().unwrap_or_else(|e| e.into_inner()) {
                Some((since, what)) if since.elapsed() > limit => Some(what.clone()),
                _ => None,
            };
            if let Some(what) = stuck {
                super::die(&format!(
                    "no progress for {} s (--timeout) at: {what}; a lost message, a hang or a dead node",
                    limit.as_secs()
                ));
            }
        });
    }

    /// What is being waited for now; the limit counts from here.
    pub fn progress(what: &str) {
        *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), what.to_string()));
    }

    pub fn disarm() {
        *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags() {
        let c = parse(args("--quick")).unwrap().unwrap();
        assert_eq!((c.n, c.runs, c.schedulers, c.erlang), (5_000, 3, 2, true));
        let c = parse(args("--n 1_000 --runs 7 --no-erlang --schedulers 1 --quick")).unwrap().unwrap();
        assert_eq!((c.n, c.runs, c.schedulers, c.erlang), (1_000, 7, 1, false));
        let c = parse(args("")).unwrap().unwrap();
        assert_eq!((c.n, c.runs), (100_000, 5));
        assert!(parse(args("--help")).unwrap().is_none());
        assert!(parse(args("--n 0")).is_err());
        assert!(parse(args("--runs")).is_err());
        assert!(parse(args("--bogus")).is_err());
    }

    #[test]
    fn median_and_table() {
        let r = Row { case: "x", n: 1000, runs_ns: vec![3_000_000, 1_000_000, 2_000_000, 10_000_000] };
        assert_eq!(r.per_trip_us(), vec![1.0, 2.0, 3.0, 10.0]);
        assert_eq!(r.median_us(), 2.5);
        let md = markdown(&[r], &["note".into()]);
        assert!(md.contains("| x | 1000 | 2.50 | 400000 | 1.00 | 10.00 |"), "{md}");
    }
}
