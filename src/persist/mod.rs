//! What edgekv keeps on disk. Until the append-only log arrives (durability issue), that is
//! the namespace registry: a small JSON file in the data folder, replaced atomically.
//!
//! It owns file formats and file I/O; it never touches the store or the protocol.

pub mod format;
pub mod log;
pub mod registry;
pub mod replay;
