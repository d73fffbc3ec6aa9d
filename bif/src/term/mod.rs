//! Erlang terms: [`Term`], the value a message takes on the wire between nodes, and its
//! External Term Format codec ([`etf`]).
//!
//! Local messages stay plain Rust values; a `Term` is what a message to or from another node
//! (SPAM or Erlang) is made of. Rust values convert both ways with `From` and `TryFrom`:
//!
//! | Rust | Erlang |
//! |------|--------|
//! | `i8`..`i64`, `u8`..`u64`, `isize`, `usize`, `i128`, `u128` | integer (a bignum past `i64`) |
//! | `bool` | the atom `true` or `false` |
//! | `f64` (`f32` into only) | float |
//! | `&str`, `String` | binary (UTF-8), as Elixir strings and modern Erlang text |
//! | `Vec<T>` | proper list |
//! | `(A, B)` .. `(A, B, C, D, E, F)` | tuple |
//! | `Option<T>` | `undefined` for `None` (Erlang's convention; Elixir's `nil` is not accepted), the value for `Some` (back from a term for the scalar `T`s above) |
//! | [`Atom`], [`ExternalPid`], [`ExternalRef`], [`ExternalPort`] | atom, pid, reference, port |
//!
//! Bytes are a binary only through [`Term::binary`] (a `Vec<u8>` converts as a list of small
//! integers, as any `Vec<T>`); an atom is made with [`Term::atom`], an Erlang string (a list of
//! code points) with [`Term::charlist`].
//!
//! ```
//! use spam::term::Term;
//!
//! let t = Term::from((Term::atom("ok"), "hi", vec![1, 2]));
//! assert_eq!(t.to_string(), r#"{ok,<<"hi">>,[1,2]}"#);
//! let (tag, text, list): (Term, String, Vec<i32>) = t.try_into().unwrap();
//! assert_eq!((tag.as_atom(), text.as_str(), list), (Some("ok"), "hi", vec![1, 2]));
//! ```
//!
//! # Equality
//!
//! `==` is Erlang's exact equality `=:=`: `1` and `1.0` differ; floats compare by their bits, so
//! `0.0 != -0.0` (as in OTP 27) and a NaN equals itself, which makes `Term` [`Eq`] and [`Hash`].
//! Maps compare as maps (entry order does not matter); lists compare by their elements and final
//! tail, however the `Vec`s are split (`List([1], List([2], Nil))` equals `List([1, 2], Nil)`,
//! and an empty `List(vec![], tail)` equals `tail`).

pub mod etf;
#[cfg(feature = "serde")]
pub mod serde;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The most characters an atom may have (Erlang's limit).
pub const MAX_ATOM_CHARS: usize = 255;

/// An atom: an interned-by-name constant such as `ok`, `undefined` or a node name. UTF-8, at most
/// [`MAX_ATOM_CHARS`] characters; cloning is a reference-count increment.
///
/// ```
/// use spam::term::Atom;
/// let a = Atom::new("ok");
/// assert_eq!(a, "ok");
/// assert_eq!(Atom::new("Hello World").to_string(), "'Hello World'");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atom(Arc<str>);

impl Atom {
    /// The atom named `name`.
    ///
    /// # Panics
    /// If `name` has more than [`MAX_ATOM_CHARS`] characters (Erlang's `system_limit`); see
    /// [`Atom::try_new`].
    ///
    /// ```
    /// assert_eq!(spam::term::Atom::new("héllo").as_str(), "héllo");
    /// ```
    pub fn new(name: &str) -> Atom {
        match Atom::try_new(name) {
            Ok(a) => a,
            Err(_) => panic!("Atom::new: an atom has at most {MAX_ATOM_CHARS} characters"),
        }
    }

    /// The atom named `name`, or an error if it has more than [`MAX_ATOM_CHARS`] characters.
    ///
    /// ```
    /// use spam::term::Atom;
    /// assert!(Atom::try_new(&"a".repeat(255)).is_ok());
    /// assert!(Atom::try_new(&"a".repeat(256)).is_err());
    /// ```
    pub fn try_new(name: &str) -> Result<Atom, TermError> {
        if name.len() <= MAX_ATOM_CHARS || name.chars().count() <= MAX_ATOM_CHARS {
            Ok(Atom(Arc::from(name)))
        } else {
            Err(TermError::new("an atom of at most 255 characters", Term::Binary(name.as_bytes().to_vec())))
        }
    }

    /// The atom's name.
    ///
    /// ```
    /// assert_eq!(spam::term::Atom::new("ok").as_str(), "ok");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({self})")
    }
}

