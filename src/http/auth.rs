//! Who an HTTP request runs as.
//!
//! With `http-tokens` configured (space-separated `token:user` pairs), `Authorization: Bearer
//! <token>` names an ACL user, whose rules then apply to every command the request runs; a
//! missing or unknown token, or a user that is off or deleted, is refused (401). Without
//! tokens, only loopback clients are served, as the default user, and only while the default
//! user needs no password (its password is never bypassed). It owns no rules of its own
//! beyond that: the ACL decides what the user may do.

use super::Conn;
use crate::acl::User;
use crate::errors::{api, HttpError, HTTP_DENIED, HTTP_NEEDS_TOKEN};
use crate::server::shared::Shared;
use axum::http::HeaderMap;
use std::sync::Arc;

/// An authenticated request: its user and connection.
#[derive(Clone)]
pub struct Who {
    pub user: Arc<User>,
    pub conn: Conn,
}

/// Authenticates a request from its headers and client address.
pub fn authenticate(shared: &Shared, conn: Conn, headers: &HeaderMap) -> Result<Who, HttpError> {
    let tokens = shared.config.get("http-tokens").unwrap_or_default();
    if tokens.split_whitespace().next().is_none() {
        if !is_loopback(&conn.peer) {
            return Err(HttpError::new(403, api::AUTH, HTTP_DENIED));
        }
        if shared.auth_required() {
            return Err(HttpError::new(401, api::AUTH, HTTP_NEEDS_TOKEN));
        }
        return Ok(Who {
            user: shared.acl.default_user(),
            conn,
        });
    }
    let token = bearer(headers).ok_or_else(HttpError::unauthenticated)?;
    let name = user_for(&tokens, token).ok_or_else(HttpError::unauthenticated)?;
    let user = shared
        .acl
        .get(&name)
        .filter(|u| u.enabled)
        .ok_or_else(HttpError::unauthenticated)?;
    Ok(Who { user, conn })
}

/// Exactly 127.0.0.1 or ::1, as protected mode counts loopback clients.
fn is_loopback(peer: &std::net::SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = v.split_at(v.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = token.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The user of `token` in `token:user` pairs. The user is after the last `:` (tokens may
/// hold colons, ACL user names here may not). Every pair is compared in full, in time
/// independent of where the bytes differ, so the comparison does not leak the tokens.
fn user_for(tokens: &str, token: &[u8]) -> Option<String> {
    let mut found = None;
    for pair in tokens.split_whitespace() {
        let Some((t, user)) = pair.rsplit_once(':') else {
            continue;
        };
        if same(t.as_bytes(), token) && found.is_none() {
            found = Some(user.to_string());
        }
    }
    found
}

fn same(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // Digests have one length, so even the lengths do not show in the timing.
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_users() {
        let t = "abc:alice  x:y:bob  :nobody empty:";
        assert_eq!(user_for(t, b"abc").as_deref(), Some("alice"));
        assert_eq!(user_for(t, b"x:y").as_deref(), Some("bob"));
        assert_eq!(user_for(t, b"ab"), None);
        assert_eq!(user_for(t, b""), Some("nobody".into()));
        assert_eq!(user_for(t, b"empty").as_deref(), Some(""));
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer  tok ".parse().unwrap());
        assert_eq!(bearer(&h), Some(&b"tok"[..]));
        h.insert("authorization", "bearer tok".parse().unwrap());
        assert_eq!(bearer(&h), Some(&b"tok"[..]));
        h.insert("authorization", "Basic tok".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
