//! Observability over the real binary: SLOWLOG (replies as Redis 7.0.15 gives them, captured
//! from redis-server), INFO latencystats and commandstats, CONFIG RESETSTAT, `/metrics` and
//! `/healthz` over HTTP, and `--log-format json`. Timing values are never asserted: only
//! shapes, counts and everything that does not depend on the clock.

mod common;
mod http_util;

use common::value::{parse, V};
use common::{bulk, int_reply, payload, pipeline, text, Raw, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One SLOWLOG GET entry, with its clock-dependent fields checked for shape only.
#[derive(Debug, PartialEq)]
struct Entry {
    id: i64,
    args: Vec<String>,
    peer: String,
    name: String,
}

fn entries(reply: Vec<u8>) -> Vec<Entry> {
    let V::Arr(list) = parse(&reply) else {
        panic!("not an array: {:?}", String::from_utf8_lossy(&reply))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    list.into_iter()
        .map(|e| {
            let V::Arr(f) = e else { panic!("entry is not an array") };
            assert_eq!(f.len(), 6, "{f:?}");
            let (V::Int(id), V::Int(time), V::Int(micros), V::Arr(args), V::Str(peer), V::Str(name)) =
                (&f[0], &f[1], &f[2], &f[3], &f[4], &f[5])
            else {
                panic!("entry shape: {f:?}")
            };
            assert!((time - now).abs() < 600, "unix seconds: {time}");
            assert!(*micros >= 0);
            Entry {
                id: *id,
                args: args
                    .iter()
                    .map(|a| match a {
                        V::Str(s) => s.clone(),
                        other => panic!("argument {other:?}"),
                    })
                    .collect(),
                peer: peer.clone(),
                name: name.clone(),
            }
        })
        .collect()
}

fn args_of(reply: Vec<u8>) -> Vec<Vec<String>> {
    entries(reply).into_iter().map(|e| e.args).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn local_addr(c: &Raw) -> String {
    c.stream.local_addr().unwrap().to_string()
}

const HELP: &str = "*12\r\n\
+SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
+GET [<count>]\r\n\
+    Return top <count> entries from the slowlog (default: 10, -1 mean all).\r\n\
+    Entries are made of:\r\n\
+    id, timestamp, time in microseconds, arguments array, client IP and port,\r\n\
+    client name\r\n\
+LEN\r\n\
+    Return the length of the slowlog.\r\n\
+RESET\r\n\
+    Reset the slowlog.\r\n\
+HELP\r\n\
+    Prints this help.\r\n";

#[test]
fn slowlog_errors_and_help() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SLOWLOG"], "-ERR wrong number of arguments for 'slowlog' command\r\n");
    c.expect(
        &["SLOWLOG", "foo"],
        "-ERR unknown subcommand 'foo'. Try SLOWLOG HELP.\r\n",
    );
    for bad in ["-2", "abc", "1.5", "99999999999999999999", "+1", ""] {
        c.expect(
            &["SLOWLOG", "GET", bad],
            "-ERR count should be greater than or equal to -1\r\n",
        );
    }
    // The subcommand is quoted as typed (checked against redis-server 7.0.15).
    for sub in ["GET", "gEt"] {
        c.expect(
            &["SLOWLOG", sub, "-1", "x"],
            &format!("-ERR unknown subcommand or wrong number of arguments for '{sub}'. Try SLOWLOG HELP.\r\n"),
        );
    }
    for sub in ["len", "reset", "help"] {
        c.expect(
            &["SLOWLOG", sub, "x"],
            &format!("-ERR wrong number of arguments for 'slowlog|{sub}' command\r\n"),
        );
    }
    c.expect(&["SLOWLOG", "HELP"], HELP);
    c.expect(&["SLOWLOG", "GET", "0"], "*0\r\n");
    common::hello3(&mut c);
    c.expect(&["SLOWLOG", "help"], HELP);
    c.expect(&["SLOWLOG", "LEN"], ":0\r\n");
}

#[test]
fn slowlog_entries_as_redis_keeps_them() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "0"], "+OK\r\n");
    c.expect(&["SLOWLOG", "RESET"], "+OK\r\n");
    // RESET clears the log, then is logged itself (Redis logs after the command ran).
    c.expect(&["SLOWLOG", "LEN"], ":1\r\n");
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    c.expect(&["CLIENT", "SETNAME", "obs"], "+OK\r\n");
    let got = entries(c.cmd(&["SLOWLOG", "GET", "3"]));
    let me = local_addr(&c);
    // Newest first; the name is the one the client has after the command.
    assert_eq!(got[0].args, strs(&["CLIENT", "SETNAME", "obs"]));
    assert_eq!(got[0].name, "obs");
    assert_eq!(got[1].args, strs(&["SET", "k", "v"]));
    assert_eq!(got[1].name, "");
    assert_eq!(got[2].args, strs(&["SLOWLOG", "LEN"]));
    assert!(got.iter().all(|e| e.peer == me), "{got:?} vs {me}");
    assert_eq!((got[0].id - 1, got[0].id - 2), (got[1].id, got[2].id));

    // Default count 10, -1 all, a count over the length is the length.
    for i in 0..12 {
        c.cmd(&["GET", &format!("k{i}")]);
    }
    assert_eq!(entries(c.cmd(&["SLOWLOG", "GET"])).len(), 10);
    let all = int_reply(&mut c, &["SLOWLOG", "LEN"]);
    assert_eq!(entries(c.cmd(&["SLOWLOG", "GET", "-1"])).len() as i64, all + 1);
    let n = entries(c.cmd(&["SLOWLOG", "GET", "1000"])).len() as i64;
    assert_eq!(n, all + 2);

    // At most 32 arguments, the last counting the rest; at most 128 bytes per argument.
    let keys: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    let mut del = vec!["DEL"];
    del.extend(keys.iter().map(|k| k.as_str()));
    c.expect(&del, ":0\r\n");
    let e = &args_of(c.cmd(&["SLOWLOG", "GET", "1"]))[0];
    assert_eq!(e.len(), 32);
    assert_eq!(e[30], "a29");
    assert_eq!(e[31], "... (10 more arguments)");
    let mut del31 = vec!["DEL"];
    del31.extend(keys[..31].iter().map(|k| k.as_str()));
    c.cmd(&del31);
    let e = &args_of(c.cmd(&["SLOWLOG", "GET", "1"]))[0];
    assert_eq!(e.len(), 32);
    assert_eq!(e[31], "a30");
    let long_key = "x".repeat(128);
    let long_val = "y".repeat(200);
    c.expect(&["SET", &long_key, &long_val], "+OK\r\n");
    let e = &args_of(c.cmd(&["SLOWLOG", "GET", "1"]))[0];
    assert_eq!(e[1], long_key);
    assert_eq!(e[2], format!("{}... (72 more bytes)", "y".repeat(128)));
}

