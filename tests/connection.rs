//! Connection commands against the real binary, byte for byte as Redis 7.0.15 replies (checked
//! against a live redis-server 7.0.15): PING, ECHO, QUIT, RESET, HELLO, AUTH and CLIENT, plus
//! the connect sequences of the client libraries listed in compat.md. CLIENT SETINFO, CLIENT
//! NO-TOUCH and the ` lib-name= lib-ver=` tail of CLIENT INFO/LIST follow Redis 7.2 on purpose.

mod common;
use common::{
    arity, bulk, client_field as field, client_list_line as list_line, hello_reply, int_reply, payload, pipeline, resp,
    text, Server,
};

/// HELLO's reply in RESP2: a flat array of 14.
fn hello2(id: i64) -> String {
    hello_reply(2, id)
}

/// HELLO's reply in RESP3: a map of 7.
fn hello3(id: i64) -> String {
    hello_reply(3, id)
}

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const NO_PASSWORD: &str = "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n";
const HELLO_NOAUTH: &str = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";
const BAD_NAME: &str = "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

#[test]
fn ping_and_echo() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["ping"], "+PONG\r\n");
    c.expect(&["PING", "hello world"], "$11\r\nhello world\r\n");
    c.expect(&["PING", ""], "$0\r\n\r\n");
    c.expect(&["PING", "a", "b"], &arity("ping"));
    c.expect(&["ECHO", "hi"], "$2\r\nhi\r\n");
    c.expect(&["ECHO", ""], "$0\r\n\r\n");
    c.expect(&["ECHO"], &arity("echo"));
    c.expect(&["ECHO", "a", "b"], &arity("echo"));
    let got = c.cmd_bytes(&[b"ECHO", b"\x00\xff\r\n"]);
    assert_eq!(got, b"$4\r\n\x00\xff\r\n\r\n");
    // RESP3 changes neither reply.
    common::hello3(&mut c);
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["PING", "x"], "$1\r\nx\r\n");
    c.expect(&["ECHO", "x"], "$1\r\nx\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["QUIT"], "+OK\r\n");
    assert!(c.is_closed());

    // Arity -1: extra arguments are accepted.
    let mut c = s.raw();
    c.expect(&["QUIT", "a", "b"], "+OK\r\n");
    assert!(c.is_closed());

    // Commands pipelined after QUIT never run (quit.tcl).
    let mut c = s.raw();
    let mut batch = resp(&[b"QUIT"]);
    batch.extend(resp(&[b"SET", b"foo", b"bar"]));
    c.send(&batch);
    assert_eq!(text(c.read_reply()), "+OK\r\n");
    assert!(c.is_closed());
    let mut c = s.raw();
    c.expect(&["GET", "foo"], "$-1\r\n");

    // Inside MULTI, QUIT runs at once.
    let mut c = s.raw();
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "foo", "bar"], "+QUEUED\r\n");
    c.expect(&["QUIT"], "+OK\r\n");
    assert!(c.is_closed());
    let mut c = s.raw();
    c.expect(&["GET", "foo"], "$-1\r\n");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let s = Server::start();
    let mut c = s.raw();
    let mut other = s.raw();
    let id = int_reply(&mut c, &["CLIENT", "ID"]);
    c.expect(&["SELECT", "3"], "+OK\r\n");
    c.expect(&["SET", "k3", "v"], "+OK\r\n");
    assert_eq!(text(c.cmd(&["HELLO", "3"])), hello3(id));
    c.expect(&["CLIENT", "SETNAME", "before-reset"], "+OK\r\n");
    c.expect(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"], "+OK\r\n");
    c.expect(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n");
    c.expect(&["CLIENT", "NO-TOUCH", "on"], "+OK\r\n");
    c.expect(&["WATCH", "w"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "x", "1"], "+QUEUED\r\n");
    c.expect(&["RESET"], "+RESET\r\n");

    // Out of MULTI, and the queued SET never ran.
    c.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    c.expect(&["EXISTS", "x"], ":0\r\n");
    // RESP2 again (a null is $-1), no name.
    c.expect(&["CLIENT", "GETNAME"], "$-1\r\n");
    assert_eq!(text(c.cmd(&["HELLO"])), hello2(id));
    // Database 0.
    c.expect(&["EXISTS", "k3"], ":0\r\n");
    // Watches are gone: a change to w no longer aborts EXEC.
    other.expect(&["SET", "w", "changed"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["PING"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*1\r\n+PONG\r\n");
    // NO-EVICT survives RESET (7.0), NO-TOUCH does not; CLIENT SETINFO values stay.
    let line = list_line(&mut other, id);
    assert_eq!(field(&line, "flags"), "e");
    assert_eq!(field(&line, "name"), "");
    assert_eq!(field(&line, "db"), "0");
    assert_eq!(field(&line, "resp"), "2");
    assert_eq!(field(&line, "lib-name"), "mylib");

    c.expect(&["RESET", "x"], &arity("reset"));

    // RESET turns CLIENT REPLY OFF back on, and its own reply is sent.
    let mut batch = resp(&[b"CLIENT", b"REPLY", b"OFF"]);
    batch.extend(resp(&[b"PING"]));
    c.send(&batch);
    c.expect(&["RESET"], "+RESET\r\n");
    c.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn hello_versions_and_errors() {
    let s = Server::start();
    let mut c = s.raw();
    let id = int_reply(&mut c, &["CLIENT", "ID"]);
    assert_eq!(text(c.cmd(&["HELLO"])), hello2(id));
    assert_eq!(text(c.cmd(&["HELLO", "2"])), hello2(id));
    assert_eq!(text(c.cmd(&["hello", "3"])), hello3(id));
    // Without a version HELLO answers in the current protocol.
    assert_eq!(text(c.cmd(&["HELLO"])), hello3(id));
    c.expect(&["CLIENT", "GETNAME"], "_\r\n");
    assert_eq!(text(c.cmd(&["HELLO", "2"])), hello2(id));
    c.expect(&["CLIENT", "GETNAME"], "$-1\r\n");

    for v in ["1", "4", "0", "-1", "9223372036854775807"] {
        c.expect(&["HELLO", v], "-NOPROTO unsupported protocol version\r\n");
    }
    for v in ["abc", "2.0", "", " 2", "+3", "03", "9223372036854775808"] {
        c.expect(
            &["HELLO", v],
            "-ERR Protocol version is not an integer or out of range\r\n",
        );
    }
    // The version is checked before the options.
    c.expect(&["HELLO", "4", "foo"], "-NOPROTO unsupported protocol version\r\n");
    c.expect(
        &["HELLO", "x", "foo"],
        "-ERR Protocol version is not an integer or out of range\r\n",
    );
    c.expect(&["HELLO", "2", "foo"], "-ERR Syntax error in HELLO option 'foo'\r\n");
    c.expect(
        &["HELLO", "2", "setname"],
        "-ERR Syntax error in HELLO option 'setname'\r\n",
    );
    c.expect(
        &["HELLO", "2", "AUTH", "a"],
        "-ERR Syntax error in HELLO option 'AUTH'\r\n",
    );
    c.expect(&["HELLO", "2", "SETNAME", "a b"], BAD_NAME);
    // A failed HELLO 3 does not switch the protocol.
    c.expect(
        &["HELLO", "3", "bogus"],
        "-ERR Syntax error in HELLO option 'bogus'\r\n",
    );
    c.expect(&["CLIENT", "GETNAME"], "$-1\r\n");

    // No password configured: AUTH with the default user and any password succeeds, an
    // unknown user does not.
    assert_eq!(text(c.cmd(&["HELLO", "2", "AUTH", "default", "whatever"])), hello2(id));
    c.expect(&["HELLO", "2", "AUTH", "bob", "x"], WRONGPASS);

    // SETNAME, and options run in order: a name set before a failing option stays.
    assert_eq!(text(c.cmd(&["HELLO", "3", "SETNAME", "first"])), hello3(id));
    c.expect(&["CLIENT", "GETNAME"], "$5\r\nfirst\r\n");
    c.expect(
        &["HELLO", "2", "setname", "second", "bogus"],
        "-ERR Syntax error in HELLO option 'bogus'\r\n",
    );
    c.expect(&["CLIENT", "GETNAME"], "$6\r\nsecond\r\n");
    c.expect(&["HELLO", "2", "SETNAME", "third", "SETNAME", "bad name"], BAD_NAME);
    c.expect(&["CLIENT", "GETNAME"], "$5\r\nthird\r\n");
    // The later of two SETNAMEs wins; option names are case-insensitive.
    assert_eq!(
        text(c.cmd(&["HELLO", "2", "SetName", "a", "sEtNaMe", "b", "auth", "default", "p"])),
        hello2(id)
    );
    c.expect(&["CLIENT", "GETNAME"], "$1\r\nb\r\n");
}

#[test]
fn auth_without_a_password() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["AUTH", "x"], NO_PASSWORD);
    c.expect(&["AUTH"], &arity("auth"));
    c.expect(&["AUTH", "a", "b", "c"], SYNTAX);
    c.expect(&["AUTH", "bob", "x"], WRONGPASS);
    c.expect(&["AUTH", "default", "anything"], "+OK\r\n");
    c.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn auth_with_requirepass() {
    let s = Server::start_with(&["--requirepass", "s3cret"]);
    let mut c = s.raw();
    c.expect(&["PING"], NOAUTH);
    c.expect(&["GET", "x"], NOAUTH);
    c.expect(&["CLIENT", "ID"], NOAUTH);
    c.expect(&["SELECT", "1"], NOAUTH);
    c.expect(&["MULTI"], NOAUTH);
    c.expect(&["HELLO"], HELLO_NOAUTH);
    c.expect(&["HELLO", "3"], HELLO_NOAUTH);
    // HELLO 3 without AUTH did not switch the protocol.
    c.expect(&["PING"], NOAUTH);
    c.expect(&["HELLO", "3", "AUTH", "default", "wrong"], WRONGPASS);
    c.expect(&["AUTH", "wrong"], WRONGPASS);
    c.expect(&["AUTH", "default", "wrong"], WRONGPASS);
    c.expect(&["AUTH", "bob", "s3cret"], WRONGPASS);
    c.expect(&["PING"], NOAUTH);
    c.expect(&["AUTH", "s3cret"], "+OK\r\n");
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["AUTH", "default", "s3cret"], "+OK\r\n");
    // A wrong password later does not log the connection out.
    c.expect(&["AUTH", "nope"], WRONGPASS);
    c.expect(&["PING"], "+PONG\r\n");
    // RESET logs out again.
    c.expect(&["RESET"], "+RESET\r\n");
    c.expect(&["PING"], NOAUTH);

    // HELLO with AUTH authenticates and switches protocol in one step (go-redis, redis-py 3).
    let mut c = s.raw();
    let reply = text(c.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "gr"]));
    // (Unauthenticated, the connection could not ask its id before.)
    assert_eq!(reply, hello3(int_reply(&mut c, &["CLIENT", "ID"])));
    c.expect(&["CLIENT", "GETNAME"], "$2\r\ngr\r\n");
    c.expect(&["GET", "x"], "_\r\n");

    // QUIT works unauthenticated.
    let mut c = s.raw();
    c.expect(&["QUIT"], "+OK\r\n");
    assert!(c.is_closed());
}

#[test]
fn client_id_setname_getname() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    let ida = int_reply(&mut a, &["CLIENT", "ID"]);
    let idb = int_reply(&mut b, &["client", "id"]);
    assert!(ida > 0 && idb > ida, "ids grow: {} {}", ida, idb);
    a.expect(&["CLIENT", "ID", "x"], &arity("client|id"));

    a.expect(&["CLIENT", "GETNAME"], "$-1\r\n");
    a.expect(&["CLIENT", "SETNAME", "my-conn_1"], "+OK\r\n");
    a.expect(&["CLIENT", "GETNAME"], "$9\r\nmy-conn_1\r\n");
    for bad in ["a b", "a\nb", "a\r", "\u{fc}", "tab\there", "\x7f"] {
        a.expect(&["CLIENT", "SETNAME", bad], BAD_NAME);
    }
    // The name is unchanged by a refused SETNAME; a backslash-n written out is fine.
    a.expect(&["CLIENT", "GETNAME"], "$9\r\nmy-conn_1\r\n");
    a.expect(&["CLIENT", "SETNAME", "a\\nb"], "+OK\r\n");
    a.expect(&["CLIENT", "GETNAME"], "$4\r\na\\nb\r\n");
    // The empty name clears it.
    a.expect(&["CLIENT", "SETNAME", ""], "+OK\r\n");
    a.expect(&["CLIENT", "GETNAME"], "$-1\r\n");
    a.expect(&["CLIENT", "SETNAME"], &arity("client|setname"));
    a.expect(&["CLIENT", "SETNAME", "a", "b"], &arity("client|setname"));
    a.expect(&["CLIENT", "GETNAME", "x"], &arity("client|getname"));
    // Names are per connection and show in CLIENT LIST.
    b.expect(&["CLIENT", "SETNAME", "bee"], "+OK\r\n");
    a.expect(&["CLIENT", "GETNAME"], "$-1\r\n");
    assert_eq!(field(&list_line(&mut a, idb), "name"), "bee");
}

