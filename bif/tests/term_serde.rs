#![cfg(feature = "serde")]
//! `spam::term::serde` (feature `serde`): the exact terms `to_term` writes, round trips through
//! `from_term` (and through ETF bytes), the Erlang and Elixir forms `from_term` also reads, and
//! errors on hostile or mistaken input.

use serde::{Deserialize, Serialize};
use spam::term::serde::{from_term, to_term, SerdeError};
use spam::term::{etf, Atom, ExternalPid, Term};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

fn atom(s: &str) -> Term {
    Term::atom(s)
}

fn int(i: i64) -> Term {
    Term::Integer(i)
}

fn bin(s: &str) -> Term {
    Term::from(s)
}

fn tuple(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

fn map(entries: Vec<(Term, Term)>) -> Term {
    Term::map(entries)
}

/// `v` is written as `expected`, and `expected` reads back as `v`.
#[track_caller]
fn both_ways<T>(v: T, expected: Term)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let t = to_term(&v).unwrap();
    assert_eq!(t, expected, "to_term({v:?}) is {t}, not {expected}");
    let back: T = from_term(&t).unwrap();
    assert_eq!(back, v, "from_term({t})");
}

/// `t` does not read as a `T`; the error's message.
#[track_caller]
fn fails<T: serde::de::DeserializeOwned + Debug>(t: &Term) -> String {
    match from_term::<T>(t) {
        Ok(v) => panic!("{t} read as {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Event {
    Ok,
    NotFound,
    HTTPError,
    Value(i64),
    Move(i32, i32),
    Rect { w: u32, h: u32 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Ready;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct UserId(u64);

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Pair(i32, String);

#[test]
fn struct_is_a_map_with_atom_keys() {
    both_ways(Point { x: 1, y: 2 }, map(vec![(atom("x"), int(1)), (atom("y"), int(2))]));
    assert_eq!(to_term(&Point { x: 1, y: -2 }).unwrap().to_string(), "#{x => 1,y => -2}");
}

#[test]
fn enum_variants_of_all_four_kinds() {
    both_ways(Event::Ok, atom("ok"));
    both_ways(Event::NotFound, atom("not_found"));
    both_ways(Event::HTTPError, atom("http_error"));
    both_ways(Event::Value(-7), tuple(vec![atom("value"), int(-7)]));
    both_ways(Event::Move(1, 2), tuple(vec![atom("move"), int(1), int(2)]));
    both_ways(
        Event::Rect { w: 3, h: 4 },
        tuple(vec![atom("rect"), map(vec![(atom("w"), int(3)), (atom("h"), int(4))])]),
    );
    assert_eq!(to_term(&Event::Rect { w: 3, h: 4 }).unwrap().to_string(), "{rect,#{w => 3,h => 4}}");
}

#[test]
fn snake_case_names() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
    enum Names {
        A,
        ABC,
        IOError,
        XMLHttpRequest,
        V2Api,
        Already_snake,
        #[serde(rename = "custom_name")]
        Renamed,
    }
    both_ways(Names::A, atom("a"));
    both_ways(Names::ABC, atom("abc"));
    both_ways(Names::IOError, atom("io_error"));
    both_ways(Names::XMLHttpRequest, atom("xml_http_request"));
    both_ways(Names::V2Api, atom("v2_api"));
    both_ways(Names::Already_snake, atom("already_snake"));
    both_ways(Names::Renamed, atom("custom_name"));

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Renamed {
        NotFound,
        TimedOut(u32),
    }
    both_ways(Renamed::NotFound, atom("not_found"));
    both_ways(Renamed::TimedOut(5), tuple(vec![atom("timed_out"), int(5)]));

    // A unit struct is the atom of its name.
    both_ways(Ready, atom("ready"));
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct AllDone;
    both_ways(AllDone, atom("all_done"));
}

#[test]
fn result_is_ok_or_error() {
    both_ways(Ok::<i32, String>(1), tuple(vec![atom("ok"), int(1)]));
    both_ways(Err::<i32, String>("no".into()), tuple(vec![atom("error"), bin("no")]));
    // Elixir's {:error, :enoent}, and the Rust names read too.
    let r: Result<i32, Atomish> = from_term(&tuple(vec![atom("error"), atom("enoent")])).unwrap();
    assert_eq!(r, Err(Atomish::Enoent));
    let r: Result<i32, String> = from_term(&tuple(vec![atom("Err"), bin("x")])).unwrap();
    assert_eq!(r, Err("x".into()));
    assert_eq!(
        fails::<Result<i32, String>>(&tuple(vec![atom("err"), bin("x")])),
        "expected a variant (one of ok, error), found err"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Atomish {
    Enoent,
    Eacces,
}

#[test]
fn options_and_unit() {
    both_ways(Some(5i32), int(5));
    both_ways(None::<i32>, atom("undefined"));
    both_ways(Some("s".to_string()), bin("s"));
    both_ways((), atom("undefined"));
    // Elixir's nil is None too.
    assert_eq!(from_term::<Option<i32>>(&atom("nil")).unwrap(), None);
    assert_eq!(from_term::<()>(&atom("nil")).unwrap(), ());
    // Matches Term's own From<Option<T>>.
    assert_eq!(to_term(&None::<u8>).unwrap(), Term::from(None::<u8>));
    assert_eq!(to_term(&Some(3u8)).unwrap(), Term::from(Some(3u8)));

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Opt {
        a: Option<u8>,
        #[serde(default)]
        b: Option<String>,
    }
    both_ways(Opt { a: None, b: Some("x".into()) }, map(vec![(atom("a"), atom("undefined")), (atom("b"), bin("x"))]));
    // A missing Option field is None.
    assert_eq!(from_term::<Opt>(&map(vec![(atom("a"), int(1))])).unwrap(), Opt { a: Some(1), b: None });
}

#[test]
fn sequences_tuples_and_newtypes() {
    both_ways(vec![1i32, 2, 3], Term::list(vec![int(1), int(2), int(3)]));
    both_ways(Vec::<i32>::new(), Term::Nil);
    both_ways((1u8, "a".to_string(), true), tuple(vec![int(1), bin("a"), atom("true")]));
    both_ways(Pair(4, "b".into()), tuple(vec![int(4), bin("b")]));
    both_ways(UserId(42), int(42));
    both_ways([7u16; 3], tuple(vec![int(7), int(7), int(7)]));
    both_ways(vec![vec![true], vec![]], Term::list(vec![Term::list(vec![atom("true")]), Term::Nil]));
}

#[test]
fn maps() {
    let mut h = HashMap::new();
    h.insert("a".to_string(), 1i32);
    h.insert("b".to_string(), 2);
    both_ways(h, map(vec![(bin("a"), int(1)), (bin("b"), int(2))]));

    let mut b = BTreeMap::new();
    b.insert(1u32, vec![Point { x: 0, y: 0 }]);
    b.insert(2, vec![]);
    both_ways(
        b,
        map(vec![(int(1), Term::list(vec![map(vec![(atom("x"), int(0)), (atom("y"), int(0))])])), (int(2), Term::Nil)]),
    );

    // Enum keys are atoms.
    let mut e = BTreeMap::new();
    e.insert(Atomish::Enoent, 1u8);
    both_ways(e, map(vec![(atom("enoent"), int(1))]));

    // Erlang's atom keys read as String keys.
    let m: HashMap<String, i32> = from_term(&map(vec![(atom("a"), int(1)), (bin("b"), int(2))])).unwrap();
    assert_eq!(m, HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)]));
}

#[test]
fn integers_at_their_limits() {
    both_ways(u64::MAX, Term::from(u64::MAX));
    assert!(matches!(to_term(&u64::MAX).unwrap(), Term::BigInt(_)));
    assert_eq!(to_term(&u64::MAX).unwrap().to_string(), "18446744073709551615");
    both_ways(i64::MIN, int(i64::MIN));
    both_ways(i64::MAX, int(i64::MAX));
    both_ways(i128::MIN, Term::from(i128::MIN));
    both_ways(i128::MAX, Term::from(i128::MAX));
    both_ways(u128::MAX, Term::from(u128::MAX));
    both_ways(-1i128, int(-1));
    both_ways(1u128 << 64, Term::from(1u128 << 64));
    both_ways(u8::MAX, int(255));
    both_ways(i8::MIN, int(-128));
    // A bignum that fits reads into the narrower types.
    assert_eq!(from_term::<u128>(&Term::from(u64::MAX)).unwrap(), u128::from(u64::MAX));
    assert_eq!(from_term::<i128>(&Term::from(u64::MAX)).unwrap(), i128::from(u64::MAX));
    // Out of range.
    assert_eq!(fails::<u64>(&Term::from(-1)), "expected u64, found -1");
    assert_eq!(fails::<i64>(&Term::from(u64::MAX)), "expected i64, found 18446744073709551615");
    assert_eq!(fails::<u8>(&int(256)), "expected u8, found 256");
    assert_eq!(fails::<i128>(&Term::from(u128::MAX)), format!("expected i128, found {}", u128::MAX));
    assert!(fails::<u128>(&Term::big(false, vec![1; 17])).starts_with("expected u128, found "));
}

#[test]
fn floats() {
    both_ways(1.5f64, Term::Float(1.5));
    both_ways(-0.0f64, Term::Float(-0.0));
    both_ways(0.25f32, Term::Float(0.25));
    // An Erlang integer reads as a float.
    assert_eq!(from_term::<f64>(&int(3)).unwrap(), 3.0);
    // Erlang has no NaN or infinity.
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = to_term(&x).unwrap_err().to_string();
        assert!(err.starts_with("expected a finite float"), "{err}");
    }
    assert!(to_term(&vec![1.0, f64::NAN]).is_err());
    assert_eq!(fails::<f64>(&bin("1.0")), r#"expected a float, found <<"1.0">>"#);
}

#[test]
fn strings_chars_and_bytes() {
    let s = "héllo wörld ✓ 🦀 Ω";
    both_ways(s.to_string(), Term::binary(s.as_bytes()));
    both_ways(String::new(), Term::binary(vec![]));
    both_ways('é', Term::binary("é".as_bytes()));
    both_ways('🦀', Term::binary("🦀".as_bytes()));
    // &str serialises too.
    assert_eq!(to_term("abc").unwrap(), bin("abc"));

    // Vec<u8> is a sequence: a list of integers; a binary reads back into it too.
    both_ways(vec![0u8, 1, 255], Term::list(vec![int(0), int(1), int(255)]));
    assert_eq!(from_term::<Vec<u8>>(&Term::binary(vec![9, 8])).unwrap(), vec![9, 8]);
    // serialize_bytes (what serde_bytes uses) is a binary.
    struct Raw<'a>(&'a [u8]);
    impl Serialize for Raw<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    assert_eq!(to_term(&Raw(&[1, 2, 200])).unwrap(), Term::binary(vec![1, 2, 200]));
    // Where the type asks for no particular shape, a binary that is not UTF-8 is bytes.
    let err = from_term::<serde_json::Value>(&Term::binary(vec![0xff])).unwrap_err().to_string();
    assert_eq!(err, "invalid type: byte array, expected any valid JSON value");
}

#[test]
fn erlang_strings_read_as_strings() {
    assert_eq!(from_term::<String>(&Term::charlist("héllo Ω")).unwrap(), "héllo Ω");
    assert_eq!(from_term::<String>(&Term::Nil).unwrap(), "");
    // Erlang's $a is an integer.
    assert_eq!(from_term::<char>(&int('a' as i64)).unwrap(), 'a');
    assert_eq!(from_term::<char>(&Term::charlist("Ω")).unwrap(), 'Ω');
    assert_eq!(
        fails::<char>(&bin("ab")),
        r#"expected a character (a one-character binary or a code point), found <<"ab">>"#
    );
    assert!(fails::<char>(&int(0xD800)).starts_with("expected a character"));
    // An atom is not a string (except as a map key).
    assert_eq!(fails::<String>(&atom("nil")), "expected a string (a UTF-8 binary or a charlist), found nil");
    assert_eq!(
        fails::<String>(&Term::binary(vec![0xff, 0])),
        "expected a string (a UTF-8 binary or a charlist), found <<255,0>>"
    );
    assert!(fails::<String>(&Term::list(vec![int(-1)])).starts_with("expected a string"));
}

#[test]
fn erlang_forms_of_structs_and_enums() {
    // Binary keys, keys in any order, and an Elixir struct's __struct__ key.
    let p = Point { x: 1, y: 2 };
    assert_eq!(from_term::<Point>(&map(vec![(bin("y"), int(2)), (bin("x"), int(1))])).unwrap(), p);
    let elixir = map(vec![(atom("__struct__"), atom("Elixir.Point")), (atom("x"), int(1)), (atom("y"), int(2))]);
    assert_eq!(from_term::<Point>(&elixir).unwrap(), p);

    // Variants tagged with binaries, or with the Rust name.
    assert_eq!(from_term::<Event>(&bin("not_found")).unwrap(), Event::NotFound);
    assert_eq!(from_term::<Event>(&atom("NotFound")).unwrap(), Event::NotFound);
    assert_eq!(from_term::<Event>(&tuple(vec![bin("value"), int(3)])).unwrap(), Event::Value(3));
    // {not_found} as a unit variant.
    assert_eq!(from_term::<Event>(&tuple(vec![atom("not_found")])).unwrap(), Event::NotFound);
    // A tuple variant's fields in a nested tuple or list.
    assert_eq!(from_term::<Event>(&tuple(vec![atom("move"), tuple(vec![int(1), int(2)])])).unwrap(), Event::Move(1, 2));
    assert_eq!(
        from_term::<Event>(&tuple(vec![atom("move"), Term::list(vec![int(1), int(2)])])).unwrap(),
        Event::Move(1, 2)
    );
    // A struct variant's fields positionally (record-like), or in a map with binary keys.
    assert_eq!(from_term::<Event>(&tuple(vec![atom("rect"), int(3), int(4)])).unwrap(), Event::Rect { w: 3, h: 4 });
    assert_eq!(
        from_term::<Event>(&tuple(vec![atom("rect"), map(vec![(bin("h"), int(4)), (bin("w"), int(3))])])).unwrap(),
        Event::Rect { w: 3, h: 4 }
    );
    // A tuple reads as a Vec, a list as a tuple.
    assert_eq!(from_term::<Vec<i32>>(&tuple(vec![int(1), int(2)])).unwrap(), vec![1, 2]);
    assert_eq!(from_term::<(i32, i32)>(&Term::list(vec![int(1), int(2)])).unwrap(), (1, 2));
    // A list split across tails is one list.
    let split = Term::List(vec![int(1)], Box::new(Term::List(vec![int(2)], Box::new(Term::Nil))));
    assert_eq!(from_term::<Vec<i32>>(&split).unwrap(), vec![1, 2]);
}

#[test]
fn serde_attributes() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum WithOther {
        Known,
        #[serde(other)]
        Unknown,
    }
    assert_eq!(from_term::<WithOther>(&atom("known")).unwrap(), WithOther::Known);
    assert_eq!(from_term::<WithOther>(&atom("something_else")).unwrap(), WithOther::Unknown);

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(tag = "type")]
    enum Tagged {
        Circle { r: f64 },
        Square { side: f64 },
    }
    both_ways(Tagged::Circle { r: 1.0 }, map(vec![(atom("type"), bin("Circle")), (atom("r"), Term::Float(1.0))]));

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Untagged {
        Num(i64),
        Text(String),
        Pt(Point),
    }
    both_ways(Untagged::Num(3), int(3));
    both_ways(Untagged::Text("t".into()), bin("t"));
    both_ways(Untagged::Pt(Point { x: 1, y: 2 }), map(vec![(atom("x"), int(1)), (atom("y"), int(2))]));

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Renamed {
        #[serde(rename = "Name")]
        name: String,
        #[serde(skip)]
        cache: u32,
        #[serde(default)]
        tags: Vec<String>,
    }
    both_ways(
        Renamed { name: "n".into(), cache: 0, tags: vec!["a".into()] },
        map(vec![(atom("Name"), bin("n")), (atom("tags"), Term::list(vec![bin("a")]))]),
    );

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Flat {
        id: u32,
        #[serde(flatten)]
        extra: HashMap<String, i32>,
    }
    let f = Flat { id: 1, extra: HashMap::from([("k".to_string(), 2)]) };
    // serde writes a flattened struct as a map: its keys are binaries.
    both_ways(f, map(vec![(bin("id"), int(1)), (bin("k"), int(2))]));

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        x: i32,
    }
    let err = fails::<Strict>(&map(vec![(atom("x"), int(1)), (atom("z"), int(2))]));
    assert!(err.contains("unknown field `z`"), "{err}");
}

