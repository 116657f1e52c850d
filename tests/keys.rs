//! Keyspace commands (Redis's db.c) on the real binary, byte for byte as redis-server 7.0.15
//! answers: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, COPY, MOVE, KEYS, RANDOMKEY,
//! DBSIZE, FLUSHDB, FLUSHALL, SELECT, SWAPDB, with their arity errors, RESP3, pipelining and
//! inline commands.

mod common;
use common::{arity, bulk, resp, Raw, Server};

const SAME: &str = "-ERR source and destination objects are the same\r\n";
const NO_KEY: &str = "-ERR no such key\r\n";
const DB_RANGE: &str = "-ERR DB index is out of range\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const INT_RANGE: &str = "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

/// The keys of a KEYS reply, sorted (the order is the hash table's).
fn keys_sorted(c: &mut Raw, pattern: &str) -> Vec<String> {
    let r = String::from_utf8(c.cmd(&["KEYS", pattern])).unwrap();
    let mut lines = r.split("\r\n");
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    let mut out: Vec<String> = (0..n).map(|_| lines.nth(1).unwrap().to_string()).collect();
    out.sort();
    out
}

#[test]
fn del_and_unlink() {
    let s = Server::start();
    let mut c = s.raw();
    for cmd in ["DEL", "UNLINK"] {
        c.expect(&["MSET", "a", "1", "b", "2", "c", "3"], "+OK\r\n");
        // A key named twice is deleted once; missing keys count 0.
        c.expect(&[cmd, "a", "a", "b", "nokey"], ":2\r\n");
        c.expect(&["EXISTS", "a", "b", "c"], ":1\r\n");
        c.expect(&[cmd, "a"], ":0\r\n");
        c.expect(&[cmd, "c"], ":1\r\n");
        c.expect(&["DBSIZE"], ":0\r\n");
    }
    c.expect(&["DEL"], &arity("del"));
    c.expect(&["unlink"], &arity("unlink"));
}

#[test]
fn exists_and_touch_count_duplicates() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "a", "1"], "+OK\r\n");
    c.expect(&["EXISTS", "a", "a", "a"], ":3\r\n");
    c.expect(&["EXISTS", "a", "nokey", "a"], ":2\r\n");
    c.expect(&["EXISTS", "nokey"], ":0\r\n");
    c.expect(&["TOUCH", "a", "a", "nokey"], ":2\r\n");
    c.expect(&["TOUCH", "nokey"], ":0\r\n");
    c.expect(&["EXISTS"], &arity("exists"));
    c.expect(&["TOUCH"], &arity("touch"));
    // Binary and empty key names are keys like any other.
    assert_eq!(c.cmd_bytes(&[b"SET", b"\x00\xff\r\n", b"v"]), b"+OK\r\n");
    assert_eq!(c.cmd_bytes(&[b"EXISTS", b"\x00\xff\r\n", b"\x00\xff"]), b":1\r\n");
    c.expect(&["SET", "", "empty"], "+OK\r\n");
    c.expect(&["EXISTS", ""], ":1\r\n");
}

#[test]
fn type_of_keys() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["TYPE", "a"], "+none\r\n");
    c.expect(&["SET", "a", "1"], "+OK\r\n");
    c.expect(&["TYPE", "a"], "+string\r\n");
    c.expect(&["type", "A"], "+none\r\n");
    c.expect(&["TYPE"], &arity("type"));
    c.expect(&["TYPE", "a", "b"], &arity("type"));
}

