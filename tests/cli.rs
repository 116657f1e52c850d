//! `edgekv kv ...` end to end: the real binary as a client of a real server, every command
//! with its exact stdout, stderr and exit status (wrangler's shapes, kv-research.md §4), and
//! its effect checked through a raw RESP connection.
//!
//! stdout and stderr are pipes here, never terminals: bulk progress comes as plain lines and
//! `bulk delete` without `--force` refuses to ask.

mod common;
use common::{bulk, free_port, int_reply, now, payload, Raw, Server};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one `edgekv kv ...` run produced.
struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("utf-8 stdout")
    }

    /// Asserts success with nothing on stderr; returns stdout.
    #[track_caller]
    fn ok(&self) -> String {
        assert_eq!(
            (self.code, self.stderr.as_str()),
            (0, ""),
            "stdout: {:?}",
            String::from_utf8_lossy(&self.stdout)
        );
        self.out()
    }

    /// Asserts exit 1 with exactly `stdout` and the one line `edgekv: error: <err>`.
    #[track_caller]
    fn fails(&self, stdout: &str, err: &str) {
        assert_eq!(self.stderr, format!("edgekv: error: {err}\n"));
        assert_eq!(self.out(), stdout);
        assert_eq!(self.code, 1);
    }

    /// Asserts a clap usage error: exit 2, nothing on stdout, `what` in the message.
    #[track_caller]
    fn usage_error(&self, what: &str) {
        assert_eq!(self.code, 2, "stderr: {}", self.stderr);
        assert_eq!(self.out(), "");
        assert!(self.stderr.starts_with("error: "), "{}", self.stderr);
        assert!(self.stderr.contains(what), "{}", self.stderr);
    }
}

fn url(s: &Server) -> String {
    format!("redis://127.0.0.1:{}/0", s.port)
}

/// Runs `edgekv kv --url URL args...` in `dir`.
fn run(dir: &Path, url: &str, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_edgekv"))
        .arg("kv")
        .arg("--url")
        .arg(url)
        .args(args)
        .current_dir(dir)
        .env_remove("EDGEKV_URL")
        .output()
        .expect("run edgekv kv");
    Out {
        code: o.status.code().expect("exit code"),
        stdout: o.stdout,
        stderr: String::from_utf8(o.stderr).expect("utf-8 stderr"),
    }
}

/// Runs against `s` in `dir` (for relative file names and config files).
fn kv_in(s: &Server, dir: &Path, args: &[&str]) -> Out {
    run(dir, &url(s), args)
}

/// Runs against `s` in an empty folder (no config file around).
fn kv(s: &Server, args: &[&str]) -> Out {
    let d = tempfile::tempdir().unwrap();
    kv_in(s, d.path(), args)
}

/// The stdout of `namespace create`.
fn created(title: &str, binding: &str, id: &str) -> String {
    format!(
        "🌀 Creating namespace with title \"{title}\"\n\
         ✨ Success!\n\
         To access your new KV Namespace in your Worker, add the following snippet to your configuration file:\n\
         [[kv_namespaces]]\n\
         binding = \"{binding}\"\n\
         id = \"{id}\"\n"
    )
}

/// The id in a `namespace create` output: 32 lowercase hex characters.
#[track_caller]
fn id_of(out: &str) -> String {
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id = \"")?.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no id line in {out:?}"));
    assert!(
        id.len() == 32 && id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{id:?}"
    );
    id.to_string()
}

/// Creates a namespace with the CLI, checks the output, returns the id.
#[track_caller]
fn create(s: &Server, title: &str, binding: &str) -> String {
    let out = kv(s, &["namespace", "create", title]).ok();
    let id = id_of(&out);
    assert_eq!(out, created(title, binding, &id));
    id
}

/// A raw connection with the namespace selected.
fn raw_in(s: &Server, id: &str) -> Raw {
    let mut r = s.raw();
    r.expect(&["SELECT", id], "+OK\r\n");
    r
}

fn dbsize(r: &mut Raw) -> i64 {
    int_reply(r, &["DBSIZE"])
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// `KV.BULKPUT` through the raw connection; asserts every item was written.
fn bulk_put_raw(r: &mut Raw, items: &Json) {
    let n = items.as_array().unwrap().len();
    let reply = r.cmd(&["KV.BULKPUT", &items.to_string()]);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!("*4\r\n$20\r\nsuccessful_key_count\r\n:{n}\r\n$17\r\nunsuccessful_keys\r\n*0\r\n")
    );
}

/// `n` items `{key: "key-0000", value: "value-0000"}`, ...
fn numbered_items(n: usize) -> Json {
    Json::Array(
        (0..n)
            .map(|i| json!({"key": format!("key-{i:04}"), "value": format!("value-{i:04}")}))
            .collect(),
    )
}

/// Progress lines of a bulk command over `total` items, as wrangler prints them.
fn progress(verb: &str, lines: &[(u32, &str)], total: &str) -> String {
    lines
        .iter()
        .map(|(pct, done)| format!("{verb} {pct}% ({done} out of {total})\n"))
        .collect()
}

fn pretty(v: &Json) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

// ------------------------------------------------------------------------------------------
// namespace create | list | rename | delete

