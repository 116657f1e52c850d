//! Users and what they may do: Redis 7.0's ACL model (users on/off, SHA-256 passwords, command
//! and category rules, key patterns with read/write permissions) plus edgekv's namespace scope
//! (`namespace:<id|title|index>`: a user limited to some namespaces cannot select or touch
//! others).
//!
//! It owns the rules, their parsing and rendering, and the checks; it never does I/O (the
//! aclfile is read and written by the ACL commands) and never speaks a protocol.

use crate::command::table::{self, CommandSpec};
use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A key pattern and what it allows: `~p` both, `%R~p` reads, `%W~p` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 digests, in the order they were added.
    pub passwords: Vec<[u8; 32]>,
    /// Allowed, by command-table index (commands and subcommands).
    allowed: Vec<bool>,
    /// The command rules as given since the last `+@all`/`-@all`, for ACL LIST.
    rules: Vec<String>,
    pub all_keys: bool,
    pub keys: Vec<KeyPattern>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
    /// `None`: every database and namespace. Otherwise ids, titles or indexes as given.
    pub namespaces: Option<Vec<String>>,
    /// Everything is allowed (kept up to date by `apply`): the per-command check is skipped.
    open: bool,
    /// First arguments allowed for commands not allowed whole (`+select|0`).
    first_args: std::collections::HashMap<usize, Vec<Vec<u8>>>,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(Vec<u8>),
    Namespace(usize),
}

const NO_SUCH_PASSWORD: &str = "The password you are trying to remove from the user does not exist";

pub fn sha256(pass: &[u8]) -> [u8; 32] {
    Sha256::digest(pass).into()
}

