//! Workers KV on the real binary (kv-spec.md): the KV.* data commands and KV.NAMESPACE over
//! TCP, byte for byte in RESP2 and RESP3. Every limit with Workers KV's error text (and the
//! connection still answering after it), `kv-min-ttl`, metadata and expiration semantics,
//! interop with the Redis commands, namespaces (SELECT by number, id and title; deletion;
//! the registry across a restart), usage counters and daily quotas, and expired keys.

mod common;
use common::acl_log::{acl_log, entry, Info};
use common::value::{parse_resp2, V};
use common::{arity, bulk, int_reply, now, now_ms, payload, resp, text, Raw, Server};
use std::time::Duration;

const OK: &str = "+OK\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const DB_RANGE: &str = "-ERR DB index is out of range\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const DELETED: &str = "-ERR the selected namespace was deleted; SELECT another one\r\n";
const MIXED: &str = "Both expiration and expiration_ttl were given; a write takes one or the other, never both.";

fn err(msg: &str) -> String {
    format!("-ERR {msg}\r\n")
}

fn key_too_long(n: usize) -> String {
    format!("UTF-8 encoded length of {n} exceeds key length limit of 512.")
}

/// Asserts an error reply, then that the connection still answers.
#[track_caller]
fn expect_err(c: &mut Raw, args: &[&str], msg: &str) {
    c.expect(args, &err(msg));
    c.expect(&["PING"], "+PONG\r\n");
}

/// As `expect_err`, with binary arguments.
#[track_caller]
fn expect_err_bytes(c: &mut Raw, args: &[&[u8]], msg: &str) {
    let got = c.cmd_bytes(args);
    assert_eq!(String::from_utf8_lossy(&got), err(msg), "reply to {:?}", args.first());
    c.expect(&["PING"], "+PONG\r\n");
}

fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

fn arr(items: &[String]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out.push_str(i);
    }
    out
}

/// The protocol a connection speaks, and how each reply type is encoded in it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum P {
    R2,
    R3,
}

const BOTH: [P; 2] = [P::R2, P::R3];

impl P {
    /// A map: `%n` in RESP3, a flat array of `2n` in RESP2.
    fn map(self, pairs: &[(&str, String)]) -> String {
        let mut out = match self {
            P::R2 => format!("*{}\r\n", pairs.len() * 2),
            P::R3 => format!("%{}\r\n", pairs.len()),
        };
        for (k, v) in pairs {
            out.push_str(&bulk(k));
            out.push_str(v);
        }
        out
    }

    fn nil(self) -> String {
        match self {
            P::R2 => "$-1\r\n".into(),
            P::R3 => "_\r\n".into(),
        }
    }

    fn boolean(self, b: bool) -> String {
        match (self, b) {
            (P::R2, b) => int(b as i64),
            (P::R3, true) => "#t\r\n".into(),
            (P::R3, false) => "#f\r\n".into(),
        }
    }

    fn double(self, s: &str) -> String {
        match self {
            P::R2 => bulk(s),
            P::R3 => format!(",{s}\r\n"),
        }
    }

    /// A value with its metadata (`None`: null), as KV.GETWITHMETADATA answers.
    fn vm(self, value: String, meta: Option<&str>) -> String {
        let meta = meta.map_or(self.nil(), bulk);
        match self {
            P::R2 => arr(&[value, meta]),
            P::R3 => self.map(&[("value", value), ("metadata", meta)]),
        }
    }

    /// One KV.LIST entry.
    fn entry(self, name: &str, expiration: Option<i64>, meta: Option<&str>) -> String {
        let mut e = vec![("name", bulk(name))];
        if let Some(x) = expiration {
            e.push(("expiration", int(x)));
        }
        if let Some(m) = meta {
            e.push(("metadata", bulk(m)));
        }
        self.map(&e)
    }

    /// A KV.LIST reply.
    fn list(self, entries: &[String], cursor: Option<&str>) -> String {
        let mut m = vec![
            ("keys", arr(entries)),
            ("list_complete", self.boolean(cursor.is_none())),
        ];
        if let Some(c) = cursor {
            m.push(("cursor", bulk(c)));
        }
        self.map(&m)
    }

    /// A KV.BULKPUT / KV.BULKDELETE reply.
    fn bulk_result(self, ok: i64, failed: &[&str]) -> String {
        let failed: Vec<String> = failed.iter().map(|k| bulk(k)).collect();
        self.map(&[("successful_key_count", int(ok)), ("unsuccessful_keys", arr(&failed))])
    }

    /// A connection speaking this protocol.
    fn conn(self, s: &Server) -> Raw {
        let mut c = s.raw();
        if self == P::R3 {
            common::hello3(&mut c);
        }
        c
    }
}

/// The elements of a flat RESP2 array of bulk strings and integers, as text.
fn fields(r: &str) -> Vec<String> {
    let mut lines = r.split("\r\n");
    let n: usize = lines
        .next()
        .unwrap()
        .strip_prefix('*')
        .expect("an array")
        .parse()
        .unwrap();
    (0..n)
        .map(|_| {
            let l = lines.next().unwrap();
            match &l[..1] {
                "$" => lines.next().unwrap().to_string(),
                ":" => l[1..].to_string(),
                _ => panic!("not a flat array: {r:?}"),
            }
        })
        .collect()
}

/// The value of field `name` in a flat RESP2 map reply.
fn field(r: &str, name: &str) -> String {
    let f = fields(r);
    let i = f
        .iter()
        .step_by(2)
        .position(|k| k == name)
        .unwrap_or_else(|| panic!("{name} in {r:?}"));
    f[2 * i + 1].clone()
}

/// Every KV.LIST page (RESP2) with `args`, following the cursor until `list_complete`; the
/// entries, each re-encoded as the bytes it was sent as.
fn list_all(c: &mut Raw, args: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut a = vec!["KV.LIST"];
        a.extend_from_slice(args);
        if let Some(cur) = &cursor {
            a.extend_from_slice(&["CURSOR", cur]);
        }
        let r = text(c.cmd(&a));
        let v = parse_resp2(r.as_bytes());
        let Some(V::Arr(keys)) = v.field("keys") else {
            panic!("keys in {r:?}")
        };
        for k in keys {
            let mut e: Vec<(&str, String)> = Vec::new();
            let V::Arr(pairs) = k else { panic!("entry {k:?}") };
            for p in pairs.chunks(2) {
                let (V::Str(name), val) = (&p[0], &p[1]) else {
                    panic!("entry {k:?}")
                };
                let val = match val {
                    V::Str(s) => bulk(s),
                    V::Int(n) => int(*n),
                    other => panic!("entry value {other:?}"),
                };
                e.push((name.as_str(), val));
            }
            out.push(P::R2.map(&e));
        }
        match (v.field("list_complete"), v.field("cursor")) {
            (Some(V::Int(1)), None) => return out,
            (Some(V::Int(0)), Some(V::Str(cur))) => cursor = Some(cur.clone()),
            _ => panic!("list_complete and cursor in {r:?}"),
        }
    }
    panic!("KV.LIST never completed");
}

/// Creates a namespace on a RESP2 connection, asserts the reply (a fresh 32-hex id, the
/// title, the expected index) and returns the id.
#[track_caller]
fn create(c: &mut Raw, title: &str, index: i64) -> String {
    let r = text(c.cmd(&["KV.NAMESPACE", "CREATE", title]));
    let id = fields(&r).get(1).cloned().unwrap_or_default();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "id of {r:?}"
    );
    assert_eq!(
        r,
        P::R2.map(&[("id", bulk(&id)), ("title", bulk(title)), ("index", int(index))])
    );
    id
}

/// `{id, title, index, keys}` as KV.NAMESPACE GET and LIST describe a namespace.
fn described(p: P, id: &str, title: &str, index: i64, keys: i64) -> String {
    p.map(&[
        ("id", bulk(id)),
        ("title", bulk(title)),
        ("index", int(index)),
        ("keys", int(keys)),
    ])
}

/// A KV.BULKPUT body of `n` items `{"key":"k<i>","value":"v"}`.
fn bulk_items(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| format!(r#"{{"key":"k{i}","value":"v"}}"#)).collect();
    format!("[{}]", items.join(","))
}

// ---------------------------------------------------------------------------------------
// Limits and error texts
// ---------------------------------------------------------------------------------------

#[test]
fn key_name_limits_on_every_command() {
    let s = Server::start();
    let mut c = s.raw();
    let k512 = "k".repeat(512);
    let k513 = "k".repeat(513);
    // 257 two-byte characters: 514 bytes, though only 257 characters.
    let wide = "é".repeat(257);
    c.expect(&["KV.PUT", &k512, "v"], OK);
    c.expect(&["KV.GET", &k512], &bulk("v"));
    c.expect(&["KV.PUT", "...", "dots"], OK);
    c.expect(&["KV.GET", "..."], &bulk("dots"));
    let bad: [(&str, String); 5] = [
        ("", "Key names must not be empty".into()),
        (".", "Illegal key name \".\". Please use a different name.".into()),
        ("..", "Illegal key name \"..\". Please use a different name.".into()),
        (&k513, key_too_long(513)),
        (&wide, key_too_long(514)),
    ];
    for (key, msg) in &bad {
        expect_err(&mut c, &["KV.PUT", key, "v"], msg);
        expect_err(&mut c, &["KV.GET", key], msg);
        expect_err(&mut c, &["KV.GETWITHMETADATA", key], msg);
        expect_err(&mut c, &["KV.MGET", "ok", key], msg);
        expect_err(&mut c, &["KV.MGET", key, "WITHMETADATA"], msg);
        // One bad key refuses the whole delete: the good key named first stays.
        expect_err(&mut c, &["KV.DELETE", "...", key], msg);
        expect_err(&mut c, &["KV.BULKDELETE", "...", key], msg);
        c.expect(&["KV.GET", "..."], &bulk("dots"));
    }
    // Nothing was written under any refused name (the Redis commands see every key).
    c.expect(&["DBSIZE"], ":2\r\n");
    c.expect(&["EXISTS", "", ".", "..", &k513], ":0\r\n");
}

#[test]
fn value_size_limit() {
    let s = Server::start();
    let mut c = s.raw();
    let max = vec![b'x'; 26_214_400];
    assert_eq!(c.cmd_bytes(&[b"KV.PUT", b"big", &max]), b"+OK\r\n");
    c.expect(&["STRLEN", "big"], ":26214400\r\n");
    let over = vec![b'y'; 26_214_401];
    expect_err_bytes(
        &mut c,
        &[b"KV.PUT", b"big", &over],
        "Value length of 26214401 exceeds limit of 26214400.",
    );
    expect_err_bytes(
        &mut c,
        &[b"KV.PUT", b"other", &over],
        "Value length of 26214401 exceeds limit of 26214400.",
    );
    // The refused writes changed nothing.
    c.expect(&["STRLEN", "big"], ":26214400\r\n");
    c.expect(&["GETRANGE", "big", "0", "0"], &bulk("x"));
    c.expect(&["EXISTS", "other"], ":0\r\n");
    // The bulk write has the same limit.
    let body = format!(r#"[{{"key":"other","value":"{}"}}]"#, "z".repeat(26_214_401));
    expect_err(
        &mut c,
        &["KV.BULKPUT", &body],
        "Value length of 26214401 exceeds limit of 26214400. (item 0)",
    );
    c.expect(&["EXISTS", "other"], ":0\r\n");
    // An empty value is a value.
    c.expect(&["KV.PUT", "empty", ""], OK);
    c.expect(&["KV.GET", "empty"], "$0\r\n\r\n");
}

#[test]
fn metadata_limits() {
    let s = Server::start();
    let mut c = s.raw();
    // A JSON string of exactly 1024 bytes, then 1025.
    let m1024 = format!("\"{}\"", "m".repeat(1022));
    let m1025 = format!("\"{}\"", "m".repeat(1023));
    assert_eq!(m1024.len(), 1024);
    c.expect(&["KV.PUT", "k", "v", "METADATA", &m1024], OK);
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v"), Some(&m1024)));
    expect_err(
        &mut c,
        &["KV.PUT", "k", "w", "METADATA", &m1025],
        "Metadata length of 1025 exceeds limit of 1024.",
    );
    for bad in ["", "{", "abc", "{\"a\":}", "[1,]", "{} {}"] {
        expect_err(
            &mut c,
            &["KV.PUT", "k", "w", "METADATA", bad],
            "Metadata must be valid JSON.",
        );
    }
    // Refused puts left value and metadata as they were.
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v"), Some(&m1024)));
    // Any JSON value is metadata.
    for good in ["\"s\"", "3", "-1.5e3", "true", "null", "[1,{\"a\":[]}]", "{}"] {
        c.expect(&["KV.PUT", "k", "v", "METADATA", good], OK);
        c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v"), Some(good)));
    }
}

#[test]
fn expiration_ttl_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.PUT", "k", "v"], OK);
    let not_positive = |v: &str| format!("Invalid expiration_ttl of {v}. Please specify integer greater than 0.");
    let too_short = |v: &str| format!("Invalid expiration_ttl of {v}. Expiration TTL must be at least 60.");
    expect_err(&mut c, &["KV.PUT", "k", "w", "EXPIRATIONTTL", "0"], &not_positive("0"));
    expect_err(
        &mut c,
        &["KV.PUT", "k", "w", "EXPIRATIONTTL", "-5"],
        &not_positive("-5"),
    );
    expect_err(
        &mut c,
        &["KV.PUT", "k", "w", "EXPIRATIONTTL", "abc"],
        &not_positive("abc"),
    );
    expect_err(&mut c, &["KV.PUT", "k", "w", "EXPIRATIONTTL", "30"], &too_short("30"));
    expect_err(&mut c, &["KV.PUT", "k", "w", "expirationttl", "59"], &too_short("59"));
    // Nothing changed.
    c.expect(&["KV.GET", "k"], &bulk("v"));
    c.expect(&["TTL", "k"], ":-1\r\n");
    // 60 is the default minimum and accepted; the deadline is 60 s after the put.
    let before = now_ms();
    c.expect(&["KV.PUT", "k", "w", "EXPIRATIONTTL", "60"], OK);
    let after = now_ms();
    let at = int_reply(&mut c, &["PEXPIRETIME", "k"]);
    assert!(
        (before + 60_000..=after + 60_000).contains(&at),
        "PEXPIRETIME {at} not 60 s after the put"
    );
    c.expect(&["KV.GET", "k"], &bulk("w"));
}

#[test]
fn expiration_errors() {
    let s = Server::start();
    let mut c = s.raw();
    let past = |v: &str| {
        format!("Invalid expiration of {v}. Please specify integer greater than the current number of seconds since the UNIX epoch.")
    };
    let soon =
        |v: &str| format!("Invalid expiration of {v}. Expiration times must be at least 60 seconds in the future.");
    let ago = (now() - 10).to_string();
    let in30 = (now() + 30).to_string();
    expect_err(&mut c, &["KV.PUT", "k", "v", "EXPIRATION", &ago], &past(&ago));
    expect_err(&mut c, &["KV.PUT", "k", "v", "EXPIRATION", "0"], &past("0"));
    expect_err(&mut c, &["KV.PUT", "k", "v", "EXPIRATION", "-1"], &past("-1"));
    expect_err(&mut c, &["KV.PUT", "k", "v", "EXPIRATION", "abc"], &past("abc"));
    expect_err(&mut c, &["KV.PUT", "k", "v", "EXPIRATION", &in30], &soon(&in30));
    c.expect(&["EXISTS", "k"], ":0\r\n");
    let later = now() + 3600;
    c.expect(&["KV.PUT", "k", "v", "expiration", &later.to_string()], OK);
    c.expect(&["EXPIRETIME", "k"], &int(later));
}

#[test]
fn both_expiration_forms_are_rejected() {
    let s = Server::start();
    let mut c = s.raw();
    let later = (now() + 3600).to_string();
    c.expect(&["KV.PUT", "k", "v", "METADATA", "{\"a\":1}"], OK);
    expect_err(
        &mut c,
        &["KV.PUT", "k", "w", "EXPIRATION", &later, "EXPIRATIONTTL", "120"],
        MIXED,
    );
    expect_err(
        &mut c,
        &[
            "KV.PUT",
            "k",
            "w",
            "EXPIRATIONTTL",
            "120",
            "METADATA",
            "2",
            "EXPIRATION",
            &later,
        ],
        MIXED,
    );
    // Even when one of them is invalid on its own: the mix is refused first.
    expect_err(
        &mut c,
        &["KV.PUT", "k", "w", "EXPIRATION", "1", "EXPIRATIONTTL", "0"],
        MIXED,
    );
    expect_err(
        &mut c,
        &["KV.PUT", "new", "w", "EXPIRATION", &later, "EXPIRATIONTTL", "120"],
        MIXED,
    );
    // Nothing was written.
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v"), Some("{\"a\":1}")));
    c.expect(&["TTL", "k"], ":-1\r\n");
    c.expect(&["EXISTS", "new"], ":0\r\n");
}

