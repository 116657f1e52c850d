//! String commands, byte for byte against Redis 7.0.15 (t_string.c and the cases of Redis's own
//! tests/unit/type/string.tcl and incr.tcl). Every expected reply here was checked against a
//! real redis-server 7.0.15. Expiry is tested with deadlines in the past (PXAT 1, EXAT 1) or
//! far in the future (read back exactly with PEXPIRETIME), never by waiting.

mod common;
use common::{arity, bulk, resp, Raw, Server};

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";
const EMPTY: &str = "$0\r\n\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const NAN_INF: &str = "-ERR increment would produce NaN or Infinity\r\n";
const OVERFLOW: &str = "-ERR increment or decrement would overflow\r\n";
const TOO_BIG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
const OFFSET: &str = "-ERR offset is out of range\r\n";

/// A deadline far in the future (2100-01-01), in unix milliseconds and seconds.
const FAR_MS: &str = "4102444800000";
const FAR_S: &str = "4102444800";

fn int(n: i64) -> String {
    format!(":{}\r\n", n)
}

fn bad_expire(cmd: &str) -> String {
    format!("-ERR invalid expire time in '{}' command\r\n", cmd)
}

/// Sends binary arguments and asserts the reply bytes.
#[track_caller]
fn expect_bin(c: &mut Raw, args: &[&[u8]], reply: &[u8]) {
    let got = c.cmd_bytes(args);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(reply),
        "reply to {:?}",
        args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>()
    );
}

/// Sends raw bytes (inline commands, pipelines) and asserts the next `n` replies.
#[track_caller]
fn send_expect(c: &mut Raw, bytes: &[u8], n: usize, want: &[u8]) {
    c.send(bytes);
    let got = c.read_replies(n);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "replies to {:?}",
        String::from_utf8_lossy(bytes)
    );
}

/// Asserts a TTL reply that may have ticked down by one while the test ran: one of the exact
/// replies in `allowed`.
#[track_caller]
fn expect_one_of(c: &mut Raw, args: &[&str], allowed: &[&str]) {
    let got = String::from_utf8_lossy(&c.cmd(args)).into_owned();
    assert!(allowed.contains(&got.as_str()), "reply to {:?}: {:?}", args, got);
}

#[test]
fn arity_errors() {
    let s = Server::start();
    let mut c = s.raw();
    let cases: &[(&str, &[&[&str]])] = &[
        ("get", &[&[], &["k", "x"]]),
        ("set", &[&[], &["k"]]),
        ("setnx", &[&["k"], &["k", "v", "x"]]),
        ("setex", &[&["k", "10"], &["k", "10", "v", "x"]]),
        ("psetex", &[&["k", "10"], &["k", "10", "v", "x"]]),
        ("getex", &[&[]]),
        ("getdel", &[&[], &["k", "x"]]),
        ("getset", &[&["k"], &["k", "v", "x"]]),
        ("mget", &[&[]]),
        ("mset", &[&[], &["k"], &["k", "v", "k2"]]),
        ("msetnx", &[&[], &["k"], &["k", "v", "k2"]]),
        ("append", &[&["k"], &["k", "v", "x"]]),
        ("strlen", &[&[], &["k", "x"]]),
        ("getrange", &[&["k", "0"], &["k", "0", "1", "x"]]),
        ("substr", &[&["k", "0"], &["k", "0", "1", "x"]]),
        ("setrange", &[&["k", "0"], &["k", "0", "v", "x"]]),
        ("incr", &[&[], &["k", "x"]]),
        ("decr", &[&[], &["k", "x"]]),
        ("incrby", &[&["k"], &["k", "1", "x"]]),
        ("decrby", &[&["k"], &["k", "1", "x"]]),
        ("incrbyfloat", &[&["k"], &["k", "1", "x"]]),
    ];
    for (cmd, bad) in cases {
        for args in bad.iter() {
            let mut argv = vec![*cmd];
            argv.extend_from_slice(args);
            c.expect(&argv, &arity(cmd));
            // The name is matched case-insensitively; the error always names it in lowercase.
            let upper = cmd.to_ascii_uppercase();
            argv[0] = &upper;
            c.expect(&argv, &arity(cmd));
        }
    }
    // Nothing was created by the refused commands.
    c.expect(&["DBSIZE"], ":0\r\n");
    c.expect(&["GeT", "k"], NIL);
}

#[test]
fn get_and_set_basics() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["GET", "k"], NIL);
    c.expect(&["SET", "k", "v"], OK);
    c.expect(&["GET", "k"], &bulk("v"));
    c.expect(&["SET", "k", ""], OK);
    c.expect(&["GET", "k"], EMPTY);
    // Binary-safe keys and values.
    expect_bin(&mut c, &[b"SET", b"k\0\r\n", b"\0\xff\r\n"], b"+OK\r\n");
    expect_bin(&mut c, &[b"GET", b"k\0\r\n"], b"$4\r\n\0\xff\r\n\r\n");
    expect_bin(&mut c, &[b"GET", b"k\0"], b"$-1\r\n");
    // A value of integer form stays text.
    c.expect(&["SET", "n", "-0"], OK);
    c.expect(&["GET", "n"], &bulk("-0"));
    c.expect(&["SET", "n", "007"], OK);
    c.expect(&["GET", "n"], &bulk("007"));
    // string.tcl "SET/GET keys in different DBs".
    c.expect(&["SET", "a", "hello"], OK);
    c.expect(&["SELECT", "9"], OK);
    c.expect(&["GET", "a"], NIL);
    c.expect(&["SET", "a", "world"], OK);
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["GET", "a"], &bulk("hello"));
    let big = "x".repeat(100_000);
    c.expect(&["SET", "big", &big], OK);
    c.expect(&["GET", "big"], &bulk(&big));
}

#[test]
fn set_nx_xx_get() {
    let s = Server::start();
    let mut c = s.raw();
    // string.tcl "SET with NX / XX / GET".
    c.expect(&["SET", "foo", "1", "NX"], OK);
    c.expect(&["SET", "foo", "2", "nx"], NIL);
    c.expect(&["GET", "foo"], &bulk("1"));
    c.expect(&["SET", "bar", "1", "XX"], NIL);
    c.expect(&["EXISTS", "bar"], ":0\r\n");
    c.expect(&["SET", "foo", "2", "xx"], OK);
    c.expect(&["GET", "foo"], &bulk("2"));
    c.expect(&["SET", "foo", "bar"], OK);
    c.expect(&["SET", "foo", "bar2", "GET"], &bulk("bar"));
    c.expect(&["GET", "foo"], &bulk("bar2"));
    // GET on a missing key: null, and the value is set.
    c.expect(&["SET", "new", "v", "GET"], NIL);
    c.expect(&["GET", "new"], &bulk("v"));
    // GET XX on a missing key: null, still missing.
    c.expect(&["SET", "gx", "v", "GET", "XX"], NIL);
    c.expect(&["EXISTS", "gx"], ":0\r\n");
    // GET NX on an existing key: the old value, unchanged.
    c.expect(&["SET", "foo", "other", "NX", "GET"], &bulk("bar2"));
    c.expect(&["GET", "foo"], &bulk("bar2"));
    // GET XX on an existing key: the old value, and the new one is set.
    c.expect(&["SET", "foo", "third", "XX", "GET"], &bulk("bar2"));
    c.expect(&["GET", "foo"], &bulk("third"));
    // GET NX on a missing key: null, and the key is created.
    c.expect(&["SET", "gn", "v", "GET", "NX"], NIL);
    c.expect(&["GET", "gn"], &bulk("v"));
    // Repeating a flag is allowed.
    c.expect(&["SET", "foo", "a", "get", "get"], &bulk("third"));
    c.expect(&["SET", "foo", "b", "xx", "xx"], OK);
    c.expect(&["SET", "foo", "c", "NX", "nx"], NIL);
    c.expect(&["SET", "foo", "d", "keepttl", "KEEPTTL"], OK);
    c.expect(&["GET", "foo"], &bulk("d"));
}