/// Atoms hash and compare as their names, so a map keyed by atoms is looked up by `&str`.
impl std::borrow::Borrow<str> for Atom {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Atom {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// An integer outside `i64`, as ETF carries it: a sign and the magnitude's bytes, least
/// significant first, with no trailing zero byte. Made only by [`Term::big`], the integer
/// conversions and the decoder, which keep it normalised: a value that fits an `i64` is always a
/// [`Term::Integer`], never a `BigInt`.
///
/// ```
/// use spam::term::Term;
/// let Term::BigInt(b) = Term::from(u64::MAX) else { unreachable!() };
/// assert!(!b.is_negative());
/// assert_eq!(b.magnitude(), &[0xff; 8]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    magnitude: Box<[u8]>,
}

impl BigInt {
    /// Whether the value is negative.
    ///
    /// ```
    /// use spam::term::Term;
    /// let Term::BigInt(b) = Term::from(-(1i128 << 70)) else { unreachable!() };
    /// assert!(b.is_negative());
    /// ```
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The magnitude (absolute value), little-endian, without trailing zero bytes.
    ///
    /// ```
    /// use spam::term::Term;
    /// let Term::BigInt(b) = Term::from(1u128 << 64) else { unreachable!() };
    /// assert_eq!(b.magnitude(), &[0, 0, 0, 0, 0, 0, 0, 0, 1]);
    /// ```
    pub fn magnitude(&self) -> &[u8] {
        &self.magnitude
    }

    /// The value as an `i128`, if it fits.
    fn to_i128(&self) -> Option<i128> {
        if self.magnitude.len() > 16 {
            return None;
        }
        let mut le = [0u8; 16];
        le[..self.magnitude.len()].copy_from_slice(&self.magnitude);
        let m = u128::from_le_bytes(le);
        if self.negative {
            if m <= 1u128 << 127 {
                Some((m as i128).wrapping_neg())
            } else {
                None
            }
        } else {
            i128::try_from(m).ok()
        }
    }
}

impl fmt::Display for BigInt {
    /// Decimal, as Erlang prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Little-endian u32 limbs, divided by 10^9 until zero.
        let mut limbs: Vec<u32> = self
            .magnitude
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        let mut groups = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut rem = 0u64;
            for l in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            groups.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut s = String::with_capacity(groups.len() * 9 + 1);
        if self.negative {
            s.push('-');
        }
        let mut it = groups.iter().rev();
        if let Some(first) = it.next() {
            write!(s, "{first}")?;
        } else {
            s.push('0');
        }
        for g in it {
            write!(s, "{g:09}")?;
        }
        f.write_str(&s)
    }
}

/// A process identifier of any node, as the distribution carries it (`NEW_PID_EXT`).
///
/// ```
/// use spam::term::{Atom, ExternalPid, Term};
/// let pid = ExternalPid { node: Atom::new("erl@localhost"), id: 80, serial: 0, creation: 7 };
/// assert_eq!(Term::from(pid).to_string(), "<erl@localhost.80.0>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalPid {
    /// The node the process lives on (`nonode@nohost` for a node not distributed).
    pub node: Atom,
    /// The process's number on its node.
    pub id: u32,
    /// The serial, told apart from older processes with the same id.
    pub serial: u32,
    /// The node's incarnation (from epmd), told apart from a restarted node of the same name.
    pub creation: u32,
}

/// A reference of any node, as the distribution carries it (`NEWER_REFERENCE_EXT`).
///
/// ```
/// use spam::term::{Atom, ExternalRef, Term};
/// let r = ExternalRef { node: Atom::new("erl@localhost"), creation: 7, ids: vec![3, 2, 1] };
/// assert_eq!(Term::from(r).to_string(), "#Ref<erl@localhost.1.2.3>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalRef {
    /// The node that made the reference.
    pub node: Atom,
    /// The node's incarnation.
    pub creation: u32,
    /// The reference's words, in ETF order (least significant first); 1 to 5 of them on the wire.
    pub ids: Vec<u32>,
}

/// A port of any node: carried opaquely (SPAM has no ports), so it can travel back to its node.
///
/// ```
/// use spam::term::{Atom, ExternalPort, Term};
/// let p = ExternalPort { node: Atom::new("erl@localhost"), id: 5, creation: 7 };
/// assert_eq!(Term::from(p).to_string(), "#Port<erl@localhost.5>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalPort {
    /// The node the port lives on.
    pub node: Atom,
    /// The port's number.
    pub id: u64,
    /// The node's incarnation.
    pub creation: u32,
}

/// A fun or an export (`fun m:f/a`) received from Erlang: its ETF encoding, kept as bytes so it
/// can be sent back unchanged. Made only by the decoder.
///
/// ```
/// use spam::term::{etf, Term};
/// // term_to_binary(fun lists:map/2)
/// let bytes = [131, 113, 100, 0, 5, 108, 105, 115, 116, 115, 100, 0, 3, 109, 97, 112, 97, 2];
/// let Term::Export(e) = etf::decode(&bytes).unwrap() else { unreachable!() };
/// assert_eq!(e.as_bytes(), &bytes[1..]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Opaque(Box<[u8]>);

