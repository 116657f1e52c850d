//! ACL LOG entries, read whole: every field exact but the clock's (age-seconds, and age= and
//! idle= in client-info), which are checked for their type and a plausible range.

use super::value::{parse, V};
use super::{payload, resp, Raw};

/// An ACL LOG entry (Redis 7.0: these fields, in this order, plus age-seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub count: i64,
    pub reason: String,
    pub context: String,
    pub object: String,
    pub username: String,
    /// With the clock's fields written `age=? idle=?`.
    pub client_info: String,
}

/// The fields of an entry, in Redis 7.0.15's order.
const FIELDS: [&str; 7] = [
    "count",
    "reason",
    "context",
    "object",
    "username",
    "age-seconds",
    "client-info",
];

/// The clock's values are at most this many seconds (a test's whole run).
const MAX_AGE: f64 = 300.0;

/// `ACL LOG [args]` from `c`, every entry checked for its shape (RESP2 or RESP3, as `c`
/// speaks) and returned with its clock fields taken out.
#[track_caller]
pub fn acl_log(c: &mut Raw, args: &[&str]) -> Vec<Entry> {
    let mut a = vec!["ACL", "LOG"];
    a.extend_from_slice(args);
    let raw = c.cmd(&a);
    let resp3 = raw.windows(3).any(|w| w == b"\r\n%");
    parse(&raw).arr().iter().map(|e| entry_of(e, resp3, &raw)).collect()
}

#[track_caller]
fn entry_of(e: &V, resp3: bool, raw: &[u8]) -> Entry {
    let items = e.arr();
    let names: Vec<&V> = items.iter().step_by(2).collect();
    let want: Vec<V> = FIELDS.iter().map(|f| V::Str(f.to_string())).collect();
    assert_eq!(
        names,
        want.iter().collect::<Vec<_>>(),
        "{:?}",
        String::from_utf8_lossy(raw)
    );
    // RESP2: a bulk string (%.17g of the seconds); RESP3: a double.
    let age = match (e.get("age-seconds"), resp3) {
        (V::Str(a), false) | (V::Double(a), true) => a.clone(),
        (other, _) => panic!("age-seconds: {other:?} (resp3: {resp3})"),
    };
    let secs: f64 = age.parse().unwrap_or_else(|_| panic!("age-seconds {age:?}"));
    assert!((0.0..MAX_AGE).contains(&secs), "age-seconds {age}");
    Entry {
        count: e.get_int("count"),
        reason: e.get_str("reason"),
        context: e.get_str("context"),
        object: e.get_str("object"),
        username: e.get_str("username"),
        client_info: without_clock(&e.get_str("client-info")),
    }
}

