//! `Committer`: turns a checkpoint's partition writers into one `RowDelta` snapshot. It
//! closes their files, writes the manifests and commits through the catalog, retrying
//! conflicts on a fresh load, exactly once per writer id and checkpoint id. It owns the
//! catalog client and the table as last loaded, so `UpsertWriter` can hand it a
//! checkpoint and go on writing the next one while it commits (as Flink's separate
//! committer does); commits still land one at a time, in checkpoint order.

use std::time::{Duration, Instant};

use iceberg::io::FileIO;
use iceberg::spec::{DataContentType, TableProperties};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::checkpoint_log::{
    covering, last_committed, main_ancestry, watermark_change, CommittedCheckpoint,
    WatermarkChange, CHECKPOINT_ID, WATERMARK, WRITER_ID,
};
use super::partition_writer::{PartitionCounts, PartitionWriter};
use super::row_delta::{plan_commit, write_row_delta_manifest_list, RowDelta};
use super::writer::{CheckpointOutcome, CommitReport};
use super::UpsertError;
use crate::rest_client::{LoadedTable, RestClient, RestError};
use floe_compaction::table_files::live_data_files;

/// A checkpoint handed over for commit.
pub(super) struct ClosedCheckpoint {
    pub partitions: Vec<PartitionWriter>,
    pub checkpoint_id: Option<i64>,
    pub watermark: Option<i64>,
}

pub(super) struct Committer {
    pub client: RestClient,
    /// The table as last loaded or committed.
    pub table: LoadedTable,
    pub writer_id: Option<String>,
    pub file_io: FileIO,
    /// The newest checkpoint of `writer_id` in the table, as of the last load.
    pub last: Option<CommittedCheckpoint>,
}

impl Committer {
    /// Commits `checkpoint` as one snapshot (see `UpsertWriter::commit`).
    pub async fn commit(
        &mut self,
        checkpoint: ClosedCheckpoint,
    ) -> Result<CheckpointOutcome, UpsertError> {
        let ClosedCheckpoint {
            partitions,
            checkpoint_id,
            watermark,
        } = checkpoint;
        if let Some(last) = covering(self.last, checkpoint_id) {
            // Its files are left as orphans: no snapshot refers to them.
            return Ok(CheckpointOutcome::AlreadyCommitted(last));
        }
        let (mut delta, counts) = close_partitions(partitions).await?;
        let writer_id = self.writer_id.clone();
        // An empty checkpoint is still recorded when it has an id (exactly-once needs the
        // record) or a watermark.
        let recorded = writer_id.is_some() && checkpoint_id.is_some();
        if delta.is_empty() && watermark.is_none() && !recorded {
            return Ok(CheckpointOutcome::Empty);
        }
        if let Some(w) = &writer_id {
            delta.summary.push((WRITER_ID.to_string(), w.clone()));
            if let Some(c) = checkpoint_id {
                delta
                    .summary
                    .push((CHECKPOINT_ID.to_string(), c.to_string()));
            }
        }
        if let Some(w) = watermark {
            delta.summary.push((WATERMARK.to_string(), w.to_string()));
        }
        let mut report = CommitReport {
            checkpoint_id,
            data_files: delta.data_files.len(),
            equality_delete_files: count_content(&delta, DataContentType::EqualityDeletes),
            position_delete_files: count_content(&delta, DataContentType::PositionDeletes),
            rows: counts.rows,
            equality_deletes: counts.equality_deletes,
            position_deletes: counts.position_deletes,
            ..Default::default()
        };
        let outcome = self
            .commit_delta(delta, checkpoint_id, watermark, &mut report)
            .await?;
        if let CheckpointOutcome::Committed(r) = &outcome {
            if let (Some(c), Some(_)) = (checkpoint_id, &writer_id) {
                self.last = Some(CommittedCheckpoint {
                    checkpoint_id: c,
                    snapshot_id: r.snapshot_id,
                    sequence_number: r.sequence_number,
                });
            }
        }
        Ok(outcome)
    }

