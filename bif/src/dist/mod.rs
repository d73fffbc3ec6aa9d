//! Erlang distribution (issue 13, in progress): the pieces that stand alone so far — the EPMD
//! client (`epmd.rs`), the version-6 handshake (`handshake.rs`) and its MD5 (`md5.rs`), the
//! framing and control messages of a connection (`control.rs`, on `spam::term`'s ETF). The
//! node (connections, control messages, remote pids) is built on them next; until then
//! nothing outside the tests calls them.

pub(crate) mod control;
pub(crate) mod epmd;
pub(crate) mod handshake;
mod md5;
pub(crate) mod node;

#[cfg(test)]
mod tests;
