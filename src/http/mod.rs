//! The HTTP listener (`http-port`, on the bind address): the surfaces Cloudflare's own tools
//! speak, served from the same store, KV rules and ACL users as RESP.
//!
//! It owns HTTP parsing (axum/hyper), routing and the mapping of replies to HTTP responses.
//! It never touches the store directly: every request becomes commands run through
//! `command::dispatch`, so limits, quotas, ACL checks and the log behave as over RESP.
//!
//! - `auth.rs`: who a request runs as (bearer tokens naming ACL users, or loopback clients
//!   as the default user).
//! - `rest.rs`: Cloudflare's REST API v4 under `/client/v4/accounts/{account}/storage/kv`.
//! - `workerd.rs`: the KV binding protocol workerd speaks to an external service, for
//!   requests carrying `X-Edgekv-Namespace`, whatever their path.
//!
//! Every answered request is reported to `metrics::http_request` with its matched route.

pub mod auth;
pub mod rest;
pub mod workerd;

use crate::command::{self, Session};
use crate::errors::HttpError;
use crate::protocol::{Protocol, Reply};
use crate::server::shared::{ClientHandle, Shared};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Binds the HTTP listener on the first bind address and `http-port` (0: no listener) and
/// serves it in the background. Returns the bound address.
pub async fn start(shared: Arc<Shared>, host: &str, port: u16) -> std::io::Result<Option<SocketAddr>> {
    if port == 0 {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(super::server::host_port(host, port)).await?;
    let addr = listener.local_addr()?;
    let app = router(shared.clone());
    tokio::spawn(async move {
        let stop = async move {
            while !shared.shutting_down.load(Ordering::SeqCst) {
                let n = shared.shutdown.notified();
                if shared.shutting_down.load(Ordering::SeqCst) {
                    break;
                }
                n.await;
            }
        };
        let service = app.into_make_service_with_connect_info::<Conn>();
        if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(stop).await {
            tracing::warn!(error = %e, "HTTP listener failed");
        }
    });
    Ok(Some(addr))
}

/// The two ends of a request's connection (the client's address decides loopback-only
/// access; both show in ACL LOG entries, as for RESP clients).
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for Conn {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Conn {
        let peer = *stream.remote_addr();
        Conn {
            peer,
            local: stream.io().local_addr().unwrap_or(peer),
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::http_handler))
        .merge(rest::router(shared.clone()))
        .fallback(rest::no_route)
        .method_not_allowed_fallback(rest::method_not_allowed)
        // After every route and the fallback, so it wraps them all: a binding request is
        // recognised by its header whatever path it names.
        .layer(axum::middleware::from_fn_with_state(shared.clone(), surface))
        .with_state(shared)
}

/// Every request: binding requests (with `X-Edgekv-Namespace`) go to the workerd surface,
/// the others to their route; each answered request is reported to the metrics with the
/// route it matched (`workerd` for the binding surface, `unmatched` for the fallback).
async fn surface(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let (route, resp) = if req.headers().contains_key(workerd::NAMESPACE_HEADER) {
        let resp = workerd::handle(&shared, conn, req).await;
        (std::borrow::Cow::Borrowed("workerd"), resp)
    } else {
        let route = matched.map_or(std::borrow::Cow::Borrowed("unmatched"), |m| {
            std::borrow::Cow::Owned(m.as_str().to_string())
        });
        (route, next.run(req).await)
    };
    crate::metrics::http_request(&shared, &route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

/// Liveness and readiness: 200 `ok` once the log is loaded, 503 `loading` before.
async fn healthz(State(shared): State<Arc<Shared>>) -> (axum::http::StatusCode, &'static str) {
    if shared.loading.load(Ordering::Acquire) {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "loading\n")
    } else {
        (axum::http::StatusCode::OK, "ok\n")
    }
}

/// The commands of one HTTP request, run as its user through `command::dispatch`, as a RESP
/// connection runs them.
///
/// The request gets its own client handle (an id, the addresses, the user: what ACL LOG
/// shows) but is not registered in CLIENT LIST: it lives for one request, has no socket for
/// CLIENT KILL to shut, and maxclients limits RESP connections. Commands run synchronously
/// between `.await`s, so no store lock is held across one.
pub struct Call {
    shared: Arc<Shared>,
    session: Session,
}

impl Call {
    pub fn new(shared: &Arc<Shared>, who: &auth::Who) -> Call {
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(ClientHandle::new(id, who.conn.peer, who.conn.local, -1));
        handle.socket_closing();
        handle.set_proto(Protocol::Resp3);
        *handle.user.lock() = who.user.name.clone();
        let mut session = Session::new(handle);
        session.user = who.user.clone();
        session.acl_gen = shared.acl.generation.load(Ordering::Acquire);
        session.authenticated = true;
        // Maps and booleans come as such (a reply's shape does not depend on it otherwise).
        session.proto = Protocol::Resp3;
        Call {
            shared: shared.clone(),
            session,
        }
    }

    /// Selects namespace `id_or_title` (an unknown one is `Unknown namespace.`, one outside
    /// the user's scope NOPERM).
    pub fn select(&mut self, id_or_title: &[u8]) -> Result<crate::kv::Namespace, HttpError> {
        // The registry is complete only once the log is replayed.
        if self.shared.loading.load(Ordering::Acquire) {
            return Err(HttpError::from_reply(crate::errors::LOADING.as_bytes()));
        }
        command::namespace::select_for_request(&self.shared, &mut self.session, id_or_title).map_err(|r| match r {
            Reply::Error(text) => HttpError::from_reply(&text),
            _ => HttpError::unauthenticated(),
        })
    }

    /// Runs one command; an error reply becomes the HTTP error it maps to.
    pub fn run(&mut self, argv: Vec<Bytes>) -> Result<Reply, HttpError> {
        let reply = command::dispatch(&self.shared, &mut self.session, &argv, crate::store::now_ms());
        match reply {
            Reply::Error(text) => Err(HttpError::from_reply(&text)),
            // The user was deleted since the request was authenticated (RESP closes such a
            // connection).
            Reply::None if self.session.close => Err(HttpError::unauthenticated()),
            r => Ok(r),
        }
    }

    /// Waits until the log holds what the commands wrote (written, or fsynced under
    /// `appendfsync always`), as a RESP reply waits before it leaves. If the log failed, the
    /// answer is an error: no write is acknowledged that the log does not hold.
    pub async fn durable(&mut self) -> Result<(), HttpError> {
        if !self.session.wrote && !self.shared.aof.always() {
            return Ok(());
        }
        self.session.wrote = false;
        self.shared
            .aof
            .make_durable()
            .await
            .map_err(|e| HttpError::log_failed(&e))
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        command::end_session(&self.shared, &mut self.session);
    }
}

/// Why a body was not read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Over the limit: the length declared, or counted (at least `limit + 1`; exact when
    /// the whole body was counted).
    TooLarge(u64),
    /// The client's body broke off or was malformed.
    Read(String),
}

/// After a body passed its limit, the rest is read and thrown away, so that the client, still
/// sending, reads the 413 instead of a reset connection: at most the limit again (and at
/// least 64 MiB), for at most `DRAIN_TIME`.
const DRAIN_MIN: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads a request body of at most `limit` bytes. A declared `Content-Length` over the limit
/// is refused before anything is kept; a body without one (chunked) is refused as soon as
/// it passes the limit. Nothing past the limit is kept: the rest is drained, and counted
/// for the error text.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut body = body;
    let drain_max = (limit as u64).max(DRAIN_MIN);
    let declared = HttpBody::size_hint(&body).exact();
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        drain(&mut body, n.min(limit as u64 + drain_max)).await;
        return Err(BodyError::TooLarge(n));
    }
    let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(data) = next_data(&mut body).await {
        let data = data.map_err(|e| BodyError::Read(e.to_string()))?;
        if buf.len() + data.len() > limit {
            let seen = (buf.len() + data.len()) as u64;
            drop(buf);
            let rest = drain(&mut body, drain_max).await;
            return Err(BodyError::TooLarge(seen + rest));
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// The next data chunk of a body (trailers are skipped).
async fn next_data(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    loop {
        let frame = std::future::poll_fn(|cx| {
            std::pin::Pin::new(&mut *body)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map(|f| f.into_data().ok())))
        })
        .await;
        match frame? {
            Ok(Some(data)) => return Some(Ok(data)),
            Ok(None) => continue,
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Reads and drops a body the answer does not need (an error found before the body was
/// read), so that a client still sending it reads the answer rather than a reset connection.
pub async fn discard(body: Body) {
    let mut body = body;
    drain(&mut body, DRAIN_MIN).await;
}

/// Reads and drops up to `max` bytes of a body, for at most `DRAIN_TIME`; returns how many
/// it read.
async fn drain(body: &mut Body, max: u64) -> u64 {
    let mut n = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while n < max {
            match next_data(body).await {
                Some(Ok(d)) => n += d.len() as u64,
                _ => break,
            }
        }
    })
    .await;
    n
}

/// Percent-decodes a URL path segment exactly once. `+` stays `+` (it means a space only in
/// form-encoded queries); a `%` not followed by two hex digits is refused, as
/// `decodeURIComponent` refuses it. The result is bytes: a key need not be UTF-8.
pub fn decode_path(raw: &str) -> Result<Vec<u8>, crate::errors::KvError> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            match (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(crate::errors::KvError::KeyNotDecodable),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The query parameters of a request, form-decoded (`+` is a space there), first value of
/// each name winning as in `URLSearchParams.get`.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn of(uri: &axum::http::Uri) -> Params {
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default();
        Params(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A field of a map reply (commands answer maps to the HTTP session, which speaks RESP3).
pub fn field<'a>(reply: &'a Reply, name: &str) -> Option<&'a Reply> {
    let Reply::Map(m) = reply else { return None };
    m.iter()
        .find(|(k, _)| matches!(k, Reply::Bulk(b) if b[..] == *name.as_bytes()))
        .map(|(_, v)| v)
}

/// A bulk reply as text (lossy), for ids, titles and metadata.
pub fn text(reply: Option<&Reply>) -> Option<String> {
    match reply {
        Some(Reply::Bulk(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Stored metadata as a JSON value (it is JSON text: KV.PUT checks it).
pub fn metadata_json(reply: Option<&Reply>) -> serde_json::Value {
    match reply {
        Some(Reply::Bulk(b)) => {
            serde_json::from_slice(b).unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(b).into()))
        }
        _ => serde_json::Value::Null,
    }
}

/// `KV.BULKGET`'s entry for one key: `(value, metadata, expiration)`, `None` when missing.
pub fn bulk_entry(reply: &Reply) -> Option<(Bytes, Option<&Reply>, Option<i64>)> {
    if matches!(reply, Reply::Nil) {
        return None;
    }
    let value = match field(reply, "value") {
        Some(Reply::Bulk(b)) => b.clone(),
        _ => return None,
    };
    let exp = match field(reply, "expiration") {
        Some(Reply::Int(e)) => Some(*e),
        _ => None,
    };
    let meta = field(reply, "metadata").filter(|m| !matches!(m, Reply::Nil));
    Some((value, meta, exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_once() {
        assert_eq!(decode_path("a+b%2Bc%2Fd").unwrap(), b"a+b+c/d");
        assert_eq!(decode_path("%2525").unwrap(), b"%25");
        assert_eq!(decode_path("%E2%9C%93").unwrap(), "✓".as_bytes());
        assert_eq!(decode_path("%ff").unwrap(), vec![0xff]);
        assert!(decode_path("%").is_err());
        assert!(decode_path("%4").is_err());
        assert!(decode_path("%zz").is_err());
    }
}