impl Opaque {
    /// The term's ETF encoding, tag included, version byte excluded.
    ///
    /// ```
    /// use spam::term::{etf, Term};
    /// let bytes = [131, 113, 119, 1, 109, 119, 1, 102, 97, 0]; // fun m:f/0
    /// let t = etf::decode(&bytes).unwrap();
    /// assert!(matches!(&t, Term::Export(e) if e.as_bytes()[0] == 113));
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An Erlang term.
///
/// Invariants the constructors keep (a value built by hand without them is still encoded, but
/// compares and prints as described): a `BigInt` never fits an `i64`; a `BitBinary`'s bit count
/// is 1 to 7 and its last byte's unused low bits are zero; a map has no duplicate key.
///
/// ```
/// use spam::term::Term;
/// let t = Term::improper_list(vec![Term::from(1), Term::from(2)], Term::from(3));
/// assert_eq!(t.to_string(), "[1,2|3]");
/// assert_eq!(Term::map([(Term::atom("a"), 1)]).to_string(), "#{a => 1}");
/// ```
#[derive(Clone)]
pub enum Term {
    /// An atom.
    Atom(Atom),
    /// An integer that fits an `i64`.
    Integer(i64),
    /// An integer that does not fit an `i64`.
    BigInt(BigInt),
    /// A float (finite: Erlang has no NaN or infinity, and refuses them on decode).
    Float(f64),
    /// A binary.
    Binary(Vec<u8>),
    /// A bitstring that is not a whole number of bytes: the bytes, and how many bits of the last
    /// byte are used (1 to 7, the high ones); see [`Term::bitstring`].
    BitBinary(Vec<u8>, u8),
    /// The empty list `[]`.
    Nil,
    /// A non-empty list: its elements and its tail, [`Term::Nil`] for a proper list, anything
    /// else for an improper one (`[1|2]`).
    List(Vec<Term>, Box<Term>),
    /// A tuple.
    Tuple(Vec<Term>),
    /// A map, entries in insertion order (equality ignores the order).
    Map(Vec<(Term, Term)>),
    /// A pid.
    Pid(ExternalPid),
    /// A reference.
    Reference(ExternalRef),
    /// A port (opaque).
    Port(ExternalPort),
    /// A fun (`NEW_FUN_EXT`, opaque).
    Fun(Opaque),
    /// An external fun `fun m:f/a` (`EXPORT_EXT`, opaque).
    Export(Opaque),
}

impl Term {
    /// The atom `name`.
    ///
    /// # Panics
    /// If `name` has more than [`MAX_ATOM_CHARS`] characters.
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::atom("ok").as_atom(), Some("ok"));
    /// ```
    pub fn atom(name: &str) -> Term {
        Term::Atom(Atom::new(name))
    }

