//! Durability on the real binary (issue 4): the append-only log in `<dir>/appendonlydir/`.
//!
//! - A restart (clean SHUTDOWN or kill -9) keeps every key, value, metadata, absolute deadline
//!   and namespace: a full dump of every database and namespace before and after.
//! - kill -9 during concurrent writers under `appendfsync always`: every acknowledged write is
//!   there after the restart, over several rounds.
//! - The last record cut at every byte recovers the prefix; a flipped byte in the middle
//!   refuses to start and names the offset; `edgekv check-log [--repair --yes]`.
//! - Compaction under concurrent writes (BGREWRITEAOF and the automatic trigger) and a crash
//!   injected at each of its steps (`EDGEKV_CRASH_AT`).
//! - A full disk (RLIMIT_FSIZE): `-MISCONF`, reads go on, nothing acknowledged is lost, writes
//!   resume once the log can be written again.
//! - `-LOADING` while a large log is replayed; the persistence commands and CONFIG SET.

mod common;
use common::{frame_len, payload, resp, Server};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const OK: &str = "+OK\r\n";
const LOADING: &str = "-LOADING edgekv is loading the dataset in memory\r\n";
const MISCONF: &str = "-MISCONF Errors writing to the AOF file: ";
const REWRITE_STARTED: &str = "+Background append only file rewriting started\r\n";
const LOG_OFF: &str = "-ERR the append-only log is off (CONFIG SET appendonly yes starts it)\r\n";
const CRASH_POINTS: [&str; 5] = [
    "after-rotate",
    "during-dump",
    "after-base-fsync",
    "after-base-rename",
    "after-manifest",
];

// ---------------------------------------------------------------------------------------
// A client that survives the server's death (errors instead of panics where asked)
// ---------------------------------------------------------------------------------------

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

fn show(args: &[&[u8]]) -> String {
    let parts: Vec<String> = args.iter().map(|a| short(a)).collect();
    parts.join(" ")
}

/// Bytes for messages: long ones are shortened.
fn short(r: &[u8]) -> String {
    if r.len() > 200 {
        format!("{}...({} bytes)", String::from_utf8_lossy(&r[..200]), r.len())
    } else {
        String::from_utf8_lossy(r).into_owned()
    }
}

impl Conn {
    fn try_open(port: u16) -> io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn { s, buf: Vec::new() })
    }

    fn open(port: u16) -> Conn {
        Self::try_open(port).expect("connect")
    }

    fn try_read(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Ok(self.buf.drain(..n).collect());
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn try_call(&mut self, args: &[&[u8]]) -> io::Result<Vec<u8>> {
        self.s.write_all(&resp(args))?;
        self.try_read()
    }

    #[track_caller]
    fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        match self.try_call(args) {
            Ok(r) => r,
            Err(e) => panic!("{}: {e}", show(args)),
        }
    }

    #[track_caller]
    fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.call(&a)
    }

    /// Sends a command and asserts its reply, byte for byte.
    #[track_caller]
    fn expect(&mut self, args: &[&str], reply: &str) {
        let got = self.cmd(args);
        assert_eq!(short(&got), reply, "reply to {args:?}");
    }

    #[track_caller]
    fn expect_bytes(&mut self, args: &[&[u8]], reply: &[u8]) {
        let got = self.call(args);
        assert!(
            got == reply,
            "reply to {}: got {:?}, expected {:?}",
            show(args),
            short(&got),
            short(reply)
        );
    }

    #[track_caller]
    fn ok(&mut self, args: &[&str]) {
        self.expect(args, OK);
    }

    /// The integer of a `:n` reply.
    #[track_caller]
    fn int(&mut self, args: &[&str]) -> i64 {
        let r = self.cmd(args);
        match parse(&r) {
            V::Int(n) => n,
            other => panic!("{args:?} -> {other:?}"),
        }
    }

    /// Sends the commands in batches and returns every reply, in order.
    fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(cmds.len());
        for batch in cmds.chunks(200) {
            let mut bytes = Vec::new();
            for c in batch {
                let a: Vec<&[u8]> = c.iter().map(|x| x.as_slice()).collect();
                bytes.extend(resp(&a));
            }
            self.s.write_all(&bytes).expect("write");
            for _ in batch {
                out.push(self.try_read().expect("read reply"));
            }
        }
        out
    }

    #[track_caller]
    fn select(&mut self, db: usize) {
        self.ok(&["SELECT", &db.to_string()]);
    }
}

fn args(a: &[&[u8]]) -> Vec<Vec<u8>> {
    a.iter().map(|x| x.to_vec()).collect()
}

// ---------------------------------------------------------------------------------------
// RESP2 values (for SCAN, KV.NAMESPACE LIST, ...)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum V {
    Str(Vec<u8>),
    Err(String),
    Int(i64),
    Nil,
    Arr(Vec<V>),
}

impl V {
    fn bytes(&self) -> &[u8] {
        match self {
            V::Str(b) => b,
            other => panic!("not a string: {other:?}"),
        }
    }
    fn arr(&self) -> &[V] {
        match self {
            V::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
}

fn parse(b: &[u8]) -> V {
    let (v, n) = parse_at(b, 0);
    assert_eq!(n, b.len(), "one reply");
    v
}

fn parse_at(b: &[u8], at: usize) -> (V, usize) {
    let nl = at + b[at..].windows(2).position(|w| w == b"\r\n").expect("a line");
    let head = &b[at + 1..nl];
    let num = || -> i64 { std::str::from_utf8(head).unwrap().parse().unwrap() };
    let after = nl + 2;
    match b[at] {
        b'+' => (V::Str(head.to_vec()), after),
        b'-' => (V::Err(String::from_utf8_lossy(head).into_owned()), after),
        b':' => (V::Int(num()), after),
        b'$' => {
            let n = num();
            if n < 0 {
                return (V::Nil, after);
            }
            let end = after + n as usize;
            (V::Str(b[after..end].to_vec()), end + 2)
        }
        b'*' => {
            let n = num();
            if n < 0 {
                return (V::Nil, after);
            }
            let mut items = Vec::new();
            let mut pos = after;
            for _ in 0..n {
                let (v, p) = parse_at(b, pos);
                items.push(v);
                pos = p;
            }
            (V::Arr(items), pos)
        }
        other => panic!("unexpected RESP type {:?}", other as char),
    }
}

// ---------------------------------------------------------------------------------------
// A full dump: every database and namespace, every key with its value, deadline and metadata
// ---------------------------------------------------------------------------------------

#[derive(PartialEq, Eq, Clone)]
struct KeyState {
    /// The raw replies to GET, PEXPIRETIME and KV.GETWITHMETADATA.
    get: Vec<u8>,
    pexpiretime: Vec<u8>,
    with_meta: Vec<u8>,
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{get: {:?}, pexpiretime: {:?}, with_meta: {:?}}}",
            short(&self.get),
            short(&self.pexpiretime),
            short(&self.with_meta)
        )
    }
}

#[derive(PartialEq, Eq, Clone, Debug)]
struct Dump {
    /// The raw KV.NAMESPACE LIST reply: ids, titles, indexes, key counts.
    namespaces: Vec<u8>,
    keys: BTreeMap<(usize, Vec<u8>), KeyState>,
}

impl Dump {
    fn get(&self, db: usize, key: &[u8]) -> Option<&KeyState> {
        self.keys.get(&(db, key.to_vec()))
    }
}

/// The namespace indexes in a KV.NAMESPACE LIST reply (RESP2: flattened maps).
fn namespace_indexes(list: &[u8]) -> Vec<usize> {
    parse(list)
        .arr()
        .iter()
        .map(|ns| {
            let f = ns.arr();
            let i = f
                .iter()
                .position(|v| *v == V::Str(b"index".to_vec()))
                .expect("an index field");
            match f[i + 1] {
                V::Int(n) => n as usize,
                ref other => panic!("index {other:?}"),
            }
        })
        .collect()
}

fn full_dump(port: u16) -> Dump {
    let mut c = Conn::open(port);
    let databases: usize = {
        let r = parse(&c.cmd(&["CONFIG", "GET", "databases"]));
        String::from_utf8_lossy(r.arr()[1].bytes()).parse().unwrap()
    };
    let namespaces = c.cmd(&["KV.NAMESPACE", "LIST"]);
    let mut keys = BTreeMap::new();
    for db in (0..databases).chain(namespace_indexes(&namespaces)) {
        c.select(db);
        let mut names = BTreeSet::new();
        let mut cursor = b"0".to_vec();
        loop {
            let r = parse(&c.call(&[b"SCAN", &cursor, b"COUNT", b"1000"]));
            let r = r.arr();
            cursor = r[0].bytes().to_vec();
            for k in r[1].arr() {
                names.insert(k.bytes().to_vec());
            }
            if cursor == b"0" {
                break;
            }
        }
        let dbsize = c.int(&["DBSIZE"]);
        assert_eq!(
            dbsize as usize,
            names.len(),
            "DBSIZE of db {db} and the keys SCAN returned"
        );
        let names: Vec<Vec<u8>> = names.into_iter().collect();
        let mut cmds = Vec::new();
        for k in &names {
            cmds.push(args(&[b"GET", k]));
            cmds.push(args(&[b"PEXPIRETIME", k]));
            cmds.push(args(&[b"KV.GETWITHMETADATA", k]));
        }
        let replies = c.pipeline(&cmds);
        for (k, r) in names.into_iter().zip(replies.chunks(3)) {
            keys.insert(
                (db, k),
                KeyState {
                    get: r[0].clone(),
                    pexpiretime: r[1].clone(),
                    with_meta: r[2].clone(),
                },
            );
        }
    }
    Dump { namespaces, keys }
}

/// Compares two dumps and names the first difference (values can be large).
#[track_caller]
fn assert_same(got: &Dump, expected: &Dump, what: &str) {
    assert_eq!(
        short(&got.namespaces),
        short(&expected.namespaces),
        "{what}: KV.NAMESPACE LIST differs"
    );
    assert_eq!(got.namespaces, expected.namespaces, "{what}: KV.NAMESPACE LIST differs");
    for (k, v) in &expected.keys {
        match got.keys.get(k) {
            None => panic!(
                "{what}: db {} key {:?} is missing (expected {v:?}); {} keys instead of {}",
                k.0,
                short(&k.1),
                got.keys.len(),
                expected.keys.len()
            ),
            Some(g) if g != v => panic!("{what}: db {} key {:?}: got {g:?}, expected {v:?}", k.0, short(&k.1)),
            _ => {}
        }
    }
    for k in got.keys.keys() {
        assert!(
            expected.keys.contains_key(k),
            "{what}: db {} key {:?} should not exist ({:?})",
            k.0,
            short(&k.1),
            got.keys[k]
        );
    }
}

