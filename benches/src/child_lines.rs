//! A child process's standard output, line by line, read on a thread of its own: the `erl`
//! runs of the suite (`erlang.rs`) and the nodes of `dist-pingpong` (`bin/dist_pingpong.rs`,
//! which includes this file).

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;

/// Takes `child`'s piped stdout; its lines arrive on the receiver until the child closes it
/// (or the receiver is dropped).
pub fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}
