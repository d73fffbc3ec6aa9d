//! Parallel map-reduce: word frequencies of a generated text. One mapper process per chunk
//! counts its words; the root reduces the partial counts. `cargo run --release --example map_reduce`
use spam::{Addr, Vm};
use std::collections::HashMap;

type Counts = HashMap<&'static str, u64>;
const WORDS: [&str; 8] = ["actor", "beam", "core", "erlang", "message", "process", "rust", "spam"];

/// Word `i` of the text, from a cheap deterministic generator.
fn word(i: u64) -> &'static str {
    let x = (i ^ 0x5555).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    WORDS[(x >> 61) as usize]
}

fn main() {
    let (words, chunks) = (20_000_000u64, 64u64);
    let total = Vm::new().block_on(async move {
        let reducer: Addr<Counts> = spam::self_addr();
        for c in 0..chunks {
            spam::spawn(async move {
                let mut counts = Counts::new();
                for i in (c * words / chunks)..((c + 1) * words / chunks) {
                    *counts.entry(word(i)).or_default() += 1;
                    spam::maybe_yield().await; // lets other processes in when the time slice is spent
                }
                reducer.send(counts);
            });
        }
        let mut total = Counts::new();
        for _ in 0..chunks {
            for (w, n) in spam::recv::<Counts>().await {
                *total.entry(w).or_default() += n;
            }
        }
        total
    });
    let mut total: Vec<_> = total.into_iter().collect();
    total.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    assert_eq!(total.iter().map(|(_, n)| n).sum::<u64>(), words);
    println!("{total:?}");
}
