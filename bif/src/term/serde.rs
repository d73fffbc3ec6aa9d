//! A [serde](https://serde.rs) bridge between Rust types and Erlang [`Term`]s (cargo feature `serde`, off by
//! default): [`to_term`] turns any `Serialize` value into the term an Erlang or Elixir peer
//! would write by hand, and [`from_term`] reads such a term back into any `Deserialize` type.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use spam::term::serde::{from_term, to_term};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! enum Shape {
//!     Empty,
//!     Circle { r: f64 },
//!     Poly(Vec<(i32, i32)>),
//! }
//!
//! let t = to_term(&Shape::Circle { r: 1.5 }).unwrap();
//! assert_eq!(t.to_string(), "{circle,#{r => 1.5}}");
//! assert_eq!(to_term(&Shape::Empty).unwrap().to_string(), "empty");
//! assert_eq!(to_term(&Shape::Poly(vec![(0, 0), (1, 2)])).unwrap().to_string(), "{poly,[{0,0},{1,2}]}");
//! assert_eq!(from_term::<Shape>(&t).unwrap(), Shape::Circle { r: 1.5 });
//! ```
//!
//! # The mapping
//!
//! | Rust (serde data model) | Erlang term written by [`to_term`] | also read by [`from_term`] |
//! |---|---|---|
//! | `bool` | the atom `true` or `false` | |
//! | `i8`..`i64`, `u8`..`u32` | integer | |
//! | `u64`, `i128`, `u128` | integer (a bignum past `i64`) | |
//! | `f32`, `f64` | float (a NaN or an infinity is an error: Erlang has none) | an integer |
//! | `char` | a binary of its UTF-8 | a code point integer (Erlang's `$a`), a one-element charlist |
//! | `&str`, `String` | a binary (UTF-8), as Elixir strings | a charlist (a proper list of code points, `[]` for `""`); as a map key, an atom |
//! | bytes (`serialize_bytes`, e.g. `serde_bytes`) | a binary | a list of integers 0..=255 |
//! | `Option`: `None` / `Some(x)` | the atom `undefined` / `x` itself | `nil` for `None` too |
//! | `()` | the atom `undefined` | `nil` |
//! | unit struct `struct Ready;` | the atom of its name in snake case: `ready` | a binary of the same; the Rust name as is |
//! | newtype struct `struct Id(u32);` | the inner value: `7` | |
//! | tuple `(A, B)`, tuple struct `struct P(i32, i32);` | tuple `{A, B}` | a proper list of as many elements |
//! | sequence (`Vec<T>`, `HashSet<T>`, ...) | proper list `[..]` | a tuple; a binary, as a list of its bytes (so `Vec<u8>` reads a binary) |
//! | map (`HashMap`, `BTreeMap`, ...) | map, keys converted as values (`String` keys are binaries) | |
//! | struct `struct P { x: i32 }` | map with atom keys, one per field: `#{x => 1}` | binary keys; extra keys are ignored (an Elixir struct's `__struct__` key too) unless `#[serde(deny_unknown_fields)]` |
//! | unit variant `E::NotFound` | the atom `not_found` | a binary; a 1-tuple `{not_found}` |
//! | newtype variant `E::Ok(x)` | `{ok, X}` | |
//! | tuple variant `E::Move(1, 2)` | `{move, 1, 2}` | `{move, {1, 2}}`, `{move, [1, 2]}` |
//! | struct variant `E::Rect { w: 1, h: 2 }` | `{rect, #{w => 1, h => 2}}` | `{rect, 1, 2}` (the fields in order) |
//!
//! Names: a variant (and a unit struct) is written as the atom of its name in snake case, as
//! Elixir's `Macro.underscore` makes it: `Ok` is `ok`, `NotFound` is `not_found`, `HTTPError` is
//! `http_error`, `V2Api` is `v2_api`, and a name already in snake case (`#[serde(rename_all =
//! "snake_case")]`, `#[serde(rename = "...")]`) is kept. One exception, so that `Result<T, E>`
//! is Erlang's own convention: the variant `Err` of an enum named `Result` is written `error`
//! (`Ok(1)` is `{ok,1}`, `Err("no")` is `{error,<<"no">>}`). Field names are atoms as they are
//! (after serde's renames). Reading, a tag (an atom or a binary) names the first variant
//! whose converted name it equals, else the variant of exactly that name, else it is handed to
//! the type as is (so `#[serde(other)]` works); two variants whose names convert to the same
//! atom (`Foo` and `FOO`) cannot be told apart, the first one wins.
//!
//! Where the model is ambiguous the term says less than the value: `Some(())` and
//! `Some(None)` are both written `undefined` and read back as `None`, and a struct with a
//! `#[serde(flatten)]` field is written by serde as a map, so its keys are binaries (still read
//! back). An atom that is not `true`, `false`, `undefined` or `nil` reads as a string where the
//! type asks for no particular shape (`serde_json::Value`, untagged enums).
//!
//! # Hostile input
//!
//! [`from_term`] never panics on any term: a term of the wrong shape is a [`SerdeError`] that
//! says what was expected and what was found (the found term printed, cut at 100 characters);
//! pids, references, ports, funs and bitstrings have no serde form and are errors unless the
//! type ignores them (an unknown struct field). It descends at most 128 levels (as
//! `serde_json` does) of non-empty tuples, lists and maps, tagged variants, `Some`s and
//! newtypes together, so a term nested deeper, or a recursive type such as
//! `struct L(Option<Box<L>>)` that never ends on the term given, is an error rather than a
//! stack overflow: recursing through `Deserialize` code takes far more stack per level than
//! [`etf::decode`](super::etf::decode) does (a recursive struct of 15 fields, unoptimised,
//! takes 5 to 8 KiB per level: 128 levels stay well inside a 2 MiB thread stack), so a term that
//! [`etf::decode`](super::etf::decode) accepts (up to [`etf::MAX_DEPTH`](super::etf::MAX_DEPTH)
//! levels) can still be too deep here.

