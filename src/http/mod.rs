//! The HTTP listener (`http-port`, on every bind address): the surfaces Cloudflare's own
//! tools speak, served from the same store, KV rules and ACL users as RESP.
//!
//! It owns HTTP parsing (axum/hyper), routing and the mapping of replies to HTTP responses,
//! and its connections' limits: `http-timeout` for headers, idle keep-alive, bodies and
//! stalled responses, and `http-maxclients` open connections (see `listen`).
//! It never touches the store directly: every request becomes commands run through
//! `command::dispatch`, so limits, quotas, ACL checks and the log behave as over RESP.
//!
//! - `auth.rs`: who a request runs as (bearer tokens naming ACL users, or loopback clients
//!   as the default user).
//! - `rest.rs`: Cloudflare's REST API v4 under `/client/v4/accounts/{account}/storage/kv`.
//! - `stall.rs`: the write timeout: a response the client stops reading for `http-timeout`
//!   closes the connection.
//! - `workerd.rs`: the KV binding protocol workerd speaks to an external service, for
//!   requests carrying `X-Edgekv-Namespace`, whatever their path.
//!
//! Every answered request is reported to `metrics::http_request` with its matched route
//! (the routes' metrics are looked up when the router is built).

pub mod auth;
pub mod rest;
mod stall;
pub mod workerd;

use crate::command::{self, Session};
use crate::errors::HttpError;
use crate::metrics::HttpRoute;
use crate::protocol::{Protocol, Reply};
use crate::server::shared::{ClientHandle, Shared};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Binds the HTTP listener on every address of `bind` (as RESP does) and `http-port` (0: no
/// listener), and serves it in the background. Returns the first bound address.
pub async fn start(shared: Arc<Shared>, port: u16) -> std::io::Result<Option<SocketAddr>> {
    if port == 0 {
        return Ok(None);
    }
    let bind = shared.config.get("bind").unwrap_or_default();
    let backlog = shared.config.get_i64("tcp-backlog").clamp(1, u32::MAX as i64) as u32;
    let listeners = crate::server::bind_all(&bind, port, backlog).await?;
    let addr = listeners[0].local_addr()?;
    let app = router(shared.clone());
    let open = Arc::new(AtomicUsize::new(0));
    let fds = fd_cap();
    for listener in listeners {
        tokio::spawn(listen(shared.clone(), listener, app.clone(), open.clone(), fds));
    }
    Ok(Some(addr))
}

/// The lowest average rate (bytes per second) a request body may arrive at, after the
/// `http-timeout` grace: otherwise a client trickling a body holds its connection for long.
const BODY_MIN_RATE: f64 = 16.0 * 1024.0;

/// At most half the soft limit on file descriptors, so that idle HTTP clients can never take
/// all of them from RESP (read once: the limit is the process's, set before it starts).
fn fd_cap() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        (lim.rlim_cur / 2).max(1) as usize
    } else {
        usize::MAX
    }
}

/// The answer to a connection over the cap: written without waiting (it fits any socket
/// buffer), then the connection is closed. JSON in Cloudflare's envelope for the REST tools,
/// the text in the reason phrase for workerd.
const BUSY: &str = "max number of HTTP clients reached";

