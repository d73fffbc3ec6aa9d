//! The External Term Format codec (`spam::term::etf`) and `Term`'s conversions: round trips,
//! bytes checked against OTP 25's `term_to_binary` (fixed vectors, and a live `erl` when one is
//! on the PATH), and hostile input.

use spam::term::etf::{self, EtfError, MAX_DEPTH};
use spam::term::{Atom, ExternalPid, ExternalPort, ExternalRef, Term, TermError};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn atom(s: &str) -> Term {
    Term::atom(s)
}

fn int(i: i64) -> Term {
    Term::Integer(i)
}

fn pid(node: &str, id: u32, serial: u32, creation: u32) -> Term {
    Term::Pid(ExternalPid { node: Atom::new(node), id, serial, creation })
}

fn export(m: &str, f: &str, arity: u8) -> Term {
    let mut b = vec![131, 113, 119, m.len() as u8];
    b.extend_from_slice(m.as_bytes());
    b.extend_from_slice(&[119, f.len() as u8]);
    b.extend_from_slice(f.as_bytes());
    b.extend_from_slice(&[97, arity]);
    etf::decode(&b).unwrap()
}

/// One of every kind, and the edge cases of each.
fn samples() -> Vec<Term> {
    vec![
        atom("ok"),
        atom(""),
        atom("héllo"),
        atom(&"Ω".repeat(255)),
        int(0),
        int(255),
        int(256),
        int(-1),
        int(i32::MAX as i64),
        int(i32::MIN as i64),
        int(i32::MAX as i64 + 1),
        int(i64::MAX),
        int(i64::MIN),
        Term::from(u64::MAX),
        Term::from(1u128 << 64),
        Term::from(-(1i128 << 100)),
        Term::big(false, vec![0xab; 300]),
        Term::Float(1.5),
        Term::Float(-0.0),
        Term::Float(f64::MAX),
        Term::Float(f64::MIN_POSITIVE),
        Term::from("hi"),
        Term::binary(Vec::new()),
        Term::binary(vec![0, 255]),
        Term::bitstring(vec![0b0010_0000], 3),
        Term::bitstring(vec![1, 2, 0b1111_0000], 4),
        Term::Nil,
        Term::from(vec![1, 2, 3]),
        Term::from(vec![1, 256]),
        Term::from(vec![-1]),
        Term::list((0..70_000).map(|i| int(i % 256)).collect()),
        Term::improper_list(vec![int(1), int(2)], int(3)),
        Term::improper_list(vec![atom("a")], Term::from("b")),
        Term::charlist("héllo"),
        Term::tuple(vec![]),
        Term::from((atom("ok"), (1, 2.5), vec![Term::Nil])),
        Term::tuple((0..300).map(int).collect()),
        Term::map(Vec::<(Term, Term)>::new()),
        Term::map([(atom("a"), int(1)), (Term::from("b"), Term::from(vec![atom("x")]))]),
        Term::map((0..100).map(|i| (int(i), int(i * i)))),
        pid("nonode@nohost", 80, 0, 0),
        pid("spam@localhost", 1 << 20, 3, 0xdead_beef),
        Term::Reference(ExternalRef { node: Atom::new("erl@localhost"), creation: 7, ids: vec![1, 2, 3] }),
        Term::Reference(ExternalRef { node: Atom::new("a@b"), creation: 1, ids: vec![1, 2, 3, 4, 5] }),
        Term::Port(ExternalPort { node: Atom::new("erl@localhost"), id: 5, creation: 7 }),
        Term::Port(ExternalPort { node: Atom::new("erl@localhost"), id: 1 << 40, creation: 7 }),
        export("lists", "map", 2),
    ]
}

#[test]
fn every_kind_round_trips() {
    for t in samples() {
        let bytes = etf::encode(&t);
        assert_eq!(etf::decode(&bytes).as_ref(), Ok(&t), "{t}");
        // And inside a container, and after something else.
        let wrapped = Term::from((t.clone(), vec![t.clone()]));
        assert_eq!(etf::decode(&etf::encode(&wrapped)).unwrap(), wrapped);
        let mut two = etf::encode(&t);
        two.extend(etf::encode(&atom("next")));
        let (first, used) = etf::decode_prefix(&two).unwrap();
        assert_eq!((first, used), (t.clone(), bytes.len()));
        assert_eq!(etf::decode(&two[used..]).unwrap(), atom("next"));
    }
}

fn through_etf<T>(v: T) -> T
where
    T: Into<Term> + TryFrom<Term, Error = TermError> + Clone,
{
    let t: Term = v.into();
    T::try_from(etf::decode(&etf::encode(&t)).unwrap()).unwrap()
}