#[test]
fn nested_values() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Order {
        id: u64,
        customer: Option<String>,
        lines: Vec<Line>,
        status: Event,
        totals: BTreeMap<String, (u32, f64)>,
        meta: Option<Box<Order>>,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Line {
        sku: String,
        qty: u16,
        at: Option<Point>,
    }
    let inner = Order {
        id: u64::MAX,
        customer: None,
        lines: vec![],
        status: Event::Rect { w: 1, h: 2 },
        totals: BTreeMap::new(),
        meta: None,
    };
    let order = Order {
        id: 7,
        customer: Some("Zoë".into()),
        lines: vec![
            Line { sku: "a-1".into(), qty: 2, at: Some(Point { x: 1, y: 2 }) },
            Line { sku: "b".into(), qty: 1, at: None },
        ],
        status: Event::Move(-1, 1),
        totals: BTreeMap::from([("eur".to_string(), (3, 9.5))]),
        meta: Some(Box::new(inner)),
    };
    let t = to_term(&order).unwrap();
    assert_eq!(
        t.to_string(),
        concat!(
            r#"#{id => 7,customer => <<"Zoë"/utf8>>,"#,
            r#"lines => [#{sku => <<"a-1">>,qty => 2,at => #{x => 1,y => 2}},#{sku => <<"b">>,qty => 1,at => undefined}],"#,
            r#"status => {move,-1,1},totals => #{<<"eur">> => {3,9.5}},"#,
            r#"meta => #{id => 18446744073709551615,customer => undefined,lines => [],status => {rect,#{w => 1,h => 2}},totals => #{},meta => undefined}}"#
        )
    );
    assert_eq!(from_term::<Order>(&t).unwrap(), order);
}

