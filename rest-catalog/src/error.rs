//! The catalog's typed errors. Every failure the catalog can report is one variant here;
//! `http::error` maps each to an HTTP status and an Iceberg error body, in one place.

use floe_locks::LockError;

/// What went wrong in a catalog operation.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The request itself is malformed or names something invalid; nothing was changed.
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but contradicts itself (the spec's 422).
    #[error("{0}")]
    Unprocessable(String),
    /// The request body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("namespace does not exist: {0}")]
    NoSuchNamespace(String),
    #[error("table does not exist: {0}")]
    NoSuchTable(String),
    #[error("namespace already exists: {0}")]
    NamespaceAlreadyExists(String),
    #[error("table already exists: {0}")]
    TableAlreadyExists(String),
    #[error("namespace is not empty: {0}")]
    NamespaceNotEmpty(String),
    /// The commit was certainly not applied (a requirement failed, the pointer moved, the
    /// lock wait timed out). The client may reload and retry.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The commit may or may not have been applied. Nothing was deleted.
    #[error("commit state unknown: {0}")]
    CommitStateUnknown(String),
    /// Storage or store failure outside a commit's critical section.
    #[error("storage error: {0}")]
    Storage(String),
    /// A backing service (store, lock service) is not reachable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl From<LockError> for CatalogError {
    fn from(e: LockError) -> Self {
        match e {
            // Nothing was written: the client may retry, so it is a conflict, not a 5xx.
            LockError::Timeout { .. } => CatalogError::CommitFailed(e.to_string()),
            LockError::Unavailable(_) => CatalogError::Unavailable(e.to_string()),
        }
    }
}