/// A CLIENT LIST line with `age=` and `idle=` (whole seconds, checked) written `?`.
#[track_caller]
pub fn without_clock(line: &str) -> String {
    line.split(' ')
        .map(|kv| match kv.split_once('=') {
            Some((k @ ("age" | "idle"), v)) => {
                let n: u64 = v.parse().unwrap_or_else(|_| panic!("{k}={v:?} in {line:?}"));
                assert!((n as f64) < MAX_AGE, "{k}={n} in {line:?}");
                format!("{k}=?")
            }
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An entry as a test expects it.
pub fn entry(count: i64, reason: &str, context: &str, object: &str, username: &str, client_info: &Info) -> Entry {
    Entry {
        count,
        reason: reason.into(),
        context: context.into(),
        object: object.into(),
        username: username.into(),
        client_info: client_info.line(),
    }
}

/// The CLIENT LIST line of a client as ACL LOG records it, field by field. `id` and `fd` are
/// the server's to choose (read from CLIENT LIST by `Info::of`); the addresses are the
/// socket's; the rest follows from what the test sent.
#[derive(Debug, Clone)]
pub struct Info {
    pub id: i64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub name: String,
    pub flags: String,
    pub db: i64,
    pub multi: i64,
    /// The bytes of the command being run, as read (`qbuf_of`).
    pub qbuf: usize,
    pub cmd: String,
    pub user: String,
    pub resp: u8,
}

/// The read buffer of a RESP connection (16 KiB until a larger request needs more).
const RBS: usize = 16384;

impl Info {
    /// Connection `c` as `observer` sees it in CLIENT LIST (id and fd), a fresh connection's
    /// other fields (user `default`, database 0, RESP2, no name, `flags=N`, no command).
    #[track_caller]
    pub fn of(observer: &mut Raw, c: &Raw) -> Info {
        let addr = c.stream.local_addr().unwrap().to_string();
        let laddr = c.stream.peer_addr().unwrap().to_string();
        let list = payload(&observer.cmd(&["CLIENT", "LIST"]));
        let line = list
            .lines()
            .find(|l| l.split(' ').any(|kv| kv == format!("addr={addr}")))
            .unwrap_or_else(|| panic!("no addr={addr} in {list:?}"));
        let id = super::client_field(line, "id").parse().unwrap();
        Info::fresh(id, addr, laddr, super::client_field(line, "fd").parse().unwrap())
    }

    /// A fresh RESP2 connection: user `default`, database 0, no name, `flags=N`, no command.
    pub fn fresh(id: i64, addr: String, laddr: String, fd: i64) -> Info {
        Info {
            id,
            addr,
            laddr,
            fd,
            name: String::new(),
            flags: "N".into(),
            db: 0,
            multi: -1,
            qbuf: 0,
            cmd: String::new(),
            user: "default".into(),
            resp: 2,
        }
    }

    /// This client running `args` (sent alone, as one RESP array) as `user`; `cmd` is the
    /// command's name in CLIENT LIST (`get`, `client|list`).
    pub fn running(&self, args: &[&str], cmd: &str, user: &str) -> Info {
        Info {
            qbuf: qbuf_of(args),
            cmd: cmd.into(),
            user: user.into(),
            ..self.clone()
        }
    }

    /// The session of an HTTP request as ACL LOG records it (`got`, its logged line): no
    /// socket of its own (`fd=-1`), nothing in a read buffer, RESP3, the HTTP listener on
    /// `http_port` as local address. Its id and the client's port are the server's and the
    /// kernel's, the request's connection being the HTTP client's: they are taken from `got`,
    /// checked to be an id given after `before_id` and a port of 127.0.0.1.
    #[track_caller]
    pub fn http_request(got: &str, before_id: i64, http_port: u16, db: i64, cmd: &str, user: &str) -> Info {
        let id: i64 = super::client_field(got, "id").parse().unwrap();
        assert!(id > before_id, "id={id} in {got:?}, given before {before_id}");
        let addr = super::client_field(got, "addr");
        let port = addr.strip_prefix("127.0.0.1:").expect(got);
        assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{got:?}");
        Info {
            id,
            addr: addr.to_string(),
            laddr: format!("127.0.0.1:{http_port}"),
            fd: -1,
            name: String::new(),
            flags: "N".into(),
            db,
            multi: -1,
            qbuf: 0,
            cmd: cmd.into(),
            user: user.into(),
            resp: 3,
        }
    }

    /// The line, clock fields written `?` as `without_clock` leaves them.
    pub fn line(&self) -> String {
        let Info {
            id,
            addr,
            laddr,
            fd,
            name,
            flags,
            db,
            multi,
            qbuf,
            cmd,
            user,
            resp,
        } = self;
        format!(
            "id={id} addr={addr} laddr={laddr} fd={fd} name={name} age=? idle=? flags={flags} db={db} sub=0 psub=0 ssub=0 multi={multi} qbuf={qbuf} qbuf-free={} argv-mem=0 multi-mem=0 rbs={RBS} rbp=0 obl=0 oll=0 omem=0 tot-mem={} events=r cmd={cmd} user={user} redir=-1 resp={resp} lib-name= lib-ver=",
            RBS - qbuf,
            RBS + qbuf,
        )
    }
}

/// The size of `args` as one RESP array: what the read buffer holds while it runs.
pub fn qbuf_of(args: &[&str]) -> usize {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    resp(&a).len()
}
