//! Server commands against the real binary, byte for byte as Redis 7.0.15 replies (checked
//! against a live redis-server 7.0.15): INFO, CONFIG GET/SET/RESETSTAT/REWRITE/HELP, the COMMAND
//! family, TIME, LASTSAVE, SHUTDOWN and signals, the client limit and the idle timeout.

mod common;
use common::{arity, bulk, int_reply, payload, resp, text, Raw, Server};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A flat array of bulk strings, as CONFIG GET replies in RESP2.
fn pairs(kv: &[(&str, &str)]) -> String {
    let mut out = format!("*{}\r\n", kv.len() * 2);
    for (k, v) in kv {
        out.push_str(&bulk(k));
        out.push_str(&bulk(v));
    }
    out
}

fn config_failed(name: &str, why: &str) -> String {
    format!(
        "-ERR CONFIG SET failed (possibly related to argument '{}') - {}\r\n",
        name, why
    )
}

fn info(c: &mut Raw, args: &[&str]) -> String {
    let mut a = vec!["INFO"];
    a.extend_from_slice(args);
    payload(&c.cmd(&a))
}

fn headers(info: &str) -> Vec<&str> {
    info.split("\r\n").filter(|l| l.starts_with("# ")).collect()
}

const DEFAULT_SECTIONS: &[&str] = &[
    "# Server",
    "# Clients",
    "# Memory",
    "# Persistence",
    "# Stats",
    "# Replication",
    "# CPU",
    "# Modules",
    "# Errorstats",
    "# Cluster",
    "# Keyspace",
    "# Namespaces",
];