#[test]
fn slowlog_exec_multi_and_redaction() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "0"], "+OK\r\n");
    c.expect(&["SLOWLOG", "RESET"], "+OK\r\n");
    // EXEC is skip_slowlog: its queued commands are logged one by one, MULTI too.
    let r = pipeline(&mut c, &[&["MULTI"], &["SET", "x", "1"], &["GET", "x"], &["EXEC"]]);
    assert_eq!(r, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n1\r\n");
    // Secrets are redacted as Redis's commands redact them (even when the command fails).
    c.expect(
        &["AUTH", "someone", "secret"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.expect(
        &["HELLO", "2", "AUTH", "nobody", "secret"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.expect(&["ACL", "SETUSER", "bob", "on", ">pw"], "+OK\r\n");
    c.expect(&["CONFIG", "SET", "maxclients", "100", "requirepass", ""], "+OK\r\n");
    c.expect(&["CONFIG", "SET", "http-tokens", "t0k3n:default"], "+OK\r\n");
    let got = args_of(c.cmd(&["SLOWLOG", "GET", "-1"]));
    let want: Vec<Vec<String>> = [
        &["CONFIG", "SET", "http-tokens", "(redacted)"][..],
        &["CONFIG", "SET", "maxclients", "100", "requirepass", "(redacted)"],
        &["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"],
        &["HELLO", "2", "AUTH", "(redacted)", "(redacted)"],
        &["AUTH", "(redacted)", "(redacted)"],
        &["GET", "x"],
        &["SET", "x", "1"],
        &["MULTI"],
        &["SLOWLOG", "RESET"],
    ]
    .iter()
    .map(|a| strs(a))
    .collect();
    assert_eq!(got, want);
    // EXEC is flagged skip_slowlog in COMMAND INFO, as in Redis.
    assert!(text(c.cmd(&["COMMAND", "INFO", "exec"])).contains("+skip_slowlog\r\n"));
}

#[test]
fn slowlog_config_threshold_and_length() {
    let s = Server::start();
    let mut c = s.raw();
    // (In name order: edgekv's CONFIG GET order; Redis's is its hash table's.)
    c.expect(&["CONFIG", "GET", "slowlog-*"], &{
        let mut r = "*4\r\n".to_string();
        for x in ["slowlog-log-slower-than", "10000", "slowlog-max-len", "128"] {
            r += &bulk(x);
        }
        r
    });
    c.expect(
        &["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
        "-ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive\r\n",
    );
    // A threshold no command reaches: nothing is logged.
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "100000000"], "+OK\r\n");
    c.cmd(&["SET", "a", "1"]);
    c.expect(&["SLOWLOG", "LEN"], ":0\r\n");
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "0"], "+OK\r\n");
    for i in 0..5 {
        c.cmd(&["GET", &format!("k{i}")]);
    }
    assert_eq!(int_reply(&mut c, &["SLOWLOG", "LEN"]), 6);
    // A shorter log is trimmed after the CONFIG SET that shortened it.
    c.expect(&["CONFIG", "SET", "slowlog-max-len", "2"], "+OK\r\n");
    c.expect(&["SLOWLOG", "LEN"], ":2\r\n");
    let got = args_of(c.cmd(&["SLOWLOG", "GET", "-1"]));
    assert_eq!(
        got,
        vec![
            strs(&["SLOWLOG", "LEN"]),
            strs(&["CONFIG", "SET", "slowlog-max-len", "2"])
        ]
    );
    // Length 0 keeps nothing, but ids are still used (as Redis: push, then trim).
    let before = entries(c.cmd(&["SLOWLOG", "GET", "1"]))[0].id;
    c.expect(&["CONFIG", "SET", "slowlog-max-len", "0"], "+OK\r\n");
    c.expect(&["SLOWLOG", "LEN"], ":0\r\n");
    c.expect(&["CONFIG", "SET", "slowlog-max-len", "10"], "+OK\r\n");
    let after = entries(c.cmd(&["SLOWLOG", "GET", "1"]))[0].id;
    assert_eq!(after, before + 4, "GET, CONFIG SET, LEN, CONFIG SET");
    // -1 switches the log off.
    c.expect(&["SLOWLOG", "RESET"], "+OK\r\n");
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"], "+OK\r\n");
    c.cmd(&["SET", "a", "2"]);
    c.expect(&["SLOWLOG", "LEN"], ":1\r\n");
    assert_eq!(args_of(c.cmd(&["SLOWLOG", "GET"])), vec![strs(&["SLOWLOG", "RESET"])]);
}

#[test]
fn slowlog_resp3_shapes() {
    let s = Server::start();
    let mut c = s.raw();
    common::hello3(&mut c);
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "0"], "+OK\r\n");
    c.expect(&["SLOWLOG", "RESET"], "+OK\r\n");
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    let raw = c.cmd(&["SLOWLOG", "GET", "1"]);
    // Arrays in RESP3 too (not maps), integers, bulk strings; the name empty, not null.
    let t = String::from_utf8(raw.clone()).unwrap();
    assert!(t.starts_with("*1\r\n*6\r\n:"), "{t:?}");
    let peer = local_addr(&c);
    assert!(
        t.ends_with(&format!(
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n{}$0\r\n\r\n",
            bulk(&peer)
        )),
        "{t:?}"
    );
    assert_eq!(entries(raw)[0].args, strs(&["SET", "k", "v"]));
    c.expect(&["SLOWLOG", "LEN"], ":3\r\n");
}