#[test]
fn rust_values_round_trip() {
    for v in [i64::MIN, -1, 0, 1, 255, 256, i64::MAX] {
        assert_eq!(through_etf(v), v);
    }
    for v in [0u64, 255, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        assert_eq!(through_etf(v), v);
    }
    for v in [i128::MIN, -(1i128 << 64), i128::from(i64::MIN) - 1, 0, 1i128 << 100, i128::MAX] {
        assert_eq!(through_etf(v), v);
    }
    assert_eq!(through_etf(u128::MAX), u128::MAX);
    assert_eq!(
        (through_etf(7u8), through_etf(-7i8), through_etf(70_000u32), through_etf(-3isize)),
        (7, -7, 70_000, -3)
    );
    assert_eq!(through_etf(usize::MAX), usize::MAX);
    assert!(through_etf(true) && !through_etf(false));
    assert_eq!(through_etf(0.1f64), 0.1);
    assert_eq!(through_etf(String::from("héllo")), "héllo");
    assert_eq!(through_etf(vec![1u32, 2, 3]), vec![1, 2, 3]);
    assert_eq!(through_etf(Vec::<String>::new()), Vec::<String>::new());
    assert_eq!(through_etf(vec![vec![1i64], vec![]]), vec![vec![1], vec![]]);
    assert_eq!(through_etf((1u8, String::from("a"))), (1, "a".to_string()));
    assert_eq!(through_etf((1u8, 2u16, 3u32, 4u64, 5i8, 6i16)), (1, 2, 3, 4, 5, 6));
    assert_eq!(through_etf(Some(5u8)), Some(5));
    assert_eq!(through_etf(None::<String>), None);
    assert_eq!(through_etf(Atom::new("ok")), Atom::new("ok"));
    let p = ExternalPid { node: Atom::new("a@b"), id: 1, serial: 2, creation: 3 };
    assert_eq!(through_etf(p.clone()), p);
    let r = ExternalRef { node: Atom::new("a@b"), creation: 3, ids: vec![1, 2, 3] };
    assert_eq!(through_etf(r.clone()), r);
    let port = ExternalPort { node: Atom::new("a@b"), id: 9, creation: 3 };
    assert_eq!(through_etf(port.clone()), port);
    let terms: Vec<Term> = Term::from(vec![atom("a"), int(1)]).try_into().unwrap();
    assert_eq!(terms, [atom("a"), int(1)]);
}

#[test]
fn conversions_say_what_they_expected() {
    let e = u8::try_from(int(256)).unwrap_err();
    assert_eq!((e.expected, e.found), ("u8", int(256)));
    assert_eq!(u64::try_from(int(-1)).unwrap_err().expected, "u64");
    assert_eq!(
        i64::try_from(Term::from(u64::MAX)).unwrap_err().to_string(),
        "expected i64, found 18446744073709551615"
    );
    assert_eq!(f64::try_from(int(1)).unwrap_err().expected, "a float");
    assert_eq!(bool::try_from(atom("yes")).unwrap_err().to_string(), "expected a boolean (true or false), found yes");
    assert_eq!(String::try_from(Term::binary(vec![255])).unwrap_err().found, Term::binary(vec![255]));
    assert_eq!(String::try_from(Term::charlist("a")).unwrap_err().expected, "a UTF-8 binary");
    let improper = Term::improper_list(vec![int(1)], int(2));
    assert_eq!(Vec::<i64>::try_from(improper.clone()).unwrap_err(), TermError::new("a proper list", improper));
    let e = Vec::<u8>::try_from(Term::from(vec![1, 300])).unwrap_err();
    assert_eq!((e.expected, e.found), ("u8", int(300)));
    assert_eq!(<(u8, u8)>::try_from(Term::from((1, 2, 3))).unwrap_err().expected, "a tuple of 2");
    assert_eq!(Option::<u8>::try_from(atom("nil")).unwrap_err().expected, "u8");
    assert!(Atom::try_new(&"é".repeat(256)).is_err());
    let long = TermError::new("x", Term::list((0..1000).map(int).collect())).to_string();
    assert!(long.len() < 130 && long.ends_with("..."), "{long}");
}