#[test]
fn rename_and_renamenx() {
    let s = Server::start();
    let mut c = s.raw();
    // Missing source: an error for both, even when source and destination are the same.
    c.expect(&["RENAME", "nokey", "x"], NO_KEY);
    c.expect(&["RENAMENX", "nokey", "x"], NO_KEY);
    c.expect(&["RENAME", "nokey", "nokey"], NO_KEY);
    c.expect(&["RENAMENX", "nokey", "nokey"], NO_KEY);
    // Same key: RENAME is +OK, RENAMENX is 0, nothing changes.
    c.expect(&["SET", "mykey", "a", "EX", "100"], "+OK\r\n");
    c.expect(&["RENAME", "mykey", "mykey"], "+OK\r\n");
    c.expect(&["RENAMENX", "mykey", "mykey"], ":0\r\n");
    c.expect(&["TTL", "mykey"], ":100\r\n");
    // The value and the TTL move; the source is gone.
    c.expect(&["RENAME", "mykey", "mykey1"], "+OK\r\n");
    c.expect(&["RENAME", "mykey1", "mykey2"], "+OK\r\n");
    c.expect(&["GET", "mykey2"], &bulk("a"));
    c.expect(&["TTL", "mykey2"], ":100\r\n");
    c.expect(&["EXISTS", "mykey", "mykey1"], ":0\r\n");
    // Over an existing volatile key: the destination takes the source's (absent) TTL.
    c.expect(&["SET", "src", "b"], "+OK\r\n");
    c.expect(&["RENAME", "src", "mykey2"], "+OK\r\n");
    c.expect(&["GET", "mykey2"], &bulk("b"));
    c.expect(&["TTL", "mykey2"], ":-1\r\n");
    c.expect(&["EXISTS", "src"], ":0\r\n");
    // RENAMENX onto an existing key: 0 and both unchanged.
    c.expect(&["SET", "x", "1"], "+OK\r\n");
    c.expect(&["RENAMENX", "x", "mykey2"], ":0\r\n");
    c.expect(&["MGET", "x", "mykey2"], "*2\r\n$1\r\n1\r\n$1\r\nb\r\n");
    // RENAMENX onto a free name keeps the TTL.
    c.expect(&["PEXPIRE", "x", "100000"], ":1\r\n");
    c.expect(&["RENAMENX", "x", "y"], ":1\r\n");
    c.expect(&["TTL", "y"], ":100\r\n");
    c.expect(&["GET", "x"], "$-1\r\n");
    c.expect(&["RENAME", "a"], &arity("rename"));
    c.expect(&["RENAMENX", "a", "b", "c"], &arity("renamenx"));
}

#[test]
fn copy_options_and_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "b", "v"], "+OK\r\n");
    c.expect(&["COPY", "b", "b"], SAME);
    c.expect(&["COPY", "b", "b", "DB", "0"], SAME);
    c.expect(&["COPY", "b", "c", "DB", "16"], DB_RANGE);
    c.expect(&["COPY", "b", "c", "DB", "-1"], DB_RANGE);
    c.expect(&["COPY", "b", "c", "DB", "abc"], NOT_INT);
    c.expect(&["COPY", "b", "c", "DB", "99999999999"], INT_RANGE);
    c.expect(&["COPY", "b", "c", "DB"], SYNTAX);
    c.expect(&["COPY", "b", "c", "foo"], SYNTAX);
    c.expect(&["COPY", "b", "c", "REPLACE", "REPLACE", "foo"], SYNTAX);
    // Options are checked in order: a DB index is range-checked as soon as it is read.
    c.expect(&["COPY", "b", "c", "DB", "16", "foo"], DB_RANGE);
    c.expect(&["COPY", "b", "c", "DB", "16", "DB", "abc"], DB_RANGE);
    c.expect(&["COPY", "b", "c", "DB", "1", "DB", "abc"], NOT_INT);
    c.expect(&["COPY", "b", "c", "foo", "DB", "16"], SYNTAX);
    // The range check comes before the missing-key check, the same-object check after it.
    c.expect(&["COPY", "nokey", "c", "DB", "99"], DB_RANGE);
    c.expect(&["COPY", "nokey", "nokey"], SAME);
    c.expect(&["COPY", "nokey", "c"], ":0\r\n");
    c.expect(&["COPY", "b"], &arity("copy"));
    c.expect(&["DBSIZE"], ":1\r\n");
}

