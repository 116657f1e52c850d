//! Cloudflare's REST API v4 for Workers KV over edgekv's HTTP listener: the real binary, real
//! TCP, the requests wrangler 4.86.0 and the Python `cloudflare` SDK send (notes/http-capture.md),
//! exact envelopes, statuses and texts, and interop with RESP.

mod common;
mod http_util;

use common::acl_log::{acl_log, entry as log_entry, Info};
use common::now;
use http_util::{create_ns, fail, ok, start, Body, Http, NS};
use serde_json::{json, Value};

const KEY_NOT_FOUND: u32 = 10009;
const NS_NOT_FOUND: u32 = 10013;
const INVALID: u32 = 10020;
const AUTH: u32 = 10000;

/// wrangler's `encodeURIComponent` of `a+b:c&d;e=f/g%h i?j#k`.
const SPECIAL_WRANGLER: &str = "a%2Bb%3Ac%26d%3Be%3Df%2Fg%25h%20i%3Fj%23k";
/// The Python SDK's quoting of the same key (RFC 3986 segment: `!$&'()*+,;=:@` raw).
const SPECIAL_PYTHON: &str = "a+b:c&d;e=f%2Fg%25h%20i%3Fj%23k";
const SPECIAL: &str = "a+b:c&d;e=f/g%h i?j#k";
const UNICODE_ENC: &str = "%D0%BA%D0%BB%D1%8E%D1%87-%C3%BC-%F0%9F%98%80";
const UNICODE: &str = "ключ-ü-😀";

fn values(id: &str, key: &str) -> String {
    format!("{NS}/{id}/values/{key}")
}

#[track_caller]
fn expect(r: &http_util::Resp, status: u16, body: Value) {
    assert_eq!((r.status, r.json()), (status, body), "{}", r.text());
}

/// A RESP connection with `ns` selected.
fn resp_in(s: &common::Server, ns: &str) -> common::Raw {
    let mut c = s.raw();
    c.expect(&["SELECT", ns], "+OK\r\n");
    c
}

fn put_raw(h: &Http, id: &str, key: &str, value: &[u8]) -> http_util::Resp {
    h.send(
        "PUT",
        &values(id, key),
        &[("Content-Type", "text/plain;charset=UTF-8")],
        Body::Bytes(value),
    )
}

#[test]
fn namespaces_create_get_rename_delete() {
    let (s, h) = start(&[]);
    let r = h.json("POST", NS, &[], &json!({"title": "alpha"}));
    assert_eq!(r.status, 200);
    let id = r.json()["result"]["id"].as_str().unwrap().to_string();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    expect(
        &r,
        200,
        ok(json!({"id": id, "title": "alpha", "supports_url_encoding": true})),
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The same namespace over RESP.
    let mut c = s.raw();
    let got = common::text(c.cmd(&["KV.NAMESPACE", "GET", "alpha"]));
    assert!(got.contains(&id), "{got}");

    // Duplicate title: Cloudflare's code and (lower-case) text.
    let dup = h.json("POST", NS, &[], &json!({"title": "alpha"}));
    expect(
        &dup,
        400,
        fail(10014, "a namespace with this account ID and title already exists"),
    );
    // wrangler sends the body pretty-printed.
    let beta = h.send(
        "POST",
        NS,
        &[("Content-Type", "application/json")],
        Body::Bytes(b"{\n  \"title\": \"beta\"\n}"),
    );
    assert_eq!(beta.json()["result"]["title"], "beta");
    let beta_id = beta.json()["result"]["id"].as_str().unwrap().to_string();
    expect(
        &h.json("POST", NS, &[], &json!({})),
        400,
        fail(
            INVALID,
            "Invalid request body: expected a JSON object with a string \"title\".",
        ),
    );
    expect(
        &h.send("POST", NS, &[], Body::Bytes(b"nope")),
        400,
        fail(
            INVALID,
            "Malformed JSON in request body: expected ident at line 1 column 2",
        ),
    );
    expect(
        &h.json("POST", NS, &[], &json!({"title": ""})),
        400,
        fail(INVALID, "A namespace title must not be empty"),
    );
    expect(
        &h.json("POST", NS, &[], &json!({"title": "t".repeat(513)})),
        400,
        fail(
            INVALID,
            "A namespace title must be 512 characters or less (current: 513)",
        ),
    );

    // Get, by id and by title.
    let desc = ok(json!({"id": id, "title": "alpha", "supports_url_encoding": true}));
    expect(&h.get(&format!("{NS}/{id}")), 200, desc.clone());
    expect(&h.get(&format!("{NS}/alpha")), 200, desc);
    expect(
        &h.get(&format!("{NS}/00000000000000000000000000000000")),
        404,
        fail(NS_NOT_FOUND, "get namespace: 'namespace not found'"),
    );

    // Rename: the answer is the namespace as it is now (wrangler prints `result.title`).
    expect(
        &h.json("PUT", &format!("{NS}/{id}"), &[], &json!({"title": "gamma"})),
        200,
        ok(json!({"id": id, "title": "gamma", "supports_url_encoding": true})),
    );
    expect(
        &h.json("PUT", &format!("{NS}/{id}"), &[], &json!({"title": "beta"})),
        400,
        fail(10014, "a namespace with this account ID and title already exists"),
    );
    expect(
        &h.json(
            "PUT",
            &format!("{NS}/ffffffffffffffffffffffffffffffff"),
            &[],
            &json!({"title": "x"}),
        ),
        404,
        fail(NS_NOT_FOUND, "rename namespace: 'namespace not found'"),
    );
    assert_eq!(h.get(&format!("{NS}/gamma")).json()["result"]["id"], id.as_str());

    // Delete, with its keys.
    assert_eq!(put_raw(&h, &id, "k", b"v").status, 200);
    expect(
        &h.send("DELETE", &format!("{NS}/{id}"), &[], Body::None),
        200,
        ok(Value::Null),
    );
    expect(
        &h.send("DELETE", &format!("{NS}/{id}"), &[], Body::None),
        404,
        fail(NS_NOT_FOUND, "delete namespace: 'namespace not found'"),
    );
    expect(
        &h.get(&values(&id, "k")),
        404,
        fail(NS_NOT_FOUND, "get: 'namespace not found'"),
    );
    let list = common::text(c.cmd(&["KV.NAMESPACE", "LIST"]));
    assert!(list.contains(&beta_id) && !list.contains(&id), "{list}");
}

#[test]
fn namespaces_list_pages() {
    let (_s, h) = start(&[]);
    let mut ids = Vec::new();
    // Created in an order that differs from the titles' order.
    for i in 0..25 {
        let title = format!("ns-{:02}", (i * 7) % 25);
        ids.push((create_ns(&h, &title, &[]), title));
    }
    let desc = |v: &[(String, String)]| -> Value {
        v.iter()
            .map(|(id, t)| json!({"id": id, "title": t, "supports_url_encoding": true}))
            .collect()
    };
    let page = |q: &str| h.get(&format!("{NS}{q}")).json();
    let info = |page: u64, per_page: u64, count: u64, total_pages: u64| json!({"page": page, "per_page": per_page, "count": count, "total_count": 25, "total_pages": total_pages});
    // Default: 20 per page, in creation order; a page past the end is empty (the SDKs stop
    // at the first empty page).
    let mut p1 = ok(desc(&ids[..20]));
    p1["result_info"] = info(1, 20, 20, 2);
    assert_eq!(page(""), p1);
    let mut p2 = ok(desc(&ids[20..]));
    p2["result_info"] = info(2, 20, 5, 2);
    assert_eq!(page("?page=2"), p2);
    // The Python SDK may send its float parameters as `2.0`.
    assert_eq!(page("?page=2.0"), p2);
    let mut p3 = ok(json!([]));
    p3["result_info"] = info(3, 20, 0, 2);
    assert_eq!(page("?page=3"), p3);

    // wrangler: per_page=1000 (taken as 100), ordered by title, then page=2 (empty).
    let mut by_title = ids.clone();
    by_title.sort_by(|a, b| a.1.cmp(&b.1));
    let mut all = ok(desc(&by_title));
    all["result_info"] = info(1, 100, 25, 1);
    assert_eq!(page("?per_page=1000&order=title&direction=asc"), all);
    assert_eq!(page("?per_page=100&order=title&direction=asc&page=1"), all);
    let next = page("?per_page=1000&order=title&direction=asc&page=2");
    assert_eq!(next["result"], json!([]));
    let mut desc_titles = by_title.clone();
    desc_titles.reverse();
    assert_eq!(
        page("?order=title&direction=desc&per_page=5")["result"],
        desc(&desc_titles[..5])
    );
    let mut by_id = ids.clone();
    by_id.sort();
    assert_eq!(page("?order=id&per_page=100")["result"], desc(&by_id));

    let bad = |q: &str, msg: &str| expect(&h.get(&format!("{NS}{q}")), 400, fail(INVALID, msg));
    bad(
        "?page=0",
        "Invalid page of 0. Please specify an integer greater than 0.",
    );
    bad(
        "?per_page=x",
        "Invalid per_page of x. Please specify an integer greater than 0.",
    );
    bad(
        "?order=name",
        "Invalid order of name. Please specify \"id\" or \"title\".",
    );
    bad(
        "?direction=up",
        "Invalid direction of up. Please specify \"asc\" or \"desc\".",
    );
}

#[test]
fn values_put_get_delete() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "vals", &[]);
    expect(&put_raw(&h, &id, "plain", b"hello"), 200, ok(Value::Null));
    let r = h.get(&values(&id, "plain"));
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("expiration"), None);
    // The same key over RESP, in the selected namespace.
    let mut c = resp_in(&s, &id);
    c.expect(&["GET", "plain"], &common::bulk("hello"));
    c.expect(&["KV.GET", "plain"], &common::bulk("hello"));

    // A value from a file: raw bytes, no Content-Type (wrangler --path).
    let bin = b"file\x00contents\xff";
    assert_eq!(h.send("PUT", &values(&id, "bin"), &[], Body::Bytes(bin)).status, 200);
    assert_eq!(h.get(&values(&id, "bin")).body, bin);
    c.expect(&["STRLEN", "bin"], ":14\r\n");
    // An empty value.
    assert_eq!(put_raw(&h, &id, "empty", b"").status, 200);
    let r = h.get(&values(&id, "empty"));
    assert_eq!((r.status, r.body.len()), (200, 0));

    // Written over RESP, read over HTTP.
    c.expect(&["KV.PUT", "fromresp", "r-value"], "+OK\r\n");
    assert_eq!(h.get(&values(&id, "fromresp")).body, b"r-value");

    expect(
        &h.send("DELETE", &values(&id, "plain"), &[], Body::None),
        200,
        ok(Value::Null),
    );
    expect(
        &h.get(&values(&id, "plain")),
        404,
        fail(KEY_NOT_FOUND, "get: 'key not found'"),
    );
    c.expect(&["EXISTS", "plain"], ":0\r\n");
    // Deleting a missing key is not an error (the Python SDK sends a JSON content type).
    expect(
        &h.send(
            "DELETE",
            &values(&id, "plain"),
            &[("Content-Type", "application/json")],
            Body::None,
        ),
        200,
        ok(Value::Null),
    );
}

