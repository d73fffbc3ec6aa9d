//! The observer's routes: each request becomes a status and a body, computed from the VM
//! (the shapes are documented in `docs/observer.md`).

use super::json::Json;
use super::Shared;
use spam_vm::{Pid, ProcessSummary, Runtime};
use tiny_http::Method;

/// The page, embedded: one file with its script and styles inline.
const PAGE: &str = include_str!("page.html");

/// Rows `/api/processes` returns at most.
const MAX_LIMIT: usize = 10_000;

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: String) -> Reply {
        Reply { status, content_type: "application/json; charset=utf-8", body: body.into_bytes() }
    }
    pub(crate) fn error(status: u16, what: &str) -> Reply {
        let mut j = Json::new();
        j.obj().key("error").str(what).end_obj();
        Reply::json(status, j.finish())
    }
}

pub(crate) fn handle(rt: &Runtime, shared: &Shared, method: &Method, url: &str) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let query = Query(query);
    let get = *method == Method::Get;
    match path {
        "/" | "/index.html" if get => {
            Reply { status: 200, content_type: "text/html; charset=utf-8", body: PAGE.as_bytes().to_vec() }
        }
        "/api/system" if get => Reply::json(200, system(rt)),
        "/api/processes" if get => match processes(rt, &query) {
            Ok(body) => Reply::json(200, body),
            Err(e) => Reply::error(400, &e),
        },
        "/api/schedulers" if get => Reply::json(200, schedulers(rt, shared)),
        "/api/history" if get => Reply::json(200, shared.sampler.history_json()),
        "/api/supervision" if get => Reply::json(200, supervision(rt)),
        _ => {
            if let Some(p) = path.strip_prefix("/api/process/") {
                if !get {
                    return Reply::error(405, "method not allowed");
                }
                return match parse_pid(p) {
                    Some(pid) => match process(rt, pid) {
                        Some(body) => Reply::json(200, body),
                        None => Reply::error(404, "noproc"),
                    },
                    None => Reply::error(400, "not a pid"),
                };
            }
            if let Some(p) = path.strip_prefix("/api/trace/") {
                return match parse_pid(p) {
                    Some(pid) => super::trace::handle(rt, &shared.traces, method, pid, &query),
                    None => Reply::error(400, "not a pid"),
                };
            }
            match path {
                "/" | "/index.html" | "/api/system" | "/api/processes" | "/api/schedulers" | "/api/history"
                | "/api/supervision" => Reply::error(405, "method not allowed"),
                _ => Reply::error(404, "no such path"),
            }
        }
    }
}

/// `0.I.S`, `<0.I.S>` or its percent-encoded form.
fn parse_pid(s: &str) -> Option<Pid> {
    percent_decode(s).parse().ok()
}

/// A URL query string.
pub(crate) struct Query<'a>(&'a str);

impl Query<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.0.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k) == key).then(|| percent_decode(v))
        })
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(if c == b'+' { b' ' } else { c });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn system(rt: &Runtime) -> String {
    let c = rt.system_counters();
    let mut memory = 0usize;
    rt.for_each_process(|s| memory += s.memory);
    let mut j = Json::new();
    j.obj().key("version").str(env!("CARGO_PKG_VERSION"));
    j.key("schedulers").uint(rt.scheduler().workers() as u64);
    j.key("uptime_ms").uint(c.uptime.as_millis() as u64);
    j.key("processes").uint(c.processes as u64).key("max_processes").uint(c.max_processes as u64);
    j.key("spawned").uint(c.spawned).key("exited").uint(c.exited);
    j.key("registered").uint(rt.registered_count() as u64);
    j.key("observer_interval_ms").uint(super::INTERVAL.as_millis() as u64);
    j.key("memory").obj().key("processes").uint(memory as u64).key("rss").opt_uint(super::sampler::rss_bytes());
    j.end_obj().end_obj();
    j.finish()
}

/// What `/api/processes` sorts by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Pid,
    Name,
    Status,
    Queue,
    Reductions,
    Memory,
    Links,
    Monitors,
}

impl SortKey {
    const ALL: [(&'static str, SortKey); 8] = [
        ("pid", SortKey::Pid),
        ("name", SortKey::Name),
        ("status", SortKey::Status),
        ("queue", SortKey::Queue),
        ("reductions", SortKey::Reductions),
        ("memory", SortKey::Memory),
        ("links", SortKey::Links),
        ("monitors", SortKey::Monitors),
    ];

    fn parse(s: &str) -> Option<SortKey> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|&(_, k)| k)
    }

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, k)| *k == self).map_or("pid", |&(n, _)| n)
    }

    /// The numeric key (`Name` sorts by text, separately).
    fn number(self, s: &ProcessSummary) -> u64 {
        match self {
            SortKey::Pid | SortKey::Name => s.pid.to_bits().rotate_left(32), // index first
            SortKey::Status => s.status as u64,
            SortKey::Queue => s.message_queue_len as u64,
            SortKey::Reductions => s.reductions,
            SortKey::Memory => s.memory as u64,
            SortKey::Links => s.links as u64,
            SortKey::Monitors => (s.monitors + s.monitored_by) as u64,
        }
    }
}

