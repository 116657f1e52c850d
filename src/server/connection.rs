//! One client connection: read buffer → decoder → dispatch → encoder → one write per batch.
//!
//! Pipelining: every complete request in the read buffer is executed in order and their
//! replies leave together in one write (split only when they grow large). Buffers are reused
//! for the connection's life. The connection never holds a store lock across `.await`
//! (commands are synchronous).
//!
//! Reading follows Redis's `readQueryFromClient`: at most 16 KiB per read, except while a big
//! bulk is arriving, when up to the rest of that bulk is read at once; the query buffer limit
//! is checked after each read, before anything is processed. Declared sizes never reserve
//! memory by themselves: a buffer for a big bulk grows toward the declared size as its bytes
//! arrive.

use super::shared::{ClientHandle, Shared};
use crate::command::{self, ReplyMode, Session};
use crate::protocol::encode::put_error;
use crate::protocol::{encode, Decoder, Limits};
use bytes::{BufMut, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Redis's `PROTO_IOBUF_LEN`: the most read at once outside a big bulk.
const READ_CHUNK: usize = 16 * 1024;
/// A big bulk's buffer grows by at most this much, or by what already arrived if that is
/// more (geometric growth), until it reaches the declared size.
const BIG_BULK_STEP: usize = 1024 * 1024;
/// Pending replies are written out once they pass this, even in the middle of a batch.
const FLUSH_AT: usize = 1024 * 1024;
/// Buffers that grew past this are given back once idle.
const SHRINK_OVER: usize = 4 * 1024 * 1024;
/// After a protocol error, unread input is drained for at most this long before the socket
/// closes, so the kernel sends FIN rather than RST and the error reply reaches the client.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 64 * 1024 * 1024;

/// How a connection ends.
enum End {
    /// The peer closed, a read or write failed, the client was killed or the server stops.
    Closed,
    /// QUIT, or a security warning: close now.
    Close,
    /// A protocol error was replied: close after draining what the client already sent.
    ProtocolError,
}

/// A client's byte stream: a TCP socket, or TLS over one.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// Serves one connection until it closes, is killed, or the server stops.
pub async fn serve<S: Stream>(shared: Arc<Shared>, mut stream: S, handle: Arc<ClientHandle>) {
    let gen = shared.acl.generation.load(Ordering::Acquire);
    let mut session = Session::new(handle.clone(), shared.acl.default_user(), gen);
    session.authenticated = !shared.auth_required();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = Decoder::new();
    // Requests decoded from one read, reused across reads.
    let mut batch: Vec<Vec<bytes::Bytes>> = Vec::new();
    // Replies in `wbuf`: if the log fails them, each is replaced by the log's error.
    let mut replies = 0usize;

    let end = 'conn: loop {
        if handle.killed.load(Ordering::Relaxed) || shared.shutting_down.load(Ordering::Relaxed) {
            break End::Closed;
        }
        // How much to read, and room for it.
        let big = decoder.bulk_remaining(&rbuf);
        let max_read = big.max(READ_CHUNK);
        let spare = rbuf.capacity() - rbuf.len();
        if big > 0 {
            let step = big.min(rbuf.len().max(BIG_BULK_STEP));
            if spare < step {
                rbuf.reserve(step);
            }
        } else if spare < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        let idle = shared.config.timeout.load(Ordering::Relaxed);
        let n = {
            let mut room = (&mut rbuf).limit(max_read);
            // CLIENT KILL and shutdown shut the socket down, which ends this read: the hot
            // path polls nothing but the socket.
            let r = if idle > 0 {
                match tokio::time::timeout(Duration::from_secs(idle as u64), stream.read_buf(&mut room)).await {
                    Ok(r) => r,
                    Err(_) => break 'conn End::Closed,
                }
            } else {
                stream.read_buf(&mut room).await
            };
            match r {
                Ok(0) | Err(_) => break 'conn End::Closed,
                Ok(n) => n,
            }
        };
        shared.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
        // The query buffer limit counts the unprocessed bytes and the arguments of a request
        // still being received (which have left the buffer). Like Redis: no reply, just close.
        let limit = shared.config.client_query_buffer_limit.load(Ordering::Relaxed);
        let held = rbuf.len() + decoder.pending_bytes();
        if held as i64 > limit {
            tracing::warn!(
                client = handle.id,
                bytes = held,
                "closing client that reached max query buffer length"
            );
            break End::Close;
        }
        handle.qbuf.store(rbuf.len(), Ordering::Relaxed);
        let mut end = None;
        let mut pipelined = false;
        loop {
            // Decode every complete request first (one at a time before authentication, whose
            // limits may change after each), so the keys of a pipeline can be prefetched.
            let mut pending_err = None;
            loop {
                let limits = Limits {
                    max_bulk_len: shared.config.proto_max_bulk_len.load(Ordering::Relaxed),
                    // A password cleared since this client connected lifts its limits too.
                    authenticated: session.authenticated || !shared.auth_required(),
                };
                match decoder.decode(&mut rbuf, limits) {
                    Ok(Some(argv)) => batch.push(argv),
                    Ok(None) => break,
                    Err(e) => {
                        pending_err = Some(e);
                        break;
                    }
                }
                if !session.authenticated && shared.auth_required() {
                    break;
                }
            }
            if batch.is_empty() && pending_err.is_none() {
                break;
            }
            if batch.len() > 1 {
                pipelined = true;
                command::prefetch(&shared, session.db, &batch);
            }
            for argv in batch.drain(..) {
                if is_http_probe(&argv[0]) {
                    // Redis's securityWarningCommand: someone is talking HTTP to us
                    // (cross-protocol scripting). Close at once, without the replies
                    // still pending.
                    tracing::warn!(
                        client = handle.id,
                        "possible security attack: POST or Host: sent to the server; connection aborted"
                    );
                    wbuf.clear();
                    end = Some(End::Close);
                    break;
                }
                if session.reply_mode == ReplyMode::SkipNext {
                    session.reply_mode = ReplyMode::Skipping;
                }
                let now = crate::store::now_ms();
                let reply = command::dispatch(&shared, &mut session, &argv, now);
                decoder.recycle(argv);
                let suppress = matches!(session.reply_mode, ReplyMode::Off | ReplyMode::Skipping);
                if session.reply_mode == ReplyMode::Skipping {
                    session.reply_mode = ReplyMode::On;
                }
                if !suppress {
                    encode(&mut wbuf, &reply, session.proto);
                    replies += 1;
                    // client-output-buffer-limit's hard limit: past it the client is closed
                    // at once and its pending replies dropped, as Redis does.
                    let hard = shared.config.output_hard_limit();
                    if hard > 0 && wbuf.len() as u64 > hard {
                        over_output_limit(&shared, &handle, wbuf.len());
                        wbuf.clear();
                        break 'conn End::Close;
                    }
                }
                if session.close {
                    end = Some(End::Close);
                    break;
                }
                if handle.killed.load(Ordering::Relaxed) || shared.shutting_down.load(Ordering::Relaxed) {
                    // CLIENT KILL of itself, SHUTDOWN: this reply goes out, nothing after
                    // it in the pipeline runs.
                    end = Some(End::Close);
                    break;
                }
                if wbuf.len() >= FLUSH_AT {
                    durable(&shared, &mut session, &mut wbuf, &mut replies).await;
                    if !flush(&shared, &mut stream, &mut wbuf).await {
                        break 'conn End::Closed;
                    }
                }
            }
            batch.clear();
            if end.is_some() {
                break;
            }
            if let Some(e) = pending_err {
                let mut text = b"ERR Protocol error: ".to_vec();
                text.extend_from_slice(&e.0);
                shared.count_error(&String::from_utf8_lossy(&text));
                // Like any reply, not sent under CLIENT REPLY OFF, nor right after CLIENT
                // REPLY SKIP (the skip covers whatever comes next, as in Redis). Redis then
                // leaves such a connection open but deaf; edgekv closes it, as the error
                // intends.
                if !matches!(session.reply_mode, ReplyMode::Off | ReplyMode::SkipNext) {
                    put_error(&mut wbuf, &text);
                    replies += 1;
                }
                tracing::debug!(client = handle.id, error = %e.text(), "protocol error");
                end = Some(End::ProtocolError);
                break;
            }
        }
        handle.qbuf.store(rbuf.len(), Ordering::Relaxed);
        super::busy_poll::activity();
        if pipelined && !wbuf.is_empty() && end.is_none() {
            // Let every other connection with input run first, so that replies leave in a
            // burst, as Redis's beforeSleep writes them: a client woken by the first reply is
            // still awake for the next ones. Waking a sleeping peer costs an inter-processor
            // interrupt per send, which profiling showed at 30% of the CPU time otherwise.
            // (For a single request the extra trip through the scheduler costs about what
            // it saves.)
            tokio::task::yield_now().await;
        }
        durable(&shared, &mut session, &mut wbuf, &mut replies).await;
        if !flush(&shared, &mut stream, &mut wbuf).await {
            break End::Closed;
        }
        if let Some(end) = end {
            break end;
        }
        if wbuf.capacity() > SHRINK_OVER {
            // A huge reply should not pin its buffer for the connection's life.
            wbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        if rbuf.is_empty() && rbuf.capacity() > SHRINK_OVER && !decoder.in_progress() {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
    };
    handle.socket_closing();
    match end {
        End::ProtocolError => linger(&mut stream, &mut rbuf).await,
        End::Close | End::Closed => {
            let _ = stream.shutdown().await;
        }
    }
    // Forget this session's watches and its registry entry.
    command::end_session(&shared, &mut session);
    shared.clients.lock().remove(&handle.id);
}

/// Holds the replies of a batch that wrote until the log has what they acknowledge (persist/
/// log.rs: written, or fsynced under `appendfsync always`). If the log fails, none of them
/// leaves: each becomes the log's `-MISCONF` error, so no write is acknowledged that the log
/// does not hold.
async fn durable(shared: &Shared, session: &mut Session, wbuf: &mut BytesMut, replies: &mut usize) {
    if let Err(e) = super::durability::wait_durable(shared, session).await {
        wbuf.clear();
        let misconf = crate::errors::misconf(&e);
        for _ in 0..*replies {
            encode(wbuf, &misconf, session.proto);
        }
    }
    *replies = 0;
}

/// `POST` or `Host:` as a command name: an HTTP request sent to the server.
fn is_http_probe(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// Writes the pending replies; false when the peer is gone. A write waiting on a client
/// that does not read ends when the client is killed or the server stops (both shut the
/// socket down), so a write cut short is never resumed.
///
/// client-output-buffer-limit's soft limit: while more than `soft` bytes are still unsent
/// for longer than its seconds, the client is closed (Redis's rule; the buffer here is what
/// the client has not taken yet). Writes then go out in pieces so the unsent part is known.
async fn flush<S: Stream>(shared: &Shared, stream: &mut S, wbuf: &mut BytesMut) -> bool {
    if wbuf.is_empty() {
        return true;
    }
    shared
        .stats
        .net_output_bytes
        .fetch_add(wbuf.len() as u64, Ordering::Relaxed);
    let limit = shared.config.output_limit();
    // (0 seconds: the client is closed as soon as a write would wait with more than the soft
    // limit unsent, as Redis closes it at its next check.)
    let written = if limit.soft == 0 || wbuf.len() as u64 <= limit.soft {
        stream.write_all(wbuf).await.is_ok()
    } else {
        write_within_soft_limit(stream, wbuf, limit.soft, Duration::from_secs(limit.soft_seconds)).await
    };
    wbuf.clear();
    // A TLS stream may accept the last bytes into its own buffer when the socket is full;
    // flush sends them (a read never would, and the client would wait for the reply's end).
    // On plain TCP it does nothing.
    written && stream.flush().await.is_ok()
}

/// Writes `wbuf`, failing when more than `soft` bytes stay unsent for longer than `grace`.
async fn write_within_soft_limit<S: Stream>(stream: &mut S, wbuf: &[u8], soft: u64, grace: Duration) -> bool {
    let mut sent = 0;
    let mut over_since: Option<tokio::time::Instant> = None;
    while sent < wbuf.len() {
        let over = (wbuf.len() - sent) as u64 > soft;
        let r = if over {
            let since = *over_since.get_or_insert_with(tokio::time::Instant::now);
            match tokio::time::timeout_at(since + grace, stream.write(&wbuf[sent..])).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(
                        unsent = wbuf.len() - sent,
                        "client closed for overcoming of output buffer limits (soft limit)"
                    );
                    return false;
                }
            }
        } else {
            over_since = None;
            stream.write(&wbuf[sent..]).await
        };
        match r {
            Ok(0) | Err(_) => return false,
            Ok(n) => sent += n,
        }
    }
    true
}

/// Logs a client closed for its output buffer (Redis's warning text).
fn over_output_limit(shared: &Shared, handle: &ClientHandle, bytes: usize) {
    shared.stats.output_limit_disconnections.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        client = handle.id,
        addr = %handle.addr,
        bytes,
        "client scheduled to be closed ASAP for overcoming of output buffer limits"
    );
}

/// Half-closes, then reads and discards what the client already sent (bounded in time and
/// bytes) until it closes its side. Closing a socket with unread input makes the kernel send
/// RST, which can destroy the error reply before the client reads it.
async fn linger<S: Stream>(stream: &mut S, rbuf: &mut BytesMut) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut total = 0;
        loop {
            rbuf.clear();
            if rbuf.capacity() < READ_CHUNK {
                rbuf.reserve(READ_CHUNK);
            }
            match stream.read_buf(rbuf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    total += n;
                    if total > LINGER_MAX_BYTES {
                        return;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
