//! `Vm`: starting, running and stopping a SPAM virtual machine from ordinary (non-process) code.

use spam_scheduler::WorkerStats;
use spam_vm::{Config, Pid, ProcessInfo, Reason, Runtime, SpawnOpts};
use std::future::Future;

/// Configures a [`Vm`].
#[derive(Debug, Clone, Default)]
pub struct VmBuilder {
    config: Config,
}

impl VmBuilder {
    /// Scheduler threads (default: one per CPU, `num_cpus::get()`).
    pub fn schedulers(mut self, n: usize) -> Self {
        self.config.schedulers = n.max(1);
        self
    }
    /// Upper bound on live processes (default 16M). Spawning past it fails with `TableFull`.
    pub fn max_processes(mut self, n: usize) -> Self {
        self.config.max_processes = n.max(1);
        self
    }
    /// Upper bound on threads of the blocking pool (default 64).
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.config.max_blocking_threads = n.max(1);
        self
    }
    pub fn build(self) -> Vm {
        let rt = Box::new(Runtime::new(self.config));
        rt.install_maintenance();
        Vm { rt: std::mem::ManuallyDrop::new(rt) }
    }
}

/// A running VM: its schedulers, processes, registry and timers. Dropping it shuts it down.
///
/// A `Vm` may be dropped anywhere, also inside one of its own processes (the last clone of an
/// `Arc<Vm>`, say) or in a destructor the VM runs: there the shutdown cannot wait for the running
/// poll it is part of, so it is finished, and the VM freed, on a new thread.
pub struct Vm {
    rt: std::mem::ManuallyDrop<Box<Runtime>>,
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: taken once, here; `self.rt` is not used again.
        let rt = unsafe { std::mem::ManuallyDrop::take(&mut self.rt) };
        if !rt.on_own_thread() {
            drop(rt); // shuts down and waits for it
            return;
        }
        rt.begin_shutdown(); // workers leave after their current polls; the drop does the rest
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(rt)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new().name("spam-drop".into()).spawn(move || {
            let rt = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(rt);
        });
        if spawned.is_err() {
            // No thread to free it on: leaking it is the only sound choice left.
            if let Some(rt) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                std::mem::forget(rt);
            }
        }
    }
}

impl Default for Vm {
    fn default() -> Self {
        Vm::builder().build()
    }
}

impl Vm {
    pub fn builder() -> VmBuilder {
        VmBuilder { config: Config { schedulers: num_cpus::get().max(1), ..Config::default() } }
    }

    /// Runs `f` as a root process and blocks the calling thread until that process exits;
    /// returns its exit reason. Other processes keep running afterwards, until
    /// [`Vm::shutdown`].
    ///
    /// # Panics
    /// On one of this VM's scheduler threads (inside one of its processes) or on its timer thread
    /// (a destructor it runs): blocking there could wait for the very thread the root needs.
    /// Spawn a process instead.
    pub fn run<F: Future<Output = ()> + Send + 'static>(&self, f: F) -> Reason {
        assert!(
            !self.rt.on_scheduler_or_timer_thread(),
            "Vm::run called on one of this VM's own scheduler or timer threads; it would block \
             the thread its root process may need: spawn a process instead"
        );
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let hook = Box::new(move |r: &Reason| {
            let _ = tx.send(r.clone());
        });
        if self.rt.spawn_root(f, hook).is_err() {
            return Reason::Noproc;
        }
        // The sender is dropped without sending only if the VM shut down under the root.
        rx.recv().unwrap_or(Reason::Killed)
    }

    /// Spawns a process from outside any process. Returns `Pid::UNDEFINED` (to which sends are
    /// dropped) if the VM is shut down or its process table is full.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) -> Pid {
        match self.rt.spawn(None, f, SpawnOpts::default()) {
            Ok((p, _)) => p,
            Err(_) => Pid::UNDEFINED,
        }
    }

    /// Sends a message from outside any process (same rules as `spam::send` to a pid).
    pub fn send<T: Send + 'static>(&self, to: Pid, msg: T) -> Result<(), spam_vm::SendError<T>> {
        self.rt.send_message(to, msg)
    }

    /// Sends an exit signal from outside any process (`from` shows as `Pid::UNDEFINED`).
    pub fn exit(&self, to: Pid, reason: Reason) {
        self.rt.exit_from(Pid::UNDEFINED, to, reason);
    }

    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.rt.whereis(name)
    }

    pub fn processes(&self) -> Vec<Pid> {
        self.rt.processes()
    }

    /// Processes not yet fully reclaimed (live or finishing their exit).
    pub fn process_count(&self) -> usize {
        self.rt.process_count()
    }

    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        self.rt.process_info(pid)
    }

    pub fn is_alive(&self, pid: Pid) -> bool {
        self.rt.is_alive(pid)
    }

    /// Number of scheduler threads.
    pub fn schedulers(&self) -> usize {
        self.rt.scheduler().workers()
    }

    /// Per-scheduler counters (polls, steals, steal attempts, parks, injector pops), live.
    pub fn scheduler_stats(&self) -> Vec<WorkerStats> {
        self.rt.scheduler().stats()
    }

    /// Stops the VM: timers stopped, schedulers joined, every remaining process dropped (its
    /// future and control block, without the exit protocol). Idempotent; blocks until done.
    /// Called from inside one of this VM's processes (or a blocking job, or a destructor the VM
    /// runs), it only starts the shutdown and returns: the calling process is stopped after its
    /// current poll, and the rest finishes on another thread.
    pub fn shutdown(&self) {
        self.rt.shutdown();
    }
}
