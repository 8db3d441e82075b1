//! Why a write or a commit of the upsert writer failed, as one typed error that keeps
//! its cause.

use floe_table::properties::PropertyError;

use crate::changes::InputError;
use crate::layout::LayoutError;
use crate::write::key_index::KeyIndexFull;

/// Why a write or a commit failed.
#[derive(Debug, thiserror::Error)]
pub enum UpsertError {
    /// A batch does not fit the table; it was refused whole.
    #[error("bad input: {0}")]
    Input(#[from] InputError),
    /// The table is not an upsert table.
    #[error("the table cannot take upserts: {0}")]
    Layout(#[from] LayoutError),
    /// A table property holds a bad value.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// The checkpoint holds more keys than the key index may.
    #[error(transparent)]
    KeyIndexFull(#[from] KeyIndexFull),
    /// The table layer failed: loading or committing the table, or writing its manifests.
    #[error(transparent)]
    Table(#[from] floe_table::Error),
    /// Writing data or delete files failed.
    #[error("writing files: {0}")]
    Files(#[from] iceberg::Error),
    /// A position-delete file's entry could not be built.
    #[error("describing a position-delete file: {0}")]
    DeleteFileEntry(#[from] iceberg::spec::DataFileBuilderError),
    /// Arranging rows (splitting, converting, taking) failed.
    #[error("arranging rows: {0}")]
    Rows(#[from] arrow::error::ArrowError),
    /// A write or commit task panicked or was cancelled.
    #[error("a writer task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// An earlier write or commit of the open checkpoint failed (with the error it
    /// answered then, whose text this holds); abort the checkpoint and write it again.
    #[error("the open checkpoint cannot be committed, an earlier write or commit of it failed ({0}); abort it and write the checkpoint again")]
    CheckpointBroken(String),
    /// A broken invariant of the writer itself.
    #[error("internal error: {0}")]
    Internal(String),
}