#[test]
fn equality_is_erlangs_exact_equality() {
    assert_ne!(int(1), Term::Float(1.0));
    assert_ne!(Term::Float(0.0), Term::Float(-0.0));
    assert_eq!(Term::Float(f64::NAN), Term::Float(f64::NAN));
    // Lists compare by elements and final tail, however they are split.
    let split = Term::List(vec![int(1)], Box::new(Term::List(vec![int(2)], Box::new(Term::Nil))));
    assert_eq!(split, Term::from(vec![1, 2]));
    assert_eq!(Term::List(vec![], Box::new(atom("a"))), atom("a"));
    assert_ne!(Term::from(vec![1, 2]), Term::improper_list(vec![int(1)], int(2)));
    // Maps compare as maps.
    let a = Term::map([(1, 10), (2, 20)]);
    let b = Term::map([(2, 20), (1, 10)]);
    assert_eq!(a, b);
    assert_ne!(a, Term::map([(1, 10), (2, 21)]));
    let big_a = Term::map((0..50).map(|i| (i, i)));
    let big_b = Term::map((0..50).rev().map(|i| (i, i)));
    assert_eq!(big_a, big_b);
    // Hash agrees with equality.
    use std::collections::HashSet;
    let set: HashSet<Term> = [a, split, big_a].into_iter().collect();
    assert!(set.contains(&b) && set.contains(&Term::from(vec![1, 2])) && set.contains(&big_b));
    // The splits are one list on the wire, too.
    assert_eq!(
        etf::encode(&Term::List(vec![int(1)], Box::new(Term::List(vec![int(300)], Box::new(atom("t")))))),
        etf::encode(&Term::improper_list(vec![int(1), int(300)], atom("t")))
    );
}

