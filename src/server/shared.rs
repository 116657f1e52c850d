//! State shared by every connection: the store, the configuration, the client registry, the
//! server's counters and its shutdown signal. Commands read and change it synchronously; the
//! connection tasks react to the signals it holds.

use crate::config::Config;
use crate::kv::Namespaces;
use crate::persist::log::{Aof, Fsync};
use crate::protocol::Protocol;
use crate::store::watch::DirtyFlag;
use crate::store::Store;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// What CLIENT LIST/INFO shows of a connection, and the switch CLIENT KILL flips.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i64,
    pub created: Instant,
    /// Milliseconds since `created` of the last command.
    pub last_active: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub multi: AtomicI64,
    pub name: Mutex<Bytes>,
    pub lib_name: Mutex<Bytes>,
    pub lib_ver: Mutex<Bytes>,
    /// Index in the command table of the last command (`usize::MAX`: none yet).
    pub last_cmd: AtomicUsize,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    pub qbuf: AtomicUsize,
    pub killed: AtomicBool,
    /// The connection's socket while it is open. Killing a client shuts the socket down, which
    /// wakes its task out of any read or write without the task polling a signal per request.
    pub socket: Mutex<Option<std::os::fd::RawFd>>,
    /// The session's "a watched key changed" flag, once it has watched (the `d` flag).
    pub dirty: Mutex<Option<DirtyFlag>>,
    /// The ACL user the connection runs as (CLIENT LIST's `user=`).
    pub user: Mutex<String>,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i64) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_active: AtomicU64::new(0),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            multi: AtomicI64::new(-1),
            name: Mutex::new(Bytes::new()),
            lib_name: Mutex::new(Bytes::new()),
            lib_ver: Mutex::new(Bytes::new()),
            last_cmd: AtomicUsize::new(usize::MAX),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            qbuf: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            socket: Mutex::new(Some(fd as std::os::fd::RawFd)),
            dirty: Mutex::new(None),
            user: Mutex::new("default".into()),
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        // Under the lock the descriptor cannot be closed (and reused by another connection)
        // meanwhile: the connection clears it before its socket is dropped.
        if let Some(fd) = *self.socket.lock() {
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// Called by the connection just before its socket closes.
    pub fn socket_closing(&self) {
        *self.socket.lock() = None;
    }

    pub fn set_proto(&self, p: Protocol) {
        self.resp.store(p.version() as u8, Ordering::Relaxed);
    }

    /// One CLIENT LIST / CLIENT INFO line, fields in Redis 7's order.
    pub fn info_line(&self, flags: &str) -> String {
        let age = self.created.elapsed().as_secs();
        let idle_ms =
            (self.created.elapsed().as_millis() as u64).saturating_sub(self.last_active.load(Ordering::Relaxed));
        let name = String::from_utf8_lossy(&self.name.lock()).into_owned();
        let lib_name = String::from_utf8_lossy(&self.lib_name.lock()).into_owned();
        let lib_ver = String::from_utf8_lossy(&self.lib_ver.lock()).into_owned();
        let cmd = crate::command::table::all()
            .get(self.last_cmd.load(Ordering::Relaxed))
            .map_or("NULL", |s| s.fullname);
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem={} events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            age,
            idle_ms / 1000,
            flags,
            self.db.load(Ordering::Relaxed),
            self.multi.load(Ordering::Relaxed),
            qbuf,
            16384usize.saturating_sub(qbuf),
            16384 + qbuf,
            cmd,
            self.user.lock(),
            self.resp.load(Ordering::Relaxed),
            lib_name,
            lib_ver
        )
    }

    /// CLIENT LIST flags in Redis's order (x d e T here), `N` when none.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.multi.load(Ordering::Relaxed) >= 0 {
            f.push('x');
        }
        if self.dirty.lock().as_ref().is_some_and(|d| d.load(Ordering::Relaxed)) {
            f.push('d');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            f.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            f.push('T');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}

/// Per-command counters for INFO commandstats.
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// Server-wide counters for INFO stats.
#[derive(Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Clients closed for their output buffer (client-output-buffer-limit).
    pub output_limit_disconnections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
}

