//! Redis's glob matcher (util.c `stringmatchlen`) through KEYS and SCAN MATCH on the real
//! binary. Every row of `CASES` was produced by redis-server 7.0.15 (reference notes §11), so
//! the C quirks are pinned: ranges compare bytes as signed `char`, `[]` never matches, `[^]`
//! matches any byte, `[a-]` eats the closing bracket, an unterminated `[` is allowed, `\` escapes
//! everywhere, a trailing lone `\` is literal.

mod common;
use common::{Raw, Server};

/// (pattern, key, matches)
const CASES: &[(&[u8], &[u8], bool)] = &[
    (b"*", b"", true),
    (b"[^]", b"a", true),
    (b"*", b"abc", true),
    (b"[^]]", b"a", false),
    (b"", b"", true),
    (b"[^]]", b"]", false),
    (b"", b"a", false),
    (b"[\\]]", b"]", true),
    (b"a", b"", false),
    (b"[\\]a]", b"a", true),
    (b"?", b"a", true),
    (b"[\\]a]", b"\\", false),
    (b"?", b"", false),
    (b"[\\a]", b"a", true),
    (b"?", b"ab", false),
    (b"[\\a]", b"\\", false),
    (b"??", b"ab", true),
    (b"[a\\-z]", b"-", true),
    (b"a*", b"a", true),
    (b"[a\\-z]", b"m", false),
    (b"a*", b"abc", true),
    (b"[a\\-z]", b"z", true),
    (b"a*", b"bac", false),
    (b"[a-]", b"-", false),
    (b"*a", b"bca", true),
    (b"[a-]", b"a", true),
    (b"*a", b"abc", false),
    (b"[a-]", b"b", false),
    (b"a*b", b"ab", true),
    (b"[-a]", b"-", true),
    (b"a*b", b"axxb", true),
    (b"[-a]", b"b", false),
    (b"a*b", b"axxbc", false),
    (b"[a-\\]", b"b", false),
    (b"**", b"x", true),
    (b"[a-\\]", b"\\", true),
    (b"a**b", b"ab", true),
    (b"[a-\\]", b"]", true),
    (b"a**b", b"axb", true),
    (b"[\\", b"\\", true),
    (b"*?*", b"a", true),
    (b"[\\", b"x", false),
    (b"*?*", b"", false),
    (b"[a", b"a", true),
    (b"h?llo", b"hello", true),
    (b"[^a", b"b", true),
    (b"h?llo", b"hllo", false),
    (b"[^a", b"a", false),
    (b"h*llo", b"hllo", true),
    (b"\\*", b"*", true),
    (b"h*llo", b"heeeello", true),
    (b"\\*", b"a", false),
    (b"h[ae]llo", b"hello", true),
    (b"\\?", b"?", true),
    (b"h[ae]llo", b"hallo", true),
    (b"\\?", b"a", false),
    (b"h[ae]llo", b"hillo", false),
    (b"\\[a]", b"[a]", true),
    (b"h[^e]llo", b"hallo", true),
    (b"\\[a]", b"a", false),
    (b"h[^e]llo", b"hello", false),
    (b"\\a", b"a", true),
    (b"h[a-b]llo", b"hbllo", true),
    (b"\\\\", b"\\", true),
    (b"h[a-b]llo", b"hcllo", false),
    (b"a\\", b"a\\", true),
    (b"h[b-a]llo", b"hallo", true),
    (b"a\\", b"a", false),
    (b"[z-a]", b"m", true),
    (b"\\", b"\\", true),
    (b"[A-Z]", b"a", false),
    (b"\\", b"", false),
    (b"[a-z]", b"A", false),
    (b"*\\", b"a\\", true),
    (b"[abc", b"a", true),
    (b"a*\\*", b"ab*", true),
    (b"[abc", b"b", true),
    (b"a*\\*", b"abc", false),
    (b"[abc", b"abc", false),
    (b"[*]", b"*", true),
    (b"[abc", b"[", false),
    (b"[*]", b"a", false),
    (b"a[", b"a", false),
    (b"[?]", b"?", true),
    (b"a[", b"a[", false),
    (b"[?]", b"a", false),
    (b"[", b"[", false),
    (b"[[]", b"[", true),
    (b"[", b"", false),
    (b"[[]]", b"[]", true),
    (b"[]", b"]", false),
    (b"[!a]", b"b", false),
    (b"[]]", b"]", false),
    (b"[!a]", b"!", true),
    (b"[]a]", b"a", false),
    (b"*a*b*", b"xaxbx", true),
    (b"[]a]", b"]", false),
    (b"*a*b*", b"xbxax", false),
    (b"foo*", b"foo", true),
    (b"key:1??", b"key:123", true),
    (b"foo*", b"foobar", true),
    (b"key:1??", b"key:12", false),
    (b"foo*", b"fo", false),
    (b"key:1??", b"key:1234", false),
    (b"ABC", b"abc", false),
    (b"*1*", b"1", true),
    (b"[\x80-\xff]", b"\xc3", true),
    (b"[a-\xff]", b"\xc3", false),
    (b"a\0b", b"a\0b", true),
    (b"a?b", b"a\0b", true),
    (b"a*", b"a\0\x01", true),
    (b"*a*", b"a", true),
];

