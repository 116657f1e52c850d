//! Transactions against the real binary, byte for byte as Redis 7.0.15 replies (checked against
//! a live redis-server 7.0.15, and the cases of its tests/unit/multi.tcl): MULTI, EXEC,
//! DISCARD, WATCH, UNWATCH, queue-time and run-time errors, what counts as touching a watched
//! key, and pipelined transactions as client libraries send them.

mod common;
use common::{pipeline, text, Raw, Server};

const EXECABORT: &str = "-EXECABORT Transaction discarded because of previous errors.\r\n";

/// `MULTI; PING; EXEC` in one go: `*1 +PONG` when the transaction ran, `*-1` when a watched
/// key changed.
fn ping_tx(c: &mut Raw) -> String {
    pipeline(c, &[&["MULTI"], &["PING"], &["EXEC"]])
        .strip_prefix("+OK\r\n+QUEUED\r\n")
        .expect("MULTI and PING queued")
        .to_string()
}

const RAN: &str = "*1\r\n+PONG\r\n";
const ABORTED: &str = "*-1\r\n";

/// The server's clock in milliseconds (TIME), to wait for a deadline without touching keys.
fn server_ms(c: &mut Raw) -> i64 {
    let r = text(c.cmd(&["TIME"]));
    let p: Vec<&str> = r.split("\r\n").collect();
    p[2].parse::<i64>().unwrap() * 1000 + p[4].parse::<i64>().unwrap() / 1000
}

#[test]
fn multi_exec_discard_basics() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "a", "1"], "+QUEUED\r\n");
    c.expect(&["INCR", "a"], "+QUEUED\r\n");
    c.expect(&["GET", "a"], "+QUEUED\r\n");
    c.expect(&["GET", "missing"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n$-1\r\n");
    // Empty transaction.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["EXEC"], "*0\r\n");
    // Outside MULTI.
    c.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    c.expect(&["DISCARD"], "-ERR DISCARD without MULTI\r\n");
    c.expect(
        &["MULTI", "x"],
        "-ERR wrong number of arguments for 'multi' command\r\n",
    );
    c.expect(
        &["DISCARD", "x"],
        "-ERR wrong number of arguments for 'discard' command\r\n",
    );
    // DISCARD drops the queue: nothing ran.
    c.expect(&["SET", "list", "intact"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["DEL", "list"], "+QUEUED\r\n");
    c.expect(&["DISCARD"], "+OK\r\n");
    c.expect(&["GET", "list"], "$6\r\nintact\r\n");
    c.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    // Reads and PING are queued too (multi.tcl "MUTLI / EXEC basics").
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["GET", "list"], "+QUEUED\r\n");
    c.expect(&["PING"], "+QUEUED\r\n");
    c.expect(&["ECHO", "e"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*3\r\n$6\r\nintact\r\n+PONG\r\n$1\r\ne\r\n");
    // Commands that change the session run inside EXEC too.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SELECT", "2"], "+QUEUED\r\n");
    c.expect(&["SET", "in2", "x"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*2\r\n+OK\r\n+OK\r\n");
    c.expect(&["GET", "in2"], "$1\r\nx\r\n");
}

#[test]
fn nested_multi_and_watch_inside_multi_do_not_abort() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["MULTI"], "-ERR MULTI calls can not be nested\r\n");
    c.expect(&["EXEC"], "*0\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "x", "1"], "+QUEUED\r\n");
    c.expect(&["WATCH", "x"], "-ERR WATCH inside MULTI is not allowed\r\n");
    c.expect(&["EXEC"], "*1\r\n+OK\r\n");
    // UNWATCH inside MULTI is queued.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["UNWATCH"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*1\r\n+OK\r\n");
}

#[test]
fn queue_time_errors_abort_exec() {
    let s = Server::start();
    let mut c = s.raw();
    // An unknown command: EXECABORT, and nothing queued before or after it ran.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "foo1", "bar1"], "+QUEUED\r\n");
    c.expect(
        &["non-existing-command"],
        "-ERR unknown command 'non-existing-command', with args beginning with: \r\n",
    );
    c.expect(&["SET", "foo2", "bar2"], "+QUEUED\r\n");
    c.expect(&["EXEC"], EXECABORT);
    c.expect(&["EXISTS", "foo1", "foo2"], ":0\r\n");
    // Out of MULTI afterwards.
    c.expect(&["PING"], "+PONG\r\n");

    // Wrong arity.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["EXEC"], EXECABORT);
    // An unknown subcommand.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(
        &["CLIENT", "FOO"],
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    );
    c.expect(&["EXEC"], EXECABORT);
    // MULTI with arguments inside MULTI is an arity error, which aborts.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(
        &["MULTI", "x"],
        "-ERR wrong number of arguments for 'multi' command\r\n",
    );
    c.expect(&["EXEC"], EXECABORT);
    // A command not allowed in a transaction (multi.tcl: SHUTDOWN, SAVE).
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "foo", "bar"], "+QUEUED\r\n");
    c.expect(&["SHUTDOWN"], "-ERR Command not allowed inside a transaction\r\n");
    c.expect(&["EXEC"], EXECABORT);
    c.expect(&["EXISTS", "foo"], ":0\r\n");
    // DISCARD after a queue-time error is fine and clears it.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["DISCARD"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["EXEC"], "*0\r\n");
}

