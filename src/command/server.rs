//! Server commands: INFO, CONFIG (GET SET RESETSTAT REWRITE HELP), COMMAND (COUNT INFO DOCS
//! LIST HELP), TIME, LASTSAVE, SHUTDOWN.

use super::args::{is, Args};
use super::connection::help;
use super::table::{self, flags, CommandSpec, KeySpec};
use super::{Command, Ctx};
use crate::config::{Access, Config, ConfigError};
use crate::errors::{self, err};
use crate::protocol::Reply;
use crate::store::glob;
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// A container called without a subcommand: only `COMMAND` (arity -1) gets here; it lists
/// every command, as `COMMAND INFO` with no names does.
pub fn container_without_sub(_: &mut Ctx, _: &[Bytes]) -> Reply {
    Reply::Array(table::commands().iter().map(command_info).collect())
}

// ---- INFO ----

/// `INFO [section [section ...]]`
pub struct Info {
    sections: Vec<String>,
}

impl Command for Info {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(Info {
            sections: args
                .rest()
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Verbatim(Bytes::from(info_text(ctx, &self.sections)))
    }
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "namespaces",
];
const ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "namespaces",
];

/// Redis's `bytesToHuman`: `999B`, `1.50K`, `2.00M`, ... up to petabytes, then bytes again.
fn human_bytes(n: u64) -> String {
    const UNITS: [(u32, &str); 5] = [(1, "K"), (2, "M"), (3, "G"), (4, "T"), (5, "P")];
    if n < 1024 {
        return format!("{}B", n);
    }
    for (p, unit) in UNITS {
        if (n as u128) < 1024u128.pow(p + 1) {
            return format!("{:.2}{}", n as f64 / 1024f64.powi(p as i32), unit);
        }
    }
    format!("{}B", n)
}

/// Bytes the allocator has handed out (glibc's mallinfo2: in-use chunks plus mmapped blocks).
pub fn used_memory() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        let m = libc::mallinfo2();
        (m.uordblks + m.hblkhd) as u64
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        rss_bytes()
    }
}

/// Bytes the allocator holds from the system (glibc: the main arena plus mmapped blocks).
fn allocator_active() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        let m = libc::mallinfo2();
        (m.arena + m.hblkhd) as u64
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        rss_bytes()
    }
}

/// The highest `used_memory` INFO has seen (Redis samples its peak the same way, lazily).
static PEAK_MEMORY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Physical memory of the machine.
fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    if pages > 0 && size > 0 {
        pages as u64 * size as u64
    } else {
        0
    }
}

/// Resident set size of this process.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// `uname -s -r -m`, as Redis prints it in INFO (`Linux 6.1.0 x86_64`).
fn os_name() -> String {
    // SAFETY: uname fills a zeroed struct of NUL-terminated fields.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
        }
        let field = |f: &[libc::c_char]| std::ffi::CStr::from_ptr(f.as_ptr()).to_string_lossy().into_owned();
        format!("{} {} {}", field(&u.sysname), field(&u.release), field(&u.machine))
    }
}

fn rusage(who: i32) -> (f64, f64) {
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut r);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(r.ru_stime), t(r.ru_utime))
    }
}

fn info_text(ctx: &Ctx, requested: &[String]) -> String {
    let mut want: Vec<&str> = Vec::new();
    if requested.is_empty() {
        want.extend(DEFAULT_SECTIONS);
    }
    for r in requested {
        match r.as_str() {
            "default" => want.extend(DEFAULT_SECTIONS),
            "all" | "everything" => want.extend(ORDER),
            s => {
                if let Some(o) = ORDER.iter().find(|o| **o == s) {
                    want.push(o);
                }
            }
        }
    }
    let mut out = String::new();
    for section in ORDER.iter().filter(|s| want.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section_text(ctx, section, &mut out);
    }
    out
}

fn line(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{}:{}\r\n", k, v);
}