#[test]
fn display_is_erlang_syntax() {
    let t =
        Term::from((atom("ok"), "hi", Term::improper_list(vec![int(1), int(2)], int(3)), Term::map([(atom("a"), 1)])));
    assert_eq!(t.to_string(), r#"{ok,<<"hi">>,[1,2|3],#{a => 1}}"#);
    let cases: Vec<(Term, &str)> = vec![
        (atom("Hello World"), "'Hello World'"),
        (atom("a@b_1"), "a@b_1"),
        (atom("end"), "'end'"),
        (atom("it's"), r"'it\'s'"),
        (atom(""), "''"),
        (Term::from(-(1i128 << 100)), "-1267650600228229401496703205376"),
        (Term::Float(1.0e20), "1.0e20"),
        (Term::Float(0.1), "0.1"),
        (Term::Float(-0.0), "-0.0"),
        (Term::Float(100.0), "100.0"),
        (Term::Float(1000.0), "1.0e3"),
        (Term::Float(3.0e-5), "3.0e-5"),
        (Term::Float(123456789.0), "123456789.0"),
        (Term::Float(9007199254740992.0), "9.007199254740992e15"),
        (Term::binary(vec![1, 2]), "<<1,2>>"),
        (Term::binary(b"a\n\"".to_vec()), r#"<<"a\n\"">>"#),
        (Term::from("é"), r#"<<"é"/utf8>>"#),
        (Term::bitstring(vec![1, 2, 0b0011_0000], 4), "<<1,2,3:4>>"),
        (Term::charlist("abc"), r#""abc""#),
        (Term::from(vec![7]), "[7]"),
        (Term::Nil, "[]"),
        (pid("a@b", 80, 1, 2), "<a@b.80.1>"),
        (export("lists", "map", 2), "fun lists:map/2"),
    ];
    for (t, s) in cases {
        assert_eq!(t.to_string(), s);
    }
}

/// Bytes OTP 25 made (`term_to_binary(T, [{minor_version, 2}])`), for when no `erl` is here.
#[test]
fn bytes_match_otp25_vectors() {
    let vectors: Vec<(Term, Vec<u8>)> = vec![
        (Term::from(vec![1, 2, 3]), vec![131, 107, 0, 3, 1, 2, 3]),
        (Term::from(vec![1, 256]), vec![131, 108, 0, 0, 0, 2, 97, 1, 98, 0, 0, 1, 0, 106]),
        (Term::from(1u128 << 64), vec![131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        (Term::from(-(1i128 << 100)), vec![131, 110, 13, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]),
        (Term::bitstring(vec![0b0010_0000], 3), vec![131, 77, 0, 0, 0, 1, 3, 32]),
        (int(-1), vec![131, 98, 255, 255, 255, 255]),
        (int(1 << 40), vec![131, 110, 6, 0, 0, 0, 0, 0, 0, 1]),
        (int(i64::MIN), vec![131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128]),
        (Term::Float(1.5), vec![131, 70, 63, 248, 0, 0, 0, 0, 0, 0]),
        (export("lists", "map", 2), vec![131, 113, 119, 5, 108, 105, 115, 116, 115, 119, 3, 109, 97, 112, 97, 2]),
    ];
    for (t, bytes) in vectors {
        assert_eq!(etf::encode(&t), bytes, "{t}");
        assert_eq!(etf::decode(&bytes).unwrap(), t);
    }
    // {ok, <0.80.0>, #Ref<0.1.2.3>, #Port<0.5>, 'é', 1.0} on a node not distributed.
    let otp = [
        131, 104, 6, 119, 2, 111, 107, 88, 119, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0,
        0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 90, 0, 3, 119, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115,
        116, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 89, 119, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111,
        104, 111, 115, 116, 0, 0, 0, 5, 0, 0, 0, 0, 119, 2, 195, 169, 70, 63, 240, 0, 0, 0, 0, 0, 0,
    ];
    let node = Atom::new("nonode@nohost");
    let expected = Term::tuple(vec![
        atom("ok"),
        pid("nonode@nohost", 80, 0, 0),
        Term::Reference(ExternalRef { node: node.clone(), creation: 0, ids: vec![3, 2, 1] }),
        Term::Port(ExternalPort { node, id: 5, creation: 0 }),
        atom("é"),
        Term::Float(1.0),
    ]);
    assert_eq!(etf::decode(&otp).unwrap(), expected);
    assert_eq!(etf::encode(&expected), otp);
}

#[test]
fn older_forms_are_read() {
    // OTP 25's default term_to_binary: Latin-1 atoms (ATOM_EXT).
    assert_eq!(etf::decode(&[131, 100, 0, 5, 104, 233, 108, 108, 111]).unwrap(), atom("héllo"));
    assert_eq!(etf::decode(&[131, 115, 2, 97, 98]).unwrap(), atom("ab"));
    // FLOAT_EXT: "%.20e", NUL padded to 31 bytes.
    let mut old = vec![131, 99];
    let text = format!("{:.20e}", 1.5f64).replace('e', "e+0");
    old.extend(text.as_bytes());
    old.resize(2 + 31, 0);
    assert_eq!(etf::decode(&old).unwrap(), Term::Float(1.5));
    // PID_EXT, NEW_REFERENCE_EXT, PORT_EXT: one-byte creations.
    let node = [119, 3, b'a', b'@', b'b'];
    let mut p = vec![131, 103];
    p.extend(node);
    p.extend([0, 0, 0, 9, 0, 0, 0, 1, 2]);
    assert_eq!(etf::decode(&p).unwrap(), pid("a@b", 9, 1, 2));
    let mut r = vec![131, 114, 0, 1];
    r.extend(node);
    r.extend([3, 0, 0, 0, 7]);
    assert_eq!(
        etf::decode(&r).unwrap(),
        Term::Reference(ExternalRef { node: Atom::new("a@b"), creation: 3, ids: vec![7] })
    );
    let mut port = vec![131, 102];
    port.extend(node);
    port.extend([0, 0, 0, 4, 3]);
    assert_eq!(etf::decode(&port).unwrap(), Term::Port(ExternalPort { node: Atom::new("a@b"), id: 4, creation: 3 }));
    // Normalised as Erlang does.
    assert_eq!(etf::decode(&[131, 110, 2, 0, 1, 0]).unwrap(), int(1));
    assert_eq!(etf::decode(&[131, 110, 1, 1, 0]).unwrap(), int(0));
    assert_eq!(etf::decode(&[131, 108, 0, 0, 0, 0, 100, 0, 1, 97]).unwrap(), atom("a"));
    assert_eq!(
        etf::decode(&[131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106]).unwrap(),
        Term::from(vec![1, 2])
    );
    assert_eq!(etf::decode(&[131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 1, 2]).unwrap(), Term::from(vec![1, 2]));
    assert_eq!(etf::decode(&[131, 107, 0, 0]).unwrap(), Term::Nil);
    assert_eq!(etf::decode(&[131, 77, 0, 0, 0, 1, 8, 255]).unwrap(), Term::binary(vec![255]));
    assert_eq!(etf::decode(&[131, 77, 0, 0, 0, 0, 0]).unwrap(), Term::binary(vec![]));
    assert_eq!(etf::decode(&[131, 77, 0, 0, 0, 1, 3, 255]).unwrap(), Term::bitstring(vec![0xe0], 3));
}

#[test]
fn what_erlang_refuses_is_refused() {
    let invalid = |bytes: &[u8]| matches!(etf::decode(bytes), Err(EtfError::Invalid { .. }));
    assert!(invalid(&[131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2]), "duplicate map key");
    let mut many = vec![131, 116, 0, 0, 0, 20];
    for i in 0..20u8 {
        many.extend([97, i.min(18), 106]);
    }
    assert!(invalid(&many), "duplicate key in a large map");
    // Keys equal as terms though encoded differently.
    let pairs: [(&[u8], &[u8]); 5] = [
        (&[107, 0, 2, 97, 98], &[108, 0, 0, 0, 2, 97, 97, 97, 98, 106]),
        (&[108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106], &[107, 0, 2, 1, 2]),
        (&[97, 1], &[98, 0, 0, 0, 1]),
        (&[100, 0, 1, b'a'], &[119, 1, b'a']),
        (&[116, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3, 97, 4], &[116, 0, 0, 0, 2, 97, 3, 97, 4, 97, 1, 97, 2]),
    ];
    for (a, b) in pairs {
        for n in [2u8, 12] {
            let mut m = vec![131, 116, 0, 0, 0, n];
            for i in 2..n {
                m.extend([104, 1, 97, i, 106]);
            }
            m.extend(a);
            m.push(106);
            m.extend(b);
            m.push(106);
            assert!(invalid(&m), "{a:?} and {b:?} as keys of {n}");
        }
    }
    assert!(invalid(&[131, 70, 127, 248, 0, 0, 0, 0, 0, 0]), "NaN");
    assert!(invalid(&[131, 70, 127, 240, 0, 0, 0, 0, 0, 0]), "infinity");
    assert!(invalid(&[131, 77, 0, 0, 0, 1, 0, 255]), "0 bits");
    assert!(invalid(&[131, 77, 0, 0, 0, 1, 9, 255]), "9 bits");
    assert!(invalid(&[131, 119, 2, 0xc3, 0x28]), "atom not UTF-8");
    let mut long = vec![131, 118, 1, 0];
    long.extend([b'a'; 256]);
    assert!(invalid(&long), "256-character atom");
    let mut r = vec![131, 90, 0, 6, 119, 3, b'a', b'@', b'b', 0, 0, 0, 1];
    r.extend([0; 24]);
    assert!(invalid(&r), "6-word reference");
    assert!(invalid(&[131, 90, 0, 0, 119, 3, b'a', b'@', b'b', 0, 0, 0, 1]), "0-word reference");
    assert!(invalid(&[131, 88, 97, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "pid whose node is not an atom");
    assert!(invalid(&[131, 110, 1, 2, 5]), "bignum sign 2");
    assert_eq!(etf::decode(&[131, 80, 0, 0, 0, 9, 120, 156]), Err(EtfError::Compressed));
    assert_eq!(EtfError::Compressed.to_string(), "ETF: compressed terms not supported");
    assert_eq!(etf::decode(&[131, 82, 0]), Err(EtfError::UnknownTag { tag: 82, offset: 1 }));
    assert_eq!(etf::decode(&[131, 97, 1, 0]), Err(EtfError::TrailingBytes { offset: 3 }));
    assert_eq!(etf::decode(&[]), Err(EtfError::Truncated { offset: 0 }));
    assert_eq!(etf::decode(&[97, 1]), Err(EtfError::BadVersion(97)));
}

#[test]
fn huge_lengths_fail_fast() {
    let start = Instant::now();
    for tag in [105u8, 108, 109, 116, 111, 77] {
        let bytes = [131, tag, 255, 255, 255, 255, 1, 106, 106, 106];
        assert!(matches!(etf::decode(&bytes), Err(EtfError::Truncated { .. })), "tag {tag}");
    }
    // NEW_FUN whose size is past the input.
    assert!(matches!(etf::decode(&[131, 112, 255, 255, 255, 255, 0]), Err(EtfError::Truncated { .. })));
    // Containers nested to MAX_DEPTH, each claiming more elements than follow.
    let mut nested = vec![131];
    for _ in 0..MAX_DEPTH {
        nested.extend([105, 0, 1, 0, 0]);
    }
    nested.resize(nested.len() + 60_000, 106);
    assert!(etf::decode(&nested).is_err());
    // Maps nested MAX_DEPTH deep in each other's keys, 1 MB of binary at the bottom: each key is
    // hashed once for the duplicate-key checks, not once per level.
    let mut keys = vec![131];
    for _ in 0..MAX_DEPTH - 1 {
        keys.extend([116, 0, 0, 0, 10]);
        for i in 0..9 {
            keys.extend([97, i, 106]);
        }
    }
    keys.extend([109, 0, 16, 0, 0]);
    keys.resize(keys.len() + (1 << 20), 7);
    keys.resize(keys.len() + MAX_DEPTH - 1, 106);
    let t0 = Instant::now();
    assert!(etf::decode(&keys).is_ok());
    eprintln!("1 MB key under {} maps: {:?}", MAX_DEPTH - 1, t0.elapsed());
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn nesting_is_bounded() {
    // `depth` containers, each holding the next (a tuple's element, a list's head, a map's
    // value), around a `[]`.
    let nest = |depth: usize, open: &[u8], close: &[u8]| {
        let mut b = vec![131];
        for _ in 0..depth {
            b.extend(open);
        }
        b.push(106);
        for _ in 0..depth {
            b.extend(close);
        }
        b
    };
    let kinds: [(&[u8], &[u8]); 3] = [(&[104, 1], &[]), (&[108, 0, 0, 0, 1], &[106]), (&[116, 0, 0, 0, 1, 106], &[])];
    for (open, close) in kinds {
        let ok = nest(MAX_DEPTH, open, close);
        // Everything on a term this deep works on a default thread's stack (2 MiB), unoptimised.
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let t = etf::decode(&ok).unwrap_or_else(|e| panic!("{open:?}: {e}"));
                assert_eq!(etf::encode(&t), ok);
                assert_eq!(t.clone(), t);
                assert!(!t.to_string().is_empty());
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(&t, &mut h);
                assert!(Vec::<Term>::try_from(t.clone()).is_ok() || matches!(t, Term::Tuple(_) | Term::Map(_)));
                drop(t);
            })
            .unwrap()
            .join()
            .unwrap();
        let deep = nest(MAX_DEPTH + 1, open, close);
        assert!(matches!(etf::decode(&deep), Err(EtfError::TooDeep { .. })));
        assert!(matches!(etf::decode(&nest(10_000, open, close)), Err(EtfError::TooDeep { .. })));
    }
    // An improper list's tail chain is a loop, not nesting: [1|[2|[3|...]]] as 100,000 LIST_EXTs.
    let mut chain = vec![131];
    for _ in 0..100_000 {
        chain.extend([108, 0, 0, 0, 1, 97, 1]);
    }
    chain.push(106);
    let t = etf::decode(&chain).unwrap();
    assert_eq!(t, Term::from(vec![1; 100_000]));
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Decoding never panics: not on a prefix of a valid encoding (always an error), nor on a
/// random mutation of one; what a mutation decodes to encodes and decodes back to itself.
#[test]
fn decode_survives_prefixes_and_mutations() {
    let start = Instant::now();
    let mut seeds: Vec<Vec<u8>> =
        samples().into_iter().filter(|t| etf::encode(t).len() < 2000).map(|t| etf::encode(&t)).collect();
    seeds.push(etf::encode(&Term::from((
        samples().into_iter().filter(|t| etf::encode(t).len() < 100).collect::<Vec<_>>(),
        Term::map([(atom("k"), Term::improper_list(vec![int(1)], Term::Float(2.0)))]),
    ))));
    let mut prefixes = 0;
    for seed in &seeds {
        for n in 0..seed.len() {
            assert!(etf::decode(&seed[..n]).is_err());
            prefixes += 1;
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    let cases = 50_000;
    for _ in 0..cases {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            match rng.below(6) {
                0 => b[i] = rng.next() as u8,
                1 => b[i] ^= 1 << rng.below(8),
                2 => b[i] = [0, 1, 0x7f, 0x80, 0xff, 104, 106, 108, 116][rng.below(9)],
                3 => b.insert(i, rng.next() as u8),
                4 if b.len() > 1 => {
                    b.remove(i);
                }
                _ => b.truncate(i.max(1)),
            }
        }
        b[0] = 131;
        if let Ok(t) = etf::decode(&b) {
            decoded += 1;
            assert_eq!(etf::decode(&etf::encode(&t)).as_ref(), Ok(&t));
            let _ = t.to_string();
        }
    }
    eprintln!("{prefixes} prefixes, {cases} mutations ({decoded} decoded) in {:?}", start.elapsed());
}

// ---- Against a live `erl` (OTP 25) ----

/// Runs `erl -noshell <args> -eval <expr> -s init stop`: `None` (saying SKIPPED) if there is no
/// `erl`, else its output, or what went wrong.
fn erl(args: &[&str], expr: &str) -> Option<Result<String, String>> {
    let child = Command::new("erl")
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .arg("-noshell")
        .args(args)
        .args(["-eval", expr, "-s", "init", "stop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: erl not found");
            return None;
        }
        Err(e) => panic!("starting erl: {e}"),
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    Some(if status.success() && !out.contains("init terminating") {
        Ok(out)
    } else {
        Err(format!("erl failed: {status}\n{out}\n{err}"))
    })
}

fn parse_bytes(line: &str) -> Vec<u8> {
    let inner = line.trim().trim_start_matches('[').trim_end_matches(']');
    if inner.is_empty() {
        return Vec::new();
    }
    inner.split(',').map(|b| b.parse().unwrap()).collect()
}

fn parse_codes(line: &str) -> String {
    let inner = line.trim().trim_start_matches('[').trim_end_matches(']');
    inner.split(',').filter(|c| !c.is_empty()).map(|c| char::from_u32(c.parse().unwrap()).unwrap()).collect()
}

fn erl_list(bytes: &[u8]) -> String {
    format!("{bytes:?}").replace(' ', "")
}

struct Case {
    /// The term in Erlang syntax.
    erl: &'static str,
    /// The same term built in Rust; `None`: only checked to round-trip Erlang's bytes exactly.
    term: Option<Term>,
    /// Whether our bytes are Erlang's (false for maps of several keys: Erlang sorts them).
    exact: bool,
    /// Whether `Display` prints what `~tp` prints.
    display: bool,
}

fn case(erl: &'static str, term: Term) -> Case {
    Case { erl, term: Some(term), exact: true, display: true }
}

#[test]
fn bytes_match_erlang() {
    let node = Atom::new("nonode@nohost");
    let mut cases = vec![
        case("ok", atom("ok")),
        case("'Hello World'", atom("Hello World")),
        case("'h\\x{e9}llo'", atom("héllo")),
        case("'\\x{3A9}mega'", atom("Ωmega")),
        case("''", atom("")),
        case("'end'", atom("end")),
        case("0", int(0)),
        case("255", int(255)),
        case("256", int(256)),
        case("-1", int(-1)),
        case("-2147483648", int(i32::MIN as i64)),
        case("2147483648", int(1 << 31)),
        case("9223372036854775807", int(i64::MAX)),
        case("-9223372036854775808", int(i64::MIN)),
        case("18446744073709551616", Term::from(1u128 << 64)),
        case("-(1 bsl 100)", Term::from(-(1i128 << 100))),
        case("1 bsl 2100", Term::big(false, [vec![0; 262], vec![16]].concat())),
        case("1.5", Term::Float(1.5)),
        case("-0.0", Term::Float(-0.0)),
        case("0.1", Term::Float(0.1)),
        case("1.0e20", Term::Float(1.0e20)),
        case("123456789.0", Term::Float(123456789.0)),
        case("3.0e-5", Term::Float(3.0e-5)),
        case("1.7976931348623157e308", Term::Float(f64::MAX)),
        case("5.0e-324", Term::Float(5.0e-324)),
        case("0.0012345", Term::Float(0.0012345)),
        case("12345678901234567.0", Term::Float(12345678901234567.0)),
        case("<<\"hi\">>", Term::from("hi")),
        case("<<>>", Term::binary(vec![])),
        case("<<0,255>>", Term::binary(vec![0, 255])),
        case("<<\"h\\x{e9}\"/utf8>>", Term::from("hé")),
        case("<<1:3>>", Term::bitstring(vec![0b0010_0000], 3)),
        case("<<1,2,3:4>>", Term::bitstring(vec![1, 2, 0b0011_0000], 4)),
        case("[]", Term::Nil),
        case("\"abc\"", Term::charlist("abc")),
        case("[1,256]", Term::from(vec![1, 256])),
        case("[1,2|3]", Term::improper_list(vec![int(1), int(2)], int(3))),
        case("[a|<<\"b\">>]", Term::improper_list(vec![atom("a")], Term::from("b"))),
        case("[937]", Term::charlist("Ω")),
        case("lists:seq(0, 300)", Term::from((0..=300).collect::<Vec<i32>>())),
        Case { erl: "lists:duplicate(70000, 1)", term: Some(Term::from(vec![1; 70_000])), exact: true, display: false },
        case("{}", Term::tuple(vec![])),
        case("{ok,{1,{2.5,[x]}},\"\"}", Term::from((atom("ok"), (1, (2.5, vec![atom("x")])), Term::Nil))),
        case("list_to_tuple(lists:seq(1, 300))", Term::tuple((1..=300).map(int).collect())),
        case("#{}", Term::map(Vec::<(Term, Term)>::new())),
        case("#{a => 1}", Term::map([(atom("a"), 1)])),
        Case {
            erl: "#{a => 1, <<\"b\">> => [x], 3 => #{}}",
            term: Some(Term::map([
                (Term::from("b"), Term::from(vec![atom("x")])),
                (atom("a"), int(1)),
                (int(3), Term::map(Vec::<(Term, Term)>::new())),
            ])),
            exact: false,
            display: false,
        },
        Case {
            erl: "maps:from_list([{I, I * I} || I <- lists:seq(1, 100)])",
            term: Some(Term::map((1..=100).map(|i| (i, i * i)))),
            exact: false,
            display: false,
        },
        Case {
            erl: "list_to_pid(\"<0.80.0>\")",
            term: Some(pid("nonode@nohost", 80, 0, 0)),
            exact: true,
            display: false,
        },
        Case {
            erl: "list_to_ref(\"#Ref<0.1.2.3>\")",
            term: Some(Term::Reference(ExternalRef { node: node.clone(), creation: 0, ids: vec![3, 2, 1] })),
            exact: true,
            display: false,
        },
        Case {
            erl: "list_to_port(\"#Port<0.5>\")",
            term: Some(Term::Port(ExternalPort { node, id: 5, creation: 0 })),
            exact: true,
            display: false,
        },
        case("fun lists:map/2", export("lists", "map", 2)),
        Case { erl: "make_ref()", term: None, exact: true, display: false },
        Case { erl: "self()", term: None, exact: true, display: false },
        Case { erl: "hd(erlang:ports())", term: None, exact: true, display: false },
        Case { erl: "fun(X) -> {X, self()} end", term: None, exact: true, display: false },
    ];
    cases.push(Case {
        erl: "{ok, [1.5, <<7:3>>, #{k => [a|b]}], 'Q', -(1 bsl 70)}",
        term: Some(Term::from((
            atom("ok"),
            vec![
                Term::Float(1.5),
                Term::bitstring(vec![0b1110_0000], 3),
                Term::map([(atom("k"), Term::improper_list(vec![atom("a")], atom("b")))]),
            ],
            atom("Q"),
            Term::from(-(1i128 << 70)),
        ))),
        exact: true,
        display: true,
    });

    // Erlang prints, per case: its bytes, then its `~tp` on one line (as a list of code points). The terms
    // are made once in Erlang and kept (funs and refs compare by identity).
    let list = cases.iter().map(|c| c.erl).collect::<Vec<_>>().join(",\n");
    let expr = format!(
        "io:setopts(standard_io, [{{encoding, unicode}}]),
         Ts = [{list}],
         [io:format(\"~w~n~w~n\", [binary_to_list(term_to_binary(T, [{{minor_version, 2}}])),
                                   unicode:characters_to_list(io_lib_pretty:print(T, [{{column, 1}},
                                       {{line_length, 1000000}}, {{encoding, unicode}}]))])
          || T <- Ts],
         io:format(\"~~~~~~~n\"),
         {{ok, Ours}} = io:read(''),
         [io:format(\"~w~n\", [binary_to_term(list_to_binary(B)) =:= T]) || {{B, T}} <- lists:zip(Ours, Ts)]"
    );
    // Two phases in one `erl`: it prints, we answer on its stdin with our encodings.
    let mut child = match Command::new("erl")
        .args(["-noshell", "-eval", &expr, "-s", "init", "stop"])
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return eprintln!("SKIPPED: erl not found"),
        Err(e) => panic!("starting erl: {e}"),
    };
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = || {
        let mut l = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut l).unwrap();
        assert!(!l.is_empty() && !l.contains("terminating"), "erl stopped: {l}");
        l.trim_end_matches('\n').to_string()
    };
    let mut ours = Vec::new();
    for c in &cases {
        let theirs = parse_bytes(&line());
        let printed: String = parse_codes(&line());
        let decoded = etf::decode(&theirs).unwrap_or_else(|e| panic!("{}: {e}", c.erl));
        let reencoded = etf::encode(&decoded);
        match &c.term {
            Some(t) => {
                assert_eq!(&decoded, t, "decoding Erlang's {}", c.erl);
                if c.exact {
                    assert_eq!(etf::encode(t), theirs, "encoding {}", c.erl);
                }
                if c.display {
                    let mine = t.to_string();
                    let short = |s: &str| s.chars().take(200).collect::<String>();
                    assert!(mine == printed, "printing {}: ours {} erl {}", c.erl, short(&mine), short(&printed));
                }
                ours.push(etf::encode(t));
            }
            None => {
                assert_eq!(reencoded, theirs, "re-encoding Erlang's {}", c.erl);
                ours.push(reencoded);
            }
        }
    }
    assert_eq!(line(), "~~~");
    let answer = format!("[{}].\n", ours.iter().map(|b| erl_list(b)).collect::<Vec<_>>().join(","));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), answer.as_bytes()).unwrap();
    for c in &cases {
        assert_eq!(line(), "true", "Erlang's binary_to_term of our encoding of {} is not =:= it", c.erl);
    }
    assert!(child.wait().unwrap().success());
}

/// Pids and references of a distributed node (real node name and creation), if `erl` can start
/// distribution here (it starts epmd itself).
#[test]
fn distributed_pids_and_refs_match_erlang() {
    let name = format!("etf_test_{}@localhost", std::process::id());
    let expr = "io:format(\"~s~n~w~n\", [node(), binary_to_list(term_to_binary({self(), make_ref(), node(), \
                hd(erlang:ports())}, [{minor_version, 2}]))])";
    let out = match erl(&["-sname", &name], expr) {
        None => return,
        Some(Ok(out)) => out,
        Some(Err(e)) => return eprintln!("SKIPPED: erl could not start distribution: {e}"),
    };
    let mut lines = out.lines();
    let node = lines.next().unwrap();
    assert_eq!(node, name);
    let bytes = parse_bytes(lines.next().unwrap());
    let t = etf::decode(&bytes).unwrap();
    let Term::Tuple(v) = &t else { panic!("{t}") };
    let (Term::Pid(p), Term::Reference(r), Term::Atom(n), Term::Port(port)) = (&v[0], &v[1], &v[2], &v[3]) else {
        panic!("{t}")
    };
    assert_eq!((p.node.as_str(), r.node.as_str(), n.as_str(), port.node.as_str()), (node, node, node, node));
    assert!(p.creation != 0 && p.creation == r.creation && p.creation == port.creation);
    assert!(r.ids.len() >= 3);
    assert_eq!(etf::encode(&t), bytes);
}
