//! The command table: every command's name, arity (Redis's convention: positive = exact
//! argument count including the name, negative = at least), flags, key positions, ACL
//! categories and its entry point. COMMAND INFO/DOCS/COUNT/LIST read it; `dispatch` uses it.
//! `for_each_key` is the one reading of a command line's keys (ACL checks, COMMAND GETKEYS).

use super::{
    acl, connection as conn, expire, keys, kv, multi, namespace as ns, run, server as srv, slowlog, strings as st, Ctx,
};
use crate::protocol::Reply;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NOSCRIPT: u32 = 1 << 4;
    pub const LOADING: u32 = 1 << 5;
    pub const STALE: u32 = 1 << 6;
    pub const FAST: u32 = 1 << 7;
    pub const NO_AUTH: u32 = 1 << 8;
    pub const NO_MULTI: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const ALLOW_BUSY: u32 = 1 << 11;
    /// Internal: runs with the store gate held exclusively (multi-key atomicity).
    pub const EXCLUSIVE: u32 = 1 << 16;
    /// Internal: does not touch the store, takes no gate.
    pub const NO_GATE: u32 = 1 << 17;
    /// Internal: executed even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const TX_CONTROL: u32 = 1 << 18;
    /// Internal: a line of this command may have no keys (Redis's `no_mandatory_keys`, as
    /// EVAL with 0 keys): COMMAND GETKEYS answers an empty array instead of an error.
    pub const NO_MANDATORY_KEYS: u32 = 1 << 19;

    /// In the order Redis's `addReplyCommandFlags` prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

pub type Handler = fn(&mut Ctx, &[Bytes]) -> Reply;

pub struct CommandSpec {
    pub name: &'static str,
    /// `container|sub` for subcommands, the name otherwise (used in arity errors).
    pub fullname: &'static str,
    pub arity: i32,
    pub flags: u32,
    /// First key, last key (negative: from the end), step; 0,0,0 when there are no keys.
    pub keys: (i32, i32, i32),
    pub categories: &'static [&'static str],
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub run: Handler,
    pub subcommands: &'static [CommandSpec],
    /// The command's own reading of its keys where key specs cannot say them (Redis's
    /// `getkeys_proc`); `None`: its key specs say them. See `for_each_key`.
    pub getkeys: Option<GetKeys>,
}

/// The access flags of one key, as key specs and COMMAND GETKEYSANDFLAGS name them.
pub type KeyFlags = &'static [&'static str];

/// Calls `emit(key, flags)` for each key of a full command line (`argv[0]` is the name).
pub type GetKeys = fn(&[Bytes], &mut dyn FnMut(&[u8], KeyFlags));

use flags::*;

#[allow(clippy::too_many_arguments)]
const fn c(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    categories: &'static [&'static str],
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    run: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        fullname: name,
        arity,
        flags,
        keys,
        categories,
        group,
        summary,
        since,
        run,
        subcommands: &[],
        getkeys: None,
    }
}

#[allow(clippy::too_many_arguments)]
const fn sub(
    fullname: &'static str,
    name: &'static str,
    arity: i32,
    flags: u32,
    categories: &'static [&'static str],
    since: &'static str,
    summary: &'static str,
    run: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        fullname,
        arity,
        flags,
        keys: (0, 0, 0),
        categories,
        group: "",
        summary,
        since,
        run,
        subcommands: &[],
        getkeys: None,
    }
}

const fn container(
    name: &'static str,
    arity: i32,
    flags: u32,
    categories: &'static [&'static str],
    group: &'static str,
    summary: &'static str,
    subs: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        fullname: name,
        arity,
        flags,
        keys: (0, 0, 0),
        categories,
        group,
        summary,
        since: "2.0.0",
        run: srv::container_without_sub,
        subcommands: subs,
        getkeys: None,
    }
}

const NOK: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const K12: (i32, i32, i32) = (1, 2, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);
const KPAIRS: (i32, i32, i32) = (1, -1, 2);

const SR: &[&str] = &["@read", "@string", "@fast"];
const SW: &[&str] = &["@write", "@string", "@fast"];
const SWS: &[&str] = &["@write", "@string", "@slow"];
const KR: &[&str] = &["@keyspace", "@read", "@fast"];
const KRS: &[&str] = &["@keyspace", "@read", "@slow"];
const KW: &[&str] = &["@keyspace", "@write", "@fast"];
const KWS: &[&str] = &["@keyspace", "@write", "@slow"];
const KWD: &[&str] = &["@keyspace", "@write", "@slow", "@dangerous"];
const KRD: &[&str] = &["@keyspace", "@read", "@slow", "@dangerous"];
const CF: &[&str] = &["@fast", "@connection"];
const CS: &[&str] = &["@slow", "@connection"];
const AD: &[&str] = &["@admin", "@slow", "@dangerous"];
const TX: &[&str] = &["@fast", "@transaction"];
const TXS: &[&str] = &["@slow", "@transaction"];

const ACLF: u32 = ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE;
const ACLD: &[&str] = &["@admin", "@slow", "@dangerous"];