use super::{Atom, BigInt, Cons, Term};
use ::serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use ::serde::ser::{self, Serialize};
use std::fmt::{self, Display, Write as _};

/// An error from [`to_term`] or [`from_term`]: a term of the wrong shape (what was expected,
/// and the term found), a value Erlang cannot hold (a NaN), or a message from a type's own
/// `Serialize` or `Deserialize` implementation.
///
/// ```
/// use spam::term::serde::from_term;
/// use spam::term::Term;
///
/// let err = from_term::<u8>(&Term::from(300)).unwrap_err();
/// assert_eq!(err.to_string(), "expected u8, found 300");
/// let err = from_term::<Vec<i32>>(&Term::atom("none")).unwrap_err();
/// assert_eq!(err.to_string(), "expected a proper list, found none");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerdeError {
    message: String,
}

impl SerdeError {
    fn mismatch(expected: impl Display, found: &Term) -> SerdeError {
        SerdeError { message: format!("expected {expected}, found {}", Short(found)) }
    }
}

impl Display for SerdeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SerdeError {}

impl ser::Error for SerdeError {
    fn custom<T: Display>(msg: T) -> SerdeError {
        SerdeError { message: msg.to_string() }
    }
}

impl de::Error for SerdeError {
    fn custom<T: Display>(msg: T) -> SerdeError {
        SerdeError { message: msg.to_string() }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> SerdeError {
        // `Result`'s variants are the only `Ok` and `Err` pair serde itself names.
        let result = expected == ["Ok", "Err"];
        let names: Vec<String> =
            expected.iter().map(|v| if result { variant_name("Result", v) } else { snake_case(v) }).collect();
        SerdeError { message: format!("expected a variant (one of {}), found {variant}", names.join(", ")) }
    }
}

/// A term as Erlang prints it, cut after 100 characters (without printing the rest), a bignum
/// of more than 64 bytes as `<bignum of N bytes>` (printing one in decimal takes time
/// quadratic in its length).
struct Short<'a>(&'a Term);

/// A writer that fails once it has taken its fill.
struct Capped {
    out: String,
    left: usize,
}

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.left == 0 {
                return Err(fmt::Error);
            }
            self.left -= 1;
            self.out.push(c);
        }
        Ok(())
    }
}