    /// A binary of `bytes`.
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::binary(vec![1, 2]).to_string(), "<<1,2>>");
    /// assert_eq!(Term::binary(&b"hi"[..]), Term::from("hi"));
    /// ```
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Term {
        Term::Binary(bytes.into())
    }

    /// A bitstring of `bytes` whose last byte holds `bits` bits (its high ones; the others are
    /// cleared): `bits` 8, or no bytes, make a plain binary.
    ///
    /// # Panics
    /// If `bits` is 0 or more than 8 while `bytes` is not empty.
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::bitstring(vec![0b0010_0000], 3).to_string(), "<<1:3>>");
    /// assert_eq!(Term::bitstring(vec![7], 8), Term::binary(vec![7]));
    /// ```
    pub fn bitstring(mut bytes: Vec<u8>, bits: u8) -> Term {
        if bytes.is_empty() || bits == 8 {
            return Term::Binary(bytes);
        }
        assert!((1..8).contains(&bits), "Term::bitstring: bits must be 1 to 8, not {bits}");
        if let Some(last) = bytes.last_mut() {
            *last &= 0xffu8 << (8 - bits);
        }
        Term::BitBinary(bytes, bits)
    }

    /// An Erlang string: the list of `s`'s code points (`"abc"` in Erlang, `~c"abc"` in Elixir).
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::charlist("abc").to_string(), "\"abc\"");
    /// assert_eq!(Term::charlist(""), Term::Nil);
    /// ```
    pub fn charlist(s: &str) -> Term {
        Term::list(s.chars().map(|c| Term::Integer(i64::from(u32::from(c)))).collect())
    }

    /// A proper list of `elements` ([`Term::Nil`] if there are none).
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::list(vec![Term::atom("a")]).to_string(), "[a]");
    /// assert_eq!(Term::list(vec![]), Term::Nil);
    /// ```
    pub fn list(elements: Vec<Term>) -> Term {
        Term::improper_list(elements, Term::Nil)
    }

    /// The list of `elements` ending in `tail` (just `tail` if there are no elements).
    ///
    /// ```
    /// use spam::term::Term;
    /// let t = Term::improper_list(vec![Term::atom("a")], Term::atom("b"));
    /// assert_eq!(t.to_string(), "[a|b]");
    /// ```
    pub fn improper_list(elements: Vec<Term>, tail: Term) -> Term {
        if elements.is_empty() {
            tail
        } else {
            Term::List(elements, Box::new(tail))
        }
    }

    /// A tuple of `elements`.
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::tuple(vec![Term::atom("ok"), Term::from(1)]).to_string(), "{ok,1}");
    /// ```
    pub fn tuple(elements: Vec<Term>) -> Term {
        Term::Tuple(elements)
    }

    /// A map of `entries`; a later entry with a key already seen replaces the earlier one (as
    /// `maps:from_list/1`).
    ///
    /// ```
    /// use spam::term::Term;
    /// let m = Term::map([("a", 1), ("b", 2), ("a", 3)]);
    /// assert_eq!(m.to_string(), r#"#{<<"b">> => 2,<<"a">> => 3}"#);
    /// ```
    pub fn map<K: Into<Term>, V: Into<Term>>(entries: impl IntoIterator<Item = (K, V)>) -> Term {
        let mut v: Vec<(Term, Term)> = entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        if let Some(keep) = duplicates(&v) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        Term::Map(v)
    }

    /// The integer `±magnitude` (`magnitude` little-endian), an [`Term::Integer`] if it fits an
    /// `i64`, else a [`Term::BigInt`].
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::big(true, vec![5]), Term::Integer(-5));
    /// assert_eq!(Term::big(false, vec![0, 0, 0, 0, 0, 0, 0, 0, 1]), Term::from(1u128 << 64));
    /// ```
    pub fn big(negative: bool, magnitude: impl Into<Vec<u8>>) -> Term {
        let mut magnitude = magnitude.into();
        while magnitude.last() == Some(&0) {
            magnitude.pop();
        }
        if magnitude.len() <= 8 {
            let mut le = [0u8; 8];
            le[..magnitude.len()].copy_from_slice(&magnitude);
            let m = u64::from_le_bytes(le);
            if !negative && m <= i64::MAX as u64 {
                return Term::Integer(m as i64);
            }
            if negative && m <= 1u64 << 63 {
                return Term::Integer((m as i64).wrapping_neg());
            }
        }
        Term::BigInt(BigInt { negative, magnitude: magnitude.into_boxed_slice() })
    }

    /// The atom's name, if this is an atom.
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::atom("ok").as_atom(), Some("ok"));
    /// assert_eq!(Term::from("ok").as_atom(), None);
    /// ```
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Term::Atom(a) => Some(a.as_str()),
            _ => None,
        }
    }

    /// The bytes, if this is a binary.
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::from("hi").as_binary(), Some(&b"hi"[..]));
    /// ```
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Term::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The text, if this is an Erlang string: a proper list of Unicode code points (`[]` is
    /// the empty string).
    ///
    /// ```
    /// use spam::term::Term;
    /// assert_eq!(Term::charlist("héllo").as_charlist().as_deref(), Some("héllo"));
    /// assert_eq!(Term::from(vec![-1]).as_charlist(), None);
    /// ```
    pub fn as_charlist(&self) -> Option<String> {
        let mut heads = Cons::new(self);
        let s = heads
            .by_ref()
            .map(|t| match t {
                Term::Integer(c) => u32::try_from(*c).ok().and_then(char::from_u32),
                _ => None,
            })
            .collect::<Option<String>>()?;
        matches!(heads.tail(), Term::Nil).then_some(s)
    }
}

/// The elements of a list, across tails that are themselves lists; after the last element,
/// [`Cons::tail`] is the final tail (never a `List`).
pub(crate) struct Cons<'a> {
    cur: std::slice::Iter<'a, Term>,
    tail: &'a Term,
}

impl<'a> Cons<'a> {
    pub(crate) fn new(t: &'a Term) -> Cons<'a> {
        match t {
            Term::List(v, tail) => Cons { cur: v.iter(), tail },
            other => Cons { cur: [].iter(), tail: other },
        }
    }

    /// The final tail, once the iterator has returned `None`.
    pub(crate) fn tail(&self) -> &'a Term {
        self.tail
    }
}

impl<'a> Iterator for Cons<'a> {
    type Item = &'a Term;

    fn next(&mut self) -> Option<&'a Term> {
        loop {
            if let Some(x) = self.cur.next() {
                return Some(x);
            }
            match self.tail {
                Term::List(v, t) => {
                    self.cur = v.iter();
                    self.tail = t;
                }
                _ => return None,
            }
        }
    }
}

/// For a list of entries with a duplicate key, which entries to keep (the last of each key);
/// `None` if all keys are distinct.
fn duplicates(v: &[(Term, Term)]) -> Option<Vec<bool>> {
    let mut last: HashMap<&Term, usize> = HashMap::with_capacity(v.len());
    let mut dup = false;
    for (i, (k, _)) in v.iter().enumerate() {
        dup |= last.insert(k, i).is_some();
    }
    dup.then(|| v.iter().enumerate().map(|(i, (k, _))| last[k] == i).collect())
}

