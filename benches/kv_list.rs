//! End-to-end latency of `KV.LIST` pages: the real server (release build), a Workers KV
//! namespace of 10 million keys, pages of 1000 keys under a prefix, timed at the client over
//! TCP. Prints median, p90, p99 and max, idle and while another connection writes.
//!
//! ```text
//! cargo bench --bench kv_list                          # 10,000,000 keys
//! EDGEKV_BENCH_KEYS=1000000 cargo bench --bench kv_list
//! ```
//!
//! Keys are `t{tenant:05}/item{n:07}`: 1000 tenants of 10,000 keys, so a prefix `t00042/`
//! holds ten full pages. Half the timed calls fetch a prefix's first page, half a page in
//! its middle (with a cursor from an earlier call).

use rand::Rng;
use redis::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TENANTS: usize = 1000;
const SAMPLES: usize = 2000;

fn key(i: usize, per_tenant: usize) -> String {
    format!("t{:05}/item{:07}", i / per_tenant, i % per_tenant)
}

fn fields(v: Value) -> Vec<(Vec<u8>, Value)> {
    let Value::Array(a) = v else {
        panic!("not a map reply: {v:?}")
    };
    let mut it = a.into_iter();
    let mut out = Vec::new();
    while let (Some(Value::BulkString(k)), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// One page: (keys on it, cursor for the next one).
fn page(con: &mut redis::Connection, prefix: &str, cursor: Option<&[u8]>) -> (usize, Option<Vec<u8>>) {
    let mut cmd = redis::cmd("KV.LIST");
    cmd.arg("PREFIX").arg(prefix).arg("LIMIT").arg(1000);
    if let Some(c) = cursor {
        cmd.arg("CURSOR").arg(c);
    }
    let f = fields(cmd.query(con).expect("KV.LIST"));
    let n = match &f[0].1 {
        Value::Array(k) => k.len(),
        other => panic!("keys: {other:?}"),
    };
    let cursor = f.iter().find(|(k, _)| k == b"cursor").map(|(_, v)| match v {
        Value::BulkString(c) => c.clone(),
        other => panic!("cursor: {other:?}"),
    });
    (n, cursor)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(label: &str, mut t: Vec<Duration>) {
    t.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<34} n={} median {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        t.len(),
        ms(percentile(&t, 0.5)),
        ms(percentile(&t, 0.9)),
        ms(percentile(&t, 0.99)),
        ms(*t.last().unwrap())
    );
}

/// The server's own time per KV.LIST call since the last CONFIG RESETSTAT (INFO commandstats),
/// to tell server time from client-side parsing.
fn server_usec(con: &mut redis::Connection) -> String {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_kv.list:"))
        .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("usec_per_call=")))
        .unwrap_or("?")
        .to_string()
}

fn timed_pages(con: &mut redis::Connection, per_tenant: usize, cursors: &[Option<Vec<u8>>]) -> Vec<Duration> {
    let mut rng = rand::thread_rng();
    let mut times = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let t = rng.gen_range(0..TENANTS);
        let prefix = format!("t{t:05}/");
        let cursor = if i % 2 == 1 { cursors[t].as_deref() } else { None };
        let start = Instant::now();
        let (n, _) = page(con, &prefix, cursor);
        times.push(start.elapsed());
        assert_eq!(n, 1000.min(per_tenant), "a full page under {prefix}");
    }
    times
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let keys: usize = std::env::var("EDGEKV_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let per_tenant = keys / TENANTS;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgekv"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--http-port", "0", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start edgekv");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .expect("ready line");
    let port: u16 = ready.trim().rsplit(':').next().unwrap().parse().expect("port");
    let url = format!("redis://127.0.0.1:{port}/");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    redis::cmd("KV.NAMESPACE")
        .arg("CREATE")
        .arg("bench")
        .query::<Value>(&mut con)
        .unwrap();

    // Load with two pipelined connections (one per core), in shuffled tenant order so the
    // ordered index sees inserts all over the key space, as real traffic does.
    let started = Instant::now();
    let loaders: Vec<_> = (0..2)
        .map(|w| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                redis::cmd("SELECT").arg("bench").query::<()>(&mut con).unwrap();
                let mut i = w;
                while i < keys {
                    let mut p = redis::pipe();
                    for _ in 0..1000 {
                        if i >= keys {
                            break;
                        }
                        // A permutation of 0..keys: stride through tenants first.
                        let j = (i % TENANTS) * per_tenant + i / TENANTS;
                        p.cmd("KV.PUT")
                            .arg(key(j, per_tenant))
                            .arg("v-0123456789abcdef")
                            .ignore();
                        i += 2;
                    }
                    p.query::<()>(&mut con).unwrap();
                }
            })
        })
        .collect();
    for l in loaders {
        l.join().unwrap();
    }
    let load = started.elapsed();
    redis::cmd("SELECT").arg("bench").query::<()>(&mut con).unwrap();
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, keys);
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    let rss = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_rss:"))
        .unwrap_or("?")
        .trim()
        .to_string();
    println!(
        "loaded {keys} keys in {:.1} s ({:.0} KV.PUT/s), rss {rss} bytes",
        load.as_secs_f64(),
        keys as f64 / load.as_secs_f64()
    );

    // A cursor into the middle of every tenant's range.
    let cursors: Vec<Option<Vec<u8>>> = (0..TENANTS)
        .map(|t| {
            let prefix = format!("t{t:05}/");
            let (_, c1) = page(&mut con, &prefix, None);
            c1.as_deref().and_then(|c| page(&mut con, &prefix, Some(c)).1)
        })
        .collect();

    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut con).unwrap();
    report("KV.LIST 1000/page, idle", timed_pages(&mut con, per_tenant, &cursors));
    println!("  (server time per call: {} us)", server_usec(&mut con));
    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut con).unwrap();

    // The same while another connection writes as fast as it can (keys of new tenants, so
    // the listed pages stay full and comparable).
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (client, stop, written) = (client.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut con = client.get_connection().unwrap();
            redis::cmd("SELECT").arg("bench").query::<()>(&mut con).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut p = redis::pipe();
                for _ in 0..100 {
                    p.cmd("KV.PUT").arg(format!("w{i:09}")).arg("v").ignore();
                    i += 1;
                }
                p.query::<()>(&mut con).unwrap();
            }
            written.store(i, Ordering::Relaxed);
        })
    };
    let busy_start = Instant::now();
    let busy = timed_pages(&mut con, per_tenant, &cursors);
    let busy_time = busy_start.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    report("KV.LIST 1000/page, under writes", busy);
    println!("  (server time per call: {} us)", server_usec(&mut con));
    println!(
        "  (the writer did {:.0} KV.PUT/s meanwhile)",
        written.load(Ordering::Relaxed) as f64 / busy_time.as_secs_f64()
    );
    let _ = child.kill();
    let _ = child.wait();
}
