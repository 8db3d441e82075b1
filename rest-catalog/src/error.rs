//! The catalog's typed errors. Every failure the catalog can report is one variant here;
//! `http::error` maps each to an HTTP status and an Iceberg error body, in one place.

use std::fmt;
use std::sync::Arc;

use floe_locks::LockError;

use crate::entry::EntryKind;

/// What went wrong beneath a failure: a message that already says it (a context and its
/// cause's text), and the cause itself, kept as the source. Compared by message.
#[derive(Clone, Debug)]
pub struct Failure {
    message: String,
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Failure {
    /// `context`, because of `cause`.
    pub fn because(
        context: impl fmt::Display,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: format!("{context}: {cause}"),
            cause: Some(Arc::new(cause)),
        }
    }

    /// `cause`, as it says itself.
    pub fn of(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            message: cause.to_string(),
            cause: Some(Arc::new(cause)),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self {
            message,
            cause: None,
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

/// What went wrong in a catalog operation. Clones answer every commit of a group that
/// shares one outcome.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CatalogError {
    /// The request itself is malformed or names something invalid; nothing was changed.
    #[error("{0}")]
    BadRequest(#[source] Failure),
    /// The request is well-formed but contradicts itself (the spec's 422).
    #[error("{0}")]
    Unprocessable(String),
    /// The request body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The caller may not do what the request does (with authentication on).
    #[error("{0}")]
    Forbidden(String),
    /// This namespace (by name) does not exist.
    #[error("namespace does not exist: {0}")]
    NoSuchNamespace(String),
    /// This table (by name) does not exist.
    #[error("table does not exist: {0}")]
    NoSuchTable(String),
    /// This namespace (by name) exists already.
    #[error("namespace already exists: {0}")]
    NamespaceAlreadyExists(String),
    /// This view (by name) does not exist.
    #[error("view does not exist: {0}")]
    NoSuchView(String),
    /// A table or a view has this name already: `what` says which, and the name.
    #[error("{what} already exists")]
    AlreadyExists {
        /// `table ns.t`, `view ns.v`, or `a table or view named ns.x`.
        what: String,
    },
    /// This namespace (by name) still holds tables or namespaces.
    #[error("namespace is not empty: {0}")]
    NamespaceNotEmpty(String),
    /// The commit was certainly not applied (a requirement failed, the pointer moved, the
    /// lock wait timed out). The client may reload and retry.
    #[error("commit failed: {0}")]
    CommitFailed(#[source] Failure),
    /// A request with the same `Idempotency-Key` is still running: retry later.
    #[error("{0}")]
    KeyInFlight(String),
    /// The commit may or may not have been applied. Nothing was deleted.
    #[error("commit state unknown: {0}")]
    CommitStateUnknown(#[source] Failure),
    /// Storage or store failure outside a commit's critical section.
    #[error("storage error: {0}")]
    Storage(#[source] Failure),
    /// A backing service (store, lock service) is not reachable.
    #[error("service unavailable: {0}")]
    Unavailable(#[source] Failure),
}

impl CatalogError {
    /// A bad request: `message` says what is wrong with it.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(Failure::from(message.into()))
    }

    /// The name is taken by a table or a view (`kind`; `None`: not known which).
    pub fn already_exists(kind: Option<EntryKind>, name: impl std::fmt::Display) -> Self {
        let what = match kind {
            Some(kind) => format!("{kind} {name}"),
            None => format!("a table or view named {name}"),
        };
        Self::AlreadyExists { what }
    }

    /// A commit that certainly did not apply: `message` says why.
    pub fn commit_failed(message: impl Into<String>) -> Self {
        Self::CommitFailed(Failure::from(message.into()))
    }
}

/// The catalog's result.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl From<LockError> for CatalogError {
    fn from(e: LockError) -> Self {
        match e {
            // Nothing was written: the client may retry, so it is a conflict, not a 5xx.
            LockError::Timeout { .. } => CatalogError::CommitFailed(Failure::of(e)),
            LockError::Unavailable(_) => CatalogError::Unavailable(Failure::of(e)),
        }
    }
}

/// The catalog's answers as the table layer's errors, for writers that commit through the
/// catalog in process (the node's scheduled compaction).
impl From<CatalogError> for floe_table::Error {
    fn from(e: CatalogError) -> Self {
        use floe_table::ErrorKind;
        let kind = match &e {
            CatalogError::CommitFailed(_) | CatalogError::KeyInFlight(_) => ErrorKind::Conflict,
            CatalogError::CommitStateUnknown(_) => ErrorKind::Unknown,
            CatalogError::NoSuchNamespace(_)
            | CatalogError::NoSuchTable(_)
            | CatalogError::NoSuchView(_) => ErrorKind::NotFound,
            CatalogError::Storage(_) | CatalogError::Unavailable(_) => ErrorKind::Io,
            CatalogError::BadRequest(_)
            | CatalogError::Unprocessable(_)
            | CatalogError::BodyTooLarge { .. }
            | CatalogError::Forbidden(_)
            | CatalogError::NamespaceAlreadyExists(_)
            | CatalogError::AlreadyExists { .. }
            | CatalogError::NamespaceNotEmpty(_) => ErrorKind::Invalid,
        };
        floe_table::Error::new(kind, e.to_string()).with_source(e)
    }
}
