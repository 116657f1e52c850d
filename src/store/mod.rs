//! The keyspace: numbered namespaces (Redis databases), each split into shards by key hash.
//!
//! Owns records, deadlines, the timing wheels and their reclaimer, glob matching and the WATCH
//! registry. It never does I/O and never knows the protocol.
//!
//! Locking: a command takes `gate` shared (single-key commands) or exclusive (multi-key
//! commands, EXEC), then locks one shard at a time, never across `.await`. Watched keys are
//! touched after the shard lock is released.
//!
//! Structures, chosen by measurement (README "Memory and structures"): one allocation per
//! record, a Redis-style chained hash table (SCAN's reverse-binary cursor) and an ordered
//! index of pointers to the same records (prefix listing in key order).

pub mod entry;
pub mod glob;
pub mod shard;
pub mod watch;
pub mod wheel;

use crate::persist::format::Op;
use crate::persist::log::Aof;
use bytes::Bytes;
use entry::{Entry, Rec};
use parking_lot::{Mutex, MutexGuard, RwLock};
use shard::{hash_key, Shard};
pub use shard::{Action, Appended, Meta, Put};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::RandomState;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};
use watch::Watches;

/// Shards per namespace, a power of two. The top bits of a key's hash pick the shard; the low
/// bits pick the bucket inside it.
pub const SHARD_BITS: u32 = 5;
pub const SHARDS: usize = 1 << SHARD_BITS;

/// Wheel items a shard's reclaimer handles per tick: bounds the time a shard is locked.
pub const RECLAIM_BUDGET: usize = 500;

/// Buckets an idle shard's incremental rehash moves per reclaimer tick.
pub const REHASH_BUDGET: usize = 1000;

/// Current time in unix milliseconds. Commands read it once and pass it down.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[repr(align(64))]
struct Padded(Mutex<Shard>);

struct Db {
    shards: Box<[Padded]>,
}

impl Db {
    fn new(hasher: &RandomState, now: i64) -> Db {
        Db {
            shards: (0..SHARDS)
                .map(|_| Padded(Mutex::new(Shard::new(hasher.clone(), now))))
                .collect(),
        }
    }
}

/// Counters the store keeps beyond what shards count.
#[derive(Default)]
pub struct StoreStats {
    pub reclaimed: AtomicU64,
}

pub struct Store {
    /// Slots by index: the numbered databases first (created at start), then the slots of
    /// Workers KV namespaces, created on first use. A slot, once created, stays for the life of
    /// the process (a deleted namespace's slot is emptied and reused), so a reference to a
    /// `Db` never dangles and reaching one costs one atomic load.
    dbs: Box<[OnceLock<Db>]>,
    numbered: usize,
    hasher: RandomState,
    /// Shared for single-key commands, exclusive for multi-key commands and EXEC.
    pub gate: RwLock<()>,
    pub watches: Watches,
    pub stats: StoreStats,
    /// The append-only log every change is recorded in, with its shard still locked (set once
    /// at start; it records only while logging is on).
    pub aof: OnceLock<Arc<Aof>>,
}

/// What one reclaimer pass did.
#[derive(Debug, Clone, Copy)]
pub struct Reclaimed {
    pub removed: usize,
    /// Some wheel still holds items (deadlines to come).
    pub waiting: bool,
}

/// Summary of one namespace for INFO keyspace and DBSIZE.
#[derive(Debug, Default, Clone, Copy)]
pub struct DbInfo {
    pub keys: usize,
    pub expires: usize,
    pub avg_ttl: i64,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
}

impl Store {
    /// A store with `databases` numbered databases and no namespace slots.
    pub fn new(databases: usize) -> Store {
        Store::with_slots(databases, 0)
    }

    /// A store with `databases` numbered databases and `extra` further slots for namespaces.
    pub fn with_slots(databases: usize, extra: usize) -> Store {
        let hasher = RandomState::new();
        let now = now_ms();
        let dbs: Box<[OnceLock<Db>]> = (0..databases + extra).map(|_| OnceLock::new()).collect();
        for d in &dbs[..databases] {
            let _ = d.set(Db::new(&hasher, now));
        }
        Store {
            dbs,
            numbered: databases,
            hasher,
            gate: RwLock::new(()),
            watches: Watches::default(),
            stats: StoreStats::default(),
            aof: OnceLock::new(),
        }
    }

