//! TLS for the RESP listener (`tls-port`), with rustls and its ring provider: Redis's
//! settings `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file` and `tls-auth-clients`
//! (`yes`: a client certificate signed by the CA is required, `optional`: verified when
//! given, `no`: not asked for).
//!
//! It owns loading the certificates and building the acceptor, once at start. It never reads
//! or writes requests: a handshaken stream goes to `connection::serve` like a plain one.

use crate::config::Config;
use std::sync::Arc;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The acceptor for `tls-port`, or why the settings cannot be used (one line for the operator).
pub fn acceptor(config: &Config) -> Result<TlsAcceptor, String> {
    let setting = |name: &str| config.get(name).unwrap_or_default();
    let cert_file = setting("tls-cert-file");
    let key_file = setting("tls-key-file");
    if cert_file.is_empty() || key_file.is_empty() {
        return Err("tls-port needs tls-cert-file and tls-key-file".into());
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read tls-cert-file '{}': {}", cert_file, e))?;
    if certs.is_empty() {
        return Err(format!("tls-cert-file '{}' holds no certificate", cert_file));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("cannot read tls-key-file '{}': {}", key_file, e))?;
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {}", e))?;
    let auth = setting("tls-auth-clients");
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let ca_file = setting("tls-ca-cert-file");
        if ca_file.is_empty() {
            return Err(format!(
                "tls-auth-clients {} needs tls-ca-cert-file (or set tls-auth-clients no)",
                auth
            ));
        }
        let mut roots = RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&ca_file)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read tls-ca-cert-file '{}': {}", ca_file, e))?;
        for ca in cas {
            roots
                .add(ca)
                .map_err(|e| format!("tls-ca-cert-file '{}': {}", ca_file, e))?;
        }
        if roots.is_empty() {
            return Err(format!("tls-ca-cert-file '{}' holds no certificate", ca_file));
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier.build().map_err(|e| format!("TLS client verifier: {}", e))?;
        builder.with_client_cert_verifier(verifier)
    };
    let server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls-cert-file and tls-key-file do not match: {}", e))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