/// The bytes of a RESP2 array of bulk strings.
fn bulk_array(items: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend_from_slice(format!("${}\r\n", i.len()).as_bytes());
        out.extend_from_slice(i);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The complete reply of a SCAN that ends in one call (cursor 0).
fn scan_done(items: &[&[u8]]) -> Vec<u8> {
    let mut out = b"*2\r\n$1\r\n0\r\n".to_vec();
    out.extend(bulk_array(items));
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that KEYS and SCAN MATCH both return exactly `expect` for `pattern`.
#[track_caller]
fn check(c: &mut Raw, pattern: &[u8], expect: &[&[u8]]) {
    let got = c.cmd_bytes(&[b"KEYS", pattern]);
    assert_eq!(show(&got), show(&bulk_array(expect)), "KEYS {:?}", show(pattern));
    let got = c.cmd_bytes(&[b"SCAN", b"0", b"MATCH", pattern, b"COUNT", b"1000"]);
    assert_eq!(show(&got), show(&scan_done(expect)), "SCAN MATCH {:?}", show(pattern));
}

#[test]
fn redis_table_through_keys_and_scan() {
    let s = Server::start();
    let mut c = s.raw();
    for &(pattern, key, m) in CASES {
        c.expect(&["FLUSHALL"], "+OK\r\n");
        assert_eq!(c.cmd_bytes(&[b"SET", key, b"1"]), b"+OK\r\n");
        let expect: &[&[u8]] = if m { &[key] } else { &[] };
        check(&mut c, pattern, expect);
    }
}

#[test]
fn signed_char_ranges() {
    let s = Server::start();
    let mut c = s.raw();
    for k in [&b"\xc3"[..], b"\xff", b"a", b"0", b"\x80", b"\x00"] {
        assert_eq!(c.cmd_bytes(&[b"SET", k, b"1"]), b"+OK\r\n");
    }
    let keys = |c: &mut Raw, p: &[u8]| sorted(parse_bulks(&c.cmd_bytes(&[b"KEYS", p])));
    // [a-\xff] is the signed range -1..=97: 0xff (-1), NUL, '0' and 'a' are inside; 0xc3 and
    // 0x80 are below -1.
    assert_eq!(keys(&mut c, b"[a-\xff]"), [&b"\x00"[..], b"0", b"a", b"\xff"]);
    assert_eq!(keys(&mut c, b"[\xff-a]"), [&b"\x00"[..], b"0", b"a", b"\xff"]);
    // [\x80-\xff] is -128..=-1: exactly the high bytes.
    assert_eq!(keys(&mut c, b"[\x80-\xff]"), [&b"\x80"[..], b"\xc3", b"\xff"]);
    assert_eq!(keys(&mut c, b"[^\x80-\xff]"), [&b"\x00"[..], b"0", b"a"]);
    // '!' (33) down to 0x80 (-128), swapped: NUL and the high bytes, not '0' or 'a'.
    assert_eq!(keys(&mut c, b"[!-\x80]"), [&b"\x00"[..], b"\x80", b"\xc3", b"\xff"]);
    check(&mut c, b"[\x80-\x80]", &[b"\x80"]);
    check(&mut c, b"[\xc3-\xc3]", &[b"\xc3"]);
    // Outside ranges bytes compare for equality only.
    check(&mut c, b"[\xc3]", &[b"\xc3"]);
    check(&mut c, b"\xc3", &[b"\xc3"]);
}

#[test]
fn redis_test_suite_rows() {
    let s = Server::start();
    let mut c = s.raw();
    // keyspace.tcl: KEYS with pattern.
    for k in ["key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c"] {
        c.expect(&["SET", k, "hello"], "+OK\r\n");
    }
    assert_eq!(sorted_keys(&mut c, "foo*"), ["foo_a", "foo_b", "foo_c"]);
    assert_eq!(sorted_keys(&mut c, "*").len(), 6);
    assert_eq!(sorted_keys(&mut c, "*_[xz]"), ["key_x", "key_z"]);
    c.expect(&["KEYS", "nomatch*"], "*0\r\n");
    // scan.tcl: MATCH key:1?? over key:0..key:999 gives 100 keys.
    c.expect(&["FLUSHALL"], "+OK\r\n");
    let mut args = vec!["MSET".to_string()];
    for i in 0..1000 {
        args.push(format!("key:{i}"));
        args.push(i.to_string());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    c.expect(&a, "+OK\r\n");
    assert_eq!(sorted_keys(&mut c, "key:1??").len(), 100);
    let mut n = 0;
    let mut cursor = "0".to_string();
    loop {
        let (next, keys) = scan_page(&mut c, &["SCAN", &cursor, "MATCH", "key:1??"]);
        n += keys.len();
        assert!(keys.iter().all(|k| k.len() == 7 && k.starts_with("key:1")));
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(n, 100);
}

/// A hostile pattern must return quickly: Redis's skipLongerMatches guard makes `a*a*...b`
/// linear instead of exponential. (No timing assertion: an exponential matcher would simply
/// not finish within the harness's 10 s read timeout.)
#[test]
fn hostile_patterns_return() {
    let s = Server::start();
    let mut c = s.raw();
    let long = "a".repeat(40);
    c.expect(&["SET", &long, "1"], "+OK\r\n");
    let p = format!("{}b", "a*".repeat(20));
    c.expect(&["KEYS", &p], "*0\r\n");
    c.expect(&["SCAN", "0", "MATCH", &p, "COUNT", "1000"], "*2\r\n$1\r\n0\r\n*0\r\n");
    // Longer: 200 keys of 1000 bytes against 100 stars.
    for i in 0..200 {
        c.expect(&["SET", &format!("{}{i}", "a".repeat(1000)), "1"], "+OK\r\n");
    }
    let p = format!("{}b", "*a".repeat(100));
    c.expect(&["KEYS", &p], "*0\r\n");
    // Redis's nesting limit (1000 levels of `*`): a match that needs deeper recursion fails,
    // one just below it succeeds, as in Redis.
    c.expect(&["FLUSHALL"], "+OK\r\n");
    let k = "a".repeat(1100);
    c.expect(&["SET", &k, "1"], "+OK\r\n");
    c.expect(&["KEYS", &"*a".repeat(1001)], "*0\r\n");
    let reply = c.cmd(&["KEYS", &"*a".repeat(999)]);
    assert!(reply.starts_with(b"*1\r\n$1100\r\n"));
    // Many stars in a row collapse.
    c.expect(&["KEYS", &"*".repeat(100_000)], &format!("*1\r\n$1100\r\n{k}\r\n"));
}

/// `*` alone skips matching: it also lists the empty key, which `stringmatchlen("*", "")`
/// would not match (its loop never runs), while `**` goes through the matcher.
#[test]
fn star_alone_lists_the_empty_key() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "", "1"], "+OK\r\n");
    check(&mut c, b"*", &[b""]);
    check(&mut c, b"**", &[]);
    check(&mut c, b"", &[b""]);
    check(&mut c, b"*?*", &[]);
    // A later MATCH * wins over an earlier pattern (matching is switched off).
    c.expect(
        &["SCAN", "0", "MATCH", "zz", "MATCH", "*"],
        "*2\r\n$1\r\n0\r\n*1\r\n$0\r\n\r\n",
    );
}

/// The bulk strings of a RESP2 array reply.
fn parse_bulks(r: &[u8]) -> Vec<Vec<u8>> {
    let line = |from: usize| from + r[from..].windows(2).position(|w| w == b"\r\n").unwrap();
    assert_eq!(r[0], b'*', "{:?}", show(r));
    let e = line(0);
    let n: usize = show(&r[1..e]).parse().unwrap();
    let mut pos = e + 2;
    let mut out = Vec::new();
    for _ in 0..n {
        let e = line(pos);
        assert_eq!(r[pos], b'$');
        let len: usize = show(&r[pos + 1..e]).parse().unwrap();
        out.push(r[e + 2..e + 2 + len].to_vec());
        pos = e + 4 + len;
    }
    assert_eq!(pos, r.len(), "trailing bytes in {:?}", show(r));
    out
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn sorted_keys(c: &mut Raw, pattern: &str) -> Vec<String> {
    sorted(parse_bulks(&c.cmd(&["KEYS", pattern])))
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect()
}

/// One SCAN call: the next cursor and the keys.
fn scan_page(c: &mut Raw, args: &[&str]) -> (String, Vec<String>) {
    let r = c.cmd(args);
    assert!(r.starts_with(b"*2\r\n$"), "{:?}", show(&r));
    let e = 4 + r[4..].windows(2).position(|w| w == b"\r\n").unwrap();
    let len: usize = show(&r[5..e]).parse().unwrap();
    let cursor = show(&r[e + 2..e + 2 + len]);
    let keys = parse_bulks(&r[e + 4 + len..]);
    (
        cursor,
        keys.into_iter().map(|k| String::from_utf8(k).unwrap()).collect(),
    )
}