    /// The log, when logging is on.
    #[inline]
    pub fn journal(&self) -> Option<&Aof> {
        self.aof.get().map(|a| &**a).filter(|a| a.enabled())
    }

    /// Compaction's dump, a chunk at a time: from SCAN cursor `cursor` of shard `shard` of
    /// `db`, a PUT record per live key into `out`, until about `max_keys` keys or the end of
    /// the shard; returns the next cursor (0: the shard is done). The shard is locked (and
    /// the gate held shared) for the chunk only, so no writer waits long.
    ///
    /// A dump taken chunk by chunk is not a snapshot, and need not be: SCAN's cursor visits
    /// every key present for the whole dump at least once, and every write made meanwhile is
    /// in the incremental file replayed over the dump (persist/format.rs).
    pub fn dump_chunk(
        &self,
        db: usize,
        shard: usize,
        cursor: u64,
        max_keys: usize,
        out: &mut Vec<u8>,
        now: i64,
    ) -> u64 {
        let _g = self.gate.read();
        let s = self.slot(db).shards[shard].0.lock();
        let mut cursor = cursor;
        let mut n = 0;
        loop {
            cursor = s.scan_step(cursor, now, |r| {
                n += 1;
                crate::persist::format::encode(
                    out,
                    &Op::Put {
                        db: db as u32,
                        key: r.key(),
                        value: r.value(),
                        deadline: r.deadline(),
                        meta: r.meta(),
                    },
                )
            });
            if cursor == 0 || n >= max_keys {
                return cursor;
            }
        }
    }

    /// The numbered databases (Redis's `databases`); namespace slots follow them.
    pub fn databases(&self) -> usize {
        self.numbered
    }

    /// Every slot: numbered databases and namespace slots.
    pub fn slots(&self) -> usize {
        self.dbs.len()
    }

    /// Slot `i`, created on first use.
    #[inline]
    fn slot(&self, i: usize) -> &Db {
        self.dbs[i].get_or_init(|| Db::new(&self.hasher, now_ms()))
    }

    /// The slots created so far, with their indexes.
    fn live(&self) -> impl Iterator<Item = (usize, &Db)> {
        self.dbs.iter().enumerate().filter_map(|(i, d)| d.get().map(|d| (i, d)))
    }

