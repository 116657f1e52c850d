//! Configuration: every parameter with its default, its type and whether CONFIG SET may
//! change it at run time. The same names work as `--name value` flags, in a `--config FILE`
//! (redis.conf syntax: `name value` lines, `#` comments) and through CONFIG GET/SET.
//!
//! It owns parsing and validation of values, and the hot copies the request path reads (each
//! spec's `hot` hook stores one when its value is set); a spec names what else applying a new
//! value does (`Effect`), which CONFIG SET runs (`server::reconfigure`). It never opens
//! sockets or touches the store.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    /// A signed integer in `min..=max` (Redis's string2ll, then a bound check).
    Int {
        min: i64,
        max: i64,
    },
    /// A memory value (`100mb`) held in a signed 64-bit config.
    Mem {
        min: i64,
        max: i64,
    },
    /// A memory value held in an unsigned 64-bit config (maxmemory).
    UMem,
    Enum(&'static [&'static str]),
    /// `save`: pairs of "seconds changes", or empty.
    Save,
    /// `client-output-buffer-limit`: `class hard soft seconds` groups; a SET changes only the
    /// classes it names.
    Cobl,
    /// `latency-tracking-info-percentiles`: space-separated doubles in 0..=100, or empty.
    Percentiles,
}

/// Whether CONFIG SET may change a parameter at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Mutable,
    /// `can't set immutable config`
    Immutable,
    /// `can't set protected config` (Redis's PROTECTED_CONFIG, off by default: dir, dbfilename).
    Protected,
}

/// What applying a new value does outside the configuration, run by CONFIG SET
/// (`server::reconfigure`) once every value of the command is validated and stored, for
/// each value that changed. At start-up the server reads these values
/// itself, so only run-time changes run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The log switched on (written from the live data) or off; the only effect that can
    /// fail, and then the whole CONFIG SET is undone, as Redis does.
    Appendonly,
    /// The log's fsync policy.
    Appendfsync,
    /// `requirepass` is the default user's password, as in Redis.
    Requirepass,
    /// The log subscriber's level.
    Loglevel,
    /// The slow log is trimmed to `slowlog-max-len` while it is on (Redis trims after every
    /// command; edgekv only when an entry is added, so a shorter limit is applied here).
    Slowlog,
}

impl Effect {
    /// Whether applying can fail (and the whole CONFIG SET then be undone).
    pub fn can_fail(self) -> bool {
        self == Effect::Appendonly
    }
}

struct Spec {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    access: Access,
    /// Stores the hot copy of a value (see `Config`), for readers on the request path: run
    /// for every value set, at start-up as at run time, under the values' write lock (so it
    /// never reads a value but the one it is given). It cannot fail.
    hot: Option<fn(&Config, &str)>,
    /// What applying a new value does beyond the configuration (CONFIG SET only).
    effect: Option<Effect>,
}

/// A stored value's number (values are normalized when set, so the parse cannot fail).
fn int(v: &str) -> i64 {
    v.parse().unwrap_or(0)
}

const I: i64 = i64::MAX;
const INT_MAX: i64 = i32::MAX as i64;