#[test]
fn client_container_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CLIENT"], &arity("client"));
    c.expect(
        &["CLIENT", "foo"],
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n",
    );
    c.expect(
        &["client", "Bar", "x"],
        "-ERR unknown subcommand 'Bar'. Try CLIENT HELP.\r\n",
    );
    c.expect(&["CLIENT", "HELP", "x"], &arity("client|help"));
    c.expect(&["CLIENT", "INFO", "x"], &arity("client|info"));
    c.expect(&["CLIENT", "REPLY"], &arity("client|reply"));
    c.expect(&["CLIENT", "NO-EVICT"], &arity("client|no-evict"));
    c.expect(&["CLIENT", "NO-TOUCH", "on", "x"], &arity("client|no-touch"));
    c.expect(&["CLIENT", "SETINFO", "lib-name"], &arity("client|setinfo"));
}

#[test]
fn client_help() {
    let s = Server::start();
    let mut c = s.raw();
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Prints this help.",
    ];
    let mut want = format!("*{}\r\n", lines.len());
    for l in lines {
        want.push_str(&format!("+{}\r\n", l));
    }
    c.expect(&["CLIENT", "HELP"], &want);
    c.expect(&["client", "help"], &want);
}

#[test]
fn client_setinfo() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    let id = int_reply(&mut c, &["CLIENT", "ID"]);
    let line = list_line(&mut o, id);
    assert!(line.ends_with(" resp=2 lib-name= lib-ver="), "{}", line);
    c.expect(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"], "+OK\r\n");
    c.expect(&["CLIENT", "SETINFO", "lib-ver", "5.0.1"], "+OK\r\n");
    let line = list_line(&mut o, id);
    assert!(line.ends_with(" resp=2 lib-name=redis-py lib-ver=5.0.1"), "{}", line);
    c.expect(&["CLIENT", "SETINFO", "foo", "x"], "-ERR Unrecognized option 'foo'\r\n");
    c.expect(
        &["CLIENT", "SETINFO", "LIB-NAME", "a b"],
        "-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n",
    );
    c.expect(
        &["CLIENT", "SETINFO", "lib-ver", "1\n2"],
        "-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n",
    );
    // go-redis's library name has parentheses and a comma.
    c.expect(&["CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.22.1)"], "+OK\r\n");
    // An empty value clears the field.
    c.expect(&["CLIENT", "SETINFO", "LIB-VER", ""], "+OK\r\n");
    let line = list_line(&mut o, id);
    assert!(line.ends_with(" lib-name=go-redis(,go1.22.1) lib-ver="), "{}", line);
}

