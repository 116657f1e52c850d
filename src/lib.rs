//! edgekv: Cloudflare Workers KV's model (namespaces, per-key TTL, metadata, ordered listing)
//! behind the Redis protocol.
//!
//! The path of a request, one folder per layer, top to bottom:
//!
//! ```text
//! server/    accept loop, client limit, per-connection buffers, pipelining, shutdown
//! protocol/  bytes ⇄ requests (RESP multibulk, inline) and replies (RESP2/RESP3)
//! command/   one file per command family: typed parse, then execute; the command table
//! store/     namespaces, shards, records, deadlines, timing wheels, glob matching, WATCH
//! ```
//!
//! Beside them: `config` (parameters and their validation), `errors` (every client-visible
//! error text), `num` (Redis's number parsing), `cli` (the binary's command line), `metrics`
//! (per-command latency histograms and the `/metrics` exposition, read at scrape time).

pub mod acl;
pub mod cli;
pub mod command;
pub mod config;
pub mod errors;
pub mod http;
pub mod kv;
pub mod metrics;
pub mod num;
pub mod persist;
pub mod protocol;
pub mod server;
pub mod store;

/// The Redis version edgekv reports (INFO, HELLO): client libraries switch features on it.
pub const REDIS_VERSION: &str = "7.0.15";