/// `latency_percentiles_usec_<cmd>:p50=1.003,...` with the given percentile labels.
fn is_latency_line(line: &str, labels: &[&str]) -> bool {
    let Some((_, values)) = line.split_once(':') else {
        return false;
    };
    if labels.is_empty() {
        return values.is_empty();
    }
    let parts: Vec<&str> = values.split(',').collect();
    parts.len() == labels.len()
        && parts.iter().zip(labels).all(|(p, l)| {
            let Some(v) = p.strip_prefix(&format!("p{l}=")) else {
                return false;
            };
            let Some((int, frac)) = v.split_once('.') else {
                return false;
            };
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == 3
                && frac.bytes().all(|b| b.is_ascii_digit())
        })
}

fn info(c: &mut Raw, section: &str) -> String {
    payload(&c.cmd(&["INFO", section]))
}

fn latency_lines(c: &mut Raw) -> Vec<String> {
    let t = info(c, "latencystats");
    let mut lines = t.split("\r\n");
    assert_eq!(lines.next(), Some("# Latencystats"));
    lines.filter(|l| !l.is_empty()).map(|l| l.to_string()).collect()
}

#[test]
fn info_latencystats() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "GET", "latency-tracking-info-percentiles"], &{
        format!(
            "*2\r\n{}{}",
            bulk("latency-tracking-info-percentiles"),
            bulk("50 99 99.9")
        )
    });
    c.expect(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["GET", "a"]);
    let lines = latency_lines(&mut c);
    let names: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    for want in [
        "latency_percentiles_usec_set",
        "latency_percentiles_usec_get",
        "latency_percentiles_usec_config|resetstat",
    ] {
        assert!(names.contains(&want), "{want} in {lines:?}");
    }
    // INFO itself is recorded after it answers; nothing else ran.
    assert_eq!(names.len(), 3, "{lines:?}");
    for l in &lines {
        assert!(is_latency_line(l, &["50", "99", "99.9"]), "{l:?}");
    }

    // The percentiles are configurable, printed as Redis prints them.
    c.expect(
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "0 100 99.99999 33.3333333",
        ],
        "+OK\r\n",
    );
    for l in latency_lines(&mut c) {
        assert!(is_latency_line(&l, &["0", "100", "99.99999", "33.333333"]), "{l:?}");
    }
    c.expect(&["CONFIG", "SET", "latency-tracking-info-percentiles", ""], "+OK\r\n");
    let lines = latency_lines(&mut c);
    assert!(
        lines.contains(&"latency_percentiles_usec_get:".to_string()),
        "{lines:?}"
    );
    for (v, why) in [
        ("abc", "Invalid latency-tracking-info-percentiles parameters"),
        ("50  99", "Invalid latency-tracking-info-percentiles parameters"),
        (
            "101",
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
        ),
    ] {
        c.expect(
            &["CONFIG", "SET", "latency-tracking-info-percentiles", v],
            &format!(
                "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - {why}\r\n"
            ),
        );
    }
    c.expect(
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9"],
        "+OK\r\n",
    );

    // In INFO all and everything, between errorstats and cluster; not in the default set.
    for section in ["all", "everything"] {
        let t = info(&mut c, section);
        let e = t.find("# Errorstats\r\n").unwrap();
        let l = t.find("# Latencystats\r\n").unwrap();
        let k = t.find("# Cluster\r\n").unwrap();
        assert!(e < l && l < k, "{section}");
    }
    assert!(!info(&mut c, "default").contains("# Latencystats"));
    let t = payload(&c.cmd(&["INFO"]));
    assert!(!t.contains("# Latencystats"));
    assert!(t.contains("# Keyspace"));

    // RESETSTAT forgets the histograms; latency-tracking no records nothing new.
    c.expect(&["CONFIG", "SET", "latency-tracking", "no"], "+OK\r\n");
    c.expect(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    c.cmd(&["GET", "a"]);
    assert_eq!(latency_lines(&mut c), Vec::<String>::new());
    c.expect(&["CONFIG", "SET", "latency-tracking", "yes"], "+OK\r\n");
    c.cmd(&["GET", "a"]);
    let lines = latency_lines(&mut c);
    assert_eq!(lines.len(), 2, "{lines:?}"); // config|set, get
    assert!(lines.iter().any(|l| l.starts_with("latency_percentiles_usec_get:")));
}

