//! COMMAND GETKEYS and GETKEYSANDFLAGS against the real binary: the keys the ACL checks
//! (`table::for_each_key`), shown to clients. The Redis commands' replies are byte for byte
//! redis-server 7.0.15's (checked against a live one); the KV.* commands follow the same rules,
//! KV.MGET's trailing WITHMETADATA being no key and KV.BULKPUT's keys read from its JSON body.

mod common;
use common::{arity, bulk, Server};

const NO_KEYS: &str = "-ERR The command has no key arguments\r\n";
const BAD_ARITY: &str = "-ERR Invalid number of arguments specified for command\r\n";
const INVALID: &str = "-ERR Invalid command specified\r\n";

/// A GETKEYSANDFLAGS reply (RESP2): each key with its flags.
fn with_flags(keys: &[(&str, &[&str])]) -> String {
    let mut out = format!("*{}\r\n", keys.len());
    for (k, flags) in keys {
        out.push_str(&format!("*2\r\n{}*{}\r\n", bulk(k), flags.len()));
        for f in *flags {
            out.push_str(&format!("+{f}\r\n"));
        }
    }
    out
}

/// A GETKEYS reply: the keys as bulk strings.
fn keys(ks: &[&str]) -> String {
    let mut out = format!("*{}\r\n", ks.len());
    for k in ks {
        out.push_str(&bulk(k));
    }
    out
}

const RO_ACCESS: &[&str] = &["RO", "access"];
const OW_UPDATE: &[&str] = &["OW", "update"];
const RM_DELETE: &[&str] = &["RM", "delete"];

