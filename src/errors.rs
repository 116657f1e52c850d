//! Every client-visible error text, byte for byte as Redis 7.0 words it (checked against
//! redis-server 7.0.15). Fixed texts live here as constants; errors that echo a client's bytes
//! are built here too, so the quoting and truncation rules are in one place.

use crate::protocol::Reply;

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const DB_INDEX: &str = "ERR DB index is out of range";
/// CONFIG SET appendonly yes when the log cannot start (Redis's updateAppendonly; the reason
/// goes to the server's log).
pub const AOF_START: &str = "Unable to turn on AOF. Check server logs.";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const INCR_NAN_INF: &str = "ERR increment would produce NaN or Infinity";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const NX_XX_GT_LT: &str = "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_NO_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_NO_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const PROTOCOL_VERSION: &str = "ERR Protocol version is not an integer or out of range";
pub const CLIENT_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
pub const COUNT_RANGE: &str = "ERR count should be greater than or equal to 0";
pub const AUTH_NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// Protected mode's refusal of a non-loopback client (sent whole, then the connection closes).
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
pub const LOADING: &str = "LOADING edgekv is loading the dataset in memory";
/// COMMAND GETKEYS / GETKEYSANDFLAGS, in the order Redis checks: the command, whether it
/// takes keys, its arity, then whether the line has any.
pub const GETKEYS_INVALID_COMMAND: &str = "ERR Invalid command specified";
pub const GETKEYS_NO_KEYS: &str = "ERR The command has no key arguments";
pub const GETKEYS_ARITY: &str = "ERR Invalid number of arguments specified for command";
pub const GETKEYS_INVALID_ARGS: &str = "ERR Invalid arguments specified for command";

pub fn err(text: &'static str) -> Reply {
    Reply::Error(bytes::Bytes::from_static(text.as_bytes()))
}

/// Truncates as C's `%.*s` does: at most `n` bytes, and never past a NUL byte. The bytes are
/// kept as they are (Redis echoes them unchanged, valid UTF-8 or not).
fn clip(b: &[u8], n: usize) -> &[u8] {
    let b = &b[..b.len().min(n)];
    match b.iter().position(|&c| c == 0) {
        Some(z) => &b[..z],
        None => b,
    }
}

/// An error built from text pieces and client bytes.
fn raw(parts: &[&[u8]]) -> Reply {
    Reply::Error(parts.concat().into())
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> Reply {
    let mut list = Vec::new();
    for a in args {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(clip(a, room));
        list.extend_from_slice(b"' ");
    }
    raw(&[
        b"ERR unknown command '",
        clip(name, 128),
        b"', with args beginning with: ",
        &list,
    ])
}

/// `ERR unknown subcommand 'x'. Try CLIENT HELP.`
pub fn unknown_subcommand(container: &str, sub: &[u8]) -> Reply {
    let upper = container.to_ascii_uppercase();
    raw(&[
        b"ERR unknown subcommand '",
        clip(sub, 128),
        b"'. Try ",
        upper.as_bytes(),
        b" HELP.",
    ])
}

/// `ERR unknown subcommand or wrong number of arguments for 'x'. Try SLOWLOG HELP.`: the
/// subcommand as the client typed it (Redis's addReplySubcommandSyntaxError).
pub fn subcommand_syntax(container: &str, sub: &[u8]) -> Reply {
    let upper = container.to_ascii_uppercase();
    raw(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        clip(sub, 128),
        b"'. Try ",
        upper.as_bytes(),
        b" HELP.",
    ])
}

/// `<before><client bytes><after>`, the bytes as C's `%s` prints them (up to a NUL byte, not
/// re-encoded), for texts that quote an argument back: `ERR Unknown client type 'x'`.
pub fn echo(before: &str, arg: &[u8], after: &str) -> Reply {
    raw(&[before.as_bytes(), clip(arg, usize::MAX), after.as_bytes()])
}

/// `ERR Unsupported option x` (EXPIRE and friends): the option as the client sent it.
pub fn unsupported_option(opt: &[u8]) -> Reply {
    raw(&[b"ERR Unsupported option ", clip(opt, usize::MAX)])
}