    /// The indexes of the slots created so far (numbered databases first).
    pub fn created(&self) -> impl Iterator<Item = usize> + '_ {
        self.live().map(|(i, _)| i)
    }

    /// True when slot `i` was ever used.
    pub fn is_created(&self, i: usize) -> bool {
        self.dbs.get(i).is_some_and(|d| d.get().is_some())
    }

    /// Builds the ordered index of every shard of `db` now, so that listings never pay for a
    /// first build (Workers KV namespaces: created empty, their index grows with them).
    pub fn index_now(&self, db: usize) {
        for s in self.slot(db).shards.iter() {
            s.0.lock().ensure_index();
        }
    }

    /// A view of namespace `db` at time `now`.
    pub fn db(&self, db: usize, now: i64) -> DbRef<'_> {
        DbRef {
            store: self,
            db,
            now,
            count: false,
        }
    }

    /// Swaps the contents of two namespaces (SWAPDB). Caller holds `gate` exclusively.
    pub fn swap(&self, a: usize, b: usize, now: i64) {
        if a == b {
            return;
        }
        // Redis touches watched keys that exist in either namespace before or after.
        let watched: Vec<_> = [a, b]
            .iter()
            .flat_map(|&d| self.watches.watched_in(d).into_iter().map(move |w| (d, w)))
            .collect();
        for i in 0..SHARDS {
            let mut x = self.slot(a).shards[i].0.lock();
            let mut y = self.slot(b).shards[i].0.lock();
            std::mem::swap(&mut *x, &mut *y);
        }
        // Under the exclusive gate: nothing else is logged meanwhile.
        if let Some(aof) = self.journal() {
            aof.log(&Op::Swap {
                a: a as u32,
                b: b as u32,
            });
            aof.note_swap();
        }
        for (d, (key, flags)) in watched {
            let other = if d == a { b } else { a };
            if self.db(d, now).exists(&key) || self.db(other, now).exists(&key) {
                for f in flags {
                    f.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Prefetches the buckets of `keys`, then their chains' first records (see
    /// `command::prefetch`). At most 64 keys are considered.
    pub fn prefetch<'k>(&self, db: usize, keys: impl Iterator<Item = &'k [u8]>) {
        if db >= self.dbs.len() {
            return;
        }
        let d = self.slot(db);
        let mut hashes = [0u64; 64];
        let mut n = 0;
        for k in keys.take(64) {
            let h = hash_key(&self.hasher, k);
            d.shards[(h >> (64 - SHARD_BITS)) as usize].0.lock().prefetch_bucket(h);
            hashes[n] = h;
            n += 1;
        }
        for &h in &hashes[..n] {
            d.shards[(h >> (64 - SHARD_BITS)) as usize].0.lock().prefetch_record(h);
        }
    }

    /// Summary of a namespace.
    pub fn info(&self, db: usize, now: i64) -> DbInfo {
        let mut out = DbInfo::default();
        let mut sum: i128 = 0;
        for s in self.slot(db).shards.iter() {
            let s = s.0.lock();
            out.keys += s.len();
            out.expires += s.expires();
            out.bytes += s.bytes();
            out.hits += s.hits;
            out.misses += s.misses;
            out.expired += s.expired;
            sum += s.deadline_sum();
        }
        if out.expires > 0 {
            out.avg_ttl = ((sum / out.expires as i128) as i64 - now).max(0);
        }
        out
    }

    /// One reclaimer pass over every shard (the result says whether any wheel still holds
    /// items, so an idle reclaimer can tick less often): removes keys whose deadline has passed, at most
    /// `RECLAIM_BUDGET` wheel items per shard. Returns the number of keys removed.
    pub fn reclaim(&self, now: i64) -> Reclaimed {
        let _g = self.gate.read();
        let mut total = 0;
        let mut waiting = false;
        for (d, db) in self.live() {
            for s in db.shards.iter() {
                let mut removed = Vec::new();
                let watching = self.watches.active();
                {
                    let mut sh = s.0.lock();
                    // An idle shard's incremental rehash moves on here too, and a wheel full
                    // of stale items is rebuilt.
                    waiting |= sh.rehash_some(REHASH_BUDGET);
                    sh.compact_wheel(now);
                    if sh.wheel_len() == 0 {
                        continue;
                    }
                    total += sh.reclaim(now, RECLAIM_BUDGET, |k| {
                        if watching {
                            removed.push(Bytes::copy_from_slice(k))
                        }
                    });
                    waiting |= sh.wheel_len() > 0;
                }
                for k in removed {
                    self.watches.touch(d, &k);
                }
            }
        }
        self.stats.reclaimed.fetch_add(total as u64, Ordering::Relaxed);
        Reclaimed {
            removed: total,
            waiting,
        }
    }

    /// Keys removed because they expired, over all namespaces.
    pub fn expired_total(&self) -> u64 {
        self.live()
            .map(|(_, d)| d.shards.iter().map(|s| s.0.lock().expired).sum::<u64>())
            .sum()
    }

    /// Keyspace hits and misses over all namespaces.
    pub fn hits_misses(&self) -> (u64, u64) {
        let mut h = 0;
        let mut m = 0;
        for (_, db) in self.live() {
            for s in db.shards.iter() {
                let s = s.0.lock();
                h += s.hits;
                m += s.misses;
            }
        }
        (h, m)
    }

    /// Clears the hit and miss counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for (_, db) in self.live() {
            for s in db.shards.iter() {
                let mut s = s.0.lock();
                s.hits = 0;
                s.misses = 0;
                s.expired = 0;
            }
        }
    }
}

