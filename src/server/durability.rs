//! Wiring the log into the server: start-up (replay in the background while clients get
//! `-LOADING`, or a fresh log), compaction runs (BGREWRITEAOF, SAVE, the automatic trigger,
//! and the retry that ends an error state), and CONFIG SET appendonly.

use super::shared::Shared;
use crate::persist::format::Op;
use crate::persist::log::{Fsync, Manifest};
use crate::persist::replay;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Applies one replayed operation to the store and the registry (logging is off meanwhile).
fn apply(shared: &Shared, op: Op, now: i64) -> Result<(), String> {
    let slot = |db: u32| -> Result<usize, String> {
        let d = db as usize;
        if d < shared.store.slots() {
            Ok(d)
        } else {
            Err(format!(
                "the log writes to database {d}, beyond the {} databases and namespace slots (check `databases` and `kv-max-namespaces`)",
                shared.store.slots()
            ))
        }
    };
    match op {
        Op::Put {
            db,
            key,
            value,
            deadline,
            meta,
        } => {
            shared.store.db(slot(db)?, now).put(key, value, deadline, meta);
        }
        Op::Del { db, key } => {
            shared.store.db(slot(db)?, now).remove(key);
        }
        Op::Append {
            db,
            key,
            new_len,
            extra,
        } => {
            let db = shared.store.db(slot(db)?, now);
            // Only onto the value it was appended to (see persist/format.rs).
            if db.read(key, |r| r.value().len() as u64 + extra.len() as u64 == new_len) == Some(true) {
                db.append(key, extra, usize::MAX);
            }
        }
        Op::Deadline { db, key, deadline } => {
            shared.store.db(slot(db)?, now).set_deadline(key, deadline);
        }
        Op::Clear { db } => {
            shared.store.db(slot(db)?, now).clear();
        }
        Op::Swap { a, b } => shared.store.swap(slot(a)?, slot(b)?, now),
        Op::NsPut { index, id, title } => {
            shared.namespaces.restore(slot(index)?, id, title)?;
            shared.store.index_now(index as usize);
        }
        Op::NsDel { index } => shared.namespaces.forget(index as usize),
    }
    Ok(())
}

/// Waits until the log holds what a session's replies acknowledge: its writes since it last
/// waited (written to the log, or fsynced under `appendfsync always`, when reads wait too).
/// The log's error when it failed: the caller answers that instead of the replies (RESP and
/// HTTP both).
pub async fn wait_durable(shared: &Shared, session: &mut crate::command::Session) -> Result<(), String> {
    if !session.wrote && !shared.aof.always() {
        return Ok(());
    }
    session.wrote = false;
    shared.aof.make_durable().await
}

