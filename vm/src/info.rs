//! Process inspection: `process_info`.

use crate::pid::{Pid, Ref};
use crate::process::Process;
use crate::runtime::Runtime;
use spam_scheduler::sync::atomic::Ordering::*;
use spam_scheduler::TaskStatus;

/// What a process is doing, as Erlang's `process_info(P, status)` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Runtime {
    /// `process_info(Pid)`: `None` for a dead or exiting process.
    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        let pinned = self.target(pid)?;
        let task = pinned.task();
        let proc: &Process = pinned.process();
        let status = match task.status() {
            TaskStatus::Idle => ProcessStatus::Waiting,
            TaskStatus::Scheduled => ProcessStatus::Runnable,
            TaskStatus::Running => ProcessStatus::Running,
            TaskStatus::Done => ProcessStatus::Exiting,
        };
        let queue_len = proc.queue_len.load(Relaxed);
        let ext = proc.ext.lock();
        let (links, monitors, monitored_by, name, ext_bytes) = match ext.as_deref() {
            Some(e) => (
                sorted(e.links.iter().copied()),
                sorted(e.monitors.iter().map(|(&r, &p)| (r, p))),
                sorted(e.monitored_by.values().copied()),
                e.name.as_deref().map(str::to_string),
                std::mem::size_of_val(e)
                    + e.links.capacity() * (std::mem::size_of::<Pid>() + 1)
                    + (e.monitors.capacity() + e.monitored_by.capacity()) * (std::mem::size_of::<(Ref, Pid)>() + 1),
            ),
            None => (Vec::new(), Vec::new(), Vec::new(), None, 0),
        };
        drop(ext);
        let memory = task.cell_size() + 16 + ext_bytes + queue_len * 32;
        Some(ProcessInfo {
            pid,
            status,
            message_queue_len: queue_len,
            links,
            monitors,
            monitored_by,
            registered_name: name,
            trap_exit: proc.trap_exit.load(Relaxed),
            reductions: proc.reductions.load(Relaxed),
            memory,
        })
    }
}

/// The sets are hashed; `process_info` lists them in a stable order.
fn sorted<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort_unstable();
    v
}