/// `t` as `Term`'s `Display` writes it, but for big bignums. Each container writes a character
/// before its elements, so a full writer stops the recursion within 100 levels.
fn write_short(w: &mut Capped, t: &Term) -> fmt::Result {
    let items = |w: &mut Capped, items: &mut dyn Iterator<Item = &Term>| {
        for (i, x) in items.enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            write_short(w, x)?;
        }
        Ok(())
    };
    match t {
        Term::BigInt(b) if b.magnitude.len() > 64 => write!(w, "<bignum of {} bytes>", b.magnitude.len()),
        Term::List(..) if t.as_charlist().is_none() => {
            w.write_char('[')?;
            let mut heads = Cons::new(t);
            items(w, &mut heads)?;
            if !matches!(heads.tail(), Term::Nil) {
                w.write_char('|')?;
                write_short(w, heads.tail())?;
            }
            w.write_char(']')
        }
        Term::Tuple(v) => {
            w.write_char('{')?;
            items(w, &mut v.iter())?;
            w.write_char('}')
        }
        Term::Map(m) => {
            w.write_str("#{")?;
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    w.write_char(',')?;
                }
                write_short(w, k)?;
                w.write_str(" => ")?;
                write_short(w, v)?;
            }
            w.write_char('}')
        }
        _ => write!(w, "{t}"),
    }
}

impl Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = Capped { out: String::new(), left: 100 };
        let cut = write_short(&mut w, self.0).is_err();
        f.write_str(&w.out)?;
        if cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// `name` in snake case, as Elixir's `Macro.underscore`: an underscore before an upper-case