/// Redis 7.0: a rejected EXEC (here by arity) replies EXECABORT with the reason and discards
/// the transaction, in or out of MULTI.
#[test]
fn rejected_exec_is_execabort_with_reason() {
    let s = Server::start();
    let mut c = s.raw();
    let reason = "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n";
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "a", "1"], "+QUEUED\r\n");
    c.expect(&["EXEC", "x"], reason);
    c.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    c.expect(&["EXEC", "x"], reason);
}

#[test]
fn run_time_errors_stay_inside_the_exec_array() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "a", "x"], "+QUEUED\r\n");
    c.expect(&["INCR", "a"], "+QUEUED\r\n");
    c.expect(&["SET", "b", "2"], "+QUEUED\r\n");
    c.expect(
        &["EXEC"],
        "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n",
    );
    c.expect(&["GET", "b"], "$1\r\n2\r\n");
    // Syntax errors found when the command runs are not queue-time errors.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "k", "v", "NX", "XX"], "+QUEUED\r\n");
    c.expect(&["SET", "k", "v2"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*2\r\n-ERR syntax error\r\n+OK\r\n");
    // multi.tcl: CONFIG SET with a bad value inside a transaction.
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "foo", "bar"], "+QUEUED\r\n");
    c.expect(&["CONFIG", "SET", "maxmemory", "bla"], "+QUEUED\r\n");
    c.expect(
        &["EXEC"],
        "*2\r\n+OK\r\n-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
    );
    c.expect(&["GET", "foo"], "$3\r\nbar\r\n");
}

