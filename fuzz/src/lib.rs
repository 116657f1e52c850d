//! The fuzz harness, as a library for the targets in `fuzz_targets/`. The same file is
//! compiled into the main crate's stable tests (`tests/fuzz_regressions.rs`).
pub mod harness;
