//! Cloudflare's REST API v4 for Workers KV, as wrangler (`CLOUDFLARE_API_BASE_URL`) and the
//! `cloudflare` SDKs (`base_url=`) call it, under
//! `/client/v4/accounts/{account_id}/storage/kv/namespaces` (any account id is accepted).
//!
//! Each endpoint is one or two commands: `KV.NAMESPACE ...` for namespaces, `KV.LIST ...
//! FORMAT json` for keys, `KV.GETWITHMETADATA ... WITHEXPIRATION`, `KV.PUT`, `KV.DELETE`,
//! `KV.BULKPUT`, `KV.BULKDELETE`, `KV.BULKGET` for values. Answers are Cloudflare's envelope
//! `{success, errors: [{code, message}], messages, result, result_info?}`, except a value,
//! which is its raw bytes. A key list's envelope is written by `KV.LIST` itself as it walks
//! the keys (`KeysPage`, through `Call::run_list`), not parsed from its JSON and written again.
//!
//! Keys in the path are percent-decoded exactly once, from the raw path (`+` stays `+`, `%2F`
//! is a `/` inside the key).

use super::auth::{self, Who};
use super::{arg, field, read_body, text, word, BodyError, Call, Conn, Params};
use crate::command::kv::{json_entry_head, ListWriter};
use crate::errors::{api, HttpError, KvError};
use crate::kv::limits;
use crate::protocol::Reply;
use crate::server::shared::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The namespaces collection; every route is under it.
const NS: &str = "/client/v4/accounts/{account_id}/storage/kv/namespaces";
/// Where the namespace id is among the path's `/`-separated segments (0 is the empty one
/// before the first `/`): `/client/v4/accounts/{a}/storage/kv/namespaces/{id}`.
const NS_AT: usize = 8;
/// Where the key starts: `.../namespaces/{id}/values/{key...}` (the rest of the path).
const KEY_AT: usize = 10;
/// The small JSON bodies (namespace titles, bulk get key lists): far above what they need.
const SMALL_BODY: usize = 1024 * 1024;
/// A multipart value body: the value, its metadata and the parts' framing.
const MULTIPART_BODY: usize = crate::errors::KV_MAX_VALUE + 64 * 1024;

/// The routes' patterns, as `router` takes them (the metrics label requests with them).
pub fn patterns() -> [String; 8] {
    let id = format!("{NS}/{{namespace_id}}");
    [
        NS.to_string(),
        format!("{id}/keys"),
        format!("{id}/values/{{*key_name}}"),
        format!("{id}/metadata/{{*key_name}}"),
        format!("{id}/bulk"),
        format!("{id}/bulk/delete"),
        format!("{id}/bulk/get"),
        id,
    ]
}

pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let [ns, keys_of, values, metadata, bulk, bulk_del, bulk_get_of, id] = patterns();
    Router::new()
        .route(&ns, get(namespaces).post(create))
        .route(&id, get(namespace).put(rename).delete(drop_namespace))
        .route(&keys_of, get(keys))
        .route(&values, get(get_value).put(put_value).delete(delete_value))
        .route(&metadata, get(get_metadata))
        .route(&bulk, put(bulk_put).delete(bulk_delete))
        .route(&bulk_del, post(bulk_delete))
        .route(&bulk_get_of, post(bulk_get))
        .route_layer(axum::middleware::from_fn_with_state(shared, authenticate))
        // Bodies are read by `read_body`, with each route's own limit and Workers KV's texts.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Authenticates every REST request; the user goes into the request's extensions.
async fn authenticate(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    mut req: Request,
    next: Next,
) -> Response {
    match auth::authenticate(&shared, conn, req.headers()) {
        Ok(who) => {
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        Err(e) => {
            super::discard(req.into_body()).await;
            Fail(e).into_response()
        }
    }
}

/// An error in Cloudflare's envelope.
pub struct Fail(HttpError);

impl From<HttpError> for Fail {
    fn from(e: HttpError) -> Fail {
        Fail(e)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = json!({
            "success": false,
            "errors": [{"code": e.code, "message": e.message}],
            "messages": [],
            "result": null,
        });
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(body)).into_response()
    }
}