fn processes(rt: &Runtime, q: &Query<'_>) -> Result<String, String> {
    let key = match q.get("sort") {
        None => SortKey::Pid,
        Some(s) => SortKey::parse(&s).ok_or_else(|| format!("unknown sort key {s:?}"))?,
    };
    let desc = match q.get("order").as_deref() {
        None => !matches!(key, SortKey::Pid | SortKey::Name),
        Some("desc") => true,
        Some("asc") => false,
        Some(o) => return Err(format!("order must be asc or desc, not {o:?}")),
    };
    let number = |k: &str, default: usize| -> Result<usize, String> {
        q.get(k).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{k} must be a number")))
    };
    let limit = number("limit", 100)?.min(MAX_LIMIT);
    let offset = number("offset", 0)?;
    let filter = q.get("name").filter(|f| !f.is_empty()).map(|f| f.to_lowercase());
    let keep = |s: &ProcessSummary| match &filter {
        None => true,
        Some(f) => {
            [&s.registered_name, &s.label].iter().any(|n| n.as_deref().is_some_and(|n| n.to_lowercase().contains(f)))
        }
    };
    // One pass keeping only (key, pid); then only the returned rows are read in full.
    let page = if key == SortKey::Name {
        // Named processes by name, then the unnamed ones (most, and all equal by name) by pid:
        // apart, so a million unnamed processes cost no string comparison.
        let (mut named, mut unnamed) = (Vec::new(), Vec::new());
        rt.for_each_process(|s| {
            if keep(s) {
                let order = s.pid.to_bits().rotate_left(32);
                match s.registered_name.clone().or_else(|| s.label.clone()) {
                    Some(name) => named.push((name, order, s.pid)),
                    None => unnamed.push(((), order, s.pid)),
                }
            }
        });
        let skipped = named.len();
        let mut page = select(named, desc, offset, limit);
        let rest = select(unnamed, false, offset.saturating_sub(skipped), limit - page.pids.len());
        page.total += rest.total;
        page.pids.extend(rest.pids);
        page
    } else {
        let mut items = Vec::new();
        rt.for_each_process(|s| {
            if keep(s) {
                items.push((key.number(s), s.pid.to_bits().rotate_left(32), s.pid));
            }
        });
        select(items, desc, offset, limit)
    };
    let mut j = Json::new();
    j.obj().key("total").uint(page.total as u64).key("offset").uint(offset as u64);
    j.key("limit").uint(limit as u64).key("sort").str(key.name()).key("order").str(if desc { "desc" } else { "asc" });
    j.key("processes").arr();
    for pid in page.pids {
        if let Some(s) = rt.process_summary(pid) {
            summary_json(&mut j, &s);
        }
    }
    j.end_arr().end_obj();
    Ok(j.finish())
}

struct Page {
    total: usize,
    pids: Vec<Pid>,
}

/// The `[offset, offset + limit)` window of `items` sorted by key (ties by pid, ascending),
/// without sorting the rest: a selection, then a sort of the window's prefix.
fn select<K: Ord>(mut items: Vec<(K, u64, Pid)>, desc: bool, offset: usize, limit: usize) -> Page {
    let total = items.len();
    let cmp = |a: &(K, u64, Pid), b: &(K, u64, Pid)| {
        let by_key = if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
        by_key.then(a.1.cmp(&b.1))
    };
    let end = offset.saturating_add(limit).min(total);
    if end < total && end > 0 {
        items.select_nth_unstable_by(end - 1, cmp);
        items.truncate(end);
    }
    items.sort_unstable_by(cmp);
    let pids = items.into_iter().skip(offset).take(limit).map(|(_, _, p)| p).collect();
    Page { total, pids }
}

fn summary_json(j: &mut Json, s: &ProcessSummary) {
    j.obj().key("pid").display(s.pid).key("name").opt_str(s.registered_name.as_deref());
    j.key("label").opt_str(s.label.as_deref()).key("behaviour").opt_str(s.behaviour);
    j.key("status").str(s.status.as_str()).key("message_queue_len").uint(s.message_queue_len as u64);
    j.key("reductions").uint(s.reductions).key("memory").uint(s.memory as u64);
    j.key("links").uint(s.links as u64).key("monitors").uint(s.monitors as u64);
    j.key("monitored_by").uint(s.monitored_by as u64).key("trap_exit").bool(s.trap_exit);
    j.key("scheduler").opt_uint(s.scheduler.map(|w| w as u64)).end_obj();
}

