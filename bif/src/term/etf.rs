//! The External Term Format: [`encode`] a [`Term`] to the bytes `term_to_binary/1` makes, and
//! [`decode`] the bytes an Erlang node sends.
//!
//! ```
//! use spam::term::{etf, Term};
//! let t = Term::from((Term::atom("ok"), 1));
//! let bytes = etf::encode(&t);
//! assert_eq!(bytes, [131, 104, 2, 119, 2, b'o', b'k', 97, 1]);
//! assert_eq!(etf::decode(&bytes).unwrap(), t);
//! ```
//!
//! # What is written
//!
//! The encoder writes what OTP 25's `term_to_binary(T, [{minor_version, 2}])` writes (OTP 26's
//! default), byte for byte, except for map entry order (Erlang sorts small maps' keys; we keep
//! the `Vec`'s order, and Erlang accepts any order):
//! `SMALL_INTEGER_EXT` 97 (0..=255), `INTEGER_EXT` 98 (the `i32` range), `SMALL_BIG_EXT` 110 /
//! `LARGE_BIG_EXT` 111 (past that), `NEW_FLOAT_EXT` 70, `SMALL_ATOM_UTF8_EXT` 119 /
//! `ATOM_UTF8_EXT` 118, `SMALL_TUPLE_EXT` 104 / `LARGE_TUPLE_EXT` 105, `NIL_EXT` 106,
//! `STRING_EXT` 107 (a proper list of at most 65535 integers 0..=255, as Erlang does),
//! `LIST_EXT` 108, `BINARY_EXT` 109, `BIT_BINARY_EXT` 77, `MAP_EXT` 116, `NEW_PID_EXT` 88,
//! `NEWER_REFERENCE_EXT` 90, `NEW_PORT_EXT` 89 (`V4_PORT_EXT` 120 for an id past `u32`), and a
//! fun or export as the bytes it was received as (`NEW_FUN_EXT` 112, `EXPORT_EXT` 113). Nothing
//! is compressed and no atom cache is used.
//!
//! # What is read
//!
//! All of the above, and the older forms Erlang may still send: `FLOAT_EXT` 99, `ATOM_EXT` 100
//! and `SMALL_ATOM_EXT` 115 (Latin-1), `PID_EXT` 103, `NEW_REFERENCE_EXT` 114 and `PORT_EXT`
//! 102. Compressed terms (80) are refused with [`EtfError::Compressed`] (a node that does not
//! advertise them is never sent one); atom cache references (82), `LOCAL_EXT` (121) and the old
//! `FUN_EXT` (117) are [`EtfError::UnknownTag`]. Results are normalised as Erlang's are: a
//! bignum that fits an `i64` is an integer, a `BIT_BINARY_EXT` of whole bytes a binary, a list
//! whose tail is a list one list, `STRING_EXT` a list of integers. What Erlang's
//! `binary_to_term/1` refuses is refused too: floats that are not finite, atoms past 255
//! characters or not valid UTF-8, references of 0 or more than 5 words, maps with a duplicate
//! key, bits of a bitstring outside 1..=8.
//!
//! # Hostile input
//!
//! [`decode`] is safe on any bytes: it never panics; it checks every length against the bytes
//! left before it allocates (a list of 2^32 elements in 10 bytes fails at once), and the
//! capacity it reserves ahead of decoding elements is bounded by the input's length over the
//! whole decode, so the memory a decode uses is linear in the input (at most about 100 bytes
//! per input byte); it nests at most [`MAX_DEPTH`] tuples, lists and maps and recurses no
//! deeper (an improper list's tail chain does not count, it is read in a loop); its time is
//! linear in the input too: maps are checked for duplicate keys with hashes computed bottom-up
//! while their keys are decoded (keyed per decode, so collisions cannot be planned), so no key
//! is hashed or compared again per level of maps it is nested in. [`MAX_DEPTH`] levels take
//! under 1 MiB of stack unoptimised, well under a default thread's 2 MiB. The encoder, and
//! `Term`'s `Clone`, `==`, `Display` and drop, recurse once per level of nesting of the term they
//! are given.

