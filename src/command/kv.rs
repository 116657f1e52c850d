//! The Workers KV data commands, in the selected namespace: KV.PUT, KV.GET,
//! KV.GETWITHMETADATA, KV.MGET, KV.DELETE, KV.LIST, KV.BULKPUT, KV.BULKDELETE.
//!
//! Every one checks Workers KV's limits (kv/limits.rs) before anything is written, counts its
//! billing units and honours the daily quotas (kv/usage.rs). KV keys are ordinary keys: the
//! records are the ones GET, TTL, SCAN and the rest see.

use super::args::is;
use super::{table, Args, Command, Ctx};
use crate::errors::{self, KvError, KvOp};
use crate::kv::limits::{self, Expiry};
use crate::protocol::{encode, Protocol, Reply};
use crate::store::entry::{Entry, Rec};
use bytes::{Bytes, BytesMut};
use serde_json::Value;
use std::ops::Bound;
use std::sync::atomic::Ordering;

/// Counts `n` operations of `op` against the selected namespace's quota.
fn charge(ctx: &Ctx, op: KvOp, n: u64) -> Result<(), KvError> {
    let q = &ctx.shared.config.kv;
    let quota = match op {
        KvOp::Read => &q.quota_reads,
        KvOp::Write => &q.quota_writes,
        KvOp::Delete => &q.quota_deletes,
        KvOp::List => &q.quota_lists,
    }
    .load(Ordering::Relaxed);
    ctx.shared
        .namespaces
        .usage(ctx.session.db)
        .charge(op, n, quota, ctx.now)
}

/// Refuses a write that would leave the namespace storing more than `kv-quota-storage`
/// bytes: what it stores now, less the record this write replaces, plus the new record (sizes
/// as INFO and KV.NAMESPACE STATS count them: whole records).
fn check_storage(ctx: &Ctx, key: &[u8], vlen: usize, deadline: bool, mlen: Option<usize>) -> Result<(), KvError> {
    let quota = ctx.shared.config.kv.quota_storage.load(Ordering::Relaxed);
    if quota > 0 {
        let used = ctx.shared.store.info(ctx.session.db, ctx.now).bytes;
        let old = ctx.db().read(key, |r| r.alloc_size()).unwrap_or(0);
        let new = Entry::size_for(key.len(), vlen, deadline, mlen);
        if (used - old.min(used) + new) as u64 > quota as u64 {
            return Err(KvError::StorageQuotaExceeded);
        }
    }
    Ok(())
}

fn min_ttl(ctx: &Ctx) -> i64 {
    ctx.shared.config.kv.min_ttl.load(Ordering::Relaxed)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The expiration of a write from its two optional forms, checked against the limits.
fn expiry(ctx: &Ctx, at: Option<&str>, ttl: Option<&str>) -> Result<Expiry, KvError> {
    if at.is_some() && ttl.is_some() {
        return Err(KvError::MixedExpiration);
    }
    let min = min_ttl(ctx);
    let ttl = ttl.map(|t| limits::parse_ttl(t, min)).transpose()?;
    let at = at.map(|a| limits::parse_expiration(a, min, ctx.now)).transpose()?;
    Expiry::from_parts(at, ttl)
}

/// A JSON value as native RESP types: maps, arrays, integers, doubles, booleans, nulls (in
/// RESP2 these become flat arrays, 1/0 and null bulk strings).
fn json_reply(v: Value) -> Reply {
    match v {
        Value::Null => Reply::Nil,
        Value::Bool(b) => Reply::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Reply::Int(i),
            None => Reply::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Reply::Bulk(Bytes::from(s)),
        Value::Array(a) => Reply::Array(a.into_iter().map(json_reply).collect()),
        Value::Object(o) => Reply::Map(
            o.into_iter()
                .map(|(k, v)| (Reply::Bulk(Bytes::from(k)), json_reply(v)))
                .collect(),
        ),
    }
}

/// How a read returns values: `TYPE text` (bulk strings, the default) or `TYPE json`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueType {
    Text,
    Json,
}

fn parse_type(args: &mut Args) -> Result<Result<ValueType, KvError>, Reply> {
    let (t, _) = parse_read_opts(args, false)?;
    Ok(t)
}

