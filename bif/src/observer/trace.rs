//! Tracing from the page: the observer's tracer is an ordinary SPAM process that keeps the last
//! events of each traced process for `GET /api/trace/PID`.

use super::api::{Query, Reply};
use super::json::Json;
use spam_vm::{Pid, Runtime, SpawnOpts, Trace, TraceEvent, TraceFlags};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tiny_http::Method;

/// Events kept per traced process.
const KEEP: usize = 200;
/// Processes whose events are kept; the one traced longest ago is forgotten first.
const KEEP_PIDS: usize = 64;

/// The observer's tracer and what it collected.
#[derive(Default)]
pub(crate) struct Traces {
    tracer: Mutex<Option<Pid>>,
    events: Arc<Mutex<Events>>,
}

#[derive(Default)]
struct Events {
    by_pid: HashMap<Pid, VecDeque<TraceEvent>>,
    /// Pids in the order their tracing started (for forgetting).
    order: VecDeque<Pid>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Traces {
    /// The tracer process, spawned on first use (and again if it died).
    fn tracer(&self, rt: &Runtime) -> Option<Pid> {
        let mut t = lock(&self.tracer);
        if let Some(p) = *t {
            if rt.is_alive(p) {
                return Some(p);
            }
        }
        let events = self.events.clone();
        let body = async move {
            crate::set_label("spam observer tracer");
            loop {
                let e: TraceEvent = crate::recv().await;
                let mut ev = lock(&events);
                if let Some(q) = ev.by_pid.get_mut(&e.pid) {
                    if q.len() == KEEP {
                        q.pop_front();
                    }
                    q.push_back(e);
                }
            }
        };
        *t = rt.spawn(None, body, SpawnOpts::new()).ok().map(|(p, _)| p);
        *t
    }

    fn start(&self, pid: Pid) {
        let mut ev = lock(&self.events);
        if !ev.by_pid.contains_key(&pid) {
            if ev.order.len() == KEEP_PIDS {
                if let Some(old) = ev.order.pop_front() {
                    ev.by_pid.remove(&old);
                }
            }
            ev.order.push_back(pid);
            ev.by_pid.insert(pid, VecDeque::new());
        }
    }
}

pub(crate) fn handle(rt: &Runtime, traces: &Traces, method: &Method, pid: Pid, q: &Query<'_>) -> Reply {
    match method {
        Method::Post => {
            let flags = match q.get("flags") {
                None => TraceFlags::ALL,
                Some(f) => match TraceFlags::from_names(&f) {
                    Some(f) => f,
                    None => return Reply::error(400, "unknown trace flag"),
                },
            };
            let Some(tracer) = traces.tracer(rt) else {
                return Reply::error(503, "cannot spawn the tracer process");
            };
            traces.start(pid);
            if !rt.trace(pid, flags, tracer) {
                return Reply::error(404, "noproc");
            }
            Reply::json(200, flags_json(pid, flags))
        }
        Method::Delete => {
            if !rt.trace(pid, TraceFlags::empty(), Pid::UNDEFINED) {
                return Reply::error(404, "noproc");
            }
            Reply::json(200, flags_json(pid, TraceFlags::empty()))
        }
        Method::Get => {
            let mut j = Json::new();
            j.obj().key("pid").display(pid).key("active").bool(rt.trace_info(pid).is_some());
            j.key("events").arr();
            let now = (Instant::now(), rt.scheduler().uptime());
            if let Some(q) = lock(&traces.events).by_pid.get(&pid) {
                for e in q {
                    event_json(&mut j, e, now);
                }
            }
            j.end_arr().end_obj();
            Reply::json(200, j.finish())
        }
        _ => Reply::error(405, "method not allowed"),
    }
}

fn flags_json(pid: Pid, flags: TraceFlags) -> String {
    let mut j = Json::new();
    j.obj().key("pid").display(pid).key("flags").display_arr(flags.names()).end_obj();
    j.finish()
}

/// `{"flags":[..],"tracer":PID}` or `null`, for `/api/process/PID`.
pub(crate) fn info_json(rt: &Runtime, pid: Pid, j: &mut Json) {
    match rt.trace_info(pid) {
        Some((flags, tracer)) => {
            j.obj().key("flags").display_arr(flags.names()).key("tracer").display(tracer).end_obj();
        }
        None => {
            j.null();
        }
    }
}

/// One event; `now` is (the instant, the VM's uptime then), to express `at` as `t_ms`.
fn event_json(j: &mut Json, e: &TraceEvent, now: (Instant, std::time::Duration)) {
    let t = now.1.saturating_sub(now.0.saturating_duration_since(e.at));
    j.obj().key("t_ms").uint(t.as_millis() as u64).key("event").str(e.event.name());
    match &e.event {
        Trace::Send { to, msg } | Trace::SendToNonExisting { to, msg } => {
            j.key("to").display(to).key("msg").str(msg);
        }
        Trace::Receive { msg } => {
            j.key("msg").str(msg);
        }
        Trace::Spawn { child } => {
            j.key("pid").display(child);
        }
        Trace::Spawned { parent } => {
            j.key("parent").display(parent);
        }
        Trace::Exit { reason } => {
            j.key("reason").display(reason);
        }
        Trace::Register { name } | Trace::Unregister { name } => {
            j.key("name").str(name);
        }
        Trace::Link { other }
        | Trace::Unlink { other }
        | Trace::GettingLinked { other }
        | Trace::GettingUnlinked { other } => {
            j.key("pid").display(other);
        }
        Trace::Monitor { target, mref } => {
            j.key("pid").display(target).key("ref").display(mref);
        }
        Trace::Demonitor { mref } => {
            j.key("ref").display(mref);
        }
    }
    j.end_obj();
}
