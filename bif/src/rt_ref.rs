//! `RtRef`: how the VM's own background threads (the observer's, the node's) reach its
//! runtime.

use spam_vm::Runtime;

/// A pointer to the VM's runtime for a thread the VM started.
///
/// Sound because of one rule its owners keep: every thread holding an `RtRef` is joined before
/// the runtime is freed (`Vm::drop` drops the observer and the node first; see
/// `observer/mod.rs` and `dist/node.rs`, "Lifetime").
#[derive(Clone, Copy)]
pub(crate) struct RtRef(*const Runtime);

// SAFETY: the Runtime is Sync; the threads holding an RtRef are joined before it is freed (above).
unsafe impl Send for RtRef {}
// SAFETY: as above.
unsafe impl Sync for RtRef {}

impl RtRef {
    pub(crate) fn new(rt: &Runtime) -> RtRef {
        RtRef(rt)
    }

    pub(crate) fn get(&self) -> &Runtime {
        // SAFETY: see the Send impl: the Runtime outlives every thread that holds this.
        unsafe { &*self.0 }
    }
}