#[test]
fn namespace_create_prints_the_snippet_with_a_wrangler_binding() {
    let s = Server::start();
    let id = create(&s, "my sessions", "my_sessions");
    // Dashes, dots and a leading digit, as wrangler's getValidBindingName treats them.
    create(&s, "2024-cache.v2", "_2024_cachev2");
    create(&s, "USERS", "USERS");
    create(&s, "!?", "KV");

    // --binding overrides the derived name.
    let out = kv(&s, &["namespace", "create", "other things", "--binding", "OTHER"]).ok();
    let other = id_of(&out);
    assert_eq!(out, created("other things", "OTHER", &other));
    assert_ne!(id, other);

    // The id printed is the namespace's id on the server.
    let mut r = s.raw();
    let got = r.cmd(&["KV.NAMESPACE", "GET", "my sessions"]);
    assert!(
        String::from_utf8_lossy(&got).starts_with(&format!("*8\r\n$2\r\nid\r\n$32\r\n{id}\r\n")),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // A title taken: the first line was printed, then the one error line.
    kv(&s, &["namespace", "create", "my sessions"]).fails(
        "🌀 Creating namespace with title \"my sessions\"\n",
        "A namespace with this account ID and title already exists",
    );
    // An empty title.
    kv(&s, &["namespace", "create", ""]).fails(
        "🌀 Creating namespace with title \"\"\n",
        "A namespace title must not be empty",
    );
}

#[test]
fn namespace_list_is_pretty_json_of_id_title_index() {
    let s = Server::start();
    assert_eq!(kv(&s, &["namespace", "list"]).ok(), "[]\n");
    let a = create(&s, "alpha", "alpha");
    let b = create(&s, "beta space", "beta_space");
    assert_eq!(
        kv(&s, &["namespace", "list"]).ok(),
        format!(
            "[\n  {{\n    \"id\": \"{a}\",\n    \"title\": \"alpha\",\n    \"index\": 16\n  }},\n  \
             {{\n    \"id\": \"{b}\",\n    \"title\": \"beta space\",\n    \"index\": 17\n  }}\n]\n"
        )
    );
}

#[test]
fn namespace_rename_by_title_and_by_id() {
    let s = Server::start();
    let id = create(&s, "old name", "old_name");

    let out = kv(&s, &["namespace", "rename", "old name", "--new-name", "new name"]).ok();
    assert_eq!(
        out,
        format!("Renaming KV namespace {id} to \"new name\".\n✨ Successfully renamed namespace to \"new name\"\n")
    );
    let out = kv(
        &s,
        &["namespace", "rename", "--namespace-id", &id, "--new-name", "newer"],
    )
    .ok();
    assert_eq!(
        out,
        format!("Renaming KV namespace {id} to \"newer\".\n✨ Successfully renamed namespace to \"newer\"\n")
    );
    assert_eq!(
        kv(&s, &["namespace", "list"]).ok(),
        format!("[\n  {{\n    \"id\": \"{id}\",\n    \"title\": \"newer\",\n    \"index\": 16\n  }}\n]\n")
    );

    // Both, or neither, of old-name and --namespace-id.
    kv(
        &s,
        &["namespace", "rename", "newer", "--namespace-id", &id, "--new-name", "x"],
    )
    .fails(
        "",
        "Cannot specify both old-name and --namespace-id. Use either old-name (as first argument) or \
         --namespace-id flag, not both.",
    );
    kv(&s, &["namespace", "rename", "--new-name", "x"]).fails(
        "",
        "Either old-name (as first argument) or --namespace-id must be specified",
    );
    // An unknown name (or id).
    let unknown = "No namespace found with the name \"old name\". Check available namespaces with \
                   \"edgekv kv namespace list\".";
    kv(&s, &["namespace", "rename", "old name", "--new-name", "x"]).fails("", unknown);
    kv(
        &s,
        &["namespace", "rename", "--namespace-id", "old name", "--new-name", "x"],
    )
    .fails("", unknown);
    // --new-name is required.
    kv(&s, &["namespace", "rename", "newer"]).usage_error("--new-name");

    // A title another namespace has.
    let other = create(&s, "other", "other");
    kv(&s, &["namespace", "rename", "other", "--new-name", "newer"]).fails(
        &format!("Renaming KV namespace {other} to \"newer\".\n"),
        "A namespace with this account ID and title already exists",
    );
    let mut r = s.raw();
    assert!(String::from_utf8_lossy(&r.cmd(&["KV.NAMESPACE", "GET", "other"])).contains(&other));
}

#[test]
fn namespace_delete_by_id_title_and_binding_drops_the_keys() {
    let s = Server::start();
    let id = create(&s, "doomed", "doomed");
    let mut r = raw_in(&s, &id);
    r.expect(&["KV.PUT", "a", "1"], "+OK\r\n");
    r.expect(&["KV.PUT", "b", "2"], "+OK\r\n");

    let out = kv(&s, &["namespace", "delete", "--namespace-id", &id]).ok();
    assert_eq!(
        out,
        format!("Deleting KV namespace {id}.\nDeleted KV namespace {id}.\n")
    );
    // The connection that had it selected is told; the id no longer selects anything.
    r.expect(
        &["KV.GET", "a"],
        "-ERR the selected namespace was deleted; SELECT another one\r\n",
    );
    let again = s.raw().cmd(&["SELECT", &id]);
    assert!(again.starts_with(b"-ERR "), "{}", String::from_utf8_lossy(&again));
    assert_eq!(kv(&s, &["namespace", "list"]).ok(), "[]\n");
    // The next namespace takes the slot back, empty.
    let fresh = create(&s, "fresh", "fresh");
    let mut r = raw_in(&s, "16");
    r.expect(&["KV.GET", "a"], "$-1\r\n");
    assert_eq!(dbsize(&mut r), 0);

    // --namespace-id also takes a title; the id is printed.
    let out = kv(&s, &["namespace", "delete", "--namespace-id", "fresh"]).ok();
    assert_eq!(
        out,
        format!("Deleting KV namespace {fresh}.\nDeleted KV namespace {fresh}.\n")
    );

    // --binding, through wrangler.toml in the current folder.
    let bound = create(&s, "bound", "bound");
    let mut r = raw_in(&s, &bound);
    r.expect(&["KV.PUT", "k", "v"], "+OK\r\n");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "wrangler.toml",
        format!("name = \"w\"\n\n[[kv_namespaces]]\nbinding = \"BOUND\"\nid = \"{bound}\"\n"),
    );
    let out = kv_in(&s, dir.path(), &["namespace", "delete", "--binding", "BOUND"]).ok();
    assert_eq!(
        out,
        format!("Deleting KV namespace {bound}.\nDeleted KV namespace {bound}.\n")
    );
    r.expect(
        &["KV.GET", "k"],
        "-ERR the selected namespace was deleted; SELECT another one\r\n",
    );
    assert_eq!(kv(&s, &["namespace", "list"]).ok(), "[]\n");

    // Unknown, and no target at all.
    kv(&s, &["namespace", "delete", "--namespace-id", "doomed"]).fails("", "namespace \"doomed\": Unknown namespace.");
    kv(&s, &["namespace", "delete"]).fails("", "Exactly one of the arguments binding and namespace-id is required");
    kv(&s, &["namespace", "delete", "--binding", "B", "--namespace-id", "x"]).usage_error("cannot be used with");
}