static ACL_SUBS: [CommandSpec; 13] = [
    sub(
        "acl|cat",
        "cat",
        -2,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        &["@slow"],
        "6.0.0",
        "Lists the ACL categories, or the commands inside a category.",
        run::<acl::AclCat>,
    ),
    sub(
        "acl|deluser",
        "deluser",
        -3,
        ACLF,
        ACLD,
        "6.0.0",
        "Deletes ACL users, and terminates their connections.",
        run::<acl::AclDeluser>,
    ),
    sub(
        "acl|dryrun",
        "dryrun",
        -4,
        ACLF,
        ACLD,
        "7.0.0",
        "Simulates the execution of a command by a user, without executing the command.",
        run::<acl::AclDryrun>,
    ),
    sub(
        "acl|genpass",
        "genpass",
        -2,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        &["@slow"],
        "6.0.0",
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
        run::<acl::AclGenpass>,
    ),
    sub(
        "acl|getuser",
        "getuser",
        3,
        ACLF,
        ACLD,
        "6.0.0",
        "Lists the ACL rules of a user.",
        run::<acl::AclGetuser>,
    ),
    sub(
        "acl|help",
        "help",
        2,
        LOADING | STALE | NO_GATE,
        &["@slow"],
        "6.0.0",
        "Returns helpful text about the different subcommands.",
        run::<acl::AclHelp>,
    ),
    sub(
        "acl|list",
        "list",
        2,
        ACLF,
        ACLD,
        "6.0.0",
        "Dumps the effective rules in ACL file format.",
        run::<acl::AclList>,
    ),
    sub(
        "acl|load",
        "load",
        2,
        ACLF,
        ACLD,
        "6.0.0",
        "Reloads the rules from the configured ACL file.",
        run::<acl::AclLoad>,
    ),
    sub(
        "acl|log",
        "log",
        -2,
        ACLF,
        ACLD,
        "6.0.0",
        "Lists recent security events generated due to ACL rules.",
        run::<acl::AclLog>,
    ),
    sub(
        "acl|save",
        "save",
        2,
        ACLF,
        ACLD,
        "6.0.0",
        "Saves the effective ACL rules in the configured ACL file.",
        run::<acl::AclSave>,
    ),
    sub(
        "acl|setuser",
        "setuser",
        -3,
        ACLF,
        ACLD,
        "6.0.0",
        "Creates and modifies an ACL user and its rules.",
        run::<acl::AclSetuser>,
    ),
    sub(
        "acl|users",
        "users",
        2,
        ACLF,
        ACLD,
        "6.0.0",
        "Lists all ACL users.",
        run::<acl::AclUsers>,
    ),
    sub(
        "acl|whoami",
        "whoami",
        2,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        &["@slow"],
        "6.0.0",
        "Returns the authenticated username of the current connection.",
        run::<acl::AclWhoami>,
    ),
];

static CLIENT_SUBS: [CommandSpec; 11] = [
    sub(
        "client|getname",
        "getname",
        2,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "2.6.9",
        "Returns the name of the connection.",
        run::<conn::ClientGetname>,
    ),
    sub(
        "client|help",
        "help",
        2,
        LOADING | STALE | NO_GATE,
        CS,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        run::<conn::ClientHelp>,
    ),
    sub(
        "client|id",
        "id",
        2,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "5.0.0",
        "Returns the unique client ID of the connection.",
        run::<conn::ClientId>,
    ),
    sub(
        "client|info",
        "info",
        2,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "6.2.0",
        "Returns information about the connection.",
        run::<conn::ClientInfo>,
    ),
    sub(
        "client|kill",
        "kill",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        &["@admin", "@slow", "@dangerous", "@connection"],
        "2.4.0",
        "Terminates open connections.",
        run::<conn::ClientKill>,
    ),
    sub(
        "client|list",
        "list",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        &["@admin", "@slow", "@dangerous", "@connection"],
        "2.4.0",
        "Lists open connections.",
        run::<conn::ClientList>,
    ),
    sub(
        "client|no-evict",
        "no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        &["@admin", "@slow", "@dangerous", "@connection"],
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        run::<conn::ClientNoEvict>,
    ),
    sub(
        "client|no-touch",
        "no-touch",
        3,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        run::<conn::ClientNoTouch>,
    ),
    sub(
        "client|reply",
        "reply",
        3,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "3.2.0",
        "Instructs the server whether to reply to commands.",
        run::<conn::ClientReply>,
    ),
    sub(
        "client|setinfo",
        "setinfo",
        4,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "7.2.0",
        "Sets information specific to the client or connection.",
        run::<conn::ClientSetinfo>,
    ),
    sub(
        "client|setname",
        "setname",
        3,
        NOSCRIPT | LOADING | STALE | NO_GATE,
        CS,
        "2.6.9",
        "Sets the connection name.",
        run::<conn::ClientSetname>,
    ),
];

static COMMAND_SUBS: [CommandSpec; 7] = [
    sub(
        "command|count",
        "count",
        2,
        LOADING | STALE | NO_GATE,
        CS,
        "2.8.13",
        "Returns a count of commands.",
        run::<srv::CommandCount>,
    ),
    sub(
        "command|docs",
        "docs",
        -2,
        LOADING | STALE | NO_GATE,
        CS,
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        run::<srv::CommandDocs>,
    ),
    sub(
        "command|getkeys",
        "getkeys",
        -4,
        LOADING | STALE | NO_GATE,
        CS,
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
        run::<srv::CommandGetkeys>,
    ),
    sub(
        "command|getkeysandflags",
        "getkeysandflags",
        -4,
        LOADING | STALE | NO_GATE,
        CS,
        "7.0.0",
        "Extracts the key names and access flags for an arbitrary command.",
        run::<srv::CommandGetkeysandflags>,
    ),
    sub(
        "command|help",
        "help",
        2,
        LOADING | STALE | NO_GATE,
        CS,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        run::<srv::CommandHelp>,
    ),
    sub(
        "command|info",
        "info",
        -2,
        LOADING | STALE | NO_GATE,
        CS,
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        run::<srv::CommandInfo>,
    ),
    sub(
        "command|list",
        "list",
        -2,
        LOADING | STALE | NO_GATE,
        CS,
        "7.0.0",
        "Returns a list of command names.",
        run::<srv::CommandList>,
    ),
];

