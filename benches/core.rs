//! Criterion benches of the hot paths: request decoding, reply encoding, and store operations
//! (get, set, expire, ordered listing). Run with `cargo bench`.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use edgekv::protocol::{encode, Decoder, Limits, Protocol, Reply};
use edgekv::store::{now_ms, Store};
use std::ops::Bound;

const LIMITS: Limits = Limits {
    max_bulk_len: 512 * 1024 * 1024,
    authenticated: true,
};

fn set_request(i: usize) -> Vec<u8> {
    let key = format!("key:{:012}", i);
    let value = "x".repeat(100);
    format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
        key.len(),
        key,
        value.len(),
        value
    )
    .into_bytes()
}

fn decode(c: &mut Criterion) {
    let mut pipeline = Vec::new();
    for i in 0..16 {
        pipeline.extend_from_slice(&set_request(i));
    }
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(16));
    g.bench_function("set_pipeline_16", |b| {
        let mut d = Decoder::new();
        b.iter_batched(
            || BytesMut::from(&pipeline[..]),
            |mut buf| {
                let mut n = 0;
                while let Some(args) = d.decode(&mut buf, LIMITS).unwrap() {
                    n += args.len();
                }
                black_box(n)
            },
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("inline_ping", |b| {
        let mut d = Decoder::new();
        b.iter_batched(
            || BytesMut::from(&b"PING\r\n"[..]),
            |mut buf| black_box(d.decode(&mut buf, LIMITS).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn encode_replies(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let bulk = Reply::Bulk(Bytes::from(vec![b'x'; 100]));
    let array = Reply::Array(
        (0..10)
            .map(|i| Reply::Bulk(Bytes::from(format!("value-{}", i))))
            .collect(),
    );
    let mut out = BytesMut::with_capacity(64 * 1024);
    g.bench_function("bulk_100", |b| {
        b.iter(|| {
            out.clear();
            encode(&mut out, black_box(&bulk), Protocol::Resp2);
        })
    });
    g.bench_function("array_10_resp3", |b| {
        b.iter(|| {
            out.clear();
            encode(&mut out, black_box(&array), Protocol::Resp3);
        })
    });
    g.finish();
}

fn store_ops(c: &mut Criterion) {
    let store = Store::new(1);
    let now = now_ms();
    let db = store.db(0, now);
    let n = 1_000_000usize;
    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("key:{:012}", i).into_bytes()).collect();
    let value = vec![b'v'; 100];
    for k in &keys {
        db.put(k, &value, None, None);
    }
    let mut g = c.benchmark_group("store_1m");
    let mut i = 0usize;
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(db.get(&keys[i]))
        })
    });
    g.bench_function("set_overwrite", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            db.put(black_box(&keys[i]), &value, None, None)
        })
    });
    g.bench_function("expire_set", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(db.set_deadline(&keys[i], Some(now + 3_600_000)))
        })
    });
    g.bench_function("list_page_1000", |b| {
        b.iter(|| {
            let mut got = 0;
            db.walk_ordered(Bound::Excluded(&b"key:000000500000"[..]), |_| {
                got += 1;
                got < 1000
            });
            black_box(got)
        })
    });
    g.finish();
}

/// An ordered page at 10 million keys (the size KV.LIST must serve): run with
/// `EDGEKV_BENCH_10M=1 cargo bench --bench core -- store_10m` (needs ~2 GB of memory).
fn store_10m(c: &mut Criterion) {
    if std::env::var_os("EDGEKV_BENCH_10M").is_none() {
        return;
    }
    let store = Store::new(1);
    let db = store.db(0, now_ms());
    let value = vec![b'v'; 100];
    for i in 0..10_000_000u64 {
        // Keys under a few prefixes, as KV namespaces hold them.
        let k = format!(
            "{}:{:012}",
            ["session", "flags", "user", "cache"][(i % 4) as usize],
            i * 7919 % 10_000_000
        );
        db.put(k.as_bytes(), &value, None, None);
    }
    // The first ordered walk builds the index (once per namespace).
    let t = std::time::Instant::now();
    db.walk_ordered(Bound::Unbounded, |_| false);
    eprintln!("ordered index built over 10M keys in {:?}", t.elapsed());
    let mut g = c.benchmark_group("store_10m");
    g.sample_size(50);
    let mut i = 0u64;
    g.bench_function("list_page_1000_prefix", |b| {
        b.iter(|| {
            i = (i + 104_729) % 10_000_000;
            let from = format!("user:{:012}", i);
            let mut got = 0;
            db.walk_ordered(Bound::Excluded(from.as_bytes()), |r| {
                got += 1;
                got < 1000 && r.key().starts_with(b"user:")
            });
            black_box(got)
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode_replies, store_ops, store_10m);
criterion_main!(benches);
