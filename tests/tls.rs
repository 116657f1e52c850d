//! TLS (issue 5): `tls-port` beside the plain port, certificates made here with rcgen (a CA,
//! the server's certificate for 127.0.0.1/localhost, a client's), driven by `redis-cli --tls`
//! and the redis crate's rustls support; `tls-auth-clients` yes / optional / no; refused
//! handshakes and plain text on the TLS port; start-up errors.

mod common;

use common::{free_port, Server};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// PEM files of a test PKI in a temp folder.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        // The CA.
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "edgekv test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        write("ca.pem", ca.pem());
        // The server, for the names a client dials.
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        write("server.pem", cert.pem());
        write("server.key", key.serialize_pem());
        // A client of that CA, and one of another CA.
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "client");
        write("client.pem", params.signed_by(&key, &ca).unwrap().pem());
        write("client.key", key.serialize_pem());
        let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let other = CertifiedIssuer::self_signed(other_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(Vec::<String>::new()).unwrap();
        write("stranger.pem", params.signed_by(&key, &other).unwrap().pem());
        write("stranger.key", key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// A server with the plain port and a TLS port, extra arguments after.
    fn server(&self, extra: &[&str]) -> (Server, u16) {
        let (cert, key, ca) = (self.path("server.pem"), self.path("server.key"), self.path("ca.pem"));
        let mut args = vec![
            "--tls-cert-file".to_string(),
            cert.display().to_string(),
            "--tls-key-file".to_string(),
            key.display().to_string(),
            "--tls-ca-cert-file".to_string(),
            ca.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        Server::start_on_free_port("--tls-port", &refs)
    }

    /// `redis-cli --tls` against `port` with the CA, and the client certificate `who`
    /// (`client`, `stranger`) when given: (exit success, stdout, stderr).
    fn cli(&self, port: u16, who: Option<&str>, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "-h", "127.0.0.1", "-p", &port.to_string(), "--cacert"])
            .arg(self.path("ca.pem"));
        if let Some(who) = who {
            cmd.arg("--cert")
                .arg(self.path(&format!("{who}.pem")))
                .arg("--key")
                .arg(self.path(&format!("{who}.key")));
        }
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli (apt-get install redis-tools)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A redis crate client over TLS, with the client certificate when `with_cert`.
    fn client(&self, port: u16, with_cert: bool) -> redis::Client {
        let certs = redis::TlsCertificates {
            client_tls: with_cert.then(|| redis::ClientTlsConfig {
                client_cert: self.read("client.pem"),
                client_key: self.read("client.key"),
            }),
            root_cert: Some(self.read("ca.pem")),
        };
        redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}/"), certs).unwrap()
    }
}

#[test]
fn redis_cli_over_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let (s, port) = pki.server(&[]);
    assert_eq!(
        pki.cli(port, Some("client"), &["PING"]),
        (true, "PONG\n".into(), String::new())
    );
    assert_eq!(pki.cli(port, Some("client"), &["SET", "k", "over tls"]).1, "OK\n");
    assert_eq!(pki.cli(port, Some("client"), &["GET", "k"]).1, "over tls\n");
    // One store behind both ports: TLS on, and plain text still served.
    let mut c = s.raw();
    c.expect(&["GET", "k"], "$8\r\nover tls\r\n");
    // Inline commands and pipelines through redis-cli's pipe mode work over TLS too.
    let mut child = Command::new("redis-cli")
        .args(["--tls", "-p", &port.to_string(), "--cacert"])
        .arg(pki.path("ca.pem"))
        .arg("--cert")
        .arg(pki.path("client.pem"))
        .arg("--key")
        .arg(pki.path("client.key"))
        .arg("--pipe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for i in 0..1000 {
        input.push_str(&format!("SET p{i} {i}\r\n"));
    }
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 1000"), "{text}");
    c.expect(&["GET", "p999"], "$3\r\n999\r\n");
}

#[test]
fn redis_crate_over_tls() {
    let pki = Pki::new();
    let (s, port) = pki.server(&[]);
    let mut con = pki.client(port, true).get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let n: i64 = redis::cmd("INCRBY").arg("a").arg(41).query(&mut con).unwrap();
    assert_eq!(n, 42);
    // A pipeline of many commands in one TLS write.
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    pipe.cmd("DBSIZE");
    let (size,): (i64,) = pipe.query(&mut con).unwrap();
    assert_eq!(size, 501);
    // A value bigger than a TLS record (16 KiB) and than a read (16 KiB) round-trips.
    let big = vec![b'x'; 3 * 1024 * 1024 + 7];
    let _: () = redis::cmd("SET").arg("big").arg(&big[..]).query(&mut con).unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).unwrap();
    assert_eq!(back, big);
    // RESP3 over TLS.
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let hello: redis::Value = redis::cmd("HELLO").arg(3).query(&mut con).unwrap();
    assert_eq!(hello, common::hello3_value(id));
    // The TLS client is a client like any other: listed, and killable by id.
    let mut plain = s.raw();
    let list = common::text(plain.cmd(&["CLIENT", "LIST"]));
    assert!(list.contains(&format!("id={id} ")), "{list}");
    plain.expect(&["CLIENT", "KILL", "ID", &id.to_string()], ":1\r\n");
    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut con);
    assert!(r.is_err(), "a killed TLS client is disconnected: {r:?}");
}

