//! The axum HTTP layer of the Iceberg REST catalog spec: routes, request parsing and the
//! config endpoint. Handlers only translate between HTTP and `Catalog` calls.

mod body;
pub mod error;
mod namespaces;
mod observe;
mod tables;

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::catalog::Catalog;
use error::error_response;

/// The largest request body accepted (a commit with a few thousand updates fits easily).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The most updates (or table changes) one commit may carry.
pub const MAX_UPDATES_PER_COMMIT: usize = 10_000;

/// The endpoints this catalog implements, as `/v1/config` lists them.
pub const ENDPOINTS: &[&str] = &[
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/register",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
    "POST /v1/{prefix}/tables/rename",
    "POST /v1/{prefix}/transactions/commit",
];

/// The catalog's router.
pub fn router(catalog: Catalog) -> Router {
    let api = Router::new()
        .route(
            "/namespaces",
            get(namespaces::list).post(namespaces::create),
        )
        .route(
            "/namespaces/{namespace}",
            get(namespaces::load)
                .head(namespaces::exists)
                .delete(namespaces::drop),
        )
        .route(
            "/namespaces/{namespace}/properties",
            post(namespaces::update_properties),
        )
        .route(
            "/namespaces/{namespace}/tables",
            get(tables::list).post(tables::create),
        )
        .route(
            "/namespaces/{namespace}/tables/{table}",
            get(tables::load)
                .head(tables::exists)
                .post(tables::commit)
                .delete(tables::drop),
        )
        .route("/namespaces/{namespace}/register", post(tables::register))
        .route(
            "/namespaces/{namespace}/tables/{table}/metrics",
            post(tables::report_metrics),
        )
        .route("/tables/rename", post(tables::rename))
        .route("/transactions/commit", post(tables::commit_transaction));
    observe::install();
    Router::new()
        .route("/v1/config", get(config))
        .nest("/v1", api)
        .route("/health", get(observe::health))
        .route("/ready", get(observe::ready))
        .route("/metrics", get(observe::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(observe::track))
        .with_state(catalog)
}

/// `GET /v1/config`: no defaults or overrides; the endpoints implemented. The
/// `warehouse` parameter is accepted: one catalog serves one warehouse.
async fn config(Query(_query): Query<HashMap<String, String>>) -> Json<Value> {
    Json(json!({
        "defaults": {},
        "overrides": {},
        "endpoints": ENDPOINTS,
    }))
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        "no such endpoint (views, scan planning and credentials are not served)".into(),
    )
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequestException",
        "method not allowed on this endpoint".into(),
    )
}