#[test]
fn set_option_conflicts() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "foo", "old"], OK);
    let bad: &[&[&str]] = &[
        &["nx", "xx"],
        &["xx", "nx"],
        &["ex", "10", "px", "100"],
        &["px", "100", "ex", "10"],
        &["ex", "10", "exat", FAR_S],
        &["EXAT", "10", "EX", "10"],
        &["pxat", FAR_MS, "exat", FAR_S],
        &["px", "10", "pxat", FAR_MS],
        &["keepttl", "ex", "10"],
        &["ex", "10", "keepttl"],
        &["pxat", FAR_MS, "keepttl"],
        &["ex"],
        &["px"],
        &["exat"],
        &["pxat"],
        &["nx", "ex"],
        &["persist"],
        &["bogus"],
        &["get", "bogus"],
        &["nxx"],
        &["n"],
        &[""],
        // A syntax error is found before the expire time is read.
        &["ex", "abc", "bogus"],
        &["ex", "abc", "px", "10"],
        &["ex", "0", "nx", "xx"],
    ];
    for opts in bad {
        let mut argv = vec!["SET", "foo", "new"];
        argv.extend_from_slice(opts);
        c.expect(&argv, SYNTAX);
    }
    c.expect(&["GET", "foo"], &bulk("old"));
    // Redis compares these options as C strings: an embedded NUL ends the name.
    expect_bin(&mut c, &[b"SET", b"foo", b"n1", b"get\0junk"], b"$3\r\nold\r\n");
    expect_bin(&mut c, &[b"SET", b"foo", b"n2", b"nx\0"], b"$-1\r\n");
    expect_bin(&mut c, &[b"SET", b"foo", b"n3", b"keepttl\0x"], b"+OK\r\n");
    expect_bin(
        &mut c,
        &[b"SET", b"foo", b"n4", b"pxat\0", FAR_MS.as_bytes()],
        b"+OK\r\n",
    );
    c.expect(&["PEXPIRETIME", "foo"], &int(4102444800000));
    expect_bin(&mut c, &[b"SET", b"foo", b"n5", b"\0nx"], b"-ERR syntax error\r\n");
    c.expect(&["GET", "foo"], &bulk("n4"));
}

#[test]
fn set_expire_time_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "foo", "old"], OK);
    for opts in [
        ["ex", "0"],
        ["ex", "-1"],
        ["px", "0"],
        ["px", "-100"],
        ["exat", "0"],
        ["pxat", "0"],
        ["exat", "-1"],
        ["ex", "9223372036854775807"],
        ["px", "9223372036854775807"],
        ["exat", "9223372036854776"],
        // expire.tcl: EX beyond the range that milliseconds can hold.
        ["EX", "10000000000000000"],
        ["EX", "-9999999999999999"],
        // In range for *1000, but adding the current time overflows.
        ["ex", "9223372036854775"],
        ["px", "9223372036854775000"],
    ] {
        c.expect(&["SET", "foo", "new", opts[0], opts[1]], &bad_expire("set"));
    }
    for v in [
        "abc",
        "1.5",
        "",
        " 1",
        "1 ",
        "+1",
        "01",
        "9223372036854775808",
        "-9223372036854775809",
    ] {
        c.expect(&["SET", "foo", "new", "EX", v], NOT_INT);
        c.expect(&["SET", "foo", "new", "PXAT", v], NOT_INT);
    }
    // The expire time is checked before NX/XX/GET act.
    c.expect(&["SET", "foo", "new", "xx", "ex", "abc"], NOT_INT);
    c.expect(&["SET", "foo", "new", "get", "px", "0"], &bad_expire("set"));
    c.expect(&["SET", "nokey", "new", "nx", "ex", "0"], &bad_expire("set"));
    c.expect(&["GET", "foo"], &bulk("old"));
    c.expect(&["EXISTS", "nokey"], ":0\r\n");
    // The largest accepted absolute times.
    c.expect(&["SET", "foo", "bar", "exat", "9223372036854775"], OK);
    c.expect(&["PEXPIRETIME", "foo"], &int(9223372036854775000));
    c.expect(&["SET", "foo", "bar", "pxat", "9223372036854775807"], OK);
    c.expect(&["PEXPIRETIME", "foo"], &int(9223372036854775807));
    // The same flag twice: the last value wins.
    c.expect(&["SET", "foo", "bar", "px", "10", "px", "abc"], NOT_INT);
    c.expect(&["SET", "foo", "bar", "pxat", "1", "pxat", FAR_MS], OK);
    c.expect(&["PEXPIRETIME", "foo"], &int(4102444800000));
    c.expect(&["SET", "foo", "bar", "ex", "10", "ex", "0"], &bad_expire("set"));
}

#[test]
fn set_expiry_and_keepttl() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "k", "v", "PXAT", FAR_MS], OK);
    c.expect(&["PEXPIRETIME", "k"], &int(4102444800000));
    c.expect(&["SET", "k", "v", "EXAT", "4102444801"], OK);
    c.expect(&["PEXPIRETIME", "k"], &int(4102444801000));
    c.expect(&["EXPIRETIME", "k"], &int(4102444801));
    // KEEPTTL keeps it; a plain SET drops it.
    c.expect(&["SET", "k", "v2", "KEEPTTL"], OK);
    c.expect(&["PEXPIRETIME", "k"], &int(4102444801000));
    c.expect(&["SET", "k", "v3", "KEEPTTL", "GET"], &bulk("v2"));
    c.expect(&["PEXPIRETIME", "k"], &int(4102444801000));
    c.expect(&["SET", "k", "v4", "XX", "GET"], &bulk("v3"));
    c.expect(&["TTL", "k"], ":-1\r\n");
    // KEEPTTL on a new key: no TTL.
    c.expect(&["SET", "fresh", "v", "KEEPTTL"], OK);
    c.expect(&["TTL", "fresh"], ":-1\r\n");
    // Relative times (TTL is rounded: it reads 1000 unless half a second went by).
    c.expect(&["SET", "k", "v", "EX", "1000"], OK);
    expect_one_of(&mut c, &["TTL", "k"], &[":1000\r\n", ":999\r\n"]);
    c.expect(&["SET", "k", "v", "xx", "PX", "1000000"], OK);
    expect_one_of(&mut c, &["TTL", "k"], &[":1000\r\n", ":999\r\n"]);
    // A deadline in the past: +OK, and the key is gone at once.
    c.expect(&["SET", "a", "1", "PXAT", "1"], OK);
    c.expect(&["GET", "a"], NIL);
    c.expect(&["EXISTS", "a"], ":0\r\n");
    c.expect(&["SET", "a", "1"], OK);
    c.expect(&["SET", "a", "2", "EXAT", "1", "GET"], &bulk("1"));
    c.expect(&["GET", "a"], NIL);
    c.expect(&["SET", "a", "1"], OK);
    c.expect(&["SET", "a", "2", "PXAT", "1", "NX"], NIL);
    c.expect(&["GET", "a"], &bulk("1"));
    c.expect(&["SET", "a", "2", "PXAT", "1", "XX"], OK);
    c.expect(&["GET", "a"], NIL);
    // An expired key counts as missing for NX and XX.
    c.expect(&["SET", "a", "3", "XX"], NIL);
    c.expect(&["SET", "a", "3", "NX"], OK);
    c.expect(&["GET", "a"], &bulk("3"));
}

