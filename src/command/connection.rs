//! Connection commands (Redis's networking.c): PING, ECHO, QUIT, RESET, HELLO, AUTH, and the
//! CLIENT subcommands. They change the session, never the store.

use super::args::{is, Args};
use super::{multi, Command, Ctx, ReplyMode};
use crate::errors::{self, err};
use crate::protocol::{Protocol, Reply};
use crate::server::shared::ClientHandle;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// `PING [message]`
pub struct Ping {
    msg: Option<Bytes>,
}

impl Command for Ping {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        if args.remaining() > 1 {
            return Err(errors::arity("ping"));
        }
        Ok(Ping { msg: args.next_opt() })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        match self.msg {
            None => Reply::status("PONG"),
            Some(m) => Reply::Bulk(m),
        }
    }
}

/// `ECHO message`
pub struct Echo {
    msg: Bytes,
}

impl Command for Echo {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Echo { msg: args.next()? })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        Reply::Bulk(self.msg)
    }
}

/// `QUIT`: replies, then the connection closes; pipelined commands after it never run.
pub struct Quit;

impl Command for Quit {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Quit)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.session.close = true;
        Reply::Ok
    }
}

/// `RESET`: back to a fresh connection's state (database 0, RESP2, no transaction, no
/// watches, no name, replies on).
pub struct Reset;

impl Command for Reset {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Reset)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        multi::discard_state(ctx);
        let authenticated = !ctx.shared.auth_required();
        // RESET returns the connection to the default user.
        ctx.session.user = ctx.shared.acl.default_user();
        *ctx.session.handle.user.lock() = "default".into();
        let s = &mut *ctx.session;
        s.db = 0;
        s.db_gen = 0;
        s.handle.db.store(0, Ordering::Relaxed);
        s.proto = Protocol::Resp2;
        s.handle.set_proto(Protocol::Resp2);
        *s.handle.name.lock() = Bytes::new();
        s.reply_mode = ReplyMode::On;
        s.authenticated = authenticated;
        // NO-TOUCH is cleared (7.2); NO-EVICT is not (7.0); CLIENT SETINFO values stay.
        s.handle.no_touch.store(false, Ordering::Relaxed);
        Reply::status("RESET")
    }
}

/// Checks a username/password pair (no name: the default user) against the ACL users; a
/// failure is logged (ACL LOG, reason `auth`).
fn check_auth(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8], command: &str) -> Result<(), Reply> {
    let name = String::from_utf8_lossy(user.unwrap_or(b"default")).into_owned();
    match ctx.shared.acl.get(&name) {
        Some(u) if u.enabled && u.check_password(pass) => {
            *ctx.session.handle.user.lock() = u.name.clone();
            ctx.session.user = u;
            ctx.session.acl_gen = ctx.shared.acl.generation.load(Ordering::Acquire);
            ctx.session.authenticated = true;
            Ok(())
        }
        _ => {
            let now = crate::store::now_ms();
            ctx.shared.acl.log(crate::acl::LogEntry {
                count: 1,
                reason: "auth",
                context: if ctx.session.multi.is_some() {
                    "multi"
                } else {
                    "toplevel"
                },
                object: command.to_string(),
                username: name,
                created_ms: now,
                updated_ms: now,
                client_info: ctx.session.handle.info_line(&ctx.session.handle.flags()),
            });
            Err(err(errors::WRONGPASS))
        }
    }
}

/// `AUTH [username] password`
pub struct Auth {
    user: Option<Bytes>,
    pass: Bytes,
    /// The command name as typed (ACL LOG's object for a failure).
    name: String,
}

impl Command for Auth {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        match args.rest() {
            [p] => Ok(Auth {
                user: None,
                pass: p.clone(),
                name: String::from_utf8_lossy(&args.all()[0]).into_owned(),
            }),
            [u, p] => Ok(Auth {
                user: Some(u.clone()),
                pass: p.clone(),
                name: String::from_utf8_lossy(&args.all()[0]).into_owned(),
            }),
            _ => Err(err(errors::SYNTAX)),
        }
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.user.is_none() && ctx.shared.acl.default_user().nopass {
            return err(errors::AUTH_NO_PASSWORD);
        }
        match check_auth(ctx, self.user.as_deref(), &self.pass, &self.name) {
            Ok(()) => Reply::Ok,
            Err(e) => e,
        }
    }
}

