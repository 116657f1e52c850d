//! Property tests of the wire format against an independent implementation, the
//! `redis-protocol` crate:
//! - our reply encoder (directly, and through the server) produces bytes that redis-protocol's
//!   RESP2 and RESP3 decoders read back as exactly what was stored, for arbitrary binary data
//!   including CR, LF and NUL;
//! - our request decoder understands what redis-protocol's encoder writes, however the bytes
//!   are split across reads.

mod common;
use bytes::{Bytes, BytesMut};
use common::{Raw, Server};
use edgekv::protocol::{encode, Protocol, Reply};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use redis_protocol::resp2::types::{BytesFrame as Req2, OwnedFrame as F2};
use redis_protocol::resp3::types::{OwnedFrame as F3, VerbatimStringFormat};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// A decoded reply, whichever protocol it came in.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Bulk(Vec<u8>),
    Simple(Vec<u8>),
    Err(String),
    Int(i64),
    Null,
    Arr(Vec<V>),
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    Double(f64),
    Bool(bool),
    Verbatim(Vec<u8>),
}

fn from2(f: F2) -> V {
    match f {
        F2::SimpleString(s) => V::Simple(s),
        F2::Error(e) => V::Err(e),
        F2::Integer(i) => V::Int(i),
        F2::BulkString(b) => V::Bulk(b),
        F2::Array(a) => V::Arr(a.into_iter().map(from2).collect()),
        F2::Null => V::Null,
    }
}

fn from3(f: F3) -> V {
    match f {
        F3::BlobString { data, .. } => V::Bulk(data),
        F3::SimpleString { data, .. } => V::Simple(data),
        F3::SimpleError { data, .. } => V::Err(data),
        F3::Number { data, .. } => V::Int(data),
        F3::Null => V::Null,
        F3::Array { data, .. } => V::Arr(data.into_iter().map(from3).collect()),
        F3::Map { data, .. } => V::Map(data.into_iter().map(|(k, v)| (from3(k), from3(v))).collect()),
        F3::Set { data, .. } => V::Set(data.into_iter().map(from3).collect()),
        F3::Double { data, .. } => V::Double(data),
        F3::Boolean { data, .. } => V::Bool(data),
        F3::VerbatimString { data, format, .. } => {
            assert_eq!(format, VerbatimStringFormat::Text, "verbatim format");
            V::Verbatim(data)
        }
        other => panic!("edgekv never sends {other:?}"),
    }
}

