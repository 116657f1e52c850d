//! The fuzz harness logic, shared word for word by the cargo-fuzz targets (`fuzz/fuzz_targets/`,
//! nightly, through the `edgekv_fuzz` lib) and by the stable regression tests
//! (`tests/fuzz_regressions.rs`, which includes this file with `#[path]`), so that a crash
//! input found by libFuzzer replays through exactly the same code on stable.
//!
//! Uses only `edgekv`, `bytes` and `std`.
//!
//! Input layout, both targets: `[flags] [k] [k step bytes] [payload...]`. The step bytes are
//! cycled to cut the payload into chunks (see `step_len`); `k == 0` means a single chunk for
//! `decode` and one byte at a time for `exec`.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use edgekv::command::{self, ReplyMode, Session};
use edgekv::config::Config;
use edgekv::protocol::{encode, Decoder, Limits, Protocol, ProtocolError, Reply};
use edgekv::server::shared::{ClientHandle, Shared};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Redis's default `proto-max-bulk-len`.
pub const MAX_BULK: i64 = 512 * 1024 * 1024;

/// A fuzz input, split into its header and its payload.
pub struct Input<'a> {
    pub flags: u8,
    pub steps: &'a [u8],
    pub payload: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Input<'a> {
        let flags = data.first().copied().unwrap_or(0);
        let k = data.get(1).map_or(0, |&b| (b % 17) as usize);
        let head = (2 + k).min(data.len());
        Input {
            flags,
            steps: &data[2.min(data.len())..head],
            payload: &data[head..],
        }
    }

    /// The chunks of the payload: (length, tag), see `chunk_plan`.
    pub fn chunks(&self, default: usize) -> Vec<(usize, u8)> {
        chunk_plan(self.payload.len(), self.steps, default)
    }
}

/// Cuts `total` bytes into chunks, cycling through the step bytes (`step_len`, tag = bit 0);
/// chunks of `default` bytes (tag 0) when there are no step bytes. No chunk is empty.
pub fn chunk_plan(total: usize, steps: &[u8], default: usize) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < total {
        let (len, tag) = if steps.is_empty() {
            (default, 0)
        } else {
            let b = steps[i % steps.len()];
            i += 1;
            (step_len(b), b & 1)
        };
        let len = len.min(total - at).max(1);
        out.push((len, tag));
        at += len;
    }
    out
}

/// At most `MAX_CHUNKS` chunks, the rest in the last one. The decoder rescans a pending line
/// from its start on every read (see /work/notes/fuzz-notes.md: 64 KiB arriving a byte at a time
/// costs about 2 * 10^9 byte comparisons), which made inputs of tens of kilobytes cut into
/// 1-byte chunks take seconds each and the fuzzer crawl.
pub const MAX_CHUNKS: usize = 2048;

pub fn capped(mut chunks: Vec<usize>) -> Vec<usize> {
    if chunks.len() > MAX_CHUNKS {
        let rest: usize = chunks[MAX_CHUNKS - 1..].iter().sum();
        chunks.truncate(MAX_CHUNKS - 1);
        chunks.push(rest);
    }
    chunks
}

/// Just the lengths.
pub fn lengths(plan: Vec<(usize, u8)>) -> Vec<usize> {
    plan.into_iter().map(|c| c.0).collect()
}

/// A step byte's chunk length: bits 1..7 give 1..=126, with two large sizes (the server's 16 KiB
/// read size, and past `INLINE_MAX`) at the top. Bit 0 is a tag (the session, for `exec`).
pub fn step_len(b: u8) -> usize {
    match b >> 1 {
        127 => 70_000,
        126 => 16 * 1024,
        n => n as usize + 1,
    }
}

/// `flags` bits 1..2: the `proto-max-bulk-len` for `decode`.
pub fn limits_from(flags: u8) -> Limits {
    Limits {
        authenticated: flags & 1 == 0,
        max_bulk_len: match (flags >> 1) & 3 {
            0 => MAX_BULK,
            1 => 0,
            2 => 16,
            _ => 40_000,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Target `decode`: the request parser alone.

/// What decoding a byte stream gave.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub requests: Vec<Vec<Bytes>>,
    pub error: Option<ProtocolError>,
    /// Bytes the decoder took out of the buffer (input fed minus what is left in it).
    pub consumed: usize,
    pub in_progress: bool,
    pub pending: usize,
}

/// Feeds `payload` to a fresh decoder in chunks of the given lengths, decoding every complete
/// request after each chunk (as the connection does after each read), recycling argument
/// vectors as the connection does. Stops at the first error (the connection closes).
pub fn decode_chunks(payload: &[u8], limits: Limits, chunks: &[usize]) -> Outcome {
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut fed = 0;
    let mut error = None;
    'outer: for &len in chunks {
        buf.extend_from_slice(&payload[fed..fed + len]);
        fed += len;
        loop {
            let _ = d.bulk_remaining(&buf);
            match d.decode(&mut buf, limits) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "a decoded request is never empty");
                    requests.push(args.clone());
                    d.recycle(args);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(!d.in_progress(), "the decoder resets after an error");
                    error = Some(e);
                    break 'outer;
                }
            }
        }
    }
    Outcome {
        requests,
        error,
        consumed: fed - buf.len(),
        in_progress: d.in_progress(),
        pending: d.pending_bytes(),
    }
}

