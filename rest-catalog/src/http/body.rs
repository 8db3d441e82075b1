//! Request parsing with clear errors: JSON bodies (size-limited, with serde's message on
//! what was wrong) and the query parameters of the spec.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::{CatalogError, Failure, Result};
use crate::store::PageRequest;

/// A JSON request body parsed into `T`; any failure is a 400 that says what was wrong.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = CatalogError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = body_bytes(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| CatalogError::BadRequest(Failure::because("malformed request body", e)))
    }
}

/// The whole request body, at most [`super::MAX_BODY_BYTES`].
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            CatalogError::BodyTooLarge {
                limit: super::MAX_BODY_BYTES,
            }
        } else {
            CatalogError::BadRequest(Failure::because("cannot read request body", e))
        }
    })
}

/// The largest page a list request may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;

/// `pageToken` and `pageSize` from a query string.
pub fn page_request(query: &HashMap<String, String>) -> Result<PageRequest> {
    let size = match query.get("pageSize") {
        None => None,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Some(n),
            _ => {
                return Err(CatalogError::bad_request(format!(
                    "invalid pageSize {s:?}: expected a number from 1 to {MAX_PAGE_SIZE}"
                )))
            }
        },
    };
    Ok(PageRequest {
        token: query.get("pageToken").cloned(),
        size,
    })
}

/// A boolean query parameter (`true`/`false`), `default` when absent.
pub fn bool_param(query: &HashMap<String, String>, name: &str, default: bool) -> Result<bool> {
    match query.get(name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(CatalogError::bad_request(format!(
            "invalid {name} {v:?}: expected true or false"
        ))),
    }
}
