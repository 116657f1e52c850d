//! Cloudflare's real tools against edgekv's HTTP listener (issue 6, "Real clients, in CI"):
//! - workerd runs a Worker (tests/cloudflare/worker.js: a session store and feature flags) whose
//!   KV bindings are `external` services at edgekv's HTTP port, the namespace chosen by an
//!   injected `X-Edgekv-Namespace` header;
//! - wrangler 4.86.0 runs its `kv` commands with `CLOUDFLARE_API_BASE_URL` at edgekv;
//! - the Python `cloudflare` SDK runs tests/cloudflare/sdk_client.py with `base_url=` at edgekv.
//!
//! Every result is checked exactly, and the resulting state is read back over RESP.
//!
//! The tools live outside the sources: `EDGEKV_CF_TOOLS` names the folder (default
//! `$HOME/.cache/edgekv-cf-tools/current`, which `.ci/run` fills) holding `node_modules/` (npm
//! install of tests/cloudflare/package.json) and `venv/` (pip install of
//! tests/cloudflare/requirements.txt). A missing tool prints `SKIPPED: ...` and the test returns,
//! unless `EDGEKV_REQUIRE_CF_TOOLS=1` (set by `.ci/run` when its installs succeeded): then it
//! fails.

mod common;
mod http_util;

use common::{free_port, now, Server};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A key with every character the tools encode differently in a URL path or query.
const SPECIAL: &str = "a+b:c&d;e=f/g%h i?j#k";
/// Its prefix up to the space (a `+` in a query, a `%20` in a path).
const SPECIAL_PREFIX: &str = "a+b:c&d;e=f/g%h i";
const UNICODE: &str = "ключ-ü-😀";
/// The account id the tools put in their paths (Cloudflare's documented example id).
const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

// ---------------------------------------------------------------------------------------
// Finding the tools
// ---------------------------------------------------------------------------------------

fn tools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EDGEKV_CF_TOOLS") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache/edgekv-cf-tools/current")
}

fn required() -> bool {
    std::env::var("EDGEKV_REQUIRE_CF_TOOLS").is_ok_and(|v| v == "1")
}

/// A tool is missing: fails the test when the tools are required, else says so plainly (past
/// the test harness's capture, so it shows in `cargo test`'s output) and lets the test return.
fn skip(tool: &str, why: &str) {
    let msg = format!(
        "SKIPPED: {tool} not installed ({why}; tools folder {}: run .ci/run or set EDGEKV_CF_TOOLS)",
        tools_dir().display()
    );
    if required() {
        panic!("EDGEKV_REQUIRE_CF_TOOLS=1 but {msg}");
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn node_available() -> Result<(), String> {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("node --version failed: {}", o.status)),
        Err(e) => Err(format!("node not runnable: {e}")),
    }
}

fn wrangler_bin() -> Result<PathBuf, String> {
    node_available()?;
    let p = tools_dir().join("node_modules/wrangler/bin/wrangler.js");
    if !p.exists() {
        return Err(format!("{} missing", p.display()));
    }
    Ok(p)
}

fn workerd_bin() -> Result<PathBuf, String> {
    let direct = tools_dir().join("node_modules/@cloudflare/workerd-linux-64/bin/workerd");
    if direct.exists() {
        return Ok(direct);
    }
    let p = tools_dir().join("node_modules/.bin/workerd");
    if !p.exists() {
        return Err(format!("neither {} nor {} exists", direct.display(), p.display()));
    }
    Ok(p)
}

