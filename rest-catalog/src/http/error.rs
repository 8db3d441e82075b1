//! The one place where catalog errors become HTTP answers: a status code and the Iceberg
//! error body `{"error": {"message", "type", "code"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::audit::StateUnknown;
use crate::error::CatalogError;

/// The HTTP status and Iceberg exception type of an error.
pub fn status_and_type(e: &CatalogError) -> (StatusCode, &'static str) {
    use CatalogError::*;
    match e {
        BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequestException"),
        Unprocessable(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "UnprocessableEntityException",
        ),
        BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "BadRequestException"),
        Forbidden(_) => (StatusCode::FORBIDDEN, "ForbiddenException"),
        NoSuchNamespace(_) => (StatusCode::NOT_FOUND, "NoSuchNamespaceException"),
        NoSuchTable(_) => (StatusCode::NOT_FOUND, "NoSuchTableException"),
        NoSuchView(_) => (StatusCode::NOT_FOUND, "NoSuchViewException"),
        NamespaceAlreadyExists(_) | AlreadyExists { .. } => {
            (StatusCode::CONFLICT, "AlreadyExistsException")
        }
        NamespaceNotEmpty(_) => (StatusCode::CONFLICT, "NamespaceNotEmptyException"),
        CommitFailed(_) => (StatusCode::CONFLICT, "CommitFailedException"),
        KeyInFlight(_) => (StatusCode::CONFLICT, "IdempotencyKeyInFlightException"),
        CommitStateUnknown(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "CommitStateUnknownException",
        ),
        Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "ServerErrorException"),
        Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
        ),
    }
}

/// An Iceberg error response.
pub fn error_response(status: StatusCode, kind: &str, message: String) -> Response {
    let body = json!({
        "error": { "message": message, "type": kind, "code": status.as_u16() }
    });
    (status, Json(body)).into_response()
}

impl IntoResponse for CatalogError {
    fn into_response(self) -> Response {
        let (status, kind) = status_and_type(&self);
        if status.is_server_error() {
            tracing::warn!(error = %self, status = status.as_u16(), "request failed");
        }
        let mut response = error_response(status, kind, self.to_string());
        if matches!(self, CatalogError::CommitStateUnknown(_)) {
            response.extensions_mut().insert(StateUnknown);
        }
        if matches!(self, CatalogError::BodyTooLarge { .. }) {
            // The rest of the body was not read: the connection cannot be reused, so say so
            // before the server closes it.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unknown_outcomes_and_broken_backends_are_server_errors() {
        let cases = [
            (CatalogError::bad_request("x"), 400),
            (CatalogError::BodyTooLarge { limit: 1 }, 413),
            (CatalogError::Unprocessable("x".into()), 422),
            (CatalogError::Forbidden("x".into()), 403),
            (CatalogError::NoSuchNamespace("x".into()), 404),
            (CatalogError::NoSuchTable("x".into()), 404),
            (CatalogError::NoSuchView("x".into()), 404),
            (CatalogError::already_exists(None, "x"), 409),
            (CatalogError::NamespaceNotEmpty("x".into()), 409),
            (CatalogError::commit_failed("x"), 409),
            (CatalogError::CommitStateUnknown("x".into()), 503),
            (CatalogError::Storage("x".into()), 500),
        ];
        for (e, code) in cases {
            assert_eq!(status_and_type(&e).0.as_u16(), code, "{e}");
        }
    }
}