#[test]
fn copy_semantics() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "mykey", "foobar"], "+OK\r\n");
    c.expect(&["COPY", "mykey", "mynewkey"], ":1\r\n");
    c.expect(&["GET", "mynewkey"], &bulk("foobar"));
    // A copy never creates a TTL the source lacked.
    c.expect(&["TTL", "mynewkey"], ":-1\r\n");
    // Existing destination: 0 without REPLACE (case-insensitive), 1 with it.
    c.expect(&["SET", "mykey", "other"], "+OK\r\n");
    c.expect(&["COPY", "mykey", "mynewkey"], ":0\r\n");
    c.expect(&["GET", "mynewkey"], &bulk("foobar"));
    c.expect(&["COPY", "mykey", "mynewkey", "replace"], ":1\r\n");
    c.expect(&["GET", "mynewkey"], &bulk("other"));
    // The TTL is copied, and REPLACE drops the destination's TTL for the source's.
    c.expect(&["SET", "vol", "x", "EX", "100"], "+OK\r\n");
    c.expect(&["COPY", "vol", "mynewkey", "REPLACE"], ":1\r\n");
    c.expect(&["TTL", "mynewkey"], ":100\r\n");
    c.expect(&["TTL", "vol"], ":100\r\n");
    // Another database: same name allowed, source untouched.
    c.expect(&["COPY", "mykey", "mykey", "DB", "1"], ":1\r\n");
    c.expect(&["COPY", "mykey", "mykey", "DB", "1"], ":0\r\n");
    c.expect(&["COPY", "vol", "mykey", "db", "1", "REPLACE"], ":1\r\n");
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["GET", "mykey"], &bulk("x"));
    c.expect(&["TTL", "mykey"], ":100\r\n");
    // DB given twice: the last one wins.
    c.expect(&["COPY", "mykey", "k2", "DB", "5", "DB", "0"], ":1\r\n");
    c.expect(&["SELECT", "0"], "+OK\r\n");
    c.expect(&["GET", "k2"], &bulk("x"));
    c.expect(&["GET", "mykey"], &bulk("other"));
    // Options are C strings for strcasecmp: the text ends at a NUL byte.
    assert_eq!(c.cmd_bytes(&[b"COPY", b"mykey", b"k3", b"REPLACE\x00junk"]), b":1\r\n");
    assert_eq!(c.cmd_bytes(&[b"COPY", b"mykey", b"k4", b"db\x00", b"1"]), b":1\r\n");
}

#[test]
fn move_between_databases() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "mykey", "hello", "EX", "100"], "+OK\r\n");
    c.expect(&["MOVE", "mykey", "notanumber"], NOT_INT);
    c.expect(&["MOVE", "mykey", "99999999999"], INT_RANGE);
    c.expect(&["MOVE", "mykey", "16"], DB_RANGE);
    c.expect(&["MOVE", "mykey", "-1"], DB_RANGE);
    // The current db is refused before the key is even looked at.
    c.expect(&["MOVE", "mykey", "0"], SAME);
    c.expect(&["MOVE", "nokey", "0"], SAME);
    c.expect(&["MOVE", "nokey", "1"], ":0\r\n");
    c.expect(&["MOVE", "mykey", "1"], ":1\r\n");
    c.expect(&["EXISTS", "mykey"], ":0\r\n");
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["GET", "mykey"], &bulk("hello"));
    c.expect(&["TTL", "mykey"], ":100\r\n");
    // The key exists in the target: 0, nothing moves.
    c.expect(&["SELECT", "0"], "+OK\r\n");
    c.expect(&["SET", "mykey", "again"], "+OK\r\n");
    c.expect(&["MOVE", "mykey", "1"], ":0\r\n");
    c.expect(&["GET", "mykey"], &bulk("again"));
    c.expect(&["MOVE", "mykey"], &arity("move"));
    c.expect(&["MOVE", "a", "1", "x"], &arity("move"));
}

#[test]
fn keys_patterns() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KEYS", "*"], "*0\r\n");
    for k in ["key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c"] {
        c.expect(&["SET", k, "hello"], "+OK\r\n");
    }
    assert_eq!(keys_sorted(&mut c, "foo*"), ["foo_a", "foo_b", "foo_c"]);
    assert_eq!(keys_sorted(&mut c, "*").len(), 6);
    assert_eq!(keys_sorted(&mut c, "key_[xy]"), ["key_x", "key_y"]);
    c.expect(&["KEYS", "foo_a"], "*1\r\n$5\r\nfoo_a\r\n");
    c.expect(&["KEYS", "FOO*"], "*0\r\n");
    c.expect(&["KEYS"], &arity("keys"));
    c.expect(&["KEYS", "a", "b"], &arity("keys"));
    // Only the selected database.
    c.expect(&["SELECT", "9"], "+OK\r\n");
    c.expect(&["KEYS", "*"], "*0\r\n");
}

