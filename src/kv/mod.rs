//! The Workers KV model on top of the store: the namespace registry (ids, titles, slot
//! indexes), Workers KV's limits, and usage counters with their daily quotas.
//!
//! It owns the rules; the `KV.*` commands (command/kv.rs, command/namespace.rs) and later the
//! HTTP surfaces call it. It never touches records (the commands do, through the store) and
//! never speaks a protocol; its only I/O is the registry file (persist/registry.rs).

pub mod limits;
pub mod usage;

use crate::errors::KvError;
use crate::persist::format::Op;
use crate::persist::log::Aof;
use crate::persist::registry::{self, Record};
use parking_lot::RwLock;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
pub use usage::Usage;

/// A namespace: random id, unique title, and the store slot that holds its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub id: String,
    pub title: String,
    pub index: usize,
}

/// The registry. Slots `0..numbered` are Redis's numbered databases; namespaces take the
/// slots after them, the lowest free one first.
pub struct Namespaces {
    numbered: usize,
    max: usize,
    /// By slot index minus `numbered`.
    table: RwLock<Vec<Option<Namespace>>>,
    /// Bumped when a namespace is deleted, so that connections still pointing at its slot
    /// notice (the slot may be reused by the next namespace created).
    generations: Box<[AtomicU32]>,
    /// Usage per slot (numbered databases included).
    usage: Box<[Usage]>,
    /// `None`: not persisted (tests of the module).
    file: Option<PathBuf>,
    /// The append-only log: registry changes are logged under the registry's lock, so their
    /// order in the log is the order they happened.
    pub aof: std::sync::OnceLock<std::sync::Arc<Aof>>,
}

impl Namespaces {
    /// Loads the registry from `file` (absent: empty). `max` is `kv-max-namespaces`.
    pub fn open(numbered: usize, max: usize, file: Option<PathBuf>) -> Result<Namespaces, String> {
        let records = match &file {
            Some(f) => registry::load(f)?,
            None => Vec::new(),
        };
        let mut extra = max;
        for r in &records {
            if r.index < numbered {
                return Err(format!(
                    "namespace {} (\"{}\") has index {}, inside the numbered databases 0..{}; \
                     start with `databases {}` or fewer",
                    r.id,
                    r.title,
                    r.index,
                    numbered - 1,
                    r.index
                ));
            }
            extra = extra.max(r.index - numbered + 1);
        }
        let mut table = vec![None; extra];
        for r in records {
            let i = r.index - numbered;
            if table[i].is_some() {
                return Err(format!("two namespaces share index {}", r.index));
            }
            table[i] = Some(Namespace {
                id: r.id,
                title: r.title,
                index: r.index,
            });
        }
        let slots = numbered + extra;
        Ok(Namespaces {
            numbered,
            max,
            table: RwLock::new(table),
            generations: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            usage: (0..slots).map(|_| Usage::default()).collect(),
            file,
            aof: std::sync::OnceLock::new(),
        })
    }

    /// Every slot the store must provide: numbered databases and namespace slots.
    pub fn slots(&self) -> usize {
        self.generations.len()
    }

    pub fn numbered(&self) -> usize {
        self.numbered
    }

    /// True when `index` is a numbered database or a live namespace's slot.
    pub fn is_live(&self, index: usize) -> bool {
        index < self.numbered
            || self
                .table
                .read()
                .get(index - self.numbered)
                .is_some_and(|n| n.is_some())
    }

    /// The generation of a slot; it changes when the namespace there is deleted.
    #[inline]
    pub fn generation(&self, index: usize) -> u32 {
        self.generations.get(index).map_or(0, |g| g.load(Ordering::Acquire))
    }

    /// Usage counters of a slot.
    #[inline]
    pub fn usage(&self, index: usize) -> &Usage {
        &self.usage[index]
    }

    /// Every namespace, by index.
    pub fn list(&self) -> Vec<Namespace> {
        self.table.read().iter().flatten().cloned().collect()
    }

