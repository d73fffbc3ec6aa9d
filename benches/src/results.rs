//! The figures one suite run collected, and what is derived from them (ns/op, ratios, speedups).

use crate::harness::Sample;
use crate::suite::{Case, Kind};

/// The runtimes compared, in column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    Spam,
    Tokio,
    Erlang,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Spam => "SPAM",
            Runtime::Tokio => "tokio",
            Runtime::Erlang => "Erlang",
        }
    }
}

/// One runtime × case × scheduler count.
#[derive(Debug)]
pub struct Record {
    pub runtime: Runtime,
    /// Index into [`Results::cases`].
    pub case: usize,
    pub sched: usize,
    /// The sample, or why there is none (a wrong checksum, a crash, a timeout).
    pub outcome: Result<Sample, String>,
}

/// Everything one invocation measured, plus the context the report prints.
#[derive(Debug, Default)]
pub struct Results {
    pub cases: Vec<Case>,
    pub records: Vec<Record>,
    /// The scaling sweep.
    pub schedulers: Vec<usize>,
    /// Runtimes that took part, in column order.
    pub runtimes: Vec<Runtime>,
    /// Lines for the report's header (machine, versions, plan).
    pub notes: Vec<String>,
    /// Runtimes that were skipped, with why.
    pub skipped: Vec<String>,
    /// Failures not tied to one figure (e.g. the Erlang programs did not compile).
    pub errors: Vec<String>,
}

impl Results {
    /// The verified sample of `runtime` for case `case` at `sched` schedulers.
    pub fn sample(&self, runtime: Runtime, case: usize, sched: usize) -> Option<&Sample> {
        self.records
            .iter()
            .find(|r| r.runtime == runtime && r.case == case && r.sched == sched)
            .and_then(|r| r.outcome.as_ref().ok())
    }

    /// Median nanoseconds per operation.
    pub fn ns_per_op(&self, runtime: Runtime, case: usize, sched: usize) -> Option<f64> {
        let s = self.sample(runtime, case, sched)?;
        (!s.runs_ns.is_empty()).then(|| s.median_ns() as f64 / self.cases[case].ops.max(1) as f64)
    }

    /// `a`'s time over `b`'s (below 1: `a` is faster).
    pub fn ratio(&self, a: Runtime, b: Runtime, case: usize, sched: usize) -> Option<f64> {
        Some(self.ns_per_op(a, case, sched)? / self.ns_per_op(b, case, sched)?)
    }

    /// Time at the smallest scheduler count of the sweep over time at `sched`.
    pub fn speedup(&self, runtime: Runtime, case: usize, sched: usize) -> Option<f64> {
        let base = *self.schedulers.iter().min()?;
        Some(self.ns_per_op(runtime, case, base)? / self.ns_per_op(runtime, case, sched)?)
    }

    /// The scheduler counts case `case` ran at, ascending.
    pub fn scheds_of(&self, case: usize) -> Vec<usize> {
        let mut s: Vec<usize> = self.records.iter().filter(|r| r.case == case).map(|r| r.sched).collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    /// The records that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.outcome.is_err())
    }

    /// `true` for a case whose speedup the scaling table and plot show: it ran at two or more
    /// scheduler counts and its time is not a memory measurement (`memory`).
    pub fn scales(&self, case: usize) -> bool {
        self.cases[case].bench != "memory" && self.scheds_of(case).len() >= 2
    }

    /// `true` where Erlang pins the case's processes to schedulers and SPAM and tokio cannot
    /// (`pingpong-across`): a ratio to Erlang compares different placements.
    pub fn pinned_in_erlang(&self, case: usize) -> bool {
        matches!(self.cases[case].kind, Kind::PingPong { across: true, .. })
    }

    /// Bytes per idle process measured by `runtime` (the `memory` case, at the largest
    /// scheduler count that has the figure), with that count.
    pub fn bytes_per_proc(&self, runtime: Runtime) -> Option<(usize, f64)> {
        let case = self.cases.iter().position(|c| c.bench == "memory")?;
        self.scheds_of(case).iter().rev().find_map(|&s| Some((s, self.sample(runtime, case, s)?.bytes_per_proc?)))
    }

    /// The peak RSS of `runtime` while case `case` ran at `sched` schedulers.
    pub fn peak_rss(&self, runtime: Runtime, case: usize, sched: usize) -> Option<u64> {
        self.sample(runtime, case, sched)?.peak_rss
    }
}

/// Made-up results for the report and plot tests: every quick case at 1, 2, 4 and 8
/// schedulers on all three runtimes, with ratios from about 0.05 to 5 and speedups that differ.
#[cfg(test)]
pub fn fabricated() -> Results {
    use crate::args::Sizes;
    let cases = crate::suite::cases(&Sizes::quick(8), 8);
    let schedulers = vec![1, 2, 4, 8];
    let runtimes = vec![Runtime::Spam, Runtime::Tokio, Runtime::Erlang];
    let mut records = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for sched in case.schedulers(&schedulers) {
            let spread = [1.0, 0.2 + 0.35 * i as f64, 20.0 / (i + 1) as f64];
            for (k, (&runtime, factor)) in runtimes.iter().zip(spread).enumerate() {
                let ns = case.ops as f64 * 100.0 * factor / (sched as f64).powf(0.9 - 0.3 * k as f64);
                let sample = Sample { runs_ns: vec![ns as u64], checksums: vec![case.expected], ..Sample::default() };
                records.push(Record { runtime, case: i, sched, outcome: Ok(sample) });
            }
        }
    }
    Results { cases, records, schedulers, runtimes, ..Results::default() }
}
