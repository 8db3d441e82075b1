//! The `Idempotency-Key` header on the routes that change the catalog (`Route::once`): a
//! request with a key runs once, and a retry with the same key, on any node of the same
//! store, gets the first request's final answer. As the spec says: 2xx and deterministic
//! 4xx answers are kept and replayed, a 5xx is not (its retry runs again); a key that is
//! not a UUID is a 400; a key sent again with another request is a 422; a retry that
//! arrives while the first request runs waits for its answer, and answers 409 if it still
//! runs after [`WAIT_FOR_FIRST`]. Keys are pruned after the advertised lifetime. With
//! authentication on, keys are kept per caller: another caller's request with the same
//! key never gets the first one's answer.

use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::audit::Replayed;
use super::auth::PrincipalName;
use super::body::body_bytes;
use super::tables::metadata_file_response;
use crate::catalog::{now_ms, Catalog};
use crate::digest::sha256_hex;
use crate::error::{CatalogError, Failure, Result};
use crate::store::{KeptAnswer, KeyRecord, KeyState, StoreError};

/// The header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// How long a retry waits for the first request with its key to answer.
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);
/// How often it looks.
const POLL: Duration = Duration::from_millis(50);
/// The headers of an answer that are kept and replayed with its body.
const KEPT_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::ETAG];