use super::{Atom, Cons, ExternalPid, ExternalPort, ExternalRef, Opaque, Term};
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// The version byte that starts an encoded term.
pub const VERSION: u8 = 131;

/// How deeply [`decode`] lets tuples, lists and maps nest: a term inside more containers than
/// this is [`EtfError::TooDeep`].
pub const MAX_DEPTH: usize = 512;

const NEW_FLOAT: u8 = 70;
const BIT_BINARY: u8 = 77;
const COMPRESSED: u8 = 80;
const NEW_PID: u8 = 88;
const NEW_PORT: u8 = 89;
const NEWER_REFERENCE: u8 = 90;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const FLOAT: u8 = 99;
const ATOM: u8 = 100;
const PORT: u8 = 102;
const PID: u8 = 103;
const SMALL_TUPLE: u8 = 104;
const LARGE_TUPLE: u8 = 105;
const NIL: u8 = 106;
const STRING: u8 = 107;
const LIST: u8 = 108;
const BINARY: u8 = 109;
const SMALL_BIG: u8 = 110;
const LARGE_BIG: u8 = 111;
const NEW_FUN: u8 = 112;
const EXPORT: u8 = 113;
const NEW_REFERENCE: u8 = 114;
const SMALL_ATOM: u8 = 115;
const MAP: u8 = 116;
const ATOM_UTF8: u8 = 118;
const SMALL_ATOM_UTF8: u8 = 119;
const V4_PORT: u8 = 120;

// ---- Encoding ----

/// `t` in the External Term Format, with the version byte: Erlang's `term_to_binary(T,
/// [{minor_version, 2}])`.
///
/// # Panics
/// If a binary, list, tuple or map has more than `u32::MAX` elements, or a reference more than
/// `u16::MAX` words (ETF cannot carry them).
///
/// ```
/// use spam::term::{etf, Term};
/// assert_eq!(etf::encode(&Term::from(vec![1, 2, 3])), [131, 107, 0, 3, 1, 2, 3]);
/// ```
pub fn encode(t: &Term) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    encode_into(t, &mut out);
    out
}

