//! Workers KV's limits (kv-spec.md), checked on every KV surface before anything is written.
//! Each check returns the `KvError` whose text Workers KV uses.

use crate::errors::{KvError, KV_MAX_KEY, KV_MAX_METADATA, KV_MAX_VALUE};
use base64::Engine;

/// Most keys `KV.MGET` (Workers KV's bulk get) takes.
pub const MAX_BULK_GET: usize = 100;
/// Most items of a bulk write or delete.
pub const MAX_BULK_ITEMS: usize = 10_000;
/// Most bytes of a bulk write's body.
pub const MAX_BULK_BYTES: usize = 100_000_000;
/// `KV.LIST`'s default and largest page.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Most bytes of values one bulk get returns (Miniflare's `MAX_BULK_SIZE`: 25 MiB).
pub const MAX_BULK_GET_BYTES: usize = KV_MAX_VALUE;
/// Workers KV's smallest `cacheTtl`, in seconds.
pub const MIN_CACHE_TTL: i64 = 30;

/// A key name: not empty, not `.` or `..`, at most 512 bytes.
pub fn check_key(key: &[u8]) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::EmptyKey);
    }
    if key == b"." || key == b".." {
        return Err(KvError::IllegalKey(String::from_utf8_lossy(key).into_owned()));
    }
    if key.len() > KV_MAX_KEY {
        return Err(KvError::KeyTooLong(key.len()));
    }
    Ok(())
}

pub fn check_value(len: usize) -> Result<(), KvError> {
    if len > KV_MAX_VALUE {
        return Err(KvError::ValueTooLong(len));
    }
    Ok(())
}

/// Metadata: any JSON value, at most 1024 bytes as given.
pub fn check_metadata(meta: &[u8]) -> Result<(), KvError> {
    if meta.len() > KV_MAX_METADATA {
        return Err(KvError::MetadataTooLong(meta.len()));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(meta).map_err(|_| KvError::MetadataNotJson)?;
    Ok(())
}

/// A list prefix: at most 512 bytes.
pub fn check_prefix(prefix: &[u8]) -> Result<(), KvError> {
    if prefix.len() > KV_MAX_KEY {
        return Err(KvError::PrefixTooLong(prefix.len()));
    }
    Ok(())
}

/// When a write expires, as given by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    /// Absolute unix seconds (`expiration`).
    At(i64),
    /// Seconds from now (`expiration_ttl`).
    Ttl(i64),
}

impl Expiry {
    /// Combines the two forms a write may carry: one or none, never both.
    pub fn from_parts(at: Option<i64>, ttl: Option<i64>) -> Result<Expiry, KvError> {
        match (at, ttl) {
            (Some(_), Some(_)) => Err(KvError::MixedExpiration),
            (Some(a), None) => Ok(Expiry::At(a)),
            (None, Some(t)) => Ok(Expiry::Ttl(t)),
            (None, None) => Ok(Expiry::Never),
        }
    }

    /// The deadline in unix milliseconds.
    pub fn deadline(self, now_ms: i64) -> Option<i64> {
        match self {
            Expiry::Never => None,
            Expiry::At(s) => Some(s.saturating_mul(1000)),
            Expiry::Ttl(t) => Some(now_ms.saturating_add(t.saturating_mul(1000))),
        }
    }
}

fn int(raw: &str) -> Option<i64> {
    crate::num::parse_i64(raw.as_bytes())
}

/// `expiration_ttl`: an integer of at least `min` seconds.
pub fn parse_ttl(raw: &str, min: i64) -> Result<i64, KvError> {
    match int(raw) {
        Some(t) if t <= 0 => Err(KvError::TtlNotPositive(raw.to_string())),
        Some(t) if t < min => Err(KvError::TtlTooShort(raw.to_string(), min)),
        Some(t) => Ok(t),
        None => Err(KvError::TtlNotPositive(raw.to_string())),
    }
}

/// `expiration`: unix seconds at least `min` seconds after now.
pub fn parse_expiration(raw: &str, min: i64, now_ms: i64) -> Result<i64, KvError> {
    let now = now_ms.div_euclid(1000);
    match int(raw) {
        Some(e) if e <= now => Err(KvError::ExpirationPast(raw.to_string())),
        Some(e) if e < now.saturating_add(min) => Err(KvError::ExpirationTooSoon(raw.to_string(), min)),
        Some(e) => Ok(e),
        None => Err(KvError::ExpirationPast(raw.to_string())),
    }
}

/// `cacheTtl` of a read: an integer of at least 30 seconds. edgekv keeps no edge cache (a
/// read after a write always sees it), so the value is only checked, as Workers KV does.
pub fn check_cache_ttl(raw: &str) -> Result<i64, KvError> {
    match int(raw) {
        Some(t) if t >= MIN_CACHE_TTL => Ok(t),
        _ => Err(KvError::CacheTtlTooShort(raw.to_string(), MIN_CACHE_TTL)),
    }
}

/// A list page size: 1..=1000.
pub fn parse_list_limit(raw: &str) -> Result<usize, KvError> {
    match int(raw) {
        Some(n) if n > MAX_LIST_LIMIT as i64 => Err(KvError::ListLimitTooLarge(raw.to_string())),
        Some(n) if n < 1 => Err(KvError::ListLimitTooSmall(raw.to_string())),
        Some(n) => Ok(n as usize),
        None => Err(KvError::ListLimitTooSmall(raw.to_string())),
    }
}

/// A list cursor: the last key a page returned, opaque to clients (base64url of a version
/// byte and the key, so even an empty key, which plain SET can write, gives a non-empty
/// cursor). The next page starts strictly after that key, so a page never repeats a key of an
/// earlier page and a key present for the whole listing is never skipped, whatever is written
/// meanwhile.
const CURSOR_V1: u8 = 1;