/// `[TYPE text|json]`, and `[WITHEXPIRATION]` where `with_exp` allows it.
fn parse_read_opts(args: &mut Args, with_exp: bool) -> Result<(Result<ValueType, KvError>, bool), Reply> {
    let mut t = Ok(ValueType::Text);
    let mut exp = false;
    while let Some(opt) = args.next_opt() {
        if is(&opt, "type") && !args.is_empty() {
            let v = args.next()?;
            t = if is(&v, "text") {
                Ok(ValueType::Text)
            } else if is(&v, "json") {
                Ok(ValueType::Json)
            } else {
                Err(KvError::InvalidType(text(&v)))
            };
        } else if with_exp && is(&opt, "withexpiration") {
            exp = true;
        } else {
            return Err(errors::err(errors::SYNTAX));
        }
    }
    Ok((t, exp))
}

fn value_reply(value: Bytes, t: ValueType) -> Result<Reply, KvError> {
    match t {
        ValueType::Text => Ok(Reply::Bulk(value)),
        ValueType::Json => serde_json::from_slice(&value)
            .map(json_reply)
            .map_err(|e| KvError::ValueNotJson(e.to_string())),
    }
}

/// A value and its metadata: a map `{value, metadata}` in RESP3, a two-element array in RESP2.
fn with_metadata(proto: Protocol, value: Reply, meta: Option<Bytes>) -> Reply {
    with_fields(proto, value, meta, None)
}

/// `{value, metadata}` and, when `exp` is given, `expiration` (unix seconds, or null): a map
/// in RESP3, an array of the values in RESP2.
fn with_fields(proto: Protocol, value: Reply, meta: Option<Bytes>, exp: Option<Option<i64>>) -> Reply {
    let meta = Reply::bulk_or_nil(meta);
    let exp = exp.map(|e| e.map_or(Reply::Nil, Reply::Int));
    if proto == Protocol::Resp3 {
        let mut m = vec![(Reply::bulk_str("value"), value), (Reply::bulk_str("metadata"), meta)];
        m.extend(exp.map(|e| (Reply::bulk_str("expiration"), e)));
        Reply::Map(m)
    } else {
        let mut a = vec![value, meta];
        a.extend(exp);
        Reply::Array(a)
    }
}

fn read_with_meta(ctx: &Ctx, key: &[u8]) -> Option<(Bytes, Option<Bytes>)> {
    ctx.db().counted().read(key, |r: &Rec| {
        (Bytes::copy_from_slice(r.value()), r.meta().map(Bytes::copy_from_slice))
    })
}

/// A record's value, metadata and expiration (unix seconds), read at once.
type Full = (Bytes, Option<Bytes>, Option<i64>);

fn read_full(ctx: &Ctx, key: &[u8]) -> Option<Full> {
    ctx.db().counted().read(key, |r: &Rec| {
        (
            Bytes::copy_from_slice(r.value()),
            r.meta().map(Bytes::copy_from_slice),
            r.deadline().map(|d| d.div_euclid(1000)),
        )
    })
}

/// `KV.PUT key value [EXPIRATION unix-seconds | EXPIRATIONTTL seconds] [METADATA json]`
///
/// Replaces value, metadata and expiration together, as Workers KV's put does.
pub struct KvPut {
    key: Bytes,
    value: Bytes,
    expiration: Option<String>,
    ttl: Option<String>,
    metadata: Option<Bytes>,
}

impl Command for KvPut {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let value = args.next()?;
        let mut p = KvPut {
            key,
            value,
            expiration: None,
            ttl: None,
            metadata: None,
        };
        while let Some(opt) = args.next_opt() {
            if args.is_empty() {
                return Err(errors::err(errors::SYNTAX));
            }
            let v = args.next()?;
            if is(&opt, "expiration") {
                p.expiration = Some(text(&v));
            } else if is(&opt, "expirationttl") {
                p.ttl = Some(text(&v));
            } else if is(&opt, "metadata") {
                p.metadata = Some(v);
            } else {
                return Err(errors::err(errors::SYNTAX));
            }
        }
        Ok(p)
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<(), KvError> {
            // Workers KV's order of checks: key, expiration, metadata, value.
            limits::check_key(&self.key)?;
            let exp = expiry(ctx, self.expiration.as_deref(), self.ttl.as_deref())?;
            if let Some(m) = &self.metadata {
                limits::check_metadata(m)?;
            }
            limits::check_value(self.value.len())?;
            let deadline = exp.deadline(ctx.now);
            let mlen = self.metadata.as_ref().map(|m| m.len());
            check_storage(ctx, &self.key, self.value.len(), deadline.is_some(), mlen)?;
            charge(ctx, KvOp::Write, 1)?;
            ctx.db().put(&self.key, &self.value, deadline, self.metadata.as_deref());
            Ok(())
        };
        match run() {
            Ok(()) => Reply::Ok,
            Err(e) => e.reply(),
        }
    }
}

