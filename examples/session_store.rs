//! A session store on edgekv, the first pattern every Workers KV user writes: create a session
//! with a 7-day TTL, read it back, log out. Runs against a server with the `redis` crate:
//!
//! ```text
//! edgekv &                                   # 127.0.0.1:6379, data in ./edgekv-data
//! cargo run --example session_store -- redis://127.0.0.1:6379/0
//! ```
//!
//! `tests/examples.rs` runs `run` against a fresh server.

use redis::{Commands, Connection, Value};

/// Seven days, the usual session lifetime.
pub const SESSION_TTL: i64 = 7 * 24 * 3600;

/// Selects the `SESSIONS` namespace, creating it on first use.
pub fn open(url: &str) -> redis::RedisResult<Connection> {
    let mut con = redis::Client::open(url)?.get_connection()?;
    if redis::cmd("KV.NAMESPACE")
        .arg("GET")
        .arg("SESSIONS")
        .query::<Value>(&mut con)
        .is_err()
    {
        redis::cmd("KV.NAMESPACE")
            .arg("CREATE")
            .arg("SESSIONS")
            .query::<Value>(&mut con)?;
    }
    redis::cmd("SELECT").arg("SESSIONS").query::<()>(&mut con)?;
    Ok(con)
}

/// Creates a session for `user`; returns its id. The value is the session's JSON, the
/// metadata names the user (so a listing shows who is logged in without reading values).
pub fn create_session(con: &mut Connection, user: &str) -> redis::RedisResult<String> {
    let id: String = (0..16).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let value = serde_json::json!({"user": user, "created": now()}).to_string();
    let meta = serde_json::json!({"user": user}).to_string();
    redis::cmd("KV.PUT")
        .arg(format!("session:{id}"))
        .arg(value)
        .arg("EXPIRATIONTTL")
        .arg(SESSION_TTL)
        .arg("METADATA")
        .arg(meta)
        .query::<()>(con)?;
    Ok(id)
}

/// The user of a live session, or `None` (expired, logged out, or never existed).
pub fn session_user(con: &mut Connection, id: &str) -> redis::RedisResult<Option<String>> {
    let value: Option<String> = redis::cmd("KV.GET").arg(format!("session:{id}")).query(con)?;
    Ok(value
        .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
        .and_then(|v| v["user"].as_str().map(str::to_string)))
}

pub fn logout(con: &mut Connection, id: &str) -> redis::RedisResult<()> {
    redis::cmd("KV.DELETE").arg(format!("session:{id}")).query::<()>(con)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The whole walk-through; prints each step and fails on any surprise.
pub fn run(url: &str) -> Result<(), String> {
    let e = |e: redis::RedisError| e.to_string();
    let mut con = open(url).map_err(e)?;
    let id = create_session(&mut con, "alice").map_err(e)?;
    println!("created session {id} for alice");
    let user = session_user(&mut con, &id).map_err(e)?;
    println!("session {id} belongs to {user:?}");
    if user.as_deref() != Some("alice") {
        return Err(format!("expected alice, got {user:?}"));
    }
    // A plain Redis TTL shows the 7 days (a KV key is an ordinary key).
    let ttl: i64 = con.ttl(format!("session:{id}")).map_err(e)?;
    println!("expires in {ttl} s");
    if !(SESSION_TTL - 5..=SESSION_TTL).contains(&ttl) {
        return Err(format!("expected a TTL of about {SESSION_TTL} s, got {ttl}"));
    }
    logout(&mut con, &id).map_err(e)?;
    let after = session_user(&mut con, &id).map_err(e)?;
    println!("after logout: {after:?}");
    if after.is_some() {
        return Err("the session survived logout".into());
    }
    Ok(())
}

#[allow(dead_code)]
fn main() {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("EDGEKV_URL").ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379/0".into());
    if let Err(e) = run(&url) {
        eprintln!("session_store: {e}");
        std::process::exit(1);
    }
}
