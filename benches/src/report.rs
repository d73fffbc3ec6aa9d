//! The markdown report: time per operation side by side, ratios, scaling, memory, failures;
//! every table gives the scheduler count of its figures.

use crate::results::{Results, Runtime};
use std::fmt::Write;

/// Nanoseconds, with as many decimals as make sense.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 1000.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.0}")
    }
}

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

/// A cell of the time table: the figure, `FAIL`, or `—` when not run.
fn time_cell(r: &Results, rt: Runtime, case: usize, sched: usize) -> String {
    let rec = r.records.iter().find(|x| x.runtime == rt && x.case == case && x.sched == sched);
    match rec {
        None => "—".into(),
        Some(x) if x.outcome.is_err() => "**FAIL**".into(),
        Some(_) => fmt_opt(r.ns_per_op(rt, case, sched), fmt_ns),
    }
}

/// A SPAM ÷ `peer` ratio cell; `†` marks a ratio to Erlang of a case Erlang pins (see [`PINNED`]).
fn ratio_cell(r: &Results, peer: Runtime, case: usize, sched: usize) -> String {
    let mark = if peer == Runtime::Erlang && r.pinned_in_erlang(case) { " †" } else { "" };
    fmt_opt(r.ratio(Runtime::Spam, peer, case, sched), |x| format!("{x:.2}{mark}"))
}

/// The footnote for the `†` of [`ratio_cell`].
const PINNED: &str = "† not comparable: Erlang pins the pair to schedulers 1 and 2, SPAM (like tokio) \
                      cannot pin processes, so its pair may share one scheduler.";

/// The time-per-operation table, a row per case and scheduler count (also printed on the
/// console at the end).
pub fn time_table(r: &Results) -> String {
    let mut s = String::new();
    let mut head = "| case | op | schedulers |".to_string();
    let mut rule = "|---|---|--:|".to_string();
    for rt in &r.runtimes {
        head += &format!(" {} ns/op |", rt.name());
        rule += "--:|";
    }
    let ratios: Vec<Runtime> = if r.runtimes.contains(&Runtime::Spam) {
        r.runtimes.iter().copied().filter(|&x| x != Runtime::Spam).collect()
    } else {
        Vec::new()
    };
    for peer in &ratios {
        head += &format!(" SPAM÷{} |", peer.name());
        rule += "--:|";
    }
    let _ = writeln!(s, "{head}\n{rule}");
    let mut marked = false;
    for (i, case) in r.cases.iter().enumerate() {
        for sched in r.scheds_of(i) {
            let _ = write!(s, "| {} | {} | {sched} |", case.name, case.op);
            for &rt in &r.runtimes {
                let _ = write!(s, " {} |", time_cell(r, rt, i, sched));
            }
            for &peer in &ratios {
                let cell = ratio_cell(r, peer, i, sched);
                marked |= cell.ends_with('†');
                let _ = write!(s, " {cell} |");
            }
            s.push('\n');
        }
    }
    if marked {
        let _ = writeln!(s, "\n{PINNED}");
    }
    s
}

