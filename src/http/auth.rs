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
use crate::config::HttpTokens;
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
    let tokens = shared.config.http_tokens();
    if !tokens.configured {
        if !crate::server::is_loopback(&conn.peer) {
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
        .get(name)
        .filter(|u| u.enabled)
        .ok_or_else(HttpError::unauthenticated)?;
    Ok(Who { user, conn })
}

/// The user of `token`, among the configured `http-tokens` (parsed by the configuration
/// once per change; a request only loads them).
///
/// Every pair is compared in full, in time independent of where the bytes differ, so the
/// comparison does not leak the tokens (digests have one length, so even the tokens'
/// lengths do not show).
fn user_for<'a>(tokens: &'a HttpTokens, token: &[u8]) -> Option<&'a str> {
    let digest = crate::acl::sha256(token);
    let mut found = None;
    for (t, user) in &tokens.pairs {
        let same = t.iter().zip(digest.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same && found.is_none() {
            found = Some(user.as_str());
        }
    }
    found
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_users() {
        let t = HttpTokens::parse("abc:alice  x:y:bob  :nobody empty: nocolon");
        assert!(t.configured);
        assert_eq!(user_for(&t, b"abc"), Some("alice"));
        assert_eq!(user_for(&t, b"x:y"), Some("bob"));
        assert_eq!(user_for(&t, b"ab"), None);
        assert_eq!(user_for(&t, b""), Some("nobody"));
        assert_eq!(user_for(&t, b"empty"), Some(""));
        assert_eq!(user_for(&t, b"nocolon"), None);
        // Pairs without a user still mean "tokens configured": no one is admitted.
        let t = HttpTokens::parse(" nocolon ");
        assert!(t.configured && t.pairs.is_empty());
        assert!(!HttpTokens::parse("  ").configured);
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
