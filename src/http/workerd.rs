//! The KV binding protocol workerd speaks to a `kvNamespace` bound to an external service
//! (workerd's `src/workerd/api/kv.c++`; Miniflare's KV worker serves the same protocol).
//!
//! A request is a binding request when it carries `X-Edgekv-Namespace: <id or title>` (added
//! by the service's `injectRequestHeaders`), whatever its path:
//!
//! - `GET /<key>?urlencoded=true[&cache_ttl=]` → the value, `CF-KV-Metadata` (JSON) and
//!   `CF-Expiration` (unix seconds) headers when set; 404 when missing (workerd: null).
//! - `PUT /<key>?urlencoded=true[&expiration=][&expiration_ttl=]`, metadata in
//!   `CF-KV-Metadata`; `DELETE /<key>?urlencoded=true`.
//! - `GET /?key_count_limit=&prefix=&cursor=` → `{keys: [{name, expiration?, metadata?}],
//!   list_complete, cursor?, cacheStatus}`, metadata as JSON *text* (workerd parses it).
//! - `POST /bulk/get {keys, type?, withMetadata?, cacheTtl?}` → `{key: value | {value,
//!   metadata} | null}`.
//!
//! workerd shows a Worker only `KV <METHOD> failed: <status> <reason phrase>`, so an error's
//! Workers KV text is the reason phrase (and the body). GET and PUT leave `: & + ; =`
//! unencoded in the path while DELETE encodes them: the raw path is decoded once, and `+`
//! never becomes a space. An unknown namespace is a 400 here, not a 404: workerd turns a 404
//! on GET into null, which would hide a misconfigured binding.

use super::{arg, auth, bulk_entry, field, metadata_json, read_body, word, Call, Conn, HttpError, Params};
use crate::command::kv::{json_entry_head, ListWriter};
use crate::errors::{api, KvError};
use crate::protocol::Reply;
use crate::server::shared::Shared;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The header that makes a request a binding request and names its namespace.
pub const NAMESPACE_HEADER: &str = "x-edgekv-namespace";
const METADATA_HEADER: &str = "cf-kv-metadata";
const EXPIRATION_HEADER: &str = "cf-expiration";
/// The bulk get body: up to 100 keys of 512 bytes, JSON-escaped.
const BULK_GET_BODY: usize = 1024 * 1024;

/// Answers a binding request.
pub async fn handle(shared: &Arc<Shared>, conn: Conn, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    match serve(shared, conn, &parts, &mut body).await {
        Ok(r) => r,
        Err(e) => {
            // Refused before its body was read: read it anyway, so that a client still
            // sending it reads the answer rather than a reset connection.
            if let Some(b) = body.take() {
                super::discard(b).await;
            }
            failure(e)
        }
    }
}

/// An error: its text as the reason phrase and as the body.
fn failure(e: HttpError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Control bytes cannot go into a status line; none of our texts has any, but keys and
    // client bytes may be quoted in them.
    let phrase: Vec<u8> = e
        .message
        .bytes()
        .map(|b| {
            if b == b'\t' || (b' '..0x7f).contains(&b) || b >= 0x80 {
                b
            } else {
                b' '
            }
        })
        .collect();
    let mut resp = Response::new(Body::from(e.message));
    *resp.status_mut() = status;
    if let Ok(p) = hyper::ext::ReasonPhrase::try_from(phrase) {
        resp.extensions_mut().insert(p);
    }
    resp
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// Serves a binding request; takes `body` out of its option once it reads it.
async fn serve(
    shared: &Arc<Shared>,
    conn: Conn,
    parts: &Parts,
    body: &mut Option<Body>,
) -> Result<Response, HttpError> {
    let who = auth::authenticate(shared, conn, &parts.headers)?;
    let mut call = Call::new(shared, &who);
    let ns = parts
        .headers
        .get(NAMESPACE_HEADER)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    call.select(&ns).map_err(binding_error)?;
    let params = Params::of(&parts.uri);
    let path = parts.uri.path();
    let raw = path.strip_prefix('/').unwrap_or(path);
    let method = &parts.method;
    if method == Method::GET && raw.is_empty() {
        return list(&mut call, &params);
    }
    if method == Method::POST && raw == "bulk/get" {
        return bulk_get(&mut call, body.take().unwrap_or_default()).await;
    }
    // Keys come percent-encoded when the request says so (workerd always does).
    let key = if params.get("urlencoded").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        super::decode_key(raw).map_err(|e| HttpError::kv(&e))?
    } else {
        Bytes::copy_from_slice(raw.as_bytes())
    };
    match *method {
        Method::GET => get(&mut call, key, &params).await,
        Method::PUT => {
            let metadata = parts
                .headers
                .get(METADATA_HEADER)
                .map(|v| Bytes::copy_from_slice(v.as_bytes()));
            put(&mut call, key, &params, metadata, body.take().unwrap_or_default()).await
        }
        Method::DELETE => {
            call.run(vec![word("KV.DELETE"), key]).map_err(binding_error)?;
            call.durable().await?;
            Ok(empty(StatusCode::OK))
        }
        _ => Err(HttpError::new(405, api::METHOD, "Method Not Allowed")),
    }
}

