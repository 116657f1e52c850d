//! Usage per namespace in Workers KV's billing units (reads, writes, deletes, lists), for
//! today (UTC) and since start, and the daily quotas that mirror Workers KV's free tier.
//!
//! Counting is a few relaxed atomic operations on the KV surfaces only; the plain Redis
//! commands are not billed (they are the operator's own access, and their hot path stays
//! free of shared counters).

use crate::errors::{KvError, KvOp};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

const MS_PER_DAY: i64 = 86_400_000;

/// The UTC day of a unix time in milliseconds: counters reset when it changes (00:00 UTC).
pub fn utc_day(now_ms: i64) -> i64 {
    now_ms.div_euclid(MS_PER_DAY)
}

fn slot(op: KvOp) -> usize {
    match op {
        KvOp::Read => 0,
        KvOp::Write => 1,
        KvOp::Delete => 2,
        KvOp::List => 3,
    }
}

#[derive(Default)]
pub struct Usage {
    /// The UTC day that `today` counts.
    day: AtomicI64,
    today: [AtomicU64; 4],
    total: [AtomicU64; 4],
}

/// A copy of the counters: `[reads, writes, deletes, lists]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub today: [u64; 4],
    pub total: [u64; 4],
}

impl Usage {
    /// Zeroes every counter (a namespace created in a reused slot).
    pub fn reset(&self) {
        for c in self.today.iter().chain(self.total.iter()) {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Starts a new day's counts when the UTC day changed.
    fn roll(&self, now_ms: i64) {
        let day = utc_day(now_ms);
        let seen = self.day.load(Ordering::Acquire);
        if seen != day
            && self
                .day
                .compare_exchange(seen, day, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            for c in &self.today {
                c.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Counts `n` operations of kind `op`, unless that would pass today's `quota` (0: none):
    /// then nothing is counted and the operation must not happen.
    pub fn charge(&self, op: KvOp, n: u64, quota: i64, now_ms: i64) -> Result<(), KvError> {
        self.roll(now_ms);
        let i = slot(op);
        let before = self.today[i].fetch_add(n, Ordering::Relaxed);
        if quota > 0 && before + n > quota as u64 {
            self.today[i].fetch_sub(n, Ordering::Relaxed);
            return Err(KvError::QuotaExceeded(op));
        }
        self.total[i].fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back `n` operations charged for work that did not happen after all.
    pub fn refund(&self, op: KvOp, n: u64) {
        let i = slot(op);
        self.today[i].fetch_sub(n, Ordering::Relaxed);
        self.total[i].fetch_sub(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self, now_ms: i64) -> Snapshot {
        self.roll(now_ms);
        let read = |a: &[AtomicU64; 4]| std::array::from_fn(|i| a[i].load(Ordering::Relaxed));
        Snapshot {
            today: read(&self.today),
            total: read(&self.total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_refuses_without_counting_and_resets_at_midnight_utc() {
        let u = Usage::default();
        // The last millisecond of a UTC day, then the next midnight.
        let late = 1_796_342_399_999;
        let midnight = late + 1;
        assert_eq!(utc_day(late) + 1, utc_day(midnight));
        u.charge(KvOp::Write, 2, 3, late).unwrap();
        assert_eq!(
            u.charge(KvOp::Write, 2, 3, late),
            Err(KvError::QuotaExceeded(KvOp::Write))
        );
        u.charge(KvOp::Write, 1, 3, late).unwrap();
        assert_eq!(
            u.charge(KvOp::Write, 1, 3, late),
            Err(KvError::QuotaExceeded(KvOp::Write))
        );
        // Other kinds are counted apart; no quota means none.
        u.charge(KvOp::Read, 1_000_000, 0, late).unwrap();
        assert_eq!(u.snapshot(late).today, [1_000_000, 3, 0, 0]);
        u.charge(KvOp::Write, 3, 3, midnight).unwrap();
        let s = u.snapshot(midnight);
        assert_eq!(s.today, [0, 3, 0, 0]);
        assert_eq!(s.total, [1_000_000, 6, 0, 0]);
    }
}
