//! Expiry commands (Redis's expire.c) on the real binary, byte for byte as redis-server 7.0.15
//! answers: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, EXPIRETIME,
//! PEXPIRETIME, PERSIST; expired keys invisible to every command (deadlines in the past, no
//! sleeping); the reclaimer emptying DBSIZE; the INFO keyspace line.

mod common;
use common::{arity, int_reply, now_ms, Server};
use std::time::{Duration, Instant};

const NX_ERR: &str = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
const GT_LT_ERR: &str = "-ERR GT and LT options at the same time are not compatible\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

fn invalid(cmd: &str) -> String {
    format!("-ERR invalid expire time in '{cmd}' command\r\n")
}

#[test]
fn option_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "foo", "bar"], "+OK\r\n");
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        // Options are checked before the time, and an unknown one first of all.
        c.expect(&[cmd, "foo", "abc", "bar"], "-ERR Unsupported option bar\r\n");
        c.expect(&[cmd, "foo", "200", "AB"], "-ERR Unsupported option AB\r\n");
        c.expect(&[cmd, "foo", "200", "XX", "AB"], "-ERR Unsupported option AB\r\n");
        c.expect(
            &[cmd, "foo", "200", "gt", "lt", "bad"],
            "-ERR Unsupported option bad\r\n",
        );
        for combo in [
            &["NX", "XX"][..],
            &["nx", "GT"],
            &["LT", "nx"],
            &["NX", "GT", "LT"],
            &["xx", "NX"],
        ] {
            let mut a = vec![cmd, "foo", "abc"];
            a.extend_from_slice(combo);
            c.expect(&a, NX_ERR);
        }
        c.expect(&[cmd, "foo", "abc", "GT", "LT"], GT_LT_ERR);
        c.expect(&[cmd, "foo", "abc", "lt", "XX", "gt"], GT_LT_ERR);
        // Repeats are allowed; then the time is parsed.
        c.expect(&[cmd, "foo", "abc", "XX", "xx", "GT", "GT"], NOT_INT);
        c.expect(&[cmd, "foo", ""], NOT_INT);
        c.expect(&[cmd, "foo", "1.5"], NOT_INT);
        c.expect(&[cmd, "foo", " 1"], NOT_INT);
        c.expect(&[cmd, "foo", "9223372036854775808"], NOT_INT);
    }
    // The Unsupported option text shows the token as typed, up to a NUL byte (C's %s), and
    // CR/LF become spaces; an option is a C string for strcasecmp, so "nx\0z" is NX.
    c.expect(&["EXPIRE", "foo", "10", "a\r\nb"], "-ERR Unsupported option a  b\r\n");
    assert_eq!(
        c.cmd_bytes(&[b"EXPIRE", b"foo", b"10", b"foo\x00bar"]),
        b"-ERR Unsupported option foo\r\n"
    );
    assert_eq!(
        c.cmd_bytes(&[b"EXPIRE", b"foo", b"10", b"\x00"]),
        b"-ERR Unsupported option \r\n"
    );
    assert_eq!(c.cmd_bytes(&[b"EXPIRE", b"foo", b"100", b"Nx\x00zz"]), b":1\r\n");
    assert_eq!(c.cmd_bytes(&[b"EXPIRE", b"foo", b"200", b"Nx\x00zz"]), b":0\r\n");
    c.expect(&["TTL", "foo"], ":100\r\n");
    for (args, name) in [
        (&["EXPIRE", "a"][..], "expire"),
        (&["pexpire", "a"], "pexpire"),
        (&["ExpireAt", "a"], "expireat"),
        (&["PEXPIREAT", "a"], "pexpireat"),
        (&["TTL"], "ttl"),
        (&["TTL", "a", "b"], "ttl"),
        (&["PTTL"], "pttl"),
        (&["EXPIRETIME"], "expiretime"),
        (&["PEXPIRETIME", "a", "b"], "pexpiretime"),
        (&["PERSIST"], "persist"),
        (&["PERSIST", "a", "b"], "persist"),
    ] {
        c.expect(args, &arity(name));
    }
}