#[test]
fn list_argument_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.PUT", "a", "1"], OK);
    let small = |v: &str| format!("Invalid key_count_limit of {v}. Please specify an integer greater than 0.");
    let large = |v: &str| format!("Invalid key_count_limit of {v}. Please specify an integer less than 1000.");
    expect_err(&mut c, &["KV.LIST", "LIMIT", "0"], &small("0"));
    expect_err(&mut c, &["KV.LIST", "LIMIT", "-3"], &small("-3"));
    expect_err(&mut c, &["KV.LIST", "LIMIT", "abc"], &small("abc"));
    expect_err(&mut c, &["KV.LIST", "LIMIT", "1001"], &large("1001"));
    let one = P::R2.list(&[P::R2.entry("a", None, None)], None);
    c.expect(&["KV.LIST", "LIMIT", "1000"], &one);
    c.expect(&["KV.LIST", "LIMIT", "1"], &one);
    expect_err(&mut c, &["KV.LIST", "PREFIX", &"p".repeat(513)], &key_too_long(513));
    c.expect(&["KV.LIST", "PREFIX", &"p".repeat(512)], &P::R2.list(&[], None));
    for bad in ["!!", "not a cursor", "@@@@"] {
        expect_err(&mut c, &["KV.LIST", "CURSOR", bad], "Invalid cursor.");
    }
    // An empty cursor is the first page.
    c.expect(&["KV.LIST", "CURSOR", ""], &one);
    // Options: unknown, or without a value.
    c.expect(&["KV.LIST", "LIMIT"], SYNTAX);
    c.expect(&["KV.LIST", "PREFIX", "a", "CURSOR"], SYNTAX);
    c.expect(&["KV.LIST", "FOO", "1"], SYNTAX);
    c.expect(&["KV.LIST", "a"], SYNTAX);
    c.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn mget_key_count_limits() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.MGET"], &arity("kv.mget"));
    expect_err(
        &mut c,
        &["KV.MGET", "WITHMETADATA"],
        "You must request a minimum of 1 key",
    );
    let keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let mut args: Vec<&str> = vec!["KV.MGET"];
    args.extend(keys.iter().map(String::as_str));
    expect_err(&mut c, &args, "You can request a maximum of 100 keys");
    args.push("WITHMETADATA");
    expect_err(&mut c, &args, "You can request a maximum of 100 keys");
    // 100 keys are fine (with or without WITHMETADATA).
    args.pop();
    args.pop();
    c.expect(&args, &arr(&vec![P::R2.nil(); 100]));
    args.push("withmetadata");
    c.expect(&args, &arr(&vec![P::R2.nil(); 100]));
}

#[test]
fn bulkput_errors_write_nothing() {
    let s = Server::start();
    let mut c = s.raw();
    let later = now() + 3600;
    let shape = "Each item should be an object with string \"key\" and \"value\" fields.";
    let cases: Vec<(String, String)> = vec![
        (
            "nope".into(),
            "The request body is not valid JSON: expected ident at line 1 column 2".into(),
        ),
        (
            "".into(),
            "The request body is not valid JSON: EOF while parsing a value at line 1 column 0".into(),
        ),
        (
            "{}".into(),
            "Expected an array of key-value objects but got type \"object\".".into(),
        ),
        (
            "\"s\"".into(),
            "Expected an array of key-value objects but got type \"string\".".into(),
        ),
        (
            "5".into(),
            "Expected an array of key-value objects but got type \"number\".".into(),
        ),
        (
            "true".into(),
            "Expected an array of key-value objects but got type \"boolean\".".into(),
        ),
        (
            "null".into(),
            "Expected an array of key-value objects but got type \"object\".".into(),
        ),
        (
            r#"[{"key":"a","value":"1"},{"key":"b"},5,{"key":1,"value":"x"}]"#.into(),
            format!(
                "{shape} The item at index 1 is {{\"key\":\"b\"}}; The item at index 2 is 5; \
                 The item at index 3 is {{\"key\":1,\"value\":\"x\"}}"
            ),
        ),
        (
            format!(
                r#"[{{"key":"a","value":"1"}},{{"key":"b","value":"2","expiration":{later},"expiration_ttl":120}}]"#
            ),
            format!("{MIXED} (item 1)"),
        ),
        (
            r#"[{"key":"a","value":"1"},{"key":"","value":"2"}]"#.into(),
            "Key names must not be empty (item 1)".into(),
        ),
        (
            r#"[{"key":"a","value":"1","expiration_ttl":30}]"#.into(),
            "Invalid expiration_ttl of 30. Expiration TTL must be at least 60. (item 0)".into(),
        ),
        (
            r#"[{"key":"a","value":"1"},{"key":"b","value":"!!","base64":true}]"#.into(),
            "The value of key \"b\" is not valid base64: Invalid symbol 33, offset 0. (item 1)".into(),
        ),
        (
            format!(r#"[{{"key":"a","value":"1","metadata":"{}"}}]"#, "m".repeat(1023)),
            "Metadata length of 1025 exceeds limit of 1024. (item 0)".into(),
        ),
        (
            bulk_items(10_001),
            "A bulk request takes at most 10000 items; this one has 10001.".into(),
        ),
    ];
    for (body, msg) in &cases {
        expect_err(&mut c, &["KV.BULKPUT", body], msg);
        c.expect(&["DBSIZE"], ":0\r\n");
    }
    c.expect(&["KV.BULKPUT"], &arity("kv.bulkput"));
    c.expect(&["KV.BULKPUT", "[]", "[]"], &arity("kv.bulkput"));
    // An empty array and 10,000 items are fine.
    c.expect(&["KV.BULKPUT", "[]"], &P::R2.bulk_result(0, &[]));
    c.expect(&["KV.BULKPUT", &bulk_items(10_000)], &P::R2.bulk_result(10_000, &[]));
    c.expect(&["DBSIZE"], ":10000\r\n");
    c.expect(&["KV.GET", "k9999"], &bulk("v"));
}

#[test]
fn bulkdelete_limits() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.BULKPUT", &bulk_items(10_000)], &P::R2.bulk_result(10_000, &[]));
    let keys: Vec<String> = (0..10_001).map(|i| format!("k{i}")).collect();
    let mut args: Vec<&str> = vec!["KV.BULKDELETE"];
    args.extend(keys.iter().map(String::as_str));
    expect_err(
        &mut c,
        &args,
        "A bulk request takes at most 10000 items; this one has 10001.",
    );
    c.expect(&["DBSIZE"], ":10000\r\n");
    c.expect(&["KV.BULKDELETE"], &arity("kv.bulkdelete"));
    args.pop();
    c.expect(&args, &P::R2.bulk_result(10_000, &[]));
    c.expect(&["DBSIZE"], ":0\r\n");
}

#[test]
fn get_type_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.PUT", "h", "hello"], OK);
    c.expect(&["KV.PUT", "half", "{\"a\":"], OK);
    for cmd in ["KV.GET", "KV.GETWITHMETADATA"] {
        expect_err(
            &mut c,
            &[cmd, "h", "TYPE", "xml"],
            "\"xml\" is not a valid type. Use \"json\" or \"text\"",
        );
        expect_err(
            &mut c,
            &[cmd, "h", "TYPE", "json"],
            "The value is not valid JSON: expected value at line 1 column 1",
        );
        expect_err(
            &mut c,
            &[cmd, "half", "type", "JSON"],
            "The value is not valid JSON: EOF while parsing a value at line 1 column 5",
        );
        c.expect(&[cmd, "h", "TYPE"], SYNTAX);
        c.expect(&[cmd, "h", "FOO", "bar"], SYNTAX);
        c.expect(&[cmd, "h", "text"], SYNTAX);
        c.expect(&["PING"], "+PONG\r\n");
    }
    c.expect(&["KV.GET", "h", "TYPE", "text"], &bulk("hello"));
    // A missing key is null whatever the type.
    c.expect(&["KV.GET", "nokey", "TYPE", "json"], "$-1\r\n");
}