#[test]
fn values_expiration() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "exp", &[]);
    let mut c = resp_in(&s, &id);
    let q = |k: &str, q: &str| format!("{}?{q}", values(&id, k));
    let put = |target: &str| h.send("PUT", target, &[], Body::Bytes(b"v"));

    expect(&put(&q("ttl", "expiration_ttl=120")), 200, ok(Value::Null));
    let header: i64 = h
        .get(&values(&id, "ttl"))
        .header("expiration")
        .unwrap()
        .parse()
        .unwrap();
    // Whole seconds, rounded down (as KV.LIST and Workers KV show it).
    assert_eq!(
        header,
        common::int_reply(&mut c, &["PEXPIRETIME", "ttl"]).div_euclid(1000)
    );
    assert!((now() + 119..=now() + 121).contains(&header), "{header}");

    expect(&put(&q("at", "expiration=4102444800")), 200, ok(Value::Null));
    assert_eq!(h.get(&values(&id, "at")).header("expiration"), Some("4102444800"));
    c.expect(&["EXPIRETIME", "at"], ":4102444800\r\n");
    // A put without an expiration clears it; an empty parameter counts as absent.
    expect(&put(&q("at", "expiration=")), 200, ok(Value::Null));
    assert_eq!(h.get(&values(&id, "at")).header("expiration"), None);
    c.expect(&["TTL", "at"], ":-1\r\n");

    let bad = |query: &str, msg: &str| expect(&put(&q("bad", query)), 400, fail(INVALID, msg));
    bad(
        "expiration_ttl=30",
        "Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
    );
    bad(
        "expiration_ttl=0",
        "Invalid expiration_ttl of 0. Please specify integer greater than 0.",
    );
    bad(
        "expiration=1",
        "Invalid expiration of 1. Please specify integer greater than the current number of seconds since the UNIX epoch.",
    );
    let soon = now() + 10;
    bad(
        &format!("expiration={soon}"),
        &format!("Invalid expiration of {soon}. Expiration times must be at least 60 seconds in the future."),
    );
    bad(
        "expiration=4102444800&expiration_ttl=300",
        "Both expiration and expiration_ttl were given; a write takes one or the other, never both.",
    );
    c.expect(&["EXISTS", "bad"], ":0\r\n");
}

/// One part of a multipart body: name, filename, content type, data.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart body with `parts`, CRLF line ends (as undici and httpx write them).
fn multipart(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, file, ct, data) in parts {
        b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(f) = file {
            b.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        b.extend_from_slice(b"\r\n");
        if let Some(ct) = ct {
            b.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        b.extend_from_slice(b"\r\n");
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

#[test]
fn values_multipart_with_metadata() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "mp", &[]);
    let mut c = resp_in(&s, &id);
    let send = |key: &str, boundary: &str, body: &[u8]| {
        let ct = format!("multipart/form-data; boundary={boundary}");
        h.send("PUT", &values(&id, key), &[("Content-Type", &ct)], Body::Bytes(body))
    };
    // wrangler `kv key put withmeta "v a l" --metadata '{"a":1,"b":"x"}' --ttl 120`, as captured.
    let wrangler = b"------formdata-undici-069972231534\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\nv a l\r\n------formdata-undici-069972231534\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"a\":1,\"b\":\"x\"}\r\n------formdata-undici-069972231534--\r\n";
    let ct = "multipart/form-data; boundary=----formdata-undici-069972231534";
    let r = h.send(
        "PUT",
        &format!("{}?expiration_ttl=120", values(&id, "withmeta")),
        &[("Content-Type", ct)],
        Body::Bytes(wrangler),
    );
    expect(&r, 200, ok(Value::Null));
    assert_eq!(h.get(&values(&id, "withmeta")).body, b"v a l");
    expect(
        &h.get(&format!("{NS}/{id}/metadata/withmeta")),
        200,
        ok(json!({"a": 1, "b": "x"})),
    );
    c.expect(
        &["KV.GETWITHMETADATA", "withmeta"],
        &format!(
            "*2\r\n{}{}",
            common::bulk("v a l"),
            common::bulk("{\"a\":1,\"b\":\"x\"}")
        ),
    );
    assert!(common::int_reply(&mut c, &["TTL", "withmeta"]) > 100);

    // wrangler --path with --metadata: a file part with binary bytes.
    let body = multipart(
        "----formdata-undici-022363183777",
        &[
            (
                "value",
                Some("blob"),
                Some("application/octet-stream"),
                b"file\x00contents\xff",
            ),
            ("metadata", None, None, b"{\"m\":true}"),
        ],
    );
    assert_eq!(
        send("frompathmd", "----formdata-undici-022363183777", &body).status,
        200
    );
    assert_eq!(h.get(&values(&id, "frompathmd")).body, b"file\x00contents\xff");
    expect(
        &h.get(&format!("{NS}/{id}/metadata/frompathmd")),
        200,
        ok(json!({"m": true})),
    );

    // The Python SDK: always multipart, value part `upload`, metadata as `json.dumps` (spaces).
    let b = "97bb8d3387c2d5ead06f8c614160b3b3";
    let body = multipart(
        b,
        &[
            (
                "value",
                Some("upload"),
                Some("application/octet-stream"),
                b"{\"user\":\"ada\"}",
            ),
            (
                "metadata",
                None,
                Some("application/json"),
                b"{\"user\": \"ada\", \"plan\": \"pro\"}",
            ),
        ],
    );
    assert_eq!(send("sess:1", b, &body).status, 200);
    expect(
        &h.get(&format!("{NS}/{id}/metadata/sess:1")),
        200,
        ok(json!({"user": "ada", "plan": "pro"})),
    );
    let only_value = multipart(
        b,
        &[(
            "value",
            Some("upload"),
            Some("application/octet-stream"),
            b"\x00\xff\x01bin",
        )],
    );
    assert_eq!(send("bin", b, &only_value).status, 200);
    assert_eq!(h.get(&values(&id, "bin")).body, b"\x00\xff\x01bin");
    expect(&h.get(&format!("{NS}/{id}/metadata/bin")), 200, ok(Value::Null));
    // Listed with canonical (compact) metadata.
    let listed = h.get(&format!("{NS}/{id}/keys?prefix=sess"));
    assert_eq!(
        listed.json()["result"],
        json!([{"name": "sess:1", "metadata": {"user": "ada", "plan": "pro"}}])
    );

    // Refusals.
    let no_value = multipart(b, &[("metadata", None, None, b"{}")]);
    expect(
        &send("x", b, &no_value),
        400,
        fail(INVALID, "Invalid multipart/form-data body: no \"value\" part"),
    );
    let not_json = multipart(b, &[("value", None, None, b"v"), ("metadata", None, None, b"{nope")]);
    expect(
        &send("x", b, &not_json),
        400,
        fail(INVALID, "Metadata must be valid JSON."),
    );
    let big = format!("\"{}\"", "m".repeat(1023));
    let too_big = multipart(
        b,
        &[("value", None, None, b"v"), ("metadata", None, None, big.as_bytes())],
    );
    expect(
        &send("x", b, &too_big),
        413,
        fail(INVALID, "Metadata length of 1025 exceeds limit of 1024."),
    );
    let broken = h.send(
        "PUT",
        &values(&id, "x"),
        &[("Content-Type", "multipart/form-data")],
        Body::Bytes(b"garbage"),
    );
    assert_eq!(broken.status, 400);
    let msg = broken.json()["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("Invalid multipart/form-data body: "), "{msg}");
    c.expect(&["EXISTS", "x"], ":0\r\n");
}

#[test]
fn keys_in_paths_are_decoded_once() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "paths", &[]);
    let mut c = resp_in(&s, &id);
    // wrangler's encoding, then the Python SDK's, of the same key.
    expect(&put_raw(&h, &id, SPECIAL_WRANGLER, b"special"), 200, ok(Value::Null));
    c.expect(&["KV.GET", SPECIAL], &common::bulk("special"));
    assert_eq!(h.get(&values(&id, SPECIAL_PYTHON)).body, b"special");
    assert_eq!(put_raw(&h, &id, SPECIAL_PYTHON, b"again").status, 200);
    assert_eq!(h.get(&values(&id, SPECIAL_WRANGLER)).body, b"again");
    assert_eq!(
        h.get(&format!("{NS}/{id}/keys?prefix=a%2Bb%3Ac%26d%3Be%3Df%2Fg%25h+i"))
            .json()["result"],
        json!([{"name": SPECIAL}])
    );
    // `+` is a plus in a path, never a space; `%2F` is a slash inside the key; so is a raw `/`.
    assert_eq!(put_raw(&h, &id, "p+q", b"plus").status, 200);
    c.expect(&["KV.GET", "p+q"], &common::bulk("plus"));
    c.expect(&["EXISTS", "p q"], ":0\r\n");
    assert_eq!(put_raw(&h, &id, "dir%2Ffile", b"slash").status, 200);
    assert_eq!(h.get(&values(&id, "dir/file")).body, b"slash");
    c.expect(&["KV.GET", "dir/file"], &common::bulk("slash"));
    // `%25` decodes once: the key holds `%2F`, not `/`.
    assert_eq!(put_raw(&h, &id, "pct%252F", b"once").status, 200);
    c.expect(&["KV.GET", "pct%2F"], &common::bulk("once"));
    // Unicode, percent-encoded UTF-8.
    assert_eq!(put_raw(&h, &id, UNICODE_ENC, b"unicode").status, 200);
    c.expect(&["KV.GET", UNICODE], &common::bulk("unicode"));
    c.expect(&["KV.PUT", "from-resp-ü", "x"], "+OK\r\n");
    assert_eq!(h.get(&values(&id, "from-resp-%C3%BC")).body, b"x");
    expect(
        &h.send("DELETE", &values(&id, SPECIAL_WRANGLER), &[], Body::None),
        200,
        ok(Value::Null),
    );
    c.expect(&["EXISTS", SPECIAL], ":0\r\n");

    // Workers KV's key rules, with their statuses.
    expect(
        &put_raw(&h, &id, "bad%zz", b"v"),
        400,
        fail(INVALID, "Could not URL-decode key name"),
    );
    expect(
        &h.get(&values(&id, "bad%2")),
        400,
        fail(INVALID, "Could not URL-decode key name"),
    );
    let long = "k".repeat(513);
    expect(
        &put_raw(&h, &id, &long, b"v"),
        414,
        fail(INVALID, "UTF-8 encoded length of 513 exceeds key length limit of 512."),
    );
    assert_eq!(put_raw(&h, &id, &"k".repeat(512), b"v").status, 200);
    expect(
        &put_raw(&h, &id, "..", b"v"),
        400,
        fail(INVALID, "Illegal key name \"..\". Please use a different name."),
    );
    expect(
        &h.get(&values(&id, "%2E")),
        400,
        fail(INVALID, "Illegal key name \".\". Please use a different name."),
    );
}

