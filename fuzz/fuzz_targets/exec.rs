//! Parse + execute: requests decoded as a connection does, run through
//! `edgekv::command::dispatch` against an in-process store (fresh per input, data folder in a
//! temp dir, no log), by two interleaved clients; every reply must be one well-formed RESP
//! frame. Input layout and checks: `src/harness.rs` (`run_exec`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
    edgekv_fuzz::harness::run_exec(data, dir.path());
});