fn hex(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl User {
    /// A new user: off, no passwords, no commands, no keys, no channels (Redis 7.0's defaults;
    /// no channels is Redis's `resetchannels`, the default of `acl-pubsub-default`, so neither
    /// new users nor `reset` need to apply it again).
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            allowed: vec![false; table::len()],
            rules: vec!["-@all".into()],
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
            namespaces: None,
            open: false,
            first_args: std::collections::HashMap::new(),
        }
    }

    /// The default user: on, nopass, every command, key and channel.
    pub fn default_user() -> User {
        let mut u = User::new("default");
        for r in ["on", "nopass", "~*", "&*", "+@all"] {
            u.apply(r).expect("valid default rules");
        }
        u
    }

    fn set_commands(&mut self, f: impl Fn(&CommandSpec) -> bool, allow: bool) {
        for (i, spec) in table::all().iter().enumerate() {
            if f(spec) {
                self.allowed[i] = allow;
            }
        }
    }

    /// Applies one rule (ACL SETUSER's modifiers). The error is Redis's reason text.
    pub fn apply(&mut self, rule: &str) -> Result<(), String> {
        let r = self.apply_rule(rule);
        self.open = self.all_keys && self.namespaces.is_none() && self.allowed.iter().all(|&a| a);
        r
    }

    fn apply_rule(&mut self, rule: &str) -> Result<(), String> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "" => {}
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => {
                self.first_args.clear();
                self.allowed.iter_mut().for_each(|a| *a = true);
                self.rules = vec!["+@all".into()];
            }
            "nocommands" | "-@all" => {
                self.first_args.clear();
                self.allowed.iter_mut().for_each(|a| *a = false);
                self.rules = vec!["-@all".into()];
            }
            "allnamespaces" => self.namespaces = None,
            "resetnamespaces" => self.namespaces = Some(Vec::new()),
            "reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::new(&name);
            }
            _ => return self.apply_valued(rule),
        }
        Ok(())
    }

    fn apply_valued(&mut self, rule: &str) -> Result<(), String> {
        if let Some(p) = rule.strip_prefix('>') {
            let d = sha256(p.as_bytes());
            if !self.passwords.contains(&d) {
                self.passwords.push(d);
            }
            self.nopass = false;
        } else if let Some(p) = rule.strip_prefix('<') {
            let d = sha256(p.as_bytes());
            let before = self.passwords.len();
            self.passwords.retain(|x| *x != d);
            if self.passwords.len() == before {
                return Err(NO_SUCH_PASSWORD.into());
            }
        } else if let Some(h) = rule.strip_prefix('#') {
            self.passwords_hash(h, true)?;
        } else if let Some(h) = rule.strip_prefix('!') {
            self.passwords_hash(h, false)?;
        } else if let Some(p) = rule.strip_prefix('~') {
            self.add_keys(p, true, true)?;
        } else if let Some(rest) = rule.strip_prefix('%') {
            let (perm, pat) = rest.split_once('~').ok_or("Syntax error")?;
            let (mut r, mut w) = (false, false);
            for c in perm.chars() {
                match c.to_ascii_uppercase() {
                    'R' => r = true,
                    'W' => w = true,
                    _ => return Err("Syntax error".into()),
                }
            }
            if !r && !w {
                return Err("Syntax error".into());
            }
            self.add_keys(pat, r, w)?;
        } else if let Some(p) = rule.strip_prefix('&') {
            if p == "*" {
                self.all_channels = true;
                self.channels.clear();
            } else if !self.all_channels {
                self.channels.push(p.as_bytes().to_vec());
            } else {
                return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into());
            }
        } else if let Some(ns) = rule.strip_prefix("namespace:") {
            if ns.is_empty() {
                return Err("Syntax error".into());
            }
            self.namespaces.get_or_insert_with(Vec::new).push(ns.to_string());
        } else if let Some(c) = rule.strip_prefix('+') {
            self.command_rule(c, true)?;
            self.rules.push(format!("+{}", c.to_ascii_lowercase()));
        } else if let Some(c) = rule.strip_prefix('-') {
            self.command_rule(c, false)?;
            self.rules.push(format!("-{}", c.to_ascii_lowercase()));
        } else {
            return Err("Syntax error".into());
        }
        Ok(())
    }

    fn passwords_hash(&mut self, h: &str, add: bool) -> Result<(), String> {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
                    .into(),
            );
        }
        let mut d = [0u8; 32];
        for (i, b) in d.iter_mut().enumerate() {
            *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        if add {
            if !self.passwords.contains(&d) {
                self.passwords.push(d);
            }
            self.nopass = false;
        } else {
            let before = self.passwords.len();
            self.passwords.retain(|x| *x != d);
            if self.passwords.len() == before {
                return Err(NO_SUCH_PASSWORD.into());
            }
        }
        Ok(())
    }

    fn add_keys(&mut self, pattern: &str, read: bool, write: bool) -> Result<(), String> {
        if pattern == "*" && read && write {
            self.all_keys = true;
            self.keys.clear();
            return Ok(());
        }
        if self.all_keys {
            return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into());
        }
        self.keys.push(KeyPattern {
            pattern: pattern.as_bytes().to_vec(),
            read,
            write,
        });
        Ok(())
    }

    fn command_rule(&mut self, what: &str, allow: bool) -> Result<(), String> {
        if let Some(cat) = what.strip_prefix('@') {
            let cat = format!("@{}", cat.to_ascii_lowercase());
            if !CATEGORIES.contains(&&cat[1..]) {
                return Err("Unknown command or category name in ACL".into());
            }
            self.set_commands(|s| s.categories.contains(&cat.as_str()), allow);
            return Ok(());
        }
        let (name, sub) = match what.split_once('|') {
            Some((n, s)) => (n, Some(s)),
            None => (what, None),
        };
        if sub.is_some_and(|s| s.is_empty() || s.contains('|')) {
            return Err(if sub.is_some_and(|s| s.contains('|')) {
                "Allowing first-arg of a subcommand is not supported".into()
            } else {
                "Syntax error".into()
            });
        }
        let Some((idx, spec)) = table::lookup(name.as_bytes()) else {
            return Err("Unknown command or category name in ACL".into());
        };
        match sub {
            None => {
                self.allowed[idx] = allow;
                for s in spec.subcommands {
                    if let Some((j, _)) = table::lookup_sub(spec, s.name.as_bytes()) {
                        self.allowed[j] = allow;
                    }
                }
            }
            Some(first) if spec.subcommands.is_empty() => {
                // Redis 7.0's first-arg rule (`+select|0`): the command with that first
                // argument only. Only allowing is supported, as in Redis.
                if !allow {
                    return Err("Unknown command or category name in ACL".into());
                }
                let list = self.first_args.entry(idx).or_default();
                if !list.iter().any(|a| a.eq_ignore_ascii_case(first.as_bytes())) {
                    list.push(first.as_bytes().to_vec());
                }
            }
            Some(sub) => {
                let (j, _) = table::lookup_sub(spec, sub.as_bytes())
                    .ok_or_else(|| "Unknown command or category name in ACL".to_string())?;
                self.allowed[j] = allow;
            }
        }
        Ok(())
    }

    pub fn check_password(&self, pass: &[u8]) -> bool {
        self.nopass || self.passwords.contains(&sha256(pass))
    }

    pub fn may_run(&self, idx: usize) -> bool {
        self.allowed.get(idx).copied().unwrap_or(false)
    }

    /// May this user touch `key` for reading (`write` false) or writing?
    pub fn may_access(&self, key: &[u8], write: bool) -> bool {
        self.may_access_as(key, !write, write)
    }

    /// Where the keys this user may read begin, within `prefix`, for a walk in key order
    /// that should visit only those: `None` when it may read every key. Otherwise, for each
    /// read pattern, its literal head (up to the first `*`, `?`, `[` or `\\`), joined with
    /// `prefix` (none when the two disagree). A start that extends another is dropped (its
    /// keys are in the other's range), so the ranges (the keys beginning with each start) are
    /// disjoint and in order. Keys in them may still not match: `may_access` tells.
    pub fn read_starts(&self, prefix: &[u8]) -> Option<Vec<Vec<u8>>> {
        if self.all_keys {
            return None;
        }
        let mut starts: Vec<Vec<u8>> = self
            .keys
            .iter()
            .filter(|k| k.read)
            .filter_map(|k| {
                let head = &k.pattern[..k
                    .pattern
                    .iter()
                    .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
                    .unwrap_or(k.pattern.len())];
                if head.starts_with(prefix) {
                    Some(head.to_vec())
                } else if prefix.starts_with(head) {
                    Some(prefix.to_vec())
                } else {
                    None
                }
            })
            .collect();
        starts.sort();
        starts.dedup_by(|later, kept| later.starts_with(kept.as_slice()));
        Some(starts)
    }

    /// Everything allowed (the default user): checks can be skipped.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.open
    }

    /// The check every command makes: the command, then its keys (`write`: the command
    /// writes). Namespaces are checked by the caller, which knows the database.
    pub fn check(&self, idx: usize, spec: &CommandSpec, argv: &[bytes::Bytes]) -> Result<(), Denied> {
        let first_ok = || {
            self.first_args
                .get(&idx)
                .is_some_and(|l| argv.get(1).is_some_and(|a| l.iter().any(|f| f.eq_ignore_ascii_case(a))))
        };
        if !self.may_run(idx) && !first_ok() {
            return Err(Denied::Command);
        }
        if !self.all_keys {
            let mut denied = None;
            for_each_key(spec, argv, |k, read, write| {
                if denied.is_none() && !self.may_access_as(k, read, write) {
                    denied = Some(k.to_vec());
                }
            });
            if let Some(k) = denied {
                return Err(Denied::Key(k));
            }
        }
        Ok(())
    }

    /// May the user touch `key` needing read and/or write access? One pattern must grant
    /// all that is needed (Redis's ACLSelectorCheckKey); needing neither (EXISTS, TYPE,
    /// STRLEN) still needs a pattern that matches.
    fn may_access_as(&self, key: &[u8], read: bool, write: bool) -> bool {
        self.all_keys
            || self.keys.iter().any(|k| {
                (!read || k.read) && (!write || k.write) && crate::store::glob::matches(&k.pattern, key, false)
            })
    }

    /// The rule line ACL LIST and ACL SAVE write (without the leading `user name`).
    pub fn describe(&self) -> String {
        let mut out = vec![if self.enabled { "on" } else { "off" }.to_string()];
        if self.nopass {
            out.push("nopass".into());
        }
        for p in &self.passwords {
            out.push(format!("#{}", hex(p)));
        }
        out.push(self.describe_keys());
        out.push(self.describe_channels());
        if let Some(ns) = &self.namespaces {
            out.push("resetnamespaces".into());
            out.extend(ns.iter().map(|n| format!("namespace:{n}")));
        }
        out.push(self.describe_commands());
        out.retain(|s| !s.is_empty());
        out.join(" ")
    }

    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        self.keys
            .iter()
            .map(|k| {
                let p = String::from_utf8_lossy(&k.pattern);
                match (k.read, k.write) {
                    (true, true) => format!("~{p}"),
                    (true, false) => format!("%R~{p}"),
                    _ => format!("%W~{p}"),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let mut s = "resetchannels".to_string();
        for c in &self.channels {
            s.push_str(&format!(" &{}", String::from_utf8_lossy(c)));
        }
        s
    }

    pub fn describe_commands(&self) -> String {
        self.rules.join(" ")
    }
}

/// Calls `f(key, needs_read, needs_write)` for every key of a request, as Redis 7.0's ACL reads
/// key flags: ACCESS needs read, INSERT/DELETE/UPDATE need write (so GETDEL needs both, EXISTS
/// neither; SET needs read only with its GET option). The keys and their flags come from
/// `table::for_each_key`, the reading COMMAND GETKEYSANDFLAGS shows too (KV.BULKPUT's keys
/// from its JSON body; KV.MGET's trailing WITHMETADATA is no key).
pub fn for_each_key(spec: &CommandSpec, argv: &[bytes::Bytes], mut f: impl FnMut(&[u8], bool, bool)) {
    table::for_each_key(spec, argv, &mut |key, flags| {
        let has = |flag: &str| flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
        f(key, has("access"), has("insert") || has("delete") || has("update"));
    });
}

/// Redis 7.0's ACL categories, in ACL CAT's order, plus edgekv's `kv`.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
    "kv",
];

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: &'static str,
    pub context: &'static str,
    pub object: String,
    pub username: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub client_info: String,
}

