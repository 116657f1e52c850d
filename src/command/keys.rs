//! Keyspace commands (Redis's db.c): DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, COPY, MOVE,
//! KEYS, SCAN, RANDOMKEY, DBSIZE, TOUCH, FLUSHDB, FLUSHALL, SELECT, SWAPDB.

use super::args::{is, Args};
use super::{Command, Ctx};
use crate::errors::{self, err};
use crate::num;
use crate::protocol::Reply;
use crate::store::glob;
use bytes::Bytes;

/// Redis's `getIntFromObjectOrReply` with its own message (SWAPDB): any failure, not an
/// integer or outside a C `int`, replies `msg`.
fn int_arg(a: &[u8], msg: &'static str) -> Result<i64, Reply> {
    match num::parse_i64(a) {
        Some(v) if v >= i32::MIN as i64 && v <= i32::MAX as i64 => Ok(v),
        _ => Err(err(msg)),
    }
}

/// The range error of `getIntFromObjectOrReply` without a message (Redis's
/// `getRangeLongFromObjectOrReply`, "must between" sic).
/// TODO(errors.rs): belongs with the other texts; errors.rs is edited by another engineer.
const INT_RANGE: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";

/// Redis's `getIntFromObjectOrReply` without a message (SELECT, MOVE, COPY ... DB): not an
/// integer, then outside a C `int`, each with its own text.
fn int_value(a: &[u8]) -> Result<i64, Reply> {
    let v = super::args::parse_i64(a)?;
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(err(INT_RANGE));
    }
    Ok(v)
}

/// An option name compared as Redis does with `strcasecmp`: the argument is a C string, so it
/// ends at its first NUL byte (`"replace\0x"` is `REPLACE`).
pub(super) fn c_is(a: &[u8], name: &str) -> bool {
    is(c_str(a), name)
}

/// The bytes C sees of an argument: everything before the first NUL.
pub(super) fn c_str(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(n) => &a[..n],
        None => a,
    }
}

/// A database index that must exist: a numbered database or a live namespace's slot.
fn db_index(ctx: &Ctx, id: i64) -> Result<usize, Reply> {
    if id >= 0 && (id as u64) < ctx.shared.store.slots() as u64 && ctx.shared.namespaces.is_live(id as usize) {
        Ok(id as usize)
    } else {
        Err(err(errors::DB_INDEX))
    }
}

/// `DEL key [key ...]`
pub struct Del {
    keys: Vec<Bytes>,
}

impl Command for Del {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Del {
            keys: args.rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let db = ctx.db();
        Reply::Int(self.keys.iter().filter(|k| db.remove(k)).count() as i64)
    }
}

/// `UNLINK key [key ...]`: as DEL (records are freed at once; none is large enough to matter).
pub struct Unlink {
    del: Del,
}

impl Command for Unlink {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Unlink { del: Del::parse(args)? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        self.del.execute(ctx)
    }
}

/// `EXISTS key [key ...]`: a key named twice counts twice.
pub struct Exists {
    keys: Vec<Bytes>,
}

impl Command for Exists {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Exists {
            keys: args.rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let db = ctx.db().counted();
        Reply::Int(self.keys.iter().filter(|k| db.exists(k)).count() as i64)
    }
}

/// `TOUCH key [key ...]`
pub struct Touch {
    exists: Exists,
}

impl Command for Touch {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Touch {
            exists: Exists::parse(args)?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        self.exists.execute(ctx)
    }
}

/// `TYPE key`
pub struct Type {
    key: Bytes,
}

impl Command for Type {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Type { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::status(if ctx.db().counted().exists(&self.key) {
            "string"
        } else {
            "none"
        })
    }
}

/// RENAME and RENAMENX (Redis's `renameGenericCommand`): the deadline and metadata move with
/// the value.
fn rename(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, nx: bool) -> Reply {
    let db = ctx.db();
    if !db.exists(src) {
        return err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::Ok };
    }
    if nx && db.exists(dst) {
        return Reply::Int(0);
    }
    let entry = db.take(src).expect("checked under the exclusive gate");
    db.put_entry(entry.with_key(dst));
    if nx {
        Reply::Int(1)
    } else {
        Reply::Ok
    }
}

/// `RENAME key newkey`
pub struct Rename {
    src: Bytes,
    dst: Bytes,
}

impl Command for Rename {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Rename {
            src: args.next()?,
            dst: args.next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        rename(ctx, &self.src, &self.dst, false)
    }
}

/// `RENAMENX key newkey`
pub struct Renamenx {
    src: Bytes,
    dst: Bytes,
}

impl Command for Renamenx {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Renamenx {
            src: args.next()?,
            dst: args.next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        rename(ctx, &self.src, &self.dst, true)
    }
}