/// Keys and prefixes that decode to bytes that are not UTF-8 are refused (review M5): such
/// a key could be written but never named again (lists show U+FFFD for its bad bytes, which
/// names another key), and a prefix must not be guessed.
#[test]
fn keys_and_prefixes_must_be_utf8() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "utf8", &[]);
    let bad_key = fail(INVALID, "Could not URL-decode key name");
    expect(&put_raw(&h, &id, "%FF%FE", b"v1"), 400, bad_key.clone());
    expect(&put_raw(&h, &id, "ok%E2%9C", b"v1"), 400, bad_key.clone());
    expect(&h.get(&values(&id, "%FF%FE")), 400, bad_key.clone());
    expect(
        &h.send("DELETE", &values(&id, "%FF"), &[], Body::None),
        400,
        bad_key.clone(),
    );
    expect(&h.get(&format!("{NS}/{id}/metadata/%C0%AF")), 400, bad_key);
    // U+FFFD itself is a character like any other.
    expect(&put_raw(&h, &id, "%EF%BF%BD%EF%BF%BD", b"v2"), 200, ok(Value::Null));
    let mut c = resp_in(&s, &id);
    c.expect(&["DBSIZE"], ":1\r\n");
    assert_eq!(
        h.get(&format!("{NS}/{id}/keys")).json()["result"],
        json!([{"name": "\u{FFFD}\u{FFFD}"}])
    );
    expect(
        &h.get(&format!("{NS}/{id}/keys?prefix=%FF")),
        400,
        fail(INVALID, "Could not URL-decode prefix"),
    );
    assert_eq!(
        h.get(&format!("{NS}/{id}/keys?prefix=%EF%BF%BD")).json()["result"],
        json!([{"name": "\u{FFFD}\u{FFFD}"}])
    );
}

#[test]
fn metadata_endpoint() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "meta", &[]);
    let mut c = resp_in(&s, &id);
    c.expect(&["KV.PUT", "m", "v", "METADATA", "{\"x\": [1, 2]}"], "+OK\r\n");
    c.expect(&["KV.PUT", "s", "v", "METADATA", "\"just a string\""], "+OK\r\n");
    c.expect(&["KV.PUT", "none", "v"], "+OK\r\n");
    expect(&h.get(&format!("{NS}/{id}/metadata/m")), 200, ok(json!({"x": [1, 2]})));
    expect(
        &h.get(&format!("{NS}/{id}/metadata/s")),
        200,
        ok(json!("just a string")),
    );
    expect(&h.get(&format!("{NS}/{id}/metadata/none")), 200, ok(Value::Null));
    expect(
        &h.get(&format!("{NS}/{id}/metadata/missing")),
        404,
        fail(KEY_NOT_FOUND, "metadata: 'key not found'"),
    );
    expect(
        &h.get(&format!("{NS}/nope/metadata/m")),
        404,
        fail(NS_NOT_FOUND, "metadata: 'namespace not found'"),
    );
}

/// Writes `n` keys `k-0000`... over REST bulk, 1,000 per request (as wrangler batches).
fn bulk_keys(h: &Http, id: &str, n: usize) {
    let items: Vec<Value> = (0..n)
        .map(|i| match i % 3 {
            0 => json!({"key": format!("k-{i:04}"), "value": format!("v{i}"), "metadata": {"n": i}}),
            1 => json!({"key": format!("k-{i:04}"), "value": format!("v{i}"), "expiration": 4102444800u64}),
            _ => json!({"key": format!("k-{i:04}"), "value": format!("v{i}")}),
        })
        .collect();
    for chunk in items.chunks(1000) {
        let r = h.json("PUT", &format!("{NS}/{id}/bulk"), &[], &Value::Array(chunk.to_vec()));
        expect(
            &r,
            200,
            ok(json!({"successful_key_count": chunk.len(), "unsuccessful_keys": []})),
        );
    }
}

fn entry(i: usize) -> Value {
    match i % 3 {
        0 => json!({"name": format!("k-{i:04}"), "metadata": {"n": i}}),
        1 => json!({"name": format!("k-{i:04}"), "expiration": 4102444800u64}),
        _ => json!({"name": format!("k-{i:04}")}),
    }
}

#[test]
fn keys_list_pages_with_cursors() {
    let (_s, h) = start(&[]);
    let id = create_ns(&h, "list", &[]);
    bulk_keys(&h, &id, 2500);
    // wrangler: `prefix=` always, no limit, then the cursor until it is empty.
    let mut target = format!("{NS}/{id}/keys?prefix=");
    let mut pages = Vec::new();
    loop {
        let r = h.get(&target).json();
        assert_eq!(r["success"], true);
        let cursor = r["result_info"]["cursor"].as_str().unwrap().to_string();
        let n = r["result"].as_array().unwrap().len();
        assert_eq!(r["result_info"]["count"], n);
        pages.push(r["result"].clone());
        if cursor.is_empty() {
            break;
        }
        assert!(n > 0, "a page with a cursor is never empty");
        target = format!("{NS}/{id}/keys?prefix=&cursor={cursor}");
    }
    assert_eq!(
        pages.iter().map(|p| p.as_array().unwrap().len()).collect::<Vec<_>>(),
        [1000, 1000, 500]
    );
    let all: Vec<Value> = pages.iter().flat_map(|p| p.as_array().unwrap().clone()).collect();
    assert_eq!(all, (0..2500).map(entry).collect::<Vec<_>>());

    // The Python SDK: limit=10 with a prefix.
    let first = h.get(&format!("{NS}/{id}/keys?limit=10&prefix=k-00"));
    let body = first.json();
    assert_eq!(body["result"], Value::Array((0..10).map(entry).collect()));
    assert_eq!(body["result_info"]["count"], 10);
    let cursor = body["result_info"]["cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let second = h
        .get(&format!("{NS}/{id}/keys?limit=10&prefix=k-00&cursor={cursor}"))
        .json();
    assert_eq!(second["result"], Value::Array((10..20).map(entry).collect()));
    let last = h.get(&format!("{NS}/{id}/keys?limit=1000&prefix=k-00")).json();
    assert_eq!(
        last,
        json!({
            "success": true, "errors": [], "messages": [],
            "result": (0..100).map(entry).collect::<Vec<_>>(),
            "result_info": {"count": 100, "cursor": ""},
        })
    );

    let bad =
        |q: &str, status: u16, msg: &str| expect(&h.get(&format!("{NS}/{id}/keys?{q}")), status, fail(INVALID, msg));
    bad(
        "limit=9",
        400,
        "Invalid limit of 9. Please specify an integer greater than or equal to 10.",
    );
    bad(
        "limit=1001",
        400,
        "Invalid key_count_limit of 1001. Please specify an integer less than 1000.",
    );
    bad("cursor=!!", 400, "Invalid cursor.");
    bad(
        &format!("prefix={}", "p".repeat(513)),
        414,
        "UTF-8 encoded length of 513 exceeds key length limit of 512.",
    );
    expect(
        &h.get(&format!("{NS}/nope/keys")),
        404,
        fail(NS_NOT_FOUND, "list keys: 'namespace not found'"),
    );
}

#[test]
fn keys_list_prefix_is_form_decoded() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "prefix", &[]);
    let mut c = resp_in(&s, &id);
    for k in ["a+b c", "a+bc", "a b c", "ключ-1"] {
        c.expect(&["KV.PUT", k, "v"], "+OK\r\n");
    }
    let names = |q: &str| h.get(&format!("{NS}/{id}/keys?{q}")).json()["result"].clone();
    assert_eq!(names("prefix=a%2Bb+c"), json!([{"name": "a+b c"}]));
    assert_eq!(names("prefix=a+b"), json!([{"name": "a b c"}]));
    assert_eq!(names("prefix=%D0%BA%D0%BB%D1%8E%D1%87"), json!([{"name": "ключ-1"}]));
    // A key written with a TTL lists its absolute expiration.
    c.expect(&["KV.PUT", "ttl", "v", "EXPIRATIONTTL", "300"], "+OK\r\n");
    let exp = common::int_reply(&mut c, &["PEXPIRETIME", "ttl"]).div_euclid(1000);
    assert_eq!(names("prefix=ttl"), json!([{"name": "ttl", "expiration": exp}]));
}

