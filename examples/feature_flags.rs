//! Feature flags on edgekv, the second pattern every Workers KV user writes: one key,
//! `flags:v1`, holds `{"new_dashboard": true, "beta_users": ["user1","user2"]}`; `is_enabled`
//! answers whether a user sees a feature. Runs against a server with the `redis` crate:
//!
//! ```text
//! edgekv &
//! cargo run --example feature_flags -- redis://127.0.0.1:6379/0
//! ```
//!
//! `tests/examples.rs` runs `run` against a fresh server.

use redis::{Connection, Value};

pub const FLAGS_KEY: &str = "flags:v1";

/// Selects the `FLAGS` namespace, creating it on first use.
pub fn open(url: &str) -> redis::RedisResult<Connection> {
    let mut con = redis::Client::open(url)?.get_connection()?;
    if redis::cmd("KV.NAMESPACE")
        .arg("GET")
        .arg("FLAGS")
        .query::<Value>(&mut con)
        .is_err()
    {
        redis::cmd("KV.NAMESPACE")
            .arg("CREATE")
            .arg("FLAGS")
            .query::<Value>(&mut con)?;
    }
    redis::cmd("SELECT").arg("FLAGS").query::<()>(&mut con)?;
    Ok(con)
}

/// Publishes the flags document (metadata records who changed it).
pub fn publish(con: &mut Connection, flags: &serde_json::Value, by: &str) -> redis::RedisResult<()> {
    redis::cmd("KV.PUT")
        .arg(FLAGS_KEY)
        .arg(flags.to_string())
        .arg("METADATA")
        .arg(serde_json::json!({"updated_by": by}).to_string())
        .query(con)
}

/// True when `flag` is on for everyone, or `user` is a beta user (beta users see every
/// feature before it ships). Missing flags and a missing document mean off.
pub fn is_enabled(con: &mut Connection, flag: &str, user: &str) -> redis::RedisResult<bool> {
    let doc: Option<String> = redis::cmd("KV.GET").arg(FLAGS_KEY).query(con)?;
    let Some(doc) = doc.and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()) else {
        return Ok(false);
    };
    let on = doc[flag].as_bool() == Some(true);
    let beta = doc["beta_users"]
        .as_array()
        .is_some_and(|users| users.iter().any(|u| u.as_str() == Some(user)));
    Ok(on || beta)
}

/// The whole walk-through; prints each check and fails on any surprise.
pub fn run(url: &str) -> Result<(), String> {
    let e = |e: redis::RedisError| e.to_string();
    let mut con = open(url).map_err(e)?;
    let flags = serde_json::json!({"new_dashboard": true, "beta_users": ["user1", "user2"]});
    publish(&mut con, &flags, "ops").map_err(e)?;
    let checks = [
        ("new_dashboard", "user1", true),
        ("new_dashboard", "user9", true),
        ("dark_mode", "user2", true),
        ("dark_mode", "user9", false),
    ];
    for (flag, user, want) in checks {
        let got = is_enabled(&mut con, flag, user).map_err(e)?;
        println!("is_enabled({flag:?}, {user:?}) = {got}");
        if got != want {
            return Err(format!("is_enabled({flag:?}, {user:?}) should be {want}"));
        }
    }
    // Turning the dashboard off is one put; the next read sees it (one node: strongly consistent).
    publish(
        &mut con,
        &serde_json::json!({"new_dashboard": false, "beta_users": ["user1"]}),
        "ops",
    )
    .map_err(e)?;
    let got = is_enabled(&mut con, "new_dashboard", "user9").map_err(e)?;
    println!("after turning it off: is_enabled(\"new_dashboard\", \"user9\") = {got}");
    if got {
        return Err("the flag is still on after the put".into());
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
        eprintln!("feature_flags: {e}");
        std::process::exit(1);
    }
}