/// The binding surface's wording: an unknown namespace is a 400 (see the module's doc).
fn binding_error(e: HttpError) -> HttpError {
    if e.code == api::NAMESPACE_NOT_FOUND {
        HttpError::new(400, e.code, e.message)
    } else {
        e
    }
}

async fn get(call: &mut Call, key: Bytes, params: &Params) -> Result<Response, HttpError> {
    if let Some(t) = params.get("cache_ttl") {
        crate::kv::limits::check_cache_ttl(t).map_err(|e| HttpError::kv(&e))?;
    }
    let reply = call
        .run(vec![word("KV.GETWITHMETADATA"), key, word("WITHEXPIRATION")])
        .map_err(binding_error)?;
    call.durable().await?;
    let Some(Reply::Bulk(value)) = field(&reply, "value") else {
        return Err(HttpError::new(404, api::KEY_NOT_FOUND, "Not Found"));
    };
    let mut resp = Response::new(Body::from(value.clone()));
    let headers = resp.headers_mut();
    if let Some(m) = field(&reply, "metadata").filter(|m| !matches!(m, Reply::Nil)) {
        // Compact JSON: the stored text may span lines, which a header cannot.
        if let Ok(v) = metadata_json(Some(m)).to_string().parse() {
            headers.insert(METADATA_HEADER, v);
        }
    }
    if let Some(Reply::Int(e)) = field(&reply, "expiration") {
        headers.insert(EXPIRATION_HEADER, (*e).into());
    }
    Ok(resp)
}

async fn put(
    call: &mut Call,
    key: Bytes,
    params: &Params,
    metadata: Option<Bytes>,
    body: Body,
) -> Result<Response, HttpError> {
    let value = read_body(body, crate::errors::KV_MAX_VALUE, call.body_grace())
        .await
        .map_err(|e| e.data(KvError::ValueTooLong))?;
    call.run(super::put_argv(key, value, params, metadata))
        .map_err(binding_error)?;
    call.durable().await?;
    Ok(empty(StatusCode::OK))
}

/// `GET /?key_count_limit=&prefix=&cursor=` (workerd sends the limit only when it is > 0).
fn list(call: &mut Call, params: &Params) -> Result<Response, HttpError> {
    let mut argv = vec![word("KV.LIST"), word("FORMAT"), word("json")];
    if let Some(p) = super::rest::prefix_of(params)? {
        argv.extend([word("PREFIX"), arg(p)]);
    }
    for (param, opt) in [("key_count_limit", "LIMIT"), ("cursor", "CURSOR")] {
        if let Some(v) = params.get(param) {
            argv.extend([word(opt), arg(v)]);
        }
    }
    let body = call
        .run_list(argv, Box::new(ListBody::default()))
        .map_err(binding_error)?;
    Ok(super::json_body(body))
}

/// The body of a list, written as `KV.LIST` walks it: `{keys, list_complete, cursor?,
/// cacheStatus}`, each key's metadata as JSON text in a string (workerd parses it from one, as
/// Miniflare sends it).
struct ListBody {
    out: Vec<u8>,
    /// Scratch for `is_canonical`.
    keys: Vec<(usize, usize)>,
}