fn map_eq(a: &[(Term, Term)], b: &[(Term, Term)]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        a.iter().all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
    } else {
        let index: HashMap<&Term, &Term> = b.iter().map(|(k, v)| (k, v)).collect();
        a.iter().all(|(k, v)| index.get(k) == Some(&v))
    }
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        use Term as T;
        match (self, other) {
            (T::List(v, t), _) if v.is_empty() => **t == *other,
            (_, T::List(v, t)) if v.is_empty() => *self == **t,
            (T::List(..), T::List(..)) => {
                let (mut a, mut b) = (Cons::new(self), Cons::new(other));
                loop {
                    match (a.next(), b.next()) {
                        (Some(x), Some(y)) if x == y => {}
                        (None, None) => return a.tail() == b.tail(),
                        _ => return false,
                    }
                }
            }
            (T::Atom(a), T::Atom(b)) => a == b,
            (T::Integer(a), T::Integer(b)) => a == b,
            (T::BigInt(a), T::BigInt(b)) => a == b,
            (T::Float(a), T::Float(b)) => a.to_bits() == b.to_bits(),
            (T::Binary(a), T::Binary(b)) => a == b,
            (T::BitBinary(a, x), T::BitBinary(b, y)) => x == y && a == b,
            (T::Nil, T::Nil) => true,
            (T::Tuple(a), T::Tuple(b)) => a == b,
            (T::Map(a), T::Map(b)) => map_eq(a, b),
            (T::Pid(a), T::Pid(b)) => a == b,
            (T::Reference(a), T::Reference(b)) => a == b,
            (T::Port(a), T::Port(b)) => a == b,
            (T::Fun(a), T::Fun(b)) => a == b,
            (T::Export(a), T::Export(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Term {}

impl Hash for Term {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Term::List(..) => {
                let mut heads = Cons::new(self);
                match heads.next() {
                    None => heads.tail().hash(h),
                    Some(first) => {
                        h.write_u8(7);
                        first.hash(h);
                        heads.by_ref().for_each(|x| x.hash(h));
                        heads.tail().hash(h);
                    }
                }
            }
            Term::Atom(a) => (0u8, a).hash(h),
            Term::Integer(i) => (1u8, i).hash(h),
            Term::BigInt(b) => (2u8, b).hash(h),
            Term::Float(x) => (3u8, x.to_bits()).hash(h),
            Term::Binary(b) => (4u8, b).hash(h),
            Term::BitBinary(b, n) => (5u8, b, n).hash(h),
            Term::Nil => h.write_u8(6),
            Term::Tuple(v) => (8u8, v).hash(h),
            Term::Map(m) => {
                // Order-independent: a sum of the entries' own hashes.
                let sum = m.iter().fold(0u64, |acc, e| {
                    let mut eh = DefaultHasher::new();
                    e.hash(&mut eh);
                    acc.wrapping_add(eh.finish())
                });
                (9u8, m.len(), sum).hash(h)
            }
            Term::Pid(p) => (10u8, p).hash(h),
            Term::Reference(r) => (11u8, r).hash(h),
            Term::Port(p) => (12u8, p).hash(h),
            Term::Fun(o) => (13u8, o).hash(h),
            Term::Export(o) => (14u8, o).hash(h),
        }
    }
}

// ---- Conversions ----

/// A term that is not what a conversion expected: what it expected, and the term it found
/// (handed back, or the part of it that did not fit).
///
/// ```
/// use spam::term::Term;
/// let err = u8::try_from(Term::from(300)).unwrap_err();
/// assert_eq!(err.to_string(), "expected u8, found 300");
/// assert_eq!(err.found, Term::from(300));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TermError {
    /// What the conversion expected (`"u8"`, `"a proper list"`, ...).
    pub expected: &'static str,
    /// What it found.
    pub found: Term,
}

impl TermError {
    /// An error: `expected` was wanted, `found` was given.
    ///
    /// ```
    /// use spam::term::{Term, TermError};
    /// let e = TermError::new("a pid", Term::atom("nil"));
    /// assert_eq!(e.to_string(), "expected a pid, found nil");
    /// ```
    pub fn new(expected: &'static str, found: Term) -> TermError {
        TermError { expected, found }
    }
}

impl fmt::Display for TermError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut found = self.found.to_string();
        if found.chars().count() > 100 {
            found = found.chars().take(100).collect::<String>() + "...";
        }
        write!(f, "expected {}, found {found}", self.expected)
    }
}

impl std::error::Error for TermError {}

impl From<Infallible> for TermError {
    fn from(never: Infallible) -> TermError {
        match never {}
    }
}

macro_rules! small_ints {
    ($($t:ty),*) => {$(
        impl From<$t> for Term {
            fn from(v: $t) -> Term {
                Term::Integer(v as i64)
            }
        }

        impl TryFrom<Term> for $t {
            type Error = TermError;
            fn try_from(t: Term) -> Result<$t, TermError> {
                match t {
                    Term::Integer(i) => <$t>::try_from(i).map_err(|_| TermError::new(stringify!($t), t)),
                    _ => Err(TermError::new(stringify!($t), t)),
                }
            }
        }
    )*};
}
small_ints!(i8, i16, i32, i64, isize, u8, u16, u32);

