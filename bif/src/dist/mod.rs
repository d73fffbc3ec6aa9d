//! Erlang distribution (`docs/distribution.md`): the node (`node.rs`: connections, control
//! messages, links and monitors across nodes) on its standalone pieces — the EPMD client
//! (`epmd.rs`), the version-6 handshake (`handshake.rs`) and its MD5 (`md5.rs`), and a
//! connection's framing and control messages (`control.rs`, on `spam::term`'s ETF).

pub(crate) mod control;
pub(crate) mod epmd;
pub(crate) mod handshake;
mod md5;
pub(crate) mod node;

#[cfg(test)]
mod tests;
