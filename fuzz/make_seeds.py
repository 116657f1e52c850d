#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/{decode,exec}/seed-*) from the protocol vectors of
shared/compat.md. Input layout (src/harness.rs): [flags] [k] [k step bytes] [payload].
decode flags: bit 0 = unauthenticated, bits 1..2 = proto-max-bulk-len 512MiB/0/16/40000.
exec flags: bit 0 = requirepass "pw". Step byte b: chunk length (b>>1)+1 (126 -> 16 KiB,
127 -> 70,000), bit 0 = which of the two clients (exec).
Run from anywhere: python3 fuzz/make_seeds.py"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def head(flags=0, steps=()):
    return bytes([flags, len(steps)]) + bytes(steps)


WHOLE = ()           # one piece
BYTES = (0,)         # every byte boundary
MIXED = (0, 6, 14, 2, 60, 1)
READS = (252,)       # 16 KiB reads, as the server's

decode = {
    "ping-inline": (head(), b"PING\r\n"),
    "ping-inline-bytes": (head(0, BYTES), b"PING\r\n"),
    "inline-quotes": (head(0, BYTES), b'SET a "b c"\r\nSET k "\\x41\\n\\t" \'it\\\'s\'\r\n'),
    "inline-unbalanced": (head(), b'SET a "b\r\n'),
    "inline-quote-then-char": (head(), b'SET "a"b c\r\n'),
    "empty-lines": (head(0, BYTES), b"\r\n\n\r\nPING\r\n"),
    "mbulk-negative": (head(), b"*-10\r\n*0\r\n*-1\r\nPING\r\n"),
    "mbulk-3e9": (head(), b"*3000000000\r\n"),
    "mbulk-2pow31": (head(), b"*2147483648\r\n"),
    "mbulk-i32max": (head(), b"*2147483647\r\n$1\r\na\r\n"),
    "bulk-negative": (head(), b"*1\r\n$-10\r\n"),
    "bulk-2e9": (head(), b"*1\r\n$2000000000\r\n"),
    "bulk-blabla": (head(), b"*1\r\n$blabla\r\n"),
    "bulk-u64max": (head(), b"*1\r\n$18446744073709551615\r\n"),
    "u64max-alone": (head(), b"$18446744073709551615\r\n"),
    "expected-dollar": (head(), b"*1\r\nfoo\r\n"),
    "expected-dollar-wait": (head(0, BYTES), b"*1\r\nfoo\r"),
    "nested-array": (head(), b"*1\r\n*1\r\n$4\r\nPING\r\n"),
    "nul-hides-newline": (head(), b"\x00ping\r\n*1\x00\r\n"),
    "bulk-no-crlf-check": (head(), b"*1\r\n$4\r\nPINGxx"),
    "set-every-byte": (head(0, BYTES), resp("SET", "k", "hello")),
    "set-mixed-cuts": (head(0, MIXED), resp("SET", "k", "hello") + resp("GET", "k") + b"PING\r\n"),
    "over-limit-512mib": (head(), b"*1\r\n$536870913\r\n"),
    "at-limit-512mib": (head(), b"*1\r\n$536870912\r\nabc"),
    "over-limit-16": (head(4), resp("ECHO", "x" * 17)),
    "at-limit-16": (head(4, MIXED), resp("ECHO", "x" * 16)),
    "over-limit-40000": (head(6, READS), resp("ECHO", "y" * 40001)),
    "limit-zero": (head(2), resp("PING", "")),
    "unauth-11-args": (head(1), resp(*(["PING"] * 11))),
    "unauth-10-args": (head(1), resp(*(["PING"] * 10))),
    "unauth-bulk-16385": (head(1, READS), resp("AUTH", "p" * 16385)),
    "unauth-bulk-16384": (head(1, READS), resp("AUTH", "p" * 16384)),
    "big-arg": (head(0, READS), resp("ECHO", "x" * 40000) + b"PING\r\n"),
    "big-arg-mixed": (head(0, (254, 0, 252)), resp("SET", "k", "z" * 33000) + resp("GET", "k")),
    "pipeline-straddling": (head(0, READS), b"".join(resp("SET", "key:%d" % i, "v" * (i % 50)) for i in range(700))),
    "pipeline-straddling-odd": (head(0, (253, 57)), b"".join(resp("INCR", "c%d" % i) + b"GET c%d\r\n" % i for i in range(600))),
    "inline-too-big": (head(0, READS), b"a" * 65537),
    "inline-64k-with-newline": (head(), b"a" * 65530 + b"\r\n"),
    "inline-70000-one-read": (head(0, (255,)), b"a" * 70000 + b"\n"),
    "mbulk-count-too-big": (head(0, READS), b"*" + b"1" * 65536),
    "bulk-count-too-big": (head(0, READS), b"*1\r\n$" + b"1" * 65536),
    "many-star-one": (head(0, READS), b"*1\r\n" * 100_000),
}