#[test]
fn syntax_and_arity_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.PUT"], &arity("kv.put"));
    c.expect(&["KV.PUT", "k"], &arity("kv.put"));
    c.expect(&["kv.get"], &arity("kv.get"));
    c.expect(&["KV.GETWITHMETADATA"], &arity("kv.getwithmetadata"));
    c.expect(&["KV.DELETE"], &arity("kv.delete"));
    c.expect(&["KV.NAMESPACE"], &arity("kv.namespace"));
    c.expect(&["KV.NAMESPACE", "CREATE"], &arity("kv.namespace|create"));
    c.expect(&["KV.NAMESPACE", "CREATE", "a", "b"], &arity("kv.namespace|create"));
    c.expect(&["KV.NAMESPACE", "GET"], &arity("kv.namespace|get"));
    c.expect(&["KV.NAMESPACE", "RENAME", "id"], &arity("kv.namespace|rename"));
    c.expect(&["KV.NAMESPACE", "DELETE"], &arity("kv.namespace|delete"));
    c.expect(&["KV.NAMESPACE", "STATS"], &arity("kv.namespace|stats"));
    c.expect(&["KV.NAMESPACE", "LIST", "x"], &arity("kv.namespace|list"));
    c.expect(
        &["KV.NAMESPACE", "FOO"],
        "-ERR unknown subcommand 'FOO'. Try KV.NAMESPACE HELP.\r\n",
    );
    // Options without a value, unknown options.
    for opt in ["EXPIRATION", "EXPIRATIONTTL", "METADATA"] {
        c.expect(&["KV.PUT", "k", "v", opt], SYNTAX);
    }
    c.expect(&["KV.PUT", "k", "v", "FOO", "bar"], SYNTAX);
    c.expect(&["KV.PUT", "k", "v", "METADATA", "1", "TTL", "100"], SYNTAX);
    c.expect(&["KV.PUT", "k", "v", "EX", "100"], SYNTAX);
    // A syntax error writes nothing.
    c.expect(&["EXISTS", "k"], ":0\r\n");
    c.expect(&["PING"], "+PONG\r\n");
}

// ---------------------------------------------------------------------------------------
// kv-min-ttl
// ---------------------------------------------------------------------------------------

#[test]
fn min_ttl_from_the_command_line() {
    let s = Server::start_with(&["--kv-min-ttl", "1"]);
    let mut c = s.raw();
    c.expect(
        &["CONFIG", "GET", "kv-min-ttl"],
        "*2\r\n$10\r\nkv-min-ttl\r\n$1\r\n1\r\n",
    );
    let before = now_ms();
    c.expect(&["KV.PUT", "k", "v", "EXPIRATIONTTL", "1"], OK);
    let after = now_ms();
    let at = int_reply(&mut c, &["PEXPIRETIME", "k"]);
    assert!((before + 1000..=after + 1000).contains(&at), "PEXPIRETIME {at}");
    let in5 = now() + 5;
    c.expect(&["KV.PUT", "k2", "v", "EXPIRATION", &in5.to_string()], OK);
    c.expect(&["EXPIRETIME", "k2"], &int(in5));
    // Zero and negative TTLs are still refused, with the same text.
    expect_err(
        &mut c,
        &["KV.PUT", "k", "v", "EXPIRATIONTTL", "0"],
        "Invalid expiration_ttl of 0. Please specify integer greater than 0.",
    );
    let ago = (now() - 1).to_string();
    expect_err(
        &mut c,
        &["KV.PUT", "k", "v", "EXPIRATION", &ago],
        &format!("Invalid expiration of {ago}. Please specify integer greater than the current number of seconds since the UNIX epoch."),
    );
}

