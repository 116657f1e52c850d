//! The HTTP listener (`http-port`, on the bind address): the surfaces Cloudflare's own tools
//! speak, served from the same store, KV rules and ACL users as RESP.
//!
//! It owns HTTP parsing (axum/hyper), routing and the mapping of replies to HTTP responses.
//! It never touches the store directly: every request becomes commands run through
//! `command::dispatch`, so limits, quotas, ACL checks and the log behave as over RESP.

use crate::server::shared::Shared;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// Binds the HTTP listener on the first bind address and `http-port` (0: no listener) and
/// serves it in the background. Returns the bound address.
pub async fn start(shared: Arc<Shared>, host: &str, port: u16) -> std::io::Result<Option<SocketAddr>> {
    if port == 0 {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(super::server::host_port(host, port)).await?;
    let addr = listener.local_addr()?;
    let app = router(shared.clone());
    tokio::spawn(async move {
        let stop = async move {
            while !shared.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
                let n = shared.shutdown.notified();
                if shared.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                n.await;
            }
        };
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(stop).await {
            tracing::warn!(error = %e, "HTTP listener failed");
        }
    });
    Ok(Some(addr))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::http_handler))
        .with_state(shared)
}

/// Liveness and readiness: 200 `ok` once the log is loaded, 503 `loading` before.
async fn healthz(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> (axum::http::StatusCode, &'static str) {
    if shared.loading.load(std::sync::atomic::Ordering::Acquire) {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "loading\n")
    } else {
        (axum::http::StatusCode::OK, "ok\n")
    }
}
