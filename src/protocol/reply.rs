//! `Reply`: what a command answers, independent of the wire protocol.
//!
//! Commands build `Reply` values; only `encode` turns them into RESP2 or RESP3 bytes.

use crate::errors::KvError;
use bytes::Bytes;
use std::borrow::Cow;

/// A command's answer. The encoder maps each variant onto RESP2 or RESP3.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// `+QUEUED` (a command accepted inside MULTI)
    Queued,
    /// A simple string (`+text`). Never contains CR or LF.
    Status(Cow<'static, str>),
    /// An error line without the leading `-`, e.g. `ERR syntax error`. Bytes, not text: Redis
    /// echoes a client's bytes (an unknown command's name) into errors unchanged.
    Error(Bytes),
    /// A Workers KV error, written as the error line `ERR <message>`. Kept typed rather than
    /// as its text so that the HTTP surfaces answer with the status and Cloudflare code of
    /// its kind. Boxed: errors are rare, and `Reply` stays as small as without it.
    Kv(Box<KvError>),
    Int(i64),
    Bulk(Bytes),
    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// The null array: `*-1` in RESP2, `_` in RESP3 (EXEC aborted by WATCH).
    NilArray,
    Array(Vec<Reply>),
    /// A map in RESP3, a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3 (`~`), an array in RESP2.
    Set(Vec<Reply>),
    /// A double in RESP3 (`,`), a bulk string in RESP2.
    Double(f64),
    /// A boolean in RESP3 (`#t`), the integer 1 or 0 in RESP2.
    Bool(bool),
    /// Verbatim text in RESP3 (`=len\r\ntxt:...`), a bulk string in RESP2.
    Verbatim(Bytes),
    /// Nothing is written (CLIENT REPLY OFF/SKIP, QUIT's close).
    None,
    /// A reply already encoded for the connection's protocol, by a command whose reply is
    /// large and regular (a KV.LIST page): one buffer instead of thousands of small values.
    Encoded(Bytes),
}

impl Reply {
    pub fn error(text: impl Into<Bytes>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(text))
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn bulk_str(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    pub fn bulk_or_nil(data: Option<Bytes>) -> Reply {
        match data {
            Some(d) => Reply::Bulk(d),
            None => Reply::Nil,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::Kv(_))
    }
}