/// `KV.GET key [TYPE text|json]`: the value, or null.
pub struct KvGet {
    key: Bytes,
    kind: Result<ValueType, KvError>,
}

impl Command for KvGet {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let kind = parse_type(args)?;
        Ok(KvGet { key, kind })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, KvError> {
            let kind = self.kind?;
            limits::check_key(&self.key)?;
            charge(ctx, KvOp::Read, 1)?;
            match ctx.db().get(&self.key) {
                Some(v) => value_reply(v, kind),
                None => Ok(Reply::Nil),
            }
        };
        run().unwrap_or_else(|e| e.reply())
    }
}

/// `KV.GETWITHMETADATA key [TYPE text|json] [WITHEXPIRATION]`: value and metadata (JSON
/// text), both null when the key does not exist; with WITHEXPIRATION also `expiration` (unix
/// seconds, or null), read with them in one lookup (the REST API's `expiration` header).
pub struct KvGetWithMetadata {
    key: Bytes,
    kind: Result<ValueType, KvError>,
    with_expiration: bool,
}

impl Command for KvGetWithMetadata {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let (kind, with_expiration) = parse_read_opts(args, true)?;
        Ok(KvGetWithMetadata {
            key,
            kind,
            with_expiration,
        })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, KvError> {
            let kind = self.kind?;
            limits::check_key(&self.key)?;
            charge(ctx, KvOp::Read, 1)?;
            let proto = ctx.session.proto;
            let exp = |e: Option<i64>| self.with_expiration.then_some(e);
            Ok(match read_full(ctx, &self.key) {
                Some((v, m, e)) => with_fields(proto, value_reply(v, kind)?, m, exp(e)),
                None => with_fields(proto, Reply::Nil, None, exp(None)),
            })
        };
        run().unwrap_or_else(|e| e.reply())
    }
}

/// The checks and billing of a bulk read (KV.MGET, KV.BULKGET): 1..100 valid keys, one read
/// each.
fn check_bulk_get(ctx: &Ctx, keys: &[Bytes]) -> Result<(), KvError> {
    if keys.len() > limits::MAX_BULK_GET {
        return Err(KvError::BulkGetTooMany);
    }
    if keys.is_empty() {
        return Err(KvError::BulkGetTooFew);
    }
    for k in keys {
        limits::check_key(k)?;
    }
    charge(ctx, KvOp::Read, keys.len() as u64)
}

/// `KV.MGET key [key ...] [WITHMETADATA]`: 1..100 keys; per key the value (or value and
/// metadata) or null. Billed as one read per key, as Workers KV bills bulk reads.
pub struct KvMget {
    keys: Vec<Bytes>,
    with_metadata: bool,
}

impl Command for KvMget {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut keys = args.rest().to_vec();
        let with_metadata = keys.last().is_some_and(|k| is(k, "withmetadata"));
        if with_metadata {
            keys.pop();
        }
        Ok(KvMget { keys, with_metadata })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, KvError> {
            check_bulk_get(ctx, &self.keys)?;
            let proto = ctx.session.proto;
            let out = self
                .keys
                .iter()
                .map(|k| {
                    if !self.with_metadata {
                        // The value alone: no copy of the metadata.
                        return Reply::bulk_or_nil(ctx.db().get(k));
                    }
                    match read_with_meta(ctx, k) {
                        None => Reply::Nil,
                        Some((v, m)) => with_metadata(proto, Reply::Bulk(v), m),
                    }
                })
                .collect();
            Ok(Reply::Array(out))
        };
        run().unwrap_or_else(|e| e.reply())
    }
}

/// KV.MGET's keys (its `getkeys` hook): its key spec's range, less a trailing WITHMETADATA,
/// which is the option and not a key. Alone (`KV.MGET WITHMETADATA`) the word is still taken
/// as a key: the command refuses that line for having no keys, and the ACL has always
/// checked the word there, so a user without it is refused as before.
pub fn mget_keys(argv: &[Bytes], emit: &mut dyn FnMut(&[u8], table::KeyFlags)) {
    let n = match argv.last() {
        Some(last) if argv.len() > 2 && is(last, "withmetadata") => argv.len() - 1,
        _ => argv.len(),
    };
    table::keys_by_specs(table::key_specs("kv.mget"), &argv[..n], emit);
}

/// `KV.BULKGET key [key ...]`: Workers KV's bulk get with metadata. 1..100 keys; per key
/// `{value, metadata, expiration}` (expiration in unix seconds, or null), or null when the key
/// does not exist. The values together may hold at most 25 MiB. Billed as one read per key.
///
/// Beyond `KV.MGET ... WITHMETADATA` it gives each key's expiration and caps the total size,
/// as the REST and binding bulk gets answer (the HTTP surfaces use it).
pub struct KvBulkGet {
    keys: Vec<Bytes>,
}

