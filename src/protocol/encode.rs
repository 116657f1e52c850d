//! Encodes `Reply` values as RESP2 or RESP3 bytes into a connection's reusable output buffer.
//!
//! Never writes CR or LF from user data into a simple string or an error line: those are
//! replaced by spaces, as Redis does in `addReplyErrorLength`.

use super::reply::Reply;
use bytes::{BufMut, BytesMut};

/// The protocol a connection speaks; `HELLO 3` switches it to `Resp3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

#[inline]
fn put_int_line(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.put_u8(prefix);
    out.extend_from_slice(buf.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[inline]
fn put_len_line(out: &mut BytesMut, prefix: u8, n: usize) {
    let mut buf = itoa::Buffer::new();
    out.put_u8(prefix);
    out.extend_from_slice(buf.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Writes a line of text, replacing CR and LF so the frame cannot be broken by content.
fn put_line_text(out: &mut BytesMut, text: &[u8]) {
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    } else {
        out.extend_from_slice(text);
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes an error line (`text` without the leading `-`) as Redis's `addReplyErrorFormat`
/// does: CR and LF at the end are trimmed, those inside become spaces.
pub fn put_error(out: &mut BytesMut, text: &[u8]) {
    let end = text
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    out.put_u8(b'-');
    put_line_text(out, &text[..end]);
}

/// Writes a bulk string: `$len\r\ndata\r\n`.
#[inline]
pub fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    put_len_line(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Formats a double as Redis 7.0's `addReplyDouble` does, with C's `%.17g` (so 0.1 is
/// `0.10000000000000001` and 1e20 is `1e+20`), and infinities as `inf`/`-inf`.
/// (INCRBYFLOAT formats its long double result itself and does not come here.)
pub fn format_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.is_nan() {
        return "nan".into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    const P: i32 = 17;
    // 17 significant digits, correctly rounded like glibc: d.dddddddddddddddde<exp>.
    let sci = format!("{:.*e}", (P - 1) as usize, v);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(26);
    if neg {
        out.push('-');
    }
    if !(-4..P).contains(&exp) {
        // Exponent form: trailing zeros of the fraction removed, at least two exponent digits.
        let frac = digits[1..].trim_end_matches('0');
        out.push_str(&digits[..1]);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.push_str(&digits[..int_len]);
        let frac = digits[int_len..].trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Appends the encoding of `reply` for `proto` to `out`.
/// `*n`: an array of `n` items follows.
#[inline]
pub fn put_array_header(out: &mut BytesMut, n: usize) {
    put_len_line(out, b'*', n);
}

/// A map of `pairs` entries follows: `%n` in RESP3, a flat array `*2n` in RESP2.
#[inline]
pub fn put_map_header(out: &mut BytesMut, pairs: usize, proto: Protocol) {
    match proto {
        Protocol::Resp2 => put_len_line(out, b'*', pairs * 2),
        Protocol::Resp3 => put_len_line(out, b'%', pairs),
    }
}

/// `:n`
#[inline]
pub fn put_int(out: &mut BytesMut, n: i64) {
    put_int_line(out, b':', n);
}

pub fn encode(out: &mut BytesMut, reply: &Reply, proto: Protocol) {
    match reply {
        Reply::Encoded(bytes) => out.extend_from_slice(bytes),
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Queued => out.extend_from_slice(b"+QUEUED\r\n"),
        Reply::Status(s) => {
            out.put_u8(b'+');
            put_line_text(out, s.as_bytes());
        }
        Reply::Error(e) => put_error(out, e),
        Reply::Kv(e) => put_error(out, e.line().as_bytes()),
        Reply::Int(n) => put_int_line(out, b':', *n),
        Reply::Bulk(b) => put_bulk(out, b),
        Reply::Nil => match proto {
            Protocol::Resp2 => out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
        },
        Reply::NilArray => match proto {
            Protocol::Resp2 => out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
        },
        Reply::Array(items) => {
            put_len_line(out, b'*', items.len());
            for item in items {
                encode(out, item, proto);
            }
        }
        Reply::Set(items) => {
            let prefix = if proto == Protocol::Resp3 { b'~' } else { b'*' };
            put_len_line(out, prefix, items.len());
            for item in items {
                encode(out, item, proto);
            }
        }
        Reply::Map(pairs) => {
            match proto {
                Protocol::Resp2 => put_len_line(out, b'*', pairs.len() * 2),
                Protocol::Resp3 => put_len_line(out, b'%', pairs.len()),
            }
            for (k, v) in pairs {
                encode(out, k, proto);
                encode(out, v, proto);
            }
        }
        Reply::Double(v) => {
            let text = format_double(*v);
            match proto {
                Protocol::Resp2 => put_bulk(out, text.as_bytes()),
                Protocol::Resp3 => {
                    out.put_u8(b',');
                    out.extend_from_slice(text.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        Reply::Bool(b) => match proto {
            Protocol::Resp2 => put_int_line(out, b':', *b as i64),
            Protocol::Resp3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        },
        Reply::Verbatim(text) => match proto {
            Protocol::Resp2 => put_bulk(out, text),
            Protocol::Resp3 => {
                put_len_line(out, b'=', text.len() + 4);
                out.extend_from_slice(b"txt:");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
        },
        Reply::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn enc(r: Reply, p: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(&mut out, &r, p);
        out.to_vec()
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        assert_eq!(enc(Reply::Nil, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(enc(Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(
            enc(Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]), Protocol::Resp2),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            enc(Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]), Protocol::Resp3),
            b"%1\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp3), b",1.5\r\n");
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(Reply::Bulk(Bytes::new()), Protocol::Resp2), b"$0\r\n\r\n");
        assert_eq!(enc(Reply::error("ERR a\r\nb"), Protocol::Resp2), b"-ERR a  b\r\n");
    }

    #[test]
    fn doubles_format_like_redis() {
        // Checked against redis-server 7.0.15 (ZSCORE under HELLO 3) and glibc's %.17g.
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1.25), "1.25");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(17179869185.5), "17179869185.5");
        assert_eq!(format_double(10.6), "10.6");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_double(123456789.123), "123456789.123");
        assert_eq!(format_double(1e16), "10000000000000000");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(-2.5e-300), "-2.5e-300");
        assert_eq!(format_double(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(-0.5), "-0.5");
        assert_eq!(format_double(0.0), "0");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(enc(Reply::Double(0.1), Protocol::Resp3), b",0.10000000000000001\r\n");
        assert_eq!(enc(Reply::Double(f64::INFINITY), Protocol::Resp2), b"$3\r\ninf\r\n");
    }

    #[test]
    fn error_lines_are_sanitized_like_redis() {
        assert_eq!(enc(Reply::error("ERR x\r\n"), Protocol::Resp2), b"-ERR x\r\n");
        assert_eq!(enc(Reply::error("ERR a\nb\r\n\n"), Protocol::Resp3), b"-ERR a b\r\n");
        assert_eq!(enc(Reply::Status("a\rb".into()), Protocol::Resp2), b"+a b\r\n");
    }
}