/// letter that follows a lower-case letter or a digit, or that starts a word after an acronym
/// (`HTTPError` is `http_error`); all letters lower-cased.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            if let Some(&prev) = i.checked_sub(1).and_then(|p| chars.get(p)) {
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
                if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower) {
                    out.push('_');
                }
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The atom name a variant is written as (see the module's "Names").
fn variant_name(enum_name: &str, variant: &str) -> String {
    if enum_name == "Result" && variant == "Err" {
        "error".to_string()
    } else {
        snake_case(variant)
    }
}

fn atom(name: &str) -> Result<Term, SerdeError> {
    Atom::try_new(name).map(Term::Atom).map_err(|e| SerdeError::mismatch(e.expected, &e.found))
}

// ---- Serialization ----

/// `value` as an Erlang term, by the mapping in the [module documentation](self).
///
/// # Errors
/// A float that is not finite (Erlang has no NaN or infinity), a field or variant name longer
/// than an atom may be (255 characters), or an error from `value`'s own `Serialize`.
///
/// ```
/// use serde::Serialize;
/// use spam::term::serde::to_term;
/// use spam::term::Term;
///
/// #[derive(Serialize)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// let t = to_term(&Point { x: 1, y: 2 }).unwrap();
/// assert_eq!(t, Term::map([(Term::atom("x"), 1), (Term::atom("y"), 2)]));
/// assert_eq!(to_term(&Some("hé")).unwrap(), Term::binary("hé".as_bytes()));
/// assert_eq!(to_term(&None::<i32>).unwrap(), Term::atom("undefined"));
/// assert_eq!(to_term(&Ok::<u64, ()>(u64::MAX)).unwrap().to_string(), "{ok,18446744073709551615}");
/// assert!(to_term(&f64::NAN).is_err());
/// ```
pub fn to_term<T: Serialize + ?Sized>(value: &T) -> Result<Term, SerdeError> {
    value.serialize(TermSerializer)
}

/// Writes terms: the `Serializer` behind [`to_term`].
struct TermSerializer;

/// The elements of a list being written.
struct ListWriter {
    items: Vec<Term>,
}

/// The elements of a tuple being written (a tuple variant's tag first).
struct TupleWriter {
    items: Vec<Term>,
}

/// The entries of a map being written, and the key waiting for its value.
struct MapWriter {
    entries: Vec<(Term, Term)>,
    key: Option<Term>,
}

/// The fields of a struct being written, and the struct variant's tag if it is one.
struct StructWriter {
    fields: Vec<(Term, Term)>,
    tag: Option<Term>,
}

/// A capacity hint from a value, capped: the value's own length is only a hint.
fn capacity(len: usize) -> usize {
    len.min(4096)
}

/// The `serialize_*` methods of integer types that always fit an `i64`.
macro_rules! small_ints {
    ($($method:ident: $t:ty),*) => {
        $(
            fn $method(self, v: $t) -> Result<Term, SerdeError> {
                Ok(Term::Integer(i64::from(v)))
            }
        )*
    };
}

impl ser::Serializer for TermSerializer {
    type Ok = Term;
    type Error = SerdeError;
    type SerializeSeq = ListWriter;
    type SerializeTuple = TupleWriter;
    type SerializeTupleStruct = TupleWriter;
    type SerializeTupleVariant = TupleWriter;
    type SerializeMap = MapWriter;
    type SerializeStruct = StructWriter;
    type SerializeStructVariant = StructWriter;

    fn serialize_bool(self, v: bool) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }

    small_ints!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32);

    fn serialize_i64(self, v: i64) -> Result<Term, SerdeError> {
        Ok(Term::Integer(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }

    fn serialize_f32(self, v: f32) -> Result<Term, SerdeError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<Term, SerdeError> {
        if v.is_finite() {
            Ok(Term::Float(v))
        } else {
            Err(SerdeError { message: format!("expected a finite float (Erlang has no NaN or infinity), found {v}") })
        }
    }

    fn serialize_char(self, v: char) -> Result<Term, SerdeError> {
        Ok(Term::Binary(v.to_string().into_bytes()))
    }

    fn serialize_str(self, v: &str) -> Result<Term, SerdeError> {
        Ok(Term::from(v))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Term, SerdeError> {
        Ok(Term::binary(v))
    }

    fn serialize_none(self) -> Result<Term, SerdeError> {
        Ok(Term::atom("undefined"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Term, SerdeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Term, SerdeError> {
        Ok(Term::atom("undefined"))
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<Term, SerdeError> {
        atom(&snake_case(name))
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
    ) -> Result<Term, SerdeError> {
        atom(&variant_name(name, variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Term, SerdeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Term, SerdeError> {
        Ok(Term::Tuple(vec![atom(&variant_name(name, variant))?, value.serialize(TermSerializer)?]))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ListWriter, SerdeError> {
        Ok(ListWriter { items: Vec::with_capacity(capacity(len.unwrap_or(0))) })
    }

    fn serialize_tuple(self, len: usize) -> Result<TupleWriter, SerdeError> {
        Ok(TupleWriter { items: Vec::with_capacity(capacity(len)) })
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<TupleWriter, SerdeError> {
        self.serialize_tuple(len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleWriter, SerdeError> {
        let mut items = Vec::with_capacity(capacity(len) + 1);
        items.push(atom(&variant_name(name, variant))?);
        Ok(TupleWriter { items })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapWriter, SerdeError> {
        Ok(MapWriter { entries: Vec::with_capacity(capacity(len.unwrap_or(0))), key: None })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructWriter, SerdeError> {
        Ok(StructWriter { fields: Vec::with_capacity(capacity(len)), tag: None })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructWriter, SerdeError> {
        let tag = atom(&variant_name(name, variant))?;
        Ok(StructWriter { fields: Vec::with_capacity(capacity(len)), tag: Some(tag) })
    }
}

impl ser::SerializeSeq for ListWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.items.push(value.serialize(TermSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Term, SerdeError> {
        Ok(Term::list(self.items))
    }
}

impl ser::SerializeTuple for TupleWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.items.push(value.serialize(TermSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Term, SerdeError> {
        Ok(Term::Tuple(self.items))
    }
}

impl ser::SerializeTupleStruct for TupleWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> Result<Term, SerdeError> {
        ser::SerializeTuple::end(self)
    }
}

impl ser::SerializeTupleVariant for TupleWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> Result<Term, SerdeError> {
        ser::SerializeTuple::end(self)
    }
}

impl ser::SerializeMap for MapWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerdeError> {
        self.key = Some(key.serialize(TermSerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        let key = self.key.take().ok_or_else(|| SerdeError { message: "a map value came without its key".into() })?;
        self.entries.push((key, value.serialize(TermSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Term, SerdeError> {
        // `Term::map` keeps the last of duplicate keys, as `maps:from_list/1`.
        Ok(Term::map(self.entries))
    }
}

impl StructWriter {
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), SerdeError> {
        self.fields.push((atom(key)?, value.serialize(TermSerializer)?));
        Ok(())
    }

    fn finish(self) -> Term {
        let map = Term::map(self.fields);
        match self.tag {
            Some(tag) => Term::Tuple(vec![tag, map]),
            None => map,
        }
    }
}

impl ser::SerializeStruct for StructWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), SerdeError> {
        self.field(key, value)
    }

    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for StructWriter {
    type Ok = Term;
    type Error = SerdeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), SerdeError> {
        self.field(key, value)
    }

    fn end(self) -> Result<Term, SerdeError> {
        Ok(self.finish())
    }
}

// ---- Deserialization ----

/// The value of type `T` that `term` holds, by the mapping in the [module
/// documentation](self) (which lists the Erlang forms read besides those [`to_term`] writes).
/// `term` is borrowed: the result owns its data, copied out of the term.
///
/// # Errors
/// A term (or part of one) of the wrong shape for `T`, an integer out of `T`'s range, a term
/// nested deeper than 128 levels (see "Hostile input" in the [module documentation](self)),
/// or an error from `T`'s own `Deserialize`. Never panics.
///
/// ```
/// use serde::Deserialize;
/// use spam::term::serde::from_term;
/// use spam::term::Term;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct User {
///     name: String,
///     age: Option<u32>,
/// }
///
/// // #{name => "Joe", age => nil}, as Erlang writes it: an atom key, a charlist string.
/// let t = Term::map([
///     (Term::atom("name"), Term::charlist("Joe")),
///     (Term::atom("age"), Term::atom("nil")),
/// ]);
/// assert_eq!(from_term::<User>(&t).unwrap(), User { name: "Joe".into(), age: None });
///
/// let err = from_term::<User>(&Term::atom("joe")).unwrap_err();
/// assert_eq!(err.to_string(), "expected a map, found joe");
/// ```
pub fn from_term<T: de::DeserializeOwned>(term: &Term) -> Result<T, SerdeError> {
    T::deserialize(TermDeserializer { term, depth: 0, key: false })
}

/// How many levels [`from_term`] descends (the module documentation's "Hostile input").
const MAX_NESTING: usize = 128;

/// Reads a term: the `Deserializer` behind [`from_term`].
#[derive(Clone, Copy)]
struct TermDeserializer<'de> {
    term: &'de Term,
    /// Containers, options and newtypes entered to reach `term`.
    depth: usize,
    /// Whether `term` is a map key (where an atom also reads as a string).
    key: bool,
}

/// What is left of a sequence being read.
enum Items<'de> {
    Terms(std::slice::Iter<'de, Term>),
    List(Cons<'de>),
    Bytes(std::slice::Iter<'de, u8>),
}

/// The `SeqAccess` over a list, a tuple (or part of one) or a binary's bytes.
struct SeqReader<'de> {
    items: Items<'de>,
    left: usize,
    depth: usize,
}

/// The `MapAccess` over a map's entries.
struct MapReader<'de> {
    entries: std::slice::Iter<'de, (Term, Term)>,
    value: Option<&'de Term>,
    depth: usize,
}

/// The `EnumAccess` and `VariantAccess` over an atom, a binary or a tagged tuple.
struct EnumReader<'de> {
    whole: &'de Term,
    /// The variant's name as the type knows it, or the tag as found if it names none.
    variant: &'de str,
    /// The tag as found.
    tag: &'de str,
    rest: &'de [Term],
    depth: usize,
}

/// What a sequence read expects: a tuple of so many elements, or any proper list.
#[derive(Clone, Copy)]
struct SeqShape(Option<usize>);

impl Display for SeqShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "a tuple of {n} elements"),
            None => f.write_str("a proper list"),
        }
    }
}

/// The unsigned value of a non-negative bignum that fits a `u128`.
fn big_u128(b: &BigInt) -> Option<u128> {
    if b.negative || b.magnitude.len() > 16 {
        return None;
    }
    let mut le = [0u8; 16];
    le[..b.magnitude.len()].copy_from_slice(&b.magnitude);
    Some(u128::from_le_bytes(le))
}

/// The number of elements of a proper list, `None` for an improper one.
fn proper_len(t: &Term) -> Option<usize> {
    let mut heads = Cons::new(t);
    let n = heads.by_ref().count();
    matches!(heads.tail(), Term::Nil).then_some(n)
}

/// The text of a tag or key: an atom or a UTF-8 binary.
fn name_of(t: &Term) -> Option<&str> {
    match t {
        Term::Atom(a) => Some(a.as_str()),
        Term::Binary(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

macro_rules! integers {
    ($($method:ident => $visit:ident, $t:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
            visitor.$visit(self.integer::<$t>(stringify!($t))?)
        }
    )*};
}

impl<'de> TermDeserializer<'de> {
    fn mismatch(&self, expected: impl Display) -> SerdeError {
        SerdeError::mismatch(expected, self.term)
    }

    /// The depth one level in, or an error past the limit.
    fn enter(&self) -> Result<usize, SerdeError> {
        if self.depth >= MAX_NESTING {
            Err(self.mismatch(format_args!("a term nested at most {MAX_NESTING} levels deep")))
        } else {
            Ok(self.depth + 1)
        }
    }

    /// The same term, one level deeper (an option's or a newtype's content).
    fn inner(&self) -> Result<TermDeserializer<'de>, SerdeError> {
        Ok(TermDeserializer { term: self.term, depth: self.enter()?, key: false })
    }

    fn integer<T: TryFrom<i64> + TryFrom<i128> + TryFrom<u128>>(&self, expected: &str) -> Result<T, SerdeError> {
        let v = match self.term {
            Term::Integer(i) => T::try_from(*i).ok(),
            Term::BigInt(b) => match b.to_i128() {
                Some(i) => T::try_from(i).ok(),
                None => big_u128(b).and_then(|u| T::try_from(u).ok()),
            },
            _ => None,
        };
        v.ok_or_else(|| self.mismatch(expected))
    }

    fn is_nothing(&self) -> bool {
        matches!(self.term.as_atom(), Some("undefined" | "nil"))
    }

    /// Reads a proper list, a tuple or a binary as a sequence; `len`: the number of elements
    /// there must be, if fixed (then a binary is not taken).
    fn seq<V: Visitor<'de>>(self, visitor: V, len: Option<usize>) -> Result<V::Value, SerdeError> {
        let expected = SeqShape(len);
        let (items, n) = match self.term {
            Term::Tuple(v) => (Items::Terms(v.iter()), v.len()),
            Term::Nil | Term::List(..) => match proper_len(self.term) {
                Some(n) => (Items::List(Cons::new(self.term)), n),
                None => return Err(self.mismatch(expected)),
            },
            Term::Binary(b) if len.is_none() => (Items::Bytes(b.iter()), b.len()),
            _ => return Err(self.mismatch(expected)),
        };
        if len.is_some_and(|len| len != n) {
            return Err(self.mismatch(expected));
        }
        // An empty container leads nowhere deeper: only one with elements counts.
        let depth = if n == 0 { self.depth } else { self.enter()? };
        let mut reader = SeqReader { items, left: n, depth };
        let value = visitor.visit_seq(&mut reader)?;
        if reader.left == 0 {
            Ok(value)
        } else {
            Err(self.mismatch(format_args!("a sequence of {} elements", n - reader.left)))
        }
    }

    fn map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        let Term::Map(entries) = self.term else { return Err(self.mismatch("a map")) };
        let depth = if entries.is_empty() { self.depth } else { self.enter()? };
        let mut reader = MapReader { entries: entries.iter(), value: None, depth };
        let value = visitor.visit_map(&mut reader)?;
        if reader.entries.as_slice().is_empty() {
            Ok(value)
        } else {
            Err(self.mismatch(format_args!("a map of {} entries", entries.len() - reader.entries.len())))
        }
    }
}

impl<'de> de::Deserializer<'de> for TermDeserializer<'de> {
    type Error = SerdeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.term {
            Term::Atom(a) => match a.as_str() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                "undefined" | "nil" => visitor.visit_unit(),
                s => visitor.visit_borrowed_str(s),
            },
            Term::Integer(i) => visitor.visit_i64(*i),
            Term::BigInt(b) => {
                if let Some(u) = big_u128(b) {
                    match u64::try_from(u) {
                        Ok(u) => visitor.visit_u64(u),
                        Err(_) => visitor.visit_u128(u),
                    }
                } else if let Some(i) = b.to_i128() {
                    visitor.visit_i128(i)
                } else {
                    Err(self.mismatch("an integer of at most 128 bits"))
                }
            }
            Term::Float(x) => visitor.visit_f64(*x),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            Term::Nil | Term::List(..) | Term::Tuple(_) => self.seq(visitor, None),
            Term::Map(_) => self.map(visitor),
            Term::BitBinary(..)
            | Term::Pid(_)
            | Term::Reference(_)
            | Term::Port(_)
            | Term::Fun(_)
            | Term::Export(_) => {
                Err(self.mismatch("a term with a serde form (not a bitstring, pid, reference, port or fun)"))
            }
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.term.as_atom() {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            _ => Err(self.mismatch("a boolean (true or false)")),
        }
    }

    integers! {
        deserialize_i8 => visit_i8, i8;
        deserialize_i16 => visit_i16, i16;
        deserialize_i32 => visit_i32, i32;
        deserialize_i64 => visit_i64, i64;
        deserialize_i128 => visit_i128, i128;
        deserialize_u8 => visit_u8, u8;
        deserialize_u16 => visit_u16, u16;
        deserialize_u32 => visit_u32, u32;
        deserialize_u64 => visit_u64, u64;
        deserialize_u128 => visit_u128, u128;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.term {
            Term::Float(x) => visitor.visit_f64(*x),
            Term::Integer(i) => visitor.visit_f64(*i as f64),
            _ => Err(self.mismatch("a float")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        let single = |s: &str| {
            let mut it = s.chars();
            it.next().filter(|_| it.next().is_none())
        };
        let c = match self.term {
            Term::Binary(b) => std::str::from_utf8(b).ok().and_then(single),
            Term::Integer(i) => u32::try_from(*i).ok().and_then(char::from_u32),
            Term::List(..) if proper_len(self.term) == Some(1) => self.term.as_charlist().as_deref().and_then(single),
            _ => None,
        };
        match c {
            Some(c) => visitor.visit_char(c),
            None => Err(self.mismatch("a character (a one-character binary or a code point)")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.term {
            Term::Binary(b) => {
                if let Ok(s) = std::str::from_utf8(b) {
                    return visitor.visit_borrowed_str(s);
                }
            }
            Term::Nil => return visitor.visit_borrowed_str(""),
            Term::List(..) => {
                if let Some(s) = self.term.as_charlist() {
                    return visitor.visit_string(s);
                }
            }
            Term::Atom(a) if self.key => return visitor.visit_borrowed_str(a.as_str()),
            _ => {}
        }
        Err(self.mismatch("a string (a UTF-8 binary or a charlist)"))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.term {
            Term::Binary(b) => return visitor.visit_borrowed_bytes(b),
            Term::Nil => return visitor.visit_borrowed_bytes(&[]),
            Term::List(..) => {
                let mut heads = Cons::new(self.term);
                let bytes: Option<Vec<u8>> = heads
                    .by_ref()
                    .map(|t| match t {
                        Term::Integer(i) => u8::try_from(*i).ok(),
                        _ => None,
                    })
                    .collect();
                if let (Some(bytes), Term::Nil) = (bytes, heads.tail()) {
                    return visitor.visit_byte_buf(bytes);
                }
            }
            _ => {}
        }
        Err(self.mismatch("bytes (a binary or a list of integers 0 to 255)"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        if self.is_nothing() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self.inner()?)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        if self.is_nothing() {
            visitor.visit_unit()
        } else {
            Err(self.mismatch("undefined"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, SerdeError> {
        let snake = snake_case(name);
        match name_of(self.term) {
            Some(s) if s == snake || s == name => visitor.visit_unit(),
            _ => Err(self.mismatch(format_args!("the atom {}", Short(&atom(&snake)?)))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        visitor.visit_newtype_struct(self.inner()?)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.seq(visitor, None)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, SerdeError> {
        self.seq(visitor, Some(len))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        self.map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        self.map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        let (tag, rest) = match self.term {
            Term::Tuple(v) => match v.split_first() {
                Some((tag, rest)) => (name_of(tag), rest),
                None => (None, &[][..]),
            },
            t => (name_of(t), &[][..]),
        };
        let Some(tag) = tag else {
            return Err(self.mismatch("an enum variant (an atom, or a tuple tagged with one)"));
        };
        let variant = variants
            .iter()
            .find(|v| variant_name(name, v) == tag)
            .or_else(|| variants.iter().find(|v| **v == tag))
            .map_or(tag, |v| *v);
        let depth = if rest.is_empty() { self.depth } else { self.enter()? };
        visitor.visit_enum(EnumReader { whole: self.term, variant, tag, rest, depth })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.term {
            Term::Atom(a) => visitor.visit_borrowed_str(a.as_str()),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            Term::Integer(i) if *i >= 0 => visitor.visit_u64(*i as u64),
            Term::Nil | Term::List(..) => match self.term.as_charlist() {
                Some(s) => visitor.visit_string(s),
                None => Err(self.mismatch("a name (an atom or a binary)")),
            },
            _ => Err(self.mismatch("a name (an atom or a binary)")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        visitor.visit_unit()
    }
}

impl<'de> de::SeqAccess<'de> for SeqReader<'de> {
    type Error = SerdeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, SerdeError> {
        let term = match &mut self.items {
            Items::Terms(it) => it.next(),
            Items::List(it) => it.next(),
            Items::Bytes(it) => {
                return match it.next() {
                    Some(&b) => {
                        self.left -= 1;
                        seed.deserialize(b.into_deserializer()).map(Some)
                    }
                    None => Ok(None),
                }
            }
        };
        match term {
            Some(term) => {
                self.left -= 1;
                seed.deserialize(TermDeserializer { term, depth: self.depth, key: false }).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for MapReader<'de> {
    type Error = SerdeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, SerdeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(TermDeserializer { term: k, depth: self.depth, key: true }).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, SerdeError> {
        let term =
            self.value.take().ok_or_else(|| SerdeError { message: "a map value asked for before its key".into() })?;
        seed.deserialize(TermDeserializer { term, depth: self.depth, key: false })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

impl<'de> de::EnumAccess<'de> for EnumReader<'de> {
    type Error = SerdeError;
    type Variant = EnumReader<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, EnumReader<'de>), SerdeError> {
        let v = seed.deserialize(de::value::BorrowedStrDeserializer::<SerdeError>::new(self.variant))?;
        Ok((v, self))
    }
}

impl<'de> EnumReader<'de> {
    fn mismatch(&self, expected: impl Display) -> SerdeError {
        SerdeError::mismatch(expected, self.whole)
    }

    /// `{tag, _, _}` for a variant of `n` fields.
    fn shape(&self, n: usize) -> String {
        format!("{{{}{}}}", self.tag, ", _".repeat(n))
    }

    fn at(&self, term: &'de Term) -> TermDeserializer<'de> {
        TermDeserializer { term, depth: self.depth, key: false }
    }

    fn elements<V: Visitor<'de>>(&self, items: &'de [Term], visitor: V) -> Result<V::Value, SerdeError> {
        let mut reader = SeqReader { items: Items::Terms(items.iter()), left: items.len(), depth: self.depth };
        let value = visitor.visit_seq(&mut reader)?;
        if reader.left == 0 {
            Ok(value)
        } else {
            Err(self.mismatch(self.shape(items.len() - reader.left)))
        }
    }
}

impl<'de> de::VariantAccess<'de> for EnumReader<'de> {
    type Error = SerdeError;

    fn unit_variant(self) -> Result<(), SerdeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.mismatch(format_args!("the atom {} (a unit variant)", self.tag)))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, SerdeError> {
        match self.rest {
            [value] => seed.deserialize(self.at(value)),
            _ => Err(self.mismatch(self.shape(1))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, SerdeError> {
        if self.rest.len() == len {
            return self.elements(self.rest, visitor);
        }
        if let [inner] = self.rest {
            if matches!(inner, Term::Tuple(_) | Term::List(..) | Term::Nil) {
                return self.at(inner).seq(visitor, Some(len));
            }
        }
        Err(self.mismatch(self.shape(len)))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        if let [Term::Map(_)] = self.rest {
            return self.at(&self.rest[0]).map(visitor);
        }
        if self.rest.len() == fields.len() {
            return self.elements(self.rest, visitor);
        }
        Err(self.mismatch(format_args!("{{{}, #{{...}}}} (a map of its fields)", self.tag)))
    }
}