#[test]
fn setnx_setex_psetex() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SETNX", "a", "1"], ":1\r\n");
    c.expect(&["SETNX", "a", "2"], ":0\r\n");
    c.expect(&["GET", "a"], &bulk("1"));
    // SETNX against an expired key sets it.
    c.expect(&["SET", "x", "old", "PX", "100000"], OK);
    c.expect(&["PEXPIREAT", "x", "1"], ":1\r\n");
    c.expect(&["SETNX", "x", "new"], ":1\r\n");
    c.expect(&["GET", "x"], &bulk("new"));
    c.expect(&["TTL", "x"], ":-1\r\n");

    c.expect(&["SETEX", "a", "0", "v"], &bad_expire("setex"));
    c.expect(&["SETEX", "a", "-1", "v"], &bad_expire("setex"));
    c.expect(&["SETEX", "a", "9223372036854775807", "v"], &bad_expire("setex"));
    c.expect(&["SETEX", "a", "abc", "v"], NOT_INT);
    c.expect(&["SETEX", "a", "1.5", "v"], NOT_INT);
    c.expect(&["GET", "a"], &bulk("1"));
    c.expect(&["SETEX", "a", "1000", "v"], OK);
    c.expect(&["GET", "a"], &bulk("v"));
    expect_one_of(&mut c, &["TTL", "a"], &[":1000\r\n", ":999\r\n"]);

    c.expect(&["PSETEX", "b", "0", "v"], &bad_expire("psetex"));
    c.expect(&["PSETEX", "b", "-5", "v"], &bad_expire("psetex"));
    c.expect(&["PSETEX", "b", "9223372036854775807", "v"], &bad_expire("psetex"));
    c.expect(&["PSETEX", "b", "abc", "v"], NOT_INT);
    c.expect(&["EXISTS", "b"], ":0\r\n");
    c.expect(&["PSETEX", "b", "1000000", "v"], OK);
    c.expect(&["GET", "b"], &bulk("v"));
    expect_one_of(&mut c, &["TTL", "b"], &[":1000\r\n", ":999\r\n"]);
    // A SETEX over a key replaces its TTL.
    c.expect(&["SET", "c", "v", "PXAT", FAR_MS], OK);
    c.expect(&["SETEX", "c", "1000", "w"], OK);
    expect_one_of(&mut c, &["TTL", "c"], &[":1000\r\n", ":999\r\n"]);
}

#[test]
fn getex() {
    let s = Server::start();
    let mut c = s.raw();
    // A missing key is null even with a bad expire value.
    c.expect(&["GETEX", "nokey"], NIL);
    c.expect(&["GETEX", "nokey", "EX", "abc"], NIL);
    c.expect(&["GETEX", "nokey", "PX", "0"], NIL);
    c.expect(&["GETEX", "nokey", "EXAT", "1"], NIL);
    // ...but not with bad syntax.
    c.expect(&["GETEX", "nokey", "bogus"], SYNTAX);
    c.expect(&["SET", "foo", "bar"], OK);
    for opts in [
        &["non-existent-option"][..],
        &["nx"],
        &["xx"],
        &["get"],
        &["keepttl"],
        &["persist", "ex", "10"],
        &["ex", "10", "persist"],
        &["ex", "10", "px", "10"],
        &["pxat", FAR_MS, "exat", FAR_S],
        &["ex"],
        &["pxat"],
        &["ex", "abc", "persist"],
    ] {
        let mut argv = vec!["GETEX", "foo"];
        argv.extend_from_slice(opts);
        c.expect(&argv, SYNTAX);
    }
    for opts in [
        ["px", "0"],
        ["ex", "-5"],
        ["exat", "9223372036854775807"],
        ["EX", "10000000000000000"],
        ["EX", "-9999999999999999"],
        ["ex", "9223372036854775"],
    ] {
        c.expect(&["GETEX", "foo", opts[0], opts[1]], &bad_expire("getex"));
    }
    c.expect(&["GETEX", "foo", "ex", "abc"], NOT_INT);
    c.expect(&["TTL", "foo"], ":-1\r\n");
    // No option: the value, nothing changes.
    c.expect(&["GETEX", "foo"], &bulk("bar"));
    c.expect(&["TTL", "foo"], ":-1\r\n");
    c.expect(&["GETEX", "foo", "PXAT", FAR_MS], &bulk("bar"));
    c.expect(&["PEXPIRETIME", "foo"], &int(4102444800000));
    c.expect(&["GETEX", "foo"], &bulk("bar"));
    c.expect(&["PEXPIRETIME", "foo"], &int(4102444800000));
    c.expect(&["GETEX", "foo", "exat", "4102444801"], &bulk("bar"));
    c.expect(&["PEXPIRETIME", "foo"], &int(4102444801000));
    c.expect(&["GETEX", "foo", "pxat", "9223372036854775807"], &bulk("bar"));
    c.expect(&["PEXPIRETIME", "foo"], &int(9223372036854775807));
    c.expect(&["GETEX", "foo", "EX", "1000"], &bulk("bar"));
    expect_one_of(&mut c, &["TTL", "foo"], &[":1000\r\n", ":999\r\n"]);
    c.expect(&["GETEX", "foo", "px", "1000000", "px", "2000000"], &bulk("bar"));
    expect_one_of(&mut c, &["TTL", "foo"], &[":2000\r\n", ":1999\r\n"]);
    // string.tcl: GETEX PERSIST.
    c.expect(&["GETEX", "foo", "PERSIST"], &bulk("bar"));
    c.expect(&["TTL", "foo"], ":-1\r\n");
    c.expect(&["GETEX", "foo", "persist", "persist"], &bulk("bar"));
    c.expect(&["GETEX", "foo", "ex", "10", "ex", "10"], &bulk("bar"));
    // A past absolute time: the value, then the key is gone.
    c.expect(&["GETEX", "foo", "EXAT", "1"], &bulk("bar"));
    c.expect(&["EXISTS", "foo"], ":0\r\n");
    c.expect(&["SET", "foo", "baz"], OK);
    c.expect(&["GETEX", "foo", "pxat", "1"], &bulk("baz"));
    c.expect(&["GET", "foo"], NIL);
    // Embedded NUL ends an option name, as in SET.
    c.expect(&["SET", "foo", "bar", "PXAT", FAR_MS], OK);
    expect_bin(&mut c, &[b"GETEX", b"foo", b"persist\0"], b"$3\r\nbar\r\n");
    c.expect(&["TTL", "foo"], ":-1\r\n");
}