#[test]
fn client_certificate_required_by_default() {
    let pki = Pki::new();
    let (_s, port) = pki.server(&[]);
    // tls-auth-clients yes (Redis's default): no certificate, no connection.
    let (ok, out, err) = pki.cli(port, None, &["PING"]);
    assert!(
        !ok || !out.contains("PONG"),
        "served without a certificate: {out} {err}"
    );
    assert!(pki
        .client(port, false)
        .get_connection()
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_err());
    // A certificate from another CA is refused as well.
    let (ok, out, _) = pki.cli(port, Some("stranger"), &["PING"]);
    assert!(
        !ok || !out.contains("PONG"),
        "served with a stranger's certificate: {out}"
    );
    // The CA's client is served.
    assert_eq!(pki.cli(port, Some("client"), &["PING"]).1, "PONG\n");
}

#[test]
fn client_certificate_optional_and_off() {
    let pki = Pki::new();
    let (_s, port) = pki.server(&["--tls-auth-clients", "optional"]);
    assert_eq!(pki.cli(port, None, &["PING"]).1, "PONG\n");
    assert_eq!(pki.cli(port, Some("client"), &["PING"]).1, "PONG\n");
    // Optional still verifies a certificate that is offered.
    let (ok, out, _) = pki.cli(port, Some("stranger"), &["PING"]);
    assert!(!ok || !out.contains("PONG"), "a bad certificate was accepted: {out}");

    let (_s, port) = pki.server(&["--tls-auth-clients", "no"]);
    assert_eq!(pki.cli(port, None, &["PING"]).1, "PONG\n");
    let mut con = pki.client(port, false).get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn plain_text_on_the_tls_port_is_not_served() {
    let pki = Pki::new();
    let (s, port) = pki.server(&[]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(
        !buf.windows(4).any(|w| w == b"PONG"),
        "plain text answered on the TLS port: {buf:?}"
    );
    // A client that connects and says nothing holds no slot once its handshake times out,
    // and does not stop others meanwhile.
    let _silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(pki.cli(port, Some("client"), &["PING"]).1, "PONG\n");
    let mut plain = s.raw();
    plain.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn tls_clients_obey_requirepass_and_maxclients() {
    let pki = Pki::new();
    let (s, port) = pki.server(&["--requirepass", "sesame"]);
    assert_eq!(
        pki.cli(port, Some("client"), &["GET", "x"]).1,
        // (redis-cli prints an error reply followed by an empty line.)
        "NOAUTH Authentication required.\n\n"
    );
    assert_eq!(
        pki.cli(port, Some("client"), &["-a", "sesame", "--no-auth-warning", "PING"])
            .1,
        "PONG\n"
    );
    let mut plain = s.raw();
    plain.expect(&["AUTH", "sesame"], "+OK\r\n");
    plain.expect(&["CONFIG", "SET", "maxclients", "1"], "+OK\r\n");
    // Refused after the handshake, in TLS, with Redis's text (before authentication, as there).
    let (_, out, _) = pki.cli(port, Some("client"), &["PING"]);
    assert_eq!(out, "ERR max number of clients reached\n\n");
}

/// Start-up refuses TLS settings it cannot use, with one clear line, and exits.
#[test]
fn bad_tls_settings_stop_start_up() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_edgekv"))
            .args(["--bind", "127.0.0.1", "--port", "0", "--http-port", "0", "--dir"])
            .arg(data.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let p = |n: &str| pki.path(n).display().to_string();
    let port = free_port().to_string();
    let (ok, err) = run(&["--tls-port", &port]);
    assert!(
        !ok && err.contains("tls-port needs tls-cert-file and tls-key-file"),
        "{err}"
    );
    let (ok, err) = run(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &p("nope.pem"),
        "--tls-key-file",
        &p("server.key"),
    ]);
    assert!(!ok && err.contains("cannot read tls-cert-file"), "{err}");
    let (ok, err) = run(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &p("server.pem"),
        "--tls-key-file",
        &p("client.key"),
        "--tls-auth-clients",
        "no",
    ]);
    assert!(!ok && err.contains("do not match"), "{err}");
    let (ok, err) = run(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &p("server.pem"),
        "--tls-key-file",
        &p("server.key"),
    ]);
    assert!(
        !ok && err.contains("tls-auth-clients yes needs tls-ca-cert-file"),
        "{err}"
    );
    let (ok, err) = run(&["--tls-port", &port, "--tls-auth-clients", "maybe"]);
    assert!(!ok && err.contains("tls-auth-clients"), "{err}");
}