impl Command for KvBulkGet {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(KvBulkGet {
            keys: args.rest().to_vec(),
        })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, KvError> {
            check_bulk_get(ctx, &self.keys)?;
            let proto = ctx.session.proto;
            let mut total = 0usize;
            let mut out = Vec::with_capacity(self.keys.len());
            for k in &self.keys {
                match read_full(ctx, k) {
                    None => out.push(Reply::Nil),
                    Some((v, m, e)) => {
                        total += v.len();
                        if total > limits::MAX_BULK_GET_BYTES {
                            return Err(KvError::BulkGetTooLarge);
                        }
                        out.push(with_fields(proto, Reply::Bulk(v), m, Some(e)));
                    }
                }
            }
            Ok(Reply::Array(out))
        };
        run().unwrap_or_else(|e| e.reply())
    }
}

/// `KV.DELETE key [key ...]`: the number of keys that existed. Deleting a missing key is not
/// an error (Workers KV's delete always succeeds); each key is one billed delete.
pub struct KvDelete {
    keys: Vec<Bytes>,
}

impl Command for KvDelete {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(KvDelete {
            keys: args.rest().to_vec(),
        })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, KvError> {
            for k in &self.keys {
                limits::check_key(k)?;
            }
            charge(ctx, KvOp::Delete, self.keys.len() as u64)?;
            let db = ctx.db();
            Ok(Reply::Int(self.keys.iter().filter(|k| db.remove(k)).count() as i64))
        };
        run().unwrap_or_else(|e| e.reply())
    }
}

/// `KV.LIST [PREFIX p] [LIMIT n] [CURSOR c] [FORMAT resp|json]`: keys in byte order, at most
/// `n` (1..1000, default 1000) per page, as `{keys: [{name, expiration?, metadata?}],
/// list_complete, cursor?}`: RESP values, or with `FORMAT json` one bulk string holding that
/// object as JSON (Workers KV's list result: names as strings, metadata as JSON values).
///
/// The cursor names the last key returned; the next page starts strictly after it. So no key
/// appears on two pages, and a key present for the whole listing is returned exactly once,
/// whatever is written meanwhile. Expired keys are never listed.
///
/// A user limited by ACL key patterns lists only the keys its read patterns match (Redis's
/// SCAN and KEYS show every key, but here a list entry carries the key's metadata, stored
/// data the user may not read); see `LIST_SKIP_BUDGET` for what bounds that walk.
///
/// The HTTP surfaces run it with a `ListWriter` of their own in the session (see
/// `Session::list_writer`): the same checks and walk, their body written as the walk goes.
pub struct KvList {
    prefix: Bytes,
    limit: Option<String>,
    cursor: Option<Bytes>,
    json: bool,
}

impl Command for KvList {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut l = KvList {
            prefix: Bytes::new(),
            limit: None,
            cursor: None,
            json: false,
        };
        while let Some(opt) = args.next_opt() {
            if args.is_empty() {
                return Err(errors::err(errors::SYNTAX));
            }
            let v = args.next()?;
            if is(&opt, "prefix") {
                l.prefix = v;
            } else if is(&opt, "limit") {
                l.limit = Some(text(&v));
            } else if is(&opt, "cursor") {
                l.cursor = Some(v);
            } else if is(&opt, "format") && (is(&v, "json") || is(&v, "resp")) {
                l.json = is(&v, "json");
            } else {
                return Err(errors::err(errors::SYNTAX));
            }
        }
        Ok(l)
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        // Taken first: the writer is for this command only, whether it lists or fails.
        let writer = ctx.session.list_writer.take();
        let run = || -> Result<Reply, KvError> {
            limits::check_prefix(&self.prefix)?;
            let limit = match &self.limit {
                Some(l) => limits::parse_list_limit(l)?,
                None => limits::MAX_LIST_LIMIT,
            };
            // An empty cursor is the first page, as in Workers KV.
            let after = match &self.cursor {
                Some(c) if !c.is_empty() => Some(limits::decode_cursor(c)?),
                _ => None,
            };
            charge(ctx, KvOp::List, 1)?;
            let prefix = &self.prefix[..];
            // The page is written as it is walked, straight into its final shape: a page is
            // up to 1000 entries, and building a value per entry (and dropping them) was the
            // largest cost of a page after the walk itself.
            match writer {
                Some(mut w) => Ok(walk(ctx, prefix, after.as_deref(), limit, &mut *w)),
                None if self.json => Ok(walk(ctx, prefix, after.as_deref(), limit, &mut JsonList::new())),
                None => {
                    let mut w = RespList {
                        body: BytesMut::new(),
                        proto: ctx.session.proto,
                    };
                    Ok(walk(ctx, prefix, after.as_deref(), limit, &mut w))
                }
            }
        };
        run().unwrap_or_else(|e| e.reply())
    }
}