#[test]
fn info_sections_and_format() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    let all = info(&mut c, &[]);
    assert_eq!(headers(&all), DEFAULT_SECTIONS);
    // Sections: "# Name\r\n" then field:value lines; one empty line between sections; no
    // trailing empty line.
    assert!(
        all.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{}",
        &all[..60]
    );
    assert!(all.ends_with("\r\n") && !all.ends_with("\r\n\r\n"));
    for section in all.split("\r\n\r\n") {
        let mut lines = section.split("\r\n").filter(|l| !l.is_empty());
        assert!(lines.next().unwrap().starts_with("# "));
        for l in lines {
            let (k, _) = l.split_once(':').unwrap_or_else(|| panic!("not field:value: {:?}", l));
            assert!(
                !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'|'),
                "{:?}",
                l
            );
        }
    }
    for required in [
        "\r\nredis_mode:standalone\r\n",
        "\r\narch_bits:64\r\n",
        "\r\ncluster_enabled:0\r\n",
        "\r\nloading:0\r\n",
        "\r\nrole:master\r\n",
        "\r\nconnected_clients:1\r\n",
        "\r\nmaxclients:10000\r\n",
        "\r\nprocess_supervised:no\r\n",
        "\r\nmultiplexing_api:epoll\r\n",
        "\r\nconfig_file:\r\n",
        "\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(all.contains(required), "INFO lacks {:?}", required);
    }
    let os = all.split("\r\n").find_map(|l| l.strip_prefix("os:")).unwrap();
    assert!(os.starts_with("Linux ") && os.split(' ').count() == 3, "{}", os);
    let port = format!("\r\ntcp_port:{}\r\n", s.port);
    assert!(all.contains(&port));
    // Server fields in Redis's order.
    let server: Vec<&str> = all
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split(':').next())
        .filter(|k| !k.is_empty())
        .collect();
    let want = [
        "redis_version",
        "redis_git_sha1",
        "redis_git_dirty",
        "redis_build_id",
        "redis_mode",
        "os",
        "arch_bits",
        "monotonic_clock",
        "multiplexing_api",
        "atomicvar_api",
        "gcc_version",
        "process_id",
        "process_supervised",
        "run_id",
        "tcp_port",
        "server_time_usec",
        "uptime_in_seconds",
        "uptime_in_days",
        "hz",
        "configured_hz",
        "lru_clock",
        "executable",
        "config_file",
        "io_threads_active",
    ];
    assert_eq!(&server[..want.len()], want);
    // Every other section's fields, in Redis 7.0.15's order (edgekv_* extras at the end).
    let mut fields = |section: &str| -> Vec<String> {
        info(&mut c, &[section])
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split(':').next())
            .filter(|k| !k.is_empty() && !k.starts_with("edgekv_"))
            .map(str::to_string)
            .collect()
    };
    let expected: [(&str, &str); 6] = [
        ("clients", "connected_clients cluster_connections maxclients client_recent_max_input_buffer client_recent_max_output_buffer blocked_clients tracking_clients clients_in_timeout_table"),
        ("memory", "used_memory used_memory_human used_memory_rss used_memory_rss_human used_memory_peak used_memory_peak_human used_memory_peak_perc used_memory_overhead used_memory_startup used_memory_dataset used_memory_dataset_perc allocator_allocated allocator_active allocator_resident total_system_memory total_system_memory_human used_memory_lua used_memory_vm_eval used_memory_lua_human used_memory_scripts_eval number_of_cached_scripts number_of_functions number_of_libraries used_memory_vm_functions used_memory_vm_total used_memory_vm_total_human used_memory_functions used_memory_scripts used_memory_scripts_human maxmemory maxmemory_human maxmemory_policy allocator_frag_ratio allocator_frag_bytes allocator_rss_ratio allocator_rss_bytes rss_overhead_ratio rss_overhead_bytes mem_fragmentation_ratio mem_fragmentation_bytes mem_not_counted_for_evict mem_replication_backlog mem_total_replication_buffers mem_clients_slaves mem_clients_normal mem_cluster_links mem_aof_buffer mem_allocator active_defrag_running lazyfree_pending_objects lazyfreed_objects"),
        ("persistence", "loading async_loading current_cow_peak current_cow_size current_cow_size_age current_fork_perc current_save_keys_processed current_save_keys_total rdb_changes_since_last_save rdb_bgsave_in_progress rdb_last_save_time rdb_last_bgsave_status rdb_last_bgsave_time_sec rdb_current_bgsave_time_sec rdb_saves rdb_last_cow_size rdb_last_load_keys_expired rdb_last_load_keys_loaded aof_enabled aof_rewrite_in_progress aof_rewrite_scheduled aof_last_rewrite_time_sec aof_current_rewrite_time_sec aof_last_bgrewrite_status aof_rewrites aof_rewrites_consecutive_failures aof_last_write_status aof_last_cow_size module_fork_in_progress module_fork_last_cow_size aof_current_size aof_base_size aof_pending_rewrite aof_buffer_length aof_pending_bio_fsync aof_delayed_fsync"),
        ("stats", "total_connections_received total_commands_processed instantaneous_ops_per_sec total_net_input_bytes total_net_output_bytes total_net_repl_input_bytes total_net_repl_output_bytes instantaneous_input_kbps instantaneous_output_kbps instantaneous_input_repl_kbps instantaneous_output_repl_kbps rejected_connections sync_full sync_partial_ok sync_partial_err expired_keys expired_stale_perc expired_time_cap_reached_count expire_cycle_cpu_milliseconds evicted_keys evicted_clients total_eviction_exceeded_time current_eviction_exceeded_time keyspace_hits keyspace_misses pubsub_channels pubsub_patterns pubsubshard_channels latest_fork_usec total_forks migrate_cached_sockets slave_expires_tracked_keys active_defrag_hits active_defrag_misses active_defrag_key_hits active_defrag_key_misses total_active_defrag_time current_active_defrag_time tracking_total_keys tracking_total_items tracking_total_prefixes unexpected_error_replies total_error_replies dump_payload_sanitizations total_reads_processed total_writes_processed io_threaded_reads_processed io_threaded_writes_processed reply_buffer_shrinks reply_buffer_expands"),
        ("replication", "role connected_slaves master_failover_state master_replid master_replid2 master_repl_offset second_repl_offset repl_backlog_active repl_backlog_size repl_backlog_first_byte_offset repl_backlog_histlen"),
        ("cpu", "used_cpu_sys used_cpu_user used_cpu_sys_children used_cpu_user_children used_cpu_sys_main_thread used_cpu_user_main_thread"),
    ];
    for (section, names) in expected {
        assert_eq!(fields(section), names.split(' ').collect::<Vec<_>>(), "{}", section);
    }
    let mem = info(&mut c, &["memory"]);
    for want in [
        "\r\nmaxmemory:0\r\n",
        "\r\nmaxmemory_human:0B\r\n",
        "\r\nmaxmemory_policy:noeviction\r\n",
    ] {
        assert!(mem.contains(want), "{}", want);
    }
    c.expect(&["CONFIG", "SET", "maxmemory", "1536kb"], "+OK\r\n");
    assert!(info(&mut c, &["memory"]).contains("\r\nmaxmemory:1572864\r\nmaxmemory_human:1.50M\r\n"));
    c.expect(&["CONFIG", "SET", "maxmemory", "0"], "+OK\r\n");

    // The same sections for "default"; all and everything add Commandstats and Latencystats
    // (after Errorstats), as Redis 7.0.
    assert_eq!(headers(&info(&mut c, &["default"])), DEFAULT_SECTIONS);
    let mut with_stats: Vec<&str> = DEFAULT_SECTIONS.to_vec();
    with_stats.insert(8, "# Commandstats");
    with_stats.insert(10, "# Latencystats");
    assert_eq!(headers(&info(&mut c, &["all"])), with_stats);
    assert_eq!(headers(&info(&mut c, &["everything"])), with_stats);
    assert!(info(&mut c, &["all"]).contains("rejected_calls="));
    assert!(!info(&mut c, &["default"]).contains("rejected_calls="));

    // Names are case-insensitive, the order is fixed, nothing repeats.
    assert_eq!(headers(&info(&mut c, &["commandSTATS"])), ["# Commandstats"]);
    assert_eq!(
        headers(&info(&mut c, &["keyspace", "cpu", "SERVER"])),
        ["# Server", "# CPU", "# Keyspace"]
    );
    assert_eq!(headers(&info(&mut c, &["cpu", "all"])), with_stats);
    assert_eq!(headers(&info(&mut c, &["cpu", "default", "cpu"])), DEFAULT_SECTIONS);
    let cpu = info(&mut c, &["cpu"]);
    assert!(cpu.contains("used_cpu_user:") && !cpu.contains("used_memory"));

    // Exact bytes of small sections.
    c.expect(&["INFO", "cluster"], &bulk("# Cluster\r\ncluster_enabled:0\r\n"));
    c.expect(
        &["INFO", "KEYSPACE", "CLUSTER"],
        &bulk("# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"),
    );
    c.expect(&["INFO", "modules"], "$11\r\n# Modules\r\n\r\n");
    // An unknown section is an empty bulk, never an error.
    c.expect(&["INFO", "nosuch"], "$0\r\n\r\n");
    c.expect(
        &["INFO", "nosuch", "cluster"],
        &bulk("# Cluster\r\ncluster_enabled:0\r\n"),
    );

    // RESP3: a verbatim string.
    common::hello3(&mut c);
    let body = "txt:# Cluster\r\ncluster_enabled:0\r\n";
    c.expect(&["INFO", "cluster"], &format!("={}\r\n{}\r\n", body.len(), body));
    c.expect(&["INFO", "nosuch"], "=4\r\ntxt:\r\n");
}

