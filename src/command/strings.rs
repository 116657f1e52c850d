//! String commands (Redis's t_string.c): GET, SET and its variants, GETEX, GETDEL, GETSET,
//! MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, INCR/DECR/INCRBY/DECRBY,
//! INCRBYFLOAT.
//!
//! Every value in edgekv is a string, so WRONGTYPE never arises here. Modifications (INCR,
//! APPEND, SETRANGE) keep the key's deadline and metadata; replacements (SET, GETSET, MSET)
//! drop both unless KEEPTTL says otherwise.

use super::args::{is, Args};
use super::{table, Command, Ctx};
use crate::errors::{self, err};
use crate::num::{self, LongDouble};
use crate::protocol::Reply;
use crate::store::{Action, Appended, Meta, Put};
use bytes::Bytes;
use std::borrow::Cow;
use std::sync::atomic::Ordering;

/// The expiration a write asks for, before it is turned into an absolute deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    None,
    /// Relative seconds (EX) or milliseconds (PX).
    Ex(i64),
    Px(i64),
    /// Absolute unix seconds (EXAT) or milliseconds (PXAT).
    Exat(i64),
    Pxat(i64),
    KeepTtl,
    Persist,
}

impl Expiry {
    /// The absolute deadline in unix milliseconds, validated as Redis's
    /// `getExpireMillisecondsOrReply` does. `Ok(None)` for KEEPTTL/PERSIST/none.
    pub fn deadline(self, now: i64, cmd: &str) -> Result<Option<i64>, Reply> {
        let (v, seconds, relative) = match self {
            Expiry::Ex(v) => (v, true, true),
            Expiry::Px(v) => (v, false, true),
            Expiry::Exat(v) => (v, true, false),
            Expiry::Pxat(v) => (v, false, false),
            _ => return Ok(None),
        };
        if v <= 0 || (seconds && v > i64::MAX / 1000) {
            return Err(errors::invalid_expire(cmd));
        }
        let mut ms = if seconds { v * 1000 } else { v };
        if relative {
            ms = ms.checked_add(now).ok_or_else(|| errors::invalid_expire(cmd))?;
        }
        Ok(Some(ms))
    }

    pub fn is_absolute(self) -> bool {
        matches!(self, Expiry::Exat(_) | Expiry::Pxat(_))
    }
}

/// Options of SET and GETEX, parsed as Redis's `parseExtendedStringArgumentsOrReply`: each
/// expiration form excludes the others (the KV rule: one write carries at most one form).
#[derive(Debug, Default)]
struct ExtOptions {
    nx: bool,
    xx: bool,
    get: bool,
    expiry: Option<Expiry>,
    /// The raw expiration argument; it is validated after all options are read.
    raw: Option<Bytes>,
}

#[derive(PartialEq)]
enum ExtFor {
    Set,
    Getex,
}

impl ExtOptions {
    /// The expiration with its argument read as an integer (Redis does this after all
    /// options are read: a syntax error wins over a bad number).
    fn expiry(&self) -> Result<Expiry, Reply> {
        let Some(e) = self.expiry else {
            return Ok(Expiry::None);
        };
        let Some(raw) = &self.raw else { return Ok(e) };
        let v = super::args::parse_i64(raw)?;
        Ok(match e {
            Expiry::Ex(_) => Expiry::Ex(v),
            Expiry::Px(_) => Expiry::Px(v),
            Expiry::Exat(_) => Expiry::Exat(v),
            Expiry::Pxat(_) => Expiry::Pxat(v),
            other => other,
        })
    }
}