static CONFIG_SUBS: [CommandSpec; 5] = [
    sub(
        "config|get",
        "get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        AD,
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        run::<srv::ConfigGet>,
    ),
    sub(
        "config|help",
        "help",
        2,
        LOADING | STALE | NO_GATE,
        &["@slow"],
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        run::<srv::ConfigHelp>,
    ),
    sub(
        "config|resetstat",
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        AD,
        "2.0.0",
        "Resets the server's statistics.",
        run::<srv::ConfigResetstat>,
    ),
    sub(
        "config|rewrite",
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        AD,
        "2.8.0",
        "Persists the effective configuration to file.",
        run::<srv::ConfigRewrite>,
    ),
    sub(
        "config|set",
        "set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_GATE,
        AD,
        "2.0.0",
        "Sets configuration parameters in-flight.",
        run::<srv::ConfigSet>,
    ),
];

static SLOWLOG_SUBS: [CommandSpec; 4] = [
    sub(
        "slowlog|get",
        "get",
        -2,
        ADMIN | LOADING | STALE | NO_GATE,
        AD,
        "2.2.12",
        "Returns the slow log's entries.",
        run::<slowlog::SlowlogGet>,
    ),
    sub(
        "slowlog|help",
        "help",
        2,
        LOADING | STALE | NO_GATE,
        &["@slow"],
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        run::<slowlog::SlowlogHelp>,
    ),
    sub(
        "slowlog|len",
        "len",
        2,
        ADMIN | LOADING | STALE | NO_GATE,
        AD,
        "2.2.12",
        "Returns the number of entries in the slow log.",
        run::<slowlog::SlowlogLen>,
    ),
    sub(
        "slowlog|reset",
        "reset",
        2,
        ADMIN | LOADING | STALE | NO_GATE,
        AD,
        "2.2.12",
        "Clears all entries from the slow log.",
        run::<slowlog::SlowlogReset>,
    ),
];

/// Workers KV's namespaces (edgekv's own commands).
const KVR: &[&str] = &["@keyspace", "@read", "@fast", "@kv"];
const KVRS: &[&str] = &["@keyspace", "@read", "@slow", "@kv"];
const KVW: &[&str] = &["@keyspace", "@write", "@fast", "@kv"];
const KVWS: &[&str] = &["@keyspace", "@write", "@slow", "@kv"];
const KVA: &[&str] = &["@admin", "@slow", "@kv"];

static KV_NAMESPACE_SUBS: [CommandSpec; 7] = [
    sub(
        "kv.namespace|create",
        "create",
        3,
        WRITE | NO_GATE,
        KVA,
        "0.1.0",
        "Creates a Workers KV namespace.",
        run::<ns::NsCreate>,
    ),
    sub(
        "kv.namespace|delete",
        "delete",
        3,
        WRITE | EXCLUSIVE,
        &["@admin", "@slow", "@dangerous"],
        "0.1.0",
        "Deletes a namespace and its keys.",
        run::<ns::NsDelete>,
    ),
    sub(
        "kv.namespace|get",
        "get",
        3,
        READONLY,
        KVA,
        "0.1.0",
        "Shows a namespace by id or title.",
        run::<ns::NsGet>,
    ),
    sub(
        "kv.namespace|help",
        "help",
        2,
        LOADING | STALE | NO_GATE,
        &["@slow"],
        "0.1.0",
        "Returns helpful text about the different subcommands.",
        run::<ns::NsHelp>,
    ),
    sub(
        "kv.namespace|list",
        "list",
        2,
        READONLY,
        KVA,
        "0.1.0",
        "Lists the namespaces.",
        run::<ns::NsList>,
    ),
    sub(
        "kv.namespace|rename",
        "rename",
        4,
        WRITE | NO_GATE,
        KVA,
        "0.1.0",
        "Gives a namespace a new title.",
        run::<ns::NsRename>,
    ),
    sub(
        "kv.namespace|stats",
        "stats",
        3,
        READONLY,
        KVA,
        "0.1.0",
        "Shows a namespace's usage and quotas.",
        run::<ns::NsStats>,
    ),
];

