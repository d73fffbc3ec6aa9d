//! A supervisor, by hand, restarting workers that crash at random (one_for_one). It traps
//! exits, so a crashing worker's exit arrives as a message. `cargo run --release --example supervisor`
use spam::{Exit, Pid, Reason, Vm};
use std::collections::{hash_map::RandomState, HashMap};
use std::hash::BuildHasher;
use std::time::Duration;

async fn worker(id: u32) {
    loop {
        spam::sleep(Duration::from_millis(5)).await; // a job
        if RandomState::new().hash_one(id).is_multiple_of(10) {
            // one job in ten fails
            spam::exit_self(Reason::other(format!("worker {id}: bad luck")));
        }
    }
}

fn main() {
    Vm::new().block_on(async {
        spam::trap_exit(true);
        let mut children: HashMap<Pid, u32> = (0..4).map(|id| (spam::spawn_link(worker(id)), id)).collect();
        for _ in 0..10 {
            let Exit { from, reason } = spam::recv().await;
            let id = children.remove(&from).expect("only children are linked");
            let pid = spam::spawn_link(worker(id));
            println!("{from} exited ({reason}); restarted worker {id} as {pid}");
            children.insert(pid, id);
        }
        println!("10 restarts: shutting the workers down");
        children.keys().for_each(|&pid| spam::exit(pid, Reason::Shutdown));
    });
}