fn refuse(stream: &tokio::net::TcpStream) {
    // What the client already sent is read (not waited for): closing a socket with unread
    // data resets the connection, and the client could lose the answer.
    let _ = stream.try_read(&mut [0u8; 4096]);
    let body = format!(
        "{{\"success\":false,\"errors\":[{{\"code\":{},\"message\":\"{BUSY}\"}}],\"messages\":[],\"result\":null}}",
        crate::errors::api::UNAVAILABLE
    );
    let answer = format!(
        "HTTP/1.1 503 {BUSY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// One open HTTP connection, counted until it is dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts HTTP connections on `listener` until shutdown, then lets the open ones finish
/// their requests (hyper's graceful shutdown: no new request is read) for a few seconds.
///
/// Each connection is served by hyper's HTTP/1 server with a timer, so `http-timeout`
/// bounds the wait for a request's headers, the first request's and every later one's on a
/// kept-alive connection (hyper starts the header timer as soon as it waits for a request),
/// so an idle connection is closed after it as well (the header timeout is the one set when
/// the connection was accepted; a body's grace is read when the body is). A response the
/// socket accepts no byte of for `http-timeout` (the one set at accept) ends the connection
/// too (`stall::StallGuard`): a client that stops reading cannot hold its slot. `open`
/// counts the connections of every listener against `http-maxclients`, and never more than
/// `fds`, half the descriptor limit.
async fn listen(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    app: Router,
    open: Arc<AtomicUsize>,
    fds: usize,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.stopped() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to be freed.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= shared.config.http_maxclients().min(fds) {
            open.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(client = %peer, "HTTP connection refused: http-maxclients reached");
            refuse(&stream);
            continue;
        }
        let slot = Slot(open.clone());
        let conn = Conn {
            peer,
            local: stream.local_addr().unwrap_or(peer),
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(conn));
            hyper::service::Service::call(&service, req)
        });
        let served = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(shared.config.http_timeout())
            .serve_connection(
                TokioIo::new(stall::StallGuard::new(stream, shared.config.http_timeout())),
                service,
            );
        let served = graceful.watch(served);
        tokio::spawn(async move {
            if let Err(e) = served.await {
                tracing::debug!(client = %conn.peer, error = %e, "HTTP connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// The two ends of a request's connection (the client's address decides loopback-only
/// access; both show in ACL LOG entries, as for RESP clients).
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

/// What the `surface` layer needs: the server, and each route's metrics (resolved when the
/// router is built, so a request counts on its route without a lock).
#[derive(Clone)]
struct Surface {
    shared: Arc<Shared>,
    routes: Arc<HashMap<String, Arc<HttpRoute>>>,
    workerd: Arc<HttpRoute>,
    unmatched: Arc<HttpRoute>,
}

fn router(shared: Arc<Shared>) -> Router {
    let stats = &shared.metrics;
    let patterns = ["/healthz".to_string(), "/metrics".to_string()]
        .into_iter()
        .chain(rest::patterns());
    let surface_state = Surface {
        shared: shared.clone(),
        routes: Arc::new(patterns.map(|p| (p.clone(), stats.http_route(&p))).collect()),
        workerd: stats.http_route("workerd"),
        unmatched: stats.http_route("unmatched"),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(rest::router(shared.clone()))
        .fallback(rest::no_route)
        .method_not_allowed_fallback(rest::method_not_allowed)
        // After every route and the fallback, so it wraps them all: a binding request is
        // recognised by its header whatever path it names.
        .layer(axum::middleware::from_fn_with_state(surface_state, surface))
        .with_state(shared)
}

/// Every request: binding requests (with `X-Edgekv-Namespace`) go to the workerd surface,
/// the others to their route; each answered request is reported to the metrics with the
/// route it matched (`workerd` for the binding surface, `unmatched` for the fallback).
async fn surface(
    State(state): State<Surface>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let (route, resp) = if req.headers().contains_key(workerd::NAMESPACE_HEADER) {
        (&state.workerd, workerd::handle(&state.shared, conn, req).await)
    } else {
        let route = matched
            .and_then(|m| state.routes.get(m.as_str()))
            .unwrap_or(&state.unmatched);
        (route, next.run(req).await)
    };
    let mut resp = resp;
    if resp.status() == axum::http::StatusCode::REQUEST_TIMEOUT {
        // The rest of a late body may still come: the connection cannot serve another request.
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    crate::metrics::http_request(route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`, for the clients the other surfaces serve (loopback ones while no
/// `http-tokens` are configured, else a valid bearer token): its labels name every
/// namespace, id and title, which must not go to whoever reaches the port.
async fn metrics(State(shared): State<Arc<Shared>>, ConnectInfo(conn): ConnectInfo<Conn>, req: Request) -> Response {
    use axum::response::IntoResponse;
    if let Err(e) = auth::authenticate(&shared, conn, req.headers()) {
        let status = axum::http::StatusCode::from_u16(e.status).unwrap_or(axum::http::StatusCode::FORBIDDEN);
        return (status, format!("{}\n", e.message)).into_response();
    }
    crate::metrics::http_handler(State(shared)).await
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
    /// The grace a request body gets (`http-timeout`), as configured now.
    pub fn body_grace(&self) -> Duration {
        self.shared.config.http_timeout()
    }

    pub fn new(shared: &Arc<Shared>, who: &auth::Who) -> Call {
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(ClientHandle::new(id, who.conn.peer, who.conn.local, -1));
        handle.socket_closing();
        handle.set_proto(Protocol::Resp3);
        *handle.user.lock() = who.user.name.clone();
        let gen = shared.acl.generation.load(Ordering::Acquire);
        let mut session = Session::new(handle, who.user.clone(), gen);
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
            Reply::Kv(e) => HttpError::kv(&e),
            Reply::Error(text) => HttpError::from_reply(&text),
            _ => HttpError::unauthenticated(),
        })
    }

    /// Runs one command; an error reply becomes the HTTP error it maps to (a Workers KV
    /// error by its kind).
    pub fn run(&mut self, argv: Vec<Bytes>) -> Result<Reply, HttpError> {
        let reply = command::dispatch(&self.shared, &mut self.session, &argv, crate::store::now_ms());
        match reply {
            Reply::Kv(e) => Err(HttpError::kv(&e)),
            Reply::Error(text) => Err(HttpError::from_reply(&text)),
            // The user was deleted since the request was authenticated (RESP closes such a
            // connection).
            Reply::None if self.session.close => Err(HttpError::unauthenticated()),
            r => Ok(r),
        }
    }

    /// Runs a `KV.LIST` whose page `writer` writes in its final shape (an HTTP surface's
    /// body), through the same dispatch, checks and walk as any other command; returns the
    /// body.
    pub fn run_list(&mut self, argv: Vec<Bytes>, writer: Box<dyn command::kv::ListWriter>) -> Result<Bytes, HttpError> {
        self.session.list_writer = Some(writer);
        let reply = self.run(argv);
        // Refused before KV.LIST ran (ACL, loading...): the writer is not for a later command.
        self.session.list_writer = None;
        match reply? {
            Reply::Bulk(body) => Ok(body),
            _ => Err(HttpError::new(500, crate::errors::api::INTERNAL, "unexpected reply")),
        }
    }

    /// Waits until the log holds what the commands wrote (written, or fsynced under
    /// `appendfsync always`), as a RESP reply waits before it leaves. If the log failed, the
    /// answer is an error: no write is acknowledged that the log does not hold.
    pub async fn durable(&mut self) -> Result<(), HttpError> {
        crate::server::durability::wait_durable(&self.shared, &mut self.session)
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
    /// The body did not arrive in time (see `read_body`).
    TimedOut,
}

impl BodyError {
    /// The answer for a JSON request body: 413 past `limit`, a broken body as malformed JSON.
    pub fn json(self, limit: usize) -> HttpError {
        match self {
            BodyError::TooLarge(_) => HttpError::body_too_large(limit),
            BodyError::Read(why) => HttpError::malformed_json(why),
            BodyError::TimedOut => Self::timed_out(),
        }
    }

    /// The answer for a value or bulk body: Workers KV's size text (`too_large` of the length
    /// declared or counted), a broken body as invalid.
    pub fn data(self, too_large: impl FnOnce(usize) -> crate::errors::KvError) -> HttpError {
        match self {
            BodyError::TooLarge(n) => HttpError::kv(&too_large(n as usize)),
            BodyError::Read(why) => HttpError::new(400, crate::errors::api::INVALID, why),
            BodyError::TimedOut => Self::timed_out(),
        }
    }

    /// The answer to a body that did not arrive in time: 408, and the connection is closed
    /// (see `surface`), as the rest of the body may still be on its way.
    pub fn timed_out() -> HttpError {
        HttpError::new(
            408,
            crate::errors::api::INVALID,
            "The request body was not received in time.",
        )
    }
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
///
/// The body must arrive by a deadline that starts at `grace` (`http-timeout` as configured
/// when the body is read, from the caller) and grows by a second
/// for every `BODY_MIN_RATE` bytes received (Apache's `RequestReadTimeout body=...,MinRate`):
/// a client may pause, or send slowly, but not trickle a body for ever.
pub async fn read_body(body: Body, limit: usize, grace: Duration) -> Result<Bytes, BodyError> {
    let mut body = body;
    let drain_max = (limit as u64).max(DRAIN_MIN);
    let declared = HttpBody::size_hint(&body).exact();
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        drain(&mut body, n.min(limit as u64 + drain_max)).await;
        return Err(BodyError::TooLarge(n));
    }
    let started = tokio::time::Instant::now();
    let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        let deadline = started + grace + Duration::from_secs_f64(buf.len() as f64 / BODY_MIN_RATE);
        let Ok(data) = tokio::time::timeout_at(deadline, next_data(&mut body)).await else {
            return Err(BodyError::TimedOut);
        };
        let Some(data) = data else { break };
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
/// `decodeURIComponent` refuses it. The result is bytes (see `decode_key` for keys).
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

/// A key named in a URL path: decoded once, and UTF-8. Workers KV keys are JavaScript
/// strings: a key of other bytes could be written but never named again (a list shows it
/// with U+FFFD for its bad bytes, which names another key), so it is refused, with the text
/// Workers KV gives when `decodeURIComponent` fails.
pub fn decode_key(raw: &str) -> Result<Bytes, crate::errors::KvError> {
    let bytes = decode_path(raw)?;
    match String::from_utf8(bytes) {
        Ok(key) => Ok(Bytes::from(key)),
        Err(_) => Err(crate::errors::KvError::KeyNotDecodable),
    }
}

/// The query parameters of a request, form-decoded (`+` is a space there), first value of
/// each name winning as in `URLSearchParams.get`. Values whose bytes are not UTF-8 are kept
/// with U+FFFD for the bad bytes (as `URLSearchParams` does) and marked, so that a caller
/// that must not guess (a list prefix) can refuse them.
pub struct Params(Vec<(String, String, bool)>);

impl Params {
    pub fn of(uri: &axum::http::Uri) -> Params {
        let decode = |s: &[u8]| -> (String, bool) {
            let plus: Vec<u8> = s.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
            let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
            match String::from_utf8(bytes) {
                Ok(s) => (s, true),
                Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), false),
            }
        };
        let pairs = uri
            .query()
            .unwrap_or_default()
            .as_bytes()
            .split(|&b| b == b'&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = match p.iter().position(|&b| b == b'=') {
                    Some(i) => (&p[..i], &p[i + 1..]),
                    None => (p, &b""[..]),
                };
                let ((k, _), (v, utf8)) = (decode(k), decode(v));
                (k, v, utf8)
            })
            .collect();
        Params(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _, _)| k == name).map(|(_, v, _)| v.as_str())
    }

    /// A value, and whether its bytes were UTF-8.
    pub fn get_checked(&self, name: &str) -> Option<(&str, bool)> {
        self.0
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, utf8)| (v.as_str(), *utf8))
    }
}

/// A command name or keyword: static bytes, never copied per request.
pub fn word(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// An argument from request data (copied).
pub fn arg(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The KV.PUT of a value write on either surface: `expiration` and `expiration_ttl` from the
/// query (empty counts as absent: wrangler sends each only when set), metadata as given.
pub fn put_argv(key: Bytes, value: Bytes, params: &Params, metadata: Option<Bytes>) -> Vec<Bytes> {
    let mut argv = vec![word("KV.PUT"), key, value];
    if let Some(e) = params.get("expiration").filter(|v| !v.is_empty()) {
        argv.extend([word("EXPIRATION"), arg(e)]);
    }
    if let Some(t) = params.get("expiration_ttl").filter(|v| !v.is_empty()) {
        argv.extend([word("EXPIRATIONTTL"), arg(t)]);
    }
    if let Some(m) = metadata {
        argv.extend([word("METADATA"), m]);
    }
    argv
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

/// A 200 with a JSON body already written.
pub fn json_body(body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
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

/// Stored metadata as the HTTP surfaces show it, written to `out`: the JSON text that
/// `metadata_json`'s value serialises to (compact, members in their order, a repeated member
/// once, numbers and escapes as serde_json writes them), or a JSON string of the text when
/// it does not parse. `keys` is scratch for `is_canonical`.
///
/// Most metadata is stored in that form already (clients send compact JSON); it is then
/// copied as it is, and only the rest is parsed and written again.
///
/// `out` is the body itself or, for the workerd binding, a writer that escapes into it as a
/// JSON string; both write to memory and cannot fail.
pub fn write_metadata<W: std::io::Write>(out: &mut W, meta: &[u8], keys: &mut Vec<(usize, usize)>) {
    if is_canonical(meta, keys) {
        let _ = out.write_all(meta);
        return;
    }
    let _ = match serde_json::from_slice::<serde_json::Value>(meta) {
        Ok(v) => serde_json::to_writer(&mut *out, &v),
        // As `command::kv::json_str` writes it.
        Err(_) => serde_json::to_writer(&mut *out, &String::from_utf8_lossy(meta)),
    };
}

/// Whether `text` is exactly what serde_json writes for the value it parses to, so that
/// parsing and writing it again would give it back unchanged: no whitespace, no repeated
/// member in an object, integers only (up to 18 digits: within i64 and u64; `-0` is a float),
/// strings with only the escapes serde_json writes. Conservative: `false` sends the text the
/// slow way, which is always right. `keys` is scratch (the members seen in the open objects).
fn is_canonical(text: &[u8], keys: &mut Vec<(usize, usize)>) -> bool {
    // Deep enough for any real metadata, well within serde_json's recursion limit (128).
    const MAX_DEPTH: usize = 32;
    fn value(t: &[u8], i: usize, depth: usize, keys: &mut Vec<(usize, usize)>) -> Option<usize> {
        match *t.get(i)? {
            b'"' => string(t, i),
            b'{' => {
                if depth == MAX_DEPTH {
                    return None;
                }
                if t.get(i + 1) == Some(&b'}') {
                    return Some(i + 2);
                }
                let base = keys.len();
                let mut i = i + 1;
                loop {
                    let end = string(t, i)?;
                    let key = &t[i..end];
                    // Canonical strings are equal exactly when their texts are.
                    if keys[base..].iter().any(|&(s, e)| &t[s..e] == key) {
                        return None;
                    }
                    keys.push((i, end));
                    if t.get(end) != Some(&b':') {
                        return None;
                    }
                    i = value(t, end + 1, depth + 1, keys)?;
                    match t.get(i) {
                        Some(b',') => i += 1,
                        Some(b'}') => {
                            keys.truncate(base);
                            return Some(i + 1);
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth == MAX_DEPTH {
                    return None;
                }
                if t.get(i + 1) == Some(&b']') {
                    return Some(i + 2);
                }
                let mut i = i + 1;
                loop {
                    i = value(t, i, depth + 1, keys)?;
                    match t.get(i) {
                        Some(b',') => i += 1,
                        Some(b']') => return Some(i + 1),
                        _ => return None,
                    }
                }
            }
            b't' => t[i..].starts_with(b"true").then_some(i + 4),
            b'f' => t[i..].starts_with(b"false").then_some(i + 5),
            b'n' => t[i..].starts_with(b"null").then_some(i + 4),
            _ => number(t, i),
        }
    }
    // `-?(0|[1-9][0-9]*)`, 1..=18 digits, not `-0`.
    fn number(t: &[u8], i: usize) -> Option<usize> {
        let neg = t.get(i) == Some(&b'-');
        let start = i + neg as usize;
        let digits = t[start.min(t.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + digits;
        let ok = (1..=18).contains(&digits)
            && (t[start] != b'0' || (digits == 1 && !neg))
            && !matches!(t.get(end), Some(b'.' | b'e' | b'E'));
        ok.then_some(end)
    }
    // A string from its opening quote; returns the index after its closing one.
    fn string(t: &[u8], i: usize) -> Option<usize> {
        if t.get(i) != Some(&b'"') {
            return None;
        }
        let mut i = i + 1;
        loop {
            match *t.get(i)? {
                b'"' => return Some(i + 1),
                b'\\' => {
                    i += match *t.get(i + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        // serde_json writes `\u00xx` (lowercase) only for the control
                        // bytes without a short escape.
                        b'u' => {
                            let hex = t.get(i + 2..i + 6)?;
                            let lower = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
                            if &hex[..2] != b"00" || !hex[2..].iter().all(lower) || hex[2] > b'1' {
                                return None;
                            }
                            if matches!(&hex[2..], b"08" | b"09" | b"0a" | b"0c" | b"0d") {
                                return None;
                            }
                            6
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
    }
    if std::str::from_utf8(text).is_err() {
        return false;
    }
    keys.clear();
    value(text, 0, 0, keys) == Some(text.len())
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
    fn queries_are_form_decoded() {
        let p = Params::of(
            &"/x?prefix=a%2Bb+c&prefix=second&flag&e=&bad=%FF%41&odd=%zz"
                .parse()
                .unwrap(),
        );
        assert_eq!(p.get("prefix"), Some("a+b c"));
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.get("e"), Some(""));
        assert_eq!(p.get("odd"), Some("%zz"));
        assert_eq!(p.get("none"), None);
        assert_eq!(p.get("bad"), Some("\u{FFFD}A"));
        assert_eq!(p.get_checked("bad"), Some(("\u{FFFD}A", false)));
        assert_eq!(p.get_checked("prefix"), Some(("a+b c", true)));
        assert_eq!(p.get_checked("none"), None);
    }

    #[test]
    fn keys_must_be_utf8() {
        assert_eq!(&decode_key("a%2Fb+%E2%9C%93").unwrap()[..], "a/b+✓".as_bytes());
        assert_eq!(decode_key("%FF%FE"), Err(crate::errors::KvError::KeyNotDecodable));
        assert_eq!(decode_key("%E2%9C"), Err(crate::errors::KvError::KeyNotDecodable));
        assert_eq!(&decode_key("%EF%BF%BD").unwrap()[..], "\u{FFFD}".as_bytes());
    }

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

    /// What the list endpoints showed before they wrote pages themselves: the metadata
    /// parsed as a JSON value (a string of the text when it does not parse) and written.
    fn reference(meta: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&metadata_json(Some(&Reply::Bulk(Bytes::copy_from_slice(meta))))).unwrap()
    }

    fn check(meta: &[u8]) {
        let mut out = b"x".to_vec();
        write_metadata(&mut out, meta, &mut Vec::new());
        assert_eq!(
            String::from_utf8_lossy(&out[1..]),
            String::from_utf8_lossy(&reference(meta)),
            "{:?}",
            String::from_utf8_lossy(meta)
        );
    }

    #[test]
    fn metadata_is_written_as_serde_json_writes_it() {
        let canonical: &[&str] = &[
            r#"{"a":1,"b":[true,false,null,{}],"c":"x\"\\\n\u0001\u001f😀"}"#,
            "[]",
            "0",
            "-12",
            "123456789012345678",
            r#""""#,
            r#"{"a":{"a":{"b":1}},"b":2}"#,
        ];
        for m in canonical {
            assert!(is_canonical(m.as_bytes(), &mut Vec::new()), "{m}");
            check(m.as_bytes());
        }
        let other: &[&[u8]] = &[
            br#"{"a":1,"a":2}"#,
            br#"{"a":{"x":1},"b":{"x":1,"x":1}}"#,
            b"-0",
            b"1.0",
            b"1e3",
            b"1234567890123456789",
            b"18446744073709551616",
            b"1e400",
            br#""\/""#,
            br#""\u0041""#,
            br#""\u000a""#,
            br#""\u001F""#,
            br#""\ud83d\ude00""#,
            br#""\ud800""#,
            b" 1",
            b"[1 ]",
            b"",
            b"nope",
            b"{\"a\":1",
            b"\"\xff\"",
            b"01",
            b"[1,]",
            b"true false",
        ];
        for m in other {
            assert!(!is_canonical(m, &mut Vec::new()), "{:?}", String::from_utf8_lossy(m));
            check(m);
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        check(deep.as_bytes());
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        check(deep.as_bytes());
    }

    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        // Mostly canonical pieces, so that the fast path is taken for nested values too.
        let leaf = prop_oneof![
            3 => "-?(0|[1-9][0-9]{0,17})",
            1 => "-?(0|[1-9][0-9]{0,21})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
            3 => "\"([a-z é😀/\u{7f}]|\\\\[\"\\\\bfnrt]|\\\\u001[0-9a-f])*\"",
            1 => "\"([a-z é😀/\u{7f}]|\\\\[\"\\\\/bfnrt]|\\\\u00[0-9a-fA-F]{2}|\\\\u[0-9a-f]{4})*\"",
            1 => "true|false|null|nul|[ ]",
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let sep = || prop_oneof![6 => Just(","), 1 => Just(", "), 1 => Just(" ,")];
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..5), sep()).prop_map(|(v, s)| format!("[{}]", v.join(s))),
                (
                    prop::collection::vec(("\"[a-e]{0,2}\"", inner), 0..5),
                    sep(),
                    prop_oneof![6 => Just(":"), 1 => Just(" :"), 1 => Just(": ")]
                )
                    .prop_map(|(v, s, c)| {
                        let members: Vec<String> = v.into_iter().map(|(k, x)| format!("{k}{c}{x}")).collect();
                        format!("{{{}}}", members.join(s))
                    }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn metadata_matches_serde_json(text in json_text()) {
            check(text.as_bytes());
        }
    }
}