/// `ERR wrong number of arguments for 'get' command`
pub fn arity(fullname: &str) -> Reply {
    Reply::Error(format!("ERR wrong number of arguments for '{}' command", fullname).into())
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire(cmd: &str) -> Reply {
    Reply::Error(format!("ERR invalid expire time in '{}' command", cmd).into())
}

/// `ERR Protocol error: ...`
pub fn protocol(detail: &str) -> Reply {
    Reply::Error(format!("ERR Protocol error: {}", detail).into())
}

/// `ERR Syntax error in HELLO option 'x'`
pub fn hello_option(opt: &[u8]) -> Reply {
    raw(&[b"ERR Syntax error in HELLO option '", clip(opt, usize::MAX), b"'"])
}

/// `ERR Unknown option or number of arguments for CONFIG SET - 'x'`
pub fn config_set_unknown(name: &[u8]) -> Reply {
    raw(&[
        b"ERR Unknown option or number of arguments for CONFIG SET - '",
        clip(name, usize::MAX),
        b"'",
    ])
}

/// `ERR CONFIG SET failed (possibly related to argument 'x') - reason`
pub fn config_set_failed(name: &str, reason: &str) -> Reply {
    Reply::Error(
        format!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
            name, reason
        )
        .into(),
    )
}

/// `ERR Invalid argument 'x' for CONFIG SET`-style errors for duplicated parameters.
pub fn config_set_duplicate(name: &str) -> Reply {
    Reply::Error(
        format!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - duplicate parameter",
            name
        )
        .into(),
    )
}

/// `ERR Unknown command 'x' reply mode` and similar free-form texts built elsewhere.
pub fn custom(text: String) -> Reply {
    Reply::Error(text.into())
}

/// `MISCONF Errors writing to the AOF file: <reason>` (Redis's text for a failing log).
pub fn misconf(reason: &str) -> Reply {
    Reply::Error(format!("MISCONF Errors writing to the AOF file: {reason}").into())
}

/// The persistence commands while the log is off (Redis writes a file even then; edgekv's
/// log exists only while logging is on).
pub const LOG_OFF: &str = "ERR the append-only log is off (CONFIG SET appendonly yes starts it)";

/// `NOPERM this user has no permissions to run the 'get' command`
pub fn noperm_command(fullname: &str) -> Reply {
    Reply::Error(format!("NOPERM this user has no permissions to run the '{fullname}' command").into())
}

pub const NOPERM_KEY: &str = "NOPERM this user has no permissions to access one of the keys used as arguments";

/// edgekv's namespace scope: `NOPERM this user has no permissions to access namespace 16`.
pub fn noperm_namespace(index: usize) -> Reply {
    Reply::Error(format!("NOPERM this user has no permissions to access namespace {index}").into())
}

pub const NOPERM_ALL_NAMESPACES: &str = "NOPERM this user has no permissions to access every namespace";

/// EXEC's re-check of a queued command whose permission went away (Redis 7.0's text).
pub fn noperm_changed(reason: &str) -> Reply {
    Reply::Error(
        format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
        )
        .into(),
    )
}

/// The operations Workers KV bills and limits per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOp {
    Read,
    Write,
    Delete,
    List,
}

impl KvOp {
    /// The binding method Workers KV names in its texts.
    pub fn method(self) -> &'static str {
        match self {
            KvOp::Read => "get",
            KvOp::Write => "put",
            KvOp::Delete => "delete",
            KvOp::List => "list",
        }
    }
}