// ---------------------------------------------------------------------------------------
// Our own server process: environment, RLIMIT_FSIZE, stderr captured, no wait for loading
// ---------------------------------------------------------------------------------------

struct Proc {
    child: Child,
    port: Option<u16>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

/// Starts edgekv on `data` with `args`, extra environment variables and, when given, a soft
/// file-size limit (RLIMIT_FSIZE, hard limit unlimited). Returns once the ready line is
/// printed, or once the process exited without printing it (`port` is `None` then).
fn launch(data: &Path, args: &[&str], env: &[(&str, &str)], fsize: Option<u64>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgekv"));
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--http-port", "0", "--dir"])
        .arg(data)
        .args(args)
        .env_remove("EDGEKV_CRASH_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(limit) = fsize {
        // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let l = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &l) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("start edgekv");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let err = thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        all
    });
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let mut p = Proc {
        child,
        port: None,
        stderr: Some(err),
    };
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => {
            p.port = Some(
                line.rsplit(':')
                    .next()
                    .and_then(|x| x.trim().parse().ok())
                    .unwrap_or_else(|| panic!("no port in the ready line {line:?}")),
            );
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("edgekv printed no ready line in 30 s"),
    }
    p
}

impl Proc {
    #[track_caller]
    fn port(&self) -> u16 {
        self.port.expect("the server printed its ready line")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) until the log is replayed: PING stops answering -LOADING.
    #[track_caller]
    fn wait_loaded(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = Conn::try_open(self.port()).and_then(|mut c| c.try_call(&[b"PING"]));
            match r {
                Ok(r) if r == b"+PONG\r\n" => return,
                Ok(r) => assert_eq!(short(&r), LOADING),
                Err(e) => {
                    self.kill();
                    panic!("the server is gone ({e}); stderr:\n{}", self.stderr());
                }
            }
            assert!(Instant::now() < deadline, "still loading after 60 s");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// kill -9 and wait.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `timeout` for the process to end by itself.
    #[track_caller]
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        panic!("the server did not exit within {timeout:?}");
    }