fn section_text(ctx: &Ctx, section: &str, out: &mut String) {
    let sh = ctx.shared;
    match section {
        "server" => {
            out.push_str("# Server\r\n");
            line(out, "redis_version", crate::REDIS_VERSION);
            line(out, "redis_git_sha1", "00000000");
            line(out, "redis_git_dirty", 0);
            line(out, "redis_build_id", "0");
            line(out, "redis_mode", "standalone");
            line(out, "os", os_name());
            line(out, "arch_bits", 64);
            line(out, "monotonic_clock", "POSIX clock_gettime");
            line(out, "multiplexing_api", "epoll");
            line(out, "atomicvar_api", "c11-builtin");
            line(out, "gcc_version", "0.0.0");
            line(out, "process_id", std::process::id());
            line(out, "process_supervised", "no");
            line(out, "run_id", &sh.run_id);
            line(out, "tcp_port", sh.tcp_port.load(Ordering::Relaxed));
            line(out, "server_time_usec", ctx.now * 1000);
            let up = sh.started.elapsed().as_secs();
            line(out, "uptime_in_seconds", up);
            line(out, "uptime_in_days", up / 86400);
            line(out, "hz", sh.config.get_i64("hz"));
            line(out, "configured_hz", sh.config.get_i64("hz"));
            line(out, "lru_clock", (ctx.now / 1000) & ((1 << 24) - 1));
            line(
                out,
                "executable",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            line(
                out,
                "config_file",
                sh.config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            line(out, "io_threads_active", 0);
            line(out, "edgekv_version", env!("CARGO_PKG_VERSION"));
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            let connected = sh
                .clients
                .lock()
                .values()
                .filter(|c| !c.killed.load(Ordering::Relaxed))
                .count();
            line(out, "connected_clients", connected);
            line(out, "cluster_connections", 0);
            line(out, "maxclients", sh.config.maxclients.load(Ordering::Relaxed));
            line(out, "client_recent_max_input_buffer", 0);
            line(out, "client_recent_max_output_buffer", 0);
            line(out, "blocked_clients", 0);
            line(out, "tracking_clients", 0);
            line(out, "clients_in_timeout_table", 0);
        }
        "memory" => {
            out.push_str("# Memory\r\n");
            let used = used_memory();
            let rss = rss_bytes();
            let active = allocator_active().max(used);
            let peak = PEAK_MEMORY.fetch_max(used, Ordering::Relaxed).max(used);
            let dataset: usize = sh.store.created().map(|d| sh.store.info(d, ctx.now).bytes).sum();
            let dataset = dataset as u64;
            let overhead = used.saturating_sub(dataset);
            let system = total_system_memory();
            let maxmem = sh
                .config
                .get("maxmemory")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let ratio = |a: u64, b: u64| format!("{:.2}", a as f64 / b.max(1) as f64);
            let perc = |a: u64, b: u64| format!("{:.2}%", a as f64 * 100.0 / b.max(1) as f64);
            line(out, "used_memory", used);
            line(out, "used_memory_human", human_bytes(used));
            line(out, "used_memory_rss", rss);
            line(out, "used_memory_rss_human", human_bytes(rss));
            line(out, "used_memory_peak", peak);
            line(out, "used_memory_peak_human", human_bytes(peak));
            line(out, "used_memory_peak_perc", perc(used, peak));
            line(out, "used_memory_overhead", overhead);
            line(out, "used_memory_startup", 0);
            line(out, "used_memory_dataset", dataset);
            line(out, "used_memory_dataset_perc", perc(dataset, used));
            line(out, "allocator_allocated", used);
            line(out, "allocator_active", active);
            line(out, "allocator_resident", rss);
            line(out, "total_system_memory", system);
            line(out, "total_system_memory_human", human_bytes(system));
            // No scripting: the Lua and function engines use nothing.
            for k in ["used_memory_lua", "used_memory_vm_eval"] {
                line(out, k, 0);
            }
            line(out, "used_memory_lua_human", "0B");
            for k in [
                "used_memory_scripts_eval",
                "number_of_cached_scripts",
                "number_of_functions",
                "number_of_libraries",
                "used_memory_vm_functions",
                "used_memory_vm_total",
            ] {
                line(out, k, 0);
            }
            line(out, "used_memory_vm_total_human", "0B");
            line(out, "used_memory_functions", 0);
            line(out, "used_memory_scripts", 0);
            line(out, "used_memory_scripts_human", "0B");
            line(out, "maxmemory", maxmem);
            line(out, "maxmemory_human", human_bytes(maxmem));
            line(
                out,
                "maxmemory_policy",
                sh.config.get("maxmemory-policy").unwrap_or_default(),
            );
            line(out, "allocator_frag_ratio", ratio(active, used));
            line(out, "allocator_frag_bytes", active.saturating_sub(used));
            line(out, "allocator_rss_ratio", ratio(rss, active));
            line(out, "allocator_rss_bytes", rss as i64 - active as i64);
            line(out, "rss_overhead_ratio", "1.00");
            line(out, "rss_overhead_bytes", 0);
            line(out, "mem_fragmentation_ratio", ratio(rss, used));
            line(out, "mem_fragmentation_bytes", rss as i64 - used as i64);
            for k in [
                "mem_not_counted_for_evict",
                "mem_replication_backlog",
                "mem_total_replication_buffers",
                "mem_clients_slaves",
                "mem_clients_normal",
                "mem_cluster_links",
                "mem_aof_buffer",
            ] {
                line(out, k, 0);
            }
            line(out, "mem_allocator", "libc");
            line(out, "active_defrag_running", 0);
            line(out, "lazyfree_pending_objects", 0);
            line(out, "lazyfreed_objects", 0);
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            let aof = &sh.aof;
            let st = &aof.stats;
            let loading = sh.loading.load(Ordering::Acquire);
            line(out, "loading", loading as u8);
            for k in [
                "async_loading",
                "current_cow_peak",
                "current_cow_size",
                "current_cow_size_age",
            ] {
                line(out, k, 0);
            }
            line(out, "current_fork_perc", "0.00");
            line(out, "current_save_keys_processed", 0);
            line(out, "current_save_keys_total", 0);
            line(out, "rdb_changes_since_last_save", st.changes.load(Ordering::Relaxed));
            line(out, "rdb_bgsave_in_progress", 0);
            line(out, "rdb_last_save_time", lastsave(sh));
            line(out, "rdb_last_bgsave_status", "ok");
            line(out, "rdb_last_bgsave_time_sec", -1);
            line(out, "rdb_current_bgsave_time_sec", -1);
            for k in [
                "rdb_saves",
                "rdb_last_cow_size",
                "rdb_last_load_keys_expired",
                "rdb_last_load_keys_loaded",
            ] {
                line(out, k, 0);
            }
            let in_progress = st.rewrite_in_progress.load(Ordering::Acquire);
            line(out, "aof_enabled", aof.enabled() as u8);
            line(out, "aof_rewrite_in_progress", in_progress as u8);
            line(out, "aof_rewrite_scheduled", 0);
            let last_ms = st.last_rewrite_ms.load(Ordering::Relaxed);
            line(
                out,
                "aof_last_rewrite_time_sec",
                if last_ms < 0 { -1 } else { last_ms / 1000 },
            );
            let current = if in_progress {
                (crate::store::now_ms() - st.rewrite_started.load(Ordering::Relaxed)) / 1000
            } else {
                -1
            };
            line(out, "aof_current_rewrite_time_sec", current);
            let ok = |b: bool| if b { "ok" } else { "err" };
            line(
                out,
                "aof_last_bgrewrite_status",
                ok(st.last_rewrite_ok.load(Ordering::Relaxed)),
            );
            line(out, "aof_rewrites", st.rewrites.load(Ordering::Relaxed));
            line(out, "aof_rewrites_consecutive_failures", 0);
            let error = aof.error();
            line(out, "aof_last_write_status", ok(error.is_none()));
            // edgekv's own: why writes are refused, while they are.
            if let Some(e) = &error {
                line(out, "aof_last_write_error", e.replace(['\r', '\n'], " "));
            }
            line(out, "aof_last_cow_size", 0);
            line(out, "module_fork_in_progress", 0);
            line(out, "module_fork_last_cow_size", 0);
            if aof.enabled() {
                let (size, base) = aof.sizes();
                line(out, "aof_current_size", size);
                line(out, "aof_base_size", base);
                line(out, "aof_pending_rewrite", 0);
                line(out, "aof_buffer_length", 0);
                line(out, "aof_pending_bio_fsync", 0);
                line(out, "aof_delayed_fsync", 0);
            }
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            let st = &sh.stats;
            let (hits, misses) = sh.store.hits_misses();
            let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            line(out, "total_connections_received", get(&st.connections_received));
            line(out, "total_commands_processed", get(&st.commands_processed));
            line(out, "instantaneous_ops_per_sec", 0);
            line(out, "total_net_input_bytes", get(&st.net_input_bytes));
            line(out, "total_net_output_bytes", get(&st.net_output_bytes));
            line(out, "total_net_repl_input_bytes", 0);
            line(out, "total_net_repl_output_bytes", 0);
            for k in [
                "instantaneous_input_kbps",
                "instantaneous_output_kbps",
                "instantaneous_input_repl_kbps",
                "instantaneous_output_repl_kbps",
            ] {
                line(out, k, "0.00");
            }
            line(out, "rejected_connections", get(&st.rejected_connections));
            for k in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
                line(out, k, 0);
            }
            line(out, "expired_keys", sh.store.expired_total());
            line(out, "expired_stale_perc", "0.00");
            for k in [
                "expired_time_cap_reached_count",
                "expire_cycle_cpu_milliseconds",
                "evicted_keys",
                "evicted_clients",
                "total_eviction_exceeded_time",
                "current_eviction_exceeded_time",
            ] {
                line(out, k, 0);
            }
            line(out, "keyspace_hits", hits);
            line(out, "keyspace_misses", misses);
            for k in [
                "pubsub_channels",
                "pubsub_patterns",
                "pubsubshard_channels",
                "latest_fork_usec",
                "total_forks",
                "migrate_cached_sockets",
                "slave_expires_tracked_keys",
                "active_defrag_hits",
                "active_defrag_misses",
                "active_defrag_key_hits",
                "active_defrag_key_misses",
                "total_active_defrag_time",
                "current_active_defrag_time",
                "tracking_total_keys",
                "tracking_total_items",
                "tracking_total_prefixes",
            ] {
                line(out, k, 0);
            }
            line(out, "unexpected_error_replies", get(&st.unexpected_error_replies));
            line(out, "total_error_replies", get(&st.total_error_replies));
            for k in [
                "dump_payload_sanitizations",
                "total_reads_processed",
                "total_writes_processed",
                "io_threaded_reads_processed",
                "io_threaded_writes_processed",
                "reply_buffer_shrinks",
                "reply_buffer_expands",
            ] {
                line(out, k, 0);
            }
            line(
                out,
                "edgekv_reclaimed_keys",
                sh.store.stats.reclaimed.load(Ordering::Relaxed),
            );
        }
        "replication" => {
            out.push_str("# Replication\r\n");
            line(out, "role", "master");
            line(out, "connected_slaves", 0);
            line(out, "master_failover_state", "no-failover");
            line(out, "master_replid", &sh.run_id);
            line(out, "master_replid2", "0000000000000000000000000000000000000000");
            line(out, "master_repl_offset", 0);
            line(out, "second_repl_offset", -1);
            line(out, "repl_backlog_active", 0);
            line(out, "repl_backlog_size", 1048576);
            line(out, "repl_backlog_first_byte_offset", 0);
            line(out, "repl_backlog_histlen", 0);
        }
        "cpu" => {
            out.push_str("# CPU\r\n");
            let (sys, user) = rusage(libc::RUSAGE_SELF);
            let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
            let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
            line(out, "used_cpu_sys", format!("{:.6}", sys));
            line(out, "used_cpu_user", format!("{:.6}", user));
            line(out, "used_cpu_sys_children", format!("{:.6}", csys));
            line(out, "used_cpu_user_children", format!("{:.6}", cuser));
            line(out, "used_cpu_sys_main_thread", format!("{:.6}", tsys));
            line(out, "used_cpu_user_main_thread", format!("{:.6}", tuser));
        }
        "modules" => out.push_str("# Modules\r\n"),
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for (i, spec) in table::all().iter().enumerate() {
                let s = &sh.cmdstats[i];
                let calls = s.calls.load(Ordering::Relaxed);
                let rejected = s.rejected.load(Ordering::Relaxed);
                let failed = s.failed.load(Ordering::Relaxed);
                if calls == 0 && rejected == 0 && failed == 0 {
                    continue;
                }
                let usec = s.usec.load(Ordering::Relaxed);
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    spec.fullname,
                    calls,
                    usec,
                    if calls > 0 { usec as f64 / calls as f64 } else { 0.0 },
                    rejected,
                    failed
                );
            }
        }
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            for (k, v) in sh.errorstats.lock().iter() {
                let _ = write!(out, "errorstat_{}:count={}\r\n", k, v);
            }
        }
        "latencystats" => {
            // Redis's fillPercentileDistributionLatencies: each command with a histogram, the
            // configured percentiles in microseconds with 3 decimals.
            out.push_str("# Latencystats\r\n");
            let percentiles = crate::config::parse_percentiles(
                &sh.config.get("latency-tracking-info-percentiles").unwrap_or_default(),
            )
            .unwrap_or_default();
            for (i, spec) in table::all().iter().enumerate() {
                let snap = sh.latency[i].snapshot();
                if snap.total == 0 {
                    continue;
                }
                let _ = write!(out, "latency_percentiles_usec_{}:", spec.fullname);
                for (j, p) in percentiles.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    let _ = write!(
                        out,
                        "p{}={:.3}",
                        crate::config::format_percentile(*p),
                        snap.value_at_percentile(*p) as f64 / 1000.0
                    );
                }
                out.push_str("\r\n");
            }
        }
        "cluster" => {
            out.push_str("# Cluster\r\n");
            line(out, "cluster_enabled", 0);
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for d in sh.store.created() {
                let i = sh.store.info(d, ctx.now);
                if i.keys > 0 {
                    let _ = write!(
                        out,
                        "db{}:keys={},expires={},avg_ttl={}\r\n",
                        d, i.keys, i.expires, i.avg_ttl
                    );
                }
            }
        }
        "namespaces" => {
            // One line per Workers KV namespace: its slot, id, title (with the characters
            // that would break INFO's `k=v,k=v` form replaced), size and usage.
            out.push_str("# Namespaces\r\n");
            for ns in sh.namespaces.list() {
                let i = sh.store.info(ns.index, ctx.now);
                let u = sh.namespaces.usage(ns.index).snapshot(ctx.now);
                let title: String = ns
                    .title
                    .chars()
                    .map(|c| {
                        if matches!(c, ',' | '=' | ':' | '\r' | '\n') {
                            '_'
                        } else {
                            c
                        }
                    })
                    .collect();
                let _ = write!(
                    out,
                    "ns{}:id={},title={},keys={},bytes={},reads={},writes={},deletes={},lists={},\
                     reads_today={},writes_today={},deletes_today={},lists_today={}\r\n",
                    ns.index,
                    ns.id,
                    title,
                    i.keys,
                    i.bytes,
                    u.total[0],
                    u.total[1],
                    u.total[2],
                    u.total[3],
                    u.today[0],
                    u.today[1],
                    u.today[2],
                    u.today[3]
                );
            }
        }
        _ => {}
    }
}