/// Writes a `KV.LIST` page in one output shape as the walk finds its entries, so that a page
/// is written once, in the shape it leaves in: the RESP reply, `FORMAT json`'s text, or an
/// HTTP surface's body (http/rest.rs, http/workerd.rs), which would otherwise parse the
/// JSON text and write it again.
pub trait ListWriter: Send {
    /// The page's `n`th entry (from 0): its name, expiration (unix seconds) and metadata as
    /// stored (JSON text: KV.PUT checks it; the HTTP surfaces show it as
    /// `http::write_metadata` does).
    fn entry(&mut self, n: usize, key: &[u8], expiration: Option<i64>, meta: Option<&[u8]>);
    /// The page's end: `n` entries, `more` when it is not the last, and the cursor of the
    /// next page when there is one. Returns the reply.
    fn finish(&mut self, n: usize, more: bool, cursor: Option<&str>) -> Reply;
}

/// Walks the page of keys under `prefix` strictly after `after`, at most `limit`, into `w`
/// (see `KvList` for what a user limited by ACL key patterns sees).
fn walk<W: ListWriter + ?Sized>(ctx: &Ctx, prefix: &[u8], after: Option<&[u8]>, limit: usize, w: &mut W) -> Reply {
    let user = &ctx.session.user;
    match user.read_starts(prefix) {
        // Monomorphised with a check that is always true: the unrestricted walk keeps no
        // trace of the restriction (no check per key, no list of ranges).
        None => walk_ranges(ctx, [prefix], |_| true, after, limit, w),
        // A user limited by key patterns lists only the keys it may read (names and
        // metadata are stored data): the walk visits only the ranges its read patterns can
        // match, skips the keys there that they do not, and goes on until the page is full,
        // so a page is not cut short by keys the user cannot see.
        Some(starts) => walk_ranges(
            ctx,
            starts.iter().map(Vec::as_slice),
            |key| user.may_access(key, false),
            after,
            limit,
            w,
        ),
    }
}

/// `walk` over the keys beginning with each of `starts` (disjoint, in order), listing those
/// `readable` accepts and passing over the others (at most `LIST_SKIP_BUDGET` of them).
fn walk_ranges<'s, W: ListWriter + ?Sized>(
    ctx: &Ctx,
    starts: impl IntoIterator<Item = &'s [u8]>,
    readable: impl Fn(&[u8]) -> bool,
    after: Option<&[u8]>,
    limit: usize,
    w: &mut W,
) -> Reply {
    let mut n = 0;
    let mut last: Vec<u8> = Vec::new();
    let mut more = false;
    // Where the listing stopped when that is a key the user may not read (see
    // `LIST_SKIP_BUDGET`): the cursor is then sealed, so that it does not show it.
    let mut hidden_stop: Option<Vec<u8>> = None;
    let mut skipped = 0usize;
    for start in starts {
        let from = match after {
            Some(a) if a >= start => Bound::Excluded(a),
            _ => Bound::Included(start),
        };
        ctx.db().walk_ordered(from, |r| {
            let key = r.key();
            if !key.starts_with(start) {
                return false; // past this range: on to the next
            }
            if !readable(key) {
                skipped += 1;
                if skipped >= LIST_SKIP_BUDGET {
                    hidden_stop = Some(key.to_vec());
                    more = true;
                    return false;
                }
                return true;
            }
            if n == limit {
                // Another key the user may read follows: the page is not the last.
                more = true;
                return false;
            }
            w.entry(n, key, r.deadline().map(|d| d.div_euclid(1000)), r.meta());
            last.clear();
            last.extend_from_slice(key);
            n += 1;
            true
        });
        // The walk only stops early with `more` set, and then the page ends.
        if more {
            break;
        }
    }
    let cursor = match hidden_stop {
        Some(k) => Some(limits::seal_cursor(&k)),
        None => more.then(|| limits::encode_cursor(&last)),
    };
    w.finish(n, more, cursor.as_deref())
}

