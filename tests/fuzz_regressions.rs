//! The fuzz targets' harness on stable (issue 5, "Fuzzing and stress"): the same code as the
//! cargo-fuzz targets (`fuzz/src/harness.rs`, included below), fed
//! - every crash input the fuzzers found, one test each (`crash_*`);
//! - the seed corpus (`fuzz/corpus/{decode,exec}/seed-*`, from shared/compat.md's vectors);
//! - a random loop, a few seconds by default; `#[ignore]`d long forms
//!   (`cargo test --release --test fuzz_regressions -- --ignored`, `FUZZ_SECS` seconds each,
//!   600 by default) for machines without a nightly toolchain.
//!
//! How to run the real fuzzers: /work/notes/fuzz-notes.md.

#[path = "../fuzz/src/harness.rs"]
mod harness;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no corpus in {}", dir.display());
    out
}

/// Runs one input, naming it if it fails.
fn replay(name: &str, data: &[u8], f: impl FnOnce(&[u8]) + std::panic::UnwindSafe) {
    if let Err(e) = std::panic::catch_unwind(move || f(data)) {
        eprintln!("input {name} failed");
        std::panic::resume_unwind(e);
    }
}

#[test]
fn decode_seed_corpus() {
    for (p, data) in corpus("decode") {
        replay(&p.display().to_string(), &data, harness::run_decode);
    }
}

#[test]
fn exec_seed_corpus() {
    let dir = tempfile::tempdir().unwrap();
    for (p, data) in corpus("exec") {
        let d = dir.path().to_path_buf();
        replay(&p.display().to_string(), &data, move |x| harness::run_exec(x, &d));
    }
}

// ---------------------------------------------------------------------------------------------
// Crash inputs found by the fuzzers: each replayed through the target's own code path.

/// Net bytes allocated by this thread (allocations minus frees made on it), for leak checks.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static NET: Cell<i64> = const { Cell::new(0) };
    }

    pub struct Counting;

    fn add(n: i64) {
        // `try_with`: nothing to count while the thread's locals are being torn down.
        let _ = NET.try_with(|c| c.set(c.get() + n));
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            add(l.size() as i64);
            System.alloc(l)
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            add(-(l.size() as i64));
            System.dealloc(p, l)
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            add(l.size() as i64);
            System.alloc_zeroed(l)
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            add(new as i64 - l.size() as i64);
            System.realloc(p, l, new)
        }
    }

    pub fn net() -> i64 {
        NET.with(|c| c.get())
    }
}

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// Found by `exec` in its first seconds (LeakSanitizer, seed `seed-shutdown`: `SET a 1`, then
/// the input ends): every record still in the store when a `Store` is dropped is leaked.
/// `store::shard::Shard` owns its records through raw pointers and has no `Drop` (only
/// `Shard::clear` frees them). The server never drops its store before exiting, so this costs
/// the daemon nothing; it leaks in anything that builds and drops a `Shared`/`Store` (tests,
/// tools, embedding) and hides other leaks from LeakSanitizer (the fuzz harness clears every
/// slot before the drop, `harness::teardown`, for that reason).
#[test]
fn dropping_a_store_frees_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let fill = |shared: &edgekv::server::shared::Shared| {
        let now = edgekv::store::now_ms();
        for i in 0..1000 {
            let key = format!("key:{i}");
            shared.store.db(0, now).put(key.as_bytes(), &[b'v'; 1024], None, None);
        }
    };
    // Warm up: lazily built globals (command table, ...) are allocated once.
    drop(harness::new_shared(dir.path(), false));
    let before = counting::net();
    let shared = harness::new_shared(dir.path(), false);
    fill(&shared);
    drop(shared);
    let leaked = counting::net() - before;
    // With the control below: the same without the records is (near) zero.
    let before2 = counting::net();
    let shared = harness::new_shared(dir.path(), false);
    fill(&shared);
    harness::teardown(&shared);
    drop(shared);
    let leaked_after_clear = counting::net() - before2;
    assert!(
        leaked_after_clear < 64 * 1024,
        "control: {leaked_after_clear} bytes kept after clearing"
    );
    assert!(
        leaked < 64 * 1024,
        "dropping a store with 1,000 records of 1 KiB kept {leaked} bytes allocated (Shard has no Drop)"
    );
}