// ------------------------------------------------------------------------------------------
// key put | get | list | delete

#[test]
fn key_put_value_and_metadata() {
    let s = Server::start();
    let id = create(&s, "keys", "keys");
    let mut r = raw_in(&s, &id);

    let out = kv(&s, &["key", "put", "greeting", "hello world", "--namespace-id", &id]).ok();
    assert_eq!(
        out,
        format!("Writing the value \"hello world\" to key \"greeting\" on namespace {id}.\n")
    );
    r.expect(
        &["KV.GETWITHMETADATA", "greeting"],
        "*2\r\n$11\r\nhello world\r\n$-1\r\n",
    );

    // Metadata: the line shows it as JSON.stringify would; the server stores that text.
    let out = kv(
        &s,
        &[
            "key",
            "put",
            "user:1",
            "ada",
            "--metadata",
            r#"{ "z": 1, "a": [true, null] }"#,
            "--namespace-id",
            "keys",
        ],
    )
    .ok();
    assert_eq!(
        out,
        format!(
            "Writing the value \"ada\" to key \"user:1\" on namespace {id} with metadata \"{{\"z\":1,\"a\":[true,null]}}\".\n"
        )
    );
    r.expect(
        &["KV.GETWITHMETADATA", "user:1"],
        &format!("*2\r\n{}{}", bulk("ada"), bulk(r#"{"z":1,"a":[true,null]}"#)),
    );

    // A put replaces value and metadata together; an empty value is a value.
    let out = kv(&s, &["key", "put", "user:1", "", "--namespace-id", &id]).ok();
    assert_eq!(
        out,
        format!("Writing the value \"\" to key \"user:1\" on namespace {id}.\n")
    );
    r.expect(&["KV.GETWITHMETADATA", "user:1"], "*2\r\n$0\r\n\r\n$-1\r\n");

    // Metadata that is not JSON: refused before anything is printed or written.
    let o = kv(
        &s,
        &["key", "put", "m", "v", "--metadata", "{nope", "--namespace-id", &id],
    );
    assert_eq!((o.code, o.out().as_str()), (1, ""));
    assert!(
        o.stderr.starts_with("edgekv: error: --metadata is not valid JSON: "),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1);
    r.expect(&["KV.GET", "m"], "$-1\r\n");
}

#[test]
fn key_put_from_a_file_round_trips_binary() {
    let s = Server::start();
    let id = create(&s, "files", "files");
    let dir = tempfile::tempdir().unwrap();
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"\r\n\0\xff\xfe trailing\n");
    let path = write(dir.path(), "blob.bin", &data);
    let p = path.to_str().unwrap();

    let out = kv(&s, &["key", "put", "blob", "--path", p, "--namespace-id", &id]).ok();
    assert_eq!(
        out,
        format!("Writing the contents of {p} to the key \"blob\" on namespace {id}.\n")
    );
    // A relative path is printed as given.
    let out = kv_in(
        &s,
        dir.path(),
        &["key", "put", "blob2", "--path", "blob.bin", "--namespace-id", &id],
    )
    .ok();
    assert_eq!(
        out,
        format!("Writing the contents of blob.bin to the key \"blob2\" on namespace {id}.\n")
    );

    let mut r = raw_in(&s, &id);
    for k in ["blob", "blob2"] {
        let got = r.cmd(&["KV.GET", k]);
        let mut want = format!("${}\r\n", data.len()).into_bytes();
        want.extend_from_slice(&data);
        want.extend_from_slice(b"\r\n");
        assert_eq!(got, want);
    }

    // key get writes the bytes unchanged, with no newline.
    let o = kv(&s, &["key", "get", "blob", "--namespace-id", &id]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(o.stdout, data);
    // --text decodes as UTF-8 (invalid bytes become U+FFFD) and adds a newline.
    let o = kv(&s, &["key", "get", "blob", "--text", "--namespace-id", &id]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(o.out(), format!("{}\n", String::from_utf8_lossy(&data)));

    // A file that is not there.
    let missing = dir.path().join("missing.bin");
    let m = missing.to_str().unwrap();
    kv(&s, &["key", "put", "x", "--path", m, "--namespace-id", &id])
        .fails("", &format!("cannot read {m}: No such file or directory (os error 2)"));
}

#[test]
fn key_put_expirations() {
    let s = Server::start();
    let id = create(&s, "ttl", "ttl");
    let mut r = raw_in(&s, &id);

    let out = kv(
        &s,
        &["key", "put", "session", "s", "--ttl", "3600", "--namespace-id", &id],
    )
    .ok();
    assert_eq!(
        out,
        format!("Writing the value \"s\" to key \"session\" on namespace {id}.\n")
    );
    let ttl = int_reply(&mut r, &["TTL", "session"]);
    assert!((3598..=3600).contains(&ttl), "{ttl}");

    let at = now() + 7200;
    let at_s = at.to_string();
    let out = kv(
        &s,
        &["key", "put", "until", "u", "--expiration", &at_s, "--namespace-id", &id],
    )
    .ok();
    assert_eq!(
        out,
        format!("Writing the value \"u\" to key \"until\" on namespace {id}.\n")
    );
    let ttl = int_reply(&mut r, &["TTL", "until"]);
    assert!((7197..=7200).contains(&ttl), "{ttl}");
    assert_eq!(int_reply(&mut r, &["EXPIRETIME", "until"]), at);
    assert_eq!(
        kv(&s, &["key", "list", "--prefix", "until", "--namespace-id", &id]).ok(),
        format!("[\n  {{\n    \"name\": \"until\",\n    \"expiration\": {at}\n  }}\n]\n")
    );

    // The server's Workers KV texts; the line was printed, nothing was written.
    let line = |k: &str| format!("Writing the value \"v\" to key \"{k}\" on namespace {id}.\n");
    kv(&s, &["key", "put", "short", "v", "--ttl", "30", "--namespace-id", &id]).fails(
        &line("short"),
        "Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
    );
    kv(&s, &["key", "put", "zero", "v", "--ttl", "0", "--namespace-id", &id]).fails(
        &line("zero"),
        "Invalid expiration_ttl of 0. Please specify integer greater than 0.",
    );
    kv(
        &s,
        &[
            "key",
            "put",
            "both",
            "v",
            "--ttl",
            "600",
            "--expiration",
            &at_s,
            "--namespace-id",
            &id,
        ],
    )
    .fails(
        &line("both"),
        "Both expiration and expiration_ttl were given; a write takes one or the other, never both.",
    );
    kv(
        &s,
        &["key", "put", "past", "v", "--expiration", "1000", "--namespace-id", &id],
    )
    .fails(
        &line("past"),
        "Invalid expiration of 1000. Please specify integer greater than the current number of seconds since \
         the UNIX epoch.",
    );
    for k in ["short", "zero", "both", "past"] {
        r.expect(&["KV.GET", k], "$-1\r\n");
    }
    // Not a number: clap refuses it.
    kv(&s, &["key", "put", "k", "v", "--ttl", "soon", "--namespace-id", &id]).usage_error("--ttl");
}

#[test]
fn key_put_errors() {
    let s = Server::start();
    let id = create(&s, "errs", "errs");

    kv(&s, &["key", "put", "", "v", "--namespace-id", &id]).fails(
        &format!("Writing the value \"v\" to key \"\" on namespace {id}.\n"),
        "Key names must not be empty",
    );
    kv(&s, &["key", "put", "..", "v", "--namespace-id", &id]).fails(
        &format!("Writing the value \"v\" to key \"..\" on namespace {id}.\n"),
        "Illegal key name \"..\". Please use a different name.",
    );
    kv(&s, &["key", "put", "k", "v"]).fails("", "Exactly one of the arguments binding and namespace-id is required");
    kv(&s, &["key", "put", "k", "--namespace-id", &id])
        .fails("", "Exactly one of the arguments value and path is required");
    kv(&s, &["key", "put", "k", "v", "--namespace-id", "ghost"]).fails("", "namespace \"ghost\": Unknown namespace.");
    kv(&s, &["key", "put", "k", "v", "--path", "f", "--namespace-id", &id]).usage_error("cannot be used with");
    kv(&s, &["key", "put", "k", "v", "--binding", "B", "--namespace-id", &id]).usage_error("cannot be used with");
    kv(&s, &["key", "put", "--namespace-id", &id]).usage_error("<KEY>");

    let mut r = raw_in(&s, &id);
    assert_eq!(dbsize(&mut r), 0);
}

#[test]
fn key_get_raw_text_and_missing() {
    let s = Server::start();
    let id = create(&s, "get", "get");
    let mut r = raw_in(&s, &id);
    r.expect(&["KV.PUT", "k", "line one\nline two"], "+OK\r\n");
    r.expect(&["KV.PUT", "empty", ""], "+OK\r\n");

    assert_eq!(
        kv(&s, &["key", "get", "k", "--namespace-id", &id]).ok(),
        "line one\nline two"
    );
    assert_eq!(
        kv(&s, &["key", "get", "k", "--text", "--namespace-id", "get"]).ok(),
        "line one\nline two\n"
    );
    // An empty value is found, and is empty.
    assert_eq!(kv(&s, &["key", "get", "empty", "--namespace-id", &id]).ok(), "");
    assert_eq!(
        kv(&s, &["key", "get", "empty", "--text", "--namespace-id", &id]).ok(),
        "\n"
    );

    kv(&s, &["key", "get", "nope", "--namespace-id", &id]).fails("", "Value not found");
    kv(&s, &["key", "get", "nope", "--text", "--namespace-id", &id]).fails("", "Value not found");
    kv(&s, &["key", "get", "", "--namespace-id", &id]).fails("", "Key names must not be empty");
    kv(&s, &["key", "get", "k"]).fails("", "Exactly one of the arguments binding and namespace-id is required");
}

#[test]
fn key_list_follows_cursors_and_filters_by_prefix() {
    let s = Server::start();
    let id = create(&s, "many", "many");
    let mut r = raw_in(&s, &id);
    assert_eq!(kv(&s, &["key", "list", "--namespace-id", &id]).ok(), "[]\n");

    bulk_put_raw(&mut r, &numbered_items(2500));
    let at = now() + 86400;
    r.expect(
        &[
            "KV.PUT",
            "meta/a",
            "x",
            "EXPIRATION",
            &at.to_string(),
            "METADATA",
            r#"{"n":1,"tags":["a","b"]}"#,
        ],
        "+OK\r\n",
    );
    r.expect(&["KV.PUT", "meta/b", "x", "METADATA", "\"just a string\""], "+OK\r\n");
    r.expect(&["KV.PUT", "other", "x"], "+OK\r\n");

    let meta = format!(
        "[\n  {{\n    \"name\": \"meta/a\",\n    \"expiration\": {at},\n    \"metadata\": {{\n      \"n\": 1,\n      \
         \"tags\": [\n        \"a\",\n        \"b\"\n      ]\n    }}\n  }},\n  {{\n    \"name\": \"meta/b\",\n    \
         \"metadata\": \"just a string\"\n  }}\n]\n"
    );
    assert_eq!(
        kv(&s, &["key", "list", "--prefix", "meta/", "--namespace-id", &id]).ok(),
        meta
    );

    // Everything: three pages of 1,000 (the server's page size), in byte order.
    let names = |range: std::ops::Range<usize>| range.map(|i| json!({"name": format!("key-{i:04}")}));
    let mut all: Vec<Json> = names(0..2500).collect();
    all.push(json!({"name": "meta/a", "expiration": at, "metadata": {"n": 1, "tags": ["a", "b"]}}));
    all.push(json!({"name": "meta/b", "metadata": "just a string"}));
    all.push(json!({"name": "other"}));
    let out = kv(&s, &["key", "list", "--namespace-id", &id]).ok();
    assert_eq!(out, format!("{}\n", pretty(&Json::Array(all))));

    // A prefix over several pages, and one that is exactly one full page.
    let out = kv(&s, &["key", "list", "--prefix", "key-", "--namespace-id", &id]).ok();
    assert_eq!(out, format!("{}\n", pretty(&Json::Array(names(0..2500).collect()))));
    let out = kv(&s, &["key", "list", "--prefix", "key-1", "--namespace-id", &id]).ok();
    assert_eq!(out, format!("{}\n", pretty(&Json::Array(names(1000..2000).collect()))));
    assert_eq!(
        kv(&s, &["key", "list", "--prefix", "zzz", "--namespace-id", &id]).ok(),
        "[]\n"
    );
}

#[test]
fn key_delete_prints_a_line_and_deletes() {
    let s = Server::start();
    let id = create(&s, "del", "del");
    let mut r = raw_in(&s, &id);
    r.expect(&["KV.PUT", "/NCC-74656", "voyager"], "+OK\r\n");
    r.expect(&["KV.PUT", "keep", "me"], "+OK\r\n");

    let out = kv(&s, &["key", "delete", "/NCC-74656", "--namespace-id", &id]).ok();
    assert_eq!(out, format!("Deleting the key \"/NCC-74656\" on namespace {id}.\n"));
    r.expect(&["KV.GET", "/NCC-74656"], "$-1\r\n");
    r.expect(&["KV.GET", "keep"], "$2\r\nme\r\n");
    // Deleting a missing key succeeds, as in Workers KV.
    let out = kv(&s, &["key", "delete", "/NCC-74656", "--namespace-id", "del"]).ok();
    assert_eq!(out, format!("Deleting the key \"/NCC-74656\" on namespace {id}.\n"));
    kv(&s, &["key", "get", "/NCC-74656", "--namespace-id", &id]).fails("", "Value not found");
    kv(&s, &["key", "delete", "x"]).fails("", "Exactly one of the arguments binding and namespace-id is required");
}

// ------------------------------------------------------------------------------------------
// bulk put | get | delete

#[test]
fn bulk_put_in_batches_with_progress_lines() {
    let s = Server::start();
    let id = create(&s, "bulk", "bulk");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "keys.json", numbered_items(2500).to_string());

    let out = kv_in(&s, dir.path(), &["bulk", "put", "keys.json", "--namespace-id", &id]).ok();
    let lines = [(0, "0"), (40, "1,000"), (80, "2,000"), (100, "2,500")];
    assert_eq!(out, format!("{}Success!\n", progress("Uploaded", &lines, "2,500")));

    let mut r = raw_in(&s, &id);
    assert_eq!(dbsize(&mut r), 2500);
    for i in [0, 999, 1000, 2499] {
        assert_eq!(
            payload(&r.cmd(&["KV.GET", &format!("key-{i:04}")])),
            format!("value-{i:04}")
        );
    }

    // 1,000 items or fewer: one batch, no progress lines.
    write(dir.path(), "small.json", numbered_items(1000).to_string());
    let out = kv_in(&s, dir.path(), &["bulk", "put", "small.json", "--namespace-id", &id]).ok();
    assert_eq!(out, "Success!\n");
    // An empty array writes nothing and succeeds.
    write(dir.path(), "empty.json", "[]");
    assert_eq!(
        kv_in(&s, dir.path(), &["bulk", "put", "empty.json", "--namespace-id", &id]).ok(),
        "Success!\n"
    );
    assert_eq!(dbsize(&mut r), 2500);
}

#[test]
fn bulk_put_item_fields() {
    use base64::Engine;
    let s = Server::start();
    let id = create(&s, "fields", "fields");
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = vec![0, 1, 2, 0xff, 0xfe, b'\r', b'\n', 0x80];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&binary);
    let at = now() + 7200;
    let items = json!([
        {"key": "plain", "value": "text value"},
        {"key": "bin", "value": b64, "base64": true},
        {"key": "not-decoded", "value": "aGk=", "base64": false},
        {"key": "meta", "value": "m", "metadata": {"z": 1, "a": {"b": [1, 2]}}},
        {"key": "ttl", "value": "t", "expiration_ttl": 600},
        {"key": "at", "value": "e", "expiration": at},
    ]);
    write(dir.path(), "items.json", items.to_string());
    let out = kv_in(&s, dir.path(), &["bulk", "put", "items.json", "--binding", "F"]);
    out.fails(
        "",
        "--binding specified, but no config file was found (edgekv.toml or wrangler.toml).",
    );
    write(
        dir.path(),
        "edgekv.toml",
        format!("[[kv_namespaces]]\nbinding = \"F\"\nid = \"{id}\"\n"),
    );
    assert_eq!(
        kv_in(&s, dir.path(), &["bulk", "put", "items.json", "--binding", "F"]).ok(),
        "Success!\n"
    );

    let mut r = raw_in(&s, &id);
    r.expect(&["KV.GETWITHMETADATA", "plain"], "*2\r\n$10\r\ntext value\r\n$-1\r\n");
    let mut want = b"$8\r\n".to_vec();
    want.extend_from_slice(&binary);
    want.extend_from_slice(b"\r\n");
    assert_eq!(r.cmd(&["KV.GET", "bin"]), want);
    r.expect(&["KV.GET", "not-decoded"], "$4\r\naGk=\r\n");
    r.expect(
        &["KV.GETWITHMETADATA", "meta"],
        &format!("*2\r\n{}{}", bulk("m"), bulk(r#"{"z":1,"a":{"b":[1,2]}}"#)),
    );
    let ttl = int_reply(&mut r, &["TTL", "ttl"]);
    assert!((598..=600).contains(&ttl), "{ttl}");
    assert_eq!(int_reply(&mut r, &["EXPIRETIME", "at"]), at);
    assert_eq!(int_reply(&mut r, &["TTL", "plain"]), -1);

    // Unexpected properties: a warning on stderr; the item is written.
    write(
        dir.path(),
        "extra.json",
        r#"[{"key":"x","value":"1","invalid":true,"also":0}]"#,
    );
    let o = kv_in(&s, dir.path(), &["bulk", "put", "extra.json", "--namespace-id", &id]);
    assert_eq!(o.code, 0);
    assert_eq!(o.out(), "Success!\n");
    assert_eq!(
        o.stderr,
        "edgekv: warning: unexpected key-value properties in \"extra.json\": the item at index 0 contains \
         unexpected properties: [\"invalid\",\"also\"].\n"
    );
    r.expect(&["KV.GET", "x"], "$1\r\n1\r\n");
}

#[test]
fn bulk_put_refuses_bad_files_and_writes_nothing() {
    let s = Server::start();
    let id = create(&s, "bad", "bad");
    let dir = tempfile::tempdir().unwrap();
    let put = |file: &str| kv_in(&s, dir.path(), &["bulk", "put", file, "--namespace-id", &id]);
    let expect_items = "Each item in the array should be an object with key: string, value: string, \
                        expiration?: number, expiration_ttl?: number, metadata?: object, base64?: boolean.";

    write(dir.path(), "object.json", r#"{"key":"a","value":"b"}"#);
    put("object.json").fails(
        "",
        "Unexpected JSON input from \"object.json\". Expected an array of key-value objects but got type \"object\".",
    );
    write(dir.path(), "number.json", "12");
    put("number.json").fails(
        "",
        "Unexpected JSON input from \"number.json\". Expected an array of key-value objects but got type \"number\".",
    );
    write(
        dir.path(),
        "items.json",
        r#"[{"key":"ok","value":"v"},123,"a string",{"key":"someKey"},null]"#,
    );
    put("items.json").fails(
        "",
        &format!(
            "Unexpected JSON input from \"items.json\". {expect_items} The item at index 1 is 123; The item at \
             index 2 is \"a string\"; The item at index 3 is {{\"key\":\"someKey\"}}; The item at index 4 is null"
        ),
    );
    write(
        dir.path(),
        "types.json",
        r#"[{"key":"a","value":1},{"key":"b","value":"v","expiration_ttl":"600"},{"key":"c","value":"v","base64":"yes"}]"#,
    );
    put("types.json").fails(
        "",
        &format!(
            "Unexpected JSON input from \"types.json\". {expect_items} The item at index 0 is {{\"key\":\"a\",\"value\":1}}; \
             The item at index 1 is {{\"key\":\"b\",\"value\":\"v\",\"expiration_ttl\":\"600\"}}; The item at index 2 is \
             {{\"key\":\"c\",\"value\":\"v\",\"base64\":\"yes\"}}"
        ),
    );
    // At most 12 bad items are shown, then "...".
    write(
        dir.path(),
        "numbers.json",
        Json::Array((0..20).map(|i| json!(i)).collect()).to_string(),
    );
    let shown: Vec<String> = (0..12).map(|i| format!("The item at index {i} is {i}")).collect();
    put("numbers.json").fails(
        "",
        &format!(
            "Unexpected JSON input from \"numbers.json\". {expect_items} {}; ...",
            shown.join("; ")
        ),
    );
    write(dir.path(), "broken.json", "[{\"key\":");
    put("broken.json").fails(
        "",
        "Unexpected JSON input from \"broken.json\": EOF while parsing a value at line 1 column 8",
    );
    put("missing.json").fails("", "cannot read missing.json: No such file or directory (os error 2)");
    // Items the server refuses (Workers KV's limits): the whole batch is refused.
    write(
        dir.path(),
        "limits.json",
        r#"[{"key":"fine","value":"v"},{"key":"short","value":"v","expiration_ttl":30}]"#,
    );
    put("limits.json").fails(
        "",
        "Invalid expiration_ttl of 30. Expiration TTL must be at least 60. (item 1)",
    );
    write(
        dir.path(),
        "emptykey.json",
        r#"[{"key":"fine","value":"v"},{"key":"","value":"v"}]"#,
    );
    put("emptykey.json").fails("", "Key names must not be empty (item 1)");
    // A bad item in the third batch: checked before the first batch leaves, so nothing is
    // written, and the index is the file's.
    let mut many: Vec<Json> = (0..2500)
        .map(|i| serde_json::json!({"key": format!("m{i}"), "value": "v"}))
        .collect();
    many[2400]["expiration_ttl"] = 30.into();
    write(dir.path(), "many.json", Json::Array(many).to_string());
    put("many.json").fails(
        "",
        "Invalid expiration_ttl of 30. Expiration TTL must be at least 60. (item 2400)",
    );
    // metadata must be an object (or array, or null), as wrangler's check has it.
    write(dir.path(), "meta5.json", r#"[{"key":"k","value":"v","metadata":5}]"#);
    let out = kv_in(&s, dir.path(), &["bulk", "put", "meta5.json", "--namespace-id", &id]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("The item at index 0 is {\"key\":\"k\",\"value\":\"v\",\"metadata\":5}"),
        "{}",
        out.stderr
    );

    let mut r = raw_in(&s, &id);
    assert_eq!(dbsize(&mut r), 0);
}

#[test]
fn bulk_get_prints_values_and_nulls() {
    let s = Server::start();
    let id = create(&s, "bget", "bget");
    let dir = tempfile::tempdir().unwrap();
    let mut r = raw_in(&s, &id);
    r.expect(&["KV.PUT", "someKey1", "someKey1-value"], "+OK\r\n");
    r.expect(&["KV.PUT", "key2", "key2-value", "METADATA", "{\"m\":1}"], "+OK\r\n");

    write(dir.path(), "keys.json", r#"["someKey1",{"name":"key2"},"missing"]"#);
    let out = kv_in(&s, dir.path(), &["bulk", "get", "keys.json", "--namespace-id", &id]).ok();
    assert_eq!(
        out,
        "{\n  \"someKey1\": \"someKey1-value\",\n  \"key2\": \"key2-value\",\n  \"missing\": null\n}\n\nSuccess!\n"
    );

    // More keys than one KV.MGET takes (100): the CLI asks in batches, the order is kept.
    bulk_put_raw(&mut r, &numbered_items(200));
    let keys: Vec<String> = (0..250).rev().map(|i| format!("key-{i:04}")).collect();
    write(dir.path(), "many.json", json!(keys).to_string());
    let out = kv_in(&s, dir.path(), &["bulk", "get", "many.json", "--namespace-id", &id]).ok();
    let mut want = serde_json::Map::new();
    for i in (0..250).rev() {
        let v = if i < 200 {
            json!(format!("value-{i:04}"))
        } else {
            Json::Null
        };
        want.insert(format!("key-{i:04}"), v);
    }
    assert_eq!(out, format!("{}\n\nSuccess!\n", pretty(&Json::Object(want))));

    // An empty array.
    write(dir.path(), "none.json", "[]");
    assert_eq!(
        kv_in(&s, dir.path(), &["bulk", "get", "none.json", "--namespace-id", &id]).ok(),
        "{}\n\nSuccess!\n"
    );

    // Bad files, with wrangler's texts on one line.
    write(dir.path(), "bad.json", r#"["ok",12354,{"key":"someKey"},null]"#);
    kv_in(&s, dir.path(), &["bulk", "get", "bad.json", "--namespace-id", &id]).fails(
        "",
        "Unexpected JSON input from \"bad.json\". Expected an array of strings or objects with a \"name\" key. \
         The item at index 1 is type: \"number\" - 12354; The item at index 2 is type: \"object\" - \
         {\"key\":\"someKey\"}; The item at index 3 is type: \"object\" - null",
    );
    write(dir.path(), "num.json", "12354");
    kv_in(&s, dir.path(), &["bulk", "get", "num.json", "--namespace-id", &id]).fails(
        "",
        "Unexpected JSON input from \"num.json\". Expected an array of strings but got: 12354",
    );
}

#[test]
fn bulk_delete_with_force() {
    let s = Server::start();
    let id = create(&s, "bdel", "bdel");
    let dir = tempfile::tempdir().unwrap();
    let mut r = raw_in(&s, &id);
    bulk_put_raw(&mut r, &numbered_items(2600));

    // 2,500 keys, strings and {"name": ...} objects mixed.
    let keys: Vec<Json> = (0..2500)
        .map(|i| {
            let k = format!("key-{i:04}");
            if i % 2 == 0 {
                json!(k)
            } else {
                json!({ "name": k })
            }
        })
        .collect();
    write(dir.path(), "keys.json", Json::Array(keys).to_string());
    let out = kv_in(
        &s,
        dir.path(),
        &["bulk", "delete", "keys.json", "--force", "--namespace-id", &id],
    )
    .ok();
    let lines = [(0, "0"), (40, "1,000"), (80, "2,000"), (100, "2,500")];
    assert_eq!(out, format!("{}Success!\n", progress("Deleted", &lines, "2,500")));
    assert_eq!(dbsize(&mut r), 100);
    r.expect(&["KV.GET", "key-2499"], "$-1\r\n");
    r.expect(&["KV.GET", "key-2500"], "$10\r\nvalue-2500\r\n");

    // -f, a small file (no progress lines), missing keys are fine.
    write(
        dir.path(),
        "few.json",
        r#"["key-2500",{"name":"key-2501"},"never-there"]"#,
    );
    let out = kv_in(
        &s,
        dir.path(),
        &["bulk", "delete", "few.json", "-f", "--namespace-id", &id],
    )
    .ok();
    assert_eq!(out, "Success!\n");
    assert_eq!(dbsize(&mut r), 98);

    write(dir.path(), "bad.json", r#"["key-2502",{"key":"key-2503"}]"#);
    kv_in(
        &s,
        dir.path(),
        &["bulk", "delete", "bad.json", "-f", "--namespace-id", &id],
    )
    .fails(
        "",
        "Unexpected JSON input from \"bad.json\". Expected an array of strings or objects with a \"name\" key. \
         The item at index 1 is type: \"object\" - {\"key\":\"key-2503\"}",
    );
    assert_eq!(dbsize(&mut r), 98);
}

#[test]
fn bulk_delete_without_force_and_no_terminal_deletes_nothing() {
    let s = Server::start();
    let id = create(&s, "careful", "careful");
    let dir = tempfile::tempdir().unwrap();
    let mut r = raw_in(&s, &id);
    r.expect(&["KV.PUT", "a", "1"], "+OK\r\n");
    r.expect(&["KV.PUT", "b", "2"], "+OK\r\n");
    write(dir.path(), "keys.json", r#"["a","b"]"#);

    kv_in(&s, dir.path(), &["bulk", "delete", "keys.json", "--namespace-id", &id])
        .fails("", "Not deleting keys: confirm on a terminal or pass --force.");
    assert_eq!(dbsize(&mut r), 2);
}

// ------------------------------------------------------------------------------------------
// --binding resolution, --url, quotas

#[test]
fn binding_resolution_through_config_files() {
    let s = Server::start();
    let w = create(&s, "from wrangler", "from_wrangler");
    let e = create(&s, "from edgekv", "from_edgekv");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    kv_in(&s, d, &["key", "put", "k", "v", "--binding", "CACHE"]).fails(
        "",
        "--binding specified, but no config file was found (edgekv.toml or wrangler.toml).",
    );

    write(
        d,
        "wrangler.toml",
        format!(
            "name = \"worker\"\nmain = \"src/index.js\"\n\n[[kv_namespaces]]\nbinding = \"OTHER\"\nid = \"{e}\"\n\n\
             [[kv_namespaces]]\nbinding = \"CACHE\"\nid = \"{w}\"\n"
        ),
    );
    let out = kv_in(&s, d, &["key", "put", "k", "in wrangler", "--binding", "CACHE"]).ok();
    assert_eq!(
        out,
        format!("Writing the value \"in wrangler\" to key \"k\" on namespace {w}.\n")
    );
    assert_eq!(
        kv_in(&s, d, &["key", "get", "k", "--binding", "CACHE"]).ok(),
        "in wrangler"
    );
    assert_eq!(
        kv_in(&s, d, &["key", "list", "--binding", "CACHE"]).ok(),
        "[\n  {\n    \"name\": \"k\"\n  }\n]\n"
    );
    kv_in(&s, d, &["key", "get", "k", "--binding", "NOPE"]).fails(
        "",
        "A namespace with binding name \"NOPE\" was not found in the configured \"kv_namespaces\".",
    );
    raw_in(&s, &w).expect(&["KV.GET", "k"], "$11\r\nin wrangler\r\n");

    // edgekv.toml comes first when both are there.
    write(
        d,
        "edgekv.toml",
        format!("[[kv_namespaces]]\nbinding = \"CACHE\"\nid = \"{e}\"\n"),
    );
    let out = kv_in(&s, d, &["key", "put", "k", "in edgekv", "--binding", "CACHE"]).ok();
    assert_eq!(
        out,
        format!("Writing the value \"in edgekv\" to key \"k\" on namespace {e}.\n")
    );
    let out = kv_in(&s, d, &["key", "delete", "k", "--binding", "CACHE"]).ok();
    assert_eq!(out, format!("Deleting the key \"k\" on namespace {e}.\n"));
    raw_in(&s, &e).expect(&["KV.GET", "k"], "$-1\r\n");
    raw_in(&s, &w).expect(&["KV.GET", "k"], "$11\r\nin wrangler\r\n");

    // A config without namespaces, and a binding to an id the server does not know.
    write(d, "edgekv.toml", "name = \"x\"\n");
    kv_in(&s, d, &["key", "get", "k", "--binding", "CACHE"]).fails(
        "",
        "No KV Namespaces configured! Either use --namespace-id or add a KV namespace to your config file.",
    );
    let ghost = "0123456789abcdef0123456789abcdef";
    write(
        d,
        "edgekv.toml",
        format!("[[kv_namespaces]]\nbinding = \"GONE\"\nid = \"{ghost}\"\n"),
    );
    kv_in(&s, d, &["key", "get", "k", "--binding", "GONE"])
        .fails("", &format!("namespace \"{ghost}\": Unknown namespace."));
}

#[test]
fn bad_url_is_one_line_and_exit_1() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let u = format!("redis://127.0.0.1:{port}/0");
    for args in [
        &["namespace", "list"][..],
        &["namespace", "create", "x"],
        &["key", "get", "k", "--namespace-id", "n"],
    ] {
        let o = run(dir.path(), &u, args);
        assert_eq!((o.code, o.out().as_str()), (1, ""), "{args:?}");
        assert!(
            o.stderr.starts_with(&format!("edgekv: error: cannot connect to {u}: ")),
            "{}",
            o.stderr
        );
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    }
    let o = run(dir.path(), "notaurl", &["namespace", "list"]);
    assert_eq!((o.code, o.out().as_str()), (1, ""));
    assert!(
        o.stderr.starts_with("edgekv: error: invalid --url notaurl: "),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

#[test]
fn write_quota_refuses_the_rest_of_a_bulk_put() {
    let s = Server::start_with(&["--kv-quota-writes", "3"]);
    let id = create(&s, "quota", "quota");
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<Json> = (1..=5).map(|i| json!({"key": format!("k{i}"), "value": "v"})).collect();
    write(dir.path(), "five.json", Json::Array(items).to_string());

    kv_in(&s, dir.path(), &["bulk", "put", "five.json", "--namespace-id", &id]).fails(
        "",
        "2 keys were not written (a daily quota or the storage quota refused them): k4, k5",
    );
    let mut r = raw_in(&s, &id);
    assert_eq!(dbsize(&mut r), 3);
    r.expect(&["KV.GET", "k3"], "$1\r\nv\r\n");
    r.expect(&["KV.GET", "k4"], "$-1\r\n");

    kv(&s, &["key", "put", "k6", "v", "--namespace-id", &id]).fails(
        &format!("Writing the value \"v\" to key \"k6\" on namespace {id}.\n"),
        "KV put() limit exceeded for the day.",
    );
    r.expect(&["KV.GET", "k6"], "$-1\r\n");
}

#[test]
fn quota_failures_are_listed_ten_at_most_and_deletes_too() {
    let s = Server::start_with(&["--kv-quota-writes", "3", "--kv-quota-deletes", "2"]);
    let id = create(&s, "limited", "limited");
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<Json> = (1..=15)
        .map(|i| json!({"key": format!("k{i:02}"), "value": "v"}))
        .collect();
    write(dir.path(), "fifteen.json", Json::Array(items).to_string());
    let refused: Vec<String> = (4..=13).map(|i| format!("k{i:02}")).collect();
    kv_in(&s, dir.path(), &["bulk", "put", "fifteen.json", "--namespace-id", &id]).fails(
        "",
        &format!(
            "12 keys were not written (a daily quota or the storage quota refused them): {}, ...",
            refused.join(", ")
        ),
    );
    let mut r = raw_in(&s, &id);
    assert_eq!(dbsize(&mut r), 3);

    write(dir.path(), "del.json", r#"["k01","k02","k03"]"#);
    kv_in(
        &s,
        dir.path(),
        &["bulk", "delete", "del.json", "--force", "--namespace-id", &id],
    )
    .fails(
        "",
        "1 key was not deleted (a daily quota or the storage quota refused them): k03",
    );
    assert_eq!(dbsize(&mut r), 1);
    r.expect(&["KV.GET", "k03"], "$1\r\nv\r\n");

    // The quotas are per namespace: another one still writes.
    let other = create(&s, "other", "other");
    let out = kv(&s, &["key", "put", "k", "v", "--namespace-id", &other]).ok();
    assert_eq!(
        out,
        format!("Writing the value \"v\" to key \"k\" on namespace {other}.\n")
    );
}