type Answer = Result<Response, Fail>;

fn ok(result: Value) -> Answer {
    Ok(axum::Json(json!({"success": true, "errors": [], "messages": [], "result": result})).into_response())
}

fn ok_paged(result: Value, info: Value) -> Answer {
    Ok(axum::Json(json!({
        "success": true,
        "errors": [],
        "messages": [],
        "result": result,
        "result_info": info,
    }))
    .into_response())
}

/// Any path under `/client/v4` that is no route: Cloudflare's 7003; other paths: 404.
pub async fn no_route(req: Request) -> Response {
    let path = req.uri().path();
    match path.strip_prefix("/client/v4") {
        Some(rest) => Fail(HttpError::no_route(rest)).into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found\n").into_response(),
    }
}

pub async fn method_not_allowed(req: Request) -> Response {
    if req.uri().path().starts_with("/client/v4/") {
        Fail(HttpError::method_not_allowed()).into_response()
    } else {
        StatusCode::METHOD_NOT_ALLOWED.into_response()
    }
}

/// The REST wording of an error about namespaces: `<op>: 'namespace not found'`, and the
/// API's lower-case duplicate-title text.
fn rest_error(op: &str, e: HttpError) -> Fail {
    Fail(match e.code {
        api::NAMESPACE_NOT_FOUND => HttpError::namespace_not_found(op),
        api::TITLE_TAKEN => HttpError::new(e.status, e.code, api::TITLE_TAKEN_TEXT),
        _ => e,
    })
}

/// The raw (still percent-encoded) path segment `i` (0 is the empty one before the first
/// `/`); `rest` takes the remainder of the path from it on.
fn segment(uri: &Uri, i: usize, rest: bool) -> String {
    let path = uri.path();
    let mut parts = path.splitn(if rest { i + 1 } else { usize::MAX }, '/');
    parts.nth(i).unwrap_or_default().to_string()
}

/// A request on one namespace: authenticated, the namespace selected (scope checked).
struct OnNamespace {
    call: Call,
    ns: crate::kv::Namespace,
}

fn on_namespace(shared: &Arc<Shared>, who: &Who, uri: &Uri, op: &str) -> Result<OnNamespace, Fail> {
    let mut call = Call::new(shared, who);
    let raw = segment(uri, NS_AT, false);
    let id = super::decode_path(&raw).map_err(|_| HttpError::namespace_not_found(op))?;
    let ns = call.select(&id).map_err(|e| rest_error(op, e))?;
    Ok(OnNamespace { call, ns })
}

/// `r`, or its error once the unread request body is discarded (an answer sent before the
/// body is read could otherwise reach a client still sending it as a reset connection).
async fn or_discard<T>(r: Result<T, Fail>, body: Body) -> Result<(T, Body), Fail> {
    match r {
        Ok(t) => Ok((t, body)),
        Err(e) => {
            super::discard(body).await;
            Err(e)
        }
    }
}

/// The key named by the rest of the path, decoded once (UTF-8, see `decode_key`).
fn key_of(uri: &Uri) -> Result<Bytes, Fail> {
    let raw = segment(uri, KEY_AT, true);
    super::decode_key(&raw).map_err(|e| Fail(HttpError::kv(&e)))
}

fn describe(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "supports_url_encoding": true})
}

/// Reads a small JSON body.
async fn json_body(body: Body, grace: Duration) -> Result<Value, Fail> {
    let bytes = read_body(body, SMALL_BODY, grace)
        .await
        .map_err(|e| e.json(SMALL_BODY))?;
    serde_json::from_slice(&bytes).map_err(|e| Fail(HttpError::malformed_json(e)))
}

fn title_of(v: &Value) -> Result<String, Fail> {
    v.get("title")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Fail(HttpError::invalid_body("a JSON object with a string \"title\"")))
}