/// Every Workers KV error edgekv reports, on every KV surface (`KV.*` commands, HTTP, CLI).
/// `message` is Workers KV's text (kv-spec.md), `status` its HTTP status; RESP replies are
/// `-ERR <message>`. A command answers one as `Reply::Kv`, so that the HTTP surfaces, which
/// run commands, take the status and Cloudflare code from the kind and never from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    EmptyKey,
    /// The key as given (`.` or `..`).
    IllegalKey(String),
    KeyTooLong(usize),
    ValueTooLong(usize),
    MetadataTooLong(usize),
    MetadataNotJson,
    /// `expiration_ttl` below the minimum (value as given, minimum).
    TtlTooShort(String, i64),
    /// `expiration_ttl` zero, negative or not an integer.
    TtlNotPositive(String),
    /// `expiration` less than the minimum TTL ahead (value as given, minimum).
    ExpirationTooSoon(String, i64),
    /// `expiration` not after now, or not an integer.
    ExpirationPast(String),
    /// Both an absolute and a relative expiration in one write: edgekv never mixes them.
    MixedExpiration,
    ListLimitTooLarge(String),
    ListLimitTooSmall(String),
    PrefixTooLong(usize),
    InvalidCursor,
    BulkGetTooMany,
    BulkGetTooFew,
    BulkTooMany(usize),
    BulkTooLarge(usize),
    /// The bulk body is not what it should be (the detail says why).
    BulkFormat(String),
    /// `KV.GET key TYPE json` of a value that is not JSON (serde's reason).
    ValueNotJson(String),
    InvalidType(String),
    /// A key in a URL whose percent-encoding is broken (`%` not followed by two hex digits)
    /// or decodes to bytes that are not UTF-8 (Workers KV keys are JavaScript strings, and
    /// `decodeURIComponent` refuses both).
    KeyNotDecodable,
    /// A list prefix in a URL that decodes to bytes that are not UTF-8.
    PrefixNotDecodable,
    /// `cache_ttl` below the minimum, or not an integer (value as given, minimum).
    CacheTtlTooShort(String, i64),
    /// A bulk get with `type: "json"` hit a value that is not JSON (the type asked for).
    BulkGetNotType(String),
    /// A bulk get whose values add up to more than 25 MiB.
    BulkGetTooLarge,
    QuotaExceeded(KvOp),
    StorageQuotaExceeded,
    NamespaceNotFound,
    NamespaceTitleTaken,
    NamespaceTitleEmpty,
    NamespaceTitleTooLong(usize),
    TooManyNamespaces(usize),
    /// The registry file could not be written (the change was not made).
    RegistryWrite(String),
    /// One item of a bulk write was refused: its error and its index (the whole write is
    /// refused with the item's status).
    BulkItem(Box<KvError>, usize),
    /// The connection's selected namespace was dropped by `KV.NAMESPACE DELETE`: it must
    /// SELECT again, as its slot may be reused by a new namespace (any command, not only
    /// `KV.*`, answers this).
    NamespaceDeleted,
}

/// Workers KV's key length limit, in UTF-8 bytes.
pub const KV_MAX_KEY: usize = 512;
/// Workers KV's value limit: 25 MiB.
pub const KV_MAX_VALUE: usize = 25 * 1024 * 1024;
/// Workers KV's metadata limit, serialized.
pub const KV_MAX_METADATA: usize = 1024;

