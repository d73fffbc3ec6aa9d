//! The observer's sampler: every interval, the scheduler counters and VM totals become one
//! sample (kept for the charts' history and pushed to the `/api/events` streams).
//!
//! Only the sampler thread reads the VM here; the event streams read rendered samples, so a slow
//! client never holds anything of the VM.

use super::json::Json;
use super::RtRef;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Samples kept: 5 minutes at the default interval.
pub(crate) const HISTORY: usize = 300;

#[derive(Default)]
struct State {
    /// Samples taken so far (the sequence number of the newest).
    seq: u64,
    /// The newest `HISTORY` samples, as JSON objects.
    samples: VecDeque<Arc<str>>,
    /// Each scheduler's utilisation over the last interval.
    utilization: Vec<f64>,
    stop: bool,
}

pub(crate) struct Sampler {
    state: Mutex<State>,
    cond: Condvar,
    pub(crate) interval: Duration,
}

impl Sampler {
    pub(crate) fn new(interval: Duration) -> Sampler {
        Sampler { state: Mutex::default(), cond: Condvar::new(), interval }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        self.cond.notify_all();
    }

    /// Each scheduler's utilisation over the last interval (empty before the first one).
    pub(crate) fn utilization(&self) -> Vec<f64> {
        self.lock().utilization.clone()
    }

    /// `{"interval_ms":..,"samples":[..]}`.
    pub(crate) fn history_json(&self) -> String {
        let st = self.lock();
        let mut out = format!("{{\"interval_ms\":{},\"samples\":[", self.interval.as_millis());
        for (i, s) in st.samples.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(s);
        }
        out.push_str("]}");
        out
    }

    /// The sampler thread's body: one sample per interval until `stop`.
    pub(crate) fn run(&self, rt: RtRef) {
        let rt = rt.get();
        let sched = rt.scheduler();
        // The first sample covers one interval, not the VM's start-up.
        let mut prev = (sched.uptime(), sched.stats().iter().map(|s| s.asleep_ns).collect::<Vec<u64>>());
        let mut next = Instant::now() + self.interval;
        if self.wait_until(next) {
            return;
        }
        loop {
            let stats = sched.stats();
            let now = sched.uptime();
            let asleep: Vec<u64> = stats.iter().map(|s| s.asleep_ns).collect();
            let wall = now.saturating_sub(prev.0).as_nanos().max(1) as f64;
            let utilization: Vec<f64> = asleep
                .iter()
                .zip(&prev.1)
                .map(|(a, b)| (1.0 - a.saturating_sub(*b) as f64 / wall).clamp(0.0, 1.0))
                .collect();
            let c = rt.system_counters();
            let mut j = Json::new();
            j.obj().key("t_ms").uint(now.as_millis() as u64);
            j.key("processes").uint(c.processes as u64).key("spawned").uint(c.spawned).key("exited").uint(c.exited);
            j.key("rss").opt_uint(rss_bytes());
            j.key("schedulers").arr();
            for (s, u) in stats.iter().zip(&utilization) {
                j.obj().key("utilization").frac(*u).key("polls").uint(s.polls);
                j.key("run_queue").uint(s.run_queue as u64).end_obj();
            }
            j.end_arr().end_obj();
            prev = (now, asleep);
            {
                let mut st = self.lock();
                st.seq += 1;
                if st.samples.len() == HISTORY {
                    st.samples.pop_front();
                }
                st.samples.push_back(j.finish().into());
                st.utilization = utilization;
            }
            self.cond.notify_all();
            next += self.interval;
            if self.wait_until(next) {
                return;
            }
        }
    }

    /// Sleeps until `deadline`; `true` if the observer stops meanwhile.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        loop {
            if st.stop {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.cond.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Serves one `/api/events` client until it goes away or the observer stops: the HTTP
    /// head, then one `sample` event per new sample.
    pub(crate) fn stream(&self, mut out: impl Write) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
                    Connection: close\r\n\r\nretry: 2000\n\n";
        if out.write_all(head.as_bytes()).and_then(|()| out.flush()).is_err() {
            return;
        }
        let mut seen = self.lock().seq;
        loop {
            let sample = {
                let mut st = self.lock();
                while st.seq == seen && !st.stop {
                    st = self.cond.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop {
                    return;
                }
                seen = st.seq;
                st.samples.back().cloned()
            };
            let Some(sample) = sample else { continue };
            let event = format!("event: sample\ndata: {sample}\n\n");
            if out.write_all(event.as_bytes()).and_then(|()| out.flush()).is_err() {
                return;
            }
        }
    }
}

/// The resident set of this OS process, where the OS tells it (Linux: `/proc/self/status`).
pub(crate) fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