/// Appends `t` in the External Term Format to `out`, without the version byte (for a term
/// inside a larger message).
///
/// # Panics
/// As [`encode`].
///
/// ```
/// use spam::term::{etf, Term};
/// let mut out = vec![112, 131]; // a distribution message, then a control tuple
/// etf::encode_into(&Term::tuple(vec![Term::from(2)]), &mut out);
/// assert_eq!(out, [112, 131, 104, 1, 97, 2]);
/// ```
pub fn encode_into(t: &Term, out: &mut Vec<u8>) {
    match t {
        Term::Atom(a) => put_atom(out, a),
        Term::Integer(i) => put_integer(out, *i),
        Term::BigInt(b) => put_big(out, b.negative, &b.magnitude),
        Term::Float(x) => {
            out.push(NEW_FLOAT);
            out.extend_from_slice(&x.to_bits().to_be_bytes());
        }
        Term::Binary(b) => put_binary(out, b),
        Term::BitBinary(b, bits) => match b.split_last() {
            Some((last, whole)) if (1..8).contains(bits) => {
                out.push(BIT_BINARY);
                put_len32(out, b.len());
                out.push(*bits);
                out.extend_from_slice(whole);
                out.push(last & (0xffu8 << (8 - bits)));
            }
            _ => put_binary(out, b),
        },
        Term::Nil => out.push(NIL),
        Term::List(..) => put_list(out, t),
        Term::Tuple(v) => {
            match u8::try_from(v.len()) {
                Ok(n) => out.extend_from_slice(&[SMALL_TUPLE, n]),
                Err(_) => {
                    out.push(LARGE_TUPLE);
                    put_len32(out, v.len());
                }
            }
            v.iter().for_each(|x| encode_into(x, out));
        }
        Term::Map(m) => {
            out.push(MAP);
            put_len32(out, m.len());
            for (k, v) in m {
                encode_into(k, out);
                encode_into(v, out);
            }
        }
        Term::Pid(p) => {
            out.push(NEW_PID);
            put_atom(out, &p.node);
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.serial.to_be_bytes());
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Reference(r) => {
            out.push(NEWER_REFERENCE);
            let n = u16::try_from(r.ids.len()).expect("etf::encode: a reference of more than 65535 words");
            out.extend_from_slice(&n.to_be_bytes());
            put_atom(out, &r.node);
            out.extend_from_slice(&r.creation.to_be_bytes());
            r.ids.iter().for_each(|id| out.extend_from_slice(&id.to_be_bytes()));
        }
        Term::Port(p) => {
            let small = u32::try_from(p.id);
            out.push(if small.is_ok() { NEW_PORT } else { V4_PORT });
            put_atom(out, &p.node);
            match small {
                Ok(id) => out.extend_from_slice(&id.to_be_bytes()),
                Err(_) => out.extend_from_slice(&p.id.to_be_bytes()),
            }
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Fun(o) | Term::Export(o) => out.extend_from_slice(o.as_bytes()),
    }
}

fn put_len32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("etf::encode: more than u32::MAX elements");
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_atom(out: &mut Vec<u8>, a: &Atom) {
    let s = a.as_str().as_bytes();
    match u8::try_from(s.len()) {
        Ok(n) => out.extend_from_slice(&[SMALL_ATOM_UTF8, n]),
        Err(_) => {
            out.push(ATOM_UTF8);
            // At most 255 characters of at most 4 bytes.
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(s);
}

fn put_integer(out: &mut Vec<u8>, i: i64) {
    if let Ok(b) = u8::try_from(i) {
        out.extend_from_slice(&[SMALL_INTEGER, b]);
    } else if let Ok(w) = i32::try_from(i) {
        out.push(INTEGER);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        let le = i.unsigned_abs().to_le_bytes();
        let n = 8 - le.iter().rev().take_while(|&&b| b == 0).count();
        put_big(out, i < 0, &le[..n]);
    }
}

fn put_big(out: &mut Vec<u8>, negative: bool, magnitude: &[u8]) {
    match u8::try_from(magnitude.len()) {
        Ok(n) => out.extend_from_slice(&[SMALL_BIG, n]),
        Err(_) => {
            out.push(LARGE_BIG);
            put_len32(out, magnitude.len());
        }
    }
    out.push(u8::from(negative));
    out.extend_from_slice(magnitude);
}

fn put_binary(out: &mut Vec<u8>, b: &[u8]) {
    out.push(BINARY);
    put_len32(out, b.len());
    out.extend_from_slice(b);
}

fn put_list(out: &mut Vec<u8>, t: &Term) {
    let mut heads = Cons::new(t);
    let (mut n, mut bytes) = (0usize, true);
    for x in heads.by_ref() {
        n += 1;
        bytes &= matches!(x, Term::Integer(0..=255));
    }
    let tail = heads.tail();
    if n == 0 {
        return encode_into(tail, out);
    }
    if bytes && n <= usize::from(u16::MAX) && matches!(tail, Term::Nil) {
        out.push(STRING);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend(Cons::new(t).map(|x| match x {
            Term::Integer(i) => *i as u8,
            _ => 0,
        }));
        return;
    }
    out.push(LIST);
    put_len32(out, n);
    Cons::new(t).for_each(|x| encode_into(x, out));
    encode_into(tail, out);
}

// ---- Decoding ----

/// Why bytes are not a term. Offsets count from the start of the slice given to [`decode`].
///
/// ```
/// use spam::term::etf::{decode, EtfError};
/// assert_eq!(decode(&[131, 80, 0, 0, 0, 1]), Err(EtfError::Compressed));
/// assert_eq!(decode(&[130]), Err(EtfError::BadVersion(130)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EtfError {
    /// The input ends inside a term (or a length says more than the input holds).
    Truncated {
        /// Where the missing bytes were wanted.
        offset: usize,
    },
    /// The first byte is not the version byte [`VERSION`] (131).
    BadVersion(u8),
    /// A compressed term (tag 80): not supported (and never advertised).
    Compressed,
    /// A tag this codec does not read.
    UnknownTag {
        /// The tag.
        tag: u8,
        /// Where it is.
        offset: usize,
    },
    /// Tuples, lists and maps nested deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Where the container too deep starts.
        offset: usize,
    },
    /// A known tag with contents Erlang refuses too.
    Invalid {
        /// What is wrong.
        what: &'static str,
        /// Where the term starts.
        offset: usize,
    },
    /// Bytes left after the term ([`decode`] only).
    TrailingBytes {
        /// Where they start.
        offset: usize,
    },
}

impl fmt::Display for EtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtfError::Truncated { offset } => write!(f, "ETF: input ends inside a term (at byte {offset})"),
            EtfError::BadVersion(v) => write!(f, "ETF: version byte {v}, expected 131"),
            EtfError::Compressed => f.write_str("ETF: compressed terms not supported"),
            EtfError::UnknownTag { tag, offset } => write!(f, "ETF: unknown tag {tag} at byte {offset}"),
            EtfError::TooDeep { offset } => {
                write!(f, "ETF: terms nested deeper than {MAX_DEPTH} levels (at byte {offset})")
            }
            EtfError::Invalid { what, offset } => write!(f, "ETF: {what} (at byte {offset})"),
            EtfError::TrailingBytes { offset } => write!(f, "ETF: bytes after the term (from byte {offset})"),
        }
    }
}