static COMMANDS: &[CommandSpec] = &[
    // strings
    c(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        run::<st::Append>,
    ),
    c(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        run::<st::Decr>,
    ),
    c(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        run::<st::Decrby>,
    ),
    c(
        "get",
        2,
        READONLY | FAST,
        K1,
        SR,
        "string",
        "1.0.0",
        "Returns the string value of a key.",
        run::<st::Get>,
    ),
    c(
        "getdel",
        2,
        WRITE | FAST,
        K1,
        SW,
        "string",
        "6.2.0",
        "Returns the string value of a key after deleting the key.",
        run::<st::Getdel>,
    ),
    c(
        "getex",
        -2,
        WRITE | FAST,
        K1,
        SW,
        "string",
        "6.2.0",
        "Returns the string value of a key after setting its expiration time.",
        run::<st::Getex>,
    ),
    c(
        "getrange",
        4,
        READONLY,
        K1,
        &["@read", "@string", "@slow"],
        "string",
        "2.4.0",
        "Returns a substring of the string stored at a key.",
        run::<st::Getrange>,
    ),
    c(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.",
        run::<st::Getset>,
    ),
    c(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        run::<st::Incr>,
    ),
    c(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        run::<st::Incrby>,
    ),
    c(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        run::<st::Incrbyfloat>,
    ),
    c(
        "mget",
        -2,
        READONLY | FAST | EXCLUSIVE,
        KALL,
        SR,
        "string",
        "1.0.0",
        "Atomically returns the string values of one or more keys.",
        run::<st::Mget>,
    ),
    c(
        "mset",
        -3,
        WRITE | DENYOOM | EXCLUSIVE,
        KPAIRS,
        SWS,
        "string",
        "1.0.1",
        "Atomically creates or modifies the string values of one or more keys.",
        run::<st::Mset>,
    ),
    c(
        "msetnx",
        -3,
        WRITE | DENYOOM | EXCLUSIVE,
        KPAIRS,
        SWS,
        "string",
        "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        run::<st::Msetnx>,
    ),
    c(
        "psetex",
        4,
        WRITE | DENYOOM,
        K1,
        SWS,
        "string",
        "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        run::<st::Psetex>,
    ),
    CommandSpec {
        getkeys: Some(st::set_keys),
        ..c(
            "set",
            -3,
            WRITE | DENYOOM,
            K1,
            SWS,
            "string",
            "1.0.0",
            "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            run::<st::Set>,
        )
    },
    c(
        "setex",
        4,
        WRITE | DENYOOM,
        K1,
        SWS,
        "string",
        "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        run::<st::Setex>,
    ),
    c(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        SW,
        "string",
        "1.0.0",
        "Set the string value of a key only when the key doesn't exist.",
        run::<st::Setnx>,
    ),
    c(
        "setrange",
        4,
        WRITE | DENYOOM,
        K1,
        SWS,
        "string",
        "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        run::<st::Setrange>,
    ),
    c(
        "strlen",
        2,
        READONLY | FAST,
        K1,
        SR,
        "string",
        "2.2.0",
        "Returns the length of a string value.",
        run::<st::Strlen>,
    ),
    c(
        "substr",
        4,
        READONLY,
        K1,
        &["@read", "@string", "@slow"],
        "string",
        "1.0.0",
        "Returns a substring from string stored at key.",
        run::<st::Getrange>,
    ),
    // keys
    c(
        "copy",
        -3,
        WRITE | DENYOOM | EXCLUSIVE,
        K12,
        KWS,
        "generic",
        "6.2.0",
        "Copies the value of a key to a new key.",
        run::<keys::Copy>,
    ),
    c(
        "dbsize",
        1,
        READONLY | FAST,
        NOK,
        KR,
        "server",
        "1.0.0",
        "Returns the number of keys in the database.",
        run::<keys::Dbsize>,
    ),
    c(
        "del",
        -2,
        WRITE | EXCLUSIVE,
        KALL,
        KWS,
        "generic",
        "1.0.0",
        "Deletes one or more keys.",
        run::<keys::Del>,
    ),
    c(
        "exists",
        -2,
        READONLY | FAST | EXCLUSIVE,
        KALL,
        KR,
        "generic",
        "1.0.0",
        "Determines whether one or more keys exist.",
        run::<keys::Exists>,
    ),
    c(
        "flushall",
        -1,
        WRITE | EXCLUSIVE,
        NOK,
        KWD,
        "server",
        "1.0.0",
        "Removes all keys from all databases.",
        run::<keys::Flushall>,
    ),
    c(
        "flushdb",
        -1,
        WRITE | EXCLUSIVE,
        NOK,
        KWD,
        "server",
        "1.0.0",
        "Remove all keys from the current database.",
        run::<keys::Flushdb>,
    ),
    c(
        "keys",
        2,
        READONLY | EXCLUSIVE,
        NOK,
        KRD,
        "generic",
        "1.0.0",
        "Returns all key names that match a pattern.",
        run::<keys::Keys>,
    ),
    c(
        "move",
        3,
        WRITE | FAST | EXCLUSIVE,
        K1,
        KW,
        "generic",
        "1.0.0",
        "Moves a key to another database.",
        run::<keys::Move>,
    ),
    c(
        "randomkey",
        1,
        READONLY,
        NOK,
        KRS,
        "generic",
        "1.0.0",
        "Returns a random key name from the database.",
        run::<keys::Randomkey>,
    ),
    c(
        "rename",
        3,
        WRITE | EXCLUSIVE,
        K12,
        KWS,
        "generic",
        "1.0.0",
        "Renames a key and overwrites the destination.",
        run::<keys::Rename>,
    ),
    c(
        "renamenx",
        3,
        WRITE | FAST | EXCLUSIVE,
        K12,
        KW,
        "generic",
        "1.0.0",
        "Renames a key only when the target key name doesn't exist.",
        run::<keys::Renamenx>,
    ),
    c(
        "scan",
        -2,
        READONLY,
        NOK,
        KRS,
        "generic",
        "2.8.0",
        "Iterates over the key names in the database.",
        run::<keys::Scan>,
    ),
    c(
        "select",
        2,
        LOADING | STALE | FAST | NO_GATE,
        NOK,
        CF,
        "connection",
        "1.0.0",
        "Changes the selected database.",
        run::<keys::Select>,
    ),
    c(
        "swapdb",
        3,
        WRITE | FAST | EXCLUSIVE,
        NOK,
        &["@keyspace", "@write", "@fast", "@dangerous"],
        "server",
        "4.0.0",
        "Swaps two Redis databases.",
        run::<keys::Swapdb>,
    ),
    c(
        "touch",
        -2,
        READONLY | FAST | EXCLUSIVE,
        KALL,
        KR,
        "generic",
        "3.2.1",
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        run::<keys::Touch>,
    ),
    c(
        "type",
        2,
        READONLY | FAST,
        K1,
        KR,
        "generic",
        "1.0.0",
        "Determines the type of value stored at a key.",
        run::<keys::Type>,
    ),
    c(
        "unlink",
        -2,
        WRITE | FAST | EXCLUSIVE,
        KALL,
        KW,
        "generic",
        "4.0.0",
        "Asynchronously deletes one or more keys.",
        run::<keys::Unlink>,
    ),
    // expiry
    c(
        "expire",
        -3,
        WRITE | FAST,
        K1,
        KW,
        "generic",
        "1.0.0",
        "Sets the expiration time of a key in seconds.",
        run::<expire::Expire>,
    ),
    c(
        "expireat",
        -3,
        WRITE | FAST,
        K1,
        KW,
        "generic",
        "1.2.0",
        "Sets the expiration time of a key to a Unix timestamp.",
        run::<expire::Expireat>,
    ),
    c(
        "expiretime",
        2,
        READONLY | FAST,
        K1,
        KR,
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.",
        run::<expire::Expiretime>,
    ),
    c(
        "persist",
        2,
        WRITE | FAST,
        K1,
        KW,
        "generic",
        "2.2.0",
        "Removes the expiration time of a key.",
        run::<expire::Persist>,
    ),
    c(
        "pexpire",
        -3,
        WRITE | FAST,
        K1,
        KW,
        "generic",
        "2.6.0",
        "Sets the expiration time of a key in milliseconds.",
        run::<expire::Pexpire>,
    ),
    c(
        "pexpireat",
        -3,
        WRITE | FAST,
        K1,
        KW,
        "generic",
        "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        run::<expire::Pexpireat>,
    ),
    c(
        "pexpiretime",
        2,
        READONLY | FAST,
        K1,
        KR,
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        run::<expire::Pexpiretime>,
    ),
    c(
        "pttl",
        2,
        READONLY | FAST,
        K1,
        KR,
        "generic",
        "2.6.0",
        "Returns the expiration time in milliseconds of a key.",
        run::<expire::Pttl>,
    ),
    c(
        "ttl",
        2,
        READONLY | FAST,
        K1,
        KR,
        "generic",
        "1.0.0",
        "Returns the expiration time in seconds of a key.",
        run::<expire::Ttl>,
    ),
    // connection
    c(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | NO_GATE | ALLOW_BUSY,
        NOK,
        CF,
        "connection",
        "1.0.0",
        "Authenticates the connection.",
        run::<conn::Auth>,
    ),
    container(
        "acl",
        -2,
        0,
        &["@slow"],
        "server",
        "A container for Access List Control commands.",
        &ACL_SUBS,
    ),
    container(
        "client",
        -2,
        0,
        &["@slow"],
        "connection",
        "A container for client connection commands.",
        &CLIENT_SUBS,
    ),
    c(
        "echo",
        2,
        LOADING | STALE | FAST | NO_GATE,
        NOK,
        CF,
        "connection",
        "1.0.0",
        "Returns the given string.",
        run::<conn::Echo>,
    ),
    c(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | NO_GATE | ALLOW_BUSY,
        NOK,
        CF,
        "connection",
        "6.0.0",
        "Handshakes with the Redis server.",
        run::<conn::Hello>,
    ),
    c(
        "ping",
        -1,
        FAST | NO_GATE,
        NOK,
        CF,
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
        run::<conn::Ping>,
    ),
    c(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | NO_GATE | TX_CONTROL | ALLOW_BUSY,
        NOK,
        CF,
        "connection",
        "1.0.0",
        "Closes the connection.",
        run::<conn::Quit>,
    ),
    c(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | NO_GATE | TX_CONTROL | ALLOW_BUSY,
        NOK,
        CF,
        "connection",
        "6.2.0",
        "Resets the connection.",
        run::<conn::Reset>,
    ),
    // server
    container(
        "command",
        -1,
        LOADING | STALE | NO_GATE,
        CS,
        "server",
        "Returns detailed information about all commands.",
        &COMMAND_SUBS,
    ),
    container(
        "config",
        -2,
        0,
        &["@slow"],
        "server",
        "A container for server configuration commands.",
        &CONFIG_SUBS,
    ),
    c(
        "info",
        -1,
        LOADING | STALE | NO_GATE,
        NOK,
        &["@slow", "@dangerous"],
        "server",
        "1.0.0",
        "Returns information and statistics about the server.",
        run::<srv::Info>,
    ),
    c(
        "lastsave",
        1,
        LOADING | STALE | FAST | NO_GATE,
        NOK,
        &["@admin", "@fast", "@dangerous"],
        "server",
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        run::<srv::Lastsave>,
    ),
    c(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | NO_GATE | ALLOW_BUSY,
        NOK,
        AD,
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        run::<srv::Shutdown>,
    ),
    CommandSpec {
        since: "2.2.12",
        ..container(
            "slowlog",
            -2,
            0,
            &["@slow"],
            "server",
            "A container for slow log commands.",
            &SLOWLOG_SUBS,
        )
    },
    c(
        "time",
        1,
        LOADING | STALE | FAST | NO_GATE,
        NOK,
        &["@fast"],
        "server",
        "2.6.0",
        "Returns the server time.",
        run::<srv::Time>,
    ),
    // transactions
    c(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_GATE | TX_CONTROL | ALLOW_BUSY,
        NOK,
        TX,
        "transactions",
        "2.0.0",
        "Discards a transaction.",
        run::<multi::Discard>,
    ),
    c(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | NO_GATE | TX_CONTROL | SKIP_SLOWLOG,
        NOK,
        TXS,
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        run::<multi::Exec>,
    ),
    c(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_GATE | TX_CONTROL | ALLOW_BUSY,
        NOK,
        TX,
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        run::<multi::Multi>,
    ),
    c(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_GATE | ALLOW_BUSY,
        NOK,
        TX,
        "transactions",
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        run::<multi::Unwatch>,
    ),
    c(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL | ALLOW_BUSY,
        KALL,
        TX,
        "transactions",
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        run::<multi::Watch>,
    ),
    c(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_GATE,
        NOK,
        AD,
        "server",
        "1.0.0",
        "Asynchronously rewrites the append-only file to disk.",
        run::<srv::Bgrewriteaof>,
    ),
    c(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | NO_GATE,
        NOK,
        AD,
        "server",
        "1.0.0",
        "Asynchronously saves the database(s) to disk.",
        run::<srv::Bgsave>,
    ),
    c(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_MULTI | NO_GATE,
        NOK,
        AD,
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk.",
        run::<srv::Save>,
    ),
    // ---- Workers KV (edgekv's own) ----
    c(
        "kv.bulkdelete",
        -2,
        WRITE,
        KALL,
        KVWS,
        "kv",
        "0.1.0",
        "Deletes up to 10,000 keys; reports successful and unsuccessful keys.",
        run::<kv::KvBulkDelete>,
    ),
    c(
        "kv.bulkget",
        -2,
        READONLY,
        KALL,
        KVRS,
        "kv",
        "0.1.0",
        "Returns the values, metadata and expirations of 1 to 100 keys.",
        run::<kv::KvBulkGet>,
    ),
    CommandSpec {
        getkeys: Some(kv::bulkput_keys),
        ..c(
            "kv.bulkput",
            2,
            WRITE | DENYOOM | NO_MANDATORY_KEYS,
            NOK,
            KVWS,
            "kv",
            "0.1.0",
            "Writes a JSON array of up to 10,000 {key, value, expiration?, expiration_ttl?, metadata?, base64?}.",
            run::<kv::KvBulkPut>,
        )
    },
    c(
        "kv.delete",
        -2,
        WRITE,
        KALL,
        KVW,
        "kv",
        "0.1.0",
        "Deletes keys.",
        run::<kv::KvDelete>,
    ),
    c(
        "kv.get",
        -2,
        READONLY | FAST,
        K1,
        KVR,
        "kv",
        "0.1.0",
        "Returns a key's value, as text or parsed JSON.",
        run::<kv::KvGet>,
    ),
    c(
        "kv.getwithmetadata",
        -2,
        READONLY | FAST,
        K1,
        KVR,
        "kv",
        "0.1.0",
        "Returns a key's value and metadata.",
        run::<kv::KvGetWithMetadata>,
    ),
    c(
        "kv.list",
        -1,
        READONLY,
        NOK,
        KVRS,
        "kv",
        "0.1.0",
        "Lists keys in byte order under a prefix, a page at a time, with a cursor.",
        run::<kv::KvList>,
    ),
    CommandSpec {
        getkeys: Some(kv::mget_keys),
        ..c(
            "kv.mget",
            -2,
            READONLY | FAST,
            KALL,
            KVR,
            "kv",
            "0.1.0",
            "Returns the values (and metadata) of 1 to 100 keys.",
            run::<kv::KvMget>,
        )
    },
    container(
        "kv.namespace",
        -2,
        0,
        &["@slow"],
        "kv",
        "A container for Workers KV namespace commands.",
        &KV_NAMESPACE_SUBS,
    ),
    c(
        "kv.put",
        -3,
        WRITE | DENYOOM,
        K1,
        KVW,
        "kv",
        "0.1.0",
        "Writes a key's value, metadata and expiration together.",
        run::<kv::KvPut>,
    ),
];

