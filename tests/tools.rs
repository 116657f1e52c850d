//! The real Redis tools against edgekv: `redis-cli` (one-shot commands, raw and formatted
//! output, RESP3, commands piped through stdin, `--pipe` mass insertion) and
//! `redis-benchmark`. These tests need the tools installed (`apt-get install redis-tools`);
//! without them they fail, never pass silently.

mod common;
use common::acl_log::{without_clock, Info};
use common::{client_field, int_reply, Server};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Fails the test with instructions when a tool is missing.
fn require(tool: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`{tool} --version` failed ({}): is redis-tools installed correctly?",
            o.status
        ),
        Err(e) => panic!(
            "{tool} is not available ({e}). These tests drive edgekv with the real Redis tools: \
             install them with `apt-get install redis-tools` (CI installs it)."
        ),
    }
}

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs a tool with `stdin` as its input; fails the test if it takes more than a minute.
fn run(tool: &str, args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}; install it with `apt-get install redis-tools`"));
    let mut sin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = sin.write_all(&input);
    });
    let mut sout = child.stdout.take().unwrap();
    let mut serr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = sout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = serr.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{tool} {args:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    writer.join().unwrap();
    Out {
        code: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// `redis-cli -p PORT args...`, expecting success; returns stdout.
#[track_caller]
fn cli(s: &Server, args: &[&str]) -> String {
    cli_in(s, args, b"")
}

#[track_caller]
fn cli_in(s: &Server, args: &[&str], stdin: &[u8]) -> String {
    let port = s.port.to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    let o = run("redis-cli", &all, stdin);
    assert_eq!(o.code, 0, "redis-cli {args:?} failed: {}{}", o.text(), o.stderr);
    o.text()
}

#[test]
fn redis_cli_one_shot_commands() {
    require("redis-cli");
    let s = Server::start();
    // Output to a pipe is raw by default; --no-raw forces the formatted output.
    assert_eq!(cli(&s, &["SET", "k", "a b"]), "OK\n");
    assert_eq!(cli(&s, &["GET", "k"]), "a b\n");
    assert_eq!(cli(&s, &["--raw", "GET", "k"]), "a b\n");
    assert_eq!(cli(&s, &["--no-raw", "GET", "k"]), "\"a b\"\n");
    assert_eq!(cli(&s, &["GET", "nokey"]), "\n");
    assert_eq!(cli(&s, &["--no-raw", "GET", "nokey"]), "(nil)\n");
    assert_eq!(cli(&s, &["--no-raw", "INCR", "n"]), "(integer) 1\n");
    assert_eq!(cli(&s, &["INCR", "n"]), "2\n");
    assert_eq!(cli(&s, &["--no-raw", "MGET", "n", "nokey"]), "1) \"2\"\n2) (nil)\n");
    assert_eq!(cli(&s, &["MGET", "n", "nokey"]), "2\n\n");
    assert_eq!(cli(&s, &["--no-raw", "TYPE", "k"]), "string\n");
    assert_eq!(
        cli(&s, &["--no-raw", "CONFIG", "GET", "maxmemory"]),
        "1) \"maxmemory\"\n2) \"0\"\n"
    );
    assert_eq!(cli(&s, &["--no-raw", "INCRBYFLOAT", "f", "1.5"]), "\"1.5\"\n");
    // Binary data through -x (last argument from stdin), read back escaped and raw.
    assert_eq!(cli_in(&s, &["-x", "SET", "bin"], b"a\r\nb\x00c"), "OK\n");
    assert_eq!(cli(&s, &["--no-raw", "GET", "bin"]), "\"a\\r\\nb\\x00c\"\n");
    let port = s.port.to_string();
    let raw = run("redis-cli", &["-p", &port, "--raw", "GET", "bin"], b"");
    assert_eq!(raw.stdout, b"a\r\nb\x00c\n");
    assert_eq!(cli(&s, &["STRLEN", "bin"]), "6\n");
    // Errors: printed, and with -e the exit code says so.
    assert_eq!(
        cli(&s, &["foo", "a"]),
        "ERR unknown command 'foo', with args beginning with: 'a' \n\n"
    );
    let e = run("redis-cli", &["-p", &port, "-e", "foo"], b"");
    assert_eq!(e.code, 1);
    assert!(
        format!("{}{}", e.text(), e.stderr).contains("ERR unknown command 'foo', with args beginning with: "),
        "{e:?}",
        e = (e.text(), &e.stderr)
    );
    assert_eq!(
        cli(&s, &["--no-raw", "GET"]),
        "(error) ERR wrong number of arguments for 'get' command\n"
    );
}

#[test]
fn redis_cli_resp3() {
    require("redis-cli");
    let help = run("redis-cli", &["--help"], b"");
    let help = format!("{}{}", help.text(), help.stderr);
    if !help.contains("\n  -3 ") {
        // Older redis-cli (before 6.0) has no RESP3 mode; nothing to drive here.
        eprintln!("this redis-cli has no -3 option; RESP3 is covered by encoder_prop.rs");
        return;
    }
    let s = Server::start();
    assert_eq!(cli(&s, &["SET", "a", "2"]), "OK\n");
    // Connection ids are given in order: redis-cli's one connection gets the id between those
    // of two connections made before and after it.
    let id_before = int_reply(&mut s.raw(), &["CLIENT", "ID"]);
    let hello = cli(&s, &["-3", "--no-raw", "HELLO", "3"]);
    assert_eq!(int_reply(&mut s.raw(), &["CLIENT", "ID"]), id_before + 2);
    assert_eq!(
        hello,
        format!(
            "1# \"server\" => \"redis\"\n2# \"version\" => \"7.0.15\"\n3# \"proto\" => (integer) 3\n\
             4# \"id\" => (integer) {}\n5# \"mode\" => \"standalone\"\n6# \"role\" => \"master\"\n\
             7# \"modules\" => (empty array)\n",
            id_before + 1
        )
    );
    assert_eq!(cli(&s, &["-3", "--no-raw", "GET", "nokey"]), "(nil)\n");
    assert_eq!(
        cli(&s, &["-3", "--no-raw", "CONFIG", "GET", "maxmemory"]),
        "1# \"maxmemory\" => \"0\"\n"
    );
    assert_eq!(cli(&s, &["-3", "CONFIG", "GET", "maxmemory"]), "maxmemory 0\n");
    assert_eq!(cli(&s, &["-3", "--json", "MGET", "a", "nokey"]), "[\"2\",null]\n");
    let info = cli(&s, &["-3", "--no-raw", "INFO", "keyspace"]);
    assert!(
        info.starts_with("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0"),
        "{info:?}"
    );
    let id_before = int_reply(&mut s.raw(), &["CLIENT", "ID"]);
    let ci = cli(&s, &["-3", "CLIENT", "INFO"]);
    let line = ci.strip_suffix('\n').expect("one line");
    // redis-cli's port and descriptor are the kernel's and the server's: read, then checked.
    let addr = client_field(line, "addr");
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    let fd: i64 = client_field(line, "fd").parse().unwrap();
    assert!(fd > 2, "{line}");
    let want = Info {
        resp: 3,
        ..Info::fresh(id_before + 1, addr.to_string(), s.addr(), fd)
    }
    .running(&["CLIENT", "INFO"], "client|info", "default");
    assert_eq!(without_clock(line), want.line());
}

#[test]
fn redis_cli_reads_commands_from_stdin() {
    require("redis-cli");
    let s = Server::start();
    // redis-cli splits each line with the inline rules: quotes and escapes.
    let script = b"SET a 1\nINCR a\nGET a\nMGET a nokey\nfoo bar\nSET \"x y\" 'z w'\nGET \"x y\"\nECHO \"a\\x41\\n\"\n";
    assert_eq!(
        cli_in(&s, &[], script),
        "OK\n2\n2\n2\n\nERR unknown command 'foo', with args beginning with: 'bar' \n\nOK\nz w\naA\n\n"
    );
    assert_eq!(cli_in(&s, &["--no-raw"], b"GET a\nGET \"x y\"\n"), "\"2\"\n\"z w\"\n");
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    require("redis-cli");
    let s = Server::start();
    // 10,000 SETs: RESP requests, with every third one an inline command.
    let mut stream = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        if i % 3 == 0 {
            stream.extend(format!("SET {k} {v}\r\n").into_bytes());
        } else {
            stream.extend(common::resp(&[b"SET", k.as_bytes(), v.as_bytes()]));
        }
    }
    let port = s.port.to_string();
    let o = run("redis-cli", &["-p", &port, "--pipe"], &stream);
    let text = o.text();
    assert_eq!(o.code, 0, "redis-cli --pipe: {text}{}", o.stderr);
    assert!(
        text.contains("All data transferred. Waiting for the last reply...\n"),
        "{text}"
    );
    assert!(text.contains("Last reply received from server.\n"), "{text}");
    assert!(text.contains("errors: 0, replies: 10000\n"), "{text}");
    assert_eq!(cli(&s, &["DBSIZE"]), "10000\n");
    assert_eq!(cli(&s, &["GET", "key:9999"]), "value:9999\n");
    assert_eq!(cli(&s, &["GET", "key:0"]), "value:0\n");
    // An error in the stream is counted, and makes the exit code 1.
    let o = run("redis-cli", &["-p", &port, "--pipe"], b"SET a\r\nPING\r\n");
    assert!(o.text().contains("errors: 1, replies: 2\n"), "{}", o.text());
    assert_eq!(o.code, 1);
}

#[test]
fn redis_benchmark_default_tests() {
    require("redis-benchmark");
    let s = Server::start();
    let port = s.port.to_string();
    let o = run(
        "redis-benchmark",
        &["-p", &port, "-t", "ping,set,get,incr,mset", "-n", "1000", "-q"],
        b"",
    );
    let text = o.text();
    assert_eq!(o.code, 0, "redis-benchmark failed: {text}{}", o.stderr);
    // Progress lines end in '\r'; the results in '\n'.
    let lines: Vec<&str> = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for l in lines.iter().chain(o.stderr.lines().collect::<Vec<_>>().iter()) {
        let lower = l.to_ascii_lowercase();
        assert!(
            !lower.contains("error") && !l.contains("ERR") && !lower.contains("warning"),
            "redis-benchmark reported: {l}\n{text}{}",
            o.stderr
        );
    }
    let done: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains(" requests per second"))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"] {
        assert!(done.contains(&test), "no result for {test}: {done:?}\n{text}");
    }
    assert_eq!(done.len(), 6, "{done:?}");
    // The data the benchmark wrote is there.
    assert_eq!(cli(&s, &["EXISTS", "key:__rand_int__"]), "1\n");
}
