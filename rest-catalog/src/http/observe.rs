//! Operator endpoints: `GET /health` (the process answers), `GET /ready` (store and
//! ZooKeeper reachable; 503 otherwise) and `GET /metrics` in Prometheus text format, plus
//! the middleware that counts and times every request by route and status.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use serde_json::json;

use crate::catalog::Catalog;

/// Histogram buckets, in seconds, for request, commit and lock-wait times.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's Prometheus recorder, installed as the `metrics` recorder on first use.
/// When another recorder was installed first, `/metrics` renders only what this one saw.
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Every gauge is set again at each scrape; one not set for a minute belongs to a
        // table dropped or renamed since, and goes.
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("buckets are not empty")
            .idle_timeout(MetricKindMask::GAUGE, Some(Duration::from_secs(60)))
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed before Floe's; /metrics stays empty");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "floe_http_requests_total",
        "HTTP requests by method, route and status"
    );
    describe_histogram!(
        "floe_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method, route and status"
    );
    describe_counter!(
        "floe_commits_total",
        "table commits by outcome: ok, conflict, unknown, failed"
    );
    describe_histogram!(
        "floe_commit_duration_seconds",
        Unit::Seconds,
        "commit latency by outcome"
    );
    describe_histogram!(
        "floe_lock_wait_seconds",
        Unit::Seconds,
        "time spent waiting for table commit locks"
    );
    describe_gauge!(
        "floe_zookeeper_session_connected",
        "1 while the ZooKeeper lock session is connected (only with ZooKeeper)"
    );
    describe_gauge!(
        "floe_store_up",
        "1 when the catalog store answered the last check"
    );
    describe_gauge!("floe_table_data_files", "live data files of a table");
    describe_gauge!("floe_table_delete_files", "live delete files of a table");
    describe_gauge!(
        "floe_table_watermark_lag_seconds",
        Unit::Seconds,
        "now minus the table's floe.watermark"
    );
}

/// Installs the recorder; called when the router is built so early requests count too.
pub(super) fn install() {
    prometheus();
}

/// Middleware: counts and times each request under its route template (never the raw
/// path, so names do not become labels).
pub(super) async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // A fixed set: any other method name would be a new series per name.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "OPTIONS" | "PATCH") => m,
        _ => "other",
    }
    .to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("floe_http_requests_total", &labels).increment(1);
    metrics::histogram!("floe_http_request_duration_seconds", &labels).record(started.elapsed());
    response
}

/// `GET /health`: the process is up.
pub(super) async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: 200 when the store and the warehouse answer and the ZooKeeper session
/// (if any) is connected; 503 with what is wrong otherwise.
pub(super) async fn ready(State(catalog): State<Catalog>) -> Response {
    let readiness = catalog.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if readiness.is_ready() { "ready" } else { "not ready" },
        "store": readiness.store_error.as_deref().unwrap_or("ok"),
        "warehouse": readiness.warehouse_error.as_deref().unwrap_or("ok"),
        "zookeeper": match readiness.zookeeper_connected {
            None => "not used",
            Some(true) => "connected",
            Some(false) => "disconnected",
        },
    });
    (status, Json(body)).into_response()
}

/// `GET /metrics`: everything recorded, with the per-table and health gauges set now.
pub(super) async fn metrics(State(catalog): State<Catalog>) -> Response {
    let readiness = catalog.readiness().await;
    metrics::gauge!("floe_store_up").set(f64::from(u8::from(readiness.store_error.is_none())));
    metrics::gauge!("floe_warehouse_up")
        .set(f64::from(u8::from(readiness.warehouse_error.is_none())));
    if let Some(connected) = readiness.zookeeper_connected {
        metrics::gauge!("floe_zookeeper_session_connected").set(f64::from(u8::from(connected)));
    }
    catalog
        .figures()
        .publish(chrono::Utc::now().timestamp_millis());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus().render(),
    )
        .into_response()
}
