//! A supervision tree: a root supervisor (one_for_one) over a "db" server and a nested
//! supervisor (rest_for_one) over a "reader" and a "writer". Every worker crashes now and then;
//! each (re)start is printed as it happens, and at the end the tree, from `which_children`.
//! `cargo run --release --example supervision_tree`
use spam::gen_server::{self, CallResult, GenServer, Init, Next};
use spam::supervisor::{self, ChildPid, ChildSpec, ChildType, Strategy, SupFlags, Supervisor};
use spam::{Msg, Reason, Vm};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(10);

/// A worker doing a unit of work every tick; one tick in 15 crashes it.
struct Worker(&'static str);

impl GenServer for Worker {
    type Args = &'static str;
    type Call = ();
    type Reply = ();
    type Cast = ();

    async fn init(name: &'static str) -> Init<Self> {
        println!("  started {name:<6} as {}", spam::self_pid());
        Init::Ok(Worker(name), Next::Timeout(TICK))
    }
    async fn handle_call(&mut self, _: (), _: gen_server::ReplyTo<()>) -> CallResult<()> {
        CallResult::reply(())
    }
    async fn terminate(&mut self, reason: &Reason) {
        println!("  {:<6} {} exited: {reason}", self.0, spam::self_pid());
    }
    async fn handle_info(&mut self, _tick: Msg) -> Next {
        match RandomState::new().hash_one(self.0).is_multiple_of(15) {
            true => Next::Stop(Reason::other(format!("{} crashed", self.0))),
            false => Next::Timeout(TICK),
        }
    }
}

/// Prints a supervisor's children, newest first, and their children below them.
async fn print_tree(root: Supervisor) -> Result<(), gen_server::CallError> {
    let mut stack = vec![(root, 1)];
    while let Some((sup, depth)) = stack.pop() {
        for child in sup.which_children().await? {
            let id = child.id.unwrap_or_default();
            println!("{:indent$}{id:<8} {:?} {:?}", "", child.pid, child.kind, indent = 2 * depth);
            if let (ChildType::Supervisor, ChildPid::Running(pid)) = (child.kind, child.pid) {
                stack.push((Supervisor::from_pid(pid), depth + 1));
            }
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Vm::new().block_on(async {
        let worker = |name: &'static str| ChildSpec::gen_server::<Worker>(name, name);
        let workers = SupFlags::new(Strategy::RestForOne).intensity(20);
        let tree =
            vec![worker("db"), ChildSpec::supervisor_of("workers", workers, vec![worker("reader"), worker("writer")])];
        let root = supervisor::start_link(SupFlags::new(Strategy::OneForOne).intensity(20), tree).await?;
        spam::sleep(Duration::from_millis(300)).await; // crashes and restarts happen meanwhile
        println!("the tree after 300 ms (which_children, newest first):");
        print_tree(root).await?;
        root.stop().await?;
        Ok(())
    })
}
