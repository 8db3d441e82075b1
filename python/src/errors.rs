//! Rust errors as Python exceptions, in one place: `floe.FloeError`, and under it
//! `InputError` (bad input or arguments: nothing changed), `CommitConflictError` (the
//! table kept moving: nothing committed) and `CommitStateUnknownError` (the commit may
//! have landed: files kept). The message is the Rust error with its causes.

use floe_client::{error_chain, RestError, TargetError};
use floe_compaction::CompactionError;
use floe_table::ErrorKind;
use floe_upsert::UpsertError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(
    floe,
    FloeError,
    PyException,
    "A Floe operation failed; the message says what and why."
);
create_exception!(
    floe,
    InputError,
    FloeError,
    "Bad input or arguments (a column the table lacks, a null key, an unknown table): nothing changed."
);
create_exception!(
    floe,
    CommitConflictError,
    FloeError,
    "The table kept moving through every commit attempt: nothing was committed."
);
create_exception!(
    floe,
    CommitStateUnknownError,
    FloeError,
    "A commit may or may not have landed; its files are kept. Reload (open the writer again) and check last_committed before you retry."
);

/// Which exception a failure raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `InputError`.
    Input,
    /// `CommitConflictError`.
    Conflict,
    /// `CommitStateUnknownError`.
    Unknown,
    /// `FloeError`.
    Other,
}

/// A failure on its way to Python: its class and its message.
#[derive(Debug)]
pub struct Error {
    class: Class,
    message: String,
}

/// The package's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure of `class` that says `message`.
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
        }
    }

    /// Bad input or arguments.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(Class::Input, message)
    }

    fn of(class: Class, error: &(dyn std::error::Error + 'static)) -> Self {
        Self::new(class, error_chain(error))
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e.class {
            Class::Input => InputError::new_err(e.message),
            Class::Conflict => CommitConflictError::new_err(e.message),
            Class::Unknown => CommitStateUnknownError::new_err(e.message),
            Class::Other => FloeError::new_err(e.message),
        }
    }
}

/// The class of a table-layer failure, by its kind.
fn table_class(kind: ErrorKind) -> Class {
    match kind {
        ErrorKind::Conflict => Class::Conflict,
        ErrorKind::Unknown => Class::Unknown,
        ErrorKind::Invalid | ErrorKind::NotFound => Class::Input,
        ErrorKind::TableReplaced | ErrorKind::Io | ErrorKind::Internal => Class::Other,
    }
}

fn rest_class(e: &RestError) -> Class {
    match e {
        RestError::NotFound(_) | RestError::Invalid(_) | RestError::SecretFile { .. } => {
            Class::Input
        }
        RestError::Conflict(_) => Class::Conflict,
        RestError::Unknown { .. } => Class::Unknown,
        RestError::Rejected { .. }
        | RestError::TokenRefused { .. }
        | RestError::Unreachable { .. }
        | RestError::BadResponse { .. } => Class::Other,
    }
}

impl From<UpsertError> for Error {
    fn from(e: UpsertError) -> Self {
        let class = match &e {
            UpsertError::Input(_) | UpsertError::Layout(_) => Class::Input,
            UpsertError::Table(t) => table_class(t.kind()),
            _ => Class::Other,
        };
        Self::of(class, &e)
    }
}

impl From<CompactionError> for Error {
    fn from(e: CompactionError) -> Self {
        let class = match &e {
            CompactionError::Option(_) | CompactionError::Unsupported(_) => Class::Input,
            CompactionError::Table(t) => table_class(t.kind()),
            _ => Class::Other,
        };
        Self::of(class, &e)
    }
}

impl From<RestError> for Error {
    fn from(e: RestError) -> Self {
        Self::of(rest_class(&e), &e)
    }
}

impl From<TargetError> for Error {
    fn from(e: TargetError) -> Self {
        let class = match &e {
            TargetError::Rest(rest) => rest_class(rest),
            _ => Class::Input,
        };
        Self::of(class, &e)
    }
}

impl From<floe_table::Error> for Error {
    fn from(e: floe_table::Error) -> Self {
        Self::of(table_class(e.kind()), &e)
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Self::of(Class::Other, &e)
    }
}

impl From<iceberg::Error> for Error {
    fn from(e: iceberg::Error) -> Self {
        Self::of(Class::Other, &e)
    }
}
