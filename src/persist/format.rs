//! The log's on-disk format, version 1. Every log file (base and incremental) has the same
//! shape; all integers are little-endian.
//!
//! ```text
//! file    := header record*
//! header  := magic "EDGEKVLG" (8 bytes) | version u32 (= 1)
//! record  := len u32 (payload bytes) | crc u32 (CRC32C of the payload) | payload
//! payload := op u8 | fields (below)
//!
//! PUT        1 | db u32 | flags u8 (1: deadline, 2: metadata) | [deadline i64 unix ms]
//!              | klen u32 | key | vlen u32 | value | [mlen u32 | metadata]
//! DEL        2 | db u32 | klen u32 | key
//! APPEND     3 | db u32 | klen u32 | key | new_len u64 | elen u32 | extra
//! DEADLINE   4 | db u32 | klen u32 | key | flags u8 (1: deadline) | [deadline i64]
//! CLEAR      5 | db u32
//! SWAP       6 | a u32 | b u32
//! NS_PUT     7 | index u32 | idlen u32 | id | tlen u32 | title     (create or rename)
//! NS_DEL     8 | index u32
//! ```
//!
//! Every operation describes a state, not a step, so replaying an operation twice, or an old
//! operation over a newer state, converges to the same result once the rest of the log is
//! replayed (compaction relies on it: it dumps the live data shard by shard while new writes
//! already go to the next incremental file, and replays all of that file over the dump). PUT,
//! DEL, DEADLINE, CLEAR and the registry records set a state outright. APPEND carries the
//! length the value has after it and applies only to a value that is exactly that much
//! shorter, so an append the dump already holds is not applied again. SWAP is the one
//! operation that is not idempotent; a SWAPDB during a compaction makes the compaction start
//! over (persist/log.rs).

/// File magic.
pub const MAGIC: &[u8; 8] = b"EDGEKVLG";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 12;
/// Record framing: length and checksum.
pub const FRAME_LEN: usize = 8;
/// The largest payload a reader accepts: a 512 MiB value with a key and metadata. A length
/// beyond it is corruption, and is never used to reserve memory.
pub const MAX_PAYLOAD: usize = 512 * 1024 * 1024 + 64 * 1024;

const OP_PUT: u8 = 1;
const OP_DEL: u8 = 2;
const OP_APPEND: u8 = 3;
const OP_DEADLINE: u8 = 4;
const OP_CLEAR: u8 = 5;
const OP_SWAP: u8 = 6;
const OP_NS_PUT: u8 = 7;
const OP_NS_DEL: u8 = 8;

/// One logged operation, borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'a> {
    Put {
        db: u32,
        key: &'a [u8],
        value: &'a [u8],
        deadline: Option<i64>,
        meta: Option<&'a [u8]>,
    },
    Del {
        db: u32,
        key: &'a [u8],
    },
    Append {
        db: u32,
        key: &'a [u8],
        new_len: u64,
        extra: &'a [u8],
    },
    Deadline {
        db: u32,
        key: &'a [u8],
        deadline: Option<i64>,
    },
    Clear {
        db: u32,
    },
    Swap {
        a: u32,
        b: u32,
    },
    NsPut {
        index: u32,
        id: &'a [u8],
        title: &'a [u8],
    },
    NsDel {
        index: u32,
    },
}

pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Checks a file header; the error says what is wrong.
pub fn check_header(h: &[u8]) -> Result<(), String> {
    if h.len() < HEADER_LEN || &h[..8] != MAGIC {
        return Err("not an edgekv log (bad magic)".into());
    }
    let v = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    if v != VERSION {
        return Err(format!("log format version {v}, this edgekv reads version {VERSION}"));
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

/// Appends one framed record holding `op` to `out`.
pub fn encode(out: &mut Vec<u8>, op: &Op) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_LEN]);
    match op {
        Op::Put {
            db,
            key,
            value,
            deadline,
            meta,
        } => {
            out.push(OP_PUT);
            put_u32(out, *db);
            out.push(deadline.is_some() as u8 | (meta.is_some() as u8) << 1);
            if let Some(d) = deadline {
                out.extend_from_slice(&d.to_le_bytes());
            }
            put_bytes(out, key);
            put_bytes(out, value);
            if let Some(m) = meta {
                put_bytes(out, m);
            }
        }
        Op::Del { db, key } => {
            out.push(OP_DEL);
            put_u32(out, *db);
            put_bytes(out, key);
        }
        Op::Append {
            db,
            key,
            new_len,
            extra,
        } => {
            out.push(OP_APPEND);
            put_u32(out, *db);
            put_bytes(out, key);
            out.extend_from_slice(&new_len.to_le_bytes());
            put_bytes(out, extra);
        }
        Op::Deadline { db, key, deadline } => {
            out.push(OP_DEADLINE);
            put_u32(out, *db);
            put_bytes(out, key);
            out.push(deadline.is_some() as u8);
            if let Some(d) = deadline {
                out.extend_from_slice(&d.to_le_bytes());
            }
        }
        Op::Clear { db } => {
            out.push(OP_CLEAR);
            put_u32(out, *db);
        }
        Op::Swap { a, b } => {
            out.push(OP_SWAP);
            put_u32(out, *a);
            put_u32(out, *b);
        }
        Op::NsPut { index, id, title } => {
            out.push(OP_NS_PUT);
            put_u32(out, *index);
            put_bytes(out, id);
            put_bytes(out, title);
        }
        Op::NsDel { index } => {
            out.push(OP_NS_DEL);
            put_u32(out, *index);
        }
    }
    let frame = Frame::of(&out[start + FRAME_LEN..]);
    out[start..start + FRAME_LEN].copy_from_slice(&frame.to_bytes());
}

