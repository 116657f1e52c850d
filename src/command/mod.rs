//! Commands: one file per family, each command a typed parse of its arguments followed by an
//! execution against the store, and the command table (name, arity, flags, categories).
//!
//! It never does I/O and never `.await`s. `dispatch` is the single entry point: name lookup,
//! arity, MULTI queueing, the store gate, statistics.

pub mod acl;
pub mod args;
pub mod connection;
pub mod expire;
pub mod keys;
pub mod kv;
pub mod multi;
pub mod namespace;
pub mod server;
pub mod slowlog;
pub mod strings;
pub mod table;

use crate::errors;
use crate::protocol::{Protocol, Reply};
use crate::server::shared::{ClientHandle, Shared};
use crate::store::watch::DirtyFlag;
use crate::store::DbRef;
pub use args::Args;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use table::{flags, CommandSpec};

/// What a connection remembers between commands.
pub struct Session {
    pub handle: Arc<ClientHandle>,
    pub db: usize,
    /// The generation of `db`'s slot when it was selected (see `Namespaces::generation`).
    pub db_gen: u32,
    pub proto: Protocol,
    /// Queued commands while in MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queueing: EXEC must abort.
    pub multi_error: bool,
    /// Keys under WATCH: (db, key).
    pub watched: Vec<(usize, Bytes)>,
    pub dirty: DirtyFlag,
    pub reply_mode: ReplyMode,
    /// Close the connection once the current reply is written (QUIT).
    pub close: bool,
    pub authenticated: bool,
    /// The user this connection runs as, and the ACL generation it was read at.
    pub user: std::sync::Arc<crate::acl::User>,
    pub acl_gen: u64,
    /// Running EXEC's queue (the store gate is held exclusively).
    pub in_exec: bool,
    /// A write command ran since the replies were last sent: they wait for the log
    /// (`Aof::make_durable`) before they leave.
    pub wrote: bool,
    /// The shape the next `KV.LIST` writes its page in, when not its own RESP or `FORMAT json`
    /// reply: an HTTP surface's body (`http::Call::run_list` sets it for one command). The
    /// page then leaves in the shape it was written in, not as JSON parsed and written again.
    pub list_writer: Option<Box<dyn kv::ListWriter>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    Skipping,
}

impl Session {
    /// A session running as `user`, whose rules were read at ACL generation `acl_gen`.
    pub fn new(handle: Arc<ClientHandle>, user: Arc<crate::acl::User>, acl_gen: u64) -> Session {
        Session {
            handle,
            db: 0,
            db_gen: 0,
            proto: Protocol::Resp2,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            dirty: Default::default(),
            reply_mode: ReplyMode::On,
            close: false,
            authenticated: true,
            user,
            acl_gen,
            in_exec: false,
            wrote: false,
            list_writer: None,
        }
    }
}

/// Everything a command may use while it executes.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    /// The time of this command, read once (unix milliseconds).
    pub now: i64,
}

impl<'a> Ctx<'a> {
    /// The selected namespace at this command's time.
    #[inline]
    pub fn db(&self) -> DbRef<'a> {
        self.shared.store.db(self.session.db, self.now)
    }

    pub fn db_at(&self, index: usize) -> DbRef<'a> {
        self.shared.store.db(index, self.now)
    }

    /// May this connection's user use database or namespace slot `index`? (edgekv's
    /// namespace scope; the denial is logged and answered with NOPERM.)
    pub fn may_use_db(&self, index: usize) -> Result<(), Reply> {
        if may_use_db(self.shared, &self.session.user, index) {
            return Ok(());
        }
        log_denial(self.shared, self.session, "namespace", index.to_string());
        Err(errors::noperm_namespace(index))
    }

    /// Makes `index` (a numbered database or a live namespace, at `generation`) the selected one.
    pub fn select(&mut self, index: usize, generation: u32) {
        self.session.db = index;
        self.session.db_gen = generation;
        self.session.handle.db.store(index, Ordering::Relaxed);
    }
}

/// A command: a typed parse of its arguments, then execution.
pub trait Command: Sized {
    /// Reads every argument before anything changes; argument errors come from `Args`.
    fn parse(args: &mut Args) -> Result<Self, Reply>;
    fn execute(self, ctx: &mut Ctx) -> Reply;
}

/// Parses and executes `C` (the table's entry point for every command).
pub fn run<C: Command>(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let mut args = Args::new(argv);
    match C::parse(&mut args) {
        Ok(c) => c.execute(ctx),
        Err(r) => r,
    }
}