E = resp


def two_clients(flags, script):
    """script: (client 0|1, request bytes), at most 16 entries of at most 126 bytes each: one
    step byte per request, so each chunk is exactly one request of the named client."""
    assert len(script) <= 16
    steps = []
    for who, req in script:
        assert 1 <= len(req) <= 126, req
        steps.append(((len(req) - 1) << 1) | who)
    return head(flags, steps), b"".join(r for _, r in script)


EVEN_MIXED = (0, 6, 14, 2, 60, 4)
exec_ = {
    "strings": (head(), b"".join([
        E("SET", "a", "1"), E("GET", "a"), E("INCR", "a"), E("INCRBY", "a", "-5"), E("DECR", "a"),
        E("INCRBYFLOAT", "a", "1.5e3"), E("APPEND", "a", "xyz"), E("STRLEN", "a"), E("GETRANGE", "a", "0", "-2"),
        E("SETRANGE", "b", "5", "hi"), E("MSET", "x", "1", "y", "2"), E("MGET", "x", "y", "nope"),
        E("GETSET", "x", "3"), E("GETDEL", "y"), E("GETEX", "x", "PX", "100"), E("SETNX", "x", "9"),
        E("SET", "k", "v", "NX", "EX", "10"), E("SET", "k", "v", "XX", "GET", "KEEPTTL"), E("MSETNX", "m", "1", "x", "2"),
        E("INCR", "k"), E("SUBSTR", "k", "0", "0"),
    ])),
    "keys-expire": (head(), b"".join([
        E("SET", "a", "1"), E("EXPIRE", "a", "100"), E("TTL", "a"), E("PTTL", "a"), E("EXPIRETIME", "a"),
        E("PEXPIRE", "a", "1"), E("PERSIST", "a"), E("EXPIREAT", "a", "1"), E("EXISTS", "a", "a"),
        E("SET", "b", "2"), E("RENAME", "b", "c"), E("RENAMENX", "c", "d"), E("COPY", "c", "e", "DB", "3"),
        E("MOVE", "c", "2"), E("KEYS", "*"), E("SCAN", "0", "MATCH", "*", "COUNT", "10"), E("TYPE", "c"),
        E("DBSIZE"), E("RANDOMKEY"), E("TOUCH", "c", "e"), E("UNLINK", "e"), E("DEL", "c", "d"),
        E("SWAPDB", "0", "1"), E("SELECT", "1"), E("FLUSHDB"), E("FLUSHALL"),
    ])),
    "kv": (head(), b"".join([
        E("KV.NAMESPACE", "CREATE", "sessions"), E("KV.NAMESPACE", "LIST"), E("SELECT", "16"),
        E("KV.PUT", "user:1", '{"name":"ada"}', "EXPIRATIONTTL", "3600", "METADATA", '{"plan":"pro"}'),
        E("KV.GET", "user:1"), E("KV.GET", "user:1", "TYPE", "json"), E("KV.GETWITHMETADATA", "user:1"),
        E("KV.MGET", "user:1", "user:2", "WITHMETADATA"), E("KV.LIST", "PREFIX", "user", "LIMIT", "1"),
        E("KV.BULKPUT", '[{"key":"a","value":"YQ==","base64":true},{"key":"b","value":"x","expiration_ttl":60}]'),
        E("KV.LIST"), E("KV.BULKDELETE", "a", "b"), E("KV.DELETE", "user:1"),
        E("KV.NAMESPACE", "STATS", "sessions"), E("KV.NAMESPACE", "RENAME", "sessions", "s2"),
        E("HELLO", "3"), E("KV.GET", "user:1", "TYPE", "json"), E("KV.LIST"),
        E("KV.NAMESPACE", "GET", "s2"), E("KV.NAMESPACE", "DELETE", "s2"), E("KV.GET", "x"),
    ])),
    "watch-two-clients": two_clients(0, [
        (0, E("WATCH", "w")), (0, E("MULTI")), (1, E("SET", "w", "1")), (0, E("INCR", "w")),
        (0, E("EXEC")), (1, E("MULTI")), (1, E("NOSUCH")), (0, E("GET", "w")), (1, E("EXEC")),
        (0, E("MULTI")), (0, E("SET", "q", "1")), (1, E("CLIENT", "KILL", "ID", "1")), (0, E("EXEC")),
        (1, E("GET", "q")),
    ]),
    "namespace-two-clients": two_clients(0, [
        (0, E("KV.NAMESPACE", "CREATE", "a")), (0, E("SELECT", "16")), (0, E("KV.PUT", "k", "v")),
        (1, E("SELECT", "16")), (1, E("WATCH", "k")), (1, E("MULTI")), (1, E("KV.GET", "k")),
        (0, E("KV.NAMESPACE", "LIST")), (0, E("FLUSHALL")), (1, E("EXEC")), (1, E("KV.LIST")),
        (0, E("KV.NAMESPACE", "CREATE", "b")), (1, E("KV.GET", "k")), (0, E("SWAPDB", "0", "16")),
        (1, E("DBSIZE")), (1, E("HELLO", "3")),
    ]),
    "auth-two-clients": two_clients(1, [
        (0, E("AUTH", "pw")), (1, E("PING")), (0, E("CONFIG", "SET", "requirepass", "")), (1, E("GET", "a")),
        (0, E("CONFIG", "SET", "requirepass", "x")), (1, E("*" * 20, "y")), (0, E("CLIENT", "LIST")),
    ]),
    "connection": (head(), b"".join([
        E("HELLO"), E("HELLO", "3", "SETNAME", "c1"), E("CLIENT", "ID"), E("CLIENT", "INFO"), E("CLIENT", "LIST"),
        E("CLIENT", "SETINFO", "LIB-NAME", "x"), E("CLIENT", "GETNAME"), E("CLIENT", "NO-EVICT", "on"),
        E("CLIENT", "REPLY", "SKIP"), E("PING"), E("CLIENT", "REPLY", "OFF"), E("PING"), E("CLIENT", "REPLY", "ON"),
        E("ECHO", "x"), E("CLIENT", "KILL", "ID", "2"), E("RESET"), E("HELLO", "2"), E("TIME"), E("LASTSAVE"),
        E("COMMAND", "COUNT"), E("COMMAND", "INFO", "get"), E("COMMAND", "DOCS", "set"), E("COMMAND", "GETKEYS", "MSET", "a", "b"),
        E("INFO"), E("INFO", "keyspace"), E("CONFIG", "GET", "*"), E("CONFIG", "SET", "maxmemory", "1mb"),
        E("CONFIG", "RESETSTAT"), E("SAVE"), E("BGSAVE"), E("QUIT"),
    ])),
    "auth": (head(1), b"".join([
        E("GET", "a"), E("HELLO", "3", "AUTH", "default", "bad"), E("AUTH", "bad"), E("AUTH", "pw"), E("SET", "a", "1"),
        E("CONFIG", "SET", "requirepass", ""), E("AUTH", "x"),
    ])),
    "inline-and-errors": (head(0, EVEN_MIXED), b"SET a \"b c\"\r\nGET a\r\nINCR a\r\nFOO bar baz\r\nCLIENT nope\r\nGET\r\n*1\r\n$3\r\nGET\r\nPOST / HTTP/1.1\r\n"),
    "acl": (head(), b"".join([
        E("ACL", "SETUSER", "app", "on", ">s3cret", "~session:*", "+@kv", "+@read", "+@write", "+select", "namespace:SESSIONS"),
        E("ACL", "SETUSER", "ro", "on", "nopass", "~*", "+@read", "-@dangerous"), E("ACL", "GETUSER", "app"),
        E("ACL", "LIST"), E("ACL", "USERS"), E("ACL", "WHOAMI"), E("ACL", "CAT"), E("ACL", "CAT", "kv"),
        E("ACL", "DRYRUN", "app", "GET", "session:1"), E("ACL", "GENPASS", "64"), E("KV.NAMESPACE", "CREATE", "SESSIONS"),
        E("AUTH", "app", "s3cret"), E("SELECT", "16"), E("KV.PUT", "session:1", "x"), E("GET", "other"), E("SELECT", "0"),
        E("AUTH", "ro", "any"), E("SET", "a", "1"), E("GET", "a"), E("ACL", "LOG"), E("AUTH", "default", "x"),
        E("HELLO", "3", "AUTH", "app", "s3cret"), E("ACL", "LOG", "RESET"), E("ACL", "DELUSER", "app", "ro"), E("ACL", "SAVE"), E("ACL", "LOAD"),
    ])),
    "shutdown": (head(), E("SET", "a", "1") + E("SHUTDOWN", "NOSAVE") + E("GET", "a")),
    "protocol-error-mid": (head(0, (2, 4)), E("PING") + b"*1\r\n$blabla\r\n" + E("PING")),
}

for target, seeds in (("decode", decode), ("exec", exec_)):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, (h, payload) in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(h + payload)
    print(target, len(seeds), "seeds in", d)