/// Start-up. With `appendonly yes`: an existing log is replayed on a background thread
/// (`loading` is set meanwhile, and cleared when writes may go on); without one, a first
/// log is written from the registry. Returns an error for the operator when the log is
/// damaged or unreadable.
pub fn start(shared: &Arc<Shared>) -> Result<(), String> {
    let aof = shared.aof.clone();
    shared.store.aof.set(aof.clone()).ok();
    shared.namespaces.aof.set(aof.clone()).ok();
    aof.set_policy(Fsync::parse(&shared.config.get("appendfsync").unwrap_or_default()));
    aof.spawn_sync_thread();
    if shared.config.get("appendonly").as_deref() != Some("yes") {
        return Ok(());
    }
    let dir = aof.dir().to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    match Manifest::read(&dir)? {
        None => {
            rewrite(shared).map_err(|e| format!("cannot start the log in {}: {e}", dir.display()))?;
            // Creating the first log is not a compaction (INFO aof_rewrites counts those).
            let st = &shared.aof.stats;
            st.rewrites.store(0, Ordering::Relaxed);
            st.last_rewrite_ms.store(-1, Ordering::Relaxed);
            Ok(())
        }
        Some(manifest) => {
            shared.loading.store(true, Ordering::Release);
            shared.namespaces.clear_for_replay();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("edgekv-load".into())
                .spawn(move || {
                    if let Err(e) = load(&shared, manifest) {
                        // The log cannot be trusted: stop rather than serve a partial dataset.
                        eprintln!("edgekv: {e}");
                        tracing::error!(error = %e, "loading the log failed");
                        std::process::exit(1);
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

fn load(shared: &Arc<Shared>, manifest: Manifest) -> Result<(), String> {
    let started = Instant::now();
    // Replay runs on a clock from before every deadline: each logged operation applied to a
    // live key when it was logged (an expired key was missing to it, and what it wrote then
    // is logged as a whole record), so it must find that key live again. Deadlines that have
    // passed meanwhile take effect once loading is over, through lazy expiry and the
    // reclaimer (paused during loading).
    let replay_now = 0;
    let dir = shared.aof.dir().to_path_buf();
    let mut last_report = Instant::now();
    let r = replay::replay(
        &dir,
        manifest,
        |op| apply(shared, op, replay_now),
        |done, total| {
            if last_report.elapsed() > Duration::from_secs(1) {
                last_report = Instant::now();
                tracing::info!(read = done, total, "loading the log: {}%", done * 100 / total.max(1));
            }
        },
    )?;
    shared
        .aof
        .resume(r.manifest, r.last_valid_len, r.base_len, r.older_len)
        .map_err(|e| format!("cannot reopen the log for writing: {e}"))?;
    shared.aof.remove_unlisted();
    let _ = shared.namespaces.save_file();
    // Keys whose deadline passed while the server was down go before clients see anything
    // (they were loaded so that later records could apply to them).
    let now = crate::store::now_ms();
    while shared.store.reclaim(now).removed > 0 {}
    let keys: usize = shared.store.created().map(|d| shared.store.info(d, now).keys).sum();
    tracing::info!(
        records = r.records,
        keys,
        ms = started.elapsed().as_millis() as u64,
        "the log was loaded"
    );
    shared.loading.store(false, Ordering::Release);
    Ok(())
}

/// One compaction, on the calling thread.
pub fn rewrite(shared: &Shared) -> Result<(), String> {
    let now = crate::store::now_ms();
    // Where the dump is: the slots that existed when it began (taken after the cut: every
    // slot with data from before the cut is in the list; a slot created later holds only
    // writes the new incremental file has), and a shard and SCAN cursor in them.
    let mut slots: Vec<usize> = Vec::new();
    let (mut slot, mut shard, mut cursor) = (0usize, 0usize, 0u64);
    shared.aof.rewrite(|out, step| {
        if step == 0 {
            slots = shared.store.created().collect();
            (slot, shard, cursor) = (0, 0, 0);
            shared.namespaces.dump(out);
        }
        while slot < slots.len() {
            cursor = shared
                .store
                .dump_chunk(slots[slot], shard, cursor, DUMP_CHUNK, out, now);
            if cursor == 0 {
                shard += 1;
                if shard == crate::store::SHARDS {
                    (slot, shard) = (slot + 1, 0);
                }
            }
            if out.len() >= DUMP_BYTES {
                break;
            }
        }
        slot < slots.len()
    })
}

/// Keys per dump chunk: the longest a writer waits for its shard during a compaction is
/// the time to encode this many records (about half a millisecond).
const DUMP_CHUNK: usize = 4096;
/// Bytes gathered before they are written to the new base.
const DUMP_BYTES: usize = 4 << 20;

/// A compaction on its own thread (BGREWRITEAOF, BGSAVE, the automatic trigger). False when
/// one is already running.
pub fn rewrite_in_background(shared: &Shared) -> bool {
    let Some(shared) = shared.arc() else { return false };
    if shared.aof.stats.rewrite_in_progress.swap(true, Ordering::AcqRel) {
        return false;
    }
    std::thread::Builder::new()
        .name("edgekv-rewrite".into())
        .spawn(move || {
            let _ = rewrite(&shared);
        })
        .is_ok()
}

/// Called by the reclaimer thread about once a second: the automatic compaction
/// (auto-aof-rewrite-percentage / -min-size, as Redis decides it) and the retry of a log in
/// the error state.
pub fn tick(shared: &Arc<Shared>) {
    let aof = &shared.aof;
    if !aof.enabled() || shared.loading.load(Ordering::Acquire) || aof.stats.rewrite_in_progress.load(Ordering::Acquire)
    {
        return;
    }
    if aof.error().is_some() {
        rewrite_in_background(shared);
        return;
    }
    let pct = shared.config.get_i64("auto-aof-rewrite-percentage");
    let min = shared.config.get_i64("auto-aof-rewrite-min-size").max(0) as u64;
    if pct <= 0 {
        return;
    }
    let (size, base) = aof.sizes();
    let base = base.max(1);
    if size >= min && size > base + base * pct as u64 / 100 {
        tracing::info!(size, base, "starting an automatic log rewrite");
        rewrite_in_background(shared);
    }
}

/// CONFIG SET appendonly yes|no at run time. Switching on writes the live data to a new log
/// before the reply, or in the background when the caller holds the store gate (inside
/// EXEC, where the dump would wait for the gate forever).
pub fn set_appendonly(shared: &Shared, on: bool, in_exec: bool) -> Result<(), String> {
    if shared.loading.load(Ordering::Acquire) {
        return Err("appendonly can't be changed while the log is loading".into());
    }
    if on == shared.aof.enabled() {
        return Ok(());
    }
    if on {
        // Files of an earlier run are stale: the rewrite writes the live data to new files
        // and the manifest stops naming the old ones. Failing that, the client gets Redis's
        // words and the reason goes to the server's log, as Redis's startAppendOnly does.
        let cannot = |e: String| {
            tracing::warn!(error = %e, "unable to turn on the log");
            crate::errors::AOF_START.to_string()
        };
        std::fs::create_dir_all(shared.aof.dir()).map_err(|e| cannot(e.to_string()))?;
        if !in_exec {
            return rewrite(shared).map_err(cannot);
        }
        if rewrite_in_background(shared) {
            Ok(())
        } else {
            Err(cannot("a rewrite is already in progress".into()))
        }
    } else {
        shared.aof.stop();
        Ok(())
    }
}