/// Every field of a CLIENT INFO line, in Redis 7.0's order, then 7.2's lib-name and lib-ver.
const FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
    "lib-name",
    "lib-ver",
];

#[test]
fn client_info_line() {
    let s = Server::start();
    let mut c = s.raw();
    let id = int_reply(&mut c, &["CLIENT", "ID"]);
    let r = c.cmd(&["CLIENT", "INFO"]);
    assert!(r.starts_with(b"$"));
    let line = payload(&r);
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    let line = line.trim_end();
    let names: Vec<&str> = line.split(' ').map(|kv| kv.split('=').next().unwrap()).collect();
    assert_eq!(names, FIELDS, "{}", line);
    assert_eq!(field(line, "id"), id.to_string());
    assert_eq!(field(line, "addr"), c.stream.local_addr().unwrap().to_string());
    assert_eq!(field(line, "laddr"), s.addr());
    for (k, v) in [
        ("name", ""),
        ("flags", "N"),
        ("db", "0"),
        ("sub", "0"),
        ("psub", "0"),
        ("ssub", "0"),
        ("multi", "-1"),
        ("multi-mem", "0"),
        ("obl", "0"),
        ("oll", "0"),
        ("omem", "0"),
        ("events", "r"),
        ("cmd", "client|info"),
        ("user", "default"),
        ("redir", "-1"),
        ("resp", "2"),
    ] {
        assert_eq!(field(line, k), v, "{} in {}", k, line);
    }
    for k in [
        "fd",
        "age",
        "idle",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "rbs",
        "rbp",
        "tot-mem",
    ] {
        field(line, k)
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{} in {}", k, line));
    }

    // RESP3: a verbatim string.
    common::hello3(&mut c);
    let r = c.cmd(&["CLIENT", "INFO"]);
    let t = text(r.clone());
    assert!(t.starts_with('='), "{:?}", t);
    let line = payload(&r);
    assert_eq!(field(line.trim_end(), "resp"), "3");
    assert_eq!(field(line.trim_end(), "cmd"), "client|info");
}