    /// The namespace with this id, or else with this title.
    pub fn find(&self, id_or_title: &[u8]) -> Option<Namespace> {
        let t = self.table.read();
        let by = |f: &dyn Fn(&Namespace) -> bool| t.iter().flatten().find(|n| f(n)).cloned();
        by(&|n| n.id.as_bytes() == id_or_title).or_else(|| by(&|n| n.title.as_bytes() == id_or_title))
    }

    /// The namespace at a slot index.
    pub fn at(&self, index: usize) -> Option<Namespace> {
        let t = self.table.read();
        t.get(index.checked_sub(self.numbered)?)?.clone()
    }

    /// Creates a namespace in the lowest free slot.
    pub fn create(&self, title: &[u8]) -> Result<Namespace, KvError> {
        let title = check_title(title)?;
        let mut t = self.table.write();
        if t.iter().flatten().any(|n| n.title == title) {
            return Err(KvError::NamespaceTitleTaken);
        }
        if t.iter().flatten().count() >= self.max {
            return Err(KvError::TooManyNamespaces(self.max));
        }
        let Some(free) = t.iter().position(Option::is_none) else {
            return Err(KvError::TooManyNamespaces(self.max));
        };
        let ns = Namespace {
            id: new_id(),
            title,
            index: self.numbered + free,
        };
        t[free] = Some(ns.clone());
        if let Err(e) = self.save(&t) {
            t[free] = None;
            return Err(e);
        }
        self.log_put(&ns);
        // A new namespace starts with fresh counters.
        self.usage[ns.index].reset();
        Ok(ns)
    }

    /// Gives a namespace (by id) a new title.
    pub fn rename(&self, id: &[u8], title: &[u8]) -> Result<Namespace, KvError> {
        let title = check_title(title)?;
        let mut t = self.table.write();
        let pos = t
            .iter()
            .position(|n| n.as_ref().is_some_and(|n| n.id.as_bytes() == id))
            .ok_or(KvError::NamespaceNotFound)?;
        if t.iter().flatten().any(|n| n.title == title && n.id.as_bytes() != id) {
            return Err(KvError::NamespaceTitleTaken);
        }
        let ns = t[pos].as_mut().expect("found");
        let old = std::mem::replace(&mut ns.title, title);
        let out = ns.clone();
        if let Err(e) = self.save(&t) {
            t[pos].as_mut().expect("found").title = old;
            return Err(e);
        }
        self.log_put(&out);
        Ok(out)
    }

    /// Removes a namespace (by id) from the registry and returns it; the caller empties its
    /// slot. Connections that had selected it are told so on their next command.
    pub fn delete(&self, id: &[u8]) -> Result<Namespace, KvError> {
        let mut t = self.table.write();
        let pos = t
            .iter()
            .position(|n| n.as_ref().is_some_and(|n| n.id.as_bytes() == id))
            .ok_or(KvError::NamespaceNotFound)?;
        let ns = t[pos].take().expect("found");
        if let Err(e) = self.save(&t) {
            t[pos] = Some(ns);
            return Err(e);
        }
        self.generations[ns.index].fetch_add(1, Ordering::AcqRel);
        if let Some(aof) = self.journal() {
            aof.log(&Op::NsDel { index: ns.index as u32 });
        }
        Ok(ns)
    }

    fn journal(&self) -> Option<&Aof> {
        self.aof.get().map(|a| &**a).filter(|a| a.enabled())
    }

    fn log_put(&self, ns: &Namespace) {
        if let Some(aof) = self.journal() {
            aof.log(&Op::NsPut {
                index: ns.index as u32,
                id: ns.id.as_bytes(),
                title: ns.title.as_bytes(),
            });
        }
    }

    /// The registry as log records (compaction's dump).
    pub fn dump(&self, out: &mut Vec<u8>) {
        for ns in self.table.read().iter().flatten() {
            crate::persist::format::encode(
                out,
                &Op::NsPut {
                    index: ns.index as u32,
                    id: ns.id.as_bytes(),
                    title: ns.title.as_bytes(),
                },
            );
        }
    }

    /// Replay: the log's registry replaces the file's, entry by entry.
    pub fn clear_for_replay(&self) {
        for n in self.table.write().iter_mut() {
            *n = None;
        }
    }