#[test]
fn info_stats_and_resetstat() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["GET"], &arity("get"));
    c.expect(&["INCR", "x", "y"], &arity("incr"));
    c.expect(&["SET", "s", "abc"], "+OK\r\n");
    c.expect(&["INCR", "s"], "-ERR value is not an integer or out of range\r\n");
    c.expect(&["TYPE", "s"], "+string\r\n");
    let errs = info(&mut c, &["errorstats"]);
    assert!(errs.starts_with("# Errorstats\r\nerrorstat_ERR:count="), "{}", errs);
    let stats = info(&mut c, &["commandstats"]);
    let incr = stats.split("\r\n").find(|l| l.starts_with("cmdstat_incr:")).unwrap();
    let parts: Vec<&str> = incr["cmdstat_incr:".len()..].split(',').collect();
    let keys: Vec<&str> = parts.iter().map(|p| p.split('=').next().unwrap()).collect();
    assert_eq!(
        keys,
        ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]
    );
    assert_eq!(parts[0], "calls=1");
    assert_eq!(parts[4], "failed_calls=1");
    assert!(stats.contains("\r\ncmdstat_ping:calls=1,"), "{}", stats);
    let upc = parts[2].strip_prefix("usec_per_call=").unwrap();
    assert_eq!(upc.split('.').nth(1).map(str::len), Some(2), "two decimals: {}", upc);

    c.expect(&["CONFIG", "RESETSTAT", "x"], &arity("config|resetstat"));
    c.expect(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    // After RESETSTAT only what ran since counts: RESETSTAT itself, then each INFO.
    c.expect(&["INFO", "errorstats"], "$14\r\n# Errorstats\r\n\r\n");
    let stats = info(&mut c, &["commandstats"]);
    let lines: Vec<&str> = stats.split("\r\n").filter(|l| l.starts_with("cmdstat_")).collect();
    assert_eq!(lines.len(), 2, "{:?}", lines);
    assert!(lines.iter().any(|l| l.starts_with("cmdstat_config|resetstat:calls=1,")));
    assert!(lines.iter().any(|l| l.starts_with("cmdstat_info:calls=1,")));
    let st = info(&mut c, &["stats"]);
    assert!(st.contains("\r\ntotal_error_replies:0\r\n"), "{}", st);
    assert!(st.contains("\r\nkeyspace_hits:0\r\n"), "{}", st);
    assert!(st.contains("\r\nrejected_connections:0\r\n"), "{}", st);
}

#[test]
fn config_get() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["CONFIG", "GET", "maxmemory"], &pairs(&[("maxmemory", "0")]));
    // An exact name is answered under the name as typed.
    c.expect(&["CONFIG", "GET", "MAXMEMORY"], &pairs(&[("MAXMEMORY", "0")]));
    c.expect(
        &["config", "get", "Maxmemory-Policy"],
        &pairs(&[("Maxmemory-Policy", "noeviction")]),
    );
    // Duplicates collapse.
    c.expect(
        &["CONFIG", "GET", "maxmemory", "MAXMEMORY"],
        &pairs(&[("maxmemory", "0")]),
    );
    // Globs match case-insensitively and answer canonical names.
    c.expect(
        &["CONFIG", "GET", "MAXMEM*"],
        &pairs(&[("maxmemory", "0"), ("maxmemory-policy", "noeviction")]),
    );
    c.expect(
        &["CONFIG", "GET", "maxmemory*", "maxmemory"],
        &pairs(&[("maxmemory", "0"), ("maxmemory-policy", "noeviction")]),
    );
    c.expect(&["CONFIG", "GET", "nosuch"], "*0\r\n");
    c.expect(&["CONFIG", "GET", "nosuch*"], "*0\r\n");
    c.expect(&["CONFIG", "GET"], &arity("config|get"));
    c.expect(&["CONFIG"], &arity("config"));
    c.expect(
        &["CONFIG", "foo"],
        "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n",
    );
    // What redis-benchmark asks on its own connection: two-element arrays.
    c.expect(&["CONFIG", "GET", "save"], &pairs(&[("save", "")]));
    c.expect(&["CONFIG", "GET", "appendonly"], &pairs(&[("appendonly", "yes")]));
    c.expect(
        &["CONFIG", "GET", "timeout", "databases", "proto-max-bulk-len"],
        &pairs(&[
            ("timeout", "0"),
            ("databases", "16"),
            ("proto-max-bulk-len", "536870912"),
        ]),
    );
    // Everything: name/value pairs, names unique and lowercase.
    let r = text(c.cmd(&["CONFIG", "GET", "*"]));
    let n: usize = r[1..r.find("\r\n").unwrap()].parse().unwrap();
    assert!(n >= 40 && n.is_multiple_of(2), "{}", n);
    let mut names: Vec<&str> = r.split("\r\n").skip(2).step_by(4).filter(|s| !s.is_empty()).collect();
    assert_eq!(names.len(), n / 2);
    for want in [
        "maxmemory",
        "appendonly",
        "save",
        "requirepass",
        "timeout",
        "maxclients",
        "hz",
    ] {
        assert!(names.contains(&want), "{}", want);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n / 2);
    // RESP3: a map.
    common::hello3(&mut c);
    c.expect(&["CONFIG", "GET", "maxmemory"], "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    c.expect(&["CONFIG", "GET", "nosuch"], "%0\r\n");
    c.expect(&["CONFIG", "GET", "save"], "%1\r\n$4\r\nsave\r\n$0\r\n\r\n");
}

