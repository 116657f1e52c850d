//! The slow log (Redis's slowlog.c): SLOWLOG GET [count] / LEN / RESET / HELP, and the entries
//! `execute` adds for commands that ran at least `slowlog-log-slower-than` microseconds.
//!
//! An entry keeps what Redis keeps: a unique id, the unix time, the duration in microseconds,
//! the arguments as the client sent them (at most 32, each at most 128 bytes, the rest
//! summarized; secrets replaced by `(redacted)`), the client's address and name. Commands
//! flagged `skip_slowlog` (EXEC: its queued commands are logged one by one) never are.

use super::args::{is, Args};
use super::connection::help;
use super::{Command, Ctx, Session};
use crate::errors;
use crate::protocol::Reply;
use crate::server::shared::Shared;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

pub struct Entry {
    id: u64,
    time: i64,
    micros: u64,
    argv: Vec<Bytes>,
    peer: String,
    name: Bytes,
}

#[derive(Default)]
struct Inner {
    /// Newest first.
    entries: VecDeque<Entry>,
    next_id: u64,
}

#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

impl SlowLog {
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// Keeps at most `max_len` entries. Redis trims after every command while the slow log is
    /// on; the length only goes down through CONFIG SET, so CONFIG SET trims (when the log
    /// is on) and every new entry trims, with the same result.
    pub fn trim(&self, max_len: i64) {
        self.inner.lock().entries.truncate(max_len.max(0) as usize);
    }
}

/// Logs a command that ran for `micros` (at least `slowlog-log-slower-than`, not flagged
/// `skip_slowlog`), then keeps at most `slowlog-max-len` entries (Redis's
/// slowlogPushEntryIfNeeded: an id is used even when the length is 0 and the entry leaves at
/// once).
#[cold]
pub fn record(shared: &Shared, session: &Session, fullname: &str, argv: &[Bytes], micros: u64) {
    let max_len = shared.config.slowlog_max_len.load(Ordering::Relaxed).max(0) as usize;
    let mut entry = Entry {
        id: 0,
        time: crate::store::now_ms() / 1000,
        micros,
        argv: summarize(fullname, argv),
        peer: session.handle.addr.to_string(),
        name: session.handle.name.lock().clone(),
    };
    let mut inner = shared.slowlog.inner.lock();
    entry.id = inner.next_id;
    inner.next_id += 1;
    inner.entries.push_front(entry);
    inner.entries.truncate(max_len);
}

