//! The catalog side of the writer: `Committer` commits a closed checkpoint (its data and
//! delete files) as one row delta through the table layer's commit loop, exactly once per
//! writer id and checkpoint id, moving the table's watermark forward. It owns the catalog
//! and the table as last loaded, so the writer can hand it a checkpoint and go on writing
//! the next one while it commits (as Flink's separate committer does); commits still land
//! one at a time, in checkpoint order.

mod checkpoint_log;
mod outcome;

pub use checkpoint_log::{
    covering, last_committed, watermark_change, CommittedCheckpoint, WatermarkChange,
};
pub use outcome::{CheckpointOutcome, CommitReport};

use std::sync::Arc;

use async_trait::async_trait;
use floe_table::properties::{writer_checkpoint_property, CHECKPOINT_ID, WATERMARK, WRITER_ID};
use floe_table::{
    commit, ErrorKind, LoadedTable, ManifestCache, Plan, RowDelta, SnapshotLanded, TableCatalog,
    TableOperation,
};
use iceberg::spec::{DataContentType, DataFile};

use crate::error::UpsertError;
use crate::write::key_hull::KeyColumns;
use crate::write::{file_names, learn_live_files, lock, FileSettings, LeftOutDeletes, SharedHulls};

/// A checkpoint whose files are closed, handed over for commit.
pub(crate) struct ClosedCheckpoint {
    /// Its data and delete files.
    pub files: Vec<DataFile>,
    /// Rows written.
    pub rows: u64,
    /// Keys in its equality-delete files.
    pub equality_deletes: u64,
    /// Equality deletes left out: no older row could hold their key.
    pub skipped_deletes: u64,
    /// Rows in its position-delete files.
    pub position_deletes: u64,
    pub checkpoint_id: Option<i64>,
    pub watermark: Option<i64>,
    /// The equality deletes left out, by bucket.
    pub left_out: Vec<LeftOutDeletes>,
    /// The key hulls' generation when the checkpoint started.
    pub generation: u64,
}

/// Commits one writer's checkpoints to one table.
pub(crate) struct Committer {
    pub catalog: Arc<dyn TableCatalog>,
    /// The table as last loaded or committed.
    pub table: LoadedTable,
    pub writer_id: Option<String>,
    /// The newest checkpoint of `writer_id` in the table, as of the last load.
    pub last: Option<CommittedCheckpoint>,
    /// The key hulls the writer leaves equality deletes out by.
    pub hulls: SharedHulls,
    pub hull_columns: KeyColumns,
    /// The data manifests read so far, each read once.
    pub manifests: ManifestCache,
    /// How the writer writes files: the left-out deletes a commit writes after all.
    pub settings: Arc<FileSettings>,
}

impl Committer {
    /// The writer's newest checkpoint when it already covers `checkpoint_id`.
    pub fn already_committed(&self, checkpoint_id: Option<i64>) -> Option<CommittedCheckpoint> {
        covering(self.last, checkpoint_id)
    }