fn python_bin() -> Result<PathBuf, String> {
    let p = tools_dir().join("venv/bin/python");
    if !p.exists() {
        return Err(format!("{} missing", p.display()));
    }
    let o = Command::new(&p)
        .args(["-c", "import cloudflare; print(cloudflare.__version__)"])
        .output()
        .map_err(|e| format!("{} not runnable: {e}", p.display()))?;
    if !o.status.success() {
        return Err(format!(
            "import cloudflare failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(p)
}

fn cf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloudflare")
}

// ---------------------------------------------------------------------------------------
// edgekv, RESP and small helpers
// ---------------------------------------------------------------------------------------

/// The real binary with its HTTP listener on a free port.
struct Edge {
    server: Server,
    http: u16,
}

impl Edge {
    fn start() -> Edge {
        let http = free_port();
        let server = Server::start_with(&["--http-port", &http.to_string()]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", http)).is_err() {
            assert!(Instant::now() < deadline, "no HTTP listener on port {http}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Edge { server, http }
    }

    fn resp(&self) -> redis::Connection {
        self.server.client()
    }

    fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/client/v4", self.http)
    }
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// `KV.NAMESPACE CREATE title` → the new namespace's id.
fn ns_create(c: &mut redis::Connection, title: &str) -> String {
    let v: Vec<redis::Value> = redis::cmd("KV.NAMESPACE")
        .arg("CREATE")
        .arg(title)
        .query(c)
        .expect("KV.NAMESPACE CREATE");
    ns_field(&v, "id").expect("id in KV.NAMESPACE CREATE's reply")
}

fn ns_field(v: &[redis::Value], name: &str) -> Option<String> {
    v.chunks(2)
        .find(|p| p.len() == 2 && text(&p[0]) == name)
        .map(|p| text(&p[1]))
}

/// `KV.NAMESPACE GET id|title` → its id, or the error text.
fn ns_get(c: &mut redis::Connection, name: &str) -> Result<String, String> {
    redis::cmd("KV.NAMESPACE")
        .arg("GET")
        .arg(name)
        .query::<Vec<redis::Value>>(c)
        .map(|v| ns_field(&v, "id").unwrap_or_default())
        .map_err(|e| e.to_string())
}

fn select(c: &mut redis::Connection, ns: &str) {
    let _: () = redis::cmd("SELECT").arg(ns).query(c).expect("SELECT namespace");
}

fn kv_get(c: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("KV.GET").arg(key).query(c).expect("KV.GET")
}

fn kv_get_str(c: &mut redis::Connection, key: &str) -> Option<String> {
    kv_get(c, key).map(|b| String::from_utf8(b).expect("UTF-8 value"))
}

/// The metadata `KV.GETWITHMETADATA` shows for a key (parsed), None when it has none.
fn kv_meta(c: &mut redis::Connection, key: &str) -> Option<Value> {
    let v: redis::Value = redis::cmd("KV.GETWITHMETADATA")
        .arg(key)
        .query(c)
        .expect("KV.GETWITHMETADATA");
    let md = match v {
        redis::Value::Array(items) => items.get(1).cloned(),
        redis::Value::Map(pairs) => pairs.into_iter().find(|(k, _)| text(k) == "metadata").map(|(_, v)| v),
        redis::Value::Nil => None,
        other => panic!("KV.GETWITHMETADATA {key}: {other:?}"),
    };
    match md {
        None | Some(redis::Value::Nil) => None,
        Some(v) => Some(serde_json::from_str(&text(&v)).expect("metadata is JSON")),
    }
}

fn ttl(c: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(c).expect("TTL")
}

fn exists(c: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<i64>(c).expect("EXISTS") == 1
}

fn keys(c: &mut redis::Connection, pattern: &str) -> Vec<String> {
    let mut k: Vec<String> = redis::cmd("KEYS").arg(pattern).query(c).expect("KEYS");
    k.sort();
    k
}

#[track_caller]
fn assert_within(what: &str, got: i64, lo: i64, hi: i64) {
    assert!(lo <= got && got <= hi, "{what}: {got} not in {lo}..={hi}");
}

/// Kills and reaps a child process when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Strips ANSI colour sequences and trailing spaces, so tool output compares as text.
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out.lines()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// workerd
// ---------------------------------------------------------------------------------------

/// One HTTP/1.1 request to the Worker; returns status and body. The response is read by its
/// framing (Content-Length or chunked): workerd keeps the connection open a while after it.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to workerd");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: worker.test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let r = http_util::read_framed(&mut s);
    (r.status, String::from_utf8(r.body).expect("UTF-8 body"))
}

fn http_json(port: u16, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, text) = http(port, method, path, body);
    let v =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {status} {text:?} is not JSON: {e}"));
    (status, v)
}

/// The Worker's `/op`: one KV call; Ok(result) or Err(the Error's message).
fn op(port: u16, body: Value) -> Result<Value, String> {
    let (status, v) = http_json(port, "POST", "/op", &body.to_string());
    match status {
        200 => Ok(v["result"].clone()),
        500 => Err(v["error"].as_str().unwrap_or_default().to_string()),
        _ => panic!("/op {body}: {status} {v}"),
    }
}

#[track_caller]
fn op_ok(port: u16, body: Value) -> Value {
    match op(port, body.clone()) {
        Ok(v) => v,
        Err(e) => panic!("Worker op {body} failed: {e}"),
    }
}

#[track_caller]
fn op_err(port: u16, body: Value) -> String {
    match op(port, body.clone()) {
        Ok(v) => panic!("Worker op {body} succeeded ({v}); an error was expected"),
        Err(e) => e,
    }
}

/// workerd serving tests/cloudflare/worker.js, KV bindings SESSIONS and FLAGS at edgekv.
struct Workerd {
    _proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Workerd {
    fn start(bin: &Path, edge: &Edge, sessions: &str, flags: &str) -> Workerd {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = std::fs::read_to_string(cf_dir().join("workerd.capnp.in"))
            .unwrap()
            .replace("@KV_ADDR@", &format!("127.0.0.1:{}", edge.http))
            .replace("@WORKER_ADDR@", &format!("127.0.0.1:{port}"))
            .replace("@SESSIONS_NS@", sessions)
            .replace("@FLAGS_NS@", flags);
        std::fs::write(dir.path().join("config.capnp"), config).unwrap();
        std::fs::copy(cf_dir().join("worker.js"), dir.path().join("worker.js")).unwrap();
        let log = std::fs::File::create(dir.path().join("workerd.log")).unwrap();
        let child = Command::new(bin)
            .args(["serve", "config.capnp"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start workerd");
        let mut proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(dir.path().join("workerd.log")).unwrap_or_default();
            if let Ok(Some(st)) = proc.0.try_wait() {
                panic!("workerd exited ({st}):\n{log}");
            }
            assert!(Instant::now() < deadline, "workerd not listening after 30 s:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Workerd {
            _proc: proc,
            port,
            _dir: dir,
        }
    }
}

#[test]
fn workerd_worker_uses_edgekv_namespaces() {
    let bin = match workerd_bin() {
        Ok(b) => b,
        Err(why) => return skip("workerd", &why),
    };
    let edge = Edge::start();
    let mut c = edge.resp();
    let sessions = ns_create(&mut c, "sessions");
    let flags = ns_create(&mut c, "flags");
    let wd = Workerd::start(&bin, &edge, &sessions, &flags);
    let w = wd.port;

    // Session store: put with expirationTtl and metadata, get as JSON.
    let t0 = now();
    let (st, v) = http_json(w, "PUT", "/session/abc", r#"{"user":"ada","createdAt":1700000000}"#);
    assert_eq!((st, v), (201, json!({"ok": true})));
    let (st, v) = http_json(w, "GET", "/session/abc", "");
    assert_eq!((st, v), (200, json!({"user": "ada", "createdAt": 1700000000})));
    select(&mut c, &sessions);
    assert_eq!(
        kv_get_str(&mut c, "session:abc").as_deref(),
        Some(r#"{"user":"ada","createdAt":1700000000}"#)
    );
    assert_eq!(
        kv_meta(&mut c, "session:abc"),
        Some(json!({"user": "ada", "createdAt": 1700000000}))
    );
    assert_within("TTL of session:abc", ttl(&mut c, "session:abc"), 3590, 3600);
    // The other binding is another namespace.
    select(&mut c, &flags);
    assert!(
        !exists(&mut c, "session:abc"),
        "session:abc leaked into the flags namespace"
    );

    let (st, v) = http_json(w, "GET", "/session/nobody", "");
    assert_eq!((st, v), (404, json!({"error": "no session"})));

    // list with prefix and cursor paging: 8 sessions in pages of at most 3.
    for i in 1..=7 {
        let body = format!(r#"{{"user":"u{i}","createdAt":{i}}}"#);
        let (st, _) = http_json(w, "PUT", &format!("/session/s{i}"), &body);
        assert_eq!(st, 201);
    }
    select(&mut c, &sessions);
    let _: () = redis::cmd("KV.PUT").arg("other:1").arg("x").query(&mut c).unwrap();
    let (st, v) = http_json(w, "GET", "/sessions?limit=3", "");
    assert_eq!(st, 200, "{v}");
    let expected: Vec<String> = std::iter::once("session:abc".to_string())
        .chain((1..=7).map(|i| format!("session:s{i}")))
        .collect();
    assert_eq!(v["names"], json!(expected));
    let pages: Vec<u64> = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(pages.iter().all(|&p| p <= 3) && pages.len() >= 3, "pages {pages:?}");
    // One page by hand: expiration (absolute, from the TTL) and metadata per key.
    let page = op_ok(w, json!({"op": "list", "options": {"prefix": "session:s", "limit": 2}}));
    assert_eq!(page["list_complete"], json!(false), "{page}");
    assert!(page["cursor"].is_string(), "{page}");
    assert_eq!(page["keys"].as_array().unwrap().len(), 2, "{page}");
    let k = &page["keys"][0];
    assert_eq!(k["name"], json!("session:s1"));
    assert_eq!(k["metadata"], json!({"user": "u1", "createdAt": 1}));
    assert_within(
        "expiration listed for session:s1",
        k["expiration"].as_i64().unwrap(),
        t0 + 3600,
        now() + 3600,
    );
    let rest = op_ok(
        w,
        json!({"op": "list", "options": {"prefix": "session:s", "cursor": page["cursor"]}}),
    );
    assert_eq!(rest["list_complete"], json!(true), "{rest}");
    assert!(rest.get("cursor").is_none_or(|c| c.is_null()), "{rest}");
    let names: Vec<&str> = rest["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["session:s3", "session:s4", "session:s5", "session:s6", "session:s7"]
    );

    // delete
    let (st, v) = http_json(w, "DELETE", "/session/s1", "");
    assert_eq!((st, v), (200, json!({"ok": true})));
    assert!(!exists(&mut c, "session:s1"));
    let (st, _) = http_json(w, "GET", "/session/s1", "");
    assert_eq!(st, 404);

    // Feature flags: getWithMetadata of a missing flag, put text with metadata, bulk get.
    let (st, v) = http_json(w, "GET", "/flag/dark-mode", "");
    assert_eq!(
        (st, v),
        (
            200,
            json!({"name": "dark-mode", "enabled": false, "value": null, "metadata": null})
        )
    );
    let (st, _) = http(w, "PUT", "/flag/dark-mode", "on");
    assert_eq!(st, 200);
    let (st, v) = http_json(w, "GET", "/flag/dark-mode", "");
    assert_eq!(
        (st, v),
        (
            200,
            json!({"name": "dark-mode", "enabled": true, "value": "on",
                   "metadata": {"updatedBy": "admin"}})
        )
    );
    select(&mut c, &flags);
    assert_eq!(kv_get_str(&mut c, "flag:dark-mode").as_deref(), Some("on"));
    assert_eq!(ttl(&mut c, "flag:dark-mode"), -1);
    // A flag written over RESP is seen by the Worker, metadata included.
    let _: () = redis::cmd("KV.PUT")
        .arg("flag:beta")
        .arg("off")
        .arg("METADATA")
        .arg(r#"{"owner":"ops"}"#)
        .query(&mut c)
        .unwrap();
    let (_, v) = http_json(w, "GET", "/flag/beta", "");
    assert_eq!(
        v,
        json!({"name": "beta", "enabled": false, "value": "off", "metadata": {"owner": "ops"}})
    );
    // list() without options: `GET /`, no query at all.
    assert_eq!(
        op_ok(w, json!({"op": "list", "ns": "FLAGS"})),
        json!({"keys": [{"name": "flag:beta", "metadata": {"owner": "ops"}},
                        {"name": "flag:dark-mode", "metadata": {"updatedBy": "admin"}}],
               "list_complete": true, "cacheStatus": null})
    );
    let (st, v) = http_json(w, "POST", "/flags", r#"["dark-mode","beta","missing"]"#);
    assert_eq!(
        (st, v),
        (200, json!({"dark-mode": true, "beta": false, "missing": false}))
    );

    // Keys the URL encodings disagree on, values of every kind.
    let exp = 2_000_000_000i64; // workerd refuses expirations at or past 2^31
    op_ok(
        w,
        json!({"op": "put", "key": SPECIAL, "value": "special",
               "options": {"metadata": {"m": 1}, "expiration": exp}}),
    );
    select(&mut c, &sessions);
    assert_eq!(kv_get_str(&mut c, SPECIAL).as_deref(), Some("special"));
    assert_eq!(kv_meta(&mut c, SPECIAL), Some(json!({"m": 1})));
    let left = exp - now();
    assert_within("TTL of the special key", ttl(&mut c, SPECIAL), left - 5, left);
    assert_eq!(op_ok(w, json!({"op": "get", "key": SPECIAL})), json!("special"));
    assert_eq!(
        op_ok(w, json!({"op": "getWithMetadata", "key": SPECIAL})),
        json!({"value": "special", "metadata": {"m": 1}, "cacheStatus": null})
    );
    let listed = op_ok(w, json!({"op": "list", "options": {"prefix": SPECIAL_PREFIX}}));
    assert_eq!(
        listed,
        json!({"keys": [{"name": SPECIAL, "expiration": exp, "metadata": {"m": 1}}],
               "list_complete": true, "cacheStatus": null})
    );
    op_ok(w, json!({"op": "delete", "key": SPECIAL}));
    assert!(!exists(&mut c, SPECIAL), "delete of the special key");

    op_ok(w, json!({"op": "put", "key": UNICODE, "value": "ünï"}));
    assert_eq!(kv_get_str(&mut c, UNICODE).as_deref(), Some("ünï"));
    assert_eq!(op_ok(w, json!({"op": "get", "key": UNICODE})), json!("ünï"));
    assert_eq!(
        op_ok(w, json!({"op": "list", "options": {"prefix": "ключ"}}))["keys"],
        json!([{"name": UNICODE}])
    );
    op_ok(w, json!({"op": "delete", "key": UNICODE}));
    assert!(!exists(&mut c, UNICODE));

    // Binary (ArrayBuffer, no content-type), streamed (chunked) and empty values.
    op_ok(
        w,
        json!({"op": "put", "key": "bin", "value": "AP8BAg==", "base64": true}),
    );
    assert_eq!(kv_get(&mut c, "bin"), Some(vec![0, 255, 1, 2]));
    assert_eq!(
        op_ok(
            w,
            json!({"op": "get", "key": "bin", "options": {"type": "arrayBuffer"}})
        ),
        json!("AP8BAg==")
    );
    op_ok(
        w,
        json!({"op": "putStream", "key": "streamed", "parts": ["hello ", "chunked ", "world"]}),
    );
    assert_eq!(kv_get_str(&mut c, "streamed").as_deref(), Some("hello chunked world"));
    op_ok(w, json!({"op": "put", "key": "empty", "value": ""}));
    assert_eq!(kv_get(&mut c, "empty"), Some(vec![]));
    assert_eq!(op_ok(w, json!({"op": "get", "key": "empty"})), json!(""));

    // get with cacheTtl, as json; metadata that is a JSON string; a put without metadata
    // clears it.
    assert_eq!(
        op_ok(
            w,
            json!({"op": "get", "key": "session:s2", "options": {"type": "json", "cacheTtl": 120}})
        ),
        json!({"user": "u2", "createdAt": 2})
    );
    op_ok(
        w,
        json!({"op": "put", "key": "mdstr", "value": "v", "options": {"metadata": "just a string"}}),
    );
    assert_eq!(kv_meta(&mut c, "mdstr"), Some(json!("just a string")));
    assert_eq!(
        op_ok(w, json!({"op": "getWithMetadata", "key": "mdstr"}))["metadata"],
        json!("just a string")
    );
    assert_eq!(
        op_ok(w, json!({"op": "list", "options": {"prefix": "mdstr"}}))["keys"],
        json!([{"name": "mdstr", "metadata": "just a string"}])
    );
    op_ok(w, json!({"op": "put", "key": "mdstr", "value": "w"}));
    assert_eq!(kv_meta(&mut c, "mdstr"), None);
    assert_eq!(
        op_ok(w, json!({"op": "getWithMetadata", "key": "mdstr"})),
        json!({"value": "w", "metadata": null, "cacheStatus": null})
    );

    // Metadata beyond ASCII (a raw UTF-8 CF-KV-Metadata header both ways).
    let md = json!({"who": "ünï 😀", "q": "\"quoted\""});
    op_ok(
        w,
        json!({"op": "put", "key": "utf8md", "value": "v", "options": {"metadata": md}}),
    );
    assert_eq!(kv_meta(&mut c, "utf8md"), Some(md.clone()));
    assert_eq!(
        op_ok(w, json!({"op": "getWithMetadata", "key": "utf8md"}))["metadata"],
        md
    );
    assert_eq!(
        op_ok(w, json!({"op": "list", "options": {"prefix": "utf8md"}}))["keys"],
        json!([{"name": "utf8md", "metadata": md}])
    );

    // A value of several MiB, both ways.
    let big: String = (0..3 * 1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    op_ok(w, json!({"op": "put", "key": "big", "value": big}));
    assert_eq!(kv_get_str(&mut c, "big").as_deref(), Some(big.as_str()));
    assert_eq!(op_ok(w, json!({"op": "get", "key": "big"})), json!(big));
    op_ok(w, json!({"op": "delete", "key": "big"}));

    // Bulk get: text, json, with metadata; missing keys are null.
    assert_eq!(
        op_ok(
            w,
            json!({"op": "bulkGet", "keys": ["session:s2", "missing", "streamed"]})
        ),
        json!({"session:s2": r#"{"user":"u2","createdAt":2}"#, "missing": null,
               "streamed": "hello chunked world"})
    );
    assert_eq!(
        op_ok(
            w,
            json!({"op": "bulkGet", "keys": ["session:s2", "session:s3"],
                   "options": {"type": "json", "cacheTtl": 60}})
        ),
        json!({"session:s2": {"user": "u2", "createdAt": 2},
               "session:s3": {"user": "u3", "createdAt": 3}})
    );
    assert_eq!(
        op_ok(
            w,
            json!({"op": "bulkGetWithMetadata", "keys": ["session:s2", "empty", "missing"]})
        ),
        json!({"session:s2": {"value": r#"{"user":"u2","createdAt":2}"#,
                              "metadata": {"user": "u2", "createdAt": 2}},
               "empty": {"value": "", "metadata": null},
               "missing": null})
    );

    // A key expired (by a Redis command, below KV's 60 s minimum) is gone for the Worker at
    // once, whatever the reclaimer did.
    let _: () = redis::cmd("KV.PUT").arg("short").arg("v").query(&mut c).unwrap();
    let _: i64 = redis::cmd("PEXPIRE").arg("short").arg(100).query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(op_ok(w, json!({"op": "get", "key": "short"})), Value::Null);
    assert_eq!(
        op_ok(w, json!({"op": "list", "options": {"prefix": "short"}}))["keys"],
        json!([])
    );

    // Errors reach the Worker as workerd words them: `KV <op> failed: <status> <reason>`.
    assert_eq!(
        op_err(
            w,
            json!({"op": "put", "key": "k", "value": "v", "options": {"expirationTtl": 30}})
        ),
        "KV PUT failed: 400 Invalid expiration_ttl of 30. Expiration TTL must be at least 60."
    );
    let soon = now() + 10;
    let e = op_err(
        w,
        json!({"op": "put", "key": "k", "value": "v", "options": {"expiration": soon}}),
    );
    assert_eq!(
        e,
        format!(
            "KV PUT failed: 400 Invalid expiration of {soon}. \
             Expiration times must be at least 60 seconds in the future."
        )
    );
    let e = op_err(
        w,
        json!({"op": "put", "key": "k", "value": "v",
               "options": {"expirationTtl": 300, "expiration": exp}}),
    );
    assert!(e.starts_with("KV PUT failed: 400 "), "both expirations: {e}");
    let big = "x".repeat(1017); // {"p":"…"} is 1025 bytes
    assert_eq!(
        op_err(
            w,
            json!({"op": "put", "key": "k", "value": "v", "options": {"metadata": {"p": big}}})
        ),
        "KV PUT failed: 413 Metadata length of 1025 exceeds limit of 1024."
    );
    assert!(!exists(&mut c, "k"), "a refused put wrote the key");
    assert_eq!(
        op_err(w, json!({"op": "list", "options": {"limit": 1001}})),
        "KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an integer less than 1000."
    );
    let many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    assert_eq!(
        op_err(w, json!({"op": "bulkGet", "keys": many})),
        "KV GET_BULK failed: 400 You can request a maximum of 100 keys"
    );
    assert_eq!(
        op_err(
            w,
            json!({"op": "bulkGet", "keys": ["streamed"], "options": {"type": "json"}})
        ),
        "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value"
    );
    // workerd's own checks, for completeness (no request reaches edgekv).
    assert_eq!(
        op_err(w, json!({"op": "put", "key": "", "value": "v"})),
        "Key name cannot be empty."
    );
    assert_eq!(
        op_err(w, json!({"op": "put", "key": "x".repeat(513), "value": "v"})),
        "KV PUT failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
    );
}

// ---------------------------------------------------------------------------------------
// wrangler
// ---------------------------------------------------------------------------------------

struct Wrangler {
    script: PathBuf,
    base_url: String,
    home: tempfile::TempDir,
}

struct Run {
    ok: bool,
    stdout: Vec<u8>,
    out: String,
    err: String,
}

impl Wrangler {
    fn new(script: PathBuf, edge: &Edge) -> Wrangler {
        let home = tempfile::tempdir().unwrap();
        // update-check's cache, fresh and naming this version as the latest: a failing command
        // then does not ask the npm registry whether a newer wrangler exists.
        let uc = home.path().join("tmp/update-check");
        std::fs::create_dir_all(&uc).unwrap();
        std::fs::write(
            uc.join("wrangler-latest.json"),
            r#"{"latest":"4.86.0","lastUpdate":9999999999999}"#,
        )
        .unwrap();
        std::fs::create_dir_all(home.path().join("work")).unwrap();
        Wrangler {
            script,
            base_url: edge.api_base(),
            home,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join("work").join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("node");
        cmd.arg(&self.script)
            .args(args)
            .current_dir(self.home.path().join("work"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("TMPDIR", self.home.path().join("tmp"))
            .env("CLOUDFLARE_API_BASE_URL", &self.base_url)
            .env("CLOUDFLARE_API_TOKEN", "edgekv-test-token")
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            // No telemetry, no error reports, no banner (and so no update check), no colours.
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_SEND_ERROR_REPORTS", "false")
            .env("WRANGLER_HIDE_BANNER", "true")
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            // Should update-check's cache be ignored, its registry is a closed local port.
            .env("npm_registry", "http://127.0.0.1:9/")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        let o = self.command(args).output().expect("run wrangler");
        Self::result(o)
    }

    fn result(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            out: plain(&String::from_utf8_lossy(&o.stdout)),
            err: plain(&String::from_utf8_lossy(&o.stderr)),
            stdout: o.stdout,
        }
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.ok, "wrangler {args:?} failed\nstdout:\n{}\nstderr:\n{}", r.out, r.err);
        r
    }

    #[track_caller]
    fn fails(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(
            !r.ok,
            "wrangler {args:?} succeeded; a failure was expected\nstdout:\n{}",
            r.out
        );
        r
    }
}

/// The `id` in `kv namespace create`'s config snippet.
fn snippet_id(out: &str) -> String {
    let at = out.find("\"id\": \"").expect("id in the snippet") + 7;
    out[at..at + 32].to_string()
}

#[test]
fn wrangler_kv_commands() {
    let script = match wrangler_bin() {
        Ok(b) => b,
        Err(why) => return skip("wrangler", &why),
    };
    let edge = Edge::start();
    let mut c = edge.resp();
    let wr = Wrangler::new(script, &edge);

    // kv namespace create / list / rename / delete
    let r = wr.ok(&["kv", "namespace", "create", "edgekv-test"]);
    let id = snippet_id(&r.out);
    assert_eq!(
        r.out,
        format!(
            "Resource location: remote\n\n\
             🌀 Creating namespace with title \"edgekv-test\"\n\
             ✨ Success!\n\
             To access your new KV Namespace in your Worker, add the following snippet to your configuration file:\n\
             {{\n  \"kv_namespaces\": [\n    {{\n      \"binding\": \"edgekv_test\",\n      \"id\": \"{id}\"\n    }}\n  ]\n}}"
        )
    );
    assert_eq!(ns_get(&mut c, "edgekv-test"), Ok(id.clone()));

    let r = wr.fails(&["kv", "namespace", "create", "edgekv-test"]);
    assert!(
        r.err
            .contains("A KV namespace with the title \"edgekv-test\" already exists."),
        "duplicate create:\n{}",
        r.err
    );

    let other = snippet_id(&wr.ok(&["kv", "namespace", "create", "other"]).out);
    let r = wr.ok(&["kv", "namespace", "list"]);
    let list: Value = serde_json::from_str(&r.out).expect("namespace list is JSON");
    let pairs: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["title"].as_str().unwrap().to_string(),
                n["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("edgekv-test".to_string(), id.clone()),
            ("other".to_string(), other.clone())
        ]
    );

    let r = wr.ok(&["kv", "namespace", "rename", "other", "--new-name", "renamed"]);
    assert_eq!(
        r.out,
        format!(
            "Resource location: remote\n\n\
             Renaming KV namespace {other} to \"renamed\".\n\
             ✨ Successfully renamed namespace to \"renamed\""
        )
    );
    assert_eq!(ns_get(&mut c, "renamed"), Ok(other.clone()));
    assert!(ns_get(&mut c, "other").is_err(), "the old title still resolves");

    let r = wr.ok(&["kv", "namespace", "delete", "--namespace-id", &other]);
    assert!(
        r.out.ends_with(&format!(
            "Deleting KV namespace id: \"{other}\".\nDeleted KV namespace id: \"{other}\"."
        )),
        "namespace delete:\n{}",
        r.out
    );
    assert!(ns_get(&mut c, &other).is_err(), "the namespace is still there");
    let r = wr.fails(&["kv", "namespace", "delete", "--namespace-id", &other]);
    assert!(
        r.err.contains(&format!(
            "A request to the Cloudflare API (/accounts/{ACCOUNT}/storage/kv/namespaces/{other}) failed."
        )),
        "delete of a deleted namespace:\n{}",
        r.err
    );

    // kv key put / get / list / delete --remote
    let ns = ["--namespace-id", id.as_str(), "--remote"];
    let key = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(ns.iter().map(|s| s.to_string()));
        v
    };
    let run_ok = |args: &[&str]| -> Run {
        let a = key(args);
        wr.ok(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let run_fails = |args: &[&str]| -> Run {
        let a = key(args);
        wr.fails(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let r = run_ok(&["kv", "key", "put", "greeting", "hello"]);
    assert_eq!(
        r.out,
        format!(
            "Resource location: remote\n\nWriting the value \"hello\" to key \"greeting\" on namespace id: \"{id}\"."
        )
    );
    select(&mut c, &id);
    assert_eq!(kv_get_str(&mut c, "greeting").as_deref(), Some("hello"));
    assert_eq!(ttl(&mut c, "greeting"), -1);
    assert_eq!(kv_meta(&mut c, "greeting"), None);

    let t0 = now();
    let r = run_ok(&[
        "kv",
        "key",
        "put",
        "session",
        "v a l",
        "--ttl",
        "120",
        "--metadata",
        r#"{"a":1,"b":"x"}"#,
    ]);
    assert!(r.out.ends_with(r#"with metadata "{"a":1,"b":"x"}"."#), "{}", r.out);
    assert_eq!(kv_get_str(&mut c, "session").as_deref(), Some("v a l"));
    assert_eq!(kv_meta(&mut c, "session"), Some(json!({"a": 1, "b": "x"})));
    assert_within("TTL after --ttl 120", ttl(&mut c, "session"), 115, 120);

    let exp = now() + 7200;
    run_ok(&["kv", "key", "put", "expiring", "e", "--expiration", &exp.to_string()]);
    assert_within(
        "TTL after --expiration",
        ttl(&mut c, "expiring"),
        7200 - 10,
        exp - now(),
    );

    run_ok(&["kv", "key", "put", SPECIAL, "special"]);
    run_ok(&["kv", "key", "put", UNICODE, "ünï"]);
    assert_eq!(kv_get_str(&mut c, SPECIAL).as_deref(), Some("special"));
    assert_eq!(kv_get_str(&mut c, UNICODE).as_deref(), Some("ünï"));

    let binary: Vec<u8> = (0..=255u8).chain([0, 13, 10]).collect();
    std::fs::write(wr.path("value.bin"), &binary).unwrap();
    run_ok(&["kv", "key", "put", "bin", "--path", "value.bin"]);
    assert_eq!(kv_get(&mut c, "bin").as_deref(), Some(&binary[..]));
    run_ok(&[
        "kv",
        "key",
        "put",
        "bin-md",
        "--path",
        "value.bin",
        "--metadata",
        r#"{"type":"blob"}"#,
    ]);
    assert_eq!(kv_get(&mut c, "bin-md").as_deref(), Some(&binary[..]));
    assert_eq!(kv_meta(&mut c, "bin-md"), Some(json!({"type": "blob"})));

    // 5 MiB of every byte value through --path, both ways.
    let big: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(wr.path("big.bin"), &big).unwrap();
    run_ok(&["kv", "key", "put", "big", "--path", "big.bin"]);
    assert!(
        kv_get(&mut c, "big").as_deref() == Some(&big[..]),
        "5 MiB value differs"
    );
    assert!(
        run_ok(&["kv", "key", "get", "big"]).stdout == big,
        "5 MiB value read back differs"
    );
    run_ok(&["kv", "key", "delete", "big"]);

    // The API's refusals reach the user with their Workers KV text.
    let r = run_fails(&["kv", "key", "put", "short", "v", "--ttl", "30"]);
    assert!(
        r.err
            .contains("Invalid expiration_ttl of 30. Expiration TTL must be at least 60."),
        "--ttl 30:\n{}",
        r.err
    );
    let long = "k".repeat(513);
    let r = run_fails(&["kv", "key", "put", &long, "v"]);
    assert!(
        r.err
            .contains("UTF-8 encoded length of 513 exceeds key length limit of 512."),
        "513-byte key:\n{}",
        r.err
    );
    assert!(!exists(&mut c, "short"));

    assert_eq!(run_ok(&["kv", "key", "get", "greeting"]).stdout, b"hello");
    assert_eq!(run_ok(&["kv", "key", "get", "session", "--text"]).stdout, b"v a l\n");
    assert_eq!(run_ok(&["kv", "key", "get", SPECIAL]).stdout, b"special");
    assert_eq!(run_ok(&["kv", "key", "get", UNICODE]).stdout, "ünï".as_bytes());
    assert_eq!(run_ok(&["kv", "key", "get", "bin"]).stdout, binary);
    let r = run_fails(&["kv", "key", "get", "missing"]);
    assert!(
        r.err.contains("/values/missing - 404: "),
        "get of a missing key:\n{}",
        r.err
    );

    let t1 = now();
    let r = run_ok(&["kv", "key", "list"]);
    let listed: Value = serde_json::from_str(&r.out).expect("key list is JSON");
    let mut want = vec![
        json!({"name": SPECIAL}),
        json!({"name": "bin"}),
        json!({"name": "bin-md", "metadata": {"type": "blob"}}),
        json!({"name": "expiring", "expiration": exp}),
        json!({"name": "greeting"}),
        json!({"name": "session", "expiration": "?", "metadata": {"a": 1, "b": "x"}}),
        json!({"name": UNICODE}),
    ];
    // The TTL's absolute expiration: between the put's start and the list.
    let got_session_exp = listed[5]["expiration"].as_i64().unwrap_or(0);
    assert_within("listed expiration of session", got_session_exp, t0 + 120, t1 + 120);
    want[5]["expiration"] = json!(got_session_exp);
    assert_eq!(listed, Value::Array(want));

    let r = run_ok(&["kv", "key", "list", "--prefix", SPECIAL_PREFIX]);
    assert_eq!(
        serde_json::from_str::<Value>(&r.out).unwrap(),
        json!([{"name": SPECIAL}])
    );

    let r = run_ok(&["kv", "key", "delete", SPECIAL]);
    assert_eq!(
        r.out,
        format!("Resource location: remote\n\nDeleting the key \"{SPECIAL}\" on namespace id: \"{id}\".")
    );
    assert!(!exists(&mut c, SPECIAL));
    run_ok(&["kv", "key", "delete", UNICODE]);
    assert!(!exists(&mut c, UNICODE));

    // kv bulk put of 5,000 keys (five requests of 1,000), bulk get, bulk delete.
    let exp2 = now() + 7200;
    let items: Vec<Value> = (0..5000)
        .map(|i| {
            let mut item = json!({"key": format!("bulk:{i:05}"), "value": format!("value-{i}")});
            if i % 1000 == 0 {
                item["metadata"] = json!({"batch": i / 1000});
            }
            match i {
                1 => item["expiration_ttl"] = json!(3600),
                2 => {
                    item["value"] = json!("aGVsbG8gd29ybGQ=");
                    item["base64"] = json!(true);
                }
                3 => item["expiration"] = json!(exp2),
                _ => {}
            }
            item
        })
        .collect();
    std::fs::write(wr.path("bulk.json"), Value::Array(items).to_string()).unwrap();
    let r = run_ok(&["kv", "bulk", "put", "bulk.json"]);
    assert_eq!(
        r.out,
        "Resource location: remote\n\n\
         Uploaded 0% (0 out of 5,000)\n\
         Uploaded 20% (1,000 out of 5,000)\n\
         Uploaded 40% (2,000 out of 5,000)\n\
         Uploaded 60% (3,000 out of 5,000)\n\
         Uploaded 80% (4,000 out of 5,000)\n\
         Uploaded 100% (5,000 out of 5,000)\n\
         Success!"
    );
    assert_eq!(keys(&mut c, "bulk:*").len(), 5000);
    assert_eq!(kv_get_str(&mut c, "bulk:00000").as_deref(), Some("value-0"));
    assert_eq!(kv_meta(&mut c, "bulk:03000"), Some(json!({"batch": 3})));
    assert_eq!(kv_meta(&mut c, "bulk:03001"), None);
    assert_within("TTL of bulk:00001", ttl(&mut c, "bulk:00001"), 3590, 3600);
    assert_eq!(kv_get_str(&mut c, "bulk:00002").as_deref(), Some("hello world"));
    assert_within("TTL of bulk:00003", ttl(&mut c, "bulk:00003"), 7200 - 15, exp2 - now());
    assert_eq!(ttl(&mut c, "bulk:04999"), -1);

    // key list follows the REST cursor through 5 pages of 1,000.
    let r = run_ok(&["kv", "key", "list", "--prefix", "bulk:"]);
    let listed: Value = serde_json::from_str(&r.out).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..5000).map(|i| format!("bulk:{i:05}")).collect();
    assert_eq!(names, want);
    assert_eq!(listed[4000], json!({"name": "bulk:04000", "metadata": {"batch": 4}}));

    let get_keys: Vec<Value> = vec![
        json!("bulk:00000"),
        json!("bulk:00002"),
        json!({"name": "bulk:04999"}),
        json!("missing"),
    ];
    std::fs::write(wr.path("get.json"), Value::Array(get_keys).to_string()).unwrap();
    let r = run_ok(&["kv", "bulk", "get", "get.json"]);
    let (values, tail) = r.out.rsplit_once("\n\n").expect("values, then Success!");
    assert_eq!(tail, "Success!");
    assert_eq!(
        serde_json::from_str::<Value>(values).unwrap(),
        json!({"bulk:00000": "value-0", "bulk:00002": "hello world",
               "bulk:04999": "value-4999", "missing": null})
    );

    let del: Vec<Value> = (0..5000)
        .map(|i| {
            if i % 2 == 0 {
                json!(format!("bulk:{i:05}"))
            } else {
                json!({"name": format!("bulk:{i:05}")})
            }
        })
        .collect();
    std::fs::write(wr.path("delete.json"), Value::Array(del).to_string()).unwrap();
    let r = run_ok(&["kv", "bulk", "delete", "delete.json", "--force"]);
    assert_eq!(
        r.out,
        "Resource location: remote\n\n\
         Deleted 0% (0 out of 5,000)\n\
         Deleted 20% (1,000 out of 5,000)\n\
         Deleted 40% (2,000 out of 5,000)\n\
         Deleted 60% (3,000 out of 5,000)\n\
         Deleted 80% (4,000 out of 5,000)\n\
         Deleted 100% (5,000 out of 5,000)\n\
         Success!"
    );
    assert_eq!(keys(&mut c, "bulk:*"), Vec::<String>::new());
    assert_eq!(keys(&mut c, "*"), ["bin", "bin-md", "expiring", "greeting", "session"]);
}

/// wrangler contacts nothing but CLOUDFLARE_API_BASE_URL, even when a command fails (which
/// makes it look for a newer version of itself). Checked with strace where it is installed.
#[test]
fn wrangler_contacts_only_the_api_base_url() {
    let script = match wrangler_bin() {
        Ok(b) => b,
        Err(why) => return skip("wrangler", &why),
    };
    if Command::new("strace").arg("-V").output().is_err() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: strace not installed (wrangler's outbound connections not checked)"
        );
        return;
    }
    let edge = Edge::start();
    let wr = Wrangler::new(script.clone(), &edge);
    let trace = wr.home.path().join("connect.trace");
    let cmd = wr.command(&[
        "kv",
        "key",
        "get",
        "missing",
        "--namespace-id",
        "0123456789abcdef0123456789abcdef",
        "--remote",
    ]);
    let node = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut st = Command::new("strace");
    st.args(["-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg(node)
        .args(args);
    st.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            st.env(k, v);
        }
    }
    st.current_dir(wr.home.path().join("work"));
    let o = st.output().expect("run strace");
    assert!(!o.status.success(), "the get of a missing key succeeded");
    let log = std::fs::read_to_string(&trace).unwrap();
    let inet: Vec<&str> = log.lines().filter(|l| l.contains("AF_INET")).collect();
    let api = format!("sin_port=htons({}), sin_addr=inet_addr(\"127.0.0.1\")", edge.http);
    assert!(
        inet.iter().any(|l| l.contains(&api)),
        "no connection to edgekv's HTTP port:\n{log}"
    );
    let others: Vec<&&str> = inet.iter().filter(|l| !l.contains(&api)).collect();
    assert!(
        others.is_empty(),
        "wrangler connected elsewhere:\n{}",
        others.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Python SDK
// ---------------------------------------------------------------------------------------

#[test]
fn python_sdk_kv() {
    let python = match python_bin() {
        Ok(p) => p,
        Err(why) => return skip("python cloudflare SDK", &why),
    };
    let edge = Edge::start();
    let mut c = edge.resp();
    let o = Command::new(&python)
        .arg(cf_dir().join("sdk_client.py"))
        .arg(edge.api_base())
        .arg(ACCOUNT)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null())
        .output()
        .expect("run sdk_client.py");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let mut steps = std::collections::BTreeMap::new();
    let mut nsid = String::new();
    let mut exp = 0i64;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("STEP ") {
            let (name, v) = rest.split_once(' ').unwrap();
            steps.insert(name.to_string(), serde_json::from_str::<Value>(v).unwrap());
        } else if let Some(id) = line.strip_prefix("NSID ") {
            nsid = id.to_string();
        } else if let Some(e) = line.strip_prefix("EXP ") {
            exp = e.parse().unwrap();
        }
    }
    let step = |name: &str| -> Value {
        steps
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("sdk_client.py did not reach step {name:?}\nstdout:\n{out}\nstderr:\n{err}"))
    };
    let check = |name: &str, want: Value| {
        assert_eq!(step(name), want, "step {name}");
    };

    check("create", json!({"title": "py-sessions", "id_len": 32}));
    assert_eq!(ns_get(&mut c, "py-sessions"), Ok(nsid.clone()));
    check(
        "create_duplicate",
        json!({"status": 400, "codes": [10014], "success": false}),
    );
    check("list_titles", json!(["py-sessions", "py-tmp"]));
    check("get", json!("py-tmp"));
    check("rename", json!("py-tmp-renamed"));
    check("list_after_rename", json!(["py-sessions", "py-tmp-renamed"]));
    check("list_after_delete", json!(["py-sessions"]));
    check("list_paged", json!({"count": 26, "many": true}));
    check("list_after_many", json!(["py-sessions"]));
    let missing = step("delete_missing");
    assert_eq!(missing["status"], json!(404), "{missing}");
    assert_eq!(missing["success"], json!(false), "{missing}");

    let short = step("ttl_too_short");
    assert_eq!(
        (&short["status"], &short["success"], &short["messages"]),
        (
            &json!(400),
            &json!(false),
            &json!(["Invalid expiration_ttl of 30. Expiration TTL must be at least 60."])
        ),
        "{short}"
    );
    check("big", json!({"equal": true, "metadata": {"size": 4 * 1024 * 1024}}));
    check(
        "get_sess",
        json!({"value": r#"{"user":"ada"}"#, "has_expiration_header": true}),
    );
    check("get_exp_header", json!(true));
    check("get_special", json!("special"));
    check("get_unicode", json!("ünïcödé"));
    check("get_bin", json!("00ff0162696e"));
    check(
        "get_missing",
        json!({"status": 404, "codes": [10009], "success": false}),
    );
    check("metadata_sess", json!({"user": "ada", "plan": "pro"}));
    check("metadata_special", json!({"k": 1}));
    check(
        "bulk_update",
        json!({"successful_key_count": 2502, "unsuccessful_keys": []}),
    );
    check(
        "list_first_page",
        json!({"count": 1000, "first": "flag:0000", "last": "flag:0999", "cursor_present": true}),
    );
    check(
        "list_all",
        json!({"count": 2500, "sorted_unique": true, "first": "flag:0000", "last": "flag:2499",
               "metadata": {"flag:0000": {"i": 0}, "flag:0500": {"i": 500},
                            "flag:1000": {"i": 1000}, "flag:1500": {"i": 1500},
                            "flag:2000": {"i": 2000}},
               "expiring": ["flag:0007"]}),
    );
    check("list_default_limit", json!(2500));
    check("list_special", json!([SPECIAL]));
    check("list_unicode", json!([UNICODE]));
    check(
        "bulk_get",
        json!({"flag:0001": "v1", "flag:2499": "v2499", "missing": null,
               SPECIAL: "special", "b64": "hello world"}),
    );
    check(
        "bulk_get_json",
        json!({"cfg": {"theme": "dark", "n": 3}, "missing": null}),
    );
    check(
        "bulk_get_metadata",
        json!({"flag:0500": {"value": "v500", "metadata": {"i": 500}},
               "flag:0501": {"value": "v501", "metadata": null},
               "missing": null}),
    );
    check(
        "bulk_delete",
        json!({"successful_key_count": 2501, "unsuccessful_keys": []}),
    );
    check("remaining", json!([SPECIAL, "b64", "cfg", "exp", "sess:1"]));
    assert!(
        out.lines().any(|l| l == "DONE") && o.status.success(),
        "sdk_client.py failed ({})\nstdout:\n{out}\nstderr:\n{err}",
        o.status
    );

    // The state it left, over RESP.
    select(&mut c, &nsid);
    let mut left = vec!["b64", "cfg", "exp", "sess:1", SPECIAL];
    left.sort();
    assert_eq!(keys(&mut c, "*"), left);
    assert_eq!(kv_get_str(&mut c, "sess:1").as_deref(), Some(r#"{"user":"ada"}"#));
    assert_eq!(kv_meta(&mut c, "sess:1"), Some(json!({"user": "ada", "plan": "pro"})));
    assert_within("TTL of sess:1", ttl(&mut c, "sess:1"), 540, 600);
    assert_within("TTL of exp", ttl(&mut c, "exp"), 7200 - 120, exp - now());
    assert_eq!(kv_get_str(&mut c, SPECIAL).as_deref(), Some("special"));
    assert_eq!(kv_get_str(&mut c, "b64").as_deref(), Some("hello world"));
    assert_eq!(ttl(&mut c, "b64"), -1);
}
