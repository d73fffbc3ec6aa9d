//! spam-benches: runs the SPAM suite side by side with Erlang/OTP and tokio, verifies every
//! checksum, and writes `report.md` plus SVG plots (see `--help`).
//!
//! Order of work: every case at every scheduler count on SPAM, then tokio, in this process
//! (one VM or runtime per figure, warm-up and timed runs inside it); then Erlang, one `erl`
//! per scheduler count running every case. A wrong checksum, a crash or a hang fails the run
//! (exit status 1) after the report is written.

mod args;
mod child_lines;
mod erlang;
mod harness;
mod plot;
mod report;
mod results;
#[cfg(feature = "spam")]
mod spam_impl;
mod suite;
mod tokio_impl;

use args::{Config, Parsed};
use harness::{Plan, Sample};
use results::{Record, Results, Runtime};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use suite::Case;

#[global_allocator]
static ALLOC: harness::CountingAlloc = harness::CountingAlloc;

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let config = match args::parse(std::env::args().skip(1), cores) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Help) => {
            print!("{}", args::usage());
            return;
        }
        Ok(Parsed::List(c)) => {
            for case in selected_cases(&c, cores) {
                println!("{:<20} {:?}  ops={} checksum={}", case.name, case.kind, case.ops, case.expected);
            }
            return;
        }
        Err(e) => {
            eprintln!("spam-benches: {e}");
            std::process::exit(2);
        }
    };
    if config.alloc != harness::current_alloc() {
        // The allocator is fixed before the first allocation: run again with it chosen.
        if std::env::var(harness::ALLOC_ENV).as_deref() == Ok(config.alloc.name()) {
            eprintln!("spam-benches: --alloc {} is not available on this platform", config.alloc.name());
            std::process::exit(2);
        }
        let status = std::process::Command::new(std::env::current_exe().expect("the suite's own path"))
            .args(std::env::args_os().skip(1))
            .env(harness::ALLOC_ENV, config.alloc.name())
            .status()
            .expect("re-run the suite");
        std::process::exit(status.code().unwrap_or(1));
    }
    eprintln!("spam-benches: allocator of the Rust runtimes: {}", config.alloc.name());
    if let Some(addr) = &config.observe {
        // Every VM the suite builds reads it (`Vm::builder`): each SPAM case serves the observer
        // on the same address in turn, and the page reconnects. Set while single-threaded.
        std::env::set_var("SPAM_OBSERVER", addr);
    }
    std::process::exit(run(config, cores));
}

fn selected_cases(config: &Config, cores: usize) -> Vec<Case> {
    suite::cases(&config.sizes, cores).into_iter().filter(|c| c.selected(&config.only)).collect()
}

/// `<target>/spam-bench`, found from the binary's own path (`<target>/<profile>/spam-benches`).
fn default_out() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("spam-bench")))
        .unwrap_or_else(|| PathBuf::from("target/spam-bench"))
}

