//! Why a compaction or an expiry run failed, as one typed error that keeps its cause.

use floe_table::properties::PropertyError;

use crate::plan::OptionError;
use crate::rewrite::Mismatch;

/// What went wrong in a compaction or an expiry run.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    /// The table layer failed: loading, committing, or reading the table's files.
    #[error(transparent)]
    Table(#[from] floe_table::Error),
    /// A compaction option holds a bad value.
    #[error(transparent)]
    Option(#[from] OptionError),
    /// A table property holds a bad value.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// Reading or writing data files failed.
    #[error("reading or writing table files: {0}")]
    Files(#[from] iceberg::Error),
    /// A Parquet file (a delete file, a file just written) could not be read.
    #[error("reading {path}: {source}")]
    ReadFile {
        /// The file.
        path: String,
        /// Why.
        source: parquet::errors::ParquetError,
    },
    /// A file expected in Parquet (a delete file, a file just written) is in another format
    /// this compactor cannot read.
    #[error("cannot read {path}: it is {format}, not Parquet")]
    FileFormat {
        /// The file.
        path: String,
        /// What it is, as far as its first bytes say.
        format: &'static str,
    },
    /// Sorting, filtering or spilling rows failed.
    #[error("sorting rows: {0}")]
    Sort(#[from] arrow::error::ArrowError),
    /// A group's task panicked or was cancelled.
    #[error("a group task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A group's rewrite failed (nothing of it was committed).
    #[error("rewriting: {0}")]
    Rewrite(#[source] Box<CompactionError>),
    /// A group's output differs from its input: nothing of it was committed, its files
    /// are deleted.
    #[error("the rewrite's output differs from its input, so nothing of it is committed: {}", .0.differences.join("; "))]
    Verification(Box<Mismatch>),
    /// A group's claim could not be taken (in a run together with other nodes): the
    /// coordination service did not answer. Nothing of the group was done.
    #[error("claiming group {group}: {source}")]
    Claim {
        /// The group's name.
        group: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The table is of a kind the operation does not handle.
    #[error("{0}")]
    Unsupported(String),
    /// A broken invariant of the compactor itself.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CompactionError {
    /// Whether this is a group whose verification failed.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            CompactionError::Verification(_) => true,
            CompactionError::Rewrite(inner) => inner.is_verification_failure(),
            _ => false,
        }
    }
}
