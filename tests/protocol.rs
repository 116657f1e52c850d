//! The wire protocol, byte for byte against Redis 7.0.15 (networking.c: processInlineBuffer,
//! processMultibulkBuffer, readQueryFromClient). Every expected reply below was checked
//! against a real redis-server 7.0.15 fed the same bytes.

mod common;
use common::{resp, Raw, Server};
use std::io::{Read, Write};
use std::time::Duration;

/// Reads everything until the server closes the connection; panics if it stays open.
fn read_until_closed(c: &mut Raw) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!(
                    "the server kept the connection open; got so far {:?}",
                    String::from_utf8_lossy(&out)
                )
            }
            // A reset after the reply (the server closed with input unread) is a close too.
            Err(_) => return out,
        }
    }
}

/// Sends `input` on a fresh connection and returns every byte the server sent before it
/// closed the connection.
#[track_caller]
fn closes_with(s: &Server, input: &[u8]) -> Vec<u8> {
    let mut c = s.raw();
    // The server may close while a long input is still being written: that is fine.
    let _ = c.stream.write_all(input);
    read_until_closed(&mut c)
}

/// Asserts that `input` gets exactly `reply`, then a close; and that the server still serves
/// other connections afterwards.
#[track_caller]
fn assert_protocol_error(s: &Server, input: &[u8], reply: &str) {
    let got = closes_with(s, input);
    assert_eq!(
        String::from_utf8_lossy(&got),
        reply,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    s.raw().expect(&["PING"], "+PONG\r\n");
}

#[track_caller]
fn assert_replies(c: &mut Raw, input: &[u8], replies: &[&str]) {
    c.send(input);
    for r in replies {
        let got = c.read_reply();
        assert_eq!(
            String::from_utf8_lossy(&got),
            *r,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// A marker request whose reply proves everything before it was consumed (or ignored).
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

#[test]
fn inline_commands_quoting_and_escapes() {
    let s = Server::start();
    let mut c = s.raw();
    assert_replies(&mut c, b"PING\r\n", &["+PONG\r\n"]);
    assert_replies(&mut c, b"  PING   \r\n", &["+PONG\r\n"]);
    assert_replies(&mut c, b"ping\nping\n", &["+PONG\r\n", "+PONG\r\n"]);
    assert_replies(&mut c, b"\tping\t\r\n", &["+PONG\r\n"]);
    assert_replies(
        &mut c,
        b"set 'a b' \"c\\x41\\n\"\r\nGET \"a b\"\r\n",
        &["+OK\r\n", "$3\r\ncA\n\r\n"],
    );
    assert_replies(&mut c, b"ECHO 'it\\'s'\r\n", &["$4\r\nit's\r\n"]);
    // Double quotes: \n \r \t \b \a \xHH, and \<any> is the character itself.
    c.send(b"ECHO \"c\\x41\\n\\t\\b\\a\\z\\\\\\\"\"\r\n");
    assert_eq!(c.read_reply(), b"$9\r\ncA\n\t\x08\x07z\\\"\r\n");
    // \x needs two hex digits, otherwise it is an escaped 'x'.
    assert_replies(&mut c, b"ECHO \"\\xZZ\"\r\n", &["$3\r\nxZZ\r\n"]);
    // Binary through \x escapes, including NUL and CR/LF.
    assert_replies(&mut c, b"SET bin \"\\xff\\x00\\r\\n\"\r\n", &["+OK\r\n"]);
    c.send(b"GET bin\r\n");
    assert_eq!(c.read_reply(), b"$4\r\n\xff\x00\r\n\r\n");
    // Single quotes keep backslashes, except \'.
    assert_replies(&mut c, b"ECHO 'a\\nb'\r\n", &["$4\r\na\\nb\r\n"]);
    // A quote inside a token starts a quoted part of the same token.
    assert_replies(&mut c, b"ECHO a\"b\"\r\n", &["$2\r\nab\r\n"]);
    // An empty quoted argument is an argument.
    assert_replies(&mut c, b"ECHO \"\"\r\n", &["$0\r\n\r\n"]);
    // Tab separates, and so does a lone CR inside the line.
    assert_replies(
        &mut c,
        b"ECHO \"a\"\tb\r\n",
        &["-ERR wrong number of arguments for 'echo' command\r\n"],
    );
    assert_replies(
        &mut c,
        b"ECHO a\rb\r\n",
        &["-ERR wrong number of arguments for 'echo' command\r\n"],
    );
    // A vertical tab is skipped between arguments but does not end an unquoted one.
    assert_replies(
        &mut c,
        b"ECHO\x0ba\r\n",
        &["-ERR unknown command 'ECHO\x0ba', with args beginning with: \r\n"],
    );
    assert_replies(
        &mut c,
        b"ping x y z\r\n",
        &["-ERR wrong number of arguments for 'ping' command\r\n"],
    );
    // A line that starts with '$' is just an inline command.
    assert_replies(
        &mut c,
        b"$4\r\n",
        &["-ERR unknown command '$4', with args beginning with: \r\n"],
    );
    // Inline and multibulk requests mix freely in one pipeline.
    let mut mixed = b"SET m 1\r\n".to_vec();
    mixed.extend(resp(&[b"INCR", b"m"]));
    mixed.extend(b"INCR m\n");
    mixed.extend(resp(&[b"GET", b"m"]));
    assert_replies(&mut c, &mixed, &["+OK\r\n", ":2\r\n", ":3\r\n", "$1\r\n3\r\n"]);
}

#[test]
fn empty_requests_are_ignored() {
    let s = Server::start();
    let mut c = s.raw();
    for input in [
        &b"\r\n"[..],
        b"\n",
        b"    \r\n",
        b"\r\n\r\n\n",
        b"*-10\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*-1\r\n*0\r\n\r\n",
        b"''\r\n",
    ] {
        let mut bytes = input.to_vec();
        bytes.extend_from_slice(PING);
        let expect = if input == b"''\r\n" {
            // An empty quoted string is an argument, not an empty line.
            vec!["-ERR unknown command '', with args beginning with: \r\n", "+PONG\r\n"]
        } else {
            vec!["+PONG\r\n"]
        };
        assert_replies(&mut c, &bytes, &expect);
    }
    c.expect_silence(100);
    // An empty command name in a multibulk request is a command, unknown.
    assert_replies(
        &mut c,
        b"*1\r\n$0\r\n\r\n",
        &["-ERR unknown command '', with args beginning with: \r\n"],
    );
}

#[test]
fn invalid_multibulk_length() {
    let s = Server::start();
    let e = "-ERR Protocol error: invalid multibulk length\r\n";
    for input in [
        &b"*3000000000\r\n"[..],
        b"*2147483648\r\n",
        b"*abc\r\n",
        b"*\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"*-0\r\n",
        b"*1 \r\n",
        b"*18446744073709551616\r\n",
        b"*99999999999999999999999\r\n",
        // "\r" found, the count is "1\n$4": the \n is assumed, not checked.
        b"*1\n$4\r\nPING\r\n",
    ] {
        assert_protocol_error(&s, input, e);
    }
    // INT_MAX itself is a valid count: the server waits for the arguments, reserving nothing.
    let mut c = s.raw();
    c.send(b"*2147483647\r\n");
    c.expect_silence(100);
    c.send(b"$4\r\nPING\r\n");
    c.expect_silence(50);
}

#[test]
fn invalid_bulk_length() {
    let s = Server::start();
    let e = "-ERR Protocol error: invalid bulk length\r\n";
    for len in [
        &b"-10"[..],
        b"-1",
        b"2000000000",
        b"536870913",
        b"blabla",
        b"18446744073709551615",
        b"9223372036854775808",
        b"+4",
        b" 4",
        b"4 ",
        b"04",
        b"",
    ] {
        let mut input = b"*1\r\n$".to_vec();
        input.extend_from_slice(len);
        input.extend_from_slice(b"\r\n");
        assert_protocol_error(&s, &input, e);
        // The same as a later argument, after a valid one.
        let mut input = b"*2\r\n$4\r\nECHO\r\n$".to_vec();
        input.extend_from_slice(len);
        input.extend_from_slice(b"\r\n");
        assert_protocol_error(&s, &input, e);
    }
}

#[test]
fn expected_dollar() {
    let s = Server::start();
    assert_protocol_error(&s, b"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n");
    assert_protocol_error(
        &s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
        "-ERR Protocol error: expected '$', got 'f'\r\n",
    );
    assert_protocol_error(
        &s,
        b"*2\r\n$4\r\nPING\r\n:1\r\n",
        "-ERR Protocol error: expected '$', got ':'\r\n",
    );
    // CR or LF as the byte shows as a space.
    assert_protocol_error(&s, b"*1\r\n\r\n", "-ERR Protocol error: expected '$', got ' '\r\n");
    assert_protocol_error(&s, b"*1\r\n\n\r\n", "-ERR Protocol error: expected '$', got ' '\r\n");
    // Any other byte is shown raw, as C's %c does.
    let got = closes_with(&s, b"*1\r\n\xff\r\n");
    assert_eq!(got, b"-ERR Protocol error: expected '$', got '\xff'\r\n");
    // The check comes after the "\r\n" has arrived: "*1\r\nfoo\r" still waits.
    let mut c = s.raw();
    c.send(b"*1\r\nfoo\r");
    c.expect_silence(100);
    c.send(b"\n");
    assert_eq!(
        String::from_utf8_lossy(&read_until_closed(&mut c)),
        "-ERR Protocol error: expected '$', got 'f'\r\n"
    );
}

#[test]
fn nested_arrays_are_refused_without_recursion() {
    let s = Server::start();
    assert_protocol_error(
        &s,
        b"*1\r\n*1\r\n$4\r\nPING\r\n",
        "-ERR Protocol error: expected '$', got '*'\r\n",
    );
    // 100k nested array headers in one write: one error, no stack overflow.
    let deep = b"*1\r\n".repeat(100_000);
    assert_protocol_error(&s, &deep, "-ERR Protocol error: expected '$', got '*'\r\n");
    // The same, arriving in pieces.
    let mut c = s.raw();
    for piece in deep.chunks(4096).take(10) {
        if c.stream.write_all(piece).is_err() {
            break;
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&read_until_closed(&mut c)),
        "-ERR Protocol error: expected '$', got '*'\r\n"
    );
    s.raw().expect(&["PING"], "+PONG\r\n");
}

#[test]
fn unbalanced_quotes() {
    let s = Server::start();
    let e = "-ERR Protocol error: unbalanced quotes in request\r\n";
    for input in [
        &b"set \"\"\"test-key\"\"\" test-value\r\n"[..],
        b"ECHO \"a\"b\r\n",
        b"ECHO 'a'b\r\n",
        b"ECHO 'a\r\n",
        b"ECHO \"a\r\n",
        b"ECHO \"ab\\\"\r\n",
        b"\"\r\n",
    ] {
        assert_protocol_error(&s, input, e);
    }
}

#[test]
fn too_big_inline_request_and_the_nul_rule() {
    let s = Server::start();
    let e = "-ERR Protocol error: too big inline request\r\n";
    assert_protocol_error(&s, &vec![b'a'; 64 * 1024 + 1], e);
    // Exactly 64 KiB without a newline still waits; the newline then completes the command.
    let mut c = s.raw();
    c.send(&vec![b'a'; 64 * 1024]);
    c.expect_silence(100);
    c.send(b"\r\n");
    let reply = c.read_reply();
    let name = "a".repeat(128);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!("-ERR unknown command '{name}', with args beginning with: \r\n")
    );
    // A NUL byte hides the newline (strchr): no reply, the connection stays open...
    let mut c = s.raw();
    c.send(b"\x00ping\r\n");
    c.expect_silence(100);
    c.send(b"pi\x00ng\r\nPING\r\n");
    c.expect_silence(50);
    // ...until 64 KiB have piled up.
    let _ = c.stream.write_all(&vec![b'x'; 64 * 1024]);
    assert_eq!(String::from_utf8_lossy(&read_until_closed(&mut c)), e);
    s.raw().expect(&["PING"], "+PONG\r\n");
}

#[test]
fn too_big_count_strings() {
    let s = Server::start();
    let mut digits = b"*".to_vec();
    digits.extend(vec![b'1'; 70_000]);
    assert_protocol_error(&s, &digits, "-ERR Protocol error: too big mbulk count string\r\n");
    let mut digits = b"*1\r\n$".to_vec();
    digits.extend(vec![b'1'; 70_000]);
    assert_protocol_error(&s, &digits, "-ERR Protocol error: too big bulk count string\r\n");
    // The desync seeds of Redis's protocol.tcl: a NUL hides every "\r" that follows.
    for seed in [&b"\x00"[..], b"*\x00", b"*1\r\n$\x00"] {
        let mut c = s.raw();
        c.send(seed);
        let mut sent = 0;
        while sent < 256 * 1024 {
            if c.stream.write_all(&[b'A'; 1024]).is_err() {
                break;
            }
            sent += 1024;
        }
        let got = read_until_closed(&mut c);
        assert!(
            String::from_utf8_lossy(&got).starts_with("-ERR Protocol error: too big "),
            "seed {seed:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    s.raw().expect(&["PING"], "+PONG\r\n");
}

#[test]
fn proto_max_bulk_len_boundary() {
    let s = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.raw();
    c.expect(
        &["CONFIG", "GET", "proto-max-bulk-len"],
        "*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n",
    );
    let at_limit = vec![b'v'; 1024 * 1024];
    assert_eq!(c.cmd_bytes(&[b"SET", b"big", &at_limit]), b"+OK\r\n");
    c.expect(&["STRLEN", "big"], ":1048576\r\n");
    // One byte over: refused at the header, before any of the data is read.
    assert_protocol_error(
        &s,
        b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048577\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    // Even when the data follows in the same write.
    let mut over = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048577\r\n".to_vec();
    over.extend(vec![b'v'; 1024 * 1024 + 1]);
    over.extend(b"\r\n");
    assert_protocol_error(&s, &over, "-ERR Protocol error: invalid bulk length\r\n");
    c.expect(&["STRLEN", "big"], ":1048576\r\n");
    // The limit applies at once after CONFIG SET.
    c.expect(&["CONFIG", "SET", "proto-max-bulk-len", "2mb"], "+OK\r\n");
    let mut ok = b"*2\r\n$4\r\nECHO\r\n$1048577\r\n".to_vec();
    ok.extend(vec![b'w'; 1024 * 1024 + 1]);
    ok.extend(b"\r\n");
    c.send(&ok);
    let reply = c.read_reply();
    assert_eq!(reply.len(), 1024 * 1024 + 1 + b"$1048577\r\n\r\n".len());
    assert!(reply.starts_with(b"$1048577\r\nwww"));
}

#[test]
fn request_split_at_every_byte_boundary() {
    let s = Server::start();
    let mut request = resp(&[b"SET", b"split-key", b"va\r\nl\x00ue"]);
    request.extend_from_slice(b"GET split-key\r\n");
    request.extend(resp(&[b"GETRANGE", b"split-key", b"0", b"-1"]));
    let expect: &[&[u8]] = &[b"+OK\r\n", b"$8\r\nva\r\nl\x00ue\r\n", b"$8\r\nva\r\nl\x00ue\r\n"];
    // Every cut point, in two writes with a short gap so the server sees the first part alone.
    for cut in 1..request.len() {
        let mut c = s.raw();
        c.send(&request[..cut]);
        std::thread::sleep(Duration::from_millis(2));
        c.send(&request[cut..]);
        for e in expect {
            assert_eq!(c.read_reply(), *e, "cut at {cut}");
        }
    }
    // One byte per write.
    let mut c = s.raw();
    for b in &request {
        c.send(std::slice::from_ref(b));
    }
    for e in expect {
        assert_eq!(c.read_reply(), *e);
    }
    c.expect_silence(50);
}

#[test]
fn pipelines_straddling_read_buffers() {
    let s = Server::start();
    let mut c = s.raw();
    let n = 10_000;
    let mut sets = Vec::new();
    for i in 0..n {
        let k = format!("key:{i}");
        // Values of varied sizes, so requests straddle every buffer boundary.
        let v = format!("{i}-{}", "x".repeat(i % 97));
        sets.extend(resp(&[b"SET", k.as_bytes(), v.as_bytes()]));
    }
    c.send(&sets);
    for i in 0..n {
        assert_eq!(c.read_reply(), b"+OK\r\n", "reply {i}");
    }
    let mut gets = Vec::new();
    for i in 0..n {
        if i % 3 == 0 {
            gets.extend(format!("GET key:{i}\r\n").into_bytes());
        } else {
            gets.extend(resp(&[b"GET", format!("key:{i}").as_bytes()]));
        }
    }
    c.send(&gets);
    for i in 0..n {
        let v = format!("{i}-{}", "x".repeat(i % 97));
        assert_eq!(
            String::from_utf8_lossy(&c.read_reply()),
            format!("${}\r\n{}\r\n", v.len(), v),
            "reply {i}"
        );
    }
    c.expect_silence(50);
    // MSET with 20001 arguments (Redis's protocol.tcl).
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..10_000 {
        args.push(format!("m{i}").into_bytes());
        args.push(format!("{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    assert_eq!(c.cmd_bytes(&refs), b"+OK\r\n");
    c.expect(&["GET", "m9999"], "$4\r\n9999\r\n");
}

#[test]
fn two_mib_value_in_16k_pieces() {
    let s = Server::start();
    let mut c = s.raw();
    let value: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    let mut req = resp(&[b"SET", b"big", &value]);
    req.extend(resp(&[b"GET", b"big"]));
    for piece in req.chunks(16 * 1024) {
        c.send(piece);
    }
    assert_eq!(c.read_reply(), b"+OK\r\n");
    let got = c.read_reply();
    let mut expect = format!("${}\r\n", value.len()).into_bytes();
    expect.extend_from_slice(&value);
    expect.extend_from_slice(b"\r\n");
    assert!(got == expect, "GET big returned {} bytes, not the value", got.len());
    c.expect(&["STRLEN", "big"], ":2097152\r\n");
    assert_eq!(c.cmd(&["GETRANGE", "big", "-3", "-1"]), b"$3\r\n\xeb\xf2\xf9\r\n");
}

#[test]
fn protocol_error_replies_then_closes_and_the_server_stays_up() {
    let s = Server::start();
    let mut other = s.raw();
    other.expect(&["SET", "k", "v"], "+OK\r\n");
    // Replies to what came before are delivered, then the error; nothing after it runs.
    let got = closes_with(&s, b"PING\r\nSET a b\r\n*1\r\nfoo\r\nSET a c\r\nPING\r\n");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+PONG\r\n+OK\r\n-ERR Protocol error: expected '$', got 'f'\r\n"
    );
    other.expect(&["GET", "a"], "$1\r\nb\r\n");
    other.expect(&["GET", "k"], "$1\r\nv\r\n");
    // In RESP3 the error is the same.
    let mut c = s.raw();
    c.send(b"HELLO 3\r\n");
    c.read_reply();
    c.send(b"*1\r\n$x\r\n");
    assert_eq!(
        String::from_utf8_lossy(&read_until_closed(&mut c)),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    // Protocol errors count as errors in INFO.
    let info = String::from_utf8(other.cmd(&["INFO", "stats"])).unwrap();
    assert!(info.contains("total_error_replies:2\r\n"), "{info}");
    other.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn protocol_error_under_client_reply_off_or_skip() {
    let s = Server::start();
    // No reply, as in Redis (which then leaves the connection open but deaf; edgekv closes it).
    assert_eq!(closes_with(&s, b"CLIENT REPLY OFF\r\n*1\r\n$x\r\n"), b"");
    assert_eq!(closes_with(&s, b"CLIENT REPLY SKIP\r\n*1\r\n$x\r\n"), b"");
    assert_eq!(
        String::from_utf8_lossy(&closes_with(&s, b"CLIENT REPLY SKIP\r\nPING\r\n*1\r\n$x\r\n")),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
}

#[test]
fn crlf_after_a_bulk_is_not_checked() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(b"*1\r\n$4\r\nPINGxx");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    c.send(b"*1\r\n$4\r\nPING\n\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvXY");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.expect(&["GET", "k"], "$1\r\nv\r\n");
}

#[test]
fn unknown_command_text() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(
        &["foo", "a", "b", "c"],
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' 'c' \r\n",
    );
    c.expect(&["foo"], "-ERR unknown command 'foo', with args beginning with: \r\n");
    c.expect(
        &["foo", "a", "b"],
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
    );
    // Inline, the same.
    c.send(b"foo a b\r\n");
    assert_eq!(
        String::from_utf8_lossy(&c.read_reply()),
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    );
    // 128 characters of argument text at most: the quotes and spaces do not count.
    let a = "a".repeat(100);
    let b = "b".repeat(100);
    c.expect(
        &["foo", &a, &b, "c"],
        &format!(
            "-ERR unknown command 'foo', with args beginning with: '{a}' '{}' \r\n",
            "b".repeat(25)
        ),
    );
    let many: Vec<String> = (0..60).map(|i| i.to_string()).collect();
    let mut argv = vec!["foo"];
    argv.extend(many.iter().map(|s| s.as_str()));
    let listed: String = (0..=27).map(|i| format!("'{i}' ")).collect();
    c.expect(
        &argv,
        &format!("-ERR unknown command 'foo', with args beginning with: {listed}\r\n"),
    );
    // The name is cut at 128 characters too.
    let name = "f".repeat(200);
    c.expect(
        &[&name],
        &format!(
            "-ERR unknown command '{}', with args beginning with: \r\n",
            "f".repeat(128)
        ),
    );
    // CR and LF in the text become spaces.
    c.expect(
        &["foo", "a\r\nb", "c"],
        "-ERR unknown command 'foo', with args beginning with: 'a  b' 'c' \r\n",
    );
    c.expect(
        &["foo\nbar"],
        "-ERR unknown command 'foo bar', with args beginning with: \r\n",
    );
    // Unknown subcommand of a container.
    let z = "z".repeat(200);
    c.expect(
        &["config", &z],
        &format!("-ERR unknown subcommand '{}'. Try CONFIG HELP.\r\n", "z".repeat(128)),
    );
    // Not commands: `CONFIG|GET`, `GET|`.
    c.expect(
        &["CONFIG|GET", "x"],
        "-ERR unknown command 'CONFIG|GET', with args beginning with: 'x' \r\n",
    );
    c.expect(&["GET|"], "-ERR unknown command 'GET|', with args beginning with: \r\n");
}

#[test]
fn http_requests_are_dropped_silently() {
    let s = Server::start();
    // Redis's securityWarningCommand: POST or Host: as a command closes the connection at
    // once, with no reply.
    assert_eq!(closes_with(&s, b"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n"), b"");
    assert_eq!(closes_with(&s, b"host: localhost\r\n"), b"");
    assert_eq!(closes_with(&s, b"*1\r\n$4\r\npost\r\n"), b"");
    // A GET request line alone is an ordinary (wrong) GET; the Host: line then closes. Sent
    // together, nothing at all comes back: the pending reply is dropped too.
    assert_eq!(closes_with(&s, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), b"");
    let mut c = s.raw();
    c.send(b"GET / HTTP/1.1\r\n");
    assert_eq!(
        String::from_utf8_lossy(&c.read_reply()),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    c.send(b"Host: localhost\r\n\r\n");
    assert_eq!(read_until_closed(&mut c), b"");
    s.raw().expect(&["PING"], "+PONG\r\n");
}

#[test]
fn declared_sizes_reserve_no_memory() {
    let s = Server::start();
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let mut warm = s.raw();
    warm.expect(&["PING"], "+PONG\r\n");
    let before = rss();
    let mut conns = Vec::new();
    for i in 0..16 {
        let mut c = s.raw();
        if i % 2 == 0 {
            // 512 MiB declared (exactly proto-max-bulk-len), then a few bytes.
            c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n");
            c.send(b"abc");
        } else {
            // INT_MAX arguments declared, then one.
            c.send(b"*2147483647\r\n$4\r\nPING\r\n");
        }
        conns.push(c);
    }
    // Every connection's bytes have been read once the server answers this one.
    for c in &mut conns {
        c.expect_silence(20);
    }
    warm.expect(&["PING"], "+PONG\r\n");
    let after = rss();
    assert!(
        after < before + 64 * 1024,
        "VmRSS grew from {before} kB to {after} kB for declared sizes alone"
    );
    // The declaring connections are still waiting, not refused.
    for c in &mut conns {
        c.expect_silence(10);
    }
}

#[test]
fn query_buffer_limit_disconnects() {
    let s = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut other = s.raw();
    other.expect(&["PING"], "+PONG\r\n");
    // A bulk bigger than the limit (proto-max-bulk-len allows it): closed without a reply.
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n".to_vec();
    req.extend(vec![b'x'; 3_000_000]);
    req.extend(b"\r\n");
    assert_eq!(closes_with(&s, &req), b"");
    // Many medium arguments of one request: the parsed ones count too.
    let mut c = s.raw();
    c.send(b"*100\r\n$4\r\nMSET\r\n");
    let arg = {
        let mut a = b"$100000\r\n".to_vec();
        a.extend(vec![b'y'; 100_000]);
        a.extend(b"\r\n");
        a
    };
    for _ in 0..30 {
        if c.stream.write_all(&arg).is_err() {
            break;
        }
    }
    assert_eq!(read_until_closed(&mut c), b"");
    // A big pipeline of complete requests is not held against the limit.
    let mut c = s.raw();
    let pings = b"PING\r\n".repeat(200_000);
    c.send(&pings);
    let mut replies = vec![0u8; 200_000 * 7];
    c.stream.read_exact(&mut replies).expect("200000 replies");
    assert!(replies == b"+PONG\r\n".repeat(200_000), "replies are not all +PONG");
    other.expect(&["GET", "k"], "$-1\r\n");
    other.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn unauthenticated_limits() {
    let s = Server::start_with(&["--requirepass", "secret"]);
    let mut c = s.raw();
    c.expect(&["PING"], "-NOAUTH Authentication required.\r\n");
    assert_protocol_error_auth(
        &s,
        &resp(&[&b"ECHO"[..]; 11]),
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    assert_protocol_error_auth(
        &s,
        b"*2\r\n$4\r\nECHO\r\n$16385\r\n",
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    // At the limits exactly: decoded, then refused by NOAUTH (arity permitting).
    let mut ten: Vec<&[u8]> = vec![b"MSET"];
    ten.extend([&b"a"[..]; 9]);
    assert_eq!(c.cmd_bytes(&ten), b"-NOAUTH Authentication required.\r\n");
    let bulk = vec![b'x'; 16384];
    assert_eq!(c.cmd_bytes(&[b"ECHO", &bulk]), b"-NOAUTH Authentication required.\r\n");
    // After AUTH the limits are gone.
    c.expect(&["AUTH", "secret"], "+OK\r\n");
    let mut argv: Vec<&[u8]> = vec![b"MSET"];
    argv.extend([&b"a"[..]; 10]);
    assert_eq!(c.cmd_bytes(&argv), b"+OK\r\n");
    let bulk = vec![b'x'; 100_000];
    assert_eq!(c.cmd_bytes(&[b"ECHO", &bulk]).len(), "$100000\r\n\r\n".len() + 100_000);
}

#[track_caller]
fn assert_protocol_error_auth(s: &Server, input: &[u8], reply: &str) {
    let got = closes_with(s, input);
    assert_eq!(String::from_utf8_lossy(&got), reply);
}

#[test]
fn quit_closes_after_its_reply() {
    let s = Server::start();
    let got = closes_with(&s, b"PING\r\nQUIT\r\nPING\r\n");
    assert_eq!(got, b"+PONG\r\n+OK\r\n");
    // A client killing itself gets the reply, and nothing after it in the pipeline runs.
    let mut c = s.raw();
    let me = c.stream.local_addr().unwrap().to_string();
    c.send(format!("CLIENT KILL {me}\r\nSET after-kill 1\r\n").as_bytes());
    assert_eq!(read_until_closed(&mut c), b"+OK\r\n");
    s.raw().expect(&["EXISTS", "after-kill"], ":0\r\n");
}

/// Redis echoes a client's bytes into error texts unchanged, valid UTF-8 or not, and stops at
/// a NUL byte as C's `%s` does.
#[test]
fn errors_echo_client_bytes_unchanged() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd_bytes(&[b"foo", b"\xff\xfe"]),
        b"-ERR unknown command 'foo', with args beginning with: '\xff\xfe' \r\n".to_vec()
    );
    assert_eq!(
        c.cmd_bytes(&[b"f\xc3", b"a\x00b"]),
        b"-ERR unknown command 'f\xc3', with args beginning with: 'a' \r\n".to_vec()
    );
    assert_eq!(c.cmd_bytes(&[b"SET", b"k", b"v"]), b"+OK\r\n".to_vec());
    assert_eq!(
        c.cmd_bytes(&[b"EXPIRE", b"k", b"10", b"\xff"]),
        b"-ERR Unsupported option \xff\r\n".to_vec()
    );
    assert_eq!(
        c.cmd_bytes(&[b"CLIENT", b"\xe9t\xe9"]),
        b"-ERR unknown subcommand '\xe9t\xe9'. Try CLIENT HELP.\r\n".to_vec()
    );
    assert_eq!(
        c.cmd_bytes(&[b"CLIENT", b"LIST", b"TYPE", b"n\xf6rmal"]),
        b"-ERR Unknown client type 'n\xf6rmal'\r\n".to_vec()
    );
    assert_eq!(
        c.cmd_bytes(&[b"CLIENT", b"KILL", b"USER", b"\xffx\x00y"]),
        b"-ERR No such user '\xffx'\r\n".to_vec()
    );
}
