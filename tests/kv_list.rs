//! KV.LIST on the real binary (kv-spec.md, "List"): keys in byte order, paging with an opaque
//! cursor until `list_complete`, `expiration` and `metadata` only when set, `cursor` only when
//! the listing is not complete, and expired keys never listed.
//!
//! 1. A property test against a `BTreeMap` model: binary keys (NUL, 0xff, shared prefixes, keys
//!    equal to a prefix), puts with and without metadata and expirations, deletes, random
//!    prefixes and page limits.
//! 2. 100,000 keys in a namespace, paged with limit 1000 (whole and under prefixes) while
//!    another connection inserts, deletes and rewrites keys: a key present for the whole
//!    listing comes exactly once, no key twice, in strictly increasing byte order.
//! 3. Keys with one-second TTLs (KV.PUT with `--kv-min-ttl 1`) and short plain-Redis deadlines
//!    (PEXPIRE, PEXPIREAT, SET PX/PXAT): every page is checked against the time it was served,
//!    across the deadlines; right after a deadline shared by 60,000 keys, pages served inside
//!    MULTI/EXEC between two DBSIZE calls show that expired records still in memory (not yet
//!    reclaimed) are not listed; and again once the reclaimer is done.
//! 4. The exact reply bytes of a small listing in RESP2 and RESP3.

mod common;
use common::{now_ms, Raw, Server};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use redis::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Replies as values.

/// One listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    name: Vec<u8>,
    expiration: Option<i64>,
    metadata: Option<Vec<u8>>,
}

/// One KV.LIST reply.
#[derive(Debug)]
struct Page {
    keys: Vec<Listed>,
    complete: bool,
    cursor: Option<Vec<u8>>,
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bulk_of(v: Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// A map reply as its pairs: a RESP3 map, or a RESP2 flat array of alternating keys and values.
fn pairs(v: Value) -> Vec<(Vec<u8>, Value)> {
    match v {
        Value::Map(p) => p.into_iter().map(|(k, v)| (bulk_of(k), v)).collect(),
        Value::Array(a) => {
            assert!(a.len() % 2 == 0, "a map as a flat array has an even length: {a:?}");
            let mut out = Vec::new();
            let mut it = a.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((bulk_of(k), v));
            }
            out
        }
        other => panic!("expected a map, got {other:?}"),
    }
}

fn parse_key(v: Value) -> Listed {
    let mut name = None;
    let mut expiration = None;
    let mut metadata = None;
    for (k, v) in pairs(v) {
        match k.as_slice() {
            b"name" => {
                assert!(name.is_none(), "name twice");
                name = Some(bulk_of(v));
            }
            b"expiration" => {
                assert!(expiration.is_none(), "expiration twice");
                match v {
                    Value::Int(i) => expiration = Some(i),
                    other => panic!("expiration is an integer, got {other:?}"),
                }
            }
            b"metadata" => {
                assert!(metadata.is_none(), "metadata twice");
                metadata = Some(bulk_of(v));
            }
            other => panic!("unexpected key field {:?}", show(other)),
        }
    }
    Listed {
        name: name.expect("every listed key has a name"),
        expiration,
        metadata,
    }
}

/// Parses a KV.LIST reply and checks its shape: `keys` and `list_complete` always, `cursor`
/// exactly when `list_complete` is false, nothing else.
fn parse_page(v: Value) -> Page {
    let mut keys = None;
    let mut complete = None;
    let mut cursor = None;
    for (k, v) in pairs(v) {
        match k.as_slice() {
            b"keys" => {
                assert!(keys.is_none(), "keys twice");
                match v {
                    Value::Array(a) => keys = Some(a.into_iter().map(parse_key).collect::<Vec<_>>()),
                    other => panic!("keys is an array, got {other:?}"),
                }
            }
            b"list_complete" => {
                assert!(complete.is_none(), "list_complete twice");
                complete = Some(match v {
                    Value::Int(1) | Value::Boolean(true) => true,
                    Value::Int(0) | Value::Boolean(false) => false,
                    other => panic!("list_complete is a boolean (1/0 in RESP2), got {other:?}"),
                });
            }
            b"cursor" => {
                assert!(cursor.is_none(), "cursor twice");
                cursor = Some(bulk_of(v));
            }
            other => panic!("unexpected reply field {:?}", show(other)),
        }
    }
    let complete = complete.expect("list_complete is always present");
    assert_eq!(cursor.is_some(), !complete, "cursor present iff list_complete is false");
    if let Some(c) = &cursor {
        assert!(!c.is_empty(), "an empty cursor would restart the listing");
    }
    Page {
        keys: keys.expect("keys is always present"),
        complete,
        cursor,
    }
}

/// One KV.LIST call.
fn list_page(c: &mut redis::Connection, prefix: Option<&[u8]>, limit: usize, cursor: Option<&[u8]>) -> Page {
    let mut cmd = redis::cmd("KV.LIST");
    if let Some(p) = prefix {
        cmd.arg("PREFIX").arg(p);
    }
    cmd.arg("LIMIT").arg(limit);
    if let Some(cur) = cursor {
        cmd.arg("CURSOR").arg(cur);
    }
    let v: Value = cmd
        .query(c)
        .unwrap_or_else(|e| panic!("KV.LIST prefix {:?} limit {limit}: {e}", prefix.map(show)));
    let page = parse_page(v);
    assert!(
        page.keys.len() <= limit,
        "{} keys on a page of limit {limit}",
        page.keys.len()
    );
    for k in &page.keys {
        assert!(
            k.name.starts_with(prefix.unwrap_or_default()),
            "key {:?} listed under prefix {:?}",
            show(&k.name),
            prefix.map(show)
        );
    }
    page
}

/// Appends a page to the keys listed so far, checking byte order within and across pages (so
/// no key comes twice and a listing that stops advancing fails at once).
fn extend_in_order(out: &mut Vec<Listed>, keys: Vec<Listed>) {
    for k in keys {
        if let Some(prev) = out.last() {
            assert!(
                prev.name < k.name,
                "keys out of byte order or repeated: {:?} then {:?}",
                show(&prev.name),
                show(&k.name)
            );
        }
        out.push(k);
    }
}

/// Pages until `list_complete`; returns every listed key in the order returned.
fn list_all(c: &mut redis::Connection, prefix: Option<&[u8]>, limit: usize) -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    for _ in 0..1_000_000 {
        let page = list_page(c, prefix, limit, cursor.as_deref());
        extend_in_order(&mut out, page.keys);
        if page.complete {
            return out;
        }
        cursor = page.cursor;
    }
    panic!("the listing does not end");
}