/// The frame in front of every payload: its length and checksum. The writer (`encode`) and
/// the readers (replay's `scan`, its search for a whole record after damage) go through this
/// one type, so they agree on the layout and on which frames are possible by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub len: u32,
    pub crc: u32,
}

impl Frame {
    /// The frame of `payload`.
    pub fn of(payload: &[u8]) -> Frame {
        Frame {
            len: payload.len() as u32,
            crc: crc32c::crc32c(payload),
        }
    }

    pub fn to_bytes(self) -> [u8; FRAME_LEN] {
        let mut b = [0u8; FRAME_LEN];
        b[..4].copy_from_slice(&self.len.to_le_bytes());
        b[4..].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// The frame at the start of `b`, which holds at least `FRAME_LEN` bytes.
    pub fn parse(b: &[u8]) -> Frame {
        Frame {
            len: u32::from_le_bytes(b[..4].try_into().expect("4")),
            crc: u32::from_le_bytes(b[4..FRAME_LEN].try_into().expect("4")),
        }
    }

    /// A length some record can have (no record is empty: each starts with its op byte).
    /// Checked before the length is used to reserve memory.
    pub fn possible(self) -> bool {
        self.len != 0 && self.len as usize <= MAX_PAYLOAD
    }

    /// True when `payload` is the one this frame was written for (its checksum matches).
    pub fn holds(self, payload: &[u8]) -> bool {
        payload.len() == self.len as usize && crc32c::crc32c(payload) == self.crc
    }
}

/// A cursor over a payload's fields.
struct Fields<'a> {
    b: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8")))
    }
    fn i64(&mut self) -> Option<i64> {
        self.u64().map(|v| v as i64)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Decodes a payload whose checksum was good; `None` when its fields do not parse (a bug or
/// a foreign file, reported as corruption).
pub fn decode(payload: &[u8]) -> Option<Op<'_>> {
    let mut f = Fields { b: payload };
    let op = match f.u8()? {
        OP_PUT => {
            let db = f.u32()?;
            let flags = f.u8()?;
            let deadline = if flags & 1 != 0 { Some(f.i64()?) } else { None };
            let key = f.bytes()?;
            let value = f.bytes()?;
            let meta = if flags & 2 != 0 { Some(f.bytes()?) } else { None };
            Op::Put {
                db,
                key,
                value,
                deadline,
                meta,
            }
        }
        OP_DEL => Op::Del {
            db: f.u32()?,
            key: f.bytes()?,
        },
        OP_APPEND => Op::Append {
            db: f.u32()?,
            key: f.bytes()?,
            new_len: f.u64()?,
            extra: f.bytes()?,
        },
        OP_DEADLINE => {
            let db = f.u32()?;
            let key = f.bytes()?;
            let deadline = if f.u8()? & 1 != 0 { Some(f.i64()?) } else { None };
            Op::Deadline { db, key, deadline }
        }
        OP_CLEAR => Op::Clear { db: f.u32()? },
        OP_SWAP => Op::Swap {
            a: f.u32()?,
            b: f.u32()?,
        },
        OP_NS_PUT => Op::NsPut {
            index: f.u32()?,
            id: f.bytes()?,
            title: f.bytes()?,
        },
        OP_NS_DEL => Op::NsDel { index: f.u32()? },
        _ => return None,
    };
    f.b.is_empty().then_some(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_round_trips() {
        let ops = [
            Op::Put {
                db: 3,
                key: b"k",
                value: b"v\x00\xff",
                deadline: Some(1_700_000_000_123),
                meta: Some(b"{\"a\":1}"),
            },
            Op::Put {
                db: 0,
                key: b"",
                value: b"",
                deadline: None,
                meta: None,
            },
            Op::Del { db: 16, key: b"gone" },
            Op::Append {
                db: 1,
                key: b"a",
                new_len: 9,
                extra: b"tail",
            },
            Op::Deadline {
                db: 2,
                key: b"d",
                deadline: Some(-5),
            },
            Op::Deadline {
                db: 2,
                key: b"d",
                deadline: None,
            },
            Op::Clear { db: 7 },
            Op::Swap { a: 1, b: 2 },
            Op::NsPut {
                index: 16,
                id: b"0123456789abcdef0123456789abcdef",
                title: "SESSIONS ✓".as_bytes(),
            },
            Op::NsDel { index: 16 },
        ];
        let mut buf = header().to_vec();
        for op in &ops {
            encode(&mut buf, op);
        }
        check_header(&buf).unwrap();
        // Walked frame by frame (replay's `scan` reads files this way; its tests cover torn
        // tails and damage).
        let mut at = HEADER_LEN;
        for op in &ops {
            let frame = Frame::parse(&buf[at..]);
            assert!(frame.possible());
            let payload = &buf[at + FRAME_LEN..at + FRAME_LEN + frame.len as usize];
            assert!(frame.holds(payload));
            assert_eq!(decode(payload).as_ref(), Some(op));
            assert_eq!(Frame::parse(&Frame::of(payload).to_bytes()), frame);
            at += FRAME_LEN + frame.len as usize;
        }
        assert_eq!(at, buf.len());
        // A flipped byte: the payload is no longer the one its frame was written for.
        let frame = Frame::parse(&buf[HEADER_LEN..]);
        let mut bad = buf[HEADER_LEN + FRAME_LEN..HEADER_LEN + FRAME_LEN + frame.len as usize].to_vec();
        bad[3] ^= 1;
        assert!(!frame.holds(&bad));
        assert!(!Frame { len: 0, crc: 0 }.possible());
        assert!(!Frame {
            len: MAX_PAYLOAD as u32 + 1,
            crc: 0
        }
        .possible());
    }
}
