//! Test harness: starts the real `edgekv` binary on a free loopback port (port 0, the ready
//! line tells which) with its own data folder, and talks to it over TCP: raw RESP bytes for
//! exact-reply assertions, or the `redis` crate. The server is killed when the handle drops.
#![allow(dead_code)]

pub mod acl_log;
pub mod value;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// Starts the server with extra `--name value` arguments.
    pub fn start_with(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        Self::spawn(&path, dir, args)
    }

    /// Starts the server on an existing data folder (another server's, stopped with `stop`),
    /// with extra `--name value` arguments. The folder stays the caller's: the handle's own
    /// `dir` is an empty temp dir the server does not use.
    /// A server on an existing data folder, once it has replayed the log found there.
    pub fn start_in(data: &Path, args: &[&str]) -> Server {
        let s = Self::spawn(data, tempfile::tempdir().expect("temp dir"), args);
        s.wait_loaded();
        s
    }

    /// Kills the process and waits for it; the data folder (`dir`) stays until the handle drops.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server with at most `nofile` file descriptors (RLIMIT_NOFILE, soft and
    /// hard) and extra `--name value` arguments.
    pub fn start_with_nofile(nofile: u64, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        Self::spawn_limited(&path, dir, args, Some(nofile))
    }

    fn spawn(data: &Path, dir: tempfile::TempDir, args: &[&str]) -> Server {
        Self::spawn_limited(data, dir, args, None)
    }

    /// Starts the server with `flag <a free port>` (an extra listener: `--http-port`,
    /// `--tls-port`) before `args`; returns it and that port. The port is found by binding and
    /// releasing it, so another process may take it first: the server then cannot listen and
    /// exits, and another port is tried.
    pub fn start_on_free_port(flag: &str, args: &[&str]) -> (Server, u16) {
        for _ in 0..5 {
            let port = free_port();
            let p = port.to_string();
            let mut all = vec![flag, p.as_str()];
            all.extend_from_slice(args);
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().to_path_buf();
            if let Some(s) = Self::try_spawn(&path, dir, &all, None) {
                return (s, port);
            }
        }
        panic!("edgekv could not listen on 5 free ports in a row ({flag})");
    }

    fn spawn_limited(data: &Path, dir: tempfile::TempDir, args: &[&str], nofile: Option<u64>) -> Server {
        Self::try_spawn(data, dir, args, nofile).expect("edgekv printed no ready line")
    }

    /// The server, or `None` (and it is stopped) when it printed no ready line.
    fn try_spawn(data: &Path, dir: tempfile::TempDir, args: &[&str], nofile: Option<u64>) -> Option<Server> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgekv"));
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; the struct lives in the closure.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .args(["--bind", "127.0.0.1", "--port", "0", "--dir"])
            .arg(data)
            // No HTTP listener unless the test asks for one (its default port is fixed).
            .args(if args.contains(&"--http-port") {
                &[][..]
            } else {
                &["--http-port", "0"][..]
            })
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start edgekv");
        let Some(line) = ready_line(&mut child) else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        let port = port_of(&line);
        Some(Server { child, port, dir })
    }

    /// Waits until the server has replayed its log (it answers `-LOADING` until then).
    pub fn wait_loaded(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut c = TcpStream::connect(self.addr()).expect("connect");
            c.write_all(b"PING\r\n").unwrap();
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).unwrap_or(0);
            if !buf[..n].starts_with(b"-LOADING") {
                return;
            }
            assert!(Instant::now() < deadline, "the server is still loading after 60 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A `redis` crate connection (RESP2).
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .expect("connect")
    }

    /// A `redis` crate connection speaking RESP3.
    pub fn client3(&self) -> redis::Connection {
        let url = format!("redis://127.0.0.1:{}/?protocol=resp3", self.port);
        redis::Client::open(url).unwrap().get_connection().expect("connect")
    }

    /// A raw connection for byte-exact assertions.
    pub fn raw(&self) -> Raw {
        let stream = TcpStream::connect(self.addr()).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit; returns its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends a command (RESP array) and returns the raw bytes of its one reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&resp(&a));
        self.read_reply()
    }

    /// As `cmd`, with binary arguments.
    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&resp(args));
        self.read_reply()
    }

    /// Sends a command and asserts its reply, byte for byte.
    #[track_caller]
    pub fn expect(&mut self, args: &[&str], reply: &str) {
        let got = self.cmd(args);
        assert_eq!(String::from_utf8_lossy(&got), reply, "reply to {:?}", args);
    }

    /// Reads exactly one complete reply (any RESP2/RESP3 type).
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                let out = self.buf[..n].to_vec();
                self.buf.drain(..n);
                return out;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(
                n > 0,
                "connection closed while waiting for a reply; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads `n` replies and concatenates them.
    pub fn read_replies(&mut self, n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| self.read_reply()).collect()
    }

    /// True when the server closed the connection (after any buffered replies were read).
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }

    /// Asserts that nothing arrives within `ms` milliseconds.
    pub fn expect_silence(&mut self, ms: u64) {
        self.stream.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
        let mut b = [0u8; 64];
        let r = self.stream.read(&mut b);
        self.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match r {
            Ok(n) if n > 0 => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&b[..n])),
            _ => {}
        }
        assert!(self.buf.is_empty(), "unexpected buffered bytes");
    }
}

fn line_end(b: &[u8], from: usize) -> Option<usize> {
    b[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
}

/// The length of the first complete RESP2/RESP3 frame in `b`, if complete.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    frame_at(b, 0)
}