#[test]
fn bulk_write_and_delete() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "bulk", &[]);
    let mut c = resp_in(&s, &id);
    let bulk = format!("{NS}/{id}/bulk");
    let items = json!([
        {"key": "a", "value": "1"},
        {"key": "b", "value": "aGk=", "base64": true},
        {"key": "c", "value": "x", "metadata": {"m": 1}, "expiration_ttl": 300},
        {"key": "d", "value": "y", "expiration": 4102444800u64},
    ]);
    expect(
        &h.json("PUT", &bulk, &[], &items),
        200,
        ok(json!({"successful_key_count": 4, "unsuccessful_keys": []})),
    );
    c.expect(&["GET", "b"], &common::bulk("hi"));
    c.expect(&["EXPIRETIME", "d"], ":4102444800\r\n");
    expect(&h.get(&format!("{NS}/{id}/metadata/c")), 200, ok(json!({"m": 1})));

    // One bad item refuses the whole request.
    expect(
        &h.json("PUT", &bulk, &[], &json!([{"key": "e", "value": "1"}, {"key": "x"}])),
        400,
        fail(
            INVALID,
            "Each item should be an object with string \"key\" and \"value\" fields. The item at index 1 is {\"key\":\"x\"}",
        ),
    );
    expect(
        &h.json("PUT", &bulk, &[], &json!({"key": "x"})),
        400,
        fail(
            INVALID,
            "Expected an array of key-value objects but got type \"object\".",
        ),
    );
    expect(
        &h.json(
            "PUT",
            &bulk,
            &[],
            &json!([{"key": "e", "value": "1", "expiration_ttl": 30}]),
        ),
        400,
        fail(
            INVALID,
            "Invalid expiration_ttl of 30. Expiration TTL must be at least 60. (item 0)",
        ),
    );
    c.expect(&["EXISTS", "e"], ":0\r\n");

    // wrangler deletes with DELETE /bulk, the Python SDK with POST /bulk/delete.
    expect(
        &h.json("DELETE", &bulk, &[], &json!(["a", "b", "nope"])),
        200,
        ok(json!({"successful_key_count": 3, "unsuccessful_keys": []})),
    );
    expect(
        &h.json("POST", &format!("{bulk}/delete"), &[], &json!(["c"])),
        200,
        ok(json!({"successful_key_count": 1, "unsuccessful_keys": []})),
    );
    c.expect(&["EXISTS", "a", "b", "c", "d"], ":1\r\n");
    expect(
        &h.json("POST", &format!("{bulk}/delete"), &[], &json!([])),
        200,
        ok(json!({"successful_key_count": 0, "unsuccessful_keys": []})),
    );
    // More than 10,000 names: counted, not kept.
    let names: Vec<String> = (0..10_002).map(|i| format!("n{i}")).collect();
    expect(
        &h.json("DELETE", &bulk, &[], &json!(names)),
        400,
        fail(INVALID, "A bulk request takes at most 10000 items; this one has 10002."),
    );
    let names: Vec<String> = (0..10_000).map(|i| format!("n{i}")).collect();
    expect(
        &h.json("DELETE", &bulk, &[], &json!(names)),
        200,
        ok(json!({"successful_key_count": 10000, "unsuccessful_keys": []})),
    );
    expect(
        &h.json("DELETE", &bulk, &[], &json!([{"name": "d"}])),
        400,
        fail(
            INVALID,
            "Invalid request body: expected a JSON array of key names (strings).",
        ),
    );
    expect(
        &h.json("DELETE", &format!("{NS}/nope/bulk"), &[], &json!(["d"])),
        404,
        fail(NS_NOT_FOUND, "bulk delete: 'namespace not found'"),
    );
}

#[test]
fn bulk_get() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "bget", &[]);
    let mut c = resp_in(&s, &id);
    c.expect(&["KV.PUT", "a", "1", "METADATA", "{\"m\": true}"], "+OK\r\n");
    c.expect(&["KV.PUT", "j", "{\"n\":[1,2]}", "EXPIRATION", "4102444800"], "+OK\r\n");
    c.expect(&["KV.PUT", SPECIAL, "s"], "+OK\r\n");
    let get = |body: Value| h.json("POST", &format!("{NS}/{id}/bulk/get"), &[], &body);

    // wrangler's request: keys only.
    expect(
        &get(json!({"keys": ["a", "missing", SPECIAL]})),
        200,
        ok(json!({"values": {"a": "1", "missing": null, SPECIAL: "s"}})),
    );
    expect(
        &get(json!({"keys": ["a", "j", "missing"], "type": "text", "withMetadata": true})),
        200,
        ok(json!({"values": {
            "a": {"value": "1", "metadata": {"m": true}},
            "j": {"value": "{\"n\":[1,2]}", "metadata": null, "expiration": 4102444800u64},
            "missing": null,
        }})),
    );
    expect(
        &get(json!({"keys": ["j", "missing"], "type": "json"})),
        200,
        ok(json!({"values": {"j": {"n": [1, 2]}, "missing": null}})),
    );
    expect(
        &get(json!({"keys": ["j", SPECIAL], "type": "json"})),
        400,
        fail(
            INVALID,
            "At least one of the requested keys corresponds to a non-json value",
        ),
    );
    expect(
        &get(json!({"keys": ["a"], "type": "xml"})),
        400,
        fail(INVALID, "\"xml\" is not a valid type. Use \"json\" or \"text\""),
    );
    let many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    expect(
        &get(json!({"keys": many})),
        400,
        fail(INVALID, "You can request a maximum of 100 keys"),
    );
    expect(
        &get(json!({"keys": []})),
        400,
        fail(INVALID, "You must request a minimum of 1 key"),
    );
    expect(
        &get(json!({"keys": "a"})),
        400,
        fail(
            INVALID,
            "Invalid request body: expected a JSON object with \"keys\", an array of key names (strings).",
        ),
    );
    expect(
        &get(json!({"keys": ["a".repeat(513)]})),
        414,
        fail(INVALID, "UTF-8 encoded length of 513 exceeds key length limit of 512."),
    );
    // The values of one bulk get hold at most 25 MiB together.
    let half = vec![b'x'; 13 * 1024 * 1024];
    for k in ["big1", "big2"] {
        assert_eq!(put_raw(&h, &id, k, &half).status, 200);
    }
    expect(
        &get(json!({"keys": ["big1", "big2"]})),
        413,
        fail(INVALID, "Total size of request exceeds the limit of 25MB"),
    );
}

#[test]
fn bodies_over_the_limits() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "limits", &[]);
    let mut c = resp_in(&s, &id);
    let max = 26_214_400usize;
    // Declared too long: refused with Workers KV's text, the length declared.
    let over = vec![b'v'; max + 1];
    expect(
        &put_raw(&h, &id, "big", &over),
        413,
        fail(INVALID, "Value length of 26214401 exceeds limit of 26214400."),
    );
    // Chunked (no length declared): refused once past the limit, the length counted.
    let over = vec![b'v'; max + 100];
    expect(
        &h.send("PUT", &values(&id, "big"), &[], Body::Chunked(&over, 1 << 20)),
        413,
        fail(INVALID, "Value length of 26214500 exceeds limit of 26214400."),
    );
    c.expect(&["EXISTS", "big"], ":0\r\n");
    // Exactly the limit is a value.
    let exact = vec![b'v'; max];
    expect(&put_raw(&h, &id, "big", &exact), 200, ok(Value::Null));
    c.expect(&["STRLEN", "big"], ":26214400\r\n");
    // A multipart value over the limit: the value's own length.
    let b = "bnd";
    let body = multipart(b, &[("value", None, None, &over[..max + 1])]);
    let r = h.send(
        "PUT",
        &values(&id, "mp"),
        &[("Content-Type", "multipart/form-data; boundary=bnd")],
        Body::Bytes(&body),
    );
    expect(
        &r,
        413,
        fail(INVALID, "Value length of 26214401 exceeds limit of 26214400."),
    );

    // A bulk body over 100 MB.
    let huge = vec![b' '; 100_000_001];
    expect(
        &h.send("PUT", &format!("{NS}/{id}/bulk"), &[], Body::Bytes(&huge)),
        413,
        fail(
            INVALID,
            "A bulk request takes at most 100000000 bytes; this one has 100000001.",
        ),
    );
    // A namespace title body over 1 MiB.
    let big = vec![b' '; (1 << 20) + 1];
    expect(
        &h.send("POST", NS, &[], Body::Bytes(&big)),
        413,
        fail(INVALID, "The request body exceeds the limit of 1048576 bytes."),
    );
}

#[test]
fn routes_and_methods() {
    let (_s, h) = start(&[]);
    let id = create_ns(&h, "routes", &[]);
    expect(
        &h.get("/client/v4/accounts/acc/storage/kv/nowhere"),
        404,
        fail(
            7003,
            "Could not route to /accounts/acc/storage/kv/nowhere, perhaps your object identifier is invalid?",
        ),
    );
    expect(
        &h.send("POST", &values(&id, "k"), &[], Body::Bytes(b"v")),
        405,
        fail(7001, "Method not allowed for this route"),
    );
    let r = h.get("/nothing");
    assert_eq!((r.status, r.text().as_str()), (404, "Not Found\n"));
    let r = h.get("/healthz");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    // Any account id is accepted.
    let r = h.get(&format!("/client/v4/accounts/0123abc/storage/kv/namespaces/{id}"));
    assert_eq!(r.json()["result"]["id"], id.as_str());
}

const TOKENS: &str = "t-admin:default t-alice:alice t-bob:bob t-off:offuser t-gone:ghost";