/// `COPY source destination [DB destination-db] [REPLACE]`
///
/// Redis checks each `DB` value's range while it reads the options, so `COPY a b DB 16 foo`
/// is "DB index is out of range", not a syntax error: the parse keeps every DB value in order
/// and the first option error, and `execute` reports them in Redis's order.
pub struct Copy {
    src: Bytes,
    dst: Bytes,
    /// Every `DB` value, in order (the last one wins).
    dbs: Vec<i64>,
    replace: bool,
    /// The option error met after those `DB` values, if any.
    error: Option<Reply>,
}

impl Command for Copy {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let src = args.next()?;
        let dst = args.next()?;
        let mut c = Copy {
            src,
            dst,
            dbs: Vec::new(),
            replace: false,
            error: None,
        };
        while let Some(opt) = args.next_opt() {
            if c_is(&opt, "replace") {
                c.replace = true;
            } else if c_is(&opt, "db") && !args.is_empty() {
                match int_value(&args.next()?) {
                    Ok(v) => c.dbs.push(v),
                    Err(e) => {
                        c.error = Some(e);
                        break;
                    }
                }
            } else {
                c.error = Some(err(errors::SYNTAX));
                break;
            }
        }
        Ok(c)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let mut target = ctx.session.db;
        for &id in &self.dbs {
            match db_index(ctx, id) {
                Ok(d) => target = d,
                Err(e) => return e,
            }
        }
        if let Some(e) = self.error {
            return e;
        }
        if let Err(denied) = ctx.may_use_db(target) {
            return denied;
        }
        if target == ctx.session.db && self.src == self.dst {
            return err(errors::SAME_OBJECT);
        }
        let Some(copy) = ctx.db().counted().read(&self.src, |r| r.with_key(&self.dst)) else {
            return Reply::Int(0);
        };
        let dst = ctx.db_at(target);
        if dst.exists(&self.dst) && !self.replace {
            return Reply::Int(0);
        }
        dst.put_entry(copy);
        Reply::Int(1)
    }
}

/// `MOVE key db`
pub struct Move {
    key: Bytes,
    db: i64,
}

impl Command for Move {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let key = args.next()?;
        let db = int_value(&args.next()?)?;
        Ok(Move { key, db })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let target = match db_index(ctx, self.db) {
            Ok(d) => d,
            Err(e) => return e,
        };
        if target == ctx.session.db {
            return err(errors::SAME_OBJECT);
        }
        if let Err(denied) = ctx.may_use_db(target) {
            return denied;
        }
        let src = ctx.db();
        if !src.exists(&self.key) {
            return Reply::Int(0);
        }
        let dst = ctx.db_at(target);
        if dst.exists(&self.key) {
            return Reply::Int(0);
        }
        let entry = src.take(&self.key).expect("checked under the exclusive gate");
        dst.put_entry(entry);
        Reply::Int(1)
    }
}

/// `KEYS pattern`
pub struct Keys {
    pattern: Bytes,
}

impl Command for Keys {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Keys { pattern: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let all = self.pattern.as_ref() == b"*";
        let mut out = Vec::new();
        ctx.db().for_each(|r| {
            if all || glob::matches(&self.pattern, r.key(), false) {
                out.push(Reply::Bulk(Bytes::copy_from_slice(r.key())));
            }
        });
        Reply::Array(out)
    }
}

/// Parses a SCAN cursor as Redis's `parseScanCursorOrReply`: `strtoul` over a C string, so
/// the text ends at a NUL byte, an optional sign comes before the digits, a negative number
/// wraps around, the empty string is 0, and a leading space or anything left over is
/// `invalid cursor`.
fn parse_cursor(a: &[u8]) -> Result<u64, Reply> {
    let a = c_str(a);
    if a.is_empty() {
        return Ok(0);
    }
    let bad = || err(errors::INVALID_CURSOR);
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    let v = num::parse_u64_cursor(digits).ok_or_else(bad)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
pub struct Scan {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    type_filter: Option<Bytes>,
}

impl Command for Scan {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let cursor = parse_cursor(&args.next()?)?;
        let mut s = Scan {
            cursor,
            pattern: None,
            count: 10,
            type_filter: None,
        };
        while let Some(opt) = args.next_opt() {
            let has_value = !args.is_empty();
            if c_is(&opt, "count") && has_value {
                let n = super::args::parse_i64(&args.next()?)?;
                if n < 1 {
                    return Err(err(errors::SYNTAX));
                }
                s.count = n.min(i32::MAX as i64) as usize;
            } else if c_is(&opt, "match") && has_value {
                let p = args.next()?;
                s.pattern = if p.as_ref() == b"*" { None } else { Some(p) };
            } else if c_is(&opt, "type") && has_value {
                s.type_filter = Some(args.next()?);
            } else {
                return Err(err(errors::SYNTAX));
            }
        }
        Ok(s)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        // Every value is a string: a TYPE filter keeps all keys or none.
        // Redis compares the name with `strcasecmp`; an unknown name matches nothing.
        let type_ok = self.type_filter.as_ref().is_none_or(|t| c_is(t, "string"));
        let (next, keys) = ctx.db().scan(self.cursor, self.count, |r| {
            type_ok && self.pattern.as_ref().is_none_or(|p| glob::matches(p, r.key(), false))
        });
        let mut buf = itoa::Buffer::new();
        Reply::Array(vec![
            Reply::bulk_str(buf.format(next)),
            Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        ])
    }
}