#[test]
fn info_commandstats_as_redis() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    c.cmd(&["SET", "n", "x"]);
    c.cmd(&["GET", "n"]);
    c.cmd(&["GET", "n"]);
    c.expect(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["INCR", "n"], "-ERR value is not an integer or out of range\r\n");
    let t = info(&mut c, "commandstats");
    let line = |name: &str| -> String {
        t.split("\r\n")
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("{name} in {t:?}"))
            .to_string()
    };
    // cmdstat_get:calls=2,usec=N,usec_per_call=N.NN,rejected_calls=1,failed_calls=0
    let check = |l: String, calls: u64, rejected: u64, failed: u64| {
        let (_, rest) = l.split_once(':').unwrap();
        let f: Vec<(&str, &str)> = rest.split(',').map(|kv| kv.split_once('=').unwrap()).collect();
        let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]
        );
        assert_eq!(f[0].1, calls.to_string(), "{l}");
        assert!(f[1].1.parse::<u64>().is_ok());
        let (i, d) = f[2].1.split_once('.').unwrap();
        assert!(i.parse::<u64>().is_ok() && d.len() == 2, "{l}");
        assert_eq!(f[3].1, rejected.to_string(), "{l}");
        assert_eq!(f[4].1, failed.to_string(), "{l}");
    };
    check(line("get"), 2, 1, 0);
    check(line("set"), 1, 0, 0);
    check(line("incr"), 1, 0, 1);
    check(line("config|resetstat"), 1, 0, 0);
    assert!(t.starts_with("# Commandstats\r\n"));
}

// ---- HTTP: /metrics, /healthz ----

