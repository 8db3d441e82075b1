//! The one error of the table layer: what kind of failure it is (which decides whether a
//! commit may be retried and whether its files may be deleted), what was being done, and
//! the error that caused it.

use std::fmt;

/// A boxed cause.
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A commit requirement failed: the table moved on and nothing was committed. Reload
    /// and try again.
    Conflict,
    /// A commit may or may not have landed (a 5xx, a connection lost after the request
    /// left). Nothing it wrote may be deleted.
    Unknown,
    /// The table (or its namespace) does not exist.
    NotFound,
    /// The table was dropped and created again under its name while an operation ran.
    TableReplaced,
    /// The request, the input or the table's state is not acceptable (a bad table
    /// property, a position delete whose data file is gone, a catalog's 4xx); retrying
    /// the same thing fails the same way.
    Invalid,
    /// Reading or writing files, or reaching the catalog, failed before anything was
    /// committed.
    Io,
    /// A broken invariant of Floe itself.
    Internal,
}

impl ErrorKind {
    /// Whether a commit that failed this way may be tried again on a fresh load.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Conflict | ErrorKind::Unknown)
    }
}

/// A failure of the table layer.
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
}

/// The table layer's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` that says `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// This error, caused by `source`. The message is kept as it is: callers put the
    /// cause's text in it where a reader needs it.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// A broken invariant.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An unacceptable input or table state.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// The table `ident` was dropped and created again: its uuid is `found`, not
    /// `expected`, the one the operation started on.
    pub fn table_replaced(
        ident: &iceberg::TableIdent,
        expected: impl fmt::Display,
        found: impl fmt::Display,
    ) -> Self {
        Self::new(
            ErrorKind::TableReplaced,
            format!("the table {ident} was dropped and re-created (uuid {found}, expected {expected}) while Floe worked on it"),
        )
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the operation may be tried again on a fresh load of the table.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error as another kind (the commit loop turns every failure after an
    /// unknown outcome into [`ErrorKind::Unknown`]), its message prefixed by `context`.
    pub fn into_kind(self, kind: ErrorKind, context: &str) -> Self {
        Self {
            kind,
            message: format!("{context}: {}", self.message),
            source: Some(Box::new(self)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Reading or writing table files (manifests, manifest lists, data files).
impl From<iceberg::Error> for Error {
    fn from(e: iceberg::Error) -> Self {
        let kind = match e.kind() {
            iceberg::ErrorKind::DataInvalid | iceberg::ErrorKind::FeatureUnsupported => {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("reading or writing files: {e}")).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_say_what_may_be_retried() {
        let cases = [
            (ErrorKind::Conflict, true),
            (ErrorKind::Unknown, true),
            (ErrorKind::NotFound, false),
            (ErrorKind::TableReplaced, false),
            (ErrorKind::Invalid, false),
            (ErrorKind::Io, false),
            (ErrorKind::Internal, false),
        ];
        for (kind, retryable) in cases {
            assert_eq!(kind.is_retryable(), retryable, "{kind:?}");
        }
    }

    #[test]
    fn a_changed_kind_keeps_the_cause() {
        let io = Error::new(ErrorKind::Io, "catalog unreachable");
        let e = io.into_kind(ErrorKind::Unknown, "after an unknown outcome");
        assert_eq!(e.kind(), ErrorKind::Unknown);
        assert_eq!(
            e.to_string(),
            "after an unknown outcome: catalog unreachable"
        );
        let cause = std::error::Error::source(&e).expect("a source");
        assert_eq!(cause.to_string(), "catalog unreachable");
    }
}
