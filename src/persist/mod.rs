//! What edgekv keeps on disk: the append-only log (`format`: its file format, records and
//! their framing; `log`: the writer, fsync policy, group commit and compaction; `replay`:
//! reading it back) and the namespace registry (`registry`).
//!
//! It owns file formats and file I/O; it never touches the store or the protocol.

pub mod format;
pub mod log;
pub mod registry;
pub mod replay;