/// The RESP page: `{keys: [{name, expiration?, metadata?}], list_complete, cursor?}`.
struct RespList {
    /// The entries; the headers before them need the page's counts.
    body: BytesMut,
    proto: Protocol,
}

impl ListWriter for RespList {
    fn entry(&mut self, _n: usize, key: &[u8], expiration: Option<i64>, meta: Option<&[u8]>) {
        let (out, proto) = (&mut self.body, self.proto);
        encode::put_map_header(out, 1 + expiration.is_some() as usize + meta.is_some() as usize, proto);
        encode::put_bulk(out, b"name");
        encode::put_bulk(out, key);
        if let Some(e) = expiration {
            encode::put_bulk(out, b"expiration");
            encode::put_int(out, e);
        }
        if let Some(m) = meta {
            encode::put_bulk(out, b"metadata");
            encode::put_bulk(out, m);
        }
    }

    fn finish(&mut self, n: usize, more: bool, cursor: Option<&str>) -> Reply {
        let proto = self.proto;
        let mut out = BytesMut::with_capacity(self.body.len() + 96);
        encode::put_map_header(&mut out, 2 + more as usize, proto);
        encode::put_bulk(&mut out, b"keys");
        encode::put_array_header(&mut out, n);
        out.extend_from_slice(&self.body);
        encode::put_bulk(&mut out, b"list_complete");
        encode::encode(&mut out, &Reply::Bool(!more), proto);
        if let Some(c) = cursor {
            encode::put_bulk(&mut out, b"cursor");
            encode::put_bulk(&mut out, c.as_bytes());
        }
        Reply::Encoded(out.freeze())
    }
}

/// `FORMAT json`'s page: one bulk string, `{"keys":[{name, expiration?, metadata?}],
/// "list_complete":..., "cursor"?}`, metadata as stored (JSON already: KV.PUT checks it).
struct JsonList {
    out: Vec<u8>,
}

impl JsonList {
    fn new() -> JsonList {
        JsonList {
            out: b"{\"keys\":[".to_vec(),
        }
    }
}

impl ListWriter for JsonList {
    fn entry(&mut self, n: usize, key: &[u8], expiration: Option<i64>, meta: Option<&[u8]>) {
        let out = &mut self.out;
        json_entry_head(out, n, key, expiration);
        if let Some(m) = meta {
            out.extend_from_slice(b",\"metadata\":");
            if serde_json::from_slice::<serde::de::IgnoredAny>(m).is_ok() {
                out.extend_from_slice(m);
            } else {
                json_str(out, &String::from_utf8_lossy(m));
            }
        }
        out.push(b'}');
    }

    fn finish(&mut self, _: usize, more: bool, cursor: Option<&str>) -> Reply {
        let out = &mut self.out;
        out.extend_from_slice(b"],\"list_complete\":");
        out.extend_from_slice(if more { b"false" } else { b"true" });
        if let Some(c) = cursor {
            // Base64url: nothing to escape.
            out.extend_from_slice(b",\"cursor\":\"");
            out.extend_from_slice(c.as_bytes());
            out.push(b'"');
        }
        out.push(b'}');
        Reply::Bulk(std::mem::take(out).into())
    }
}

/// The start of the `n`th `{name, expiration?, ...` of a JSON page (a comma before all but
/// the first), up to where metadata would go. A name that is not UTF-8 (plain SET can write
/// one) is shown with U+FFFD for its bad bytes; its cursor stays exact.
pub fn json_entry_head(out: &mut Vec<u8>, n: usize, key: &[u8], expiration: Option<i64>) {
    out.extend_from_slice(if n == 0 { b"{\"name\":" } else { b",{\"name\":" });
    json_str(out, &String::from_utf8_lossy(key));
    if let Some(e) = expiration {
        out.extend_from_slice(b",\"expiration\":");
        out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Most keys a `KV.LIST` by a user limited by ACL key patterns passes over without listing
/// them (keys in its patterns' ranges that the patterns do not match), per call. The walk
/// holds the namespace's shard locks, so it must stay short (10,000 keys: a few ms); when
/// the budget runs out, the page ends there, not full and possibly empty, with
/// `list_complete` false and a sealed cursor positioned after the last key passed over.
/// Only then can a page that is not the last be empty. Users whose read patterns begin with
/// a literal (`~pub:*`) walk only the keys under it, and never hit this.
const LIST_SKIP_BUDGET: usize = 10_000;

/// The reply of the bulk commands: `{successful_key_count, unsuccessful_keys}`.
fn bulk_reply(ok: usize, failed: Vec<Bytes>) -> Reply {
    Reply::Map(vec![
        (Reply::bulk_str("successful_key_count"), Reply::Int(ok as i64)),
        (
            Reply::bulk_str("unsuccessful_keys"),
            Reply::Array(failed.into_iter().map(Reply::Bulk).collect()),
        ),
    ])
}

/// One checked item of a bulk write.
struct BulkItem {
    key: Bytes,
    value: Vec<u8>,
    expiry: Expiry,
    metadata: Option<Vec<u8>>,
}

/// `expiration` or `expiration_ttl` of a bulk item as text for the limit checks: a JSON number
/// (a fraction is cut off, as Workers KV's `parseInt` does) or a string holding one.
fn json_num_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.as_i64().is_none() && n.as_f64().is_some_and(f64::is_finite) => {
            format!("{}", n.as_f64().unwrap_or(0.0).trunc())
        }
        other => other.to_string(),
    }
}