/// One key specification (Redis 7's `key_specs`): where a command finds its keys and what it
/// does with them. Every command here begins at a fixed index and takes a range.
pub struct KeySpec {
    pub notes: &'static str,
    /// Access flags in Redis's order: RW RO OW RM access update insert delete ... variable_flags.
    pub flags: KeyFlags,
    /// `begin_search` index.
    pub index: i32,
    /// `find_keys` range: last key (negative: from the end), step, limit.
    pub lastkey: i32,
    pub keystep: i32,
    pub limit: i32,
}

const fn ks(flags: KeyFlags, index: i32, lastkey: i32, keystep: i32) -> KeySpec {
    KeySpec {
        notes: "",
        flags,
        index,
        lastkey,
        keystep,
        limit: 0,
    }
}

const RO: KeyFlags = &["RO"];
const RO_ACCESS: KeyFlags = &["RO", "access"];
pub const RW_ACCESS_UPDATE: KeyFlags = &["RW", "access", "update"];
const RW_ACCESS_DELETE: KeyFlags = &["RW", "access", "delete"];
const RW_UPDATE: KeyFlags = &["RW", "update"];
pub const OW_UPDATE: KeyFlags = &["OW", "update"];
const OW_INSERT: KeyFlags = &["OW", "insert"];

/// The key specs of a command by full name, as Redis 7.0 declares them (`COMMAND INFO`,
/// `COMMAND GETKEYSANDFLAGS`). Empty for commands without keys.
pub fn key_specs(fullname: &str) -> &'static [KeySpec] {
    static ONE_RO: [KeySpec; 1] = [ks(RO, 1, 0, 1)];
    static ONE_RO_ACCESS: [KeySpec; 1] = [ks(RO_ACCESS, 1, 0, 1)];
    static ALL_RO: [KeySpec; 1] = [ks(RO, 1, -1, 1)];
    static ALL_RO_ACCESS: [KeySpec; 1] = [ks(RO_ACCESS, 1, -1, 1)];
    static ONE_RW_ACCESS_UPDATE: [KeySpec; 1] = [ks(RW_ACCESS_UPDATE, 1, 0, 1)];
    static ONE_RW_UPDATE: [KeySpec; 1] = [ks(RW_UPDATE, 1, 0, 1)];
    static ONE_OW_UPDATE: [KeySpec; 1] = [ks(OW_UPDATE, 1, 0, 1)];
    static ONE_OW_INSERT: [KeySpec; 1] = [ks(OW_INSERT, 1, 0, 1)];
    static PAIRS_OW_UPDATE: [KeySpec; 1] = [ks(OW_UPDATE, 1, -1, 2)];
    static PAIRS_OW_INSERT: [KeySpec; 1] = [ks(OW_INSERT, 1, -1, 2)];
    static ALL_RM_DELETE: [KeySpec; 1] = [ks(&["RM", "delete"], 1, -1, 1)];
    static APPEND: [KeySpec; 1] = [ks(&["RW", "insert"], 1, 0, 1)];
    static GETDEL: [KeySpec; 1] = [ks(RW_ACCESS_DELETE, 1, 0, 1)];
    static GETEX: [KeySpec; 1] = [KeySpec {
        notes: "RW and UPDATE because it changes the TTL",
        ..ks(RW_ACCESS_UPDATE, 1, 0, 1)
    }];
    static SET: [KeySpec; 1] = [KeySpec {
        notes: "RW and ACCESS due to the optional `GET` argument",
        ..ks(&["RW", "access", "update", "variable_flags"], 1, 0, 1)
    }];
    static COPY: [KeySpec; 2] = [ks(RO_ACCESS, 1, 0, 1), ks(OW_UPDATE, 2, 0, 1)];
    static RENAME: [KeySpec; 2] = [ks(RW_ACCESS_DELETE, 1, 0, 1), ks(OW_UPDATE, 2, 0, 1)];
    static RENAMENX: [KeySpec; 2] = [ks(RW_ACCESS_DELETE, 1, 0, 1), ks(OW_INSERT, 2, 0, 1)];
    match fullname {
        "strlen" | "type" => &ONE_RO,
        "get" | "getrange" | "substr" | "expiretime" | "pexpiretime" | "pttl" | "ttl" => &ONE_RO_ACCESS,
        "exists" | "touch" | "watch" => &ALL_RO,
        "mget" => &ALL_RO_ACCESS,
        "decr" | "decrby" | "incr" | "incrby" | "incrbyfloat" | "getset" | "move" => &ONE_RW_ACCESS_UPDATE,
        "expire" | "expireat" | "pexpire" | "pexpireat" | "persist" | "setrange" => &ONE_RW_UPDATE,
        "psetex" | "setex" => &ONE_OW_UPDATE,
        "setnx" => &ONE_OW_INSERT,
        "mset" => &PAIRS_OW_UPDATE,
        "msetnx" => &PAIRS_OW_INSERT,
        "del" | "unlink" => &ALL_RM_DELETE,
        "append" => &APPEND,
        "getdel" => &GETDEL,
        "getex" => &GETEX,
        "set" => &SET,
        // edgekv's KV commands (KV.MGET's trailing WITHMETADATA is not a key: its `getkeys`
        // hook drops it; KV.BULKPUT's keys are in its JSON body: its hook reads them).
        "kv.get" | "kv.getwithmetadata" => &ONE_RO_ACCESS,
        "kv.mget" | "kv.bulkget" => &ALL_RO_ACCESS,
        "kv.put" => &ONE_OW_UPDATE,
        "kv.delete" | "kv.bulkdelete" => &ALL_RM_DELETE,
        "copy" => &COPY,
        "rename" => &RENAME,
        "renamenx" => &RENAMENX,
        _ => &[],
    }
}