#[test]
fn client_list_flags_follow_the_connection() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    let mut w = s.raw();
    let id = int_reply(&mut c, &["CLIENT", "ID"]);
    c.expect(&["SELECT", "5"], "+OK\r\n");
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    let line = list_line(&mut o, id);
    assert_eq!(field(&line, "db"), "5");
    assert_eq!(field(&line, "cmd"), "set");
    assert_eq!(field(&line, "flags"), "N");
    // x: in MULTI, multi= counts the queue; d: a watched key changed.
    c.expect(&["WATCH", "k"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    let line = list_line(&mut o, id);
    assert_eq!((field(&line, "flags"), field(&line, "multi")), ("x", "0"));
    c.expect(&["PING"], "+QUEUED\r\n");
    c.expect(&["PING"], "+QUEUED\r\n");
    w.expect(&["SELECT", "5"], "+OK\r\n");
    w.expect(&["SET", "k", "changed"], "+OK\r\n");
    let line = list_line(&mut o, id);
    assert_eq!((field(&line, "flags"), field(&line, "multi")), ("xd", "2"));
    c.expect(&["EXEC"], "*-1\r\n");
    let line = list_line(&mut o, id);
    assert_eq!((field(&line, "flags"), field(&line, "multi")), ("N", "-1"));
    // e: no-evict; T: no-touch.
    c.expect(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n");
    assert_eq!(field(&list_line(&mut o, id), "flags"), "e");
    c.expect(&["CLIENT", "NO-TOUCH", "ON"], "+OK\r\n");
    assert_eq!(field(&list_line(&mut o, id), "flags"), "eT");
    c.expect(&["CLIENT", "NO-EVICT", "OFF"], "+OK\r\n");
    c.expect(&["CLIENT", "NO-TOUCH", "off"], "+OK\r\n");
    assert_eq!(field(&list_line(&mut o, id), "flags"), "N");
    c.expect(&["CLIENT", "NO-EVICT", "maybe"], SYNTAX);
    c.expect(&["CLIENT", "NO-TOUCH", "yes"], SYNTAX);
}

/// While EXEC runs its queue the client is still in MULTI, as in redis-server 7.0.15: a queued
/// CLIENT INFO shows `flags=x multi=<queued> cmd=exec`; afterwards the client is out of it.
#[test]
fn client_info_inside_exec_shows_the_transaction() {
    use common::acl_log::{without_clock, Info};
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    let before = Info::of(&mut o, &c);
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["CLIENT", "INFO"], "+QUEUED\r\n");
    c.expect(&["SET", "a", "b"], "+QUEUED\r\n");
    c.send(&resp(&[b"EXEC"]));
    let r = c.read_reply();
    let head = b"*2\r\n$";
    assert!(
        r.starts_with(head) && r.ends_with(b"\r\n+OK\r\n"),
        "{:?}",
        String::from_utf8_lossy(&r)
    );
    let line = payload(&r[4..r.len() - 5]);
    let inside = Info {
        flags: "x".into(),
        multi: 2,
        ..before.clone()
    }
    .running(&["EXEC"], "exec", "default");
    assert_eq!(without_clock(line.trim_end()), inside.line());
    // Afterwards: out of MULTI, EXEC its last command.
    let after = Info {
        flags: "N".into(),
        multi: -1,
        qbuf: 0,
        cmd: "exec".into(),
        user: "default".into(),
        ..before
    };
    assert_eq!(without_clock(&list_line(&mut o, before.id)), after.line());
}

#[test]
fn client_list_filters() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    let ida = int_reply(&mut a, &["CLIENT", "ID"]);
    let idb = int_reply(&mut b, &["CLIENT", "ID"]);

    let all = payload(&a.cmd(&["CLIENT", "LIST"]));
    let lines: Vec<&str> = all.split_terminator('\n').collect();
    assert_eq!(lines.len(), 2, "{:?}", all);
    assert!(all.ends_with('\n'));
    let ids: Vec<String> = lines.iter().map(|l| field(l, "id").to_string()).collect();
    assert_eq!(ids, [ida.to_string(), idb.to_string()]);
    for l in &lines {
        let names: Vec<&str> = l.split(' ').map(|kv| kv.split('=').next().unwrap()).collect();
        assert_eq!(names, FIELDS);
    }
    // The caller's own line shows the command being run.
    assert_eq!(field(lines[0], "cmd"), "client|list");

    let normal = payload(&a.cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
    assert_eq!(normal.split_terminator('\n').count(), 2);
    for t in ["master", "replica", "slave", "PUBSUB"] {
        a.expect(&["CLIENT", "LIST", "TYPE", t], "$0\r\n\r\n");
    }
    a.expect(&["CLIENT", "LIST", "TYPE", "bad"], "-ERR Unknown client type 'bad'\r\n");

    // ID filter: in the order given, repeated ids repeated, unknown or non-positive ids skipped.
    let r = payload(&a.cmd(&[
        "CLIENT",
        "LIST",
        "ID",
        &idb.to_string(),
        "999",
        &ida.to_string(),
        "0",
        "-1",
    ]));
    let ids: Vec<&str> = r.split_terminator('\n').map(|l| field(l, "id")).collect();
    assert_eq!(ids, [idb.to_string(), ida.to_string()]);
    let r = payload(&a.cmd(&["client", "list", "id", &ida.to_string(), &ida.to_string()]));
    assert_eq!(r.split_terminator('\n').count(), 2);
    a.expect(&["CLIENT", "LIST", "ID", "999"], "$0\r\n\r\n");
    a.expect(&["CLIENT", "LIST", "ID", "0"], "$0\r\n\r\n");
    a.expect(&["CLIENT", "LIST", "ID", "-1"], "$0\r\n\r\n");
    a.expect(&["CLIENT", "LIST", "ID", "abc"], "-ERR Invalid client ID\r\n");
    a.expect(
        &["CLIENT", "LIST", "ID", &ida.to_string(), "1.5"],
        "-ERR Invalid client ID\r\n",
    );

    for bad in [
        &["CLIENT", "LIST", "type"][..],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "LIST", "id"],
        &["CLIENT", "LIST", "type", "normal", "extra"],
        &["CLIENT", "LIST", "foo", "bar"],
    ] {
        a.expect(bad, SYNTAX);
    }

    // A closed connection leaves the list.
    b.expect(&["QUIT"], "+OK\r\n");
    assert!(b.is_closed());
    let mut left = 0;
    for _ in 0..500 {
        left = payload(&a.cmd(&["CLIENT", "LIST"])).split_terminator('\n').count();
        if left == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(left, 1);
}

#[test]
fn client_kill_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CLIENT", "KILL"], &arity("client|kill"));
    // argc 3 is the old form: the argument is an address.
    c.expect(&["CLIENT", "KILL", "1.2.3.4:5"], "-ERR No such client\r\n");
    c.expect(&["CLIENT", "KILL", "id"], "-ERR No such client\r\n");
    for id in ["abc", "0", "-1", "1.5", "99999999999999999999"] {
        c.expect(
            &["CLIENT", "KILL", "ID", id],
            "-ERR client-id should be greater than 0\r\n",
        );
    }
    c.expect(&["CLIENT", "KILL", "id", "10", "wrong_arg"], SYNTAX);
    c.expect(&["CLIENT", "KILL", "TYPE", "bad"], "-ERR Unknown client type 'bad'\r\n");
    c.expect(&["CLIENT", "KILL", "USER", "bob"], "-ERR No such user 'bob'\r\n");
    c.expect(&["CLIENT", "KILL", "SKIPME", "maybe"], SYNTAX);
    c.expect(&["CLIENT", "KILL", "foo", "bar"], SYNTAX);
    // Options are checked in order.
    c.expect(&["CLIENT", "KILL", "foo", "bar", "ID", "0"], SYNTAX);
    c.expect(
        &["CLIENT", "KILL", "ID", "0", "foo", "bar"],
        "-ERR client-id should be greater than 0\r\n",
    );
    // Nothing matched: zero.
    c.expect(&["CLIENT", "KILL", "ID", "99999"], ":0\r\n");
    c.expect(&["CLIENT", "KILL", "ADDR", "1.2.3.4:5"], ":0\r\n");
    c.expect(&["CLIENT", "KILL", "TYPE", "master"], ":0\r\n");
    c.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn client_kill_filters() {
    let s = Server::start();
    let mut me = s.raw();
    let myid = int_reply(&mut me, &["CLIENT", "ID"]);

    // Old form: kill another connection by address.
    let mut v = s.raw();
    let vaddr = v.stream.local_addr().unwrap().to_string();
    v.expect(&["PING"], "+PONG\r\n");
    me.expect(&["CLIENT", "KILL", &vaddr], "+OK\r\n");
    assert!(v.is_closed());

    // New form by ID.
    let mut v = s.raw();
    let vid = int_reply(&mut v, &["CLIENT", "ID"]);
    me.expect(&["CLIENT", "KILL", "ID", &vid.to_string()], ":1\r\n");
    assert!(v.is_closed());

    // By ADDR, ANDed with a non-matching ID: nothing.
    let mut v = s.raw();
    let vid = int_reply(&mut v, &["CLIENT", "ID"]);
    let vaddr = v.stream.local_addr().unwrap().to_string();
    me.expect(&["CLIENT", "KILL", "ADDR", &vaddr, "ID", &myid.to_string()], ":0\r\n");
    me.expect(&["CLIENT", "KILL", "ADDR", &vaddr, "ID", &vid.to_string()], ":1\r\n");
    assert!(v.is_closed());

    // SKIPME defaults to yes: killing by my own ID kills nobody.
    me.expect(&["CLIENT", "KILL", "ID", &myid.to_string()], ":0\r\n");

    // LADDR, TYPE normal and USER default match everyone else.
    let mut v1 = s.raw();
    let mut v2 = s.raw();
    v1.expect(&["PING"], "+PONG\r\n");
    v2.expect(&["PING"], "+PONG\r\n");
    me.expect(
        &[
            "CLIENT",
            "KILL",
            "LADDR",
            &s.addr(),
            "TYPE",
            "normal",
            "USER",
            "default",
        ],
        ":2\r\n",
    );
    assert!(v1.is_closed());
    assert!(v2.is_closed());
    me.expect(&["PING"], "+PONG\r\n");

    // SKIPME no: the caller is killed too, after its reply.
    let mut v = s.raw();
    v.expect(&["PING"], "+PONG\r\n");
    me.expect(&["CLIENT", "KILL", "SKIPME", "no"], ":2\r\n");
    assert!(v.is_closed());
    assert!(me.is_closed());

    // Old form on oneself: +OK, then closed.
    let mut me = s.raw();
    let addr = me.stream.local_addr().unwrap().to_string();
    me.expect(&["CLIENT", "KILL", &addr], "+OK\r\n");
    assert!(me.is_closed());

    // SKIPME yes: everyone but the caller.
    let mut me = s.raw();
    let mut v = s.raw();
    v.expect(&["PING"], "+PONG\r\n");
    me.expect(&["CLIENT", "KILL", "skipme", "YES"], ":1\r\n");
    assert!(v.is_closed());
    me.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn client_reply_modes() {
    let s = Server::start();
    let mut c = s.raw();
    // OFF: no reply to it or anything after until ON, whose +OK is the first reply read.
    let mut batch = resp(&[b"CLIENT", b"REPLY", b"OFF"]);
    batch.extend(resp(&[b"PING", b"pong"]));
    batch.extend(resp(&[b"PING", b"pong2"]));
    batch.extend(resp(&[b"CLIENT", b"REPLY", b"ON"]));
    c.send(&batch);
    assert_eq!(text(c.read_reply()), "+OK\r\n");
    // SKIP: no reply to it or to the next command.
    let mut batch = resp(&[b"CLIENT", b"REPLY", b"SKIP"]);
    batch.extend(resp(&[b"PING", b"pong"]));
    batch.extend(resp(&[b"PING", b"pong2"]));
    c.send(&batch);
    assert_eq!(text(c.read_reply()), "$5\r\npong2\r\n");
    // SKIP then ON: ON clears the skip, and its +OK is sent.
    let mut batch = resp(&[b"CLIENT", b"REPLY", b"SKIP"]);
    batch.extend(resp(&[b"CLIENT", b"REPLY", b"ON"]));
    c.send(&batch);
    assert_eq!(text(c.read_reply()), "+OK\r\n");
    c.expect(&["CLIENT", "REPLY", "maybe"], SYNTAX);
    c.expect(&["CLIENT", "REPLY", "on"], "+OK\r\n");
    // Commands run while replies are off.
    let mut batch = resp(&[b"CLIENT", b"REPLY", b"OFF"]);
    batch.extend(resp(&[b"SET", b"quiet", b"1"]));
    batch.extend(resp(&[b"CLIENT", b"REPLY", b"ON"]));
    c.send(&batch);
    assert_eq!(text(c.read_reply()), "+OK\r\n");
    c.expect(&["GET", "quiet"], "$1\r\n1\r\n");
    c.expect_silence(50);
}

/// redis-py 5 with `protocol=2`: AUTH, CLIENT SETNAME, CLIENT SETINFO x2, SELECT, then its
/// default pipeline (MULTI ... EXEC in one write).
#[test]
fn connect_redis_py_resp2() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    c.expect(&["AUTH", "pw"], "+OK\r\n");
    c.expect(&["CLIENT", "SETNAME", "app"], "+OK\r\n");
    // redis-py sends both SETINFOs before reading either reply.
    let got = pipeline(
        &mut c,
        &[
            &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
            &["CLIENT", "SETINFO", "LIB-VER", "5.0.1"],
        ],
    );
    assert_eq!(got, "+OK\r\n+OK\r\n");
    c.expect(&["SELECT", "2"], "+OK\r\n");
    let got = pipeline(
        &mut c,
        &[&["MULTI"], &["SET", "a", "1"], &["INCR", "a"], &["GET", "a"], &["EXEC"]],
    );
    assert_eq!(
        got,
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
    );
    let info = payload(&c.cmd(&["CLIENT", "INFO"]));
    assert!(info.contains(" name=app "), "{}", info);
    assert!(info.contains(" db=2 "), "{}", info);
    assert!(info.ends_with(" resp=2 lib-name=redis-py lib-ver=5.0.1\n"), "{}", info);
}

/// redis-py 5 with `protocol=3` (and redis-py 8's default): HELLO 3 AUTH first; the reply must
/// be a map whose `proto` is the integer 3.
#[test]
fn connect_redis_py_resp3() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    // Connection ids are handed out in order: the next one is this one's plus one.
    let id = {
        let mut o = s.raw();
        o.expect(&["AUTH", "pw"], "+OK\r\n");
        int_reply(&mut o, &["CLIENT", "ID"]) + 1
    };
    let mut c = s.raw();
    assert_eq!(text(c.cmd(&["HELLO", "3", "AUTH", "default", "pw"])), hello3(id));
    let got = pipeline(
        &mut c,
        &[
            &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
            &["CLIENT", "SETINFO", "LIB-VER", "8.0.0"],
        ],
    );
    assert_eq!(got, "+OK\r\n+OK\r\n");
    // redis-py 8 also sends CLIENT MAINT_NOTIFICATIONS, and tolerates its error.
    let r = text(c.cmd(&["CLIENT", "MAINT_NOTIFICATIONS", "ON", "moving-endpoint-type", "none"]));
    assert_eq!(r, "-ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP.\r\n");
    c.expect(&["SELECT", "0"], "+OK\r\n");
    c.expect(&["GET", "missing"], "_\r\n");
}