#[test]
fn overflow_is_invalid_expire_time() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "foo", "bar"], "+OK\r\n");
    // Seconds beyond LLONG_MAX/1000 either way, and the addition of now.
    for t in [
        "9223370399119966",
        "9223372036854776",
        "10000000000000000",
        "18446744073709561",
        "-9223372036854776",
        "-9999999999999999",
        "9223372036854775807",
    ] {
        c.expect(&["EXPIRE", "foo", t], &invalid("expire"));
        c.expect(&["TTL", "foo"], ":-1\r\n");
    }
    c.expect(&["EXPIREAT", "foo", "9223372036854776"], &invalid("expireat"));
    c.expect(&["EXPIREAT", "foo", "-9223372036854776"], &invalid("expireat"));
    c.expect(&["PEXPIRE", "foo", "9223372036854770000"], &invalid("pexpire"));
    c.expect(&["PEXPIRE", "foo", "9223372036854775807"], &invalid("pexpire"));
    c.expect(&["TTL", "foo"], ":-1\r\n");
    // The error comes before the key lookup.
    c.expect(&["EXPIRE", "nokey", "9223372036854776"], &invalid("expire"));
    c.expect(&["PEXPIRE", "nokey", "9223372036854775807"], &invalid("pexpire"));
    // The largest absolute deadlines are fine.
    c.expect(&["PEXPIREAT", "foo", "9223372036854770000"], ":1\r\n");
    c.expect(&["PEXPIRETIME", "foo"], ":9223372036854770000\r\n");
    c.expect(&["PEXPIREAT", "foo", "9223372036854775807"], ":1\r\n");
    c.expect(&["PEXPIRETIME", "foo"], ":9223372036854775807\r\n");
    // (ms + 500) / 1000 without overflow, as Redis prints it.
    c.expect(&["EXPIRETIME", "foo"], ":9223372036854776\r\n");
    c.expect(&["EXPIREAT", "foo", "9223372036854775"], ":1\r\n");
    c.expect(&["PEXPIRETIME", "foo"], ":9223372036854775000\r\n");
    c.expect(&["EXPIRETIME", "foo"], ":9223372036854775\r\n");
}

#[test]
fn past_and_negative_times_delete() {
    let s = Server::start();
    let mut c = s.raw();
    for args in [
        &["EXPIRE", "k", "0"][..],
        &["EXPIRE", "k", "-10"],
        &["PEXPIRE", "k", "-1"],
        &["PEXPIRE", "k", "0"],
        &["EXPIREAT", "k", "1"],
        &["EXPIREAT", "k", "0"],
        &["EXPIREAT", "k", "-9223372036854775"],
        &["PEXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "-9223372036854775808"],
        &["PEXPIREAT", "k", "-9223372036854770000"],
        // Conditions still apply first: LT against no TTL passes, then the key is deleted.
        &["EXPIRE", "k", "-10", "LT"],
    ] {
        c.expect(&["SET", "k", "v"], "+OK\r\n");
        c.expect(args, ":1\r\n");
        c.expect(&["EXISTS", "k"], ":0\r\n");
        c.expect(&["TTL", "k"], ":-2\r\n");
        c.expect(&["DBSIZE"], ":0\r\n");
    }
    // With a TTL and LT: deleted too.
    c.expect(&["SET", "k", "v", "EX", "100"], "+OK\r\n");
    c.expect(&["EXPIRE", "k", "-10", "LT"], ":1\r\n");
    c.expect(&["TTL", "k"], ":-2\r\n");
    // A past time that fails its condition leaves the key alone.
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    c.expect(&["EXPIRE", "k", "-10", "XX"], ":0\r\n");
    c.expect(&["EXPIRE", "k", "-10", "GT"], ":0\r\n");
    c.expect(&["TTL", "k"], ":-1\r\n");
}

#[test]
fn missing_keys() {
    let s = Server::start();
    let mut c = s.raw();
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        c.expect(&[cmd, "none", "100"], ":0\r\n");
        for opt in ["NX", "XX", "GT", "LT"] {
            c.expect(&[cmd, "none", "100", opt], ":0\r\n");
        }
        c.expect(&[cmd, "none", "-1"], ":0\r\n");
    }
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        c.expect(&[cmd, "none"], ":-2\r\n");
    }
    c.expect(&["PERSIST", "none"], ":0\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
}

