//! SCAN on the real binary: cursor parsing as Redis's `parseScanCursorOrReply` (`strtoul`),
//! options, full iterations, and a property test of Redis's guarantee under concurrent
//! writes: every key present for the whole iteration is returned at least once, and the
//! iteration ends, while another connection grows and shrinks the tables between calls.

mod common;
use common::{resp, Raw, Server};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::HashSet;

const EMPTY_SCAN: &str = "*2\r\n$1\r\n0\r\n*0\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const BAD_CURSOR: &str = "-ERR invalid cursor\r\n";

/// One SCAN call: the next cursor and the keys.
fn scan_page(c: &mut Raw, args: &[&[u8]]) -> (u64, Vec<Vec<u8>>) {
    let r = c.cmd_bytes(args);
    let show = || String::from_utf8_lossy(&r).into_owned();
    assert!(r.starts_with(b"*2\r\n$"), "{}", show());
    let mut pos = 4;
    let line = |pos: &mut usize| {
        let e = *pos + r[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let l = r[*pos..e].to_vec();
        *pos = e + 2;
        l
    };
    let head = line(&mut pos);
    let len: usize = String::from_utf8_lossy(&head[1..]).parse().unwrap();
    let cursor: u64 = String::from_utf8_lossy(&r[pos..pos + len]).parse().unwrap();
    pos += len + 2;
    let head = line(&mut pos);
    assert_eq!(head[0], b'*', "{}", show());
    let n: usize = String::from_utf8_lossy(&head[1..]).parse().unwrap();
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let head = line(&mut pos);
        let len: usize = String::from_utf8_lossy(&head[1..]).parse().unwrap();
        keys.push(r[pos..pos + len].to_vec());
        pos += len + 2;
    }
    assert_eq!(pos, r.len(), "{}", show());
    (cursor, keys)
}

/// A whole iteration with `extra` options; returns every key returned (with duplicates).
fn scan_all(c: &mut Raw, extra: &[&str]) -> Vec<String> {
    let mut cursor = 0u64;
    let mut out = Vec::new();
    let mut calls = 0;
    loop {
        let cur = cursor.to_string();
        let mut args: Vec<&[u8]> = vec![b"SCAN", cur.as_bytes()];
        args.extend(extra.iter().map(|s| s.as_bytes()));
        let (next, keys) = scan_page(c, &args);
        out.extend(keys.into_iter().map(|k| String::from_utf8(k).unwrap()));
        cursor = next;
        calls += 1;
        assert!(calls < 100_000, "the iteration does not end");
        if cursor == 0 {
            return out;
        }
    }
}

fn mset(c: &mut Raw, keys: impl IntoIterator<Item = String>) {
    let keys: Vec<String> = keys.into_iter().collect();
    if keys.is_empty() {
        return;
    }
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for k in &keys {
        args.push(k.as_bytes());
        args.push(b"v");
    }
    assert_eq!(c.cmd_bytes(&args), b"+OK\r\n");
}