/// Checks one item of a bulk write against the limits (the same as KV.PUT's).
fn bulk_item(ctx: &Ctx, item: &serde_json::Map<String, Value>) -> Result<BulkItem, KvError> {
    let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
    let value = item.get("value").and_then(Value::as_str).unwrap_or_default();
    limits::check_key(key.as_bytes())?;
    let field = |name: &str| item.get(name).filter(|v| !v.is_null()).map(json_num_text);
    let exp = expiry(ctx, field("expiration").as_deref(), field("expiration_ttl").as_deref())?;
    let metadata = match item.get("metadata") {
        None => None,
        Some(m) => {
            let text = m.to_string().into_bytes();
            limits::check_metadata(&text)?;
            Some(text)
        }
    };
    let value = if item.get("base64").and_then(Value::as_bool) == Some(true) {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|e| KvError::BulkFormat(format!("The value of key \"{key}\" is not valid base64: {e}")))?
    } else {
        value.as_bytes().to_vec()
    };
    limits::check_value(value.len())?;
    Ok(BulkItem {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value,
        expiry: exp,
        metadata,
    })
}

/// `KV.BULKPUT json`: writes a JSON array of `{key, value, expiration?, expiration_ttl?,
/// metadata?, base64?}` (wrangler's bulk format), at most 10,000 items and 100 MB.
///
/// Every item is checked first; one bad item refuses the whole request with the Workers KV
/// text and its index, and nothing is written. Items that pass are written in order; an item
/// refused by a quota is reported in `unsuccessful_keys` (and not written).
pub struct KvBulkPut {
    body: Bytes,
}

impl Command for KvBulkPut {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(KvBulkPut { body: args.next()? })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, Reply> {
            if self.body.len() > limits::MAX_BULK_BYTES {
                return Err(KvError::BulkTooLarge(self.body.len()).into());
            }
            let items = bulk_items(&self.body)?;
            let mut bad = Vec::new();
            let mut checked = Vec::with_capacity(items.len());
            for (i, raw) in items.iter().enumerate() {
                // One item at a time becomes a JSON value: the body is held once, not as a
                // tree of every item (a 100 MB body of small items would be gigabytes).
                let item: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                let ok = item.as_object().is_some_and(|o| {
                    o.get("key").is_some_and(Value::is_string) && o.get("value").is_some_and(Value::is_string)
                });
                if !ok {
                    if bad.len() < 12 {
                        bad.push(format!("The item at index {i} is {item}"));
                    }
                    continue;
                }
                if bad.is_empty() {
                    // (The keys' ACL patterns were checked before: `bulkput_keys` reads them
                    // from the body for the ACL.)
                    let o = item.as_object().expect("checked above");
                    checked.push(bulk_item(ctx, o).map_err(|e| KvError::BulkItem(Box::new(e), i))?);
                }
            }
            if !bad.is_empty() {
                return Err(KvError::BulkFormat(format!(
                    "Each item should be an object with string \"key\" and \"value\" fields. {}",
                    bad.join("; ")
                ))
                .into());
            }
            let db = ctx.db();
            let mut ok = 0;
            let mut failed = Vec::new();
            for it in checked {
                let deadline = it.expiry.deadline(ctx.now);
                let mlen = it.metadata.as_ref().map(Vec::len);
                if check_storage(ctx, &it.key, it.value.len(), deadline.is_some(), mlen)
                    .and_then(|_| charge(ctx, KvOp::Write, 1))
                    .is_err()
                {
                    failed.push(it.key);
                    continue;
                }
                db.put(&it.key, &it.value, deadline, it.metadata.as_deref());
                ok += 1;
            }
            Ok(bulk_reply(ok, failed))
        };
        run().unwrap_or_else(|e| e)
    }
}