#[test]
fn getdel_getset() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["GETDEL", "foo"], NIL);
    c.expect(&["SET", "foo", "bar", "PXAT", FAR_MS], OK);
    c.expect(&["GETDEL", "foo"], &bulk("bar"));
    c.expect(&["GETDEL", "foo"], NIL);
    c.expect(&["EXISTS", "foo"], ":0\r\n");
    c.expect(&["SET", "gone", "v", "PXAT", "1"], OK);
    c.expect(&["GETDEL", "gone"], NIL);

    c.expect(&["GETSET", "foo", "xyz"], NIL);
    c.expect(&["GET", "foo"], &bulk("xyz"));
    c.expect(&["PEXPIREAT", "foo", FAR_MS], ":1\r\n");
    c.expect(&["GETSET", "foo", "bar"], &bulk("xyz"));
    c.expect(&["GET", "foo"], &bulk("bar"));
    // GETSET clears the TTL.
    c.expect(&["TTL", "foo"], ":-1\r\n");
    c.expect(&["GETSET", "foo", ""], &bulk("bar"));
    c.expect(&["GETSET", "foo", "z"], EMPTY);
}

#[test]
fn mget_mset_msetnx() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["MSET", "foo", "BAR", "bar", "FOO"], OK);
    c.expect(
        &["MGET", "foo", "baazz", "bar", "foo"],
        "*4\r\n$3\r\nBAR\r\n$-1\r\n$3\r\nFOO\r\n$3\r\nBAR\r\n",
    );
    c.expect(&["MGET", "nokey"], "*1\r\n$-1\r\n");
    c.expect(&["SET", "gone", "v", "PXAT", "1"], OK);
    c.expect(&["MGET", "gone", "foo"], "*2\r\n$-1\r\n$3\r\nBAR\r\n");
    // MSET drops TTLs; for a repeated key the last value wins.
    c.expect(&["SET", "a", "v", "PXAT", FAR_MS], OK);
    c.expect(&["MSET", "a", "1", "b", "2", "a", "3"], OK);
    c.expect(&["MGET", "a", "b"], "*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    c.expect(&["TTL", "a"], ":-1\r\n");
    // An odd count is the arity error, named for the command; nothing is set.
    c.expect(&["MSET", "x", "1", "y"], &arity("mset"));
    c.expect(&["MSETNX", "x", "1", "y"], &arity("msetnx"));
    c.expect(&["EXISTS", "x", "y"], ":0\r\n");
    // string.tcl: MSETNX with an already existing key sets nothing.
    c.expect(&["SET", "x", "20"], OK);
    c.expect(&["MSETNX", "x1", "xxx", "y2", "yyy", "x", "20"], ":0\r\n");
    c.expect(&["EXISTS", "x1", "y2"], ":0\r\n");
    c.expect(&["MSETNX", "x1", "xxx", "x1", "yyy"], ":1\r\n");
    c.expect(&["GET", "x1"], &bulk("yyy"));
    c.expect(&["MSETNX", "x1", "xxx", "x1", "zzz"], ":0\r\n");
    c.expect(&["GET", "x1"], &bulk("yyy"));
    c.expect(&["MSETNX", "x2", "xxx", "y2", "yyy"], ":1\r\n");
    c.expect(&["MGET", "x2", "y2"], "*2\r\n$3\r\nxxx\r\n$3\r\nyyy\r\n");
    // An expired key does not block MSETNX.
    c.expect(&["MSETNX", "gone", "back"], ":1\r\n");
    c.expect(&["GET", "gone"], &bulk("back"));
}

#[test]
fn append_strlen() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["STRLEN", "foo"], ":0\r\n");
    c.expect(&["APPEND", "foo", "bar"], ":3\r\n");
    c.expect(&["APPEND", "foo", "100"], ":6\r\n");
    c.expect(&["GET", "foo"], &bulk("bar100"));
    c.expect(&["STRLEN", "foo"], ":6\r\n");
    c.expect(&["APPEND", "foo", ""], ":6\r\n");
    c.expect(&["APPEND", "empty", ""], ":0\r\n");
    c.expect(&["EXISTS", "empty"], ":1\r\n");
    c.expect(&["SET", "n", "1"], OK);
    c.expect(&["APPEND", "n", "2"], ":2\r\n");
    c.expect(&["GET", "n"], &bulk("12"));
    c.expect(&["SET", "n", "-555"], OK);
    c.expect(&["STRLEN", "n"], ":4\r\n");
    expect_bin(&mut c, &[b"APPEND", b"bin", b"\0\r\n"], b":3\r\n");
    expect_bin(&mut c, &[b"APPEND", b"bin", b"\xff"], b":4\r\n");
    expect_bin(&mut c, &[b"GET", b"bin"], b"$4\r\n\0\r\n\xff\r\n");
    // APPEND keeps the TTL.
    c.expect(&["SET", "t", "a", "PXAT", FAR_MS], OK);
    c.expect(&["APPEND", "t", "b"], ":2\r\n");
    c.expect(&["PEXPIRETIME", "t"], &int(4102444800000));
    // An expired key is missing: APPEND starts over, with no TTL.
    c.expect(&["SET", "gone", "old", "PXAT", "1"], OK);
    c.expect(&["STRLEN", "gone"], ":0\r\n");
    c.expect(&["APPEND", "gone", "new"], ":3\r\n");
    c.expect(&["GET", "gone"], &bulk("new"));
    c.expect(&["TTL", "gone"], ":-1\r\n");
}

#[test]
fn append_size_limit() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "SET", "proto-max-bulk-len", "1048576"], OK);
    let half = "x".repeat(524_288);
    c.expect(&["APPEND", "k", &half], ":524288\r\n");
    c.expect(&["APPEND", "k", &half], ":1048576\r\n");
    c.expect(&["APPEND", "k", "y"], TOO_BIG);
    c.expect(&["APPEND", "k", ""], ":1048576\r\n");
    c.expect(&["STRLEN", "k"], ":1048576\r\n");
}

#[test]
fn getrange_substr() {
    let s = Server::start();
    let mut c = s.raw();
    // Indexes are read before the key: a bad one is an error even for a missing key.
    c.expect(&["GETRANGE", "nokey", "a", "-1"], NOT_INT);
    c.expect(&["GETRANGE", "nokey", "0", "1.5"], NOT_INT);
    c.expect(&["GETRANGE", "nokey", "0", "-1"], EMPTY);
    c.expect(&["SUBSTR", "nokey", "0", "-1"], EMPTY);
    c.expect(&["SET", "foo", "Hello World"], OK);
    for (cmd, a, b, want) in [
        ("GETRANGE", "0", "3", "Hell"),
        ("GETRANGE", "0", "-1", "Hello World"),
        ("GETRANGE", "-4", "-1", "orld"),
        ("GETRANGE", "5", "3", ""),
        ("GETRANGE", "5", "5000", " World"),
        ("GETRANGE", "-5000", "10000", "Hello World"),
        ("GETRANGE", "-1", "-5", ""),
        ("GETRANGE", "-1", "-1", "d"),
        ("GETRANGE", "0", "0", "H"),
        ("GETRANGE", "10", "10", "d"),
        ("GETRANGE", "11", "20", ""),
        ("GETRANGE", "-9223372036854775808", "9223372036854775807", "Hello World"),
        ("GETRANGE", "9223372036854775807", "-9223372036854775808", ""),
        ("GETRANGE", "-9223372036854775808", "-9223372036854775808", "H"),
        ("SUBSTR", "0", "3", "Hell"),
        ("SUBSTR", "-4", "-1", "orld"),
        ("SUBSTR", "5", "3", ""),
        ("SUBSTR", "-5000", "10000", "Hello World"),
    ] {
        c.expect(&[cmd, "foo", a, b], &bulk(want));
    }
    c.expect(&["SET", "i", "1234"], OK);
    for (a, b, want) in [
        ("0", "2", "123"),
        ("-3", "-1", "234"),
        ("5", "3", ""),
        ("3", "5000", "4"),
        ("-5000", "10000", "1234"),
        // Both indexes clamp to 0.
        ("-100", "-50", "1"),
    ] {
        c.expect(&["GETRANGE", "i", a, b], &bulk(want));
    }
    c.expect(&["SET", "bar", "bar"], OK);
    c.expect(&["GETRANGE", "bar", "0", "4294967297"], &bulk("bar"));
    c.expect(&["SET", "e", ""], OK);
    c.expect(&["GETRANGE", "e", "0", "-1"], EMPTY);
    c.expect(&["GETRANGE", "e", "0", "0"], EMPTY);
    c.expect(&["GETRANGE", "e", "-1", "0"], EMPTY);
    expect_bin(&mut c, &[b"SET", b"b", b"a\0\r\nb"], b"+OK\r\n");
    expect_bin(&mut c, &[b"GETRANGE", b"b", b"1", b"3"], b"$3\r\n\0\r\n\r\n");
}