#[test]
fn min_ttl_config_set_changes_the_minimum_and_texts() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(
        &["CONFIG", "GET", "kv-min-ttl"],
        "*2\r\n$10\r\nkv-min-ttl\r\n$2\r\n60\r\n",
    );
    expect_err(
        &mut c,
        &["KV.PUT", "k", "v", "EXPIRATIONTTL", "30"],
        "Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
    );
    c.expect(&["CONFIG", "SET", "kv-min-ttl", "10"], OK);
    c.expect(
        &["CONFIG", "GET", "kv-min-ttl"],
        "*2\r\n$10\r\nkv-min-ttl\r\n$2\r\n10\r\n",
    );
    expect_err(
        &mut c,
        &["KV.PUT", "k", "v", "EXPIRATIONTTL", "5"],
        "Invalid expiration_ttl of 5. Expiration TTL must be at least 10.",
    );
    let in3 = (now() + 3).to_string();
    expect_err(
        &mut c,
        &["KV.PUT", "k", "v", "EXPIRATION", &in3],
        &format!("Invalid expiration of {in3}. Expiration times must be at least 10 seconds in the future."),
    );
    c.expect(&["KV.PUT", "k", "v", "EXPIRATIONTTL", "30"], OK);
    c.expect(&["KV.PUT", "k", "v", "EXPIRATIONTTL", "10"], OK);
    // The bulk write follows the same minimum.
    expect_err(
        &mut c,
        &["KV.BULKPUT", r#"[{"key":"b","value":"v","expiration_ttl":9}]"#],
        "Invalid expiration_ttl of 9. Expiration TTL must be at least 10. (item 0)",
    );
    c.expect(
        &["KV.BULKPUT", r#"[{"key":"b","value":"v","expiration_ttl":10}]"#],
        &P::R2.bulk_result(1, &[]),
    );
    c.expect(
        &["CONFIG", "SET", "kv-min-ttl", "0"],
        "-ERR CONFIG SET failed (possibly related to argument 'kv-min-ttl') - argument must be between 1 and 2147483647 inclusive\r\n",
    );
    c.expect(&["CONFIG", "SET", "kv-min-ttl", "1"], OK);
    c.expect(&["KV.PUT", "k", "v", "EXPIRATIONTTL", "1"], OK);
    // Plain Redis commands never followed the KV minimum.
    c.expect(&["SET", "r", "v", "EX", "1"], OK);
}

// ---------------------------------------------------------------------------------------
// Replies in RESP2 and RESP3
// ---------------------------------------------------------------------------------------

#[test]
fn get_replies_in_both_protocols() {
    let s = Server::start();
    for p in BOTH {
        let mut c = p.conn(&s);
        c.expect(&["KV.GET", "nokey"], &p.nil());
        c.expect(&["KV.GET", "nokey", "TYPE", "text"], &p.nil());
        c.expect(&["KV.PUT", "k", "hello world"], OK);
        c.expect(&["KV.GET", "k"], &bulk("hello world"));
        c.expect(&["KV.GET", "k", "type", "TEXT"], &bulk("hello world"));
        c.expect(&["KV.PUT", "e", ""], OK);
        c.expect(&["KV.GET", "e"], "$0\r\n\r\n");
        // Binary values come back byte for byte.
        assert_eq!(c.cmd_bytes(&[b"KV.PUT", b"bin", b"\x00\xff\r\n"]), b"+OK\r\n");
        assert_eq!(c.cmd_bytes(&[b"KV.GET", b"bin"]), b"$4\r\n\x00\xff\r\n\r\n");
        // JSON text is just text without TYPE json.
        c.expect(&["KV.PUT", "j", "{\"a\":1}"], OK);
        c.expect(&["KV.GET", "j"], &bulk("{\"a\":1}"));
    }
}

#[test]
fn get_type_json_as_native_types() {
    let s = Server::start();
    let mut w = s.raw();
    let doc = r#"{"m":{"x":1},"a":[1,2.5,true,false,null,"s"],"i":-7,"d":0.1,"z":{}}"#;
    w.expect(&["KV.PUT", "doc", doc], OK);
    for p in BOTH {
        let mut c = p.conn(&s);
        let empty_map = p.map(&[]);
        let expected = p.map(&[
            ("m", p.map(&[("x", int(1))])),
            (
                "a",
                arr(&[
                    int(1),
                    p.double("2.5"),
                    p.boolean(true),
                    p.boolean(false),
                    p.nil(),
                    bulk("s"),
                ]),
            ),
            ("i", int(-7)),
            ("d", p.double("0.10000000000000001")),
            ("z", empty_map.clone()),
        ]);
        c.expect(&["KV.GET", "doc", "TYPE", "json"], &expected);
        // Scalars at the top level; object keys keep their order.
        let scalars: [(&str, String); 10] = [
            ("42", int(42)),
            ("-0", p.double("-0")),
            ("1.5", p.double("1.5")),
            ("\"str\"", bulk("str")),
            ("true", p.boolean(true)),
            ("false", p.boolean(false)),
            ("null", p.nil()),
            ("[]", "*0\r\n".into()),
            ("{}", empty_map.clone()),
            (r#" {"b":1, "a":[]} "#, p.map(&[("b", int(1)), ("a", "*0\r\n".into())])),
        ];
        for (v, want) in &scalars {
            c.expect(&["KV.PUT", "s", v], OK);
            c.expect(&["KV.GET", "s", "TYPE", "json"], want);
        }
    }
}

#[test]
fn getwithmetadata_replies() {
    let s = Server::start();
    let mut w = s.raw();
    w.expect(&["KV.PUT", "m", "v", "METADATA", r#"{"tag":"x","n":[1,2]}"#], OK);
    w.expect(&["KV.PUT", "plain", "p"], OK);
    w.expect(&["KV.PUT", "j", "[1,true]", "METADATA", "7"], OK);
    for p in BOTH {
        let mut c = p.conn(&s);
        c.expect(
            &["KV.GETWITHMETADATA", "m"],
            &p.vm(bulk("v"), Some(r#"{"tag":"x","n":[1,2]}"#)),
        );
        c.expect(&["KV.GETWITHMETADATA", "plain"], &p.vm(bulk("p"), None));
        // A missing key: value and metadata both null.
        c.expect(&["KV.GETWITHMETADATA", "nokey"], &p.vm(p.nil(), None));
        c.expect(&["KV.GETWITHMETADATA", "nokey", "TYPE", "json"], &p.vm(p.nil(), None));
        // TYPE json parses the value; metadata stays JSON text.
        c.expect(
            &["KV.GETWITHMETADATA", "j", "TYPE", "json"],
            &p.vm(arr(&[int(1), p.boolean(true)]), Some("7")),
        );
        c.expect(
            &["KV.GETWITHMETADATA", "j", "TYPE", "text"],
            &p.vm(bulk("[1,true]"), Some("7")),
        );
    }
}

#[test]
fn mget_replies() {
    let s = Server::start();
    let mut w = s.raw();
    w.expect(&["KV.PUT", "a", "1", "METADATA", "{\"m\":\"a\"}"], OK);
    w.expect(&["KV.PUT", "b", "2"], OK);
    for p in BOTH {
        let mut c = p.conn(&s);
        c.expect(
            &["KV.MGET", "a", "nokey", "b", "a"],
            &arr(&[bulk("1"), p.nil(), bulk("2"), bulk("1")]),
        );
        c.expect(&["KV.MGET", "nokey"], &arr(&[p.nil()]));
        c.expect(
            &["KV.MGET", "a", "nokey", "b", "WITHMETADATA"],
            &arr(&[p.vm(bulk("1"), Some("{\"m\":\"a\"}")), p.nil(), p.vm(bulk("2"), None)]),
        );
        c.expect(&["KV.MGET", "b", "withmetadata"], &arr(&[p.vm(bulk("2"), None)]));
    }
}

#[test]
fn list_replies() {
    let s = Server::start();
    let mut w = s.raw();
    let at = now() + 7200;
    w.expect(&["KV.PUT", "a", "1", "METADATA", "{\"m\":1}"], OK);
    w.expect(&["KV.PUT", "b", "2", "EXPIRATION", &at.to_string()], OK);
    w.expect(&["KV.PUT", "c", "3", "EXPIRATIONTTL", "3600", "METADATA", "\"c\""], OK);
    w.expect(&["KV.PUT", "d", "4"], OK);
    // A key written with a TTL lists its absolute expiration in unix seconds: the deadline
    // the server keeps for it (in milliseconds), in whole seconds.
    let c_ms = int_reply(&mut w, &["PEXPIRETIME", "c"]);
    assert!(
        c_ms > now_ms() + 3_000_000 && c_ms <= now_ms() + 3_600_000,
        "PEXPIRETIME c {c_ms}"
    );
    let c_at = c_ms / 1000;
    for p in BOTH {
        let mut c = p.conn(&s);
        let ea = p.entry("a", None, Some("{\"m\":1}"));
        let eb = p.entry("b", Some(at), None);
        let ec = p.entry("c", Some(c_at), Some("\"c\""));
        let ed = p.entry("d", None, None);
        c.expect(
            &["KV.LIST"],
            &p.list(&[ea.clone(), eb.clone(), ec.clone(), ed.clone()], None),
        );
        c.expect(&["KV.LIST", "PREFIX", "b"], &p.list(std::slice::from_ref(&eb), None));
        c.expect(&["KV.LIST", "PREFIX", "x"], &p.list(&[], None));
        // Pages: a cursor only while the list is not complete.
        let r = text(c.cmd(&["KV.LIST", "LIMIT", "2"]));
        let cursor = r.rsplit("\r\n").nth(1).unwrap().to_string();
        assert_eq!(r, p.list(&[ea.clone(), eb.clone()], Some(&cursor)));
        c.expect(
            &["KV.LIST", "LIMIT", "2", "CURSOR", &cursor],
            &p.list(&[ec.clone(), ed.clone()], None),
        );
        let r = text(c.cmd(&["KV.LIST", "LIMIT", "3"]));
        let cursor = r.rsplit("\r\n").nth(1).unwrap().to_string();
        assert_eq!(r, p.list(&[ea.clone(), eb.clone(), ec.clone()], Some(&cursor)));
        c.expect(
            &["KV.LIST", "CURSOR", &cursor],
            &p.list(std::slice::from_ref(&ed), None),
        );
        // A page exactly as long as what is left is complete.
        c.expect(&["KV.LIST", "LIMIT", "4"], &p.list(&[ea, eb, ec, ed], None));
    }
}

#[test]
fn bulk_replies_base64_and_metadata_objects() {
    let s = Server::start();
    let at = now() + 7200;
    for p in BOTH {
        let mut c = p.conn(&s);
        c.expect(&["FLUSHDB"], OK);
        let body = format!(
            r#"[{{"key":"plain","value":"text"}},
               {{"key":"b64","value":"aGVsbG8gd29ybGQ=","base64":true}},
               {{"key":"raw","value":"aGVsbG8=","base64":false}},
               {{"key":"meta","value":"m","metadata":{{"z":1,"a":[true,null],"s":"é"}}}},
               {{"key":"mnum","value":"n","metadata":5}},
               {{"key":"exp","value":"e","expiration":{at}}},
               {{"key":"exps","value":"e","expiration":"{at}"}},
               {{"key":"ttl","value":"t","expiration_ttl":"3600"}}]"#
        );
        c.expect(&["KV.BULKPUT", &body], &p.bulk_result(8, &[]));
        c.expect(&["KV.GET", "plain"], &bulk("text"));
        c.expect(&["KV.GET", "b64"], &bulk("hello world"));
        c.expect(&["KV.GET", "raw"], &bulk("aGVsbG8="));
        c.expect(
            &["KV.GETWITHMETADATA", "meta"],
            &p.vm(bulk("m"), Some(r#"{"z":1,"a":[true,null],"s":"é"}"#)),
        );
        c.expect(&["KV.GETWITHMETADATA", "mnum"], &p.vm(bulk("n"), Some("5")));
        c.expect(&["KV.GETWITHMETADATA", "plain"], &p.vm(bulk("text"), None));
        c.expect(&["EXPIRETIME", "exp"], &int(at));
        c.expect(&["EXPIRETIME", "exps"], &int(at));
        let t = int_reply(&mut c, &["PEXPIRETIME", "ttl"]);
        assert!(
            t > now_ms() + 3_000_000 && t <= now_ms() + 3_600_000,
            "PEXPIRETIME ttl {t}"
        );
        // Binary values through base64.
        c.expect(
            &["KV.BULKPUT", r#"[{"key":"bin","value":"AP8NCg==","base64":true}]"#],
            &p.bulk_result(1, &[]),
        );
        assert_eq!(c.cmd_bytes(&[b"KV.GET", b"bin"]), b"$4\r\n\x00\xff\r\n\r\n");
        // A later item of the same key wins.
        c.expect(
            &["KV.BULKPUT", r#"[{"key":"d","value":"1"},{"key":"d","value":"2"}]"#],
            &p.bulk_result(2, &[]),
        );
        c.expect(&["KV.GET", "d"], &bulk("2"));
        c.expect(&["KV.BULKDELETE", "plain", "nokey", "b64"], &p.bulk_result(3, &[]));
        c.expect(
            &["KV.MGET", "plain", "b64", "raw"],
            &arr(&[p.nil(), p.nil(), bulk("aGVsbG8=")]),
        );
        // KV.DELETE answers how many existed.
        c.expect(&["KV.DELETE", "raw", "nokey", "raw", "meta"], ":2\r\n");
        c.expect(&["KV.DELETE", "raw"], ":0\r\n");
    }
}

// ---------------------------------------------------------------------------------------
// Metadata, put semantics, interop with the Redis commands
// ---------------------------------------------------------------------------------------

#[test]
fn metadata_round_trips_as_exact_text() {
    let s = Server::start();
    let mut c = s.raw();
    for m in [
        r#"{ "b" : [1, 2.50, "x"], "a": {"é": null} }"#,
        "  42 ",
        r#""a \"quoted\" \u00e9 string""#,
        "[\n1,\n2\n]",
    ] {
        c.expect(&["KV.PUT", "k", "v", "METADATA", m], OK);
        c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v"), Some(m)));
        c.expect(&["KV.MGET", "k", "WITHMETADATA"], &arr(&[P::R2.vm(bulk("v"), Some(m))]));
        c.expect(&["KV.LIST"], &P::R2.list(&[P::R2.entry("k", None, Some(m))], None));
    }
}

#[test]
fn put_replaces_value_metadata_and_expiration_together() {
    let s = Server::start();
    let mut c = s.raw();
    let at = now() + 3600;
    c.expect(
        &[
            "KV.PUT",
            "k",
            "v1",
            "EXPIRATION",
            &at.to_string(),
            "METADATA",
            "{\"v\":1}",
        ],
        OK,
    );
    c.expect(&["EXPIRETIME", "k"], &int(at));
    c.expect(
        &["KV.LIST"],
        &P::R2.list(&[P::R2.entry("k", Some(at), Some("{\"v\":1}"))], None),
    );
    // Without metadata and expiration: both are cleared.
    c.expect(&["KV.PUT", "k", "v2"], OK);
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v2"), None));
    c.expect(&["TTL", "k"], ":-1\r\n");
    c.expect(&["KV.LIST"], &P::R2.list(&[P::R2.entry("k", None, None)], None));
    // Metadata only: the new metadata, still no expiration.
    c.expect(
        &["KV.PUT", "k", "v3", "EXPIRATION", &at.to_string(), "METADATA", "1"],
        OK,
    );
    c.expect(&["KV.PUT", "k", "v4", "METADATA", "2"], OK);
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v4"), Some("2")));
    c.expect(&["TTL", "k"], ":-1\r\n");
    // Expiration only: the metadata is cleared.
    c.expect(&["KV.PUT", "k", "v5", "EXPIRATION", &(at + 10).to_string()], OK);
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v5"), None));
    c.expect(&["EXPIRETIME", "k"], &int(at + 10));
    // A bulk item replaces the same way.
    c.expect(
        &["KV.PUT", "k", "v6", "EXPIRATION", &at.to_string(), "METADATA", "3"],
        OK,
    );
    c.expect(
        &["KV.BULKPUT", r#"[{"key":"k","value":"v7"}]"#],
        &P::R2.bulk_result(1, &[]),
    );
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("v7"), None));
    c.expect(&["TTL", "k"], ":-1\r\n");
}

#[test]
fn kv_keys_are_ordinary_keys() {
    let s = Server::start();
    let mut c = s.raw();
    let at = now() + 3600;
    c.expect(
        &[
            "KV.PUT",
            "k",
            "v",
            "EXPIRATION",
            &at.to_string(),
            "METADATA",
            "{\"m\":1}",
        ],
        OK,
    );
    c.expect(&["GET", "k"], &bulk("v"));
    c.expect(&["EXPIRETIME", "k"], &int(at));
    let ttl = int_reply(&mut c, &["TTL", "k"]);
    assert!((3590..=3600).contains(&ttl), "TTL {ttl} of a key expiring in an hour");
    c.expect(&["TYPE", "k"], "+string\r\n");
    c.expect(&["EXISTS", "k"], ":1\r\n");
    c.expect(&["SCAN", "0", "COUNT", "1000"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
    c.expect(&["DEL", "k"], ":1\r\n");
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(P::R2.nil(), None));
    // Keys written by Redis commands are KV keys without metadata.
    c.expect(&["SET", "r", "redis"], OK);
    c.expect(&["KV.GETWITHMETADATA", "r"], &P::R2.vm(bulk("redis"), None));
    c.expect(&["KV.LIST"], &P::R2.list(&[P::R2.entry("r", None, None)], None));
    // SET replaces the value and drops the metadata.
    c.expect(&["KV.PUT", "s", "v", "METADATA", "1"], OK);
    c.expect(&["SET", "s", "w"], OK);
    c.expect(&["KV.GETWITHMETADATA", "s"], &P::R2.vm(bulk("w"), None));
}

#[test]
fn redis_key_commands_keep_metadata() {
    let s = Server::start();
    let mut c = s.raw();
    let m = "{\"keep\":true}";
    c.expect(&["KV.PUT", "e", "v", "METADATA", m], OK);
    // EXPIRE keeps it, and the list shows the new expiration.
    c.expect(&["EXPIREAT", "e", "4000000000"], ":1\r\n");
    c.expect(&["KV.GETWITHMETADATA", "e"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(
        &["KV.LIST"],
        &P::R2.list(&[P::R2.entry("e", Some(4_000_000_000), Some(m))], None),
    );
    c.expect(&["EXPIRE", "e", "1000"], ":1\r\n");
    c.expect(&["KV.GETWITHMETADATA", "e"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(&["PERSIST", "e"], ":1\r\n");
    c.expect(&["TTL", "e"], ":-1\r\n");
    c.expect(&["KV.GETWITHMETADATA", "e"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(&["KV.LIST"], &P::R2.list(&[P::R2.entry("e", None, Some(m))], None));
    c.expect(&["RENAME", "e", "r"], OK);
    c.expect(&["KV.GETWITHMETADATA", "r"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(&["KV.GETWITHMETADATA", "e"], &P::R2.vm(P::R2.nil(), None));
    c.expect(&["COPY", "r", "c"], ":1\r\n");
    c.expect(&["KV.GETWITHMETADATA", "c"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(&["KV.GETWITHMETADATA", "r"], &P::R2.vm(bulk("v"), Some(m)));
    // Into a namespace by its index: COPY ... DB n and MOVE.
    create(&mut c, "NS", 16);
    c.expect(&["COPY", "r", "inns", "DB", "16"], ":1\r\n");
    c.expect(&["MOVE", "c", "16"], ":1\r\n");
    c.expect(&["EXISTS", "c"], ":0\r\n");
    // Indexes of no namespace are not databases.
    c.expect(&["COPY", "r", "x", "DB", "17"], DB_RANGE);
    c.expect(&["MOVE", "r", "17"], DB_RANGE);
    c.expect(&["SELECT", "16"], OK);
    c.expect(&["KV.GETWITHMETADATA", "inns"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(&["KV.GETWITHMETADATA", "c"], &P::R2.vm(bulk("v"), Some(m)));
    c.expect(
        &["KV.LIST"],
        &P::R2.list(
            &[P::R2.entry("c", None, Some(m)), P::R2.entry("inns", None, Some(m))],
            None,
        ),
    );
    // And back out with MOVE.
    c.expect(&["MOVE", "inns", "0"], ":1\r\n");
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["KV.GETWITHMETADATA", "inns"], &P::R2.vm(bulk("v"), Some(m)));
}

// ---------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------

#[test]
fn namespace_create_list_get_rename_delete() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.NAMESPACE", "LIST"], "*0\r\n");
    let a = create(&mut c, "SESSIONS", 16);
    let b = create(&mut c, "My Cache é", 17);
    assert_ne!(a, b);
    let third = create(&mut c, "third", 18);
    c.expect(&["SELECT", "17"], OK);
    c.expect(&["KV.PUT", "x", "1"], OK);
    c.expect(&["KV.PUT", "y", "2"], OK);
    c.expect(&["SELECT", "0"], OK);
    let list = |c: &mut Raw, p: P, b_title: &str, third_id: &str| {
        c.expect(
            &["KV.NAMESPACE", "LIST"],
            &arr(&[
                described(p, &a, "SESSIONS", 16, 0),
                described(p, &b, b_title, 17, 2),
                described(p, third_id, "third", 18, 0),
            ]),
        );
    };
    list(&mut c, P::R2, "My Cache é", &third);
    let mut c3 = P::R3.conn(&s);
    list(&mut c3, P::R3, "My Cache é", &third);
    for name in [b.as_str(), "My Cache é"] {
        c.expect(
            &["KV.NAMESPACE", "GET", name],
            &described(P::R2, &b, "My Cache é", 17, 2),
        );
        c3.expect(
            &["KV.NAMESPACE", "GET", name],
            &described(P::R3, &b, "My Cache é", 17, 2),
        );
    }
    // Titles are case-sensitive.
    expect_err(&mut c, &["KV.NAMESPACE", "GET", "sessions"], "Unknown namespace.");
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "GET", &a.to_uppercase()],
        "Unknown namespace.",
    );
    c.expect(&["KV.NAMESPACE", "RENAME", &b, "renamed"], OK);
    c.expect(
        &["KV.NAMESPACE", "GET", "renamed"],
        &described(P::R2, &b, "renamed", 17, 2),
    );
    expect_err(&mut c, &["KV.NAMESPACE", "GET", "My Cache é"], "Unknown namespace.");
    // Renaming to its own title is fine; the old title is free again.
    c.expect(&["KV.NAMESPACE", "RENAME", &b, "renamed"], OK);
    let e = create(&mut c, "My Cache é", 19);
    c.expect(&["KV.NAMESPACE", "DELETE", &e], OK);
    list(&mut c, P::R2, "renamed", &third);
    // DELETE drops the keys and frees the index: the next namespace takes it, empty.
    c.expect(&["KV.NAMESPACE", "DELETE", &b], OK);
    expect_err(&mut c, &["KV.NAMESPACE", "GET", &b], "Unknown namespace.");
    expect_err(&mut c, &["KV.NAMESPACE", "DELETE", &b], "Unknown namespace.");
    let d = create(&mut c, "reuse", 17);
    assert_ne!(d, b);
    c.expect(&["KV.NAMESPACE", "GET", "reuse"], &described(P::R2, &d, "reuse", 17, 0));
    c.expect(&["SELECT", "17"], OK);
    c.expect(&["DBSIZE"], ":0\r\n");
    c.expect(&["KV.GET", "x"], "$-1\r\n");
    c.expect(&["KV.LIST"], &P::R2.list(&[], None));
    // The RESP3 create reply is a map.
    let r = text(c3.cmd(&["KV.NAMESPACE", "CREATE", "r3"]));
    let id = r.split("\r\n").nth(4).unwrap().to_string();
    assert_eq!(
        r,
        P::R3.map(&[("id", bulk(&id)), ("title", bulk("r3")), ("index", int(19))])
    );
}

#[test]
fn namespace_title_rules() {
    let s = Server::start();
    let mut c = s.raw();
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "CREATE", ""],
        "A namespace title must not be empty",
    );
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "CREATE", &"t".repeat(513)],
        "A namespace title must be 512 characters or less (current: 513)",
    );
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "CREATE", &"é".repeat(513)],
        "A namespace title must be 512 characters or less (current: 513)",
    );
    // The limit is in characters: 512 two-byte characters are fine.
    let wide = "é".repeat(512);
    let w = create(&mut c, &wide, 16);
    let id = create(&mut c, "dup", 17);
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "CREATE", "dup"],
        "A namespace with this account ID and title already exists",
    );
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "RENAME", &id, &wide],
        "A namespace with this account ID and title already exists",
    );
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "RENAME", &id, ""],
        "A namespace title must not be empty",
    );
    expect_err(
        &mut c,
        &["KV.NAMESPACE", "RENAME", &id, &"t".repeat(513)],
        "A namespace title must be 512 characters or less (current: 513)",
    );
    let nobody = "0".repeat(32);
    for sub in ["GET", "DELETE", "STATS"] {
        expect_err(&mut c, &["KV.NAMESPACE", sub, &nobody], "Unknown namespace.");
    }
    expect_err(&mut c, &["KV.NAMESPACE", "RENAME", &nobody, "x"], "Unknown namespace.");
    // RENAME takes an id, not a title.
    expect_err(&mut c, &["KV.NAMESPACE", "RENAME", "dup", "x"], "Unknown namespace.");
    // Nothing refused was created or changed.
    c.expect(
        &["KV.NAMESPACE", "LIST"],
        &arr(&[described(P::R2, &w, &wide, 16, 0), described(P::R2, &id, "dup", 17, 0)]),
    );
}

#[test]
fn select_by_number_id_and_title_and_isolation() {
    let s = Server::start();
    let mut c = s.raw();
    // No namespace yet: index 16 is no database; a name that is no number is Redis's error.
    c.expect(&["SELECT", "16"], DB_RANGE);
    c.expect(&["SELECT", "nosuch"], NOT_INT);
    c.expect(&["SELECT", "-1"], DB_RANGE);
    let a = create(&mut c, "alpha", 16);
    let b = create(&mut c, "beta", 17);
    c.expect(&["SELECT", "18"], DB_RANGE);
    c.expect(&["SELECT", "nosuch"], NOT_INT);
    c.expect(&["SELECT", "ALPHA"], NOT_INT);
    c.expect(&["KV.PUT", "k", "zero"], OK);
    c.expect(&["SELECT", "16"], OK);
    c.expect(&["KV.PUT", "k", "in alpha", "METADATA", "\"a\""], OK);
    c.expect(&["SELECT", &b], OK);
    c.expect(&["KV.PUT", "k", "in beta"], OK);
    c.expect(&["KV.PUT", "only-beta", "1"], OK);
    c.expect(&["KV.GET", "k"], &bulk("in beta"));
    c.expect(&["SELECT", "alpha"], OK);
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("in alpha"), Some("\"a\"")));
    c.expect(&["KV.GET", "only-beta"], "$-1\r\n");
    c.expect(
        &["KV.LIST"],
        &P::R2.list(&[P::R2.entry("k", None, Some("\"a\""))], None),
    );
    c.expect(&["DBSIZE"], ":1\r\n");
    c.expect(&["SELECT", &a], OK);
    c.expect(&["GET", "k"], &bulk("in alpha"));
    c.expect(&["SELECT", "17"], OK);
    c.expect(&["DBSIZE"], ":2\r\n");
    c.expect(&["SELECT", "beta"], OK);
    c.expect(&["KV.DELETE", "k"], ":1\r\n");
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["KV.GETWITHMETADATA", "k"], &P::R2.vm(bulk("zero"), None));
    c.expect(&["SELECT", "alpha"], OK);
    c.expect(&["KV.GET", "k"], &bulk("in alpha"));
    // FLUSHDB empties the selected namespace only.
    c.expect(&["SELECT", "beta"], OK);
    c.expect(&["FLUSHDB"], OK);
    c.expect(&["KV.LIST"], &P::R2.list(&[], None));
    c.expect(&["SELECT", "alpha"], OK);
    c.expect(&["KV.GET", "k"], &bulk("in alpha"));
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["KV.GET", "k"], &bulk("zero"));
    // Numbered databases are still selected by number.
    c.expect(&["SELECT", "15"], OK);
    c.expect(&["DBSIZE"], ":0\r\n");
}

#[test]
fn deleted_namespace_tells_its_connections() {
    let s = Server::start();
    let mut admin = s.raw();
    let id = create(&mut admin, "doomed", 16);
    let mut c = s.raw();
    c.expect(&["SELECT", "doomed"], OK);
    c.expect(&["KV.PUT", "k", "v"], OK);
    c.expect(&["SET", "r", "v"], OK);
    let mut stale = s.raw();
    stale.expect(&["SELECT", "16"], OK);
    admin.expect(&["KV.NAMESPACE", "DELETE", &id], OK);
    for cmd in [
        &["KV.GET", "k"][..],
        &["GET", "r"],
        &["KV.PUT", "k", "v"],
        &["KV.LIST"],
        &["DBSIZE"],
    ] {
        c.expect(cmd, DELETED);
    }
    // The connection itself works; SELECT by the deleted title or index fails, another works.
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["SELECT", "doomed"], NOT_INT);
    c.expect(&["SELECT", "16"], DB_RANGE);
    c.expect(&["KV.GET", "k"], DELETED);
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["KV.GET", "k"], "$-1\r\n");
    // A new namespace in the freed slot: the connection that selected the old one is still
    // told, and sees the new, empty namespace once it selects it.
    let new = create(&mut admin, "fresh", 16);
    assert_ne!(new, id);
    // It starts with fresh usage counters.
    expect_stats(&mut admin, "fresh", (&new, "fresh", 16), 0, [0; 4], [0; 5]);
    stale.expect(&["GET", "r"], DELETED);
    stale.expect(&["KV.GET", "k"], DELETED);
    stale.expect(&["SELECT", "16"], OK);
    stale.expect(&["DBSIZE"], ":0\r\n");
    stale.expect(&["KV.GET", "k"], "$-1\r\n");
    stale.expect(&["GET", "r"], "$-1\r\n");
    stale.expect(&["KV.LIST"], &P::R2.list(&[], None));
}

