//! Request ids: every request gets one, taken from its `X-Request-Id` header when that is
//! a plausible id (printable ASCII, at most [`MAX_REQUEST_ID_LEN`] characters), a new
//! UUID v7 otherwise. The answer carries it in `X-Request-Id`, the request's tracing span
//! and the audit lines name it. (tower-http's `SetRequestId` takes any header as it is,
//! so it would not do the checking.)

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tracing::Instrument;

/// The header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest request id taken from a request.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Request extension: the request's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text (always ASCII).
    pub(crate) fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// The id a request gives, if it is acceptable: 1 to [`MAX_REQUEST_ID_LEN`] printable
/// ASCII characters (no spaces or control characters, so it cannot break a log line).
fn given(value: Option<&HeaderValue>) -> Option<RequestId> {
    let value = value?;
    let bytes = value.as_bytes();
    let printable = bytes.iter().all(|b| b.is_ascii_graphic());
    (printable && (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())).then(|| RequestId(value.clone()))
}

fn generated() -> RequestId {
    let id = uuid::Uuid::now_v7().to_string();
    RequestId(HeaderValue::from_str(&id).expect("a UUID is a valid header value"))
}

/// `router` with request ids: every answer carries an `X-Request-Id`, and the request's
/// handling runs in a `request` span that names it. Applying it again (around a router
/// that merges the catalog's with others) keeps the first id.
pub fn with_request_ids<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(axum::middleware::from_fn(request_id))
}

/// The middleware: the request's id into its extensions and headers, the handling in a
/// `request` span that names it, and the id on the answer; nothing when an outer one did.
async fn request_id(mut request: Request, next: Next) -> Response {
    if request.extensions().get::<RequestId>().is_some() {
        return next.run(request).await;
    }
    let id = given(request.headers().get(X_REQUEST_ID)).unwrap_or_else(generated);
    request.headers_mut().insert(X_REQUEST_ID, id.0.clone());
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", request_id = id.as_str());
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(X_REQUEST_ID, id.0);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_ids_are_taken_only_when_plausible() {
        let long = "a".repeat(MAX_REQUEST_ID_LEN);
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        let cases: [(&[u8], bool); 8] = [
            (b"abc-123", true),
            (b"0190a3e4-5b6c-7d8e-9f00-112233445566", true),
            (long.as_bytes(), true),
            (too_long.as_bytes(), false),
            (b"", false),
            (b"has space", false),
            (b"tab\there", false),
            (b"caf\xc3\xa9", false),
        ];
        for (bytes, taken) in cases {
            let value = HeaderValue::from_bytes(bytes).unwrap();
            let id = given(Some(&value));
            assert_eq!(id.is_some(), taken, "{value:?}");
            if let Some(id) = id {
                assert_eq!(id.as_str().as_bytes(), bytes);
            }
        }
        assert_eq!(given(None), None);
    }

    #[test]
    fn generated_ids_are_uuid_v7() {
        let id = generated();
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_ne!(generated(), id);
    }
}