/// KV.BULKPUT's keys (its `getkeys` hook): the `"key"` of each item of its JSON body, read as
/// the command reads them (a repeated "key" is the last one, as the command takes it), bounded
/// as the command bounds them (100 MB, 10,000 items). Each is written, never read: the flags of
/// KV.PUT's key (OW update), so the ACL needs write access to every one.
///
/// A body with no keys gives none: `[]` (the command writes nothing), and a body the command
/// refuses before writing (over the size limit, not a JSON array, too many items), which the
/// ACL then has nothing to check in. COMMAND GETKEYS answers an empty array for those, as
/// Redis does for EVAL with 0 keys (KV.BULKPUT is `NO_MANDATORY_KEYS`): it shows exactly the
/// keys the ACL checks. An item without a string "key" has none (the command refuses the body).
pub fn bulkput_keys(argv: &[Bytes], emit: &mut dyn FnMut(&[u8], table::KeyFlags)) {
    // (A body over the command's size limit is refused by it unread, so not parsed here.)
    let Some(body) = argv.get(1).filter(|b| b.len() <= limits::MAX_BULK_BYTES) else {
        return;
    };
    let Ok(items) = bulk_items(body) else {
        return;
    };
    for raw in items {
        let item: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        if let Some(k) = item.get("key").and_then(Value::as_str) {
            emit(k.as_bytes(), table::OW_UPDATE);
        }
    }
}

/// The top-level items of a bulk body, each still its raw JSON text, refusing more than
/// 10,000 before keeping any more of them. (`bulkput_keys` reads the keys through this too, so
/// the keys the ACL checks are the keys the command writes.)
pub(crate) fn bulk_items(body: &[u8]) -> Result<Vec<&serde_json::value::RawValue>, KvError> {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, SeqAccess, Visitor};
    struct Items;
    impl<'de> Visitor<'de> for Items {
        type Value = Vec<&'de serde_json::value::RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of key-value objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<&'de serde_json::value::RawValue>()? {
                if out.len() == limits::MAX_BULK_ITEMS {
                    // Count the rest without keeping it, for the error text.
                    let mut n = out.len() + 1;
                    while seq.next_element::<IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    return Err(A::Error::custom(format!("too many items: {n}")));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let kind = match first {
        Some(b'[') => None,
        Some(b'{') | Some(b'n') => Some("object"),
        Some(b'"') => Some("string"),
        Some(b't') | Some(b'f') => Some("boolean"),
        Some(b'-' | b'0'..=b'9') => Some("number"),
        _ => Some("undefined"),
    };
    if let Some(kind) = kind {
        // Not an array: say so if it is JSON at all (checked without building it).
        serde_json::from_slice::<IgnoredAny>(body)
            .map_err(|e| KvError::BulkFormat(format!("The request body is not valid JSON: {e}")))?;
        return Err(KvError::BulkFormat(format!(
            "Expected an array of key-value objects but got type \"{kind}\"."
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = de.deserialize_seq(Items).map_err(|e| {
        let text = e.to_string();
        match text
            .strip_prefix("too many items: ")
            .and_then(|n| n.split_whitespace().next()?.parse().ok())
        {
            Some(n) => KvError::BulkTooMany(n),
            None => KvError::BulkFormat(format!("The request body is not valid JSON: {text}")),
        }
    })?;
    de.end()
        .map_err(|e| KvError::BulkFormat(format!("The request body is not valid JSON: {e}")))?;
    Ok(items)
}

/// `KV.BULKDELETE key [key ...]`: at most 10,000 keys; each one billed delete. A key refused
/// by the delete quota is reported in `unsuccessful_keys`.
pub struct KvBulkDelete {
    keys: Vec<Bytes>,
}

impl Command for KvBulkDelete {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(KvBulkDelete {
            keys: args.rest().to_vec(),
        })
    }

    fn execute(self, ctx: &mut Ctx) -> Reply {
        let run = || -> Result<Reply, KvError> {
            if self.keys.len() > limits::MAX_BULK_ITEMS {
                return Err(KvError::BulkTooMany(self.keys.len()));
            }
            for k in &self.keys {
                limits::check_key(k)?;
            }
            let db = ctx.db();
            let mut ok = 0;
            let mut failed = Vec::new();
            for k in self.keys {
                if charge(ctx, KvOp::Delete, 1).is_err() {
                    failed.push(k);
                    continue;
                }
                db.remove(&k);
                ok += 1;
            }
            Ok(bulk_reply(ok, failed))
        };
        run().unwrap_or_else(|e| e.reply())
    }
}