/// Middleware of the routes that take an idempotency key.
pub(crate) async fn once(State(catalog): State<Catalog>, request: Request, next: Next) -> Response {
    let Some(value) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    let key = match parse_key(value) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    // With authentication on, a key is its caller's: another caller sending the same key
    // runs its own request (and its own grant checks) rather than getting a kept answer.
    let key = match request.extensions().get::<PrincipalName>() {
        Some(who) => scoped(key, &who.0),
        None => key,
    };
    match run_once(&catalog, key, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

/// `key` as `principal`'s: a key derived from both (SHA-256), the same for every retry of
/// that caller, another for any other caller.
fn scoped(key: Uuid, principal: &str) -> Uuid {
    let hex = sha256_hex(&[principal.as_bytes(), b"\0", key.as_bytes()]);
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digits");
    }
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

async fn run_once(
    catalog: &Catalog,
    key: Uuid,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let (parts, body) = request.into_parts();
    let body = (body_bytes(Request::from_parts(parts.clone(), body), &()).await)
        .map_err(IntoResponse::into_response)?;
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let store = catalog.store();
    let arrived = Instant::now();
    loop {
        let state = (store.claim_key(key, &fingerprint, now_ms()).await)
            .map_err(|e| unavailable(e).into_response())?;
        match state {
            KeyState::Claimed => break,
            KeyState::Finished {
                fingerprint: first,
                answer,
            } if first == fingerprint => return Ok(replay(catalog, answer).await),
            KeyState::Running { fingerprint: first } if first == fingerprint => {
                if arrived.elapsed() >= WAIT_FOR_FIRST {
                    return Err(CatalogError::KeyInFlight(format!(
                        "a request with Idempotency-Key {key} is still in flight; retry later"
                    ))
                    .into_response());
                }
                tokio::time::sleep(POLL).await;
            }
            KeyState::Finished { .. } | KeyState::Running { .. } => {
                return Err(CatalogError::Unprocessable(format!(
                    "Idempotency-Key {key} was used for another request: send a new key for \
                     a different operation"
                ))
                .into_response())
            }
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = response.status();
    if !is_final(status) {
        if let Err(e) = store.release_key(key).await {
            tracing::warn!(%key, error = %e, "could not release an idempotency key");
        }
        return Ok(response);
    }
    let (head, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(|e| {
        CatalogError::Storage(Failure::because("cannot read the answer to keep", e)).into_response()
    })?;
    let headers = (KEPT_HEADERS.iter())
        .filter_map(|name| {
            let value = head.headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect();
    let record = kept_answer(status, headers, &body).map(|answer| KeyRecord {
        fingerprint,
        at_ms: now_ms(),
        answer: Some(answer),
    });
    let stored = match &record {
        Some(record) => store.keep_answer(key, record).await,
        None => store.release_key(key).await,
    };
    if let Err(e) = stored {
        tracing::warn!(%key, error = %e, "could not keep the answer of an idempotency key");
    }
    Ok(Response::from_parts(head, Body::from(body)))
}

/// The most bytes of an answer kept as it is. ZooKeeper keeps at most about 1 MB per node,
/// and a table answer lists every snapshot: a larger one is kept as its metadata file.
pub const KEPT_BODY_BYTES: usize = 256 * 1024;

/// What is kept of a final answer: the body itself when it is small; for a larger table
/// answer (`metadata-location` set), the metadata file to build it from again; `None`
/// (the key is released, a retry runs again) for anything else.
fn kept_answer(
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Option<KeptAnswer> {
    let mut answer = KeptAnswer {
        status: status.as_u16(),
        headers,
        body: String::new(),
        metadata_location: None,
    };
    if body.len() <= KEPT_BODY_BYTES {
        answer.body = String::from_utf8(body.to_vec()).ok()?;
        return Some(answer);
    }
    #[derive(serde::Deserialize)]
    struct TableAnswer {
        #[serde(rename = "metadata-location")]
        metadata_location: String,
    }
    let table: TableAnswer = serde_json::from_slice(body).ok()?;
    answer.metadata_location = Some(table.metadata_location);
    Some(answer)
}

/// The key, which the spec says is a UUID.
fn parse_key(value: &HeaderValue) -> Result<Uuid> {
    let text = value.to_str().unwrap_or_default();
    Uuid::parse_str(text.trim()).map_err(|_| {
        CatalogError::bad_request(format!(
            "Idempotency-Key {text:?} is not a UUID (e.g. 017F22E2-79B0-7CC3-98C4-DC0C0C07398F)"
        ))
    })
}

/// What identifies a request: method, path and query, and the body (JSON without regard
/// to spacing, as a retry may serialize it again).
pub fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> String {
    let json = serde_json::from_slice::<serde_json::Value>(body).map(|json| json.to_string());
    let body = json.as_ref().map_or(body, |json| json.as_bytes());
    let target = uri.path_and_query().map_or("", |p| p.as_str());
    sha256_hex(&[
        method.as_str().as_bytes(),
        b"\0",
        target.as_bytes(),
        b"\0",
        body,
    ])
}

/// Whether an answer is final, kept and replayed: a success, or a 4xx that the same
/// request would get again. Authentication (401, 419), authorization (403), timeouts
/// (408), throttling (429) and every 5xx may change: the retry runs again.
pub fn is_final(status: StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 408 | 419 | 429))
}

/// The kept answer, as it was first given (a table answer built from its metadata file
/// again, which never changes).
async fn replay(catalog: &Catalog, answer: KeptAnswer) -> Response {
    let mut response = replayed_answer(catalog, answer).await;
    response.extensions_mut().insert(Replayed);
    response
}

async fn replayed_answer(catalog: &Catalog, answer: KeptAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if let Some(location) = &answer.metadata_location {
        let mut response = match catalog.read_metadata(location).await {
            Ok(file) => metadata_file_response(catalog, &file),
            Err(e) => return e.into_response(),
        };
        *response.status_mut() = status;
        return response;
    }
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn unavailable(e: StoreError) -> CatalogError {
    CatalogError::Unavailable(Failure::because("cannot keep the idempotency key", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_kept_per_caller() {
        let key = Uuid::now_v7();
        let other = Uuid::now_v7();
        assert_eq!(
            scoped(key, "spark"),
            scoped(key, "spark"),
            "a retry finds its key"
        );
        let distinct = [
            scoped(key, "spark"),
            scoped(key, "trino"),
            scoped(other, "spark"),
            scoped(key, ""),
            key,
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn finality_of_answers() {
        let cases = [
            (200, true),
            (204, true),
            (400, true),
            (404, true),
            (409, true),
            (413, true),
            (422, true),
            (401, false),
            (403, false),
            (408, false),
            (419, false),
            (429, false),
            (500, false),
            (503, false),
        ];
        for (status, want) in cases {
            assert_eq!(
                is_final(StatusCode::from_u16(status).unwrap()),
                want,
                "{status}"
            );
        }
    }

    #[test]
    fn small_answers_are_kept_whole_and_large_table_answers_by_metadata_file() {
        let json = vec![("content-type".to_string(), "application/json".to_string())];
        let keep = |body: &[u8]| kept_answer(StatusCode::OK, json.clone(), body);
        let small = keep(br#"{"a":1}"#).unwrap();
        assert_eq!(
            (small.body.as_str(), small.metadata_location),
            (r#"{"a":1}"#, None)
        );
        assert_eq!(keep(b"").unwrap().body, "");
        let padding = "x".repeat(KEPT_BODY_BYTES);
        let table =
            format!(r#"{{"metadata-location":"/w/m.json","metadata":{{"p":"{padding}"}}}}"#);
        let large = keep(table.as_bytes()).unwrap();
        assert_eq!(large.metadata_location.as_deref(), Some("/w/m.json"));
        assert_eq!((large.body.as_str(), large.headers), ("", json.clone()));
        let other = format!(r#"{{"error":"{padding}"}}"#);
        assert_eq!(
            keep(other.as_bytes()),
            None,
            "a large answer of another shape"
        );
        assert_eq!(keep(&[0xff, 0xfe]), None, "not text");
    }

    #[test]
    fn a_request_is_known_by_method_path_query_and_json_body() {
        let uri = |u: &str| u.parse::<Uri>().unwrap();
        let base = fingerprint(&Method::POST, &uri("/v1/namespaces"), br#"{"a": 1}"#);
        assert_eq!(
            base,
            fingerprint(&Method::POST, &uri("/v1/namespaces"), b"{\"a\":1}\n"),
            "spacing does not count"
        );
        let others = [
            fingerprint(&Method::DELETE, &uri("/v1/namespaces"), br#"{"a": 1}"#),
            fingerprint(&Method::POST, &uri("/v1/namespaces?x=1"), br#"{"a": 1}"#),
            fingerprint(&Method::POST, &uri("/v1/namespaces/b"), br#"{"a": 1}"#),
            fingerprint(&Method::POST, &uri("/v1/namespaces"), br#"{"a": 2}"#),
            fingerprint(&Method::POST, &uri("/v1/namespaces"), b"not json"),
        ];
        for other in others {
            assert_ne!(other, base);
        }
    }
}
