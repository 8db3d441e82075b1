//! Operator endpoints: `GET /health` (the process answers), `GET /ready` (store,
//! warehouse and ZooKeeper reachable; 503 otherwise) and `GET /metrics` (what the
//! catalog's telemetry renders), plus the middleware that reports every request's route,
//! status and time to the telemetry.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::catalog::Catalog;

/// Middleware: counts and times each request under its route template (never the raw
/// path, so names do not become labels).
pub(super) async fn track(
    State(catalog): State<Catalog>,
    request: Request,
    next: Next,
) -> Response {
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
    catalog.telemetry().request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
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

/// `GET /metrics`: what the telemetry answers, with the health checks and the per-table
/// figures as of now.
pub(super) async fn metrics(State(catalog): State<Catalog>) -> Response {
    let readiness = catalog.readiness().await;
    let tables = catalog.figures().snapshot();
    let now_ms = crate::catalog::now_ms();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        catalog.telemetry().scrape(&readiness, &tables, now_ms),
    )
        .into_response()
}