/// Client names and CLIENT SETINFO values: printable ASCII without spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// One HELLO option, in the order given.
enum HelloOp {
    Auth(Bytes, Bytes),
    Setname(Bytes),
    /// Parsing stopped here: earlier options still take effect, then this is the reply.
    Fail(Reply),
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
///
/// As in Redis 7.0's helloCommand, the version is checked first, then the options run in
/// order: an AUTH or SETNAME that precedes a failing option keeps its effect.
pub struct Hello {
    proto: Option<i64>,
    ops: Vec<HelloOp>,
    name: String,
}

impl Command for Hello {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut h = Hello {
            proto: None,
            ops: Vec::new(),
            name: String::from_utf8_lossy(&args.all()[0]).into_owned(),
        };
        if let Some(v) = args.next_opt() {
            let v = crate::num::parse_i64(&v).ok_or_else(|| err(errors::PROTOCOL_VERSION))?;
            if !(2..=3).contains(&v) {
                return Err(err(errors::NOPROTO));
            }
            h.proto = Some(v);
        }
        while let Some(opt) = args.next_opt() {
            if is(&opt, "auth") && args.remaining() >= 2 {
                h.ops.push(HelloOp::Auth(args.next()?, args.next()?));
            } else if is(&opt, "setname") && !args.is_empty() {
                let name = args.next()?;
                if !valid_name(&name) {
                    h.ops.push(HelloOp::Fail(err(errors::CLIENT_NAME)));
                    break;
                }
                h.ops.push(HelloOp::Setname(name));
            } else {
                h.ops.push(HelloOp::Fail(errors::hello_option(&opt)));
                break;
            }
        }
        Ok(h)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        for op in self.ops {
            match op {
                HelloOp::Auth(user, pass) => {
                    if let Err(e) = check_auth(ctx, Some(&user), &pass, &self.name) {
                        return e;
                    }
                }
                HelloOp::Setname(name) => *ctx.session.handle.name.lock() = name,
                HelloOp::Fail(e) => return e,
            }
        }
        if !ctx.session.authenticated {
            return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        if let Some(v) = self.proto {
            ctx.session.proto = if v == 3 { Protocol::Resp3 } else { Protocol::Resp2 };
            ctx.session.handle.set_proto(ctx.session.proto);
        }
        let s = |t: &str| Reply::bulk_str(t);
        Reply::Map(vec![
            (s("server"), s("redis")),
            (s("version"), s(crate::REDIS_VERSION)),
            (s("proto"), Reply::Int(ctx.session.proto.version())),
            (s("id"), Reply::Int(ctx.session.handle.id as i64)),
            (s("mode"), s("standalone")),
            (s("role"), s("master")),
            (s("modules"), Reply::Array(vec![])),
        ])
    }
}

/// `CLIENT ID`
pub struct ClientId;

impl Command for ClientId {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ClientId)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Int(ctx.session.handle.id as i64)
    }
}

/// `CLIENT SETNAME connection-name`
pub struct ClientSetname {
    name: Bytes,
}

impl Command for ClientSetname {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let name = a.next()?;
        if !valid_name(&name) {
            return Err(err(errors::CLIENT_NAME));
        }
        Ok(ClientSetname { name })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        *ctx.session.handle.name.lock() = self.name;
        Reply::Ok
    }
}

/// `CLIENT GETNAME`
pub struct ClientGetname;

impl Command for ClientGetname {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ClientGetname)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let name = ctx.session.handle.name.lock().clone();
        if name.is_empty() {
            Reply::Nil
        } else {
            Reply::Bulk(name)
        }
    }
}

/// `CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>` (Redis 7.2; clients send it on connect)
pub struct ClientSetinfo {
    lib_name: bool,
    value: Bytes,
}

impl Command for ClientSetinfo {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let attr = a.next()?;
        let value = a.next()?;
        let lib_name = if is(&attr, "lib-name") {
            true
        } else if is(&attr, "lib-ver") {
            false
        } else {
            return Err(errors::echo("ERR Unrecognized option '", &attr, "'"));
        };
        if !valid_name(&value) {
            return Err(errors::echo(
                "ERR ",
                &attr,
                " cannot contain spaces, newlines or special characters.",
            ));
        }
        Ok(ClientSetinfo { lib_name, value })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let h = &ctx.session.handle;
        if self.lib_name {
            *h.lib_name.lock() = self.value;
        } else {
            *h.lib_ver.lock() = self.value;
        }
        Reply::Ok
    }
}

