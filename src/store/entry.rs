//! One key's record, packed into a single heap allocation.
//!
//! Layout (native endianness, in memory only; the log has its own format):
//!
//! ```text
//! [next | flags : usize]           hash-chain link; the low 3 bits are flags
//! [deadline : i64]                 only when FLAG_DEADLINE: absolute unix milliseconds
//! [key length : varint]
//! [value length : varint]
//! [metadata length : varint]       only when FLAG_META
//! [key bytes][value bytes][metadata bytes]
//! ```
//!
//! Why one allocation: a 10-byte key with a 100-byte value and no TTL takes 120 bytes here,
//! which is glibc's 128-byte chunk. A `Box<[u8]>` key plus a separate value would take two
//! chunks and two fat pointers. The hash table and the ordered index both point at this
//! allocation; the hash chain owns it.
//!
//! This module owns the unsafe code of the record. Nothing outside `store/` sees a raw pointer.

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

const FLAG_DEADLINE: usize = 1;
const FLAG_META: usize = 2;
const FLAG_MASK: usize = 7;
const HEADER: usize = std::mem::size_of::<usize>();

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

unsafe fn write_varint(mut p: *mut u8, mut v: usize) -> *mut u8 {
    while v >= 0x80 {
        *p = (v as u8) | 0x80;
        p = p.add(1);
        v >>= 7;
    }
    *p = v as u8;
    p.add(1)
}

unsafe fn read_varint(mut p: *const u8) -> (usize, *const u8) {
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        let b = *p;
        p = p.add(1);
        v |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return (v, p);
        }
        shift += 7;
    }
}

/// The decoded positions of a record's parts.
struct Parts {
    key: *const u8,
    klen: usize,
    vlen: usize,
    mlen: usize,
}

/// A handle on a record with its accessors. The store hands out only `&Rec`/`&mut Rec`
/// borrowed for the duration of a call, so a handle never outlives its record: `Rec` is
/// neither `Copy` nor `Clone`.
pub struct Rec {
    ptr: NonNull<u8>,
}

/// An owned record. Dropping it frees the allocation.
pub struct Entry(Rec);

// The record is plain bytes with no interior sharing; ownership moves with `Entry`.
unsafe impl Send for Entry {}
unsafe impl Sync for Entry {}

impl std::ops::Deref for Entry {
    type Target = Rec;
    fn deref(&self) -> &Rec {
        &self.0
    }
}

impl std::ops::DerefMut for Entry {
    fn deref_mut(&mut self) -> &mut Rec {
        &mut self.0
    }
}

impl Entry {
    /// Builds a record. `deadline` is absolute unix milliseconds.
    pub fn new(key: &[u8], value: &[u8], deadline: Option<i64>, meta: Option<&[u8]>) -> Entry {
        let size = Self::size_for(key.len(), value.len(), deadline.is_some(), meta.map(|m| m.len()));
        let layout = Layout::from_size_align(size, HEADER).expect("record too large");
        unsafe {
            let base = alloc::alloc(layout);
            let Some(ptr) = NonNull::new(base) else {
                alloc::handle_alloc_error(layout)
            };
            let mut flags = 0;
            let mut p = base.add(HEADER);
            if let Some(d) = deadline {
                flags |= FLAG_DEADLINE;
                ptr::write_unaligned(p as *mut i64, d);
                p = p.add(8);
            }
            if meta.is_some() {
                flags |= FLAG_META;
            }
            ptr::write(base as *mut usize, flags);
            p = write_varint(p, key.len());
            p = write_varint(p, value.len());
            if let Some(m) = meta {
                p = write_varint(p, m.len());
            }
            ptr::copy_nonoverlapping(key.as_ptr(), p, key.len());
            p = p.add(key.len());
            ptr::copy_nonoverlapping(value.as_ptr(), p, value.len());
            p = p.add(value.len());
            if let Some(m) = meta {
                ptr::copy_nonoverlapping(m.as_ptr(), p, m.len());
            }
            Entry(Rec { ptr })
        }
    }