/// The NX/XX/GT/LT table of Redis's expire.tcl.
#[test]
fn conditions() {
    let s = Server::start();
    let mut c = s.raw();
    // (setup TTL in seconds or none, command args after the key, reply, TTL after or None)
    type Row = (Option<&'static str>, &'static [&'static str], &'static str, Option<i64>);
    let rows: &[Row] = &[
        (Some("100"), &["200", "NX"], ":0\r\n", Some(100)),
        (None, &["200", "NX"], ":1\r\n", Some(200)),
        (Some("100"), &["200", "XX"], ":1\r\n", Some(200)),
        (None, &["200", "XX"], ":0\r\n", Some(-1)),
        (Some("100"), &["200", "GT"], ":1\r\n", Some(200)),
        (Some("200"), &["100", "GT"], ":0\r\n", Some(200)),
        // (Not the same TTL again: a millisecond passing between SET and EXPIRE makes the
        // new deadline greater, in Redis too.)
        (Some("300"), &["200", "GT"], ":0\r\n", Some(300)),
        (None, &["200", "GT"], ":0\r\n", Some(-1)),
        (Some("100"), &["200", "LT"], ":0\r\n", Some(100)),
        (Some("200"), &["100", "LT"], ":1\r\n", Some(100)),
        (None, &["100", "LT"], ":1\r\n", Some(100)),
        (Some("200"), &["100", "LT", "XX"], ":1\r\n", Some(100)),
        (None, &["200", "LT", "XX"], ":0\r\n", Some(-1)),
        (Some("100"), &["200", "GT", "XX"], ":1\r\n", Some(200)),
        (Some("100"), &["200", "gt", "xx", "GT"], ":1\r\n", Some(200)),
    ];
    for (setup, args, reply, ttl) in rows {
        match setup {
            Some(t) => c.expect(&["SET", "foo", "bar", "EX", t], "+OK\r\n"),
            None => c.expect(&["SET", "foo", "bar"], "+OK\r\n"),
        }
        let mut a = vec!["EXPIRE", "foo"];
        a.extend_from_slice(args);
        c.expect(&a, reply);
        if let Some(t) = ttl {
            c.expect(&["TTL", "foo"], &format!(":{t}\r\n"));
        }
    }
    // The same comparisons in milliseconds and absolute forms.
    let now = now_ms();
    let at = |d: i64| (now + d).to_string();
    c.expect(&["SET", "foo", "bar", "PXAT", &at(100_000)], "+OK\r\n");
    c.expect(&["PEXPIREAT", "foo", &at(100_000), "GT"], ":0\r\n");
    c.expect(&["PEXPIREAT", "foo", &at(100_000), "LT"], ":0\r\n");
    c.expect(&["PEXPIREAT", "foo", &at(100_001), "GT"], ":1\r\n");
    c.expect(&["PEXPIRETIME", "foo"], &format!(":{}\r\n", at(100_001)));
    c.expect(&["PEXPIREAT", "foo", &at(99_999), "LT", "XX"], ":1\r\n");
    c.expect(&["PEXPIRETIME", "foo"], &format!(":{}\r\n", at(99_999)));
    let secs = (now / 1000 + 500).to_string();
    c.expect(&["EXPIREAT", "foo", &secs, "NX"], ":0\r\n");
    c.expect(&["EXPIREAT", "foo", &secs, "GT"], ":1\r\n");
    c.expect(&["EXPIRETIME", "foo"], &format!(":{secs}\r\n"));
    c.expect(&["PEXPIRETIME", "foo"], &format!(":{secs}000\r\n"));
    c.expect(&["PEXPIRE", "foo", "50000", "LT"], ":1\r\n");
    let p = int_reply(&mut c, &["PTTL", "foo"]);
    assert!((49_000..=50_000).contains(&p), "{p}");
}

#[test]
fn ttl_family() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        c.expect(&[cmd, "k"], ":-1\r\n");
        c.expect(&[cmd, "nokey"], ":-2\r\n");
    }
    // TTL rounds half up: a fresh EX 100 reads 100, not 99.
    c.expect(&["SET", "k", "v", "EX", "100"], "+OK\r\n");
    c.expect(&["TTL", "k"], ":100\r\n");
    let p = int_reply(&mut c, &["PTTL", "k"]);
    assert!((99_000..=100_000).contains(&p), "{p}");
    c.expect(&["EXPIRE", "k", "5"], ":1\r\n");
    c.expect(&["TTL", "k"], ":5\r\n");
    c.expect(&["EXPIRE", "k", "10"], ":1\r\n");
    c.expect(&["TTL", "k"], ":10\r\n");
    c.expect(&["PEXPIRE", "k", "1500"], ":1\r\n");
    // 1500 ms (or a few less) rounds to 1 or 2: 1499.x → 1, exactly 1500 → 2.
    let t = int_reply(&mut c, &["TTL", "k"]);
    assert!(t == 1 || t == 2, "{t}");
    // EXPIRETIME and PEXPIRETIME give the absolute deadline; the seconds round half up.
    c.expect(&["SET", "p", "1", "PXAT", "2000000000500"], "+OK\r\n");
    c.expect(&["EXPIRETIME", "p"], ":2000000001\r\n");
    c.expect(&["PEXPIRETIME", "p"], ":2000000000500\r\n");
    c.expect(&["SET", "p", "1", "PXAT", "2000000000499"], "+OK\r\n");
    c.expect(&["EXPIRETIME", "p"], ":2000000000\r\n");
    c.expect(&["SET", "p", "1", "EXAT", "2000000000"], "+OK\r\n");
    c.expect(&["EXPIRETIME", "p"], ":2000000000\r\n");
    c.expect(&["PEXPIRETIME", "p"], ":2000000000000\r\n");
    c.expect(&["EXPIREAT", "p", "3000000000"], ":1\r\n");
    c.expect(&["EXPIRETIME", "p"], ":3000000000\r\n");
    c.expect(&["PEXPIREAT", "p", "3000000000999"], ":1\r\n");
    c.expect(&["EXPIRETIME", "p"], ":3000000001\r\n");
    // PERSIST: 1 when a TTL was removed, 0 otherwise.
    c.expect(&["PERSIST", "p"], ":1\r\n");
    c.expect(&["TTL", "p"], ":-1\r\n");
    c.expect(&["EXPIRETIME", "p"], ":-1\r\n");
    c.expect(&["PERSIST", "p"], ":0\r\n");
    c.expect(&["PERSIST", "nokey"], ":0\r\n");
    c.expect(&["GET", "p"], "$1\r\n1\r\n");
    // The expire.tcl sequence {50 1 -1 foo}.
    c.expect(&["SET", "x", "foo"], "+OK\r\n");
    c.expect(&["EXPIRE", "x", "50"], ":1\r\n");
    c.expect(&["TTL", "x"], ":50\r\n");
    c.expect(&["PERSIST", "x"], ":1\r\n");
    c.expect(&["TTL", "x"], ":-1\r\n");
    c.expect(&["GET", "x"], "$3\r\nfoo\r\n");
    // RESP3 replies are the same integers.
    common::hello3(&mut c);
    c.expect(&["TTL", "nokey"], ":-2\r\n");
    c.expect(&["PTTL", "x"], ":-1\r\n");
    c.expect(&["EXPIRE", "x", "100"], ":1\r\n");
    c.expect(&["TTL", "x"], ":100\r\n");
    c.expect(&["PERSIST", "x"], ":1\r\n");
}