/// One HTTP/1.1 GET: (status, headers lowercased, body), the body as long as the
/// Content-Length it must have.
fn http_get(port: u16, path: &str) -> (u16, Vec<(String, String)>, String) {
    let r = http_util::Http { port, src: None }.get(path);
    // A framed body, not a chunked one: its length is declared and is the body's.
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str()),
        "{:?}",
        r.headers
    );
    (r.status, r.headers, String::from_utf8(r.body).expect("utf-8 response"))
}

/// A sample line: name, labels (in order), value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Checks the OpenMetrics text format line by line (descriptors, samples with quoted and
/// escaped label values, `# EOF` last) and returns the samples.
fn parse_openmetrics(body: &str) -> Vec<Sample> {
    assert!(body.ends_with("# EOF\n"), "ends with # EOF");
    let mut out = Vec::new();
    let mut families = std::collections::HashSet::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            && !n.as_bytes()[0].is_ascii_digit()
    };
    for line in body.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut p = rest.splitn(3, ' ');
            let kind = p.next().unwrap();
            let fam = p.next().unwrap();
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            assert!(name_ok(fam), "{line}");
            if kind == "TYPE" {
                let t = p.next().unwrap();
                assert!(
                    matches!(t, "counter" | "gauge" | "histogram" | "info" | "unknown"),
                    "{line}"
                );
                assert!(families.insert(fam.to_string()), "family {fam} described twice");
            }
            continue;
        }
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i..]),
            None => line.split_at(line.find(' ').expect(line)),
        };
        assert!(name_ok(name), "{line}");
        let mut labels = Vec::new();
        let mut rest = rest;
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(x) = r.strip_prefix('}') {
                    r = x;
                    break;
                }
                let eq = r.find("=\"").expect(line);
                let key = &r[..eq];
                assert!(name_ok(key), "{line}");
                let mut val = String::new();
                let mut chars = r[eq + 2..].char_indices();
                let end = loop {
                    let (i, ch) = chars.next().expect(line);
                    match ch {
                        '\\' => match chars.next().expect(line).1 {
                            'n' => val.push('\n'),
                            '"' => val.push('"'),
                            '\\' => val.push('\\'),
                            other => panic!("escape \\{other} in {line}"),
                        },
                        '"' => break eq + 2 + i + 1,
                        c => val.push(c),
                    }
                };
                labels.push((key.to_string(), val));
                r = &r[end..];
                r = r.strip_prefix(',').unwrap_or(r);
            }
            rest = r;
        }
        let value = rest.strip_prefix(' ').expect(line);
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value in {line}")),
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}