#[test]
fn randomkey_and_dbsize() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["RANDOMKEY"], "$-1\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
    c.expect(&["SET", "x", "10"], "+OK\r\n");
    c.expect(&["RANDOMKEY"], &bulk("x"));
    c.expect(&["DBSIZE"], ":1\r\n");
    c.expect(&["DEL", "x"], ":1\r\n");
    c.expect(&["RANDOMKEY"], "$-1\r\n");
    // With two keys, both come up within 100 calls.
    c.expect(&["MSET", "foo", "x", "bar", "y"], "+OK\r\n");
    let (mut foo, mut bar) = (false, false);
    for _ in 0..100 {
        match c.cmd(&["RANDOMKEY"]).as_slice() {
            b"$3\r\nfoo\r\n" => foo = true,
            b"$3\r\nbar\r\n" => bar = true,
            other => panic!("{:?}", String::from_utf8_lossy(other)),
        }
    }
    assert!(foo && bar);
    // Many keys, one database: DBSIZE counts exactly, RANDOMKEY returns one of them.
    let mut args = vec!["MSET".to_string()];
    for i in 0..5000 {
        args.push(format!("k{i}"));
        args.push("v".into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    c.expect(&a, "+OK\r\n");
    c.expect(&["DBSIZE"], ":5002\r\n");
    let r = String::from_utf8(c.cmd(&["RANDOMKEY"])).unwrap();
    assert!(r.starts_with('$') && (r.contains("\r\nk") || r.contains("foo") || r.contains("bar")));
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
    c.expect(&["RANDOMKEY"], "$-1\r\n");
    c.expect(&["DBSIZE", "x"], &arity("dbsize"));
    c.expect(&["RANDOMKEY", "x"], &arity("randomkey"));
}

#[test]
fn flushdb_and_flushall() {
    let s = Server::start();
    let mut c = s.raw();
    let fill = |c: &mut Raw| {
        for db in ["0", "1"] {
            c.expect(&["SELECT", db], "+OK\r\n");
            c.expect(&["MSET", "a", "1", "b", "2"], "+OK\r\n");
        }
        c.expect(&["SELECT", "0"], "+OK\r\n");
    };
    fill(&mut c);
    for bad in [
        &["FLUSHDB", "foo"][..],
        &["FLUSHDB", "ASYNC", "x"],
        &["FLUSHDB", "sync", "sync"],
    ] {
        c.expect(bad, SYNTAX);
    }
    for bad in [
        &["FLUSHALL", "foo"][..],
        &["FLUSHALL", "foo", "bar"],
        &["FLUSHALL", "SYNC", "x"],
    ] {
        c.expect(bad, SYNTAX);
    }
    c.expect(&["DBSIZE"], ":2\r\n");
    // FLUSHDB empties only the selected database.
    c.expect(&["FLUSHDB"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":2\r\n");
    for mode in ["ASYNC", "SYNC", "async", "sync", "aSyNc"] {
        fill(&mut c);
        c.expect(&["FLUSHDB", mode], "+OK\r\n");
        c.expect(&["DBSIZE"], ":0\r\n");
        c.expect(&["SELECT", "1"], "+OK\r\n");
        c.expect(&["DBSIZE"], ":2\r\n");
        c.expect(&["FLUSHALL", mode], "+OK\r\n");
        c.expect(&["DBSIZE"], ":0\r\n");
        c.expect(&["SELECT", "0"], "+OK\r\n");
        c.expect(&["DBSIZE"], ":0\r\n");
    }
    fill(&mut c);
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
    // The mode is a C string for strcasecmp.
    assert_eq!(c.cmd_bytes(&[b"FLUSHDB", b"sync\x00x"]), b"+OK\r\n");
}

#[test]
fn select_errors_and_state() {
    let s = Server::start();
    let mut c = s.raw();
    // Redis 7.0 parses the index with getIntFromObjectOrReply (no custom message).
    c.expect(&["SELECT", "abc"], NOT_INT);
    c.expect(&["SELECT", ""], NOT_INT);
    c.expect(&["SELECT", "1.5"], NOT_INT);
    c.expect(&["SELECT", "+1"], NOT_INT);
    c.expect(&["SELECT", "99999999999"], INT_RANGE);
    c.expect(&["SELECT", "-1"], DB_RANGE);
    c.expect(&["SELECT", "16"], DB_RANGE);
    c.expect(&["SELECT", "1000000"], DB_RANGE);
    assert_eq!(c.cmd_bytes(&[b"SELECT", b"1\x00"]), NOT_INT.as_bytes());
    c.expect(&["SELECT"], &arity("select"));
    c.expect(&["SELECT", "1", "2"], &arity("select"));
    // A failed SELECT keeps the current database.
    c.expect(&["SELECT", "15"], "+OK\r\n");
    c.expect(&["SET", "k", "in15"], "+OK\r\n");
    c.expect(&["SELECT", "16"], DB_RANGE);
    c.expect(&["GET", "k"], &bulk("in15"));
    c.expect(&["SELECT", "0"], "+OK\r\n");
    c.expect(&["GET", "k"], "$-1\r\n");
    // The selection belongs to the connection.
    let mut d = s.raw();
    c.expect(&["SELECT", "15"], "+OK\r\n");
    d.expect(&["GET", "k"], "$-1\r\n");
}

#[test]
fn swapdb_errors_and_semantics() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SWAPDB", "a", "1"], "-ERR invalid first DB index\r\n");
    c.expect(&["SWAPDB", "99999999999", "1"], "-ERR invalid first DB index\r\n");
    c.expect(&["SWAPDB", "a", "b"], "-ERR invalid first DB index\r\n");
    c.expect(&["SWAPDB", "1", "a"], "-ERR invalid second DB index\r\n");
    c.expect(&["SWAPDB", "1", ""], "-ERR invalid second DB index\r\n");
    c.expect(&["SWAPDB", "0", "16"], DB_RANGE);
    c.expect(&["SWAPDB", "-1", "0"], DB_RANGE);
    c.expect(&["SWAPDB", "0", "0"], "+OK\r\n");
    c.expect(&["SWAPDB", "1"], &arity("swapdb"));
    c.expect(&["SWAPDB", "1", "2", "3"], &arity("swapdb"));
    // Data moves; connections stay on their database number.
    c.expect(&["SET", "k", "zero", "EX", "100"], "+OK\r\n");
    let mut d = s.raw();
    d.expect(&["SELECT", "1"], "+OK\r\n");
    d.expect(&["SET", "k", "one"], "+OK\r\n");
    c.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    c.expect(&["GET", "k"], &bulk("one"));
    c.expect(&["TTL", "k"], ":-1\r\n");
    d.expect(&["GET", "k"], &bulk("zero"));
    d.expect(&["TTL", "k"], ":100\r\n");
    d.expect(&["SWAPDB", "1", "0"], "+OK\r\n");
    c.expect(&["GET", "k"], &bulk("zero"));
    // Swapping with an empty database.
    c.expect(&["SWAPDB", "0", "7"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
    c.expect(&["SELECT", "7"], "+OK\r\n");
    c.expect(&["GET", "k"], &bulk("zero"));
}

#[test]
fn arity_errors() {
    let s = Server::start();
    let mut c = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["del"], "del"),
        (&["unlink"], "unlink"),
        (&["exists"], "exists"),
        (&["touch"], "touch"),
        (&["type"], "type"),
        (&["rename", "a"], "rename"),
        (&["renamenx", "a"], "renamenx"),
        (&["copy", "a"], "copy"),
        (&["move", "a"], "move"),
        (&["keys"], "keys"),
        (&["randomkey", "a"], "randomkey"),
        (&["dbsize", "a"], "dbsize"),
        (&["select"], "select"),
        (&["swapdb", "0"], "swapdb"),
        (&["scan"], "scan"),
        // Upper case in, lower case out.
        (&["DEL"], "del"),
        (&["SwapDB"], "swapdb"),
    ];
    for (args, name) in cases {
        c.expect(args, &arity(name));
    }
    // FLUSHDB/FLUSHALL take any count: a wrong one is a syntax error.
    c.expect(&["FLUSHALL", "a", "b", "c"], SYNTAX);
}

#[test]
fn resp3_replies() {
    let s = Server::start();
    let mut c = s.raw();
    common::hello3(&mut c);
    // Null bulk becomes `_`; everything else keeps its RESP2 shape.
    c.expect(&["RANDOMKEY"], "_\r\n");
    c.expect(&["KEYS", "*"], "*0\r\n");
    c.expect(&["SCAN", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect(&["SET", "a", "1"], "+OK\r\n");
    c.expect(&["TYPE", "a"], "+string\r\n");
    c.expect(&["TYPE", "b"], "+none\r\n");
    c.expect(&["RANDOMKEY"], "$1\r\na\r\n");
    c.expect(&["KEYS", "*"], "*1\r\n$1\r\na\r\n");
    c.expect(&["SCAN", "0"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    c.expect(&["EXISTS", "a", "a"], ":2\r\n");
    c.expect(&["DBSIZE"], ":1\r\n");
    c.expect(&["COPY", "a", "b"], ":1\r\n");
    c.expect(&["RENAME", "b", "c"], "+OK\r\n");
    c.expect(&["RENAMENX", "c", "a"], ":0\r\n");
    c.expect(&["MOVE", "c", "1"], ":1\r\n");
    c.expect(&["DEL", "a", "c"], ":1\r\n");
    c.expect(&["RENAME", "a", "b"], NO_KEY);
    c.expect(&["SELECT", "x"], NOT_INT);
    c.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    c.expect(&["GET", "c"], "$1\r\n1\r\n");
    c.expect(&["GET", "nokey"], "_\r\n");
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
}

#[test]
fn pipelined_commands() {
    let s = Server::start();
    let mut c = s.raw();
    let cmds: &[&[&[u8]]] = &[
        &[b"MSET", b"a", b"1", b"b", b"2"],
        &[b"EXISTS", b"a", b"b", b"a", b"z"],
        &[b"RENAME", b"a", b"c"],
        &[b"RENAME", b"a", b"c"],
        &[b"COPY", b"c", b"d"],
        &[b"TYPE", b"d"],
        &[b"MOVE", b"d", b"2"],
        &[b"SELECT", b"2"],
        &[b"KEYS", b"*"],
        &[b"SELECT", b"0"],
        &[b"DEL", b"b", b"c", b"d"],
        &[b"RANDOMKEY"],
        &[b"DBSIZE"],
        &[b"SWAPDB", b"0", b"2"],
        &[b"DBSIZE"],
        &[b"FLUSHALL", b"junk"],
    ];
    let mut wire = Vec::new();
    for cmd in cmds {
        wire.extend(resp(cmd));
    }
    c.send(&wire);
    let got = c.read_replies(cmds.len());
    let want = concat!(
        "+OK\r\n",
        ":3\r\n",
        "+OK\r\n",
        "-ERR no such key\r\n",
        ":1\r\n",
        "+string\r\n",
        ":1\r\n",
        "+OK\r\n",
        "*1\r\n$1\r\nd\r\n",
        "+OK\r\n",
        ":2\r\n",
        "$-1\r\n",
        ":0\r\n",
        "+OK\r\n",
        ":1\r\n",
        "-ERR syntax error\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn inline_commands() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(b"SET a 1\r\nEXISTS a a nokey\r\nTYPE a\r\nRENAME a \"b c\"\r\nKEYS *\r\n");
    let got = c.read_replies(5);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+OK\r\n:2\r\n+string\r\n+OK\r\n*1\r\n$3\r\nb c\r\n"
    );
    c.send(b"DEL 'b c' a\nDBSIZE\nRANDOMKEY\nSELECT 16\nCOPY x\n");
    let got = c.read_replies(5);
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!(":1\r\n:0\r\n$-1\r\n{DB_RANGE}{}", arity("copy"))
    );
}
