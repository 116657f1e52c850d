//! The request decoder: RESP multibulk requests and inline commands, resumable across reads.
//!
//! Hand-written (design.md): requests are only arrays of bulk strings or inline lines, so a
//! small state machine enforces Redis's limits before any memory is reserved, never recurses
//! (a nested array is refused at its first byte), and never re-parses the bytes of a partial
//! request it has already consumed.
//!
//! It follows Redis 7.0's networking.c to the byte: the same order of checks, the same error
//! texts, `strchr` semantics (a NUL byte hides a line end), the CRLF after a bulk skipped
//! unchecked. Memory: a declared length reserves nothing here (the connection grows its
//! buffer as a big bulk's bytes arrive, see `Decoder::bulk_remaining`); arguments are views
//! into the read buffer (no copy), and a big argument takes the buffer it arrived in with it,
//! the decoding going on in a fresh one, so a big allocation never outlives its argument.
//!
//! It owns framing only. It never interprets a command.

use crate::num::parse_i64;
use bytes::{Buf, Bytes, BytesMut};

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline line or count line.
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis's `PROTO_MBULK_BIG_ARG`: from this length on, a bulk's bytes are read straight into a
/// buffer sized for it (see `Decoder::bulk_remaining`).
pub const BIG_ARG: usize = 32 * 1024;
/// The capacity of the buffer that replaces one handed over to a big argument.
const FRESH_BUFFER: usize = 16 * 1024;
/// What one argument costs beyond its bytes, for `Decoder::pending_bytes`.
const ARG_OVERHEAD: usize = std::mem::size_of::<Bytes>();

/// Limits applied while decoding; `authenticated: false` applies Redis's tighter limits for
/// clients that have not authenticated yet (CVE-2021-32675).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

/// A framing error: the bytes after `ERR Protocol error: ` (not always UTF-8: `expected '$',
/// got '<byte>'` shows the raw byte, as Redis's `%c` does). The connection replies, then closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub Vec<u8>);

impl ProtocolError {
    fn new(s: &str) -> Self {
        ProtocolError(s.as_bytes().to_vec())
    }

    /// The detail as text (a non-UTF-8 byte shows as U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// Decoder state kept between reads for one connection.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bulk strings still expected in the multibulk request being read (0: none under way).
    remaining: usize,
    /// Length of the bulk whose header has been read but whose data has not fully arrived.
    bulk_len: Option<usize>,
    /// The arguments of the request being decoded; handed out when complete.
    args: Vec<Bytes>,
    /// Memory held by `args` (bytes plus a per-argument overhead).
    args_bytes: usize,
    /// True while a multibulk request is under way (as opposed to an inline one).
    in_multibulk: bool,
    /// Argument vectors handed back by the connection, reused so that a request costs no
    /// allocation for its argument list.
    spare: Vec<Vec<Bytes>>,
    /// How many bytes at the front of the buffer are known to hold no end of the line being
    /// waited for: a line arriving in many reads is searched once, not from its start on
    /// every read (that was quadratic: found by fuzzing). Reset whenever the front moves.
    scanned: usize,
}

