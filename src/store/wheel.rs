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
                self.due.extend(items.into_iter().map(|(_, h)| h));
            }
            self.cur += 1;
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

    #[test]
    fn past_deadlines_are_due_at_once() {
        let mut w = Wheel::new(5_000);
        w.insert(1, 7);
        let mut got = vec![];
        w.advance(5_000, 10, |h| got.push(h));
        assert_eq!(got, vec![7]);
    }
}
