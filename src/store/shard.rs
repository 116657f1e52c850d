//! One shard of a namespace: a chained hash table for point lookups, an ordered index for
//! prefix listing, and the timing wheel of its deadlines.
//!
//! - The hash table is Redis's design (power-of-two buckets, chains through the records), so
//!   SCAN can use Redis's reverse-binary cursor and keep its guarantee across resizes: every key
//!   present for a whole iteration is returned at least once. Resizes are incremental, as in
//!   Redis: while one is under way records live in two tables and move a bucket per operation.
//! - The ordered index is a `BTreeSet` of record pointers ordered by key bytes; it serves
//!   ordered range walks (KV.LIST) without a second copy of any key. It is built the first
//!   time a shard is walked in order and maintained from then on: a namespace that is never
//!   listed (plain Redis use) pays neither its memory (~14 B/key) nor its insert cost (a
//!   B-tree descent comparing keys through pointers, ~15% of an insert-heavy SET load).
//! - Every lookup goes through `slot_of`, and every public read or write applies lazy expiry
//!   on the record it finds: an expired record is removed on sight and never shown.
//!
//! All methods are synchronous and take `&mut self`: the caller holds the shard's lock. This
//! module owns the only raw pointers of the store; none escapes a call.

use super::entry::{Entry, Rec, RecRef};
use super::wheel::Wheel;
use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::ptr;

/// A key in the ordered index: a pointer to a record that the hash table owns.
struct KeyRef(*mut u8);

impl KeyRef {
    #[inline]
    fn key(&self) -> &[u8] {
        // Safety: the shard removes a KeyRef before it frees (or moves) its record.
        let rec = unsafe { Rec::at(self.0) };
        let k = rec.key();
        unsafe { std::slice::from_raw_parts(k.as_ptr(), k.len()) }
    }
}

impl PartialEq for KeyRef {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for KeyRef {}
impl PartialOrd for KeyRef {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for KeyRef {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(o.key())
    }
}
impl Borrow<[u8]> for KeyRef {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

/// What `Shard::modify` does with a key.
pub enum Action<'v> {
    Keep,
    Put(Put<'v>),
    Delete,
}

/// A whole new record for a key.
pub struct Put<'v> {
    pub value: std::borrow::Cow<'v, [u8]>,
    pub deadline: Option<i64>,
    pub meta: Meta<'v>,
}

/// What a write does with the key's metadata.
pub enum Meta<'v> {
    /// Keep the old record's metadata (INCR, APPEND: the value changes, not the record).
    Keep,
    /// Drop it (SET replaces the whole record, as a Workers KV put does).
    Clear,
    Set(&'v [u8]),
}

/// What `Shard::append` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The new length of the value.
    Done(usize),
    /// Nothing changed: the value would pass the size limit.
    TooLong,
    /// The key does not exist.
    Missing,
}

pub struct Shard {
    buckets: Box<[*mut u8]>,
    /// The table being drained into `buckets` while an incremental rehash is under way
    /// (empty otherwise). Its buckets below `moved` are already empty.
    old: Box<[*mut u8]>,
    moved: usize,
    len: usize,
    expires: usize,
    /// Sum of all deadlines, for INFO keyspace's avg_ttl.
    deadline_sum: i128,
    bytes: usize,
    /// Keys removed because their deadline passed (lazily or by the reclaimer).
    pub expired: u64,
    pub hits: u64,
    pub misses: u64,
    /// Built on the first ordered walk (`ensure_index`), `None` until then.
    index: Option<BTreeSet<KeyRef>>,
    wheel: Wheel,
    hasher: std::hash::RandomState,
}

// Records are owned by the shard and only reached under its lock.
unsafe impl Send for Shard {}

/// Hashes a key with the process's seeded hasher.
#[inline]
pub fn hash_key(hasher: &std::hash::RandomState, key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one(key)
}

const MIN_BUCKETS: usize = 4;

