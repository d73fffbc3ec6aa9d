//! The name registry: one name per process, one process per name.
//!
//! The map is split in shards, each under its own lock (only sends *by name* touch it, never
//! sends by pid). The process side of a name lives in the process's `ext` lock.
//!
//! # Register vs exit (no stale name)
//! Lock order is always process `ext` → shard.
//! - register: lock `ext`; fail with `Noproc` unless the process is still LIVE; fail if it has a
//!   name; lock the shard, insert unless taken; record the name in `ext`.
//! - exit: mark the slot DYING (table.rs), *then* lock `ext` and take the name, then remove it
//!   from its shard.
//!
//! If register takes `ext` first, exit finds the name and removes it. If exit takes it first,
//! register sees DYING (it was set before exit's lock) and fails. Either way no name outlives
//! its process. Loom model: `loom-tests/tests/registry.rs`.

use crate::pid::Pid;
use spam_scheduler::sync::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

const SHARDS: usize = 16;

/// A registered name.
pub type Name = Arc<str>;

pub struct Registry {
    shards: Box<[Mutex<HashMap<Name, Pid>>]>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn shard(&self, name: &str) -> &Mutex<HashMap<Name, Pid>> {
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(name);
        &self.shards[h as usize % SHARDS]
    }

    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.shard(name).lock().get(name).copied()
    }

    /// Inserts unless taken. Call with the owner's `ext` lock held (lock order).
    pub(crate) fn insert(&self, name: &Name, pid: Pid) -> bool {
        let mut shard = self.shard(name).lock();
        if shard.contains_key(name) {
            return false;
        }
        shard.insert(name.clone(), pid);
        true
    }

    /// Removes `name` if it still maps to `pid`.
    pub(crate) fn remove(&self, name: &str, pid: Pid) -> bool {
        let mut shard = self.shard(name).lock();
        if shard.get(name) == Some(&pid) {
            shard.remove(name);
            true
        } else {
            false
        }
    }

    /// Removes every name (shutdown).
    pub(crate) fn clear(&self) {
        for s in self.shards.iter() {
            let names = std::mem::take(&mut *s.lock());
            drop(names);
        }
    }

    /// All registered names (a snapshot).
    /// Names registered now (a snapshot, shard by shard).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn names(&self) -> Vec<Name> {
        self.shards.iter().flat_map(|s| s.lock().keys().cloned().collect::<Vec<_>>()).collect()
    }
}