pub fn encode_cursor(last_key: &[u8]) -> String {
    let mut raw = Vec::with_capacity(1 + last_key.len());
    raw.push(CURSOR_V1);
    raw.extend_from_slice(last_key);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// A sealed cursor: the position is a key the user may not read (a listing filtered by ACL
/// key patterns stopped on one), so it is encrypted and authenticated: version byte, nonce,
/// ChaCha20-Poly1305 ciphertext of the key and tag. The key is random per process, so such a
/// cursor is valid until the server restarts (after that it is `Invalid cursor.`).
const CURSOR_SEALED: u8 = 2;

fn cursor_key() -> &'static ring::aead::LessSafeKey {
    use ring::aead::{LessSafeKey, UnboundKey, CHACHA20_POLY1305};
    static KEY: std::sync::OnceLock<LessSafeKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &k).expect("a 32-byte key"))
    })
}

/// A cursor positioned after `last_key` that does not show `last_key`.
pub fn seal_cursor(last_key: &[u8]) -> String {
    use ring::aead::{Aad, Nonce, NONCE_LEN};
    let mut nonce = [0u8; NONCE_LEN];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let mut sealed = last_key.to_vec();
    cursor_key()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from([CURSOR_SEALED]),
            &mut sealed,
        )
        .expect("a cursor fits ChaCha20-Poly1305's limits");
    let mut raw = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    raw.push(CURSOR_SEALED);
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&sealed);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The key a cursor (plain or sealed) is positioned after.
pub fn decode_cursor(cursor: &[u8]) -> Result<Vec<u8>, KvError> {
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| KvError::InvalidCursor)?;
    // Keys written with plain SET may be longer than Workers KV's 512 bytes: a cursor may
    // name one. Its size is bounded by the request that carried it.
    match raw.first() {
        Some(&CURSOR_V1) => {
            raw.remove(0);
            Ok(raw)
        }
        Some(&CURSOR_SEALED) => {
            use ring::aead::{Aad, Nonce, NONCE_LEN};
            let nonce = raw
                .get(1..1 + NONCE_LEN)
                .and_then(|n| Nonce::try_assume_unique_for_key(n).ok())
                .ok_or(KvError::InvalidCursor)?;
            let mut sealed = raw.split_off(1 + NONCE_LEN);
            let key = cursor_key()
                .open_in_place(nonce, Aad::from([CURSOR_SEALED]), &mut sealed)
                .map_err(|_| KvError::InvalidCursor)?;
            Ok(key.to_vec())
        }
        _ => Err(KvError::InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(check_key(b""), Err(KvError::EmptyKey));
        assert_eq!(check_key(b".."), Err(KvError::IllegalKey("..".into())));
        assert!(check_key(b"...").is_ok());
        assert!(check_key(&[b'k'; 512]).is_ok());
        assert_eq!(check_key(&[b'k'; 513]), Err(KvError::KeyTooLong(513)));
    }

    #[test]
    fn expirations() {
        let now = 1_000_000_000_500;
        assert_eq!(parse_ttl("60", 60), Ok(60));
        assert_eq!(parse_ttl("59", 60), Err(KvError::TtlTooShort("59".into(), 60)));
        assert_eq!(parse_ttl("0", 60), Err(KvError::TtlNotPositive("0".into())));
        assert_eq!(parse_expiration("1000000060", 60, now), Ok(1_000_000_060));
        assert_eq!(
            parse_expiration("1000000059", 60, now),
            Err(KvError::ExpirationTooSoon("1000000059".into(), 60))
        );
        assert_eq!(
            parse_expiration("1000000000", 60, now),
            Err(KvError::ExpirationPast("1000000000".into()))
        );
        assert_eq!(Expiry::from_parts(Some(1), Some(1)), Err(KvError::MixedExpiration));
        assert_eq!(Expiry::Ttl(60).deadline(now), Some(now + 60_000));
    }

    #[test]
    fn cache_ttls() {
        assert_eq!(check_cache_ttl("30"), Ok(30));
        assert_eq!(check_cache_ttl("29"), Err(KvError::CacheTtlTooShort("29".into(), 30)));
        assert_eq!(check_cache_ttl("x"), Err(KvError::CacheTtlTooShort("x".into(), 30)));
    }

    #[test]
    fn cursors_round_trip() {
        for k in [&b""[..], b"a", b"\x00\xff/+", &[0xfe; 512], &[b'k'; 2000]] {
            let c = encode_cursor(k);
            assert!(!c.is_empty());
            assert_eq!(decode_cursor(c.as_bytes()).unwrap(), k);
        }
        assert_eq!(decode_cursor(b"!!"), Err(KvError::InvalidCursor));
    }

    #[test]
    fn sealed_cursors_hide_the_key() {
        use base64::Engine;
        for k in [&b""[..], b"secret:password", &[0xfe; 512]] {
            let c = seal_cursor(k);
            assert_eq!(decode_cursor(c.as_bytes()).unwrap(), k);
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&c).unwrap();
            assert!(
                k.len() < 4 || !raw.windows(k.len()).any(|w| w == k),
                "the key shows in {c}"
            );
            // Two cursors of one key differ (a fresh nonce each).
            assert_ne!(c, seal_cursor(k));
            // Any change to a sealed cursor makes it invalid.
            let mut bad = raw.clone();
            *bad.last_mut().unwrap() ^= 1;
            let bad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bad);
            assert_eq!(decode_cursor(bad.as_bytes()), Err(KvError::InvalidCursor));
        }
        assert_eq!(decode_cursor(b"Ag"), Err(KvError::InvalidCursor));
    }
}