fn frame_at(b: &[u8], start: usize) -> Option<usize> {
    if start >= b.len() {
        return None;
    }
    let le = line_end(b, start)?;
    // Simple lines may hold any bytes (errors echo a client's bytes); only lengths are parsed.
    let head = std::str::from_utf8(&b[start + 1..le]).unwrap_or("");
    let after = le + 2;
    match b[start] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let count = if matches!(b[start], b'%' | b'|') { n * 2 } else { n };
            let mut pos = after;
            for _ in 0..count {
                pos = frame_at(b, pos)?;
            }
            Some(pos)
        }
        _ => panic!("not a RESP frame: {:?}", String::from_utf8_lossy(&b[start..])),
    }
}

/// A reply as text (replies in tests are UTF-8 unless a test says otherwise).
pub fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).expect("utf-8 reply")
}

/// The RESP encoding of a bulk string.
pub fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

/// Sends a command and returns the integer of its `:n` reply.
#[track_caller]
pub fn int_reply(c: &mut Raw, args: &[&str]) -> i64 {
    let r = text(c.cmd(args));
    assert!(r.starts_with(':') && r.ends_with("\r\n"), "{args:?} -> {r:?}");
    r[1..r.len() - 2].parse().unwrap()
}

/// The payload of a bulk (`$`) or verbatim (`=`, `txt:` stripped) reply.
pub fn payload(r: &[u8]) -> String {
    let r = String::from_utf8_lossy(r).into_owned();
    let nl = r.find("\r\n").unwrap();
    let n: usize = r[1..nl].parse().unwrap();
    let body = &r[nl + 2..nl + 2 + n];
    assert_eq!(&r[nl + 2 + n..], "\r\n");
    match &r[..1] {
        "$" => body.to_string(),
        "=" => body.strip_prefix("txt:").expect("txt: verbatim").to_string(),
        _ => panic!("not a bulk reply: {:?}", r),
    }
}

/// Sends several commands in one write and returns their replies, concatenated.
pub fn pipeline(c: &mut Raw, cmds: &[&[&str]]) -> String {
    let mut out = Vec::new();
    for a in cmds {
        let a: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
        out.extend(resp(&a));
    }
    c.send(&out);
    text(c.read_replies(cmds.len()))
}

/// A free TCP port on 127.0.0.1 (bound, then released; the server takes it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP connection to 127.0.0.1:`port` from source address `src`: another loopback address
/// (127.0.0.2) stands in for a remote client, since the server counts exactly 127.0.0.1 and
/// ::1 as loopback. Reads time out after 10 s.
pub fn connect_from(src: [u8; 4], port: u16) -> TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; the address structs are
    // fully initialised and their sizes passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let addr = |ip: [u8; 4], port: u16| {
            let mut a: libc::sockaddr_in = std::mem::zeroed();
            a.sin_family = libc::AF_INET as libc::sa_family_t;
            a.sin_port = port.to_be();
            a.sin_addr.s_addr = u32::from_ne_bytes(ip);
            a
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let local = addr(src, 0);
        let r = libc::bind(fd, &local as *const libc::sockaddr_in as *const libc::sockaddr, len);
        assert_eq!(r, 0, "bind {src:?}: {}", std::io::Error::last_os_error());
        let remote = addr([127, 0, 0, 1], port);
        let r = libc::connect(fd, &remote as *const libc::sockaddr_in as *const libc::sockaddr, len);
        assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
        let s = TcpStream::from_raw_fd(fd);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

/// The first line the server prints on stdout (its ready line), or `None` after 20 s; stdout
/// keeps being drained so the server never blocks on a full pipe.
pub fn ready_line(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    rx.recv_timeout(Duration::from_secs(20)).ok()
}

/// The RESP port of a ready line (after its last colon).
pub fn port_of(line: &str) -> u16 {
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("port in ready line")
}

/// Redis's arity error for command `name` (as typed in the command table: lower case).
pub fn arity(name: &str) -> String {
    format!("-ERR wrong number of arguments for '{name}' command\r\n")
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The `name=value` field `name` of a CLIENT LIST / CLIENT INFO line.
#[track_caller]
pub fn client_field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
}

/// The `CLIENT LIST` line of connection `id`, seen from `observer` (its newline checked and
/// cut).
#[track_caller]
pub fn client_list_line(observer: &mut Raw, id: i64) -> String {
    let r = observer.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]);
    let line = payload(&r);
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line:?}");
    line.trim_end().to_string()
}

/// HELLO's whole reply for connection `id` in protocol `proto`: RESP2 a flat array of 14,
/// RESP3 a map of 7. The version is Redis's, 7.0.15, whose replies edgekv gives.
pub fn hello_reply(proto: u8, id: i64) -> String {
    let head = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
}

/// HELLO 3's reply for connection `id` as the `redis` crate reads it.
pub fn hello3_value(id: i64) -> redis::Value {
    use redis::Value::{Array, BulkString, Int, Map};
    let s = |t: &str| BulkString(t.as_bytes().to_vec());
    Map(vec![
        (s("server"), s("redis")),
        (s("version"), s("7.0.15")),
        (s("proto"), Int(3)),
        (s("id"), Int(id)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Array(vec![])),
    ])
}

/// Switches `c` to protocol `proto` with `HELLO proto`, asserting its whole reply (the id
/// read first with CLIENT ID).
#[track_caller]
pub fn hello(c: &mut Raw, proto: u8) {
    let id = int_reply(c, &["CLIENT", "ID"]);
    c.expect(&["HELLO", &proto.to_string()], &hello_reply(proto, id));
}

/// `hello(c, 3)`: switches `c` to RESP3, asserting HELLO's whole reply.
#[track_caller]
pub fn hello3(c: &mut Raw) {
    hello(c, 3);
}
