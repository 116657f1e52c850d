//! Observability: the Prometheus exposition behind `/metrics` (prometheus-client), and the
//! counters and histograms the other layers report into.
//!
//! It owns metric names, labels and the text encoding. It never blocks a request: reporting
//! is a few atomic operations; collecting store figures happens when /metrics is scraped.
//!
//! What is counted where:
//! - per command: `Shared::cmdstats` (calls, failed, rejected: INFO commandstats) and one
//!   `hdr::Histogram` per command (INFO latencystats). `/metrics` reads both at scrape time,
//!   so the command path pays nothing for Prometheus.
//! - the log's fsyncs: `persist::log::AofStats::fsync`, a `Buckets` histogram.
//! - HTTP requests: `http_request` on the route's `HttpRoute` (registered once, when the
//!   router is built), a few atomic operations per request.
//! - keys, clients, log size: read from the store and the log at scrape time.

pub mod hdr;

use crate::server::shared::Shared;
use parking_lot::Mutex;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Upper bounds (seconds) of the command and HTTP latency histograms.
const LATENCY_BOUNDS: [f64; 16] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Upper bounds (seconds) of the fsync histogram: a disk stall of seconds must show.
const FSYNC_BOUNDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// HTTP status codes are three digits, 100..=999 (what `http::StatusCode` allows).
const STATUSES: std::ops::RangeInclusive<u16> = 100..=999;

/// A histogram with fixed Prometheus bounds, recorded lock-free.
pub struct Buckets {
    bounds: &'static [f64],
    /// One counter per bound, plus +Inf.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl Buckets {
    fn new(bounds: &'static [f64]) -> Buckets {
        Buckets {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// The fsync histogram's bounds.
    pub fn for_fsync() -> Buckets {
        Buckets::new(&FSYNC_BOUNDS)
    }

    pub fn clear(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.sum_nanos.store(0, Ordering::Relaxed);
    }

    pub fn observe(&self, seconds: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add((seconds.max(0.0) * 1e9) as u64, Ordering::Relaxed);
    }

    /// (sum in seconds, count, per-bucket counts with +Inf last).
    fn read(&self) -> HistogramData {
        let mut total = 0;
        let mut out = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            let c = c.load(Ordering::Relaxed);
            total += c;
            out.push((self.bounds.get(i).copied().unwrap_or(f64::INFINITY), c));
        }
        (self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9, total, out)
    }
}

/// Disk operations: 100 us to 10 s.
impl Default for Buckets {
    fn default() -> Self {
        Buckets::for_fsync()
    }
}

/// One HTTP route's figures: a counter per status code and the latencies, all atomic, so
/// that counting a request takes no lock.
pub struct HttpRoute {
    name: String,
    /// Indexed by status - 100.
    statuses: Box<[AtomicU64]>,
    latency: Buckets,
}

/// What the HTTP layer reports: its routes, registered when the router is built (a fixed
/// set of route patterns, never raw paths, so the label set stays bounded).
#[derive(Default)]
pub struct Metrics {
    http: Mutex<Vec<Arc<HttpRoute>>>,
}

impl Metrics {
    /// The figures of the route named `name` (a route pattern), created on first use. Called
    /// when the router is built; requests then count on the `HttpRoute` directly.
    pub fn http_route(&self, name: &str) -> Arc<HttpRoute> {
        let mut routes = self.http.lock();
        if let Some(r) = routes.iter().find(|r| r.name == name) {
            return r.clone();
        }
        let r = Arc::new(HttpRoute {
            name: name.to_string(),
            statuses: STATUSES.map(|_| AtomicU64::new(0)).collect(),
            latency: Buckets::new(&LATENCY_BOUNDS),
        });
        routes.push(r.clone());
        r
    }
}

/// One HTTP request answered on `route` with `status`.
pub fn http_request(route: &HttpRoute, status: u16, seconds: f64) {
    let i = status.clamp(*STATUSES.start(), *STATUSES.end()) - STATUSES.start();
    route.statuses[i as usize].fetch_add(1, Ordering::Relaxed);
    route.latency.observe(seconds);
}

/// `GET /metrics`: the OpenMetrics text exposition.
pub async fn http_handler(axum::extract::State(shared): axum::extract::State<Arc<Shared>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    // Reading the store locks each shard briefly: off the async workers.
    let body = tokio::task::spawn_blocking(move || render(&shared)).await;
    match body {
        Ok(Ok(text)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        _ => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

/// The whole exposition, as of now.
pub fn render(shared: &Arc<Shared>) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Collector(shared.clone())));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Reads every figure at scrape time.
struct Collector(Arc<Shared>);

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("edgekv metrics collector")
    }
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// A histogram as handed to the encoder: sum, count, the count of each bucket (not
/// cumulative: the encoder adds them up) ending with +Inf.
type HistogramData = (f64, u64, Vec<(f64, u64)>);

/// One HTTP route as read at scrape time: its name, (status, count) pairs, its latencies.
type RouteData = (String, Vec<(u16, u64)>, HistogramData);

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<&Unit>, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, unit, g.metric_type())?)
}