#[test]
fn setrange() {
    let s = Server::start();
    let mut c = s.raw();
    // string.tcl "SETRANGE against non-existing key".
    c.expect(&["SETRANGE", "mykey", "0", "foo"], ":3\r\n");
    c.expect(&["GET", "mykey"], &bulk("foo"));
    c.expect(&["DEL", "mykey"], ":1\r\n");
    c.expect(&["SETRANGE", "mykey", "0", ""], ":0\r\n");
    c.expect(&["EXISTS", "mykey"], ":0\r\n");
    c.expect(&["SETRANGE", "mykey", "1", "foo"], ":4\r\n");
    expect_bin(&mut c, &[b"GET", b"mykey"], b"$4\r\n\0foo\r\n");
    // "SETRANGE against string-encoded key".
    c.expect(&["SET", "mykey", "foo"], OK);
    c.expect(&["SETRANGE", "mykey", "0", "b"], ":3\r\n");
    c.expect(&["GET", "mykey"], &bulk("boo"));
    c.expect(&["SET", "mykey", "foo"], OK);
    c.expect(&["SETRANGE", "mykey", "0", ""], ":3\r\n");
    c.expect(&["GET", "mykey"], &bulk("foo"));
    c.expect(&["SETRANGE", "mykey", "1", "b"], ":3\r\n");
    c.expect(&["GET", "mykey"], &bulk("fbo"));
    c.expect(&["SET", "mykey", "foo"], OK);
    c.expect(&["SETRANGE", "mykey", "4", "bar"], ":7\r\n");
    expect_bin(&mut c, &[b"GET", b"mykey"], b"$7\r\nfoo\0bar\r\n");
    // "SETRANGE against integer-encoded key".
    c.expect(&["SET", "mykey", "1234"], OK);
    c.expect(&["SETRANGE", "mykey", "0", "2"], ":4\r\n");
    c.expect(&["GET", "mykey"], &bulk("2234"));
    c.expect(&["SET", "mykey", "1234"], OK);
    c.expect(&["SETRANGE", "mykey", "0", ""], ":4\r\n");
    c.expect(&["GET", "mykey"], &bulk("1234"));
    c.expect(&["SETRANGE", "mykey", "1", "3"], ":4\r\n");
    c.expect(&["GET", "mykey"], &bulk("1334"));
    c.expect(&["SET", "mykey", "1234"], OK);
    c.expect(&["SETRANGE", "mykey", "5", "2"], ":6\r\n");
    expect_bin(&mut c, &[b"GET", b"mykey"], b"$6\r\n1234\x002\r\n");
    // Offsets.
    c.expect(&["SETRANGE", "mykey", "-1", "world"], OFFSET);
    c.expect(&["SETRANGE", "mykey", "-1", ""], OFFSET);
    c.expect(&["SETRANGE", "nokey", "-1", ""], OFFSET);
    c.expect(&["SETRANGE", "nokey", "abc", "x"], NOT_INT);
    c.expect(&["SETRANGE", "nokey", "1.0", "x"], NOT_INT);
    // Huge offsets: the size error (Redis's checkStringLength, overflow-safe).
    c.expect(&["SETRANGE", "mykey", "536870908", "world"], TOO_BIG);
    c.expect(&["SETRANGE", "nokey", "536870908", "world"], TOO_BIG);
    c.expect(&["SETRANGE", "nokey", "9223372036854775807", "x"], TOO_BIG);
    c.expect(&["SETRANGE", "mykey", "9223372036854775807", "x"], TOO_BIG);
    c.expect(&["SETRANGE", "nokey", "2147483647", "x"], TOO_BIG);
    c.expect(&["SETRANGE", "nokey", "536870911", "ab"], TOO_BIG);
    // ...but an empty value writes nothing and checks nothing.
    c.expect(&["SETRANGE", "nokey", "9223372036854775807", ""], ":0\r\n");
    c.expect(&["SETRANGE", "mykey", "9223372036854775807", ""], ":6\r\n");
    c.expect(&["EXISTS", "nokey"], ":0\r\n");
    // SETRANGE keeps the TTL.
    c.expect(&["SET", "t", "abc", "PXAT", FAR_MS], OK);
    c.expect(&["SETRANGE", "t", "1", "X"], ":3\r\n");
    c.expect(&["GET", "t"], &bulk("aXc"));
    c.expect(&["PEXPIRETIME", "t"], &int(4102444800000));
    // An expired key counts as missing.
    c.expect(&["SET", "gone", "abc", "PXAT", "1"], OK);
    c.expect(&["SETRANGE", "gone", "0", ""], ":0\r\n");
    c.expect(&["SETRANGE", "gone", "2", "z"], ":3\r\n");
    expect_bin(&mut c, &[b"GET", b"gone"], b"$3\r\n\0\0z\r\n");
    c.expect(&["TTL", "gone"], ":-1\r\n");
}

#[test]
fn setrange_size_limit() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "SET", "proto-max-bulk-len", "1048576"], OK);
    c.expect(&["SETRANGE", "x", "1048575", "ab"], TOO_BIG);
    c.expect(&["EXISTS", "x"], ":0\r\n");
    c.expect(&["SETRANGE", "x", "1048575", "a"], ":1048576\r\n");
    c.expect(&["STRLEN", "x"], ":1048576\r\n");
    c.expect(&["SETRANGE", "x", "1048576", "a"], TOO_BIG);
    c.expect(&["SETRANGE", "x", "0", "abc"], ":1048576\r\n");
    c.expect(&["GETRANGE", "x", "0", "3"], &bulk("abc\0"));
    c.expect(&["GETRANGE", "x", "-1", "-1"], &bulk("a"));
}

