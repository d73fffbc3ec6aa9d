//! The observer's JSON API (`docs/observer.md`), checked against `process_info` and the VM's own
//! counters: a VM with the observer on `127.0.0.1:0`, queried over HTTP from the test thread.
mod common;

use common::{within, Worker};
use serde_json::Value;
use spam::supervisor::{self, ChildSpec, Strategy, SupFlags};
use spam::{Pid, ProcessInfo, Vm};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the observer");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read the answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    (status, body.to_string())
}

/// As [`http`], `None` where the connection fails or is cut (the VM is being dropped).
fn try_http(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

fn observed_vm() -> (Vm, SocketAddr) {
    let vm = Vm::builder().schedulers(2).observer("127.0.0.1:0").build();
    let addr = vm.observer_addr().expect("the observer is on");
    (vm, addr)
}

fn pid_str(p: Pid) -> String {
    p.to_string()
}

fn path_of(p: Pid) -> String {
    format!("0.{}.{}", p.index(), p.serial())
}

/// The fields `/api/processes` and `/api/process/PID` share, compared with `process_info`.
fn assert_summary_matches(row: &Value, info: &ProcessInfo) {
    assert_eq!(row["pid"], pid_str(info.pid));
    assert_eq!(row["name"].as_str(), info.registered_name.as_deref(), "name of {}", info.pid);
    assert_eq!(row["label"].as_str(), info.label.as_deref(), "label of {}", info.pid);
    assert_eq!(row["behaviour"].as_str(), info.behaviour, "behaviour of {}", info.pid);
    assert_eq!(row["message_queue_len"], info.message_queue_len, "queue of {}", info.pid);
    assert_eq!(row["trap_exit"], info.trap_exit, "trap_exit of {}", info.pid);
    assert_eq!(row["memory"], info.memory, "memory of {}", info.pid);
    assert_eq!(row["reductions"], info.reductions, "reductions of {}", info.pid);
}

/// A process that leaves strings sent to it in its queue, traps exits if asked, and answers
/// each ping `(from, n)` with `n` (so the test knows its queue is drained).
async fn holder(trap: bool) {
    spam::trap_exit(trap);
    loop {
        let (from, n): (Pid, u64) = spam::recv().await;
        spam::send(from, n);
    }
}

/// Pings `p` and waits for its answer.
async fn ping(p: Pid, n: u64) {
    spam::send(p, (spam::self_pid(), n));
    assert_eq!(spam::recv::<u64>().await, n);
}

/// Spawns the scenario's processes (all waiting in a receive when it returns): a registered,
/// labelled process with 3 strings queued, linked to a trapping one that monitors it.
fn scenario(vm: &Vm) -> (Pid, Pid) {
    vm.block_on(async {
        let a = spam::spawn(holder(false));
        let b = spam::spawn(async move {
            let (from, a): (Pid, Pid) = spam::recv().await;
            spam::link(a).unwrap();
            spam::monitor(a);
            spam::send(from, ());
            holder(true).await
        });
        spam::register_pid("holder", a).unwrap();
        for s in ["x", "y", "z"] {
            spam::send(a, s);
        }
        spam::send(b, (spam::self_pid(), a));
        let () = spam::recv().await; // b linked and monitored
        ping(a, 0).await; // a has handled the link and monitor since
        ping(b, 1).await;
        (a, b)
    })
}

#[test]
fn observer_is_off_unless_asked_for() {
    if std::env::var_os("SPAM_OBSERVER").is_none() {
        assert_eq!(Vm::builder().schedulers(1).build().observer_addr(), None);
    }
    let (_vm, addr) = observed_vm();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0, "the bound port, not the requested 0");
}

#[test]
fn system_counts_match_the_vm() {
    within(60, "system", || {
        let (vm, addr) = observed_vm();
        let (a, _) = scenario(&vm);
        let sys = get(addr, "/api/system");
        assert_eq!(sys["schedulers"], 2);
        assert_eq!(sys["processes"], vm.process_count());
        assert!(sys["spawned"].as_u64().unwrap() >= 3, "{sys}"); // root, a, b
        assert_eq!(
            sys["spawned"].as_u64().unwrap() - sys["exited"].as_u64().unwrap(),
            sys["processes"].as_u64().unwrap()
        );
        assert_eq!(sys["registered"], 1);
        let a_mem = vm.process_info(a).unwrap().memory as u64;
        assert!(sys["memory"]["processes"].as_u64().unwrap() >= a_mem, "{sys}");
        assert_eq!(sys["version"], env!("CARGO_PKG_VERSION"));
    });
}