/// Why a request was refused before it ran: the reply, and the command (when it was known)
/// whose `rejected_calls` counts it.
pub struct Rejected {
    pub command: Option<usize>,
    pub reply: Reply,
}

/// Looks up a command and, for containers, its subcommand, and checks the argument count.
pub fn resolve(argv: &[Bytes]) -> Result<(usize, &'static CommandSpec), Rejected> {
    let Some((idx, spec)) = table::lookup(&argv[0]) else {
        return Err(Rejected {
            command: None,
            reply: errors::unknown_command(&argv[0], &argv[1..]),
        });
    };
    let (idx, spec) = if !spec.subcommands.is_empty() && argv.len() >= 2 {
        match table::lookup_sub(spec, &argv[1]) {
            Some(s) => s,
            None => {
                return Err(Rejected {
                    command: None,
                    reply: errors::unknown_subcommand(spec.name, &argv[1]),
                });
            }
        }
    } else {
        (idx, spec)
    };
    let n = argv.len() as i32;
    if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
        return Err(Rejected {
            command: Some(idx),
            reply: errors::arity(spec.fullname),
        });
    }
    Ok((idx, spec))
}

/// Executes one request for a connection and returns its reply. The order of checks is
/// Redis's `processCommand`: existence and arity, then authentication, then MULTI queueing.
pub fn dispatch(shared: &Shared, session: &mut Session, argv: &[Bytes], now: i64) -> Reply {
    let (idx, spec) = match resolve(argv) {
        Ok(r) => r,
        Err(rej) => return reject(shared, session, argv, rej),
    };
    // A refusal of this known command (counted in its rejected_calls).
    let refuse = |session: &mut Session, reply: Reply| {
        reject(
            shared,
            session,
            argv,
            Rejected {
                command: Some(idx),
                reply,
            },
        )
    };
    if !session.authenticated && spec.flags & flags::NO_AUTH == 0 {
        if shared.auth_required() {
            let reply = errors::err("NOAUTH Authentication required.");
            return refuse(session, reply);
        }
        // The password was cleared since this client connected: nothing to authenticate.
        session.authenticated = true;
    }
    // ACL: the user's current rules (they change under live connections), then the command,
    // its keys and the namespace (processCommand's ACLCheckAllPerm).
    let gen = shared.acl.generation.load(Ordering::Acquire);
    if session.acl_gen != gen {
        session.acl_gen = gen;
        match shared.acl.get(&session.user.name) {
            Some(u) => session.user = u,
            None => {
                // Redis disconnects the clients of a deleted user.
                session.close = true;
                return Reply::None;
            }
        }
    }
    // AUTH, HELLO and the like are never refused by ACL rules (Redis: no_auth commands).
    if spec.flags & flags::NO_AUTH == 0 && !session.user.unrestricted() {
        if let Err(reply) = acl_check(shared, session, idx, spec, argv) {
            return refuse(session, reply);
        }
    }
    // While the log is replayed, only commands flagged `loading` run (INFO, PING's peers...).
    if spec.flags & flags::LOADING == 0 && shared.loading.load(Ordering::Acquire) {
        let reply = errors::err(errors::LOADING);
        return refuse(session, reply);
    }
    // A log that cannot be written refuses writes (reads go on), as Redis's MISCONF.
    // (EXEC counts as a write when its queue holds one, as in Redis's processCommand.)
    let writes = spec.flags & flags::WRITE != 0
        || (argv[0].eq_ignore_ascii_case(b"exec")
            && session.multi.as_ref().is_some_and(|q| {
                q.iter()
                    .any(|a| table::lookup(&a[0]).is_some_and(|(_, s)| s.flags & flags::WRITE != 0))
            }));
    if writes {
        if let Some(e) = shared.aof.error() {
            let reply = errors::misconf(&e);
            return refuse(session, reply);
        }
    }
    // Inside MULTI, everything but the transaction-control commands is queued.
    if let Some(q) = &mut session.multi {
        if spec.flags & flags::TX_CONTROL == 0 {
            if spec.flags & flags::NO_MULTI != 0 {
                let reply = errors::err("ERR Command not allowed inside a transaction");
                return refuse(session, reply);
            }
            q.push(argv.to_vec());
            session.handle.multi.store(q.len() as i64, Ordering::Relaxed);
            session.handle.last_cmd.store(idx, Ordering::Relaxed);
            return Reply::Queued;
        }
    }
    execute(shared, session, idx, spec, argv, now, false)
}