    async fn commit_delta(
        &mut self,
        mut delta: RowDelta,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
        report: &mut CommitReport,
    ) -> Result<CheckpointOutcome, UpsertError> {
        let file_io = self.file_io.clone();
        let uuid = self.table.metadata.uuid();
        let written = delta
            .write_manifests(&file_io, &self.table.metadata)
            .await?;
        let props = TableProperties::try_from(self.table.metadata.properties())
            .map_err(UpsertError::Files)?;
        let max_attempts = props.commit_num_retries as u32 + 1;
        let deadline = Instant::now() + Duration::from_millis(props.commit_total_retry_timeout_ms);
        let mut wait = Duration::from_millis(props.commit_min_retry_wait_ms.max(1));
        let max_wait = Duration::from_millis(props.commit_max_retry_wait_ms.max(1));
        let mut last_error = String::new();
        for attempt in 1..=max_attempts {
            if attempt > 1 {
                tokio::time::sleep(jitter(wait)).await;
                wait = (wait * 2).min(max_wait);
                self.table = self.client.load_table(&self.table.ident).await?;
            }
            let base = self.table.metadata.clone();
            if base.uuid() != uuid {
                return Err(UpsertError::TableReplaced {
                    expected: uuid.to_string(),
                    found: base.uuid().to_string(),
                });
            }
            if let Some(landed) =
                main_ancestry(&base).find(|s| s.snapshot_id() == written.snapshot_id)
            {
                // An earlier attempt whose answer was lost did land.
                return Ok(report.landed(landed, attempt - 1, &self.table));
            }
            let newest = self
                .writer_id
                .as_deref()
                .and_then(|w| last_committed(&base, w));
            if let Some(last) = covering(newest, checkpoint_id) {
                self.last = Some(last);
                return Ok(CheckpointOutcome::AlreadyCommitted(last));
            }
            let required = delta.referenced_elsewhere();
            if !required.is_empty() {
                let live = live_data_files(&file_io, &base, &required).await?;
                let gone: Vec<String> = required.difference(&live).cloned().collect();
                if !gone.is_empty() {
                    return Err(UpsertError::PositionDeleteTargetsGone(gone));
                }
            }
            report.watermark = watermark.map(|w| {
                let change = watermark_change(base.properties().get(WATERMARK).map(String::as_str), w);
                match change {
                    WatermarkChange::Advance(w) => {
                        delta.properties.insert(WATERMARK.to_string(), w.to_string());
                    }
                    WatermarkChange::Stale { current } => {
                        delta.properties.remove(WATERMARK);
                        tracing::warn!(watermark = w, current, table = %self.table.ident, "watermark is not newer than the table's; the table property stays");
                    }
                }
                change
            });
            let list = write_row_delta_manifest_list(&file_io, &base, &written, attempt).await?;
            let now = chrono::Utc::now().timestamp_millis();
            let (requirements, updates) = plan_commit(&base, &written, &delta, list, now);
            match self
                .client
                .commit(&self.table.ident, &requirements, &updates)
                .await
            {
                Ok(table) => {
                    let snapshot = table
                        .metadata
                        .snapshot_by_id(written.snapshot_id)
                        .ok_or_else(|| {
                            UpsertError::Internal(
                                "committed snapshot missing from the answer".into(),
                            )
                        })?;
                    let outcome = report.landed(snapshot, attempt, &table);
                    self.table = table;
                    return Ok(outcome);
                }
                Err(e @ (RestError::Conflict(_) | RestError::Unknown(_))) => {
                    tracing::info!(attempt, error = %e, table = %self.table.ident, "commit not acknowledged; reloading and retrying");
                    last_error = e.to_string();
                }
                Err(e) => return Err(e.into()),
            }
            if Instant::now() > deadline {
                return Err(UpsertError::RetriesExhausted {
                    attempts: attempt,
                    last: last_error,
                });
            }
        }
        Err(UpsertError::RetriesExhausted {
            attempts: max_attempts,
            last: last_error,
        })
    }
}

/// Closes every partition's files, in parallel.
async fn close_partitions(
    partitions: Vec<PartitionWriter>,
) -> Result<(RowDelta, PartitionCounts), UpsertError> {
    let mut tasks = JoinSet::new();
    for writer in partitions {
        tasks.spawn(writer.close());
    }
    let mut delta = RowDelta::default();
    let mut counts = PartitionCounts::default();
    while let Some(joined) = tasks.join_next().await {
        let (data, deletes, c) = joined.map_err(|e| UpsertError::Internal(e.to_string()))??;
        delta.data_files.extend(data);
        delta.delete_files.extend(deletes);
        counts.rows += c.rows;
        counts.equality_deletes += c.equality_deletes;
        counts.position_deletes += c.position_deletes;
    }
    Ok((delta, counts))
}

fn count_content(delta: &RowDelta, content: DataContentType) -> usize {
    delta
        .delete_files
        .iter()
        .filter(|f| f.content_type() == content)
        .count()
}

/// `wait` plus up to half of it again, so writers that collided do not collide again.
fn jitter(wait: Duration) -> Duration {
    let spread = (Uuid::new_v4().as_u128() % 1000) as u32;
    wait + wait / 2 * spread / 1000
}