impl Decoder {
    /// Finds `needle` as C's `strchr` would in Redis's NUL-terminated query buffer (a NUL byte
    /// ends the search), from where the last search of this line stopped.
    fn find_line(&mut self, buf: &[u8], needle: u8) -> Option<usize> {
        let start = self.scanned.min(buf.len());
        match buf[start..].iter().position(|&b| b == needle || b == 0) {
            Some(i) => {
                // Found the needle or a NUL (which ends the search, as strchr does): searching
                // again finds the same byte at once.
                self.scanned = start + i;
                (buf[start + i] == needle).then_some(start + i)
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes back a request's argument vector once the request is done with it.
    #[inline]
    pub fn recycle(&mut self, mut args: Vec<Bytes>) {
        // Small vectors only: one huge MSET must not pin its vector for the connection's life.
        if self.spare.len() < 64 && args.capacity() <= 64 {
            args.clear();
            self.spare.push(args);
        }
    }

    /// True when part of a multibulk request has been consumed and more bytes are needed.
    pub fn in_progress(&self) -> bool {
        self.in_multibulk
    }

    /// Memory held by the arguments of the request under way, which are no longer in the
    /// read buffer: the connection adds it to the buffer's length for the query buffer limit,
    /// so a request of many arguments cannot grow without bound.
    pub fn pending_bytes(&self) -> usize {
        self.args_bytes
    }

    /// When a big bulk (at least `BIG_ARG` bytes) has been announced and its data is still
    /// arriving: how many more bytes it needs (data plus CRLF) beyond what `buf` holds. The
    /// connection reads up to that much at once and grows its buffer toward it step by step,
    /// never reserving the declared size on the strength of the header alone.
    pub fn bulk_remaining(&self, buf: &BytesMut) -> usize {
        match self.bulk_len {
            Some(len) if len >= BIG_ARG => (len + 2).saturating_sub(buf.len()),
            _ => 0,
        }
    }

    fn reset(&mut self) {
        self.remaining = 0;
        self.bulk_len = None;
        self.args_bytes = 0;
        self.in_multibulk = false;
    }

    /// Decodes at most one request from `buf`, consuming its bytes. `Ok(Some(args))` hands out
    /// a complete request (never empty); `Ok(None)` needs more bytes. After an error the
    /// connection must close: the decoder's state is reset but the stream is out of sync.
    pub fn decode(&mut self, buf: &mut BytesMut, limits: Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let r = self.decode_inner(buf, limits);
        if !matches!(r, Ok(None)) {
            self.scanned = 0;
        }
        if r.is_err() {
            self.reset();
            self.args = Vec::new();
        }
        r
    }

    fn decode_inner(&mut self, buf: &mut BytesMut, limits: Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if !self.in_multibulk {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match self.decode_inline(buf)? {
                        InlineOutcome::Request(args) => return Ok(Some(args)),
                        InlineOutcome::Empty => continue,
                        InlineOutcome::Incomplete => return Ok(None),
                    }
                }
                // Multibulk count line. Like Redis: find the `\r` (a NUL stops the search), and
                // wait until at least one byte follows it; that byte is assumed to be `\n`.
                let Some(cr) = self.find_line(buf, b'\r') else {
                    if buf.len() > INLINE_MAX {
                        return Err(ProtocolError::new("too big mbulk count string"));
                    }
                    return Ok(None);
                };
                if cr + 1 >= buf.len() {
                    return Ok(None);
                }
                let n = match parse_i64(&buf[1..cr]) {
                    Some(n) if n <= i32::MAX as i64 => n,
                    _ => return Err(ProtocolError::new("invalid multibulk length")),
                };
                if !limits.authenticated && n > 10 {
                    return Err(ProtocolError::new("unauthenticated multibulk length"));
                }
                buf.advance(cr + 2);
                self.scanned = 0;
                if n <= 0 {
                    continue; // `*0` and `*-1` are empty requests, ignored as in Redis
                }
                self.remaining = n as usize;
                // The count is only a claim: never reserve more than a small bounded amount
                // for it; the vector grows as arguments actually arrive.
                self.args = match self.spare.pop() {
                    Some(v) => v,
                    None => Vec::with_capacity((n as usize).min(1024)),
                };
                self.args_bytes = 0;
                self.in_multibulk = true;
            }
            // Bulk strings of the multibulk request.
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        // Same order of checks as Redis: the `\r`, then one more byte, and only
                        // then the `$` (so `*1\r\nfoo\r` still waits for its `\n`).
                        let Some(cr) = self.find_line(buf, b'\r') else {
                            if buf.len() > INLINE_MAX {
                                return Err(ProtocolError::new("too big bulk count string"));
                            }
                            return Ok(None);
                        };
                        if cr + 1 >= buf.len() {
                            return Ok(None);
                        }
                        if buf[0] != b'$' {
                            // A nested array (`*`) lands here too: refused, never recursed into.
                            let mut e = b"expected '$', got '".to_vec();
                            e.push(buf[0]);
                            e.push(b'\'');
                            return Err(ProtocolError(e));
                        }
                        // Checked before anything is reserved for it.
                        let len = match parse_i64(&buf[1..cr]) {
                            Some(l) if l >= 0 && l <= limits.max_bulk_len => l as usize,
                            _ => return Err(ProtocolError::new("invalid bulk length")),
                        };
                        if !limits.authenticated && len > 16384 {
                            return Err(ProtocolError::new("unauthenticated bulk length"));
                        }
                        buf.advance(cr + 2);
                        self.scanned = 0;
                        self.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < len + 2 {
                    return Ok(None);
                }
                let arg = buf.split_to(len).freeze();
                self.scanned = 0;
                buf.advance(2); // Redis does not check the CRLF after a bulk either
                self.scanned = 0;
                if len >= BIG_ARG {
                    // The buffer was grown for this bulk: leave its allocation to the
                    // argument alone, and carry on in a fresh buffer with what followed, so a
                    // big allocation never outlives the argument (as Redis hands its query
                    // buffer over to a big argument).
                    let mut rest = BytesMut::with_capacity(buf.len().max(FRESH_BUFFER));
                    rest.extend_from_slice(buf);
                    *buf = rest;
                }
                self.args_bytes += len + ARG_OVERHEAD;
                self.args.push(arg);
                self.bulk_len = None;
                self.remaining -= 1;
            }
            self.reset();
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    fn decode_inline(&mut self, buf: &mut BytesMut) -> Result<InlineOutcome, ProtocolError> {
        // `strchr` for the `\n`: a NUL byte before it hides it, so such a line waits until the
        // too-big limit (Redis: `\x00ping\r\n` gets no reply).
        let Some(nl) = self.find_line(buf, b'\n') else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(InlineOutcome::Incomplete);
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
        let line = buf.split_to(nl + 1);
        self.scanned = 0;
        let args = split_args(&line[..line_end]).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        if args.is_empty() {
            return Ok(InlineOutcome::Empty);
        }
        Ok(InlineOutcome::Request(args))
    }
}

enum InlineOutcome {
    Request(Vec<Bytes>),
    Empty,
    Incomplete,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline line into arguments with Redis's `sdssplitargs` rules: double quotes with
/// `\n \r \t \b \a \xHH` escapes, single quotes with `\'`, a closing quote must be followed by
/// a space or the end. `None` means unbalanced quotes. A NUL byte ends the line, as in C.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(z) => &line[..z],
        None => line,
    };
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' && hex_val(at(p + 2)).is_some() && hex_val(at(p + 3)).is_some() {
                    cur.push(hex_val(at(p + 2)).unwrap() * 16 + hex_val(at(p + 3)).unwrap());
                    p += 3;
                } else if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if p + 1 < line.len() && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if p >= line.len() {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if p >= line.len() {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if p >= line.len() {
                done = true;
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            if p < line.len() {
                p += 1;
            }
        }
        args.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_bulk_len: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        while let Some(r) = d.decode(&mut buf, L)? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let r = all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n\r\nSET a \"b c\"\r\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], vec![Bytes::from("GET"), Bytes::from("a")]);
        assert_eq!(r[1], vec![Bytes::from("PING")]);
        assert_eq!(r[2], vec![Bytes::from("SET"), Bytes::from("a"), Bytes::from("b c")]);
    }

    #[test]
    fn split_every_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        for cut in 0..input.len() {
            let mut d = Decoder::new();
            let mut buf = BytesMut::from(&input[..cut]);
            assert_eq!(d.decode(&mut buf, L).unwrap(), None, "cut {cut}");
            buf.extend_from_slice(&input[cut..]);
            let r = d.decode(&mut buf, L).unwrap().unwrap();
            assert_eq!(r[2], Bytes::from("hello"));
        }
    }

