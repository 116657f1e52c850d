//! Expiry commands (Redis's expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT,
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST. Deadlines are absolute unix milliseconds.

use super::args::Args;
use super::keys::{c_is as is, c_str};
use super::{Command, Ctx};
use crate::errors::{self, err};
use crate::protocol::Reply;
use bytes::Bytes;

#[derive(Default, Clone, Copy)]
struct Cond {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// The shared parse of the four EXPIRE variants.
struct ExpireArgs {
    key: Bytes,
    when: i64,
    cond: Cond,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`, then the time: options are checked first (an
/// unknown one, then NX with XX/GT/LT, then GT with LT), so `EXPIRE k abc foo` is
/// `Unsupported option foo`. Options compare as C strings (`"nx\0z"` is NX).
fn parse_expire(args: &mut Args) -> Result<ExpireArgs, Reply> {
    let key = args.next()?;
    let param = args.next()?;
    let mut cond = Cond::default();
    while let Some(opt) = args.next_opt() {
        if is(&opt, "nx") {
            cond.nx = true;
        } else if is(&opt, "xx") {
            cond.xx = true;
        } else if is(&opt, "gt") {
            cond.gt = true;
        } else if is(&opt, "lt") {
            cond.lt = true;
        } else {
            // `%s` of a C string: the text stops at a NUL byte.
            return Err(errors::unsupported_option(c_str(&opt)));
        }
    }
    if cond.nx && (cond.xx || cond.gt || cond.lt) {
        return Err(err(errors::NX_XX_GT_LT));
    }
    if cond.gt && cond.lt {
        return Err(err(errors::GT_LT));
    }
    let when = super::args::parse_i64(&param)?;
    Ok(ExpireArgs { key, when, cond })
}

/// Redis's `expireGenericCommand`: `base` is now (relative forms) or 0 (absolute forms).
fn expire_generic(ctx: &mut Ctx, a: &ExpireArgs, base: i64, seconds: bool, cmd: &str) -> Reply {
    let mut when = a.when;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return errors::invalid_expire(cmd);
        }
        when *= 1000;
    }
    if when > i64::MAX - base {
        return errors::invalid_expire(cmd);
    }
    when += base;
    let db = ctx.db();
    let Some(current) = db.deadline(&a.key) else {
        return Reply::Int(0);
    };
    let c = a.cond;
    if (c.nx && current.is_some())
        || (c.xx && current.is_none())
        || (c.gt && current.is_none_or(|cur| when <= cur))
        || (c.lt && current.is_some_and(|cur| when >= cur))
    {
        return Reply::Int(0);
    }
    if when <= ctx.now {
        db.remove(&a.key);
    } else {
        db.set_deadline(&a.key, Some(when));
    }
    Reply::Int(1)
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`
pub struct Expire(ExpireArgs);

impl Command for Expire {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Expire(parse_expire(args)?))
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let now = ctx.now;
        expire_generic(ctx, &self.0, now, true, "expire")
    }
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
pub struct Pexpire(ExpireArgs);

impl Command for Pexpire {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Pexpire(parse_expire(args)?))
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let now = ctx.now;
        expire_generic(ctx, &self.0, now, false, "pexpire")
    }
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
pub struct Expireat(ExpireArgs);

impl Command for Expireat {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Expireat(parse_expire(args)?))
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        expire_generic(ctx, &self.0, 0, true, "expireat")
    }
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
pub struct Pexpireat(ExpireArgs);

impl Command for Pexpireat {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Pexpireat(parse_expire(args)?))
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        expire_generic(ctx, &self.0, 0, false, "pexpireat")
    }
}

/// What TTL-family commands report.
#[derive(Clone, Copy)]
enum Report {
    TtlSeconds,
    TtlMillis,
    AtSeconds,
    AtMillis,
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 without a deadline; otherwise the
/// milliseconds (left, or the absolute deadline), clamped at 0, and the seconds forms round
/// half up, `(ms + 500) / 1000`: PXAT 2000000000500 has EXPIRETIME 2000000001.
fn report(ctx: &mut Ctx, key: &[u8], what: Report) -> Reply {
    let Some(deadline) = ctx.db().counted().deadline(key) else {
        return Reply::Int(-2);
    };
    let Some(d) = deadline else {
        return Reply::Int(-1);
    };
    let ms = match what {
        Report::TtlSeconds | Report::TtlMillis => d.saturating_sub(ctx.now),
        Report::AtSeconds | Report::AtMillis => d,
    }
    .max(0);
    Reply::Int(match what {
        // Wide, so PEXPIREAT 9223372036854775807 rounds up to 9223372036854776 as Redis does.
        Report::TtlSeconds | Report::AtSeconds => ((ms as i128 + 500) / 1000) as i64,
        Report::TtlMillis | Report::AtMillis => ms,
    })
}

macro_rules! key_report {
    ($name:ident, $doc:literal, $what:expr) => {
        #[doc = $doc]
        pub struct $name {
            key: Bytes,
        }

        impl Command for $name {
            fn parse(args: &mut Args) -> Result<Self, Reply> {
                Ok($name { key: args.next()? })
            }
            fn execute(self, ctx: &mut Ctx) -> Reply {
                report(ctx, &self.key, $what)
            }
        }
    };
}

key_report!(Ttl, "`TTL key`", Report::TtlSeconds);
key_report!(Pttl, "`PTTL key`", Report::TtlMillis);
key_report!(Expiretime, "`EXPIRETIME key`", Report::AtSeconds);
key_report!(Pexpiretime, "`PEXPIRETIME key`", Report::AtMillis);

/// `PERSIST key`
pub struct Persist {
    key: Bytes,
}

impl Command for Persist {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Persist { key: args.next()? })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let db = ctx.db();
        match db.deadline(&self.key) {
            Some(Some(_)) => Reply::Int(db.set_deadline(&self.key, None) as i64),
            _ => Reply::Int(0),
        }
    }
}