fn assert_strictly_increasing(keys: &[Listed]) {
    for w in keys.windows(2) {
        assert!(
            w[0].name < w[1].name,
            "keys out of byte order or repeated: {:?} then {:?}",
            show(&w[0].name),
            show(&w[1].name)
        );
    }
}

/// A pipeline's replies, each checked to be `+OK`.
fn all_ok(replies: Vec<Value>) {
    for (i, r) in replies.iter().enumerate() {
        assert!(matches!(r, Value::Okay), "reply {i} of the pipeline: {r:?}");
    }
}

/// The model's keys under `prefix`, in byte order.
fn model_range<'a, V>(m: &'a BTreeMap<Vec<u8>, V>, prefix: &'a [u8]) -> impl Iterator<Item = (&'a Vec<u8>, &'a V)> {
    m.range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

/// A tiny deterministic generator (SplitMix64) for the non-proptest tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Property test against a BTreeMap model.

/// How a put expires, as the test sent it.
#[derive(Debug, Clone)]
enum Exp {
    Never,
    /// `EXPIRATION now + offset` (seconds).
    At(i64),
    /// `EXPIRATIONTTL seconds`.
    Ttl(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: Index,
        value: Vec<u8>,
        meta: Option<String>,
        exp: Exp,
    },
    Delete(Index),
}

#[derive(Debug, Clone)]
enum PrefixChoice {
    /// No PREFIX argument.
    None,
    /// PREFIX with an empty argument.
    Empty,
    /// The first bytes of a key of the pool (possibly the whole key).
    OfKey(Index, Index),
    /// Arbitrary bytes.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Case {
    pool: Vec<Vec<u8>>,
    ops: Vec<Op>,
    lists: Vec<(PrefixChoice, usize)>,
}

/// What the model knows about a key's expiration.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelExp {
    Never,
    At(i64),
    /// Unix seconds, somewhere in lo..=hi (a TTL counted from the server's clock).
    Between(i64, i64),
}

#[derive(Debug, Clone)]
struct ModelRec {
    meta: Option<String>,
    exp: ModelExp,
}

const ALPHABET: &[u8] = &[0x00, 0x01, b'.', b'/', b'a', b'b', b'z', 0x7f, 0x80, 0xc3, 0xfe, 0xff];

fn legal(k: &[u8]) -> bool {
    !k.is_empty() && k != b"." && k != b".." && k.len() <= 512
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        10 => vec(prop::sample::select(ALPHABET), 1..6),
        2 => vec(any::<u8>(), 1..16),
        1 => (prop::sample::select(ALPHABET), 500usize..=512).prop_map(|(b, n)| vec![b; n]),
    ]
}

/// A pool of distinct legal keys: random ones, plus keys derived from them so that shared
/// prefixes, keys equal to a prefix of other keys and 0x00 / 0xff neighbours are common.
fn key_pool() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        vec(key_bytes(), 1..40),
        vec((any::<Index>(), 0u8..5, any::<Index>(), any::<Index>()), 0..50),
    )
        .prop_map(|(base, derive)| {
            let mut pool: BTreeSet<Vec<u8>> = base.iter().filter(|k| legal(k)).cloned().collect();
            for (a, kind, cut, b) in derive {
                let k = &base[a.index(base.len())];
                let mut d = match kind {
                    0 => k[..1 + cut.index(k.len())].to_vec(),
                    1 => [&k[..], &[0x00]].concat(),
                    2 => [&k[..], &[0xff]].concat(),
                    3 => [&k[..], &base[b.index(base.len())][..]].concat(),
                    _ => [&k[..1 + cut.index(k.len())], &[0xff, 0xff][..]].concat(),
                };
                d.truncate(512);
                if legal(&d) {
                    pool.insert(d);
                }
            }
            if pool.is_empty() {
                pool.insert(b"a".to_vec());
            }
            pool.into_iter().collect()
        })
}