const SPECS: &[Spec] = &[
    // Users, loaded at start and written by ACL SAVE (Redis's aclfile format).
    Spec {
        name: "aclfile",
        default: "",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "appendfilename",
        default: "appendonly.aof",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "appendfsync",
        default: "everysec",
        kind: Kind::Enum(&["everysec", "always", "no"]),
        access: Access::Mutable,
        hot: None,
        effect: Some(Effect::Appendfsync),
    },
    // The append-only log (persist/). Switching it on at run time writes the live data to a
    // new log first; switching it off stops logging (the files stay).
    Spec {
        name: "appendonly",
        default: "yes",
        kind: Kind::Bool,
        access: Access::Mutable,
        hot: None,
        effect: Some(Effect::Appendonly),
    },
    Spec {
        name: "auto-aof-rewrite-min-size",
        default: "67108864",
        kind: Kind::Mem { min: 0, max: I },
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "auto-aof-rewrite-percentage",
        default: "100",
        kind: Kind::Int { min: 0, max: INT_MAX },
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    // edgekv's own: the longest a worker keeps polling after a request before it sleeps, and
    // the longest gap between requests it polls through (server/busy_poll.rs adapts the window
    // to the gaps it sees; idle or sparse traffic polls not at all). 0 turns it off.
    Spec {
        name: "busy-poll-us",
        default: "50",
        kind: Kind::Int { min: 0, max: 1_000_000 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "bind",
        default: "127.0.0.1",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    // Per client class: hard limit, soft limit, soft seconds (Redis's syntax and default; the
    // `normal` class is what edgekv's clients are). A client past the hard limit, or past the
    // soft one for longer than its seconds, is closed (server/connection.rs).
    Spec {
        name: "client-output-buffer-limit",
        default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        kind: Kind::Cobl,
        access: Access::Mutable,
        hot: Some(|c, v| c.set_output_limit(v)),
        effect: None,
    },
    Spec {
        name: "client-query-buffer-limit",
        default: "1073741824",
        kind: Kind::Mem {
            min: 1024 * 1024,
            max: I,
        },
        access: Access::Mutable,
        hot: Some(|c, v| c.client_query_buffer_limit.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "daemonize",
        default: "no",
        kind: Kind::Enum(&["no"]),
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "databases",
        default: "16",
        kind: Kind::Int { min: 1, max: 1 << 20 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "dbfilename",
        default: "dump.rdb",
        kind: Kind::Str,
        access: Access::Protected,
        hot: None,
        effect: None,
    },
    Spec {
        name: "dir",
        default: "./edgekv-data",
        kind: Kind::Str,
        access: Access::Protected,
        hot: None,
        effect: None,
    },
    Spec {
        name: "hz",
        default: "10",
        kind: Kind::Int { min: 0, max: INT_MAX },
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    // The HTTP listener (http/): Cloudflare's REST API v4, the workerd KV binding protocol,
    // /metrics and /healthz, on every bind address; 0 turns it off.
    Spec {
        name: "http-port",
        default: "8787",
        kind: Kind::Int { min: 0, max: 65535 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    // Most HTTP connections open at once (RESP's maxclients does not count them); never more
    // than half the process's file descriptor limit, so idle HTTP clients cannot take the
    // descriptors RESP clients need. Connections over it are answered 503 and closed.
    Spec {
        name: "http-maxclients",
        default: "512",
        kind: Kind::Int { min: 1, max: INT_MAX },
        access: Access::Mutable,
        hot: Some(|c, v| c.http_maxclients.store(int(v) as u64, Relaxed)),
        effect: None,
    },
    // Seconds an HTTP client gets to send a request's headers, which includes the wait for
    // the next request on a kept-alive connection; and the grace for a request body, which
    // must then keep coming at 16 KiB/s on average (see http::read_body).
    Spec {
        name: "http-timeout",
        default: "10",
        kind: Kind::Int { min: 1, max: 3600 },
        access: Access::Mutable,
        hot: Some(|c, v| c.http_timeout_secs.store(int(v) as u64, Relaxed)),
        effect: None,
    },
    // Bearer tokens of the HTTP surfaces, as space-separated `token:user` pairs (ACL users).
    // Empty: the HTTP listener serves loopback clients only, as the default user.
    Spec {
        name: "http-tokens",
        default: "",
        kind: Kind::Str,
        access: Access::Mutable,
        hot: Some(|c, v| *c.http_tokens.write() = Arc::new(HttpTokens::parse(v))),
        effect: None,
    },
    Spec {
        name: "io-threads",
        default: "1",
        kind: Kind::Int { min: 1, max: 128 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    // Workers KV (kv-spec.md). Namespace slots are reserved at start, hence immutable.
    Spec {
        name: "kv-max-namespaces",
        default: "1000",
        kind: Kind::Int { min: 0, max: 1 << 20 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    // Workers KV's minimum expiration TTL; operators may lower it (short-lived tokens, locks).
    Spec {
        name: "kv-min-ttl",
        default: "60",
        kind: Kind::Int { min: 1, max: INT_MAX },
        access: Access::Mutable,
        hot: Some(|c, v| c.kv.min_ttl.store(int(v), Relaxed)),
        effect: None,
    },
    // Daily quotas per namespace, reset at 00:00 UTC; 0 = none. Workers KV's free tier is
    // 100000 reads, 1000 writes, 1000 deletes, 1000 lists, 1gb stored.
    Spec {
        name: "kv-quota-deletes",
        default: "0",
        kind: Kind::Int { min: 0, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.kv.quota_deletes.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "kv-quota-lists",
        default: "0",
        kind: Kind::Int { min: 0, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.kv.quota_lists.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "kv-quota-reads",
        default: "0",
        kind: Kind::Int { min: 0, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.kv.quota_reads.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "kv-quota-storage",
        default: "0",
        kind: Kind::Mem { min: 0, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.kv.quota_storage.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "kv-quota-writes",
        default: "0",
        kind: Kind::Int { min: 0, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.kv.quota_writes.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "latency-tracking",
        default: "yes",
        kind: Kind::Bool,
        access: Access::Mutable,
        hot: Some(|c, v| c.latency_tracking.store(v == "yes", Relaxed)),
        effect: None,
    },
    // The percentiles INFO latencystats prints for each command.
    Spec {
        name: "latency-tracking-info-percentiles",
        default: "50 99 99.9",
        kind: Kind::Percentiles,
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "lazyfree-lazy-user-flush",
        default: "no",
        kind: Kind::Bool,
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    // Structured logs through tracing: human-readable `text` or one JSON object per line.
    Spec {
        name: "log-format",
        default: "text",
        kind: Kind::Enum(&["text", "json"]),
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "logfile",
        default: "",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "loglevel",
        default: "notice",
        kind: Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        access: Access::Mutable,
        hot: None,
        effect: Some(Effect::Loglevel),
    },
    Spec {
        name: "maxclients",
        default: "10000",
        kind: Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
        access: Access::Mutable,
        hot: Some(|c, v| c.maxclients.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "maxmemory",
        default: "0",
        kind: Kind::UMem,
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "maxmemory-policy",
        default: "noeviction",
        kind: Kind::Enum(&["noeviction"]),
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "pidfile",
        default: "",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "port",
        default: "6379",
        kind: Kind::Int { min: 0, max: 65535 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "protected-mode",
        default: "yes",
        kind: Kind::Bool,
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "proto-max-bulk-len",
        default: "536870912",
        kind: Kind::Mem {
            min: 1024 * 1024,
            max: I,
        },
        access: Access::Mutable,
        hot: Some(|c, v| c.proto_max_bulk_len.store(int(v), Relaxed)),
        effect: None,
    },
    Spec {
        name: "requirepass",
        default: "",
        kind: Kind::Str,
        access: Access::Mutable,
        hot: None,
        effect: Some(Effect::Requirepass),
    },
    Spec {
        name: "save",
        default: "",
        kind: Kind::Save,
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "slowlog-log-slower-than",
        default: "10000",
        kind: Kind::Int { min: -1, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.slowlog_slower_than.store(int(v), Relaxed)),
        effect: Some(Effect::Slowlog),
    },
    Spec {
        name: "slowlog-max-len",
        default: "128",
        kind: Kind::Int { min: 0, max: I },
        access: Access::Mutable,
        hot: Some(|c, v| c.slowlog_max_len.store(int(v), Relaxed)),
        effect: Some(Effect::Slowlog),
    },
    Spec {
        name: "tcp-backlog",
        default: "511",
        kind: Kind::Int { min: 0, max: I },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "tcp-keepalive",
        default: "300",
        kind: Kind::Int { min: 0, max: INT_MAX },
        access: Access::Mutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "timeout",
        default: "0",
        kind: Kind::Int { min: 0, max: INT_MAX },
        access: Access::Mutable,
        hot: Some(|c, v| c.timeout.store(int(v), Relaxed)),
        effect: None,
    },
    // TLS (rustls, ring provider), Redis's names. With tls-port set, a second listener speaks
    // TLS on the bind address; certificates are read at start.
    Spec {
        name: "tls-auth-clients",
        default: "yes",
        kind: Kind::Enum(&["yes", "no", "optional"]),
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "tls-ca-cert-file",
        default: "",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "tls-cert-file",
        default: "",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "tls-key-file",
        default: "",
        kind: Kind::Str,
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
    Spec {
        name: "tls-port",
        default: "0",
        kind: Kind::Int { min: 0, max: 65535 },
        access: Access::Immutable,
        hot: None,
        effect: None,
    },
];

fn spec(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Parses a memory value as Redis's `memtoull` does: decimal digits (none means 0) and an
/// optional unit, case-insensitive: `b`, `k` = 1000, `kb` = 1024, `m`, `mb`, `g`, `gb`. No sign,
/// no spaces; a number too large for 64 bits saturates (strtoull), a product that overflows is
/// refused.
pub fn memtoull(v: &str) -> Option<u64> {
    let digits_end = v.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let val = digits
        .bytes()
        .try_fold(0u64, |acc, c| acc.checked_mul(10)?.checked_add((c - b'0') as u64))
        .unwrap_or(u64::MAX);
    if val > u64::MAX / mul {
        return None;
    }
    Some(val * mul)
}

/// A memory value as a signed number (`1gb` = 1024^3, `1g` = 1000^3, `100k`, `512mb`, bytes).
pub fn parse_memory(v: &str) -> Option<i64> {
    memtoull(v).and_then(|n| i64::try_from(n).ok())
}

/// Validates a `save` value the way Redis's `setConfigSaveOption` does: split on single spaces
/// (so a doubled space makes an empty, invalid item), an even number of integers, seconds >= 1
/// and changes >= 0; empty means no snapshots. Returns it as CONFIG GET prints it.
fn normalize_save(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some(String::new());
    }
    let parts: Vec<&str> = value.split(' ').collect();
    if !parts.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        let n: i64 = p.parse().ok()?;
        if (j % 2 == 0 && n < 1) || (j % 2 == 1 && n < 0) {
            return None;
        }
        out.push(n.to_string());
    }
    Some(out.join(" "))
}

/// Why a value was refused (the text after `- ` in Redis's CONFIG SET error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Unknown,
    Immutable,
    Invalid(String),
}

/// Canonical text of a value for `spec`, or why it is invalid.
fn normalize(spec: &Spec, value: &str) -> Result<String, ConfigError> {
    match spec.kind {
        Kind::Str => Ok(value.to_string()),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err(ConfigError::Invalid("argument must be 'yes' or 'no'".into())),
        },
        Kind::Enum(options) => {
            let lower = value.to_ascii_lowercase();
            if options.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(ConfigError::Invalid(format!(
                    "argument(s) must be one of the following: {}",
                    options.join(", ")
                )))
            }
        }
        Kind::Int { min, max } => {
            let n = crate::num::parse_i64(value.as_bytes())
                .ok_or_else(|| ConfigError::Invalid("argument couldn't be parsed into an integer".into()))?;
            check_bounds(n, min, max)?;
            // Redis's updateHZ keeps the configured value within 1..=500 (CONFIG GET shows it).
            let n = if spec.name == "hz" { n.clamp(1, 500) } else { n };
            Ok(n.to_string())
        }
        Kind::Mem { min, max } => {
            let n = memtoull(value).ok_or_else(|| ConfigError::Invalid("argument must be a memory value".into()))?;
            // A value beyond the signed range wraps negative, as Redis's cast does, and fails
            // the bound check.
            let n = n as i64;
            check_bounds(n, min, max)?;
            Ok(n.to_string())
        }
        Kind::UMem => memtoull(value)
            .map(|n| n.to_string())
            .ok_or_else(|| ConfigError::Invalid("argument must be a memory value".into())),
        Kind::Save => normalize_save(value).ok_or_else(|| ConfigError::Invalid("Invalid save parameters".into())),
        Kind::Cobl => parse_cobl(value).map(|classes| render_cobl(&merge_cobl(spec.default, &classes))),
        Kind::Percentiles => parse_percentiles(value).map(|p| render_percentiles(&p)),
    }
}

/// Redis's setConfigLatencyTrackingInfoPercentilesOutputOption: the value split on single
/// spaces (a doubled space is an empty, invalid item), each a double (`string2d`) in
/// 0..=100. Empty means none.
pub fn parse_percentiles(value: &str) -> Result<Vec<f64>, ConfigError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(' ')
        .map(|p| {
            let v = crate::num::parse_f64(p.as_bytes())
                .ok_or_else(|| ConfigError::Invalid("Invalid latency-tracking-info-percentiles parameters".into()))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(ConfigError::Invalid(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into(),
                ));
            }
            Ok(v)
        })
        .collect()
}

/// A percentile as Redis prints it: `%f`, then trailing zeros and a trailing dot removed
/// (`trimDoubleString`): 50 → `50`, 99.9 → `99.9`.
pub fn format_percentile(p: f64) -> String {
    let s = format!("{:.6}", p);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn render_percentiles(p: &[f64]) -> String {
    p.iter().map(|v| format_percentile(*v)).collect::<Vec<_>>().join(" ")
}

/// The output buffer limits of one client class, in bytes and seconds (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

const COBL_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Parses `class hard soft seconds ...` as Redis's config does (`replica` is `slave`), with
/// Redis's error texts.
fn parse_cobl(value: &str) -> Result<Vec<(usize, OutputLimit)>, ConfigError> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    // An empty value changes nothing (Redis answers OK).
    if !parts.len().is_multiple_of(4) {
        return Err(ConfigError::Invalid(
            "Wrong number of arguments in buffer limit configuration.".into(),
        ));
    }
    let mut out = Vec::new();
    for g in parts.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err(ConfigError::Invalid(
                    "Invalid client class specified in buffer limit configuration.".into(),
                ))
            }
        };
        let bad = || {
            ConfigError::Invalid("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into())
        };
        let hard = memtoull(g[1]).ok_or_else(bad)?;
        let soft = memtoull(g[2]).ok_or_else(bad)?;
        let secs = crate::num::parse_i64(g[3].as_bytes())
            .filter(|n| *n >= 0)
            .ok_or_else(bad)? as u64;
        out.push((
            class,
            OutputLimit {
                hard,
                soft,
                soft_seconds: secs,
            },
        ));
    }
    Ok(out)
}

/// `current` with the classes in `changes` replaced.
fn merge_cobl(current: &str, changes: &[(usize, OutputLimit)]) -> [OutputLimit; 3] {
    let mut all = [OutputLimit::default(); 3];
    if let Ok(cur) = parse_cobl(current) {
        for (c, l) in cur {
            all[c] = l;
        }
    }
    for (c, l) in changes {
        all[*c] = *l;
    }
    all
}

fn render_cobl(all: &[OutputLimit; 3]) -> String {
    let groups: Vec<String> = all
        .iter()
        .zip(COBL_CLASSES)
        .map(|(l, c)| format!("{} {} {} {}", c, l.hard, l.soft, l.soft_seconds))
        .collect();
    groups.join(" ")
}

fn check_bounds(n: i64, min: i64, max: i64) -> Result<(), ConfigError> {
    if n < min || n > max {
        return Err(ConfigError::Invalid(format!(
            "argument must be between {} and {} inclusive",
            min, max
        )));
    }
    Ok(())
}

type LoglevelHook = Box<dyn Fn(&str) + Send + Sync>;

/// The live configuration. Values read on the request path have hot copies here (atomics, or
/// an `Arc` swapped on change), stored by their spec's `hot` hook whenever a value is set, so
/// that readers load them without parsing or a map lookup.
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicI64,
    pub maxclients: AtomicI64,
    pub timeout: AtomicI64,
    /// The `normal` class's hard limit, soft limit and soft seconds.
    output_limit_normal: [AtomicU64; 3],
    /// `kv-min-ttl` and the `kv-quota-*` values, read by every KV operation.
    pub kv: KvHot,
    /// `slowlog-log-slower-than` (microseconds; negative: off) and `slowlog-max-len`, read
    /// after every command.
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicI64,
    /// `latency-tracking`: per-command latency histograms are recorded.
    pub latency_tracking: AtomicBool,
    /// `http-timeout` (seconds) and `http-maxclients`, read by the HTTP listener.
    http_timeout_secs: AtomicU64,
    http_maxclients: AtomicU64,
    /// `http-tokens`, parsed once per change: every HTTP request reads it.
    http_tokens: RwLock<Arc<HttpTokens>>,
    /// What applies a new `loglevel` (the binary's log subscriber, registered once at start).
    loglevel_hook: OnceLock<LoglevelHook>,
}

/// Hot copies of the Workers KV settings (0 = no quota).
#[derive(Default)]
pub struct KvHot {
    pub min_ttl: AtomicI64,
    pub quota_reads: AtomicI64,
    pub quota_writes: AtomicI64,
    pub quota_deletes: AtomicI64,
    pub quota_lists: AtomicI64,
    pub quota_storage: AtomicI64,
}

/// `http-tokens`, parsed: each token's SHA-256 digest and its user (http/auth.rs compares
/// them).
#[derive(Default)]
pub struct HttpTokens {
    /// Anything is configured (even pairs without a user, which admit no one).
    pub configured: bool,
    pub pairs: Vec<([u8; 32], String)>,
}

impl HttpTokens {
    /// Space-separated `token:user` pairs. The user is after the last `:` (tokens may hold
    /// colons, ACL user names here may not); a pair without one is ignored.
    pub fn parse(text: &str) -> HttpTokens {
        let pairs = text
            .split_whitespace()
            .filter_map(|pair| pair.rsplit_once(':'))
            .map(|(t, user)| (crate::acl::sha256(t.as_bytes()), user.to_string()))
            .collect();
        HttpTokens {
            configured: text.split_whitespace().next().is_some(),
            pairs,
        }
    }
}

/// A value CONFIG SET changed: enough to apply its effect, or to put the old value back.
pub struct Change {
    spec: &'static Spec,
    pub old: String,
    pub new: String,
}

impl Change {
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// What applying the value does outside the configuration, if anything.
    pub fn effect(&self) -> Option<Effect> {
        self.spec.effect
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    pub fn new() -> Config {
        let values = SPECS.iter().map(|s| (s.name, s.default.to_string())).collect();
        let c = Config {
            values: RwLock::new(values),
            proto_max_bulk_len: AtomicI64::new(0),
            client_query_buffer_limit: AtomicI64::new(0),
            maxclients: AtomicI64::new(0),
            timeout: AtomicI64::new(0),
            output_limit_normal: Default::default(),
            kv: KvHot::default(),
            slowlog_slower_than: AtomicI64::new(0),
            slowlog_max_len: AtomicI64::new(0),
            latency_tracking: AtomicBool::new(false),
            http_timeout_secs: AtomicU64::new(0),
            http_maxclients: AtomicU64::new(0),
            http_tokens: RwLock::new(Arc::default()),
            loglevel_hook: OnceLock::new(),
        };
        for s in SPECS {
            if let Some(hot) = s.hot {
                hot(&c, s.default);
            }
        }
        c
    }

    /// Stores a normalized value and its hot copy.
    fn store(&self, s: &'static Spec, value: String) {
        self.store_in(&mut self.values.write(), s, value);
    }

    /// Stores a value and its hot copy under the map's write lock, so that two CONFIG SETs
    /// at once cannot leave the hot copy of one and the value of the other (a `hot` hook
    /// therefore never reads `values`).
    fn store_in(&self, map: &mut BTreeMap<&'static str, String>, s: &'static Spec, value: String) -> String {
        if let Some(hot) = s.hot {
            hot(self, &value);
        }
        map.insert(s.name, value).unwrap_or_default()
    }

    fn set_output_limit(&self, value: &str) {
        if let Ok(c) = parse_cobl(value) {
            if let Some((_, l)) = c.into_iter().find(|(class, _)| *class == 0) {
                let [hard, soft, secs] = &self.output_limit_normal;
                hard.store(l.hard, Relaxed);
                soft.store(l.soft, Relaxed);
                secs.store(l.soft_seconds, Relaxed);
            }
        }
    }

    /// A parameter's current value.
    pub fn get(&self, name: &str) -> Option<String> {
        let s = spec(name)?;
        self.values.read().get(s.name).cloned()
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// Sets a parameter at start-up (any parameter) or at run time (`runtime`: mutable ones
    /// only). Names are case-insensitive. Only the hot copy is updated: effects are CONFIG
    /// SET's (`set_many`).
    pub fn set(&self, name: &str, value: &str, runtime: bool) -> Result<(), ConfigError> {
        let s = spec(name).ok_or(ConfigError::Unknown)?;
        if runtime && s.access != Access::Mutable {
            return Err(ConfigError::Immutable);
        }
        let v = self.normalize_current(s, value)?;
        self.store(s, v);
        Ok(())
    }

    /// `normalize`, except that a client-output-buffer-limit value changes only the classes
    /// it names (the others keep their current limits, as in Redis).
    fn normalize_current(&self, s: &Spec, value: &str) -> Result<String, ConfigError> {
        if s.kind == Kind::Cobl {
            let changes = parse_cobl(value)?;
            let cur = self.values.read().get(s.name).cloned().unwrap_or_default();
            return Ok(render_cobl(&merge_cobl(&cur, &changes)));
        }
        normalize(s, value)
    }

    /// The hard output buffer limit of normal clients (0: none), read after every reply.
    #[inline]
    pub fn output_hard_limit(&self) -> u64 {
        self.output_limit_normal[0].load(Relaxed)
    }

    /// The output buffer limit of normal clients.
    pub fn output_limit(&self) -> OutputLimit {
        let [hard, soft, soft_seconds] = &self.output_limit_normal;
        OutputLimit {
            hard: hard.load(Relaxed),
            soft: soft.load(Relaxed),
            soft_seconds: soft_seconds.load(Relaxed),
        }
    }

    /// `http-timeout`: the wait for a request's headers, and a body's grace.
    #[inline]
    pub fn http_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.http_timeout_secs.load(Relaxed))
    }

    /// `http-maxclients`.
    #[inline]
    pub fn http_maxclients(&self) -> usize {
        self.http_maxclients.load(Relaxed) as usize
    }

    /// `http-tokens`, parsed.
    #[inline]
    pub fn http_tokens(&self) -> Arc<HttpTokens> {
        self.http_tokens.read().clone()
    }

    /// Registers what applies a new `loglevel` (the binary's log subscriber; once, at start).
    pub fn on_loglevel(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.loglevel_hook.set(Box::new(f));
    }

    /// Applies a `loglevel` changed at run time (CONFIG SET).
    pub fn apply_loglevel(&self, level: &str) {
        if let Some(hook) = self.loglevel_hook.get() {
            hook(level);
        }
    }

    /// A parameter's canonical name and whether CONFIG SET may change it; `None` when unknown.
    pub fn runtime_access(name: &str) -> Option<(&'static str, Access)> {
        spec(name).map(|s| (s.name, s.access))
    }

    /// Sets several parameters atomically: all are validated before any changes (CONFIG SET
    /// with several pairs, as Redis 7 does). On failure, returns the failing (canonical) name.
    /// Returns the values that changed, in argument order, for their effects to be applied
    /// (and `restore` to undo them if one fails).
    pub fn set_many(&self, pairs: &[(String, String)]) -> Result<Vec<Change>, (String, ConfigError)> {
        let mut staged = Vec::new();
        for (n, v) in pairs {
            let s = spec(n).ok_or((n.clone(), ConfigError::Unknown))?;
            if s.access != Access::Mutable {
                return Err((s.name.to_string(), ConfigError::Immutable));
            }
            let v = self.normalize_current(s, v).map_err(|e| (s.name.to_string(), e))?;
            staged.push((s, v));
        }
        let mut changes = Vec::new();
        let mut map = self.values.write();
        for (s, v) in staged {
            let old = self.store_in(&mut map, s, v.clone());
            if old != v {
                changes.push(Change { spec: s, old, new: v });
            }
        }
        Ok(changes)
    }

    /// Puts back the values `set_many` changed (a CONFIG SET whose effect failed).
    pub fn restore(&self, changes: &[Change]) {
        let mut map = self.values.write();
        for c in changes {
            self.store_in(&mut map, c.spec, c.old.clone());
        }
    }

    /// Parameters whose name matches the glob `pattern` (CONFIG GET), in name order.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let v = self.values.read();
        v.iter()
            .filter(|(n, _)| crate::store::glob::matches(pattern, n.as_bytes(), true))
            .map(|(n, v)| (*n, v.clone()))
            .collect()
    }

    /// True when `name` is a known parameter.
    pub fn is_known(name: &str) -> bool {
        spec(name).is_some()
    }

    /// One `name value` line, the value quoted when it is empty or has spaces or quotes.
    fn line(name: &str, val: &str) -> String {
        if val.is_empty() || val.contains([' ', '"', '\'', '\\']) || val.contains(char::is_control) {
            format!("{} \"{}\"", name, val.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            format!("{} {}", name, val)
        }
    }

    /// The whole configuration as redis.conf lines.
    pub fn render(&self) -> String {
        self.rewrite("")
    }

    /// CONFIG REWRITE, as Redis's rewriteConfig does it: the old file's comments, blank lines
    /// and unknown lines stay; the first line of each known parameter gets its current value
    /// (later repeats are dropped); parameters that differ from their default and are not in
    /// the file are appended.
    pub fn rewrite(&self, old: &str) -> String {
        let v = self.values.read();
        let mut out = String::new();
        let mut written = std::collections::BTreeSet::new();
        for raw in old.lines() {
            let t = raw.trim();
            let name = t.split_whitespace().next().unwrap_or("");
            match spec(name) {
                Some(sp) if !t.starts_with('#') => {
                    if written.insert(sp.name) {
                        out.push_str(&Self::line(sp.name, v.get(sp.name).map_or("", |s| s.as_str())));
                        out.push('\n');
                    }
                }
                _ => {
                    out.push_str(raw);
                    out.push('\n');
                }
            }
        }
        let mut header = false;
        for sp in SPECS {
            let val = v.get(sp.name).map_or("", |s| s.as_str());
            if written.contains(sp.name) || val == sp.default {
                continue;
            }
            if !header {
                out.push_str("# Generated by CONFIG REWRITE\n");
                header = true;
            }
            out.push_str(&Self::line(sp.name, val));
            out.push('\n');
        }
        out
    }

    /// Reads a redis.conf-style file: `name value...` lines; `#` starts a comment.
    pub fn load_file(&self, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = crate::protocol::decode::split_args(line.as_bytes())
                .ok_or_else(|| format!("line {}: unbalanced quotes", i + 1))?;
            let name = String::from_utf8_lossy(&args[0]).to_string();
            let value = args[1..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect::<Vec<_>>()
                .join(" ");
            self.set(&name, &value, false)
                .map_err(|e| format!("line {}: '{}': {:?}", i + 1, name, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("512MB"), Some(512 << 20));
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
        // memtoull: no sign, no spaces, no fraction; empty digits are 0; "00" is fine.
        assert_eq!(memtoull("-1"), None);
        assert_eq!(memtoull("+1"), None);
        assert_eq!(memtoull(" 1"), None);
        assert_eq!(memtoull("1.5mb"), None);
        assert_eq!(memtoull("00"), Some(0));
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("mb"), Some(0));
        assert_eq!(memtoull("99999999999999999999"), Some(u64::MAX));
        assert_eq!(memtoull("20000000000gb"), None);
    }

    #[test]
    fn rewrite_keeps_the_file() {
        let c = Config::new();
        c.set("maxmemory", "2mb", false).unwrap();
        c.set("timeout", "0", false).unwrap();
        c.set("requirepass", "a \"b\"", false).unwrap();
        let old = "# my settings\n\ntimeout 5\nmaxmemory 1mb\nTIMEOUT 6\n";
        let new = c.rewrite(old);
        assert_eq!(
            new,
            "# my settings\n\ntimeout 0\nmaxmemory 2097152\n# Generated by CONFIG REWRITE\nrequirepass \"a \\\"b\\\"\"\n"
        );
        let back = Config::new();
        back.load_file(&new).unwrap();
        assert_eq!(back.get("requirepass").as_deref(), Some("a \"b\""));
        assert_eq!(back.get("maxmemory").as_deref(), Some("2097152"));
    }

    #[test]
    fn save_and_hz() {
        let c = Config::new();
        assert!(c.set("save", "3600 1 300", true).is_err());
        assert!(c.set("save", "0 1", true).is_err());
        assert!(c.set("save", "100 10  60 5", true).is_err());
        assert!(c.set("save", "100 10 60 +5", true).is_ok());
        assert_eq!(c.get("save").as_deref(), Some("100 10 60 5"));
        assert!(c.set("save", "", true).is_ok());
        assert!(c.set("hz", "5000", true).is_ok());
        assert_eq!(c.get("hz").as_deref(), Some("500"));
        assert!(c.set("hz", "0", true).is_ok());
        assert_eq!(c.get("hz").as_deref(), Some("1"));
    }

    #[test]
    fn percentiles_as_redis_validates_them() {
        let c = Config::new();
        assert_eq!(
            c.get("latency-tracking-info-percentiles").as_deref(),
            Some("50 99 99.9")
        );
        let invalid = Err(ConfigError::Invalid(
            "Invalid latency-tracking-info-percentiles parameters".into(),
        ));
        let range = Err(ConfigError::Invalid(
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into(),
        ));
        for v in ["abc", "50  99", " 50", "50,99", "nan"] {
            assert_eq!(c.set("latency-tracking-info-percentiles", v, true), invalid, "{v:?}");
        }
        for v in ["101", "-1", "100.1"] {
            assert_eq!(c.set("latency-tracking-info-percentiles", v, true), range, "{v:?}");
        }
        for (v, shown) in [
            ("1e2", "100"),
            ("0 100 99.99999 33.3333333", "0 100 99.99999 33.333333"),
            ("", ""),
            ("50 99", "50 99"),
        ] {
            c.set("latency-tracking-info-percentiles", v, true).unwrap();
            assert_eq!(c.get("latency-tracking-info-percentiles").as_deref(), Some(shown));
        }
    }

    #[test]
    fn set_many_reports_changes_and_restore_undoes_them() {
        let c = Config::new();
        assert!(!c.http_tokens().configured);
        let pairs = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let changes = c
            .set_many(&pairs(&[
                ("maxclients", "10000"),
                ("http-tokens", "t:alice"),
                ("http-timeout", "3"),
                ("appendonly", "no"),
            ]))
            .unwrap();
        // An unchanged value is no change (its effect does not run), as in Redis.
        let shown: Vec<_> = changes
            .iter()
            .map(|ch| (ch.name(), ch.old.as_str(), ch.new.as_str(), ch.effect()))
            .collect();
        assert_eq!(
            shown,
            [
                ("http-tokens", "", "t:alice", None),
                ("http-timeout", "10", "3", None),
                ("appendonly", "yes", "no", Some(Effect::Appendonly)),
            ]
        );
        // Hot copies follow every value.
        assert!(c.http_tokens().configured);
        assert_eq!(c.http_timeout(), std::time::Duration::from_secs(3));
        c.restore(&changes);
        assert!(!c.http_tokens().configured);
        assert_eq!(c.http_timeout(), std::time::Duration::from_secs(10));
        assert_eq!(c.get("appendonly").as_deref(), Some("yes"));
        assert_eq!(c.get("http-tokens").as_deref(), Some(""));
    }

    #[test]
    fn set_validates() {
        let c = Config::new();
        assert_eq!(
            c.set("appendonly", "maybe", true),
            Err(ConfigError::Invalid("argument must be 'yes' or 'no'".into()))
        );
        assert_eq!(c.set("databases", "3", true), Err(ConfigError::Immutable));
        assert!(c.set("MAXCLIENTS", "5", true).is_ok());
        assert_eq!(c.get("maxclients").as_deref(), Some("5"));
        assert_eq!(c.set("nope", "1", true), Err(ConfigError::Unknown));
    }
}
