//! Reading the log back: start-up replay of the manifest's files, and `edgekv check-log`.
//!
//! A torn tail (the last incremental file ends inside a record, or its last record's checksum
//! fails, or it ends in zeros: a crash mid-write) is cut off with a warning. A bad record with
//! good data after it is corruption: start-up refuses and names the file and offset, and
//! `edgekv check-log --repair FILE` can cut the file there.

use super::format::{self, Frame, Op};
use super::log::Manifest;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// What scanning one file found.
#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    pub records: u64,
    /// Bytes up to the end of the last good record.
    pub valid_len: u64,
    pub file_len: u64,
    /// The first problem: offset and what it is.
    pub problem: Option<(u64, String)>,
    /// The problem can only be a torn tail (nothing but a partial record or zeros after it).
    pub torn_tail: bool,
}

/// Reads a file record by record, calling `f` with each good one; stops at the first problem.
pub fn scan(path: &Path, mut f: impl FnMut(Op) -> Result<(), String>) -> Result<Scan, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; format::HEADER_LEN];
    if file_len < format::HEADER_LEN as u64 || r.read_exact(&mut header).is_err() {
        return Ok(Scan {
            records: 0,
            valid_len: 0,
            file_len,
            problem: Some((0, "the file is shorter than its header".into())),
            torn_tail: true,
        });
    }
    format::check_header(&header).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut at = format::HEADER_LEN as u64;
    let mut records = 0;
    let mut payload = Vec::new();
    let mut head = [0u8; format::FRAME_LEN];
    loop {
        if at == file_len {
            return Ok(Scan {
                records,
                valid_len: at,
                file_len,
                problem: None,
                torn_tail: false,
            });
        }
        let left = file_len - at;
        let problem = |what: String, torn: bool| Scan {
            records,
            valid_len: at,
            file_len,
            problem: Some((at, what)),
            torn_tail: torn,
        };
        if left < format::FRAME_LEN as u64 {
            return Ok(problem(format!("a partial record header ({left} bytes)"), true));
        }
        r.read_exact(&mut head)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let frame = Frame::parse(&head);
        let len = frame.len as u64;
        if !frame.possible() {
            let zeros = rest_is_zero(&mut r, &head)?;
            return Ok(problem(format!("an impossible record length {len}"), zeros));
        }
        if len > left - format::FRAME_LEN as u64 {
            // Checked against the file's size before any memory is reserved for it. A torn
            // write leaves nothing after its partial record; a damaged length with good
            // records after it is corruption, not a tail to cut.
            let torn = !record_follows(path, at + 1)?;
            return Ok(problem(
                format!("a record of {len} bytes with {} bytes left in the file", left - 8),
                torn,
            ));
        }
        payload.resize(len as usize, 0);
        r.read_exact(&mut payload)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let end = at + format::FRAME_LEN as u64 + len;
        if !frame.holds(&payload) {
            let torn = end == file_len || !record_follows(path, at + 1)?;
            return Ok(problem("a bad checksum".into(), torn));
        }
        let Some(op) = format::decode(&payload) else {
            return Ok(problem("a record that does not parse".into(), false));
        };
        f(op)?;
        records += 1;
        at = end;
    }
}