impl From<i128> for Term {
    fn from(v: i128) -> Term {
        match i64::try_from(v) {
            Ok(i) => Term::Integer(i),
            Err(_) => Term::big(v < 0, v.unsigned_abs().to_le_bytes()),
        }
    }
}

impl From<u128> for Term {
    fn from(v: u128) -> Term {
        match i64::try_from(v) {
            Ok(i) => Term::Integer(i),
            Err(_) => Term::big(false, v.to_le_bytes()),
        }
    }
}

macro_rules! wide_ints {
    ($($t:ty),*) => {$(
        impl From<$t> for Term {
            fn from(v: $t) -> Term {
                Term::from(v as i128)
            }
        }

        impl TryFrom<Term> for $t {
            type Error = TermError;
            fn try_from(t: Term) -> Result<$t, TermError> {
                let v = match &t {
                    Term::Integer(i) => Some(i128::from(*i)),
                    Term::BigInt(b) => b.to_i128(),
                    _ => None,
                };
                v.and_then(|v| <$t>::try_from(v).ok()).ok_or_else(|| TermError::new(stringify!($t), t))
            }
        }
    )*};
}
wide_ints!(u64, usize);

impl TryFrom<Term> for i128 {
    type Error = TermError;
    fn try_from(t: Term) -> Result<i128, TermError> {
        match &t {
            Term::Integer(i) => Ok(i128::from(*i)),
            Term::BigInt(b) => b.to_i128().ok_or_else(|| TermError::new("i128", t)),
            _ => Err(TermError::new("i128", t)),
        }
    }
}

impl TryFrom<Term> for u128 {
    type Error = TermError;
    fn try_from(t: Term) -> Result<u128, TermError> {
        match &t {
            Term::Integer(i) => u128::try_from(*i).ok(),
            Term::BigInt(b) if !b.negative && b.magnitude.len() <= 16 => {
                let mut le = [0u8; 16];
                le[..b.magnitude.len()].copy_from_slice(&b.magnitude);
                Some(u128::from_le_bytes(le))
            }
            _ => None,
        }
        .ok_or_else(|| TermError::new("u128", t))
    }
}

impl From<bool> for Term {
    fn from(b: bool) -> Term {
        Term::atom(if b { "true" } else { "false" })
    }
}

impl TryFrom<Term> for bool {
    type Error = TermError;
    fn try_from(t: Term) -> Result<bool, TermError> {
        match t.as_atom() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(TermError::new("a boolean (true or false)", t)),
        }
    }
}

impl From<f64> for Term {
    fn from(x: f64) -> Term {
        Term::Float(x)
    }
}

impl From<f32> for Term {
    fn from(x: f32) -> Term {
        Term::Float(f64::from(x))
    }
}

impl TryFrom<Term> for f64 {
    type Error = TermError;
    fn try_from(t: Term) -> Result<f64, TermError> {
        match t {
            Term::Float(x) => Ok(x),
            _ => Err(TermError::new("a float", t)),
        }
    }
}

impl From<&str> for Term {
    fn from(s: &str) -> Term {
        Term::Binary(s.as_bytes().to_vec())
    }
}

impl From<String> for Term {
    fn from(s: String) -> Term {
        Term::Binary(s.into_bytes())
    }
}

impl TryFrom<Term> for String {
    type Error = TermError;
    fn try_from(t: Term) -> Result<String, TermError> {
        match t {
            Term::Binary(b) => {
                String::from_utf8(b).map_err(|e| TermError::new("a UTF-8 binary", Term::Binary(e.into_bytes())))
            }
            _ => Err(TermError::new("a UTF-8 binary", t)),
        }
    }
}

impl From<Atom> for Term {
    fn from(a: Atom) -> Term {
        Term::Atom(a)
    }
}

impl TryFrom<Term> for Atom {
    type Error = TermError;
    fn try_from(t: Term) -> Result<Atom, TermError> {
        match t {
            Term::Atom(a) => Ok(a),
            _ => Err(TermError::new("an atom", t)),
        }
    }
}

macro_rules! opaque_kinds {
    ($($t:ident => $v:ident, $what:literal;)*) => {$(
        impl From<$t> for Term {
            fn from(x: $t) -> Term {
                Term::$v(x)
            }
        }

        impl TryFrom<Term> for $t {
            type Error = TermError;
            fn try_from(t: Term) -> Result<$t, TermError> {
                match t {
                    Term::$v(x) => Ok(x),
                    _ => Err(TermError::new($what, t)),
                }
            }
        }
    )*};
}
opaque_kinds! {
    ExternalPid => Pid, "a pid";
    ExternalRef => Reference, "a reference";
    ExternalPort => Port, "a port";
}

impl<T: Into<Term>> From<Vec<T>> for Term {
    fn from(v: Vec<T>) -> Term {
        Term::list(v.into_iter().map(Into::into).collect())
    }
}