/// Runs the suite; returns the exit status.
fn run(config: Config, cores: usize) -> i32 {
    let cases = selected_cases(&config, cores);
    if cases.is_empty() {
        eprintln!("spam-benches: --only {} matched no case (try --list)", config.only.join(","));
        return 2;
    }
    let out = config.out.clone().unwrap_or_else(default_out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("spam-benches: cannot create {}: {e}", out.display());
        return 2;
    }
    let plan = Plan { warmup: config.warmup, runs: config.runs };
    let mut results = Results { schedulers: config.schedulers.clone(), ..Results::default() };
    results
        .notes
        .push(format!("allocator of the Rust runtimes (SPAM and tokio alike): {} (`--alloc`)", config.alloc.name()));
    results.notes.push(format!(
        "{} mode; median of {} runs after {} warm-up; schedulers {:?}; {cores} CPUs ({}); load average {} at start",
        if config.quick { "quick" } else { "full" },
        plan.runs,
        plan.warmup,
        config.schedulers,
        cpu_model(),
        load_average()
    ));

    let erlang = if config.erlang { setup_erlang(&out, &mut results) } else { None };
    if !config.erlang {
        results.skipped.push("Erlang: --no-erlang".into());
    }
    if config.spam {
        results.runtimes.push(Runtime::Spam);
    } else if cfg!(feature = "spam") {
        results.skipped.push("SPAM: --no-spam".into());
    } else {
        results.skipped.push("SPAM: built without the `spam` feature".into());
    }
    if config.tokio {
        results.runtimes.push(Runtime::Tokio);
        results.notes.push("tokio: multi-thread runtime, `worker_threads(S)`, tasks + unbounded mpsc / oneshot".into());
    } else {
        results.skipped.push("tokio: --no-tokio".into());
    }
    if erlang.is_some() {
        results.runtimes.push(Runtime::Erlang);
    }
    if cases.iter().any(|c| c.name == "pingpong-across") {
        results.notes.push(
            "pingpong-across: Erlang pins the pair to schedulers 1 and 2 (`spawn_opt` `{scheduler, N}`); \
             SPAM and tokio run it on 2 schedulers without pinning"
                .into(),
        );
    }
    results.cases = cases;
    for line in &results.notes {
        println!("# {line}");
    }
    for line in &results.skipped {
        println!("# skipped: {line}");
    }

    let watchdog = Watchdog::start(config.timeout);
    let in_process: Vec<Runtime> = results.runtimes.iter().copied().filter(|&rt| rt != Runtime::Erlang).collect();
    for i in 0..results.cases.len() {
        let case = results.cases[i].clone();
        println!("== {}: {} × {} per run, checksum {}", case.name, case.ops, case.op, case.expected);
        for sched in case.schedulers(&config.schedulers) {
            for &rt in &in_process {
                watchdog.arm(format!("{} {} S={sched}", rt.name(), case.name));
                harness::reset_peak_rss();
                let outcome = run_in_process(rt, &case, sched, plan).map(|mut s| {
                    s.peak_rss = harness::peak_rss_bytes();
                    s
                });
                watchdog.disarm();
                record(&mut results, rt, i, sched, outcome);
            }
        }
    }

    if let Some(erl) = &erlang {
        let mut scheds: Vec<usize> = results.cases.iter().flat_map(|c| c.schedulers(&config.schedulers)).collect();
        scheds.sort_unstable();
        scheds.dedup();
        for sched in scheds {
            let batch: Vec<&Case> =
                results.cases.iter().filter(|c| c.schedulers(&config.schedulers).contains(&sched)).collect();
            println!("== Erlang, erl +S {sched}:{sched}, {} cases", batch.len());
            let mut got: Vec<(String, Result<Sample, String>)> = Vec::new();
            erl.run_batch(sched, &batch, plan, config.timeout, |case, outcome| {
                print_line(Runtime::Erlang, case, sched, &checked(case, outcome.clone()));
                got.push((case.name.clone(), outcome));
            });
            for (name, outcome) in got {
                let i = results.cases.iter().position(|c| c.name == name).expect("a case of the batch");
                results.records.push(Record {
                    runtime: Runtime::Erlang,
                    case: i,
                    sched,
                    outcome: checked(&results.cases[i], outcome),
                });
            }
        }
    }

    finish(&mut results, &out)
}

/// Compiles the Erlang side, noting in `results` why it is skipped when it is.
fn setup_erlang(out: &std::path::Path, results: &mut Results) -> Option<erlang::Erlang> {
    match erlang::Erlang::setup(&out.join("erl")) {
        Ok(Some(erl)) => {
            results.notes.push(format!("Erlang: {}, `erl +S S:S`, one driver process per run", erl.version));
            Some(erl)
        }
        Ok(None) => {
            results.skipped.push("Erlang: `erl`/`erlc` not found on PATH (apt-get install erlang-nox)".into());
            None
        }
        Err(e) => {
            eprintln!("# Erlang: FAILED to compile the benchmarks: {e}");
            results.errors.push(format!("Erlang programs did not compile: {e}"));
            None
        }
    }
}

/// One figure of SPAM or tokio; panics become failures.
fn run_in_process(rt: Runtime, case: &Case, sched: usize, plan: Plan) -> Result<Sample, String> {
    let kind = case.kind.clone();
    let outcome = std::panic::catch_unwind(move || match rt {
        #[cfg(feature = "spam")]
        Runtime::Spam => spam_impl::run(&kind, sched, plan),
        Runtime::Tokio => tokio_impl::run(&kind, sched, plan),
        _ => Err(format!("{} does not run in this process", rt.name())),
    });
    outcome.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into());
        Err(format!("panicked: {msg}"))
    })
}

