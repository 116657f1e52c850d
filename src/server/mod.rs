//! The network side: listeners, the accept loop with the client limit, per-connection tasks,
//! the background reclaimer and a clean shutdown.
//!
//! It never parses commands or touches the store itself: connections hand requests to
//! `command::dispatch`.

mod busy_poll;
pub mod connection;
pub mod durability;
pub mod reconfigure;
pub mod shared;
pub mod tls;

use crate::config::Config;
use shared::{ClientHandle, Shared};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// `host:port`, with brackets for an IPv6 host; a leading `-` (Redis's "optional address")
/// is dropped.
pub fn host_port(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('-');
    if host.contains(':') {
        format!("[{}]:{}", host, port)
    } else {
        format!("{}:{}", host, port)
    }
}

/// Binds every address of `bind` on `port` (0: any free port, the same for all addresses).
pub(crate) async fn bind_all(bind: &str, port: u16, backlog: u32) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    let mut port = port;
    for host in bind.split_whitespace() {
        let addr = host_port(host, port);
        // Through TcpSocket, so the listen queue is `tcp-backlog` (TcpListener::bind fixes it
        // at 128: 1,000 clients connecting at once overflowed it into SYN cookies and resets).
        let sa: SocketAddr = tokio::net::lookup_host(&addr)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
        let sock = if sa.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        sock.set_reuseaddr(true)?;
        sock.bind(sa)?;
        let l = sock.listen(backlog)?;
        port = l.local_addr()?.port();
        out.push(l);
    }
    if out.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no bind address"));
    }
    Ok(out)
}