/// Prometheus buckets, sum and count from an HDR snapshot (nanoseconds). A range counts under
/// the first bound at or above its lowest value.
fn hdr_buckets(s: &hdr::Snapshot) -> HistogramData {
    let mut per = [0u64; LATENCY_BOUNDS.len() + 1];
    let mut sum = 0f64;
    for (low, width, c) in s.ranges() {
        let secs = low as f64 / 1e9;
        let i = LATENCY_BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        per[i] += c;
        sum += c as f64 * (low as f64 + (width - 1) as f64 / 2.0) / 1e9;
    }
    let buckets = per
        .iter()
        .enumerate()
        .map(|(i, c)| (LATENCY_BOUNDS.get(i).copied().unwrap_or(f64::INFINITY), *c))
        .collect();
    (sum, s.total, buckets)
}

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let sh = &*self.0;
        let table = crate::command::table::all();

        // Commands by name and result. `calls` counts failed calls too (as Redis's
        // commandstats), so ok = calls - failed.
        {
            let mut m = enc.encode_descriptor(
                "edgekv_commands",
                "Commands by name and result: ok, error (ran and replied an error), rejected (refused before running: arity, ACL, MULTI, MISCONF...). Reset by CONFIG RESETSTAT.",
                None,
                MetricType::Counter,
            )?;
            for (i, spec) in table.iter().enumerate() {
                let s = &sh.cmdstats[i];
                let calls = s.calls.load(Ordering::Relaxed);
                let failed = s.failed.load(Ordering::Relaxed);
                let rejected = s.rejected.load(Ordering::Relaxed);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                for (result, v) in [
                    ("ok", calls.saturating_sub(failed)),
                    ("error", failed),
                    ("rejected", rejected),
                ] {
                    let labels: Labels = vec![("command", spec.fullname), ("result", result)];
                    ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "edgekv_command_duration",
                "Command execution time by command (recorded while latency-tracking is yes; the INFO latencystats histograms).",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (i, spec) in table.iter().enumerate() {
                let snap = sh.latency[i].snapshot();
                if snap.total == 0 {
                    continue;
                }
                let (sum, count, buckets) = hdr_buckets(&snap);
                let labels: Labels = vec![("command", spec.fullname)];
                m.encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
            }
        }

        // Clients.
        gauge(
            &mut enc,
            "edgekv_connected_clients",
            "Client connections open now (RESP).",
            None,
            sh.clients.lock().len() as i64,
        )?;
        counter(
            &mut enc,
            "edgekv_connections_received",
            "Connections accepted (INFO total_connections_received; reset by CONFIG RESETSTAT).",
            sh.stats.connections_received.load(Ordering::Relaxed),
        )?;
        counter(
            &mut enc,
            "edgekv_rejected_connections",
            "Connections refused at the maxclients limit.",
            sh.stats.rejected_connections.load(Ordering::Relaxed),
        )?;

        // Keys per namespace: numbered databases that hold keys (`db<N>`), and every Workers
        // KV namespace (its id, with its title as a second label).
        let now = crate::store::now_ms();
        let mut rows: Vec<(String, String, usize, usize)> = Vec::new();
        for d in sh.store.created().filter(|d| *d < sh.store.databases()) {
            let i = sh.store.info(d, now);
            if i.keys > 0 {
                rows.push((format!("db{d}"), String::new(), i.keys, i.expires));
            }
        }
        for ns in sh.namespaces.list() {
            let i = sh.store.info(ns.index, now);
            rows.push((ns.id.clone(), ns.title.clone(), i.keys, i.expires));
        }
        for (name, help, pick) in [
            (
                "edgekv_keys",
                "Keys held per namespace (expired ones not yet reclaimed included, as INFO keyspace).",
                0,
            ),
            ("edgekv_expiring_keys", "Keys with an expiration, per namespace.", 1),
        ] {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (ns, title, keys, expires) in &rows {
                let labels: Labels = vec![("namespace", ns), ("title", title)];
                let v = if pick == 0 { *keys } else { *expires };
                ConstGauge::new(v as i64).encode(m.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut enc,
            "edgekv_keys_reclaimed",
            "Expired keys removed by the timing wheel (the background reclaimer).",
            sh.store.stats.reclaimed.load(Ordering::Relaxed),
        )?;
        counter(
            &mut enc,
            "edgekv_keys_expired",
            "Expired keys removed, on access or by the timing wheel (INFO expired_keys; reset by CONFIG RESETSTAT).",
            sh.store.expired_total(),
        )?;

        // The log.
        let (size, _) = sh.aof.sizes();
        gauge(
            &mut enc,
            "edgekv_log_size",
            "Size of the append-only log (base and incremental files).",
            Some(&Unit::Bytes),
            size as i64,
        )?;
        {
            let (sum, count, buckets) = sh.aof.stats.fsync.read();
            let m = enc.encode_descriptor(
                "edgekv_log_fsync_duration",
                "Time of each fsync of the append-only log.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            let mut m = m;
            m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }

        // HTTP.
        // Routes that served no request yet are left out, as before they were registered.
        let routes: Vec<RouteData> = sh
            .metrics
            .http
            .lock()
            .clone()
            .iter()
            .map(|r| {
                let statuses = (STATUSES.zip(r.statuses.iter()))
                    .map(|(s, c)| (s, c.load(Ordering::Relaxed)))
                    .filter(|(_, c)| *c > 0)
                    .collect();
                (r.name.clone(), statuses, r.latency.read())
            })
            .filter(|(_, _, (_, count, _))| *count > 0)
            .collect();
        {
            let mut m = enc.encode_descriptor(
                "edgekv_http_requests",
                "HTTP requests by route and status.",
                None,
                MetricType::Counter,
            )?;
            for (route, statuses, _) in &routes {
                for (status, c) in statuses {
                    let status = status.to_string();
                    let labels: Labels = vec![("route", route), ("status", &status)];
                    ConstCounter::new(*c).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "edgekv_http_request_duration",
                "HTTP request time by route.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (route, _, (sum, count, buckets)) in &routes {
                let labels: Labels = vec![("route", route)];
                m.encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?;
            }
        }
        gauge(
            &mut enc,
            "edgekv_uptime",
            "Time since the server started.",
            Some(&Unit::Seconds),
            sh.started.elapsed().as_secs() as i64,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_each_range() {
        let b = Buckets::for_fsync();
        b.observe(0.00005);
        b.observe(0.003);
        b.observe(20.0);
        let (sum, count, buckets) = b.read();
        assert_eq!(count, 3);
        assert!((sum - 20.00305).abs() < 1e-6, "{sum}");
        assert_eq!(buckets[0], (0.0001, 1));
        assert_eq!(buckets.last().copied(), Some((f64::INFINITY, 1)));
        let at_5ms = buckets.iter().find(|(b, _)| *b == 0.005).unwrap();
        assert_eq!(at_5ms.1, 1);
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 3);
    }

    /// HTTP requests reported by the HTTP layer show by route and status; routes past the
    /// limit count as `other`.
    #[test]
    fn http_requests_by_route_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::new();
        config.set("dir", dir.path().to_str().unwrap(), false).unwrap();
        let shared = Arc::new(Shared::new(config, None).unwrap());
        let healthz = shared.metrics.http_route("/healthz");
        let metrics = shared.metrics.http_route("/metrics");
        let unused = shared.metrics.http_route("/unused");
        // One route, one set of figures, however often it is looked up.
        assert!(Arc::ptr_eq(&healthz, &shared.metrics.http_route("/healthz")));
        for (route, status) in [(&healthz, 200), (&metrics, 200), (&healthz, 200), (&healthz, 503)] {
            http_request(route, status, 0.002);
        }
        let text = render(&shared).unwrap();
        assert!(!text.contains("/unused"), "{text}");
        http_request(&unused, 404, 0.0);
        let text = render(&shared).unwrap();
        for want in [
            "# TYPE edgekv_http_requests counter\n",
            "edgekv_http_requests_total{route=\"/healthz\",status=\"200\"} 2\n",
            "edgekv_http_requests_total{route=\"/healthz\",status=\"503\"} 1\n",
            "edgekv_http_requests_total{route=\"/metrics\",status=\"200\"} 1\n",
            "edgekv_http_requests_total{route=\"/unused\",status=\"404\"} 1\n",
            "edgekv_http_request_duration_seconds_count{route=\"/healthz\"} 3\n",
            "edgekv_http_request_duration_seconds_bucket{le=\"0.0025\",route=\"/healthz\"} 3\n",
            "edgekv_http_request_duration_seconds_bucket{le=\"0.001\",route=\"/healthz\"} 0\n",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn hdr_to_prometheus() {
        let h = hdr::Histogram::default();
        h.record(3_000); // 3 us
        h.record(30_000); // 30 us
        h.record(2_000_000_000); // clamped to 1 s
        let (sum, count, buckets) = hdr_buckets(&h.snapshot());
        assert_eq!(count, 3);
        assert_eq!(buckets[0], (0.00001, 1));
        assert_eq!(buckets[2], (0.00005, 1));
        assert_eq!(buckets[15], (1.0, 1));
        assert_eq!(buckets[16], (f64::INFINITY, 0));
        assert!((sum - 1.000033).abs() < 0.02, "{sum}");
    }
}