#[test]
fn incr_decr() {
    let s = Server::start();
    let mut c = s.raw();
    // incr.tcl.
    c.expect(&["INCR", "novar"], ":1\r\n");
    c.expect(&["GET", "novar"], &bulk("1"));
    c.expect(&["INCR", "novar"], ":2\r\n");
    c.expect(&["SET", "novar", "100"], OK);
    c.expect(&["INCR", "novar"], ":101\r\n");
    c.expect(&["SET", "novar", "17179869184"], OK);
    c.expect(&["INCR", "novar"], ":17179869185\r\n");
    c.expect(&["SET", "novar", "17179869184"], OK);
    c.expect(&["INCRBY", "novar", "17179869184"], ":34359738368\r\n");
    c.expect(&["SET", "novar", "17179869184"], OK);
    c.expect(&["DECRBY", "novar", "17179869185"], ":-1\r\n");
    c.expect(&["DECR", "novar"], ":-2\r\n");
    c.expect(&["GET", "novar"], &bulk("-2"));
    // incr.tcl "DECRBY against key is not exist and incr".
    c.expect(&["DECRBY", "key_not_exist", "1"], ":-1\r\n");
    c.expect(&["INCR", "key_not_exist"], ":0\r\n");
    c.expect(&["DECR", "fresh"], ":-1\r\n");
    c.expect(&["INCRBY", "fresh2", "-5"], ":-5\r\n");
    c.expect(&["DECRBY", "fresh3", "-5"], ":5\r\n");
    c.expect(&["INCRBY", "fresh3", "0"], ":5\r\n");
    // Stored values string2ll refuses.
    for v in [
        "    11",
        "11    ",
        "10.5",
        "",
        "abc",
        "+1",
        "01",
        "-0",
        "1e3",
        "9223372036854775808",
    ] {
        c.expect(&["SET", "novar", v], OK);
        c.expect(&["INCR", "novar"], NOT_INT);
        c.expect(&["DECRBY", "novar", "1"], NOT_INT);
        c.expect(&["GET", "novar"], &bulk(v));
    }
    expect_bin(&mut c, &[b"SET", b"novar", b"1\x002"], b"+OK\r\n");
    c.expect(&["INCR", "novar"], NOT_INT);
    // Increments string2ll refuses.
    for v in ["abc", "1.0", "+1", " 1", "01", "-0", "", "9223372036854775808"] {
        c.expect(&["INCRBY", "novar", v], NOT_INT);
        c.expect(&["DECRBY", "novar", v], NOT_INT);
    }
    // Overflow.
    c.expect(&["INCRBY", "n", "9223372036854775807"], ":9223372036854775807\r\n");
    c.expect(&["INCR", "n"], OVERFLOW);
    c.expect(&["INCRBY", "n", "1"], OVERFLOW);
    c.expect(&["DECRBY", "n", "-1"], OVERFLOW);
    c.expect(&["GET", "n"], &bulk("9223372036854775807"));
    c.expect(&["SET", "n", "-9223372036854775808"], OK);
    c.expect(&["DECR", "n"], OVERFLOW);
    c.expect(&["INCRBY", "n", "-1"], OVERFLOW);
    c.expect(&["INCRBY", "n", "9223372036854775807"], ":-1\r\n");
    c.expect(&["SET", "n", "-1"], OK);
    c.expect(&["INCRBY", "n", "-9223372036854775808"], OVERFLOW);
    c.expect(&["SET", "n", "0"], OK);
    c.expect(&["INCRBY", "n", "-9223372036854775808"], ":-9223372036854775808\r\n");
    // DECRBY can't negate the smallest integer, even on a missing key.
    c.expect(
        &["DECRBY", "n", "-9223372036854775808"],
        "-ERR decrement would overflow\r\n",
    );
    c.expect(
        &["DECRBY", "nokey", "-9223372036854775808"],
        "-ERR decrement would overflow\r\n",
    );
    c.expect(&["EXISTS", "nokey"], ":0\r\n");
    c.expect(&["DECRBY", "n", "9223372036854775807"], OVERFLOW);
    c.expect(&["SET", "n", "1"], OK);
    c.expect(&["DECRBY", "n", "9223372036854775807"], ":-9223372036854775806\r\n");
    // INCR keeps the TTL.
    c.expect(&["SET", "t", "1", "PXAT", FAR_MS], OK);
    c.expect(&["INCR", "t"], ":2\r\n");
    c.expect(&["DECRBY", "t", "10"], ":-8\r\n");
    c.expect(&["PEXPIRETIME", "t"], &int(4102444800000));
    // An expired key counts as missing: start over from 0, with no TTL.
    c.expect(&["SET", "gone", "41", "PXAT", "1"], OK);
    c.expect(&["INCR", "gone"], ":1\r\n");
    c.expect(&["TTL", "gone"], ":-1\r\n");
}

#[test]
fn incrbyfloat_cases() {
    let s = Server::start();
    let mut c = s.raw();
    // incr.tcl.
    c.expect(&["INCRBYFLOAT", "novar", "1"], &bulk("1"));
    c.expect(&["GET", "novar"], &bulk("1"));
    c.expect(&["INCRBYFLOAT", "novar", "0.25"], &bulk("1.25"));
    c.expect(&["SET", "novar", "1.5"], OK);
    c.expect(&["INCRBYFLOAT", "novar", "1.5"], &bulk("3"));
    c.expect(&["SET", "novar", "17179869184"], OK);
    c.expect(&["INCRBYFLOAT", "novar", "1.5"], &bulk("17179869185.5"));
    c.expect(&["SET", "novar", "17179869184"], OK);
    c.expect(&["INCRBYFLOAT", "novar", "17179869184"], &bulk("34359738368"));
    c.expect(&["SET", "foo", "1"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "-1.1"], &bulk("-0.1"));
    // The 80-bit long double results.
    c.expect(&["SET", "foo", "5.6"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "5000"], &bulk("5005.60000000000000009"));
    c.expect(&["SET", "foo", "10.5"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "0.1"], &bulk("10.6"));
    c.expect(&["SET", "foo", "0.1"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "0.2"], &bulk("0.3"));
    // "string to double with null terminator".
    c.expect(&["SET", "foo", "1"], OK);
    c.expect(&["SETRANGE", "foo", "2", "2"], ":3\r\n");
    c.expect(&["INCRBYFLOAT", "foo", "1"], NOT_FLOAT);
    expect_bin(&mut c, &[b"INCRBYFLOAT", b"x", b"1\x002"], NOT_FLOAT.as_bytes());
    // "No negative zero".
    c.expect(&["DEL", "foo"], ":1\r\n");
    c.expect(
        &["INCRBYFLOAT", "foo", &(1.0f64 / 41.0).to_string()],
        &bulk("0.02439024390243902"),
    );
    c.expect(&["INCRBYFLOAT", "foo", &(-1.0f64 / 41.0).to_string()], &bulk("0"));
    c.expect(&["INCRBYFLOAT", "foo", "-0.0"], &bulk("0"));
    // Spaces in the stored value or the increment; +inf; NaN; overflow and underflow.
    for v in ["    11", "11    ", "", "abc", "nan", "1e5000", "1e-5000"] {
        c.expect(&["SET", "novar", v], OK);
        c.expect(&["INCRBYFLOAT", "novar", "1"], NOT_FLOAT);
        c.expect(&["GET", "novar"], &bulk(v));
    }
    c.expect(&["SET", "foo", "1"], OK);
    for v in [
        " 1", "1 ", "", "nan", "-nan", "1e5000", "1e-5000", "0x", "1e", "1,5", "abc",
    ] {
        c.expect(&["INCRBYFLOAT", "foo", v], NOT_FLOAT);
    }
    for v in ["+inf", "inf", "-inf", "infinity", "-Infinity"] {
        c.expect(&["INCRBYFLOAT", "foo", v], NAN_INF);
    }
    c.expect(&["SET", "foo", "inf"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "1"], NAN_INF);
    c.expect(&["INCRBYFLOAT", "foo", "-inf"], NAN_INF);
    c.expect(&["GET", "foo"], &bulk("inf"));
    c.expect(&["SET", "foo", "1e4932"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "1e4932"], NAN_INF);
    // The stored value is read before the increment: its error wins.
    c.expect(&["SET", "foo", "abc"], OK);
    c.expect(&["INCRBYFLOAT", "foo", "+inf"], NOT_FLOAT);
    // string2ld refuses 5120 bytes or more.
    let long = format!("{}1", "0".repeat(5118));
    c.expect(&["INCRBYFLOAT", "len", &long], &bulk("1"));
    c.expect(&["INCRBYFLOAT", "len", &format!("0{}", long)], NOT_FLOAT);
    // INCRBYFLOAT keeps the TTL; on an expired key it starts from 0.
    c.expect(&["SET", "t", "1.5", "PXAT", FAR_MS], OK);
    c.expect(&["INCRBYFLOAT", "t", "1"], &bulk("2.5"));
    c.expect(&["PEXPIRETIME", "t"], &int(4102444800000));
    c.expect(&["SET", "gone", "41", "PXAT", "1"], OK);
    c.expect(&["INCRBYFLOAT", "gone", "1.5"], &bulk("1.5"));
    c.expect(&["TTL", "gone"], ":-1\r\n");
    // The result is stored as its text: INCR can read an integral one.
    c.expect(&["SET", "f", "1.5"], OK);
    c.expect(&["INCRBYFLOAT", "f", "1.5"], &bulk("3"));
    c.expect(&["INCR", "f"], ":4\r\n");
}

