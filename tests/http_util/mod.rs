//! HTTP test helpers for the HTTP surfaces: the server started with an HTTP listener, and a
//! raw HTTP/1.1 client over `TcpStream`.
//!
//! A raw client rather than an HTTP crate: the tests need the exact request targets the real
//! tools send (`+`, `:`, `&`, `%2F` unnormalised in the path), chunked bodies, bodies sent
//! while the answer is read, clients bound to another loopback address, and the reason phrase
//! of the status line (workerd shows only that) — all easiest to control at the byte level.
#![allow(dead_code)]

use crate::common::connect_from;
use crate::common::Server;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Keys whose list entries take every shape a page can hold: metadata that is not in
/// canonical form (spaces, an exponent, `-0`, an integer past u64, `\u` and `\/` escapes, a
/// repeated member), unicode, nested JSON, control bytes, expiration with and without
/// metadata, neither. Written over RESP, so the metadata is stored exactly as given.
pub const LIST_SHAPES: &[(&str, Option<&str>, bool)] = &[
    (
        "s01",
        Some(r#"{ "b" : 1 , "a" : [ 1.0e3, -0, 123456789012345678901234, "\u00e9\/x" ] , "b": {"n":null} }"#),
        false,
    ),
    ("s02", Some(r#""ключ ü 😀""#), true),
    (
        "s03",
        Some(r#"{"nested":{"deep":[true,false,null,{"x":"\"q\"\n\\","y":[]}],"e":{}}}"#),
        false,
    ),
    ("s04", None, true),
    ("s05", Some("123"), true),
    ("s06", Some(r#""ctrl\u0001\u001f\u007f\t""#), false),
    (
        "s07",
        Some(
            r#"{"f":0.1,"g":1e-7,"h":-9223372036854775808,"i":18446744073709551615,"j":18446744073709551616,"k":1.5E+300}"#,
        ),
        false,
    ),
    ("s08", None, false),
    ("s09", Some("\t[ ]\n"), false),
    ("s10", Some(r#"{"😀":"\ud83d\ude00","":""}"#), true),
    ("s11", Some("false"), false),
    ("s12", Some("null"), true),
];

/// Writes every `LIST_SHAPES` key (value "v") in namespace `ns` over RESP.
pub fn put_list_shapes(s: &Server, ns: &str) {
    let mut c = s.raw();
    c.expect(&["SELECT", ns], "+OK\r\n");
    for (key, meta, expires) in LIST_SHAPES {
        let mut argv = vec!["KV.PUT", key, "v"];
        if let Some(m) = meta {
            argv.extend(["METADATA", m]);
        }
        if *expires {
            argv.extend(["EXPIRATION", "4102444800"]);
        }
        c.expect(&argv, "+OK\r\n");
    }
}

/// A server with an HTTP listener; `args` are extra `--name value` arguments.
pub fn start(args: &[&str]) -> (Server, Http) {
    let (s, port) = Server::start_on_free_port("--http-port", args);
    (s, Http { port, src: None })
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone, Copy)]
pub struct Http {
    pub port: u16,
    /// Connect from this loopback address instead of 127.0.0.1.
    pub src: Option<[u8; 4]>,
}

/// How the request body is sent.
pub enum Body<'a> {
    None,
    /// With `Content-Length`.
    Bytes(&'a [u8]),
    /// `Transfer-Encoding: chunked`, in chunks of this size.
    Chunked(&'a [u8], usize),
}

impl Http {
    pub fn from(self, src: [u8; 4]) -> Http {
        Http { src: Some(src), ..self }
    }

    fn connect(&self) -> TcpStream {
        let s = match self.src {
            None => TcpStream::connect(("127.0.0.1", self.port)).expect("connect"),
            Some(src) => connect_from(src, self.port),
        };
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    pub fn get(&self, target: &str) -> Resp {
        self.send("GET", target, &[], Body::None)
    }

    /// One request on its own connection (`Connection: close`); the body is written by
    /// another thread while the answer is read, so an early answer is never lost.
    pub fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: Body) -> Resp {
        let mut s = self.connect();
        let mut head = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let payload: Vec<u8> = match body {
            Body::None => Vec::new(),
            Body::Bytes(b) => {
                if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
                    head.push_str(&format!("Content-Length: {}\r\n", b.len()));
                }
                b.to_vec()
            }
            Body::Chunked(b, size) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                let mut out = Vec::new();
                for c in b.chunks(size.max(1)) {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                out
            }
        };
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            // The server may answer (and close) before it has read everything.
            let _ = w.write_all(&payload);
        });
        let mut raw = Vec::new();
        let r = s.read_to_end(&mut raw);
        let _ = writer.join();
        if raw.is_empty() {
            panic!("no answer to {method} {target}: {r:?}");
        }
        parse(&raw)
    }

    /// A request with a JSON body.
    pub fn json(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
        let b = body.to_string();
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        self.send(method, target, &h, Body::Bytes(b.as_bytes()))
    }
}

/// Requests sent one after another on one kept-alive connection (each a full request,
/// bytes as given; the last should say `Connection: close`); returns the answers read until
/// the server closed the connection.
pub fn pipelined(port: u16, requests: Vec<Vec<u8>>) -> Vec<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for r in requests {
            if w.write_all(&r).is_err() {
                return;
            }
        }
    });
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let _ = writer.join();
    let mut out = Vec::new();
    let mut rest = &raw[..];
    while !rest.is_empty() {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("header end") + 4;
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let len: usize = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("content-length:"))
            .expect("content-length")
            .trim()
            .parse()
            .unwrap();
        out.push(parse(&rest[..end + len]));
        rest = &rest[end + len..];
    }
    out
}

fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    parts.next();
    let status: u16 = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest).expect("a complete chunked body")
    } else {
        rest.to_vec()
    };
    if let Some((_, n)) = headers.iter().find(|(k, _)| k == "content-length") {
        assert_eq!(body.len(), n.parse::<usize>().unwrap(), "body length");
    }
    Resp {
        status,
        reason,
        headers,
        body,
    }
}

