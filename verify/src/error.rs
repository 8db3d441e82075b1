//! Why a verification could not compare, as one typed error that keeps its cause (a
//! difference found is no error: it is the comparison's answer).

/// What stopped a verification.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The table layer failed: loading the table or reading its manifests.
    #[error(transparent)]
    Table(#[from] floe_table::Error),
    /// Reading the table's files failed.
    #[error("reading the table: {0}")]
    Read(#[from] floe_compaction::CompactionError),
    /// Planning the scan or transforming values failed.
    #[error("reading the table: {0}")]
    Iceberg(#[from] iceberg::Error),
    /// Digesting or converting rows failed.
    #[error("digesting rows: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A Parquet file could not be read.
    #[error("reading {path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// Why.
        source: parquet::errors::ParquetError,
    },
    /// A file could not be opened.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Listing or reading objects in S3 failed.
    #[error("reading from object storage: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// The glob of `--against-files` is malformed.
    #[error("bad file pattern: {0}")]
    Pattern(#[from] glob::PatternError),
    /// The glob matches no file.
    #[error("no file matches {0}")]
    NoFiles(String),
    /// The snapshot asked for is not in the table, or the table has none.
    #[error("{0}")]
    NoSnapshot(String),
    /// A column asked for (or one the first side has) is missing.
    #[error("{side} has no column {column}")]
    NoColumn {
        /// The column.
        column: String,
        /// The side lacking it.
        side: String,
    },
    /// Something the verification does not handle.
    #[error("{0}")]
    Unsupported(String),
}