/// Runs the server until SHUTDOWN or a signal. Prints one line with the bound address(es)
/// once connections are accepted.
pub async fn run(config: Config, config_file: Option<std::path::PathBuf>) -> anyhow_lite::Result<()> {
    let dir = config.get("dir").unwrap_or_default();
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow_lite::Error(format!("cannot create data folder '{}': {}", dir, e)))?;
    let bind = config.get("bind").unwrap_or_default();
    let port = config.get_i64("port") as u16;
    let backlog = config.get_i64("tcp-backlog").clamp(1, u32::MAX as i64) as u32;
    let listeners = bind_all(&bind, port, backlog)
        .await
        .map_err(|e| anyhow_lite::Error(format!("cannot listen on {} port {}: {}", bind, port, e)))?;
    let shared = Arc::new(Shared::new(config, config_file).map_err(anyhow_lite::Error)?);
    shared.this.set(Arc::downgrade(&shared)).ok();
    // A file size limit (RLIMIT_FSIZE) must turn into a write error the log handles, not a
    // signal that kills the process.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    durability::start(&shared).map_err(anyhow_lite::Error)?;
    let addrs: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    shared.tcp_port.store(addrs[0].port() as u64, Ordering::Relaxed);

    spawn_reclaimer(shared.clone());
    busy_poll::spawn(shared.config.get_i64("busy-poll-us").max(0) as u64);
    spawn_signal_handler(shared.clone());
    for l in listeners {
        tokio::spawn(accept_loop(shared.clone(), l, None));
    }
    let tls_port = shared.config.get_i64("tls-port") as u16;
    let mut tls_addrs = Vec::new();
    if tls_port != 0 {
        let acceptor = tls::acceptor(&shared.config).map_err(anyhow_lite::Error)?;
        let tls_listeners = bind_all(&bind, tls_port, backlog)
            .await
            .map_err(|e| anyhow_lite::Error(format!("cannot listen on {} tls-port {}: {}", bind, tls_port, e)))?;
        for l in tls_listeners {
            tls_addrs.extend(l.local_addr().ok());
            tokio::spawn(accept_loop(shared.clone(), l, Some(acceptor.clone())));
        }
    }
    let http_port = shared.config.get_i64("http-port") as u16;
    let http = crate::http::start(shared.clone(), http_port)
        .await
        .map_err(|e| anyhow_lite::Error(format!("cannot listen for HTTP on {} port {}: {}", bind, http_port, e)))?;
    let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    // One line, the RESP addresses last (tools take the port after the last colon); the
    // other listeners in parentheses before them.
    let mut extra = Vec::new();
    for t in &tls_addrs {
        extra.push(format!("tls {}", t));
    }
    if let Some(h) = http {
        extra.push(format!("http {}", h));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    // Logged before the ready line is printed: whoever waits for that line finds it logged.
    tracing::info!(addresses = %list.join(", "), data = %dir, "ready to accept connections");
    // Formatted first and written in one piece: `println!` writes its arguments one by one,
    // and if the log's replay finds damage and exits the process meanwhile, the exit flushes
    // what was written so far, so a waiting script read a torn line ("edgekv 0.1.0").
    let ready = format!(
        "edgekv {}{} listening on {}\n",
        env!("CARGO_PKG_VERSION"),
        extra,
        list.join(", ")
    );
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(ready.as_bytes()).and_then(|()| out.flush());
    }

    shared.stopped().await;
    tracing::info!("shutting down");
    // Give connection tasks a moment to flush and close.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        shared.stats.connections_received.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let laddr = stream.local_addr().unwrap_or(addr);
        let fd = stream.as_raw_fd() as i64;
        match &tls {
            None => admit(&shared, stream, addr, laddr, fd),
            Some(acceptor) => {
                // The handshake runs in the client's own task, so a slow or silent client
                // holds up no one; as in Redis, the client limits apply once it is done.
                let acceptor = acceptor.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => admit(&shared, tls, addr, laddr, fd),
                        Ok(Err(e)) => tracing::debug!(client = %addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(client = %addr, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// Serves a new connection, or refuses it: protected mode, then the client limit.
fn admit<S: connection::Stream + 'static>(
    shared: &Arc<Shared>,
    mut stream: S,
    addr: SocketAddr,
    laddr: SocketAddr,
    fd: i64,
) {
    // Protected mode (Redis 7.0): with no password for the default user, only clients on
    // the loopback interface (exactly 127.0.0.1 or ::1) are served.
    if protected(shared, &addr) {
        tokio::spawn(async move {
            let _ = stream.write_all(crate::errors::DENIED.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
        return;
    }
    let max = shared.config.maxclients.load(Ordering::Relaxed);
    if shared.clients.lock().len() as i64 >= max {
        shared.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = stream
                .write_all(format!("-{}\r\n", crate::errors::MAX_CLIENTS).as_bytes())
                .await;
            let _ = stream.shutdown().await;
        });
        return;
    }
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let handle = Arc::new(ClientHandle::new(id, addr, laddr, fd));
    shared.clients.lock().insert(id, handle.clone());
    tokio::spawn(connection::serve(shared.clone(), stream, handle));
}

/// A client on the loopback interface, as Redis's protected mode counts them: exactly
/// 127.0.0.1 or ::1 (the HTTP surfaces use the same rule).
pub(crate) fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

fn protected(shared: &Shared, addr: &SocketAddr) -> bool {
    !is_loopback(addr)
        && shared.config.get("protected-mode").as_deref() == Some("yes")
        && shared.acl.default_user().nopass
}

/// The background half of expiry: every tick, each shard's timing wheel hands out the keys
/// whose deadline passed, within a fixed budget per shard.
const TICK: Duration = Duration::from_millis(crate::store::wheel::TICK_MS as u64);
const IDLE_PAUSE: Duration = Duration::from_millis(100);

fn spawn_reclaimer(shared: Arc<Shared>) {
    let weak = Arc::downgrade(&shared);
    drop(shared);
    std::thread::Builder::new()
        .name("edgekv-reclaim".into())
        .spawn(move || {
            let mut pause = IDLE_PAUSE;
            let mut last_log_check = std::time::Instant::now();
            loop {
                std::thread::sleep(pause);
                let Some(shared) = weak.upgrade() else { return };
                if shared.shutting_down.load(Ordering::Relaxed) {
                    return;
                }
                // Every tick while deadlines are pending; ten times less often while no wheel
                // holds anything (a later deadline is still reclaimed well within a second).
                // Not while the log is replayed: a key expired by now may still receive logged
                // operations (see durability::load).
                if shared.loading.load(Ordering::Acquire) {
                    continue;
                }
                let pass = shared.store.reclaim(crate::store::now_ms());
                pause = if pass.waiting { TICK } else { IDLE_PAUSE };
                if last_log_check.elapsed() >= Duration::from_secs(1) {
                    last_log_check = std::time::Instant::now();
                    durability::tick(&shared);
                }
            }
        })
        .expect("spawn reclaimer thread");
}

fn spawn_signal_handler(shared: Arc<Shared>) {
    // Register the handlers now, before the ready line is printed: inside the spawned task
    // they could come too late, and an early SIGTERM would kill the process outright.
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received SIGTERM"),
            _ = int.recv() => tracing::info!("received SIGINT"),
        }
        shared.request_shutdown();
    });
}

/// A tiny error type for start-up failures (one clear line for the operator).
pub mod anyhow_lite {
    #[derive(Debug)]
    pub struct Error(pub String);

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    pub type Result<T> = std::result::Result<T, Error>;
}