#[test]
fn kv_commands_keys_and_flags() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["COMMAND", "GETKEYS", "KV.GET", "k"], &keys(&["k"]));
    c.expect(&["COMMAND", "GETKEYS", "KV.GET", "k", "json"], &keys(&["k"]));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.GET", "k"],
        &with_flags(&[("k", RO_ACCESS)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.GETWITHMETADATA", "k"],
        &with_flags(&[("k", RO_ACCESS)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.BULKGET", "a", "b"],
        &with_flags(&[("a", RO_ACCESS), ("b", RO_ACCESS)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.PUT", "k", "v"],
        &with_flags(&[("k", OW_UPDATE)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.PUT", "k", "v", "EXPIRATION_TTL", "60"],
        &with_flags(&[("k", OW_UPDATE)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.DELETE", "a", "b"],
        &with_flags(&[("a", RM_DELETE), ("b", RM_DELETE)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.BULKDELETE", "a", "b"],
        &with_flags(&[("a", RM_DELETE), ("b", RM_DELETE)]),
    );
    // RESP3: the flags are a set, as Redis sends them.
    c.cmd(&["HELLO", "3"]);
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.PUT", "k", "v"],
        "*1\r\n*2\r\n$1\r\nk\r\n~2\r\n+OW\r\n+update\r\n",
    );
}

/// The trailing WITHMETADATA (any case) is KV.MGET's option, not a key; anywhere else it is a
/// key. Alone it stays a key, as the ACL has always checked it (the command refuses that line).
#[test]
fn kv_mget_withmetadata_is_no_key() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["COMMAND", "GETKEYS", "KV.MGET", "a", "b"], &keys(&["a", "b"]));
    c.expect(
        &["COMMAND", "GETKEYS", "KV.MGET", "a", "b", "WITHMETADATA"],
        &keys(&["a", "b"]),
    );
    c.expect(
        &["COMMAND", "GETKEYS", "KV.MGET", "a", "b", "withMetadata"],
        &keys(&["a", "b"]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.MGET", "a", "WITHMETADATA"],
        &with_flags(&[("a", RO_ACCESS)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.MGET", "a", "b"],
        &with_flags(&[("a", RO_ACCESS), ("b", RO_ACCESS)]),
    );
    c.expect(
        &["COMMAND", "GETKEYS", "KV.MGET", "WITHMETADATA", "a"],
        &keys(&["WITHMETADATA", "a"]),
    );
    c.expect(
        &["COMMAND", "GETKEYS", "KV.MGET", "WITHMETADATA"],
        &keys(&["WITHMETADATA"]),
    );
}

/// KV.BULKPUT's keys are the items' "key"s, read as the command and the ACL read them; a body
/// without keys (empty, or one the command refuses unread) gives an empty array, as Redis
/// answers for EVAL with 0 keys.
#[test]
fn kv_bulkput_keys_come_from_its_body() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(
        &[
            "COMMAND",
            "GETKEYS",
            "KV.BULKPUT",
            r#"[{"key":"a","value":"1"},{"key":"b","value":"2"}]"#,
        ],
        &keys(&["a", "b"]),
    );
    c.expect(
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "KV.BULKPUT",
            r#"[{"key":"a","value":"1"},{"key":"b","value":"2"}]"#,
        ],
        &with_flags(&[("a", OW_UPDATE), ("b", OW_UPDATE)]),
    );
    // A repeated "key" is the last one, as the command takes it.
    c.expect(
        &[
            "COMMAND",
            "GETKEYS",
            "KV.BULKPUT",
            r#"[{"key":"a","key":"b","value":"2"}]"#,
        ],
        &keys(&["b"]),
    );
    // An item without a string "key" has none (the command refuses the whole body).
    c.expect(
        &[
            "COMMAND",
            "GETKEYS",
            "KV.BULKPUT",
            r#"[{"value":"1"},{"key":7},{"key":"b","value":"2"}]"#,
        ],
        &keys(&["b"]),
    );
    c.expect(&["COMMAND", "GETKEYS", "KV.BULKPUT", "[]"], "*0\r\n");
    c.expect(&["COMMAND", "GETKEYSANDFLAGS", "KV.BULKPUT", "[]"], "*0\r\n");
    c.expect(&["COMMAND", "GETKEYS", "KV.BULKPUT", "nope"], "*0\r\n");
    c.expect(
        &["COMMAND", "GETKEYS", "KV.BULKPUT", r#"{"key":"a","value":"1"}"#],
        "*0\r\n",
    );
    // Over 10,000 items: refused by the command before any is read, so no keys.
    let many = format!("[{}]", vec![r#"{"key":"a","value":"1"}"#; 10_001].join(","));
    c.expect(&["COMMAND", "GETKEYS", "KV.BULKPUT", &many], "*0\r\n");
    c.expect(&["COMMAND", "GETKEYS", "KV.BULKPUT", "[]", "x"], BAD_ARITY);
    c.expect(&["COMMAND", "GETKEYS", "KV.BULKPUT"], &arity("command|getkeys"));
}

#[test]
fn kv_commands_without_keys() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["COMMAND", "GETKEYS", "KV.LIST", "PREFIX", "a"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYSANDFLAGS", "KV.LIST", "PREFIX", "a"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYS", "KV.NAMESPACE", "LIST"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYS", "KV.NAMESPACE", "CREATE", "x"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYS", "KV.NAMESPACE", "nosuch"], INVALID);
    c.expect(&["COMMAND", "GETKEYS", "KV.NOSUCH", "a"], INVALID);
    c.expect(&["COMMAND", "GETKEYS", "KV.PUT", "k"], BAD_ARITY);
    c.expect(&["COMMAND", "GETKEYSANDFLAGS", "KV.PUT", "k"], BAD_ARITY);
    c.expect(&["COMMAND", "GETKEYS", "KV.GET"], &arity("command|getkeys"));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "KV.MGET"],
        &arity("command|getkeysandflags"),
    );
    c.expect(&["COMMAND", "GETKEYS", "KV.LIST"], &arity("command|getkeys"));
}

/// The Redis commands whose keys come from a hook or two key specs, and the error order
/// (command, then whether it has keys, then arity), as redis-server 7.0.15 replies.
#[test]
fn redis_commands_match_redis() {
    let s = Server::start();
    let mut c = s.raw();
    let rw_access_update: &[&str] = &["RW", "access", "update"];
    c.expect(&["COMMAND", "GETKEYS", "SET", "k", "v", "GET"], &keys(&["k"]));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET"],
        &with_flags(&[("k", rw_access_update)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "get", "ex", "10"],
        &with_flags(&[("k", rw_access_update)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "NX"],
        &with_flags(&[("k", OW_UPDATE)]),
    );
    // GET in the value's place is the value.
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "get"],
        &with_flags(&[("k", OW_UPDATE)]),
    );
    c.expect(&["COMMAND", "GETKEYS", "SET", "k"], BAD_ARITY);
    c.expect(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"], &keys(&["a", "b"]));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2"],
        &with_flags(&[("a", OW_UPDATE), ("b", OW_UPDATE)]),
    );
    c.expect(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b"], &keys(&["a", "b"]));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "MSETNX", "a", "1"],
        &with_flags(&[("a", &["OW", "insert"])]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "COPY", "a", "b"],
        &with_flags(&[("a", RO_ACCESS), ("b", OW_UPDATE)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "COPY", "a", "b", "DB", "1", "REPLACE"],
        &with_flags(&[("a", RO_ACCESS), ("b", OW_UPDATE)]),
    );
    c.expect(&["COMMAND", "GETKEYS", "COPY", "a"], BAD_ARITY);
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "RENAME", "a", "b"],
        &with_flags(&[("a", &["RW", "access", "delete"]), ("b", OW_UPDATE)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "RENAMENX", "a", "b"],
        &with_flags(&[("a", &["RW", "access", "delete"]), ("b", &["OW", "insert"])]),
    );
    c.expect(&["COMMAND", "GETKEYS", "RENAME", "a"], BAD_ARITY);
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "GETEX", "a"],
        &with_flags(&[("a", rw_access_update)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "GETEX", "a", "PERSIST"],
        &with_flags(&[("a", rw_access_update)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "GETDEL", "a"],
        &with_flags(&[("a", &["RW", "access", "delete"])]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "MGET", "a", "b", "c"],
        &with_flags(&[("a", RO_ACCESS), ("b", RO_ACCESS), ("c", RO_ACCESS)]),
    );
    c.expect(&["COMMAND", "GETKEYS", "MGET", "a"], &keys(&["a"]));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "DEL", "a", "b"],
        &with_flags(&[("a", RM_DELETE), ("b", RM_DELETE)]),
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "EXISTS", "a"],
        &with_flags(&[("a", &["RO"])]),
    );
    // Whether the command has keys is asked before its arity.
    c.expect(&["COMMAND", "GETKEYS", "TIME", "x"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYS", "PING", "x", "y"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYS", "CONFIG", "GET"], NO_KEYS);
    c.expect(&["COMMAND", "GETKEYS", "CONFIG", "nosuch"], INVALID);
    c.expect(&["COMMAND", "GETKEYS", "nosuch", "x"], INVALID);
    c.expect(&["COMMAND", "GETKEYSANDFLAGS", "GET", "a", "b"], BAD_ARITY);
    c.cmd(&["HELLO", "3"]);
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET"],
        "*1\r\n*2\r\n$1\r\nk\r\n~3\r\n+RW\r\n+access\r\n+update\r\n",
    );
    c.expect(&["COMMAND", "GETKEYS", "MGET", "a", "b"], &keys(&["a", "b"]));
}
