//! The per-command cost of `command::dispatch`, for instruction counts under callgrind:
//!
//! ```text
//! cargo build --release --example dispatch_cost
//! valgrind --tool=callgrind --toggle-collect='edgekv::command::dispatch*' \
//!     target/release/examples/dispatch_cost 100000
//! ```
//!
//! It runs N GETs and N SETs of a few keys through `dispatch` on an in-process server state
//! (no sockets, no log), so the counted instructions are those of dispatch itself: lookup,
//! checks, the store operation and the statistics. Divide the total by 2N.

use bytes::Bytes;
use edgekv::command::{dispatch, Session};
use edgekv::config::Config;
use edgekv::server::shared::{ClientHandle, Shared};
use std::sync::Arc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new();
    config
        .set("dir", dir.path().to_str().expect("utf-8 path"), false)
        .expect("dir");
    let shared = Shared::new(config, None).expect("shared state");
    let addr = "127.0.0.1:1".parse().unwrap();
    let handle = Arc::new(ClientHandle::new(1, addr, addr, -1));
    let mut session = Session::new(handle, shared.acl.default_user(), 0);
    let keys: Vec<Bytes> = (0..16).map(|i| Bytes::from(format!("key:{i}"))).collect();
    let value = Bytes::from_static(b"value");
    let set = Bytes::from_static(b"SET");
    let get = Bytes::from_static(b"GET");
    let mut checksum = 0usize;
    for i in 0..n {
        let k = &keys[i % keys.len()];
        let now = edgekv::store::now_ms();
        let r = dispatch(&shared, &mut session, &[set.clone(), k.clone(), value.clone()], now);
        checksum += std::hint::black_box(&r) as *const _ as usize & 1;
        let r = dispatch(&shared, &mut session, &[get.clone(), k.clone()], now);
        checksum += std::hint::black_box(&r) as *const _ as usize & 1;
    }
    println!("{} dispatches ({checksum})", 2 * n);
}
