//! The Erlang/OTP side: compiles `erlang/spam_bench.erl` (and the gen_server module it calls,
//! `erlang/spam_bench_gen.erl`), runs it under `erl +S N:N`, parses its `RESULT` lines into
//! [`Sample`]s.

use crate::harness::{Plan, Sample};
use crate::suite::Case;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Erlang modules (file name, source), embedded so the binary runs from anywhere.
const SOURCES: &[(&str, &str)] = &[
    ("spam_bench.erl", include_str!("../erlang/spam_bench.erl")),
    ("spam_bench_gen.erl", include_str!("../erlang/spam_bench_gen.erl")),
];

/// Up to this many processes may live at once in `erl` (Skynet and the ring hold over 1M).
const MAX_PROCESSES: &str = "4194304";

/// The compiled `spam_bench` modules and the `erl` to run them with.
pub struct Erlang {
    erl: PathBuf,
    beam_dir: PathBuf,
    /// OTP release and ERTS version, e.g. `OTP 25 (erts 13.1.5)`.
    pub version: String,
}

/// Looks for `erl` and `erlc` on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

impl Erlang {
    /// Compiles the modules into `dir`. `Ok(None)` when Erlang is not installed.
    pub fn setup(dir: &Path) -> Result<Option<Erlang>, String> {
        let (Some(erl), Some(erlc)) = (which("erl"), which("erlc")) else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        for (name, source) in SOURCES {
            let src = dir.join(name);
            std::fs::write(&src, source).map_err(|e| format!("writing {}: {e}", src.display()))?;
            let out =
                Command::new(&erlc).arg("-o").arg(dir).arg(&src).output().map_err(|e| format!("running erlc: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "erlc failed on {}:\n{}{}",
                    src.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let version = Command::new(&erl)
            .args(["-noshell", "-eval"])
            .arg(r#"io:format("OTP ~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt()."#)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Ok(Some(Erlang { erl, beam_dir: dir.to_path_buf(), version }))
    }

    /// Runs `cases` in one `erl +S sched:sched`, calling `report` for each case as its line
    /// arrives (and with an error for each case that never reported).
    pub fn run_batch(
        &self,
        sched: usize,
        cases: &[&Case],
        plan: Plan,
        timeout: Duration,
        mut report: impl FnMut(&Case, Result<Sample, String>),
    ) {
        let mut cmd = Command::new(&self.erl);
        cmd.args(["+S", &format!("{sched}:{sched}"), "+P", MAX_PROCESSES, "-noshell", "-pa"])
            .arg(&self.beam_dir)
            .args(["-run", "spam_bench", "main"])
            .arg(format!("runs={}", plan.runs))
            .arg(format!("warmup={}", plan.warmup))
            .args(cases.iter().map(|c| c.erlang_spec()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                for c in cases {
                    report(c, Err(format!("could not start erl: {e}")));
                }
                return;
            }
        };
        let lines = crate::child_lines::stdout_lines(&mut child);
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });

        let deadline = Instant::now() + timeout;
        let mut pending: Vec<&Case> = cases.to_vec();
        let mut other_output = String::new();
        let mut timed_out = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => match line.strip_prefix("RESULT ") {
                    Some(rest) => {
                        let fields = parse_fields(rest);
                        let name = fields.iter().find(|(k, _)| *k == "name").map(|(_, v)| *v);
                        if let Some(i) = pending.iter().position(|c| Some(c.name.as_str()) == name) {
                            let case = pending.remove(i);
                            report(case, to_sample(&fields, plan));
                        } else {
                            other_output.push_str(&line);
                            other_output.push('\n');
                        }
                    }
                    None => {
                        other_output.push_str(&line);
                        other_output.push('\n');
                    }
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    let _ = child.kill();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait();
        let stderr_text = stderr_reader.join().unwrap_or_default();
        if !pending.is_empty() {
            let why = if timed_out {
                format!("erl timed out after {} s (--timeout)", timeout.as_secs())
            } else {
                match status {
                    Ok(s) => format!("erl exited with {s} before reporting"),
                    Err(e) => format!("erl: {e}"),
                }
            };
            let tail: String = format!("{other_output}{stderr_text}").lines().take(20).collect::<Vec<_>>().join("\n");
            for c in pending {
                report(c, Err(format!("{why}\n{tail}")));
            }
        }
    }
}

/// `key=value` pairs of a RESULT line.
fn parse_fields(s: &str) -> Vec<(&str, &str)> {
    s.split_whitespace().filter_map(|kv| kv.split_once('=')).collect()
}

fn to_sample(fields: &[(&str, &str)], plan: Plan) -> Result<Sample, String> {
    let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let checksum: u64 = match get("checksum") {
        Some(c) => c.parse().map_err(|_| format!("runs disagree on the checksum ({c})"))?,
        None => return Err("RESULT line without checksum".into()),
    };
    let runs_ns: Vec<u64> = get("samples_ns")
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad sample {s}")))
        .collect::<Result<_, _>>()?;
    Ok(Sample {
        runs_ns,
        checksums: vec![checksum; plan.total()],
        peak_rss: get("peak_rss").and_then(|v| v.parse().ok()).filter(|&v| v > 0),
        bytes_per_proc: get("bytes_per_proc").and_then(|v| v.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_result_line() {
        let f = parse_fields("name=fib sched=2 checksum=610 samples_ns=3,1,2 peak_rss=4096 bytes_per_proc=2640");
        let s = to_sample(&f, Plan { warmup: 1, runs: 3 }).unwrap();
        assert_eq!(s.runs_ns, vec![3, 1, 2]);
        assert_eq!(s.median_ns(), 2);
        assert_eq!(s.checksums, vec![610; 4]);
        assert_eq!(s.bytes_per_proc, Some(2640.0));
        let bad = parse_fields("name=fib checksum=inconsistent samples_ns=1");
        assert!(to_sample(&bad, Plan { warmup: 0, runs: 1 }).is_err());
    }
}