/// Decodes exactly one complete frame that must span all of `bytes`.
#[track_caller]
fn decode(bytes: &[u8], proto: u8) -> V {
    if proto == 2 {
        let (f, n) = redis_protocol::resp2::decode::decode(bytes)
            .unwrap_or_else(|e| panic!("RESP2 decode of {:?}: {e:?}", String::from_utf8_lossy(bytes)))
            .expect("a complete RESP2 frame");
        assert_eq!(n, bytes.len(), "one frame spans the whole reply");
        from2(f)
    } else {
        let (f, n) = redis_protocol::resp3::decode::complete::decode(bytes)
            .unwrap_or_else(|e| panic!("RESP3 decode of {:?}: {e:?}", String::from_utf8_lossy(bytes)))
            .expect("a complete RESP3 frame");
        assert_eq!(n, bytes.len(), "one frame spans the whole reply");
        from3(f)
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Arbitrary bytes, with CR, LF and NUL over-represented, sometimes past 32 KiB (the decoder's
/// big-argument path).
fn data() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => any::<u8>(),
        1 => Just(b'\r'),
        1 => Just(b'\n'),
        1 => Just(0u8),
        1 => Just(b'$'),
        1 => Just(b'*'),
    ];
    prop_oneof![
        20 => vec(byte.clone(), 0..64),
        4 => vec(byte, 64..600),
        1 => (32 * 1024..40 * 1024usize, any::<u8>()).prop_map(|(n, b)| {
            (0..n).map(|i| b.wrapping_add((i % 251) as u8)).collect()
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// 1. The encoder alone: random reply trees.

fn reply_tree() -> impl Strategy<Value = Reply> {
    let text = "[ -~\r\n]{0,40}";
    let leaf = prop_oneof![
        Just(Reply::Ok),
        Just(Reply::Queued),
        text.prop_map(|s| Reply::Status(s.into())),
        text.prop_map(|s| Reply::Error(format!("ERR {s}").into())),
        any::<i64>().prop_map(Reply::Int),
        data().prop_map(|b| Reply::Bulk(b.into())),
        Just(Reply::Nil),
        Just(Reply::NilArray),
        prop_oneof![
            any::<f64>().prop_filter("NaN has no exact text", |f| !f.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.1),
            Just(-0.0),
            (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 1000.0),
        ]
        .prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Bool),
        data().prop_map(|b| Reply::Verbatim(b.into())),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Reply::Array),
            // Map keys and set members distinct: the decoder keeps them in hash collections.
            vec(inner, 0..6).prop_map(|v| Reply::Map(
                v.into_iter()
                    .enumerate()
                    .map(|(i, r)| (Reply::Bulk(format!("key{i}").into()), r))
                    .collect()
            )),
            vec(data(), 0..6).prop_map(|v| Reply::Set(
                v.into_iter()
                    .enumerate()
                    .map(|(i, mut b)| {
                        b.splice(0..0, format!("{i}:").into_bytes());
                        Reply::Bulk(b.into())
                    })
                    .collect()
            )),
        ]
    })
}

fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// Asserts that `v`, decoded by redis-protocol, is what `r` means in `proto`.
fn check(r: &Reply, v: &V, proto: u8) {
    let resp3 = proto == 3;
    match (r, v) {
        (Reply::Ok, V::Simple(s)) => assert_eq!(s, b"OK"),
        (Reply::Queued, V::Simple(s)) => assert_eq!(s, b"QUEUED"),
        (Reply::Status(t), V::Simple(s)) => assert_eq!(*s, one_line(t.as_bytes())),
        (Reply::Error(t), V::Err(e)) => {
            let t = std::str::from_utf8(t).unwrap();
            let trimmed = t.trim_end_matches(['\r', '\n']);
            assert_eq!(e.as_bytes(), one_line(trimmed.as_bytes()));
        }
        (Reply::Int(i), V::Int(j)) => assert_eq!(i, j),
        (Reply::Bulk(b), V::Bulk(d)) => assert_eq!(&b[..], &d[..]),
        (Reply::Nil | Reply::NilArray, V::Null) => {}
        (Reply::Array(items), V::Arr(got)) => {
            assert_eq!(items.len(), got.len());
            for (r, v) in items.iter().zip(got) {
                check(r, v, proto);
            }
        }
        (Reply::Set(items), V::Arr(got)) if !resp3 => {
            assert_eq!(items.len(), got.len());
            for (r, v) in items.iter().zip(got) {
                check(r, v, proto);
            }
        }
        (Reply::Set(items), V::Set(got)) if resp3 => {
            assert_eq!(items.len(), got.len());
            for r in items {
                let Reply::Bulk(b) = r else { unreachable!() };
                assert!(got.contains(&V::Bulk(b.to_vec())), "set member {b:?} missing");
            }
        }
        (Reply::Map(pairs), V::Arr(flat)) if !resp3 => {
            assert_eq!(flat.len(), pairs.len() * 2);
            for ((k, val), kv) in pairs.iter().zip(flat.chunks(2)) {
                check(k, &kv[0], proto);
                check(val, &kv[1], proto);
            }
        }
        (Reply::Map(pairs), V::Map(got)) if resp3 => {
            assert_eq!(pairs.len(), got.len());
            for (k, val) in pairs {
                let Reply::Bulk(kb) = k else { unreachable!() };
                let (_, gv) = got
                    .iter()
                    .find(|(gk, _)| *gk == V::Bulk(kb.to_vec()))
                    .expect("map key present");
                check(val, gv, proto);
            }
        }
        (Reply::Double(d), V::Bulk(text)) if !resp3 => {
            let back: f64 = std::str::from_utf8(text).unwrap().parse().unwrap();
            assert!(
                back == *d && back.is_sign_negative() == d.is_sign_negative(),
                "{d} sent as {text:?}"
            );
        }
        (Reply::Double(d), V::Double(back)) if resp3 => {
            assert!(
                *back == *d && back.is_sign_negative() == d.is_sign_negative(),
                "{d} read back as {back}"
            );
        }
        (Reply::Bool(b), V::Int(i)) if !resp3 => assert_eq!(*i, *b as i64),
        (Reply::Bool(b), V::Bool(c)) if resp3 => assert_eq!(b, c),
        (Reply::Verbatim(t), V::Bulk(d)) if !resp3 => assert_eq!(&t[..], &d[..]),
        (Reply::Verbatim(t), V::Verbatim(d)) if resp3 => assert_eq!(&t[..], &d[..]),
        (r, v) => panic!("RESP{proto}: {r:?} decoded as {v:?}"),
    }
}

#[test]
fn encoder_agrees_with_an_independent_decoder() {
    runner(512)
        .run(&(reply_tree(), reply_tree()), |(a, b)| {
            for (proto, p) in [(2u8, Protocol::Resp2), (3, Protocol::Resp3)] {
                let mut out = BytesMut::new();
                encode(&mut out, &a, p);
                let first = out.len();
                encode(&mut out, &b, p);
                check(&a, &decode(&out[..first], proto), proto);
                check(&b, &decode(&out[first..], proto), proto);
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 2. Through the server: values stored with SET/MSET, read back through many commands.

/// Sends a command and decodes its one reply.
fn call(c: &mut Raw, proto: u8, args: &[&[u8]]) -> V {
    let bytes = c.cmd_bytes(args);
    decode(&bytes, proto)
}

fn bulk(v: V) -> Vec<u8> {
    match v {
        V::Bulk(b) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The pairs of a map reply: a map in RESP3, a flat array in RESP2.
fn pairs(v: V, proto: u8) -> BTreeMap<Vec<u8>, V> {
    match (v, proto) {
        (V::Arr(flat), 2) => {
            assert_eq!(flat.len() % 2, 0);
            flat.chunks(2).map(|kv| (bulk(kv[0].clone()), kv[1].clone())).collect()
        }
        (V::Map(m), 3) => m.into_iter().map(|(k, v)| (bulk(k), v)).collect(),
        (v, p) => panic!("RESP{p}: not a map reply: {v:?}"),
    }
}

/// Redis's GETRANGE arithmetic (t_string.c:getrangeCommand).
fn getrange(v: &[u8], start: i64, end: i64) -> Vec<u8> {
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return vec![];
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return vec![];
    }
    v[s as usize..=e as usize].to_vec()
}

#[derive(Debug, Clone)]
struct Case {
    proto: u8,
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    range: (i64, i64),
    scan_count: u8,
    float: (i64, i64),
    bulk_len_limit: u32,
    name: String,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(2u8), Just(3u8)],
        vec((vec(any::<u8>(), 0..12), data()), 1..8),
        (-50i64..50, -50i64..50),
        1u8..12,
        (-10_000_000i64..10_000_000, -10_000_000i64..10_000_000),
        (1u32..=1024),
        "[a-z0-9-]{1,12}",
    )
        .prop_map(|(proto, raw, range, scan_count, float, bulk_len_limit, name)| Case {
            proto,
            // Distinct keys: an index prefix before arbitrary bytes.
            pairs: raw
                .into_iter()
                .enumerate()
                .map(|(i, (mut k, v))| {
                    k.splice(0..0, format!("p{i}:").into_bytes());
                    (k, v)
                })
                .collect(),
            range,
            scan_count,
            float,
            bulk_len_limit,
            name,
        })
}

fn run_case(s: &Server, c: &Case) {
    let p = c.proto;
    let mut conn = s.raw();
    // HELLO: a map in RESP3, a flat array in RESP2, with the fields clients look for.
    let hello = call(
        &mut conn,
        p,
        &[b"HELLO", p.to_string().as_bytes(), b"SETNAME", c.name.as_bytes()],
    );
    let h = pairs(hello, p);
    assert_eq!(h[&b"server"[..]], V::Bulk(b"redis".to_vec()));
    assert_eq!(h[&b"version"[..]], V::Bulk(b"7.0.15".to_vec()));
    assert_eq!(h[&b"proto"[..]], V::Int(p as i64));
    assert!(matches!(h[&b"id"[..]], V::Int(id) if id > 0));
    assert_eq!(h[&b"mode"[..]], V::Bulk(b"standalone".to_vec()));
    assert_eq!(h[&b"role"[..]], V::Bulk(b"master".to_vec()));
    assert_eq!(h[&b"modules"[..]], V::Arr(vec![]));
    assert_eq!(h.len(), 7);
    assert_eq!(
        call(&mut conn, p, &[b"CLIENT", b"GETNAME"]),
        V::Bulk(c.name.clone().into_bytes())
    );

    assert_eq!(call(&mut conn, p, &[b"FLUSHDB"]), V::Simple(b"OK".to_vec()));
    let (k0, v0) = &c.pairs[0];
    assert_eq!(call(&mut conn, p, &[b"SET", k0, v0]), V::Simple(b"OK".to_vec()));
    if c.pairs.len() > 1 {
        let mut argv: Vec<&[u8]> = vec![b"MSET"];
        for (k, v) in &c.pairs[1..] {
            argv.push(k);
            argv.push(v);
        }
        assert_eq!(call(&mut conn, p, &argv), V::Simple(b"OK".to_vec()));
    }
    for (k, v) in &c.pairs {
        assert_eq!(call(&mut conn, p, &[b"GET", k]), V::Bulk(v.clone()));
        assert_eq!(call(&mut conn, p, &[b"STRLEN", k]), V::Int(v.len() as i64));
        assert_eq!(call(&mut conn, p, &[b"TYPE", k]), V::Simple(b"string".to_vec()));
        assert_eq!(call(&mut conn, p, &[b"ECHO", v]), V::Bulk(v.clone()));
        let (a, b) = (c.range.0.to_string(), c.range.1.to_string());
        assert_eq!(
            call(&mut conn, p, &[b"GETRANGE", k, a.as_bytes(), b.as_bytes()]),
            V::Bulk(getrange(v, c.range.0, c.range.1)),
            "GETRANGE {a} {b} of {} bytes",
            v.len()
        );
    }
    // MGET: every value in order, a null for the missing key.
    let mut argv: Vec<&[u8]> = vec![b"MGET"];
    argv.extend(c.pairs.iter().map(|(k, _)| k.as_slice()));
    argv.push(b"no\r\nsuch\x00key");
    let mut expect: Vec<V> = c.pairs.iter().map(|(_, v)| V::Bulk(v.clone())).collect();
    expect.push(V::Null);
    assert_eq!(call(&mut conn, p, &argv), V::Arr(expect));
    assert_eq!(call(&mut conn, p, &[b"GET", b"missing"]), V::Null);
    // Keys come back intact through SCAN (decimal cursor in a bulk) and KEYS.
    let stored: BTreeSet<Vec<u8>> = c.pairs.iter().map(|(k, _)| k.clone()).collect();
    let mut seen = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    let count = c.scan_count.to_string();
    for round in 0.. {
        assert!(round < 1000, "SCAN does not terminate");
        let V::Arr(r) = call(&mut conn, p, &[b"SCAN", &cursor, b"COUNT", count.as_bytes()]) else {
            panic!("SCAN reply is not an array")
        };
        assert_eq!(r.len(), 2);
        cursor = bulk(r[0].clone());
        assert!(std::str::from_utf8(&cursor).unwrap().parse::<u64>().is_ok());
        let V::Arr(keys) = r[1].clone() else {
            panic!("SCAN keys are not an array")
        };
        seen.extend(keys.into_iter().map(bulk));
        if cursor == b"0" {
            break;
        }
    }
    assert_eq!(seen, stored);
    let V::Arr(keys) = call(&mut conn, p, &[b"KEYS", b"*"]) else {
        panic!("KEYS")
    };
    assert_eq!(keys.into_iter().map(bulk).collect::<BTreeSet<_>>(), stored);
    // APPEND then GET: the concatenation, CR/LF and all.
    let (k, v) = c.pairs.last().unwrap();
    let mut joined = v.clone();
    joined.extend_from_slice(v0);
    assert_eq!(call(&mut conn, p, &[b"APPEND", k, v0]), V::Int(joined.len() as i64));
    assert_eq!(call(&mut conn, p, &[b"GET", k]), V::Bulk(joined));
    // INCRBYFLOAT: a bulk in both protocols, equal to what GET then returns.
    let a = (c.float.0 as f64 / 1000.0).to_string();
    let b = (c.float.1 as f64 / 100.0).to_string();
    assert_eq!(
        call(&mut conn, p, &[b"SET", b"float", a.as_bytes()]),
        V::Simple(b"OK".to_vec())
    );
    let sum = bulk(call(&mut conn, p, &[b"INCRBYFLOAT", b"float", b.as_bytes()]));
    let got: f64 = std::str::from_utf8(&sum).unwrap().parse().unwrap();
    let want = a.parse::<f64>().unwrap() + b.parse::<f64>().unwrap();
    assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "{a} + {b} = {got}");
    assert_eq!(call(&mut conn, p, &[b"GET", b"float"]), V::Bulk(sum));
    // CONFIG GET: a map in RESP3, a flat array in RESP2, with the value just set.
    let limit = (c.bulk_len_limit as u64 * 1024 * 1024).to_string();
    assert_eq!(
        call(
            &mut conn,
            p,
            &[b"CONFIG", b"SET", b"proto-max-bulk-len", limit.as_bytes()]
        ),
        V::Simple(b"OK".to_vec())
    );
    let cfg = pairs(
        call(&mut conn, p, &[b"CONFIG", b"GET", b"proto-max-bulk-len", b"maxmemory*"]),
        p,
    );
    assert_eq!(cfg[&b"proto-max-bulk-len"[..]], V::Bulk(limit.into_bytes()));
    assert!(cfg.contains_key(&b"maxmemory"[..]));
    let all = pairs(call(&mut conn, p, &[b"CONFIG", b"GET", b"*"]), p);
    assert!(all.len() > 10);
    assert!(all.values().all(|v| matches!(v, V::Bulk(_))));
    // INFO and CLIENT INFO: verbatim text in RESP3, a bulk in RESP2.
    let keyspace = match (call(&mut conn, p, &[b"INFO", b"keyspace"]), p) {
        (V::Bulk(t), 2) | (V::Verbatim(t), 3) => String::from_utf8(t).unwrap(),
        (v, _) => panic!("RESP{p} INFO reply {v:?}"),
    };
    let n = c.pairs.len() + 1;
    assert!(
        keyspace.starts_with(&format!("# Keyspace\r\ndb0:keys={n},expires=0,")),
        "{keyspace:?}"
    );
    match (call(&mut conn, p, &[b"CLIENT", b"INFO"]), p) {
        (V::Bulk(t), 2) | (V::Verbatim(t), 3) => {
            let t = String::from_utf8(t).unwrap();
            assert!(
                t.contains(&format!(" name={} ", c.name)) && t.contains(&format!(" resp={p}")),
                "{t}"
            );
        }
        (v, _) => panic!("RESP{p} CLIENT INFO reply {v:?}"),
    }
    // Errors carrying user bytes stay one line. (Redis echoes the bytes unchanged, valid UTF-8
    // or not, and cuts them at 128 bytes, maybe inside a character; redis-protocol decodes
    // only UTF-8 error lines, so here the arguments are made ASCII first. tests/protocol.rs
    // checks the raw bytes.)
    let ascii = |b: &[u8]| -> Vec<u8> { b.iter().map(|&c| if c.is_ascii() { c } else { b'?' }).collect() };
    let (a0, a1) = (ascii(v0), ascii(k0));
    match call(&mut conn, p, &[b"NOPE", &a0, &a1]) {
        V::Err(e) => {
            assert!(
                e.starts_with("ERR unknown command 'NOPE', with args beginning with: '"),
                "{e}"
            );
            assert!(!e.contains(['\r', '\n']));
        }
        v => panic!("unknown command answered {v:?}"),
    }
    // DEL counts what existed.
    let mut argv: Vec<&[u8]> = vec![b"DEL"];
    argv.extend(c.pairs.iter().map(|(k, _)| k.as_slice()));
    argv.push(b"missing");
    assert_eq!(call(&mut conn, p, &argv), V::Int(c.pairs.len() as i64));
    conn.expect_silence(1);
}

#[test]
fn stored_values_read_back_through_many_commands() {
    let s = Server::start();
    runner(64)
        .run(&case(), |c| {
            run_case(&s, &c);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. The request decoder against redis-protocol's encoder, split at random points.

#[derive(Debug, Clone)]
enum Cmd {
    Set(usize, Vec<u8>),
    Get(usize),
    Echo(Vec<u8>),
    MSet(Vec<(usize, Vec<u8>)>),
    MGet(Vec<usize>),
    Del(Vec<usize>),
    Append(usize, Vec<u8>),
    Strlen(usize),
}

/// A small pool of binary keys, so commands meet each other's data.
fn key(i: usize) -> Vec<u8> {
    let mut k = format!("rq{i}").into_bytes();
    k.extend_from_slice(b"\r\n\x00*$");
    k
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let k = 0..6usize;
    prop_oneof![
        (k.clone(), data()).prop_map(|(k, v)| Cmd::Set(k, v)),
        k.clone().prop_map(Cmd::Get),
        data().prop_map(Cmd::Echo),
        vec((k.clone(), data()), 1..4).prop_map(Cmd::MSet),
        vec(k.clone(), 1..5).prop_map(Cmd::MGet),
        vec(k.clone(), 1..3).prop_map(Cmd::Del),
        (k.clone(), data()).prop_map(|(k, v)| Cmd::Append(k, v)),
        k.prop_map(Cmd::Strlen),
    ]
}

impl Cmd {
    fn argv(&self) -> Vec<Vec<u8>> {
        let mut a: Vec<Vec<u8>> = Vec::new();
        match self {
            Cmd::Set(k, v) => a.extend([b"SET".to_vec(), key(*k), v.clone()]),
            Cmd::Get(k) => a.extend([b"GET".to_vec(), key(*k)]),
            Cmd::Echo(v) => a.extend([b"ECHO".to_vec(), v.clone()]),
            Cmd::MSet(kv) => {
                a.push(b"MSET".to_vec());
                for (k, v) in kv {
                    a.push(key(*k));
                    a.push(v.clone());
                }
            }
            Cmd::MGet(ks) => {
                a.push(b"MGET".to_vec());
                a.extend(ks.iter().map(|k| key(*k)));
            }
            Cmd::Del(ks) => {
                a.push(b"DEL".to_vec());
                a.extend(ks.iter().map(|k| key(*k)));
            }
            Cmd::Append(k, v) => a.extend([b"APPEND".to_vec(), key(*k), v.clone()]),
            Cmd::Strlen(k) => a.extend([b"STRLEN".to_vec(), key(*k)]),
        }
        a
    }

    /// Applies the command to the model and returns the expected reply.
    fn apply(&self, m: &mut HashMap<usize, Vec<u8>>) -> V {
        match self {
            Cmd::Set(k, v) => {
                m.insert(*k, v.clone());
                V::Simple(b"OK".to_vec())
            }
            Cmd::Get(k) => m.get(k).map_or(V::Null, |v| V::Bulk(v.clone())),
            Cmd::Echo(v) => V::Bulk(v.clone()),
            Cmd::MSet(kv) => {
                for (k, v) in kv {
                    m.insert(*k, v.clone());
                }
                V::Simple(b"OK".to_vec())
            }
            Cmd::MGet(ks) => V::Arr(
                ks.iter()
                    .map(|k| m.get(k).map_or(V::Null, |v| V::Bulk(v.clone())))
                    .collect(),
            ),
            Cmd::Del(ks) => {
                let mut n = 0;
                for k in ks {
                    // DEL k k counts k once.
                    n += m.remove(k).is_some() as i64;
                }
                V::Int(n)
            }
            Cmd::Append(k, v) => {
                let e = m.entry(*k).or_default();
                e.extend_from_slice(v);
                V::Int(e.len() as i64)
            }
            Cmd::Strlen(k) => V::Int(m.get(k).map_or(0, |v| v.len() as i64)),
        }
    }
}

/// Encodes a request with redis-protocol: an array of bulk strings.
fn encode_request(argv: &[Vec<u8>]) -> Vec<u8> {
    let frame = Req2::Array(
        argv.iter()
            .map(|a| Req2::BulkString(Bytes::copy_from_slice(a)))
            .collect(),
    );
    let mut out = BytesMut::new();
    redis_protocol::resp2::encode::extend_encode(&mut out, &frame, false).expect("encode");
    out.to_vec()
}

#[test]
fn request_decoder_agrees_with_an_independent_encoder() {
    let s = Server::start();
    let strategy = (
        vec(cmd(), 1..20),
        vec(any::<prop::sample::Index>(), 0..12),
        prop_oneof![Just(2u8), Just(3u8)],
    );
    runner(96)
        .run(&strategy, |(cmds, cuts, proto)| {
            let mut conn = s.raw();
            if proto == 3 {
                conn.send(b"HELLO 3\r\n");
                conn.read_reply();
            }
            let mut model = HashMap::new();
            let mut stream = Vec::new();
            let mut expect = Vec::new();
            let mut argv = vec![b"DEL".to_vec()];
            argv.extend((0..6).map(key));
            stream.extend(encode_request(&argv));
            expect.push(None);
            for c in &cmds {
                stream.extend(encode_request(&c.argv()));
                expect.push(Some(c.apply(&mut model)));
            }
            // Split the stream at random points; pause briefly so the server reads each piece on
            // its own.
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len())).collect();
            points.sort_unstable();
            points.dedup();
            let mut from = 0;
            for &at in &points {
                conn.send(&stream[from..at]);
                std::thread::sleep(Duration::from_micros(300));
                from = at;
            }
            conn.send(&stream[from..]);
            for (i, e) in expect.iter().enumerate() {
                let bytes = conn.read_reply();
                let got = decode(&bytes, proto);
                if let Some(e) = e {
                    assert_eq!(&got, e, "reply {i} to {:?}", cmds[i - 1]);
                }
            }
            conn.expect_silence(1);
            Ok(())
        })
        .unwrap();
}