impl std::error::Error for EtfError {}

/// The term `bytes` encode, with the version byte, and nothing after it.
///
/// ```
/// use spam::term::{etf, Term};
/// // term_to_binary([1, 2 | 3])
/// let t = etf::decode(&[131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3]).unwrap();
/// assert_eq!(t.to_string(), "[1,2|3]");
/// assert!(etf::decode(&[131, 108, 255, 255, 255, 255, 106]).is_err()); // fails fast
/// ```
pub fn decode(bytes: &[u8]) -> Result<Term, EtfError> {
    let (t, used) = decode_prefix(bytes)?;
    if used == bytes.len() {
        Ok(t)
    } else {
        Err(EtfError::TrailingBytes { offset: used })
    }
}

/// The term at the start of `bytes` (version byte included) and how many bytes it took: for a
/// control tuple followed by a message in one buffer.
///
/// ```
/// use spam::term::{etf, Term};
/// let mut buf = etf::encode(&Term::tuple(vec![Term::from(2)]));
/// buf.extend(etf::encode(&Term::atom("hi")));
/// let (control, used) = etf::decode_prefix(&buf).unwrap();
/// assert_eq!((control.to_string(), used), ("{2}".to_string(), 5));
/// assert_eq!(etf::decode(&buf[used..]).unwrap(), Term::atom("hi"));
/// ```
pub fn decode_prefix(bytes: &[u8]) -> Result<(Term, usize), EtfError> {
    match bytes.first() {
        None => return Err(EtfError::Truncated { offset: 0 }),
        Some(&VERSION) => {}
        Some(&v) => return Err(EtfError::BadVersion(v)),
    }
    let mut d = Decoder { buf: bytes, pos: 1, budget: bytes.len(), state: None };
    let (t, _) = d.term(0, false)?;
    Ok((t, d.pos))
}

/// The module, function and arity of an `EXPORT_EXT` (for printing).
pub(super) fn export_parts(bytes: &[u8]) -> Option<(Atom, Atom, u8)> {
    let mut d = Decoder { buf: bytes, pos: 1, budget: 0, state: None };
    let m = d.atom().ok()?;
    let f = d.atom().ok()?;
    (d.u8().ok()? == SMALL_INTEGER).then_some(())?;
    Some((m, f, d.u8().ok()?))
}

