//! The append-only log: the in-memory buffer every write lands in (under its shard's lock,
//! so the log's order is the order writes took effect), the file writes, the fsync thread with
//! group commit, the error state, the manifest, and compaction.
//!
//! Files, in `<dir>/appendonlydir/`:
//! - `manifest`: which files make up the log, in replay order (text: a `edgekv-manifest 1`
//!   line, then `base NAME` and `incr NAME` lines), replaced atomically.
//! - `log.N.base`: a dump of the data (PUT and namespace records) taken by compaction N.
//! - `log.N.incr`: the writes since compaction N began, in order.
//!
//! Durability: a connection's replies leave only after `make_durable` returned for the writes
//! its batch made: written to the file (the kernel holds them; a crash of the process loses
//! nothing) under `appendfsync everysec` and `no`, and fsynced under `always`, where one fsync
//! covers every write that arrived meanwhile (group commit). `everysec` fsyncs once a second
//! off the request path.
//!
//! Errors: a failed write or fsync puts the log in an error state: write commands are refused
//! with `-MISCONF`, reads go on, and a compaction is retried every second; the first one that
//! succeeds writes everything in memory to fresh files and ends the error state. Data whose
//! write failed is not retried byte by byte: after a failed fsync the kernel may have dropped
//! those pages, so only a complete rewrite is trusted.
//!
//! It never speaks a protocol; the store calls `log`, the connection calls `make_durable`.

use super::format::{self, Op};
use parking_lot::{Condvar, Mutex};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DIR_NAME: &str = "appendonlydir";
pub const MANIFEST: &str = "manifest";
const MANIFEST_HEAD: &str = "edgekv-manifest 1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    No = 0,
    EverySec = 1,
    Always = 2,
}

impl Fsync {
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// The files of the log, in replay order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    pub base: Option<String>,
    pub incrs: Vec<String>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Option<Manifest>, String> {
        let path = dir.join(MANIFEST);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_HEAD) {
            return Err(format!("{} is not an edgekv manifest", path.display()));
        }
        let mut m = Manifest::default();
        for l in lines {
            match l.split_once(' ') {
                Some(("base", n)) => m.base = Some(n.to_string()),
                Some(("incr", n)) => m.incrs.push(n.to_string()),
                _ if l.is_empty() => {}
                _ => return Err(format!("{}: unexpected line {l:?}", path.display())),
            }
        }
        Ok(Some(m))
    }

    /// Replaces the manifest atomically: temporary file, fsync, rename, fsync of the folder.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut text = format!("{MANIFEST_HEAD}\n");
        if let Some(b) = &self.base {
            text.push_str(&format!("base {b}\n"));
        }
        for i in &self.incrs {
            text.push_str(&format!("incr {i}\n"));
        }
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, dir.join(MANIFEST))?;
        sync_dir(dir)
    }

    /// The highest sequence number in the file names.
    fn seq(&self) -> u64 {
        self.base
            .iter()
            .chain(self.incrs.iter())
            .filter_map(|n| n.split('.').nth(1)?.parse().ok())
            .max()
            .unwrap_or(0)
    }
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a log file with its header, fsynced.
fn create_log_file(path: &Path) -> std::io::Result<File> {
    let mut f = OpenOptions::new().create_new(true).write(true).open(path)?;
    f.write_all(&format::header())?;
    f.sync_all()?;
    Ok(f)
}

struct Io {
    /// The incremental file being appended to; `None` while logging is off.
    file: Option<File>,
    manifest: Manifest,
    /// Bytes in the current incremental file (its header included).
    file_len: u64,
    /// Bytes of the base and of the incremental files before the current one.
    base_len: u64,
    older_incr_len: u64,
    /// The buffer handed back and forth with `Aof::buf`, so neither side allocates.
    spare: Vec<u8>,
}

/// Counters for INFO persistence.
#[derive(Default)]
pub struct AofStats {
    pub rewrites: AtomicU64,
    pub rewrite_in_progress: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_ms: AtomicI64,
    pub rewrite_started: AtomicI64,
    /// Unix seconds of the last successful compaction or SAVE (LASTSAVE).
    pub last_save: AtomicI64,
    /// Writes logged since the last compaction (rdb_changes_since_last_save).
    pub changes: AtomicU64,
    /// How long each fsync of the incremental file took (/metrics).
    pub fsync: crate::metrics::Buckets,
}

