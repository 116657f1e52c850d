//! The command line: `edgekv [serve] [--name value ...]` starts the server; `edgekv kv ...`
//! is wrangler's `kv` commands against a running server (cli/kv.rs).
//!
//! It never reaches into server internals: `serve` hands a `Config` to `server::run`, and
//! `kv` speaks RESP like any client.

pub mod kv;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "edgekv", version, about = "Workers KV's model behind the Redis protocol")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start the server (the default). Every configuration key is also a flag:
    /// `--port 6380 --dir ./data --maxclients 100`.
    Serve(ServeArgs),
    /// Workers KV namespaces and keys on a running server, as `wrangler kv` does.
    Kv(kv::KvArgs),
    /// Check a log file (appendonlydir/log.N.base or .incr); --repair cuts it at the first
    /// damaged record.
    CheckLog(CheckLogArgs),
}

#[derive(clap::Args, Debug)]
struct CheckLogArgs {
    file: PathBuf,
    /// Truncate the file to the end of its last good record.
    #[arg(long)]
    repair: bool,
    /// Do not ask before repairing.
    #[arg(long, short)]
    yes: bool,
}

/// `edgekv check-log [--repair] [--yes] FILE`: 0 when the file is whole (or was repaired), 1
/// otherwise.
fn check_log(args: CheckLogArgs) -> i32 {
    use crate::persist::replay;
    let path = &args.file;
    let scan = match replay::scan(path, |_| Ok(())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("edgekv: error: {e}");
            return 1;
        }
    };
    let Some((at, what)) = scan.problem else {
        println!(
            "{}: {} records, {} bytes: ok",
            path.display(),
            scan.records,
            scan.file_len
        );
        return 0;
    };
    let kind = if scan.torn_tail {
        "a torn tail (a crash mid-write)"
    } else {
        "damage"
    };
    println!(
        "{}: {} good records up to offset {}; {what} at offset {at}: {kind}; {} bytes after it",
        path.display(),
        scan.records,
        scan.valid_len,
        scan.file_len - scan.valid_len
    );
    if !args.repair {
        return 1;
    }
    if !args.yes {
        use std::io::{BufRead, IsTerminal, Write};
        if !std::io::stdin().is_terminal() {
            eprintln!("edgekv: error: not repairing without confirmation: run on a terminal or pass --yes");
            return 1;
        }
        print!(
            "Truncate {} to {} bytes, dropping {} bytes? [y/N] ",
            path.display(),
            scan.valid_len,
            scan.file_len - scan.valid_len
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Not repaired.");
            return 1;
        }
    }
    let done = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(scan.valid_len).and_then(|_| f.sync_all()));
    match done {
        Ok(()) => {
            println!("Truncated {} to {} bytes.", path.display(), scan.valid_len);
            0
        }
        Err(e) => {
            eprintln!("edgekv: error: cannot truncate {}: {e}", path.display());
            1
        }
    }
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// A redis.conf-style file (`name value` lines); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Configuration as `--name value` pairs, as redis-server accepts them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "--NAME VALUE")]
    settings: Vec<String>,
}

