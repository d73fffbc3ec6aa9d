//! Process inspection: `process_info`, the lighter `ProcessSummary` of a whole-table scan, and
//! the VM-wide counters (`SystemCounters`) the observer shows.

use crate::pid::{Pid, Ref};
use crate::process::{Ext, Process};
use crate::runtime::Runtime;
use spam_scheduler::sync::atomic::Ordering::*;
use spam_scheduler::{TaskRef, TaskStatus};

/// What a process is doing, as Erlang's `process_info(P, status)` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProcessStatus {
    /// In a run queue, waiting for a scheduler.
    Runnable,
    /// Being polled right now.
    Running,
    /// Suspended: waiting for a message, a timer or a blocking job.
    Waiting,
    /// Exiting (its future is done; the exit protocol runs or is about to).
    Exiting,
}

impl ProcessStatus {
    /// Erlang's name for it: `"runnable"`, `"running"`, `"waiting"`, `"exiting"`.
    ///
    /// ```
    /// assert_eq!(spam_vm::ProcessStatus::Waiting.as_str(), "waiting");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Runnable => "runnable",
            ProcessStatus::Running => "running",
            ProcessStatus::Waiting => "waiting",
            ProcessStatus::Exiting => "exiting",
        }
    }
}

/// A snapshot of a live process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process.
    pub pid: Pid,
    /// What it is doing.
    pub status: ProcessStatus,
    /// Messages in its queue not yet taken by a receive. Known gap: it counts the messages the
    /// process has moved from its lock-free mailbox into that queue, which it does each time it
    /// runs; messages sent since it last ran are not counted yet (Erlang counts them).
    pub message_queue_len: usize,
    /// Processes linked to it.
    pub links: Vec<Pid>,
    /// Monitors this process holds: (reference, monitored pid).
    pub monitors: Vec<(Ref, Pid)>,
    /// Processes monitoring this one.
    pub monitored_by: Vec<Pid>,
    /// Its registered name, if any.
    pub registered_name: Option<String>,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// Polls + messages sent + messages received.
    pub reductions: u64,
    /// Estimated bytes: task cell (control block + future), table slot, links/monitors block,
    /// save-queue storage and its messages' nodes (at header size).
    pub memory: usize,
    /// Its label (`spam::set_label`, as OTP 27's `proc_lib:set_label/1`), if any.
    pub label: Option<String>,
    /// The OTP behaviour it runs (`"gen_server"`, `"supervisor"`), if any.
    pub behaviour: Option<&'static str>,
    /// The process that started it, where known (OTP behaviours record their parent).
    pub parent: Option<Pid>,
    /// The scheduler polling it, while it is `Running`.
    pub scheduler: Option<usize>,
}

/// The part of [`ProcessInfo`] a scan of every process reads: counts instead of lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSummary {
    /// The process.
    pub pid: Pid,
    /// What it is doing.
    pub status: ProcessStatus,
    /// As [`ProcessInfo::message_queue_len`].
    pub message_queue_len: usize,
    /// As [`ProcessInfo::reductions`].
    pub reductions: u64,
    /// As [`ProcessInfo::memory`].
    pub memory: usize,
    /// Number of links.
    pub links: usize,
    /// Number of monitors it holds.
    pub monitors: usize,
    /// Number of monitors held on it.
    pub monitored_by: usize,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// Its registered name, if any.
    pub registered_name: Option<String>,
    /// Its label, if any.
    pub label: Option<String>,
    /// The OTP behaviour it runs, if any.
    pub behaviour: Option<&'static str>,
    /// The scheduler polling it, while it is `Running`.
    pub scheduler: Option<usize>,
}

/// VM-wide totals, read without stopping anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemCounters {
    /// Processes in the table (live and finishing their exit).
    pub processes: usize,
    /// Processes spawned since the VM started.
    pub spawned: u64,
    /// Processes gone from the table since the VM started.
    pub exited: u64,
    /// The process table's capacity.
    pub max_processes: usize,
    /// Time since the VM started.
    pub uptime: std::time::Duration,
}

/// The lists of [`ProcessInfo`] that a summary only counts.
#[derive(Default)]
struct Lists {
    links: Vec<Pid>,
    monitors: Vec<(Ref, Pid)>,
    monitored_by: Vec<Pid>,
    parent: Option<Pid>,
}