/// The ACL check of a request; a denial is logged (ACL LOG) and answered with Redis's
/// `-NOPERM` text.
fn acl_check(shared: &Shared, session: &Session, idx: usize, spec: &CommandSpec, argv: &[Bytes]) -> Result<(), Reply> {
    use crate::acl::Denied;
    let Err(d) = check_request(shared, &session.user, session.db, idx, spec, argv) else {
        return Ok(());
    };
    // CLIENT LIST's cmd= names the refused command in the log entry.
    session.handle.last_cmd.store(idx, Ordering::Relaxed);
    let (reason, object, reply) = match &d {
        Denied::Command => (
            "command",
            spec.fullname.to_string(),
            errors::noperm_command(spec.fullname),
        ),
        Denied::Key(k) => (
            "key",
            String::from_utf8_lossy(k).into_owned(),
            errors::err(errors::NOPERM_KEY),
        ),
        Denied::Namespace(i) => ("namespace", i.to_string(), errors::noperm_namespace(*i)),
    };
    log_denial(shared, session, reason, object);
    Err(reply)
}

/// Everything the ACL decides about a request run by `user` in database `db`: the command,
/// its keys (`User::check`), then the namespace scope (a user scoped to some namespaces
/// touches no other database's keys). Dispatch, EXEC's re-check and ACL DRYRUN all ask here.
pub fn check_request(
    shared: &Shared,
    user: &crate::acl::User,
    db: usize,
    idx: usize,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Result<(), crate::acl::Denied> {
    user.check(idx, spec, argv)?;
    if user.namespaces.is_some() && touches_keyspace(spec) && !may_use_db(shared, user, db) {
        return Err(crate::acl::Denied::Namespace(db));
    }
    Ok(())
}

/// EXEC checks each queued command again: the rules may have changed since it was queued
/// (Redis's texts, logged with context `multi`).
pub fn recheck_acl(
    shared: &Shared,
    session: &Session,
    idx: usize,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Option<Reply> {
    use crate::acl::Denied;
    let user = &session.user;
    if spec.flags & flags::NO_AUTH != 0 || user.unrestricted() {
        return None;
    }
    let why = match check_request(shared, user, session.db, idx, spec, argv) {
        Ok(()) => return None,
        Err(Denied::Command) => (
            "command",
            spec.fullname.to_string(),
            "no permission to execute the command or subcommand",
        ),
        Err(Denied::Key(k)) => (
            "key",
            String::from_utf8_lossy(&k).into_owned(),
            "no permission to touch the specified keys",
        ),
        Err(Denied::Namespace(i)) => ("namespace", i.to_string(), "no permission to access the namespace"),
    };
    log_denial(shared, session, why.0, why.1);
    Some(errors::noperm_changed(why.2))
}

/// Adds an ACL LOG entry for this connection.
pub fn log_denial(shared: &Shared, session: &Session, reason: &'static str, object: String) {
    let now = crate::store::now_ms();
    shared.acl.log(crate::acl::LogEntry {
        count: 1,
        reason,
        context: if session.multi.is_some() || session.in_exec {
            "multi"
        } else {
            "toplevel"
        },
        object,
        username: session.user.name.clone(),
        created_ms: now,
        updated_ms: now,
        client_info: session.handle.info_line(&session.handle.flags()),
    });
}

/// Commands that read or write keys of the selected database. Not the `KV.NAMESPACE`
/// subcommands: they work on the registry, and check the scope of the namespace they name
/// themselves (namespace.rs), whatever database is selected.
fn touches_keyspace(spec: &CommandSpec) -> bool {
    (spec.keys.0 != 0
        || spec
            .categories
            .iter()
            .any(|c| matches!(*c, "@keyspace" | "@read" | "@write" | "@kv")))
        && !spec.fullname.starts_with("kv.namespace|")
}

/// May `user` use database (or namespace slot) `db`? Entries are indexes, ids or titles.
pub fn may_use_db(shared: &Shared, user: &crate::acl::User, db: usize) -> bool {
    let Some(list) = &user.namespaces else { return true };
    list.iter().any(|n| match n.parse::<usize>() {
        Ok(i) => i == db,
        Err(_) => shared.namespaces.find(n.as_bytes()).is_some_and(|ns| ns.index == db),
    })
}

/// Forgets a closing connection's transaction and watched keys.
pub fn end_session(shared: &Shared, session: &mut Session) {
    multi::discard_state(&mut Ctx {
        shared,
        session,
        now: 0,
    });
}

/// Answers a request refused before execution. Inside MULTI it also dooms the transaction;
/// a refused EXEC ends it with `EXECABORT`, as Redis's `execCommandAbort` does.
fn reject(shared: &Shared, session: &mut Session, argv: &[Bytes], rej: Rejected) -> Reply {
    if let Some(i) = rej.command {
        shared.cmdstats[i].rejected.fetch_add(1, Ordering::Relaxed);
    }
    let Reply::Error(text) = &rej.reply else {
        return rej.reply;
    };
    shared.count_error(&String::from_utf8_lossy(text));
    if argv[0].eq_ignore_ascii_case(b"exec") {
        let reason = text.strip_prefix(b"ERR ").unwrap_or(text);
        let mut msg = b"EXECABORT Transaction discarded because of: ".to_vec();
        msg.extend_from_slice(reason);
        multi::discard_state(&mut Ctx {
            shared,
            session,
            now: 0,
        });
        return Reply::Error(msg.into());
    }
    if session.multi.is_some() {
        session.multi_error = true;
    }
    rej.reply
}

/// Runs a resolved command under the store gate (unless the caller, EXEC, holds it already).
pub fn execute(
    shared: &Shared,
    session: &mut Session,
    idx: usize,
    spec: &'static CommandSpec,
    argv: &[Bytes],
    now: i64,
    gate_held: bool,
) -> Reply {
    let started = Instant::now();
    let h = &session.handle;
    if !session.in_exec {
        // Inside EXEC the client's command is EXEC (Redis's lastcmd), not the queued one.
        h.last_cmd.store(idx, Ordering::Relaxed);
    }
    h.last_active
        .store(started.duration_since(h.created).as_millis() as u64, Ordering::Relaxed);
    // A namespace deleted under this connection: its slot may already hold another one.
    // Checked with the gate held: KV.NAMESPACE DELETE holds it exclusively, so a command
    // that passes the check cannot run in the slot after the deletion.
    let deleted = |session: &Session| {
        session.db >= shared.store.databases() && shared.namespaces.generation(session.db) != session.db_gen
    };
    let run = |session: &mut Session| {
        if deleted(session) {
            return errors::KvError::NamespaceDeleted.reply();
        }
        let mut ctx = Ctx { shared, session, now };
        (spec.run)(&mut ctx, argv)
    };
    let reply = if gate_held {
        run(session)
    } else if spec.flags & flags::NO_GATE != 0 {
        let mut ctx = Ctx { shared, session, now };
        (spec.run)(&mut ctx, argv)
    } else if spec.flags & flags::EXCLUSIVE != 0 {
        let _g = shared.store.gate.write();
        run(session)
    } else {
        let _g = shared.store.gate.read();
        run(session)
    };
    if spec.flags & flags::WRITE != 0 || argv[0].eq_ignore_ascii_case(b"exec") {
        session.wrote = true;
    }
    // Redis's call(): the slow log, then the statistics and the latency histogram. The
    // clock is read once; nothing here takes a lock unless the command is slow.
    let elapsed = started.elapsed();
    let nanos = elapsed.as_secs() * 1_000_000_000 + elapsed.subsec_nanos() as u64;
    let micros = nanos / 1000;
    let slower_than = shared.config.slowlog_slower_than.load(Ordering::Relaxed);
    if micros as i64 >= slower_than && slower_than >= 0 && spec.flags & flags::SKIP_SLOWLOG == 0 {
        slowlog::record(shared, session, spec.fullname, argv, micros);
    }
    let st = &shared.cmdstats[idx];
    st.calls.fetch_add(1, Ordering::Relaxed);
    st.usec.fetch_add(micros, Ordering::Relaxed);
    if shared.config.latency_tracking.load(Ordering::Relaxed) {
        shared.latency[idx].record(nanos);
    }
    match &reply {
        Reply::Error(e) => {
            st.failed.fetch_add(1, Ordering::Relaxed);
            shared.count_error(&String::from_utf8_lossy(e));
        }
        Reply::Kv(_) => {
            st.failed.fetch_add(1, Ordering::Relaxed);
            shared.count_error(errors::KvError::CODE);
        }
        _ => {}
    }
    shared.stats.commands_processed.fetch_add(1, Ordering::Relaxed);
    reply
}

/// Prefetches the hash buckets, then the records, of the first key of each request in a
/// pipelined batch, so that the cache misses of one request overlap those of the others
/// instead of each request waiting for its own in turn. A hint only: nothing is read or
/// changed, and a wrong guess (a SELECT inside the batch) costs nothing but the prefetch.
pub fn prefetch(shared: &Shared, db: usize, batch: &[Vec<Bytes>]) {
    let keys = batch.iter().filter_map(|argv| {
        let (_, spec) = table::lookup(argv.first()?)?;
        (spec.keys.0 == 1 && argv.len() > 1).then(|| &argv[1][..])
    });
    shared.store.prefetch(db, keys);
}