/// The outcome with its checksums verified against the case.
fn checked(case: &Case, outcome: Result<Sample, String>) -> Result<Sample, String> {
    let sample = outcome?;
    sample.verify(case.expected)?;
    Ok(sample)
}

fn record(results: &mut Results, rt: Runtime, case: usize, sched: usize, outcome: Result<Sample, String>) {
    let outcome = checked(&results.cases[case], outcome);
    print_line(rt, &results.cases[case], sched, &outcome);
    results.records.push(Record { runtime: rt, case, sched, outcome });
}

fn print_line(rt: Runtime, case: &Case, sched: usize, outcome: &Result<Sample, String>) {
    match outcome {
        Ok(s) => {
            let median = s.median_ns();
            let per_op = median as f64 / case.ops.max(1) as f64;
            // The fastest run too: on a shared machine the median moves with the neighbours' load,
            // the fastest run much less (what A/B comparisons of two builds should look at).
            let fastest = s.runs_ns.iter().copied().min().unwrap_or(0);
            let mut line = format!(
                "  {:<6} {:<16} S={sched:<2} {:>9} ns/{}  median {:>9.3} ms  fastest {:>9} ns/{}  checksum ok",
                rt.name(),
                case.name,
                report::fmt_ns(per_op),
                case.op,
                median as f64 / 1e6,
                report::fmt_ns(fastest as f64 / case.ops.max(1) as f64),
                case.op,
            );
            if let Some(b) = s.peak_rss {
                line += &format!("  peak RSS {:.1} MiB", b as f64 / (1024.0 * 1024.0));
            }
            if let Some(b) = s.bytes_per_proc {
                line += &format!("  {b:.0} B/process");
            }
            println!("{line}");
        }
        Err(e) => {
            println!("  {:<6} {:<16} S={sched:<2} FAILED: {}", rt.name(), case.name, e.replace('\n', "\n      "));
        }
    }
}

/// Writes the report and plots, prints the table; the exit status.
fn finish(results: &mut Results, out: &std::path::Path) -> i32 {
    results.notes.push(format!(
        "load average {} at the end (above 0 means other work shared the CPUs: multi-scheduler figures are noisy)",
        load_average()
    ));
    println!("\n{}", report::time_table(results));
    let md = out.join("report.md");
    match std::fs::write(&md, report::markdown(results)) {
        Ok(()) => println!("report: {}", md.display()),
        Err(e) => eprintln!("cannot write {}: {e}", md.display()),
    }
    for (name, draw) in
        [("scaling.svg", plot::scaling as fn(&Results, &std::path::Path) -> _), ("ratios.svg", plot::ratios)]
    {
        let path = out.join(name);
        match draw(results, &path) {
            Ok(true) => println!("plot:   {}", path.display()),
            Ok(false) => println!("plot:   {name} not drawn (nothing to compare)"),
            Err(e) => eprintln!("plot {name} failed: {e}"),
        }
    }
    let failures = results.failures().count() + results.errors.len();
    if failures > 0 {
        eprintln!("\nFAILED: {failures} figure(s) did not verify (see above and the report)");
        1
    } else {
        println!("all {} figures verified their checksums", results.records.len());
        0
    }
}

/// The 1-minute load average (`/proc/loadavg`).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Ends the process loudly if one in-process figure hangs (a lost message deadlocks a run, and
/// a thread cannot be cancelled).
struct Watchdog {
    armed: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Watchdog {
    fn start(limit: Duration) -> Watchdog {
        let armed: Arc<Mutex<Option<(Instant, String)>>> = Arc::new(Mutex::new(None));
        let watched = armed.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            if let Some((since, what)) = &*watched.lock().unwrap_or_else(|e| e.into_inner()) {
                if since.elapsed() > limit {
                    eprintln!(
                        "\nFAILED: {what} did not finish within {} s (--timeout); a lost message or a deadlock",
                        limit.as_secs()
                    );
                    std::process::exit(1);
                }
            }
        });
        Watchdog { armed }
    }

    fn arm(&self, what: String) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), what));
    }

    fn disarm(&self) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