    /// Commits `checkpoint` as one snapshot (see `UpsertWriter::commit`).
    pub async fn commit(
        &mut self,
        checkpoint: ClosedCheckpoint,
    ) -> Result<CheckpointOutcome, UpsertError> {
        let ClosedCheckpoint {
            files,
            rows,
            equality_deletes,
            skipped_deletes,
            position_deletes,
            checkpoint_id,
            watermark,
            left_out,
            generation,
        } = checkpoint;
        if let Some(last) = self.already_committed(checkpoint_id) {
            // Its files are left as orphans: no snapshot refers to them.
            return Ok(CheckpointOutcome::AlreadyCommitted(last));
        }
        let mut delta = RowDelta::new();
        delta.add_files(files);
        // An empty checkpoint is still recorded when it has an id (exactly-once needs the
        // record) or a watermark. One that only left deletes out still checks them: rows
        // committed meanwhile may hold their keys.
        let recorded = self.writer_id.is_some() && checkpoint_id.is_some();
        if delta.is_empty() && watermark.is_none() && !recorded {
            if left_out.is_empty() {
                return Ok(CheckpointOutcome::Empty);
            }
            // Nothing but left-out deletes: unless the table as it is now has rows that may
            // hold their keys, there is nothing to commit, and no conflict would tell that
            // the table as last loaded is stale.
            self.table = self.catalog.load_table(&self.table.ident).await?;
        }
        if let Some(w) = &self.writer_id {
            delta.set_summary(WRITER_ID, w.clone());
            if let Some(c) = checkpoint_id {
                delta.set_summary(CHECKPOINT_ID, c.to_string());
            }
        }
        if let Some(w) = watermark {
            delta.set_summary(WATERMARK, w.to_string());
        }
        let count = |content| {
            delta
                .delete_files()
                .iter()
                .filter(|f| f.content_type() == content)
                .count()
        };
        let report = CommitReport {
            checkpoint_id,
            data_files: delta.data_files().len(),
            equality_delete_files: count(DataContentType::EqualityDeletes),
            position_delete_files: count(DataContentType::PositionDeletes),
            rows,
            equality_deletes,
            skipped_deletes,
            position_deletes,
            ..Default::default()
        };
        let mut operation = CheckpointCommit {
            delta,
            writer_id: self.writer_id.clone(),
            checkpoint_id,
            watermark,
            report,
            left_out: LeftOut {
                buckets: left_out,
                generation,
                hulls: self.hulls.clone(),
                columns: self.hull_columns.clone(),
                manifests: self.manifests.clone(),
                settings: self.settings.clone(),
            },
        };
        let finished = commit(self.catalog.as_ref(), self.table.clone(), &mut operation).await?;
        self.table = finished.table;
        let outcome = match finished.output {
            CheckpointOutcome::Committed(report) => {
                let report = CommitReport {
                    attempts: finished.attempts,
                    metadata_location: self.table.metadata_location.clone(),
                    ..report
                };
                if let (Some(c), Some(_)) = (checkpoint_id, &self.writer_id) {
                    self.last = Some(CommittedCheckpoint {
                        checkpoint_id: c,
                        snapshot_id: Some(report.snapshot_id),
                        sequence_number: Some(report.sequence_number),
                    });
                }
                CheckpointOutcome::Committed(report)
            }
            CheckpointOutcome::AlreadyCommitted(last) => {
                self.last = Some(last);
                CheckpointOutcome::AlreadyCommitted(last)
            }
            CheckpointOutcome::Empty => CheckpointOutcome::Empty,
        };
        Ok(outcome)
    }
}

/// One checkpoint's row delta with the writer's own rules on each attempt's table: a
/// checkpoint the table already holds is not committed again, and the watermark only
/// moves forward.
struct CheckpointCommit {
    delta: RowDelta,
    writer_id: Option<String>,
    checkpoint_id: Option<i64>,
    watermark: Option<i64>,
    report: CommitReport,
    left_out: LeftOut,
}

/// The equality deletes a checkpoint left out, and what proves, on each attempt, that it
/// may: no live data file that the hulls had not learnt when the checkpoint started (a
/// compaction's output, another writer's rows) may hold a left-out key of its bucket.
/// Where one may, the bucket's left-out keys are written as an equality-delete file after
/// all, and the commit carries it: the checkpoint's rows replace the other writer's, as
/// they would have.
struct LeftOut {
    buckets: Vec<LeftOutDeletes>,
    generation: u64,
    hulls: SharedHulls,
    columns: KeyColumns,
    manifests: ManifestCache,
    settings: Arc<FileSettings>,
}

