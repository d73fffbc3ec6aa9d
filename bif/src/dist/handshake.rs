//! The distribution handshake, version 6 (OTP 23+; ERTS' "Distribution Protocol"), both sides,
//! over a connected socket. During the handshake every message has a 2-byte big-endian length.
//!
//! ```text
//! initiator (A)                               acceptor (B)
//!  send_name      'N' Flags64 Creation32 Nlen16 Name    →
//!                 ← 's' Status ("ok", "ok_simultaneous", "nok", "not_allowed", "alive")
//!                 ← 'N' Flags64 Challenge32 Creation32 Nlen16 Name     (send_challenge)
//!  challenge_reply 'r' ChallengeA32 md5(Cookie ++ decimal(ChallengeB))  →
//!                 ← 'a' md5(Cookie ++ decimal(ChallengeA))             (challenge_ack)
//! ```
//! A wrong cookie fails the digest check on whichever side checks first; that side closes.

use super::md5::md5;
use std::io::{self, Read, Write};

/// Flags every OTP 25+ node requires (`DFLAG_*`: EXTENDED_REFERENCES, DIST_MONITOR,
/// FUN_TAGS, NEW_FUN_TAGS, EXTENDED_PIDS_PORTS, EXPORT_PTR_TAG, BIT_BINARIES, NEW_FLOATS,
/// UTF8_ATOMS, MAP_TAG, BIG_CREATION, HANDSHAKE_23).
pub(crate) const MANDATORY_25: u64 = 0x0107_0F94;
/// What we advertise for a hidden node: the mandatory flags, plus DIST_MONITOR_NAME,
/// EXIT_PAYLOAD, UNLINK_ID (OTP 26), SPAWN (`spawn_request`), V4_NC (OTP 26) and
/// MANDATORY_25_DIGEST (OTP 27); `| PUBLISHED` (0x1) for a visible one. No FRAGMENTS, no atom
/// cache, no compression, no ALIAS.
pub(crate) const FLAGS_HIDDEN: u64 = 0x15_0347_0FBC;
/// DFLAG_UNLINK_ID: the peer unlinks with UNLINK_ID and its acknowledgement.
pub(crate) const UNLINK_ID: u64 = 0x200_0000;
/// DFLAG_PUBLISHED: a visible node.
pub(crate) const PUBLISHED: u64 = 0x1;

/// The other node, as the handshake told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// Its full name, `name@host`.
    pub(crate) name: String,
    pub(crate) flags: u64,
    pub(crate) creation: u32,
}

/// Why a handshake failed.
#[derive(Debug)]
pub(crate) enum HandshakeError {
    Io(io::Error),
    /// The other side sent something the protocol does not allow here.
    Protocol(String),
    /// It refused us: its status (`nok`, `not_allowed`, `alive`).
    Refused(String),
    /// Its digest did not match: not the same cookie.
    BadCookie,
    /// It lacks a flag every OTP 25 node has.
    MissingFlags(u64),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Io(e) => write!(f, "handshake I/O: {e}"),
            HandshakeError::Protocol(m) => write!(f, "handshake protocol error: {m}"),
            HandshakeError::Refused(s) => write!(f, "handshake refused: {s}"),
            HandshakeError::BadCookie => f.write_str("handshake failed: the cookies differ"),
            HandshakeError::MissingFlags(m) => write!(f, "the peer lacks mandatory flags {m:#x}"),
        }
    }
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

type Result<T> = std::result::Result<T, HandshakeError>;

fn protocol(m: impl Into<String>) -> HandshakeError {
    HandshakeError::Protocol(m.into())
}

/// `md5(Cookie ++ integer_to_list(Challenge))`.
pub(crate) fn digest(cookie: &str, challenge: u32) -> [u8; 16] {
    md5(format!("{cookie}{challenge}").as_bytes())
}

/// A fresh challenge (std's randomly seeded hasher over the clock: unpredictable enough for a
/// nonce that a cookie, the secret, is mixed with).
fn challenge() -> u32 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now()) as u32
}

fn send(s: &mut impl Write, body: &[u8]) -> Result<()> {
    Ok(super::epmd::write_len16(s, body)?)
}

fn recv(s: &mut impl Read) -> Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// A cursor over a handshake message.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(protocol("short handshake message"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn name(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| protocol("node name is not UTF-8"))
    }
}