#[test]
fn watch_detects_changes() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    c.expect(&["WATCH"], "-ERR wrong number of arguments for 'watch' command\r\n");
    c.expect(
        &["UNWATCH", "x"],
        "-ERR wrong number of arguments for 'unwatch' command\r\n",
    );
    // Unchanged: EXEC runs.
    c.expect(&["SET", "x", "30"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // Changed by another client between WATCH and EXEC.
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SET", "x", "40"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["INCR", "x"], "+QUEUED\r\n");
    c.expect(&["EXEC"], ABORTED);
    c.expect(&["GET", "x"], "$2\r\n40\r\n");
    // Changed by another client after MULTI.
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["PING"], "+QUEUED\r\n");
    o.expect(&["INCR", "x"], ":41\r\n");
    c.expect(&["EXEC"], ABORTED);
    // Changed by this client before MULTI.
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["SET", "x", "10"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    // After EXEC (aborted or not) nothing is watched any more.
    o.expect(&["SET", "x", "11"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    c.expect(&["WATCH", "x"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    o.expect(&["SET", "x", "12"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // A watched key that does not exist and gets created.
    c.expect(&["WATCH", "newkey"], "+OK\r\n");
    o.expect(&["SET", "newkey", "v"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    // Several keys, any one of them changed; watching a key twice is fine.
    c.expect(&["WATCH", "a", "b", "a"], "+OK\r\n");
    c.expect(&["WATCH", "c"], "+OK\r\n");
    o.expect(&["SET", "c", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    // Deleting, expiring, renaming count as changes; a failed write does not.
    for change in [
        &["DEL", "x"][..],
        &["EXPIRE", "c", "100"],
        &["RENAME", "c", "c2"],
        &["APPEND", "c2", "z"],
        &["GETDEL", "c2"],
    ] {
        o.expect(&["SET", "x", "1"], "+OK\r\n");
        o.expect(&["SET", "c", "1"], "+OK\r\n");
        o.expect(&["SET", "c2", "1"], "+OK\r\n");
        c.expect(&["WATCH", change[1]], "+OK\r\n");
        o.cmd(change);
        assert_eq!(ping_tx(&mut c), ABORTED, "{:?}", change);
    }
    o.expect(&["SET", "x", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SETNX", "x", "2"], ":0\r\n");
    o.expect(&["EXPIRE", "x", "100", "XX"], ":0\r\n");
    o.expect(&["DEL", "nosuch"], ":0\r\n");
    o.expect(&["GET", "x"], "$1\r\n1\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // A write that leaves the same value still counts.
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SET", "x", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    // WATCH target of EXPIRE (multi.tcl "WATCH will consider touched keys target of EXPIRE").
    o.expect(&["SET", "x", "foo"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["EXPIRE", "x", "10"], ":1\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
}

#[test]
fn unwatch_and_discard_clear_the_dirty_flag() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["UNWATCH"], "+OK\r\n");
    c.expect(&["SET", "x", "30"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["SET", "x", "10"], "+OK\r\n");
    c.expect(&["UNWATCH"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // multi.tcl "DISCARD should clear the WATCH dirty flag on the client".
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["SET", "x", "10"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["DISCARD"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["INCR", "x"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*1\r\n:11\r\n");
    // "DISCARD should UNWATCH all the keys".
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["DISCARD"], "+OK\r\n");
    c.expect(&["SET", "x", "10"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // WATCH on an already dirty client is a no-op +OK; EXEC still aborts.
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["SET", "x", "1"], "+OK\r\n");
    c.expect(&["WATCH", "y"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
}

#[test]
fn watch_remembers_the_database() {
    let s = Server::start();
    let mut c = s.raw();
    // multi.tcl "WATCH is able to remember the DB a key belongs to".
    c.expect(&["SELECT", "5"], "+OK\r\n");
    c.expect(&["SET", "x", "30"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["SELECT", "1"], "+OK\r\n");
    c.expect(&["SET", "x", "10"], "+OK\r\n");
    c.expect(&["SELECT", "5"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // The same key in its own db does count, even when changed from another db's connection.
    let mut o = s.raw();
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["SELECT", "9"], "+OK\r\n");
    o.expect(&["SELECT", "5"], "+OK\r\n");
    o.expect(&["SET", "x", "31"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    // MOVE touches the key in both databases.
    c.expect(&["SELECT", "5"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["MOVE", "x", "6"], ":1\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    c.expect(&["SELECT", "6"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SELECT", "6"], "+OK\r\n");
    o.expect(&["MOVE", "x", "5"], ":1\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
}

#[test]
fn flush_and_swapdb_touch_watched_keys() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    for flush in [
        &["FLUSHALL"][..],
        &["FLUSHDB"],
        &["FLUSHALL", "ASYNC"],
        &["FLUSHDB", "SYNC"],
    ] {
        // An existing watched key is touched.
        c.expect(&["SET", "x", "30"], "+OK\r\n");
        c.expect(&["WATCH", "x"], "+OK\r\n");
        o.cmd(flush);
        assert_eq!(ping_tx(&mut c), ABORTED, "{:?}", flush);
        // A watched key that does not exist is not.
        c.expect(&["DEL", "x"], ":0\r\n");
        c.expect(&["WATCH", "x"], "+OK\r\n");
        o.cmd(flush);
        assert_eq!(ping_tx(&mut c), RAN, "{:?}", flush);
    }
    // FLUSHDB of another database does not touch it.
    c.expect(&["SET", "x", "30"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SELECT", "3"], "+OK\r\n");
    o.expect(&["FLUSHDB"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    o.expect(&["SELECT", "0"], "+OK\r\n");
    // "Flushall while watching several keys by one client".
    c.expect(&["MSET", "a", "a", "b", "b"], "+OK\r\n");
    c.expect(&["WATCH", "b", "a"], "+OK\r\n");
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["PING"], "+PONG\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);

    // SWAPDB: the key exists in the watched db, or only in the other one.
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["SET", "x", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SELECT", "1"], "+OK\r\n");
    o.expect(&["SET", "x", "1"], "+OK\r\n");
    o.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
    // Neither db has it: untouched.
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
}

#[test]
fn watched_keys_that_expire() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    // A key live at WATCH that is expired at EXEC aborts it, without anyone touching it
    // (multi.tcl "EXEC fail on lazy expired WATCHed key").
    let mut watched_live = false;
    for margin in [300, 1000, 3000] {
        c.cmd(&["DEL", "key"]);
        let deadline = server_ms(&mut c) + margin;
        c.expect(&["SET", "key", "1", "PXAT", &deadline.to_string()], "+OK\r\n");
        c.expect(&["WATCH", "key"], "+OK\r\n");
        if server_ms(&mut c) < deadline - 50 {
            watched_live = true;
            while server_ms(&mut c) <= deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            c.expect(&["MULTI"], "+OK\r\n");
            c.expect(&["INCR", "key"], "+QUEUED\r\n");
            c.expect(&["EXEC"], ABORTED);
            break;
        }
        c.expect(&["UNWATCH"], "+OK\r\n");
    }
    assert!(watched_live, "could not WATCH the key before its deadline");

    // Stale keys (already expired when watched) are missing keys: their removal is no change
    // (multi.tcl "WATCH stale keys should not fail EXEC" and the tests after it).
    c.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);

    c.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    c.expect(&["EXISTS", "x"], ":0\r\n");
    assert_eq!(ping_tx(&mut c), RAN);

    c.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["FLUSHDB"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);

    // SWAPDB does not touch watched stale keys.
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // ... nor a missing key replaced with a stale one ...
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SELECT", "1"], "+OK\r\n");
    o.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    o.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    // ... nor a stale key replaced with another stale key.
    c.expect(&["FLUSHALL"], "+OK\r\n");
    c.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    o.expect(&["SET", "x", "bar", "PXAT", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), RAN);
    o.expect(&["SELECT", "0"], "+OK\r\n");

    // But writing a watched stale key is a change.
    c.expect(&["SET", "x", "foo", "PXAT", "1"], "+OK\r\n");
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SET", "x", "bar"], "+OK\r\n");
    assert_eq!(ping_tx(&mut c), ABORTED);
}

#[test]
fn resp3_aborted_exec_is_null() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    common::hello3(&mut c);
    c.expect(&["WATCH", "x"], "+OK\r\n");
    o.expect(&["SET", "x", "1"], "+OK\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["GET", "x"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "_\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["GET", "nosuch"], "+QUEUED\r\n");
    c.expect(&["GET", "x"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*2\r\n_\r\n$1\r\n1\r\n");
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["FOO"], "-ERR unknown command 'FOO', with args beginning with: \r\n");
    c.expect(&["EXEC"], EXECABORT);
}

#[test]
fn pipelined_transactions() {
    let s = Server::start();
    let mut c = s.raw();
    // redis-py's pipeline(): MULTI ... EXEC in one write.
    let got = pipeline(
        &mut c,
        &[&["MULTI"], &["SET", "a", "1"], &["INCR", "a"], &["GET", "a"], &["EXEC"]],
    );
    assert_eq!(
        got,
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
    );
    // A queue-time error inside a pipelined transaction.
    let got = pipeline(
        &mut c,
        &[&["MULTI"], &["SET", "b", "1"], &["BADCMD"], &["EXEC"], &["EXISTS", "b"]],
    );
    assert_eq!(
        got,
        format!(
            "+OK\r\n+QUEUED\r\n-ERR unknown command 'BADCMD', with args beginning with: \r\n{}:0\r\n",
            EXECABORT
        )
    );
    // WATCH, GET, MULTI ... EXEC as a check-and-set client pipelines it.
    let got = pipeline(
        &mut c,
        &[
            &["WATCH", "a"],
            &["GET", "a"],
            &["MULTI"],
            &["SET", "a", "3"],
            &["EXEC"],
            &["GET", "a"],
        ],
    );
    assert_eq!(got, "+OK\r\n$1\r\n2\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n$1\r\n3\r\n");
    // Two transactions back to back in one write.
    let got = pipeline(
        &mut c,
        &[
            &["MULTI"],
            &["INCR", "n"],
            &["EXEC"],
            &["MULTI"],
            &["INCR", "n"],
            &["EXEC"],
        ],
    );
    assert_eq!(got, "+OK\r\n+QUEUED\r\n*1\r\n:1\r\n+OK\r\n+QUEUED\r\n*1\r\n:2\r\n");

    // The redis crate's atomic pipeline, and its WATCH-based transaction helper.
    let mut r = s.client();
    let (x, y): (i64, String) = redis::pipe()
        .atomic()
        .cmd("INCRBY")
        .arg("n")
        .arg(10)
        .cmd("GET")
        .arg("a")
        .query(&mut r)
        .unwrap();
    assert_eq!((x, y), (12, "3".to_string()));
    let v: (i64,) = redis::transaction(&mut r, &["n"], |con, pipe| {
        let n: i64 = redis::cmd("GET").arg("n").query(con)?;
        pipe.cmd("SET")
            .arg("n")
            .arg(n * 2)
            .ignore()
            .cmd("GET")
            .arg("n")
            .query(con)
    })
    .unwrap();
    assert_eq!(v, (24,));
}

#[test]
fn transactions_are_atomic_for_other_clients() {
    let s = Server::start();
    let mut c = s.raw();
    let mut o = s.raw();
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SET", "t", "1"], "+QUEUED\r\n");
    // Queued commands have not run.
    o.expect(&["GET", "t"], "$-1\r\n");
    c.expect(&["INCR", "t"], "+QUEUED\r\n");
    c.expect(&["EXEC"], "*2\r\n+OK\r\n:2\r\n");
    o.expect(&["GET", "t"], "$1\r\n2\r\n");
    // Many clients incrementing through WATCH/MULTI/EXEC retries never lose an update.
    let mut handles = Vec::new();
    for _ in 0..4 {
        let mut c = s.raw();
        handles.push(std::thread::spawn(move || {
            let mut done = 0;
            while done < 25 {
                c.expect(&["WATCH", "counter"], "+OK\r\n");
                let v = text(c.cmd(&["GET", "counter"]));
                let n: i64 = if v == "$-1\r\n" {
                    0
                } else {
                    v.split("\r\n").nth(1).unwrap().parse().unwrap()
                };
                let r = pipeline(
                    &mut c,
                    &[&["MULTI"], &["SET", "counter", &(n + 1).to_string()], &["EXEC"]],
                );
                if r.ends_with("*1\r\n+OK\r\n") {
                    done += 1;
                } else {
                    assert!(r.ends_with("*-1\r\n"), "{:?}", r);
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    o.expect(&["GET", "counter"], "$3\r\n100\r\n");
}