#[test]
fn config_help() {
    let s = Server::start();
    let mut c = s.raw();
    let lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    let mut want = format!("*{}\r\n", lines.len());
    for l in lines {
        want.push_str(&format!("+{}\r\n", l));
    }
    c.expect(&["CONFIG", "HELP"], &want);
    c.expect(&["CONFIG", "HELP", "x"], &arity("config|help"));
}

#[test]
fn config_set() {
    let s = Server::start();
    let mut c = s.raw();
    let get = |c: &mut Raw, name: &str| {
        let r = text(c.cmd(&["CONFIG", "GET", name]));
        let v = r.split("\r\n").nth(4).unwrap().to_string();
        v
    };
    // Memory units: k/m/g are powers of 1000, kb/mb/gb of 1024, any case.
    for (v, want) in [
        ("100mb", "104857600"),
        ("1gb", "1073741824"),
        ("1g", "1000000000"),
        ("1k", "1000"),
        ("2KB", "2048"),
        ("5b", "5"),
        ("00", "0"),
        ("123", "123"),
    ] {
        c.expect(&["CONFIG", "SET", "maxmemory", v], "+OK\r\n");
        assert_eq!(get(&mut c, "maxmemory"), want, "{}", v);
    }
    for v in ["bla", "-1", "1.5mb", " 1", "+1", "1 mb", "1tb"] {
        c.expect(
            &["CONFIG", "SET", "maxmemory", v],
            &config_failed("maxmemory", "argument must be a memory value"),
        );
    }
    c.expect(
        &["CONFIG", "SET", "proto-max-bulk-len", "1000kb"],
        &config_failed(
            "proto-max-bulk-len",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
    );

    // Several pairs are applied together, or not at all.
    c.expect(&["CONFIG", "SET", "maxmemory", "1mb", "timeout", "5"], "+OK\r\n");
    assert_eq!(
        (get(&mut c, "maxmemory"), get(&mut c, "timeout")),
        ("1048576".into(), "5".into())
    );
    c.expect(
        &["CONFIG", "SET", "timeout", "7", "maxmemory", "bla"],
        &config_failed("maxmemory", "argument must be a memory value"),
    );
    assert_eq!(
        (get(&mut c, "maxmemory"), get(&mut c, "timeout")),
        ("1048576".into(), "5".into())
    );
    // A value error names the parameter canonically.
    c.expect(
        &["CONFIG", "SET", "MAXMEMORY", "bla"],
        &config_failed("maxmemory", "argument must be a memory value"),
    );

    // Name errors come first, in argument order, named as typed.
    c.expect(
        &["CONFIG", "SET", "nosuch", "1"],
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
    );
    c.expect(
        &["CONFIG", "SET", "timeout", "9", "NoSuch", "1"],
        "-ERR Unknown option or number of arguments for CONFIG SET - 'NoSuch'\r\n",
    );
    c.expect(
        &["CONFIG", "SET", "maxmemory", "bla", "nosuch", "1"],
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
    );
    assert_eq!(get(&mut c, "timeout"), "5");
    c.expect(
        &["CONFIG", "SET", "databases", "3"],
        &config_failed("databases", "can't set immutable config"),
    );
    c.expect(
        &["CONFIG", "SET", "DATABASES", "3"],
        &config_failed("DATABASES", "can't set immutable config"),
    );
    c.expect(
        &["CONFIG", "SET", "dir", "/tmp"],
        &config_failed("dir", "can't set protected config"),
    );
    c.expect(
        &["CONFIG", "SET", "dbfilename", "x.rdb"],
        &config_failed("dbfilename", "can't set protected config"),
    );
    c.expect(
        &["CONFIG", "SET", "dir", "/tmp", "nosuch", "1"],
        &config_failed("dir", "can't set protected config"),
    );
    c.expect(
        &["CONFIG", "SET", "nosuch", "1", "dir", "/tmp"],
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
    );
    c.expect(
        &["CONFIG", "SET", "hz", "5", "HZ", "6"],
        &config_failed("HZ", "duplicate parameter"),
    );
    c.expect(
        &["CONFIG", "SET", "hz", "5", "HZ", "6", "nosuch", "1"],
        &config_failed("HZ", "duplicate parameter"),
    );
    assert_eq!(get(&mut c, "hz"), "10");
    // Whole pairs only.
    c.expect(&["CONFIG", "SET", "maxmemory", "1", "foo"], "-ERR syntax error\r\n");
    c.expect(&["CONFIG", "SET", "maxmemory"], &arity("config|set"));

    // Integers: strict parsing, Redis's bounds.
    for v in ["abc", "1.5", "+5", "010", ""] {
        c.expect(
            &["CONFIG", "SET", "hz", v],
            &config_failed("hz", "argument couldn't be parsed into an integer"),
        );
    }
    c.expect(
        &["CONFIG", "SET", "hz", "-5"],
        &config_failed("hz", "argument must be between 0 and 2147483647 inclusive"),
    );
    // hz is kept within 1..=500.
    c.expect(&["CONFIG", "SET", "hz", "5000"], "+OK\r\n");
    assert_eq!(get(&mut c, "hz"), "500");
    c.expect(&["CONFIG", "SET", "hz", "0"], "+OK\r\n");
    assert_eq!(get(&mut c, "hz"), "1");
    c.expect(
        &["CONFIG", "SET", "timeout", "-1"],
        &config_failed("timeout", "argument must be between 0 and 2147483647 inclusive"),
    );
    c.expect(
        &["CONFIG", "SET", "maxclients", "0"],
        &config_failed("maxclients", "argument must be between 1 and 4294967295 inclusive"),
    );
    c.expect(
        &["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
        &config_failed(
            "slowlog-log-slower-than",
            "argument must be between -1 and 9223372036854775807 inclusive",
        ),
    );
    c.expect(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"], "+OK\r\n");

    // Booleans and enums.
    c.expect(
        &["CONFIG", "SET", "protected-mode", "maybe"],
        &config_failed("protected-mode", "argument must be 'yes' or 'no'"),
    );
    c.expect(&["CONFIG", "SET", "latency-tracking", "NO"], "+OK\r\n");
    assert_eq!(get(&mut c, "latency-tracking"), "no");
    c.expect(
        &["CONFIG", "SET", "appendfsync", "sometimes"],
        &config_failed(
            "appendfsync",
            "argument(s) must be one of the following: everysec, always, no",
        ),
    );
    c.expect(&["CONFIG", "SET", "appendfsync", "ALWAYS"], "+OK\r\n");
    assert_eq!(get(&mut c, "appendfsync"), "always");

    // save: "seconds changes" pairs.
    for v in [
        "3600 1 300",
        "0 1",
        "10 -1",
        "a b",
        "10 1x",
        "100 10  60 10000",
        " 100 10",
    ] {
        c.expect(
            &["CONFIG", "SET", "save", v],
            &config_failed("save", "Invalid save parameters"),
        );
    }
    c.expect(&["CONFIG", "SET", "save", "100 10 60 10000"], "+OK\r\n");
    assert_eq!(get(&mut c, "save"), "100 10 60 10000");
    c.expect(&["CONFIG", "SET", "save", ""], "+OK\r\n");
    assert_eq!(get(&mut c, "save"), "");

    // CONFIG SET requirepass takes effect for new connections.
    c.expect(&["CONFIG", "SET", "requirepass", "pw"], "+OK\r\n");
    let mut d = s.raw();
    d.expect(&["PING"], "-NOAUTH Authentication required.\r\n");
    d.expect(&["AUTH", "pw"], "+OK\r\n");
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["CONFIG", "SET", "requirepass", ""], "+OK\r\n");
}

/// Starts the binary with `--config FILE` (which must come first on the command line).
struct ConfigServer {
    child: std::process::Child,
    port: u16,
}

impl ConfigServer {
    fn start(config: &std::path::Path, dir: &std::path::Path) -> ConfigServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgekv"))
            .arg("--config")
            .arg(config)
            .args(["--bind", "127.0.0.1", "--port", "0", "--http-port", "0", "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start edgekv");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().rsplit(':').next().unwrap().parse().expect("ready line");
        ConfigServer { child, port }
    }

    fn conn(&self) -> Conn {
        let stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }
}

/// A minimal raw connection for servers not started through `common::Server`.
struct Conn {
    stream: std::net::TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    #[track_caller]
    fn expect(&mut self, args: &[&str], reply: &str) {
        assert_eq!(self.cmd(args), reply, "reply to {:?}", args);
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        use std::io::Write;
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.stream.write_all(&resp(&a)).unwrap();
        loop {
            if let Some(n) = common::frame_len(&self.buf) {
                let out = String::from_utf8(self.buf[..n].to_vec()).unwrap();
                self.buf.drain(..n);
                return out;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Drop for ConfigServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn config_rewrite() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(
        &["CONFIG", "REWRITE"],
        "-ERR The server is running without a config file\r\n",
    );
    c.expect(&["CONFIG", "REWRITE", "x"], &arity("config|rewrite"));

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("edgekv.conf");
    std::fs::write(&conf, "# test\nmaxmemory 1mb\ntimeout 3\n").unwrap();
    let first = ConfigServer::start(&conf, &dir.path().join("data"));
    let mut c = first.conn();
    c.expect(&["CONFIG", "GET", "maxmemory"], &pairs(&[("maxmemory", "1048576")]));
    c.expect(&["CONFIG", "SET", "maxmemory", "2mb", "hz", "20"], "+OK\r\n");
    c.expect(&["CONFIG", "REWRITE"], "+OK\r\n");
    // As Redis does: the file keeps its comments and order, known lines get the current
    // value, and non-default values missing from it are appended.
    let written = std::fs::read_to_string(&conf).unwrap();
    let data = dir.path().join("data");
    assert_eq!(
        written,
        format!(
            "# test\nmaxmemory 2097152\ntimeout 3\n# Generated by CONFIG REWRITE\ndir {}\nhz 20\nhttp-port 0\nport 0\n",
            data.display()
        )
    );
    drop(c);
    drop(first);
    // The rewritten file starts a server with the same values.
    let second = ConfigServer::start(&conf, &dir.path().join("data"));
    let mut c = second.conn();
    c.expect(
        &["CONFIG", "GET", "maxmemory", "hz", "timeout"],
        &pairs(&[("maxmemory", "2097152"), ("hz", "20"), ("timeout", "3")]),
    );
    let server = c.cmd(&["INFO", "server"]);
    assert!(
        server.contains(&format!("\r\nconfig_file:{}\r\n", conf.display())),
        "{}",
        server
    );
}

/// `COMMAND INFO get` as redis-server 7.0.15 sends it.
const GET_INFO: &str = "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

#[test]
fn command_info_and_count() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["COMMAND", "INFO", "get"], &format!("*1\r\n{}", GET_INFO));
    c.expect(&["COMMAND", "INFO", "GET"], &format!("*1\r\n{}", GET_INFO));
    c.expect(
        &["COMMAND", "INFO", "nosuch", "get"],
        &format!("*2\r\n$-1\r\n{}", GET_INFO),
    );
    c.expect(
        &["COMMAND", "INFO", "config|get"],
        "*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n",
    );
    c.expect(
        &["COMMAND", "INFO", "mset"],
        "*1\r\n*10\r\n$4\r\nmset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n*2\r\n$26\r\nrequest_policy:multi_shard\r\n$29\r\nresponse_policy:all_succeeded\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:2\r\n$5\r\nlimit\r\n:0\r\n*0\r\n",
    );
    c.expect(
        &["COMMAND", "INFO", "exec"],
        "*1\r\n*10\r\n$4\r\nexec\r\n:1\r\n*4\r\n+noscript\r\n+loading\r\n+stale\r\n+skip_slowlog\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@slow\r\n+@transaction\r\n*0\r\n*0\r\n*0\r\n",
    );
    c.expect(
        &["COMMAND", "INFO", "quit"],
        "*1\r\n*10\r\n$4\r\nquit\r\n:-1\r\n*6\r\n+noscript\r\n+loading\r\n+stale\r\n+fast\r\n+no_auth\r\n+allow_busy\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n",
    );
    // A key spec with notes (GETEX) and one with two specs (RENAME).
    let getex = text(c.cmd(&["COMMAND", "INFO", "getex"]));
    assert!(getex.contains("*8\r\n$5\r\nnotes\r\n$40\r\nRW and UPDATE because it changes the TTL\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"), "{}", getex);
    let rename = text(c.cmd(&["COMMAND", "INFO", "rename"]));
    assert!(
        rename.contains("*2\r\n*6\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n"),
        "{}",
        rename
    );
    // A container lists its subcommands, each a 10-element entry.
    let client = text(c.cmd(&["COMMAND", "INFO", "client"]));
    assert!(
        client.starts_with("*1\r\n*10\r\n$6\r\nclient\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*"),
        "{}",
        &client[..100]
    );
    assert!(client.contains("*10\r\n$11\r\nclient|list\r\n:-2\r\n"));

    // RESP3: flags, categories, tips, key specs and "no subcommands" are sets; maps inside.
    common::hello3(&mut c);
    c.expect(
        &["COMMAND", "INFO", "get"],
        "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n",
    );
    c.expect(&["COMMAND", "INFO", "nosuch"], "*1\r\n_\r\n");
    common::hello(&mut c, 2);

    // COUNT counts top-level commands; COMMAND and COMMAND INFO list each once.
    let count = int_reply(&mut c, &["COMMAND", "COUNT"]);
    assert!(count > 50, "{}", count);
    for args in [&["COMMAND"][..], &["COMMAND", "INFO"]] {
        let all = text(c.cmd(args));
        assert!(all.starts_with(&format!("*{}\r\n*10\r\n", count)), "{}", &all[..30]);
        assert_eq!(all.matches("*10\r\n$3\r\nget\r\n").count(), 1);
    }
    c.expect(&["COMMAND", "COUNT", "x"], &arity("command|count"));
    c.expect(
        &["COMMAND", "foo"],
        "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n",
    );
}

#[test]
fn command_list_docs_getkeys() {
    let s = Server::start();
    let mut c = s.raw();
    let list = text(c.cmd(&["COMMAND", "LIST"]));
    for name in ["get", "client", "client|list", "config|get", "command|getkeys", "exec"] {
        assert!(list.contains(&format!("\r\n{}", bulk(name))), "{}", name);
    }
    let count = int_reply(&mut c, &["COMMAND", "COUNT"]) as usize;
    let top = list
        .split("\r\n")
        .filter(|l| !l.starts_with('$') && !l.starts_with('*') && !l.is_empty() && !l.contains('|'))
        .count();
    assert_eq!(top, count);
    let tx = text(c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "transaction"]));
    let mut names: Vec<&str> = tx
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.starts_with('$') && !l.is_empty())
        .collect();
    names.sort();
    assert_eq!(names, ["discard", "exec", "multi", "unwatch", "watch"]);
    assert!(tx.starts_with("*5\r\n"));
    let pat = text(c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG*"]));
    assert!(
        pat.starts_with("*6\r\n") && pat.contains("$10\r\nconfig|get\r\n"),
        "{}",
        pat
    );
    c.expect(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"], "*0\r\n");
    c.expect(&["COMMAND", "LIST", "FILTERBY"], "-ERR syntax error\r\n");
    c.expect(&["COMMAND", "LIST", "FILTERBY", "foo", "x"], "-ERR syntax error\r\n");
    c.expect(&["COMMAND", "LIST", "x"], "-ERR syntax error\r\n");

    // DOCS: a map of name to doc map (RESP2 flat arrays); unknown names are skipped.
    let docs = text(c.cmd(&["COMMAND", "DOCS", "get"]));
    assert!(docs.starts_with("*2\r\n$3\r\nget\r\n*"), "{}", docs);
    assert!(
        docs.contains("$7\r\nsummary\r\n")
            && docs.contains("$5\r\nsince\r\n$5\r\n1.0.0\r\n")
            && docs.contains("$5\r\ngroup\r\n$6\r\nstring\r\n")
    );
    c.expect(&["COMMAND", "DOCS", "nosuch"], "*0\r\n");
    let docs = text(c.cmd(&["COMMAND", "DOCS", "nosuch", "ping"]));
    assert!(docs.starts_with("*2\r\n$4\r\nping\r\n"), "{}", docs);
    let docs = text(c.cmd(&["COMMAND", "DOCS", "client"]));
    assert!(docs.contains("$11\r\nsubcommands\r\n"), "{}", docs);
    common::hello3(&mut c);
    let docs = text(c.cmd(&["COMMAND", "DOCS", "get"]));
    assert!(docs.starts_with("%1\r\n$3\r\nget\r\n%"), "{}", docs);
    c.expect(&["COMMAND", "DOCS", "nosuch"], "%0\r\n");
    common::hello(&mut c, 2);

    // GETKEYS and GETKEYSANDFLAGS.
    c.expect(&["COMMAND", "GETKEYS", "get", "a"], "*1\r\n$1\r\na\r\n");
    c.expect(&["COMMAND", "GETKEYS", "GET", "x"], "*1\r\n$1\r\nx\r\n");
    c.expect(
        &["COMMAND", "GETKEYS", "mset", "a", "b", "c"],
        "*2\r\n$1\r\na\r\n$1\r\nc\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "rename", "a", "b"],
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "del", "a", "b", "c"],
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"],
        "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+OW\r\n+update\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "EX", "10", "get"],
        "*1\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "mset", "a", "b", "c", "d"],
        "*2\r\n*2\r\n$1\r\na\r\n*2\r\n+OW\r\n+update\r\n*2\r\n$1\r\nc\r\n*2\r\n+OW\r\n+update\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "nosuch", "a"],
        "-ERR Invalid command specified\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "config|get", "x"],
        "-ERR Invalid command specified\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "client", "foo"],
        "-ERR Invalid command specified\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "config", "get", "x"],
        "-ERR The command has no key arguments\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "ping", "x"],
        "-ERR The command has no key arguments\r\n",
    );
    c.expect(
        &["COMMAND", "GETKEYS", "get", "a", "b"],
        "-ERR Invalid number of arguments specified for command\r\n",
    );
    c.expect(&["COMMAND", "GETKEYS", "get"], &arity("command|getkeys"));
    c.expect(&["COMMAND", "GETKEYS"], &arity("command|getkeys"));
    c.expect(
        &["COMMAND", "GETKEYSANDFLAGS", "ping"],
        &arity("command|getkeysandflags"),
    );

    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ];
    let mut want = format!("*{}\r\n", lines.len());
    for l in lines {
        want.push_str(&format!("+{}\r\n", l));
    }
    c.expect(&["COMMAND", "HELP"], &want);
}