fn scrape(port: u16) -> (String, Vec<Sample>) {
    let (status, headers, body) = http_get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    let ct = headers.iter().find(|(k, _)| k == "content-type").unwrap();
    assert_eq!(ct.1, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let samples = parse_openmetrics(&body);
    (body, samples)
}

#[test]
fn metrics_endpoint() {
    let (s, port) = Server::start_on_free_port("--http-port", &[]);
    let (status, _, body) = http_get(port, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let mut c = s.raw();
    let mut c2 = s.raw();
    c.expect(&["PING"], "+PONG\r\n");
    c2.expect(&["PING"], "+PONG\r\n");
    let (body, before) = scrape(port);
    for fam in [
        "# TYPE edgekv_commands counter",
        "# TYPE edgekv_command_duration_seconds histogram",
        "# UNIT edgekv_command_duration_seconds seconds",
        "# TYPE edgekv_connected_clients gauge",
        "# TYPE edgekv_connections_received counter",
        "# TYPE edgekv_keys gauge",
        "# TYPE edgekv_expiring_keys gauge",
        "# TYPE edgekv_keys_reclaimed counter",
        "# TYPE edgekv_keys_expired counter",
        "# TYPE edgekv_log_size_bytes gauge",
        "# TYPE edgekv_log_fsync_duration_seconds histogram",
        "# TYPE edgekv_http_requests counter",
        "# TYPE edgekv_http_request_duration_seconds histogram",
    ] {
        assert!(body.contains(&format!("{fam}\n")), "{fam} in\n{body}");
    }
    assert_eq!(value(&before, "edgekv_connected_clients", &[]), Some(2.0));
    // The exact lines for what the test's own traffic decides: two connections, two PINGs,
    // no GET yet (a command gets its lines when it first runs).
    for line in [
        "edgekv_connected_clients 2",
        "edgekv_connections_received_total 2",
        "edgekv_rejected_connections_total 0",
        "edgekv_commands_total{command=\"ping\",result=\"ok\"} 2",
        "edgekv_commands_total{command=\"ping\",result=\"error\"} 0",
        "edgekv_commands_total{command=\"ping\",result=\"rejected\"} 0",
        "edgekv_command_duration_seconds_count{command=\"ping\"} 2",
        "edgekv_command_duration_seconds_bucket{le=\"+Inf\",command=\"ping\"} 2",
        "edgekv_keys_reclaimed_total 0",
        "edgekv_keys_expired_total 0",
    ] {
        assert_line(&body, line);
    }
    assert_eq!(
        value(
            &before,
            "edgekv_commands_total",
            &[("command", "get"), ("result", "ok")]
        ),
        None
    );
    assert_eq!(
        log_files_size(&s),
        value(&before, "edgekv_log_size_bytes", &[]).unwrap()
    );
    let conns = value(&before, "edgekv_connections_received_total", &[]).unwrap();
    let get = |samples: &[Sample], result: &str| {
        value(
            samples,
            "edgekv_commands_total",
            &[("command", "get"), ("result", result)],
        )
        .unwrap_or(0.0)
    };
    let hist_count = |samples: &[Sample], cmd: &str| {
        value(samples, "edgekv_command_duration_seconds_count", &[("command", cmd)]).unwrap_or(0.0)
    };

    // Counters move by exactly what was sent.
    c.expect(&["SET", "s", "text"], "+OK\r\n");
    for _ in 0..5 {
        c.expect(&["GET", "s"], "$4\r\ntext\r\n");
    }
    c.expect(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(
        &["GET", "s", "x"],
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.expect(&["INCR", "s"], "-ERR value is not an integer or out of range\r\n");
    c.expect(&["SET", "e", "1", "PX", "100000"], "+OK\r\n");
    c.expect(&["SELECT", "3"], "+OK\r\n");
    c.expect(&["SET", "t", "1"], "+OK\r\n");
    let mut c3 = s.raw();
    c3.expect(&["PING"], "+PONG\r\n");
    drop(c3);
    let (body, after) = scrape(port);
    for line in [
        "edgekv_commands_total{command=\"get\",result=\"ok\"} 5",
        "edgekv_commands_total{command=\"get\",result=\"error\"} 0",
        "edgekv_commands_total{command=\"get\",result=\"rejected\"} 2",
        "edgekv_command_duration_seconds_count{command=\"get\"} 5",
        "edgekv_commands_total{command=\"incr\",result=\"ok\"} 0",
        "edgekv_commands_total{command=\"incr\",result=\"error\"} 1",
        "edgekv_commands_total{command=\"incr\",result=\"rejected\"} 0",
        "edgekv_commands_total{command=\"set\",result=\"ok\"} 3",
        "edgekv_commands_total{command=\"select\",result=\"ok\"} 1",
        // (Not connected_clients: c3's close may not have been seen yet.)
        "edgekv_connections_received_total 3",
        "edgekv_keys{namespace=\"db0\",title=\"\"} 2",
        "edgekv_expiring_keys{namespace=\"db0\",title=\"\"} 1",
        "edgekv_keys{namespace=\"db3\",title=\"\"} 1",
        "edgekv_expiring_keys{namespace=\"db3\",title=\"\"} 0",
    ] {
        assert_line(&body, line);
    }
    assert_eq!(get(&after, "ok") - get(&before, "ok"), 5.0);
    assert_eq!(get(&after, "rejected") - get(&before, "rejected"), 2.0);
    assert_eq!(get(&after, "error") - get(&before, "error"), 0.0);
    let incr = |s: &[Sample], r| value(s, "edgekv_commands_total", &[("command", "incr"), ("result", r)]);
    assert_eq!(incr(&after, "error"), Some(1.0));
    assert_eq!(incr(&after, "ok"), Some(0.0));
    assert_eq!(hist_count(&after, "get") - hist_count(&before, "get"), 5.0);
    // The histogram's buckets are cumulative and end at +Inf = count.
    let inf = value(
        &after,
        "edgekv_command_duration_seconds_bucket",
        &[("command", "get"), ("le", "+Inf")],
    );
    assert_eq!(inf, Some(hist_count(&after, "get")));
    let mut last = 0.0;
    for smp in after
        .iter()
        .filter(|x| x.name == "edgekv_command_duration_seconds_bucket" && x.labels[0].1 == "get")
    {
        assert!(smp.value >= last);
        last = smp.value;
    }
    // Connections: one more accepted (c3, closed again).
    assert_eq!(
        value(&after, "edgekv_connections_received_total", &[]),
        Some(conns + 1.0)
    );
    // Keys per numbered database that holds keys.
    let keys = |ns: &str| value(&after, "edgekv_keys", &[("namespace", ns), ("title", "")]);
    let exp = |ns: &str| value(&after, "edgekv_expiring_keys", &[("namespace", ns), ("title", "")]);
    assert_eq!((keys("db0"), exp("db0")), (Some(2.0), Some(1.0)));
    assert_eq!((keys("db3"), exp("db3")), (Some(1.0), Some(0.0)));
    assert_eq!(keys("db1"), None);
    // The log holds the writes: the gauge is the size of its files. (Its fsyncs run once a
    // second under everysec: counted exactly in metrics_count_log_fsyncs.)
    let size = value(&after, "edgekv_log_size_bytes", &[]).unwrap();
    assert!(size > value(&before, "edgekv_log_size_bytes", &[]).unwrap());
    assert_eq!(size, log_files_size(&s));

    // A Workers KV namespace: labelled by id, with its title.
    let created = text(c.cmd(&["KV.NAMESPACE", "CREATE", "my \"app\""]));
    let id = created.split("\r\n").nth(4).unwrap().to_string();
    let index: String = created.split("\r\n").find(|l| l.starts_with(':')).unwrap()[1..].to_string();
    c.expect(&["SELECT", &index], "+OK\r\n");
    c.expect(&["SET", "k1", "v"], "+OK\r\n");
    c.expect(&["SET", "k2", "v", "EX", "100"], "+OK\r\n");
    let (body, ns) = scrape(port);
    let labels = [("namespace", id.as_str()), ("title", "my \"app\"")];
    assert_eq!(value(&ns, "edgekv_keys", &labels), Some(2.0), "{id}");
    assert_eq!(value(&ns, "edgekv_expiring_keys", &labels), Some(1.0));
    // The title's quotes escaped in the label.
    assert_line(
        &body,
        &format!("edgekv_keys{{namespace=\"{id}\",title=\"my \\\"app\\\"\"}} 2"),
    );
    assert_line(
        &body,
        &format!("edgekv_expiring_keys{{namespace=\"{id}\",title=\"my \\\"app\\\"\"}} 1"),
    );
    // Nothing has expired (the deadlines are 100 s away).
    assert_line(&body, "edgekv_keys_expired_total 0");
    assert_line(&body, "edgekv_keys_reclaimed_total 0");
    assert_eq!(value(&ns, "edgekv_log_size_bytes", &[]), Some(log_files_size(&s)));
}

/// Asserts that `line` is one of the lines of a /metrics body, byte for byte.
#[track_caller]
fn assert_line(body: &str, line: &str) {
    assert!(body.lines().any(|l| l == line), "no line {line:?} in\n{body}");
}

/// The size of the log's files (base and incremental) in the server's data folder.
fn log_files_size(s: &Server) -> f64 {
    let dir = s.dir.path().join("appendonlydir");
    let mut total = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.ends_with(".base") || name.ends_with(".incr") {
            total += e.metadata().unwrap().len();
        }
    }
    total as f64
}

/// Under `appendfsync always` each write waits for its own fsync: the histogram counts them
/// exactly, its buckets cumulative up to `+Inf` = count.
#[test]
fn metrics_count_log_fsyncs() {
    let (s, port) = Server::start_on_free_port("--http-port", &["--appendfsync", "always"]);
    let (body, _) = scrape(port);
    assert_line(&body, "edgekv_log_fsync_duration_seconds_count 0");
    assert_line(&body, "edgekv_log_fsync_duration_seconds_bucket{le=\"+Inf\"} 0");
    let mut c = s.raw();
    for i in 0..3 {
        c.expect(&["SET", &format!("k{i}"), "v"], "+OK\r\n");
    }
    // Reads write nothing, so they wait for no fsync.
    c.expect(&["GET", "k0"], "$1\r\nv\r\n");
    let (body, samples) = scrape(port);
    assert_line(&body, "edgekv_log_fsync_duration_seconds_count 3");
    assert_line(&body, "edgekv_log_fsync_duration_seconds_bucket{le=\"+Inf\"} 3");
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|x| x.name == "edgekv_log_fsync_duration_seconds_bucket")
        .map(|x| x.value)
        .collect();
    assert_eq!(buckets.len(), 16, "{body}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(value(&samples, "edgekv_log_size_bytes", &[]), Some(log_files_size(&s)));
}

#[test]
fn healthz_and_metrics_without_traffic() {
    let (_s, port) = Server::start_on_free_port("--http-port", &[]);
    let (body, samples) = scrape(port);
    assert_eq!(value(&samples, "edgekv_connected_clients", &[]), Some(0.0));
    for line in [
        "edgekv_connected_clients 0",
        "edgekv_connections_received_total 0",
        "edgekv_keys_expired_total 0",
    ] {
        assert_line(&body, line);
    }
    // No command has run: no command lines at all.
    assert!(!body.contains("edgekv_commands_total{"), "{body}");
    let (status, _, text) = http_get(port, "/healthz");
    assert_eq!((status, text.as_str()), (200, "ok\n"));
}

// ---- structured logs ----

#[test]
fn json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgekv"))
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--http-port",
            "0",
            "--log-format",
            "json",
        ])
        .arg("--dir")
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(("out", l));
        }
    });
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(l);
        }
    });
    let (_, ready) = rx.recv_timeout(Duration::from_secs(20)).expect("ready line");
    let port: u16 = ready.rsplit(':').next().unwrap().parse().unwrap();
    // The ready event, then a shutdown: every stderr line is one JSON object.
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !lines.iter().any(|l: &String| l.contains("ready to accept connections")) {
        assert!(std::time::Instant::now() < deadline, "{lines:?}");
        if let Ok(l) = erx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    // A protocol error is logged at debug level: not under the default `notice`, and at once
    // after CONFIG SET loglevel debug.
    let protocol_error = || {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"*abc\r\n").unwrap();
        let mut r = Vec::new();
        let _ = c.read_to_end(&mut r);
        assert!(r.starts_with(b"-ERR Protocol error"), "{r:?}");
    };
    protocol_error();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"CONFIG SET loglevel debug\r\n").unwrap();
    let mut ok = [0u8; 5];
    c.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    protocol_error();
    c.write_all(b"SHUTDOWN NOSAVE\r\n").unwrap();
    let _ = child.wait();
    lines.extend(erx.try_iter());
    assert!(lines.len() >= 2, "{lines:?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        let o = v.as_object().expect("an object per line");
        for k in ["timestamp", "level", "target", "message"] {
            assert!(o.get(k).is_some_and(|x| x.is_string()), "{k} in {l}");
        }
    }
    let ready: serde_json::Value = serde_json::from_str(
        lines
            .iter()
            .find(|l| l.contains("ready to accept connections"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ready["level"], "INFO");
    assert_eq!(ready["message"], "ready to accept connections");
    assert_eq!(ready["target"], "edgekv::server");
    assert!(ready["addresses"].as_str().unwrap().ends_with(&format!(":{port}")));
    assert!(lines.iter().any(|l| l.contains("\"shutting down\"")), "{lines:?}");
    let debug: Vec<&String> = lines.iter().filter(|l| l.contains("\"protocol error\"")).collect();
    assert_eq!(debug.len(), 1, "{lines:?}");
    assert!(debug[0].contains("\"level\":\"DEBUG\""), "{debug:?}");
}

#[test]
fn json_logs_to_logfile() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edgekv.log");
    let mut s = Server::start_with(&["--log-format", "json", "--logfile", file.to_str().unwrap()]);
    s.raw().expect(&["PING"], "+PONG\r\n");
    s.stop();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().count() >= 1, "{text:?}");
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["message"].is_string());
    }
    assert!(text.contains("ready to accept connections"));
}