#[test]
fn processes_rows_match_process_info() {
    within(60, "processes", || {
        let (vm, addr) = observed_vm();
        let (a, b) = scenario(&vm);
        let list = get(addr, "/api/processes");
        let rows = list["processes"].as_array().unwrap();
        assert_eq!(list["total"], rows.len());
        assert_eq!(list["sort"], "pid");
        for pid in [a, b] {
            let row = rows.iter().find(|r| r["pid"] == pid_str(pid)).expect("both processes listed");
            let info = vm.process_info(pid).unwrap();
            assert_summary_matches(row, &info);
            assert_eq!(row["links"], info.links.len());
            assert_eq!(row["monitors"], info.monitors.len());
            assert_eq!(row["monitored_by"], info.monitored_by.len());
            assert_eq!(row["status"], "waiting");
            assert_eq!(row["scheduler"], Value::Null);
        }
        let row_a = rows.iter().find(|r| r["pid"] == pid_str(a)).unwrap();
        assert_eq!(row_a["message_queue_len"], 3);
        assert_eq!(row_a["name"], "holder");
        // Slot order, as Erlang's processes() lists them.
        let order: Vec<u64> =
            rows.iter().map(|r| r["pid"].as_str().unwrap().parse::<Pid>().unwrap().index() as u64).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    });
}

#[test]
fn process_json_is_process_info_in_full() {
    within(60, "process", || {
        let (vm, addr) = observed_vm();
        let (a, b) = scenario(&vm);
        for pid in [a, b] {
            let p = get(addr, &format!("/api/process/{}", path_of(pid)));
            let info = vm.process_info(pid).unwrap();
            assert_summary_matches(&p, &info);
            let links: Vec<String> = info.links.iter().map(|p| p.to_string()).collect();
            assert_eq!(p["links"], serde_json::json!(links));
            let monitors: Vec<Value> = info
                .monitors
                .iter()
                .map(|(r, p)| serde_json::json!({"ref": r.to_string(), "pid": p.to_string()}))
                .collect();
            assert_eq!(p["monitors"], Value::Array(monitors));
            let by: Vec<String> = info.monitored_by.iter().map(|p| p.to_string()).collect();
            assert_eq!(p["monitored_by"], serde_json::json!(by));
            assert_eq!(p["trace"], Value::Null);
        }
        let pb = get(addr, &format!("/api/process/{}", path_of(b)));
        assert_eq!(pb["links"], serde_json::json!([a.to_string()]));
        assert_eq!(pb["trap_exit"], true);
        // The `<0.I.S>` form, percent-encoded, names the same process.
        let enc = format!("/api/process/%3C0.{}.{}%3E", a.index(), a.serial());
        assert_eq!(get(addr, &enc)["pid"], pid_str(a));
    });
}