fn process(rt: &Runtime, pid: Pid) -> Option<String> {
    let i = rt.process_info(pid)?;
    let mut j = Json::new();
    j.obj().key("pid").display(i.pid).key("name").opt_str(i.registered_name.as_deref());
    j.key("label").opt_str(i.label.as_deref()).key("behaviour").opt_str(i.behaviour);
    j.key("status").str(i.status.as_str()).key("message_queue_len").uint(i.message_queue_len as u64);
    j.key("reductions").uint(i.reductions).key("memory").uint(i.memory as u64);
    j.key("trap_exit").bool(i.trap_exit).key("scheduler").opt_uint(i.scheduler.map(|w| w as u64));
    j.key("links").display_arr(&i.links);
    j.key("monitors").arr();
    for (r, p) in &i.monitors {
        j.obj().key("ref").display(r).key("pid").display(p).end_obj();
    }
    j.end_arr();
    j.key("monitored_by").display_arr(&i.monitored_by);
    j.key("parent").opt_display(i.parent);
    j.key("trace");
    super::trace::info_json(rt, pid, &mut j);
    j.end_obj();
    Some(j.finish())
}

fn schedulers(rt: &Runtime, shared: &Shared) -> String {
    let sched = rt.scheduler();
    let util = shared.sampler.utilization();
    let mut j = Json::new();
    j.obj().key("interval_ms").uint(shared.sampler.interval.as_millis() as u64);
    j.key("injector").uint(sched.injector_len() as u64).key("schedulers").arr();
    for (id, s) in sched.stats().iter().enumerate() {
        j.obj().key("id").uint(id as u64).key("utilization").frac(util.get(id).copied().unwrap_or(0.0));
        j.key("polls").uint(s.polls).key("lifo_polls").uint(s.lifo_polls).key("steals").uint(s.steals);
        j.key("steal_attempts").uint(s.steal_attempts).key("parks").uint(s.parks);
        j.key("injector_pops").uint(s.injector_pops).key("run_queue").uint(s.run_queue as u64);
        j.key("sleeping").bool(s.sleeping).end_obj();
    }
    j.end_arr().end_obj();
    j.finish()
}

/// The supervision trees: supervisors, their linked children less their parent, nested.
fn supervision(rt: &Runtime) -> String {
    let mut sups = Vec::new();
    rt.for_each_process(|s| {
        if s.behaviour == Some("supervisor") {
            sups.push(s.pid);
        }
    });
    let infos: std::collections::HashMap<Pid, spam_vm::ProcessInfo> =
        sups.iter().filter_map(|&p| rt.process_info(p).map(|i| (p, i))).collect();
    let is_sup = |p: Option<Pid>| p.is_some_and(|p| infos.contains_key(&p));
    let mut roots: Vec<Pid> = infos.values().filter(|i| !is_sup(i.parent)).map(|i| i.pid).collect();
    roots.sort_unstable();
    let mut j = Json::new();
    j.obj().key("trees").arr();
    let mut seen = std::collections::HashSet::new();
    for root in roots {
        tree_json(rt, &infos, root, &mut seen, &mut j);
    }
    j.end_arr().end_obj();
    j.finish()
}

fn tree_json(
    rt: &Runtime,
    sups: &std::collections::HashMap<Pid, spam_vm::ProcessInfo>,
    pid: Pid,
    seen: &mut std::collections::HashSet<Pid>,
    j: &mut Json,
) {
    if !seen.insert(pid) {
        return; // a link cycle between supervisors: each appears once
    }
    let Some(s) = rt.process_summary(pid) else { return };
    j.obj().key("pid").display(pid).key("name").opt_str(s.registered_name.as_deref());
    j.key("behaviour").opt_str(s.behaviour).key("label").opt_str(s.label.as_deref());
    j.key("children").arr();
    if let Some(info) = sups.get(&pid) {
        for &child in &info.links {
            if Some(child) != info.parent {
                tree_json(rt, sups, child, seen, j);
            }
        }
    }
    j.end_arr().end_obj();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_pids_are_percent_decoded() {
        let q = Query("sort=queue&name=db%20pool+2&x");
        assert_eq!(q.get("sort").as_deref(), Some("queue"));
        assert_eq!(q.get("name").as_deref(), Some("db pool 2"));
        assert_eq!(q.get("x").as_deref(), Some(""));
        assert_eq!(q.get("limit"), None);
        assert_eq!(percent_decode("%3C0.5.1%3E%zz%4"), "<0.5.1>%zz%4");
        assert_eq!(parse_pid("%3C0.5.1%3E"), parse_pid("0.5.1"));
        assert!(parse_pid("0.5").is_none());
    }

    #[test]
    fn select_returns_the_window_in_order_with_ties_by_pid() {
        let pid = |i: u32| -> Pid { format!("<0.{i}.0>").parse().unwrap() };
        let items: Vec<(u64, u64, Pid)> = (0..10u32).map(|i| ((i % 3) as u64, i as u64, pid(i))).collect();
        let page = select(items.clone(), true, 0, 4);
        assert_eq!(page.total, 10);
        assert_eq!(page.pids, vec![pid(2), pid(5), pid(8), pid(1)]);
        let page = select(items.clone(), false, 3, 3);
        assert_eq!(page.pids, vec![pid(9), pid(1), pid(4)]);
        assert!(select(items, false, 20, 5).pids.is_empty());
    }
}