/// Every command sees an expired key as missing. Deadlines in the past (`PXAT 1`, `EXPIREAT
/// k 1`, a past `PEXPIREAT`) test this without waiting.
#[test]
fn expired_keys_are_invisible() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "live", "1"], "+OK\r\n");
    c.expect(&["SET", "gone", "v", "PXAT", "1"], "+OK\r\n");
    c.expect(&["SET", "gone2", "v"], "+OK\r\n");
    c.expect(&["EXPIREAT", "gone2", "1"], ":1\r\n");
    c.expect(&["SET", "gone3", "v", "EX", "100"], "+OK\r\n");
    c.expect(&["PEXPIREAT", "gone3", &(now_ms() - 1).to_string()], ":1\r\n");
    c.expect(&["SET", "gone4", "v", "EXAT", "1"], "+OK\r\n");
    c.expect(&["GETEX", "live", "PX", "100000"], "$1\r\n1\r\n");
    c.expect(&["SET", "gone5", "v"], "+OK\r\n");
    c.expect(&["GETEX", "gone5", "PXAT", "1"], "$1\r\nv\r\n");
    for k in ["gone", "gone2", "gone3", "gone4", "gone5"] {
        c.expect(&["GET", k], "$-1\r\n");
        c.expect(&["EXISTS", k], ":0\r\n");
        c.expect(&["TTL", k], ":-2\r\n");
        c.expect(&["PTTL", k], ":-2\r\n");
        c.expect(&["EXPIRETIME", k], ":-2\r\n");
        c.expect(&["PEXPIRETIME", k], ":-2\r\n");
        c.expect(&["TYPE", k], "+none\r\n");
        c.expect(&["STRLEN", k], ":0\r\n");
        c.expect(&["GETRANGE", k, "0", "-1"], "$0\r\n\r\n");
        c.expect(&["GETDEL", k], "$-1\r\n");
        c.expect(&["GETEX", k, "PERSIST"], "$-1\r\n");
        c.expect(&["MGET", k, "live"], "*2\r\n$-1\r\n$1\r\n1\r\n");
        c.expect(&["TOUCH", k], ":0\r\n");
        c.expect(&["RENAME", k, "x"], "-ERR no such key\r\n");
        c.expect(&["RENAMENX", k, "x"], "-ERR no such key\r\n");
        c.expect(&["COPY", k, "x"], ":0\r\n");
        c.expect(&["MOVE", k, "1"], ":0\r\n");
        c.expect(&["PERSIST", k], ":0\r\n");
        c.expect(&["EXPIRE", k, "100"], ":0\r\n");
        c.expect(&["PEXPIRE", k, "100", "LT"], ":0\r\n");
        c.expect(&["DEL", k], ":0\r\n");
        c.expect(&["UNLINK", k], ":0\r\n");
        c.expect(&["EXISTS", "x"], ":0\r\n");
    }
    c.expect(&["KEYS", "*"], "*1\r\n$4\r\nlive\r\n");
    c.expect(&["KEYS", "gone*"], "*0\r\n");
    c.expect(&["SCAN", "0", "COUNT", "1000"], "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nlive\r\n");
    c.expect(
        &["SCAN", "0", "MATCH", "gone*", "COUNT", "1000"],
        "*2\r\n$1\r\n0\r\n*0\r\n",
    );
    c.expect(&["RANDOMKEY"], "$4\r\nlive\r\n");
    c.expect(&["DBSIZE"], ":1\r\n");
    // Writes start from nothing: the old value and TTL are gone.
    c.expect(&["SET", "w", "5", "PXAT", "1"], "+OK\r\n");
    c.expect(&["INCR", "w"], ":1\r\n");
    c.expect(&["TTL", "w"], ":-1\r\n");
    c.expect(&["SET", "w", "abc", "PXAT", "1"], "+OK\r\n");
    c.expect(&["APPEND", "w", "x"], ":1\r\n");
    c.expect(&["SET", "w", "abc", "PXAT", "1"], "+OK\r\n");
    c.expect(&["SETNX", "w", "new"], ":1\r\n");
    c.expect(&["SET", "w", "abc", "PXAT", "1"], "+OK\r\n");
    c.expect(&["SET", "w", "new", "NX", "GET"], "$-1\r\n");
    c.expect(&["SET", "w", "abc", "PXAT", "1"], "+OK\r\n");
    c.expect(&["SET", "w", "z", "XX"], "$-1\r\n");
    c.expect(&["GET", "w"], "$-1\r\n");
    // A renamed or copied key onto an expired destination behaves as onto nothing.
    c.expect(&["SET", "dst", "old", "PXAT", "1"], "+OK\r\n");
    c.expect(&["RENAMENX", "live", "dst"], ":1\r\n");
    c.expect(&["SET", "dst2", "old", "PXAT", "1"], "+OK\r\n");
    c.expect(&["COPY", "dst", "dst2"], ":1\r\n");
    c.expect(&["MGET", "dst", "dst2"], "*2\r\n$1\r\n1\r\n$1\r\n1\r\n");
}