/// The keys of a full command line (`argv[0]` is the command's name) and what the command does
/// with each: the one answer both the ACL key check and COMMAND GETKEYS/GETKEYSANDFLAGS use, so
/// the keys a user is checked for are the keys GETKEYS shows. The command's `getkeys` hook
/// when it has one (as Redis prefers `getkeys_proc` where key specs cannot say the keys or
/// their flags), its key specs otherwise. The line has passed the arity check.
pub fn for_each_key(spec: &CommandSpec, argv: &[Bytes], emit: &mut dyn FnMut(&[u8], KeyFlags)) {
    match spec.getkeys {
        Some(hook) => hook(argv, emit),
        None => keys_by_specs(key_specs(spec.fullname), argv, emit),
    }
}

/// Does the command take keys at all? (COMMAND GETKEYS refuses a command without any, as
/// Redis's `doesCommandHaveKeys` does, before looking at its arguments.)
pub fn has_keys(spec: &CommandSpec) -> bool {
    spec.getkeys.is_some() || !key_specs(spec.fullname).is_empty()
}

/// Redis's `getKeysUsingKeySpecs` for the specs edgekv has (a fixed begin index and a range):
/// each spec's keys in order, a spec whose first key is past the line giving none.
pub fn keys_by_specs(specs: &[KeySpec], argv: &[Bytes], emit: &mut dyn FnMut(&[u8], KeyFlags)) {
    let argc = argv.len() as i32;
    for ks in specs {
        let first = ks.index;
        let last = if ks.lastkey >= 0 {
            first + ks.lastkey
        } else {
            argc + ks.lastkey
        };
        if first < 1 || first >= argc {
            continue;
        }
        for i in (first..=last.min(argc - 1)).step_by(ks.keystep.max(1) as usize) {
            emit(&argv[i as usize], ks.flags);
        }
    }
}