/// A positive integer query parameter (`page=2`, `per_page=50.0` as the Python SDK may send).
fn positive(params: &Params, name: &str, default: u64) -> Result<u64, Fail> {
    let Some(v) = params.get(name) else { return Ok(default) };
    let n = v.parse::<u64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    match n {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Fail(HttpError::invalid_param(
            name,
            v,
            "Please specify an integer greater than 0.",
        ))),
    }
}

/// `GET /namespaces?page=&per_page=&order=id|title&direction=asc|desc`: a page of namespaces
/// (20 by default, at most 100: a larger `per_page` is taken as 100; wrangler pages with 100).
async fn namespaces(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let params = Params::of(req.uri());
    let page = positive(&params, "page", 1)?;
    let per_page = positive(&params, "per_page", 20)?.min(100);
    let order = params.get("order");
    if order.is_some_and(|o| o != "id" && o != "title") {
        return Err(Fail(HttpError::invalid_param(
            "order",
            order.unwrap_or_default(),
            "Please specify \"id\" or \"title\".",
        )));
    }
    let desc = match params.get("direction") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(d) => {
            return Err(Fail(HttpError::invalid_param(
                "direction",
                d,
                "Please specify \"asc\" or \"desc\".",
            )))
        }
    };
    let mut call = Call::new(&shared, &who);
    let reply = call.run(vec![word("KV.NAMESPACE"), word("LIST")])?;
    let Reply::Array(all) = reply else {
        return Err(Fail(HttpError::new(500, api::INTERNAL, "unexpected reply")));
    };
    let mut list: Vec<(String, String)> = all
        .iter()
        .map(|n| {
            (
                text(field(n, "id")).unwrap_or_default(),
                text(field(n, "title")).unwrap_or_default(),
            )
        })
        .collect();
    // Without `order`, in the registry's order (creation order, freed slots reused first).
    match order {
        Some("id") => list.sort(),
        Some(_) => list.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0))),
        None => {}
    }
    if desc {
        list.reverse();
    }
    let total = list.len() as u64;
    let start = ((page - 1).saturating_mul(per_page)).min(total) as usize;
    let end = (start as u64 + per_page).min(total) as usize;
    let result: Vec<Value> = list[start..end].iter().map(|(id, t)| describe(id, t)).collect();
    let info = json!({
        "page": page,
        "per_page": per_page,
        "count": result.len(),
        "total_count": total,
        "total_pages": total.div_ceil(per_page),
    });
    ok_paged(Value::Array(result), info)
}

/// `POST /namespaces {title}` → `{id, title, supports_url_encoding}`.
async fn create(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let title = title_of(&json_body(req.into_body(), shared.config.http_timeout()).await?)?;
    let mut call = Call::new(&shared, &who);
    let reply = call
        .run(vec![word("KV.NAMESPACE"), word("CREATE"), arg(&title)])
        .map_err(|e| rest_error("create namespace", e))?;
    call.durable().await?;
    ok(describe(
        &text(field(&reply, "id")).unwrap_or_default(),
        &text(field(&reply, "title")).unwrap_or_default(),
    ))
}

/// `GET /namespaces/{id}` → `{id, title, supports_url_encoding}`.
async fn namespace(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "get namespace";
    let OnNamespace { mut call, ns } = on_namespace(&shared, &who, req.uri(), op)?;
    let reply = call
        .run(vec![word("KV.NAMESPACE"), word("GET"), arg(&ns.id)])
        .map_err(|e| rest_error(op, e))?;
    ok(describe(
        &text(field(&reply, "id")).unwrap_or_default(),
        &text(field(&reply, "title")).unwrap_or_default(),
    ))
}

/// `PUT /namespaces/{id} {title}`: a new title; answers the namespace as it is now.
async fn rename(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "rename namespace";
    let (parts, body) = req.into_parts();
    let (OnNamespace { mut call, ns }, body) = or_discard(on_namespace(&shared, &who, &parts.uri, op), body).await?;
    let title = title_of(&json_body(body, shared.config.http_timeout()).await?)?;
    call.run(vec![word("KV.NAMESPACE"), word("RENAME"), arg(&ns.id), arg(&title)])
        .map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    ok(describe(&ns.id, &title))
}