#[test]
fn through_etf_bytes() -> Result<(), Box<dyn std::error::Error>> {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Msg {
        from: String,
        events: Vec<Event>,
        big: u64,
        neg: i128,
        ok: Result<Vec<u8>, String>,
        scores: HashMap<String, f64>,
        unit: Ready,
        nothing: Option<UserId>,
    }
    let v = Msg {
        from: "node@hôst".into(),
        events: vec![
            Event::Ok,
            Event::NotFound,
            Event::Value(i64::MIN),
            Event::Move(3, -4),
            Event::Rect { w: 0, h: u32::MAX },
        ],
        big: u64::MAX,
        neg: -(1i128 << 100),
        ok: Ok(vec![1, 2, 3]),
        scores: HashMap::from([("a".to_string(), 0.5), ("b".to_string(), -2.0)]),
        unit: Ready,
        nothing: None,
    };
    let bytes = etf::encode(&to_term(&v)?);
    let t = etf::decode(&bytes)?;
    assert_eq!(from_term::<Msg>(&t)?, v);
    Ok(())
}

#[test]
fn json_values_both_ways() {
    let v = serde_json::json!({"a": [1, -2, 3.5, "s", true, null], "b": {"c": "d"}});
    let t = to_term(&v).unwrap();
    assert_eq!(
        t,
        map(vec![
            (bin("a"), Term::list(vec![int(1), int(-2), Term::Float(3.5), bin("s"), atom("true"), atom("undefined")])),
            (bin("b"), map(vec![(bin("c"), bin("d"))])),
        ])
    );
    assert_eq!(from_term::<serde_json::Value>(&t).unwrap(), v);
    // Other atoms read as strings where the type asks for any shape; tuples as arrays.
    let t = tuple(vec![atom("ok"), atom("nil"), Term::from(u64::MAX)]);
    assert_eq!(from_term::<serde_json::Value>(&t).unwrap(), serde_json::json!(["ok", null, u64::MAX]));
}