#[test]
fn time_and_lastsave() {
    let s = Server::start();
    let mut c = s.raw();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = text(c.cmd(&["TIME"]));
    let parts: Vec<&str> = r.split("\r\n").collect();
    assert_eq!(parts[0], "*2");
    assert_eq!(parts[1], format!("${}", parts[2].len()));
    assert_eq!(parts[3], format!("${}", parts[4].len()));
    let secs: i64 = parts[2].parse().unwrap();
    let micros: i64 = parts[4].parse().unwrap();
    assert!((secs - now).abs() < 60, "{} vs {}", secs, now);
    assert!((0..1_000_000).contains(&micros));
    c.expect(&["TIME", "x"], &arity("time"));
    let last = int_reply(&mut c, &["LASTSAVE"]);
    assert!((last - now).abs() < 60, "{} vs {}", last, now);
    c.expect(&["LASTSAVE", "x"], &arity("lastsave"));
}

#[test]
fn shutdown_errors_then_exit() {
    let mut s = Server::start();
    let mut c = s.raw();
    c.expect(&["SHUTDOWN", "ABORT"], "-ERR No shutdown in progress.\r\n");
    for bad in [
        &["SHUTDOWN", "foo"][..],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["SHUTDOWN", "ABORT", "NOW"],
        &["SHUTDOWN", "NOSAVE", "ABORT"],
        &["SHUTDOWN", "abort", "force"],
    ] {
        c.expect(bad, "-ERR syntax error\r\n");
    }
    c.expect(&["MULTI"], "+OK\r\n");
    c.expect(&["SHUTDOWN"], "-ERR Command not allowed inside a transaction\r\n");
    c.expect(
        &["EXEC"],
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    assert!(s.alive());
    // The client gets no reply; the connection closes and the process exits cleanly.
    let mut other = s.raw();
    other.expect(&["PING"], "+PONG\r\n");
    c.send(&resp(&[b"shutdown", b"NOSAVE", b"now"]));
    assert_closed(&mut c);
    assert_closed(&mut other);
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("edgekv exits after SHUTDOWN");
    assert!(status.success(), "{:?}", status);
}

#[test]
fn sigterm_stops_cleanly() {
    let mut s = Server::start();
    let mut c = s.raw();
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(s.pid() as i32, libc::SIGTERM) }, 0);
    let status = s.wait_exit(Duration::from_secs(10)).expect("edgekv exits on SIGTERM");
    assert_eq!(status.code(), Some(0), "{:?}", status);
    assert_closed(&mut c);
}