/// `CLIENT INFO`
pub struct ClientInfo;

impl Command for ClientInfo {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ClientInfo)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let h = &ctx.session.handle;
        Reply::Verbatim(Bytes::from(format!("{}\n", h.info_line(&h.flags()))))
    }
}

/// `CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id ...]`
pub struct ClientList {
    /// Listed in the order given (a repeated id is listed again; ids <= 0 match nothing).
    ids: Option<Vec<i64>>,
    /// False when a TYPE filter excludes every client here (all clients are "normal").
    type_ok: bool,
}

fn client_type_ok(t: &[u8]) -> Result<bool, Reply> {
    if is(t, "normal") {
        Ok(true)
    } else if is(t, "master") || is(t, "replica") || is(t, "slave") || is(t, "pubsub") {
        Ok(false)
    } else {
        Err(errors::echo("ERR Unknown client type '", t, "'"))
    }
}

impl Command for ClientList {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let rest = a.rest();
        match rest {
            [] => Ok(ClientList {
                ids: None,
                type_ok: true,
            }),
            [t, v] if is(t, "type") => Ok(ClientList {
                ids: None,
                type_ok: client_type_ok(v)?,
            }),
            [t, ids @ ..] if is(t, "id") && !ids.is_empty() => {
                let mut out = Vec::new();
                for id in ids {
                    out.push(crate::num::parse_i64(id).ok_or_else(|| err("ERR Invalid client ID"))?);
                }
                Ok(ClientList {
                    ids: Some(out),
                    type_ok: true,
                })
            }
            _ => Err(err(errors::SYNTAX)),
        }
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let mut out = String::new();
        if self.type_ok {
            let clients = ctx.shared.clients.lock();
            let chosen: Vec<_> = match &self.ids {
                None => clients.values().cloned().collect(),
                Some(ids) => ids
                    .iter()
                    .filter(|id| **id > 0)
                    .filter_map(|id| clients.get(&(*id as u64)).cloned())
                    .collect(),
            };
            drop(clients);
            // Killed clients are gone for Redis, even if their task has not finished yet.
            for c in chosen.into_iter().filter(|c| !c.killed.load(Ordering::Relaxed)) {
                out.push_str(&c.info_line(&c.flags()));
                out.push('\n');
            }
        }
        Reply::Verbatim(Bytes::from(out))
    }
}

/// `CLIENT KILL ip:port` or `CLIENT KILL <ID id | ADDR ip:port | LADDR ip:port | TYPE t |
/// USER u | SKIPME yes/no> ...`
pub struct ClientKill {
    old_addr: Option<String>,
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    type_ok: bool,
    skipme: bool,
    user: Option<Bytes>,
}

impl Command for ClientKill {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let mut k = ClientKill {
            old_addr: None,
            id: None,
            addr: None,
            laddr: None,
            type_ok: true,
            skipme: true,
            user: None,
        };
        if a.remaining() == 1 {
            k.old_addr = Some(String::from_utf8_lossy(&a.next()?).into_owned());
            return Ok(k);
        }
        while let Some(opt) = a.next_opt() {
            let Some(v) = a.next_opt() else {
                return Err(err(errors::SYNTAX));
            };
            if is(&opt, "id") {
                match crate::num::parse_i64(&v) {
                    Some(n) if n > 0 => k.id = Some(n as u64),
                    _ => return Err(err("ERR client-id should be greater than 0")),
                }
            } else if is(&opt, "type") {
                k.type_ok = client_type_ok(&v)?;
            } else if is(&opt, "addr") {
                k.addr = Some(String::from_utf8_lossy(&v).into_owned());
            } else if is(&opt, "laddr") {
                k.laddr = Some(String::from_utf8_lossy(&v).into_owned());
            } else if is(&opt, "user") {
                k.user = Some(v);
            } else if is(&opt, "skipme") {
                if is(&v, "yes") {
                    k.skipme = true;
                } else if is(&v, "no") {
                    k.skipme = false;
                } else {
                    return Err(err(errors::SYNTAX));
                }
            } else {
                return Err(err(errors::SYNTAX));
            }
        }
        Ok(k)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let me = ctx.session.handle.id;
        let user = match &self.user {
            Some(u) => match ctx.shared.acl.get(&String::from_utf8_lossy(u)) {
                Some(found) => Some(found.name.clone()),
                None => return errors::echo("ERR No such user '", u, "'"),
            },
            None => None,
        };
        // A client killed a moment ago may not have left the registry yet: Redis frees it at
        // once, so it is neither listed nor killed (nor counted) again.
        let clients: Vec<_> = ctx
            .shared
            .clients
            .lock()
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed))
            .cloned()
            .collect();
        if let Some(addr) = &self.old_addr {
            return match clients.iter().find(|c| c.addr.to_string() == *addr) {
                Some(c) => {
                    kill(ctx, c);
                    Reply::Ok
                }
                None => err(errors::NO_SUCH_CLIENT),
            };
        }
        let mut killed = 0;
        for c in clients {
            if !self.type_ok
                || self.id.is_some_and(|id| id != c.id)
                || self.addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
                || self.laddr.as_ref().is_some_and(|a| *a != c.laddr.to_string())
                || user.as_ref().is_some_and(|u| *u != *c.user.lock())
                || (self.skipme && c.id == me)
            {
                continue;
            }
            kill(ctx, &c);
            killed += 1;
        }
        Reply::Int(killed)
    }
}