/// An expired key does not come back: EXPIRE on it is 0 and it stays missing (expire.tcl
/// "EXPIRE should not resurrect keys"). The wait polls PTTL; nothing sleeps a fixed time.
#[test]
fn expiry_does_not_resurrect() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "foo", "bar"], "+OK\r\n");
    c.expect(&["PEXPIRE", "foo", "30"], ":1\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while int_reply(&mut c, &["PTTL", "foo"]) != -2 {
        assert!(Instant::now() < deadline, "foo never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.expect(&["EXPIRE", "foo", "10"], ":0\r\n");
    c.expect(&["EXISTS", "foo"], ":0\r\n");
    c.expect(&["GET", "foo"], "$-1\r\n");
}

/// The reclaimer: 10,000 keys with PX 100 leave DBSIZE (which counts keys held in memory, as
/// in Redis) within 2 s, without any command touching them.
#[test]
fn reclaimer_empties_dbsize() {
    let s = Server::start();
    let mut c = s.raw();
    // Pipelined in batches of 1000, so neither side's socket buffer can fill up.
    for batch in 0..10 {
        let mut wire = Vec::new();
        for i in batch * 1000..(batch + 1) * 1000 {
            let k = format!("key:{i}");
            wire.extend(common::resp(&[b"SET", k.as_bytes(), b"v", b"PX", b"100"]));
        }
        c.send(&wire);
        assert_eq!(c.read_replies(1000), b"+OK\r\n".repeat(1000));
    }
    c.expect(&["SET", "keep", "v"], "+OK\r\n");
    c.expect(&["SET", "later", "v", "EX", "1000"], "+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let n = int_reply(&mut c, &["DBSIZE"]);
        if n == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "DBSIZE still {n} after 2 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    c.expect(&["DBSIZE"], ":2\r\n");
    let keys = String::from_utf8(c.cmd(&["KEYS", "*"])).unwrap();
    assert!(
        keys == "*2\r\n$5\r\nlater\r\n$4\r\nkeep\r\n" || keys == "*2\r\n$4\r\nkeep\r\n$5\r\nlater\r\n",
        "{keys:?}"
    );
    c.expect(&["TTL", "later"], ":1000\r\n");
}

#[test]
fn info_keyspace_line() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["INFO", "keyspace"], "$12\r\n# Keyspace\r\n\r\n");
    c.expect(&["MSET", "a", "1", "b", "2"], "+OK\r\n");
    c.expect(&["SELECT", "3"], "+OK\r\n");
    c.expect(&["SET", "c", "1"], "+OK\r\n");
    c.expect(
        &["INFO", "keyspace"],
        "$76\r\n# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n\r\n",
    );
    // With a volatile key, avg_ttl is an estimate in milliseconds (Redis's comes from active
    // expiry sampling): check the line's shape and that the value is a plausible TTL.
    c.expect(&["SET", "v", "1", "EX", "100"], "+OK\r\n");
    let info = String::from_utf8(c.cmd(&["INFO", "keyspace"])).unwrap();
    let line = info.lines().find(|l| l.starts_with("db3:")).unwrap();
    let avg: i64 = line
        .strip_prefix("db3:keys=2,expires=1,avg_ttl=")
        .unwrap_or_else(|| panic!("{line:?}"))
        .parse()
        .unwrap();
    assert!((0..=100_000).contains(&avg), "{avg}");
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["INFO", "keyspace"], "$12\r\n# Keyspace\r\n\r\n");
    // RESP3: verbatim text.
    common::hello3(&mut c);
    c.expect(&["SET", "a", "1"], "+OK\r\n");
    c.expect(&["SET", "b", "1"], "+OK\r\n");
    c.expect(&["MSET", "c", "1", "d", "1"], "+OK\r\n");
    c.expect(&["SELECT", "0"], "+OK\r\n");
    c.expect(&["SWAPDB", "0", "3"], "+OK\r\n");
    c.expect(
        &["INFO", "keyspace"],
        "=48\r\ntxt:# Keyspace\r\ndb0:keys=4,expires=0,avg_ttl=0\r\n\r\n",
    );
}

