//! The wire: bytes ⇄ requests and replies.
//!
//! Owns RESP2/RESP3 framing, inline commands and the wire limits. It never knows what a
//! command means and never touches the store.

pub mod decode;
pub mod encode;
pub mod reply;

pub use decode::{Decoder, Limits, ProtocolError};
pub use encode::{encode, Protocol};
pub use reply::Reply;