/// `DELETE /namespaces/{id}`: the namespace and every key in it.
async fn drop_namespace(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "delete namespace";
    let OnNamespace { mut call, ns } = on_namespace(&shared, &who, req.uri(), op)?;
    call.run(vec![word("KV.NAMESPACE"), word("DELETE"), arg(&ns.id)])
        .map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    ok(Value::Null)
}

/// `GET /namespaces/{id}/keys?prefix=&limit=&cursor=` → `[{name, expiration?, metadata?}]`
/// with `result_info {count, cursor}` (`cursor` empty on the last page). `limit` is 10..1000
/// (default 1000), as the REST API takes it.
async fn keys(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "list keys";
    let OnNamespace { mut call, .. } = on_namespace(&shared, &who, req.uri(), op)?;
    let params = Params::of(req.uri());
    let mut argv = vec![word("KV.LIST"), word("FORMAT"), word("json")];
    if let Some(p) = prefix_of(&params)? {
        argv.extend([word("PREFIX"), arg(p)]);
    }
    if let Some(l) = params.get("limit") {
        // Below the REST API's minimum of 10 (larger ones and non-numbers are KV.LIST's to judge).
        if crate::num::parse_i64(l.as_bytes()).is_some_and(|n| n < 10) {
            return Err(Fail(HttpError::invalid_param(
                "limit",
                l,
                "Please specify an integer greater than or equal to 10.",
            )));
        }
        argv.extend([word("LIMIT"), arg(l)]);
    }
    if let Some(c) = params.get("cursor") {
        argv.extend([word("CURSOR"), arg(c)]);
    }
    let body = call
        .run_list(argv, Box::new(KeysPage::default()))
        .map_err(|e| rest_error(op, e))?;
    Ok(super::json_body(body))
}

/// The body of a key list, written as `KV.LIST` walks it: Cloudflare's envelope with the
/// entries as `result` and `result_info: {count, cursor}` (the cursor empty on the last page).
struct KeysPage {
    out: Vec<u8>,
    /// Scratch for `write_metadata`, kept for the page.
    keys: Vec<(usize, usize)>,
}

impl Default for KeysPage {
    fn default() -> KeysPage {
        KeysPage {
            out: br#"{"success":true,"errors":[],"messages":[],"result":["#.to_vec(),
            keys: Vec::new(),
        }
    }
}