/// The size-limit errors, which depend on how much has arrived at once (as in Redis: a line
/// whose `\n` comes in the same read as its 64 KiB is accepted, one that waits is refused).
pub fn is_size_limit(e: &ProtocolError) -> bool {
    e.0.starts_with(b"too big")
}

/// Encodes requests as RESP multibulk arrays.
pub fn to_resp(requests: &[Vec<Bytes>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in requests {
        out.extend_from_slice(format!("*{}\r\n", r.len()).as_bytes());
        for a in r {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The `decode` target: no panic; in one piece or in chunks, the same requests, the same error
/// (bar size limits, see `is_size_limit`) and the same state left; what was decoded, encoded
/// again as multibulk, decodes back to the same requests in any chunking.
pub fn run_decode(data: &[u8]) {
    let input = Input::parse(data);
    let limits = limits_from(input.flags);
    let payload = input.payload;
    let whole = decode_chunks(payload, limits, &lengths(chunk_plan(payload.len(), &[], usize::MAX)));
    let cut = decode_chunks(payload, limits, &capped(lengths(input.chunks(usize::MAX))));
    check_same(&whole, &cut, payload);

    // Byte by byte too, for short inputs (every split point at once).
    if payload.len() <= 512 {
        let bytewise = decode_chunks(payload, limits, &lengths(chunk_plan(payload.len(), &[], 1)));
        check_same(&whole, &bytewise, payload);
    }

    // Round trip through the multibulk encoding (limits that admit any decoded argument),
    // in one piece and cut by the same steps.
    let again = to_resp(&whole.requests);
    let open = Limits {
        authenticated: true,
        max_bulk_len: MAX_BULK,
    };
    for plan in [
        chunk_plan(again.len(), &[], usize::MAX),
        chunk_plan(again.len(), input.steps, usize::MAX),
    ] {
        let rt = decode_chunks(&again, open, &capped(lengths(plan)));
        assert_eq!(rt.error, None, "re-encoded requests decode without error");
        assert_eq!(rt.requests, whole.requests, "re-encoded requests decode to themselves");
        assert_eq!(rt.consumed, again.len());
        assert!(!rt.in_progress);
    }
}

fn check_same(whole: &Outcome, cut: &Outcome, payload: &[u8]) {
    let show = || String::from_utf8_lossy(&payload[..payload.len().min(200)]).into_owned();
    if let Some(e) = &cut.error {
        if is_size_limit(e) {
            // Refused earlier because less had arrived: what came before must agree.
            assert!(
                whole.requests.starts_with(&cut.requests),
                "chunked decoding refused a size limit after requests the whole input did not give: {:?}",
                show()
            );
            return;
        }
    }
    assert_eq!(
        cut.requests,
        whole.requests,
        "requests differ by chunking; input {:?}",
        show()
    );
    assert_eq!(cut.error, whole.error, "errors differ by chunking; input {:?}", show());
    if whole.error.is_none() {
        assert_eq!(
            cut.consumed,
            whole.consumed,
            "bytes consumed differ by chunking; input {:?}",
            show()
        );
        assert_eq!(
            cut.in_progress,
            whole.in_progress,
            "state differs by chunking; input {:?}",
            show()
        );
        assert_eq!(
            cut.pending,
            whole.pending,
            "pending bytes differ by chunking; input {:?}",
            show()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Target `exec`: parse, then execute against an in-process store, two clients interleaved.

/// The shared state a real server would have, on the data folder `dir` (no log: `appendonly
/// no`, and the durability threads are not started). Files a previous run left are removed.
pub fn new_shared(dir: &Path, requirepass: bool) -> Shared {
    let _ = std::fs::remove_file(edgekv::persist::registry::path_in(dir));
    let _ = std::fs::remove_dir_all(dir.join(edgekv::persist::log::DIR_NAME));
    let config = Config::new();
    let dir_s = dir.to_str().expect("utf-8 temp dir");
    config.set("dir", dir_s, false).unwrap();
    config.set("appendonly", "no", false).unwrap();
    // Few namespace slots: cheap to build per input, and the limit is reachable.
    config.set("kv-max-namespaces", "4", false).unwrap();
    if requirepass {
        config.set("requirepass", "pw", false).unwrap();
    }
    Shared::new(config, None).expect("shared state")
}

struct Client {
    session: Session,
    decoder: Decoder,
    rbuf: BytesMut,
    open: bool,
}

/// `HARNESS_TRACE=1`: print each request and its reply (for reading a crash input).
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("HARNESS_TRACE").is_some())
}

/// Redis's security check: `POST` or `Host:` as a command name closes the connection.
fn is_http_probe(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// Requests the harness does not run, each for a stated reason. `CONFIG SET appendonly yes`
/// would start the log (files and threads outliving the input).
fn skipped(argv: &[Bytes]) -> bool {
    argv[0].eq_ignore_ascii_case(b"config") && argv.iter().any(|a| a.eq_ignore_ascii_case(b"appendonly"))
}

/// The `exec` target: requests decoded as a connection does, dispatched to the command layer,
/// replies encoded in the session's protocol. Checks: no panic, no deadlock, and every reply is
/// exactly one well-formed RESP frame in that protocol.
pub fn run_exec(data: &[u8], dir: &Path) {
    let input = Input::parse(data);
    let shared = new_shared(dir, input.flags & 1 != 0);
    let mut clients: Vec<Client> = (0..2)
        .map(|i| {
            let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
            let addr = format!("127.0.0.1:{}", 40000 + i).parse().unwrap();
            let laddr = "127.0.0.1:6379".parse().unwrap();
            // fd -1: CLIENT KILL's shutdown(2) of it fails harmlessly.
            let handle = Arc::new(ClientHandle::new(id, addr, laddr, -1));
            shared.clients.lock().insert(id, handle.clone());
            let gen = shared.acl.generation.load(std::sync::atomic::Ordering::Acquire);
            let mut session = Session::new(handle, shared.acl.default_user(), gen);
            session.authenticated = !shared.auth_required();
            Client {
                session,
                decoder: Decoder::new(),
                rbuf: BytesMut::new(),
                open: true,
            }
        })
        .collect();
    let mut wbuf = BytesMut::new();
    let mut at = 0;
    for (len, tag) in input.chunks(1) {
        let chunk = &input.payload[at..at + len];
        at += len;
        if shared.shutting_down.load(Ordering::Relaxed) {
            break;
        }
        let c = &mut clients[tag as usize];
        if !c.open {
            continue;
        }
        if c.session.handle.killed.load(Ordering::Relaxed) {
            // CLIENT KILL shut its socket down: the connection ends at its next read.
            close(&shared, c);
            continue;
        }
        c.rbuf.extend_from_slice(chunk);
        if !serve(&shared, c, &mut wbuf) {
            close(&shared, c);
        }
    }
    for c in &mut clients {
        if c.open {
            close(&shared, c);
        }
    }
    assert!(shared.clients.lock().is_empty(), "every client left the registry");
}

/// Empties every created slot. `run_exec` called it before dropping the store until
/// `store::shard::Shard` had a `Drop` (2c51c41: each dropped store leaked its records, which
/// LeakSanitizer reported on every input); now only the control of the regression test
/// `dropping_a_store_frees_its_records` uses it.
pub fn teardown(shared: &Shared) {
    let _g = shared.store.gate.write();
    let now = edgekv::store::now_ms();
    for i in 0..shared.store.slots() {
        if shared.store.is_created(i) {
            shared.store.db(i, now).clear();
        }
    }
}

fn close(shared: &Shared, c: &mut Client) {
    c.open = false;
    c.session.handle.socket_closing();
    command::end_session(shared, &mut c.session);
    shared.clients.lock().remove(&c.session.handle.id);
}

/// Decodes and runs what `c.rbuf` holds, as `server::connection::serve` does for one read.
/// False when the connection would close.
fn serve(shared: &Shared, c: &mut Client, wbuf: &mut BytesMut) -> bool {
    loop {
        let limits = Limits {
            max_bulk_len: shared.config.proto_max_bulk_len.load(Ordering::Relaxed),
            authenticated: c.session.authenticated || !shared.auth_required(),
        };
        let argv = match c.decoder.decode(&mut c.rbuf, limits) {
            Ok(Some(argv)) => argv,
            Ok(None) => return true,
            Err(e) => {
                let mut text = b"ERR Protocol error: ".to_vec();
                text.extend_from_slice(&e.0);
                wbuf.clear();
                edgekv::protocol::encode::put_error(wbuf, &text);
                check_frame(wbuf, c.session.proto, &[]);
                return false;
            }
        };
        if is_http_probe(&argv[0]) {
            return false;
        }
        if skipped(&argv) {
            c.decoder.recycle(argv);
            continue;
        }
        if c.session.reply_mode == ReplyMode::SkipNext {
            c.session.reply_mode = ReplyMode::Skipping;
        }
        let now = edgekv::store::now_ms();
        let reply = command::dispatch(shared, &mut c.session, &argv, now);
        if c.session.reply_mode == ReplyMode::Skipping {
            c.session.reply_mode = ReplyMode::On;
        }
        wbuf.clear();
        encode(wbuf, &reply, c.session.proto);
        if trace() {
            eprintln!(
                "[{}] {:?} -> {:?}",
                c.session.handle.id,
                show_argv(&argv),
                String::from_utf8_lossy(&wbuf[..wbuf.len().min(200)])
            );
        }
        if !matches!(reply, Reply::None) {
            check_frame(wbuf, c.session.proto, &argv);
        }
        c.decoder.recycle(argv);
        let h = &c.session.handle;
        if c.session.close || h.killed.load(Ordering::Relaxed) || shared.shutting_down.load(Ordering::Relaxed) {
            return false;
        }
    }
}

#[track_caller]
fn check_frame(bytes: &[u8], proto: Protocol, argv: &[Bytes]) {
    match frame(bytes, 0, proto, 0) {
        Ok(n) if n == bytes.len() => {}
        Ok(n) => panic!(
            "reply to {:?} is one frame of {n} bytes followed by {} more: {:?}",
            show_argv(argv),
            bytes.len() - n,
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ),
        Err(why) => panic!(
            "reply to {:?} is not a well-formed {:?} frame ({why}): {:?}",
            show_argv(argv),
            proto,
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ),
    }
}

fn show_argv(argv: &[Bytes]) -> Vec<String> {
    argv.iter()
        .take(8)
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(64)]).into_owned())
        .collect()
}

/// A strict RESP2/RESP3 frame reader, independent of the encoder: the length of the frame at
/// `at`, which must be complete.
pub fn frame(b: &[u8], at: usize, proto: Protocol, depth: usize) -> Result<usize, String> {
    if depth > 64 {
        return Err("nested deeper than 64".into());
    }
    let Some(&kind) = b.get(at) else {
        return Err("truncated: no type byte".into());
    };
    let rest = &b[at + 1..];
    let Some(le) = rest.windows(2).position(|w| w == b"\r\n") else {
        return Err(format!("no CRLF after type {:?}", kind as char));
    };
    let line = &rest[..le];
    let after = at + 1 + le + 2;
    if line.contains(&b'\r') || line.contains(&b'\n') {
        return Err("CR or LF inside a line".into());
    }
    let int = || -> Result<i64, String> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            // Canonical: no '+', no leading zero.
            .filter(|_| !(line.starts_with(b"+") || line.len() > 1 && line.starts_with(b"0")))
            .ok_or_else(|| format!("bad integer {:?}", String::from_utf8_lossy(line)))
    };
    let resp3 = proto == Protocol::Resp3;
    match kind {
        b'+' => Ok(after),
        b'-' => {
            if line.is_empty() {
                return Err("empty error line".into());
            }
            Ok(after)
        }
        b':' => int().map(|_| after),
        b'$' | b'=' => {
            let n = int()?;
            if n == -1 && kind == b'$' && !resp3 {
                return Ok(after);
            }
            if n < 0 {
                return Err(format!("negative length {n}"));
            }
            let end = after + n as usize;
            if b.len() < end + 2 {
                return Err("truncated bulk".into());
            }
            if &b[end..end + 2] != b"\r\n" {
                return Err("bulk not followed by CRLF".into());
            }
            if kind == b'=' {
                if !resp3 {
                    return Err("verbatim string in RESP2".into());
                }
                if n < 4 || b[after + 3] != b':' {
                    return Err("verbatim without a 3-letter format".into());
                }
            }
            Ok(end + 2)
        }
        b'*' | b'~' | b'%' => {
            if kind != b'*' && !resp3 {
                return Err(format!("{:?} in RESP2", kind as char));
            }
            let n = int()?;
            if n == -1 && kind == b'*' && !resp3 {
                return Ok(after);
            }
            if n < 0 {
                return Err(format!("negative count {n}"));
            }
            let items = if kind == b'%' { n * 2 } else { n };
            let mut pos = after;
            for _ in 0..items {
                pos = frame(b, pos, proto, depth + 1)?;
            }
            Ok(pos)
        }
        b'_' if resp3 => {
            if !line.is_empty() {
                return Err("null with a payload".into());
            }
            Ok(after)
        }
        b'#' if resp3 => {
            if line != b"t" && line != b"f" {
                return Err("bad boolean".into());
            }
            Ok(after)
        }
        b',' if resp3 => {
            let s = std::str::from_utf8(line).map_err(|_| "non-UTF-8 double")?;
            if !matches!(s, "inf" | "-inf" | "nan") && s.parse::<f64>().is_err() {
                return Err(format!("bad double {s:?}"));
            }
            Ok(after)
        }
        other => Err(format!("unexpected type byte {:?} in {:?}", other as char, proto)),
    }
}