    /// Replay of a registry record: namespace `index` has this id and title.
    pub fn restore(&self, index: usize, id: &[u8], title: &[u8]) -> Result<(), String> {
        let mut t = self.table.write();
        let i = index
            .checked_sub(self.numbered)
            .filter(|&i| i < t.len())
            .ok_or_else(|| {
                format!(
                    "the log has a namespace at index {index}, beyond the {} slots (raise kv-max-namespaces)",
                    t.len()
                )
            })?;
        t[i] = Some(Namespace {
            id: String::from_utf8_lossy(id).into_owned(),
            title: String::from_utf8_lossy(title).into_owned(),
            index,
        });
        Ok(())
    }

    /// Replay of a namespace deletion.
    pub fn forget(&self, index: usize) {
        let mut t = self.table.write();
        if let Some(n) = index.checked_sub(self.numbered).and_then(|i| t.get_mut(i)) {
            *n = None;
        }
    }

    /// Writes the registry file from the table (after replay).
    pub fn save_file(&self) -> Result<(), KvError> {
        let t = self.table.read();
        self.save(&t)
    }

    fn save(&self, t: &[Option<Namespace>]) -> Result<(), KvError> {
        let Some(f) = &self.file else { return Ok(()) };
        let records: Vec<Record> = t
            .iter()
            .flatten()
            .map(|n| Record {
                id: n.id.clone(),
                title: n.title.clone(),
                index: n.index,
            })
            .collect();
        registry::save(f, &records).map_err(|e| KvError::RegistryWrite(e.to_string()))
    }
}

/// A title: valid UTF-8, not empty, at most 512 characters.
fn check_title(title: &[u8]) -> Result<String, KvError> {
    let t = String::from_utf8_lossy(title).into_owned();
    let n = t.chars().count();
    if n == 0 {
        return Err(KvError::NamespaceTitleEmpty);
    }
    if n > 512 {
        return Err(KvError::NamespaceTitleTooLong(n));
    }
    Ok(t)
}

/// 32 lowercase hex characters, random (Workers KV's id shape).
fn new_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_find_rename_delete_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let file = registry::path_in(dir.path());
        let ns = Namespaces::open(16, 3, Some(file.clone())).unwrap();
        assert_eq!(ns.slots(), 19);
        let a = ns.create(b"A").unwrap();
        let b = ns.create(b"B").unwrap();
        assert_eq!((a.index, b.index), (16, 17));
        assert_eq!(a.id.len(), 32);
        assert!(a.id.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(ns.create(b"A"), Err(KvError::NamespaceTitleTaken));
        assert_eq!(ns.find(b"B"), Some(b.clone()));
        assert_eq!(ns.find(a.id.as_bytes()), Some(a.clone()));
        assert_eq!(ns.rename(a.id.as_bytes(), b"B"), Err(KvError::NamespaceTitleTaken));
        assert_eq!(ns.rename(a.id.as_bytes(), b"A2").unwrap().title, "A2");
        let g = ns.generation(16);
        ns.delete(a.id.as_bytes()).unwrap();
        assert_ne!(ns.generation(16), g);
        assert!(!ns.is_live(16) && ns.is_live(17) && ns.is_live(3));
        // The freed slot is the next one taken.
        let c = ns.create(b"C").unwrap();
        assert_eq!(c.index, 16);
        ns.create(b"D").unwrap();
        assert_eq!(ns.create(b"E"), Err(KvError::TooManyNamespaces(3)));
        let again = Namespaces::open(16, 3, Some(file)).unwrap();
        assert_eq!(again.list(), ns.list());
        assert!(Namespaces::open(17, 3, Some(registry::path_in(dir.path()))).is_err());
    }

    #[test]
    fn titles_are_checked() {
        let ns = Namespaces::open(1, 10, None).unwrap();
        assert_eq!(ns.create(b""), Err(KvError::NamespaceTitleEmpty));
        assert!(ns.create("é".repeat(512).as_bytes()).is_ok());
        assert_eq!(
            ns.create("é".repeat(513).as_bytes()),
            Err(KvError::NamespaceTitleTooLong(513))
        );
    }
}