impl ListWriter for KeysPage {
    fn entry(&mut self, n: usize, key: &[u8], expiration: Option<i64>, meta: Option<&[u8]>) {
        json_entry_head(&mut self.out, n, key, expiration);
        if let Some(m) = meta {
            self.out.extend_from_slice(br#","metadata":"#);
            super::write_metadata(&mut self.out, m, &mut self.keys);
        }
        self.out.push(b'}');
    }

    fn finish(&mut self, n: usize, _more: bool, cursor: Option<&str>) -> Reply {
        let out = &mut self.out;
        out.extend_from_slice(br#"],"result_info":{"count":"#);
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        // Base64url: nothing to escape.
        out.extend_from_slice(br#","cursor":""#);
        out.extend_from_slice(cursor.unwrap_or_default().as_bytes());
        out.extend_from_slice(br#""}}"#);
        Reply::Bulk(std::mem::take(out).into())
    }
}

/// The `prefix` of a list: like keys, it must decode to UTF-8 (a prefix with U+FFFD in place
/// of its bad bytes would list other keys than the ones asked for).
pub fn prefix_of(params: &Params) -> Result<Option<&str>, HttpError> {
    match params.get_checked("prefix") {
        Some((_, false)) => Err(HttpError::kv(&KvError::PrefixNotDecodable)),
        p => Ok(p.map(|(p, _)| p)),
    }
}

/// `GET /namespaces/{id}/values/{key}` → the raw value, with an `expiration` header (unix
/// seconds) when the key expires; 404 `get: 'key not found'`.
async fn get_value(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "get";
    let OnNamespace { mut call, .. } = on_namespace(&shared, &who, req.uri(), op)?;
    let key = key_of(req.uri())?;
    let reply = call
        .run(vec![word("KV.GETWITHMETADATA"), key, word("WITHEXPIRATION")])
        .map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    let Some(Reply::Bulk(value)) = field(&reply, "value") else {
        return Err(Fail(HttpError::key_not_found(op)));
    };
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if let Some(Reply::Int(e)) = field(&reply, "expiration") {
        resp = resp.header("expiration", e.to_string());
    }
    Ok(resp.body(Body::from(value.clone())).expect("valid response"))
}

/// `GET /namespaces/{id}/metadata/{key}` → the key's metadata, or null; 404
/// `metadata: 'key not found'`.
async fn get_metadata(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "metadata";
    let OnNamespace { mut call, .. } = on_namespace(&shared, &who, req.uri(), op)?;
    let key = key_of(req.uri())?;
    let reply = call
        .run(vec![word("KV.GETWITHMETADATA"), key])
        .map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    if matches!(field(&reply, "value"), None | Some(Reply::Nil)) {
        return Err(Fail(HttpError::key_not_found(op)));
    }
    ok(super::metadata_json(field(&reply, "metadata")))
}

/// `PUT /namespaces/{id}/values/{key}?expiration=&expiration_ttl=`: the body is the value, or
/// `multipart/form-data` with a `value` part and an optional `metadata` part (JSON text).
/// Value, metadata and expiration are replaced together.
async fn put_value(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "put";
    let (parts, body) = req.into_parts();
    let target = on_namespace(&shared, &who, &parts.uri, op).and_then(|n| Ok((n, key_of(&parts.uri)?)));
    let ((OnNamespace { mut call, .. }, key), body) = or_discard(target, body).await?;
    let params = Params::of(&parts.uri);
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    let (value, metadata) = if multipart {
        read_multipart(Request::from_parts(parts, body), shared.config.http_timeout()).await?
    } else {
        let body = read_body(body, crate::errors::KV_MAX_VALUE, shared.config.http_timeout())
            .await
            .map_err(value_body_error)?;
        (body, None)
    };
    call.run(super::put_argv(key, value, &params, metadata))
        .map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    ok(Value::Null)
}

/// A value body over 25 MiB: Workers KV's text with the length declared or counted.
fn value_body_error(e: BodyError) -> Fail {
    Fail(e.data(KvError::ValueTooLong))
}

/// The `value` and `metadata` parts of a multipart body (read whole first, within the limit;
/// then parsed by axum's multer-based reader).
async fn read_multipart(req: Request, grace: Duration) -> Result<(Bytes, Option<Bytes>), Fail> {
    use axum::extract::FromRequest;
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, MULTIPART_BODY, grace).await.map_err(value_body_error)?;
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut form = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(|e| Fail(HttpError::invalid_multipart(e.body_text())))?;
    let (mut value, mut metadata) = (None, None);
    while let Some(part) = form
        .next_field()
        .await
        .map_err(|e| Fail(HttpError::invalid_multipart(e.body_text())))?
    {
        let name = part.name().unwrap_or_default().to_string();
        let data = part
            .bytes()
            .await
            .map_err(|e| Fail(HttpError::invalid_multipart(e.body_text())))?;
        match name.as_str() {
            "value" => value = Some(data),
            "metadata" => metadata = Some(data),
            _ => {}
        }
    }
    let value = value.ok_or_else(|| Fail(HttpError::invalid_multipart("no \"value\" part")))?;
    Ok((value, metadata))
}

/// `DELETE /namespaces/{id}/values/{key}` (a missing key is not an error).
async fn delete_value(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "delete";
    let OnNamespace { mut call, .. } = on_namespace(&shared, &who, req.uri(), op)?;
    let key = key_of(req.uri())?;
    call.run(vec![word("KV.DELETE"), key]).map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    ok(Value::Null)
}

/// A bulk body (at most 100 MB, Workers KV's limit, with its text).
async fn bulk_body(body: Body, grace: Duration) -> Result<Bytes, Fail> {
    read_body(body, limits::MAX_BULK_BYTES, grace)
        .await
        .map_err(|e| Fail(e.data(KvError::BulkTooLarge)))
}

fn bulk_result(reply: &Reply) -> Value {
    let ok = match field(reply, "successful_key_count") {
        Some(Reply::Int(n)) => *n,
        _ => 0,
    };
    let failed: Vec<Value> = match field(reply, "unsuccessful_keys") {
        Some(Reply::Array(a)) => a.iter().filter_map(|k| text(Some(k))).map(Value::String).collect(),
        _ => Vec::new(),
    };
    json!({"successful_key_count": ok, "unsuccessful_keys": failed})
}

/// `PUT /namespaces/{id}/bulk [{key, value, expiration?, expiration_ttl?, metadata?,
/// base64?}]` → `{successful_key_count, unsuccessful_keys}`.
async fn bulk_put(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "bulk put";
    let (parts, body) = req.into_parts();
    let (OnNamespace { mut call, .. }, body) = or_discard(on_namespace(&shared, &who, &parts.uri, op), body).await?;
    let body = bulk_body(body, shared.config.http_timeout()).await?;
    let reply = call
        .run(vec![word("KV.BULKPUT"), body])
        .map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    ok(bulk_result(&reply))
}

/// `DELETE /namespaces/{id}/bulk` and `POST /namespaces/{id}/bulk/delete` with a JSON array
/// of key names → `{successful_key_count, unsuccessful_keys}`.
async fn bulk_delete(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "bulk delete";
    let (parts, body) = req.into_parts();
    let (OnNamespace { mut call, .. }, body) = or_discard(on_namespace(&shared, &who, &parts.uri, op), body).await?;
    let body = bulk_body(body, shared.config.http_timeout()).await?;
    let keys = key_names(&body)?;
    if keys.is_empty() {
        return ok(json!({"successful_key_count": 0, "unsuccessful_keys": []}));
    }
    let mut argv = Vec::with_capacity(keys.len() + 1);
    argv.push(word("KV.BULKDELETE"));
    argv.extend(keys);
    let reply = call.run(argv).map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    ok(bulk_result(&reply))
}

/// The key names of a bulk delete: a JSON array of strings, at most 10,000 kept (KV.BULKDELETE's
/// limit). The rest of a longer array is counted without being kept, so a 100 MB body of tiny
/// names cannot become millions of strings.
fn key_names(body: &[u8]) -> Result<Vec<Bytes>, Fail> {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, SeqAccess, Visitor};
    struct Names;
    impl<'de> Visitor<'de> for Names {
        type Value = Vec<Bytes>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of key names")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = seq.next_element::<String>()? {
                if out.len() == limits::MAX_BULK_ITEMS {
                    let mut n = out.len() + 1;
                    while seq.next_element::<IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    return Err(A::Error::custom(format!("too many: {n}")));
                }
                out.push(Bytes::from(name));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let names = de.deserialize_seq(Names).and_then(|n| de.end().map(|_| n));
    names.map_err(|e| {
        let text = e.to_string();
        Fail(
            match text
                .strip_prefix("too many: ")
                .and_then(|n| n.split_whitespace().next()?.parse().ok())
            {
                Some(n) => HttpError::kv(&KvError::BulkTooMany(n)),
                None => HttpError::invalid_body("a JSON array of key names (strings)"),
            },
        )
    })
}

/// A bulk get's request: `{keys, type?, withMetadata?, cacheTtl?}` (shared with the binding
/// protocol, which sends the same body).
pub struct BulkGet {
    pub keys: Vec<String>,
    pub json: bool,
    pub with_metadata: bool,
}

pub fn parse_bulk_get(body: &[u8]) -> Result<BulkGet, HttpError> {
    let v: Value = serde_json::from_slice(body).map_err(HttpError::malformed_json)?;
    let expected = || HttpError::invalid_body("a JSON object with \"keys\", an array of key names (strings)");
    let obj = v.as_object().ok_or_else(expected)?;
    // Miniflare's order of checks: the type, then the number of keys, then each key.
    let json = match obj.get("type") {
        None | Some(Value::Null) => false,
        Some(Value::String(t)) if t == "text" => false,
        Some(Value::String(t)) if t == "json" => true,
        Some(Value::String(t)) => return Err(HttpError::kv(&KvError::InvalidType(t.clone()))),
        Some(other) => return Err(HttpError::kv(&KvError::InvalidType(other.to_string()))),
    };
    let keys: Vec<String> = obj
        .get("keys")
        .and_then(|k| serde_json::from_value(k.clone()).ok())
        .ok_or_else(expected)?;
    if keys.is_empty() {
        // KV.BULKGET's rule; an empty argument list would be an arity error instead.
        return Err(HttpError::kv(&KvError::BulkGetTooFew));
    }
    if let Some(t) = obj.get("cacheTtl").filter(|t| !t.is_null()) {
        let raw = t.as_str().map_or_else(|| t.to_string(), str::to_string);
        limits::check_cache_ttl(&raw).map_err(|e| HttpError::kv(&e))?;
    }
    let with_metadata = obj.get("withMetadata").and_then(Value::as_bool).unwrap_or(false);
    Ok(BulkGet {
        keys,
        json,
        with_metadata,
    })
}

/// A value as a bulk get shows it: text (lossy for bytes that are not UTF-8), or parsed JSON.
pub fn bulk_value(value: &[u8], json: bool) -> Result<Value, HttpError> {
    if json {
        serde_json::from_slice(value).map_err(|_| HttpError::kv(&KvError::BulkGetNotType("json".into())))
    } else {
        Ok(Value::String(String::from_utf8_lossy(value).into_owned()))
    }
}

/// Runs a bulk get: `KV.BULKGET` of the keys, in their order.
pub fn run_bulk_get(call: &mut Call, req: &BulkGet) -> Result<Vec<Reply>, HttpError> {
    let mut argv = Vec::with_capacity(req.keys.len() + 1);
    argv.push(word("KV.BULKGET"));
    argv.extend(req.keys.iter().map(|k| arg(k)));
    match call.run(argv)? {
        Reply::Array(a) => Ok(a),
        _ => Err(HttpError::new(500, api::INTERNAL, "unexpected reply")),
    }
}

/// `POST /namespaces/{id}/bulk/get {keys, type?, withMetadata?}` → `{values: {key: value |
/// {value, metadata, expiration?} | null}}` (1..100 keys).
async fn bulk_get(State(shared): State<Arc<Shared>>, Extension(who): Extension<Who>, req: Request) -> Answer {
    let op = "bulk get";
    let (parts, body) = req.into_parts();
    let (OnNamespace { mut call, .. }, body) = or_discard(on_namespace(&shared, &who, &parts.uri, op), body).await?;
    let body = read_body(body, SMALL_BODY, shared.config.http_timeout())
        .await
        .map_err(|e| e.json(SMALL_BODY))?;
    let q = parse_bulk_get(&body)?;
    let replies = run_bulk_get(&mut call, &q).map_err(|e| rest_error(op, e))?;
    call.durable().await?;
    let mut values = Map::new();
    for (k, r) in q.keys.iter().zip(&replies) {
        let v = match super::bulk_entry(r) {
            None => Value::Null,
            Some((value, meta, exp)) => {
                let value = bulk_value(&value, q.json)?;
                if q.with_metadata {
                    let mut m = Map::new();
                    m.insert("value".into(), value);
                    m.insert("metadata".into(), super::metadata_json(meta));
                    if let Some(e) = exp {
                        m.insert("expiration".into(), e.into());
                    }
                    Value::Object(m)
                } else {
                    value
                }
            }
        };
        values.insert(k.clone(), v);
    }
    ok(json!({"values": values}))
}