#[test]
fn max_namespaces() {
    let s = Server::start_with(&["--kv-max-namespaces", "2"]);
    let mut c = s.raw();
    let a = create(&mut c, "a", 16);
    create(&mut c, "b", 17);
    let full = "The limit of 2 namespaces is reached (configuration: kv-max-namespaces)";
    expect_err(&mut c, &["KV.NAMESPACE", "CREATE", "c"], full);
    c.expect(&["SELECT", "18"], DB_RANGE);
    c.expect(
        &["CONFIG", "SET", "kv-max-namespaces", "5"],
        "-ERR CONFIG SET failed (possibly related to argument 'kv-max-namespaces') - can't set immutable config\r\n",
    );
    c.expect(&["KV.NAMESPACE", "DELETE", &a], OK);
    create(&mut c, "c", 16);
    expect_err(&mut c, &["KV.NAMESPACE", "CREATE", "d"], full);
}

#[test]
fn registry_survives_a_restart() {
    let mut s = Server::start();
    let mut c = s.raw();
    let a = create(&mut c, "alpha", 16);
    let b = create(&mut c, "beta", 17);
    let g = create(&mut c, "gamma", 18);
    c.expect(&["KV.NAMESPACE", "DELETE", &b], OK);
    c.expect(&["KV.NAMESPACE", "RENAME", &a, "alpha two"], OK);
    let want = arr(&[
        described(P::R2, &a, "alpha two", 16, 0),
        described(P::R2, &g, "gamma", 18, 0),
    ]);
    c.expect(&["KV.NAMESPACE", "LIST"], &want);
    drop(c);
    s.stop();
    let s2 = Server::start_in(s.dir.path(), &[]);
    let mut c = s2.raw();
    c.expect(&["KV.NAMESPACE", "LIST"], &want);
    c.expect(&["SELECT", "alpha two"], OK);
    c.expect(&["SELECT", &g], OK);
    c.expect(&["SELECT", "18"], OK);
    c.expect(&["SELECT", "17"], DB_RANGE);
    c.expect(&["SELECT", "beta"], NOT_INT);
    // The freed index is the next one taken, and that too is saved.
    let d = create(&mut c, "delta", 17);
    drop(c);
    drop(s2);
    let s3 = Server::start_in(s.dir.path(), &[]);
    let mut c = s3.raw();
    c.expect(
        &["KV.NAMESPACE", "LIST"],
        &arr(&[
            described(P::R2, &a, "alpha two", 16, 0),
            described(P::R2, &d, "delta", 17, 0),
            described(P::R2, &g, "gamma", 18, 0),
        ]),
    );
}