/// go-redis v9: HELLO 3 with AUTH and SETNAME, then a pipeline of SELECT and CLIENT SETINFO.
#[test]
fn connect_go_redis() {
    let s = Server::start();
    let id = {
        let mut o = s.raw();
        int_reply(&mut o, &["CLIENT", "ID"]) + 1
    };
    let mut c = s.raw();
    assert_eq!(text(c.cmd(&["HELLO", "3", "SETNAME", "worker-1"])), hello3(id));
    let got = pipeline(
        &mut c,
        &[
            &["SELECT", "1"],
            &["CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.22.1)"],
            &["CLIENT", "SETINFO", "LIB-VER", "9.5.1"],
        ],
    );
    assert_eq!(got, "+OK\r\n+OK\r\n+OK\r\n");
    c.expect(&["CLIENT", "GETNAME"], "$8\r\nworker-1\r\n");

    // With a password, HELLO 3 AUTH answers the map (it must never be NOAUTH when AUTH is
    // given), and a bad password is WRONGPASS, on which go-redis gives up.
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    let r = text(c.cmd(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "w"]));
    assert_eq!(r, hello3(int_reply(&mut c, &["CLIENT", "ID"])));
    let mut c = s.raw();
    c.expect(&["HELLO", "3", "AUTH", "default", "bad"], WRONGPASS);
}

