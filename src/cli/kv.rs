//! `edgekv kv ...`: wrangler's `kv` commands against a running edgekv, over RESP.
//!
//! Same shapes as `wrangler kv` (kv-spec.md): `namespace create|list|rename|delete`,
//! `key put|get|list|delete`, `bulk put|delete|get`, with wrangler's flags, bulk file
//! formats and output. A namespace is chosen with `--namespace-id ID` (an id or a title) or
//! `--binding NAME`, resolved through `[[kv_namespaces]]` in `edgekv.toml` or `wrangler.toml`
//! in the current folder.
//!
//! It owns argument handling and output; it never reaches into the server: every action is a
//! `KV.*` command, so the server checks every limit. Errors print one line on stderr and the
//! process exits with 1.

use clap::{Args, Subcommand};
use redis::Value;
use serde_json::{json, Map, Value as Json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Items per KV.BULKPUT / KV.BULKDELETE request (wrangler's batch size).
const BATCH: usize = 1000;
/// Most bytes of JSON per KV.BULKPUT request (the server's limit is 100 MB).
const BATCH_BYTES: usize = 64 * 1024 * 1024;
/// Keys per KV.MGET request (Workers KV's bulk get limit).
const GET_BATCH: usize = 100;

#[derive(Args, Debug)]
pub struct KvArgs {
    /// The server: redis://HOST:PORT[/DB]
    #[arg(long, global = true, env = "EDGEKV_URL", default_value = "redis://127.0.0.1:6379/0")]
    url: String,
    #[command(subcommand)]
    cmd: KvCmd,
}

#[derive(Subcommand, Debug)]
enum KvCmd {
    /// Manage Workers KV namespaces.
    Namespace {
        #[command(subcommand)]
        cmd: NsCmd,
    },
    /// Manage keys in a namespace.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Write, delete or read many keys from a JSON file.
    Bulk {
        #[command(subcommand)]
        cmd: BulkCmd,
    },
}

/// `--binding NAME` or `--namespace-id ID`: exactly one.
#[derive(Args, Debug, Clone)]
struct Target {
    /// The binding name of the namespace in edgekv.toml or wrangler.toml.
    #[arg(long, conflicts_with = "namespace_id")]
    binding: Option<String>,
    /// The id (or title) of the namespace.
    #[arg(long = "namespace-id")]
    namespace_id: Option<String>,
}

#[derive(Subcommand, Debug)]
enum NsCmd {
    /// Create a namespace; prints its id and a [[kv_namespaces]] snippet.
    Create {
        namespace: String,
        /// The binding name in the snippet (default: derived from the namespace name).
        #[arg(long)]
        binding: Option<String>,
    },
    /// List namespaces as JSON.
    List,
    /// Delete a namespace and all its keys.
    Delete {
        #[command(flatten)]
        target: Target,
    },
    /// Rename a namespace.
    Rename {
        /// The current name (title) of the namespace.
        old_name: Option<String>,
        #[arg(long = "namespace-id")]
        namespace_id: Option<String>,
        #[arg(long = "new-name")]
        new_name: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Write a value to a key.
    Put {
        key: String,
        value: Option<String>,
        /// Read the value from this file.
        #[arg(long, conflicts_with = "value")]
        path: Option<PathBuf>,
        /// Seconds for which the entry stays visible.
        #[arg(long)]
        ttl: Option<i64>,
        /// Unix seconds after which the entry expires.
        #[arg(long)]
        expiration: Option<i64>,
        /// Arbitrary JSON associated with the key.
        #[arg(long)]
        metadata: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Read a key's value.
    Get {
        key: String,
        /// Decode the value as UTF-8 text (a newline follows).
        #[arg(long)]
        text: bool,
        #[command(flatten)]
        target: Target,
    },
    /// List keys (all pages) as JSON.
    List {
        #[arg(long)]
        prefix: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a key.
    Delete {
        key: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand, Debug)]
enum BulkCmd {
    /// Write a JSON array of {key, value, expiration?, expiration_ttl?, metadata?, base64?}.
    Put {
        filename: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Delete the keys of a JSON array of strings or {"name": ...} objects.
    Delete {
        filename: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        force: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Read the keys of a JSON array of strings or {"name": ...} objects.
    Get {
        filename: PathBuf,
        #[command(flatten)]
        target: Target,
    },
}

type Res<T> = Result<T, String>;

/// Runs `edgekv kv ...`; returns the exit code.
pub fn run(args: KvArgs) -> i32 {
    match dispatch(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("edgekv: error: {e}");
            1
        }
    }
}

fn dispatch(args: KvArgs) -> Res<()> {
    let mut c = Client::connect(&args.url)?;
    let out = &mut std::io::stdout().lock();
    match args.cmd {
        KvCmd::Namespace { cmd } => namespace(&mut c, cmd, out),
        KvCmd::Key { cmd } => key(&mut c, cmd, out),
        KvCmd::Bulk { cmd } => bulk(&mut c, cmd, out),
    }
    .map_err(|e| e.to_string())
}

/// A connection and the namespace it has selected.
struct Client {
    con: redis::Connection,
    url: String,
}

impl Client {
    fn connect(url: &str) -> Res<Client> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid --url {url}: {e}"))?;
        let con = client
            .get_connection()
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        Ok(Client {
            con,
            url: url.to_string(),
        })
    }

    /// Sends one command; a server error becomes its text (without the `ERR` code).
    fn call(&mut self, args: &[&[u8]]) -> Res<Value> {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap_or("PING"));
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<Value>(&mut self.con).map_err(|e| match e.detail() {
            Some(d) if e.code() == Some("ERR") => d.to_string(),
            Some(d) => format!("{} {d}", e.code().unwrap_or("")),
            None => format!("{}: {e}", self.url),
        })
    }

    /// The server's `kv-min-ttl` (60 when it cannot be read).
    fn min_ttl(&mut self) -> i64 {
        match self.call(&[b"CONFIG", b"GET", b"kv-min-ttl"]) {
            Ok(v) => fields(v).first().and_then(|(_, v)| text(v).parse().ok()).unwrap_or(60),
            Err(_) => 60,
        }
    }

    /// Selects the namespace named by `--binding` or `--namespace-id`; returns its id.
    fn select(&mut self, t: &Target) -> Res<String> {
        let id = match (&t.binding, &t.namespace_id) {
            (Some(b), None) => binding_id(b, Path::new("."))?,
            (None, Some(id)) => id.clone(),
            _ => return Err("Exactly one of the arguments binding and namespace-id is required".into()),
        };
        let ns = self
            .call(&[b"KV.NAMESPACE", b"GET", id.as_bytes()])
            .map_err(|e| format!("namespace {id:?}: {e}"))?;
        let ns = fields(ns);
        let id = text_field(&ns, "id").unwrap_or(id);
        self.call(&[b"SELECT", id.as_bytes()])?;
        Ok(id)
    }
}

/// A map reply as (name, value) pairs: RESP3 maps and RESP2 flat arrays alike.
fn fields(v: Value) -> Vec<(String, Value)> {
    match v {
        Value::Map(m) => m.into_iter().map(|(k, v)| (text(&k), v)).collect(),
        Value::Array(a) => {
            let mut out = Vec::new();
            let mut it = a.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((text(&k), v));
            }
            out
        }
        _ => Vec::new(),
    }
}

fn field<'a>(f: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn text_field(f: &[(String, Value)], name: &str) -> Option<String> {
    field(f, name).map(text)
}

fn int_field(f: &[(String, Value)], name: &str) -> Option<i64> {
    match field(f, name)? {
        Value::Int(i) => Some(*i),
        Value::Boolean(b) => Some(*b as i64),
        _ => None,
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Okay => Some(b"OK".to_vec()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    bytes(v)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The namespace id of a `[[kv_namespaces]]` binding in edgekv.toml or wrangler.toml.
fn binding_id(binding: &str, dir: &Path) -> Res<String> {
    let file = ["edgekv.toml", "wrangler.toml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .ok_or("--binding specified, but no config file was found (edgekv.toml or wrangler.toml).")?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc: toml::Table = text.parse().map_err(|e| format!("{}: {e}", file.display()))?;
    let list = doc
        .get("kv_namespaces")
        .and_then(|v| v.as_array())
        .ok_or("No KV Namespaces configured! Either use --namespace-id or add a KV namespace to your config file.")?;
    list.iter()
        .filter_map(|n| n.as_table())
        .find(|n| n.get("binding").and_then(|b| b.as_str()) == Some(binding))
        .and_then(|n| n.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .ok_or_else(|| {
            format!("A namespace with binding name \"{binding}\" was not found in the configured \"kv_namespaces\".")
        })
}

/// wrangler's `getValidBindingName`: whitespace and dashes become `_`, other characters that
/// are not letters, digits or `_` go, runs of `_` collapse, a leading digit gets a `_`.
fn binding_name(name: &str) -> String {
    let mut b: String = name
        .chars()
        .map(|c| if c.is_whitespace() || c == '-' { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    while b.contains("__") {
        b = b.replace("__", "_");
    }
    if b.starts_with(|c: char| c.is_ascii_digit()) {
        b.insert(0, '_');
    }
    if b.is_empty() || b.chars().all(|c| c == '_') {
        return "KV".into();
    }
    b
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn namespace(c: &mut Client, cmd: NsCmd, out: &mut impl Write) -> Res<()> {
    match cmd {
        NsCmd::Create { namespace, binding } => {
            writeln!(out, "🌀 Creating namespace with title \"{namespace}\"").map_err(io)?;
            let ns = fields(c.call(&[b"KV.NAMESPACE", b"CREATE", namespace.as_bytes()])?);
            let id = text_field(&ns, "id").unwrap_or_default();
            let binding = binding.unwrap_or_else(|| binding_name(&namespace));
            writeln!(out, "✨ Success!").map_err(io)?;
            writeln!(
                out,
                "To access your new KV Namespace in your Worker, add the following snippet to your configuration file:"
            )
            .map_err(io)?;
            writeln!(out, "[[kv_namespaces]]\nbinding = \"{binding}\"\nid = \"{id}\"").map_err(io)?;
        }
        NsCmd::List => {
            let list = match c.call(&[b"KV.NAMESPACE", b"LIST"])? {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            // By title, as wrangler lists them.
            let mut list: Vec<_> = list.into_iter().map(fields).collect();
            list.sort_by_key(|f| text_field(f, "title"));
            let items: Vec<Json> = list
                .iter()
                .map(|f| {
                    json!({
                        "id": text_field(f, "id"),
                        "title": text_field(f, "title"),
                        "index": int_field(f, "index"),
                    })
                })
                .collect();
            writeln!(out, "{}", pretty(&Json::Array(items))).map_err(io)?;
        }
        NsCmd::Delete { target } => {
            let id = c.select(&target)?;
            writeln!(out, "Deleting KV namespace {id}.").map_err(io)?;
            c.call(&[b"SELECT", b"0"])?;
            c.call(&[b"KV.NAMESPACE", b"DELETE", id.as_bytes()])?;
            writeln!(out, "Deleted KV namespace {id}.").map_err(io)?;
        }
        NsCmd::Rename {
            old_name,
            namespace_id,
            new_name,
        } => {
            let name = match (old_name, namespace_id) {
                (Some(_), Some(_)) => {
                    return Err("Cannot specify both old-name and --namespace-id. Use either old-name (as first argument) or --namespace-id flag, not both.".into())
                }
                (None, None) => return Err("Either old-name (as first argument) or --namespace-id must be specified".into()),
                (Some(n), None) | (None, Some(n)) => n,
            };
            let ns = fields(
                c.call(&[b"KV.NAMESPACE", b"GET", name.as_bytes()])
                    .map_err(|_| format!("No namespace found with the name \"{name}\". Check available namespaces with \"edgekv kv namespace list\"."))?,
            );
            let id = text_field(&ns, "id").unwrap_or_default();
            writeln!(out, "Renaming KV namespace {id} to \"{new_name}\".").map_err(io)?;
            c.call(&[b"KV.NAMESPACE", b"RENAME", id.as_bytes(), new_name.as_bytes()])?;
            writeln!(out, "✨ Successfully renamed namespace to \"{new_name}\"").map_err(io)?;
        }
    }
    Ok(())
}

fn pretty(v: &Json) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn key(c: &mut Client, cmd: KeyCmd, out: &mut impl Write) -> Res<()> {
    match cmd {
        KeyCmd::Put {
            key,
            value,
            path,
            ttl,
            expiration,
            metadata,
            target,
        } => {
            let (data, what) = match (value, path) {
                (Some(v), None) => {
                    let what = format!("the value \"{v}\" to key \"{key}\"");
                    (v.into_bytes(), what)
                }
                (None, Some(p)) => {
                    let data = std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    (data, format!("the contents of {} to the key \"{key}\"", p.display()))
                }
                _ => return Err("Exactly one of the arguments value and path is required".into()),
            };
            let id = c.select(&target)?;
            let mut args: Vec<Vec<u8>> = vec![b"KV.PUT".to_vec(), key.clone().into_bytes(), data];
            if let Some(t) = ttl {
                args.push(b"EXPIRATIONTTL".to_vec());
                args.push(t.to_string().into_bytes());
            }
            if let Some(e) = expiration {
                args.push(b"EXPIRATION".to_vec());
                args.push(e.to_string().into_bytes());
            }
            let mut meta_log = String::new();
            if let Some(m) = &metadata {
                let parsed: Json = serde_json::from_str(m).map_err(|e| format!("--metadata is not valid JSON: {e}"))?;
                meta_log = format!(" with metadata \"{parsed}\"");
                args.push(b"METADATA".to_vec());
                args.push(parsed.to_string().into_bytes());
            }
            writeln!(out, "Writing {what} on namespace {id}{meta_log}.").map_err(io)?;
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            c.call(&refs)?;
        }
        KeyCmd::Get { key, text, target } => {
            c.select(&target)?;
            match c.call(&[b"KV.GET", key.as_bytes()])? {
                Value::Nil => return Err("Value not found".into()),
                v => {
                    let data = bytes(&v).unwrap_or_default();
                    if text {
                        writeln!(out, "{}", String::from_utf8_lossy(&data)).map_err(io)?;
                    } else {
                        out.write_all(&data).map_err(io)?;
                    }
                }
            }
        }
        KeyCmd::List { prefix, target } => {
            c.select(&target)?;
            let prefix = prefix.unwrap_or_default();
            let mut cursor = String::new();
            let mut keys = Vec::new();
            loop {
                let page = fields(c.call(&[b"KV.LIST", b"PREFIX", prefix.as_bytes(), b"CURSOR", cursor.as_bytes()])?);
                if let Some(Value::Array(list)) = field(&page, "keys") {
                    for k in list {
                        let f = fields(k.clone());
                        let mut entry = Map::new();
                        entry.insert("name".into(), json!(text_field(&f, "name")));
                        if let Some(e) = int_field(&f, "expiration") {
                            entry.insert("expiration".into(), json!(e));
                        }
                        if let Some(m) = text_field(&f, "metadata") {
                            entry.insert("metadata".into(), serde_json::from_str(&m).unwrap_or(Json::String(m)));
                        }
                        keys.push(Json::Object(entry));
                    }
                }
                if int_field(&page, "list_complete") != Some(0) {
                    break;
                }
                cursor = text_field(&page, "cursor").unwrap_or_default();
                if cursor.is_empty() {
                    break;
                }
            }
            writeln!(out, "{}", pretty(&Json::Array(keys))).map_err(io)?;
        }
        KeyCmd::Delete { key, target } => {
            let id = c.select(&target)?;
            writeln!(out, "Deleting the key \"{key}\" on namespace {id}.").map_err(io)?;
            c.call(&[b"KV.DELETE", key.as_bytes()])?;
        }
    }
    Ok(())
}

fn read_json(file: &Path) -> Res<Json> {
    let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("Unexpected JSON input from \"{}\": {e}", file.display()))
}

/// JavaScript's `typeof` of a JSON value (wrangler words its file errors with it).
fn js_type(v: &Json) -> &'static str {
    match v {
        Json::Null | Json::Object(_) | Json::Array(_) => "object",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
    }
}

/// The keys of a bulk delete/get file: strings, or objects with a `name` string.
fn key_list(file: &Path) -> Res<Vec<String>> {
    let v = read_json(file)?;
    let Json::Array(items) = v else {
        return Err(format!(
            "Unexpected JSON input from \"{}\". Expected an array of strings but got: {v}",
            file.display()
        ));
    };
    let mut keys = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Json::String(s) => keys.push(s.clone()),
            Json::Object(o) if o.get("name").is_some_and(Json::is_string) => {
                keys.push(o["name"].as_str().unwrap_or_default().to_string())
            }
            other => bad.push(format!(
                "The item at index {i} is type: \"{}\" - {other}",
                js_type(other)
            )),
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "Unexpected JSON input from \"{}\". Expected an array of strings or objects with a \"name\" key. {}",
            file.display(),
            bad.join("; ")
        ));
    }
    Ok(keys)
}

/// Progress over batches: a bar on a terminal, wrangler's plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    verb: &'static str,
    total: usize,
}

impl Progress {
    fn new(verb: &'static str, total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_message(verb);
            b
        });
        Progress { bar, verb, total }
    }

    fn at(&self, done: usize, out: &mut impl Write) -> Res<()> {
        match &self.bar {
            Some(b) => b.set_position(done as u64),
            // As wrangler: lines only when there is more than one batch.
            None if self.total > BATCH => writeln!(
                out,
                "{} {}% ({} out of {})",
                self.verb,
                100 * done / self.total.max(1),
                grouped(done),
                grouped(self.total)
            )
            .map_err(io)?,
            None => {}
        }
        Ok(())
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// 12000 → "12,000" (wrangler's en-US number format).
fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The `unsuccessful_keys` of a bulk reply, and its `successful_key_count`.
fn bulk_result(v: Value) -> (i64, Vec<String>) {
    let f = fields(v);
    let failed = match field(&f, "unsuccessful_keys") {
        Some(Value::Array(a)) => a.iter().map(text).collect(),
        _ => Vec::new(),
    };
    (int_field(&f, "successful_key_count").unwrap_or(0), failed)
}

fn bulk(c: &mut Client, cmd: BulkCmd, out: &mut impl Write) -> Res<()> {
    match cmd {
        BulkCmd::Put { filename, target } => {
            let v = read_json(&filename)?;
            let Json::Array(items) = v else {
                return Err(format!(
                    "Unexpected JSON input from \"{}\". Expected an array of key-value objects but got type \"{}\".",
                    filename.display(),
                    js_type(&v)
                ));
            };
            check_items(&filename, &items)?;
            c.select(&target)?;
            // Every item passes the server's limits before the first batch goes out, so a bad
            // item in the last batch does not leave the earlier ones written.
            let min_ttl = c.min_ttl();
            check_limits(&items, min_ttl)?;
            let progress = Progress::new("Uploaded", items.len());
            let mut failed = Vec::new();
            // Batches of at most 1000 items and at most BATCH_BYTES of JSON (the server takes
            // 100 MB per request; values may be up to 25 MiB each).
            let mut start = 0;
            while start < items.len() {
                progress.at(start, out)?;
                let mut body = b"[".to_vec();
                let mut end = start;
                while end < items.len() && end - start < BATCH {
                    let item = serde_json::to_vec(&items[end]).map_err(|e| e.to_string())?;
                    if end > start && body.len() + item.len() + 2 > BATCH_BYTES {
                        break;
                    }
                    if end > start {
                        body.push(b',');
                    }
                    body.extend_from_slice(&item);
                    end += 1;
                }
                body.push(b']');
                let reply = c.call(&[b"KV.BULKPUT", &body]).map_err(|e| {
                    format!(
                        "{e} (in the batch of items {start} to {}; the items before it were written)",
                        end - 1
                    )
                })?;
                let (_, f) = bulk_result(reply);
                failed.extend(f);
                start = end;
            }
            progress.at(items.len(), out)?;
            progress.finish();
            unsuccessful(&failed, "written")?;
            writeln!(out, "Success!").map_err(io)?;
        }
        BulkCmd::Delete {
            filename,
            force,
            target,
        } => {
            if !force {
                if !std::io::stdin().is_terminal() {
                    return Err("Not deleting keys: confirm on a terminal or pass --force.".into());
                }
                let who = target
                    .namespace_id
                    .clone()
                    .or(target.binding.clone())
                    .unwrap_or_default();
                eprint!(
                    "Are you sure you want to delete all the keys read from \"{}\" from kv-namespace \"{who}\"? [y/N] ",
                    filename.display()
                );
                let mut answer = String::new();
                let _ = std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer);
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    writeln!(out, "Not deleting keys read from \"{}\".", filename.display()).map_err(io)?;
                    return Ok(());
                }
            }
            let keys = key_list(&filename)?;
            c.select(&target)?;
            let progress = Progress::new("Deleted", keys.len());
            let mut failed = Vec::new();
            for (n, chunk) in keys.chunks(BATCH).enumerate() {
                progress.at(n * BATCH, out)?;
                let mut args: Vec<&[u8]> = vec![b"KV.BULKDELETE"];
                args.extend(chunk.iter().map(|k| k.as_bytes()));
                let (_, f) = bulk_result(c.call(&args)?);
                failed.extend(f);
            }
            progress.at(keys.len(), out)?;
            progress.finish();
            unsuccessful(&failed, "deleted")?;
            writeln!(out, "Success!").map_err(io)?;
        }
        BulkCmd::Get { filename, target } => {
            let keys = key_list(&filename)?;
            c.select(&target)?;
            let mut values = Map::new();
            for chunk in keys.chunks(GET_BATCH) {
                // A last argument WITHMETADATA is KV.MGET's flag: put a key of that name
                // anywhere else in the list (a one-key chunk asks KV.GET).
                let got = if chunk.len() == 1 {
                    vec![c.call(&[b"KV.GET", chunk[0].as_bytes()])?]
                } else {
                    let mut order: Vec<usize> = (0..chunk.len()).collect();
                    if chunk[chunk.len() - 1].eq_ignore_ascii_case("withmetadata") {
                        order.swap(0, chunk.len() - 1);
                    }
                    let mut args: Vec<&[u8]> = vec![b"KV.MGET"];
                    args.extend(order.iter().map(|&i| chunk[i].as_bytes()));
                    let Value::Array(got) = c.call(&args)? else {
                        return Err("unexpected reply to KV.MGET".into());
                    };
                    let mut back = vec![Value::Nil; chunk.len()];
                    for (v, &i) in got.into_iter().zip(&order) {
                        back[i] = v;
                    }
                    back
                };
                for (k, v) in chunk.iter().zip(got) {
                    let v = match bytes(&v) {
                        Some(b) => Json::String(String::from_utf8_lossy(&b).into_owned()),
                        None => Json::Null,
                    };
                    values.insert(k.clone(), v);
                }
            }
            writeln!(out, "{}\n\nSuccess!", pretty(&Json::Object(values))).map_err(io)?;
        }
    }
    Ok(())
}

/// wrangler's check of a bulk put file: every item an object with string `key` and `value`,
/// numbers for the expirations, a boolean `base64`. Unexpected properties are only warned of.
fn check_items(file: &Path, items: &[Json]) -> Res<()> {
    const KNOWN: [&str; 6] = ["key", "value", "expiration", "expiration_ttl", "metadata", "base64"];
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ok = item.as_object().is_some_and(|o| {
            o.get("key").is_some_and(Json::is_string)
                && o.get("value").is_some_and(Json::is_string)
                && o.get("expiration").is_none_or(Json::is_number)
                && o.get("expiration_ttl").is_none_or(Json::is_number)
                && o.get("base64").is_none_or(Json::is_boolean)
                && o.get("metadata").is_none_or(|m| js_type(m) == "object")
        });
        if !ok {
            if bad.len() == 12 {
                bad.push("...".to_string());
                break;
            }
            bad.push(format!("The item at index {i} is {item}"));
        } else if let Some(o) = item.as_object() {
            let extra: Vec<&String> = o.keys().filter(|k| !KNOWN.contains(&k.as_str())).collect();
            if !extra.is_empty() {
                eprintln!(
                    "edgekv: warning: unexpected key-value properties in \"{}\": the item at index {i} contains unexpected properties: {}.",
                    file.display(),
                    json!(extra)
                );
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Unexpected JSON input from \"{}\". Each item in the array should be an object with key: string, value: string, expiration?: number, expiration_ttl?: number, metadata?: object, base64?: boolean. {}",
            file.display(),
            bad.join("; ")
        ))
    }
}

/// The server's limits on every item of a bulk put (kv/limits.rs, the code the server runs).
fn check_limits(items: &[Json], min_ttl: i64) -> Res<()> {
    use crate::kv::limits;
    let now = crate::store::now_ms();
    let num = |v: Option<&Json>| -> Option<String> {
        v.filter(|v| !v.is_null()).map(|v| match v.as_f64() {
            Some(f) if v.as_i64().is_none() => format!("{}", f.trunc()),
            _ => v.to_string(),
        })
    };
    for (i, item) in items.iter().enumerate() {
        let o = item.as_object().expect("check_items passed");
        let check = || -> Result<(), crate::errors::KvError> {
            let key = o["key"].as_str().unwrap_or_default();
            limits::check_key(key.as_bytes())?;
            let (at, ttl) = (num(o.get("expiration")), num(o.get("expiration_ttl")));
            if at.is_some() && ttl.is_some() {
                return Err(crate::errors::KvError::MixedExpiration);
            }
            if let Some(t) = ttl {
                limits::parse_ttl(&t, min_ttl)?;
            }
            if let Some(a) = at {
                limits::parse_expiration(&a, min_ttl, now)?;
            }
            if let Some(m) = o.get("metadata") {
                limits::check_metadata(m.to_string().as_bytes())?;
            }
            let value = o["value"].as_str().unwrap_or_default();
            let len = if o.get("base64").and_then(Json::as_bool) == Some(true) {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(|e| {
                        crate::errors::KvError::BulkFormat(format!(
                            "The value of key \"{key}\" is not valid base64: {e}"
                        ))
                    })?
                    .len()
            } else {
                value.len()
            };
            limits::check_value(len)
        };
        check().map_err(|e| crate::errors::KvError::BulkItem(Box::new(e), i).message())?;
    }
    Ok(())
}

fn unsuccessful(failed: &[String], what: &str) -> Res<()> {
    if failed.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = failed.iter().take(10).map(String::as_str).collect();
    Err(format!(
        "{} {} not {what} (a daily quota or the storage quota refused them): {}{}",
        failed.len(),
        if failed.len() == 1 { "key was" } else { "keys were" },
        shown.join(", "),
        if failed.len() > 10 { ", ..." } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_names_as_wrangler_makes_them() {
        assert_eq!(binding_name("alpha-vault-merkle-proof"), "alpha_vault_merkle_proof");
        assert_eq!(binding_name("SESSIONS"), "SESSIONS");
        assert_eq!(binding_name("my  name!"), "my_name");
        assert_eq!(binding_name("1st"), "_1st");
        assert_eq!(binding_name("--"), "KV");
    }

    #[test]
    fn numbers_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(12000), "12,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn bindings_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        assert!(binding_id("S", dir.path()).unwrap_err().contains("no config file"));
        std::fs::write(
            dir.path().join("wrangler.toml"),
            "name = \"w\"\n[[kv_namespaces]]\nbinding = \"S\"\nid = \"abc\"\n",
        )
        .unwrap();
        assert_eq!(binding_id("S", dir.path()).unwrap(), "abc");
        assert!(binding_id("T", dir.path()).unwrap_err().contains("\"T\" was not found"));
    }
}