impl Runtime {
    /// `process_info(Pid)`: `None` for a dead or exiting process.
    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        let (s, l) = self.inspect_pid(pid, true)?;
        Some(ProcessInfo {
            pid,
            status: s.status,
            message_queue_len: s.message_queue_len,
            links: l.links,
            monitors: l.monitors,
            monitored_by: l.monitored_by,
            registered_name: s.registered_name,
            trap_exit: s.trap_exit,
            reductions: s.reductions,
            memory: s.memory,
            label: s.label,
            behaviour: s.behaviour,
            parent: l.parent,
            scheduler: s.scheduler,
        })
    }

    /// The summary of one process: `None` for a dead or exiting process.
    pub fn process_summary(&self, pid: Pid) -> Option<ProcessSummary> {
        self.inspect_pid(pid, false).map(|(s, _)| s)
    }

    /// `inspect` of `pid` (with its lists if `lists`), after flushing this poll's gathered
    /// messages: what it sent `pid` is in `pid`'s queue (outbox.rs, rule 3).
    fn inspect_pid(&self, pid: Pid, lists: bool) -> Option<(ProcessSummary, Lists)> {
        crate::outbox::flush();
        let target = self.target(pid)?;
        Some(target.with_task(|t| self.inspect(pid, target.process(), t, target.task_addr(), lists)))
    }

    /// Calls `f` with the summary of every live process, in slot order: one pass over the table,
    /// each process pinned only while it is read (no lock but each process's small `ext` lock,
    /// which sends and receives never take). For the observer, from any thread.
    pub fn for_each_process(&self, mut f: impl FnMut(&ProcessSummary)) {
        self.table.for_each_live(|pid, pinned| {
            let (s, _) = pinned.with_task(|t| self.inspect(pid, pinned.process(), t, pinned.task_addr(), false));
            f(&s);
        });
    }

    /// Names registered now. Takes each registry shard's lock in turn (sends by name take one),
    /// so it is for occasional requests, not for sampling.
    pub fn registered_count(&self) -> usize {
        self.registry.len()
    }

    /// VM-wide totals, from atomics only (the observer samples them every second).
    pub fn system_counters(&self) -> SystemCounters {
        let processes = self.table.len();
        let spawned = self.table.inserted();
        SystemCounters {
            processes,
            spawned,
            exited: spawned.saturating_sub(processes as u64),
            max_processes: self.table.capacity(),
            uptime: self.scheduler().uptime(),
        }
    }

    fn inspect(
        &self,
        pid: Pid,
        proc: &Process,
        task: &TaskRef<Process>,
        addr: usize,
        lists: bool,
    ) -> (ProcessSummary, Lists) {
        let status = match task.status() {
            TaskStatus::Idle => ProcessStatus::Waiting,
            TaskStatus::Scheduled => ProcessStatus::Runnable,
            TaskStatus::Running => ProcessStatus::Running,
            TaskStatus::Done => ProcessStatus::Exiting,
        };
        let scheduler = match status {
            ProcessStatus::Running => {
                let sched = self.scheduler();
                (0..sched.workers()).find(|&w| sched.current_task(w) == addr)
            }
            _ => None,
        };
        let queue_len = proc.queue_len.load(Relaxed);
        let mut s = ProcessSummary {
            pid,
            status,
            message_queue_len: queue_len,
            reductions: proc.reductions.load(Relaxed),
            memory: 0,
            links: 0,
            monitors: 0,
            monitored_by: 0,
            trap_exit: proc.trap_exit.load(Relaxed),
            registered_name: None,
            label: None,
            behaviour: None,
            scheduler,
        };
        let mut l = Lists::default();
        let ext = proc.ext.lock();
        let ext_bytes = match ext.as_deref() {
            Some(e) => {
                s.links = e.links.len();
                s.monitors = e.monitors.len();
                s.monitored_by = e.monitored_by.len();
                s.registered_name = e.name.as_deref().map(str::to_string);
                s.label = e.label.clone();
                s.behaviour = e.behaviour;
                if lists {
                    l = Lists {
                        links: sorted(e.links.iter().copied()),
                        monitors: sorted(e.monitors.iter().map(|(&r, &p)| (r, p))),
                        monitored_by: sorted(e.monitored_by.values().copied()),
                        parent: e.parent,
                    };
                }
                ext_bytes(e)
            }
            None => 0,
        };
        drop(ext);
        // A pending call's monitor, if it is in the call slot rather than in `Ext`.
        if let Some(call) = proc.call.read() {
            s.monitors += 1;
            if lists {
                l.monitors.push(call);
                l.monitors.sort_unstable();
            }
        }
        s.memory = task.cell_size() + 16 + ext_bytes + queue_len * 32;
        (s, l)
    }
}

/// Estimated bytes of a process's `Ext` block and its sets.
fn ext_bytes(e: &Ext) -> usize {
    std::mem::size_of_val(e)
        + e.links.capacity() * (std::mem::size_of::<Pid>() + 1)
        + (e.monitors.capacity() + e.monitored_by.capacity()) * (std::mem::size_of::<(Ref, Pid)>() + 1)
        + e.label.as_ref().map_or(0, String::capacity)
}

/// The sets are hashed; `process_info` lists them in a stable order.
fn sorted<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort_unstable();
    v
}