pub struct Shared {
    pub store: Store,
    /// Workers KV namespaces: ids, titles, slots, usage.
    pub namespaces: Namespaces,
    /// The append-only log.
    pub aof: Arc<Aof>,
    /// Users and their permissions.
    pub acl: crate::acl::Acl,
    /// The log is being replayed: commands without the `loading` flag get `-LOADING`.
    pub loading: AtomicBool,
    /// This value's own `Arc`, for commands that start background work (BGREWRITEAOF).
    pub this: std::sync::OnceLock<std::sync::Weak<Shared>>,
    pub config: Config,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub stats: ServerStats,
    /// Indexed like the command table (`command::table`).
    pub cmdstats: Box<[CmdStat]>,
    /// Per-command latency histograms (INFO latencystats, /metrics), indexed like `cmdstats`.
    pub latency: Box<[crate::metrics::hdr::Histogram]>,
    /// SLOWLOG's entries.
    pub slowlog: crate::command::slowlog::SlowLog,
    /// What /metrics reports beyond the counters above (HTTP requests).
    pub metrics: crate::metrics::Metrics,
    /// Error replies by prefix (`ERR`, `WRONGTYPE`, ...), for INFO errorstats.
    pub errorstats: Mutex<BTreeMap<String, u64>>,
    pub started: Instant,
    pub started_unix: i64,
    pub lastsave: AtomicI64,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    pub tcp_port: AtomicU64,
    pub run_id: String,
    pub config_file: Option<std::path::PathBuf>,
}

impl Shared {
    /// The shared state, with the namespace registry read from the data folder (an error
    /// when that file is unreadable or disagrees with `databases`).
    pub fn new(config: Config, config_file: Option<std::path::PathBuf>) -> Result<Shared, String> {
        use rand::Rng;
        let databases = config.get_i64("databases").max(1) as usize;
        let dir = std::path::PathBuf::from(config.get("dir").unwrap_or_default());
        let namespaces = Namespaces::open(
            databases,
            config.get_i64("kv-max-namespaces").max(0) as usize,
            Some(crate::persist::registry::path_in(&dir)),
        )?;
        let store = Store::with_slots(databases, namespaces.slots() - databases);
        for ns in namespaces.list() {
            store.index_now(ns.index);
        }
        let now = crate::store::now_ms();
        let mut rng = rand::thread_rng();
        let run_id: String = (0..40).map(|_| format!("{:x}", rng.gen_range(0..16u8))).collect();
        let aof = Aof::new(&dir, Fsync::parse(&config.get("appendfsync").unwrap_or_default()));
        let acl = crate::acl::Acl::new();
        if let Some(file) = config.get("aclfile").filter(|f| !f.is_empty()) {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read the aclfile {file}: {e}"))?;
            let users = crate::acl::Acl::parse_file(&file, &text)
                .map_err(|e| format!("Aborting start-up because of ACL errors: {e}"))?;
            acl.replace(users);
        }
        if let Some(p) = config.get("requirepass").filter(|p| !p.is_empty()) {
            acl.set_user("default", &crate::server::reconfigure::requirepass_rules(&p))
                .map_err(|(_, e)| e)?;
        }
        Ok(Shared {
            store,
            namespaces,
            aof,
            acl,
            loading: AtomicBool::new(false),
            this: std::sync::OnceLock::new(),
            config,
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: ServerStats::default(),
            cmdstats: (0..crate::command::table::len()).map(|_| CmdStat::default()).collect(),
            latency: (0..crate::command::table::len()).map(|_| Default::default()).collect(),
            slowlog: Default::default(),
            metrics: Default::default(),
            errorstats: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            started_unix: now / 1000,
            lastsave: AtomicI64::new(now / 1000),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            tcp_port: AtomicU64::new(0),
            run_id,
            config_file,
        })
    }

    /// Clients must authenticate (the default user has a password or is off).
    pub fn auth_required(&self) -> bool {
        self.acl.auth_required.load(Ordering::Acquire)
    }

    /// The `Arc` this value lives in (set at start).
    pub fn arc(&self) -> Option<Arc<Shared>> {
        self.this.get()?.upgrade()
    }

    /// Resolves once the server is shutting down (the flag is checked again after registering,
    /// so a request that lands in between is not missed).
    pub async fn stopped(&self) {
        while !self.shutting_down.load(Ordering::SeqCst) {
            let stop = self.shutdown.notified();
            if self.shutting_down.load(Ordering::SeqCst) {
                break;
            }
            stop.await;
        }
    }

    /// Asks the server to stop (SHUTDOWN, signals). The log is written and fsynced first.
    pub fn request_shutdown(&self) {
        self.aof.close();
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        // A waiter that registers just after still sees the flag.
        self.shutdown.notify_one();
        let clients: Vec<_> = self.clients.lock().values().cloned().collect();
        for c in clients {
            c.kill();
        }
    }

    pub fn count_error(&self, text: &str) {
        self.stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
        let prefix = text.split(' ').next().unwrap_or("ERR").to_string();
        *self.errorstats.lock().entry(prefix).or_insert(0) += 1;
    }
}