/// node-redis 4: AUTH, CLIENT SETNAME, CLIENT SETINFO x2, SELECT, sent as one pipeline.
#[test]
fn connect_node_redis() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    let got = pipeline(
        &mut c,
        &[
            &["AUTH", "default", "pw"],
            &["CLIENT", "SETNAME", "node"],
            &["CLIENT", "SETINFO", "LIB-NAME", "node-redis"],
            &["CLIENT", "SETINFO", "LIB-VER", "4.6.13"],
            &["SELECT", "3"],
        ],
    );
    assert_eq!(got, "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
}

/// ioredis 5: AUTH, SELECT, CLIENT SETNAME, CLIENT SETINFO, then INFO, which it parses as
/// `field:value` lines and waits while `loading` is not 0.
#[test]
fn connect_ioredis() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    let got = pipeline(
        &mut c,
        &[
            &["AUTH", "pw"],
            &["SELECT", "0"],
            &["CLIENT", "SETNAME", "io"],
            &["CLIENT", "SETINFO", "LIB-NAME", "ioredis"],
            &["CLIENT", "SETINFO", "LIB-VER", "5.3.2"],
        ],
    );
    assert_eq!(got, "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
    let info = payload(&c.cmd(&["INFO"]));
    let mut fields = std::collections::HashMap::new();
    for line in info.split("\r\n") {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not field:value: {:?}", line));
        assert!(
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{:?}",
            line
        );
        fields.insert(k.to_string(), v.to_string());
    }
    assert_eq!(fields["loading"], "0");
    assert_eq!(fields["redis_version"], "7.0.15");
    assert_eq!(fields["role"], "master");
}