impl<T> TryFrom<Term> for Vec<T>
where
    T: TryFrom<Term>,
    T::Error: Into<TermError>,
{
    type Error = TermError;
    fn try_from(t: Term) -> Result<Vec<T>, TermError> {
        if !is_proper(&t) {
            return Err(TermError::new("a proper list", t));
        }
        let mut out = Vec::new();
        let mut cur = t;
        loop {
            match cur {
                Term::List(v, tail) => {
                    out.reserve(v.len());
                    for x in v {
                        out.push(T::try_from(x).map_err(Into::into)?);
                    }
                    cur = *tail;
                }
                _ => return Ok(out),
            }
        }
    }
}

fn is_proper(t: &Term) -> bool {
    let mut heads = Cons::new(t);
    heads.by_ref().for_each(drop);
    matches!(heads.tail(), Term::Nil)
}

impl<T: Into<Term>> From<Option<T>> for Term {
    fn from(o: Option<T>) -> Term {
        match o {
            Some(x) => x.into(),
            None => Term::atom("undefined"),
        }
    }
}

// `TryFrom<Term> for Option<T>` cannot be generic (it would overlap `Option<Term>`'s own
// conversion from `Term`), so it is given for each scalar type.
macro_rules! options {
    ($($t:ty),*) => {$(
        impl TryFrom<Term> for Option<$t> {
            type Error = TermError;
            fn try_from(t: Term) -> Result<Option<$t>, TermError> {
                if t.as_atom() == Some("undefined") {
                    Ok(None)
                } else {
                    <$t>::try_from(t).map(Some)
                }
            }
        }
    )*};
}
options!(
    bool,
    i8,
    i16,
    i32,
    i64,
    isize,
    i128,
    u8,
    u16,
    u32,
    u64,
    usize,
    u128,
    f64,
    String,
    Atom,
    ExternalPid,
    ExternalRef,
    ExternalPort
);

macro_rules! tuples {
    ($($n:literal: $($t:ident)*;)*) => {$(
        impl<$($t: Into<Term>),*> From<($($t,)*)> for Term {
            #[allow(non_snake_case)]
            fn from(($($t,)*): ($($t,)*)) -> Term {
                Term::Tuple(vec![$($t.into()),*])
            }
        }

        impl<$($t),*> TryFrom<Term> for ($($t,)*)
        where
            $($t: TryFrom<Term>, $t::Error: Into<TermError>,)*
        {
            type Error = TermError;
            fn try_from(t: Term) -> Result<($($t,)*), TermError> {
                match t {
                    Term::Tuple(v) if v.len() == $n => {
                        let mut it = v.into_iter();
                        Ok(($($t::try_from(it.next().unwrap()).map_err(Into::into)?,)*))
                    }
                    _ => Err(TermError::new(concat!("a tuple of ", $n), t)),
                }
            }
        }
    )*};
}
tuples! {
    2: A B;
    3: A B C;
    4: A B C D;
    5: A B C D E;
    6: A B C D E F;
}

// ---- Display: Erlang syntax, as `io:format("~tp")` on one line ----

/// As `Display`: Erlang's `~tp` (so a term in an exit reason or a failed assertion reads as
/// Erlang prints it).
impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Term {
    /// Erlang syntax, as `io:format("~tp", [T])` prints it on one line: atoms quoted where
    /// Erlang needs it, printable lists as strings and printable binaries as `<<"text">>`
    /// (`<<"text"/utf8>>` when UTF-8 and not ASCII), "printable" being Erlang's default Latin-1
    /// range (so `[937]` prints as a list, not `"Ω"`), floats in Erlang's shortest form (`1.0e20`). Pids,
    /// references and ports print with their node's name (`<erl@host.80.0>`, `#Ref<node.1.2.3>`,
    /// `#Port<node.5>`) where Erlang prints a node-table index. Map entries print in insertion
    /// order (Erlang sorts them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Atom(a) => fmt::Display::fmt(a, f),
            Term::Integer(i) => write!(f, "{i}"),
            Term::BigInt(b) => fmt::Display::fmt(b, f),
            Term::Float(x) => write_float(f, *x),
            Term::Binary(b) => write_binary(f, b),
            Term::BitBinary(b, bits) => {
                let Some((last, whole)) = b.split_last() else { return f.write_str("<<>>") };
                f.write_str("<<")?;
                for byte in whole {
                    write!(f, "{byte},")?;
                }
                let bits = (*bits).clamp(1, 8);
                write!(f, "{}:{bits}>>", last >> (8 - bits))
            }
            Term::Nil => f.write_str("[]"),
            Term::List(..) => {
                if let Some(s) = printable_charlist(self) {
                    return write_quoted(f, s.chars(), '"');
                }
                let mut heads = Cons::new(self);
                f.write_char('[')?;
                for (i, x) in heads.by_ref().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{x}")?;
                }
                match heads.tail() {
                    Term::Nil => {}
                    tail => write!(f, "|{tail}")?,
                }
                f.write_char(']')
            }
            Term::Tuple(v) => {
                f.write_char('{')?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_char('}')
            }
            Term::Map(m) => {
                f.write_str("#{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{k} => {v}")?;
                }
                f.write_char('}')
            }
            Term::Pid(p) => write!(f, "<{}.{}.{}>", p.node, p.id, p.serial),
            Term::Reference(r) => {
                write!(f, "#Ref<{}", r.node)?;
                for id in r.ids.iter().rev() {
                    write!(f, ".{id}")?;
                }
                f.write_char('>')
            }
            Term::Port(p) => write!(f, "#Port<{}.{}>", p.node, p.id),
            Term::Export(o) => match etf::export_parts(o.as_bytes()) {
                Some((m, fun, arity)) => write!(f, "fun {m}:{fun}/{arity}"),
                None => f.write_str("#Fun<>"),
            },
            Term::Fun(o) => match etf::fun_module(o.as_bytes()) {
                Some(m) => write!(f, "#Fun<{m}>"),
                None => f.write_str("#Fun<>"),
            },
        }
    }
}