    pub(super) fn into_raw(self) -> *mut u8 {
        let p = self.0.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` must come from `into_raw` and be owned by the caller.
    pub(super) unsafe fn from_raw(p: *mut u8) -> Entry {
        Entry(Rec {
            ptr: NonNull::new_unchecked(p),
        })
    }

    /// Appends `extra` to the value, growing the allocation with `realloc` (which for large
    /// records remaps pages instead of copying, so repeated APPENDs to a big value stay cheap).
    /// Deadline, metadata and the chain link are kept. The record may move: the caller relinks
    /// it (and must have taken it out of any index keyed by its address first).
    pub fn append(self, extra: &[u8]) -> Entry {
        let parts = self.parts();
        let has_deadline = self.deadline().is_some();
        let mlen = self.has_meta().then_some(parts.mlen);
        let old_size = Entry::size_for(parts.klen, parts.vlen, has_deadline, mlen);
        let new_vlen = parts.vlen + extra.len();
        let new_size = Entry::size_for(parts.klen, new_vlen, has_deadline, mlen);
        unsafe {
            let base = self.0.ptr.as_ptr();
            // Offsets in the old record.
            let vlen_at = HEADER + if has_deadline { 8 } else { 0 } + varint_len(parts.klen);
            let old_vl = varint_len(parts.vlen);
            let shift = varint_len(new_vlen) - old_vl;
            let body_at = vlen_at + old_vl; // metadata length varint, key, value
            let value_end = parts.key.offset_from(base) as usize + parts.klen + parts.vlen;
            let meta_len = mlen.unwrap_or(0);
            let old_layout = Layout::from_size_align_unchecked(old_size, HEADER);
            std::mem::forget(self);
            let nb = alloc::realloc(base, old_layout, new_size);
            if nb.is_null() {
                alloc::handle_alloc_error(Layout::from_size_align_unchecked(new_size, HEADER));
            }
            // Move right, furthest region first: metadata, then the body, then the new length.
            ptr::copy(nb.add(value_end), nb.add(value_end + shift + extra.len()), meta_len);
            ptr::copy(nb.add(body_at), nb.add(body_at + shift), value_end - body_at);
            write_varint(nb.add(vlen_at), new_vlen);
            ptr::copy_nonoverlapping(extra.as_ptr(), nb.add(value_end + shift), extra.len());
            Entry(Rec {
                ptr: NonNull::new_unchecked(nb),
            })
        }
    }

    pub fn size_for(klen: usize, vlen: usize, deadline: bool, mlen: Option<usize>) -> usize {
        HEADER
            + if deadline { 8 } else { 0 }
            + varint_len(klen)
            + varint_len(vlen)
            + mlen.map_or(0, |m| varint_len(m) + m)
            + klen
            + vlen
    }
}

impl Rec {
    #[inline]
    fn word(&self) -> usize {
        unsafe { ptr::read(self.ptr.as_ptr() as *const usize) }
    }

    #[inline]
    fn parts(&self) -> Parts {
        unsafe {
            let flags = self.word() & FLAG_MASK;
            let mut p = self.ptr.as_ptr().add(HEADER) as *const u8;
            if flags & FLAG_DEADLINE != 0 {
                p = p.add(8);
            }
            let (klen, q) = read_varint(p);
            let (vlen, mut q) = read_varint(q);
            let mut mlen = 0;
            if flags & FLAG_META != 0 {
                let (m, r) = read_varint(q);
                mlen = m;
                q = r;
            }
            Parts {
                key: q,
                klen,
                vlen,
                mlen,
            }
        }
    }

    /// Bytes this record occupies in its allocation (for memory accounting).
    pub fn alloc_size(&self) -> usize {
        let p = self.parts();
        Entry::size_for(
            p.klen,
            p.vlen,
            self.deadline().is_some(),
            self.has_meta().then_some(p.mlen),
        )
    }

    /// A non-owning handle for the table's internal walks.
    ///
    /// # Safety
    /// `p` must point at a live record while the handle is used.
    pub(super) unsafe fn at(p: *mut u8) -> Rec {
        Rec {
            ptr: NonNull::new_unchecked(p),
        }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let p = self.parts();
        unsafe { std::slice::from_raw_parts(p.key, p.klen) }
    }

    #[inline]
    pub fn value(&self) -> &[u8] {
        let p = self.parts();
        unsafe { std::slice::from_raw_parts(p.key.add(p.klen), p.vlen) }
    }

    /// The value bytes, writable in place (same length only).
    pub fn value_mut(&mut self) -> &mut [u8] {
        let p = self.parts();
        unsafe { std::slice::from_raw_parts_mut(p.key.add(p.klen) as *mut u8, p.vlen) }
    }

    pub fn has_meta(&self) -> bool {
        self.word() & FLAG_META != 0
    }

    /// The metadata (JSON text) when the record carries any.
    pub fn meta(&self) -> Option<&[u8]> {
        if !self.has_meta() {
            return None;
        }
        let p = self.parts();
        unsafe { Some(std::slice::from_raw_parts(p.key.add(p.klen + p.vlen), p.mlen)) }
    }

    #[inline]
    pub fn deadline(&self) -> Option<i64> {
        if self.word() & FLAG_DEADLINE == 0 {
            return None;
        }
        unsafe { Some(ptr::read_unaligned(self.ptr.as_ptr().add(HEADER) as *const i64)) }
    }

    /// True when the record's deadline has passed (it must not be seen). Strictly after, as
    /// Redis's `keyIsExpired` (`now > when`): a key is still visible, with TTL 0, during the
    /// millisecond of its deadline. (Setting a deadline that is `<= now` deletes at once
    /// instead: that is Redis's `checkAlreadyExpired`, applied by the commands.)
    #[inline]
    pub fn is_expired(&self, now: i64) -> bool {
        matches!(self.deadline(), Some(d) if now > d)
    }

    /// Changes a deadline that exists in place; returns false when the layout would change
    /// (adding or removing a deadline needs a new record).
    pub fn set_deadline_in_place(&mut self, deadline: Option<i64>) -> bool {
        match (self.deadline().is_some(), deadline) {
            (true, Some(d)) => {
                unsafe { ptr::write_unaligned(self.ptr.as_ptr().add(HEADER) as *mut i64, d) };
                true
            }
            (false, None) => true,
            _ => false,
        }
    }

    /// Overwrites value and metadata in place when the new record would have exactly this
    /// record's layout; returns false (and changes nothing) otherwise.
    pub fn overwrite_in_place(&mut self, value: &[u8], meta: Option<&[u8]>) -> bool {
        let p = self.parts();
        if p.vlen != value.len() || self.has_meta() != meta.is_some() || meta.map_or(0, |m| m.len()) != p.mlen {
            return false;
        }
        unsafe {
            let v = p.key.add(p.klen) as *mut u8;
            ptr::copy_nonoverlapping(value.as_ptr(), v, value.len());
            if let Some(m) = meta {
                ptr::copy_nonoverlapping(m.as_ptr(), v.add(value.len()), m.len());
            }
        }
        true
    }

    /// The same key with a new value, deadline and metadata.
    pub fn rebuild(&self, value: &[u8], deadline: Option<i64>, meta: Option<&[u8]>) -> Entry {
        Entry::new(self.key(), value, deadline, meta)
    }

    /// A copy under another key, keeping value, deadline and metadata.
    pub fn with_key(&self, key: &[u8]) -> Entry {
        Entry::new(key, self.value(), self.deadline(), self.meta())
    }

    // ---- hash chain (used by `table`) ----

    #[inline]
    pub(super) fn next(&self) -> *mut u8 {
        (self.word() & !FLAG_MASK) as *mut u8
    }

    #[inline]
    pub(super) fn set_next(&mut self, next: *mut u8) {
        let flags = self.word() & FLAG_MASK;
        unsafe { ptr::write(self.ptr.as_ptr() as *mut usize, (next as usize) | flags) };
    }
}

/// A record borrowed for `'a` (the borrow of the shard that holds it).
pub struct RecRef<'a> {
    rec: Rec,
    _shard: std::marker::PhantomData<&'a ()>,
}

impl<'a> RecRef<'a> {
    /// # Safety
    /// `p` must be a live record for all of `'a`, with no mutation meanwhile.
    pub(super) unsafe fn new(p: *mut u8) -> RecRef<'a> {
        RecRef {
            rec: Rec::at(p),
            _shard: std::marker::PhantomData,
        }
    }

