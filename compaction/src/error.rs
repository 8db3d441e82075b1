//! Why a compaction or an expiry run failed, as one typed error.

use crate::catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Option(#[from] crate::options::OptionError),
    #[error(transparent)]
    Property(#[from] crate::parquet_props::PropertyError),
    #[error(transparent)]
    Expire(#[from] crate::expire::ExpireError),
    #[error("reading or writing table files: {0}")]
    Files(#[from] iceberg::Error),
    #[error("sorting rows: {0}")]
    Sort(#[from] arrow::error::ArrowError),
    #[error(
        "the table was dropped and re-created (uuid {found}, expected {expected}) during the run"
    )]
    TableReplaced { expected: String, found: String },
    #[error("internal error: {0}")]
    Internal(String),
}