/// The module of a `NEW_FUN_EXT` (for printing).
pub(super) fn fun_module(bytes: &[u8]) -> Option<Atom> {
    // Tag, Size 4, Arity 1, Uniq 16, Index 4, NumFree 4, then Module.
    let mut d = Decoder { buf: bytes, pos: 30, budget: 0, state: None };
    d.atom().ok()
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Element slots that may still be reserved ahead of decoding them, over the whole decode.
    budget: usize,
    /// The keys of the hashes of map keys (random per decode), made at the first map.
    state: Option<RandomState>,
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EtfError> {
        if self.buf.len() - self.pos < n {
            return Err(EtfError::Truncated { offset: self.buf.len() });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EtfError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, EtfError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, EtfError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, EtfError> {
        self.array().map(u32::from_be_bytes)
    }

    fn len32(&mut self) -> Result<usize, EtfError> {
        Ok(self.u32()? as usize)
    }

    /// Checks that `n` items of at least `each` bytes fit in what is left, and returns how
    /// many to reserve room for.
    fn count(&mut self, n: usize, each: usize) -> Result<usize, EtfError> {
        if n.saturating_mul(each) > self.buf.len() - self.pos {
            return Err(EtfError::Truncated { offset: self.buf.len() });
        }
        let reserve = n.min(self.budget);
        self.budget -= reserve;
        Ok(reserve)
    }

    fn invalid<T>(&self, what: &'static str, offset: usize) -> Result<T, EtfError> {
        Err(EtfError::Invalid { what, offset })
    }

    fn atom(&mut self) -> Result<Atom, EtfError> {
        let at = self.pos;
        let tag = self.u8()?;
        self.atom_body(tag, at)
    }

    fn atom_body(&mut self, tag: u8, at: usize) -> Result<Atom, EtfError> {
        let (len, utf8) = match tag {
            ATOM_UTF8 => (usize::from(self.u16()?), true),
            SMALL_ATOM_UTF8 => (usize::from(self.u8()?), true),
            ATOM => (usize::from(self.u16()?), false),
            SMALL_ATOM => (usize::from(self.u8()?), false),
            _ => return self.invalid("expected an atom", at),
        };
        let bytes = self.take(len)?;
        let atom = if utf8 || bytes.is_ascii() {
            match std::str::from_utf8(bytes) {
                Ok(s) => Atom::try_new(s),
                Err(_) => return self.invalid("atom is not valid UTF-8", at),
            }
        } else {
            Atom::try_new(&bytes.iter().map(|&b| char::from(b)).collect::<String>())
        };
        atom.or_else(|_| self.invalid("atom longer than 255 characters", at))
    }

    fn ids(&mut self, n: u16, at: usize) -> Result<Vec<u32>, EtfError> {
        if !(1..=5).contains(&n) {
            return self.invalid("reference of 0 or more than 5 words", at);
        }
        (0..n).map(|_| self.u32()).collect()
    }

    /// One term, and if `h`, its hash (else 0). Only containers recurse, through small
    /// functions of their own, so a level of nesting costs a small stack frame even unoptimised.
    ///
    /// Hashes are computed only inside map keys, bottom-up, each node once: the duplicate-key
    /// check of a map hashes no key again, however deeply maps nest in keys.
    fn term(&mut self, depth: usize, h: bool) -> Result<(Term, u64), EtfError> {
        let at = self.pos;
        let tag = self.u8()?;
        if matches!(tag, SMALL_TUPLE | LARGE_TUPLE | LIST | MAP) && depth >= MAX_DEPTH {
            return Err(EtfError::TooDeep { offset: at });
        }
        match tag {
            SMALL_TUPLE => {
                let n = usize::from(self.u8()?);
                self.tuple(n, depth, h)
            }
            LARGE_TUPLE => {
                let n = self.len32()?;
                self.tuple(n, depth, h)
            }
            LIST => self.list(depth, h),
            STRING => self.string(h),
            MAP => self.map(at, depth, h),
            _ => {
                let t = self.scalar(tag, at)?;
                let x = if h { self.state().hash_one(&t) } else { 0 };
                Ok((t, x))
            }
        }
    }

    /// A `STRING_EXT` (tag read): a list of small integers, hashed as a `LIST_EXT` of them.
    fn string(&mut self, h: bool) -> Result<(Term, u64), EtfError> {
        let n = usize::from(self.u16()?);
        let bytes = self.take(n)?;
        let v: Vec<Term> = bytes.iter().map(|&b| Term::Integer(i64::from(b))).collect();
        let x = match self.hasher(h, LIST) {
            _ if v.is_empty() && h => self.state().hash_one(&Term::Nil),
            Some(mut hs) => {
                let state = self.state();
                v.iter().for_each(|t| hs.write_u64(state.hash_one(t)));
                hs.write_u64(0);
                hs.finish()
            }
            None => 0,
        };
        Ok((Term::list(v), x))
    }

    fn state(&mut self) -> &RandomState {
        self.state.get_or_insert_with(RandomState::new)
    }

    /// A hasher for a container's hash, if one is wanted, started with the container's tag.
    fn hasher(&mut self, h: bool, tag: u8) -> Option<DefaultHasher> {
        h.then(|| {
            let mut hs = self.state().build_hasher();
            hs.write_u8(tag);
            hs
        })
    }

    fn tuple(&mut self, n: usize, depth: usize, h: bool) -> Result<(Term, u64), EtfError> {
        let mut hs = self.hasher(h, SMALL_TUPLE);
        let mut v = Vec::with_capacity(self.count(n, 1)?);
        for _ in 0..n {
            let (t, x) = self.term(depth + 1, h)?;
            if let Some(hs) = hs.as_mut() {
                hs.write_u64(x);
            }
            v.push(t);
        }
        Ok((Term::Tuple(v), hs.map_or(0, |hs| hs.finish())))
    }

    fn map(&mut self, at: usize, depth: usize, h: bool) -> Result<(Term, u64), EtfError> {
        let n = self.len32()?;
        let mut m = Vec::with_capacity(self.count(n, 2)?);
        self.budget = self.budget.saturating_sub(m.capacity());
        let mut keys = Vec::with_capacity(m.capacity());
        let mut sum = 0u64;
        for i in 0..n {
            let (k, kh) = self.term(depth + 1, true)?;
            let (v, vh) = self.term(depth + 1, h)?;
            if h {
                sum = sum.wrapping_add(self.state().hash_one((kh, vh)));
            }
            keys.push((kh, i));
            m.push((k, v));
        }
        // Duplicate keys: equal hashes, then equal terms.
        keys.sort_unstable();
        for (i, &(kh, a)) in keys.iter().enumerate() {
            for &(_, b) in keys[i + 1..].iter().take_while(|(h2, _)| *h2 == kh) {
                if m[a].0 == m[b].0 {
                    return self.invalid("map with a duplicate key", at);
                }
            }
        }
        let x = self.hasher(h, MAP).map_or(0, |mut hs| {
            hs.write_u64(sum);
            hs.finish()
        });
        Ok((Term::Map(m), x))
    }

    /// A term that is not a tuple, list or map (its tag read).
    #[inline(never)]
    fn scalar(&mut self, tag: u8, at: usize) -> Result<Term, EtfError> {
        Ok(match tag {
            SMALL_INTEGER => Term::Integer(i64::from(self.u8()?)),
            INTEGER => Term::Integer(i64::from(self.u32()? as i32)),
            SMALL_BIG | LARGE_BIG => {
                let n = if tag == SMALL_BIG { usize::from(self.u8()?) } else { self.len32()? };
                let sign = self.u8()?;
                if sign > 1 {
                    return self.invalid("bignum sign is not 0 or 1", at);
                }
                Term::big(sign == 1, self.take(n)?)
            }
            NEW_FLOAT => {
                let x = f64::from_bits(u64::from_be_bytes(self.array()?));
                if !x.is_finite() {
                    return self.invalid("float is not finite", at);
                }
                Term::Float(x)
            }
            FLOAT => {
                let text = self.take(31)?;
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                match std::str::from_utf8(&text[..end]).ok().and_then(|s| s.trim().parse::<f64>().ok()) {
                    Some(x) if x.is_finite() => Term::Float(x),
                    _ => return self.invalid("FLOAT_EXT is not a finite float", at),
                }
            }
            ATOM_UTF8 | SMALL_ATOM_UTF8 | ATOM | SMALL_ATOM => Term::Atom(self.atom_body(tag, at)?),
            NIL => Term::Nil,
            BINARY => {
                let n = self.len32()?;
                Term::Binary(self.take(n)?.to_vec())
            }
            BIT_BINARY => {
                let n = self.len32()?;
                let bits = self.u8()?;
                let bytes = self.take(n)?;
                match (n, bits) {
                    (0, 0) => Term::Binary(Vec::new()),
                    (1.., 1..=8) => Term::bitstring(bytes.to_vec(), bits),
                    _ => return self.invalid("bitstring's bit count is not 1 to 8", at),
                }
            }
            NEW_PID | PID => {
                let node = self.atom()?;
                let (id, serial) = (self.u32()?, self.u32()?);
                let creation = if tag == NEW_PID { self.u32()? } else { u32::from(self.u8()?) };
                Term::Pid(ExternalPid { node, id, serial, creation })
            }
            NEWER_REFERENCE | NEW_REFERENCE => {
                let n = self.u16()?;
                let node = self.atom()?;
                let creation = if tag == NEWER_REFERENCE { self.u32()? } else { u32::from(self.u8()?) };
                Term::Reference(ExternalRef { node, creation, ids: self.ids(n, at)? })
            }
            NEW_PORT | V4_PORT | PORT => {
                let node = self.atom()?;
                let id = if tag == V4_PORT { u64::from_be_bytes(self.array()?) } else { u64::from(self.u32()?) };
                let creation = if tag == PORT { u32::from(self.u8()?) } else { self.u32()? };
                Term::Port(ExternalPort { node, id, creation })
            }
            EXPORT => {
                self.atom()?;
                self.atom()?;
                if self.u8()? != SMALL_INTEGER {
                    return self.invalid("export's arity is not a small integer", at);
                }
                self.u8()?;
                Term::Export(Opaque(self.buf[at..self.pos].into()))
            }
            NEW_FUN => {
                let size = self.len32()?;
                if size < 4 {
                    return self.invalid("fun's size is less than 4", at);
                }
                self.take(size - 4)?;
                Term::Fun(Opaque(self.buf[at..self.pos].into()))
            }
            COMPRESSED => return Err(EtfError::Compressed),
            _ => return Err(EtfError::UnknownTag { tag, offset: at }),
        })
    }

    /// A `LIST_EXT` (tag read): its elements, then its tail, read in a loop while the tail is
    /// itself a list (so a chain of tails neither nests nor recurses).
    fn list(&mut self, depth: usize, h: bool) -> Result<(Term, u64), EtfError> {
        let mut hs = self.hasher(h, LIST);
        let mut n = self.len32()?;
        let mut v = Vec::with_capacity(self.count(n, 1)?);
        loop {
            for _ in 0..n {
                let (t, x) = self.term(depth + 1, h)?;
                if let Some(hs) = hs.as_mut() {
                    hs.write_u64(x);
                }
                v.push(t);
            }
            let (tail, x) = match self.buf.get(self.pos) {
                Some(&NIL) => {
                    self.pos += 1;
                    (Term::Nil, 0)
                }
                Some(&LIST) => {
                    self.pos += 1;
                    n = self.len32()?;
                    v.reserve(self.count(n, 1)?);
                    continue;
                }
                Some(&STRING) => {
                    self.pos += 1;
                    let len = usize::from(self.u16()?);
                    for &b in self.take(len)? {
                        let t = Term::Integer(i64::from(b));
                        if let Some(hs) = hs.as_mut() {
                            hs.write_u64(self.state.get_or_insert_with(RandomState::new).hash_one(&t));
                        }
                        v.push(t);
                    }
                    (Term::Nil, 0)
                }
                _ => self.term(depth + 1, h)?,
            };
            if v.is_empty() {
                // `[]` or a bare tail: the tail is the term (and its hash the term's).
                return Ok(match tail {
                    Term::Nil if h => {
                        let x = self.state().hash_one(&Term::Nil);
                        (Term::Nil, x)
                    }
                    tail => (tail, x),
                });
            }
            if let Some(hs) = hs.as_mut() {
                hs.write_u64(x);
            }
            return Ok((Term::List(v, Box::new(tail)), hs.map_or(0, |hs| hs.finish())));
        }
    }
}