/// The users, the ACL log, and a generation that moves with every change (connections
/// refresh their user when it moves).
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// The default user needs a password (clients start unauthenticated).
    pub auth_required: std::sync::atomic::AtomicBool,
    pub generation: AtomicU64,
    log: parking_lot::Mutex<Vec<LogEntry>>,
}

impl Default for Acl {
    fn default() -> Self {
        Self::new()
    }
}

/// ACL LOG keeps this many entries (Redis's acllog-max-len default).
pub const LOG_MAX: usize = 128;

impl Acl {
    pub fn new() -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            auth_required: std::sync::atomic::AtomicBool::new(false),
            generation: AtomicU64::new(1),
            log: parking_lot::Mutex::new(Vec::new()),
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get("default").expect("the default user always exists")
    }

    pub fn names(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Applies rules to a user (created when missing); all or nothing.
    pub fn set_user(&self, name: &str, rules: &[String]) -> Result<(), (String, String)> {
        let mut users = self.users.write();
        let mut u = users
            .get(name)
            .map(|u| (**u).clone())
            .unwrap_or_else(|| User::new(name));
        for r in rules {
            u.apply(r).map_err(|e| (r.clone(), e))?;
        }
        users.insert(name.to_string(), Arc::new(u));
        self.changed(&users);
        Ok(())
    }

    fn changed(&self, users: &BTreeMap<String, Arc<User>>) {
        let d = users.get("default");
        let needs = d.is_none_or(|d| !d.nopass || !d.enabled);
        self.auth_required.store(needs, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Deletes users; returns how many existed.
    pub fn delete(&self, names: &[String]) -> usize {
        let mut users = self.users.write();
        let n = names.iter().filter(|n| users.remove(n.as_str()).is_some()).count();
        self.changed(&users);
        n
    }

    /// Replaces every user (ACL LOAD); the default user is kept when the list lacks it.
    pub fn replace(&self, list: Vec<User>) {
        // A list without the default user gets a fresh one (on, nopass, everything), as in
        // Redis.
        let mut users = self.users.write();
        users.clear();
        for u in list {
            users.insert(u.name.clone(), Arc::new(u));
        }
        if !users.contains_key("default") {
            users.insert("default".into(), Arc::new(User::default_user()));
        }
        self.changed(&users);
    }

    /// Records a denial or a failed AUTH; repeated ones within 60 s update one entry.
    pub fn log(&self, e: LogEntry) {
        let mut log = self.log.lock();
        if let Some(pos) = log.iter().position(|o| {
            o.reason == e.reason
                && o.context == e.context
                && o.object == e.object
                && o.username == e.username
                && e.created_ms - o.updated_ms < 60_000
        }) {
            // A repeated event counts on its entry, which moves to the head (Redis).
            let mut old = log.remove(pos);
            old.count += 1;
            old.updated_ms = e.created_ms;
            old.client_info = e.client_info;
            log.insert(0, old);
            return;
        }
        log.insert(0, e);
        log.truncate(LOG_MAX);
    }

    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.log.lock().clone()
    }

    pub fn log_reset(&self) {
        self.log.lock().clear();
    }

    /// Parses an aclfile (`user <name> <rules...>` lines) with Redis 7.0's error texts: every
    /// problem is reported, each followed by ". ", then a fixed trailer (`file` names it).
    pub fn parse_file(file: &str, text: &str) -> Result<Vec<User>, String> {
        let mut out: Vec<User> = Vec::new();
        let mut errors = String::new();
        for (n, line) in text.split('\n').enumerate() {
            let line = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if line.is_empty() {
                continue;
            }
            let n = n + 1;
            let mut words = line.split(' ').filter(|w| !w.is_empty());
            let (Some("user"), Some(name)) = (words.next(), words.next()) else {
                errors.push_str(&format!(
                    "{file}:{n} should start with user keyword followed by the username. "
                ));
                continue;
            };
            if out.iter().any(|u| u.name == name) {
                errors.push_str(&format!("WARNING: Duplicate user '{name}' found on line {n}. "));
                continue;
            }
            let mut u = User::new(name);
            for w in words {
                if let Err(e) = u.apply(w) {
                    if e == "Unknown command or category name in ACL" {
                        errors.push_str(&format!("{file}:{n}: Error in applying operation '{w}': {e}. "));
                        continue;
                    }
                    errors.push_str(&format!("{file}:{n}: {e}. "));
                    break;
                }
            }
            out.push(u);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
            Err(errors)
        }
    }

    /// The aclfile text for the current users.
    pub fn render_file(&self) -> String {
        self.all()
            .iter()
            .map(|u| format!("user {} {}\n", u.name, u.describe()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_checks() {
        let mut u = User::new("alice");
        for r in ["on", ">secret", "~session:*", "%R~cfg:*", "+@read", "-strlen", "+set"] {
            u.apply(r).unwrap();
        }
        assert!(u.check_password(b"secret") && !u.check_password(b"nope"));
        let get = table::lookup(b"get").unwrap().0;
        let strlen = table::lookup(b"strlen").unwrap().0;
        let del = table::lookup(b"del").unwrap().0;
        let set = table::lookup(b"set").unwrap().0;
        assert!(u.may_run(get) && !u.may_run(strlen) && !u.may_run(del) && u.may_run(set));
        assert!(u.may_access(b"session:1", true));
        assert!(u.may_access(b"cfg:x", false) && !u.may_access(b"cfg:x", true));
        assert!(!u.may_access(b"other", false));
        assert_eq!(
            u.apply("+@nosuch"),
            Err("Unknown command or category name in ACL".into())
        );
        assert_eq!(
            u.describe(),
            format!(
                "on #{} ~session:* %R~cfg:* resetchannels -@all +@read -strlen +set",
                hex(&sha256(b"secret"))
            )
        );
        let d = User::default_user();
        assert!(d.unrestricted());
        assert_eq!(d.describe(), "on nopass ~* &* +@all");
    }
}