fn parse_ext(args: &mut Args, kind: ExtFor) -> Result<ExtOptions, Reply> {
    let mut o = ExtOptions::default();
    let set = kind == ExtFor::Set;
    while let Some(arg) = args.next_opt() {
        // Redis compares these options as C strings (`opt[2] == '\0'`, `strcasecmp`), so an
        // embedded NUL ends the option name: `EX\0junk` is `EX`.
        let opt = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
        let has_next = !args.is_empty();
        let other_expiry = |o: &ExtOptions, mine: Expiry| match o.expiry {
            None => false,
            Some(e) => std::mem::discriminant(&e) != std::mem::discriminant(&mine),
        };
        if set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && is(opt, "get") {
            o.get = true;
        } else if set && is(opt, "keepttl") && !other_expiry(&o, Expiry::KeepTtl) {
            o.expiry = Some(Expiry::KeepTtl);
        } else if !set && is(opt, "persist") && !other_expiry(&o, Expiry::Persist) {
            o.expiry = Some(Expiry::Persist);
        } else if has_next && is(opt, "ex") && !other_expiry(&o, Expiry::Ex(0)) {
            o.expiry = Some(Expiry::Ex(0));
            o.raw = args.next_opt();
        } else if has_next && is(opt, "px") && !other_expiry(&o, Expiry::Px(0)) {
            o.expiry = Some(Expiry::Px(0));
            o.raw = args.next_opt();
        } else if has_next && is(opt, "exat") && !other_expiry(&o, Expiry::Exat(0)) {
            o.expiry = Some(Expiry::Exat(0));
            o.raw = args.next_opt();
        } else if has_next && is(opt, "pxat") && !other_expiry(&o, Expiry::Pxat(0)) {
            o.expiry = Some(Expiry::Pxat(0));
            o.raw = args.next_opt();
        } else {
            return Err(err(errors::SYNTAX));
        }
    }
    Ok(o)
}

/// `GET key`
pub struct Get {
    key: Bytes,
}

impl Command for Get {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Get { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::bulk_or_nil(ctx.db().get(&self.key))
    }
}

/// What SET's variants share (Redis's `setGenericCommand`).
struct SetArgs {
    key: Bytes,
    value: Bytes,
    nx: bool,
    xx: bool,
    get: bool,
    expiry: Expiry,
}