/// Namespace `db` at time `now`: every key operation of the commands goes through here, so
/// lazy expiry and WATCH touches happen in one place.
#[derive(Clone, Copy)]
pub struct DbRef<'a> {
    store: &'a Store,
    pub db: usize,
    pub now: i64,
    /// Count keyspace hits and misses (Redis's read lookups do; writes and internal checks
    /// do not). See `counted`.
    count: bool,
}

impl<'a> DbRef<'a> {
    /// The same view, counting keyspace hits and misses for the lookups made through it (the
    /// commands that Redis serves with `lookupKeyRead`: GET, STRLEN, EXISTS, TTL, ...).
    pub fn counted(mut self) -> Self {
        self.count = true;
        self
    }

    #[inline]
    fn tally(&self, s: &mut Shard, hit: bool) {
        if self.count {
            if hit {
                s.hits += 1;
            } else {
                s.misses += 1;
            }
        }
    }

    #[inline]
    fn locate(&self, key: &[u8]) -> (u64, MutexGuard<'a, Shard>) {
        let h = hash_key(&self.store.hasher, key);
        let shard = (h >> (64 - SHARD_BITS)) as usize;
        (h, self.store.slot(self.db).shards[shard].0.lock())
    }

    /// Records what a write left in `key`, as the shard hands it over with its lock still
    /// held: the whole record as stored, or `None` when the write deleted the key. The record
    /// is the one just written, so the log needs no second lookup.
    #[inline]
    fn log_written(&self, key: &[u8], rec: Option<&Rec>) {
        if let Some(aof) = self.store.journal() {
            let db = self.db as u32;
            match rec {
                // A record written with its deadline already past (commands delete such a key
                // instead, as Redis's `checkAlreadyExpired`) is logged as what every reader
                // sees: no key.
                Some(r) if !r.is_expired(self.now) => aof.log(&Op::Put {
                    db,
                    key: r.key(),
                    value: r.value(),
                    deadline: r.deadline(),
                    meta: r.meta(),
                }),
                _ => aof.log(&Op::Del { db, key }),
            }
        }
    }

    #[inline]
    fn log(&self, op: Op) {
        if let Some(aof) = self.store.journal() {
            aof.log(&op);
        }
    }

    #[inline]
    fn touch(&self, key: &[u8]) {
        self.store.watches.touch(self.db, key);
    }

    /// Runs `f` on `key`'s shard. Watchers of `key` are touched when `changed` says the
    /// operation wrote, and also when lazy expiry removed the key on the way (Redis counts an
    /// expiry deletion as a modification of a watched key).
    #[inline]
    fn op<R>(&self, key: &[u8], f: impl FnOnce(u64, &mut Shard) -> R, changed: impl FnOnce(&R) -> bool) -> R {
        let (h, mut s) = self.locate(key);
        let before = s.expired;
        let r = f(h, &mut s);
        let expired = s.expired != before;
        drop(s);
        if expired || changed(&r) {
            self.touch(key);
        }
        r
    }

