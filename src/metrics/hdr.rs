//! A lock-free latency histogram with the layout and precision Redis 7.0 uses for INFO
//! latencystats: an HdrHistogram (hdr_histogram.c) over 1 ns ..= 1 s with 2 significant
//! digits, so percentiles come out as Redis computes them (`hdr_value_at_percentile`).
//!
//! Why our own and not the `hdrhistogram` crate: recording there takes `&mut self`, so a
//! histogram shared by the connection threads would need a lock per command. Here a record is
//! one index computation and one relaxed `fetch_add`; the 3,072 counters of a command are
//! allocated the first time that command is recorded (as Redis allocates on first use).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Redis's LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE (nanoseconds).
pub const MIN_VALUE: u64 = 1;
pub const MAX_VALUE: u64 = 1_000_000_000;
/// 2 significant digits: the sub-bucket count is the power of two above 2 * 10^2 (256).
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 8;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: u64 = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1;
/// Buckets needed to cover MAX_VALUE: 256 << 22 > 10^9.
const BUCKET_COUNT: usize = 23;
/// `(bucket_count + 1) * sub_bucket_half_count`.
pub const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT as usize;

/// One command's latencies, in nanoseconds.
#[derive(Default)]
pub struct Histogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

/// hdr_histogram.c's `counts_index_for` (unit magnitude 0: the lowest value is 1).
#[inline]
fn index_for(value: u64) -> usize {
    let pow2ceiling = 64 - (value | SUB_BUCKET_MASK).leading_zeros();
    let bucket = pow2ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1);
    let sub = value >> bucket;
    // The bucket's base is at least the half count, so this never goes below zero (for the
    // first bucket the offset alone would).
    ((((bucket as u64 + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub) - SUB_BUCKET_HALF_COUNT) as usize
}

/// The lowest value counted at `index` (`hdr_value_at_index`), and the width of its range.
fn value_at_index(index: usize) -> (u64, u64) {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub = (index as u64 & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub << bucket, 1 << bucket)
}

impl Histogram {
    /// Records one latency (clamped to 1 ns ..= 1 s, as Redis's updateCommandLatencyHistogram).
    #[inline]
    pub fn record(&self, nanos: u64) {
        let v = nanos.clamp(MIN_VALUE, MAX_VALUE);
        let counts = self
            .counts
            .get_or_init(|| (0..COUNTS_LEN).map(|_| AtomicU64::new(0)).collect());
        counts[index_for(v)].fetch_add(1, Ordering::Relaxed);
    }

    /// Zeroes the counters (CONFIG RESETSTAT). The memory stays: a command used once is
    /// likely used again.
    pub fn clear(&self) {
        if let Some(c) = self.counts.get() {
            for x in c.iter() {
                x.store(0, Ordering::Relaxed);
            }
        }
    }

    /// A copy of the counters (all zero when nothing was recorded).
    pub fn snapshot(&self) -> Snapshot {
        let counts = match self.counts.get() {
            Some(c) => c.iter().map(|x| x.load(Ordering::Relaxed)).collect(),
            None => Vec::new(),
        };
        Snapshot {
            total: counts.iter().sum(),
            counts,
        }
    }
}

/// Counters read at one moment, for percentiles and Prometheus buckets.
pub struct Snapshot {
    counts: Vec<u64>,
    pub total: u64,
}

impl Snapshot {
    /// `hdr_value_at_percentile`: the highest value equivalent to the one at `percentile`
    /// (the lowest for percentile 0), in nanoseconds. 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = ((p / 100.0) * self.total as f64 + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                let (low, width) = value_at_index(i);
                return if percentile == 0.0 { low } else { low + width - 1 };
            }
        }
        0
    }

    /// Each non-empty range: (lowest value, width, count), in value order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, &c)| {
            let (low, width) = value_at_index(i);
            (low, width, c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_hdr_histogram_c() {
        // Below 256 every value has its own counter.
        for v in 1..256u64 {
            assert_eq!(value_at_index(index_for(v)), (v, 1));
        }
        // Redis's INFO showed p50=10.047 (usec) for a 10 us command: 10,000 ns falls in
        // [9,984, 10,047].
        assert_eq!(value_at_index(index_for(10_000)), (9_984, 64));
        assert_eq!(value_at_index(index_for(240_000)), (239_616, 1_024));
        let top = index_for(MAX_VALUE);
        assert!(top < COUNTS_LEN, "{top}");
        // Every value maps to a range that holds it, and indexes grow with values.
        let mut last = 0;
        let mut v = 1u64;
        while v <= MAX_VALUE {
            let i = index_for(v);
            let (low, width) = value_at_index(i);
            assert!(low <= v && v < low + width, "{v} in [{low}, +{width})");
            assert!(i >= last);
            last = i;
            v += v / 97 + 1;
        }
    }

    #[test]
    fn percentiles_as_redis_prints_them() {
        let h = Histogram::default();
        assert_eq!(h.snapshot().value_at_percentile(50.0), 0);
        h.record(10_000);
        let s = h.snapshot();
        // Redis: p0=9.984,p50=10.047,p100=10.047 for a single 10 us sample.
        assert_eq!(s.value_at_percentile(0.0), 9_984);
        assert_eq!(s.value_at_percentile(50.0), 10_047);
        assert_eq!(s.value_at_percentile(100.0), 10_047);
        for _ in 0..99 {
            h.record(1_000);
        }
        let s = h.snapshot();
        assert_eq!(s.total, 100);
        assert_eq!(s.value_at_percentile(50.0), 1_003);
        assert_eq!(s.value_at_percentile(99.0), 1_003);
        assert_eq!(s.value_at_percentile(99.9), 10_047);
        // Clamped at both ends.
        h.record(0);
        h.record(5_000_000_000);
        let s = h.snapshot();
        assert_eq!(s.value_at_percentile(0.0), 1);
        assert!(s.value_at_percentile(100.0) >= MAX_VALUE);
        h.clear();
        assert_eq!(h.snapshot().total, 0);
    }
}
