//! What a checkpoint's commit answers: its report, or that the table already held it,
//! or that there was nothing to commit.

use floe_table::SnapshotLanded;

use super::checkpoint_log::{CommittedCheckpoint, WatermarkChange};

/// What one checkpoint's commit added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// The snapshot committed.
    pub snapshot_id: i64,
    /// Its sequence number.
    pub sequence_number: i64,
    /// The writer's checkpoint it holds.
    pub checkpoint_id: Option<i64>,
    /// Data files added.
    pub data_files: usize,
    /// Equality-delete files added.
    pub equality_delete_files: usize,
    /// Position-delete files added.
    pub position_delete_files: usize,
    /// Rows written.
    pub rows: u64,
    /// Keys in the equality-delete files.
    pub equality_deletes: u64,
    /// Equality deletes left out: no row committed before could hold their key.
    pub skipped_deletes: u64,
    /// Rows in the position-delete files.
    pub position_deletes: u64,
    /// Commit attempts it took (1 without conflicts).
    pub attempts: u32,
    /// What the checkpoint's watermark did to the table's.
    pub watermark: Option<WatermarkChange>,
    /// The table's metadata file after the commit.
    pub metadata_location: String,
}

impl CommitReport {
    /// The report once its snapshot landed.
    pub(crate) fn landed(&self, snapshot: SnapshotLanded) -> CommitReport {
        CommitReport {
            snapshot_id: snapshot.snapshot_id,
            sequence_number: snapshot.sequence_number,
            ..self.clone()
        }
    }
}

/// How a checkpoint's commit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// The checkpoint is committed.
    Committed(CommitReport),
    /// The table already holds this checkpoint (or a later one) of this writer; nothing
    /// was added.
    AlreadyCommitted(CommittedCheckpoint),
    /// Nothing to commit: no rows, no watermark and no checkpoint id to record.
    Empty,
}