#[test]
fn tokens_pick_the_acl_user() {
    let (s, h) = start(&["--http-tokens", TOKENS]);
    let mut admin = s.raw();
    admin.expect(
        &["ACL", "SETUSER", "alice", "on", "nopass", "~user:*", "+@kv"],
        "+OK\r\n",
    );
    admin.expect(
        &["ACL", "SETUSER", "offuser", "off", "nopass", "~*", "+@all"],
        "+OK\r\n",
    );
    let bearer = |t: &str| format!("Bearer {t}");
    let (adm, ali, off, gone) = (bearer("t-admin"), bearer("t-alice"), bearer("t-off"), bearer("t-gone"));

    let unauth = fail(AUTH, "Authentication error");
    expect(&h.get(NS), 401, unauth.clone());
    for t in [&bearer("wrong"), &off, &gone, &"Basic dDp4".to_string()] {
        expect(
            &h.send("GET", NS, &[("Authorization", t)], Body::None),
            401,
            unauth.clone(),
        );
    }
    // /healthz needs no token.
    assert_eq!(h.get("/healthz").status, 200);

    let id = create_ns(&h, "shared", &[("Authorization", &adm)]);
    let al = [("Authorization", ali.as_str())];
    // alice may touch user:* keys only.
    let r = h.send("PUT", &values(&id, "user:1"), &al, Body::Bytes(b"v1"));
    expect(&r, 200, ok(Value::Null));
    assert_eq!(h.send("GET", &values(&id, "user:1"), &al, Body::None).body, b"v1");
    let noperm = fail(
        AUTH,
        "NOPERM this user has no permissions to access one of the keys used as arguments",
    );
    expect(
        &h.send("PUT", &values(&id, "other"), &al, Body::Bytes(b"v")),
        403,
        noperm.clone(),
    );
    expect(
        &h.send("GET", &values(&id, "other"), &al, Body::None),
        403,
        noperm.clone(),
    );
    expect(
        &h.send("DELETE", &values(&id, "other"), &al, Body::None),
        403,
        noperm.clone(),
    );
    expect(
        &h.send("GET", &format!("{NS}/{id}/metadata/other"), &al, Body::None),
        403,
        noperm.clone(),
    );
    // Bulk bodies too: keys inside the JSON are checked against her patterns.
    let bulk = format!("{NS}/{id}/bulk");
    expect(
        &h.json(
            "PUT",
            &bulk,
            &al,
            &json!([{"key": "user:2", "value": "x"}, {"key": "other", "value": "x"}]),
        ),
        403,
        noperm.clone(),
    );
    expect(
        &h.json("DELETE", &bulk, &al, &json!(["user:1", "other"])),
        403,
        noperm.clone(),
    );
    expect(
        &h.json(
            "POST",
            &format!("{bulk}/get"),
            &al,
            &json!({"keys": ["user:1", "other"]}),
        ),
        403,
        noperm.clone(),
    );
    expect(
        &h.json(
            "POST",
            &format!("{bulk}/get"),
            &al,
            &json!({"keys": ["user:1"], "withMetadata": true}),
        ),
        200,
        ok(json!({"values": {"user:1": {"value": "v1", "metadata": null}}})),
    );
    let mut r = s.raw();
    r.expect(&["SELECT", &id], "+OK\r\n");
    r.expect(&["EXISTS", "other", "user:2"], ":0\r\n");
    // The denials are in ACL LOG: one entry (same key, same user) for the seven requests, the
    // client as at the last one (bulk get, in the first namespace: database 16).
    let admin_id = common::int_reply(&mut admin, &["CLIENT", "ID"]);
    let log = acl_log(&mut admin, &[]);
    assert_eq!(log.len(), 1, "{log:?}");
    let info = Info::http_request(&log[0].client_info, admin_id, h.port, 16, "kv.bulkget", "alice");
    assert_eq!(log, [log_entry(7, "key", "toplevel", "other", "alice", &info)]);

    // A user deleted or switched off loses access at once.
    admin.expect(&["ACL", "SETUSER", "alice", "off"], "+OK\r\n");
    expect(
        &h.send("GET", &values(&id, "user:1"), &al, Body::None),
        401,
        unauth.clone(),
    );
    admin.expect(&["ACL", "SETUSER", "alice", "on"], "+OK\r\n");
    assert_eq!(h.send("GET", &values(&id, "user:1"), &al, Body::None).status, 200);
    admin.expect(&["ACL", "DELUSER", "alice"], ":1\r\n");
    expect(&h.send("GET", &values(&id, "user:1"), &al, Body::None), 401, unauth);
}

#[test]
fn tokens_and_namespace_scope() {
    let (s, h) = start(&["--http-tokens", TOKENS]);
    let mut admin = s.raw();
    admin.cmd(&["KV.NAMESPACE", "CREATE", "A"]);
    let a = ns_id(&mut admin, "A");
    admin.cmd(&["KV.NAMESPACE", "CREATE", "B"]);
    let b = ns_id(&mut admin, "B");
    admin.expect(
        &["ACL", "SETUSER", "bob", "on", "nopass", "~*", "+@all", "namespace:A"],
        "+OK\r\n",
    );
    let auth = [("Authorization", "Bearer t-bob")];
    expect(
        &h.send("PUT", &values(&a, "k"), &auth, Body::Bytes(b"in A")),
        200,
        ok(Value::Null),
    );
    assert_eq!(h.send("GET", &values("A", "k"), &auth, Body::None).body, b"in A");
    let denied = fail(AUTH, "NOPERM this user has no permissions to access namespace 17");
    expect(
        &h.send("PUT", &values(&b, "k"), &auth, Body::Bytes(b"v")),
        403,
        denied.clone(),
    );
    expect(
        &h.send("GET", &format!("{NS}/{b}"), &auth, Body::None),
        403,
        denied.clone(),
    );
    expect(
        &h.send("GET", &format!("{NS}/{b}/keys"), &auth, Body::None),
        403,
        denied.clone(),
    );
    expect(&h.send("DELETE", &format!("{NS}/{b}"), &auth, Body::None), 403, denied);
    expect(
        &h.send("GET", &format!("{NS}/{a}"), &auth, Body::None),
        200,
        ok(json!({"id": a, "title": "A", "supports_url_encoding": true})),
    );
    let mut r = s.raw();
    r.expect(&["SELECT", &b], "+OK\r\n");
    r.expect(&["EXISTS", "k"], ":0\r\n");
}

/// The key list shows a user limited by key patterns only the keys it may read: not the
/// names, nor the metadata, of the others (the review's reproduction), in full pages.
#[test]
fn keys_list_shows_only_keys_the_user_may_read() {
    let (s, h) = start(&["--http-tokens", TOKENS]);
    let mut admin = s.raw();
    let id = create_ns(&h, "mixed", &[("Authorization", "Bearer t-admin")]);
    admin.expect(&["SELECT", &id], "+OK\r\n");
    admin.expect(
        &[
            "KV.PUT",
            "secret2",
            "topsecret",
            "METADATA",
            r#"{"password":"hunter2"}"#,
        ],
        "+OK\r\n",
    );
    let mut visible = Vec::new();
    for i in 0..15 {
        admin.expect(
            &["KV.PUT", &format!("pub:{i:02}"), "v", "METADATA", r#"{"shown":1}"#],
            "+OK\r\n",
        );
        admin.expect(
            &["KV.PUT", &format!("pua:{i:02}"), "v", "METADATA", r#"{"hidden":1}"#],
            "+OK\r\n",
        );
        admin.expect(&["KV.PUT", &format!("p:{i:02}:vis"), "v"], "+OK\r\n");
        visible.extend([format!("pub:{i:02}"), format!("p:{i:02}:vis")]);
    }
    visible.sort();
    admin.expect(
        &["ACL", "SETUSER", "alice", "on", "nopass", "~pub:*", "%R~*:vis", "+@all"],
        "+OK\r\n",
    );
    let al = [("Authorization", "Bearer t-alice")];
    expect(
        &h.send("GET", &format!("{NS}/{id}/metadata/secret2"), &al, Body::None),
        403,
        fail(
            AUTH,
            "NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
    );
    let r = h.send("GET", &format!("{NS}/{id}/keys"), &al, Body::None);
    assert_eq!(r.status, 200, "{}", r.text());
    for leak in ["secret2", "hunter2", "hidden", "pua:"] {
        assert!(!r.text().contains(leak), "{leak} in {}", r.text());
    }
    assert_eq!(r.json()["result"].as_array().unwrap().len(), 30);
    // wrangler's and the SDK's paging: full pages until the last, its cursor empty.
    let mut names = Vec::new();
    let mut cursor = String::new();
    for page in 0.. {
        let r = h.send(
            "GET",
            &format!("{NS}/{id}/keys?prefix=p&limit=10&cursor={cursor}"),
            &al,
            Body::None,
        );
        let v = r.json();
        let keys = v["result"].as_array().unwrap();
        names.extend(keys.iter().map(|k| k["name"].as_str().unwrap().to_string()));
        cursor = v["result_info"]["cursor"].as_str().unwrap().to_string();
        if cursor.is_empty() {
            assert_eq!((page, keys.len()), (2, 10));
            break;
        }
        assert_eq!(keys.len(), 10);
    }
    assert_eq!(names, visible);
}

/// Namespace management for a user scoped to some namespaces (review M6): the list shows
/// the namespaces it may use (it was refused: NOPERM for namespace 0), creating one needs
/// `allnamespaces` (a new namespace would be outside its scope), and an unscoped user
/// creates one when its command rules allow it.
#[test]
fn namespaces_for_scoped_users() {
    let (s, h) = start(&["--http-tokens", TOKENS]);
    let mut admin = s.raw();
    let adm = [("Authorization", "Bearer t-admin")];
    let a = create_ns(&h, "A", &adm);
    create_ns(&h, "B", &adm);
    let c = create_ns(&h, "C", &adm);
    admin.expect(
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            "nopass",
            "~*",
            "+@all",
            "resetnamespaces",
            "namespace:A",
            &format!("namespace:{c}"),
        ],
        "+OK\r\n",
    );
    let bob = [("Authorization", "Bearer t-bob")];
    let describe = |id: &str, title: &str| json!({"id": id, "title": title, "supports_url_encoding": true});
    let r = h.send("GET", &format!("{NS}?order=title"), &bob, Body::None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], json!([describe(&a, "A"), describe(&c, "C")]));
    assert_eq!(r.json()["result_info"]["total_count"], 2);
    // wrangler's paging ends on the empty page past them.
    let r = h.send("GET", &format!("{NS}?per_page=1&page=3"), &bob, Body::None);
    assert_eq!(r.json()["result"], json!([]));
    expect(
        &h.json("POST", NS, &bob, &json!({"title": "D"})),
        403,
        fail(AUTH, "NOPERM this user has no permissions to access every namespace"),
    );
    admin.expect(&["KV.NAMESPACE", "GET", "D"], "-ERR Unknown namespace.\r\n");
    let admin_id = common::int_reply(&mut admin, &["CLIENT", "ID"]);
    let log = acl_log(&mut admin, &[]);
    assert_eq!(log.len(), 1, "{log:?}");
    let info = Info::http_request(&log[0].client_info, admin_id, h.port, 0, "kv.namespace|create", "bob");
    assert_eq!(log, [log_entry(1, "namespace", "toplevel", "*", "bob", &info)]);
    // The admin still sees and creates every namespace.
    let r = h.send("GET", NS, &adm, Body::None);
    assert_eq!(r.json()["result_info"]["total_count"], 3);
    // An unscoped user: its command rules decide.
    admin.expect(
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            "nopass",
            "~*",
            "+@all",
            "-kv.namespace|create",
        ],
        "+OK\r\n",
    );
    let al = [("Authorization", "Bearer t-alice")];
    expect(
        &h.json("POST", NS, &al, &json!({"title": "D"})),
        403,
        fail(
            AUTH,
            "NOPERM this user has no permissions to run the 'kv.namespace|create' command",
        ),
    );
    admin.expect(&["ACL", "SETUSER", "alice", "+kv.namespace|create"], "+OK\r\n");
    create_ns(&h, "D", &al);
    assert_eq!(
        h.send("GET", NS, &al, Body::None).json()["result_info"]["total_count"],
        4
    );
}

fn ns_id(c: &mut common::Raw, title: &str) -> String {
    let r = common::text(c.cmd(&["KV.NAMESPACE", "GET", title]));
    let i = r.find("$32\r\n").expect("an id") + 5;
    r[i..i + 32].to_string()
}