#[test]
fn processes_sort_limit_offset_and_filter() {
    within(60, "sort", || {
        let (vm, addr) = observed_vm();
        // Five labelled processes with 0..5 messages queued (each drained: see `holder`).
        let pids = vm.block_on(async {
            let mut pids = Vec::new();
            for i in 0..5u64 {
                let p = spam::spawn(async move {
                    spam::set_label(format!("Sorted-{i}"));
                    holder(false).await
                });
                for _ in 0..i {
                    spam::send(p, "queued");
                }
                ping(p, i).await;
                pids.push(p);
            }
            pids
        });
        let list = get(addr, "/api/processes?sort=queue&limit=3");
        assert_eq!(list["order"], "desc");
        let got: Vec<&str> = list["processes"].as_array().unwrap().iter().map(|r| r["pid"].as_str().unwrap()).collect();
        let want: Vec<String> = pids.iter().rev().take(3).map(|p| p.to_string()).collect();
        assert_eq!(got, want);
        let list = get(addr, "/api/processes?sort=queue&order=asc&name=sorted&offset=1&limit=2");
        assert_eq!(list["total"], 5, "the filter is case-insensitive, on the label");
        let got: Vec<&str> =
            list["processes"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
        assert_eq!(got, ["Sorted-1", "Sorted-2"]);
        // By name: the named (here, labelled) ones in order, then the unnamed ones by pid.
        let list = get(addr, "/api/processes?sort=name&limit=1000");
        let names: Vec<Option<&str>> =
            list["processes"].as_array().unwrap().iter().map(|r| r["name"].as_str().or(r["label"].as_str())).collect();
        let named = names.iter().take_while(|n| n.is_some()).count();
        assert_eq!(named, 5, "{names:?}");
        assert!(names[..named].windows(2).all(|w| w[0] <= w[1]), "{names:?}");
        assert!(names[named..].iter().all(Option::is_none), "{names:?}");
        let desc = get(addr, "/api/processes?sort=name&order=desc&limit=1");
        assert_eq!(desc["processes"][0]["label"], "Sorted-4");
        let list = get(addr, "/api/processes?sort=name&name=Sorted-3");
        assert_eq!(list["total"], 1);
        assert_eq!(list["processes"][0]["pid"], pids[3].to_string());
        for bad in ["sort=colour", "order=up", "limit=many"] {
            let (status, body) = http(addr, "GET", &format!("/api/processes?{bad}"));
            assert_eq!(status, 400, "{bad}: {body}");
        }
    });
}

#[test]
fn errors_are_typed_json() {
    within(60, "errors", || {
        let (vm, addr) = observed_vm();
        let dead = vm.block_on(async {
            let (p, m) = spam::spawn_monitor(async {});
            let _: spam::Down = spam::recv_match(move |d: &spam::Down| d.monitor == m).await;
            p
        });
        let cases = [
            ("GET", format!("/api/process/{}", path_of(dead)), 404, "noproc"),
            ("GET", "/api/process/zero".to_string(), 400, "not a pid"),
            ("GET", "/api/nothing".to_string(), 404, "no such path"),
            ("POST", "/api/system".to_string(), 405, "method not allowed"),
            ("POST", format!("/api/trace/{}", path_of(dead)), 404, "noproc"),
            ("POST", "/api/trace/0.0.0?flags=everything".to_string(), 400, "unknown trace flag"),
        ];
        for (method, path, status, error) in cases {
            let (got, body) = http(addr, method, &path);
            assert_eq!(got, status, "{method} {path}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["error"], error, "{method} {path}");
        }
    });
}

#[test]
fn schedulers_report_each_scheduler_and_history_fills() {
    within(60, "schedulers", || {
        let (vm, addr) = observed_vm();
        vm.block_on(async {});
        let s = get(addr, "/api/schedulers");
        let list = s["schedulers"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        let stats = vm.scheduler_stats();
        for (i, w) in list.iter().enumerate() {
            assert_eq!(w["id"], i);
            // Counters only grow: the answer lies between two snapshots.
            let u = w["utilization"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&u), "{w}");
            for k in ["lifo_polls", "steals", "steal_attempts", "parks", "injector_pops", "run_queue"] {
                assert!(w[k].is_u64(), "{k} in {w}");
            }
            assert!(w["sleeping"].is_boolean());
        }
        let total: u64 = list.iter().map(|w| w["polls"].as_u64().unwrap()).sum();
        assert!(total >= stats.iter().map(|s| s.polls).sum::<u64>(), "counters are totals since start");
        // The history gets one sample per interval (the watchdog bounds the wait).
        let samples = loop {
            let h = get(addr, "/api/history");
            let samples = h["samples"].as_array().unwrap().clone();
            if samples.len() >= 2 {
                break samples;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let t: Vec<u64> = samples.iter().map(|s| s["t_ms"].as_u64().unwrap()).collect();
        assert!(t.windows(2).all(|w| w[0] < w[1]), "{t:?}");
        assert_eq!(samples[0]["schedulers"].as_array().unwrap().len(), 2);
    });
}

#[test]
fn events_stream_sends_one_sample_per_interval() {
    within(60, "events", || {
        let (_vm, addr) = observed_vm();
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut content_type = String::new();
        let mut samples = Vec::new();
        while samples.len() < 2 {
            line.clear();
            assert!(r.read_line(&mut line).unwrap() > 0, "the stream ended");
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-type:") {
                content_type = v.trim().to_string();
            }
            if let Some(data) = line.strip_prefix("data: ") {
                samples.push(serde_json::from_str::<Value>(data).expect("one JSON sample per data line"));
            }
        }
        assert_eq!(content_type, "text/event-stream");
        assert!(samples[1]["t_ms"].as_u64() > samples[0]["t_ms"].as_u64());
        for k in ["processes", "spawned", "exited"] {
            assert!(samples[1][k].is_u64(), "{k}");
        }
    });
}

#[test]
fn supervision_tree_is_built_from_supervisors_and_their_links() {
    within(60, "supervision", || {
        let (vm, addr) = observed_vm();
        let (top, inner) = vm.block_on(async {
            let w = |id: &'static str| ChildSpec::gen_server::<Worker>(id, ());
            let flags = SupFlags::new(Strategy::OneForOne);
            let top =
                supervisor::start_link(flags, vec![w("a"), ChildSpec::supervisor_of("inner", flags, vec![w("b")])])
                    .await
                    .unwrap();
            let inner =
                top.which_children().await.unwrap().into_iter().find(|c| c.id.as_deref() == Some("inner")).unwrap();
            let inner = match inner.pid {
                supervisor::ChildPid::Running(p) => p,
                other => panic!("inner not running: {other:?}"),
            };
            let top = top.pid().expect("a pid supervisor");
            spam::unlink(top); // keep the tree when the root process returns
            (top, inner)
        });
        let trees = get(addr, "/api/supervision");
        let trees = trees["trees"].as_array().unwrap();
        assert_eq!(trees.len(), 1, "{trees:?}");
        let root = &trees[0];
        assert_eq!(root["pid"], top.to_string());
        assert_eq!(root["behaviour"], "supervisor");
        let kids = root["children"].as_array().unwrap();
        assert_eq!(kids.len(), 2, "{root}");
        let inner_node = kids.iter().find(|k| k["pid"] == inner.to_string()).expect("the nested supervisor");
        assert_eq!(inner_node["behaviour"], "supervisor");
        let grandkids = inner_node["children"].as_array().unwrap();
        assert_eq!(grandkids.len(), 1);
        assert_eq!(grandkids[0]["behaviour"], "gen_server");
        let info = vm.process_info(inner).unwrap();
        assert_eq!(info.parent, Some(top));
        let p = get(addr, &format!("/api/process/{}", path_of(inner)));
        assert_eq!(p["parent"], top.to_string());
    });
}

#[test]
fn tracing_from_the_api_collects_the_process_events() {
    within(60, "trace", || {
        let (vm, addr) = observed_vm();
        let (a, b) = scenario(&vm);
        let started = get_with(addr, "POST", &format!("/api/trace/{}?flags=send,receive", path_of(a)));
        assert_eq!(started["flags"], serde_json::json!(["send", "receive"]));
        let p = get(addr, &format!("/api/process/{}", path_of(a)));
        assert_eq!(p["trace"]["flags"], serde_json::json!(["send", "receive"]));
        // a gets a ping and answers it: one receive, one send.
        vm.block_on(ping(a, 7));
        let events = loop {
            let t = get(addr, &format!("/api/trace/{}", path_of(a)));
            assert_eq!(t["active"], true);
            let ev = t["events"].as_array().unwrap().clone();
            if ev.len() >= 2 {
                break ev;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(events[0]["event"], "receive");
        assert_eq!(events[0]["msg"], std::any::type_name::<(Pid, u64)>());
        assert_eq!(events[1]["event"], "send");
        assert_eq!(events[1]["msg"], "u64");
        let stopped = get_with(addr, "DELETE", &format!("/api/trace/{}", path_of(a)));
        assert_eq!(stopped["flags"], serde_json::json!([]));
        assert_eq!(vm.process_info(a).map(|i| i.pid), Some(a));
        assert_eq!(get(addr, &format!("/api/process/{}", path_of(a)))["trace"], Value::Null);
        let _ = b;
    });
}

fn get_with(addr: SocketAddr, method: &str, path: &str) -> Value {
    let (status, body) = http(addr, method, path);
    assert_eq!(status, 200, "{method} {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn page_is_served_and_self_contained() {
    let (_vm, addr) = observed_vm();
    let (status, page) = http(addr, "GET", "/");
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "an HTML page");
    // Nothing fetched from outside the VM: no absolute URL in src/href/fetch/EventSource.
    for bad in ["src=\"http", "href=\"http", "src='http", "href='http", "//cdn", "fetch(\"http", "fetch('http"] {
        assert!(!page.contains(bad), "the page loads something from outside: {bad}");
    }
}

#[test]
fn observer_stops_with_the_vm_also_when_dropped_inside_a_process() {
    within(60, "drop", || {
        let (vm, addr) = observed_vm();
        drop(vm);
        assert!(TcpStream::connect(addr).is_err(), "the listener is closed once the Vm is dropped");
        let (vm, addr) = observed_vm();
        let vm = std::sync::Arc::new(vm);
        let (tx, rx) = std::sync::mpsc::channel();
        let theirs = vm.clone();
        vm.spawn(async move {
            let _ = rx.recv(); // the main thread's clone is gone: the last drop is here
            drop(theirs);
        })
        .unwrap();
        drop(vm);
        tx.send(()).unwrap();
        // The shutdown finishes on another thread; the listener closes with it.
        while TcpStream::connect(addr).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

/// Hostile: requests racing a churn of spawns and exits, then the VM dropped while requests are
/// in flight. Every answer must be well-formed, no pid may be listed twice, and the drop must
/// return (the observer's threads read the VM: they are stopped before it is freed).
#[test]
fn requests_racing_process_churn_and_the_vm_drop() {
    within(120, "churn", || {
        let (vm, addr) = observed_vm();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let epoch = common::epoch();
        for _ in 0..2 {
            vm.spawn(async move {
                while !common::gave_up(epoch) {
                    let (p, m) = spam::spawn_monitor(async {
                        let child = spam::spawn_link(async { spam::sleep(Duration::from_millis(1)).await });
                        spam::monitor(child);
                        spam::set_label("churn");
                        spam::yield_now().await;
                    });
                    let _: spam::Down = spam::recv_match(move |d: &spam::Down| d.monitor == m).await;
                    let _ = p;
                }
            })
            .unwrap();
        }
        // `stop` is set just before the drop: only from then on may an answer be cut short.
        let clients: Vec<_> = (0..3)
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut answers = 0;
                    let paths = ["/api/processes?sort=memory&limit=50", "/api/supervision", "/api/process/0.3.0"];
                    loop {
                        let cut_ok = stop.load(std::sync::atomic::Ordering::SeqCst);
                        let Some((status, body)) = try_http(addr, paths[i]) else {
                            assert!(cut_ok || stop.load(std::sync::atomic::Ordering::SeqCst), "an answer cut short");
                            break;
                        };
                        let v: Value = match serde_json::from_str(&body) {
                            Ok(v) => v,
                            Err(e) => {
                                assert!(stop.load(std::sync::atomic::Ordering::SeqCst), "bad JSON ({e}): {body}");
                                break;
                            }
                        };
                        assert!(status == 200 || (status == 404 && v["error"] == "noproc"), "{status}: {body}");
                        if let Some(rows) = v["processes"].as_array() {
                            let mut pids: Vec<&str> = rows.iter().map(|r| r["pid"].as_str().unwrap()).collect();
                            let n = pids.len();
                            pids.sort_unstable();
                            pids.dedup();
                            assert_eq!(pids.len(), n, "a pid listed twice");
                        }
                        answers += 1;
                    }
                    answers
                })
            })
            .collect();
        // Let the clients get answers, then drop the VM under them.
        while vm.scheduler_stats().iter().map(|s| s.polls).sum::<u64>() < 20_000 {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(vm);
        let answers: usize = clients.into_iter().map(|c| c.join().expect("a client panicked")).sum();
        assert!(answers > 0, "no request was answered");
    });
}

/// A loopback observer answers only requests addressed to an IP or `localhost` (another site's
/// page reaching it through a DNS name that points at 127.0.0.1 is refused: DNS rebinding), and
/// starts tracing only for its own page (a cross-site POST is refused, though the browser would
/// not let that site read the answer).
#[test]
fn loopback_observer_refuses_other_hosts_and_cross_site_writes() {
    within(60, "hosts", || {
        let (vm, addr) = observed_vm();
        let raw = |head: &str| -> u16 {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(s, "{head}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap()
        };
        let port = addr.port();
        assert_eq!(raw(&format!("GET /api/system HTTP/1.1\r\nHost: localhost:{port}")), 200);
        assert_eq!(raw(&format!("GET /api/system HTTP/1.1\r\nHost: [::1]:{port}")), 200);
        assert_eq!(raw(&format!("GET /api/system HTTP/1.1\r\nHost: evil.example:{port}")), 403);
        assert_eq!(raw("GET /api/system HTTP/1.1"), 403, "no Host at all");
        let pid = vm
            .spawn(async {
                let () = spam::recv().await;
            })
            .unwrap();
        let post = format!("POST /api/trace/{} HTTP/1.1\r\nHost: {addr}", path_of(pid));
        assert_eq!(raw(&format!("{post}\r\nOrigin: http://evil.example")), 403);
        assert_eq!(vm.trace_info(pid), None, "the refused request did nothing");
        assert_eq!(raw(&format!("{post}\r\nOrigin: http://{addr}")), 200);
        assert!(vm.trace_info(pid).is_some());
    });
}