/// 'N' Flags Creation/Challenge… Name: the v6 name and challenge messages share this layout.
fn name_message(flags: u64, challenge: Option<u32>, creation: u32, name: &str) -> Vec<u8> {
    let mut m = vec![b'N'];
    m.extend_from_slice(&flags.to_be_bytes());
    if let Some(c) = challenge {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m.extend_from_slice(&creation.to_be_bytes());
    m.extend_from_slice(&(name.len() as u16).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m
}

fn check_flags(flags: u64) -> Result<()> {
    let missing = MANDATORY_25 & !flags;
    if missing != 0 {
        return Err(HandshakeError::MissingFlags(missing));
    }
    Ok(())
}

/// The initiator's side: we dialled `expect` (its full name). If the acceptor answers `alive`
/// (it has a connection to us already), `replace` says whether to go on and replace that one
/// (`true`: ours is gone, the peer has not noticed yet) or give up (`false`: it is up here too).
pub(crate) fn initiate(
    s: &mut (impl Read + Write),
    me: &str,
    creation: u32,
    flags: u64,
    cookie: &str,
    expect: &str,
    replace: impl FnOnce() -> bool,
) -> Result<Peer> {
    send(s, &name_message(flags, None, creation, me))?;
    let status = recv(s)?;
    match status.split_first() {
        Some((b's', b"ok" | b"ok_simultaneous")) => {}
        Some((b's', b"alive")) => {
            let go_on = replace();
            send(s, if go_on { b"strue" } else { b"sfalse" })?;
            if !go_on {
                return Err(HandshakeError::Refused("alive".into()));
            }
        }
        Some((b's', other)) => return Err(HandshakeError::Refused(String::from_utf8_lossy(other).into_owned())),
        _ => return Err(protocol("expected a status message")),
    }
    let msg = recv(s)?;
    let mut f = Fields(&msg);
    if f.take(1)? != b"N" {
        return Err(protocol("expected a version-6 challenge ('N')"));
    }
    let their_flags = f.u64()?;
    let their_challenge = f.u32()?;
    let their_creation = f.u32()?;
    let name = f.name()?;
    if name != expect {
        return Err(protocol(format!("dialled {expect} but {name} answered")));
    }
    check_flags(their_flags)?;
    let ours = challenge();
    let mut reply = vec![b'r'];
    reply.extend_from_slice(&ours.to_be_bytes());
    reply.extend_from_slice(&digest(cookie, their_challenge));
    send(s, &reply)?;
    let ack = match recv(s) {
        Ok(a) => a,
        // A node that finds our digest wrong closes without a word.
        Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(HandshakeError::BadCookie)
        }
        Err(e) => return Err(e),
    };
    match ack.split_first() {
        Some((b'a', d)) if d == digest(cookie, ours) => Ok(Peer { name, flags: their_flags, creation: their_creation }),
        Some((b'a', _)) => Err(HandshakeError::BadCookie),
        _ => Err(protocol("expected a challenge ack ('a')")),
    }
}

/// The acceptor's side: someone dialled us. `admit` gets the dialler's name and picks the status
/// to answer (`"ok"`, or `"ok_simultaneous"`, `"nok"`, ... when we are dialling it too: the
/// node's rule for simultaneous connects; `"alive"` when connected to it already, and then the
/// dialler says whether to go on); any status but those ends the handshake.
pub(crate) fn accept(
    s: &mut (impl Read + Write),
    me: &str,
    creation: u32,
    flags: u64,
    cookie: &str,
    admit: impl FnOnce(&str) -> &'static str,
) -> Result<Peer> {
    let msg = recv(s)?;
    let mut f = Fields(&msg);
    let (their_flags, their_creation, name) = match f.take(1)? {
        b"N" => {
            let flags = f.u64()?;
            let creation = f.u32()?;
            (flags, creation, f.name()?)
        }
        _ => return Err(protocol("expected a version-6 send_name ('N')")),
    };
    check_flags(their_flags)?;
    let status = admit(&name);
    send(s, format!("s{status}").as_bytes())?;
    match status {
        "ok" | "ok_simultaneous" => {}
        "alive" => match recv(s)?.as_slice() {
            b"strue" => {}
            b"sfalse" => return Err(HandshakeError::Refused("alive".into())),
            _ => return Err(protocol("expected the answer to 'alive'")),
        },
        _ => return Err(HandshakeError::Refused(status.to_string())),
    }
    let ours = challenge();
    send(s, &name_message(flags, Some(ours), creation, me))?;
    let reply = recv(s)?;
    let mut f = Fields(&reply);
    if f.take(1)? != b"r" {
        return Err(protocol("expected a challenge reply ('r')"));
    }
    let their_challenge = f.u32()?;
    if f.take(16)? != digest(cookie, ours) {
        return Err(HandshakeError::BadCookie);
    }
    let mut ack = vec![b'a'];
    ack.extend_from_slice(&digest(cookie, their_challenge));
    send(s, &ack)?;
    Ok(Peer { name, flags: their_flags, creation: their_creation })
}