/// A complete chunked body, decoded; None while it is incomplete.
pub fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).split(';').next().unwrap().trim(), 16)
            .expect("hex chunk size");
        if size == 0 {
            return Some(out);
        }
        if b.len() < eol + 4 + size {
            return None;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
}

/// Reads one response from `s` by its framing (Content-Length or chunked; else until the
/// peer closes), for servers that keep the connection open after it (workerd).
pub fn read_framed(s: &mut TcpStream) -> Resp {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let read_more = |s: &mut TcpStream, raw: &mut Vec<u8>, buf: &mut [u8]| -> bool {
        let n = s.read(buf).expect("read the response");
        raw.extend_from_slice(&buf[..n]);
        n > 0
    };
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        assert!(read_more(s, &mut raw, &mut buf), "connection closed in the head");
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse::<usize>().expect("Content-Length"));
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let got = &raw[split + 4..];
        if let Some(n) = length {
            if got.len() >= n {
                raw.truncate(split + 4 + n);
                break;
            }
        } else if chunked && dechunk(got).is_some() {
            break;
        }
        if !read_more(s, &mut raw, &mut buf) {
            assert!(length.is_none() && !chunked, "connection closed in the body");
            break;
        }
    }
    parse(&raw)
}

/// The REST API's namespaces collection (any account id).
pub const NS: &str = "/client/v4/accounts/acc/storage/kv/namespaces";

/// Cloudflare's success envelope around `result`.
pub fn ok(result: Value) -> Value {
    serde_json::json!({"success": true, "errors": [], "messages": [], "result": result})
}

/// Cloudflare's error envelope.
pub fn fail(code: u32, message: &str) -> Value {
    serde_json::json!({
        "success": false,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": null,
    })
}

/// Creates a namespace over REST and returns its id.
pub fn create_ns(h: &Http, title: &str, auth: &[(&str, &str)]) -> String {
    let r = h.json("POST", NS, auth, &serde_json::json!({"title": title}));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["result"]["id"].as_str().unwrap().to_string()
}
