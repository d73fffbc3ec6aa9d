//! Framing and control messages of a distribution connection, after the handshake (ERTS'
//! "Distribution Protocol", "Protocol between connected nodes").
//!
//! Every frame is a 4-byte big-endian length and that many bytes; length 0 is a tick (keep-alive).
//! Without the atom cache (we never advertise it) a frame is `112 ('p') | ControlMessage |
//! [Message]`, each an ETF term with its version byte. Control messages are tuples whose first
//! element is the operation:
//!
//! | op | tuple | message after it |
//! |---|---|---|
//! | 1 LINK | `{1, From, To}` | |
//! | 2 SEND | `{2, '', To}` | the message |
//! | 3 EXIT | `{3, From, To, Reason}` | |
//! | 4 UNLINK | `{4, From, To}` (before OTP 26) | |
//! | 6 REG_SEND | `{6, From, '', ToName}` | the message |
//! | 8 EXIT2 | `{8, From, To, Reason}` | |
//! | 12, 13, 16, 18, 23, 25, 27, 30, 32, 34 | the `_TT` forms of 2, 3, 6, 8, 22, 24, 26, 29, 31, 33: a trace token last, ignored | |
//! | 19 MONITOR_P | `{19, From, ToPidOrName, Ref}` | |
//! | 20 DEMONITOR_P | `{20, From, ToPidOrName, Ref}` | |
//! | 21 MONITOR_P_EXIT | `{21, FromPidOrName, To, Ref, Reason}` | |
//! | 22 SEND_SENDER | `{22, From, To}` | the message |
//! | 24 PAYLOAD_EXIT, 26 PAYLOAD_EXIT2 | `{24 or 26, From, To}` | the reason |
//! | 28 PAYLOAD_MONITOR_P_EXIT | `{28, FromPidOrName, To, Ref}` | the reason |
//! | 29 SPAWN_REQUEST | `{29, ReqId, From, GroupLeader, {M, F, Arity}, Opts}` | the argument list |
//! | 31 SPAWN_REPLY | `{31, ReqId, To, Flags, PidOrError}` (flags: 1 linked, 2 monitored) | |
//! | 33 ALIAS_SEND | `{33, From, Alias}` | the message |
//! | 35 UNLINK_ID, 36 UNLINK_ID_ACK | `{35 or 36, Id, From, To}` | |
//!
//! Decoding is bounded: a frame longer than [`MAX_FRAME`] is refused before it is read, and the
//! ETF decoder bounds lengths and depth. Anything else malformed is an error for that connection
//! only.

use crate::term::{etf, Term};
use std::io::{self, Read};

/// The longest frame read (a longer length closes the connection): 256 MiB.
pub(crate) const MAX_FRAME: usize = 256 << 20;

/// The pass-through tag of a frame without atom cache.
const PASS_THROUGH: u8 = 112;

/// One control message, decoded. Pids, refs and reasons stay terms: the node maps them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Control {
    Link { from: Term, to: Term },
    Send { to: Term, msg: Term },
    Exit { from: Term, to: Term, reason: Term },
    Unlink { from: Term, to: Term },
    RegSend { from: Term, to: Term, msg: Term },
    Exit2 { from: Term, to: Term, reason: Term },
    Monitor { from: Term, to: Term, mref: Term },
    Demonitor { from: Term, to: Term, mref: Term },
    MonitorExit { from: Term, to: Term, mref: Term, reason: Term },
    SendSender { from: Term, to: Term, msg: Term },
    AliasSend { from: Term, alias: Term, msg: Term },
    UnlinkId { id: Term, from: Term, to: Term },
    UnlinkIdAck { id: Term, from: Term, to: Term },
    SpawnRequest { req: Term, from: Term, group_leader: Term, mfa: Term, opts: Term, args: Term },
    SpawnReply { req: Term, to: Term, flags: Term, result: Term },
}

/// What a frame held.
#[derive(Debug, Clone, PartialEq)]
// A frame is moved once, from the reader to its handler: boxing the control would only add an
// allocation per frame.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Frame {
    Tick,
    Control(Control),
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one frame.
pub(crate) fn read_frame(r: &mut impl Read) -> io::Result<Frame> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Ok(Frame::Tick);
    }
    if len > MAX_FRAME {
        return Err(bad(format!("frame of {len} bytes (limit {MAX_FRAME})")));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    decode_frame(&buf).map(Frame::Control)
}

/// Decodes a frame's bytes (after the length).
pub(crate) fn decode_frame(buf: &[u8]) -> io::Result<Control> {
    let Some((&PASS_THROUGH, rest)) = buf.split_first() else {
        return Err(bad("not a pass-through frame (atom cache is not negotiated)"));
    };
    let (control, used) = etf::decode_prefix(rest).map_err(|e| bad(format!("control message: {e}")))?;
    let rest = &rest[used..];
    let payload =
        if rest.is_empty() { None } else { Some(etf::decode(rest).map_err(|e| bad(format!("message: {e}")))?) };
    parse(control, payload)
}