#[test]
fn wrong_shapes_say_what_was_expected_and_found() {
    assert_eq!(fails::<Point>(&atom("joe")), "expected a map, found joe");
    assert_eq!(fails::<Point>(&map(vec![(atom("x"), int(1))])), "missing field `y`");
    assert_eq!(
        fails::<Point>(&map(vec![(atom("x"), bin("1")), (atom("y"), int(2))])),
        r#"expected i32, found <<"1">>"#
    );
    assert_eq!(fails::<bool>(&atom("yes")), "expected a boolean (true or false), found yes");
    assert_eq!(fails::<Vec<i32>>(&atom("none")), "expected a proper list, found none");
    assert_eq!(fails::<Vec<i32>>(&Term::improper_list(vec![int(1)], int(2))), "expected a proper list, found [1|2]");
    assert_eq!(fails::<(i32, i32)>(&tuple(vec![int(1)])), "expected a tuple of 2 elements, found {1}");
    assert_eq!(
        fails::<(i32, i32)>(&tuple(vec![int(1), int(2), int(3)])),
        "expected a tuple of 2 elements, found {1,2,3}"
    );
    assert_eq!(fails::<HashMap<String, i32>>(&Term::Nil), "expected a map, found []");
    assert_eq!(fails::<()>(&atom("ok")), "expected undefined, found ok");
    assert_eq!(fails::<Ready>(&atom("go")), "expected the atom ready, found go");
    assert_eq!(
        fails::<Event>(&atom("missing")),
        "expected a variant (one of ok, not_found, http_error, value, move, rect), found missing"
    );
    assert_eq!(fails::<Event>(&int(1)), "expected an enum variant (an atom, or a tuple tagged with one), found 1");
    assert_eq!(
        fails::<Event>(&tuple(vec![])),
        "expected an enum variant (an atom, or a tuple tagged with one), found {}"
    );
    assert_eq!(fails::<Event>(&tuple(vec![atom("ok"), int(1)])), "expected the atom ok (a unit variant), found {ok,1}");
    assert_eq!(fails::<Event>(&atom("value")), "expected {value, _}, found value");
    assert_eq!(fails::<Event>(&tuple(vec![atom("move"), int(1)])), "expected {move, _, _}, found {move,1}");
    assert_eq!(fails::<Event>(&atom("rect")), "expected {rect, #{...}} (a map of its fields), found rect");
    assert_eq!(fails::<Point>(&map(vec![(tuple(vec![]), int(1))])), "expected a name (an atom or a binary), found {}");
    // Long terms are cut.
    let long = Term::list((0..1000).map(|i| atom(&format!("a{i}"))).collect());
    let err = fails::<String>(&long);
    assert!(err.ends_with("...") && err.len() < 200, "{err}");
    // A huge bignum is not printed in decimal (that would take seconds).
    let huge = Term::big(false, vec![0xab; 100_000]);
    let started = std::time::Instant::now();
    assert_eq!(fails::<u64>(&huge), "expected u64, found <bignum of 100000 bytes>");
    let in_list = Term::list(vec![int(1), huge.clone(), int(2)]);
    assert_eq!(fails::<Vec<u64>>(&in_list), "expected u64, found <bignum of 100000 bytes>");
    assert_eq!(fails::<Point>(&in_list), "expected a map, found [1,<bignum of 100000 bytes>,2]");
    assert_eq!(
        fails::<serde_json::Value>(&tuple(vec![huge])),
        "expected an integer of at most 128 bits, found <bignum of 100000 bytes>"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // A deep term prints only its start.
    let err = fails::<String>(&tuple(vec![nested(10_000)]));
    assert!(
        err.starts_with("expected a string (a UTF-8 binary or a charlist), found {[[[[") && err.ends_with("..."),
        "{err}"
    );
    // Terms serde has no form for.
    let pid = Term::Pid(ExternalPid { node: Atom::new("a@b"), id: 1, serial: 0, creation: 1 });
    assert_eq!(
        fails::<serde_json::Value>(&pid),
        "expected a term with a serde form (not a bitstring, pid, reference, port or fun), found <a@b.1.0>"
    );
    // ... unless the type ignores them.
    let with_pid = map(vec![(atom("x"), int(1)), (atom("y"), int(2)), (atom("pid"), pid.clone())]);
    assert_eq!(from_term::<Point>(&with_pid).unwrap(), Point { x: 1, y: 2 });
    // SerdeError is a std error.
    let e: Box<dyn std::error::Error> = Box::new(from_term::<u8>(&pid).unwrap_err());
    assert_eq!(e.to_string(), "expected u8, found <a@b.1.0>");
    let _: SerdeError = serde::de::Error::custom("x");
    let _: SerdeError = serde::ser::Error::custom("x");
}

/// A list nested `depth` deep: `[[[...]]]`.
fn nested(depth: usize) -> Term {
    let mut t = Term::Nil;
    for _ in 0..depth {
        t = Term::list(vec![t]);
    }
    t
}

#[test]
fn depth_is_bounded() {
    const LIMIT: &str = "expected a term nested at most 128 levels deep";
    // At the limit: fine, on a test thread's stack (128 non-empty lists, then `[]`).
    let v = from_term::<serde_json::Value>(&nested(128)).unwrap();
    assert_eq!(v.to_string(), format!("{}{}", "[".repeat(129), "]".repeat(129)));
    let err = from_term::<serde_json::Value>(&nested(129)).unwrap_err().to_string();
    assert!(err.starts_with(LIMIT), "{err}");
    let err = from_term::<Vec<Vec<Vec<()>>>>(&nested(etf::MAX_DEPTH)).unwrap_err().to_string();
    assert!(err.starts_with("expected undefined, found [["), "{err}"); // the type ends first
    let err = from_term::<serde_json::Value>(&nested(etf::MAX_DEPTH)).unwrap_err().to_string();
    assert!(err.starts_with(LIMIT), "{err}");

    // A recursive type on a term that never ends it.
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Chain(Option<Box<Chain>>);
    let err = from_term::<Chain>(&int(1)).unwrap_err().to_string();
    assert_eq!(err, format!("{LIMIT}, found 1"));

    // A recursive struct of many fields (large frames unoptimised), as deep as allowed.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Node {
        a: Option<String>,
        b: Option<String>,
        c: Option<(String, u64, f64)>,
        d: Option<Vec<i32>>,
        e: Option<HashMap<String, i32>>,
        kids: Vec<Node>,
    }
    let leaf = || Node { a: None, b: None, c: None, d: None, e: None, kids: vec![] };
    let mut n = leaf();
    for _ in 0..63 {
        n = Node { kids: vec![n], ..leaf() };
    }
    let t = to_term(&n).unwrap();
    assert_eq!(from_term::<Node>(&t).unwrap(), n);
    let deeper = Term::map([(atom("kids"), Term::list(vec![t]))]);
    assert!(from_term::<Node>(&deeper).unwrap_err().to_string().starts_with(LIMIT));
}

