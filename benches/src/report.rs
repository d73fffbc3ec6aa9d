//! The markdown report: time per operation side by side, ratios, scaling, memory, failures.

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

/// The time-per-operation table (also printed on the console at the end).
pub fn time_table(r: &Results) -> String {
    let mut s = String::new();
    let mut head = "| case | op | S |".to_string();
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
    for (i, case) in r.cases.iter().enumerate() {
        for sched in r.scheds_of(i) {
            let _ = write!(s, "| {} | {} | {sched} |", case.name, case.op);
            for &rt in &r.runtimes {
                let _ = write!(s, " {} |", time_cell(r, rt, i, sched));
            }
            for &peer in &ratios {
                let _ = write!(s, " {} |", fmt_opt(r.ratio(Runtime::Spam, peer, i, sched), |x| format!("{x:.2}")));
            }
            s.push('\n');
        }
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
         runtime (SPAM root process, tokio driver task, Erlang driver process). S = schedulers \
         (tokio `worker_threads`, `erl +S S:S`). A ratio below 1 means SPAM is faster.\n\n",
    );

    s.push_str("## Time per operation\n\n");
    s.push_str(&time_table(r));

    s.push_str("\n## Scaling: speedup over the smallest scheduler count\n\n");
    let sweep = &r.schedulers;
    let _ = write!(s, "| case | runtime |");
    for n in sweep {
        let _ = write!(s, " S={n} |");
    }
    let _ = writeln!(s, "\n|---|---|{}", "--:|".repeat(sweep.len()));
    for (i, case) in r.cases.iter().enumerate() {
        if r.scheds_of(i).len() < 2 {
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

    s.push_str("\n## Memory\n\n| runtime | bytes per idle process | measured as |\n|---|--:|---|\n");
    for &rt in &r.runtimes {
        let how = match rt {
            Runtime::Erlang => "`process_info(P, memory)` of a process waiting in `receive`",
            Runtime::Spam => "live heap growth ÷ processes waiting in `recv` (counting allocator)",
            Runtime::Tokio => "live heap growth ÷ tasks waiting on a `oneshot` (counting allocator)",
        };
        let _ = writeln!(s, "| {} | {} | {how} |", rt.name(), fmt_opt(r.bytes_per_proc(rt), |b| format!("{b:.0}")));
    }
    s.push_str(
        "\nPeak RSS (MiB) of the whole OS process while a case ran (VmHWM reset before each \
                case; the SPAM and tokio figures share one process, so they include what the \
                allocator kept from earlier cases):\n\n",
    );
    let _ = write!(s, "| case |");
    for rt in &r.runtimes {
        let _ = write!(s, " {} |", rt.name());
    }
    let _ = writeln!(s, "\n|---|{}", "--:|".repeat(r.runtimes.len()));
    for (i, case) in r.cases.iter().enumerate() {
        let _ = write!(s, "| {} |", case.name);
        for &rt in &r.runtimes {
            let mb = r.peak_rss(rt, i).map(|b| b as f64 / (1024.0 * 1024.0));
            let _ = write!(s, " {} |", fmt_opt(mb, |m| format!("{m:.1}")));
        }
        s.push('\n');
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
                "- **FAIL** {} {} S={}: {}",
                f.runtime.name(),
                case.name,
                f.sched,
                why.replace('\n', " / ")
            );
        }
    }

    s.push_str("\n## Cases\n\n| case | workload | ops per run | checksum |\n|---|---|--:|--:|\n");
    for case in &r.cases {
        let _ = writeln!(s, "| {} | `{:?}` | {} | {} |", case.name, case.kind, case.ops, case.expected);
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
}
