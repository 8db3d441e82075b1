//! The bucketed upsert writer: keeps an Iceberg v2 table keyed by its identifier fields
//! and partitioned by `bucket(N, key)` in sync with a change stream. Each checkpoint
//! becomes one `RowDelta` commit holding data files, an equality-delete file per bucket
//! (key columns only) for keys that replace or delete older rows, and position deletes
//! for keys repeated within the checkpoint. Commits are exactly-once per writer id and
//! checkpoint id, and carry the writer's event-time watermark.
//!
//! Pure rules live in `key_index` (which delete hides what), `changes` (input checks),
//! `layout` (what an upsert table is), `checkpoint_log` (exactly-once, watermarks),
//! `floe_compaction`'s `summary` and `parquet_props`; I/O in `partition_writer`, `row_delta` and `writer`.

pub mod changes;
pub mod checkpoint_log;
pub mod key_index;
pub mod layout;

pub mod partition_writer;
pub mod row_delta;
mod splitter;

mod committer;
#[cfg(test)]
mod test_support;
mod writer;

pub use changes::{InputError, RowKind, OP_COLUMN};
pub use checkpoint_log::{CommittedCheckpoint, WatermarkChange};
pub use key_index::KeyIndexFull;
pub use layout::{LayoutError, UpsertLayout};
pub use writer::{CheckpointOutcome, CommitReport, UpsertOptions, UpsertWriter};

use crate::rest_client::RestError;

/// Why a write or a commit failed.
#[derive(Debug, thiserror::Error)]
pub enum UpsertError {
    #[error("bad input: {0}")]
    Input(#[from] InputError),
    #[error("the table cannot take upserts: {0}")]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Property(#[from] floe_compaction::parquet_props::PropertyError),
    #[error(transparent)]
    KeyIndexFull(#[from] KeyIndexFull),
    #[error("catalog: {0}")]
    Catalog(#[from] RestError),
    #[error("writing files: {0}")]
    Files(#[from] iceberg::Error),
    #[error(
        "the table was dropped and re-created (uuid {found}, expected {expected}) while writing"
    )]
    TableReplaced { expected: String, found: String },
    #[error("data files that this commit's position deletes point at are no longer live: {0:?}")]
    PositionDeleteTargetsGone(Vec<String>),
    #[error("gave up after {attempts} commit attempts: {last}")]
    RetriesExhausted { attempts: u32, last: String },
    #[error("the open checkpoint cannot be committed, an earlier write or commit of it failed ({0}); abort it and write the checkpoint again")]
    CheckpointBroken(String),
    #[error("internal error: {0}")]
    Internal(String),
}