impl KvError {
    pub fn message(&self) -> String {
        match self {
            KvError::EmptyKey => "Key names must not be empty".into(),
            KvError::IllegalKey(k) => format!("Illegal key name \"{k}\". Please use a different name."),
            KvError::KeyTooLong(n) | KvError::PrefixTooLong(n) => {
                format!("UTF-8 encoded length of {n} exceeds key length limit of {KV_MAX_KEY}.")
            }
            KvError::ValueTooLong(n) => format!("Value length of {n} exceeds limit of {KV_MAX_VALUE}."),
            KvError::MetadataTooLong(n) => format!("Metadata length of {n} exceeds limit of {KV_MAX_METADATA}."),
            KvError::MetadataNotJson => "Metadata must be valid JSON.".into(),
            KvError::TtlTooShort(v, min) => {
                format!("Invalid expiration_ttl of {v}. Expiration TTL must be at least {min}.")
            }
            KvError::TtlNotPositive(v) => {
                format!("Invalid expiration_ttl of {v}. Please specify integer greater than 0.")
            }
            KvError::ExpirationTooSoon(v, min) => {
                format!("Invalid expiration of {v}. Expiration times must be at least {min} seconds in the future.")
            }
            KvError::ExpirationPast(v) => format!(
                "Invalid expiration of {v}. Please specify integer greater than the current number of seconds since the UNIX epoch."
            ),
            KvError::MixedExpiration => {
                "Both expiration and expiration_ttl were given; a write takes one or the other, never both.".into()
            }
            KvError::ListLimitTooLarge(v) => {
                format!("Invalid key_count_limit of {v}. Please specify an integer less than 1000.")
            }
            KvError::ListLimitTooSmall(v) => {
                format!("Invalid key_count_limit of {v}. Please specify an integer greater than 0.")
            }
            KvError::InvalidCursor => "Invalid cursor.".into(),
            KvError::BulkGetTooMany => "You can request a maximum of 100 keys".into(),
            KvError::BulkGetTooFew => "You must request a minimum of 1 key".into(),
            KvError::BulkTooMany(n) => format!("A bulk request takes at most 10000 items; this one has {n}."),
            KvError::BulkTooLarge(n) => format!("A bulk request takes at most 100000000 bytes; this one has {n}."),
            KvError::BulkFormat(why) => why.clone(),
            KvError::ValueNotJson(why) => format!("The value is not valid JSON: {why}"),
            KvError::InvalidType(t) => format!("\"{t}\" is not a valid type. Use \"json\" or \"text\""),
            KvError::KeyNotDecodable => "Could not URL-decode key name".into(),
            KvError::PrefixNotDecodable => "Could not URL-decode prefix".into(),
            KvError::CacheTtlTooShort(v, min) => format!("Invalid cache_ttl of {v}. Cache TTL must be at least {min}."),
            KvError::BulkGetNotType(t) => format!("At least one of the requested keys corresponds to a non-{t} value"),
            KvError::BulkGetTooLarge => format!("Total size of request exceeds the limit of {}MB", KV_MAX_VALUE >> 20),
            KvError::QuotaExceeded(op) => format!("KV {}() limit exceeded for the day.", op.method()),
            KvError::StorageQuotaExceeded => "KV storage limit exceeded for the namespace.".into(),
            KvError::NamespaceNotFound => "Unknown namespace.".into(),
            KvError::NamespaceTitleTaken => "A namespace with this account ID and title already exists".into(),
            KvError::NamespaceTitleEmpty => "A namespace title must not be empty".into(),
            KvError::NamespaceTitleTooLong(n) => format!("A namespace title must be 512 characters or less (current: {n})"),
            KvError::TooManyNamespaces(max) => {
                format!("The limit of {max} namespaces is reached (configuration: kv-max-namespaces)")
            }
            KvError::RegistryWrite(why) => format!("could not save the namespace registry: {why}"),
            KvError::BulkItem(e, i) => format!("{} (item {i})", e.message()),
            KvError::NamespaceDeleted => "the selected namespace was deleted; SELECT another one".into(),
        }
    }

    /// The HTTP status Workers KV answers with.
    pub fn status(&self) -> u16 {
        match self {
            KvError::KeyTooLong(_) | KvError::PrefixTooLong(_) => 414,
            KvError::ValueTooLong(_)
            | KvError::MetadataTooLong(_)
            | KvError::BulkTooLarge(_)
            | KvError::BulkGetTooLarge => 413,
            KvError::QuotaExceeded(_) | KvError::StorageQuotaExceeded => 429,
            KvError::NamespaceNotFound | KvError::NamespaceDeleted => 404,
            KvError::RegistryWrite(_) => 500,
            // A value too large is a 413 in a bulk write too.
            KvError::BulkItem(e, _) => e.status(),
            _ => 400,
        }
    }

    /// The RESP error code of every Workers KV error: the first word of its error line
    /// (what INFO errorstats counts).
    pub const CODE: &'static str = "ERR";

    /// The RESP error line, without the leading `-`: `ERR <message>`.
    pub fn line(&self) -> String {
        format!("{} {}", Self::CODE, self.message())
    }

    /// The command's reply: the error itself, which the encoder writes as `-ERR <message>`.
    pub fn reply(self) -> Reply {
        Reply::Kv(Box::new(self))
    }
}

impl From<KvError> for Reply {
    fn from(e: KvError) -> Reply {
        e.reply()
    }
}

impl KvError {
    /// The Cloudflare API v4 error code of this error on the REST surface (see `api`).
    pub fn api_code(&self) -> u32 {
        match self {
            KvError::NamespaceNotFound | KvError::NamespaceDeleted => api::NAMESPACE_NOT_FOUND,
            KvError::NamespaceTitleTaken => api::TITLE_TAKEN,
            KvError::QuotaExceeded(_) | KvError::StorageQuotaExceeded => api::QUOTA,
            KvError::RegistryWrite(_) => api::INTERNAL,
            KvError::BulkItem(e, _) => e.api_code(),
            _ => api::INVALID,
        }
    }
}