#[test]
fn without_tokens_only_loopback_and_no_password() {
    let (_s, h) = start(&[]);
    assert_eq!(h.get(NS).status, 200);
    expect(
        &h.from([127, 0, 0, 2]).get(NS),
        403,
        fail(
            AUTH,
            "DENIED edgekv's HTTP listener serves only clients on the loopback interface while no http-tokens are configured. To serve other clients, configure http-tokens (space-separated token:user pairs, users from the ACL) and send 'Authorization: Bearer <token>'.",
        ),
    );
    // The default user's password is never bypassed.
    let (_s, h) = start(&["--requirepass", "pw"]);
    expect(
        &h.get(NS),
        401,
        fail(
            AUTH,
            "Authentication error: the default user requires a password; configure http-tokens (token:user pairs) and send 'Authorization: Bearer <token>'",
        ),
    );
    // With tokens, non-loopback clients are served.
    let (_s, h) = start(&["--http-tokens", TOKENS, "--protected-mode", "no"]);
    let r = h
        .from([127, 0, 0, 2])
        .send("GET", NS, &[("Authorization", "Bearer t-admin")], Body::None);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn quotas_answer_429_with_code_10048() {
    let (_s, h) = start(&["--kv-quota-writes", "2"]);
    let id = create_ns(&h, "quota", &[]);
    assert_eq!(put_raw(&h, &id, "a", b"1").status, 200);
    expect(
        &h.json(
            "PUT",
            &format!("{NS}/{id}/bulk"),
            &[],
            &json!([{"key": "b", "value": "2"}, {"key": "c", "value": "3"}]),
        ),
        200,
        ok(json!({"successful_key_count": 1, "unsuccessful_keys": ["c"]})),
    );
    expect(
        &put_raw(&h, &id, "d", b"1"),
        429,
        fail(10048, "KV put() limit exceeded for the day."),
    );
}

#[test]
fn writes_survive_a_restart() {
    let (mut s, h) = start(&["--appendfsync", "always"]);
    let id = create_ns(&h, "durable", &[]);
    assert_eq!(put_raw(&h, &id, "k", b"kept").status, 200);
    assert_eq!(
        h.json(
            "PUT",
            &format!("{NS}/{id}/bulk"),
            &[],
            &json!([{"key": "b", "value": "bulk"}])
        )
        .status,
        200
    );
    s.stop();
    let dir = s.dir.path().to_path_buf();
    let s2 = common::Server::start_in(&dir, &[]);
    let mut c = resp_in(&s2, &id);
    c.expect(
        &["MGET", "k", "b"],
        &format!("*2\r\n{}{}", common::bulk("kept"), common::bulk("bulk")),
    );
}

#[test]
fn a_failing_log_refuses_writes_and_acknowledges_none_it_lost() {
    let (mut s, h) = start(&[]);
    let id = create_ns(&h, "full", &[]);
    // A file size limit on the server: its log soon cannot grow.
    let l = libc::rlimit {
        rlim_cur: 256 * 1024,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a plain syscall on our child with a valid rlimit.
    let r = unsafe { libc::prlimit(s.pid() as libc::pid_t, libc::RLIMIT_FSIZE, &l, std::ptr::null_mut()) };
    assert_eq!(r, 0);
    let value = vec![b'x'; 1000];
    let mut acked = Vec::new();
    let mut refusal = None;
    for i in 0..2000 {
        let k = format!("fill{i}");
        let r = put_raw(&h, &id, &k, &value);
        if r.status == 200 {
            acked.push(k);
            continue;
        }
        refusal = Some(r);
        break;
    }
    let r = refusal.expect("a write refused by the full log");
    // The write that found the log failing ran, but its outcome is unknown: 500 (10500). The
    // requests are sent one after another and every acknowledged one waited for its write, so
    // the file write that fails (EFBIG under RLIMIT_FSIZE) is this request's own.
    let misconf = "MISCONF Errors writing to the AOF file: write: File too large (os error 27)";
    expect(&r, 500, fail(10500, misconf));
    // Later writes are refused before they run: 503 (10503), the same text; reads go on.
    expect(&put_raw(&h, &id, "later", b"v"), 503, fail(10503, misconf));
    assert_eq!(h.get(&values(&id, &acked[0])).status, 200);
    // Every acknowledged write is in the log.
    s.stop();
    let s2 = common::Server::start_in(s.dir.path(), &[]);
    let mut c = resp_in(&s2, &id);
    for k in &acked {
        c.expect(&["STRLEN", k], ":1000\r\n");
    }
}

#[test]
fn errors_before_the_body_still_read_it() {
    let (_s, h) = start(&["--http-tokens", TOKENS]);
    let auth = [("Authorization", "Bearer t-admin")];
    let id = create_ns(&h, "early", &auth);
    let big = vec![b'v'; 8 << 20];
    // Refused before the body is read (unknown namespace, missing token, a bad key): the body
    // is read anyway, so a client still sending it gets the answer and keeps its connection.
    let put = |target: &str, token: bool, close: bool| {
        let mut r = format!(
            "PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{}{}\r\n",
            big.len(),
            if token { "Authorization: Bearer t-admin\r\n" } else { "" },
            if close { "Connection: close\r\n" } else { "" },
        )
        .into_bytes();
        r.extend_from_slice(&big);
        r
    };
    let answers = http_util::pipelined(
        h.port,
        vec![
            put(&values("nope", "k"), true, false),
            put(&values(&id, "k"), false, false),
            put(&values(&id, "%zz"), true, false),
            put(&format!("{NS}/nope/bulk"), true, false),
            put(&values(&id, "k"), true, true),
        ],
    );
    assert_eq!(answers.len(), 5, "{answers:?}");
    expect(&answers[0], 404, fail(NS_NOT_FOUND, "put: 'namespace not found'"));
    expect(&answers[1], 401, fail(AUTH, "Authentication error"));
    expect(&answers[2], 400, fail(INVALID, "Could not URL-decode key name"));
    expect(&answers[3], 404, fail(NS_NOT_FOUND, "bulk put: 'namespace not found'"));
    expect(&answers[4], 200, ok(Value::Null));
    assert_eq!(
        h.send("GET", &values(&id, "k"), &auth, Body::None).body.len(),
        big.len()
    );
}

// ---- The listener: timeouts and the connection cap (review M1) ----

/// Whether the server closed `s` (EOF or reset) within `within`; what it sent first.
fn closed_within(s: &mut std::net::TcpStream, within: std::time::Duration) -> (bool, Vec<u8>) {
    use std::io::Read;
    let end = std::time::Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < end {
        s.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return (true, got),
        }
    }
    (false, got)
}

/// Writes `line` every 300 ms until the server closes the connection; true when it did
/// within `within`.
fn trickle_until_closed(s: &std::net::TcpStream, line: &[u8], within: std::time::Duration) -> bool {
    use std::io::Write;
    let mut w = s.try_clone().unwrap();
    let mut r = s.try_clone().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let reader = std::thread::spawn(move || {
        let closed = closed_within(&mut r, within);
        d.store(true, std::sync::atomic::Ordering::SeqCst);
        closed
    });
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        if w.write_all(line).is_err() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    reader.join().unwrap().0
}

/// A client that sends its headers a line at a time, or nothing, or nothing more after an
/// answer, is cut off after `http-timeout`: it cannot hold a connection (slowloris).
#[test]
fn slow_and_idle_clients_are_cut_off() {
    use std::io::Write;
    let (_s, h) = start(&["--http-timeout", "1"]);
    let within = std::time::Duration::from_secs(15);
    // Headers a line at a time, for ever.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert!(
        trickle_until_closed(&c, b"X-Slow: 1\r\n", within),
        "slow headers were not cut off"
    );
    // Nothing at all.
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    assert!(closed_within(&mut idle, within).0, "an idle connection stayed open");
    // Nothing more after an answer on a kept-alive connection.
    let mut kept = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (closed, got) = closed_within(&mut kept, within);
    assert!(closed, "a kept-alive connection stayed open");
    // Answered for keep-alive (no `connection: close`), then closed once idle.
    assert_eq!(
        without_date(&got),
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 3\r\n\r\nok\n"
    );
    // A client sending at a normal pace is served.
    assert_eq!(h.get("/healthz").status, 200);
}

/// An HTTP answer without its Date header (the one part that changes from run to run).
fn without_date(got: &[u8]) -> String {
    let got = String::from_utf8_lossy(got);
    match got.find("\r\ndate: ") {
        Some(at) => {
            let end = at + 2 + got[at + 2..].find("\r\n").expect("a whole date line") + 2;
            format!("{}{}", &got[..at + 2], &got[end..])
        }
        None => got.into_owned(),
    }
}

/// /healthz's whole answer to a request with `Connection: close`, its Date header left out.
const HEALTHZ_CLOSED: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n";

/// The whole answer to a connection over http-maxclients.
const BUSY_ANSWER: &str = "HTTP/1.1 503 max number of HTTP clients reached\r\ncontent-type: application/json\r\ncontent-length: 118\r\nretry-after: 1\r\nconnection: close\r\n\r\n{\"success\":false,\"errors\":[{\"code\":10503,\"message\":\"max number of HTTP clients reached\"}],\"messages\":[],\"result\":null}";