/// Command tips (`COMMAND INFO`, 8th field), as Redis 7.0 declares them.
pub fn tips(fullname: &str) -> &'static [&'static str] {
    const ND: &[&str] = &["nondeterministic_output"];
    const NDO: &[&str] = &["nondeterministic_output_order"];
    const MULTI_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];
    const ALL_SUCCEEDED: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
    match fullname {
        "client|info" | "client|list" | "lastsave" | "pttl" | "ttl" | "time" => ND,
        "command" | "command|docs" | "command|info" | "command|list" => NDO,
        "config|set" => &["request_policy:all_nodes", "response_policy:all_succeeded"],
        "dbsize" => &["request_policy:all_shards", "response_policy:agg_sum"],
        "del" | "exists" | "touch" | "unlink" => MULTI_SUM,
        "flushall" | "flushdb" | "ping" => ALL_SUCCEEDED,
        "info" => &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        "keys" => &["request_policy:all_shards", "nondeterministic_output_order"],
        "mget" => &["request_policy:multi_shard"],
        "mset" => &["request_policy:multi_shard", "response_policy:all_succeeded"],
        "msetnx" => &["request_policy:multi_shard", "response_policy:agg_min"],
        "randomkey" => &["request_policy:all_shards", "nondeterministic_output"],
        "scan" => &["nondeterministic_output", "request_policy:special"],
        "slowlog|get" => &["request_policy:all_nodes", "nondeterministic_output"],
        "slowlog|len" => &[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ],
        "slowlog|reset" => &["request_policy:all_nodes", "response_policy:all_succeeded"],
        _ => &[],
    }
}