/// Undoes the quoting of a field of tests/data/incrbyfloat.txt (`'...'` marks values with
/// spaces or empty values).
fn unquote(f: &str) -> &str {
    if f.len() >= 2 && f.starts_with('\'') && f.ends_with('\'') {
        &f[1..f.len() - 1]
    } else {
        f
    }
}

/// Every INCRBYFLOAT vector captured from redis-server 7.0.15, pipelined through the server.
#[test]
fn incrbyfloat_vectors() {
    let data = include_str!("data/incrbyfloat.txt");
    let mut cases = Vec::new();
    for line in data.lines().filter(|l| l.starts_with("| ")) {
        let fields: Vec<&str> = line[2..line.len() - 2].split(" | ").collect();
        assert_eq!(fields.len(), 3, "bad vector line {:?}", line);
        cases.push((unquote(fields[0]), unquote(fields[1]), fields[2]));
    }
    assert!(cases.len() > 3000, "only {} vectors", cases.len());
    let s = Server::start();
    let mut c = s.raw();
    for (n, chunk) in cases.chunks(250).enumerate() {
        let mut out = Vec::new();
        let mut want = String::new();
        let mut sent = 0;
        for (i, (stored, incr, reply)) in chunk.iter().enumerate() {
            let key = format!("v{}:{}", n, i);
            if *stored != "(missing)" {
                out.extend(resp(&[b"SET", key.as_bytes(), stored.as_bytes()]));
                want.push_str(OK);
                sent += 1;
            }
            sent += 1;
            out.extend(resp(&[b"INCRBYFLOAT", key.as_bytes(), incr.as_bytes()]));
            if reply.starts_with("-ERR") {
                want.push_str(&format!("{}\r\n", reply));
            } else {
                want.push_str(&bulk(reply));
            }
        }
        c.send(&out);
        let got = c.read_replies(sent);
        let got = String::from_utf8_lossy(&got);
        if got != want {
            // Find the first vector that differs, for a readable failure.
            for (stored, incr, reply) in chunk {
                let mut one = s.raw();
                if *stored != "(missing)" {
                    one.expect(&["SET", "probe", stored], OK);
                } else {
                    let _ = one.cmd(&["DEL", "probe"]);
                }
                let r = String::from_utf8_lossy(&one.cmd(&["INCRBYFLOAT", "probe", incr])).into_owned();
                let w = if reply.starts_with("-ERR") {
                    format!("{}\r\n", reply)
                } else {
                    bulk(reply)
                };
                assert_eq!(r, w, "INCRBYFLOAT of {:?} by {:?}", stored, incr);
            }
            panic!("pipelined replies differ in chunk {}", n);
        }
    }
}

#[test]
fn resp3_replies() {
    let s = Server::start();
    let mut c = s.raw();
    common::hello3(&mut c);
    c.expect(&["GET", "nokey"], "_\r\n");
    c.expect(&["SET", "k", "v"], OK);
    c.expect(&["SET", "k", "w", "NX"], "_\r\n");
    c.expect(&["SET", "nokey", "w", "XX"], "_\r\n");
    c.expect(&["SET", "new", "v", "GET"], "_\r\n");
    c.expect(&["SET", "new", "w", "GET"], &bulk("v"));
    c.expect(&["GETEX", "nokey", "PERSIST"], "_\r\n");
    c.expect(&["GETDEL", "nokey"], "_\r\n");
    c.expect(&["GETSET", "nokey2", "v"], "_\r\n");
    c.expect(&["MGET", "k", "nokey"], "*2\r\n$1\r\nv\r\n_\r\n");
    c.expect(&["GETRANGE", "nokey", "0", "-1"], EMPTY);
    c.expect(&["GETRANGE", "k", "5", "6"], EMPTY);
    c.expect(&["SETNX", "k", "v"], ":0\r\n");
    c.expect(&["INCR", "n"], ":1\r\n");
    // INCRBYFLOAT answers with a bulk string in RESP3 too, never a double.
    c.expect(&["INCRBYFLOAT", "f", "1.5"], &bulk("1.5"));
    c.expect(&["SET", "k", "v", "PXAT", "1"], OK);
    c.expect(&["GET", "k"], "_\r\n");
    c.expect(&["INCRBYFLOAT", "f", "inf"], NAN_INF);
    c.expect(&["MSET", "a"], &arity("mset"));
}