fn metadata() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        2 => any::<i32>().prop_map(|n| Some(format!("{{\"n\":{n}}}"))),
        1 => Just(Some(r#""s\u0000é""#.to_string())),
        1 => Just(Some(r#"[1,"x",null,true]"#.to_string())),
        1 => Just(Some("0".to_string())),
        1 => Just(Some(r#"{"a":{"b":[]},"c":"\ud83d\ude00"}"#.to_string())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let exp = prop_oneof![
        3 => Just(Exp::Never),
        1 => (3600i64..100_000_000).prop_map(Exp::At),
        1 => (60i64..10_000_000).prop_map(Exp::Ttl),
    ];
    prop_oneof![
        6 => (any::<Index>(), vec(any::<u8>(), 0..8), metadata(), exp)
            .prop_map(|(key, value, meta, exp)| Op::Put { key, value, meta, exp }),
        1 => any::<Index>().prop_map(Op::Delete),
    ]
}

fn listing() -> impl Strategy<Value = (PrefixChoice, usize)> {
    let prefix = prop_oneof![
        1 => Just(PrefixChoice::None),
        1 => Just(PrefixChoice::Empty),
        5 => (any::<Index>(), any::<Index>()).prop_map(|(k, n)| PrefixChoice::OfKey(k, n)),
        2 => vec(prop::sample::select(ALPHABET), 1..3).prop_map(PrefixChoice::Bytes),
    ];
    let limit = prop_oneof![1usize..=3, 1usize..=40, 1usize..=1000, Just(1000usize)];
    (prefix, limit)
}

fn case() -> impl Strategy<Value = Case> {
    (key_pool(), vec(op(), 1..300), vec(listing(), 1..5)).prop_map(|(pool, ops, lists)| Case { pool, ops, lists })
}

fn run_model_case(c: &mut redis::Connection, case: &Case) -> Result<(), TestCaseError> {
    let () = redis::cmd("FLUSHDB").query(c).unwrap();
    let mut model: BTreeMap<Vec<u8>, ModelRec> = BTreeMap::new();
    // The pipeline, and what each reply must be.
    let mut pipe = redis::pipe();
    let mut want_deleted: Vec<Option<i64>> = Vec::new();
    let before_s = now_ms().div_euclid(1000);
    let mut live: HashSet<Vec<u8>> = HashSet::new();
    let mut pending: Vec<(Vec<u8>, Option<ModelRec>)> = Vec::new();
    for op in &case.ops {
        match op {
            Op::Put { key, value, meta, exp } => {
                let k = &case.pool[key.index(case.pool.len())];
                let cmd = pipe.cmd("KV.PUT").arg(k).arg(value);
                let mexp = match exp {
                    Exp::Never => ModelExp::Never,
                    Exp::At(off) => {
                        cmd.arg("EXPIRATION").arg(before_s + off);
                        ModelExp::At(before_s + off)
                    }
                    Exp::Ttl(t) => {
                        cmd.arg("EXPIRATIONTTL").arg(*t);
                        ModelExp::Between(0, *t) // filled in once the send time is known
                    }
                };
                if let Some(m) = meta {
                    cmd.arg("METADATA").arg(m.as_str());
                }
                want_deleted.push(None);
                live.insert(k.clone());
                pending.push((
                    k.clone(),
                    Some(ModelRec {
                        meta: meta.clone(),
                        exp: mexp,
                    }),
                ));
            }
            Op::Delete(key) => {
                let k = &case.pool[key.index(case.pool.len())];
                pipe.cmd("KV.DELETE").arg(k);
                want_deleted.push(Some(live.remove(k) as i64));
                pending.push((k.clone(), None));
            }
        }
    }
    let sent_s = now_ms().div_euclid(1000);
    let replies: Vec<Value> = pipe.query(c).unwrap();
    let done_s = now_ms().div_euclid(1000);
    prop_assert_eq!(replies.len(), want_deleted.len());
    for (i, (r, want)) in replies.iter().zip(&want_deleted).enumerate() {
        match want {
            None => prop_assert!(matches!(r, Value::Okay), "op {}: KV.PUT replied {:?}", i, r),
            Some(n) => prop_assert_eq!(r, &Value::Int(*n), "op {}: KV.DELETE's count", i),
        }
    }
    for (k, rec) in pending {
        match rec {
            Some(mut rec) => {
                if let ModelExp::Between(_, t) = rec.exp {
                    rec.exp = ModelExp::Between(sent_s + t, done_s + t);
                }
                model.insert(k, rec);
            }
            None => {
                model.remove(&k);
            }
        }
    }

    for (choice, limit) in &case.lists {
        let prefix: Option<Vec<u8>> = match choice {
            PrefixChoice::None => None,
            PrefixChoice::Empty => Some(Vec::new()),
            PrefixChoice::OfKey(k, n) => {
                let k = &case.pool[k.index(case.pool.len())];
                Some(k[..1 + n.index(k.len())].to_vec())
            }
            PrefixChoice::Bytes(b) => Some(b.clone()),
        };
        let p = prefix.clone().unwrap_or_default();
        let got = list_all(c, prefix.as_deref(), *limit);
        let got_names: Vec<&[u8]> = got.iter().map(|k| &k.name[..]).collect();
        let want: Vec<(&Vec<u8>, &ModelRec)> = model_range(&model, &p).collect();
        let want_names: Vec<&[u8]> = want.iter().map(|(k, _)| &k[..]).collect();
        prop_assert_eq!(
            &got_names,
            &want_names,
            "prefix {:?} limit {}: names differ from the model",
            prefix.as_deref().map(show),
            limit
        );
        for (g, (_, m)) in got.iter().zip(&want) {
            let got_meta: Option<serde_json::Value> = g.metadata.as_ref().map(|b| {
                serde_json::from_slice(b).unwrap_or_else(|e| panic!("metadata {:?} is not JSON: {e}", show(b)))
            });
            let want_meta: Option<serde_json::Value> = m.meta.as_ref().map(|s| serde_json::from_str(s).unwrap());
            prop_assert_eq!(got_meta, want_meta, "metadata of {:?}", show(&g.name));
            match m.exp {
                ModelExp::Never => prop_assert_eq!(g.expiration, None, "expiration of {:?}", show(&g.name)),
                ModelExp::At(a) => prop_assert_eq!(g.expiration, Some(a), "expiration of {:?}", show(&g.name)),
                ModelExp::Between(lo, hi) => prop_assert!(
                    g.expiration.is_some_and(|e| lo <= e && e <= hi),
                    "expiration of {:?}: {:?}, want {}..={}",
                    show(&g.name),
                    g.expiration,
                    lo,
                    hi
                ),
            }
        }
    }
    Ok(())
}

#[test]
fn listing_matches_a_btreemap_model() {
    let s = Server::start();
    let conn = std::cell::RefCell::new(s.client());
    let mut runner = TestRunner::new(Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |case| run_model_case(&mut conn.borrow_mut(), &case))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 2. 100,000 keys, paged while another connection writes.

const N: usize = 100_000;
/// The byte after `p` in every key: spreads keys over groups that sort around 0x00, 0xff and
/// the printable range.
const GROUPS: [u8; 8] = [0x00, 0x01, b'/', b'3', b'a', 0x7f, 0x80, 0xff];

fn initial_key(i: usize) -> Vec<u8> {
    let mut k = vec![b'p', GROUPS[i % GROUPS.len()], b'/'];
    k.extend_from_slice(format!("{:06}", (i * 7919) % N).as_bytes());
    k
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// Never written during the listings.
    Stable,
    /// Rewritten (KV.PUT again) during the listings: present throughout.
    Rewritten,
    /// Deleted (maybe) during the listings.
    Doomed,
}

fn role(i: usize) -> Role {
    match i % 10 {
        0..=5 => Role::Stable,
        6 | 7 => Role::Rewritten,
        _ => Role::Doomed,
    }
}

fn initial_meta(i: usize) -> Option<String> {
    i.is_multiple_of(3).then(|| format!("{{\"i\":{i}}}"))
}

/// What the writer did.
#[derive(Default)]
struct WriterLog {
    inserted: Vec<Vec<u8>>,
    deleted_doomed: Vec<usize>,
    deleted_new: Vec<Vec<u8>>,
    batches: usize,
}

fn writer(
    mut c: redis::Connection,
    doomed: Vec<usize>,
    rewritten: Vec<usize>,
    far: i64,
    stop: Arc<AtomicBool>,
    progress: Arc<AtomicUsize>,
) -> WriterLog {
    let mut rng = Rng(7);
    let mut log = WriterLog::default();
    let mut doomed = doomed.into_iter();
    let mut live_new: Vec<Vec<u8>> = Vec::new();
    let mut counter = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let mut pipe = redis::pipe();
        // Each reply's expectation: OK for puts, 1 for deletes of live keys.
        let mut want: Vec<Value> = Vec::new();
        for _ in 0..50 {
            let mut k = vec![b'p', GROUPS[rng.below(GROUPS.len())], b'/'];
            k.extend_from_slice(format!("{:06}n{counter}", rng.below(N)).as_bytes());
            if counter.is_multiple_of(5) {
                k.push(0xff);
            }
            counter += 1;
            let cmd = pipe.cmd("KV.PUT").arg(&k).arg("new");
            if counter.is_multiple_of(4) {
                cmd.arg("METADATA").arg(format!("{{\"new\":{counter}}}"));
            }
            want.push(Value::Okay);
            log.inserted.push(k.clone());
            live_new.push(k);
        }
        for _ in 0..30 {
            if let Some(i) = doomed.next() {
                pipe.cmd("KV.DELETE").arg(initial_key(i));
                want.push(Value::Int(1));
                log.deleted_doomed.push(i);
            }
        }
        for _ in 0..30 {
            let i = rewritten[rng.below(rewritten.len())];
            let cmd = pipe
                .cmd("KV.PUT")
                .arg(initial_key(i))
                .arg("rewritten")
                .arg("METADATA")
                .arg(format!("{{\"rw\":{}}}", log.batches));
            if rng.below(2) == 0 {
                cmd.arg("EXPIRATION").arg(far + 1);
            }
            want.push(Value::Okay);
        }
        for _ in 0..15 {
            if live_new.is_empty() {
                break;
            }
            let k = live_new.swap_remove(rng.below(live_new.len()));
            pipe.cmd("KV.DELETE").arg(&k);
            want.push(Value::Int(1));
            log.deleted_new.push(k);
        }
        let got: Vec<Value> = pipe.query(&mut c).expect("writer pipeline");
        assert_eq!(got, want, "writer batch {}", log.batches);
        log.batches += 1;
        progress.fetch_add(1, Ordering::Release);
    }
    log
}

/// Pages through `prefix` with `limit`, waiting after each page until the writer has finished
/// one more batch (so writes land between every two pages, besides running concurrently).
fn list_while_writing(
    c: &mut redis::Connection,
    prefix: Option<&[u8]>,
    limit: usize,
    progress: &AtomicUsize,
    writer: &std::thread::JoinHandle<WriterLog>,
) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    for _ in 0..100_000 {
        let seen = progress.load(Ordering::Acquire);
        let page = list_page(c, prefix, limit, cursor.as_deref());
        extend_in_order(&mut out, page.keys);
        if page.complete {
            return out;
        }
        cursor = page.cursor;
        while progress.load(Ordering::Acquire) == seen {
            assert!(!writer.is_finished(), "the writer stopped early");
            std::thread::yield_now();
        }
    }
    panic!("the listing does not end");
}

#[test]
fn paging_100k_keys_under_concurrent_writes() {
    let s = Server::start();
    let mut c = s.client();
    let created: Value = redis::cmd("KV.NAMESPACE").arg("CREATE").arg("t").query(&mut c).unwrap();
    assert!(matches!(created, Value::Array(_) | Value::Map(_)), "{created:?}");
    let () = redis::cmd("SELECT").arg("t").query(&mut c).unwrap();

    let far = now_ms() / 1000 + 1_000_000;
    let t = Instant::now();
    for chunk in (0..N).collect::<Vec<_>>().chunks(5000) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            let cmd = pipe.cmd("KV.PUT").arg(initial_key(i)).arg("v");
            if i.is_multiple_of(4) {
                cmd.arg("EXPIRATION").arg(far);
            }
            if let Some(m) = initial_meta(i) {
                cmd.arg("METADATA").arg(m);
            }
        }
        all_ok(pipe.query(&mut c).unwrap());
    }
    let load = t.elapsed();
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(dbsize, N as i64);

    // The quiescent listing first: every key, in order, with its fields.
    let all = list_all(&mut c, None, 1000);
    let mut want: Vec<(Vec<u8>, usize)> = (0..N).map(|i| (initial_key(i), i)).collect();
    want.sort();
    assert_eq!(all.len(), N);
    for (g, (k, i)) in all.iter().zip(&want) {
        let expect = Listed {
            name: k.clone(),
            expiration: i.is_multiple_of(4).then_some(far),
            metadata: initial_meta(*i).map(String::into_bytes),
        };
        assert_eq!(g, &expect);
    }

    // The writer's plan: doomed keys in random order, so deletions land both ahead of and
    // behind the listings' positions.
    let mut rng = Rng(42);
    let mut doomed: Vec<usize> = (0..N).filter(|&i| role(i) == Role::Doomed).collect();
    for i in (1..doomed.len()).rev() {
        doomed.swap(i, rng.below(i + 1));
    }
    let rewritten: Vec<usize> = (0..N).filter(|&i| role(i) == Role::Rewritten).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let mut wc = s.client();
    let () = redis::cmd("SELECT").arg("t").query(&mut wc).unwrap();
    let handle = {
        let (stop, progress) = (stop.clone(), progress.clone());
        std::thread::spawn(move || writer(wc, doomed, rewritten, far, stop, progress))
    };

    let t = Instant::now();
    let prefixes: [(Option<&[u8]>, usize); 4] = [
        (None, 1000),
        (Some(b"p\x80"), 1000),
        (Some(b"p\x00/0"), 1000),
        (Some(b"p\xff"), 333),
    ];
    let mut listings = Vec::new();
    for (prefix, limit) in prefixes {
        let got = list_while_writing(&mut c, prefix, limit, &progress, &handle);
        listings.push((prefix, got));
    }
    let listed_for = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let log = handle.join().expect("writer");

    let index_of: BTreeMap<Vec<u8>, usize> = want.iter().cloned().collect();
    let inserted: HashSet<&[u8]> = log.inserted.iter().map(|k| &k[..]).collect();
    for (prefix, got) in &listings {
        let p = prefix.unwrap_or_default();
        assert_strictly_increasing(got);
        let returned: HashSet<&[u8]> = got.iter().map(|k| &k.name[..]).collect();
        // Every returned key existed at some point.
        for k in got {
            assert!(
                index_of.contains_key(&k.name) || inserted.contains(&k.name[..]),
                "listed key {:?} was never written",
                show(&k.name)
            );
        }
        // Every key present for the whole listing was returned (exactly once: the order is
        // strictly increasing).
        let mut throughout = 0;
        for (k, &i) in model_range(&index_of, p) {
            match role(i) {
                Role::Stable | Role::Rewritten => {
                    throughout += 1;
                    assert!(
                        returned.contains(&k[..]),
                        "prefix {:?}: key {:?} ({:?}) was present throughout but not listed",
                        prefix.map(show),
                        show(k),
                        role(i)
                    );
                }
                Role::Doomed => {}
            }
        }
        assert!(throughout > 0);
        // Keys never written meanwhile keep their fields.
        for k in got {
            if let Some(&i) = index_of.get(&k.name) {
                if role(i) == Role::Stable {
                    assert_eq!(k.expiration, i.is_multiple_of(4).then_some(far), "{:?}", show(&k.name));
                    assert_eq!(
                        k.metadata,
                        initial_meta(i).map(String::into_bytes),
                        "{:?}",
                        show(&k.name)
                    );
                }
            }
        }
    }

    // Quiescent again: exactly the keys the writes left.
    let mut model: BTreeSet<Vec<u8>> = index_of.keys().cloned().collect();
    for &i in &log.deleted_doomed {
        assert!(model.remove(&initial_key(i)));
    }
    model.extend(log.inserted.iter().cloned());
    for k in &log.deleted_new {
        assert!(model.remove(k));
    }
    let fin = list_all(&mut c, None, 1000);
    let fin_names: Vec<&Vec<u8>> = fin.iter().map(|k| &k.name).collect();
    assert_eq!(
        fin_names,
        model.iter().collect::<Vec<_>>(),
        "the final listing differs from the model"
    );
    let under: Vec<Listed> = list_all(&mut c, Some(b"p\x80"), 1000);
    let want_under: Vec<&Vec<u8>> = model.iter().filter(|k| k.starts_with(b"p\x80")).collect();
    assert_eq!(under.iter().map(|k| &k.name).collect::<Vec<_>>(), want_under);
    eprintln!(
        "100k: load {load:?}, concurrent listings {listed_for:?}, writer batches {}, inserted {}, \
         deleted {} initial + {} new",
        log.batches,
        log.inserted.len(),
        log.deleted_doomed.len(),
        log.deleted_new.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Expired keys are never listed.

/// A key of the expiry test and what the test knows of its deadline (unix ms).
#[derive(Debug, Clone)]
struct Timed {
    name: Vec<u8>,
    /// `None`: permanent (for the test's duration).
    deadline: Option<(i64, i64)>,
    /// A far-future expiration (seconds), for permanent keys that have one.
    far: Option<(i64, i64)>,
    meta: Option<Vec<u8>>,
}

/// Checks one page against the keys of its range (`after`, exclusive, to the page's last key,
/// or to the end of the prefix when the page is the last): a key whose deadline had certainly
/// passed when the request was sent is absent; a key certainly live when the reply arrived is
/// present; permanent keys are always present.
fn check_page_timing(
    model: &BTreeMap<Vec<u8>, Timed>,
    prefix: &[u8],
    after: Option<&[u8]>,
    page: &Page,
    sent: i64,
    received: i64,
) {
    let lo = match after {
        Some(a) => Bound::Excluded(a),
        None => Bound::Included(prefix),
    };
    let hi: Bound<&[u8]> = match (page.complete, page.keys.last()) {
        (false, Some(k)) => Bound::Included(&k.name[..]),
        (false, None) => return, // an empty page that is not the last covers no range
        (true, _) => Bound::Unbounded,
    };
    let listed: HashSet<&[u8]> = page.keys.iter().map(|k| &k.name[..]).collect();
    for k in &page.keys {
        let t = model
            .get(&k.name)
            .unwrap_or_else(|| panic!("unknown key {:?} listed", show(&k.name)));
        if let Some((_, dhi)) = t.deadline {
            assert!(
                sent <= dhi,
                "key {:?} listed by a request sent at {sent}, after its deadline (<= {dhi})",
                show(&k.name)
            );
        }
        // Workers KV expirations are whole seconds; a millisecond deadline shows as its second
        // (rounded either way).
        let secs = t.deadline.or(t.far.map(|(a, b)| (a * 1000, b * 1000)));
        match secs {
            None => assert_eq!(k.expiration, None, "{:?}", show(&k.name)),
            Some((dlo, dhi)) => assert!(
                k.expiration
                    .is_some_and(|e| dlo.div_euclid(1000) <= e && e <= (dhi + 999).div_euclid(1000)),
                "expiration of {:?}: {:?}, deadline in {dlo}..={dhi} ms",
                show(&k.name),
                k.expiration
            ),
        }
        assert_eq!(k.metadata, t.meta, "metadata of {:?}", show(&k.name));
    }
    for (name, t) in model
        .range::<[u8], _>((lo, hi))
        .take_while(|(k, _)| k.starts_with(prefix))
    {
        let must = match t.deadline {
            None => true,
            Some((dlo, _)) => received <= dlo,
        };
        if must {
            assert!(
                listed.contains(&name[..]),
                "live key {:?} (deadline {:?}, page {sent}..{received}) missing",
                show(name),
                t.deadline
            );
        }
    }
}

/// Pages through `prefix`, checking every page's timing; returns the keys listed.
fn list_timed(c: &mut redis::Connection, model: &BTreeMap<Vec<u8>, Timed>, prefix: &[u8], limit: usize) -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    let mut after: Option<Vec<u8>> = None;
    for _ in 0..1_000_000 {
        let sent = now_ms();
        let page = list_page(c, Some(prefix), limit, cursor.as_deref());
        let received = now_ms();
        check_page_timing(model, prefix, after.as_deref(), &page, sent, received);
        if let Some(k) = page.keys.last() {
            after = Some(k.name.clone());
        }
        extend_in_order(&mut out, page.keys);
        if page.complete {
            return out;
        }
        cursor = page.cursor;
    }
    panic!("the listing does not end");
}

#[test]
fn expired_keys_are_never_listed() {
    let s = Server::start_with(&["--kv-min-ttl", "1"]);
    let mut c = s.client();
    const KEYS: usize = 60_000;
    let mut model: BTreeMap<Vec<u8>, Timed> = BTreeMap::new();
    let name = |i: usize| format!("x{i:06}").into_bytes();
    let mut max_deadline = 0i64;
    let load = Instant::now();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        let t0 = now_ms();
        let at_s = t0.div_euclid(1000) + 2;
        let at_ms = t0 + 1700;
        let mut entries = Vec::new();
        for &i in chunk {
            let k = name(i);
            // The deadline as an offset from the send time (ms), or exact.
            let mut rel: Option<i64> = None;
            let mut exact: Option<i64> = None;
            let mut far: Option<i64> = None;
            let mut meta: Option<Vec<u8>> = None;
            match i % 6 {
                // Permanent keys, some with metadata, some with a far expiration.
                0 => {
                    let cmd = pipe.cmd("KV.PUT").arg(&k).arg("p");
                    if i.is_multiple_of(12) {
                        let m = format!("{{\"p\":{i}}}").into_bytes();
                        cmd.arg("METADATA").arg(&m);
                        meta = Some(m);
                    }
                    if i.is_multiple_of(18) {
                        cmd.arg("EXPIRATIONTTL").arg(100_000);
                        far = Some(100_000);
                    }
                }
                1 => {
                    pipe.cmd("KV.PUT").arg(&k).arg("ttl").arg("EXPIRATIONTTL").arg(1);
                    rel = Some(1000);
                }
                2 => {
                    let m = b"\"abs\"".to_vec();
                    pipe.cmd("KV.PUT")
                        .arg(&k)
                        .arg("abs")
                        .arg("EXPIRATION")
                        .arg(at_s)
                        .arg("METADATA")
                        .arg(&m);
                    exact = Some(at_s * 1000);
                    meta = Some(m);
                }
                3 => {
                    // A KV key that a plain Redis command gives a short deadline; the metadata stays.
                    let m = b"[3]".to_vec();
                    let ms = 900 + (i % 7) as i64 * 100;
                    pipe.cmd("KV.PUT").arg(&k).arg("v").arg("METADATA").arg(&m);
                    pipe.cmd("PEXPIRE").arg(&k).arg(ms);
                    rel = Some(ms);
                    meta = Some(m);
                }
                4 => {
                    pipe.cmd("KV.PUT").arg(&k).arg("v");
                    pipe.cmd("PEXPIREAT").arg(&k).arg(at_ms);
                    exact = Some(at_ms);
                }
                _ => {
                    let ms = 800 + (i % 11) as i64 * 90;
                    pipe.cmd("SET").arg(&k).arg("plain").arg("PX").arg(ms);
                    rel = Some(ms);
                }
            }
            entries.push((k, rel, exact, far, meta));
        }
        let replies: Vec<Value> = pipe.query(&mut c).unwrap();
        let t1 = now_ms();
        for r in &replies {
            assert!(matches!(r, Value::Okay | Value::Int(1)), "{r:?}");
        }
        for (k, rel, exact, far, meta) in entries {
            let deadline = match (rel, exact) {
                (Some(r), _) => Some((t0 + r, t1 + r)),
                (None, Some(e)) => Some((e, e)),
                (None, None) => None,
            };
            if let Some((_, hi)) = deadline {
                max_deadline = max_deadline.max(hi);
            }
            let far = far.map(|f| (t0.div_euclid(1000) + f, t1.div_euclid(1000) + f));
            model.insert(
                k.clone(),
                Timed {
                    name: k,
                    deadline,
                    far,
                    meta,
                },
            );
        }
    }
    let load = load.elapsed();
    let permanent: Vec<Vec<u8>> = model
        .values()
        .filter(|t| t.deadline.is_none())
        .map(|t| t.name.clone())
        .collect();

    // Before and across the deadlines: each page is checked against the time it was served
    // (a key must be listed by a page served before its deadline, and not by one served after).
    let mut listings = 0;
    loop {
        let last_round = now_ms() > max_deadline;
        list_timed(
            &mut c,
            &model,
            if listings == 0 || last_round { b"x" } else { b"x00" },
            1000,
        );
        // Small pages too, over a narrower range.
        list_timed(&mut c, &model, b"x0012", 7);
        listings += 2;
        if last_round {
            break;
        }
    }
    let names: Vec<Vec<u8>> = list_all(&mut c, Some(b"x"), 1000).into_iter().map(|k| k.name).collect();
    assert_eq!(names, permanent, "after the deadlines");

    // Now many keys with one common deadline, interleaved with the permanent ones: enough of
    // them (~1900 a shard) that the reclaimer needs several passes to remove them all. Right
    // after that deadline, pages are served inside MULTI/EXEC between two DBSIZE calls (the
    // reclaimer cannot run inside EXEC): they tell whether expired records were still in
    // memory while the page was built.
    let common = |i: usize| format!("x{i:06}c").into_bytes();
    let deadline = now_ms() + 2 * load.as_millis() as i64 + 300;
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            pipe.cmd("SET").arg(common(i)).arg("c").arg("PXAT").arg(deadline);
            model.insert(
                common(i),
                Timed {
                    name: common(i),
                    deadline: Some((deadline, deadline)),
                    far: None,
                    meta: None,
                },
            );
        }
        all_ok(pipe.query(&mut c).unwrap());
    }
    let in_time = now_ms() < deadline;
    if in_time {
        let sent = now_ms();
        let page = list_page(&mut c, Some(b"x"), 1000, None);
        check_page_timing(&model, b"x", None, &page, sent, now_ms());
    }
    while now_ms() <= deadline {
        std::hint::spin_loop();
    }
    let mut raced = 0;
    let mut got: Vec<Listed> = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DBSIZE");
        let list = pipe.cmd("KV.LIST").arg("PREFIX").arg("x").arg("LIMIT").arg(1000);
        if let Some(cur) = &cursor {
            list.arg("CURSOR").arg(cur);
        }
        pipe.cmd("DBSIZE");
        let (n0, page, n1): (i64, Value, i64) = pipe.query(&mut c).unwrap();
        assert_eq!(n0, n1);
        if n0 > permanent.len() as i64 {
            raced += 1;
        }
        let page = parse_page(page);
        extend_in_order(&mut got, page.keys);
        if page.complete {
            break;
        }
        cursor = page.cursor;
    }
    let names: Vec<Vec<u8>> = got.into_iter().map(|k| k.name).collect();
    assert_eq!(names, permanent, "right after the common deadline");
    // The same with small pages and per-page checks.
    let got = list_timed(&mut c, &model, b"x00", 7);
    assert_eq!(got.len(), permanent.iter().filter(|k| k.starts_with(b"x00")).count());
    let got = list_timed(&mut c, &model, b"x0000", 1);
    assert_eq!(got.len(), permanent.iter().filter(|k| k.starts_with(b"x0000")).count());

    // Later, once the reclaimer has removed every expired key.
    let t = Instant::now();
    loop {
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if n == permanent.len() as i64 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the reclaimer left {n} keys");
        std::thread::sleep(Duration::from_millis(50));
    }
    for limit in [1000, 13] {
        let got: Vec<Vec<u8>> = list_all(&mut c, Some(b"x"), limit)
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(got, permanent, "after reclaiming, limit {limit}");
    }
    let got = list_timed(&mut c, &model, b"x", 1000);
    assert_eq!(
        got.into_iter().map(|k| k.name).collect::<Vec<_>>(),
        permanent,
        "after reclaiming"
    );
    eprintln!(
        "expiry: load {load:?}; {listings} listings across the first deadlines; common deadline \
         {}; {raced} pages right after it ran with expired records still in memory{}",
        if in_time {
            "reached after the load"
        } else {
            "passed during the load"
        },
        if raced == 0 {
            " (the reclaimer was faster this time: that case went untested)"
        } else {
            ""
        }
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Exact bytes.

/// The cursor of a raw KV.LIST reply (the last field, a bulk string), if any.
fn raw_cursor(reply: &[u8]) -> Option<String> {
    let tag = b"$6\r\ncursor\r\n$";
    let at = reply.windows(tag.len()).rposition(|w| w == tag)? + tag.len();
    let nl = at + reply[at..].windows(2).position(|w| w == b"\r\n")?;
    let n: usize = std::str::from_utf8(&reply[at..nl]).ok()?.parse().ok()?;
    Some(String::from_utf8(reply[nl + 2..nl + 2 + n].to_vec()).expect("a cursor is text"))
}

fn b(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

/// One listed key's encoding: a map of 1 to 3 fields.
fn key_entry(resp3: bool, name: &str, expiration: Option<i64>, metadata: Option<&str>) -> String {
    let n = 1 + expiration.is_some() as usize + metadata.is_some() as usize;
    let mut out = if resp3 {
        format!("%{n}\r\n")
    } else {
        format!("*{}\r\n", 2 * n)
    };
    out += &b("name");
    out += &b(name);
    if let Some(e) = expiration {
        out += &b("expiration");
        out += &format!(":{e}\r\n");
    }
    if let Some(m) = metadata {
        out += &b("metadata");
        out += &b(m);
    }
    out
}

/// A whole reply: `{keys, list_complete, cursor?}`.
fn list_reply(resp3: bool, keys: &[String], cursor: Option<&str>) -> String {
    let n = 2 + cursor.is_some() as usize;
    let mut out = if resp3 {
        format!("%{n}\r\n")
    } else {
        format!("*{}\r\n", 2 * n)
    };
    out += &b("keys");
    out += &format!("*{}\r\n", keys.len());
    for k in keys {
        out += k;
    }
    out += &b("list_complete");
    out += match (resp3, cursor.is_some()) {
        (false, false) => ":1\r\n",
        (false, true) => ":0\r\n",
        (true, false) => "#t\r\n",
        (true, true) => "#f\r\n",
    };
    if let Some(c) = cursor {
        out += &b("cursor");
        out += &b(c);
    }
    out
}

/// Sends `args` and checks the reply byte for byte; a cursor in the reply is taken as given
/// (it is opaque) and returned.
#[track_caller]
fn expect_list(c: &mut Raw, args: &[&str], resp3: bool, keys: &[String], more: bool) -> Option<String> {
    let got = c.cmd(args);
    let cursor = raw_cursor(&got);
    assert_eq!(cursor.is_some(), more, "reply to {args:?}: {:?}", show(&got));
    if let Some(cur) = &cursor {
        assert!(!cur.is_empty());
    }
    let want = list_reply(resp3, keys, cursor.as_deref());
    assert_eq!(show(&got), want, "reply to {args:?}");
    cursor
}

#[test]
fn exact_reply_bytes() {
    const EXP: i64 = 4_102_444_800; // 2100-01-01
    let s = Server::start();
    let mut c = s.raw();
    let exp = EXP.to_string();
    c.expect(&["KV.PUT", "a", "1"], "+OK\r\n");
    c.expect(&["KV.PUT", "b", "2", "METADATA", r#"{"x":1}"#], "+OK\r\n");
    c.expect(&["KV.PUT", "c", "3", "EXPIRATION", &exp], "+OK\r\n");
    c.expect(
        &["KV.PUT", "c/d", "4", "EXPIRATION", &exp, "METADATA", r#""m""#],
        "+OK\r\n",
    );
    c.expect(&["KV.PUT", "d", "5"], "+OK\r\n");

    for resp3 in [false, true] {
        if resp3 {
            common::hello3(&mut c);
        }
        let a = key_entry(resp3, "a", None, None);
        let bk = key_entry(resp3, "b", None, Some(r#"{"x":1}"#));
        let ck = key_entry(resp3, "c", Some(EXP), None);
        let cd = key_entry(resp3, "c/d", Some(EXP), Some(r#""m""#));
        let d = key_entry(resp3, "d", None, None);

        // Three pages of two.
        let cur = expect_list(
            &mut c,
            &["KV.LIST", "LIMIT", "2"],
            resp3,
            &[a.clone(), bk.clone()],
            true,
        )
        .unwrap();
        let cur = expect_list(
            &mut c,
            &["KV.LIST", "LIMIT", "2", "CURSOR", &cur],
            resp3,
            &[ck.clone(), cd.clone()],
            true,
        )
        .unwrap();
        expect_list(
            &mut c,
            &["KV.LIST", "LIMIT", "2", "CURSOR", &cur],
            resp3,
            std::slice::from_ref(&d),
            false,
        );

        // One page for everything (default limit), and under a prefix.
        expect_list(
            &mut c,
            &["KV.LIST"],
            resp3,
            &[a.clone(), bk.clone(), ck.clone(), cd.clone(), d.clone()],
            false,
        );
        let cur = expect_list(
            &mut c,
            &["KV.LIST", "PREFIX", "c", "LIMIT", "1"],
            resp3,
            std::slice::from_ref(&ck),
            true,
        )
        .unwrap();
        expect_list(
            &mut c,
            &["KV.LIST", "PREFIX", "c", "LIMIT", "1000", "CURSOR", &cur],
            resp3,
            std::slice::from_ref(&cd),
            false,
        );
        expect_list(
            &mut c,
            &["KV.LIST", "PREFIX", "c/d"],
            resp3,
            std::slice::from_ref(&cd),
            false,
        );

        // Nothing under the prefix.
        expect_list(&mut c, &["KV.LIST", "PREFIX", "zz", "LIMIT", "5"], resp3, &[], false);
    }
}