#[test]
fn redis_crate_url_selects_a_namespace() {
    let s = Server::start();
    let mut c = s.raw();
    create(&mut c, "viaurl", 16);
    c.expect(&["SELECT", "16"], OK);
    c.expect(&["KV.PUT", "k", "in namespace", "METADATA", "{\"x\":1}"], OK);
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["KV.PUT", "k", "in db 0"], OK);
    let url = format!("redis://127.0.0.1:{}/16", s.port);
    let mut r = redis::Client::open(url).unwrap().get_connection().expect("connect");
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(v.as_deref(), Some("in namespace"));
    let v: Vec<Option<String>> = redis::cmd("KV.GETWITHMETADATA").arg("k").query(&mut r).unwrap();
    assert_eq!(v, vec![Some("in namespace".to_string()), Some("{\"x\":1}".to_string())]);
    let n: i64 = redis::cmd("DBSIZE").query(&mut r).unwrap();
    assert_eq!(n, 1);
    // An index that is no namespace is refused when connecting.
    let bad = redis::Client::open(format!("redis://127.0.0.1:{}/17", s.port))
        .unwrap()
        .get_connection();
    let e = bad.err().expect("index 17 is no database").to_string();
    assert!(e.contains("DB index is out of range"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Usage and quotas
// ---------------------------------------------------------------------------------------

/// A namespace as STATS names it: id, title, index.
type Ns<'a> = (&'a str, &'a str, i64);

/// Asserts KV.NAMESPACE STATS (looked up by `name`) in RESP2: `keys`, the usage `counts`
/// (reads, writes, deletes, lists; today and in total alike) and the `quotas` (reads,
/// writes, deletes, lists, storage). Returns `bytes`, taken from the reply.
#[track_caller]
fn expect_stats(c: &mut Raw, name: &str, ns: Ns, keys: i64, counts: [i64; 4], quotas: [i64; 5]) -> i64 {
    let r = text(c.cmd(&["KV.NAMESPACE", "STATS", name]));
    let bytes: i64 = field(&r, "bytes").parse().unwrap();
    let want = P::R2.map(&[
        ("id", bulk(ns.0)),
        ("title", bulk(ns.1)),
        ("index", int(ns.2)),
        ("keys", int(keys)),
        ("bytes", int(bytes)),
        ("reads", int(counts[0])),
        ("writes", int(counts[1])),
        ("deletes", int(counts[2])),
        ("lists", int(counts[3])),
        ("reads_today", int(counts[0])),
        ("writes_today", int(counts[1])),
        ("deletes_today", int(counts[2])),
        ("lists_today", int(counts[3])),
        ("quota_reads", int(quotas[0])),
        ("quota_writes", int(quotas[1])),
        ("quota_deletes", int(quotas[2])),
        ("quota_lists", int(quotas[3])),
        ("quota_storage", int(quotas[4])),
    ]);
    assert_eq!(r, want, "STATS {name}");
    assert_eq!(bytes > 0, keys > 0, "bytes {bytes} with {keys} keys");
    bytes
}

#[test]
fn usage_is_counted_per_namespace() {
    let s = Server::start();
    let mut c = s.raw();
    let id = create(&mut c, "U", 16);
    let other = create(&mut c, "a,b=c:d", 17);
    expect_stats(&mut c, "U", (&id, "U", 16), 0, [0; 4], [0; 5]);
    c.expect(&["SELECT", "U"], OK);
    c.expect(&["KV.PUT", "a", "1"], OK);
    c.expect(&["KV.PUT", "b", "2", "METADATA", "1"], OK);
    // Reads: one per key, missing keys too.
    c.expect(&["KV.GET", "a"], &bulk("1"));
    c.expect(&["KV.GET", "nokey"], "$-1\r\n");
    c.expect(&["KV.GETWITHMETADATA", "b"], &P::R2.vm(bulk("2"), Some("1")));
    c.expect(
        &["KV.MGET", "a", "b", "nokey"],
        &arr(&[bulk("1"), bulk("2"), "$-1\r\n".into()]),
    );
    c.expect(
        &["KV.MGET", "a", "a", "WITHMETADATA"],
        &arr(&[P::R2.vm(bulk("1"), None), P::R2.vm(bulk("1"), None)]),
    );
    // Deletes: one per key named, existing or not.
    c.expect(&["KV.DELETE", "b", "nokey"], ":1\r\n");
    c.expect(
        &["KV.BULKPUT", r#"[{"key":"x","value":"1"},{"key":"y","value":"2"}]"#],
        &P::R2.bulk_result(2, &[]),
    );
    c.expect(&["KV.BULKDELETE", "x", "nokey"], &P::R2.bulk_result(2, &[]));
    // Lists: one per call.
    c.expect(
        &["KV.LIST"],
        &P::R2.list(&[P::R2.entry("a", None, None), P::R2.entry("y", None, None)], None),
    );
    let r = text(c.cmd(&["KV.LIST", "LIMIT", "1"]));
    let cursor = r.rsplit("\r\n").nth(1).unwrap().to_string();
    assert_eq!(r, P::R2.list(&[P::R2.entry("a", None, None)], Some(&cursor)));
    // Refused requests and the Redis commands are not billed.
    expect_err(&mut c, &["KV.GET", ""], "Key names must not be empty");
    expect_err(&mut c, &["KV.PUT", "", "v"], "Key names must not be empty");
    expect_err(
        &mut c,
        &["KV.DELETE", "a", "."],
        "Illegal key name \".\". Please use a different name.",
    );
    expect_err(
        &mut c,
        &["KV.LIST", "LIMIT", "0"],
        "Invalid key_count_limit of 0. Please specify an integer greater than 0.",
    );
    expect_err(
        &mut c,
        &["KV.BULKPUT", "{}"],
        "Expected an array of key-value objects but got type \"object\".",
    );
    c.expect(&["KV.GET", "a", "FOO"], SYNTAX);
    c.expect(&["GET", "a"], &bulk("1"));
    c.expect(&["SET", "z", "1"], OK);
    c.expect(&["DEL", "z"], ":1\r\n");
    let counts = [8, 4, 4, 2];
    let bytes = expect_stats(&mut c, "U", (&id, "U", 16), 2, counts, [0; 5]);
    assert_eq!(expect_stats(&mut c, &id, (&id, "U", 16), 2, counts, [0; 5]), bytes);
    expect_stats(&mut c, &other, (&other, "a,b=c:d", 17), 0, [0; 4], [0; 5]);
    // Other namespaces and db 0 count apart.
    c.expect(&["SELECT", "0"], OK);
    c.expect(&["KV.PUT", "a", "1"], OK);
    expect_stats(&mut c, "U", (&id, "U", 16), 2, counts, [0; 5]);
    // INFO: one line per namespace, the title's `,=:` replaced.
    let info = payload(&c.cmd(&["INFO", "namespaces"]));
    assert_eq!(
        info,
        format!(
            "# Namespaces\r\n\
             ns16:id={id},title=U,keys=2,bytes={bytes},reads=8,writes=4,deletes=4,lists=2,\
             reads_today=8,writes_today=4,deletes_today=4,lists_today=2\r\n\
             ns17:id={other},title=a_b_c_d,keys=0,bytes=0,reads=0,writes=0,deletes=0,lists=0,\
             reads_today=0,writes_today=0,deletes_today=0,lists_today=0\r\n"
        )
    );
    // The default INFO has the section too.
    let all = payload(&c.cmd(&["INFO"]));
    assert!(
        all.ends_with(&format!("\r\n{info}")),
        "INFO ends with the namespaces section"
    );
}

#[test]
fn write_quota() {
    let s = Server::start_with(&["--kv-quota-writes", "3"]);
    let mut c = s.raw();
    let id = create(&mut c, "W", 16);
    c.expect(&["SELECT", "16"], OK);
    c.expect(&["KV.PUT", "a", "1"], OK);
    // The bulk write writes what the quota allows and reports the rest.
    c.expect(
        &[
            "KV.BULKPUT",
            r#"[{"key":"b","value":"2"},{"key":"c","value":"3"},{"key":"d","value":"4"},{"key":"a","value":"new"}]"#,
        ],
        &P::R2.bulk_result(2, &["d", "a"]),
    );
    c.expect(
        &["MGET", "a", "b", "c", "d"],
        &arr(&[bulk("1"), bulk("2"), bulk("3"), "$-1\r\n".into()]),
    );
    let over = "KV put() limit exceeded for the day.";
    expect_err(&mut c, &["KV.PUT", "e", "5"], over);
    expect_err(&mut c, &["KV.PUT", "a", "changed", "METADATA", "1"], over);
    c.expect(
        &["KV.BULKPUT", r#"[{"key":"f","value":"6"}]"#],
        &P::R2.bulk_result(0, &["f"]),
    );
    // Nothing was written.
    c.expect(&["EXISTS", "e", "f"], ":0\r\n");
    c.expect(&["KV.GETWITHMETADATA", "a"], &P::R2.vm(bulk("1"), None));
    expect_stats(&mut c, "W", (&id, "W", 16), 3, [1, 3, 0, 0], [0, 3, 0, 0, 0]);
    // The quota is per namespace: another one still writes.
    create(&mut c, "X", 17);
    c.expect(&["SELECT", "17"], OK);
    c.expect(&["KV.PUT", "a", "1"], OK);
    // Raising the quota at run time lets writes through again.
    c.expect(&["CONFIG", "SET", "kv-quota-writes", "4"], OK);
    c.expect(&["SELECT", "16"], OK);
    c.expect(&["KV.PUT", "e", "5"], OK);
    expect_err(&mut c, &["KV.PUT", "g", "7"], over);
    c.expect(&["CONFIG", "SET", "kv-quota-writes", "0"], OK);
    c.expect(&["KV.PUT", "g", "7"], OK);
}

#[test]
fn read_quota() {
    let s = Server::start_with(&["--kv-quota-reads", "3"]);
    let mut c = s.raw();
    let id = create(&mut c, "R", 16);
    c.expect(&["SELECT", "R"], OK);
    c.expect(&["KV.PUT", "a", "1"], OK);
    c.expect(&["KV.MGET", "a", "b"], &arr(&[bulk("1"), "$-1\r\n".into()]));
    let over = "KV get() limit exceeded for the day.";
    // Two more reads would pass the quota: the whole MGET is refused.
    expect_err(&mut c, &["KV.MGET", "a", "b"], over);
    c.expect(&["KV.GET", "a"], &bulk("1"));
    expect_err(&mut c, &["KV.GET", "a"], over);
    expect_err(&mut c, &["KV.GETWITHMETADATA", "a"], over);
    expect_err(&mut c, &["KV.MGET", "a", "WITHMETADATA"], over);
    // Writes and Redis reads are not reads of the quota.
    c.expect(&["KV.PUT", "b", "2"], OK);
    c.expect(&["GET", "a"], &bulk("1"));
    expect_stats(&mut c, "R", (&id, "R", 16), 2, [3, 2, 0, 0], [3, 0, 0, 0, 0]);
}

#[test]
fn delete_quota() {
    let s = Server::start_with(&["--kv-quota-deletes", "2"]);
    let mut c = s.raw();
    let id = create(&mut c, "D", 16);
    c.expect(&["SELECT", "D"], OK);
    for k in ["a", "b", "c", "d"] {
        c.expect(&["KV.PUT", k, "v"], OK);
    }
    let over = "KV delete() limit exceeded for the day.";
    // Three deletes at once pass the quota: none happens.
    expect_err(&mut c, &["KV.DELETE", "a", "b", "c"], over);
    c.expect(&["DBSIZE"], ":4\r\n");
    c.expect(&["KV.DELETE", "a"], ":1\r\n");
    c.expect(&["KV.BULKDELETE", "b", "c", "d"], &P::R2.bulk_result(1, &["c", "d"]));
    c.expect(&["EXISTS", "a", "b", "c", "d"], ":2\r\n");
    expect_err(&mut c, &["KV.DELETE", "c"], over);
    c.expect(&["KV.BULKDELETE", "c"], &P::R2.bulk_result(0, &["c"]));
    c.expect(&["KV.MGET", "c", "d"], &arr(&[bulk("v"), bulk("v")]));
    expect_stats(&mut c, "D", (&id, "D", 16), 2, [2, 4, 2, 0], [0, 0, 2, 0, 0]);
}

#[test]
fn list_quota() {
    let s = Server::start_with(&["--kv-quota-lists", "2"]);
    let mut c = s.raw();
    let id = create(&mut c, "L", 16);
    c.expect(&["SELECT", "L"], OK);
    c.expect(&["KV.PUT", "a", "1"], OK);
    let one = P::R2.list(&[P::R2.entry("a", None, None)], None);
    c.expect(&["KV.LIST"], &one);
    c.expect(&["KV.LIST", "PREFIX", "a"], &one);
    expect_err(&mut c, &["KV.LIST"], "KV list() limit exceeded for the day.");
    c.expect(&["SCAN", "0"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    expect_stats(&mut c, "L", (&id, "L", 16), 1, [0, 1, 0, 2], [0, 0, 0, 2, 0]);
}

#[test]
fn storage_quota() {
    let s = Server::start_with(&["--kv-quota-storage", "1000"]);
    let mut c = s.raw();
    let id = create(&mut c, "S", 16);
    c.expect(&["SELECT", "S"], OK);
    let v500 = "a".repeat(500);
    let v600 = "b".repeat(600);
    c.expect(&["KV.PUT", "first", &v500], OK);
    let full = "KV storage limit exceeded for the namespace.";
    expect_err(&mut c, &["KV.PUT", "second", &v600], full);
    c.expect(&["EXISTS", "second"], ":0\r\n");
    let body = format!(r#"[{{"key":"small","value":"s"}},{{"key":"second","value":"{v600}"}}]"#);
    c.expect(&["KV.BULKPUT", &body], &P::R2.bulk_result(1, &["second"]));
    c.expect(&["EXISTS", "small", "second"], ":1\r\n");
    // Refused writes are not billed as writes.
    expect_stats(&mut c, "S", (&id, "S", 16), 2, [0, 2, 0, 0], [0, 0, 0, 0, 1000]);
    c.expect(
        &["CONFIG", "GET", "kv-quota-storage"],
        "*2\r\n$16\r\nkv-quota-storage\r\n$4\r\n1000\r\n",
    );
    // Deleting frees the space.
    c.expect(&["KV.DELETE", "first"], ":1\r\n");
    c.expect(&["KV.PUT", "second", &v600], OK);
}

#[test]
fn storage_quota_counts_what_a_write_leaves_stored() {
    // Replacing a key's value does not add the new bytes to the old ones: a put that leaves
    // the namespace's size as it was (or smaller) is within the quota it was within before.
    let s = Server::start_with(&["--kv-quota-storage", "1000"]);
    let mut c = s.raw();
    create(&mut c, "S", 16);
    c.expect(&["SELECT", "S"], OK);
    let v600 = "a".repeat(600);
    c.expect(&["KV.PUT", "k", &v600], OK);
    c.expect(&["KV.PUT", "k", &"b".repeat(600)], OK);
    c.expect(&["KV.GET", "k"], &bulk(&"b".repeat(600)));
    c.expect(
        &["KV.BULKPUT", &format!(r#"[{{"key":"k","value":"{v600}"}}]"#)],
        &P::R2.bulk_result(1, &[]),
    );
    c.expect(&["KV.GET", "k"], &bulk(&v600));
}

// ---------------------------------------------------------------------------------------
// Expired keys
// ---------------------------------------------------------------------------------------

#[test]
fn expired_keys_are_never_returned_or_listed() {
    let s = Server::start_with(&["--kv-min-ttl", "1"]);
    let mut c = s.raw();
    create(&mut c, "E", 16);
    for db in ["0", "16"] {
        c.expect(&["SELECT", db], OK);
        c.expect(&["KV.PUT", "keep", "k", "METADATA", "1"], OK);
        c.expect(&["KV.PUT", "t1", "v", "EXPIRATIONTTL", "1", "METADATA", "2"], OK);
        c.expect(&["KV.PUT", "t2", "v"], OK);
        c.expect(&["PEXPIRE", "t2", "1"], ":1\r\n");
        // Many keys at once, more than one reclaimer pass may take.
        let items: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"key":"x{i:04}","value":"v","expiration_ttl":1}}"#))
            .collect();
        c.expect(
            &["KV.BULKPUT", &format!("[{}]", items.join(","))],
            &P::R2.bulk_result(3000, &[]),
        );
    }
    std::thread::sleep(Duration::from_millis(1200));
    for db in ["0", "16"] {
        c.expect(&["SELECT", db], OK);
        for k in ["t1", "t2", "x0000", "x2999"] {
            c.expect(&["KV.GET", k], "$-1\r\n");
            c.expect(&["KV.GETWITHMETADATA", k], &P::R2.vm(P::R2.nil(), None));
        }
        c.expect(
            &["KV.MGET", "t1", "keep", "t2", "x1500", "WITHMETADATA"],
            &arr(&[
                "$-1\r\n".into(),
                P::R2.vm(bulk("k"), Some("1")),
                "$-1\r\n".into(),
                "$-1\r\n".into(),
            ]),
        );
        // Every page, followed to the end (a page may be short while the list is not
        // complete), lists only the live key.
        let keep = P::R2.entry("keep", None, Some("1"));
        assert_eq!(list_all(&mut c, &[]), vec![keep.clone()]);
        assert_eq!(list_all(&mut c, &["LIMIT", "1"]), vec![keep.clone()]);
        assert_eq!(list_all(&mut c, &["PREFIX", "t"]), Vec::<String>::new());
        assert_eq!(list_all(&mut c, &["PREFIX", "x", "LIMIT", "10"]), Vec::<String>::new());
        c.expect(&["KV.DELETE", "t1", "t2", "x0001"], ":0\r\n");
        c.expect(&["KV.GET", "keep"], &bulk("k"));
    }
}

#[test]
fn expired_keys_are_hidden_before_the_reclaimer_runs() {
    // The reclaimer removes an expired key within a tick or so; reads must not wait for it.
    // One write pipelines: a key per kind of read, each given 1 ms to live, then a sentinel
    // key given 1 ms after them, then many pairs [PTTL sentinel, read of its key]. Once the
    // sentinel is gone (PTTL -2) the others' deadlines have passed too, and the read after it
    // must not see its key, whether or not the reclaimer has removed it yet. (PTTL touches
    // the sentinel only, so lazy expiry on lookup does not remove the keys under test.)
    let s = Server::start();
    let mut c = s.raw();
    let mut expired_pairs = 0;
    // Rounds until some reads came after the deadline (the first round nearly always does).
    for round in 0..50 {
        if round >= 5 && expired_pairs > 0 {
            break;
        }
        let name = |kind: &str| format!("r{round}-{kind}");
        let (g, w, m, l, sentinel) = (name("get"), name("gwm"), name("mget"), name("list"), name("sentinel"));
        let reads: [(Vec<&str>, String); 5] = [
            (vec!["KV.GET", &g], "$-1\r\n".into()),
            (vec!["KV.GETWITHMETADATA", &w], P::R2.vm(P::R2.nil(), None)),
            (vec!["KV.MGET", &m, "WITHMETADATA"], arr(&["$-1\r\n".into()])),
            (vec!["KV.LIST", "PREFIX", &l], P::R2.list(&[], None)),
            (vec!["KV.LIST"], P::R2.list(&[], None)),
        ];
        let mut out = Vec::new();
        for k in [&g, &w, &m, &l, &sentinel] {
            out.extend(resp(&[b"KV.PUT", k.as_bytes(), b"v", b"METADATA", b"1"]));
            out.extend(resp(&[b"PEXPIRE", k.as_bytes(), b"1"]));
        }
        let pairs = 100;
        for _ in 0..pairs {
            for (read, _) in &reads {
                out.extend(resp(&[b"PTTL", sentinel.as_bytes()]));
                let a: Vec<&[u8]> = read.iter().map(|x| x.as_bytes()).collect();
                out.extend(resp(&a));
            }
        }
        c.send(&out);
        for _ in 0..5 {
            assert_eq!(text(c.read_reply()), OK);
            assert_eq!(text(c.read_reply()), ":1\r\n");
        }
        for _ in 0..pairs {
            for (read, gone) in &reads {
                let pttl = text(c.read_reply());
                let got = text(c.read_reply());
                if pttl == ":-2\r\n" {
                    expired_pairs += 1;
                    assert_eq!(&got, gone, "{read:?} after the sentinel expired (round {round})");
                } else {
                    assert!(pttl == ":1\r\n" || pttl == ":0\r\n", "PTTL {pttl:?}");
                }
            }
        }
    }
    assert!(expired_pairs > 0, "no read happened after the deadline in 50 rounds");
}

/// Writers that had the namespace selected race KV.NAMESPACE DELETE: none of their writes may
/// land in the slot after the deletion, where the next namespace created would find them.
#[test]
fn namespace_delete_races_writers_without_leaking_keys() {
    let s = Server::start();
    let mut admin = s.raw();
    for round in 0..10 {
        let id = create(&mut admin, &format!("ns{round}"), 16);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let mut c = s.raw();
                let stop = stop.clone();
                c.expect(&["SELECT", "16"], OK);
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let r = c.cmd(&["KV.PUT", &format!("w{w}-{i}"), "v"]);
                        assert!(
                            r == b"+OK\r\n" || r == b"-ERR the selected namespace was deleted; SELECT another one\r\n",
                            "{}",
                            String::from_utf8_lossy(&r)
                        );
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        admin.expect(&["KV.NAMESPACE", "DELETE", &id], OK);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        // The next namespace takes slot 16 and must be empty.
        let next = create(&mut admin, &format!("next{round}"), 16);
        admin.expect(&["SELECT", "16"], OK);
        admin.expect(&["DBSIZE"], ":0\r\n");
        admin.expect(&["SELECT", "0"], OK);
        admin.expect(&["KV.NAMESPACE", "DELETE", &next], OK);
    }
}

/// Keys that plain SET can write but KV.PUT cannot (empty, longer than 512 bytes) are listed
/// like any other, and paging over them ends.
#[test]
fn list_pages_over_keys_only_redis_commands_can_write() {
    let s = Server::start();
    let mut c = s.raw();
    let long = "x".repeat(600);
    for k in ["", long.as_str(), "a", "y"] {
        c.expect(&["SET", k, "v"], OK);
    }
    let mut cursor = String::new();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let mut args = vec!["KV.LIST", "LIMIT", "1"];
        if !cursor.is_empty() {
            args.extend(["CURSOR", cursor.as_str()]);
        }
        let r = c.cmd(&args);
        let t = String::from_utf8_lossy(&r).into_owned();
        // RESP2: *4 or *6: keys, [names], list_complete, n, [cursor, c]
        let lines: Vec<&str> = t.split("\r\n").collect();
        let name_at = lines.iter().position(|l| *l == "name").expect("a key per page") + 2;
        seen.push(lines[name_at].to_string());
        match lines.iter().position(|l| *l == "cursor") {
            Some(p) => cursor = lines[p + 2].to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["", "a", long.as_str(), "y"]);
}

// ---------------------------------------------------------------------------------------
// What the HTTP surfaces need from the commands: KV.BULKGET, KV.GETWITHMETADATA
// WITHEXPIRATION, KV.LIST FORMAT json, key patterns inside KV.BULKPUT's body.
// ---------------------------------------------------------------------------------------

#[test]
fn bulkget_returns_value_metadata_and_expiration() {
    let s = Server::start();
    for p in BOTH {
        let mut c = p.conn(&s);
        c.expect(&["FLUSHDB"], OK);
        c.expect(&["KV.PUT", "a", "1", "METADATA", "{\"m\":1}"], OK);
        c.expect(&["KV.PUT", "b", "2", "EXPIRATION", "4102444800"], OK);
        let entry = |v: &str, m: Option<&str>, e: Option<i64>| {
            let m = m.map_or(p.nil(), bulk);
            let e = e.map_or(p.nil(), int);
            match p {
                P::R2 => arr(&[bulk(v), m, e]),
                P::R3 => p.map(&[("value", bulk(v)), ("metadata", m), ("expiration", e)]),
            }
        };
        c.expect(
            &["KV.BULKGET", "a", "nokey", "b", "WITHMETADATA"],
            &arr(&[
                entry("1", Some("{\"m\":1}"), None),
                p.nil(),
                entry("2", None, Some(4102444800)),
                p.nil(),
            ]),
        );
        c.expect(&["KV.BULKGET"], &arity("kv.bulkget"));
        let many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
        let mut args = vec!["KV.BULKGET"];
        args.extend(many.iter().map(String::as_str));
        expect_err(&mut c, &args, "You can request a maximum of 100 keys");
        expect_err(&mut c, &["KV.BULKGET", "ok", ""], "Key names must not be empty");
        c.expect(&["KV.PUT", "big1", &"x".repeat(13 << 20)], OK);
        c.expect(&["KV.PUT", "big2", &"x".repeat(13 << 20)], OK);
        expect_err(
            &mut c,
            &["KV.BULKGET", "big1", "big2"],
            "Total size of request exceeds the limit of 25MB",
        );
    }
}

#[test]
fn getwithmetadata_withexpiration() {
    let s = Server::start();
    for p in BOTH {
        let mut c = p.conn(&s);
        c.expect(&["KV.PUT", "k", "v", "EXPIRATION", "4102444800", "METADATA", "[1]"], OK);
        c.expect(&["KV.PUT", "plain", "v"], OK);
        let three = |v: String, m: String, e: String| match p {
            P::R2 => arr(&[v, m, e]),
            P::R3 => p.map(&[("value", v), ("metadata", m), ("expiration", e)]),
        };
        c.expect(
            &["KV.GETWITHMETADATA", "k", "WITHEXPIRATION"],
            &three(bulk("v"), bulk("[1]"), int(4102444800)),
        );
        c.expect(
            &["KV.GETWITHMETADATA", "plain", "withexpiration", "TYPE", "text"],
            &three(bulk("v"), p.nil(), p.nil()),
        );
        c.expect(
            &["KV.GETWITHMETADATA", "nokey", "WITHEXPIRATION"],
            &three(p.nil(), p.nil(), p.nil()),
        );
        // Without the option, the reply is as before.
        c.expect(&["KV.GETWITHMETADATA", "k"], &p.vm(bulk("v"), Some("[1]")));
        // KV.GET takes no such option.
        expect_err(&mut c, &["KV.GET", "k", "WITHEXPIRATION"], "syntax error");
    }
}

#[test]
fn list_format_json() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["KV.PUT", "a", "1", "METADATA", "{\"m\": [1, \"x\"]}"], OK);
    c.expect(&["KV.PUT", "b", "2", "EXPIRATION", "4102444800"], OK);
    c.expect(&["KV.PUT", "c\"q", "3", "METADATA", "\"s\""], OK);
    c.expect(&["SET", "plain", "4"], OK);
    let page = |args: &[&str]| payload(&c_cmd(&s, args));
    assert_eq!(
        page(&["KV.LIST", "FORMAT", "json"]),
        "{\"keys\":[{\"name\":\"a\",\"metadata\":{\"m\": [1, \"x\"]}},{\"name\":\"b\",\"expiration\":4102444800},{\"name\":\"c\\\"q\",\"metadata\":\"s\"},{\"name\":\"plain\"}],\"list_complete\":true}"
    );
    let first = page(&["KV.LIST", "LIMIT", "2", "FORMAT", "JSON"]);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["list_complete"], false);
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    let cursor = v["cursor"].as_str().unwrap().to_string();
    assert_eq!(
        page(&["KV.LIST", "CURSOR", &cursor, "FORMAT", "json", "PREFIX", ""]),
        "{\"keys\":[{\"name\":\"c\\\"q\",\"metadata\":\"s\"},{\"name\":\"plain\"}],\"list_complete\":true}"
    );
    assert_eq!(
        page(&["KV.LIST", "PREFIX", "zz", "FORMAT", "json"]),
        "{\"keys\":[],\"list_complete\":true}"
    );
    // FORMAT resp is the default reply.
    assert_eq!(
        c_cmd(&s, &["KV.LIST", "PREFIX", "p", "FORMAT", "resp"]),
        c_cmd(&s, &["KV.LIST", "PREFIX", "p"])
    );
    expect_err(&mut c, &["KV.LIST", "FORMAT", "xml"], "syntax error");
}

fn c_cmd(s: &Server, args: &[&str]) -> Vec<u8> {
    s.raw().cmd(args)
}

#[test]
fn bulkput_checks_key_patterns_of_its_items() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.expect(&["ACL", "SETUSER", "u", "on", ">p", "~user:*", "+@kv"], OK);
    let mut u = s.raw();
    u.expect(&["AUTH", "u", "p"], OK);
    let body = r#"[{"key":"user:1","value":"a"},{"key":"other","value":"b"}]"#;
    u.expect(
        &["KV.BULKPUT", body],
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    admin.expect(&["EXISTS", "user:1", "other"], ":0\r\n");
    let info = Info::of(&mut admin, &u).running(&["KV.BULKPUT", body], "kv.bulkput", "u");
    assert_eq!(
        acl_log(&mut admin, &["1"]),
        [entry(1, "key", "toplevel", "other", "u", &info)]
    );
    u.expect(
        &["KV.BULKPUT", r#"[{"key":"user:1","value":"a"}]"#],
        &P::R2.bulk_result(1, &[]),
    );
    admin.expect(&["GET", "user:1"], &bulk("a"));
}

/// The JSON pages of `KV.LIST ... LIMIT limit FORMAT json` from `c`, following the cursor:
/// (names per page, cursors given).
fn json_pages(c: &mut Raw, prefix: &str, limit: usize) -> (Vec<Vec<String>>, Vec<String>) {
    let (mut pages, mut cursors) = (Vec::new(), Vec::new());
    let mut cursor = String::new();
    for _ in 0..1000 {
        let l = limit.to_string();
        let r = payload(&c.cmd(&[
            "KV.LIST", "PREFIX", prefix, "LIMIT", &l, "CURSOR", &cursor, "FORMAT", "json",
        ]));
        let v: serde_json::Value = serde_json::from_str(&r).unwrap_or_else(|e| panic!("{e}: {r}"));
        let names = v["keys"].as_array().unwrap().iter();
        pages.push(names.map(|k| k["name"].as_str().unwrap().to_string()).collect());
        if v["list_complete"] == true {
            assert!(v.get("cursor").is_none(), "{r}");
            return (pages, cursors);
        }
        cursor = v["cursor"].as_str().unwrap().to_string();
        cursors.push(cursor.clone());
    }
    panic!("KV.LIST never completed");
}

/// The raw bytes of a KV.LIST cursor (base64url): a version byte, then the key (1) or a
/// sealed key (2).
fn cursor_bytes(c: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).unwrap()
}

/// KV.LIST shows a user limited by ACL key patterns only the keys it may read: neither the
/// names nor the metadata of the others (they are stored data, and a direct read of them is
/// refused), in full pages while more keys it may read follow, with cursors that name only
/// keys it may read.
#[test]
fn list_shows_only_keys_the_user_may_read() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.expect(
        &["KV.PUT", "secret", "topsecret", "METADATA", r#"{"password":"hunter2"}"#],
        OK,
    );
    let mut visible = Vec::new();
    for i in 0..25 {
        // Visible through `~pub:*` and `%R~*:vis`; hidden ones in between and around them.
        admin.expect(&["KV.PUT", &format!("pub:{i:02}"), "v"], OK);
        admin.expect(
            &["KV.PUT", &format!("a:{i:02}"), "v", "METADATA", r#"{"hidden":1}"#],
            OK,
        );
        admin.expect(
            &["KV.PUT", &format!("a:{i:02}:vis"), "v", "METADATA", r#"{"shown":1}"#],
            OK,
        );
        visible.extend([format!("pub:{i:02}"), format!("a:{i:02}:vis")]);
    }
    for k in ["pub", "puba", "w:1", "zzz"] {
        admin.expect(&["KV.PUT", k, "v"], OK);
    }
    visible.sort();
    admin.expect(
        &[
            "ACL", "SETUSER", "alice", "on", ">pw", "~pub:*", "%R~*:vis", "%W~w:*", "+@all",
        ],
        OK,
    );
    admin.expect(&["ACL", "SETUSER", "bob", "on", ">pw", "~pub:*", "+@all"], OK);
    let mut alice = s.raw();
    alice.expect(&["AUTH", "alice", "pw"], OK);
    let mut bob = s.raw();
    bob.expect(&["AUTH", "bob", "pw"], OK);
    // What the review found: her direct read of `secret` is refused...
    alice.expect(
        &["KV.GETWITHMETADATA", "secret"],
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    // ...and no list shows it, nor any other key she may not read.
    let whole = payload(&alice.cmd(&["KV.LIST", "FORMAT", "json"]));
    for leak in [
        "secret", "hunter2", "hidden", "\"a:00\"", "\"pub\"", "puba", "w:1", "zzz",
    ] {
        assert!(!whole.contains(leak), "{leak} in {whole}");
    }
    assert_eq!(list_all(&mut alice, &[]).len(), 50);
    for limit in [1, 7, 10, 50, 1000] {
        let (pages, cursors) = json_pages(&mut alice, "", limit);
        // Every page but the last is full: filtering never shortens one.
        for p in &pages[..pages.len() - 1] {
            assert_eq!(p.len(), limit, "{pages:?}");
        }
        assert_eq!(pages.concat(), visible, "limit {limit}");
        // A cursor names the last key of its page, one she may read.
        for (c, p) in cursors.iter().zip(&pages) {
            let raw = cursor_bytes(c);
            assert_eq!((raw[0], &raw[1..]), (1, p.last().unwrap().as_bytes()), "{c}");
        }
    }
    let (pages, _) = json_pages(&mut alice, "a:", 10);
    assert_eq!(pages.concat(), visible[..25].to_vec());
    // bob reads `pub:*` only: whatever prefix he asks, he sees those keys only.
    let pubs: Vec<String> = (0..25).map(|i| format!("pub:{i:02}")).collect();
    for prefix in ["", "p", "pu", "pub", "pub:"] {
        let (pages, _) = json_pages(&mut bob, prefix, 10);
        assert_eq!(pages.concat(), pubs, "prefix {prefix:?}");
        assert_eq!(pages.len(), 3, "prefix {prefix:?}");
    }
    let (pages, _) = json_pages(&mut bob, "pub:1", 10);
    assert_eq!(pages.concat(), pubs[10..20].to_vec());
    for prefix in ["a", "pub:x", "secret", "z"] {
        assert_eq!(json_pages(&mut bob, prefix, 10).0, vec![Vec::<String>::new()]);
    }
    // The default user (unrestricted) still lists everything.
    assert_eq!(list_all(&mut admin, &[]).len(), 50 + 25 + 1 + 4);
}

/// Past 10,000 keys it may not read without one it may, a restricted user's KV.LIST page
/// ends (the walk holds the namespace's locks): a page with what was found, not the last,
/// and a sealed cursor that does not show the key it stopped at; the next page goes on from
/// there.
#[test]
fn list_of_a_restricted_user_is_bounded_and_cursors_stay_sealed() {
    let s = Server::start();
    let mut admin = s.raw();
    let mut mset = vec!["MSET".to_string()];
    for i in 0..10_500 {
        mset.extend([format!("h:{i:05}"), "v".into()]);
    }
    let args: Vec<&str> = mset.iter().map(String::as_str).collect();
    admin.expect(&args, OK);
    admin.expect(&["KV.PUT", "b:vis", "v"], OK);
    admin.expect(&["KV.PUT", "z:vis", "v"], OK);
    admin.expect(&["ACL", "SETUSER", "alice", "on", ">pw", "%R~*:vis", "+@all"], OK);
    let mut alice = s.raw();
    alice.expect(&["AUTH", "alice", "pw"], OK);
    let (pages, cursors) = json_pages(&mut alice, "", 1000);
    assert_eq!(pages, vec![vec!["b:vis".to_string()], vec!["z:vis".to_string()]]);
    let raw = cursor_bytes(&cursors[0]);
    assert_eq!(raw[0], 2, "a sealed cursor");
    assert!(!raw.windows(2).any(|w| w == b"h:"), "{:?}", cursors[0]);
    // With nothing she may read before the budget runs out, the page is empty (the one case
    // where a page that is not the last is).
    admin.expect(&["DEL", "b:vis"], ":1\r\n");
    let (pages, cursors) = json_pages(&mut alice, "", 1000);
    assert_eq!(pages, vec![vec![], vec!["z:vis".to_string()]]);
    assert_eq!(cursor_bytes(&cursors[0])[0], 2);
    // A sealed cursor changed by a client is refused.
    let mut bad = cursor_bytes(&cursors[0]);
    *bad.last_mut().unwrap() ^= 1;
    let bad = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bad)
    };
    expect_err(&mut alice, &["KV.LIST", "CURSOR", &bad], "Invalid cursor.");
}

/// KV.NAMESPACE for a user limited to some namespaces (review M6): it works from any
/// selected database (it touches no keys there), LIST shows only the namespaces the user may
/// use, GET, STATS, RENAME and DELETE of another are refused, and CREATE needs
/// `allnamespaces` (a new namespace would be outside the scope). Denials are logged.
#[test]
fn namespace_commands_for_scoped_users() {
    let s = Server::start();
    let mut admin = s.raw();
    let a = create(&mut admin, "A", 16);
    let b = create(&mut admin, "B", 17);
    let c = create(&mut admin, "C", 18);
    admin.expect(
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">pw",
            "~*",
            "+@all",
            "namespace:A",
            "namespace:18",
        ],
        OK,
    );
    let mut bob = s.raw();
    bob.expect(&["AUTH", "bob", "pw"], OK);
    let noperm_b = "-NOPERM this user has no permissions to access namespace 17\r\n";
    // From database 0, which is outside his scope, and from his own namespace alike.
    for selected in [None, Some("A")] {
        if let Some(ns) = selected {
            bob.expect(&["SELECT", ns], OK);
        }
        bob.expect(
            &["KV.NAMESPACE", "LIST"],
            &arr(&[described(P::R2, &a, "A", 16, 0), described(P::R2, &c, "C", 18, 0)]),
        );
        bob.expect(&["KV.NAMESPACE", "GET", &c], &described(P::R2, &c, "C", 18, 0));
        bob.expect(&["KV.NAMESPACE", "GET", "B"], noperm_b);
        bob.expect(&["KV.NAMESPACE", "GET", &b], noperm_b);
        bob.expect(&["KV.NAMESPACE", "STATS", "B"], noperm_b);
        bob.expect(&["KV.NAMESPACE", "RENAME", &b, "mine now"], noperm_b);
        bob.expect(&["KV.NAMESPACE", "DELETE", &b], noperm_b);
        bob.expect(
            &["KV.NAMESPACE", "CREATE", "D"],
            "-NOPERM this user has no permissions to access every namespace\r\n",
        );
        // Unknown namespaces are unknown, whoever asks.
        bob.expect(&["KV.NAMESPACE", "GET", "nope"], "-ERR Unknown namespace.\r\n");
        bob.expect(&["KV.NAMESPACE", "DELETE", "nope"], "-ERR Unknown namespace.\r\n");
    }
    admin.expect(&["KV.NAMESPACE", "GET", "B"], &described(P::R2, &b, "B", 17, 0));
    admin.expect(&["KV.NAMESPACE", "GET", "D"], "-ERR Unknown namespace.\r\n");
    // The denials, each made from database 0 and from A (16), grouped by object: the log
    // keeps the client as it was at the latest.
    let bob_in_a = Info {
        db: 16,
        ..Info::of(&mut admin, &bob)
    };
    let create_d = bob_in_a.running(&["KV.NAMESPACE", "CREATE", "D"], "kv.namespace|create", "bob");
    let delete_b = bob_in_a.running(&["KV.NAMESPACE", "DELETE", &b], "kv.namespace|delete", "bob");
    assert_eq!(
        acl_log(&mut admin, &["2"]),
        [
            entry(2, "namespace", "toplevel", "*", "bob", &create_d),
            // GET (by title and id), STATS, RENAME, DELETE of B, twice: one entry.
            entry(10, "namespace", "toplevel", "17", "bob", &delete_b),
        ]
    );
    // Within his scope he renames and deletes.
    bob.expect(&["KV.NAMESPACE", "RENAME", &c, "C2"], OK);
    bob.expect(&["KV.NAMESPACE", "DELETE", &c], OK);
    bob.expect(&["KV.NAMESPACE", "LIST"], &arr(&[described(P::R2, &a, "A", 16, 0)]));
    // Unscoped users see every namespace, and create when their command rules allow it.
    admin.expect(&["ACL", "SETUSER", "bob", "allnamespaces"], OK);
    bob.expect(
        &["KV.NAMESPACE", "LIST"],
        &arr(&[described(P::R2, &a, "A", 16, 0), described(P::R2, &b, "B", 17, 0)]),
    );
    create(&mut bob, "D", 18);
    admin.expect(&["ACL", "SETUSER", "bob", "-kv.namespace|create"], OK);
    bob.expect(
        &["KV.NAMESPACE", "CREATE", "E"],
        "-NOPERM this user has no permissions to run the 'kv.namespace|create' command\r\n",
    );
}