#[test]
fn pipelined() {
    let s = Server::start();
    let mut c = s.raw();
    let cmds: &[&[&[u8]]] = &[
        &[b"SET", b"k", b"1"],
        &[b"INCR", b"k"],
        &[b"INCRBYFLOAT", b"k", b"0.5"],
        &[b"APPEND", b"k", b"x"],
        &[b"INCR", b"k"],
        &[b"GET", b"k"],
        &[b"SETRANGE", b"k", b"0", b"9"],
        &[b"GETRANGE", b"k", b"0", b"1"],
        &[b"MSET", b"a", b"1", b"b"],
        &[b"MSET", b"a", b"1", b"b", b"2"],
        &[b"MGET", b"a", b"b", b"c"],
        &[b"SET", b"a", b"2", b"NX", b"GET"],
        &[b"GETDEL", b"a"],
        &[b"GETEX", b"b", b"EXAT", b"1"],
        &[b"STRLEN", b"b"],
        &[b"SET", b"x", b"y", b"EX", b"0"],
        &[b"GET"],
    ];
    let mut out = Vec::new();
    for cmd in cmds {
        out.extend(resp(cmd));
    }
    c.send(&out);
    let want = concat!(
        "+OK\r\n",
        ":2\r\n",
        "$3\r\n2.5\r\n",
        ":4\r\n",
        "-ERR value is not an integer or out of range\r\n",
        "$4\r\n2.5x\r\n",
        ":4\r\n",
        "$2\r\n9.\r\n",
        "-ERR wrong number of arguments for 'mset' command\r\n",
        "+OK\r\n",
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n",
        "$1\r\n1\r\n",
        "$1\r\n1\r\n",
        "$1\r\n2\r\n",
        ":0\r\n",
        "-ERR invalid expire time in 'set' command\r\n",
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    let got = c.read_replies(cmds.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    // Split at every byte: the same replies.
    let mut c = s.raw();
    for b in out.chunks(1) {
        c.send(b);
    }
    let got = c.read_replies(cmds.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn inline_commands() {
    let s = Server::start();
    let mut c = s.raw();
    send_expect(&mut c, b"SET k \"a b\"\r\n", 1, b"+OK\r\n");
    send_expect(&mut c, b"GET k\r\n", 1, b"$3\r\na b\r\n");
    send_expect(&mut c, b"set 'x y' \"c\\x41\\n\"\r\n", 1, b"+OK\r\n");
    send_expect(&mut c, b"get \"x y\"\n", 1, b"$3\r\ncA\n\r\n");
    send_expect(
        &mut c,
        b"INCRBYFLOAT f 5.6\r\nINCRBYFLOAT f 5000\r\n",
        2,
        b"$3\r\n5.6\r\n$22\r\n5005.60000000000000009\r\n",
    );
    send_expect(
        &mut c,
        b"MSET a 1 b\r\n",
        1,
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    send_expect(
        &mut c,
        b"SET k v ex 0\r\n",
        1,
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    send_expect(&mut c, b"SETRANGE k 1 \"\"\r\n", 1, b":3\r\n");
    send_expect(
        &mut c,
        b"APPEND k \"\\x00\"\r\nSTRLEN k\r\nGETRANGE k -1 -1\r\n",
        3,
        b":4\r\n:4\r\n$1\r\n\0\r\n",
    );
    send_expect(&mut c, b"  incr   n  \r\nDECRBY n 5\r\n", 2, b":1\r\n:-4\r\n");
    send_expect(&mut c, b"SET k v PXAT 1 GET\r\nGET k\r\n", 2, b"$4\r\na b\0\r\n$-1\r\n");
}

/// Which writes count as a modification for WATCH (Redis's signalModifiedKey), and which
/// commands leave a watched key untouched.
#[test]
fn watch_sees_string_writes() {
    let s = Server::start();
    let mut w = s.raw();
    let mut o = s.raw();
    let touching: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["SET", "k", "v", "PXAT", "1"],
        &["SET", "k", "v", "NX"],
        &["SETNX", "k", "v"],
        &["SETEX", "k", "100", "v"],
        &["GETSET", "k", "v"],
        &["MSET", "k", "v"],
        &["MSETNX", "k", "v"],
        &["APPEND", "k", "v"],
        &["SETRANGE", "k", "0", "v"],
        &["INCR", "k"],
        &["DECRBY", "k", "2"],
        &["INCRBYFLOAT", "k", "1.5"],
    ];
    for cmd in touching {
        let _ = w.cmd(&["DEL", "k"]);
        w.expect(&["WATCH", "k"], OK);
        let _ = o.cmd(cmd);
        w.expect(&["MULTI"], OK);
        w.expect(&["PING"], "+QUEUED\r\n");
        w.expect(&["EXEC"], "*-1\r\n");
    }
    // On an existing key.
    let touching_existing: &[&[&str]] = &[
        &["GETDEL", "k"],
        &["GETEX", "k", "EX", "100"],
        &["GETEX", "k", "PXAT", "1"],
    ];
    for cmd in touching_existing {
        o.expect(&["SET", "k", "1", "PXAT", FAR_MS], OK);
        w.expect(&["WATCH", "k"], OK);
        let _ = o.cmd(cmd);
        w.expect(&["MULTI"], OK);
        w.expect(&["PING"], "+QUEUED\r\n");
        w.expect(&["EXEC"], "*-1\r\n");
    }
    // Reads, refused writes and no-op writes leave it alone.
    let untouched: &[&[&str]] = &[
        &["GET", "k"],
        &["MGET", "k"],
        &["STRLEN", "k"],
        &["GETRANGE", "k", "0", "-1"],
        &["GETEX", "k"],
        &["GETEX", "k", "PERSIST"],
        &["SET", "k", "v", "NX"],
        &["SET", "k", "v", "EX", "0"],
        &["SETNX", "k", "v"],
        &["MSETNX", "k", "v", "other", "v"],
        &["SETRANGE", "k", "0", ""],
        &["INCR", "k"],
        &["INCRBYFLOAT", "k", "1"],
        &["SET", "other", "v"],
    ];
    o.expect(&["SET", "k", "text"], OK);
    for cmd in untouched {
        w.expect(&["WATCH", "k"], OK);
        let _ = o.cmd(cmd);
        w.expect(&["MULTI"], OK);
        w.expect(&["PING"], "+QUEUED\r\n");
        w.expect(&["EXEC"], "*1\r\n+PONG\r\n");
        let _ = o.cmd(&["DEL", "other"]);
    }
}

/// The same commands through the `redis` crate, as an application would use them.
#[test]
fn redis_crate_client() {
    let s = Server::start();
    let mut r = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut r).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let v: Option<String> = redis::cmd("GET").arg("nokey").query(&mut r).unwrap();
    assert_eq!(v, None);
    let n: i64 = redis::cmd("INCRBY").arg("n").arg(41).query(&mut r).unwrap();
    assert_eq!(n, 41);
    let f: String = redis::cmd("INCRBYFLOAT").arg("f").arg("0.1").query(&mut r).unwrap();
    assert_eq!(f, "0.1");
    let f: String = redis::cmd("INCRBYFLOAT").arg("f").arg("0.2").query(&mut r).unwrap();
    assert_eq!(f, "0.3");
    let vals: Vec<Option<String>> = redis::cmd("MGET").arg("k").arg("nokey").arg("n").query(&mut r).unwrap();
    assert_eq!(vals, vec![Some("v".into()), None, Some("41".into())]);
    let e = redis::cmd("INCR").arg("k").query::<i64>(&mut r).unwrap_err();
    assert_eq!(e.detail(), Some("value is not an integer or out of range"));
}

/// Every read lookup counts a keyspace hit or miss, as Redis's `lookupKeyRead` does; writes
/// (SET without GET, INCR) do not.
#[test]
fn keyspace_hits_and_misses_count_read_lookups() {
    let s = Server::start();
    let mut c = s.raw();
    for cmd in [
        &["SET", "k", "v"][..],
        &["INCR", "n"],
        &["STRLEN", "k"],
        &["STRLEN", "nokey"],
        &["GETRANGE", "k", "0", "1"],
        &["GETRANGE", "nokey", "0", "1"],
        &["GETEX", "k"],
        &["GETEX", "nokey"],
        &["GETSET", "k", "v"],
        &["GETSET", "nokey", "v"],
        &["SET", "k", "v", "GET"],
        &["SET", "nokey2", "v", "GET"],
        &["GETDEL", "k"],
        &["GETDEL", "nokey3"],
        &["EXISTS", "k"],
    ] {
        c.cmd(cmd);
    }
    let info = String::from_utf8(c.cmd(&["INFO", "stats"])).unwrap();
    assert!(info.contains("\r\nkeyspace_hits:6\r\n"), "{info}");
    assert!(info.contains("\r\nkeyspace_misses:7\r\n"), "{info}");
}