// ---- CONFIG ----

/// `CONFIG GET parameter [parameter ...]`
pub struct ConfigGet {
    patterns: Vec<Bytes>,
}

impl Command for ConfigGet {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(ConfigGet {
            patterns: Args::after_sub(args.all()).rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let mut seen = std::collections::BTreeSet::new();
        let mut pairs = Vec::new();
        for p in &self.patterns {
            let is_glob = p.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
            if !is_glob {
                // An exact name is answered under the name as typed, as Redis does.
                let name = String::from_utf8_lossy(p).into_owned();
                if let Some(v) = ctx.shared.config.get(&name) {
                    if seen.insert(name.to_ascii_lowercase()) {
                        pairs.push((Reply::bulk_str(&name), Reply::bulk_str(&v)));
                    }
                }
                continue;
            }
            for (n, v) in ctx.shared.config.matching(p) {
                if seen.insert(n.to_string()) {
                    pairs.push((Reply::bulk_str(n), Reply::bulk_str(&v)));
                }
            }
        }
        Reply::Map(pairs)
    }
}

/// `CONFIG SET parameter value [parameter value ...]`
pub struct ConfigSet {
    pairs: Vec<(String, String)>,
}

impl Command for ConfigSet {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let rest = Args::after_sub(args.all()).rest();
        if !rest.len().is_multiple_of(2) {
            return Err(err(errors::SYNTAX));
        }
        // Redis's configSetCommand: the first unknown, immutable, protected or repeated name
        // (in argument order, named as typed) fails the whole command before any value is
        // looked at.
        let mut pairs: Vec<(String, String)> = Vec::new();
        for p in rest.chunks(2) {
            let typed = String::from_utf8_lossy(&p[0]).into_owned();
            let Some((name, access)) = Config::runtime_access(&typed) else {
                return Err(errors::config_set_unknown(&p[0]));
            };
            match access {
                Access::Immutable => return Err(errors::config_set_failed(&typed, "can't set immutable config")),
                Access::Protected => return Err(errors::config_set_failed(&typed, "can't set protected config")),
                Access::Mutable => {}
            }
            if pairs.iter().any(|(n, _)| n == name) {
                return Err(errors::config_set_failed(&typed, "duplicate parameter"));
            }
            pairs.push((name.to_string(), String::from_utf8_lossy(&p[1]).into_owned()));
        }
        Ok(ConfigSet { pairs })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        // Values are validated together and stored only if all are valid; then their specs'
        // effects run, and if one fails every value goes back (Redis's all-or-nothing).
        let sh = ctx.shared;
        match sh.config.set_many(&self.pairs) {
            Ok(changes) => match crate::server::reconfigure::apply(sh, &changes, ctx.session.in_exec) {
                Ok(()) => Reply::Ok,
                Err((name, why)) => errors::config_set_failed(name, &why),
            },
            Err((name, ConfigError::Unknown)) => errors::config_set_unknown(name.as_bytes()),
            Err((name, ConfigError::Immutable)) => errors::config_set_failed(&name, "can't set immutable config"),
            Err((name, ConfigError::Invalid(why))) => errors::config_set_failed(&name, &why),
        }
    }
}