/// Jedis 5: AUTH, CLIENT SETNAME, CLIENT SETINFO x2, SELECT. It ignores an error only if the
/// text contains UNKNOWN or NOAUTH, so every reply must be +OK.
#[test]
fn connect_jedis() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    c.expect(&["AUTH", "pw"], "+OK\r\n");
    c.expect(&["CLIENT", "SETNAME", "jedis-conn"], "+OK\r\n");
    c.expect(&["CLIENT", "SETINFO", "LIB-NAME", "jedis"], "+OK\r\n");
    c.expect(&["CLIENT", "SETINFO", "LIB-VER", "5.1.2"], "+OK\r\n");
    c.expect(&["SELECT", "4"], "+OK\r\n");
    // Jedis 5 in RESP3 mode starts with HELLO 3 AUTH.
    let mut c = s.raw();
    let r = text(c.cmd(&["HELLO", "3", "AUTH", "default", "pw"]));
    assert_eq!(r, hello3(int_reply(&mut c, &["CLIENT", "ID"])));
    c.expect(&["CLIENT", "SETINFO", "LIB-NAME", "jedis"], "+OK\r\n");
}

/// redis-cli 7: AUTH, SELECT, optionally HELLO 3, then COMMAND DOCS for its hints.
#[test]
fn connect_redis_cli() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    c.expect(&["AUTH", "pw"], "+OK\r\n");
    c.expect(&["SELECT", "1"], "+OK\r\n");
    let docs = text(c.cmd(&["COMMAND", "DOCS"]));
    let n: usize = docs[1..docs.find("\r\n").unwrap()].parse().unwrap();
    assert!(docs.starts_with('*') && n > 0 && n.is_multiple_of(2), "{}", &docs[..20]);
    let r = text(c.cmd(&["HELLO", "3"]));
    assert_eq!(r, hello3(int_reply(&mut c, &["CLIENT", "ID"])));
    let docs = text(c.cmd(&["COMMAND", "DOCS", "get"]));
    assert!(docs.starts_with("%1\r\n$3\r\nget\r\n%"), "{}", docs);
    // --pipe ends with ECHO of 20 random bytes as a marker.
    let marker = "0123456789abcdefghij";
    c.expect(&["ECHO", marker], &bulk(marker));
}

