//! Observability: the Prometheus registry behind `/metrics` (prometheus-client), and the
//! counters and histograms the other layers report into.
//!
//! It owns metric names, labels and the text encoding. It never blocks a request: reporting
//! is a few atomic operations; collecting store figures happens when /metrics is scraped.
//!
//! (Interface fixed first so the HTTP layer and the observability work proceed in parallel;
//! the bodies are filled in by the observability change.)

use crate::server::shared::Shared;
use std::sync::Arc;

/// One HTTP request answered: `route` is the matched route pattern (never the raw path, so
/// label values stay bounded), `status` its status code.
pub fn http_request(_shared: &Shared, _route: &str, _status: u16, _seconds: f64) {}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn http_handler(
    axum::extract::State(_shared): axum::extract::State<Arc<Shared>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::NOT_IMPLEMENTED, "metrics not yet collected\n").into_response()
}