// ---------------------------------------------------------------------------------------------
// Random inputs on stable: structured generation (commands, RESP fragments, limits) and
// mutation of the seed corpus.

const NAMES: &[&str] = &[
    "GET",
    "SET",
    "INCR",
    "INCRBY",
    "DECRBY",
    "INCRBYFLOAT",
    "DEL",
    "MGET",
    "MSET",
    "MSETNX",
    "APPEND",
    "SETRANGE",
    "GETRANGE",
    "GETEX",
    "GETDEL",
    "GETSET",
    "SETNX",
    "SETEX",
    "PSETEX",
    "STRLEN",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PERSIST",
    "EXISTS",
    "TYPE",
    "KEYS",
    "SCAN",
    "RENAME",
    "RENAMENX",
    "COPY",
    "MOVE",
    "SELECT",
    "SWAPDB",
    "FLUSHDB",
    "FLUSHALL",
    "DBSIZE",
    "RANDOMKEY",
    "TOUCH",
    "UNLINK",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "PING",
    "ECHO",
    "HELLO",
    "AUTH",
    "RESET",
    "CLIENT",
    "COMMAND",
    "CONFIG",
    "INFO",
    "TIME",
    "KV.PUT",
    "KV.GET",
    "KV.GETWITHMETADATA",
    "KV.MGET",
    "KV.DELETE",
    "KV.LIST",
    "KV.BULKPUT",
    "KV.BULKDELETE",
    "KV.NAMESPACE",
    "QUIT",
    "SAVE",
    "BGSAVE",
    "BGREWRITEAOF",
];
const WORDS: &[&str] = &[
    "a",
    "b",
    "k",
    "user:1",
    "*",
    "?",
    "[a-z]*",
    "\\",
    "0",
    "1",
    "-1",
    "16",
    "17",
    "3",
    "100",
    "1.5",
    "-0",
    "inf",
    "nan",
    "1e400",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "536870911",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "NX",
    "XX",
    "GT",
    "LT",
    "GET",
    "MATCH",
    "COUNT",
    "TYPE",
    "json",
    "text",
    "METADATA",
    "EXPIRATION",
    "EXPIRATIONTTL",
    "PREFIX",
    "LIMIT",
    "CURSOR",
    "WITHMETADATA",
    "CREATE",
    "LIST",
    "DELETE",
    "RENAME",
    "STATS",
    "HELP",
    "ID",
    "INFO",
    "KILL",
    "REPLY",
    "ON",
    "OFF",
    "SKIP",
    "SETNAME",
    "SETINFO",
    "LIB-NAME",
    "DOCS",
    "GETKEYS",
    "SET",
    "maxmemory",
    "proto-max-bulk-len",
    "requirepass",
    "kv-min-ttl",
    "kv-quota-reads",
    "timeout",
    "2",
    "AUTH",
    "default",
    "pw",
    "DB",
    "REPLACE",
    "",
    "{}",
    "{\"a\":1}",
    "[1,2,{\"x\":null}]",
    "[{\"key\":\"a\",\"value\":\"b\"}]",
    "\"",
    "'",
    "YQ==",
    "ns1",
];
const FRAGMENTS: &[&[u8]] = &[
    b"*",
    b"$",
    b"\r\n",
    b"\r",
    b"\n",
    b"\0",
    b"*1\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"$0\r\n\r\n",
    b"\"",
    b"'",
    b"\\x4",
    b"\\",
    b" ",
    b"\t",
    b"2147483647",
    b"18446744073709551615",
    b"-",
    b"+",
    b"PING",
];