    /// Everything the process wrote to stderr; the process must have ended.
    fn stderr(&mut self) -> String {
        assert!(
            matches!(self.child.try_wait(), Ok(Some(_))),
            "stderr is read once the process ended"
        );
        let bytes = self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------
// Files of the log
// ---------------------------------------------------------------------------------------

fn aof_dir(data: &Path) -> PathBuf {
    data.join("appendonlydir")
}

/// The manifest's (base, incrs).
fn manifest(data: &Path) -> (Option<String>, Vec<String>) {
    let text = std::fs::read_to_string(aof_dir(data).join("manifest")).expect("manifest");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("edgekv-manifest 1"));
    let (mut base, mut incrs) = (None, Vec::new());
    for l in lines {
        match l.split_once(' ') {
            Some(("base", n)) => base = Some(n.to_string()),
            Some(("incr", n)) => incrs.push(n.to_string()),
            _ => panic!("manifest line {l:?}"),
        }
    }
    (base, incrs)
}

fn last_incr(data: &Path) -> PathBuf {
    aof_dir(data).join(manifest(data).1.last().expect("an incremental file"))
}

/// The files in appendonlydir.
fn aof_files(data: &Path) -> BTreeSet<String> {
    std::fs::read_dir(aof_dir(data))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The manifest and the files it names.
fn manifest_files(data: &Path) -> BTreeSet<String> {
    let (base, incrs) = manifest(data);
    let mut s: BTreeSet<String> = base.into_iter().chain(incrs).collect();
    s.insert("manifest".into());
    s
}

/// The records of a log file (format.rs: 12-byte header, then len u32 | crc u32 | payload):
/// (start, end, op) each.
fn records(data: &[u8]) -> Vec<(usize, usize, u8)> {
    assert_eq!(&data[..8], b"EDGEKVLG", "log magic");
    let mut at = 12;
    let mut out = Vec::new();
    while at < data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 8 + len;
        assert!(end <= data.len(), "a whole record at {at}");
        out.push((at, end, data[at + 8]));
        at = end;
    }
    out
}

/// The data folder's files (appendonlydir and the registry), to put back later.
fn snapshot(data: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(aof_dir(data)).unwrap() {
        let p = e.unwrap().path();
        out.push((p.clone(), std::fs::read(&p).unwrap()));
    }
    let reg = data.join("namespaces.json");
    if let Ok(b) = std::fs::read(&reg) {
        out.push((reg, b));
    }
    out
}

fn restore(data: &Path, snap: &[(PathBuf, Vec<u8>)]) {
    let _ = std::fs::remove_dir_all(aof_dir(data));
    let _ = std::fs::remove_file(data.join("namespaces.json"));
    std::fs::create_dir_all(aof_dir(data)).unwrap();
    for (p, b) in snap {
        std::fs::write(p, b).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

fn info(port: u16) -> String {
    let mut c = Conn::open(port);
    payload(&c.cmd(&["INFO", "persistence"]))
}

fn info_field(info: &str, name: &str) -> String {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in INFO:\n{info}"))
        .to_string()
}

/// Polls `f` every 20 ms until it returns true; panics after `secs` seconds.
#[track_caller]
fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not after {secs} s");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until no compaction runs and `aof_rewrites` reached `n`; returns INFO persistence.
#[track_caller]
fn wait_rewrites(port: u16, n: u64) -> String {
    let mut last = String::new();
    wait_until(60, "the compaction to finish", || {
        last = info(port);
        info_field(&last, "aof_rewrite_in_progress") == "0"
            && info_field(&last, "aof_rewrites").parse::<u64>().unwrap() >= n
    });
    last
}

fn rewrites(port: u16) -> u64 {
    info_field(&info(port), "aof_rewrites").parse().unwrap()
}

/// Milliseconds since the epoch, by the server's clock (TIME).
fn server_ms(c: &mut Conn) -> i64 {
    let r = parse(&c.cmd(&["TIME"]));
    let r = r.arr();
    let s: i64 = String::from_utf8_lossy(r[0].bytes()).parse().unwrap();
    let us: i64 = String::from_utf8_lossy(r[1].bytes()).parse().unwrap();
    s * 1000 + us / 1000
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Deterministic pseudo-random bytes (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn bulk_bytes(v: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", v.len()).into_bytes();
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    out
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

/// KV.GETWITHMETADATA's RESP2 reply: [value, metadata or null].
fn with_meta(v: &str, meta: Option<&str>) -> String {
    format!("*2\r\n{}{}", bulk(v), meta.map_or("$-1\r\n".to_string(), bulk))
}

/// Creates a namespace; returns its id (the reply's index is checked).
#[track_caller]
fn create_namespace(c: &mut Conn, title: &str, index: i64) -> String {
    let r = parse(&c.cmd(&["KV.NAMESPACE", "CREATE", title]));
    let f = r.arr();
    assert_eq!(f.len(), 6, "{f:?}");
    assert_eq!(f[3], V::Str(title.as_bytes().to_vec()));
    assert_eq!(f[5], V::Int(index), "index of namespace {title}");
    String::from_utf8(f[1].bytes().to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. A restart keeps everything
// ---------------------------------------------------------------------------------------

/// Writes every kind of state the log has to keep; asserts each reply.
fn rich_workload(c: &mut Conn) {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big = noise(1 << 20, 7);
    // FLUSHALL first: what it removed stays removed.
    c.select(9);
    c.ok(&["SET", "flushed9", "x"]);
    c.select(0);
    c.ok(&["SET", "flushed0", "x"]);
    c.ok(&["FLUSHALL"]);
    // Values: binary, empty, 1 MB; binary and empty key names.
    c.expect_bytes(&[b"SET", b"bin", &all_bytes], OK.as_bytes());
    c.expect_bytes(&[b"SET", b"key\x00\xff\r\n bin", b"v\r\n"], OK.as_bytes());
    c.ok(&["SET", "empty", ""]);
    c.ok(&["SET", "", "empty key"]);
    c.expect_bytes(&[b"SET", b"big", &big], OK.as_bytes());
    // Metadata, with and without a deadline; a SET drops it; an overwrite.
    c.ok(&["KV.PUT", "meta", "v", "METADATA", r#"{"plan":"pro","n":1}"#]);
    c.ok(&[
        "KV.PUT",
        "metattl",
        "v2",
        "EXPIRATIONTTL",
        "86400",
        "METADATA",
        r#"{"t":true}"#,
    ]);
    c.ok(&["KV.PUT", "dropped", "a", "METADATA", r#"{"x":1}"#]);
    c.ok(&["SET", "dropped", "b"]);
    c.ok(&["SET", "over", "1"]);
    c.ok(&["SET", "over", "2"]);
    // Deadlines: relative, absolute to the millisecond, removed.
    c.ok(&["SET", "ttl", "v", "EX", "100000"]);
    let at = server_ms(c) + 50_000_000;
    c.ok(&["SET", "pat", "v"]);
    c.expect(&["PEXPIREAT", "pat", &at.to_string()], ":1\r\n");
    c.expect(&["PEXPIRETIME", "pat"], &format!(":{at}\r\n"));
    c.ok(&["SET", "persisted", "v", "EX", "1000"]);
    c.expect(&["PERSIST", "persisted"], ":1\r\n");
    c.ok(&["SET", "gone", "v"]);
    c.expect(&["EXPIRE", "gone", "-1"], ":1\r\n");
    c.ok(&["SET", "deleted", "v"]);
    c.expect(&["DEL", "deleted"], ":1\r\n");
    // APPEND, SETRANGE, INCR, INCRBYFLOAT.
    c.ok(&["SET", "app", "a"]);
    c.expect(&["APPEND", "app", "bcd"], ":4\r\n");
    c.expect(&["APPEND", "app2", "xyz"], ":3\r\n");
    c.expect_bytes(&[b"APPEND", b"app2", b"\x00\xff"], b":5\r\n");
    c.ok(&["SET", "sr", "hello"]);
    c.expect(&["SETRANGE", "sr", "10", "world"], ":15\r\n");
    c.expect(&["SETRANGE", "sr2", "3", "abc"], ":6\r\n");
    c.ok(&["SET", "n", "10"]);
    c.expect(&["INCR", "n"], ":11\r\n");
    c.expect(&["INCRBY", "n", "5"], ":16\r\n");
    c.expect(&["DECR", "n"], ":15\r\n");
    c.expect(&["INCR", "fresh"], ":1\r\n");
    c.expect(&["INCRBYFLOAT", "f", "1.5"], &bulk("1.5"));
    c.expect(&["INCRBYFLOAT", "f", "0.25"], &bulk("1.75"));
    // RENAME and COPY keep metadata and deadline; MOVE.
    c.ok(&["KV.PUT", "m1", "mv", "METADATA", r#"{"a":1}"#]);
    c.expect(&["EXPIRE", "m1", "50000"], ":1\r\n");
    c.ok(&["RENAME", "m1", "m1renamed"]);
    c.expect(&["COPY", "m1renamed", "m1copy"], ":1\r\n");
    c.expect(&["COPY", "m1renamed", "m1copy5", "DB", "5"], ":1\r\n");
    c.ok(&["SET", "m1copy", "replaced"]);
    c.expect(&["COPY", "m1renamed", "m1copy", "REPLACE"], ":1\r\n");
    c.ok(&["SET", "mv", "moved"]);
    c.expect(&["EXPIRE", "mv", "70000"], ":1\r\n");
    c.expect(&["MOVE", "mv", "3"], ":1\r\n");
    // The rest of the write commands.
    c.ok(&["SET", "gx", "1"]);
    c.expect(&["GETEX", "gx", "EX", "1000"], &bulk("1"));
    c.ok(&["SET", "gp", "1", "EX", "1000"]);
    c.expect(&["GETEX", "gp", "PERSIST"], &bulk("1"));
    c.ok(&["SET", "kt", "v", "EX", "1000"]);
    c.expect(&["SET", "kt", "v2", "KEEPTTL", "GET"], &bulk("v"));
    c.ok(&["SET", "gd", "v"]);
    c.expect(&["GETDEL", "gd"], &bulk("v"));
    c.expect(&["MSETNX", "ma", "1", "mb", "2"], ":1\r\n");
    c.expect(&["SETNX", "ma", "3"], ":0\r\n");
    c.expect(&["RENAMENX", "ma", "mb"], ":0\r\n");
    c.expect(&["RENAMENX", "ma", "mc"], ":1\r\n");
    c.ok(&["SETEX", "se", "1000", "v"]);
    c.ok(&["PSETEX", "pse", "1000000", "v"]);
    c.expect(&["GETSET", "se", "w"], &bulk("v"));
    c.ok(&["SET", "ea", "v"]);
    c.expect(&["EXPIREAT", "ea", &(at / 1000 + 1).to_string()], ":1\r\n");
    c.ok(&["SET", "pe", "v"]);
    c.expect(&["PEXPIRE", "pe", "123456789"], ":1\r\n");
    c.expect(&["DECRBY", "n2", "5"], ":-5\r\n");
    c.ok(&["MULTI"]);
    c.expect(&["SET", "tx1", "a"], "+QUEUED\r\n");
    c.expect(&["INCR", "tx2"], "+QUEUED\r\n");
    c.expect(&["EXPIRE", "tx1", "5000"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*3\r\n+OK\r\n:1\r\n:1\r\n");
    let bulk_ok = |n: i64| format!("*4\r\n$20\r\nsuccessful_key_count\r\n:{n}\r\n$17\r\nunsuccessful_keys\r\n*0\r\n");
    c.expect(
        &[
            "KV.BULKPUT",
            r#"[{"key":"bk1","value":"v","expiration_ttl":3600,"metadata":{"a":1}},{"key":"b64","value":"AAEC","base64":true},{"key":"bd1","value":"x"}]"#,
        ],
        &bulk_ok(3),
    );
    c.expect(&["KV.BULKDELETE", "bd1", "nope"], &bulk_ok(2));
    c.ok(&["KV.PUT", "kd", "v"]);
    c.expect(&["KV.DELETE", "kd"], ":1\r\n");
    // SWAPDB: 1 and 2 trade their keys.
    c.select(1);
    c.ok(&["SET", "s1", "one"]);
    c.select(2);
    c.ok(&["SET", "s2", "two"]);
    c.ok(&["SET", "s2b", "two-b"]);
    c.ok(&["SWAPDB", "1", "2"]);
    // FLUSHDB, then a write after it.
    c.select(4);
    c.ok(&["SET", "f1", "x"]);
    c.ok(&["SET", "f2", "y"]);
    c.ok(&["FLUSHDB"]);
    c.ok(&["SET", "after_flush", "z"]);
    c.select(15);
    c.ok(&["SET", "last_db", "v"]);
    // Namespaces: create, write, delete (its index is reused), rename; MOVE into one.
    c.select(0);
    let _alpha = create_namespace(c, "alpha", 16);
    let beta = create_namespace(c, "beta", 17);
    let gamma = create_namespace(c, "gamma", 18);
    c.select(16);
    c.ok(&["KV.PUT", "a1", "va", "METADATA", r#"{"ns":"alpha"}"#]);
    c.ok(&["KV.PUT", "a2", "vb", "EXPIRATIONTTL", "3600"]);
    c.expect(&["APPEND", "a2", "+"], ":3\r\n");
    c.select(17);
    c.ok(&["KV.PUT", "b1", "from beta"]);
    c.ok(&["KV.PUT", "shared", "from beta"]);
    c.select(18);
    c.ok(&["KV.PUT", "g1", "vg", "METADATA", r#"{"ns":"gamma"}"#]);
    c.select(0);
    c.expect(&["KV.NAMESPACE", "DELETE", &beta], OK);
    c.ok(&["KV.NAMESPACE", "RENAME", &gamma, "gamma2"]);
    let _delta = create_namespace(c, "delta", 17);
    c.select(17);
    c.ok(&["KV.PUT", "d1", "vd"]);
    c.select(0);
    c.ok(&["SET", "tomove", "into gamma"]);
    c.expect(&["MOVE", "tomove", "18"], ":1\r\n");
}

/// Explicit checks of what `rich_workload` left (besides the dump comparison).
fn check_rich(c: &mut Conn) {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    c.select(0);
    c.expect_bytes(&[b"GET", b"bin"], &bulk_bytes(&all_bytes));
    c.expect_bytes(&[b"GET", b"key\x00\xff\r\n bin"], &bulk_bytes(b"v\r\n"));
    c.expect(&["GET", "empty"], "$0\r\n\r\n");
    c.expect(&["GET", ""], &bulk("empty key"));
    c.expect_bytes(&[b"GET", b"big"], &bulk_bytes(&noise(1 << 20, 7)));
    c.expect(
        &["KV.GETWITHMETADATA", "meta"],
        &with_meta("v", Some(r#"{"plan":"pro","n":1}"#)),
    );
    c.expect(&["KV.GETWITHMETADATA", "dropped"], &with_meta("b", None));
    c.expect(&["GET", "over"], &bulk("2"));
    c.expect(&["PTTL", "persisted"], ":-1\r\n");
    c.expect(
        &[
            "EXISTS", "gone", "deleted", "mv", "m1", "tomove", "flushed0", "gd", "ma", "bd1", "kd",
        ],
        ":0\r\n",
    );
    c.expect(
        &["MGET", "kt", "mb", "mc", "se", "tx1", "tx2", "n2"],
        "*7\r\n$2\r\nv2\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\nw\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\n-5\r\n",
    );
    for (k, ttl) in [
        ("kt", true),
        ("gx", true),
        ("gp", false),
        ("se", false),
        ("pse", true),
        ("tx1", true),
    ] {
        let t = c.int(&["PTTL", k]);
        assert_eq!(t > 0, ttl, "PTTL {k}: {t}");
    }
    c.expect(&["KV.GETWITHMETADATA", "bk1"], &with_meta("v", Some(r#"{"a":1}"#)));
    c.expect(&["GET", "b64"], "$3\r\n\x00\x01\x02\r\n");
    c.expect(&["GET", "app"], &bulk("abcd"));
    c.expect_bytes(&[b"GET", b"app2"], b"$5\r\nxyz\x00\xff\r\n");
    c.expect_bytes(&[b"GET", b"sr"], b"$15\r\nhello\x00\x00\x00\x00\x00world\r\n");
    c.expect_bytes(&[b"GET", b"sr2"], b"$6\r\n\x00\x00\x00abc\r\n");
    c.expect(&["GET", "n"], &bulk("15"));
    c.expect(&["GET", "f"], &bulk("1.75"));
    c.expect(
        &["KV.GETWITHMETADATA", "m1renamed"],
        &with_meta("mv", Some(r#"{"a":1}"#)),
    );
    c.expect(&["KV.GETWITHMETADATA", "m1copy"], &with_meta("mv", Some(r#"{"a":1}"#)));
    let t = c.int(&["PEXPIRETIME", "m1renamed"]);
    assert!(t > 0);
    c.expect(&["PEXPIRETIME", "m1copy"], &format!(":{t}\r\n"));
    c.select(1);
    c.expect(
        &["MGET", "s1", "s2", "s2b"],
        &format!("*3\r\n$-1\r\n{}{}", bulk("two"), bulk("two-b")),
    );
    c.select(2);
    c.expect(&["MGET", "s1", "s2"], &format!("*2\r\n{}$-1\r\n", bulk("one")));
    c.select(3);
    c.expect(&["GET", "mv"], &bulk("moved"));
    c.select(4);
    c.expect(&["DBSIZE"], ":1\r\n");
    c.select(5);
    c.expect(&["KV.GETWITHMETADATA", "m1copy5"], &with_meta("mv", Some(r#"{"a":1}"#)));
    c.select(16);
    c.expect(
        &["KV.GETWITHMETADATA", "a1"],
        &with_meta("va", Some(r#"{"ns":"alpha"}"#)),
    );
    c.expect(&["GET", "a2"], &bulk("vb+"));
    c.select(17);
    // delta took beta's index; beta's keys went with beta.
    c.expect(&["DBSIZE"], ":1\r\n");
    c.expect(&["GET", "d1"], &bulk("vd"));
    c.select(18);
    c.expect(
        &["MGET", "g1", "tomove"],
        &format!("*2\r\n{}{}", bulk("vg"), bulk("into gamma")),
    );
    c.select(0);
    let list = parse(&c.cmd(&["KV.NAMESPACE", "LIST"]));
    let titles: Vec<(String, i64)> = list
        .arr()
        .iter()
        .map(|ns| {
            let f = ns.arr();
            let V::Int(i) = f[5] else { panic!("{f:?}") };
            (String::from_utf8(f[3].bytes().to_vec()).unwrap(), i)
        })
        .collect();
    let mut titles = titles;
    titles.sort_by_key(|t| t.1);
    assert_eq!(
        titles,
        [
            ("alpha".to_string(), 16),
            ("delta".to_string(), 17),
            ("gamma2".to_string(), 18)
        ]
    );
}

fn restart_keeps_everything(clean: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    rich_workload(&mut c);
    check_rich(&mut c);
    let before = full_dump(s.port);
    // 35 keys in db 0, 7 in databases 1-15, 5 in the namespaces.
    assert_eq!(before.keys.len(), 47, "the dump sees the data");
    // A key whose deadline passes while the server is down is gone after the restart.
    let soon = server_ms(&mut c) + 300;
    c.ok(&["SET", "soon", "v"]);
    c.expect(&["PEXPIREAT", "soon", &soon.to_string()], ":1\r\n");
    if clean {
        c.s.write_all(&resp(&[b"SHUTDOWN"])).unwrap();
        assert!(c.try_read().is_err(), "SHUTDOWN closes the connection without a reply");
        let st = s.wait_exit(Duration::from_secs(20)).expect("SHUTDOWN ends the process");
        assert!(st.success(), "exit status {st:?}");
    } else {
        s.stop();
    }
    // The server's clock is this machine's.
    wait_until(10, "the deadline of `soon` to pass", || unix_ms() > soon + 10);
    let s = Server::start_in(dir.path(), &[]);
    let after = full_dump(s.port);
    assert_same(&after, &before, "after the restart");
    check_rich(&mut Conn::open(s.port));
}

#[test]
fn clean_shutdown_keeps_every_key_value_metadata_deadline_and_namespace() {
    restart_keeps_everything(true);
}

#[test]
fn kill_9_keeps_every_key_value_metadata_deadline_and_namespace() {
    restart_keeps_everything(false);
}

// ---------------------------------------------------------------------------------------
// 2. kill -9 during concurrent writers, appendfsync always
// ---------------------------------------------------------------------------------------

/// What one writer saw acknowledged in one round.
#[derive(Default)]
struct Acked {
    /// Keys whose SET was acknowledged, with the value.
    sets: Vec<(String, String)>,
    /// Keys whose KV.PUT was acknowledged, with value and metadata.
    puts: Vec<(String, String, String)>,
    /// The counter's last acknowledged value, and whether an INCR was sent and not answered.
    counter: i64,
    incr_in_flight: bool,
}

fn writer(port: u16, t: usize, round: usize, start: i64, acks: Arc<AtomicUsize>) -> Acked {
    let mut a = Acked {
        counter: start,
        ..Default::default()
    };
    let Ok(mut c) = Conn::try_open(port) else { return a };
    let ctr = format!("ctr:{t}");
    let mut i = 0usize;
    loop {
        let key = format!("w:{round}:{t}:{i}");
        let r = match i % 3 {
            0 => {
                let v = format!("value {round}/{t}/{i} {}", "x".repeat(i % 50));
                let r = c.try_call(&[b"SET", key.as_bytes(), v.as_bytes()]);
                if let Ok(r) = &r {
                    assert_eq!(short(r), OK, "SET {key}");
                    a.sets.push((key, v));
                }
                r
            }
            1 => {
                a.incr_in_flight = true;
                let r = c.try_call(&[b"INCR", ctr.as_bytes()]);
                if let Ok(r) = &r {
                    assert_eq!(short(r), format!(":{}\r\n", a.counter + 1), "INCR {ctr}");
                    a.counter += 1;
                    a.incr_in_flight = false;
                }
                r
            }
            _ => {
                let v = format!("kv {round}/{t}/{i}");
                let m = format!(r#"{{"round":{round},"i":{i}}}"#);
                let r = c.try_call(&[b"KV.PUT", key.as_bytes(), v.as_bytes(), b"METADATA", m.as_bytes()]);
                if let Ok(r) = &r {
                    assert_eq!(short(r), OK, "KV.PUT {key}");
                    a.puts.push((key, v, m));
                }
                r
            }
        };
        if r.is_err() {
            return a;
        }
        acks.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
}

#[test]
fn kill_9_under_concurrent_writers_with_appendfsync_always_loses_no_acknowledged_write() {
    const WRITERS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let opts = ["--appendfsync", "always"];
    let mut all: Vec<Acked> = Vec::new();
    // Per writer: the counter's last acknowledged value and whether an INCR was in flight.
    let mut last = [(0i64, false); WRITERS];
    for round in 0..3 {
        let mut s = Server::start_in(dir.path(), &opts);
        // Everything acknowledged in earlier rounds is here.
        let counters = check_acked(s.port, &all, &last);
        let acks = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (port, acks, start) = (s.port, acks.clone(), counters[t]);
                thread::spawn(move || writer(port, t, round, start, acks))
            })
            .collect();
        // kill -9 once the writers have some hundreds of acknowledged writes, a different
        // number each round.
        let target = 200 + round * 150;
        wait_until(60, "the writers' acknowledged writes", || {
            acks.load(Ordering::Relaxed) >= target
        });
        s.stop();
        for (t, h) in handles.into_iter().enumerate() {
            let a = h.join().expect("writer");
            last[t] = (a.counter, a.incr_in_flight);
            all.push(a);
        }
    }
    let s = Server::start_in(dir.path(), &opts);
    check_acked(s.port, &all, &last);
    let total: usize = all.iter().map(|a| a.sets.len() + a.puts.len()).sum();
    assert!(total >= 600, "acknowledged writes checked: {total}");
}

/// Every acknowledged SET and KV.PUT is there; each counter is at least its last acknowledged
/// value and at most one more (an INCR in flight at the kill). Returns the counters' values.
fn check_acked(port: u16, all: &[Acked], last: &[(i64, bool)]) -> Vec<i64> {
    let mut c = Conn::open(port);
    let mut cmds = Vec::new();
    let mut expected = Vec::new();
    for a in all {
        for (k, v) in &a.sets {
            cmds.push(args(&[b"GET", k.as_bytes()]));
            expected.push(bulk(v));
        }
        for (k, v, m) in &a.puts {
            cmds.push(args(&[b"KV.GETWITHMETADATA", k.as_bytes()]));
            expected.push(with_meta(v, Some(m)));
        }
    }
    let got = c.pipeline(&cmds);
    for ((cmd, g), e) in cmds.iter().zip(&got).zip(&expected) {
        assert_eq!(short(g), *e, "after the restart: {}", show(&[&cmd[0], &cmd[1]]));
    }
    let mut counters = Vec::new();
    for (t, &(acked, in_flight)) in last.iter().enumerate() {
        let v = match parse(&c.cmd(&["GET", &format!("ctr:{t}")])) {
            V::Nil => 0,
            V::Str(b) => String::from_utf8(b).unwrap().parse().unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(
            (acked..=acked + in_flight as i64).contains(&v),
            "ctr:{t} is {v}; acknowledged {acked}, an INCR in flight: {in_flight}"
        );
        counters.push(v);
    }
    counters
}

// ---------------------------------------------------------------------------------------
// 3. Torn tails and corruption; check-log
// ---------------------------------------------------------------------------------------

/// Writes `setup`, then `last` (which must log exactly one record, of type `op`), kills the
/// server, and restarts it on the log cut at every byte of that record: each time the data
/// is exactly what it was before `last`, and the torn tail is cut off the file with a warning.
fn cut_last_record(setup: &[&[&str]], last: &[&str], op: u8) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    for cmd in setup {
        let r = c.cmd(cmd);
        assert!(!r.starts_with(b"-"), "{cmd:?} -> {}", short(&r));
    }
    let before = full_dump(s.port);
    let r = c.cmd(last);
    assert!(!r.starts_with(b"-"), "{last:?} -> {}", short(&r));
    let after = full_dump(s.port);
    assert_ne!(before, after, "{last:?} changes the data");
    s.stop();

    let incr = last_incr(dir.path());
    let full = std::fs::read(&incr).unwrap();
    let &(start, end, last_op) = records(&full).last().expect("records");
    assert_eq!(end, full.len());
    assert_eq!(last_op, op, "{last:?} is the last record, of type {op}");
    let snap = snapshot(dir.path());
    for cut in start..end {
        restore(dir.path(), &snap);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&incr)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let mut p = launch(dir.path(), &[], &[], None);
        p.wait_loaded();
        assert_same(
            &full_dump(p.port()),
            &before,
            &format!("{last:?} cut at byte {cut} of {start}..{end}"),
        );
        p.kill();
        let err = p.stderr();
        if cut > start {
            assert!(err.contains("torn"), "a warning for the torn tail at {cut}:\n{err}");
        }
        assert_eq!(
            std::fs::metadata(&incr).unwrap().len(),
            start as u64,
            "the torn tail was cut off the file (cut at {cut})"
        );
    }
    // A write after a recovered torn tail goes after the last good record.
    restore(dir.path(), &snap);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&incr)
        .unwrap()
        .set_len((start + end) as u64 / 2)
        .unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    Conn::open(s.port).ok(&["SET", "after-the-tear", "ok"]);
    let mut expected = full_dump(s.port);
    s.stop();
    let s = Server::start_in(dir.path(), &[]);
    assert_same(&full_dump(s.port), &expected, "a write after the recovered tail");
    drop(s);
    // The whole file: the last write is there.
    restore(dir.path(), &snap);
    let s = Server::start_in(dir.path(), &[]);
    expected = after;
    assert_same(&full_dump(s.port), &expected, "the whole log");
}

const CUT_SETUP: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["KV.PUT", "m", "v", "METADATA", r#"{"x":1}"#, "EXPIRATIONTTL", "3600"],
    &["SELECT", "1"],
    &["SET", "b", "2"],
    &["SELECT", "0"],
];

#[test]
fn log_cut_in_its_last_record_put_recovers_the_prefix() {
    cut_last_record(CUT_SETUP, &["SET", "k", "v"], 1);
}

#[test]
fn log_cut_in_its_last_record_del_recovers_the_prefix() {
    cut_last_record(CUT_SETUP, &["DEL", "m"], 2);
}

#[test]
fn log_cut_in_its_last_record_append_recovers_the_prefix() {
    cut_last_record(CUT_SETUP, &["APPEND", "a", "xy"], 3);
}

#[test]
fn log_cut_in_its_last_record_deadline_recovers_the_prefix() {
    cut_last_record(CUT_SETUP, &["EXPIRE", "a", "100000"], 4);
}

#[test]
fn log_cut_in_its_last_record_swapdb_recovers_the_prefix() {
    cut_last_record(CUT_SETUP, &["SWAPDB", "0", "1"], 6);
}

#[test]
fn log_cut_in_its_last_record_namespace_create_recovers_the_prefix() {
    // The registry file is written at creation too; the log decides.
    cut_last_record(CUT_SETUP, &["KV.NAMESPACE", "CREATE", "torn"], 7);
}

/// A file extended but not written before a crash ends in zeros: a torn tail, cut off.
#[test]
fn zeros_after_the_last_record_are_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    for cmd in CUT_SETUP {
        c.cmd(cmd);
    }
    let before = full_dump(s.port);
    s.stop();
    let incr = last_incr(dir.path());
    let len = std::fs::metadata(&incr).unwrap().len();
    let mut f = std::fs::OpenOptions::new().append(true).open(&incr).unwrap();
    f.write_all(&[0u8; 4096]).unwrap();
    drop(f);
    let mut p = launch(dir.path(), &[], &[], None);
    p.wait_loaded();
    assert_same(&full_dump(p.port()), &before, "zeros after the last record");
    Conn::open(p.port()).ok(&["SET", "next", "write"]);
    p.kill();
    assert!(p.stderr().contains("torn"), "a warning");
    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.expect(&["GET", "next"], &bulk("write"));
    assert!(
        std::fs::metadata(&incr).unwrap().len() > len,
        "the next write follows the last good record"
    );
}

/// Runs `edgekv check-log ARGS`; (exit code, stdout + stderr).
fn check_log(a: &[&str], file: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgekv"))
        .arg("check-log")
        .args(a)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("run edgekv check-log");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == word)
}

#[test]
fn flipped_byte_refuses_to_start_names_the_offset_and_check_log_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    for i in 0..100 {
        c.ok(&["SET", &format!("k{i}"), &format!("value-{i}")]);
    }
    s.stop();
    let incr = last_incr(dir.path());
    let good = std::fs::read(&incr).unwrap();
    let recs = records(&good);
    assert_eq!(recs.len(), 100, "one record per SET");
    assert!(recs.iter().all(|r| r.2 == 1));

    // check-log on the whole file: ok, 100 records.
    let (code, out) = check_log(&[], &incr);
    assert_eq!(code, 0, "check-log on a whole file:\n{out}");
    assert!(has_word(&out, "100"), "check-log reports the records:\n{out}");

    // A flipped byte in the value of record 50.
    let (at, end, _) = recs[50];
    let mut bad = good.clone();
    bad[end - 3] ^= 0x20;
    std::fs::write(&incr, &bad).unwrap();
    let mut p = launch(dir.path(), &[], &[], None);
    let st = p.wait_exit(Duration::from_secs(30));
    assert!(!st.success(), "a damaged log: the server does not run ({st:?})");
    let err = p.stderr();
    assert!(
        err.contains(&format!("offset {at}")),
        "stderr names the offset {at}:\n{err}"
    );
    assert!(
        err.contains(&incr.display().to_string()),
        "stderr names {}:\n{err}",
        incr.display()
    );

    // check-log reports the offset and exits 1.
    let (code, out) = check_log(&[], &incr);
    assert_eq!(code, 1, "check-log on a damaged file:\n{out}");
    assert!(
        out.contains(&format!("offset {at}")),
        "check-log names offset {at}:\n{out}"
    );
    assert!(has_word(&out, "50"), "check-log reports the 50 good records:\n{out}");
    assert_eq!(
        std::fs::read(&incr).unwrap(),
        bad,
        "check-log without --repair changes nothing"
    );
    // --repair without --yes and no terminal to confirm on: nothing is cut.
    let (code, out) = check_log(&["--repair"], &incr);
    assert_ne!(code, 0, "--repair without confirmation:\n{out}");
    assert_eq!(std::fs::read(&incr).unwrap(), bad, "not repaired without confirmation");
    // --repair --yes cuts the file at the damaged record.
    let (code, out) = check_log(&["--repair", "--yes"], &incr);
    assert_eq!(code, 0, "check-log --repair --yes:\n{out}");
    assert_eq!(
        std::fs::read(&incr).unwrap(),
        &good[..at],
        "cut at the last good record"
    );
    let (code, out) = check_log(&[], &incr);
    assert_eq!(code, 0, "check-log after the repair:\n{out}");

    // The server starts with the prefix.
    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.expect(&["DBSIZE"], ":50\r\n");
    for i in 0..100 {
        let want = if i < 50 {
            bulk(&format!("value-{i}"))
        } else {
            "$-1\r\n".into()
        };
        c.expect(&["GET", &format!("k{i}")], &want);
    }
}

/// The key of a PUT record's payload (format.rs).
fn put_key(payload: &[u8]) -> Vec<u8> {
    assert_eq!(payload[0], 1, "a PUT");
    let mut at = 1 + 4;
    let flags = payload[at];
    at += 1;
    if flags & 1 != 0 {
        at += 8;
    }
    let klen = u32::from_le_bytes(payload[at..at + 4].try_into().unwrap()) as usize;
    payload[at + 4..at + 4 + klen].to_vec()
}

#[test]
fn flipped_byte_in_the_base_refuses_to_start_and_check_log_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    for i in 0..60 {
        c.ok(&["SET", &format!("base{i}"), &format!("value-{i}")]);
    }
    c.ok(&["SAVE"]);
    for i in 0..10 {
        c.ok(&["SET", &format!("incr{i}"), "v"]);
    }
    s.stop();
    let base = aof_dir(dir.path()).join(manifest(dir.path()).0.expect("a base"));
    let good = std::fs::read(&base).unwrap();
    let recs = records(&good);
    assert_eq!(recs.len(), 60, "the base holds one PUT per key");
    let (at, end, _) = recs[30];
    let mut bad = good.clone();
    bad[end - 2] ^= 0x01;
    std::fs::write(&base, &bad).unwrap();
    let mut p = launch(dir.path(), &[], &[], None);
    let st = p.wait_exit(Duration::from_secs(30));
    assert!(!st.success(), "{st:?}");
    let err = p.stderr();
    assert!(
        err.contains(&format!("offset {at}")),
        "stderr names offset {at}:\n{err}"
    );
    assert!(
        err.contains(&base.display().to_string()),
        "stderr names {}:\n{err}",
        base.display()
    );
    let (code, out) = check_log(&[], &base);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("offset {at}")), "{out}");
    let (code, out) = check_log(&["--repair", "--yes"], &base);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read(&base).unwrap(), &good[..at]);
    // The base's first 30 records and the incremental file.
    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.expect(&["DBSIZE"], ":40\r\n");
    for &(a, e, _) in &recs[..30] {
        let k = put_key(&good[a + 8..e]);
        let i = String::from_utf8_lossy(&k[4..]).into_owned();
        c.expect_bytes(&[b"GET", &k], &bulk_bytes(format!("value-{i}").as_bytes()));
    }
    for i in 0..10 {
        c.expect(&["GET", &format!("incr{i}")], &bulk("v"));
    }
}

// ---------------------------------------------------------------------------------------
// 4. Compaction under concurrent writes; the automatic trigger
// ---------------------------------------------------------------------------------------

/// A writer during a compaction: its own keys (new keys, a counter, an appended log, the
/// preloaded `pre:k` with k % 2 == t overwritten, deleted or given a deadline), a model of
/// what it acknowledged. Runs until `stop`.
/// Writer 1 also swaps databases 8 and 9 (at most 3 times, so a compaction that starts over
/// after each still completes) once `compacting` is set. Returns its model and its swaps.
fn compaction_writer(
    port: u16,
    t: usize,
    stop: Arc<AtomicBool>,
    compacting: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
) -> (HashMap<String, Option<String>>, usize) {
    let mut c = Conn::open(port);
    let mut swaps = 0;
    let mut model = HashMap::new();
    let (ctr, log) = (format!("c{t}:ctr"), format!("c{t}:log"));
    let mut n = 0i64;
    let mut appended = String::new();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let pre = format!("pre:{}", (i * 37 % 10_000) / 2 * 2 + t);
        if t == 1 && swaps < 3 && i.is_multiple_of(10) && compacting.load(Ordering::Relaxed) {
            c.ok(&["SWAPDB", "8", "9"]);
            swaps += 1;
        }
        match i % 6 {
            0 => {
                let k = format!("c{t}:new:{i}");
                let v = format!("v{i}");
                c.ok(&["SET", &k, &v]);
                model.insert(k, Some(v));
            }
            1 => {
                n += 1;
                c.expect(&["INCR", &ctr], &format!(":{n}\r\n"));
                model.insert(ctr.clone(), Some(n.to_string()));
            }
            2 => {
                let piece = format!("{i};");
                appended.push_str(&piece);
                c.expect(&["APPEND", &log, &piece], &format!(":{}\r\n", appended.len()));
                model.insert(log.clone(), Some(appended.clone()));
            }
            3 => {
                let v = format!("rewritten {i}");
                c.ok(&["SET", &pre, &v]);
                model.insert(pre, Some(v));
            }
            4 => {
                let exists = model.get(&pre).is_none_or(|v| v.is_some());
                c.expect(&["DEL", &pre], &format!(":{}\r\n", exists as u8));
                model.insert(pre, None);
            }
            _ => {
                let exists = model.get(&pre).is_none_or(|v| v.is_some());
                c.expect(&["EXPIRE", &pre, "100000"], &format!(":{}\r\n", exists as u8));
            }
        }
        i += 1;
        acks.fetch_add(1, Ordering::Relaxed);
    }
    (model, swaps)
}

/// 10,000 `pre:i` keys, 2000 keys in db 8 and 1000 in db 9, keys with metadata and deadlines
/// in a namespace.
fn preload(c: &mut Conn) {
    for chunk in (0..10_000).collect::<Vec<_>>().chunks(1000) {
        let mut cmd = vec![b"MSET".to_vec()];
        for i in chunk {
            cmd.push(format!("pre:{i}").into_bytes());
            cmd.push(format!("preloaded value {i} {}", "p".repeat(i % 40)).into_bytes());
        }
        let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_slice()).collect();
        c.expect_bytes(&a, OK.as_bytes());
    }
    for (db, n) in [(8, 2000), (9, 1000)] {
        c.select(db);
        let mut cmd = vec![b"MSET".to_vec()];
        for i in 0..n {
            cmd.push(format!("s{db}:{i}").into_bytes());
            cmd.push(b"swapped around".to_vec());
        }
        let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_slice()).collect();
        c.expect_bytes(&a, OK.as_bytes());
    }
    c.select(0);
    create_namespace(c, "compacted", 16);
    c.select(16);
    let cmds: Vec<Vec<Vec<u8>>> = (0..500)
        .map(|i| {
            let k = format!("ns:{i}");
            let m = format!(r#"{{"i":{i}}}"#);
            args(&[
                b"KV.PUT",
                k.as_bytes(),
                b"v",
                b"EXPIRATIONTTL",
                b"7200",
                b"METADATA",
                m.as_bytes(),
            ])
        })
        .collect();
    for r in c.pipeline(&cmds) {
        assert_eq!(short(&r), OK);
    }
    c.select(0);
}

#[test]
fn bgrewriteaof_under_concurrent_writes_loses_nothing_and_replays_to_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    preload(&mut c);
    let files_before = aof_files(dir.path());
    let rewrites_before = rewrites(s.port);

    let stop = Arc::new(AtomicBool::new(false));
    let compacting = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (port, stop, compacting, acks) = (s.port, stop.clone(), compacting.clone(), acks.clone());
            thread::spawn(move || compaction_writer(port, t, stop, compacting, acks))
        })
        .collect();
    wait_until(60, "writers running", || acks.load(Ordering::Relaxed) >= 300);
    compacting.store(true, Ordering::Relaxed);
    c.expect(&["BGREWRITEAOF"], REWRITE_STARTED);
    let inf = wait_rewrites(s.port, rewrites_before + 1);
    // Writes went on during the compaction and after it.
    let done = acks.load(Ordering::Relaxed);
    wait_until(60, "writes after the compaction", || {
        acks.load(Ordering::Relaxed) >= done + 300
    });
    stop.store(true, Ordering::Relaxed);
    let (models, swaps): (Vec<_>, Vec<_>) = writers.into_iter().map(|h| h.join().expect("writer")).unzip();
    let swaps: usize = swaps.iter().sum();

    assert_eq!(info_field(&inf, "aof_rewrites"), (rewrites_before + 1).to_string());
    assert_eq!(info_field(&inf, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&inf, "aof_last_write_status"), "ok");
    // The old files are gone: the folder holds the manifest and the files it names.
    let files = aof_files(dir.path());
    assert_eq!(files, manifest_files(dir.path()), "only the manifest's files remain");
    for f in files_before.iter().filter(|f| *f != "manifest") {
        assert!(!files.contains(f), "{f} was removed by the compaction: {files:?}");
    }

    let before = full_dump(s.port);
    let in_db = |db: usize| before.keys.keys().filter(|k| k.0 == db).count();
    let (n8, n9) = if swaps.is_multiple_of(2) {
        (2000, 1000)
    } else {
        (1000, 2000)
    };
    assert_eq!((in_db(8), in_db(9)), (n8, n9), "after {swaps} SWAPDB 8 9");
    for m in &models {
        for (k, v) in m {
            let got = before.get(0, k.as_bytes()).map(|s| s.get.clone());
            let want = v.as_ref().map(|v| bulk(v).into_bytes());
            assert!(
                got == want,
                "{k}: got {:?}, its writer acknowledged {:?} last",
                got.as_deref().map(short),
                want.as_deref().map(short)
            );
        }
    }
    s.stop();
    let s = Server::start_in(dir.path(), &[]);
    assert_same(&full_dump(s.port), &before, "the compacted log replayed");
}

#[test]
fn automatic_compaction_past_the_size_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let opts = [
        "--auto-aof-rewrite-min-size",
        "1mb",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let mut s = Server::start_in(dir.path(), &opts);
    let mut c = Conn::open(s.port);
    let base_before = manifest(dir.path()).0;
    let rewrites_before = rewrites(s.port);
    // 1.5 MB of values.
    for round in 0..15 {
        let mut cmd = vec![b"MSET".to_vec()];
        for i in 0..100 {
            cmd.push(format!("auto:{round}:{i}").into_bytes());
            cmd.push(noise(1000, (round * 100 + i + 1) as u64));
        }
        let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_slice()).collect();
        c.expect_bytes(&a, OK.as_bytes());
    }
    let inf = wait_rewrites(s.port, rewrites_before + 1);
    assert_eq!(info_field(&inf, "aof_last_bgrewrite_status"), "ok");
    assert_ne!(manifest(dir.path()).0, base_before, "a new base");
    let base: u64 = info_field(&inf, "aof_base_size").parse().unwrap();
    assert!(base > 1_500_000, "the new base holds the data: {base}");
    assert_eq!(aof_files(dir.path()), manifest_files(dir.path()));
    c.ok(&["SET", "after", "the compaction"]);
    let before = full_dump(s.port);
    assert_eq!(before.keys.len(), 1501);
    s.stop();
    let s = Server::start_in(dir.path(), &opts);
    assert_same(&full_dump(s.port), &before, "after the automatic compaction");
}

// ---------------------------------------------------------------------------------------
// 5. A crash at each step of a compaction
// ---------------------------------------------------------------------------------------

/// Data in several databases and a namespace, with metadata and deadlines; `tag` varies it.
fn crash_workload(c: &mut Conn, tag: &str) {
    let cmds: Vec<Vec<Vec<u8>>> = (0..2000)
        .map(|i| {
            let k = format!("{tag}:{i}");
            let v = format!("{tag} value {i}");
            match i % 4 {
                0 => args(&[b"SET", k.as_bytes(), v.as_bytes()]),
                1 => args(&[b"SET", k.as_bytes(), v.as_bytes(), b"EX", b"90000"]),
                2 => args(&[b"KV.PUT", k.as_bytes(), v.as_bytes(), b"METADATA", br#"{"m":true}"#]),
                _ => args(&[b"APPEND", k.as_bytes(), v.as_bytes()]),
            }
        })
        .collect();
    for db in [0, 3] {
        c.select(db);
        for r in c.pipeline(&cmds) {
            assert!(!r.starts_with(b"-"), "{}", short(&r));
        }
    }
    c.select(0);
}

fn crash_during_compaction(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    // A first log (starting a fresh one is itself a compaction, so not with the crash set).
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    crash_workload(&mut c, "a");
    create_namespace(&mut c, "crashy", 16);
    c.select(16);
    c.ok(&["KV.PUT", "in-ns", "v", "METADATA", r#"{"ns":1}"#]);
    s.stop();

    let mut p = launch(dir.path(), &[], &[("EDGEKV_CRASH_AT", point)], None);
    p.wait_loaded();
    let mut c = Conn::open(p.port());
    crash_workload(&mut c, "b");
    c.cmd(&["DEL", "a:0", "a:1"]);
    c.ok(&["SET", "a:2", "overwritten"]);
    c.expect(&["APPEND", "a:3", "+more"], ":14\r\n");
    c.expect(&["PERSIST", "a:1"], ":0\r\n");
    c.expect(&["PERSIST", "a:5"], ":1\r\n");
    let expected = full_dump(p.port());
    // The crash may come before the reply leaves.
    if let Ok(r) = c.try_call(&[b"BGREWRITEAOF"]) {
        assert_eq!(short(&r), REWRITE_STARTED);
    }
    let st = p.wait_exit(Duration::from_secs(30));
    assert_eq!(st.signal(), Some(libc::SIGABRT), "aborted at {point}: {st:?}");
    let err = p.stderr();
    assert!(err.contains(&format!("crashing at {point}")), "{err}");

    // Restart without the crash: the data is what was written.
    let mut s = Server::start_in(dir.path(), &[]);
    assert_same(&full_dump(s.port), &expected, &format!("after a crash at {point}"));
    // The log goes on: a write, a compaction that completes, a restart.
    let mut c = Conn::open(s.port);
    c.ok(&["SET", "after-crash", point]);
    let r = rewrites(s.port);
    c.expect(&["BGREWRITEAOF"], REWRITE_STARTED);
    wait_rewrites(s.port, r + 1);
    c.ok(&["SET", "after-compaction", point]);
    let expected = full_dump(s.port);
    // a and b, 2000 keys each in databases 0 and 3, two deleted, one in the namespace, two
    // written after the crash.
    assert_eq!(expected.keys.len(), 8001);
    s.stop();
    let s = Server::start_in(dir.path(), &[]);
    assert_same(
        &full_dump(s.port),
        &expected,
        &format!("compacted after a crash at {point}"),
    );
}

#[test]
fn crash_after_rotate_recovers() {
    crash_during_compaction("after-rotate");
}

#[test]
fn crash_during_dump_recovers() {
    crash_during_compaction("during-dump");
}

#[test]
fn crash_after_base_fsync_recovers() {
    crash_during_compaction("after-base-fsync");
}

#[test]
fn crash_after_base_rename_recovers() {
    crash_during_compaction("after-base-rename");
}

#[test]
fn crash_after_manifest_recovers() {
    crash_during_compaction("after-manifest");
}

/// After a crash during a compaction and the next compaction that completes, appendonlydir
/// holds only the manifest and its files (what the crash left is not kept forever).
#[test]
fn files_left_by_a_crashed_compaction_are_removed_by_the_next_one() {
    let mut leftovers = Vec::new();
    for point in CRASH_POINTS {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Server::start_in(dir.path(), &[]);
        Conn::open(s.port).ok(&["SET", "k", "v"]);
        s.stop();
        let mut p = launch(dir.path(), &[], &[("EDGEKV_CRASH_AT", point)], None);
        p.wait_loaded();
        let _ = Conn::open(p.port()).try_call(&[b"BGREWRITEAOF"]);
        let st = p.wait_exit(Duration::from_secs(30));
        assert_eq!(st.signal(), Some(libc::SIGABRT));
        let s = Server::start_in(dir.path(), &[]);
        let r = rewrites(s.port);
        Conn::open(s.port).expect(&["BGREWRITEAOF"], REWRITE_STARTED);
        wait_rewrites(s.port, r + 1);
        let extra: Vec<String> = aof_files(dir.path())
            .difference(&manifest_files(dir.path()))
            .cloned()
            .collect();
        if !extra.is_empty() {
            leftovers.push(format!("{point}: {extra:?}"));
        }
    }
    assert!(leftovers.is_empty(), "files no manifest names, kept: {leftovers:?}");
}

// ---------------------------------------------------------------------------------------
// 6. A full disk (RLIMIT_FSIZE)
// ---------------------------------------------------------------------------------------

/// SETs 1000-byte values until one is refused; returns the acknowledged keys and the first
/// refusal. Every refusal is exactly MISCONF.
fn fill_until_refused(c: &mut Conn) -> (Vec<(String, Vec<u8>)>, String) {
    let mut acked = Vec::new();
    for i in 0..5000 {
        let k = format!("fill:{i}");
        let v = noise(1000, i + 1);
        let r = c.call(&[b"SET", k.as_bytes(), &v]);
        if r == OK.as_bytes() {
            acked.push((k, v));
            continue;
        }
        let r = String::from_utf8_lossy(&r).into_owned();
        assert!(r.starts_with(MISCONF) && r.ends_with("\r\n"), "a refused write: {r:?}");
        assert_eq!(r.matches("\r\n").count(), 1, "{r:?}");
        return (acked, r);
    }
    panic!("5000 writes of 1000 bytes and none was refused");
}

#[track_caller]
fn check_fill(c: &mut Conn, acked: &[(String, Vec<u8>)]) {
    let cmds: Vec<Vec<Vec<u8>>> = acked.iter().map(|(k, _)| args(&[b"GET", k.as_bytes()])).collect();
    for ((k, v), r) in acked.iter().zip(c.pipeline(&cmds)) {
        assert!(r == bulk_bytes(v), "{k}: got {}", short(&r));
    }
}

fn set_fsize(pid: u32, limit: u64) {
    let l = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a plain syscall on a child of ours with a valid rlimit.
    let r = unsafe { libc::prlimit(pid as libc::pid_t, libc::RLIMIT_FSIZE, &l, std::ptr::null_mut()) };
    assert_eq!(r, 0, "prlimit: {}", io::Error::last_os_error());
}

#[test]
fn full_disk_refuses_writes_with_misconf_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = launch(dir.path(), &[], &[], Some(256 * 1024));
    p.wait_loaded();
    let mut c = Conn::open(p.port());
    create_namespace(&mut c, "before-failing", 16);
    let (acked, refusal) = fill_until_refused(&mut c);
    assert!(acked.len() > 100, "{} writes before the limit", acked.len());
    // Later writes are refused the same way; reads go on.
    for cmd in [
        vec!["SET", "more", "x"],
        vec!["INCR", "n"],
        vec!["DEL", "fill:0"],
        vec!["KV.PUT", "k", "v"],
    ] {
        let r = text_of(&c.cmd(&cmd));
        assert!(r.starts_with(MISCONF) && r.ends_with("\r\n"), "{cmd:?} -> {r:?}");
    }
    c.expect(&["GET", "more"], "$-1\r\n");
    c.expect(&["PING"], "+PONG\r\n");
    check_fill(&mut c, &acked);
    let inf = info(p.port());
    assert_eq!(info_field(&inf, "aof_last_write_status"), "err", "{refusal}");

    // Room again: the server's retry (a rewrite every second) ends the error state.
    set_fsize(p.pid(), libc::RLIM_INFINITY);
    let mut last = String::new();
    wait_until(30, "writes accepted again", || {
        last = text_of(&c.cmd(&["SET", "resumed", "yes"]));
        if last == OK {
            return true;
        }
        assert!(last.starts_with(MISCONF), "{last:?}");
        false
    });
    let inf = info(p.port());
    assert_eq!(info_field(&inf, "aof_last_write_status"), "ok");
    c.ok(&["SET", "after", "resume"]);
    let list_after = c.cmd(&["KV.NAMESPACE", "LIST"]);
    check_fill(&mut c, &acked);
    p.kill();

    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    check_fill(&mut c, &acked);
    c.expect(
        &["MGET", "resumed", "after"],
        &format!("*2\r\n{}{}", bulk("yes"), bulk("resume")),
    );
    c.expect(&["KV.NAMESPACE", "LIST"], &short(&list_after));
}

#[test]
fn kill_9_while_the_log_is_failing_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = launch(dir.path(), &[], &[], Some(128 * 1024));
    p.wait_loaded();
    let mut c = Conn::open(p.port());
    let (acked, _) = fill_until_refused(&mut c);
    // Let the retry run (and fail) a few times before the crash.
    wait_until(30, "a failed retry", || {
        info_field(&info(p.port()), "aof_last_bgrewrite_status") == "err"
    });
    p.kill();
    let s = Server::start_in(dir.path(), &[]);
    check_fill(&mut Conn::open(s.port), &acked);
}

/// KV.NAMESPACE CREATE, RENAME and DELETE are writes: while the log fails they are refused
/// like the others, and a refused command changes nothing.
#[test]
fn namespace_commands_are_refused_without_effect_while_the_log_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = launch(dir.path(), &[], &[], Some(64 * 1024));
    p.wait_loaded();
    let mut c = Conn::open(p.port());
    let ns = create_namespace(&mut c, "before-failing", 16);
    fill_until_refused(&mut c);
    let list = c.cmd(&["KV.NAMESPACE", "LIST"]);
    for cmd in [
        vec!["KV.NAMESPACE", "CREATE", "while-failing"],
        vec!["KV.NAMESPACE", "RENAME", &ns, "renamed-while-failing"],
        vec!["KV.NAMESPACE", "DELETE", &ns],
    ] {
        let r = text_of(&c.cmd(&cmd));
        assert!(r.starts_with(MISCONF) && r.ends_with("\r\n"), "{cmd:?} -> {r:?}");
    }
    let now = c.cmd(&["KV.NAMESPACE", "LIST"]);
    assert_eq!(short(&now), short(&list), "refused namespace commands change nothing");
}

fn text_of(r: &[u8]) -> String {
    String::from_utf8_lossy(r).into_owned()
}

// ---------------------------------------------------------------------------------------
// 7. -LOADING while a large log is replayed
// ---------------------------------------------------------------------------------------

#[test]
fn loading_a_large_log_answers_loading_then_has_all_the_data() {
    const KEYS: usize = 300_000;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    let cmds: Vec<Vec<Vec<u8>>> = (0..KEYS / 1000)
        .map(|b| {
            let mut cmd = vec![b"MSET".to_vec()];
            for i in b * 1000..(b + 1) * 1000 {
                cmd.push(format!("k{i}").into_bytes());
                cmd.push(format!("value-{i}").into_bytes());
            }
            cmd
        })
        .collect();
    for r in c.pipeline(&cmds) {
        assert_eq!(short(&r), OK);
    }
    s.stop();

    let mut p = launch(dir.path(), &[], &[], None);
    let mut c = Conn::open(p.port());
    // Right after the ready line: -LOADING, or the data if the replay was quicker.
    let first = text_of(&c.cmd(&["GET", "k0"]));
    assert!(first == LOADING || first == bulk("value-0"), "{first:?}");
    // A write refused while loading is not applied; one accepted is not undone by the replay.
    let w = text_of(&c.cmd(&["SET", "k1", "changed"]));
    assert!(w == LOADING || w == OK, "{w:?}");
    wait_until(120, "loading:0", || {
        let r = c.cmd(&["INFO", "persistence"]);
        if text_of(&r) == LOADING {
            return false;
        }
        info_field(&payload(&r), "loading") == "0"
    });
    c.expect(&["DBSIZE"], &format!(":{KEYS}\r\n"));
    c.expect(&["GET", "k1"], &bulk(if w == OK { "changed" } else { "value-1" }));
    let mgets: Vec<Vec<Vec<u8>>> = (0..KEYS / 1000)
        .map(|b| {
            let mut cmd = vec![b"MGET".to_vec()];
            cmd.extend((b * 1000..(b + 1) * 1000).map(|i| format!("k{i}").into_bytes()));
            cmd
        })
        .collect();
    for (b, r) in c.pipeline(&mgets).into_iter().enumerate() {
        let v = parse(&r);
        for (j, item) in v.arr().iter().enumerate() {
            let i = b * 1000 + j;
            let want = if i == 1 && w == OK {
                "changed".to_string()
            } else {
                format!("value-{i}")
            };
            assert_eq!(item.bytes(), want.as_bytes(), "k{i}");
        }
    }
    p.kill();
}

// ---------------------------------------------------------------------------------------
// 8. The persistence commands
// ---------------------------------------------------------------------------------------

#[test]
fn save_bgsave_bgrewriteaof_and_lastsave() {
    let s = Server::start();
    let mut c = Conn::open(s.port);
    c.ok(&["SET", "a", "1"]);
    let r = rewrites(s.port);
    c.expect(&["BGREWRITEAOF"], REWRITE_STARTED);
    wait_rewrites(s.port, r + 1);
    c.expect(&["BGSAVE"], "+Background saving started\r\n");
    wait_rewrites(s.port, r + 2);
    c.expect(&["BGSAVE", "SCHEDULE"], "+Background saving started\r\n");
    wait_rewrites(s.port, r + 3);
    c.expect(&["BGSAVE", "NOW"], "-ERR syntax error\r\n");
    let t0 = server_ms(&mut c) / 1000;
    c.ok(&["SAVE"]);
    let inf = info(s.port);
    assert_eq!(info_field(&inf, "aof_rewrites"), (r + 4).to_string());
    assert_eq!(info_field(&inf, "aof_rewrite_in_progress"), "0");
    assert_eq!(info_field(&inf, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&inf, "rdb_changes_since_last_save"), "0");
    let last = c.int(&["LASTSAVE"]);
    let t1 = server_ms(&mut c) / 1000;
    assert!(t0 <= last && last <= t1, "LASTSAVE {last} within [{t0}, {t1}]");
    assert_eq!(info_field(&inf, "rdb_last_save_time"), last.to_string());
    c.ok(&["SET", "b", "2"]);
    c.ok(&["SET", "c", "3"]);
    c.expect(&["INCR", "a"], ":2\r\n");
    assert_eq!(info_field(&info(s.port), "rdb_changes_since_last_save"), "3");
    c.expect(&["SHUTDOWN", "ABORT"], "-ERR No shutdown in progress.\r\n");
    c.expect(&["SHUTDOWN", "SAVE", "NOSAVE"], "-ERR syntax error\r\n");
    // With the log off, none of them has a log to write.
    c.ok(&["CONFIG", "SET", "appendonly", "no"]);
    c.expect(&["BGREWRITEAOF"], LOG_OFF);
    c.expect(&["BGSAVE"], LOG_OFF);
    c.expect(&["SAVE"], LOG_OFF);
}

/// Redis counts the compactions run since start (0 after a start; BGREWRITEAOF makes it 1);
/// creating the first log at start is not one of them.
#[test]
fn aof_rewrites_counts_the_compactions_since_start() {
    let s = Server::start();
    let inf = info(s.port);
    assert_eq!(info_field(&inf, "aof_rewrites"), "0", "right after start");
    assert_eq!(info_field(&inf, "aof_last_rewrite_time_sec"), "-1", "right after start");
    Conn::open(s.port).expect(&["BGREWRITEAOF"], REWRITE_STARTED);
    let inf = wait_rewrites(s.port, 1);
    assert_eq!(info_field(&inf, "aof_rewrites"), "1", "after one BGREWRITEAOF");
}

fn shutdown_keeps_the_data(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    for i in 0..200 {
        c.ok(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    c.expect(&["DEL", "k0"], ":1\r\n");
    c.expect(&["EXPIRE", "k1", "100000"], ":1\r\n");
    let before = full_dump(s.port);
    let base = manifest(dir.path()).0;
    c.s.write_all(&resp(&[b"SHUTDOWN", mode.as_bytes()])).unwrap();
    assert!(
        c.try_read().is_err(),
        "SHUTDOWN {mode}: the connection closes without a reply"
    );
    let st = s.wait_exit(Duration::from_secs(20)).expect("the server exits");
    assert!(st.success(), "SHUTDOWN {mode}: {st:?}");
    if mode == "SAVE" {
        assert_ne!(manifest(dir.path()).0, base, "SHUTDOWN SAVE compacts the log");
    }
    assert_eq!(aof_files(dir.path()), manifest_files(dir.path()));
    let s = Server::start_in(dir.path(), &[]);
    assert_same(&full_dump(s.port), &before, &format!("after SHUTDOWN {mode}"));
}

#[test]
fn shutdown_save_keeps_the_data() {
    shutdown_keeps_the_data("SAVE");
}

#[test]
fn shutdown_nosave_keeps_the_data() {
    shutdown_keeps_the_data("NOSAVE");
}

#[test]
fn appendonly_off_then_on_at_run_time_logs_what_was_written_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.ok(&["SET", "before", "1"]);
    c.ok(&["SET", "deleted-while-off", "1"]);
    c.ok(&["CONFIG", "SET", "appendonly", "no"]);
    c.expect(
        &["CONFIG", "GET", "appendonly"],
        "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    );
    assert_eq!(info_field(&info(s.port), "aof_enabled"), "0");
    let files_off = aof_files(dir.path());
    c.ok(&["SET", "while-off", "2"]);
    c.ok(&["KV.PUT", "meta-while-off", "m", "METADATA", r#"{"off":true}"#]);
    c.expect(&["DEL", "deleted-while-off"], ":1\r\n");
    c.ok(&["CONFIG", "SET", "appendonly", "yes"]);
    c.expect(
        &["CONFIG", "GET", "appendonly"],
        "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n",
    );
    assert_eq!(info_field(&info(s.port), "aof_enabled"), "1");
    assert_ne!(aof_files(dir.path()), files_off, "a new log");
    c.ok(&["SET", "after", "3"]);
    let before = full_dump(s.port);
    assert_eq!(before.keys.len(), 4);
    s.stop();
    let s = Server::start_in(dir.path(), &[]);
    assert_same(&full_dump(s.port), &before, "after appendonly no, yes and kill -9");
    let mut c = Conn::open(s.port);
    c.expect(
        &["KV.GETWITHMETADATA", "meta-while-off"],
        &with_meta("m", Some(r#"{"off":true}"#)),
    );
    c.expect(&["EXISTS", "deleted-while-off"], ":0\r\n");
}

#[test]
fn appendfsync_can_be_changed_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.expect(
        &["CONFIG", "GET", "appendfsync"],
        "*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n",
    );
    for (i, mode) in ["always", "no", "everysec", "always"].iter().enumerate() {
        c.ok(&["CONFIG", "SET", "appendfsync", mode]);
        c.expect(
            &["CONFIG", "GET", "appendfsync"],
            &format!("*2\r\n$11\r\nappendfsync\r\n{}", bulk(mode)),
        );
        for j in 0..20 {
            c.ok(&["SET", &format!("{mode}:{i}:{j}"), mode]);
        }
        c.expect(&["INCR", "n"], &format!(":{}\r\n", i + 1));
    }
    c.expect(
        &["CONFIG", "SET", "appendfsync", "sometimes"],
        "-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no\r\n",
    );
    let before = full_dump(s.port);
    assert_eq!(before.keys.len(), 81);
    s.stop();
    let s = Server::start_in(dir.path(), &[]);
    assert_same(&full_dump(s.port), &before, "writes under each appendfsync");
}

/// A deadline that passes while the server is down, after a PERSIST or a longer EXPIRE that
/// cancelled it: replay must not drop the key at the first record's deadline.
#[test]
fn a_deadline_cancelled_before_it_passed_survives_a_restart_after_it_would_have() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.ok(&["SET", "k", "v"]);
    c.expect(&["PEXPIRE", "k", "1000"], ":1\r\n");
    c.expect(&["PERSIST", "k"], ":1\r\n");
    c.ok(&["SET", "e", "v"]);
    c.expect(&["PEXPIRE", "e", "1000"], ":1\r\n");
    c.expect(&["EXPIRE", "e", "1000"], ":1\r\n");
    c.ok(&["SET", "a", "v"]);
    c.expect(&["PEXPIRE", "a", "1000"], ":1\r\n");
    c.expect(&["PERSIST", "a"], ":1\r\n");
    c.expect(&["APPEND", "a", "w"], ":2\r\n");
    c.ok(&["SET", "gone", "v", "PX", "1000"]);
    std::thread::sleep(Duration::from_millis(1300));
    s.stop();
    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.expect(&["GET", "k"], "$1\r\nv\r\n");
    c.expect(&["TTL", "k"], ":-1\r\n");
    c.expect(&["GET", "a"], "$2\r\nvw\r\n");
    c.expect(&["GET", "e"], "$1\r\nv\r\n");
    c.expect(&["GET", "gone"], "$-1\r\n");
    c.expect(&["DBSIZE"], ":3\r\n");
}

/// A crash in the middle of a large record (an 8 MB value cut halfway) is a torn tail: the
/// server starts with everything before it.
#[test]
fn a_large_torn_record_is_a_tail_not_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.ok(&["SET", "small", "1"]);
    let mut big = vec![0u8; 8 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    assert_eq!(c.call(&[b"SET", b"big", &big]), b"+OK\r\n");
    s.stop();
    let incr = last_incr(dir.path());
    let len = std::fs::metadata(&incr).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    f.set_len(len - (4 << 20)).unwrap();
    drop(f);
    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.expect(&["GET", "small"], "$1\r\n1\r\n");
    c.expect(&["EXISTS", "big"], ":0\r\n");
}

/// A CONFIG SET whose log cannot be switched on changes nothing, as in Redis 7.0.15
/// (`CONFIG SET maxclients 5 requirepass secret slowlog-max-len 1 appendonly yes` there, with
/// its data folder gone, answers the error and leaves every value, the password and the slow
/// log as they were): the values before it are put back and their effects undone.
#[test]
fn config_set_changes_nothing_when_the_log_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--appendonly", "no"]);
    let mut c = Conn::open(s.port);
    c.ok(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.ok(&["SET", "a", "1"]);
    c.ok(&["SET", "b", "2"]);
    c.expect(&["SLOWLOG", "LEN"], ":3\r\n");
    // The log's folder cannot be made: a file has its name.
    let _ = std::fs::remove_dir_all(aof_dir(dir.path()));
    std::fs::write(aof_dir(dir.path()), b"not a folder").unwrap();
    let all = [
        "CONFIG",
        "SET",
        "maxclients",
        "5",
        "requirepass",
        "secret",
        "slowlog-max-len",
        "1",
        "appendonly",
        "yes",
    ];
    c.expect(
        &all,
        "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.\r\n",
    );
    c.expect(&["SLOWLOG", "LEN"], ":5\r\n");
    c.expect(
        &["CONFIG", "GET", "maxclients"],
        "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
    c.expect(
        &["CONFIG", "GET", "requirepass"],
        "*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n",
    );
    c.expect(
        &["CONFIG", "GET", "slowlog-max-len"],
        "*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n",
    );
    c.expect(
        &["CONFIG", "GET", "appendonly"],
        "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    );
    // The default user still needs no password.
    Conn::open(s.port).expect(&["PING"], "+PONG\r\n");
    assert_eq!(info_field(&info(s.port), "aof_enabled"), "0");
    // Once the folder can be made, the same command changes them all.
    std::fs::remove_file(aof_dir(dir.path())).unwrap();
    c.ok(&all);
    c.expect(&["SLOWLOG", "LEN"], ":1\r\n");
    c.expect(
        &["CONFIG", "GET", "maxclients"],
        "*2\r\n$10\r\nmaxclients\r\n$1\r\n5\r\n",
    );
    Conn::open(s.port).expect(&["PING"], "-NOAUTH Authentication required.\r\n");
    c.expect(&["AUTH", "secret"], "+OK\r\n");
    let persistence = payload(&c.cmd(&["INFO", "persistence"]));
    assert_eq!(info_field(&persistence, "aof_enabled"), "1");
}

/// CONFIG SET appendonly inside MULTI: EXEC holds the store gate, the new log is written in
/// the background, and the server goes on answering.
#[test]
fn appendonly_switched_inside_exec_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let mut c = Conn::open(s.port);
    c.ok(&["SET", "k", "v"]);
    c.ok(&["MULTI"]);
    c.expect(&["CONFIG", "SET", "appendonly", "no"], "+QUEUED\r\n");
    c.expect(&["CONFIG", "SET", "appendonly", "yes"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*2\r\n+OK\r\n+OK\r\n");
    let mut d = Conn::open(s.port);
    d.expect(&["PING"], "+PONG\r\n");
    d.expect(&["GET", "k"], "$1\r\nv\r\n");
}

/// Switching the log off while writers wait for fsyncs under `always` releases them.
#[test]
fn appendonly_off_under_always_releases_waiting_writers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--appendfsync", "always"]);
    let port = s.port;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = Conn::open(port);
                for i in 0..300 {
                    c.ok(&["SET", &format!("w{w}:{i}"), "v"]);
                }
            })
        })
        .collect();
    let mut c = Conn::open(port);
    c.ok(&["CONFIG", "SET", "appendonly", "no"]);
    for w in writers {
        w.join().unwrap();
    }
    c.expect(&["DBSIZE"], ":1200\r\n");
}
