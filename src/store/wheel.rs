//! A hierarchical timing wheel of key hashes, one per shard, that tells the reclaimer which
//! keys may have expired.
//!
//! Why our own (design.md): `tokio_util::time::DelayQueue` panics on deadlines beyond about two
//! years, and absolute expirations can be later. Levels of 64 slots, each level 64 times
//! coarser than the one below, cover every `u64` tick: far deadlines sit in coarse outer slots
//! and cascade inwards as their time approaches (each item moves at most once per level).
//!
//! Items are `(tick, hash)`: the wheel never points into the table, so a deleted or changed key
//! leaves at most a stale item that fires harmlessly. The shard keeps the invariant that a key
//! with a deadline has an item at or before its deadline's tick; when an item fires early
//! (the deadline was extended) the shard re-arms it.
//!
//! It owns time slots only; it never touches records.

/// Resolution of the wheel in milliseconds.
pub const TICK_MS: i64 = 10;
const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 11; // 66 bits: every u64 tick

type Level = [Vec<(u64, u64)>; SLOTS];

/// The wheel. Levels are allocated on first use so that an idle shard costs a few words.
pub struct Wheel {
    /// The next tick to process; items with an earlier tick are due.
    cur: u64,
    levels: [Option<Box<Level>>; LEVELS],
    /// Items whose tick has passed, not yet handed out (the per-tick budget ran out).
    due: Vec<u64>,
    len: usize,
    /// Items per level: `advance` skips stretches of time in which nothing can happen.
    counts: [usize; LEVELS],
    /// Ticks `advance` has stepped through one by one (bounded work, checked in tests).
    steps: u64,
}

/// The tick at which a deadline (unix ms) is due: rounded up, so that firing is never early.
pub fn tick_of(deadline_ms: i64) -> u64 {
    if deadline_ms <= 0 {
        0
    } else {
        (deadline_ms as u64).div_ceil(TICK_MS as u64)
    }
}

impl Wheel {
    pub fn new(now_ms: i64) -> Wheel {
        Wheel {
            cur: (now_ms.max(0) as u64) / TICK_MS as u64,
            levels: Default::default(),
            due: Vec::new(),
            len: 0,
            counts: [0; LEVELS],
            steps: 0,
        }
    }

    /// Items held (including stale ones), for INFO.
    pub fn len(&self) -> usize {
        self.len + self.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.levels = Default::default();
        self.due = Vec::new();
        self.len = 0;
        self.counts = [0; LEVELS];
    }

    /// Registers `hash` to fire at `deadline_ms`.
    pub fn insert(&mut self, deadline_ms: i64, hash: u64) {
        let tick = tick_of(deadline_ms);
        if tick < self.cur {
            self.due.push(hash);
            return;
        }
        self.place(tick, hash);
    }

    fn place(&mut self, tick: u64, hash: u64) {
        let delta = tick - self.cur;
        let mut level = 0;
        while level + 1 < LEVELS && delta >= 1u64 << (BITS * (level as u32 + 1)) {
            level += 1;
        }
        let slot = ((tick >> (BITS * level as u32)) as usize) & (SLOTS - 1);
        let lv = self.levels[level].get_or_insert_with(|| Box::new(std::array::from_fn(|_| Vec::new())));
        lv[slot].push((tick, hash));
        self.len += 1;
        self.counts[level] += 1;
    }

    /// Advances time to `now_ms` and hands out at most `budget` due hashes to `fire`. Items
    /// beyond the budget stay due and come out first on the next call.
    pub fn advance(&mut self, now_ms: i64, budget: usize, mut fire: impl FnMut(u64)) -> usize {
        let target = (now_ms.max(0) as u64) / TICK_MS as u64;
        while self.cur <= target && self.due.len() < budget {
            if self.len == 0 {
                // Nothing placed: jump straight to the target.
                self.cur = target + 1;
                break;
            }
            let idx = (self.cur as usize) & (SLOTS - 1);
            if idx == 0 {
                self.cascade();
            }
            if let Some(lv) = self.levels[0].as_mut() {
                let items = std::mem::take(&mut lv[idx]);
                self.len -= items.len();
                self.counts[0] -= items.len();
                self.due.extend(items.into_iter().map(|(_, h)| h));
            }
            self.cur += 1;
            self.steps += 1;
            // Nothing happens before the next cascade of the lowest non-empty level: jump
            // there. Without this, a shard whose wheel sat empty (the reclaimer skips it) and
            // then gets a deadline would step through every tick it missed, under its lock.
            if let Some(lowest) = self.counts.iter().position(|&n| n > 0) {
                if lowest > 0 {
                    let step = 1u64 << (BITS * lowest as u32);
                    let next = self.cur.div_ceil(step).saturating_mul(step);
                    self.cur = next.min(target + 1).max(self.cur);
                }
            }
        }
        let n = self.due.len().min(budget);
        for h in self.due.drain(..n) {
            fire(h);
        }
        if self.due.capacity() > 1024 && self.due.len() < self.due.capacity() / 4 {
            self.due.shrink_to_fit();
        }
        n
    }