#[test]
fn redis_crate_resp2_and_resp3() {
    let s = Server::start();
    let mut r2 = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut r2).unwrap();
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut r2).unwrap();
    assert!(info.contains(" resp=2 lib-name=redis-rs lib-ver="), "{}", info);

    let mut r3 = s.client3();
    let v: String = redis::cmd("GET").arg("k").query(&mut r3).unwrap();
    assert_eq!(v, "v");
    let missing: redis::Value = redis::cmd("GET").arg("nope").query(&mut r3).unwrap();
    assert_eq!(missing, redis::Value::Nil);
    match redis::cmd("CLIENT").arg("INFO").query::<redis::Value>(&mut r3).unwrap() {
        redis::Value::VerbatimString { text, .. } => {
            assert!(text.contains(" resp=3 lib-name=redis-rs lib-ver="), "{}", text)
        }
        other => panic!("CLIENT INFO in RESP3 is verbatim, got {:?}", other),
    }
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut r3).unwrap();
    assert_eq!(
        redis::cmd("HELLO").query::<redis::Value>(&mut r3).unwrap(),
        common::hello3_value(id)
    );
    match redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query::<redis::Value>(&mut r3)
        .unwrap()
    {
        redis::Value::Map(pairs) => assert_eq!(
            pairs,
            vec![(
                redis::Value::BulkString(b"maxmemory".to_vec()),
                redis::Value::BulkString(b"0".to_vec())
            )]
        ),
        other => panic!("CONFIG GET in RESP3 is a map, got {:?}", other),
    }
    // redis-rs's atomic pipeline is MULTI ... EXEC.
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("n")
        .cmd("INCRBY")
        .arg("n")
        .arg(5)
        .query(&mut r3)
        .unwrap();
    assert_eq!((a, b), (1, 6));
}

/// Redis checks a command's existence and arity before authentication, counts refusals as
/// `rejected_calls`, and lets everyone in once the password is cleared.
#[test]
fn auth_after_existence_and_arity_rejections_counted_password_cleared() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    c.expect(&["foo"], "-ERR unknown command 'foo', with args beginning with: \r\n");
    c.expect(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["GET", "k"], "-NOAUTH Authentication required.\r\n");
    let mut admin = s.raw();
    admin.expect(&["AUTH", "pw"], "+OK\r\n");
    let info = String::from_utf8(admin.cmd(&["INFO", "commandstats"])).unwrap();
    assert!(
        info.contains("cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,failed_calls=0\r\n"),
        "{info}"
    );
    admin.expect(&["CONFIG", "SET", "requirepass", ""], "+OK\r\n");
    c.expect(&["GET", "k"], "$-1\r\n");
}