const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case", "catch", "cond", "div",
    "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive", "rem", "try", "when", "xor",
];

impl fmt::Display for Atom {
    /// The atom as Erlang writes it: bare if it can be (`ok`, `a@b`), else quoted (`'Hello'`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        let lower = |c: char| c.is_ascii_lowercase() || (('\u{df}'..='\u{ff}').contains(&c) && c != '\u{f7}');
        let name_char = |c: char| {
            c.is_ascii_alphanumeric()
                || c == '_'
                || c == '@'
                || (('\u{c0}'..='\u{ff}').contains(&c) && c != '\u{d7}' && c != '\u{f7}')
        };
        let bare = s.chars().next().is_some_and(lower) && s.chars().all(name_char) && !RESERVED.contains(&s);
        if bare {
            f.write_str(s)
        } else {
            write_quoted(f, s.chars(), '\'')
        }
    }
}

/// Erlang's escapes for `\n`, `\t`, ... in a quoted atom or string.
fn write_quoted(f: &mut fmt::Formatter<'_>, chars: impl Iterator<Item = char>, quote: char) -> fmt::Result {
    f.write_char(quote)?;
    for c in chars {
        match c {
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{b}' => f.write_str("\\v")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\u{1b}' => f.write_str("\\e")?,
            '\\' => f.write_str("\\\\")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if c.is_control() => write!(f, "\\x{{{:X}}}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

/// Whether `c` prints as itself (or a short escape) in a string: Erlang's default printable
/// range (`+pc latin1`, `io_lib:printable_latin1_list`).
fn printable(c: char) -> bool {
    matches!(u32::from(c), 8..=13 | 27 | 32..=126 | 160..=255)
}

fn printable_charlist(t: &Term) -> Option<String> {
    let s = t.as_charlist()?;
    s.chars().all(printable).then_some(s)
}

fn write_binary(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    if b.is_empty() {
        return f.write_str("<<>>");
    }
    if let Ok(s) = std::str::from_utf8(b) {
        if s.chars().all(printable) {
            f.write_str("<<")?;
            write_quoted(f, s.chars(), '"')?;
            return f.write_str(if s.is_ascii() { ">>" } else { "/utf8>>" });
        }
    }
    if b.iter().all(|&c| printable(char::from(c))) {
        f.write_str("<<")?;
        write_quoted(f, b.iter().map(|&c| char::from(c)), '"')?;
        return f.write_str(">>");
    }
    f.write_str("<<")?;
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{byte}")?;
    }
    f.write_str(">>")
}

/// A float as OTP's `float_to_list(X, [short])` (and so `~p`) writes it: the shortest digits
/// that read back as the same float, in fixed notation where that is not much longer
/// (`100.0`, `0.0001`, `123456789.0`) and scientific otherwise (`1.0e3`, `1.0e-5`).
fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x == 0.0 {
        return f.write_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    if !x.is_finite() {
        return write!(f, "{x}");
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sci_exp: i32 = exp.parse().unwrap_or(0);
    let olength = digits.len() as i32;
    let ryu_exp = sci_exp - (olength - 1);
    let output: u64 = digits.parse().unwrap_or(0);
    let (lower, upper) = if olength == 1 {
        (-4, 2)
    } else if sci_exp >= 10 {
        (-(olength + 2), 2)
    } else {
        (-(olength + 2), 1)
    };
    let fixed = (lower..=upper).contains(&ryu_exp)
        && !((output >= 1 << 53 && ryu_exp == 0)
            || (output > (1 << 52) / 5 && ryu_exp == 1)
            || (output > (1 << 51) / 25 && ryu_exp == 2));
    if x < 0.0 {
        f.write_char('-')?;
    }
    if fixed {
        let whole = olength + ryu_exp;
        if ryu_exp >= 0 {
            write!(f, "{digits}{}.0", "0".repeat(ryu_exp as usize))
        } else if whole > 0 {
            let (a, b) = digits.split_at(whole as usize);
            write!(f, "{a}.{b}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(-whole as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        write!(f, "{first}.{}e{sci_exp}", if rest.is_empty() { "0" } else { rest })
    }
}
