#![cfg(spam_loom)]
//! Models of the slab allocator's remote-free protocol (`scheduler/src/slab.rs`, rules 1–5):
//! blocks allocated by one heap and freed by other threads' heaps, in batches, while the owner
//! reclaims them or abandons its pages (its thread exits).
//!
//! What they check, in every interleaving: no block is lost or returned twice (the owner's
//! count of blocks out ends at zero once all are back), and an abandoned page is freed exactly
//! once, by whoever gives back its last block — never while a block is out, never twice
//! (`slab::loom_pages_out` counts pages taken minus pages freed; a second free panics).

use loom::thread;
use spam_loom_tests::{model, Seen, Turns};
use spam_scheduler::slab::{self, Heap};
use std::ptr::NonNull;

/// Sends blocks across threads as addresses (raw pointers are not `Send`).
fn addr(b: NonNull<u8>) -> usize {
    b.as_ptr() as usize
}

/// Another thread's heap frees `blocks` and drops (flushing its batch: one push, or one count
/// off an abandoned page). The push is one step (see `Turns`).
fn free_elsewhere(blocks: Vec<usize>, turns: &Turns) -> thread::JoinHandle<()> {
    let turns = turns.clone();
    thread::spawn(move || {
        let mut h = Heap::new();
        for b in blocks {
            // SAFETY: each block was handed to this thread alone, and is freed once.
            unsafe { h.free(NonNull::new(b as *mut u8).unwrap()) };
        }
        turns.step();
        drop(h);
    })
}

/// Both models in one test: they share the process-wide page count, so they must not run at
/// the same time.
#[test]
fn slab_remote_free_protocol() {
    remote_batch_races_owner_reclaim();
    abandon_races_two_remote_frees();
}

/// Rules 1 and 2: a batch pushed back while the owner keeps allocating and reclaiming; every
/// block comes back exactly once, and the page is freed once when the owner goes.
fn remote_batch_races_owner_reclaim() {
    let seen = Seen::default();
    let saw = seen.clone();
    model(move || {
        let turns = Turns::new();
        let base = slab::loom_pages_out();
        let mut owner = Heap::new();
        let a = owner.alloc(0);
        let b = owner.alloc(0);
        let c = owner.alloc(0);
        let t = free_elsewhere(vec![addr(a), addr(b)], &turns);
        // SAFETY: our own block, freed once (a local free while the batch may be in flight).
        unsafe { owner.free(c) };
        turns.step();
        let (early, _) = owner.loom_reclaim(0); // races the batch's push
        saw.saw(format!("early {early}"));
        t.join().unwrap();
        let (late, out) = owner.loom_reclaim(0);
        assert_eq!(early + late, 2, "the batch came back whole, once");
        assert_eq!(out, 0, "every block is back with the owner");
        drop(owner); // abandon: everything is back, so the page is freed right here
        assert_eq!(slab::loom_pages_out(), base, "the page was freed exactly once");
    });
    seen.assert_saw(&["early 0", "early 2"]);
}

/// Rule 3: the owner abandons its page while two other threads give back one block each;
/// whichever of the three comes last frees the page, exactly once.
fn abandon_races_two_remote_frees() {
    model(|| {
        let turns = Turns::new();
        let base = slab::loom_pages_out();
        let mut owner = Heap::new();
        let a = owner.alloc(0);
        let b = owner.alloc(0);
        let t1 = free_elsewhere(vec![addr(a)], &turns);
        let t2 = free_elsewhere(vec![addr(b)], &turns);
        turns.step();
        drop(owner);
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(slab::loom_pages_out(), base, "the page was freed exactly once");
    });
}
