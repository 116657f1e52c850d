//! Keys watched by clients (WATCH), and the flag each watching client checks at EXEC.
//!
//! Writes call `touch` for the keys they change; when nobody watches anything that costs one
//! relaxed atomic load. It owns only the registry; it never reads or writes records.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A client's "a watched key changed" flag (Redis's CLIENT_DIRTY_CAS).
pub type DirtyFlag = Arc<AtomicBool>;

#[derive(Default)]
pub struct Watches {
    count: AtomicUsize,
    /// Per database, the watched keys and their watchers. Keyed by `Bytes` so that a write
    /// looks its key up by `&[u8]` without allocating.
    keys: Mutex<HashMap<usize, HashMap<Bytes, Vec<DirtyFlag>>>>,
}

impl Watches {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn watch(&self, db: usize, key: Bytes, flag: &DirtyFlag) {
        let mut map = self.keys.lock();
        let list = map.entry(db).or_default().entry(key).or_default();
        if !list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            list.push(flag.clone());
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn unwatch(&self, db: usize, key: &Bytes, flag: &DirtyFlag) {
        let mut map = self.keys.lock();
        let Some(keys) = map.get_mut(&db) else { return };
        if let Some(list) = keys.get_mut(key) {
            let before = list.len();
            list.retain(|f| !Arc::ptr_eq(f, flag));
            self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                keys.remove(key);
            }
        }
        if keys.is_empty() {
            map.remove(&db);
        }
    }

    /// Marks every client watching `key` in `db` as dirty.
    #[inline]
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.active() {
            return;
        }
        let map = self.keys.lock();
        if let Some(list) = map.get(&db).and_then(|keys| keys.get(key)) {
            for f in list {
                f.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The watched keys of `db` with their watchers' flags (FLUSHDB, SWAPDB: the caller
    /// decides which of them changed, without holding this registry's lock meanwhile).
    pub fn watched_in(&self, db: usize) -> Vec<(Bytes, Vec<DirtyFlag>)> {
        if !self.active() {
            return Vec::new();
        }
        let map = self.keys.lock();
        map.get(&db).map_or_else(Vec::new, |keys| {
            keys.iter().map(|(k, l)| (k.clone(), l.clone())).collect()
        })
    }
}
