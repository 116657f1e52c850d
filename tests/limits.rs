//! Client limits (issue 5): client-output-buffer-limit (Redis's syntax and texts; the hard
//! limit closes at once, the soft limit after its seconds), and slow senders (a client that
//! sends a byte at a time holds its own buffer and no worker). maxclients, timeout and the
//! query buffer limit are tested in tests/server.rs and tests/protocol.rs.

mod common;

use common::{resp, text, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CONFIG_ERR: &str = "-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - ";

fn cobl(value: &str) -> String {
    format!(
        "*2\r\n$26\r\nclient-output-buffer-limit\r\n${}\r\n{}\r\n",
        value.len(),
        value
    )
}

#[test]
fn output_buffer_limit_setting_as_redis() {
    let s = Server::start();
    let mut c = s.raw();
    let default = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    c.expect(&["CONFIG", "GET", "client-output-buffer-limit"], &cobl(default));
    // A SET changes the classes it names; units as Redis's memtoull (k = 1000, kb = 1024).
    c.expect(
        &["CONFIG", "SET", "client-output-buffer-limit", "normal 1k 2KB 3"],
        "+OK\r\n",
    );
    c.expect(
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &cobl("normal 1000 2048 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    );
    c.expect(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 1mb 2mb 3 pubsub 0 0 0",
        ],
        "+OK\r\n",
    );
    c.expect(
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &cobl("normal 1000 2048 3 slave 1048576 2097152 3 pubsub 0 0 0"),
    );
    // An empty value changes nothing.
    c.expect(&["CONFIG", "SET", "client-output-buffer-limit", ""], "+OK\r\n");
    c.expect(
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &cobl("normal 1000 2048 3 slave 1048576 2097152 3 pubsub 0 0 0"),
    );
    for (value, reason) in [
        ("normal 1mb", "Wrong number of arguments in buffer limit configuration."),
        (
            "normal 1 2 3 4",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        (
            "foo 1 1 1",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "normal x 1 1",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            "normal 1mb 2mb -1",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
    ] {
        c.expect(
            &["CONFIG", "SET", "client-output-buffer-limit", value],
            &format!("{CONFIG_ERR}{reason}\r\n"),
        );
    }
    c.expect(
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &cobl("normal 1000 2048 3 slave 1048576 2097152 3 pubsub 0 0 0"),
    );
}

#[test]
fn hard_limit_closes_the_client_and_drops_its_replies() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.expect(
        &["CONFIG", "SET", "client-output-buffer-limit", "normal 100kb 0 0"],
        "+OK\r\n",
    );
    let big = "v".repeat(200 * 1024);
    admin.expect(&["SET", "big", &big], "+OK\r\n");
    admin.expect(&["SET", "small", "s"], "+OK\r\n");

    let mut c = s.raw();
    c.expect(&["GET", "small"], "$1\r\ns\r\n");
    c.send(&resp(&[b"GET", b"big"]));
    // Closed with nothing sent: the reply would pass the hard limit.
    let mut got = Vec::new();
    c.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.stream
        .read_to_end(&mut got)
        .expect("the connection is closed (the read did not time out)");
    assert!(got.is_empty(), "{} bytes arrived", got.len());
    // The others go on; without the limit the same reply is served.
    admin.expect(&["GET", "small"], "$1\r\ns\r\n");
    admin.expect(
        &["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0"],
        "+OK\r\n",
    );
    let mut c = s.raw();
    let reply = c.cmd(&["GET", "big"]);
    assert_eq!(reply.len(), 200 * 1024 + "$204800\r\n\r\n".len());
}

/// A client that never reads while its replies pile up is closed once more than the soft
/// limit has stayed unsent for its seconds.
#[test]
fn soft_limit_closes_a_client_that_does_not_read() {
    soft_limit_case("normal 0 256kb 1");
}

/// Soft seconds 0: closed as soon as a write would wait with more than the soft limit unsent.
#[test]
fn soft_limit_with_zero_seconds() {
    soft_limit_case("normal 0 256kb 0");
}

fn soft_limit_case(setting: &str) {
    let s = Server::start();
    let mut admin = s.raw();
    admin.expect(&["CONFIG", "SET", "client-output-buffer-limit", setting], "+OK\r\n");
    admin.expect(&["SET", "v", &"x".repeat(100 * 1024)], "+OK\r\n");
    admin.expect(&["CLIENT", "SETNAME", "admin"], "+OK\r\n");

    let mut lazy = s.raw();
    lazy.expect(&["CLIENT", "SETNAME", "lazy"], "+OK\r\n");
    // 64 MB of replies: far more than the socket buffers take.
    let mut batch = Vec::new();
    for _ in 0..640 {
        batch.extend_from_slice(&resp(&[b"GET", b"v"]));
    }
    lazy.send(&batch);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = text(admin.cmd(&["CLIENT", "LIST"]));
        if !list.contains("name=lazy ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the non-reading client is still connected: {list}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Its socket ends (after whatever the kernel buffered).
    lazy.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let mut total = 0usize;
    loop {
        match lazy.stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    // All 640 replies are 640 x ("$102400\r\n" + 102,400 + 2) bytes; far fewer arrive.
    let all = 640 * (9 + 102_400 + 2);
    assert!(total < all / 2, "{total} of {all} reply bytes arrived");
    admin.expect(&["PING"], "+PONG\r\n");
}

/// With no limit (Redis's default for normal clients), a client that does not read is not
/// closed, and the server reads nothing more from it while its replies wait: the memory it
/// holds is its unsent batch, not everything it sends.
#[test]
fn a_non_reading_client_without_limits_stays_and_is_throttled() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.expect(&["SET", "v", &"x".repeat(100 * 1024)], "+OK\r\n");
    let mut lazy = TcpStream::connect(s.addr()).unwrap();
    lazy.write_all(&resp(&[b"CLIENT", b"SETNAME", b"lazy"])).unwrap();
    // Keep sending GETs from another thread until the server stops reading (the write blocks).
    let mut writer = lazy.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let req = resp(&[b"GET", b"v"]);
        let mut sent = 0usize;
        writer.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        while writer.write_all(&req).is_ok() {
            sent += 1;
            if sent > 1_000_000 {
                break;
            }
        }
        sent
    });
    let sent = sender.join().unwrap();
    assert!(
        sent < 1_000_000,
        "the server kept reading from a client that does not read"
    );
    let list = text(admin.cmd(&["CLIENT", "LIST"]));
    let line = list
        .lines()
        .find(|l| l.contains("name=lazy "))
        .expect("still connected");
    // What it holds in its query buffer is bounded by one read (16 KiB), however much it sent.
    let qbuf: usize = line
        .split(' ')
        .find_map(|f| f.strip_prefix("qbuf="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(qbuf <= 16 * 1024, "{line}");
    admin.expect(&["PING"], "+PONG\r\n");
    drop(lazy);
}

/// Slow senders, a byte at a time, more of them than there are worker threads: each holds
/// only what it sent, nobody else waits for them, and each gets its reply once its request
/// is complete.
#[test]
fn slow_senders_hold_their_own_buffer_and_no_worker() {
    let s = Server::start();
    let mut admin = s.raw();
    let n = 16;
    let mut slow: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(s.addr()).unwrap()).collect();
    let reqs: Vec<Vec<u8>> = (0..n)
        .map(|i| resp(&[b"SET", format!("slow{i}").as_bytes(), &vec![b'v'; 300]]))
        .collect();
    let len = reqs[0].len();
    for pos in 0..len - 1 {
        for (c, r) in slow.iter_mut().zip(&reqs) {
            c.write_all(&r[pos..pos + 1]).unwrap();
        }
        if pos % 50 == 25 {
            // Mid-request for all of them: others are served at once, and each slow client
            // holds no more than what it sent.
            admin.expect(&["PING"], "+PONG\r\n");
            admin.expect(&["EXISTS", "slow0"], ":0\r\n");
            let list = text(admin.cmd(&["CLIENT", "LIST"]));
            let held: Vec<usize> = list
                .lines()
                .filter(|l| l.contains("cmd=NULL"))
                .map(|l| {
                    l.split(' ')
                        .find_map(|f| f.strip_prefix("qbuf="))
                        .unwrap()
                        .parse()
                        .unwrap()
                })
                .collect();
            assert_eq!(held.len(), n, "{list}");
            assert!(held.iter().all(|q| *q <= pos + 1), "{held:?} after {} bytes", pos + 1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for (c, r) in slow.iter_mut().zip(&reqs) {
        c.write_all(&r[len - 1..]).unwrap();
    }
    for c in slow.iter_mut() {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 5];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"+OK\r\n");
    }
    admin.expect(&["DBSIZE"], &format!(":{n}\r\n"));
}
