//! What can go wrong while serving a page, and how it is answered: an HTML error page with
//! the status the catalog gives the same failure (404 for a table that does not exist,
//! 400 for a name that cannot be one, 403 outside the grants), never a panic.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use floe_rest_catalog::CatalogError;

use crate::pages::{html, Nav};

/// Why a page could not be served.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The catalog refused or failed (no such table or namespace, a bad name, storage).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The viewer may not read the namespace.
    #[error("{viewer} may not read namespace {namespace}")]
    Forbidden {
        /// Who asked.
        viewer: String,
        /// The namespace.
        namespace: String,
    },
    /// The table's files cannot be reached with the node's storage settings.
    #[error("the table's files cannot be reached: {0}")]
    Storage(#[from] floe_table::Error),
    /// The current snapshot's manifests cannot be read.
    #[error("the current snapshot's manifests cannot be read: {0}")]
    Manifests(#[from] iceberg::Error),
    /// A template failed to render.
    #[error("the page cannot be rendered: {0}")]
    Render(#[from] askama::Error),
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    status: u16,
    reason: &'static str,
    message: String,
}

impl UiError {
    /// The status of the answer: the catalog's own for its errors.
    fn status(self) -> StatusCode {
        match self {
            UiError::Catalog(e) => e.into_response().status(),
            UiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            UiError::Storage(_) | UiError::Manifests(_) => StatusCode::BAD_GATEWAY,
            UiError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %message, status = status.as_u16(), "ui page failed");
        }
        let page = ErrorPage {
            nav: Nav::default(),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: message.clone(),
        };
        match html(&page) {
            Ok(body) => (status, body).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}