/// `CONFIG RESETSTAT`
pub struct ConfigResetstat;

impl Command for ConfigResetstat {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ConfigResetstat)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let sh = ctx.shared;
        for s in sh.cmdstats.iter() {
            s.calls.store(0, Ordering::Relaxed);
            s.usec.store(0, Ordering::Relaxed);
            s.rejected.store(0, Ordering::Relaxed);
            s.failed.store(0, Ordering::Relaxed);
        }
        for h in sh.latency.iter() {
            h.clear();
        }
        sh.errorstats.lock().clear();
        sh.stats.commands_processed.store(0, Ordering::Relaxed);
        sh.stats.connections_received.store(0, Ordering::Relaxed);
        sh.stats.total_error_replies.store(0, Ordering::Relaxed);
        sh.stats.unexpected_error_replies.store(0, Ordering::Relaxed);
        sh.stats.rejected_connections.store(0, Ordering::Relaxed);
        sh.stats.net_input_bytes.store(0, Ordering::Relaxed);
        sh.stats.net_output_bytes.store(0, Ordering::Relaxed);
        sh.store.reset_stats();
        Reply::Ok
    }
}

/// `CONFIG REWRITE`
pub struct ConfigRewrite;

impl Command for ConfigRewrite {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ConfigRewrite)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let Some(path) = &ctx.shared.config_file else {
            return err("ERR The server is running without a config file");
        };
        // A small file, written once on request: blocking I/O here is bounded and rare. The
        // new text goes to a temporary file renamed over the old one, so a crash never leaves
        // half a configuration.
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let text = ctx.shared.config.rewrite(&old);
        let tmp = path.with_extension(format!("rewrite-{}.tmp", std::process::id()));
        let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        match result {
            Ok(()) => Reply::Ok,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                // strerror's text, as Redis prints it ("Permission denied").
                let why = e.to_string();
                let why = why.split(" (os error").next().unwrap_or_default().to_string();
                errors::custom(format!("ERR Rewriting config file: {}", why))
            }
        }
    }
}