/// Turns `--name v1 v2 --other v` into (name, "v1 v2") pairs, as redis-server does.
fn parse_settings(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for a in args {
        if let Some(name) = a.strip_prefix("--") {
            if name.is_empty() {
                return Err("empty option name '--'".into());
            }
            out.push((name.to_string(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(a.clone());
        } else {
            return Err(format!("unexpected argument '{}' (options look like --port 6379)", a));
        }
    }
    Ok(out.into_iter().map(|(n, v)| (n, v.join(" "))).collect())
}

/// Builds the configuration: defaults, then the `--config` file, then the flags (which may
/// come before or after `--config`). Returns it with the config file's path.
fn build_config(args: &ServeArgs) -> Result<(Config, Option<PathBuf>), String> {
    let config = Config::new();
    let mut settings = parse_settings(&args.settings)?;
    let mut file = args.config.clone();
    if let Some(pos) = settings.iter().position(|(n, _)| n == "config") {
        file = Some(PathBuf::from(settings.remove(pos).1));
    }
    if let Some(path) = &file {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read config file {}: {}", path.display(), e))?;
        config
            .load_file(&text)
            .map_err(|e| format!("{}: {}", path.display(), e))?;
    }
    for (name, value) in settings {
        config.set(&name, &value, false).map_err(|e| match e {
            crate::config::ConfigError::Unknown => format!("unknown option --{}", name),
            crate::config::ConfigError::Invalid(why) => format!("--{} {}: {}", name, value, why),
            crate::config::ConfigError::Immutable => format!("--{} cannot be set", name),
        })?;
    }
    Ok((config, file))
}

/// Entry point of the binary. Returns the process exit code.
pub fn main() -> i32 {
    let mut argv: Vec<String> = std::env::args().collect();
    let known = ["serve", "kv", "check-log", "help", "--help", "-h", "--version", "-V"];
    if argv.len() < 2 || !known.contains(&argv[1].as_str()) {
        argv.insert(1, "serve".into());
    }
    let cli = Cli::parse_from(argv);
    match cli.cmd {
        Cmd::Kv(args) => kv::run(args),
        Cmd::CheckLog(args) => check_log(args),
        Cmd::Serve(args) => {
            let (config, file) = match build_config(&args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("edgekv: {}", e);
                    return 2;
                }
            };
            if let Err(e) = init_logging(&config) {
                eprintln!("edgekv: {}", e);
                return 2;
            }
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("edgekv: cannot start the runtime: {}", e);
                    return 1;
                }
            };
            match rt.block_on(crate::server::run(config, file)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("edgekv: {}", e);
                    1
                }
            }
        }
    }
}

/// The tracing subscriber: `loglevel` (Redis's names), `log-format` (`text` for people, `json`
/// for collectors: one object per line with timestamp, level, target, message and the
/// event's fields at the top level) and `logfile` (appended to; empty: standard error).
/// `RUST_LOG` overrides the level with tracing's own filter syntax.
fn init_logging(config: &Config) -> Result<(), String> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let level = tracing_level(&config.get("loglevel").unwrap_or_default());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let (writer, terminal) = match config.get("logfile").filter(|f| !f.is_empty()) {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("can't open the log file {}: {}", path, e))?;
            (BoxMakeWriter::new(std::sync::Arc::new(file)), false)
        }
        None => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    // CONFIG SET loglevel takes effect at once through the filter's reload handle.
    if config.get("log-format").as_deref() == Some("json") {
        let b = builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter_reloading();
        let handle = b.reload_handle();
        if b.try_init().is_ok() {
            config.on_loglevel(move |l| {
                let _ = handle.reload(tracing_subscriber::EnvFilter::new(tracing_level(l)));
            });
        }
    } else {
        let b = builder.with_ansi(terminal).with_filter_reloading();
        let handle = b.reload_handle();
        if b.try_init().is_ok() {
            config.on_loglevel(move |l| {
                let _ = handle.reload(tracing_subscriber::EnvFilter::new(tracing_level(l)));
            });
        }
    }
    Ok(())
}

/// Redis's log levels as tracing's: notice and verbose are info.
fn tracing_level(loglevel: &str) -> &'static str {
    match loglevel {
        "debug" => "debug",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_pairs() {
        let a: Vec<String> = ["--port", "0", "--bind", "127.0.0.1", "::1", "--save", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = parse_settings(&a).unwrap();
        assert_eq!(p[0], ("port".into(), "0".into()));
        assert_eq!(p[1], ("bind".into(), "127.0.0.1 ::1".into()));
        assert_eq!(p[2], ("save".into(), "".into()));
        assert!(parse_settings(&["x".into()]).is_err());
    }
}
