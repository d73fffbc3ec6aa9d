//! The EPMD client (Erlang Port Mapper Daemon, TCP 4369; `docs` in ERTS' "Distribution
//! Protocol"): register this node's name and port (ALIVE2, the socket kept open: closing it
//! unregisters), and look up another node's port (PORT_PLEASE2). Each request is a 2-byte
//! big-endian length and the request; answers are unframed.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// EPMD's port.
pub(crate) const PORT: u16 = 4369;
/// Distribution protocol versions we speak (OTP 23+: 6 only in practice; 5 is announced as the
/// lowest, as OTP does).
const HIGHEST: u16 = 6;
const LOWEST: u16 = 5;
/// How long a request to EPMD may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A node's kind, as EPMD records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeType {
    /// A normal (visible) Erlang node, 77 ('M').
    Normal,
    /// A hidden node, 72 ('H').
    Hidden,
}

/// Our registration: alive while this lives (EPMD unregisters the name when the socket closes).
#[derive(Debug)]
pub(crate) struct Registration {
    _socket: TcpStream,
    /// The creation EPMD gave this incarnation of the name: in every pid and ref we make.
    pub(crate) creation: u32,
}

/// Where another node listens, from PORT_PLEASE2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodePort {
    pub(crate) port: u16,
    pub(crate) node_type: NodeType,
    pub(crate) highest: u16,
    pub(crate) lowest: u16,
}

/// Connects to `host:port` within `timeout`, which then bounds each read and write too (TCP no
/// delay): EPMD's requests, and a node's dial before its handshake.
pub(crate) fn dial(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address")))?;
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn connect(host: &str) -> io::Result<TcpStream> {
    dial(host, PORT, TIMEOUT)
}

/// Writes `body` after its 2-byte big-endian length, in one write: the framing of EPMD requests
/// and of handshake messages alike.
pub(crate) fn write_len16(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let len = u16::try_from(body.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
    let mut frame = Vec::with_capacity(2 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame)?;
    w.flush()
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// ALIVE2: registers `name` (the part before `@`) as listening on `port` with the local EPMD.
pub(crate) fn register(name: &str, port: u16, node_type: NodeType) -> io::Result<Registration> {
    let mut s = connect("localhost")?;
    let name_len = u16::try_from(name.len()).map_err(|_| bad("node name too long"))?;
    let mut body = vec![120];
    body.extend_from_slice(&port.to_be_bytes());
    body.push(match node_type {
        NodeType::Normal => 77,
        NodeType::Hidden => 72,
    });
    body.push(0); // protocol: TCP/IPv4
    body.extend_from_slice(&HIGHEST.to_be_bytes());
    body.extend_from_slice(&LOWEST.to_be_bytes());
    body.extend_from_slice(&name_len.to_be_bytes());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(&0u16.to_be_bytes()); // no extra
    write_len16(&mut s, &body)?;
    let mut head = [0u8; 2];
    s.read_exact(&mut head)?;
    let creation = match head {
        // ALIVE2_X_RESP: a 32-bit creation.
        [118, 0] => {
            let mut c = [0u8; 4];
            s.read_exact(&mut c)?;
            u32::from_be_bytes(c)
        }
        // ALIVE2_RESP (old EPMD): a 16-bit creation.
        [121, 0] => {
            let mut c = [0u8; 2];
            s.read_exact(&mut c)?;
            u32::from(u16::from_be_bytes(c))
        }
        [118 | 121, _] => {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("epmd refused the name {name:?} (taken?)")))
        }
        other => return Err(bad(format!("epmd: unexpected answer {other:?} to ALIVE2"))),
    };
    // Keep the socket open, without timeouts: closing it unregisters the name.
    s.set_read_timeout(None)?;
    Ok(Registration { _socket: s, creation })
}

/// PORT_PLEASE2: where `name` listens on `host`; `None` if EPMD does not know it.
pub(crate) fn port_please(host: &str, name: &str) -> io::Result<Option<NodePort>> {
    let mut s = connect(host)?;
    let mut body = vec![122];
    body.extend_from_slice(name.as_bytes());
    write_len16(&mut s, &body)?;
    let mut head = [0u8; 2];
    s.read_exact(&mut head)?;
    match head {
        [119, 0] => {}
        [119, _] => return Ok(None),
        other => return Err(bad(format!("epmd: unexpected answer {other:?} to PORT_PLEASE2"))),
    }
    let mut rest = [0u8; 8]; // port, node type, protocol, highest, lowest
    s.read_exact(&mut rest)?;
    let port = u16::from_be_bytes([rest[0], rest[1]]);
    let node_type = if rest[2] == 72 { NodeType::Hidden } else { NodeType::Normal };
    let highest = u16::from_be_bytes([rest[4], rest[5]]);
    let lowest = u16::from_be_bytes([rest[6], rest[7]]);
    Ok(Some(NodePort { port, node_type, highest, lowest }))
}

/// NAMES: the names EPMD knows on `host`, with their ports.
#[cfg(test)]
pub(crate) fn names(host: &str) -> io::Result<Vec<(String, u16)>> {
    let mut s = connect(host)?;
    write_len16(&mut s, &[110])?;
    let mut text = Vec::new();
    s.read_to_end(&mut text)?;
    let text = text.get(4..).ok_or_else(|| bad("epmd: short NAMES answer"))?; // EPMD's own port
    Ok(String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| {
            // "name NAME at port PORT"
            let rest = l.strip_prefix("name ")?;
            let (name, port) = rest.rsplit_once(" at port ")?;
            Some((name.to_string(), port.trim().parse().ok()?))
        })
        .collect())
}
