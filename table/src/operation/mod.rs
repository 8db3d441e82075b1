//! Table operations: each plans one commit attempt on the table as that attempt finds
//! it, and tells whether its change is already in a table (an earlier attempt landed).
//! The commit loop (`crate::commit`) drives every one of them the same way.
//! `RowDelta`, `Replace` and `ConvertDeletes` build a snapshot with the shared producer
//! and supply only their differences; `RemoveSnapshots` removes snapshots.

mod convert_deletes;
mod convert_rules;
mod remove_snapshots;
mod replace;
mod replace_rules;
mod row_delta;

pub use convert_deletes::{ConversionOutcome, ConvertDeletes};
pub use convert_rules::{
    conversions_of, dangling_deletes, validate_conversion, ConversionConflict, DeleteConversion,
};
pub use remove_snapshots::{RemoveSnapshots, RemovedSnapshots};
pub use replace::{Replace, ReplaceOutcome};
pub use replace_rules::{
    deletes_by_data_file, may_apply, removable_deletes, validate, ReplaceConflict,
};
pub use row_delta::RowDelta;

use async_trait::async_trait;

use crate::catalog::{LoadedTable, TableCommit};
use crate::error::Result;

/// What an attempt does.
#[derive(Debug)]
pub enum Plan<T> {
    /// Send this commit.
    Commit(TableCommit),
    /// Nothing to commit: the operation is done, with this answer.
    Done(T),
}

/// A change to one table, planned afresh for each commit attempt.
#[async_trait]
pub trait TableOperation: Send {
    /// What the operation answers once done.
    type Output: Send;

    /// Plans attempt `attempt` (from 1) on `base`, the table as the attempt found it.
    async fn plan(&mut self, base: &LoadedTable, attempt: u32) -> Result<Plan<Self::Output>>;

    /// The answer when `table` already holds the change an attempt sent (the commit just
    /// answered, or one whose answer was lost); `None` when it does not.
    fn landed(&mut self, table: &LoadedTable) -> Option<Self::Output>;
}

/// A snapshot that landed on the main branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotLanded {
    /// Its id.
    pub snapshot_id: i64,
    /// Its sequence number.
    pub sequence_number: i64,
}