pub struct Aof {
    dir: PathBuf,
    enabled: AtomicBool,
    policy: AtomicU8,
    buf: Mutex<Vec<u8>>,
    /// Bytes ever appended to `buf` (a logical offset over all files).
    appended: AtomicU64,
    io: Mutex<Io>,
    /// Logical offsets written to the file and fsynced.
    written: AtomicU64,
    synced: AtomicU64,
    failed: AtomicBool,
    error: Mutex<String>,
    /// Wakes the fsync thread.
    wake: Mutex<bool>,
    wake_cv: Condvar,
    /// Tells connections waiting for an fsync that `synced` moved.
    synced_notify: tokio::sync::Notify,
    /// A connection is fsyncing for everyone (appendfsync always), and how many wait for it.
    sync_leader: AtomicBool,
    sync_waiters: std::sync::atomic::AtomicUsize,
    /// Connections inside `make_durable` under `always` (the commit delay's signal).
    committers: std::sync::atomic::AtomicUsize,
    /// Failed writes or fsyncs so far: a compaction ends the error state only if none
    /// happened after its cut (records dropped then are in neither its dump nor its file).
    failures: AtomicU64,
    /// The current incremental file failed a write or fsync: nothing more goes to it.
    broken: AtomicBool,
    /// A SWAPDB happened during a compaction's dump: the dump is discarded.
    swapped: AtomicBool,
    rewrite_lock: Mutex<()>,
    pub stats: AofStats,
}

/// Decrements a counter when dropped (also when the future holding it is dropped).
struct Leave<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where compaction may be made to crash, for the crash tests (`EDGEKV_CRASH_AT`).
fn crash_point(name: &str) {
    if std::env::var("EDGEKV_CRASH_AT").is_ok_and(|v| v == name) {
        eprintln!("edgekv: crashing at {name} (EDGEKV_CRASH_AT)");
        std::process::abort();
    }
}