/// Sends a PUT of key "k" whose 1,000-byte body comes a byte every 300 ms (at most `bytes`
/// of it), and checks that the server answers 408 with Cloudflare's text and closes the
/// connection within `within`.
fn trickled_put_is_cut_off(h: &Http, id: &str, within: std::time::Duration, bytes: usize) {
    use std::io::Write;
    let mut c = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    write!(
        c,
        "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
        values(id, "k")
    )
    .unwrap();
    let mut r = c.try_clone().unwrap();
    let reader = std::thread::spawn(move || closed_within(&mut r, within));
    for _ in 0..bytes {
        if c.write_all(b"x").is_err() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let (closed, got) = reader.join().unwrap();
    assert!(
        closed,
        "a trickled body was not cut off: {}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        without_date(&got),
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 126\r\n\r\n{\"success\":false,\"errors\":[{\"code\":10020,\"message\":\"The request body was not received in time.\"}],\"messages\":[],\"result\":null}"
    );
}

/// A body trickled a byte at a time is cut off with 408 (and the connection closed) once
/// its deadline passes; nothing is written.
#[test]
fn slow_bodies_are_cut_off() {
    let (s, h) = start(&["--http-timeout", "1"]);
    let id = create_ns(&h, "slow", &[]);
    trickled_put_is_cut_off(&h, &id, std::time::Duration::from_secs(15), 40);
    resp_in(&s, &id).expect(&["EXISTS", "k"], ":0\r\n");
}

/// CONFIG SET http-timeout applies from the next connection on, for headers and idle
/// keep-alive as for bodies, with the exact replies of CONFIG SET and GET.
#[test]
fn http_timeout_changed_at_run_time() {
    use std::io::Write;
    let (s, h) = start(&["--http-timeout", "60"]);
    let id = create_ns(&h, "late", &[]);
    let mut admin = s.raw();
    admin.expect(&["CONFIG", "SET", "http-timeout", "1"], "+OK\r\n");
    admin.expect(
        &["CONFIG", "GET", "http-timeout"],
        "*2\r\n$12\r\nhttp-timeout\r\n$1\r\n1\r\n",
    );
    // Well within the 60 seconds it was: an idle connection is closed after one.
    let within = std::time::Duration::from_secs(8);
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    assert!(closed_within(&mut idle, within).0, "an idle connection stayed open");
    // A trickled body gets one second of grace, then 408.
    trickled_put_is_cut_off(&h, &id, within, 25);
    resp_in(&s, &id).expect(&["EXISTS", "k"], ":0\r\n");
    // Back to a long timeout: a client that pauses for longer than a second is served.
    admin.expect(&["CONFIG", "SET", "http-timeout", "30"], "+OK\r\n");
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    slow.write_all(b"Host: x\r\nConnection: close\r\n\r\n").unwrap();
    let (closed, got) = closed_within(&mut slow, within);
    assert!(closed);
    assert_eq!(without_date(&got), HEALTHZ_CLOSED);
}

/// CONFIG SET http-maxclients applies to the next connection accepted.
#[test]
fn http_maxclients_changed_at_run_time() {
    use std::io::Write;
    let (s, h) = start(&["--http-timeout", "60"]);
    let mut admin = s.raw();
    admin.expect(&["CONFIG", "SET", "http-maxclients", "1"], "+OK\r\n");
    admin.expect(
        &["CONFIG", "GET", "http-maxclients"],
        "*2\r\n$15\r\nhttp-maxclients\r\n$1\r\n1\r\n",
    );
    let held = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let within = std::time::Duration::from_secs(10);
    // The held connection is accepted first (its slot is taken before the next connects).
    let mut probe = held.try_clone().unwrap();
    probe.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 17];
    probe.set_read_timeout(Some(within)).unwrap();
    std::io::Read::read_exact(&mut probe, &mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200 OK\r\n");
    let mut extra = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    let (closed, got) = closed_within(&mut extra, within);
    assert!(closed);
    assert_eq!(without_date(&got), BUSY_ANSWER);
    admin.expect(&["CONFIG", "SET", "http-maxclients", "2"], "+OK\r\n");
    let mut next = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    next.write_all(request).unwrap();
    let (closed, got) = closed_within(&mut next, within);
    assert!(closed);
    assert_eq!(without_date(&got), HEALTHZ_CLOSED);
    drop(held);
}

/// Connections over `http-maxclients` are answered 503 at once and closed; RESP is served
/// all the while, and a freed slot serves HTTP again.
#[test]
fn connections_over_the_cap_are_refused() {
    use std::io::Write;
    let (s, h) = start(&["--http-maxclients", "4", "--http-timeout", "60"]);
    let held: Vec<_> = (0..4)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap())
        .collect();
    // The four are being served: a request on one is answered.
    let mut first = held[0].try_clone().unwrap();
    first.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 17];
    first
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    std::io::Read::read_exact(&mut first, &mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200 OK\r\n");
    for _ in 0..3 {
        let mut extra = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        let (closed, got) = closed_within(&mut extra, std::time::Duration::from_secs(10));
        let got = String::from_utf8_lossy(&got);
        assert!(closed, "{got}");
        assert!(
            got.starts_with("HTTP/1.1 503 max number of HTTP clients reached\r\n"),
            "{got}"
        );
        assert!(got.contains(r#""code":10503"#), "{got}");
        s.raw().expect(&["PING"], "+PONG\r\n");
    }
    drop(held);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (_, got) = closed_within(&mut c, std::time::Duration::from_secs(10));
        if without_date(&got) == HEALTHZ_CLOSED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A value larger than the socket buffers of both ends together (so that a client that
/// reads none of it stalls the server's write), within the 25 MiB limit.
fn stall_sized_value() -> Vec<u8> {
    (0..24 << 20).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A connection whose GET of `target` was accepted (retried while the cap still counts
/// connections that are closing); returns it with the status line and headers read.
fn get_accepted(port: u16, target: &str) -> (std::net::TcpStream, String) {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        write!(c, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            c.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap();
        if !head.starts_with("HTTP/1.1 503 ") {
            return (c, head);
        }
        assert!(std::time::Instant::now() < deadline, "{head}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A client that asks for a large value and stops reading the answer is cut off once the
/// socket has accepted nothing for `http-timeout`: its `http-maxclients` slot is freed. A
/// client reading slowly but steadily gets the whole value.
#[test]
fn stalled_responses_are_cut_off() {
    use std::io::{Read, Write};
    // 2 s: the steady reader below pauses 200 ms, leaving a wide margin on a loaded machine.
    let (s, h) = start(&["--http-timeout", "2"]);
    let id = create_ns(&h, "stall", &[]);
    let value = stall_sized_value();
    assert_eq!(put_raw(&h, &id, "big", &value).status, 200);
    s.raw().expect(&["CONFIG", "SET", "http-maxclients", "1"], "+OK\r\n");
    let head_of = |head: &str| {
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("\r\ncontent-length: {}\r\n", value.len())),
            "{head}"
        );
    };

    // Only the headers are read: the server's write stalls with most of the value unsent.
    let (mut stalled, head) = get_accepted(h.port, &values(&id, "big"));
    head_of(&head);
    // The only slot is taken until the stalled response is given up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (closed, got) = closed_within(&mut c, std::time::Duration::from_secs(10));
        assert!(closed, "{:?}", String::from_utf8_lossy(&got));
        if without_date(&got) == HEALTHZ_CLOSED {
            break;
        }
        assert_eq!(without_date(&got), BUSY_ANSWER);
        assert!(
            std::time::Instant::now() < deadline,
            "a stalled response still holds the only slot"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // What the socket held is still there to read, then the connection ends short of the
    // value.
    let mut rest = Vec::new();
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let ended = loop {
        let mut buf = vec![0u8; 1 << 20];
        match stalled.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break false,
            Err(_) => break true,
        }
    };
    assert!(ended, "the stalled connection stayed open");
    assert!(rest.len() < value.len(), "{} of {} bytes", rest.len(), value.len());
    assert_eq!(rest[..], value[..rest.len()]);

    // Slowly but steadily: a pause well under the timeout between reads of at most 2 MiB.
    let (mut steady, head) = get_accepted(h.port, &values(&id, "big"));
    head_of(&head);
    let mut body = Vec::new();
    let mut buf = vec![0u8; 2 << 20];
    while body.len() < value.len() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let n = steady.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {} of {} bytes", body.len(), value.len());
        body.extend_from_slice(&buf[..n]);
    }
    assert_eq!(body.len(), value.len());
    assert!(body == value, "the value came back changed");
}

/// The review's reproduction: with few file descriptors, many idle HTTP connections no
/// longer take them all: HTTP keeps at most half of them (the rest are answered 503 and
/// closed at once), and RESP clients are served.
#[test]
fn idle_http_clients_leave_descriptors_for_resp() {
    use std::io::{Read, Write};
    let port = common::free_port();
    let s = common::Server::start_with_nofile(64, &["--http-port", &port.to_string(), "--http-timeout", "60"]);
    // Each sends a request and then stays, idle, on its kept-alive connection.
    let mut conns: Vec<_> = (0..100)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            c
        })
        .collect();
    let (mut served, mut refused) = (0, 0);
    for c in conns.iter_mut() {
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut status = [0u8; 12];
        c.read_exact(&mut status).expect("an answer to every connection");
        match &status {
            b"HTTP/1.1 200" => served += 1,
            b"HTTP/1.1 503" => refused += 1,
            other => panic!("{:?}", String::from_utf8_lossy(other)),
        }
    }
    assert!(served > 0 && served <= 32 && served + refused == 100, "{served} served");
    for _ in 0..5 {
        let mut c = s.raw();
        c.expect(&["PING"], "+PONG\r\n");
    }
    drop(conns);
}

/// The HTTP listener listens on every `bind` address, as RESP does (it took only the first).
#[test]
fn listens_on_every_bind_address() {
    use std::io::{Read, Write};
    let port = common::free_port();
    let _s = common::Server::start_with(&["--bind", "127.0.0.2 127.0.0.1", "--http-port", &port.to_string()]);
    for host in ["127.0.0.2", "127.0.0.1"] {
        let mut c = std::net::TcpStream::connect((host, port)).unwrap_or_else(|e| panic!("{host}: {e}"));
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert!(
            got.starts_with("HTTP/1.1 200 OK\r\n") && got.ends_with("ok\n"),
            "{host}: {got}"
        );
    }
}

/// `/metrics` (its labels carry every namespace's id and title) follows the API's access
/// rule: loopback clients while no tokens are configured, then a valid token. `/healthz`
/// stays open.
#[test]
fn metrics_follow_the_access_rule_of_the_api() {
    let (s, h) = start(&[]);
    let mut admin = s.raw();
    admin.cmd(&["KV.NAMESPACE", "CREATE", "customer-acme-prod-sessions"]);
    let r = h.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("customer-acme-prod-sessions"));
    let remote = h.from([127, 0, 0, 2]);
    let r = remote.get("/metrics");
    assert_eq!(r.status, 403);
    assert!(!r.text().contains("customer-acme"), "{}", r.text());
    assert!(r
        .text()
        .starts_with("DENIED edgekv's HTTP listener serves only clients on the loopback interface"));
    assert_eq!(remote.get("/healthz").status, 200);

    admin.expect(&["CONFIG", "SET", "http-tokens", "t-admin:default"], "+OK\r\n");
    for (who, headers) in [
        (h, vec![]),
        (remote, vec![]),
        (h, vec![("Authorization", "Bearer nope")]),
    ] {
        let r = who.send("GET", "/metrics", &headers, Body::None);
        assert_eq!((r.status, r.text().as_str()), (401, "Authentication error\n"));
    }
    for who in [h, remote] {
        let r = who.send("GET", "/metrics", &[("Authorization", "Bearer t-admin")], Body::None);
        assert_eq!(r.status, 200);
        assert!(r.text().contains("customer-acme-prod-sessions"));
        assert_eq!(who.get("/healthz").status, 200);
    }
}

/// `http-tokens` is parsed once per change (review L5), and every change counts from the
/// next request on: a new token works, a removed one is refused, and with none left only
/// loopback clients are served again.
#[test]
fn token_changes_apply_to_the_next_request() {
    let (s, h) = start(&["--http-tokens", "t1:default"]);
    let mut admin = s.raw();
    let with = |t: &str| {
        h.send("GET", NS, &[("Authorization", &format!("Bearer {t}"))], Body::None)
            .status
    };
    assert_eq!((with("t1"), with("t2")), (200, 401));
    admin.expect(&["CONFIG", "SET", "http-tokens", "t2:default"], "+OK\r\n");
    assert_eq!((with("t1"), with("t2")), (401, 200));
    // Another parameter's change leaves the tokens as they are.
    admin.expect(&["CONFIG", "SET", "maxclients", "100"], "+OK\r\n");
    assert_eq!((with("t1"), with("t2")), (401, 200));
    // Several at once (CONFIG SET with pairs) as well.
    admin.expect(
        &["CONFIG", "SET", "http-tokens", "t3:default", "maxclients", "99"],
        "+OK\r\n",
    );
    assert_eq!((with("t2"), with("t3")), (401, 200));
    // Words without a user configure tokens that admit no one.
    admin.expect(&["CONFIG", "SET", "http-tokens", "nouser"], "+OK\r\n");
    assert_eq!((h.get(NS).status, with("nouser")), (401, 401));
    admin.expect(&["CONFIG", "SET", "http-tokens", ""], "+OK\r\n");
    assert_eq!(h.get(NS).status, 200);
    assert_eq!(h.from([127, 0, 0, 2]).get(NS).status, 403);
}

/// A CONFIG SET that fails as a whole (the log cannot be switched on) leaves the tokens as
/// they were, for HTTP requests as for CONFIG GET (Redis puts every value back).
#[test]
fn tokens_stay_when_config_set_fails() {
    let (s, h) = start(&["--appendonly", "no"]);
    let mut admin = s.raw();
    let aof_dir = s.dir.path().join("appendonlydir");
    let _ = std::fs::remove_dir_all(&aof_dir);
    std::fs::write(&aof_dir, b"not a folder").unwrap();
    admin.expect(
        &["CONFIG", "SET", "http-tokens", "t1:default", "appendonly", "yes"],
        "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.\r\n",
    );
    admin.expect(
        &["CONFIG", "GET", "http-tokens"],
        "*2\r\n$11\r\nhttp-tokens\r\n$0\r\n\r\n",
    );
    // Still no tokens: loopback clients are served without one, and a client elsewhere is
    // refused even with t1 (which would let it in had the failed CONFIG SET kept it).
    let denied = fail(
        AUTH,
        "DENIED edgekv's HTTP listener serves only clients on the loopback interface while no http-tokens are configured. To serve other clients, configure http-tokens (space-separated token:user pairs, users from the ACL) and send 'Authorization: Bearer <token>'.",
    );
    assert_eq!(h.get(NS).status, 200);
    expect(&h.from([127, 0, 0, 2]).get(NS), 403, denied.clone());
    let r = h
        .from([127, 0, 0, 2])
        .send("GET", NS, &[("Authorization", "Bearer t1")], Body::None);
    expect(&r, 403, denied);
}

/// The key list's bytes, exactly: each shape of entry, a page with a cursor and the last one.
#[test]
fn keys_list_bytes_are_exact() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "shapes", &[]);
    http_util::put_list_shapes(&s, &id);
    let first = h.get(&format!("{NS}/{id}/keys?limit=10&prefix=s"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(
        first.text(),
        exact(
            r##"{"success":true,"errors":[],"messages":[],"result":[{"name":"s01","metadata":{"b":{"n":null},"a":[1000.0,-0.0,1.2345678901234567e+23,"é/x"]}},{"name":"s02","expiration":4102444800,"metadata":"ключ ü 😀"},{"name":"s03","metadata":{"nested":{"deep":[true,false,null,{"x":"\"q\"\n\\","y":[]}],"e":{}}}},{"name":"s04","expiration":4102444800},{"name":"s05","expiration":4102444800,"metadata":123},{"name":"s06","metadata":"ctrl\u0001\u001f<DEL>\t"},{"name":"s07","metadata":{"f":0.1,"g":1e-7,"h":-9223372036854775808,"i":18446744073709551615,"j":1.8446744073709552e+19,"k":1.5e+300}},{"name":"s08"},{"name":"s09","metadata":[]},{"name":"s10","expiration":4102444800,"metadata":{"😀":"😀","":""}}],"result_info":{"count":10,"cursor":"AXMxMA"}}"##
        )
    );
    let second = h.get(&format!("{NS}/{id}/keys?limit=10&prefix=s&cursor=AXMxMA"));
    assert_eq!(
        second.text(),
        exact(
            r##"{"success":true,"errors":[],"messages":[],"result":[{"name":"s11","metadata":false},{"name":"s12","expiration":4102444800,"metadata":null}],"result_info":{"count":2,"cursor":""}}"##
        )
    );
}

/// `<DEL>` stands for the byte 0x7f, which JSON leaves unescaped.
fn exact(s: &str) -> String {
    s.replace("<DEL>", "\u{7f}")
}

/// Metadata KV.PUT accepts as JSON but serde_json cannot hold as a value (a number past f64,
/// nesting past its limit) is listed as a string, as the metadata endpoint shows it: it made
/// the whole page a 500 (`number out of range`) when the page was parsed again.
#[test]
fn keys_list_metadata_past_serde_json() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "odd", &[]);
    let mut c = resp_in(&s, &id);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    c.expect(&["KV.PUT", "a", "v", "METADATA", "1e400"], "+OK\r\n");
    c.expect(&["KV.PUT", "b", "v", "METADATA", &deep], "+OK\r\n");
    expect(&h.get(&format!("{NS}/{id}/metadata/a")), 200, ok(json!("1e400")));
    let listed = h.get(&format!("{NS}/{id}/keys"));
    assert_eq!(
        listed.text(),
        format!(
            r#"{{"success":true,"errors":[],"messages":[],"result":[{{"name":"a","metadata":"1e400"}},{{"name":"b","metadata":"{deep}"}}],"result_info":{{"count":2,"cursor":""}}}}"#
        )
    );
}

/// A bulk write refused for one item answers with the status of that item's error (a key
/// too long is a 414, metadata or a value too large a 413), its text followed by the item's
/// index; nothing of the body is written.
#[test]
fn bulk_item_errors_keep_their_status() {
    let (s, h) = start(&[]);
    let id = create_ns(&h, "items", &[]);
    let bulk = format!("{NS}/{id}/bulk");
    let put = |items: Value| h.json("PUT", &bulk, &[], &items);
    expect(
        &put(json!([{"key": "ok", "value": "v"}, {"key": "k".repeat(513), "value": "v"}])),
        414,
        fail(
            INVALID,
            "UTF-8 encoded length of 513 exceeds key length limit of 512. (item 1)",
        ),
    );
    expect(
        &put(json!([{"key": "ok", "value": "v"}, {"key": "m", "value": "v", "metadata": "m".repeat(1023)}])),
        413,
        fail(INVALID, "Metadata length of 1025 exceeds limit of 1024. (item 1)"),
    );
    expect(
        &put(json!([{"key": "big", "value": "v".repeat(25 * 1024 * 1024 + 1)}])),
        413,
        fail(INVALID, "Value length of 26214401 exceeds limit of 26214400. (item 0)"),
    );
    expect(
        &put(json!([{"key": "..", "value": "v"}])),
        400,
        fail(
            INVALID,
            "Illegal key name \"..\". Please use a different name. (item 0)",
        ),
    );
    let mut c = resp_in(&s, &id);
    c.expect(&["EXISTS", "ok", "m", "big"], ":0\r\n");
}

/// Every daily quota and the storage quota: 429 with code 10048 and Workers KV's text.
#[test]
fn every_quota_answers_429() {
    let (_s, h) = start(&[
        "--kv-quota-reads",
        "2",
        "--kv-quota-lists",
        "1",
        "--kv-quota-deletes",
        "1",
        "--kv-quota-storage",
        "1000",
    ]);
    let id = create_ns(&h, "quotas", &[]);
    assert_eq!(put_raw(&h, &id, "a", b"1").status, 200);
    expect(
        &put_raw(&h, &id, "b", &[b'x'; 2000]),
        429,
        fail(10048, "KV storage limit exceeded for the namespace."),
    );
    assert_eq!(h.get(&values(&id, "a")).status, 200);
    assert_eq!(h.get(&format!("{NS}/{id}/metadata/a")).status, 200);
    expect(
        &h.get(&values(&id, "a")),
        429,
        fail(10048, "KV get() limit exceeded for the day."),
    );
    assert_eq!(h.get(&format!("{NS}/{id}/keys")).status, 200);
    expect(
        &h.get(&format!("{NS}/{id}/keys")),
        429,
        fail(10048, "KV list() limit exceeded for the day."),
    );
    assert_eq!(h.send("DELETE", &values(&id, "a"), &[], Body::None).status, 200);
    expect(
        &h.send("DELETE", &values(&id, "a"), &[], Body::None),
        429,
        fail(10048, "KV delete() limit exceeded for the day."),
    );
}

/// `kv-max-namespaces` reached is a 400; a registry file that cannot be written is a 500
/// with code 10500 (and the namespace is not made).
#[test]
fn namespace_limit_and_registry_failure() {
    let (_s, h) = start(&["--kv-max-namespaces", "1"]);
    create_ns(&h, "one", &[]);
    expect(
        &h.json("POST", NS, &[], &json!({"title": "two"})),
        400,
        fail(
            INVALID,
            "The limit of 1 namespaces is reached (configuration: kv-max-namespaces)",
        ),
    );

    let (s, h) = start(&[]);
    let id = create_ns(&h, "kept", &[]);
    // The registry is written to a temporary file first: a folder in its place fails it.
    std::fs::create_dir(s.dir.path().join("namespaces.json.tmp")).unwrap();
    let failed = fail(
        10500,
        "could not save the namespace registry: Is a directory (os error 21)",
    );
    expect(&h.json("POST", NS, &[], &json!({"title": "new"})), 500, failed.clone());
    expect(
        &h.json("PUT", &format!("{NS}/{id}"), &[], &json!({"title": "renamed"})),
        500,
        failed,
    );
    expect(
        &h.get(NS),
        200,
        json!({
            "success": true, "errors": [], "messages": [],
            "result": [{"id": id, "title": "kept", "supports_url_encoding": true}],
            "result_info": {"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1},
        }),
    );
}
