//! The request parser: arbitrary bytes cut at arbitrary points into `edgekv::protocol::Decoder`
//! with limits. No panic; the same requests, error and state whether the bytes come in one
//! piece, in the input's chunks or byte by byte; decoded requests survive a multibulk round
//! trip. Input layout and checks: `src/harness.rs` (`run_decode`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgekv_fuzz::harness::run_decode(data);
});