impl Default for ListBody {
    fn default() -> ListBody {
        ListBody {
            out: br#"{"keys":["#.to_vec(),
            keys: Vec::new(),
        }
    }
}

impl ListWriter for ListBody {
    fn entry(&mut self, n: usize, key: &[u8], expiration: Option<i64>, meta: Option<&[u8]>) {
        json_entry_head(&mut self.out, n, key, expiration);
        if let Some(m) = meta {
            self.out.extend_from_slice(br#","metadata":""#);
            // `write_metadata`'s text, escaped as it is written: the same bytes as
            // `json_str` of it, without writing it out first.
            super::write_metadata(&mut Escaped(&mut self.out), m, &mut self.keys);
            self.out.push(b'"');
        }
        self.out.push(b'}');
    }

    fn finish(&mut self, _n: usize, more: bool, cursor: Option<&str>) -> Reply {
        let out = &mut self.out;
        out.extend_from_slice(br#"],"list_complete":"#);
        out.extend_from_slice(if more { b"false" } else { b"true" });
        if let Some(c) = cursor {
            // Base64url: nothing to escape.
            out.extend_from_slice(br#","cursor":""#);
            out.extend_from_slice(c.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(br#","cacheStatus":null}"#);
        Reply::Bulk(std::mem::take(out).into())
    }
}

/// Writes what it is given escaped as the inside of a JSON string, byte for byte as
/// serde_json escapes a `str` (`\"`, `\\`, the short escapes, `\u00xx` for the other
/// control bytes; everything else, UTF-8 included, as is). Byte-wise, so a write may end
/// inside a character.
struct Escaped<'a>(&'a mut Vec<u8>);

impl Escaped<'_> {
    fn put(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut *self.0;
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0c => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0..=0x1f => 0,
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            if short != 0 {
                out.extend_from_slice(&[b'\\', short]);
            } else {
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
            }
        }
        out.extend_from_slice(&bytes[start..]);
    }
}

impl std::io::Write for Escaped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_response(v: &Value) -> Result<Response, HttpError> {
    Ok(super::json_body(v.to_string().into()))
}

/// `POST /bulk/get`: per key the value (text or parsed JSON), `{value, metadata}` with
/// `withMetadata`, or null.
async fn bulk_get(call: &mut Call, body: Body) -> Result<Response, HttpError> {
    let body = read_body(body, BULK_GET_BODY, call.body_grace())
        .await
        .map_err(|e| e.json(BULK_GET_BODY))?;
    let q = super::rest::parse_bulk_get(&body)?;
    let replies = super::rest::run_bulk_get(call, &q).map_err(binding_error)?;
    call.durable().await?;
    let mut out = Map::new();
    for (k, r) in q.keys.iter().zip(&replies) {
        let v = match bulk_entry(r) {
            None => Value::Null,
            Some((value, meta, _)) => {
                let value = super::rest::bulk_value(&value, q.json)?;
                if q.with_metadata {
                    let mut m = Map::new();
                    m.insert("value".into(), value);
                    m.insert("metadata".into(), metadata_json(meta));
                    Value::Object(m)
                } else {
                    value
                }
            }
        };
        out.insert(k.clone(), v);
    }
    json_response(&Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::Escaped;
    use crate::command::kv::json_str;

    /// `Escaped` writes what `json_str` writes inside its quotes, for every ASCII byte and
    /// some UTF-8, whole or split mid-character.
    #[test]
    fn escaped_matches_serde_json() {
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("é😀\u{2028}\u{7f}\"\\");
        let mut want = Vec::new();
        json_str(&mut want, &text);
        let bytes = text.as_bytes();
        for split in 0..=bytes.len() {
            let mut got = vec![b'"'];
            let mut esc = Escaped(&mut got);
            esc.put(&bytes[..split]);
            esc.put(&bytes[split..]);
            got.push(b'"');
            assert_eq!(got, want, "split at {split}");
        }
    }
}
