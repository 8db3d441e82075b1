//! The bucketed upsert writer: keeps an Iceberg v2 table keyed by its identifier fields
//! and partitioned by `bucket(N, key)` in sync with a change stream. Each checkpoint
//! becomes one row-delta commit holding data files, an equality-delete file per bucket
//! (key columns only) for keys that replace or delete older rows, and position deletes
//! for keys repeated within the checkpoint. Commits are exactly-once per writer id and
//! checkpoint id, and carry the writer's event-time watermark.
//!
//! The writer reaches its table through any [`floe_table::TableCatalog`] (the `floe`
//! binary has one over the Iceberg REST protocol) and commits through the table layer's
//! one commit loop. Pure rules live in `changes` (input checks), `layout` (what an upsert
//! table is), `write::key_index` (which delete hides what) and `commit::checkpoint_log`
//! (exactly-once, watermarks); I/O in `write` (the writers of a checkpoint's files) and
//! `commit` (its commit).
#![deny(missing_docs)]

mod changes;
mod commit;
mod error;
mod layout;
#[cfg(test)]
mod test_support;
mod write;

pub use changes::{conform, ChangeBatch, InputError, RowKind, OP_COLUMN};
pub use commit::{
    covering, last_committed, watermark_change, CheckpointOutcome, CommitReport,
    CommittedCheckpoint, WatermarkChange,
};
pub use error::UpsertError;
pub use layout::{key_layout, new_table_layout, upsert_layout, LayoutError, UpsertLayout};
pub use write::{KeyIndexFull, UpsertOptions, UpsertWriter};
