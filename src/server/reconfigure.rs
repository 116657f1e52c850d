//! CONFIG SET's effects beyond the configuration: each parameter's spec names its `Effect`
//! (config.rs), and this module says what the effect does to the running server.
//!
//! It owns the order and the all-or-nothing rule of a CONFIG SET with several parameters
//! (Redis 7.0's configSetCommand): effects run once every value is stored, those that can
//! fail first, each in argument order; if one fails, every value the command changed is put
//! back and the effects that ran are applied again with the old values, so the command
//! changes nothing. It never validates
//! values (config.rs has, before anything changed).

use crate::config::{Change, Effect};
use crate::server::shared::Shared;
use std::sync::atomic::Ordering;

/// Applies the effects of the values `changes` holds (already stored). On failure, returns
/// the failing parameter and why, with the configuration and the server as they were.
/// `in_exec`: the caller holds the store gate (a log switched on is then written in the
/// background).
///
/// Effects that can fail run first: the others cannot be undone exactly (a slow log trimmed
/// to a shorter `slowlog-max-len` has lost its entries, where Redis, which trims after the
/// command, keeps them when the command fails), and need not be once nothing can fail.
pub fn apply(shared: &Shared, changes: &[Change], in_exec: bool) -> Result<(), (&'static str, String)> {
    let mut ran: Vec<(Effect, &Change)> = Vec::new();
    for pass_fallible in [true, false] {
        for c in changes {
            let Some(effect) = c.effect() else { continue };
            // One run per effect, as Redis runs each apply function once (the two slowlog
            // parameters share theirs).
            if effect.can_fail() != pass_fallible || ran.iter().any(|(e, _)| *e == effect) {
                continue;
            }
            ran.push((effect, c));
            if let Err(why) = run(shared, effect, &c.new, in_exec) {
                tracing::warn!(parameter = c.name(), error = %why, "CONFIG SET failed to apply; restoring the previous settings");
                shared.config.restore(changes);
                // Redis's restoreBackupConfig: the effects that ran (this one too) apply the
                // old values again.
                for (effect, r) in &ran {
                    if let Err(e) = run(shared, *effect, &r.old, in_exec) {
                        tracing::warn!(parameter = r.name(), error = %e, "restoring a failed CONFIG SET failed");
                    }
                }
                return Err((c.name(), why));
            }
        }
    }
    Ok(())
}

/// What one effect does with `value` (the parameter's new value, or its old one when a
/// failed CONFIG SET is undone).
fn run(shared: &Shared, effect: Effect, value: &str, in_exec: bool) -> Result<(), String> {
    match effect {
        Effect::Appendonly => crate::server::durability::set_appendonly(shared, value == "yes", in_exec),
        Effect::Appendfsync => {
            shared.aof.set_policy(crate::persist::log::Fsync::parse(value));
            Ok(())
        }
        Effect::Requirepass => {
            let _ = shared.acl.set_user("default", &requirepass_rules(value));
            Ok(())
        }
        Effect::Loglevel => {
            shared.config.apply_loglevel(value);
            Ok(())
        }
        Effect::Slowlog => {
            let config = &shared.config;
            if config.slowlog_slower_than.load(Ordering::Relaxed) >= 0 {
                shared.slowlog.trim(config.slowlog_max_len.load(Ordering::Relaxed));
            }
            Ok(())
        }
    }
}

/// The default user's rules for a `requirepass` (at start-up as at run time): its password,
/// or none when empty, as in Redis.
pub fn requirepass_rules(pass: &str) -> Vec<String> {
    if pass.is_empty() {
        vec!["nopass".to_string()]
    } else {
        vec!["resetpass".to_string(), format!(">{pass}")]
    }
}