/// Cloudflare API v4 error codes. Seen in real responses (quoted by public projects and
/// wrangler's tests): `AUTH` 10000 `Authentication error`, `KEY_NOT_FOUND` 10009,
/// `NAMESPACE_NOT_FOUND` 10013, `TITLE_TAKEN` 10014, `QUOTA` 10048, `NO_ROUTE` 7003. The
/// codes Cloudflare uses for the validation texts, a refused method and server-side
/// failures could not be verified: those below are edgekv's own.
pub mod api {
    pub const AUTH: u32 = 10000;
    pub const KEY_NOT_FOUND: u32 = 10009;
    pub const NAMESPACE_NOT_FOUND: u32 = 10013;
    pub const TITLE_TAKEN: u32 = 10014;
    pub const QUOTA: u32 = 10048;
    pub const NO_ROUTE: u32 = 7003;
    /// edgekv's: a method the route does not take.
    pub const METHOD: u32 = 7001;
    /// edgekv's: a Workers KV limit or a malformed request.
    pub const INVALID: u32 = 10020;
    /// edgekv's: the server cannot serve now (loading, log errors).
    pub const UNAVAILABLE: u32 = 10503;
    /// edgekv's: a failure inside the server.
    pub const INTERNAL: u32 = 10500;

    /// `Authentication error` (Cloudflare's text for a missing or unknown token).
    pub const AUTH_ERROR: &str = "Authentication error";
    /// Cloudflare's text for a duplicate title (lower case, as the API sends it; the RESP
    /// command words it as wrangler's tests do).
    pub const TITLE_TAKEN_TEXT: &str = "a namespace with this account ID and title already exists";
}

/// An error of the HTTP surfaces: the status, the Cloudflare API code (REST envelope) and the
/// message (REST envelope, or the reason phrase and body of the workerd binding protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

/// The HTTP listener's refusal of a non-loopback client while no `http-tokens` are
/// configured (the counterpart of protected mode's `-DENIED`).
pub const HTTP_DENIED: &str = "DENIED edgekv's HTTP listener serves only clients on the loopback interface while no http-tokens are configured. To serve other clients, configure http-tokens (space-separated token:user pairs, users from the ACL) and send 'Authorization: Bearer <token>'.";

/// The HTTP listener's refusal when the default user needs a password and no `http-tokens`
/// are configured (the password is never bypassed).
pub const HTTP_NEEDS_TOKEN: &str = "Authentication error: the default user requires a password; configure http-tokens (token:user pairs) and send 'Authorization: Bearer <token>'";