impl Aof {
    pub fn new(data_dir: &Path, policy: Fsync) -> Arc<Aof> {
        Arc::new(Aof {
            dir: data_dir.join(DIR_NAME),
            enabled: AtomicBool::new(false),
            policy: AtomicU8::new(policy as u8),
            buf: Mutex::new(Vec::with_capacity(64 * 1024)),
            appended: AtomicU64::new(0),
            io: Mutex::new(Io {
                file: None,
                manifest: Manifest::default(),
                file_len: 0,
                base_len: 0,
                older_incr_len: 0,
                spare: Vec::with_capacity(64 * 1024),
            }),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(String::new()),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            synced_notify: tokio::sync::Notify::new(),
            sync_leader: AtomicBool::new(false),
            sync_waiters: std::sync::atomic::AtomicUsize::new(0),
            committers: std::sync::atomic::AtomicUsize::new(0),
            failures: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            swapped: AtomicBool::new(false),
            rewrite_lock: Mutex::new(()),
            stats: AofStats {
                last_rewrite_ok: AtomicBool::new(true),
                last_rewrite_ms: AtomicI64::new(-1),
                rewrite_started: AtomicI64::new(0),
                ..Default::default()
            },
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_policy(&self, p: Fsync) {
        self.policy.store(p as u8, Ordering::Relaxed);
    }

    fn policy(&self) -> Fsync {
        match self.policy.load(Ordering::Relaxed) {
            2 => Fsync::Always,
            0 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    /// The error that stops writes, if any.
    pub fn error(&self) -> Option<String> {
        self.failed.load(Ordering::Acquire).then(|| self.error.lock().clone())
    }

    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// Appends one operation. Called with the affected shard locked, so operations on one key
    /// reach the log in the order they took effect.
    #[inline]
    pub fn log(&self, op: &Op) {
        if !self.enabled() {
            return;
        }
        let mut b = self.buf.lock();
        let before = b.len();
        format::encode(&mut b, op);
        self.appended.fetch_add((b.len() - before) as u64, Ordering::AcqRel);
        drop(b);
        self.stats.changes.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, what: &str, e: &std::io::Error) {
        self.failures.fetch_add(1, Ordering::AcqRel);
        self.broken.store(true, Ordering::Release);
        let text = format!("{what}: {e}");
        if !self.failed.swap(true, Ordering::AcqRel) {
            tracing::error!(error = %text, "the log cannot be written: writes are refused until a rewrite succeeds");
        }
        *self.error.lock() = text;
    }

    /// Writes what is buffered to the file. On failure the log enters the error state.
    pub fn flush(&self) -> Result<(), String> {
        let mut io = self.io.lock();
        self.flush_locked(&mut io)
    }

    fn flush_locked(&self, io: &mut Io) -> Result<(), String> {
        let upto;
        {
            let mut b = self.buf.lock();
            if b.is_empty() {
                return self.error().map_or(Ok(()), Err);
            }
            upto = self.appended.load(Ordering::Acquire);
            std::mem::swap(&mut *b, &mut io.spare);
        }
        let mut data = std::mem::take(&mut io.spare);
        let result = if self.broken.load(Ordering::Acquire) {
            // The current file failed: only a rewrite makes the log whole again (this data
            // is in memory and goes into that rewrite's dump, which starts after its cut).
            Err(self.error.lock().clone())
        } else if let Some(f) = io.file.as_mut() {
            match f.write_all(&data) {
                Ok(()) => {
                    io.file_len += data.len() as u64;
                    self.written.fetch_max(upto, Ordering::AcqRel);
                    Ok(())
                }
                Err(e) => {
                    // Cut a partly written record off, so the file ends on a record boundary.
                    let _ = f.set_len(io.file_len);
                    self.fail("write", &e);
                    Err(self.error.lock().clone())
                }
            }
        } else {
            Ok(())
        };
        data.clear();
        io.spare = data;
        result
    }

    /// Waits until every write logged before this call is durable under the fsync policy:
    /// in the file (everysec, no), or fsynced (always).
    pub async fn make_durable(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        let upto = self.appended();
        // Under `always` the leader below writes everyone's buffered bytes in one write(2);
        // otherwise each batch writes what is buffered before its replies leave.
        if self.policy() != Fsync::Always && self.written.load(Ordering::Acquire) < upto {
            self.flush()?;
        }
        if self.policy() == Fsync::Always {
            // Group commit with a leader: the first waiter fsyncs on its own thread (as Redis
            // fsyncs in its event loop: no hand-off to another thread and back, which cost a
            // fifth of the throughput here), covering everything written so far; the others
            // wait for it and find their writes covered, or lead the next round.
            let mut yielded = false;
            self.committers.fetch_add(1, Ordering::AcqRel);
            let _leave = Leave(&self.committers);
            loop {
                let notified = self.synced_notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.synced.load(Ordering::Acquire) >= upto || !self.enabled() {
                    break;
                }
                if let Some(e) = self.error() {
                    return Err(e);
                }
                if !yielded && self.committers.load(Ordering::Acquire) > 1 && !self.sync_leader.load(Ordering::Acquire)
                {
                    // Others are committing too: let the connections that are ready run first,
                    // so their writes join this fsync instead of waiting for the next one (a
                    // commit delay of one scheduler round; alone, it would only add latency).
                    yielded = true;
                    tokio::task::yield_now().await;
                    continue;
                }
                if !self.sync_leader.swap(true, Ordering::AcqRel) {
                    // Everyone's buffered writes join this fsync. With others waiting, the
                    // worker thread is handed over to the runtime meanwhile, so the tasks queued
                    // on it run elsewhere; alone, the hand-over costs more than it saves.
                    let sync = || {
                        let _ = self.flush();
                        self.sync_once();
                    };
                    if self.sync_waiters.load(Ordering::Acquire) > 0 {
                        tokio::task::block_in_place(sync);
                    } else {
                        sync();
                    }
                    self.sync_leader.store(false, Ordering::Release);
                    self.synced_notify.notify_waiters();
                    continue;
                }
                self.sync_waiters.fetch_add(1, Ordering::AcqRel);
                notified.await;
                self.sync_waiters.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.error().map_or(Ok(()), Err)
    }

    /// One fsync of everything written so far.
    fn sync_once(&self) {
        let (target, file) = {
            let io = self.io.lock();
            (
                self.written.load(Ordering::Acquire),
                io.file.as_ref().and_then(|f| f.try_clone().ok()),
            )
        };
        if let Some(f) = file {
            if target > self.synced.load(Ordering::Acquire) {
                let started = std::time::Instant::now();
                let r = f.sync_data();
                self.stats.fsync.observe(started.elapsed().as_secs_f64());
                match r {
                    Ok(()) => {
                        self.synced.fetch_max(target, Ordering::AcqRel);
                    }
                    Err(e) => self.fail("fsync", &e),
                }
            }
        }
        self.synced_notify.notify_waiters();
    }

    /// The fsync thread of `appendfsync everysec`: once a second, off the request path.
    pub fn spawn_sync_thread(self: &Arc<Self>) {
        let aof = self.clone();
        std::thread::Builder::new()
            .name("edgekv-fsync".into())
            .spawn(move || loop {
                {
                    let mut w = aof.wake.lock();
                    if !*w {
                        aof.wake_cv.wait_for(&mut w, Duration::from_secs(1));
                    }
                    *w = false;
                }
                if !aof.enabled() {
                    aof.synced_notify.notify_waiters();
                    continue;
                }
                // Under `always` the connections fsync themselves (make_durable).
                if aof.policy() == Fsync::EverySec {
                    let _ = aof.flush();
                    aof.sync_once();
                }
            })
            .expect("spawn fsync thread");
    }

    /// Sizes for INFO and the automatic compaction: (whole log, base).
    pub fn sizes(&self) -> (u64, u64) {
        let io = self.io.lock();
        (io.base_len + io.older_incr_len + io.file_len, io.base_len)
    }

    /// A SWAPDB happened: a compaction dumping meanwhile must start over (SWAP is the one
    /// operation that replaying over a newer state does not undo).
    pub fn note_swap(&self) {
        self.swapped.store(true, Ordering::Release);
    }

    /// Opens the last incremental file of `manifest` for appending (after replay), cut to
    /// `valid_len` bytes (a torn tail removed).
    pub fn resume(&self, manifest: Manifest, valid_len: u64, base_len: u64, older: u64) -> std::io::Result<()> {
        let last = manifest
            .incrs
            .last()
            .expect("a manifest has an incremental file")
            .clone();
        let path = self.dir.join(&last);
        let f = OpenOptions::new().write(true).open(&path)?;
        f.set_len(valid_len)?;
        f.sync_all()?;
        let mut f = f;
        use std::io::Seek;
        f.seek(std::io::SeekFrom::End(0))?;
        let mut io = self.io.lock();
        io.file = Some(f);
        io.manifest = manifest;
        io.file_len = valid_len;
        io.base_len = base_len;
        io.older_incr_len = older;
        self.enabled.store(true, Ordering::Release);
        Ok(())
    }

    /// Removes files of the log folder that the manifest does not name: what a crashed
    /// compaction left (a partial base, a base never named, files already replaced).
    pub fn remove_unlisted(&self) {
        let io = self.io.lock();
        let keep: Vec<&str> = io
            .manifest
            .base
            .iter()
            .chain(io.manifest.incrs.iter())
            .map(String::as_str)
            .collect();
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("log.") && !keep.contains(&name) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Stops logging (CONFIG SET appendonly no): what is buffered is written and fsynced.
    pub fn stop(&self) {
        let mut io = self.io.lock();
        let _ = self.flush_locked(&mut io);
        if let Some(f) = &io.file {
            let _ = f.sync_all();
        }
        self.enabled.store(false, Ordering::Release);
        io.file = None;
        self.buf.lock().clear();
        drop(io);
        // Nothing is waited for any more.
        self.synced_notify.notify_waiters();
    }

    /// `appendfsync always` is on: every reply, also a read's, waits for the fsync of what
    /// was written before it (a client never sees a value a crash could undo).
    pub fn always(&self) -> bool {
        self.enabled() && self.policy() == Fsync::Always
    }

    /// Writes and fsyncs what is buffered (shutdown).
    pub fn close(&self) {
        if self.enabled() {
            let mut io = self.io.lock();
            let _ = self.flush_locked(&mut io);
            if let Some(f) = &io.file {
                let _ = f.sync_all();
            }
        }
    }

    /// Starts the next incremental file: everything logged from here on goes there, and the
    /// manifest lists it after the files it already had (so a crash from now on replays the
    /// old files and then this one). Returns the new sequence number.
    fn rotate(&self) -> std::io::Result<u64> {
        fs::create_dir_all(&self.dir)?;
        let mut io = self.io.lock();
        // What is buffered belongs before the cut.
        let _ = self.flush_locked(&mut io);
        if let Some(f) = &io.file {
            f.sync_all()?;
            self.synced
                .fetch_max(self.written.load(Ordering::Acquire), Ordering::AcqRel);
        }
        // Past every sequence number in the folder too: files of an earlier run (logging was
        // switched off and on again) are never reused.
        let on_disk = fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.split('.').nth(1)?.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        let seq = io.manifest.seq().max(on_disk) + 1;
        let name = format!("log.{seq}.incr");
        let file = create_log_file(&self.dir.join(&name))?;
        let mut m = io.manifest.clone();
        m.incrs.push(name);
        m.write(&self.dir)?;
        io.older_incr_len += io.file_len;
        io.file_len = format::HEADER_LEN as u64;
        io.file = Some(file);
        io.manifest = m;
        // Records from the cut on go to the fresh file, also while the error state lasts.
        self.broken.store(false, Ordering::Release);
        self.enabled.store(true, Ordering::Release);
        Ok(seq)
    }

    /// Compaction: a new base from the live data, the incremental file started at the cut,
    /// then the manifest switched to them and the old files removed. Writers are held up only
    /// while their shard is dumped. `dump` writes the records of the live data (and the
    /// namespace registry) into the buffer it is given, one shard per call, returning false
    /// when done.
    pub fn rewrite(&self, mut dump: impl FnMut(&mut Vec<u8>, usize) -> bool) -> Result<(), String> {
        let _one = self.rewrite_lock.lock();
        let started = Instant::now();
        self.stats.rewrite_in_progress.store(true, Ordering::Release);
        self.stats
            .rewrite_started
            .store(crate::store::now_ms(), Ordering::Relaxed);
        let result = (|| -> Result<(), String> {
            for _attempt in 0..5 {
                self.swapped.store(false, Ordering::Release);
                let failures_at_cut = self.failures.load(Ordering::Acquire);
                let seq = self.rotate().map_err(|e| format!("cannot start a new log file: {e}"))?;
                crash_point("after-rotate");
                let base_name = format!("log.{seq}.base");
                let tmp = self.dir.join(format!("{base_name}.tmp"));
                let _ = fs::remove_file(&tmp);
                let mut f = create_log_file(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
                let mut chunk = Vec::with_capacity(1 << 20);
                let mut step = 0;
                let mut base_len = format::HEADER_LEN as u64;
                loop {
                    chunk.clear();
                    let more = dump(&mut chunk, step);
                    f.write_all(&chunk)
                        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
                    base_len += chunk.len() as u64;
                    step += 1;
                    if step == 1 {
                        crash_point("during-dump");
                    }
                    if !more {
                        break;
                    }
                }
                if self.swapped.load(Ordering::Acquire) {
                    let _ = fs::remove_file(&tmp);
                    continue;
                }
                f.sync_all().map_err(|e| format!("fsync {}: {e}", tmp.display()))?;
                drop(f);
                crash_point("after-base-fsync");
                fs::rename(&tmp, self.dir.join(&base_name)).map_err(|e| format!("rename: {e}"))?;
                sync_dir(&self.dir).map_err(|e| format!("fsync {}: {e}", self.dir.display()))?;
                crash_point("after-base-rename");
                let old = {
                    let mut io = self.io.lock();
                    let incr = format!("log.{seq}.incr");
                    let pos = io.manifest.incrs.iter().position(|n| *n == incr).expect("rotated in");
                    let new = Manifest {
                        base: Some(base_name.clone()),
                        incrs: io.manifest.incrs[pos..].to_vec(),
                    };
                    new.write(&self.dir).map_err(|e| format!("writing the manifest: {e}"))?;
                    let old: Vec<String> = io
                        .manifest
                        .base
                        .iter()
                        .chain(io.manifest.incrs[..pos].iter())
                        .cloned()
                        .collect();
                    io.manifest = new;
                    io.base_len = base_len;
                    io.older_incr_len = 0;
                    old
                };
                crash_point("after-manifest");
                for name in old {
                    let _ = fs::remove_file(self.dir.join(name));
                }
                self.remove_unlisted();
                // A fresh, complete log: the error state (if any) is over. (Writes that went
                // to the new incremental file meanwhile are written, not yet fsynced: their
                // waiters fsync as usual.)
                if self.failures.load(Ordering::Acquire) != failures_at_cut {
                    return Err("the log failed during the rewrite; retrying".into());
                }
                if self.failed.swap(false, Ordering::AcqRel) {
                    tracing::info!("the log was rewritten: writes are accepted again");
                }
                return Ok(());
            }
            Err("SWAPDB kept interrupting the rewrite".into())
        })();
        self.stats.rewrite_in_progress.store(false, Ordering::Release);
        self.stats
            .last_rewrite_ms
            .store(started.elapsed().as_millis() as i64, Ordering::Relaxed);
        let ok = result.is_ok();
        self.stats.last_rewrite_ok.store(ok, Ordering::Relaxed);
        if ok {
            self.stats.rewrites.fetch_add(1, Ordering::Relaxed);
            self.stats.changes.store(0, Ordering::Relaxed);
            self.stats
                .last_save
                .store(crate::store::now_ms() / 1000, Ordering::Relaxed);
        } else if let Err(e) = &result {
            tracing::warn!(error = %e, "log rewrite failed");
        }
        result
    }
}