/// The table owns its records through raw pointers: dropping a shard frees them (a store
/// dropped in-process, as the fuzz harness and the tests do, must not leak).
impl Drop for Shard {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Shard {
    pub fn new(hasher: std::hash::RandomState, now: i64) -> Shard {
        Shard {
            buckets: Box::new([]),
            old: Box::new([]),
            moved: 0,
            len: 0,
            expires: 0,
            deadline_sum: 0,
            bytes: 0,
            expired: 0,
            hits: 0,
            misses: 0,
            index: None,
            wheel: Wheel::new(now),
            hasher,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys with a deadline.
    pub fn expires(&self) -> usize {
        self.expires
    }

    /// Sum of the deadlines of keys that have one.
    pub fn deadline_sum(&self) -> i128 {
        self.deadline_sum
    }

    /// Bytes held in records.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn wheel_len(&self) -> usize {
        self.wheel.len()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    #[inline]
    fn get(&self, s: Slot) -> *mut u8 {
        match s {
            Slot::Bucket(b) => self.buckets[b],
            Slot::Old(b) => self.old[b],
            Slot::After(p) => unsafe { Rec::at(p).next() },
        }
    }

    #[inline]
    fn set(&mut self, s: Slot, v: *mut u8) {
        match s {
            Slot::Bucket(b) => self.buckets[b] = v,
            Slot::Old(b) => self.old[b] = v,
            Slot::After(p) => unsafe { Rec::at(p).set_next(v) },
        }
    }

    #[inline]
    fn rehashing(&self) -> bool {
        !self.old.is_empty()
    }

    /// The chain heads where hash `h` may live: its bucket, and during a rehash its bucket in
    /// the old table if that one has not been moved yet.
    #[inline]
    fn heads(&self, h: u64) -> [Option<Slot>; 2] {
        let new = (!self.buckets.is_empty()).then(|| Slot::Bucket((h as usize) & self.mask()));
        let old = if self.rehashing() {
            let b = (h as usize) & (self.old.len() - 1);
            (b >= self.moved).then_some(Slot::Old(b))
        } else {
            None
        };
        [new, old]
    }

    /// Starts moving every record into a table of `size` buckets (a power of two), a few
    /// buckets per operation (Redis's incremental rehashing): a shard of 300,000 keys that
    /// doubled all at once held its lock for ~100 ms.
    fn start_rehash(&mut self, size: usize) {
        if self.rehashing() {
            self.rehash_step(usize::MAX);
        }
        let fresh: Box<[*mut u8]> = vec![ptr::null_mut(); size].into_boxed_slice();
        let current = std::mem::replace(&mut self.buckets, fresh);
        if self.len == 0 || current.is_empty() {
            return;
        }
        self.old = current;
        self.moved = 0;
    }

    /// Moves up to `n` non-empty old buckets (visiting at most `10 * n` empty ones), as
    /// Redis's `dictRehash`. Ends the rehash when the old table is empty.
    fn rehash_step(&mut self, n: usize) {
        if !self.rehashing() {
            return;
        }
        let mask = self.mask();
        let mut budget = n;
        let mut empty_visits = n.saturating_mul(10);
        while budget > 0 && self.moved < self.old.len() {
            let mut p = self.old[self.moved];
            if p.is_null() {
                self.moved += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    break;
                }
                continue;
            }
            while !p.is_null() {
                unsafe {
                    let mut rec = Rec::at(p);
                    let next = rec.next();
                    let b = (hash_key(&self.hasher, rec.key()) as usize) & mask;
                    rec.set_next(self.buckets[b]);
                    self.buckets[b] = p;
                    p = next;
                }
            }
            self.old[self.moved] = ptr::null_mut();
            self.moved += 1;
            budget -= 1;
        }
        if self.moved >= self.old.len() {
            self.old = Box::new([]);
            self.moved = 0;
        }
    }

    /// Rebuilds the timing wheel from the live deadlines when stale items (left by keys that
    /// were deleted, or whose deadline was shortened) outnumber them: without this, sessions
    /// created and deleted with a 7-day TTL would leave 16 bytes each for 7 days. The
    /// reclaimer calls it; the work is one pass over the shard, at most once per doubling of
    /// stale items. Returns true when it rebuilt.
    pub fn compact_wheel(&mut self, now: i64) -> bool {
        if self.wheel.len() <= 2 * self.expires + 1024 {
            return false;
        }
        let mut items = Vec::with_capacity(self.expires);
        for head in self.all_heads() {
            let mut p = head;
            while !p.is_null() {
                let rec = unsafe { Rec::at(p) };
                if let Some(d) = rec.deadline() {
                    items.push((d, hash_key(&self.hasher, rec.key())));
                }
                p = rec.next();
            }
        }
        self.wheel = Wheel::new(now);
        for (d, h) in items {
            self.wheel.insert(d, h);
        }
        true
    }

    /// Rehash progress for an idle shard (the reclaimer calls this): true while one is under way.
    pub fn rehash_some(&mut self, buckets: usize) -> bool {
        self.rehash_step(buckets);
        self.rehashing()
    }

    /// Finds the chain slot that points at `key`'s record, whatever its deadline.
    #[inline]
    fn slot_of(&self, h: u64, key: &[u8]) -> Option<Slot> {
        for head in self.heads(h).into_iter().flatten() {
            let mut slot = head;
            loop {
                let p = self.get(slot);
                if p.is_null() {
                    break;
                }
                if unsafe { Rec::at(p) }.key() == key {
                    return Some(slot);
                }
                slot = Slot::After(p);
            }
        }
        None
    }

    /// Unlinks the record at `slot` and returns it.
    fn unlink(&mut self, slot: Slot) -> Entry {
        let e = self.detach(slot);
        self.maybe_shrink();
        e
    }

    /// Unlinks the record at `slot` without shrinking the table (callers walking a chain must
    /// not see it resized under them).
    fn detach(&mut self, slot: Slot) -> Entry {
        unsafe {
            let p = self.get(slot);
            let mut e = Entry::from_raw(p);
            self.set(slot, e.next());
            e.set_next(ptr::null_mut());
            if let Some(ix) = &mut self.index {
                ix.remove(e.key());
            }
            self.len -= 1;
            self.bytes -= e.alloc_size();
            self.account(e.deadline(), None);
            e
        }
    }

    /// Removes `key`'s record if it has expired. Returns true when a record was removed.
    fn expire_if_due(&mut self, h: u64, key: &[u8], now: i64) -> bool {
        self.rehash_step(1);
        if let Some(slot) = self.slot_of(h, key) {
            let expired = unsafe { Rec::at(self.get(slot)).is_expired(now) };
            if expired {
                drop(self.unlink(slot));
                self.expired += 1;
                return true;
            }
        }
        false
    }

    /// Calls `f` with the live record of `key`, if any. An expired record is removed.
    #[inline]
    pub fn read<R>(&mut self, h: u64, key: &[u8], now: i64, f: impl FnOnce(&Rec) -> R) -> Option<R> {
        self.rehash_step(1);
        let slot = self.slot_of(h, key)?;
        let rec = unsafe { Rec::at(self.get(slot)) };
        if rec.is_expired(now) {
            drop(self.unlink(slot));
            self.expired += 1;
            return None;
        }
        Some(f(&rec))
    }

    /// True when `key` is live.
    pub fn contains(&mut self, h: u64, key: &[u8], now: i64) -> bool {
        self.read(h, key, now, |_| ()).is_some()
    }

    /// Writes a whole record for `key` (value, deadline, metadata), replacing any old one
    /// (the tests' shorthand: the store writes through `modify`, which hands the record
    /// written to the log).
    #[cfg(test)]
    pub fn put(&mut self, h: u64, key: &[u8], value: &[u8], deadline: Option<i64>, meta: Option<&[u8]>, now: i64) {
        let meta = meta.map_or(Meta::Clear, Meta::Set);
        let put = Put {
            value: std::borrow::Cow::Borrowed(value),
            deadline,
            meta,
        };
        self.modify(h, key, now, |_| (Action::Put(put), ()), |_| {});
    }

    /// Reads and changes one key atomically: `f` sees the live record (or `None`) and says
    /// what to do with it. Returns `f`'s result and whether anything changed. After a change,
    /// `written` gets what the key holds now: the record as stored, or `None` when it was
    /// deleted (the log records exactly that, without looking the key up again).
    pub fn modify<'v, R>(
        &mut self,
        h: u64,
        key: &[u8],
        now: i64,
        f: impl FnOnce(Option<&Rec>) -> (Action<'v>, R),
        written: impl FnOnce(Option<&Rec>),
    ) -> (R, bool) {
        self.expire_if_due(h, key, now);
        let slot = self.slot_of(h, key);
        let rec = slot.map(|s| unsafe { Rec::at(self.get(s)) });
        let (action, out) = f(rec.as_ref());
        match (action, slot, rec) {
            (Action::Keep, _, _) => (out, false),
            (Action::Delete, Some(s), Some(_)) => {
                drop(self.unlink(s));
                written(None);
                (out, true)
            }
            (Action::Delete, _, _) => (out, false),
            (Action::Put(p), Some(s), Some(mut rec)) => {
                let old_deadline = rec.deadline();
                let kept;
                let meta: Option<&[u8]> = match p.meta {
                    Meta::Keep => {
                        kept = rec.meta().map(|m| m.to_vec());
                        kept.as_deref()
                    }
                    Meta::Clear => None,
                    Meta::Set(m) => Some(m),
                };
                let same_shape = old_deadline.is_some() == p.deadline.is_some();
                if same_shape && rec.overwrite_in_place(&p.value, meta) {
                    rec.set_deadline_in_place(p.deadline);
                    self.account(old_deadline, p.deadline);
                    written(Some(&rec));
                } else {
                    self.replace_at(s, Entry::new(key, &p.value, p.deadline, meta));
                    written(Some(&unsafe { Rec::at(self.get(s)) }));
                }
                self.arm(h, old_deadline, p.deadline);
                (out, true)
            }
            (Action::Put(p), _, _) => {
                let meta = match p.meta {
                    Meta::Set(m) => Some(m),
                    _ => None,
                };
                let at = self.insert_new(h, Entry::new(key, &p.value, p.deadline, meta));
                written(Some(&unsafe { Rec::at(at) }));
                (out, true)
            }
        }
    }

    /// Appends to a live key's value in place (the record grows by `realloc`), keeping its
    /// deadline and metadata, unless the value would pass `max` bytes.
    pub fn append(&mut self, h: u64, key: &[u8], extra: &[u8], max: usize, now: i64) -> Appended {
        self.expire_if_due(h, key, now);
        let Some(slot) = self.slot_of(h, key) else {
            return Appended::Missing;
        };
        let current = unsafe { Rec::at(self.get(slot)) }.value().len();
        if current.checked_add(extra.len()).is_none_or(|n| n > max) {
            return Appended::TooLong;
        }
        // The index orders by the bytes behind each pointer: take this record out while its
        // memory is valid, put it back at its new address.
        let indexed = match &mut self.index {
            Some(ix) => ix.remove(key),
            None => false,
        };
        let e = unsafe { Entry::from_raw(self.get(slot)) };
        let old_size = e.alloc_size();
        let e = e.append(extra);
        let new_len = e.value().len();
        self.bytes = self.bytes - old_size + e.alloc_size();
        let p = e.into_raw();
        self.set(slot, p);
        if indexed {
            if let Some(ix) = &mut self.index {
                ix.insert(KeyRef(p));
            }
        }
        Appended::Done(new_len)
    }

    /// Inserts an owned record under its key, replacing any old one (RENAME, MOVE, COPY),
    /// then calls `written` with it as stored.
    pub fn put_entry(&mut self, h: u64, entry: Entry, now: i64, written: impl FnOnce(&Rec)) {
        let key: &[u8] = unsafe { std::slice::from_raw_parts(entry.key().as_ptr(), entry.key().len()) };
        self.expire_if_due(h, key, now);
        let deadline = entry.deadline();
        let p = if let Some(slot) = self.slot_of(h, key) {
            let old_deadline = unsafe { Rec::at(self.get(slot)).deadline() };
            self.replace_at(slot, entry);
            self.arm(h, old_deadline, deadline);
            self.get(slot)
        } else {
            self.insert_new(h, entry)
        };
        written(&unsafe { Rec::at(p) });
    }

    /// Asks the CPU to start loading the bucket of hash `h` (a hint; never faults).
    #[inline]
    pub fn prefetch_bucket(&self, h: u64) {
        for head in self.heads(h).into_iter().flatten() {
            let slot: *const *mut u8 = match head {
                Slot::Bucket(b) => &self.buckets[b],
                Slot::Old(b) => &self.old[b],
                Slot::After(_) => continue,
            };
            prefetch_line(slot as *const u8);
        }
    }

    /// Asks the CPU to start loading the first record of hash `h`'s chain.
    #[inline]
    pub fn prefetch_record(&self, h: u64) {
        for head in self.heads(h).into_iter().flatten() {
            let p = self.get(head);
            if !p.is_null() {
                prefetch_line(p);
            }
        }
    }

    /// Changes the deadline of a live key. Returns false when the key does not exist.
    pub fn set_deadline(&mut self, h: u64, key: &[u8], deadline: Option<i64>, now: i64) -> bool {
        self.expire_if_due(h, key, now);
        let Some(slot) = self.slot_of(h, key) else {
            return false;
        };
        let rec = unsafe { Rec::at(self.get(slot)) };
        let mut rec = rec;
        let old = rec.deadline();
        if rec.set_deadline_in_place(deadline) {
            self.account(old, deadline);
        } else {
            let e = rec.rebuild(rec.value(), deadline, rec.meta());
            self.replace_at(slot, e);
        }
        self.arm(h, old, deadline);
        true
    }

    /// Removes a live key and returns its record.
    pub fn take(&mut self, h: u64, key: &[u8], now: i64) -> Option<Entry> {
        self.rehash_step(1);
        let slot = self.slot_of(h, key)?;
        let e = self.unlink(slot);
        if e.is_expired(now) {
            self.expired += 1;
            None
        } else {
            Some(e)
        }
    }

    /// Removes a live key. Returns true when it existed.
    pub fn remove(&mut self, h: u64, key: &[u8], now: i64) -> bool {
        self.take(h, key, now).is_some()
    }

    /// Keeps the invariant of `wheel`: a key with a deadline has an item at or before it.
    fn arm(&mut self, h: u64, old: Option<i64>, new: Option<i64>) {
        if let Some(d) = new {
            if old.is_none_or(|o| d < o) {
                self.wheel.insert(d, h);
            }
        }
    }

    /// Keeps `expires` and `deadline_sum` in step with a deadline change.
    fn account(&mut self, old: Option<i64>, new: Option<i64>) {
        if let Some(o) = old {
            self.expires -= 1;
            self.deadline_sum -= o as i128;
        }
        if let Some(n) = new {
            self.expires += 1;
            self.deadline_sum += n as i128;
        }
    }

    fn replace_at(&mut self, slot: Slot, mut new: Entry) {
        unsafe {
            let old = Entry::from_raw(self.get(slot));
            new.set_next(old.next());
            self.bytes = self.bytes - old.alloc_size() + new.alloc_size();
            self.account(old.deadline(), new.deadline());
            let p = new.into_raw();
            self.set(slot, p);
            if let Some(ix) = &mut self.index {
                ix.replace(KeyRef(p));
            }
            // `old` no longer appears in the chain or the index.
            drop(old);
        }
    }

    /// Links a record for a key the shard does not hold; returns where it now lives.
    fn insert_new(&mut self, h: u64, mut e: Entry) -> *mut u8 {
        if self.len >= self.buckets.len() {
            self.start_rehash((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        }
        let b = (h as usize) & self.mask();
        e.set_next(self.buckets[b]);
        self.bytes += e.alloc_size();
        self.account(None, e.deadline());
        if let Some(d) = e.deadline() {
            self.wheel.insert(d, h);
        }
        let p = e.into_raw();
        self.buckets[b] = p;
        if let Some(ix) = &mut self.index {
            ix.insert(KeyRef(p));
        }
        self.len += 1;
        p
    }

    fn maybe_shrink(&mut self) {
        let n = self.buckets.len();
        if !self.rehashing() && n > MIN_BUCKETS && self.len * 8 < n {
            self.start_rehash(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Visits one bucket of Redis's reverse-binary scan at `cursor` and returns the next
    /// cursor (0 when this shard's iteration is complete). Expired records are skipped.
    pub fn scan_step(&self, cursor: u64, now: i64, mut f: impl FnMut(&Rec)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mut emit = |mut p: *mut u8| {
            while !p.is_null() {
                let rec = unsafe { Rec::at(p) };
                if !rec.is_expired(now) {
                    f(&rec);
                }
                p = rec.next();
            }
        };
        let next = |v: u64, m: u64| (v | !m).reverse_bits().wrapping_add(1).reverse_bits();
        if !self.rehashing() {
            let m = self.mask() as u64;
            emit(self.buckets[(cursor & m) as usize]);
            return next(cursor, m);
        }
        // Redis's dictScan during a rehash: the bucket of the smaller table, then every bucket
        // of the larger table that it expands to. (Moved old buckets are simply empty.)
        let (small, large) = if self.old.len() < self.buckets.len() {
            (&self.old, &self.buckets)
        } else {
            (&self.buckets, &self.old)
        };
        let m0 = (small.len() - 1) as u64;
        let m1 = (large.len() - 1) as u64;
        let mut v = cursor;
        emit(small[(v & m0) as usize]);
        loop {
            emit(large[(v & m1) as usize]);
            v = next(v, m1);
            if v & (m0 ^ m1) == 0 {
                break;
            }
        }
        v
    }

    /// Every chain head of both tables.
    fn all_heads(&self) -> impl Iterator<Item = *mut u8> + '_ {
        self.buckets
            .iter()
            .chain(self.old.iter())
            .copied()
            .filter(|p| !p.is_null())
    }

    /// Builds the ordered index if this shard has none yet: one sort of the record pointers.
    pub fn ensure_index(&mut self) {
        if self.index.is_some() {
            return;
        }
        let mut ptrs = Vec::with_capacity(self.len);
        for head in self.all_heads() {
            let mut p = head;
            while !p.is_null() {
                ptrs.push(KeyRef(p));
                p = unsafe { Rec::at(p).next() };
            }
        }
        ptrs.sort_unstable();
        self.index = Some(ptrs.into_iter().collect());
    }

    /// True once the ordered index exists.
    pub fn has_index(&self) -> bool {
        self.index.is_some()
    }

    /// Live records in key order, from `from` on.
    /// Call `ensure_index` first: without an index this yields nothing.
    pub fn ordered_from<'a>(&'a self, from: Bound<&[u8]>, now: i64) -> impl Iterator<Item = RecRef<'a>> + 'a {
        let range = self
            .index
            .as_ref()
            .map(|ix| ix.range::<[u8], _>((from, Bound::Unbounded)));
        range
            .into_iter()
            .flatten()
            .map(|k| unsafe { RecRef::new(k.0) })
            .filter(move |r| !r.is_expired(now))
    }

    /// Calls `f` for every live record (KEYS, RANDOMKEY sampling, INFO).
    pub fn for_each(&self, now: i64, mut f: impl FnMut(&Rec)) {
        for head in self.all_heads() {
            let mut p = head;
            while !p.is_null() {
                let rec = unsafe { Rec::at(p) };
                if !rec.is_expired(now) {
                    f(&rec);
                }
                p = rec.next();
            }
        }
    }

    /// A live record at a random position, chosen as Redis's `dbRandomKey` does: a random
    /// non-empty bucket, then a random record of its chain. An expired record met on the way is
    /// removed and the search goes on, so the result is `None` only when the shard holds no live
    /// key (each miss removes a record, so the loop ends). `rand` supplies random numbers.
    pub fn random_key(
        &mut self,
        now: i64,
        mut rand: impl FnMut() -> u64,
        mut on_expire: impl FnMut(&[u8]),
    ) -> Option<Vec<u8>> {
        loop {
            if self.len == 0 {
                return None;
            }
            // Buckets of both tables (the old one from `moved` on) form one range to draw from,
            // as Redis's dictGetRandomKey does. The tables are at least 1/8 full (see
            // `maybe_shrink`), so random probes find a chain quickly; a linear probe after
            // them bounds the work on unlucky draws.
            let old_left = self.old.len() - self.moved;
            let total = old_left + self.buckets.len();
            let at = |i: usize| {
                if i < old_left {
                    Slot::Old(self.moved + i)
                } else {
                    Slot::Bucket(i - old_left)
                }
            };
            let mut i = (rand() as usize) % total;
            let mut probes = 0;
            while self.get(at(i)).is_null() {
                probes += 1;
                i = if probes < 64 {
                    (rand() as usize) % total
                } else {
                    (i + 1) % total
                };
            }
            let head = at(i);
            let mut chain = 0usize;
            let mut p = self.get(head);
            while !p.is_null() {
                chain += 1;
                p = unsafe { Rec::at(p).next() };
            }
            let mut slot = head;
            for _ in 0..(rand() as usize) % chain {
                slot = Slot::After(self.get(slot));
            }
            let rec = unsafe { Rec::at(self.get(slot)) };
            if rec.is_expired(now) {
                let e = self.unlink(slot);
                on_expire(e.key());
                self.expired += 1;
                continue;
            }
            return Some(rec.key().to_vec());
        }
    }

    /// Drops every record.
    pub fn clear(&mut self) {
        if let Some(ix) = &mut self.index {
            ix.clear();
        }
        let heads: Vec<*mut u8> = self.all_heads().collect();
        for mut p in heads {
            while !p.is_null() {
                unsafe {
                    let e = Entry::from_raw(p);
                    p = e.next();
                    drop(e);
                }
            }
        }
        self.buckets = Box::new([]);
        self.old = Box::new([]);
        self.moved = 0;
        self.len = 0;
        self.expires = 0;
        self.deadline_sum = 0;
        self.bytes = 0;
        self.wheel.clear();
    }

    /// Reclaims records whose deadline has passed, at most `budget` wheel items per call.
    /// `on_delete` sees each reclaimed key. Returns the number of records reclaimed.
    pub fn reclaim(&mut self, now: i64, budget: usize, mut on_delete: impl FnMut(&[u8])) -> usize {
        let mut hashes = Vec::new();
        self.wheel.advance(now, budget, |h| hashes.push(h));
        let mut reclaimed = 0;
        for h in hashes {
            let mut rearm = Vec::new();
            for head in self.heads(h).into_iter().flatten() {
                let mut slot = head;
                unsafe {
                    loop {
                        let p = self.get(slot);
                        if p.is_null() {
                            break;
                        }
                        let rec = Rec::at(p);
                        match rec.deadline() {
                            Some(d) if now > d => {
                                on_delete(rec.key());
                                drop(self.detach(slot));
                                self.expired += 1;
                                reclaimed += 1;
                                continue;
                            }
                            Some(d) if hash_key(&self.hasher, rec.key()) == h => rearm.push(d),
                            _ => {}
                        }
                        slot = Slot::After(p);
                    }
                }
            }
            for d in rearm {
                self.wheel.insert(d, h);
            }
        }
        self.maybe_shrink();
        reclaimed
    }
}

/// A place in a hash chain that points at a record: a bucket head, or the `next` link of the
/// record before it. Links carry flag bits, so slots are read and written only through
/// `Shard::get`/`Shard::set`, which keep the flags.
#[derive(Clone, Copy)]
enum Slot {
    Bucket(usize),
    /// A bucket of the old table during an incremental rehash.
    Old(usize),
    After(*mut u8),
}

/// A prefetch hint for the cache line at `p` (no-op where unsupported; never faults).
#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn shard() -> (Shard, std::hash::RandomState) {
        let hasher = std::hash::RandomState::new();
        (Shard::new(hasher.clone(), 1_000), hasher)
    }

    fn put(s: &mut Shard, hs: &std::hash::RandomState, k: &[u8], deadline: Option<i64>, now: i64) {
        s.put(hash_key(hs, k), k, b"v", deadline, None, now);
    }

    fn live(s: &mut Shard, hs: &std::hash::RandomState, k: &[u8], now: i64) -> bool {
        s.contains(hash_key(hs, k), k, now)
    }

    /// Redis's `keyIsExpired` is `now > when`: a key is visible during its deadline's
    /// millisecond and gone after it, on every read path.
    #[test]
    fn expiry_is_strictly_after_the_deadline() {
        let (mut s, hs) = shard();
        put(&mut s, &hs, b"k", Some(5_000), 1_000);
        assert!(live(&mut s, &hs, b"k", 4_999));
        assert!(live(&mut s, &hs, b"k", 5_000));
        let mut keys = vec![];
        s.for_each(5_000, |r| keys.push(r.key().to_vec()));
        assert_eq!(keys, [b"k".to_vec()]);
        keys.clear();
        s.for_each(5_001, |r| keys.push(r.key().to_vec()));
        assert!(keys.is_empty());
        assert_eq!(s.ordered_from(Bound::Unbounded, 5_001).count(), 0);
        assert_eq!(s.random_key(5_001, || 0, |_| {}), None);
        // random_key removed it on the way, counting an expiry.
        assert_eq!((s.len(), s.expired), (0, 1));
    }

    /// Lazy expiry on every path: an expired record is never shown and is removed on sight.
    #[test]
    fn lazy_expiry_on_each_path() {
        let (mut s, hs) = shard();
        let h = hash_key(&hs, b"k");
        let reset = |s: &mut Shard| {
            s.put(h, b"k", b"old", Some(2_000), None, 1_000);
        };
        let now = 3_000;
        reset(&mut s);
        assert_eq!(s.read(h, b"k", now, |r| r.value().to_vec()), None);
        assert_eq!(s.len(), 0);
        reset(&mut s);
        reset(&mut s);
        assert!(s.take(h, b"k", now).is_none());
        assert_eq!(s.len(), 0);
        reset(&mut s);
        assert!(!s.set_deadline(h, b"k", None, now));
        assert_eq!(s.len(), 0);
        // modify sees nothing, and a write starts from scratch.
        reset(&mut s);
        let (seen, changed) = s.modify(h, b"k", now, |r| (Action::Keep, r.is_some()), |_| {});
        assert!(!seen && !changed);
        reset(&mut s);
        s.put(h, b"k", b"new", None, None, now);
        assert_eq!(s.len(), 1, "the expired record was dropped, not overwritten");
        assert_eq!(s.read(h, b"k", now, |r| r.value().to_vec()), Some(b"new".to_vec()));
        assert_eq!(s.expires(), 0);
        // SCAN's step skips it.
        reset(&mut s);
        let mut n = 0;
        let mut cursor = 0;
        loop {
            cursor = s.scan_step(cursor, now, |_| n += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(n, 0);
    }

    /// RANDOMKEY finds the one live key among many expired ones (Redis's `dbRandomKey`
    /// keeps looking, deleting expired keys, until it finds a live one or the db is empty).
    #[test]
    fn random_key_skips_expired() {
        let (mut s, hs) = shard();
        for i in 0..5_000 {
            put(&mut s, &hs, format!("e{i}").as_bytes(), Some(1_500), 1_000);
        }
        put(&mut s, &hs, b"live", None, 1_000);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        assert_eq!(s.random_key(2_000, &mut rand, |_| {}), Some(b"live".to_vec()));
        for _ in 0..100 {
            assert_eq!(s.random_key(2_000, &mut rand, |_| {}), Some(b"live".to_vec()));
        }
        // Expired records met on the way were removed (how many depends on the draws).
        assert!(s.len() < 5_001, "no expired record was removed");
        // All expired: None, and nothing left.
        let (mut s, hs) = shard();
        for i in 0..1_000 {
            put(&mut s, &hs, format!("e{i}").as_bytes(), Some(1_500), 1_000);
        }
        assert_eq!(s.random_key(2_000, &mut rand, |_| {}), None);
        assert_eq!(s.len(), 0);
    }

    /// The reverse-binary cursor keeps Redis's guarantee when the table doubles or shrinks
    /// between steps: every key present throughout is visited.
    #[test]
    fn scan_guarantee_across_growth_and_shrinking() {
        let (mut s, hs) = shard();
        let now = 1_000;
        for i in 0..300 {
            put(&mut s, &hs, format!("s{i}").as_bytes(), None, now);
        }
        for i in 0..3_000 {
            put(&mut s, &hs, format!("d{i}").as_bytes(), None, now);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        let mut added = 0;
        let mut sizes = HashSet::new();
        loop {
            cursor = s.scan_step(cursor, now, |r| {
                seen.insert(r.key().to_vec());
            });
            sizes.insert(s.buckets.len());
            step += 1;
            // Shrink first (delete the d keys), then grow (add many n keys), then shrink again.
            if step < 30 {
                for i in (step - 1) * 100..step * 100 {
                    let k = format!("d{i}");
                    s.remove(hash_key(&hs, k.as_bytes()), k.as_bytes(), now);
                }
            } else if step < 60 {
                for _ in 0..200 {
                    put(&mut s, &hs, format!("n{added}").as_bytes(), None, now);
                    added += 1;
                }
            } else if step == 60 {
                for i in 0..added {
                    let k = format!("n{i}");
                    s.remove(hash_key(&hs, k.as_bytes()), k.as_bytes(), now);
                }
            }
            if cursor == 0 {
                break;
            }
            assert!(step < 1_000_000);
        }
        for i in 0..300 {
            assert!(seen.contains(format!("s{i}").as_bytes()), "s{i} missed");
        }
        // The table really did change size both ways.
        assert!(sizes.len() >= 4, "{sizes:?}");
    }

    /// While an incremental rehash is under way, every key is found, SCAN still visits every
    /// key present throughout, deletes reach records in either table, and the rehash ends.
    #[test]
    fn incremental_rehash_keeps_every_key_reachable() {
        let (mut s, hs) = shard();
        let now = 1_000;
        for i in 0..4096 {
            put(&mut s, &hs, format!("k{i}").as_bytes(), None, now);
        }
        // The next insert doubles the table; the records move a bucket per operation.
        put(&mut s, &hs, b"grow", None, now);
        assert!(s.rehashing(), "a doubling starts an incremental rehash");
        for i in (0..4096).step_by(7) {
            assert!(
                live(&mut s, &hs, format!("k{i}").as_bytes(), now),
                "k{i} lost mid-rehash"
            );
        }
        // A full SCAN with inserts between steps, all while rehashing.
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut extra = 0;
        loop {
            cursor = s.scan_step(cursor, now, |r| {
                seen.insert(r.key().to_vec());
            });
            put(&mut s, &hs, format!("x{extra}").as_bytes(), None, now);
            extra += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..4096 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "SCAN missed k{i}");
        }
        // Deletes from both tables, then the rehash completes and shrinking works.
        for i in 0..4096 {
            assert!(s.remove(
                hash_key(&hs, format!("k{i}").as_bytes()),
                format!("k{i}").as_bytes(),
                now
            ));
        }
        while s.rehash_some(1000) {}
        assert_eq!(s.len(), 1 + extra);
        assert!(live(&mut s, &hs, b"grow", now));
    }

    /// Deleting keys that had deadlines leaves stale wheel items; once they outnumber the live
    /// deadlines the wheel is rebuilt from the records, and live deadlines still fire.
    #[test]
    fn stale_wheel_items_are_compacted() {
        let (mut s, hs) = shard();
        let now = 1_000;
        for i in 0..5_000 {
            put(&mut s, &hs, format!("k{i}").as_bytes(), Some(now + 3_600_000), now);
        }
        put(&mut s, &hs, b"keep", Some(now + 500), now);
        for i in 0..5_000 {
            assert!(s.remove(
                hash_key(&hs, format!("k{i}").as_bytes()),
                format!("k{i}").as_bytes(),
                now
            ));
        }
        assert_eq!(s.wheel_len(), 5_001);
        assert!(s.compact_wheel(now));
        assert_eq!(s.wheel_len(), 1);
        assert!(!s.compact_wheel(now), "nothing stale left to compact");
        // The surviving deadline still fires.
        assert_eq!(s.reclaim(now + 501, 100, |_| {}), 1);
        assert_eq!(s.len(), 0);
    }
}
