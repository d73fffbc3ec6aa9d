//! Process identifiers and unique references.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A process identifier: the process-table slot and that slot's serial (generation), so a pid is
/// never reused while anyone could still hold it. `Copy`, 8 bytes; displays like Erlang's
/// `<0.42.0>` (`<0.index.serial>`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(u64);

impl Pid {
    /// Stands for "no process": the `pid` of a `Down` from monitoring a name nobody held.
    pub const UNDEFINED: Pid = Pid(u64::MAX);

    pub(crate) const fn new(index: u32, serial: u32) -> Pid {
        Pid(((serial as u64) << 32) | index as u64)
    }
    /// The process-table slot (the middle number of `<0.index.serial>`).
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::Pid::UNDEFINED.index(), u32::MAX);
    /// ```
    pub fn index(self) -> u32 {
        self.0 as u32
    }
    /// The slot's generation when this pid was handed out.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::Pid::UNDEFINED.serial(), u32::MAX);
    /// ```
    pub fn serial(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// The raw 64-bit value (stable for the life of the VM).
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let p = spam::Pid::UNDEFINED;
    /// assert_eq!(p.to_bits(), (u64::from(p.serial()) << 32) | u64::from(p.index()));
    /// ```
    pub fn to_bits(self) -> u64 {
        self.0
    }
    /// The pid whose [`to_bits`](Pid::to_bits) is `bits` (how a node reads back its own pids
    /// from the wire). A made-up value is a pid of no process: sends to it are dropped.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let p = spam::Pid::UNDEFINED;
    /// assert_eq!(spam::Pid::from_bits(p.to_bits()), p);
    /// ```
    pub fn from_bits(bits: u64) -> Pid {
        Pid(bits)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Pid::UNDEFINED {
            return f.write_str("<undefined>");
        }
        if self.is_remote() {
            // Erlang's form for another node's pid: that node's number here, then its id.serial.
            if let Some(crate::remote::RemotePid { name: Some(name), node, .. }) = self.remote_parts() {
                return write!(f, "{{{name},{node}}}");
            }
            if let (Some(n), Some(r)) = (self.remote_node_number(), self.remote_parts()) {
                return write!(f, "<{n}.{}.{}>", r.id, r.serial);
            }
        }
        write!(f, "<0.{}.{}>", self.index(), self.serial())
    }
}

/// Why a string is not a pid ([`Pid`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePidError;

impl fmt::Display for ParsePidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a pid: expected <0.INDEX.SERIAL>")
    }
}

impl std::error::Error for ParsePidError {}

/// Parses Erlang's notation as `list_to_pid/1` does: `<0.INDEX.SERIAL>`, also without the angle
/// brackets. Only this node's pids (`0`) exist.
///
/// ```
/// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
/// let p: spam::Pid = "<0.42.7>".parse().unwrap();
/// assert_eq!((p.index(), p.serial()), (42, 7));
/// assert_eq!(p.to_string().parse::<spam::Pid>(), Ok(p));
/// assert_eq!("0.42.7".parse::<spam::Pid>(), Ok(p));
/// assert!("<1.2.3>".parse::<spam::Pid>().is_err());
/// ```
impl std::str::FromStr for Pid {
    type Err = ParsePidError;
    fn from_str(s: &str) -> Result<Pid, ParsePidError> {
        let inner = match s.strip_prefix('<') {
            Some(rest) => rest.strip_suffix('>').ok_or(ParsePidError)?,
            None => s,
        };
        let mut parts = inner.split('.');
        let (Some("0"), Some(index), Some(serial), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParsePidError);
        };
        let index: u32 = index.parse().map_err(|_| ParsePidError)?;
        let serial: u32 = serial.parse().map_err(|_| ParsePidError)?;
        Ok(Pid::new(index, serial))
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A unique reference (monitor and timer references), like Erlang's `make_ref()`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref(u64);

/// References are handed out in blocks per thread so making one touches no shared cache line.
const REF_BLOCK: u64 = 1 << 16;
static NEXT_REF_BLOCK: AtomicU64 = AtomicU64::new(REF_BLOCK);

/// The bit that marks a reply alias (`Ref::make_reply_alias`). `make` counts up from
/// `REF_BLOCK` and never reaches it (2^63 references at a billion a second take 292 years).
const REPLY_ALIAS: u64 = 1 << 63;

std::thread_local! {
    static REF_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl Ref {
    /// A reference never returned before in this OS process (`spam::make_ref`).
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_ne!(spam::Ref::make(), spam::Ref::make());
    /// ```
    pub fn make() -> Ref {
        REF_RANGE.with(|r| {
            let (mut next, mut end) = r.get();
            if next == end {
                next = NEXT_REF_BLOCK.fetch_add(REF_BLOCK, Relaxed);
                end = next + REF_BLOCK;
            }
            r.set((next + 1, end));
            Ref(next)
        })
    }
    /// A fresh reference for a monitor that is also a reply alias (Erlang's `monitor(process,
    /// Pid, [{alias, reply_demonitor}])`, `Process::request`). The mark in its bits tells the
    /// receiver of a reply where to look the alias up: among its monitors, not its aliases.
    pub(crate) fn make_reply_alias() -> Ref {
        Ref(Ref::make().0 | REPLY_ALIAS)
    }
    /// Made by [`Ref::make_reply_alias`].
    pub(crate) fn is_reply_alias(self) -> bool {
        self.0 & REPLY_ALIAS != 0
    }
    /// The raw 64-bit value.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let (a, b) = (spam::Ref::make(), spam::Ref::make());
    /// assert_ne!(a.to_bits(), b.to_bits());
    /// ```
    pub fn to_bits(self) -> u64 {
        self.0
    }
    /// The reference whose [`to_bits`](Ref::to_bits) is `bits` (how a node reads back its own
    /// references from the wire).
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let r = spam::Ref::make();
    /// assert_eq!(spam::Ref::from_bits(r.to_bits()), r);
    /// ```
    pub fn from_bits(bits: u64) -> Ref {
        Ref(bits)
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<0.{}>", self.0 & !REPLY_ALIAS) // the count alone: it is unique
    }
}

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