/// True when a whole record starts anywhere after `from`: then what precedes it is damage,
/// not a torn tail (a crash cuts only the last write, so nothing whole can follow a tear).
/// A candidate must parse (a cheap look at a few lengths) before its checksum is computed,
/// so random bytes cost about one pass over the tail.
fn record_follows(path: &Path, from: u64) -> Result<bool, String> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    f.seek(SeekFrom::Start(from)).map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    for at in 0..data.len().saturating_sub(format::FRAME_LEN) {
        let frame = Frame::parse(&data[at..]);
        let start = at + format::FRAME_LEN;
        if !frame.possible() || frame.len as usize > data.len() - start {
            continue;
        }
        let payload = &data[start..start + frame.len as usize];
        if format::decode(payload).is_some() && frame.holds(payload) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// True when the frame header and everything after it are zero bytes.
fn rest_is_zero(r: &mut impl Read, head: &[u8]) -> Result<bool, String> {
    if head.iter().any(|&b| b != 0) {
        return Ok(false);
    }
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(true);
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

/// What start-up replay found.
pub struct Replayed {
    pub manifest: Manifest,
    pub records: u64,
    /// The length the last incremental file keeps (a torn tail cut off).
    pub last_valid_len: u64,
    pub base_len: u64,
    /// Bytes of the incremental files before the last one.
    pub older_len: u64,
}

/// Replays the manifest's files in order through `apply`. `progress` is called now and then
/// with the bytes read so far and the total.
pub fn replay(
    dir: &Path,
    manifest: Manifest,
    mut apply: impl FnMut(Op) -> Result<(), String>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Replayed, String> {
    let files: Vec<(String, bool)> = manifest
        .base
        .iter()
        .map(|b| (b.clone(), false))
        .chain(
            manifest
                .incrs
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i + 1 == manifest.incrs.len())),
        )
        .collect();
    let total: u64 = files
        .iter()
        .map(|(n, _)| std::fs::metadata(dir.join(n)).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut done = 0u64;
    let mut out = Replayed {
        manifest: manifest.clone(),
        records: 0,
        last_valid_len: format::HEADER_LEN as u64,
        base_len: 0,
        older_len: 0,
    };
    for (name, last) in files {
        let path = dir.join(&name);
        let mut n = 0u64;
        let scan = scan(&path, |op| {
            n += 1;
            if n.is_multiple_of(1_000_000) {
                progress(done, total);
            }
            apply(op)
        })?;
        out.records += scan.records;
        if let Some((at, what)) = &scan.problem {
            if last && scan.torn_tail {
                tracing::warn!(
                    file = %path.display(),
                    offset = at,
                    dropped = scan.file_len - scan.valid_len,
                    "the log ends in a torn record ({what}); it is cut off"
                );
            } else {
                return Err(format!(
                    "the log is damaged: {} at offset {at} of {}; `edgekv check-log --repair {}` cuts the file there (losing what follows)",
                    what,
                    path.display(),
                    path.display()
                ));
            }
        }
        done += scan.file_len;
        if manifest.base.as_deref() == Some(name.as_str()) {
            out.base_len = scan.file_len;
        } else if last {
            out.last_valid_len = scan.valid_len.max(format::HEADER_LEN as u64);
        } else {
            out.older_len += scan.file_len;
        }
    }
    progress(done, total);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An owned operation for proptest: (kind, db, key, value, deadline, metadata).
    type Raw = (u8, u32, Vec<u8>, Vec<u8>, Option<i64>, Option<Vec<u8>>);

    fn op_of(r: &Raw) -> Op<'_> {
        let (kind, db, key, value, deadline, meta) = r;
        let db = *db;
        match kind % 8 {
            0 => Op::Put {
                db,
                key,
                value,
                deadline: *deadline,
                meta: meta.as_deref(),
            },
            1 => Op::Del { db, key },
            2 => Op::Append {
                db,
                key,
                new_len: deadline.unwrap_or(0) as u64,
                extra: value,
            },
            3 => Op::Deadline {
                db,
                key,
                deadline: *deadline,
            },
            4 => Op::Clear { db },
            5 => Op::Swap {
                a: db,
                b: deadline.unwrap_or(0) as u32,
            },
            6 => Op::NsPut {
                index: db,
                id: key,
                title: value,
            },
            _ => Op::NsDel { index: db },
        }
    }

    fn raw_ops() -> impl Strategy<Value = Vec<Raw>> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
        proptest::collection::vec(
            (
                any::<u8>(),
                any::<u32>(),
                bytes(),
                bytes(),
                any::<Option<i64>>(),
                proptest::option::of(bytes()),
            ),
            2..12,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// What `encode` writes, `scan` reads back whole; a cut inside the last record is a
        /// torn tail that keeps every record before it; a flipped byte in an earlier record
        /// is damage at that record's offset, not a tail to cut.
        #[test]
        fn the_reader_reads_what_the_writer_wrote(raw in raw_ops(), cut in any::<prop::sample::Index>(),
                                                  victim in any::<prop::sample::Index>(),
                                                  bit in 0u8..8, pos in any::<prop::sample::Index>()) {
            let ops: Vec<Op> = raw.iter().map(op_of).collect();
            let mut file = format::header().to_vec();
            let mut starts = Vec::new();
            for op in &ops {
                starts.push(file.len());
                format::encode(&mut file, op);
            }
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("f");
            std::fs::write(&p, &file).unwrap();
            let mut read = Vec::new();
            let s = scan(&p, |op| {
                let mut b = Vec::new();
                format::encode(&mut b, &op);
                read.push(b);
                Ok(())
            })
            .unwrap();
            prop_assert_eq!(s.problem, None);
            prop_assert_eq!((s.records, s.valid_len), (ops.len() as u64, file.len() as u64));
            for (i, b) in read.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(file.len());
                prop_assert_eq!(&b[..], &file[starts[i]..end]);
            }

            let last = *starts.last().unwrap();
            let at = last + 1 + cut.index(file.len() - last - 1);
            std::fs::write(&p, &file[..at]).unwrap();
            let s = scan(&p, |_| Ok(())).unwrap();
            prop_assert_eq!(
                (s.records, s.valid_len, s.torn_tail),
                (ops.len() as u64 - 1, last as u64, true)
            );

            let k = victim.index(ops.len() - 1);
            let byte = starts[k] + pos.index(starts[k + 1] - starts[k]);
            let mut bad = file.clone();
            bad[byte] ^= 1 << bit;
            std::fs::write(&p, &bad).unwrap();
            let s = scan(&p, |_| Ok(())).unwrap();
            prop_assert_eq!(s.records, k as u64);
            prop_assert_eq!(s.problem.map(|(at, _)| at), Some(starts[k] as u64));
            prop_assert!(!s.torn_tail);
        }
    }

    fn file_with(ops: &[Op]) -> Vec<u8> {
        let mut b = format::header().to_vec();
        for op in ops {
            format::encode(&mut b, op);
        }
        b
    }

    #[test]
    fn torn_tails_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let ops: Vec<Op> = (0..3)
            .map(|i| Op::Put {
                db: 0,
                key: b"key",
                value: if i == 1 { b"one" } else { b"other" },
                deadline: None,
                meta: None,
            })
            .collect();
        let full = file_with(&ops);
        let two = file_with(&ops[..2]).len();
        // Every cut inside the last record: two records, torn tail.
        for cut in two + 1..full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            let s = scan(&p, |_| Ok(())).unwrap();
            assert_eq!(
                (s.records, s.valid_len, s.torn_tail),
                (2, two as u64, true),
                "cut {cut}"
            );
        }
        std::fs::write(&p, &full).unwrap();
        assert_eq!(scan(&p, |_| Ok(())).unwrap().problem, None);
        // A flipped byte in the middle record: corruption, not a tail.
        let mut bad = full.clone();
        bad[format::HEADER_LEN + 20 + 25] ^= 0x40;
        std::fs::write(&p, &bad).unwrap();
        let s = scan(&p, |_| Ok(())).unwrap();
        assert!(!s.torn_tail && s.problem.is_some(), "{s:?}");
        // A damaged length pointing past the end, with good records after it: corruption.
        let mut long = full.clone();
        long[format::HEADER_LEN + 30 + 2] = 0x7f;
        std::fs::write(&p, &long).unwrap();
        let s = scan(&p, |_| Ok(())).unwrap();
        assert_eq!((s.records, s.torn_tail), (1, false), "{s:?}");
        // Zeros after the last record (a file extended but not written): a torn tail.
        let mut z = full.clone();
        z.extend_from_slice(&[0u8; 100]);
        std::fs::write(&p, &z).unwrap();
        let s = scan(&p, |_| Ok(())).unwrap();
        assert_eq!((s.records, s.torn_tail), (3, true));
    }
}