    /// The key, borrowed for as long as the record is (the shard's lock), not just for as
    /// long as this handle: ordered merges keep keys while they advance the handles.
    pub fn key_for_lock(&self) -> &'a [u8] {
        let k = self.rec.key();
        // Safety: the record stays alive and unchanged for 'a (see `new`).
        unsafe { std::slice::from_raw_parts(k.as_ptr(), k.len()) }
    }
}

impl std::ops::Deref for RecRef<'_> {
    type Target = Rec;
    fn deref(&self) -> &Rec {
        &self.rec
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let size = self.alloc_size();
        unsafe { alloc::dealloc(self.0.ptr.as_ptr(), Layout::from_size_align_unchecked(size, HEADER)) };
    }
}

impl std::fmt::Debug for Rec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value().len())
            .field("deadline", &self.deadline())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_keeps_every_part_across_length_boundaries() {
        for (deadline, meta) in [
            (None, None),
            (Some(1_234_567i64), None),
            (None, Some(&b"{\"a\":1}"[..])),
            (Some(9), Some(&b"[]"[..])),
        ] {
            let mut e = Entry::new(b"key", b"", deadline, meta);
            let mut want = Vec::new();
            // Crosses the one-, two- and three-byte length varints (128, 16384).
            for step in [1usize, 126, 1, 5000, 11_256, 1, 100_000] {
                let extra: Vec<u8> = (0..step).map(|i| (i % 251) as u8).collect();
                e = e.append(&extra);
                want.extend_from_slice(&extra);
                assert_eq!(e.key(), b"key");
                assert_eq!(e.value(), &want[..]);
                assert_eq!(e.deadline(), deadline);
                assert_eq!(e.meta(), meta);
                assert_eq!(
                    e.alloc_size(),
                    Entry::size_for(3, want.len(), deadline.is_some(), meta.map(|m| m.len()))
                );
            }
        }
    }
}