/// Requests on the HTTP surfaces are counted by matched route (never the raw path) and status.
#[test]
fn metrics_count_http_requests_by_route_and_status() {
    let (_s, port) = Server::start_on_free_port("--http-port", &[]);
    let ns = "/client/v4/accounts/acc/storage/kv/namespaces";
    let value_route = "/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{*key_name}";
    let list_route = "/client/v4/accounts/{account_id}/storage/kv/namespaces";
    for _ in 0..3 {
        assert_eq!(http_get(port, ns).0, 200);
    }
    // Two different missing keys: one route, one label set.
    assert_eq!(http_get(port, &format!("{ns}/nosuchns/values/a")).0, 404);
    assert_eq!(http_get(port, &format!("{ns}/nosuchns/values/b")).0, 404);
    let (body, samples) = scrape(port);
    assert_line(
        &body,
        &format!("edgekv_http_requests_total{{route=\"{list_route}\",status=\"200\"}} 3"),
    );
    assert_line(
        &body,
        &format!("edgekv_http_requests_total{{route=\"{value_route}\",status=\"404\"}} 2"),
    );
    let count = |route: &str, status: &str| {
        value(
            &samples,
            "edgekv_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(count(list_route, "200"), Some(3.0));
    assert_eq!(count(value_route, "404"), Some(2.0));
    assert!(
        !samples
            .iter()
            .any(|s| s.labels.iter().any(|(_, v)| v.contains("nosuchns"))),
        "a raw path leaked into a label"
    );
}