    #[test]
    fn errors() {
        assert_eq!(all(b"*3000000000\r\n").unwrap_err().text(), "invalid multibulk length");
        assert_eq!(all(b"*1\r\n$-10\r\n").unwrap_err().text(), "invalid bulk length");
        assert_eq!(all(b"*1\r\n$blabla\r\n").unwrap_err().text(), "invalid bulk length");
        assert_eq!(all(b"*1\r\n$2000000000\r\n").unwrap_err().text(), "invalid bulk length");
        assert_eq!(all(b"*1\r\nfoo\r\n").unwrap_err().text(), "expected '$', got 'f'");
        assert_eq!(
            all(b"SET a \"b\r\n").unwrap_err().text(),
            "unbalanced quotes in request"
        );
        assert!(all(b"*-10\r\n").unwrap().is_empty());
        assert_eq!(
            all(&vec![b'a'; INLINE_MAX + 1]).unwrap_err().text(),
            "too big inline request"
        );
    }

    #[test]
    fn checks_in_redis_order() {
        // The `\n` after the `\r` is awaited before the `$` is checked.
        assert!(all(b"*1\r\nfoo\r").unwrap().is_empty());
        assert_eq!(
            all(b"*1\r\n\xff\r\n").unwrap_err().0,
            b"expected '$', got '\xff'".to_vec()
        );
        assert_eq!(
            all(b"*1\r\n*1\r\n$4\r\nPING\r\n").unwrap_err().text(),
            "expected '$', got '*'"
        );
        // A NUL hides the line end, as strchr does.
        assert!(all(b"\x00ping\r\n").unwrap().is_empty());
        assert!(all(b"*1\x00\r\n").unwrap().is_empty());
        assert_eq!(all(b"*-1\r\n*0\r\n\r\n").unwrap().len(), 0);
        assert_eq!(all(b"*1\r\n$4\r\nPINGxx").unwrap(), vec![vec![Bytes::from("PING")]]);
    }