fn parse(control: Term, payload: Option<Term>) -> io::Result<Control> {
    let Term::Tuple(mut f) = control else {
        return Err(bad("a control message is a tuple"));
    };
    let op = match f.first() {
        Some(Term::Integer(op)) => *op,
        _ => return Err(bad("a control message starts with its operation")),
    };
    // The `_TT` forms carry a trace token last: drop it and read them as their plain forms.
    let plain = match op {
        12 => 2,
        13 => 3,
        16 => 6,
        18 => 8,
        23 => 22,
        25 => 24,
        27 => 26,
        30 => 29,
        32 => 31,
        34 => 33,
        op => op,
    };
    if plain != op {
        f.pop();
    }
    let arity = match plain {
        1 | 2 | 4 | 22 | 24 | 26 | 33 => 3,
        3 | 6 | 8 | 19 | 20 | 28 | 35 | 36 => 4,
        21 | 31 => 5,
        29 => 6,
        _ => return Err(bad(format!("unsupported control operation {op}"))),
    };
    if f.len() != arity {
        return Err(bad(format!("control {op}: {} elements, want {arity}", f.len())));
    }
    let mut v = f.into_iter().skip(1);
    let mut n = || v.next().expect("arity checked");
    let msg = || payload.ok_or_else(|| bad(format!("control {op} without its message")));
    Ok(match plain {
        1 => Control::Link { from: n(), to: n() },
        2 => {
            n(); // unused
            Control::Send { to: n(), msg: msg()? }
        }
        3 => Control::Exit { from: n(), to: n(), reason: n() },
        4 => Control::Unlink { from: n(), to: n() },
        6 => {
            let from = n();
            n(); // unused
            Control::RegSend { from, to: n(), msg: msg()? }
        }
        8 => Control::Exit2 { from: n(), to: n(), reason: n() },
        19 => Control::Monitor { from: n(), to: n(), mref: n() },
        20 => Control::Demonitor { from: n(), to: n(), mref: n() },
        21 => Control::MonitorExit { from: n(), to: n(), mref: n(), reason: n() },
        22 => Control::SendSender { from: n(), to: n(), msg: msg()? },
        24 => Control::Exit { from: n(), to: n(), reason: msg()? },
        26 => Control::Exit2 { from: n(), to: n(), reason: msg()? },
        28 => Control::MonitorExit { from: n(), to: n(), mref: n(), reason: msg()? },
        33 => Control::AliasSend { from: n(), alias: n(), msg: msg()? },
        29 => Control::SpawnRequest { req: n(), from: n(), group_leader: n(), mfa: n(), opts: n(), args: msg()? },
        31 => Control::SpawnReply { req: n(), to: n(), flags: n(), result: n() },
        35 => Control::UnlinkId { id: n(), from: n(), to: n() },
        _ => Control::UnlinkIdAck { id: n(), from: n(), to: n() },
    })
}

/// The control tuple and the message (if any) of `c`, as sent: payload forms for exits, whose
/// reasons may be large (OTP 25 sends those).
fn unparse(c: &Control) -> (Term, Option<&Term>) {
    let t = |op: i64, rest: Vec<Term>| {
        let mut v = vec![Term::Integer(op)];
        v.extend(rest);
        Term::Tuple(v)
    };
    match c {
        Control::Link { from, to } => (t(1, vec![from.clone(), to.clone()]), None),
        Control::Send { to, msg } => (t(2, vec![Term::atom(""), to.clone()]), Some(msg)),
        Control::Exit { from, to, reason } => (t(24, vec![from.clone(), to.clone()]), Some(reason)),
        Control::Unlink { from, to } => (t(4, vec![from.clone(), to.clone()]), None),
        Control::RegSend { from, to, msg } => (t(6, vec![from.clone(), Term::atom(""), to.clone()]), Some(msg)),
        Control::Exit2 { from, to, reason } => (t(26, vec![from.clone(), to.clone()]), Some(reason)),
        Control::Monitor { from, to, mref } => (t(19, vec![from.clone(), to.clone(), mref.clone()]), None),
        Control::Demonitor { from, to, mref } => (t(20, vec![from.clone(), to.clone(), mref.clone()]), None),
        Control::MonitorExit { from, to, mref, reason } => {
            (t(28, vec![from.clone(), to.clone(), mref.clone()]), Some(reason))
        }
        Control::SendSender { from, to, msg } => (t(22, vec![from.clone(), to.clone()]), Some(msg)),
        Control::AliasSend { from, alias, msg } => (t(33, vec![from.clone(), alias.clone()]), Some(msg)),
        Control::UnlinkId { id, from, to } => (t(35, vec![id.clone(), from.clone(), to.clone()]), None),
        Control::UnlinkIdAck { id, from, to } => (t(36, vec![id.clone(), from.clone(), to.clone()]), None),
        Control::SpawnRequest { req, from, group_leader, mfa, opts, args } => {
            (t(29, vec![req.clone(), from.clone(), group_leader.clone(), mfa.clone(), opts.clone()]), Some(args))
        }
        Control::SpawnReply { req, to, flags, result } => {
            (t(31, vec![req.clone(), to.clone(), flags.clone(), result.clone()]), None)
        }
    }
}

/// `c` as one frame, length included.
pub(crate) fn encode_frame(c: &Control) -> Vec<u8> {
    let (control, msg) = unparse(c);
    let mut out = vec![0, 0, 0, 0, PASS_THROUGH];
    out.push(etf::VERSION);
    etf::encode_into(&control, &mut out);
    if let Some(m) = msg {
        out.push(etf::VERSION);
        etf::encode_into(m, &mut out);
    }
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// Writes `c` as one frame.
#[cfg(test)]
pub(crate) fn write_frame(w: &mut impl std::io::Write, c: &Control) -> io::Result<()> {
    w.write_all(&encode_frame(c))
}

/// A tick: a frame of length 0.
pub(crate) const TICK: [u8; 4] = [0; 4];