fn pick<'a, T: ?Sized>(rng: &mut StdRng, xs: &'a [&'a T]) -> &'a T {
    xs[rng.gen_range(0..xs.len())]
}

fn gen_payload(rng: &mut StdRng, max_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < max_len {
        match rng.gen_range(0..10) {
            0..=4 => {
                let mut argv: Vec<Vec<u8>> = vec![pick(rng, NAMES).as_bytes().to_vec()];
                for _ in 0..rng.gen_range(0..6) {
                    argv.push(match rng.gen_range(0..8) {
                        0 => (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect(),
                        1 => rng.gen_range(-5i64..200).to_string().into_bytes(),
                        _ => pick(rng, WORDS).as_bytes().to_vec(),
                    });
                }
                if rng.gen_bool(0.7) {
                    let refs: Vec<bytes::Bytes> = argv.into_iter().map(bytes::Bytes::from).collect();
                    out.extend(harness::to_resp(&[refs]));
                } else {
                    out.extend(argv.join(&b' '));
                    out.extend_from_slice(b"\r\n");
                }
            }
            5..=7 => out.extend_from_slice(pick(rng, FRAGMENTS)),
            8 => out.extend((0..rng.gen_range(1..16)).map(|_| rng.gen::<u8>())),
            _ => {
                // A bulk header that lies about its length.
                let n: i64 = rng.gen_range(-3..70);
                out.extend_from_slice(format!("${n}\r\n").as_bytes());
            }
        }
        if rng.gen_bool(0.1) {
            break;
        }
    }
    out
}

fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.gen_range(1..6) {
        if v.is_empty() {
            v.push(rng.gen());
            continue;
        }
        let i = rng.gen_range(0..v.len());
        match rng.gen_range(0..5) {
            0 => v[i] = rng.gen(),
            1 => v[i] ^= 1 << rng.gen_range(0..8),
            2 => {
                v.remove(i);
            }
            3 => v.insert(i, *pick(rng, &[&b'\r', &b'\n', &b'*', &b'$', &b'0', &b'-', &b'"'])),
            _ => v.truncate(i),
        }
    }
    v
}

fn gen_input(rng: &mut StdRng, seeds: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    if rng.gen_bool(0.3) {
        let (_, s) = &seeds[rng.gen_range(0..seeds.len())];
        if s.len() <= 4096 || rng.gen_bool(0.05) {
            return mutate(rng, s);
        }
    }
    let mut data = vec![rng.gen::<u8>(), rng.gen_range(0..17u8)];
    for _ in 0..data[1] {
        // Mostly short chunks, sometimes the large ones.
        data.push(if rng.gen_bool(0.95) {
            rng.gen_range(0..60u8)
        } else {
            rng.gen()
        });
    }
    let max = if rng.gen_bool(0.9) { 300 } else { 3000 };
    data.extend(gen_payload(rng, max));
    data
}

/// Runs random inputs for `secs` seconds; on a failure, writes the input to
/// `target/fuzz-failures/` and names it.
fn random_loop(target: &str, secs: u64) {
    let seeds = corpus(target);
    let dir = tempfile::tempdir().unwrap();
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("{target}: FUZZ_SEED={seed}, {secs} s");
    let mut rng = StdRng::seed_from_u64(seed);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u64;
    while Instant::now() < end {
        for _ in 0..64 {
            let data = gen_input(&mut rng, &seeds);
            let d = dir.path().to_path_buf();
            let t = target.to_string();
            let r = std::panic::catch_unwind(|| {
                if t == "decode" {
                    harness::run_decode(&data)
                } else {
                    harness::run_exec(&data, &d)
                }
            });
            if let Err(e) = r {
                let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
                std::fs::create_dir_all(&out).unwrap();
                let f = out.join(format!("{target}-{seed}-{n}"));
                std::fs::write(&f, &data).unwrap();
                eprintln!(
                    "failing input written to {} ({:?})",
                    f.display(),
                    String::from_utf8_lossy(&data)
                );
                std::panic::resume_unwind(e);
            }
            n += 1;
        }
    }
    eprintln!("{target}: {n} inputs in {secs} s");
}

fn soak_secs() -> u64 {
    std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600)
}

#[test]
fn decode_random_short() {
    random_loop("decode", 3);
}

#[test]
fn exec_random_short() {
    random_loop("exec", 3);
}

#[test]
#[ignore = "long: FUZZ_SECS (600) seconds; cargo test --release --test fuzz_regressions -- --ignored"]
fn decode_random_long() {
    random_loop("decode", soak_secs());
}

#[test]
#[ignore = "long: FUZZ_SECS (600) seconds; cargo test --release --test fuzz_regressions -- --ignored"]
fn exec_random_long() {
    random_loop("exec", soak_secs());
}
