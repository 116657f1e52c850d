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
    keys: Mutex<HashMap<(usize, Bytes), Vec<DirtyFlag>>>,
}

impl Watches {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn watch(&self, db: usize, key: Bytes, flag: &DirtyFlag) {
        let mut map = self.keys.lock();
        let list = map.entry((db, key)).or_default();
        if !list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            list.push(flag.clone());
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn unwatch(&self, db: usize, key: &Bytes, flag: &DirtyFlag) {
        let mut map = self.keys.lock();
        let k = (db, key.clone());
        if let Some(list) = map.get_mut(&k) {
            let before = list.len();
            list.retain(|f| !Arc::ptr_eq(f, flag));
            self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                map.remove(&k);
            }
        }
    }

    /// Marks every client watching `key` in `db` as dirty.
    #[inline]
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.active() {
            return;
        }
        let map = self.keys.lock();
        if let Some(list) = map.get(&(db, Bytes::copy_from_slice(key))) {
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
        map.iter()
            .filter(|((d, _), _)| *d == db)
            .map(|((_, k), l)| (k.clone(), l.clone()))
            .collect()
    }
}