/// A small deterministic generator of arbitrary terms.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn term(&mut self, depth: u32) -> Term {
        let names = ["ok", "x", "y", "not_found", "move", "rect", "value", "undefined", "nil", "true", "w", "h"];
        let pick = if depth == 0 { self.next() % 8 } else { self.next() % 13 };
        let n = (self.next() % 4) as usize;
        match pick {
            0 => atom(names[(self.next() % names.len() as u64) as usize]),
            1 => int(self.next() as i64 >> (self.next() % 64)),
            2 => Term::big(self.next() & 1 == 0, self.next().to_le_bytes().repeat(1 + n)),
            3 => Term::Float(f64::from(self.next() as u32) / 7.0),
            4 => Term::binary(self.next().to_le_bytes()[..n * 2].to_vec()),
            5 => bin(names[(self.next() % names.len() as u64) as usize]),
            6 => Term::bitstring(vec![0xff], 3),
            7 => Term::Pid(ExternalPid { node: Atom::new("a@b"), id: 1, serial: 0, creation: 1 }),
            8 | 9 => tuple((0..n).map(|_| self.term(depth - 1)).collect()),
            10 => Term::list((0..n).map(|_| self.term(depth - 1)).collect()),
            11 => Term::improper_list((0..n).map(|_| self.term(depth - 1)).collect(), self.term(depth - 1)),
            _ => map((0..n).map(|_| (self.term(depth - 1), self.term(depth - 1))).collect()),
        }
    }
}

#[test]
fn arbitrary_terms_never_panic() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Everything {
        a: Option<Vec<Event>>,
        b: HashMap<String, (u8, i128)>,
        c: Result<char, Pair>,
        d: Vec<u8>,
        e: BTreeMap<i64, Option<Ready>>,
        f: f32,
    }
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut read = 0;
    for _ in 0..20_000 {
        let t = g.term(4);
        read += usize::from(from_term::<Everything>(&t).is_ok());
        read += usize::from(from_term::<Event>(&t).is_ok());
        read += usize::from(from_term::<Vec<Option<String>>>(&t).is_ok());
        read += usize::from(from_term::<(Point, UserId)>(&t).is_ok());
        if let Ok(v) = from_term::<serde_json::Value>(&t) {
            read += 1;
            // What reads as a JSON value writes back (floats and integers aside) without error.
            to_term(&v).unwrap();
        }
        for e in [from_term::<Event>(&t).err(), from_term::<Point>(&t).err()].into_iter().flatten() {
            assert!(!e.to_string().is_empty());
        }
    }
    assert!(read > 1000, "only {read} terms read");
}