/// Reads until the server closes the connection; fails if data arrives or nothing happens.
fn assert_closed(c: &mut Raw) {
    c.stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0u8; 64];
    match c.stream.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&b[..n])),
        Err(e) => panic!("connection not closed: {}", e),
    }
}

#[test]
fn maxclients_limit() {
    let s = Server::start_with(&["--maxclients", "2"]);
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect(&["PING"], "+PONG\r\n");
    b.expect(&["PING"], "+PONG\r\n");
    let mut third = s.raw();
    assert_eq!(text(third.read_reply()), "-ERR max number of clients reached\r\n");
    assert_closed(&mut third);
    a.expect(&["CONFIG", "GET", "maxclients"], &pairs(&[("maxclients", "2")]));
    let st = info(&mut a, &["stats"]);
    assert!(st.contains("\r\nrejected_connections:1\r\n"), "{}", st);
    assert!(info(&mut a, &["clients"]).contains("\r\nmaxclients:2\r\n"));

    // A freed slot is usable again (once the server has seen the close).
    b.expect(&["QUIT"], "+OK\r\n");
    assert_closed(&mut b);
    let mut ok = false;
    for _ in 0..500 {
        let mut n = s.raw();
        n.send(&resp(&[b"PING"]));
        if text(n.read_reply()) == "+PONG\r\n" {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(ok, "a slot freed by QUIT is reused");

    // CONFIG SET maxclients applies to the next connection.
    a.expect(&["CONFIG", "SET", "maxclients", "1"], "+OK\r\n");
    let mut refused = s.raw();
    assert_eq!(text(refused.read_reply()), "-ERR max number of clients reached\r\n");
    a.expect(&["CONFIG", "SET", "maxclients", "10"], "+OK\r\n");
    let mut fine = s.raw();
    fine.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn idle_timeout_closes_idle_clients() {
    let s = Server::start_with(&["--timeout", "1"]);
    let mut c = s.raw();
    c.expect(&["CONFIG", "GET", "timeout"], &pairs(&[("timeout", "1")]));
    // No reply is sent; the connection just closes.
    assert_closed(&mut c);
    // timeout 0 disables it (checked by CONFIG GET only: waiting forever proves nothing).
    let mut d = s.raw();
    d.expect(&["CONFIG", "SET", "timeout", "0"], "+OK\r\n");
    d.expect(&["CONFIG", "GET", "timeout"], &pairs(&[("timeout", "0")]));
}

/// `--busy-poll-us` (edgekv's own parameter, 50 by default): the server answers as usual with
/// polling on, reports the setting, and refuses to change it at run time.
#[test]
fn busy_poll_is_a_start_up_parameter() {
    let d = Server::start();
    d.raw().expect(
        &["CONFIG", "GET", "busy-poll-us"],
        "*2\r\n$12\r\nbusy-poll-us\r\n$2\r\n50\r\n",
    );
    let s = Server::start_with(&["--busy-poll-us", "200"]);
    let mut c = s.raw();
    for i in 0..100 {
        let k = format!("k{i}");
        c.expect(&["SET", &k, "v"], "+OK\r\n");
        c.expect(&["GET", &k], "$1\r\nv\r\n");
    }
    c.expect(
        &["CONFIG", "GET", "busy-poll-us"],
        "*2\r\n$12\r\nbusy-poll-us\r\n$3\r\n200\r\n",
    );
    c.expect(
        &["CONFIG", "SET", "busy-poll-us", "0"],
        "-ERR CONFIG SET failed (possibly related to argument 'busy-poll-us') - can't set immutable config\r\n",
    );
}

/// CPU time (user + system) the process has used so far, from /proc, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as u64
}

/// Busy polling adapts to the gaps between requests: requests 20 ms apart with a 10 ms limit
/// never grow the window (a fixed 10 ms window would burn half a core), and once a busy
/// client stops, polling stops: the server then uses next to no CPU.
#[test]
fn busy_poll_spends_no_cpu_on_sparse_or_no_requests() {
    let s = Server::start_with(&["--busy-poll-us", "10000"]);
    let hz = clock_ticks_per_second();
    let mut c = s.raw();
    // A busy phase first: the window grows to its limit.
    for i in 0..2_000 {
        c.expect(&["SET", "k", &i.to_string()], "+OK\r\n");
    }
    // Sparse requests, 20 ms apart, for one second.
    let before = cpu_ticks(s.pid());
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        c.expect(&["GET", "k"], "$4\r\n1999\r\n");
    }
    let sparse = cpu_ticks(s.pid()) - before;
    // Idle for one second.
    let before = cpu_ticks(s.pid());
    std::thread::sleep(Duration::from_secs(1));
    let idle = cpu_ticks(s.pid()) - before;
    // A fixed window would spend about 10 ms of every 20 (half of 1 s); polling that adapts
    // spends a few ticks on the first gaps at most. The bounds leave room for the work itself.
    assert!(
        sparse * 4 < hz,
        "server used {sparse} ticks of {hz}/s over 1 s of sparse requests"
    );
    assert!(idle * 10 < hz, "server used {idle} ticks of {hz}/s over 1 s idle");
}