/// `CONFIG HELP`
pub struct ConfigHelp;

impl Command for ConfigHelp {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(ConfigHelp)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        help(
            "config",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ],
        )
    }
}

// ---- COMMAND ----

fn flag_set(spec: &CommandSpec) -> Reply {
    Reply::Set(
        flags::NAMES
            .iter()
            .filter(|(f, _)| spec.flags & f != 0)
            .map(|(_, n)| Reply::Status((*n).into()))
            .collect(),
    )
}

/// One key spec as a map: notes (if any), flags, begin_search, find_keys.
fn key_spec_reply(k: &KeySpec) -> Reply {
    let s = Reply::bulk_str;
    let mut m = Vec::with_capacity(4);
    if !k.notes.is_empty() {
        m.push((s("notes"), s(k.notes)));
    }
    m.push((
        s("flags"),
        Reply::Set(k.flags.iter().map(|f| Reply::Status((*f).into())).collect()),
    ));
    m.push((
        s("begin_search"),
        Reply::Map(vec![
            (s("type"), s("index")),
            (s("spec"), Reply::Map(vec![(s("index"), Reply::Int(k.index as i64))])),
        ]),
    ));
    m.push((
        s("find_keys"),
        Reply::Map(vec![
            (s("type"), s("range")),
            (
                s("spec"),
                Reply::Map(vec![
                    (s("lastkey"), Reply::Int(k.lastkey as i64)),
                    (s("keystep"), Reply::Int(k.keystep as i64)),
                    (s("limit"), Reply::Int(k.limit as i64)),
                ]),
            ),
        ]),
    ));
    Reply::Map(m)
}