    /// The value of a live key (always counts a keyspace hit or miss, as GET and MGET do).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.counted().read(key, |r| Bytes::copy_from_slice(r.value()))
    }

    /// Calls `f` with a live key's record.
    pub fn read<R>(&self, key: &[u8], f: impl FnOnce(&Rec) -> R) -> Option<R> {
        self.op(
            key,
            |h, s| {
                let r = s.read(h, key, self.now, f);
                self.tally(s, r.is_some());
                r
            },
            |_| false,
        )
    }

    pub fn exists(&self, key: &[u8]) -> bool {
        self.op(
            key,
            |h, s| {
                let found = s.contains(h, key, self.now);
                self.tally(s, found);
                found
            },
            |_| false,
        )
    }

    /// The deadline of a live key: `None` when missing, `Some(None)` without a deadline.
    pub fn deadline(&self, key: &[u8]) -> Option<Option<i64>> {
        self.read(key, |r| r.deadline())
    }

    /// Writes a whole record.
    pub fn put(&self, key: &[u8], value: &[u8], deadline: Option<i64>, meta: Option<&[u8]>) {
        self.op(
            key,
            |h, s| {
                let put = Put {
                    value: std::borrow::Cow::Borrowed(value),
                    deadline,
                    meta: meta.map_or(Meta::Clear, Meta::Set),
                };
                s.modify(
                    h,
                    key,
                    self.now,
                    |_| (Action::Put(put), ()),
                    |r| self.log_written(key, r),
                );
            },
            |_| true,
        )
    }

    /// Reads and changes one key atomically (see `Shard::modify`).
    #[inline]
    pub fn modify<'v, R>(&self, key: &[u8], f: impl FnOnce(Option<&Rec>) -> (Action<'v>, R)) -> R {
        self.op(
            key,
            |h, s| {
                let mut found = false;
                let r = s.modify(
                    h,
                    key,
                    self.now,
                    |old| {
                        found = old.is_some();
                        f(old)
                    },
                    |rec| self.log_written(key, rec),
                );
                self.tally(s, found);
                r
            },
            |r| r.1,
        )
        .0
    }

    /// Appends to a live key's value in place, up to `max` bytes in all.
    pub fn append(&self, key: &[u8], extra: &[u8], max: usize) -> Appended {
        self.op(
            key,
            |h, s| {
                let r = s.append(h, key, extra, max, self.now);
                if let Appended::Done(new_len) = r {
                    self.log(Op::Append {
                        db: self.db as u32,
                        key,
                        new_len: new_len as u64,
                        extra,
                    });
                }
                r
            },
            |r| matches!(r, Appended::Done(_)),
        )
    }

    /// Sets or clears a live key's deadline. False when the key does not exist.
    pub fn set_deadline(&self, key: &[u8], deadline: Option<i64>) -> bool {
        self.op(
            key,
            |h, s| {
                let ok = s.set_deadline(h, key, deadline, self.now);
                if ok {
                    let db = self.db as u32;
                    // A deadline already past (commands delete instead) leaves a key no
                    // reader sees: logged as its deletion, as `log_written` does.
                    if matches!(deadline, Some(d) if self.now > d) {
                        self.log(Op::Del { db, key });
                    } else {
                        self.log(Op::Deadline { db, key, deadline });
                    }
                }
                ok
            },
            |ok| *ok,
        )
    }

    /// Removes a live key and returns its record.
    pub fn take(&self, key: &[u8]) -> Option<Entry> {
        self.op(
            key,
            |h, s| {
                let e = s.take(h, key, self.now);
                self.tally(s, e.is_some());
                if e.is_some() {
                    self.log(Op::Del {
                        db: self.db as u32,
                        key,
                    });
                }
                e
            },
            |e| e.is_some(),
        )
    }

    pub fn remove(&self, key: &[u8]) -> bool {
        self.take(key).is_some()
    }

    /// Stores an owned record under its own key, replacing any old one.
    pub fn put_entry(&self, entry: Entry) {
        let key = Bytes::copy_from_slice(entry.key());
        self.op(
            &key,
            |h, s| {
                s.put_entry(h, entry, self.now, |r| self.log_written(&key, Some(r)));
            },
            |_| true,
        )
    }

    /// Keys held in memory (expired ones not yet reclaimed included, as in Redis).
    pub fn len(&self) -> usize {
        self.store.slot(self.db).shards.iter().map(|s| s.0.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key. Returns the number removed.
    pub fn clear(&self) -> usize {
        let watched = self.store.watches.watched_in(self.db);
        let watched: Vec<_> = watched.into_iter().filter(|(k, _)| self.exists(k)).collect();
        let mut n = 0;
        for s in self.store.slot(self.db).shards.iter() {
            let mut s = s.0.lock();
            n += s.len();
            s.clear();
        }
        // Callers hold the gate exclusively (FLUSHDB, FLUSHALL, KV.NAMESPACE DELETE), so no
        // write of this namespace can fall between the shards' clearing and this record.
        self.log(Op::Clear { db: self.db as u32 });
        for (_, flags) in watched {
            for f in flags {
                f.store(true, Ordering::Relaxed);
            }
        }
        n
    }

    /// One SCAN call: visits buckets from `cursor` until `count` keys were collected or
    /// `count * 10` buckets were visited (as Redis's `scanGenericCommand`), and returns the
    /// next cursor with the keys that `keep` accepts.
    pub fn scan(&self, cursor: u64, count: usize, mut keep: impl FnMut(&Rec) -> bool) -> (u64, Vec<Bytes>) {
        let mut shard = (cursor as usize) & (SHARDS - 1);
        let mut v = cursor >> SHARD_BITS;
        let mut out = Vec::new();
        // Like Redis, COUNT counts keys seen before filtering.
        let mut seen = 0usize;
        let mut budget = count.saturating_mul(10).max(1);
        loop {
            let s = self.store.slot(self.db).shards[shard].0.lock();
            loop {
                v = s.scan_step(v, self.now, |r| {
                    seen += 1;
                    if keep(r) {
                        out.push(Bytes::copy_from_slice(r.key()));
                    }
                });
                budget -= 1;
                if v == 0 || budget == 0 || seen >= count {
                    break;
                }
            }
            drop(s);
            if v == 0 {
                shard += 1;
                if shard == SHARDS {
                    return (0, out);
                }
            }
            if budget == 0 || seen >= count {
                return ((v << SHARD_BITS) | shard as u64, out);
            }
        }
    }

    /// Calls `f` for every live key (KEYS).
    pub fn for_each(&self, mut f: impl FnMut(&Rec)) {
        for s in self.store.slot(self.db).shards.iter() {
            s.0.lock().for_each(self.now, &mut f);
        }
    }

    /// Walks live keys in byte order from `from` over all shards, until `f` returns false.
    /// A k-way merge of the shards' ordered indexes; it holds every shard's lock meanwhile,
    /// so the walk sees one consistent state (shards are always locked in index order).
    pub fn walk_ordered(&self, from: Bound<&[u8]>, mut f: impl FnMut(&Rec) -> bool) {
        // Build missing indexes one shard at a time first, so that a first walk over a large
        // namespace stalls one shard at a time (~175 ms per shard at 10M keys) instead of
        // the whole namespace for seconds. An index, once built, is never dropped.
        for s in self.store.slot(self.db).shards.iter() {
            s.0.lock().ensure_index();
        }
        let mut guards: Vec<_> = self.store.slot(self.db).shards.iter().map(|s| s.0.lock()).collect();
        for g in guards.iter_mut() {
            g.ensure_index(); // a no-op unless a SWAPDB moved an unindexed shard in meanwhile
        }
        let mut iters: Vec<_> = guards.iter().map(|g| g.ordered_from(from, self.now)).collect();
        // A min-heap of each shard's next key: log2(32) = 5 comparisons per key listed, on key
        // slices taken once (a scan of the 32 heads cost 32 comparisons, each decoding a record
        // header). A key lives in one shard only, so keys in the heap are distinct.
        let mut heads: Vec<Option<_>> = Vec::with_capacity(iters.len());
        let mut heap = BinaryHeap::with_capacity(iters.len());
        for (i, it) in iters.iter_mut().enumerate() {
            let head = it.next();
            if let Some(r) = &head {
                heap.push(Reverse((r.key_for_lock(), i)));
            }
            heads.push(head);
        }
        while let Some(Reverse((_, i))) = heap.pop() {
            let rec = heads[i].take().expect("a head for every heap entry");
            if !f(&rec) {
                return;
            }
            if let Some(next) = iters[i].next() {
                heap.push(Reverse((next.key_for_lock(), i)));
                heads[i] = Some(next);
            }
        }
    }

    /// A random live key (RANDOMKEY).
    pub fn random_key(&self) -> Option<Bytes> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let shards = &self.store.slot(self.db).shards;
        // Pick a shard with probability proportional to its size, so every key is about as
        // likely as any other; a shard that turns out to hold only expired keys is dropped
        // from the draw, so a live key anywhere is always found.
        let mut sizes: Vec<(usize, usize)> = (0..SHARDS)
            .map(|i| (i, shards[i].0.lock().len()))
            .filter(|&(_, n)| n > 0)
            .collect();
        while !sizes.is_empty() {
            let total: usize = sizes.iter().map(|&(_, n)| n).sum();
            let mut r = rng.gen_range(0..total);
            let pos = sizes
                .iter()
                .position(|&(_, n)| {
                    if r < n {
                        true
                    } else {
                        r -= n;
                        false
                    }
                })
                .expect("r < total");
            let mut expired = Vec::new();
            let watching = self.store.watches.active();
            let key = shards[sizes[pos].0].0.lock().random_key(
                self.now,
                || rng.gen(),
                |k| {
                    if watching {
                        expired.push(Bytes::copy_from_slice(k))
                    }
                },
            );
            for k in expired {
                self.touch(&k);
            }
            if let Some(k) = key {
                return Some(Bytes::from(k));
            }
            sizes.swap_remove(pos);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn listed(db: &DbRef, from: Bound<&[u8]>, limit: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        db.walk_ordered(from, |r| {
            out.push(r.key().to_vec());
            out.len() < limit
        });
        out
    }

    #[test]
    fn ordered_walk_follows_writes_after_the_index_is_built() {
        let store = Store::new(1);
        let now = now_ms();
        let db = store.db(0, now);
        let mut model = BTreeSet::new();
        for i in 0..5000u32 {
            let k = format!("k{:05}", (i * 7919) % 10007).into_bytes();
            db.put(&k, b"v", None, None);
            model.insert(k);
        }
        // First walk builds the indexes.
        let all = listed(&db, Bound::Unbounded, usize::MAX);
        assert_eq!(all, model.iter().cloned().collect::<Vec<_>>());
        // Writes after that keep them in step: inserts, deletes, replacements, deadlines.
        for i in 0..3000u32 {
            let k = format!("k{:05}", (i * 104729) % 10007).into_bytes();
            if i % 3 == 0 {
                db.remove(&k);
                model.remove(&k);
            } else if i % 3 == 1 {
                db.put(&k, b"a longer value than before", Some(now + 100_000), None);
                model.insert(k);
            } else {
                db.set_deadline(&k, Some(now + 50_000));
            }
        }
        // A key whose deadline has passed is never listed.
        db.put(b"k00000-expired", b"v", Some(now - 1), None);
        let all = listed(&db, Bound::Unbounded, usize::MAX);
        assert_eq!(all, model.iter().cloned().collect::<Vec<_>>());
        let from = b"k05000".to_vec();
        let page = listed(&db, Bound::Excluded(&from), 100);
        let want: Vec<_> = model
            .range::<Vec<u8>, _>((Bound::Excluded(&from), Bound::Unbounded))
            .take(100)
            .cloned()
            .collect();
        assert_eq!(page, want);
    }

    /// Every write path logs the record it wrote, with no second lookup, and the log says
    /// exactly what a lookup right after the write shows: the whole record, or its absence.
    #[test]
    fn writes_log_the_state_a_lookup_shows() {
        use crate::persist::{format::encode, log::Fsync, replay};
        let dir = tempfile::tempdir().unwrap();
        let aof = Aof::new(dir.path(), Fsync::No);
        aof.rewrite(|_, _| false).unwrap(); // starts an empty log
        let store = Store::new(2);
        store.aof.set(aof.clone()).ok();
        let now = now_ms();
        let db = store.db(1, now);
        let mut want = Vec::new();
        // What the log must hold after a write of `key`: the state a lookup shows.
        let state = |want: &mut Vec<u8>, key: &[u8]| {
            let put = db.read(key, |r| {
                encode(
                    want,
                    &Op::Put {
                        db: 1,
                        key: r.key(),
                        value: r.value(),
                        deadline: r.deadline(),
                        meta: r.meta(),
                    },
                )
            });
            if put.is_none() {
                encode(want, &Op::Del { db: 1, key });
            }
        };
        let later = Some(now + 60_000);
        db.put(b"a", b"one", None, None); // a new record
        state(&mut want, b"a");
        db.put(b"a", b"two", None, Some(b"{}")); // rewritten in place
        state(&mut want, b"a");
        db.put(b"a", b"a longer value", later, None); // replaced: another layout
        state(&mut want, b"a");
        let incr = |old: Option<&Rec>| {
            let v = old.map_or(b"1".to_vec(), |r| [r.value(), b"+"].concat());
            let put = Put {
                value: std::borrow::Cow::Owned(v),
                deadline: later,
                meta: Meta::Keep,
            };
            (Action::Put(put), ())
        };
        db.modify(b"a", incr); // keeps metadata the caller never saw
        state(&mut want, b"a");
        db.modify(b"m", incr); // a new key through modify
        state(&mut want, b"m");
        db.modify(b"m", |_| (Action::Keep, ())); // no change: nothing logged
        db.modify(b"m", |_| (Action::Delete, ()));
        state(&mut want, b"m");
        db.modify(b"m", |_| (Action::Delete, ())); // nothing to delete: nothing logged
        db.put_entry(Entry::new(b"e", b"entry", later, Some(b"{\"x\":1}")));
        state(&mut want, b"e");
        db.put_entry(Entry::new(b"e", b"replaced", None, None));
        state(&mut want, b"e");
        assert!(db.set_deadline(b"e", later));
        encode(
            &mut want,
            &Op::Deadline {
                db: 1,
                key: b"e",
                deadline: later,
            },
        );
        aof.close();
        let mut got = Vec::new();
        let scan = replay::scan(&aof.dir().join("log.1.incr"), |op| {
            encode(&mut got, &op);
            Ok(())
        })
        .unwrap();
        assert_eq!(scan.problem, None);
        assert_eq!(scan.records, 9);
        assert_eq!(got, want);
    }

    #[test]
    fn scan_visits_every_key_across_resizes() {
        let store = Store::new(1);
        let db = store.db(0, now_ms());
        for i in 0..2000 {
            db.put(format!("s{}", i).as_bytes(), b"v", None, None);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut i = 2000;
        loop {
            let (next, keys) = db.scan(cursor, 10, |_| true);
            seen.extend(keys);
            // Grow and shrink the tables between calls.
            for _ in 0..20 {
                db.put(format!("s{}", i).as_bytes(), b"v", None, None);
                i += 1;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for k in 0..2000 {
            assert!(seen.contains(format!("s{}", k).as_bytes()), "key s{} missed", k);
        }
    }

    /// APPEND grows records in place (they may move): point lookups and the ordered index
    /// follow them, and deadlines stay.
    #[test]
    fn append_moves_records_and_keeps_the_index() {
        let store = Store::new(1);
        let now = now_ms();
        let db = store.db(0, now);
        for i in 0..200 {
            db.put(format!("a{i:03}").as_bytes(), b"x", Some(now + 60_000), None);
        }
        assert_eq!(listed(&db, Bound::Unbounded, 5).len(), 5); // builds the index
        let big = vec![b'y'; 70_000];
        for round in 0..3 {
            for i in (0..200).step_by(3) {
                let want = 1 + (round + 1) * big.len();
                assert_eq!(
                    db.append(format!("a{i:03}").as_bytes(), &big, usize::MAX),
                    Appended::Done(want)
                );
            }
        }
        assert_eq!(db.append(b"missing", b"z", usize::MAX), Appended::Missing);
        assert_eq!(db.append(b"a000", b"z", 10), Appended::TooLong);
        let all = listed(&db, Bound::Unbounded, usize::MAX);
        assert_eq!(all.len(), 200);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(db.get(b"a003").unwrap().len(), 1 + 3 * big.len());
        assert_eq!(db.deadline(b"a003"), Some(Some(now + 60_000)));
        assert_eq!(db.get(b"a001").unwrap().len(), 1);
    }
}
