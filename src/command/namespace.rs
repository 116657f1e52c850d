//! `KV.NAMESPACE CREATE|LIST|GET|RENAME|DELETE|STATS|HELP`: the Workers KV namespaces. A
//! namespace is a store slot after the numbered databases, with a random id and a unique
//! title (kv/mod.rs keeps the registry and its file).
//!
//! A user limited to some namespaces (`namespace:` ACL rules) manages namespaces from any
//! selected database (these commands touch no keys of it, so `dispatch` does not check its
//! scope): LIST shows only the namespaces it may use, and GET, STATS, RENAME and DELETE of
//! another namespace are refused (NOPERM, logged). CREATE needs `allnamespaces`: a new
//! namespace gets a random id, so it is in general outside the user's scope, and a scoped
//! user could fill `kv-max-namespaces` with namespaces that it can then neither use nor
//! delete (namespaces are the account's resource, as creating one needs account-level
//! rights at Cloudflare). An unrestricted user creates one when its command rules allow it.

use super::connection::help;
use super::{Args, Command, Ctx};
use crate::errors::KvError;
use crate::kv::Namespace;
use crate::protocol::Reply;
use bytes::Bytes;

fn describe(ctx: &Ctx, ns: &Namespace) -> Reply {
    let keys = ctx.shared.store.info(ns.index, ctx.now).keys;
    Reply::Map(vec![
        (Reply::bulk_str("id"), Reply::bulk_str(&ns.id)),
        (Reply::bulk_str("title"), Reply::bulk_str(&ns.title)),
        (Reply::bulk_str("index"), Reply::Int(ns.index as i64)),
        (Reply::bulk_str("keys"), Reply::Int(keys as i64)),
    ])
}

/// Selects namespace `id_or_title` for a session that is not a RESP connection: the HTTP
/// surfaces name the namespace in every request instead of sending SELECT. SELECT's lookup by
/// id or title and its namespace scope check (a denial is logged in ACL LOG and answered
/// with NOPERM); no permission for the SELECT command itself is needed. The commands run
/// next are checked against the scope again by `dispatch`.
pub fn select_for_request(
    shared: &crate::server::shared::Shared,
    session: &mut super::Session,
    id_or_title: &[u8],
) -> Result<Namespace, Reply> {
    let registry = &shared.namespaces;
    let not_found = || KvError::NamespaceNotFound.reply();
    let found = registry.find(id_or_title).ok_or_else(not_found)?;
    // Read before the liveness check, as SELECT does: a deletion in between is noticed by
    // the next command (`KvError::NamespaceDeleted`).
    let generation = registry.generation(found.index);
    if registry.at(found.index).map(|n| n.id) != Some(found.id.clone()) {
        return Err(not_found());
    }
    let mut ctx = Ctx {
        shared,
        session,
        now: crate::store::now_ms(),
    };
    ctx.may_use_db(found.index)?;
    ctx.select(found.index, generation);
    Ok(found)
}

fn find(ctx: &Ctx, id_or_title: &[u8]) -> Result<Namespace, KvError> {
    ctx.shared
        .namespaces
        .find(id_or_title)
        .ok_or(KvError::NamespaceNotFound)
}

/// `id_or_title`'s namespace, when the user may use it (a denial is logged and answered with
/// NOPERM, as SELECT's).
fn find_in_scope(ctx: &Ctx, id_or_title: &[u8]) -> Result<Namespace, Reply> {
    let ns = find(ctx, id_or_title).map_err(|e| e.reply())?;
    ctx.may_use_db(ns.index)?;
    Ok(ns)
}

/// Before RENAME or DELETE by id: refused when the namespace with that id is outside the
/// user's scope (an unknown id is the registry's to report).
fn check_scope_of_id(ctx: &Ctx, id: &[u8]) -> Result<(), Reply> {
    match ctx.shared.namespaces.find(id).filter(|ns| ns.id.as_bytes() == id) {
        Some(ns) => ctx.may_use_db(ns.index),
        None => Ok(()),
    }
}

/// `KV.NAMESPACE CREATE title` → `{id, title, index}` of the new namespace, which takes the
/// lowest free slot after the numbered databases. Its ordered index exists from the start,
/// so listing never pays for building one.
pub struct NsCreate {
    title: Bytes,
}