#[test]
fn cursor_parsing() {
    let s = Server::start();
    let mut c = s.raw();
    // strtoul rules: no leading space, nothing after the digits, no more than 2^64-1.
    for bad in [
        "abc",
        " 0",
        "\t0",
        "0 ",
        "0x1",
        "1a",
        "+",
        "-",
        "+-1",
        "--1",
        "1.0",
        "18446744073709551616",
        "-18446744073709551616",
        "99999999999999999999999",
    ] {
        c.expect(&["SCAN", bad], BAD_CURSOR);
    }
    // Accepted: the empty string (0), a sign, leading zeros, the full u64 range, and a
    // negative number (it wraps around, as in C).
    for ok in [
        "0",
        "",
        "+0",
        "-0",
        "00",
        "-1",
        "18446744073709551615",
        "-18446744073709551615",
    ] {
        c.expect(&["SCAN", ok], EMPTY_SCAN);
    }
    // strtoul reads a C string: a NUL byte ends it.
    assert_eq!(c.cmd_bytes(&[b"SCAN", b"0\x00junk"]), EMPTY_SCAN.as_bytes());
    assert_eq!(c.cmd_bytes(&[b"SCAN", b"\x00"]), EMPTY_SCAN.as_bytes());
    // The cursor is parsed before the options.
    c.expect(&["SCAN", "abc", "COUNT", "0"], BAD_CURSOR);
    c.expect(&["SCAN", "abc", "FOO"], BAD_CURSOR);
    c.expect(&["SCAN"], "-ERR wrong number of arguments for 'scan' command\r\n");
    // "" and "+0" start an iteration like "0".
    c.expect(&["SET", "a", "1"], "+OK\r\n");
    for start in ["0", "", "+0", "000"] {
        c.expect(&["SCAN", start], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    }
}

#[test]
fn options() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "a", "1"], "+OK\r\n");
    for bad in [
        &["SCAN", "0", "COUNT", "0"][..],
        &["SCAN", "0", "count", "-1"],
        &["SCAN", "0", "COUNT"],
        &["SCAN", "0", "MATCH"],
        &["SCAN", "0", "TYPE"],
        &["SCAN", "0", "FOO", "bar"],
        &["SCAN", "0", "COUNT", "10", "MATCH"],
        &["SCAN", "0", "MATCH", "*", "x"],
        &["SCAN", "0", "NOVALUES"],
    ] {
        c.expect(bad, SYNTAX);
    }
    c.expect(
        &["SCAN", "0", "COUNT", "abc"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.expect(
        &["SCAN", "0", "COUNT", "1.5"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.expect(
        &["SCAN", "0", "COUNT", "99999999999999999999"],
        "-ERR value is not an integer or out of range\r\n",
    );
    // Errors come in argument order.
    c.expect(&["SCAN", "0", "COUNT", "0", "COUNT", "abc"], SYNTAX);
    c.expect(
        &["SCAN", "0", "COUNT", "abc", "COUNT", "0"],
        "-ERR value is not an integer or out of range\r\n",
    );
    let one = "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n";
    // Options are case-insensitive, repeatable, and C strings (a NUL byte ends them).
    c.expect(&["SCAN", "0", "count", "1000", "match", "a", "type", "STRING"], one);
    c.expect(&["SCAN", "0", "COUNT", "5", "COUNT", "1000"], one);
    c.expect(&["SCAN", "0", "COUNT", "9223372036854775807"], one);
    assert_eq!(c.cmd_bytes(&[b"SCAN", b"0", b"count\x00z", b"1000"]), one.as_bytes());
    assert_eq!(c.cmd_bytes(&[b"SCAN", b"0", b"TYPE", b"string\x00q"]), one.as_bytes());
    // TYPE: an unknown or other type matches nothing, without an error in 7.0.
    for t in ["list", "hash", "set", "zset", "stream", "foo", ""] {
        c.expect(&["SCAN", "0", "TYPE", t, "COUNT", "1000"], EMPTY_SCAN);
    }
    c.expect(&["SCAN", "0", "MATCH", "b*", "COUNT", "1000"], EMPTY_SCAN);
    c.expect(&["SCAN", "0", "MATCH", "[a]", "COUNT", "1000"], one);
    // RESP3: the same bytes (the cursor stays a bulk string).
    common::hello3(&mut c);
    c.expect(&["SCAN", "0", "COUNT", "1000"], one);
    c.expect(&["SCAN", "abc"], BAD_CURSOR);
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["SCAN", "0"], EMPTY_SCAN);
}

/// scan.tcl: full iterations over 1000 keys, with COUNT, MATCH and TYPE.
#[test]
fn full_iterations() {
    let s = Server::start();
    let mut c = s.raw();
    mset(&mut c, (0..1000).map(|i| format!("key:{i}")));
    let all: HashSet<String> = (0..1000).map(|i| format!("key:{i}")).collect();
    for extra in [
        &[][..],
        &["COUNT", "5"],
        &["COUNT", "1"],
        &["COUNT", "100000"],
        &["TYPE", "string", "MATCH", "key:*", "COUNT", "10"],
    ] {
        let got = scan_all(&mut c, extra);
        let set: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(set, all, "{extra:?}");
        // Without concurrent writes nothing repeats.
        assert_eq!(got.len(), 1000, "{extra:?}");
    }
    let got: HashSet<String> = scan_all(&mut c, &["MATCH", "key:1??"]).into_iter().collect();
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|k| k.len() == 7 && k.starts_with("key:1")));
    assert!(scan_all(&mut c, &["TYPE", "list"]).is_empty());
    // One call with a large COUNT returns everything and ends.
    let (cursor, keys) = scan_page(&mut c, &[b"SCAN", b"0", b"COUNT", b"100000"]);
    assert_eq!((cursor, keys.len()), (0, 1000));
    // Other databases are separate.
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["SCAN", "0"], EMPTY_SCAN);
}

/// One case of the concurrent-writes property.
#[derive(Debug, Clone)]
struct Case {
    /// Keys present for the whole iteration.
    stable: usize,
    /// Other keys present at the start, deleted during the iteration.
    doomed: usize,
    /// What the second connection does after each SCAN call.
    steps: Vec<Step>,
    count: u32,
    /// MATCH a prefix that every key has (exercises the matcher without filtering).
    with_match: bool,
}

#[derive(Debug, Clone)]
enum Step {
    /// Insert this many new keys (grows the tables).
    Insert(usize),
    /// Delete this many keys that are not stable (shrinks the tables).
    Delete(usize),
    /// Delete and re-insert this many new keys (churn within one size).
    Churn(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..800).prop_map(Step::Insert),
        (0usize..800).prop_map(Step::Delete),
        (0usize..100).prop_map(Step::Churn),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..300,
        0usize..4000,
        prop::collection::vec(step(), 1..40),
        1u32..40,
        any::<bool>(),
    )
        .prop_map(|(stable, doomed, steps, count, with_match)| Case {
            stable,
            doomed,
            steps,
            count,
            with_match,
        })
}