/// Kills a client; the caller itself is closed once its reply is written. Either way it is
/// marked killed at once, so CLIENT LIST and CLIENT KILL no longer see it (Redis frees it).
fn kill(ctx: &mut Ctx, c: &ClientHandle) {
    if c.id == ctx.session.handle.id {
        c.killed.store(true, Ordering::Relaxed);
        ctx.session.close = true;
    } else {
        c.kill();
    }
}

/// `CLIENT REPLY ON|OFF|SKIP`
pub struct ClientReply {
    mode: ReplyMode,
}

impl Command for ClientReply {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let v = Args::after_sub(args.all()).next()?;
        let mode = if is(&v, "on") {
            ReplyMode::On
        } else if is(&v, "off") {
            ReplyMode::Off
        } else if is(&v, "skip") {
            ReplyMode::SkipNext
        } else {
            return Err(err(errors::SYNTAX));
        };
        Ok(ClientReply { mode })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.session.reply_mode = self.mode;
        match self.mode {
            ReplyMode::On => Reply::Ok,
            _ => Reply::None,
        }
    }
}

fn on_off(args: &Args) -> Result<bool, Reply> {
    let v = Args::after_sub(args.all()).next()?;
    if is(&v, "on") {
        Ok(true)
    } else if is(&v, "off") {
        Ok(false)
    } else {
        Err(err(errors::SYNTAX))
    }
}

/// `CLIENT NO-EVICT ON|OFF`
pub struct ClientNoEvict(bool);

impl Command for ClientNoEvict {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(ClientNoEvict(on_off(args)?))
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.session.handle.no_evict.store(self.0, Ordering::Relaxed);
        Reply::Ok
    }
}

/// `CLIENT NO-TOUCH ON|OFF` (Redis 7.2)
pub struct ClientNoTouch(bool);

impl Command for ClientNoTouch {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(ClientNoTouch(on_off(args)?))
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.session.handle.no_touch.store(self.0, Ordering::Relaxed);
        Reply::Ok
    }
}

/// A help reply: Redis's `addReplyHelp` header, the lines, and the HELP footer.
pub fn help(container: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Status(
        format!(
            "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            container.to_ascii_uppercase()
        )
        .into(),
    )];
    out.extend(lines.iter().map(|l| Reply::Status(l.to_string().into())));
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}

/// `CLIENT HELP`
pub struct ClientHelp;

impl Command for ClientHelp {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ClientHelp)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        // Redis 7.0's text, less the subcommands edgekv does not have (CACHING, GETREDIR,
        // PAUSE, UNPAUSE, UNBLOCK, TRACKING, TRACKINGINFO), plus 7.2's SETINFO and NO-TOUCH
        // where 7.2 puts them.
        help(
            "client",
            &[
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are:",
                "    * ADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made from the specified address",
                "    * LADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made to specified local address",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Kill connections by type.",
                "    * USER <username>",
                "      Kill connections authenticated by <username>.",
                "    * SKIPME (YES|NO)",
                "      Skip killing current connection (default: yes).",
                "LIST [options ...]",
                "    Return information about client connections. Options:",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Return clients of specified type.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are:",
                "    * LIB-NAME: the client lib name.",
                "    * LIB-VER: the client lib version.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "NO-TOUCH (ON|OFF)",
                "    Will not touch LRU/LFU stats when this mode is on.",
            ],
        )
    }
}