impl Command for NsCreate {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(NsCreate {
            title: Args::after_sub(args.all()).next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        // See the module's doc: creating needs every namespace.
        if ctx.session.user.namespaces.is_some() {
            super::log_denial(ctx.shared, ctx.session, "namespace", "*".into());
            return crate::errors::err(crate::errors::NOPERM_ALL_NAMESPACES);
        }
        match ctx.shared.namespaces.create(&self.title) {
            Ok(ns) => {
                // A reused slot was emptied when its namespace was deleted.
                ctx.shared.store.index_now(ns.index);
                Reply::Map(vec![
                    (Reply::bulk_str("id"), Reply::bulk_str(&ns.id)),
                    (Reply::bulk_str("title"), Reply::bulk_str(&ns.title)),
                    (Reply::bulk_str("index"), Reply::Int(ns.index as i64)),
                ])
            }
            Err(e) => e.reply(),
        }
    }
}

/// `KV.NAMESPACE LIST` → every namespace the user may use as `{id, title, index, keys}`, by
/// index.
pub struct NsList;

impl Command for NsList {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(NsList)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let list = ctx.shared.namespaces.list();
        let user = &ctx.session.user;
        Reply::Array(
            list.iter()
                .filter(|ns| super::may_use_db(ctx.shared, user, ns.index))
                .map(|ns| describe(ctx, ns))
                .collect(),
        )
    }
}

/// `KV.NAMESPACE GET id|title` → `{id, title, index, keys}`.
pub struct NsGet {
    name: Bytes,
}

impl Command for NsGet {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(NsGet {
            name: Args::after_sub(args.all()).next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        match find_in_scope(ctx, &self.name) {
            Ok(ns) => describe(ctx, &ns),
            Err(r) => r,
        }
    }
}

/// `KV.NAMESPACE RENAME id new-title`
pub struct NsRename {
    id: Bytes,
    title: Bytes,
}

impl Command for NsRename {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        Ok(NsRename {
            id: a.next()?,
            title: a.next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if let Err(r) = check_scope_of_id(ctx, &self.id) {
            return r;
        }
        match ctx.shared.namespaces.rename(&self.id, &self.title) {
            Ok(_) => Reply::Ok,
            Err(e) => e.reply(),
        }
    }
}

/// `KV.NAMESPACE DELETE id`: drops the namespace and every key in it (runs with the store
/// gate held exclusively, so no command sees it half gone). Connections that had selected it
/// get an error on their next command until they SELECT again.
pub struct NsDelete {
    id: Bytes,
}

impl Command for NsDelete {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(NsDelete {
            id: Args::after_sub(args.all()).next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if let Err(r) = check_scope_of_id(ctx, &self.id) {
            return r;
        }
        match ctx.shared.namespaces.delete(&self.id) {
            Ok(ns) => {
                ctx.db_at(ns.index).clear();
                Reply::Ok
            }
            Err(e) => e.reply(),
        }
    }
}

/// `KV.NAMESPACE STATS id|title` → usage in Workers KV's billing units, today (UTC; what the
/// daily quotas count) and since the server started, with the keys and bytes stored.
pub struct NsStats {
    name: Bytes,
}

impl Command for NsStats {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(NsStats {
            name: Args::after_sub(args.all()).next()?,
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let ns = match find_in_scope(ctx, &self.name) {
            Ok(ns) => ns,
            Err(r) => return r,
        };
        let info = ctx.shared.store.info(ns.index, ctx.now);
        let u = ctx.shared.namespaces.usage(ns.index).snapshot(ctx.now);
        let kv = &ctx.shared.config.kv;
        let q = |a: &std::sync::atomic::AtomicI64| a.load(std::sync::atomic::Ordering::Relaxed);
        let f = |k: &str, v: i64| (Reply::bulk_str(k), Reply::Int(v));
        Reply::Map(vec![
            (Reply::bulk_str("id"), Reply::bulk_str(&ns.id)),
            (Reply::bulk_str("title"), Reply::bulk_str(&ns.title)),
            f("index", ns.index as i64),
            f("keys", info.keys as i64),
            f("bytes", info.bytes as i64),
            f("reads", u.total[0] as i64),
            f("writes", u.total[1] as i64),
            f("deletes", u.total[2] as i64),
            f("lists", u.total[3] as i64),
            f("reads_today", u.today[0] as i64),
            f("writes_today", u.today[1] as i64),
            f("deletes_today", u.today[2] as i64),
            f("lists_today", u.today[3] as i64),
            f("quota_reads", q(&kv.quota_reads)),
            f("quota_writes", q(&kv.quota_writes)),
            f("quota_deletes", q(&kv.quota_deletes)),
            f("quota_lists", q(&kv.quota_lists)),
            f("quota_storage", q(&kv.quota_storage)),
        ])
    }
}

/// `KV.NAMESPACE HELP`
pub struct NsHelp;

impl Command for NsHelp {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(NsHelp)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        help(
            "kv.namespace",
            &[
                "CREATE <title>",
                "    Create a namespace; returns its id, title and database index.",
                "LIST",
                "    List namespaces: id, title, index and number of keys.",
                "GET <id|title>",
                "    Show one namespace.",
                "RENAME <id> <new-title>",
                "    Give a namespace a new title.",
                "DELETE <id>",
                "    Delete a namespace and every key in it.",
                "STATS <id|title>",
                "    Usage in Workers KV's billing units (today and since start), keys, bytes, quotas.",
            ],
        )
    }
}