/// How a SET variant answers when it did (or did not) write.
enum SetReply {
    /// `+OK` / null (SET).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

fn set_generic(ctx: &mut Ctx, a: SetArgs, cmd: &str, style: SetReply) -> Reply {
    let deadline = match a.expiry.deadline(ctx.now, cmd) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let now = ctx.now;
    let keep_ttl = a.expiry == Expiry::KeepTtl;
    let mut expired_write = false;
    // SET ... GET and GETSET look the key up as a read (it counts a hit or miss); plain SET
    // is a write lookup.
    let db = if a.get { ctx.db().counted() } else { ctx.db() };
    let (written, old) = db.modify(&a.key, |old| {
        let old_value = if a.get {
            old.map(|r| Bytes::copy_from_slice(r.value()))
        } else {
            None
        };
        let found = old.is_some();
        if (a.nx && found) || (a.xx && !found) {
            return (Action::Keep, (false, old_value));
        }
        let deadline = if keep_ttl {
            old.and_then(|r| r.deadline())
        } else {
            deadline
        };
        if matches!(deadline, Some(d) if d <= now) {
            // A deadline already past: the key is gone at once (as a log would record it).
            // Redis stores it already expired, which still counts as a write for WATCH even
            // when there was no key to delete.
            expired_write = !found;
            return (Action::Delete, (true, old_value));
        }
        (
            Action::Put(Put {
                value: Cow::Borrowed(&a.value),
                deadline,
                meta: Meta::Clear,
            }),
            (true, old_value),
        )
    });
    if expired_write {
        ctx.shared.store.watches.touch(ctx.session.db, &a.key);
    }
    if a.get {
        return Reply::bulk_or_nil(old);
    }
    match style {
        SetReply::Ok if written => Reply::Ok,
        SetReply::Ok => Reply::Nil,
        SetReply::Int => Reply::Int(written as i64),
    }
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX ms | EXAT unix-seconds | PXAT unix-ms | KEEPTTL]`
pub struct Set {
    a: SetArgs,
}

impl Command for Set {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let value = args.next()?;
        let o = parse_ext(args, ExtFor::Set)?;
        let expiry = o.expiry()?;
        Ok(Set {
            a: SetArgs {
                key,
                value,
                nx: o.nx,
                xx: o.xx,
                get: o.get,
                expiry,
            },
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        set_generic(ctx, self.a, "set", SetReply::Ok)
    }
}

/// SET's keys (its `getkeys` hook, Redis's `setGetKeys`): the one key is read as well as
/// written only when a GET option is among the arguments after the value, which a key spec's
/// fixed flags cannot say. The ACL check and COMMAND GETKEYSANDFLAGS both read it here.
pub fn set_keys(argv: &[Bytes], emit: &mut dyn FnMut(&[u8], table::KeyFlags)) {
    let get = argv.iter().skip(3).any(|a| is(a, "get"));
    if let Some(key) = argv.get(1) {
        emit(key, if get { table::RW_ACCESS_UPDATE } else { table::OW_UPDATE });
    }
}

/// `SETNX key value`
pub struct Setnx {
    a: SetArgs,
}

impl Command for Setnx {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let value = args.next()?;
        Ok(Setnx {
            a: SetArgs {
                key,
                value,
                nx: true,
                xx: false,
                get: false,
                expiry: Expiry::None,
            },
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        set_generic(ctx, self.a, "setnx", SetReply::Int)
    }
}

/// `SETEX key seconds value`
pub struct Setex {
    a: SetArgs,
}

impl Command for Setex {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let secs = args.i64()?;
        let value = args.next()?;
        Ok(Setex {
            a: SetArgs {
                key,
                value,
                nx: false,
                xx: false,
                get: false,
                expiry: Expiry::Ex(secs),
            },
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        set_generic(ctx, self.a, "setex", SetReply::Ok)
    }
}

/// `PSETEX key milliseconds value`
pub struct Psetex {
    a: SetArgs,
}

impl Command for Psetex {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let ms = args.i64()?;
        let value = args.next()?;
        Ok(Psetex {
            a: SetArgs {
                key,
                value,
                nx: false,
                xx: false,
                get: false,
                expiry: Expiry::Px(ms),
            },
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        set_generic(ctx, self.a, "psetex", SetReply::Ok)
    }
}

/// `GETEX key [EX seconds | PX ms | EXAT unix-seconds | PXAT unix-ms | PERSIST]`
pub struct Getex {
    key: Bytes,
    opts: ExtOptions,
}

impl Command for Getex {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let o = parse_ext(args, ExtFor::Getex)?;
        Ok(Getex { key, opts: o })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let now = ctx.now;
        let opts = self.opts;
        ctx.db().counted().modify(&self.key, |old| {
            let Some(old) = old else {
                return (Action::Keep, Reply::Nil);
            };
            // Like Redis, the expiration is validated only once the key is known to exist.
            let expiry = match opts.expiry() {
                Ok(e) => e,
                Err(e) => return (Action::Keep, e),
            };
            let deadline = match expiry.deadline(now, "getex") {
                Ok(d) => d,
                Err(e) => return (Action::Keep, e),
            };
            let value = Bytes::copy_from_slice(old.value());
            let action = match (expiry, deadline) {
                (e, Some(d)) if e.is_absolute() && d <= now => Action::Delete,
                (_, Some(d)) => Action::Put(Put {
                    value: Cow::Owned(value.to_vec()),
                    deadline: Some(d),
                    meta: Meta::Keep,
                }),
                (Expiry::Persist, _) if old.deadline().is_some() => Action::Put(Put {
                    value: Cow::Owned(value.to_vec()),
                    deadline: None,
                    meta: Meta::Keep,
                }),
                _ => Action::Keep,
            };
            (action, Reply::Bulk(value))
        })
    }
}

/// `GETDEL key`
pub struct Getdel {
    key: Bytes,
}

impl Command for Getdel {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Getdel { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::bulk_or_nil(
            ctx.db()
                .counted()
                .take(&self.key)
                .map(|e| Bytes::copy_from_slice(e.value())),
        )
    }
}

/// `GETSET key value`
pub struct Getset {
    key: Bytes,
    value: Bytes,
}

impl Command for Getset {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Getset {
            key: args.next()?,
            value: args.next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let a = SetArgs {
            key: self.key,
            value: self.value,
            nx: false,
            xx: false,
            get: true,
            expiry: Expiry::None,
        };
        set_generic(ctx, a, "getset", SetReply::Ok)
    }
}

/// `MGET key [key ...]`
pub struct Mget {
    keys: Vec<Bytes>,
}

impl Command for Mget {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Mget {
            keys: args.rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let db = ctx.db();
        Reply::Array(self.keys.iter().map(|k| Reply::bulk_or_nil(db.get(k))).collect())
    }
}

/// Key/value pairs of MSET and MSETNX; an odd count is an arity error, as in Redis.
fn parse_pairs(args: &mut Args, name: &str) -> Result<Vec<(Bytes, Bytes)>, Reply> {
    let rest = args.rest();
    if !rest.len().is_multiple_of(2) {
        return Err(errors::arity(name));
    }
    Ok(rest.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect())
}

/// `MSET key value [key value ...]`
pub struct Mset {
    pairs: Vec<(Bytes, Bytes)>,
}

impl Command for Mset {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Mset {
            pairs: parse_pairs(args, "mset")?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let db = ctx.db();
        for (k, v) in &self.pairs {
            db.put(k, v, None, None);
        }
        Reply::Ok
    }
}

/// `MSETNX key value [key value ...]`
pub struct Msetnx {
    pairs: Vec<(Bytes, Bytes)>,
}

impl Command for Msetnx {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Msetnx {
            pairs: parse_pairs(args, "msetnx")?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let db = ctx.db();
        if self.pairs.iter().any(|(k, _)| db.exists(k)) {
            return Reply::Int(0);
        }
        for (k, v) in &self.pairs {
            db.put(k, v, None, None);
        }
        Reply::Int(1)
    }
}

/// Fails like Redis's `checkStringLength` when a string would pass proto-max-bulk-len.
fn check_length(ctx: &Ctx, size: i64, append: i64) -> Result<(), Reply> {
    let max = ctx.shared.config.proto_max_bulk_len.load(Ordering::Relaxed);
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(err(errors::STRING_TOO_LONG)),
    }
}

/// `APPEND key value`
pub struct Append {
    key: Bytes,
    value: Bytes,
}

impl Command for Append {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Append {
            key: args.next()?,
            value: args.next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let max = ctx.shared.config.proto_max_bulk_len.load(Ordering::Relaxed);
        // An existing value grows in place (no copy of what is already there).
        match ctx.db().append(&self.key, &self.value, max.max(0) as usize) {
            Appended::Done(n) => return Reply::Int(n as i64),
            Appended::TooLong => return err(errors::STRING_TOO_LONG),
            Appended::Missing => {}
        }
        let add = self.value.len() as i64;
        // A new key (or, if another client created it meanwhile, the general path).
        ctx.db().modify(&self.key, |old| match old {
            None => (
                Action::Put(Put {
                    value: Cow::Borrowed(&self.value),
                    deadline: None,
                    meta: Meta::Clear,
                }),
                Reply::Int(add),
            ),
            Some(r) => {
                let total = r.value().len() as i64 + add;
                if total > max {
                    return (Action::Keep, err(errors::STRING_TOO_LONG));
                }
                let mut v = Vec::with_capacity(total as usize);
                v.extend_from_slice(r.value());
                v.extend_from_slice(&self.value);
                (
                    Action::Put(Put {
                        value: Cow::Owned(v),
                        deadline: r.deadline(),
                        meta: Meta::Keep,
                    }),
                    Reply::Int(total),
                )
            }
        })
    }
}

/// `STRLEN key`
pub struct Strlen {
    key: Bytes,
}

impl Command for Strlen {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Strlen { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Int(
            ctx.db()
                .counted()
                .read(&self.key, |r| r.value().len() as i64)
                .unwrap_or(0),
        )
    }
}

/// `GETRANGE key start end` (and its old name `SUBSTR`)
pub struct Getrange {
    key: Bytes,
    start: i64,
    end: i64,
}

impl Command for Getrange {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let start = args.i64()?;
        let end = args.i64()?;
        Ok(Getrange { key, start, end })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let (mut start, mut end) = (self.start, self.end);
        let out = ctx.db().counted().read(&self.key, |r| {
            let v = r.value();
            let len = v.len() as i64;
            if start < 0 && end < 0 && start > end {
                return Bytes::new();
            }
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            start = start.max(0);
            end = end.max(0);
            if end >= len {
                end = len - 1;
            }
            if start > end || len == 0 {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(&v[start as usize..=end as usize])
            }
        });
        Reply::Bulk(out.unwrap_or_default())
    }
}

/// `SETRANGE key offset value`
pub struct Setrange {
    key: Bytes,
    offset: i64,
    value: Bytes,
}

impl Command for Setrange {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let offset = args.i64()?;
        let value = args.next()?;
        Ok(Setrange { key, offset, value })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.offset < 0 {
            return err(errors::OFFSET_RANGE);
        }
        let check = check_length(ctx, self.offset, self.value.len() as i64);
        let off = self.offset as usize;
        ctx.db().modify(&self.key, |old| {
            let old_len = old.map_or(0, |r| r.value().len());
            if self.value.is_empty() {
                return (Action::Keep, Reply::Int(old_len as i64));
            }
            if let Err(e) = check.clone() {
                return (Action::Keep, e);
            }
            let new_len = old_len.max(off + self.value.len());
            let mut v = Vec::with_capacity(new_len);
            if let Some(r) = old {
                v.extend_from_slice(r.value());
            }
            v.resize(new_len, 0);
            v[off..off + self.value.len()].copy_from_slice(&self.value);
            let (deadline, meta) = match old {
                Some(r) => (r.deadline(), Meta::Keep),
                None => (None, Meta::Clear),
            };
            (
                Action::Put(Put {
                    value: Cow::Owned(v),
                    deadline,
                    meta,
                }),
                Reply::Int(new_len as i64),
            )
        })
    }
}

/// INCR, DECR, INCRBY and DECRBY (Redis's `incrDecrCommand`): keeps the deadline.
fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> Reply {
    ctx.db().modify(key, |old| {
        let current = match old {
            None => 0,
            Some(r) => match num::parse_i64(r.value()) {
                Some(v) => v,
                None => return (Action::Keep, err(errors::NOT_INTEGER)),
            },
        };
        let Some(next) = current.checked_add(by) else {
            return (Action::Keep, err(errors::OVERFLOW));
        };
        let mut buf = itoa::Buffer::new();
        let text = buf.format(next).as_bytes().to_vec();
        let deadline = old.and_then(|r| r.deadline());
        let meta = if old.is_some() { Meta::Keep } else { Meta::Clear };
        (
            Action::Put(Put {
                value: Cow::Owned(text),
                deadline,
                meta,
            }),
            Reply::Int(next),
        )
    })
}

/// `INCR key`
pub struct Incr {
    key: Bytes,
}

impl Command for Incr {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Incr { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        incr_by(ctx, &self.key, 1)
    }
}

/// `DECR key`
pub struct Decr {
    key: Bytes,
}

impl Command for Decr {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Decr { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        incr_by(ctx, &self.key, -1)
    }
}

/// `INCRBY key increment`
pub struct Incrby {
    key: Bytes,
    by: i64,
}

impl Command for Incrby {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Incrby {
            key: args.next()?,
            by: args.i64()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        incr_by(ctx, &self.key, self.by)
    }
}

/// `DECRBY key decrement`
pub struct Decrby {
    key: Bytes,
    by: i64,
}

impl Command for Decrby {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let by = args.i64()?;
        if by == i64::MIN {
            return Err(err(errors::DECR_OVERFLOW));
        }
        Ok(Decrby { key, by })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        incr_by(ctx, &self.key, -self.by)
    }
}

/// `INCRBYFLOAT key increment`
///
/// Computed in the x87 80-bit long double Redis uses on x86-64 and written as its `%.17Lf`
/// text with trailing zeros trimmed (`num::LongDouble`): `5.6 + 5000` is
/// `5005.60000000000000009`, as in Redis, where an `f64` would give `5005.6`.
pub struct Incrbyfloat {
    key: Bytes,
    by: Bytes,
}

impl Command for Incrbyfloat {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Incrbyfloat {
            key: args.next()?,
            by: args.next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.db().modify(&self.key, |old| {
            // Redis reads the stored value first, then the increment, both with `string2ld`.
            let current = match old {
                None => LongDouble::ZERO,
                Some(r) => match LongDouble::parse(r.value()) {
                    Some(v) => v,
                    None => return (Action::Keep, err(errors::NOT_FLOAT)),
                },
            };
            let Some(by) = LongDouble::parse(&self.by) else {
                return (Action::Keep, err(errors::NOT_FLOAT));
            };
            let next = current.add(by);
            if !next.is_finite() {
                return (Action::Keep, err(errors::INCR_NAN_INF));
            }
            let text = next.to_human();
            let deadline = old.and_then(|r| r.deadline());
            let meta = if old.is_some() { Meta::Keep } else { Meta::Clear };
            let reply = Reply::bulk_str(&text);
            (
                Action::Put(Put {
                    value: Cow::Owned(text.into_bytes()),
                    deadline,
                    meta,
                }),
                reply,
            )
        })
    }
}