fn run_case(scanner: &mut Raw, writer: &mut Raw, case: &Case, id: usize) -> Result<(), TestCaseError> {
    writer.expect(&["FLUSHALL"], "+OK\r\n");
    let stable: Vec<String> = (0..case.stable).map(|i| format!("k:s{i}")).collect();
    mset(writer, stable.iter().cloned());
    // Keys that may go away: the doomed ones, then everything inserted later.
    let mut volatile: Vec<String> = (0..case.doomed).map(|i| format!("k:d{i}")).collect();
    mset(writer, volatile.iter().cloned());
    let mut ever: HashSet<String> = stable.iter().chain(volatile.iter()).cloned().collect();
    let mut next_id = 0usize;
    let mut fresh = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                next_id += 1;
                format!("k:n{id}:{next_id}")
            })
            .collect()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = 0u64;
    let mut calls = 0usize;
    let count = case.count.to_string();
    loop {
        let cur = cursor.to_string();
        let mut args: Vec<&[u8]> = vec![b"SCAN", cur.as_bytes(), b"COUNT", count.as_bytes()];
        if case.with_match {
            args.extend([&b"MATCH"[..], b"k:*"]);
        }
        let (next, keys) = scan_page(scanner, &args);
        for k in keys {
            let k = String::from_utf8(k).unwrap();
            prop_assert!(ever.contains(&k), "SCAN returned {k:?}, which never existed");
            seen.insert(k);
        }
        cursor = next;
        calls += 1;
        if cursor == 0 {
            break;
        }
        prop_assert!(calls < 200_000, "the iteration does not end");
        // Between calls, the other connection changes the keyspace. After the schedule runs
        // out, a final phase deletes every volatile key so the tables shrink.
        let step = case
            .steps
            .get(calls - 1)
            .cloned()
            .unwrap_or(Step::Delete(volatile.len()));
        match step {
            Step::Insert(n) => {
                let new = fresh(n);
                ever.extend(new.iter().cloned());
                mset(writer, new.iter().cloned());
                volatile.extend(new);
            }
            Step::Delete(n) => {
                let n = n.min(volatile.len());
                let gone: Vec<String> = volatile.drain(..n).collect();
                if !gone.is_empty() {
                    let mut args: Vec<&[u8]> = vec![b"DEL"];
                    args.extend(gone.iter().map(|k| k.as_bytes()));
                    writer.send(&resp(&args));
                    prop_assert_eq!(writer.read_reply(), format!(":{}\r\n", gone.len()).into_bytes());
                }
            }
            Step::Churn(n) => {
                let n = n.min(volatile.len());
                let gone: Vec<String> = volatile.drain(..n).collect();
                let mut wire = Vec::new();
                for k in &gone {
                    wire.extend(resp(&[b"DEL", k.as_bytes()]));
                }
                let new = fresh(n);
                for k in &new {
                    wire.extend(resp(&[b"SET", k.as_bytes(), b"v"]));
                }
                ever.extend(new.iter().cloned());
                volatile.extend(new);
                writer.send(&wire);
                let replies = writer.read_replies(2 * n);
                let want = [":1\r\n".repeat(n), "+OK\r\n".repeat(n)].concat();
                prop_assert_eq!(String::from_utf8(replies).unwrap(), want);
            }
        }
    }
    for k in &stable {
        prop_assert!(seen.contains(k), "stable key {k:?} was never returned ({calls} calls)");
    }
    Ok(())
}

/// Redis's SCAN guarantee under concurrent inserts and deletes, with enough of each to grow
/// and shrink the per-shard power-of-two tables during the iteration (32 shards: 4000 keys
/// put ~128 in each, and dropping to the stable few hundred falls below 1/8 load).
#[test]
fn guarantee_under_concurrent_writes() {
    let s = Server::start();
    // The runner takes a `Fn`: the connections and the case counter live in cells.
    let conns = std::cell::RefCell::new((s.raw(), s.raw(), 0usize));
    let mut runner = TestRunner::new(Config {
        cases: 20,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |case| {
            let (scanner, writer, id) = &mut *conns.borrow_mut();
            *id += 1;
            run_case(scanner, writer, &case, *id)
        })
        .unwrap();
}

/// The same guarantee with fixed, extreme schedules: a table that grows 30-fold during the
/// iteration, and one that shrinks from 8000 keys to 10.
#[test]
fn guarantee_across_large_resizes() {
    let s = Server::start();
    let mut scanner = s.raw();
    let mut writer = s.raw();
    let grow = Case {
        stable: 200,
        doomed: 0,
        steps: vec![Step::Insert(600); 10],
        count: 3,
        with_match: false,
    };
    let shrink = Case {
        stable: 10,
        doomed: 8000,
        steps: vec![Step::Delete(400); 20],
        count: 20,
        with_match: true,
    };
    let both = Case {
        stable: 50,
        doomed: 3000,
        steps: [
            vec![Step::Insert(1000); 5],
            vec![Step::Delete(1000); 8],
            vec![Step::Insert(500); 4],
        ]
        .concat(),
        count: 7,
        with_match: false,
    };
    for (i, case) in [grow, shrink, both].iter().enumerate() {
        run_case(&mut scanner, &mut writer, case, 1000 + i).unwrap();
    }
}
