//! Transactions (Redis's multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing happens in `dispatch`; EXEC runs the queue with the store gate held exclusively,
//! so no other client's command interleaves. WATCH registers (db, key) pairs in the store's
//! registry; any write to them (or their expiry) marks this session dirty.

use super::args::Args;
use super::{Command, Ctx};
use crate::errors::{self, err};
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Leaves MULTI (if in it) and forgets every watched key.
pub fn discard_state(ctx: &mut Ctx) {
    ctx.session.multi = None;
    ctx.session.multi_error = false;
    ctx.session.handle.multi.store(-1, Ordering::Relaxed);
    unwatch_all(ctx);
}

fn unwatch_all(ctx: &mut Ctx) {
    let watches = &ctx.shared.store.watches;
    for (db, key) in ctx.session.watched.drain(..) {
        watches.unwatch(db, &key, &ctx.session.dirty);
    }
    ctx.session.dirty.store(false, Ordering::Relaxed);
}

/// `MULTI`
pub struct Multi;

impl Command for Multi {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Multi)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if ctx.session.multi.is_some() {
            return err(errors::MULTI_NESTED);
        }
        ctx.session.multi = Some(Vec::new());
        ctx.session.multi_error = false;
        ctx.session.handle.multi.store(0, Ordering::Relaxed);
        Reply::Ok
    }
}

/// `DISCARD`
pub struct Discard;

impl Command for Discard {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Discard)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if ctx.session.multi.is_none() {
            return err(errors::DISCARD_NO_MULTI);
        }
        discard_state(ctx);
        Reply::Ok
    }
}

/// `EXEC`
pub struct Exec;

impl Command for Exec {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Exec)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let Some(queue) = ctx.session.multi.take() else {
            return err(errors::EXEC_NO_MULTI);
        };
        let shared = ctx.shared;
        let _gate = shared.store.gate.write();
        // A watched key that expired since WATCH counts as modified: looking it up lets lazy
        // expiry remove it, which touches its watchers.
        for (db, key) in &ctx.session.watched {
            shared.store.db(*db, ctx.now).exists(key);
        }
        let aborted = ctx.session.multi_error;
        let dirty = ctx.session.dirty.load(Ordering::Relaxed);
        discard_state(ctx);
        if aborted {
            return err(errors::EXECABORT);
        }
        if dirty {
            return Reply::NilArray;
        }
        let mut replies = Vec::with_capacity(queue.len());
        // While the queue runs the client is still in MULTI, as in Redis (its execCommand
        // discards the transaction after the loop): CLIENT INFO/LIST and ACL LOG entries
        // show `flags=x multi=<queued>`, and `cmd=exec` (execute leaves cmd alone in EXEC).
        ctx.session.handle.multi.store(queue.len() as i64, Ordering::Relaxed);
        ctx.session.in_exec = true;
        for argv in &queue {
            let reply = match super::resolve(argv) {
                Ok((idx, spec)) => match super::recheck_acl(shared, ctx.session, idx, spec, argv) {
                    Some(denied) => denied,
                    None => super::execute(shared, ctx.session, idx, spec, argv, ctx.now, true),
                },
                Err(rej) => rej.reply,
            };
            replies.push(reply);
        }
        ctx.session.in_exec = false;
        ctx.session.handle.multi.store(-1, Ordering::Relaxed);
        Reply::Array(replies)
    }
}

/// `WATCH key [key ...]`
pub struct Watch {
    keys: Vec<Bytes>,
}

impl Command for Watch {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Watch {
            keys: args.rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if ctx.session.multi.is_some() {
            return err(errors::WATCH_IN_MULTI);
        }
        if ctx.session.dirty.load(Ordering::Relaxed) {
            return Reply::Ok;
        }
        let db = ctx.session.db;
        ctx.session
            .handle
            .dirty
            .lock()
            .get_or_insert_with(|| ctx.session.dirty.clone());
        for key in self.keys {
            if ctx.session.watched.iter().any(|(d, k)| *d == db && *k == key) {
                continue;
            }
            // A key already expired when watched is a missing key: removing it now keeps its
            // later reclaim from counting as a change (Redis's "stale keys" rule).
            ctx.db().exists(&key);
            ctx.shared.store.watches.watch(db, key.clone(), &ctx.session.dirty);
            ctx.session.watched.push((db, key));
        }
        Reply::Ok
    }
}

/// `UNWATCH`
pub struct Unwatch;

impl Command for Unwatch {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Unwatch)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        unwatch_all(ctx);
        Reply::Ok
    }
}
