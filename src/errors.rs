//! Every client-visible error text, byte for byte as Redis 7.0 words it (checked against
//! redis-server 7.0.15). Fixed texts live here as constants; errors that echo a client's bytes
//! are built here too, so the quoting and truncation rules are in one place.

use crate::protocol::Reply;

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const DB_INDEX: &str = "ERR DB index is out of range";
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
pub const LOADING: &str = "LOADING edgekv is loading the dataset in memory";

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