/// The arguments as an entry keeps them: secrets redacted as the commands redact them in
/// Redis (AUTH, HELLO's AUTH, CONFIG SET of requirepass, ACL SETUSER), then at most 32
/// arguments (the last one counting the rest) of at most 128 bytes each.
fn summarize(fullname: &str, argv: &[Bytes]) -> Vec<Bytes> {
    let redacted = redactions(fullname, argv);
    let n = argv.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(n);
    for (j, a) in argv.iter().take(n).enumerate() {
        if n != argv.len() && j == n - 1 {
            out.push(Bytes::from(format!("... ({} more arguments)", argv.len() - n + 1)));
        } else if redacted(j) {
            out.push(Bytes::from_static(b"(redacted)"));
        } else if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Which arguments a command hides from the slow log (Redis's redactClientCommandArgument
/// calls: each command redacts once it has checked its own syntax that far).
fn redactions(fullname: &str, argv: &[Bytes]) -> impl Fn(usize) -> bool {
    let mut hide = vec![false; argv.len()];
    match fullname {
        // authCommand: more than 2 arguments is a syntax error before any redaction.
        "auth" if argv.len() <= 3 => hide[1..].fill(true),
        "acl|setuser" => hide[2..].fill(true),
        // configSetCommand: an odd argument count is refused before any redaction.
        "config|set" if argv.len().is_multiple_of(2) => {
            let mut j = 2;
            while j + 1 < argv.len() {
                // edgekv's http-tokens hold bearer secrets like requirepass.
                if is(&argv[j], "requirepass") || is(&argv[j], "http-tokens") {
                    hide[j + 1] = true;
                }
                j += 2;
            }
        }
        "hello" => {
            // helloCommand reads the protocol version first (an invalid one ends it), then
            // the options until one is not understood.
            let version_ok = argv.len() < 2 || matches!(crate::num::parse_i64(&argv[1]), Some(2 | 3));
            let mut j = 2;
            while version_ok && j < argv.len() {
                let more = argv.len() - 1 - j;
                if is(&argv[j], "auth") && more >= 2 {
                    hide[j + 1] = true;
                    hide[j + 2] = true;
                    j += 3;
                } else if is(&argv[j], "setname") && more >= 1 {
                    j += 2;
                } else {
                    break;
                }
            }
        }
        _ => {}
    }
    move |j| hide.get(j).copied().unwrap_or(false)
}

const COUNT_ERR: &str = "ERR count should be greater than or equal to -1";

/// `SLOWLOG GET [count]`
pub struct SlowlogGet {
    count: Option<usize>,
}

impl Command for SlowlogGet {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let rest = Args::after_sub(args.all()).rest();
        match rest {
            [] => Ok(SlowlogGet { count: Some(10) }),
            [c] => match crate::num::parse_i64(c) {
                Some(-1) => Ok(SlowlogGet { count: None }),
                Some(n) if n >= 0 => Ok(SlowlogGet {
                    count: Some(usize::try_from(n).unwrap_or(usize::MAX)),
                }),
                _ => Err(errors::err(COUNT_ERR)),
            },
            _ => Err(errors::subcommand_syntax("slowlog", &args.all()[1])),
        }
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let inner = ctx.shared.slowlog.inner.lock();
        let n = self.count.unwrap_or(usize::MAX).min(inner.entries.len());
        Reply::Array(
            inner
                .entries
                .iter()
                .take(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.time),
                        Reply::Int(e.micros as i64),
                        Reply::Array(e.argv.iter().cloned().map(Reply::Bulk).collect()),
                        Reply::bulk_str(&e.peer),
                        Reply::Bulk(e.name.clone()),
                    ])
                })
                .collect(),
        )
    }
}

/// `SLOWLOG LEN`
pub struct SlowlogLen;

impl Command for SlowlogLen {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(SlowlogLen)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Int(ctx.shared.slowlog.len() as i64)
    }
}

/// `SLOWLOG RESET`
pub struct SlowlogReset;

impl Command for SlowlogReset {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(SlowlogReset)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        ctx.shared.slowlog.reset();
        Reply::Ok
    }
}

/// `SLOWLOG HELP`
pub struct SlowlogHelp;

impl Command for SlowlogHelp {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(SlowlogHelp)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        help(
            "slowlog",
            &[
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn redaction_follows_each_command_syntax() {
        let s = |name: &str, v: &[&str]| -> Vec<String> {
            summarize(name, &b(v))
                .iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect()
        };
        assert_eq!(s("auth", &["auth", "u", "p"]), ["auth", "(redacted)", "(redacted)"]);
        assert_eq!(s("auth", &["auth", "u", "p", "x"]), ["auth", "u", "p", "x"]);
        assert_eq!(
            s("hello", &["hello", "3", "setname", "n", "AUTH", "u", "p"]),
            ["hello", "3", "setname", "n", "AUTH", "(redacted)", "(redacted)"]
        );
        assert_eq!(
            s("hello", &["hello", "4", "auth", "u", "p"]),
            ["hello", "4", "auth", "u", "p"]
        );
        assert_eq!(
            s("config|set", &["config", "set", "maxclients", "5", "REQUIREPASS", "pw"]),
            ["config", "set", "maxclients", "5", "REQUIREPASS", "(redacted)"]
        );
        assert_eq!(
            s("config|set", &["config", "set", "requirepass", "x", "maxclients"]),
            ["config", "set", "requirepass", "x", "maxclients"]
        );
        assert_eq!(
            s("acl|setuser", &["acl", "setuser", "bob", "on"]),
            ["acl", "setuser", "(redacted)", "(redacted)"]
        );
    }
}