/// FNV-1a: command names are short and chosen by us, so a fast unseeded hash is safe here
/// (unlike keys, which come from clients and use the seeded hasher).
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf29ce484222325 } else { self.0 };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

struct Index {
    all: Vec<&'static CommandSpec>,
    by_name: FnvMap<Vec<u8>, usize>,
    subs: FnvMap<(usize, Vec<u8>), usize>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut all = Vec::new();
        let mut by_name = FnvMap::default();
        let mut subs = FnvMap::default();
        for spec in COMMANDS {
            let i = all.len();
            all.push(spec);
            by_name.insert(spec.name.as_bytes().to_vec(), i);
            for s in spec.subcommands {
                let j = all.len();
                all.push(s);
                subs.insert((i, s.name.as_bytes().to_vec()), j);
            }
        }
        Index { all, by_name, subs }
    })
}

/// Number of entries (commands and subcommands), for the statistics array.
pub fn len() -> usize {
    index().all.len()
}

/// Every entry with its index (commands followed by their subcommands).
pub fn all() -> &'static [&'static CommandSpec] {
    &index().all
}

/// The top-level commands.
pub fn commands() -> &'static [CommandSpec] {
    COMMANDS
}

fn lower(name: &[u8], buf: &mut [u8; 32]) -> Option<usize> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(name.len())
}

/// Finds a command by name, case-insensitively, without allocating.
#[inline]
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let mut buf = [0u8; 32];
    let n = lower(name, &mut buf)?;
    let ix = index();
    let i = *ix.by_name.get(&buf[..n])?;
    Some((i, ix.all[i]))
}

/// Finds a subcommand of `container`.
pub fn lookup_sub(container: &'static CommandSpec, name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let mut buf = [0u8; 32];
    let n = lower(name, &mut buf)?;
    let ix = index();
    let ci = *ix.by_name.get(container.name.as_bytes())?;
    let j = *ix.subs.get(&(ci, buf[..n].to_vec()))?;
    Some((j, ix.all[j]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `for_each_key` reads only key specs and hooks, never the legacy first/last/step range:
    /// every command that declares a range must say its keys one of those ways (the ACL would
    /// otherwise check no key of it), and one without a range must have none.
    #[test]
    fn every_command_with_keys_says_them() {
        for spec in all() {
            let declared = spec.keys != (0, 0, 0);
            let specs = !key_specs(spec.fullname).is_empty();
            assert_eq!(
                declared, specs,
                "{}: legacy range and key specs disagree",
                spec.fullname
            );
            assert_eq!(has_keys(spec), declared || spec.getkeys.is_some(), "{}", spec.fullname);
        }
    }
}