impl LeftOut {
    /// Learns `base`'s live data files (for the checkpoints after this one) and takes out
    /// the buckets whose left-out keys a data file unknown to the checkpoint may hold.
    async fn clashing(&mut self, base: &LoadedTable) -> floe_table::Result<Vec<LeftOutDeletes>> {
        let data = learn_live_files(&self.hulls, &self.columns, &self.manifests, base).await?;
        if self.buckets.is_empty() {
            return Ok(Vec::new());
        }
        let default_spec = base.metadata.default_partition_spec_id();
        let mut clash = vec![false; self.buckets.len()];
        {
            let hulls = lock(&self.hulls);
            let unknown = data
                .iter()
                .filter(|(file, _)| !hulls.knew(&file.path, self.generation));
            for (file, bounds) in unknown {
                for (i, bucket) in self.buckets.iter().enumerate() {
                    let same = file.partition.spec_id != default_spec
                        || &file.partition.value == bucket.partition.data();
                    clash[i] |= same && bucket.keys.may_be_in(bounds);
                }
            }
        }
        let mut clashing = Vec::new();
        for (bucket, clashed) in std::mem::take(&mut self.buckets).into_iter().zip(clash) {
            if clashed {
                clashing.push(bucket);
            } else {
                self.buckets.push(bucket);
            }
        }
        Ok(clashing)
    }

    /// Writes the left-out deletes of `buckets` after all.
    async fn write(&self, buckets: Vec<LeftOutDeletes>) -> floe_table::Result<Vec<DataFile>> {
        let names = file_names();
        let mut files = Vec::new();
        for bucket in buckets {
            let written = bucket.write(&self.settings, &names).await;
            files.extend(written.map_err(|e| {
                floe_table::Error::new(ErrorKind::Io, format!("cannot write equality deletes: {e}"))
            })?);
        }
        Ok(files)
    }
}

#[async_trait]
impl TableOperation for CheckpointCommit {
    type Output = CheckpointOutcome;

    async fn plan(
        &mut self,
        base: &LoadedTable,
        attempt: u32,
    ) -> floe_table::Result<Plan<CheckpointOutcome>> {
        let newest = self
            .writer_id
            .as_deref()
            .and_then(|w| last_committed(&base.metadata, w));
        if let Some(last) = covering(newest, self.checkpoint_id) {
            return Ok(Plan::Done(CheckpointOutcome::AlreadyCommitted(last)));
        }
        let clashing = self.left_out.clashing(base).await?;
        if !clashing.is_empty() {
            let keys: u64 = clashing.iter().map(|b| b.keys.len() as u64).sum();
            let files = self.left_out.write(clashing).await?;
            tracing::info!(table = %base.ident, keys, "rows committed meanwhile may hold keys this checkpoint left equality deletes out for; they are written after all");
            self.report.equality_delete_files += files.len();
            self.report.equality_deletes += keys;
            self.report.skipped_deletes -= keys;
            self.delta.add_files(files);
        }
        let recorded = self.writer_id.is_some() && self.checkpoint_id.is_some();
        if self.delta.is_empty() && self.watermark.is_none() && !recorded {
            // Only deletes left out, and no row may hold their keys: nothing to commit.
            return Ok(Plan::Done(CheckpointOutcome::Empty));
        }
        if let (Some(writer), Some(checkpoint)) = (&self.writer_id, self.checkpoint_id) {
            let recorded = writer_checkpoint_property(writer);
            self.delta.set_property(&recorded, checkpoint.to_string());
        }
        self.report.watermark = self.watermark.map(|w| {
            let current = base.metadata.properties().get(WATERMARK);
            let change = watermark_change(current.map(String::as_str), w);
            match change {
                WatermarkChange::Advance(w) => {
                    self.delta.set_property(WATERMARK, w.to_string());
                }
                WatermarkChange::Stale { current } => {
                    self.delta.unset_property(WATERMARK);
                    tracing::warn!(watermark = w, current, table = %base.ident, "watermark is not newer than the table's; the table property stays");
                }
            }
            change
        });
        Ok(match self.delta.plan(base, attempt).await? {
            Plan::Commit(commit) => Plan::Commit(commit),
            Plan::Done(landed) => Plan::Done(self.committed(landed)),
        })
    }

    fn landed(&mut self, table: &LoadedTable) -> Option<CheckpointOutcome> {
        let landed = self.delta.landed(table)?;
        Some(self.committed(landed))
    }
}

impl CheckpointCommit {
    fn committed(&self, landed: SnapshotLanded) -> CheckpointOutcome {
        CheckpointOutcome::Committed(self.report.landed(landed))
    }
}