/// One COMMAND INFO entry (Redis's `addReplyCommandInfo`): name, arity, flags, first key,
/// last key, step, ACL categories, tips, key specs, subcommands (an empty set when none).
fn command_info(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(spec.fullname),
        Reply::Int(spec.arity as i64),
        flag_set(spec),
        Reply::Int(spec.keys.0 as i64),
        Reply::Int(spec.keys.1 as i64),
        Reply::Int(spec.keys.2 as i64),
        Reply::Set(spec.categories.iter().map(|c| Reply::Status((*c).into())).collect()),
        Reply::Set(table::tips(spec.fullname).iter().map(|t| Reply::bulk_str(t)).collect()),
        Reply::Set(table::key_specs(spec.fullname).iter().map(key_spec_reply).collect()),
        if spec.subcommands.is_empty() {
            Reply::Set(vec![])
        } else {
            Reply::Array(spec.subcommands.iter().map(command_info).collect())
        },
    ])
}

/// Finds `name` or `container|sub`.
fn find_spec(name: &[u8]) -> Option<&'static CommandSpec> {
    let text = String::from_utf8_lossy(name).to_ascii_lowercase();
    match text.split_once('|') {
        None => table::lookup(name).map(|(_, s)| s),
        Some((c, sub)) => {
            let (_, container) = table::lookup(c.as_bytes())?;
            table::lookup_sub(container, sub.as_bytes()).map(|(_, s)| s)
        }
    }
}