    /// At a level-0 wrap, moves the current slot of each outer level down.
    fn cascade(&mut self) {
        for level in 1..LEVELS {
            let idx = ((self.cur >> (BITS * level as u32)) as usize) & (SLOTS - 1);
            let items = match self.levels[level].as_mut() {
                Some(lv) => std::mem::take(&mut lv[idx]),
                None => Vec::new(),
            };
            self.len -= items.len();
            self.counts[level] -= items.len();
            for (tick, hash) in items {
                if tick < self.cur {
                    self.due.push(hash);
                } else {
                    self.place(tick, hash);
                }
            }
            if idx != 0 {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_deadline_not_before() {
        let now = 1_700_000_000_000;
        let mut w = Wheel::new(now);
        w.insert(now + 25, 1);
        w.insert(now + 5_000, 2);
        w.insert(now + 86_400_000 * 365 * 50, 3); // fifty years
        let mut got = vec![];
        w.advance(now + 20, 100, |h| got.push(h));
        assert!(got.is_empty());
        w.advance(now + 30, 100, |h| got.push(h));
        assert_eq!(got, vec![1]);
        w.advance(now + 4_990, 100, |h| got.push(h));
        assert_eq!(got, vec![1]);
        w.advance(now + 5_010, 100, |h| got.push(h));
        assert_eq!(got, vec![1, 2]);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn budget_bounds_work() {
        let now = 1_000_000;
        let mut w = Wheel::new(now);
        for h in 0..1000 {
            w.insert(now + 10, h);
        }
        let mut n = 0;
        assert_eq!(w.advance(now + 100, 300, |_| n += 1), 300);
        assert_eq!(w.advance(now + 100, 300, |_| n += 1), 300);
        assert_eq!(w.advance(now + 100, 1000, |_| n += 1), 400);
        assert_eq!(n, 1000);
    }

    /// A wheel that fell behind (its shard had no deadlines, so the reclaimer skipped it)
    /// catches up in a few steps, not one per missed tick, and still fires on time.
    #[test]
    fn stale_wheel_catches_up_cheaply() {
        let start = 1_700_000_000_000;
        let mut w = Wheel::new(start);
        let day = 86_400_000;
        let now = start + day;
        w.insert(now + 1_000, 1);
        w.insert(now + 5 * day, 2);
        let mut got = vec![];
        w.advance(now, 100, |h| got.push(h));
        assert!(got.is_empty());
        assert!(w.steps < 1_000, "{} steps", w.steps);
        w.advance(now + 990, 100, |h| got.push(h));
        assert!(got.is_empty());
        w.advance(now + 1_000, 100, |h| got.push(h));
        assert_eq!(got, vec![1]);
        let mut t = now + 1_000;
        while got.len() < 2 {
            t += 3_600_000;
            w.advance(t, 100, |h| got.push(h));
        }
        assert_eq!(got, vec![1, 2]);
        assert!(t >= now + 5 * day && t < now + 5 * day + 3_600_000);
        assert!(w.steps < 20_000, "{} steps", w.steps);
        assert!(w.is_empty());
    }

    /// Every item fires at its tick, never before, whatever the mix of distances.
    #[test]
    fn fires_exactly_on_its_tick() {
        let now = 1_000_000_000;
        let mut w = Wheel::new(now);
        let mut x = 12345u64;
        let mut want = std::collections::BTreeMap::new();
        for h in 0..2_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let span = [100, 10_000, 1_000_000, 50_000_000][(x >> 60) as usize % 4];
            let d = now + 1 + ((x >> 20) % span) as i64;
            w.insert(d, h);
            want.insert(h, tick_of(d));
        }
        let mut t = now;
        let end = now + 50_000_000;
        while t <= end {
            w.advance(t, usize::MAX, |h| {
                let due = want.remove(&h).expect("fired twice");
                assert!(due * TICK_MS as u64 <= t as u64, "early: {h}");
                assert!(due * (TICK_MS as u64) + 10_000 > t as u64, "late: {h}");
            });
            t += 1_000 + (t % 7);
        }
        assert!(want.is_empty());
    }

    #[test]
    fn past_deadlines_are_due_at_once() {
        let mut w = Wheel::new(5_000);
        w.insert(1, 7);
        let mut got = vec![];
        w.advance(5_000, 10, |h| got.push(h));
        assert_eq!(got, vec![7]);
    }
}
