#![cfg(spam_loom)]
//! Model of the call slot (`vm/src/call_slot.rs`): the owner fills, empties and refills it
//! with plain stores while another thread reads it with the retry loop.
//!
//! Property: a read returns nothing, or a (tag, pid) pair that one `set` wrote together, never
//! a tag of one call with the pid of another. It fails when `set` loses its opening Release
//! fence, or `read` its Acquire fence (mutations tried): the reader then takes the first
//! call's tag with the second call's pid.
//!
//! `Turns::step` opens each read, and the owner's sequence once, before its first fence.

use loom::thread;
use spam_loom_tests::{model, Seen, Turns};
use spam_scheduler::sync::Arc;
use spam_vm::call_slot::CallSlot;

#[test]
fn a_reader_sees_only_pairs_set_together() {
    let seen = Seen::default();
    let s = seen.clone();
    model(move || {
        let slot = Arc::new(CallSlot::default());
        let turns = Turns::new();
        let owner = thread::spawn({
            let (slot, turns) = (slot.clone(), turns.clone());
            move || {
                turns.step(); // only before its first fence (`Turns`)
                slot.loom_set(1, 10);
                slot.loom_clear();
                slot.loom_set(2, 20);
            }
        });
        for _ in 0..2 {
            turns.step();
            match slot.read().map(|(t, p)| (t.to_bits(), p.to_bits())) {
                None => s.saw("empty"),
                Some(pair @ ((1, 10) | (2, 20))) => s.saw(format!("{pair:?}")),
                Some(torn) => panic!("a torn pair: {torn:?}"),
            }
        }
        owner.join().unwrap();
        assert_eq!(slot.read().map(|(t, p)| (t.to_bits(), p.to_bits())), Some((2, 20)));
    });
    seen.assert_saw(&["empty", "(1, 10)", "(2, 20)"]);
}