/// `COMMAND COUNT`
pub struct CommandCount;

impl Command for CommandCount {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(CommandCount)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        Reply::Int(table::commands().len() as i64)
    }
}

/// `COMMAND INFO [command-name ...]`
pub struct CommandInfo {
    names: Vec<Bytes>,
}

impl Command for CommandInfo {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(CommandInfo {
            names: Args::after_sub(args.all()).rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.names.is_empty() {
            return container_without_sub(ctx, &[]);
        }
        Reply::Array(
            self.names
                .iter()
                .map(|n| find_spec(n).map_or(Reply::Nil, command_info))
                .collect(),
        )
    }
}

fn command_docs(spec: &CommandSpec) -> Reply {
    let s = Reply::bulk_str;
    let mut doc = vec![(s("summary"), s(spec.summary)), (s("since"), s(spec.since))];
    let group = if spec.group.is_empty() { "server" } else { spec.group };
    doc.push((s("group"), s(group)));
    if !spec.subcommands.is_empty() {
        doc.push((
            s("subcommands"),
            Reply::Map(
                spec.subcommands
                    .iter()
                    .map(|c| (s(c.fullname), command_docs(c)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(doc)
}

/// `COMMAND DOCS [command-name ...]`
pub struct CommandDocs {
    names: Vec<Bytes>,
}

impl Command for CommandDocs {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(CommandDocs {
            names: Args::after_sub(args.all()).rest().to_vec(),
        })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        let specs: Vec<&CommandSpec> = if self.names.is_empty() {
            table::commands().iter().collect()
        } else {
            self.names.iter().filter_map(|n| find_spec(n)).collect()
        };
        Reply::Map(
            specs
                .into_iter()
                .map(|c| (Reply::bulk_str(c.fullname), command_docs(c)))
                .collect(),
        )
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`
pub struct CommandList {
    filter: Option<(String, Bytes)>,
}

impl Command for CommandList {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let rest = Args::after_sub(args.all()).rest();
        match rest {
            [] => Ok(CommandList { filter: None }),
            [f, kind, v] if is(f, "filterby") && (is(kind, "module") || is(kind, "aclcat") || is(kind, "pattern")) => {
                Ok(CommandList {
                    filter: Some((String::from_utf8_lossy(kind).to_ascii_lowercase(), v.clone())),
                })
            }
            _ => Err(err(errors::SYNTAX)),
        }
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        let keep = |s: &CommandSpec| match &self.filter {
            None => true,
            Some((k, v)) if k == "module" => {
                let _ = v;
                false
            }
            Some((k, v)) if k == "aclcat" => {
                let want = format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
                s.categories.contains(&want.as_str())
            }
            Some((_, v)) => glob::matches(v, s.fullname.as_bytes(), true),
        };
        Reply::Array(
            table::all()
                .iter()
                .filter(|s| keep(s))
                .map(|s| Reply::bulk_str(s.fullname))
                .collect(),
        )
    }
}

/// The keys of a full command line, with their access flags (Redis's `getKeysSubcommandImpl`):
/// the command must exist and take keys at all, then pass its arity check; its keys are
/// `table::for_each_key`'s, the ones the ACL checks. A line without keys is an error unless
/// the command may have none (KV.BULKPUT with `[]`), as Redis answers EVAL with 0 keys.
fn command_keys(argv: &[Bytes]) -> Result<Vec<(Bytes, table::KeyFlags)>, Reply> {
    let target = &argv[2..];
    let invalid = || err(errors::GETKEYS_INVALID_COMMAND);
    let (_, mut spec) = table::lookup(&target[0]).ok_or_else(invalid)?;
    if !spec.subcommands.is_empty() && target.len() >= 2 {
        spec = table::lookup_sub(spec, &target[1]).ok_or_else(invalid)?.1;
    }
    // Redis asks whether the command has keys before it counts the arguments.
    if !table::has_keys(spec) {
        return Err(err(errors::GETKEYS_NO_KEYS));
    }
    let argc = target.len() as i32;
    if (spec.arity > 0 && spec.arity != argc) || argc < -spec.arity {
        return Err(err(errors::GETKEYS_ARITY));
    }
    let mut keys = Vec::new();
    table::for_each_key(spec, target, &mut |k, flags| {
        keys.push((Bytes::copy_from_slice(k), flags))
    });
    if keys.is_empty() && spec.flags & flags::NO_MANDATORY_KEYS == 0 {
        return Err(err(errors::GETKEYS_INVALID_ARGS));
    }
    Ok(keys)
}

/// `COMMAND GETKEYS command [arg ...]`
pub struct CommandGetkeys {
    keys: Vec<Bytes>,
}

impl Command for CommandGetkeys {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let keys = command_keys(args.all())?;
        Ok(CommandGetkeys {
            keys: keys.into_iter().map(|(k, _)| k).collect(),
        })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        Reply::Array(self.keys.into_iter().map(Reply::Bulk).collect())
    }
}

/// `COMMAND GETKEYSANDFLAGS command [arg ...]`
pub struct CommandGetkeysandflags {
    keys: Vec<(Bytes, table::KeyFlags)>,
}

impl Command for CommandGetkeysandflags {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(CommandGetkeysandflags {
            keys: command_keys(args.all())?,
        })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        Reply::Array(
            self.keys
                .into_iter()
                .map(|(k, f)| {
                    Reply::Array(vec![
                        Reply::Bulk(k),
                        Reply::Set(f.iter().map(|x| Reply::Status((*x).into())).collect()),
                    ])
                })
                .collect(),
        )
    }
}

/// `COMMAND HELP`
pub struct CommandHelp;

impl Command for CommandHelp {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(CommandHelp)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        help(
            "command",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        )
    }
}

// ---- TIME, LASTSAVE, SHUTDOWN ----

/// `TIME`
pub struct Time;

impl Command for Time {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Time)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Reply::Array(vec![
            Reply::bulk_str(&d.as_secs().to_string()),
            Reply::bulk_str(&d.subsec_micros().to_string()),
        ])
    }
}

/// `LASTSAVE`
pub struct Lastsave;

impl Command for Lastsave {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Lastsave)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Int(lastsave(ctx.shared))
    }
}

/// The last successful save: the last compaction of the log, or the start.
fn lastsave(sh: &crate::server::shared::Shared) -> i64 {
    sh.aof
        .stats
        .last_save
        .load(Ordering::Relaxed)
        .max(sh.lastsave.load(Ordering::Relaxed))
}

/// `BGREWRITEAOF`: compacts the log on a background thread.
pub struct Bgrewriteaof;

impl Command for Bgrewriteaof {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Bgrewriteaof)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if !ctx.shared.aof.enabled() {
            return err(errors::LOG_OFF);
        }
        if crate::server::durability::rewrite_in_background(ctx.shared) {
            Reply::status("Background append only file rewriting started")
        } else {
            err("ERR Background append only file rewriting already in progress")
        }
    }
}

/// `BGSAVE [SCHEDULE]`: edgekv's snapshot is the compacted log, so this is BGREWRITEAOF.
pub struct Bgsave;

impl Command for Bgsave {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        match args.next_opt() {
            Some(a) if !is(&a, "schedule") => Err(err(errors::SYNTAX)),
            _ => Ok(Bgsave),
        }
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if !ctx.shared.aof.enabled() {
            return err(errors::LOG_OFF);
        }
        if crate::server::durability::rewrite_in_background(ctx.shared) {
            Reply::status("Background saving started")
        } else {
            Reply::status("Background saving scheduled")
        }
    }
}

/// `SAVE`: compacts the log now; the reply leaves when the new log is on disk.
pub struct Save;

impl Command for Save {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(Save)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if !ctx.shared.aof.enabled() {
            return err(errors::LOG_OFF);
        }
        match crate::server::durability::rewrite(ctx.shared) {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::error(format!("ERR {e}")),
        }
    }
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
pub struct Shutdown {
    abort: bool,
    save: bool,
}

impl Command for Shutdown {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
        for a in args.rest() {
            if is(a, "nosave") {
                nosave = true;
            } else if is(a, "save") {
                save = true;
            } else if is(a, "now") || is(a, "force") {
                other = true;
            } else if is(a, "abort") {
                abort = true;
            } else {
                return Err(err(errors::SYNTAX));
            }
        }
        if (nosave && save) || (abort && (nosave || save || other)) {
            return Err(err(errors::SYNTAX));
        }
        Ok(Shutdown { abort, save })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.abort {
            return err("ERR No shutdown in progress.");
        }
        // The log is written and fsynced on the way out either way (every write is in it);
        // SAVE also compacts it first. The client gets no reply: its connection closes.
        if self.save && ctx.shared.aof.enabled() {
            if let Err(e) = crate::server::durability::rewrite(ctx.shared) {
                tracing::warn!(error = %e, "SHUTDOWN SAVE: the rewrite failed");
                return err(errors::SHUTDOWN_FAILED);
            }
        }
        ctx.shared.request_shutdown();
        ctx.session.close = true;
        Reply::None
    }
}