/// `RANDOMKEY`
pub struct Randomkey;

impl Command for Randomkey {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Randomkey)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::bulk_or_nil(ctx.db().random_key())
    }
}

/// `DBSIZE`
pub struct Dbsize;

impl Command for Dbsize {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Dbsize)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Int(ctx.db().len() as i64)
    }
}

/// The optional `ASYNC | SYNC` of FLUSHDB and FLUSHALL.
fn parse_flush_mode(args: &mut Args) -> Result<(), Reply> {
    match args.rest() {
        [] => Ok(()),
        [m] if c_is(m, "sync") || c_is(m, "async") => Ok(()),
        _ => Err(err(errors::SYNTAX)),
    }
}

/// `FLUSHDB [ASYNC | SYNC]`
pub struct Flushdb;

impl Command for Flushdb {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        parse_flush_mode(args)?;
        Ok(Flushdb)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.db().clear();
        Reply::Ok
    }
}

/// `FLUSHALL [ASYNC | SYNC]`
pub struct Flushall;

impl Command for Flushall {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        parse_flush_mode(args)?;
        Ok(Flushall)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        // Every database, namespaces included (their registry entries stay): a user scoped
        // to some namespaces may not.
        if ctx.session.user.namespaces.is_some() {
            super::log_denial(ctx.shared, ctx.session, "namespace", "*".into());
            return err(errors::NOPERM_ALL_NAMESPACES);
        }
        for d in ctx.shared.store.created() {
            ctx.db_at(d).clear();
        }
        Reply::Ok
    }
}

/// `SELECT index | namespace-id | namespace-title`
///
/// A number selects as in Redis (numbered databases, and namespaces by their index); edgekv
/// also takes a namespace's id or title. Anything else gets Redis's integer error.
pub struct Select {
    /// The index, or the argument with the error Redis gives for it as an index.
    target: Result<i64, (Bytes, Reply)>,
}

impl Command for Select {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let a = args.next()?;
        Ok(Select {
            target: int_value(&a).map_err(|e| (a, e)),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let ns = &ctx.shared.namespaces;
        let index = match self.target {
            Ok(n) if n >= 0 && (n as u64) < ctx.shared.store.slots() as u64 => n as usize,
            Ok(_) => return err(errors::DB_INDEX),
            Err((name, e)) => match ns.find(&name) {
                Some(found) => {
                    // Deleted (and its slot reused) between the lookup and here: the
                    // generation read below would belong to another namespace.
                    let generation = ns.generation(found.index);
                    if ns.at(found.index).map(|n| n.id) != Some(found.id) {
                        return e;
                    }
                    if let Err(denied) = ctx.may_use_db(found.index) {
                        return denied;
                    }
                    ctx.select(found.index, generation);
                    return Reply::Ok;
                }
                None => return e,
            },
        };
        // The generation is read before liveness is checked, so a namespace deleted in
        // between is noticed by the connection's next command.
        let generation = ns.generation(index);
        if !ns.is_live(index) {
            return err(errors::DB_INDEX);
        }
        if let Err(denied) = ctx.may_use_db(index) {
            return denied;
        }
        ctx.select(index, generation);
        Reply::Ok
    }
}

/// `SWAPDB index1 index2`
pub struct Swapdb {
    a: i64,
    b: i64,
}

impl Command for Swapdb {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let a = int_arg(&args.next()?, "ERR invalid first DB index")?;
        let b = int_arg(&args.next()?, "ERR invalid second DB index")?;
        Ok(Swapdb { a, b })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let (a, b) = match (db_index(ctx, self.a), db_index(ctx, self.b)) {
            (Ok(a), Ok(b)) => (a, b),
            _ => return err(errors::DB_INDEX),
        };
        if let Err(denied) = ctx.may_use_db(a).and_then(|_| ctx.may_use_db(b)) {
            return denied;
        }
        ctx.shared.store.swap(a, b, ctx.now);
        Reply::Ok
    }
}