#[test]
fn pipelined_and_inline() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(b"SET k v\r\nEXPIRE k 100 NX\r\nEXPIRE k 50 NX\r\nTTL k\r\nPERSIST k\r\nTTL k\r\nEXPIRE k 1 FOO\r\nPEXPIREAT k 1\r\nPTTL k\r\n");
    let got = c.read_replies(9);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+OK\r\n:1\r\n:0\r\n:100\r\n:1\r\n:-1\r\n-ERR Unsupported option FOO\r\n:1\r\n:-2\r\n"
    );
    let mut wire = Vec::new();
    for cmd in [
        &[&b"SET"[..], b"k", b"v"][..],
        &[b"PEXPIRE", b"k", b"100000", b"GT"],
        &[b"PEXPIRE", b"k", b"100000", b"LT"],
        &[b"EXPIRETIME", b"k"],
        &[b"EXPIRE", b"k", b"9223372036854776"],
        &[b"EXPIRE", b"k", b"100", b"NX", b"XX"],
    ] {
        wire.extend(common::resp(cmd));
    }
    c.send(&wire);
    let got = String::from_utf8(c.read_replies(6)).unwrap();
    let parts: Vec<&str> = got.split_inclusive("\r\n").collect();
    assert_eq!(parts[..3], ["+OK\r\n", ":0\r\n", ":1\r\n"]);
    let at: i64 = parts[3][1..parts[3].len() - 2].parse().unwrap();
    assert!((at - (now_ms() + 100_000) / 1000).abs() <= 2, "{at}");
    assert_eq!(parts[4], invalid("expire"));
    assert_eq!(parts[5], NX_ERR);
}