    #[test]
    fn big_bulk_accounting() {
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(&b"*3\r\n$1\r\na\r\n$40000\r\nxyz"[..]);
        assert_eq!(d.decode(&mut buf, L).unwrap(), None);
        assert_eq!(d.pending_bytes(), 1 + ARG_OVERHEAD);
        assert_eq!(d.bulk_remaining(&buf), 40002 - 3);
        assert!(d.in_progress());
        // A declared size alone reserves nothing.
        assert!(buf.capacity() < 1024);
        buf.extend_from_slice(&vec![b'x'; 40000 - 3]);
        buf.extend_from_slice(b"\r\n$1\r\nb\r\n");
        let r = d.decode(&mut buf, L).unwrap().unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].len(), 40000);
        assert_eq!(d.pending_bytes(), 0);
        assert!(!d.in_progress());
    }

    #[test]
    fn big_arguments_take_their_buffer_along() {
        let inside = |p: *const u8, base: usize, cap: usize| (base..base + cap).contains(&(p as usize));
        let mut d = Decoder::new();
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let (base, cap) = (buf.as_ptr() as usize, buf.capacity());
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");
        let args = d.decode(&mut buf, L).unwrap().unwrap();
        assert_eq!(args, vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("hello")]);
        // Small arguments are views into the read buffer: no copy.
        assert!(args.iter().all(|a| inside(a.as_ptr(), base, cap)));
        // A big argument keeps the buffer it arrived in; what follows moves to a fresh one.
        let mut buf = BytesMut::with_capacity(40_100);
        let (base, cap) = (buf.as_ptr() as usize, buf.capacity());
        buf.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$40000\r\n");
        buf.extend_from_slice(&[b'x'; 40_000]);
        buf.extend_from_slice(b"\r\nPING\r\n");
        let args = d.decode(&mut buf, L).unwrap().unwrap();
        assert!(inside(args[0].as_ptr(), base, cap) && inside(args[1].as_ptr(), base, cap));
        assert!(!inside(buf.as_ptr(), base, cap));
        assert_eq!(&buf[..], b"PING\r\n");
    }

    #[test]
    fn quoting() {
        let a = split_args(b"set \"\\x41\\n\" 'it\\'s'").unwrap();
        assert_eq!(a, vec![Bytes::from("set"), Bytes::from("A\n"), Bytes::from("it's")]);
        assert!(split_args(b"\"a\"b").is_none());
        assert!(split_args(b"'a").is_none());
        assert_eq!(split_args(b"  ").unwrap().len(), 0);
    }
}