impl HttpError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A Workers KV error with its status, code and text.
    pub fn kv(e: &KvError) -> HttpError {
        if matches!(e, KvError::NamespaceDeleted) {
            // Deleted between the request's lookup and its command: to the client, the
            // namespace is unknown (its RESP text tells a connection to SELECT again).
            return HttpError::kv(&KvError::NamespaceNotFound);
        }
        HttpError::new(e.status(), e.api_code(), e.message())
    }

    /// Any other error reply of a command run for an HTTP request, by its Redis error code
    /// (the first word): NOPERM is 403, NOAUTH 401, LOADING and MISCONF 503, ERR 400 (Workers
    /// KV errors come typed, as `Reply::Kv`: see `kv`).
    pub fn from_reply(text: &[u8]) -> HttpError {
        let text = String::from_utf8_lossy(text);
        let word = text.split(' ').next().unwrap_or("");
        match word {
            "NOPERM" => HttpError::new(403, api::AUTH, text),
            "NOAUTH" | "WRONGPASS" => HttpError::new(401, api::AUTH, text),
            "LOADING" | "MISCONF" => HttpError::new(503, api::UNAVAILABLE, text),
            "ERR" => HttpError::new(400, api::INVALID, &text[4.min(text.len())..]),
            _ => HttpError::new(500, api::INTERNAL, text),
        }
    }

    /// The log failed after a write was made: its outcome is unknown to the client.
    pub fn log_failed(reason: &str) -> HttpError {
        let Reply::Error(text) = misconf(reason) else {
            unreachable!("misconf is an error")
        };
        HttpError::new(500, api::INTERNAL, String::from_utf8_lossy(&text))
    }

    pub fn unauthenticated() -> HttpError {
        HttpError::new(401, api::AUTH, api::AUTH_ERROR)
    }

    /// A missing key: `get: 'key not found'`, `metadata: 'key not found'`.
    pub fn key_not_found(op: &str) -> HttpError {
        HttpError::new(404, api::KEY_NOT_FOUND, format!("{op}: 'key not found'"))
    }

    /// An unknown namespace on the REST surface: `get namespace: 'namespace not found'` (the
    /// form seen from the real API for GET; the other operations' prefixes follow it).
    pub fn namespace_not_found(op: &str) -> HttpError {
        HttpError::new(404, api::NAMESPACE_NOT_FOUND, format!("{op}: 'namespace not found'"))
    }

    /// No route under `/client/v4` (Cloudflare's 7003 text).
    pub fn no_route(path: &str) -> HttpError {
        HttpError::new(
            404,
            api::NO_ROUTE,
            format!("Could not route to {path}, perhaps your object identifier is invalid?"),
        )
    }

    pub fn method_not_allowed() -> HttpError {
        HttpError::new(405, api::METHOD, "Method not allowed for this route")
    }

    /// A request body over the route's limit (values and bulk bodies have Workers KV's own
    /// texts; this is for the small JSON bodies).
    pub fn body_too_large(limit: usize) -> HttpError {
        HttpError::new(
            413,
            api::INVALID,
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    }

    /// A request body that is not the JSON the route takes.
    pub fn malformed_json(why: impl std::fmt::Display) -> HttpError {
        HttpError::new(400, api::INVALID, format!("Malformed JSON in request body: {why}"))
    }

    /// A JSON body of the wrong shape: `expected` says what the route takes.
    pub fn invalid_body(expected: &str) -> HttpError {
        HttpError::new(400, api::INVALID, format!("Invalid request body: expected {expected}."))
    }

    /// A multipart body that cannot be read, or lacks the `value` part.
    pub fn invalid_multipart(why: impl std::fmt::Display) -> HttpError {
        HttpError::new(400, api::INVALID, format!("Invalid multipart/form-data body: {why}"))
    }

    /// A query parameter that is not what the route takes.
    pub fn invalid_param(name: &str, value: &str, expected: &str) -> HttpError {
        HttpError::new(400, api::INVALID, format!("Invalid {name} of {value}. {expected}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode, Protocol};

    /// Every kind of Workers KV error with the HTTP status and Cloudflare code it answers
    /// with (the statuses the HTTP surfaces gave when they read them from the error texts).
    fn all() -> Vec<(KvError, u16, u32)> {
        let item = |e: KvError| KvError::BulkItem(Box::new(e), 3);
        let invalid = [
            KvError::EmptyKey,
            KvError::IllegalKey("..".into()),
            KvError::MetadataNotJson,
            KvError::TtlTooShort("30".into(), 60),
            KvError::TtlNotPositive("0".into()),
            KvError::ExpirationTooSoon("1".into(), 60),
            KvError::ExpirationPast("1".into()),
            KvError::MixedExpiration,
            KvError::ListLimitTooLarge("1001".into()),
            KvError::ListLimitTooSmall("0".into()),
            KvError::InvalidCursor,
            KvError::BulkGetTooMany,
            KvError::BulkGetTooFew,
            KvError::BulkTooMany(10001),
            KvError::BulkFormat("x".into()),
            KvError::ValueNotJson("x".into()),
            KvError::InvalidType("x".into()),
            KvError::KeyNotDecodable,
            KvError::PrefixNotDecodable,
            KvError::CacheTtlTooShort("10".into(), 30),
            KvError::BulkGetNotType("json".into()),
            KvError::NamespaceTitleEmpty,
            KvError::NamespaceTitleTooLong(513),
            KvError::TooManyNamespaces(3),
            item(KvError::EmptyKey),
            item(KvError::IllegalKey(".".into())),
            item(KvError::MetadataNotJson),
            item(KvError::TtlTooShort("30".into(), 60)),
            item(KvError::ExpirationPast("1".into())),
            item(KvError::MixedExpiration),
            item(KvError::BulkFormat(
                "The value of key \"k\" is not valid base64: x".into(),
            )),
        ];
        let mut all: Vec<_> = invalid.into_iter().map(|e| (e, 400, api::INVALID)).collect();
        all.extend([
            (KvError::KeyTooLong(513), 414, api::INVALID),
            (KvError::PrefixTooLong(513), 414, api::INVALID),
            (item(KvError::KeyTooLong(513)), 414, api::INVALID),
            (KvError::ValueTooLong(26214401), 413, api::INVALID),
            (KvError::MetadataTooLong(1025), 413, api::INVALID),
            (KvError::BulkTooLarge(100000001), 413, api::INVALID),
            (KvError::BulkGetTooLarge, 413, api::INVALID),
            (item(KvError::ValueTooLong(26214401)), 413, api::INVALID),
            (item(KvError::MetadataTooLong(1025)), 413, api::INVALID),
            (KvError::QuotaExceeded(KvOp::Read), 429, api::QUOTA),
            (KvError::QuotaExceeded(KvOp::Write), 429, api::QUOTA),
            (KvError::QuotaExceeded(KvOp::Delete), 429, api::QUOTA),
            (KvError::QuotaExceeded(KvOp::List), 429, api::QUOTA),
            (KvError::StorageQuotaExceeded, 429, api::QUOTA),
            (KvError::NamespaceNotFound, 404, api::NAMESPACE_NOT_FOUND),
            (KvError::NamespaceDeleted, 404, api::NAMESPACE_NOT_FOUND),
            (KvError::NamespaceTitleTaken, 400, api::TITLE_TAKEN),
            (KvError::RegistryWrite("disk full".into()), 500, api::INTERNAL),
        ]);
        all
    }

    /// Each kind answers HTTP with its own status and code, and its message (a deleted
    /// namespace as an unknown one).
    #[test]
    fn kv_errors_map_to_statuses_by_kind() {
        for (e, status, code) in all() {
            let message = match e {
                KvError::NamespaceDeleted => KvError::NamespaceNotFound.message(),
                _ => e.message(),
            };
            assert_eq!(HttpError::kv(&e), HttpError::new(status, code, message), "{e:?}");
        }
        assert_eq!(
            KvError::BulkItem(Box::new(KvError::KeyTooLong(513)), 7).message(),
            "UTF-8 encoded length of 513 exceeds key length limit of 512. (item 7)"
        );
    }

    /// A typed reply is written exactly as the error line `ERR <message>` in both protocols,
    /// CR and LF in a message included.
    #[test]
    fn kv_replies_encode_as_their_error_line() {
        let mut errors: Vec<KvError> = all().into_iter().map(|(e, ..)| e).collect();
        errors.push(KvError::ValueNotJson("a\r\nb\n".into()));
        for e in errors {
            let line = format!("ERR {}", e.message());
            for proto in [Protocol::Resp2, Protocol::Resp3] {
                let (mut typed, mut text) = (bytes::BytesMut::new(), bytes::BytesMut::new());
                encode::encode(&mut typed, &e.clone().reply(), proto);
                encode::encode(&mut text, &Reply::Error(line.clone().into()), proto);
                assert_eq!(typed, text, "{e:?}");
            }
        }
        let mut out = bytes::BytesMut::new();
        encode::encode(&mut out, &KvError::NamespaceDeleted.reply(), Protocol::Resp2);
        assert_eq!(
            &out[..],
            b"-ERR the selected namespace was deleted; SELECT another one\r\n"
        );
    }

    /// A typed error costs `Reply` no size: the success path moves replies as before.
    #[test]
    fn reply_size_is_unchanged() {
        assert_eq!(std::mem::size_of::<Reply>(), std::mem::size_of::<(bytes::Bytes, u64)>());
    }

    #[test]
    fn replies_map_to_statuses() {
        let st = |t: &str| HttpError::from_reply(t.as_bytes()).status;
        assert_eq!(st(NOPERM_KEY), 403);
        assert_eq!(st("NOAUTH Authentication required."), 401);
        assert_eq!(st(LOADING), 503);
        assert_eq!(st("MISCONF Errors writing to the AOF file: x"), 503);
        assert_eq!(
            HttpError::from_reply(SYNTAX.as_bytes()),
            HttpError::new(400, api::INVALID, "syntax error")
        );
        assert_eq!(st("WEIRD thing"), 500);
    }
}
