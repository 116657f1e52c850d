//! One client connection: read buffer → decoder → dispatch → encoder → one write per batch.
//!
//! Pipelining: every complete request in the read buffer is executed in order and their
//! replies leave together in one write. Buffers are reused for the connection's life. The
//! connection never holds a store lock across `.await` (commands are synchronous).

use super::shared::{ClientHandle, Shared};
use crate::command::{self, ReplyMode, Session};
use crate::errors;
use crate::protocol::{encode, Decoder, Limits, Reply};
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const READ_CHUNK: usize = 16 * 1024;

/// Serves one connection until it closes, is killed, or the server stops.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, handle: Arc<ClientHandle>) {
    let mut session = Session::new(handle.clone());
    session.authenticated = shared.config.get("requirepass").is_none_or(|p| p.is_empty());
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = Decoder::new();
    let killed = handle.kill_signal.notified();
    let stopping = shared.shutdown.notified();
    tokio::pin!(killed, stopping);

    'conn: loop {
        if handle.killed.load(Ordering::Relaxed) || shared.shutting_down.load(Ordering::Relaxed) {
            break;
        }
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        let idle = shared.config.timeout.load(Ordering::Relaxed);
        let n = tokio::select! {
            r = stream.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => n,
            },
            _ = &mut killed => break 'conn,
            _ = &mut stopping => break 'conn,
            _ = tokio::time::sleep(Duration::from_secs(idle.max(1) as u64)), if idle > 0 => break 'conn,
        };
        shared.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
        let limit = shared.config.client_query_buffer_limit.load(Ordering::Relaxed);
        if rbuf.len() as i64 > limit {
            tracing::warn!(
                client = handle.id,
                "closing client that reached max query buffer length"
            );
            break;
        }
        handle.qbuf.store(rbuf.len(), Ordering::Relaxed);
        let now = crate::store::now_ms();
        handle
            .last_active
            .store(handle.created.elapsed().as_millis() as u64, Ordering::Relaxed);
        let mut close = false;
        loop {
            let limits = Limits {
                max_bulk_len: shared.config.proto_max_bulk_len.load(Ordering::Relaxed),
                authenticated: session.authenticated,
            };
            match decoder.decode(&mut rbuf, limits) {
                Ok(Some(argv)) => {
                    if session.reply_mode == ReplyMode::SkipNext {
                        session.reply_mode = ReplyMode::Skipping;
                    }
                    let reply = command::dispatch(&shared, &mut session, &argv, now);
                    let suppress = matches!(session.reply_mode, ReplyMode::Off | ReplyMode::Skipping);
                    if session.reply_mode == ReplyMode::Skipping {
                        session.reply_mode = ReplyMode::On;
                    }
                    if !suppress {
                        encode(&mut wbuf, &reply, session.proto);
                    }
                    if session.close {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let reply = errors::protocol(&e.0);
                    if let Reply::Error(t) = &reply {
                        shared.count_error(t);
                    }
                    encode(&mut wbuf, &reply, session.proto);
                    close = true;
                    break;
                }
            }
        }
        handle.qbuf.store(rbuf.len(), Ordering::Relaxed);
        if !wbuf.is_empty() {
            shared
                .stats
                .net_output_bytes
                .fetch_add(wbuf.len() as u64, Ordering::Relaxed);
            if stream.write_all(&wbuf).await.is_err() {
                break;
            }
            wbuf.clear();
            if wbuf.capacity() > 4 * 1024 * 1024 {
                // A huge reply should not pin its buffer for the connection's life.
                wbuf = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        if close {
            break;
        }
        if rbuf.is_empty() && rbuf.capacity() > 4 * 1024 * 1024 && !decoder.in_progress() {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
    }
    let _ = stream.shutdown().await;
    // Forget this session's watches and its registry entry.
    for (db, key) in session.watched.drain(..) {
        shared.store.watches.unwatch(db, &key, &session.dirty);
    }
    shared.clients.lock().remove(&handle.id);
}