/// The whole report.md.
pub fn markdown(r: &Results) -> String {
    let mut s = String::from("# SPAM benchmark report\n\n");
    for note in &r.notes {
        let _ = writeln!(s, "- {note}");
    }
    for skip in &r.skipped {
        let _ = writeln!(s, "- skipped: {skip}");
    }
    s.push_str(
        "\nns/op = median wall time of one run ÷ its operations (the `op` column), timed inside the \
         runtime (SPAM root process, tokio driver task, Erlang driver process). Schedulers (S) = \
         SPAM schedulers, tokio `worker_threads`, `erl +S S:S`; every table says the count its \
         figures were taken at. A ratio below 1 means SPAM is faster. `ratios.svg` plots the \
         ratios at the largest count, `scaling.svg` the scaling table.\n\n",
    );

    s.push_str("## Time per operation, at each scheduler count\n\n");
    s.push_str(&time_table(r));

    let sweep = &r.schedulers;
    let base = sweep.iter().min().copied().unwrap_or(1);
    let _ = writeln!(
        s,
        "\n## Scaling: speedup at S schedulers over S={base}\n\n\
         Time per operation at S={base} ÷ time at S (above 1: faster with more schedulers). \
         `memory` is left out: it measures bytes per process, not speed.\n"
    );
    let _ = write!(s, "| case | runtime |");
    for n in sweep {
        let _ = write!(s, " S={n} |");
    }
    let _ = writeln!(s, "\n|---|---|{}", "--:|".repeat(sweep.len()));
    for (i, case) in r.cases.iter().enumerate() {
        if !r.scales(i) {
            continue;
        }
        for &rt in &r.runtimes {
            if sweep.iter().all(|&n| r.speedup(rt, i, n).is_none()) {
                continue;
            }
            let _ = write!(s, "| {} | {} |", case.name, rt.name());
            for &n in sweep {
                let _ = write!(s, " {} |", fmt_opt(r.speedup(rt, i, n), |x| format!("{x:.2}×")));
            }
            s.push('\n');
        }
    }

    s.push_str("\n## Memory\n\n| runtime | schedulers | bytes per idle process | measured as |\n|---|--:|--:|---|\n");
    for &rt in &r.runtimes {
        let how = match rt {
            Runtime::Erlang => "`process_info(P, memory)` of a process waiting in `receive`",
            Runtime::Spam => "live heap growth ÷ processes waiting in `recv` (counting allocator)",
            Runtime::Tokio => "live heap growth ÷ tasks waiting on a `oneshot` (counting allocator)",
        };
        let (sched, bytes) = match r.bytes_per_proc(rt) {
            Some((sched, b)) => (sched.to_string(), format!("{b:.0}")),
            None => ("—".into(), "—".into()),
        };
        let _ = writeln!(s, "| {} | {sched} | {bytes} | {how} |", rt.name());
    }
    s.push_str(
        "\nPeak RSS (MiB) of the whole OS process while a case ran at a scheduler count (VmHWM \
         reset before each; the SPAM and tokio figures share one process, so they include what \
         the allocator kept from earlier cases):\n\n",
    );
    let _ = write!(s, "| case | schedulers |");
    for rt in &r.runtimes {
        let _ = write!(s, " {} |", rt.name());
    }
    let _ = writeln!(s, "\n|---|--:|{}", "--:|".repeat(r.runtimes.len()));
    for (i, case) in r.cases.iter().enumerate() {
        for sched in r.scheds_of(i) {
            let _ = write!(s, "| {} | {sched} |", case.name);
            for &rt in &r.runtimes {
                let mb = r.peak_rss(rt, i, sched).map(|b| b as f64 / (1024.0 * 1024.0));
                let _ = write!(s, " {} |", fmt_opt(mb, |m| format!("{m:.1}")));
            }
            s.push('\n');
        }
    }

    s.push_str("\n## Checksums\n\n");
    let failures: Vec<_> = r.failures().collect();
    for e in &r.errors {
        let _ = writeln!(s, "- **FAIL** {}", e.replace('\n', " / "));
    }
    if failures.is_empty() && r.errors.is_empty() {
        let _ = writeln!(s, "All {} figures verified their checksums.", r.records.len());
    } else {
        for f in failures {
            let case = &r.cases[f.case];
            let why = f.outcome.as_ref().err().map(String::as_str).unwrap_or("");
            let _ = writeln!(
                s,
                "- **FAIL** {} {} at {} schedulers: {}",
                f.runtime.name(),
                case.name,
                f.sched,
                why.replace('\n', " / ")
            );
        }
    }

    s.push_str("\n## Cases\n\n| case | schedulers | workload | ops per run | checksum |\n|---|--:|---|--:|--:|\n");
    for case in &r.cases {
        let scheds: Vec<String> = case.schedulers(sweep).iter().map(usize::to_string).collect();
        let scheds = scheds.join(", ");
        let _ = writeln!(s, "| {} | {scheds} | `{:?}` | {} | {} |", case.name, case.kind, case.ops, case.expected);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_formatting() {
        assert_eq!(fmt_ns(1.23456), "1.23");
        assert_eq!(fmt_ns(123.456), "123.5");
        assert_eq!(fmt_ns(12345.6), "12346");
    }

    #[test]
    fn every_table_says_its_scheduler_count() {
        let md = markdown(&crate::results::fabricated());
        let lines: Vec<&str> = md.lines().collect();
        let heads: Vec<&str> = lines.windows(2).filter(|w| w[1].starts_with("|---")).map(|w| w[0]).collect();
        assert_eq!(heads.len(), 5);
        for head in heads {
            assert!(head.contains("| schedulers |") || head.contains("| S=1 |"), "{head}");
        }
        let scaling = md.split("## Scaling").nth(1).unwrap().split("## Memory").next().unwrap();
        assert!(scaling.contains("| skynet | SPAM |") && !scaling.contains("| memory |"));
        assert!(md.contains("| pingpong-across | round trip | 2 |") && md.contains(" †"));
    }
}
