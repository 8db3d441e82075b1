//! `UpsertWriter`: writes one table's change stream, one checkpoint at a time. `write`
//! checks a batch, splits it by partition and hands each part to that partition's writer
//! (in parallel); `commit` closes the files and commits them as one `RowDelta`, retrying
//! conflicts on a fresh load, exactly once per writer id and checkpoint id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::io::FileIO;
use iceberg::spec::{DataContentType, DataFileFormat, Schema, Snapshot, TableProperties};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::TableIdent;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::changes::{conform, RowKind};
use super::checkpoint_log::{
    last_committed, main_ancestry, watermark_change, CommittedCheckpoint, WatermarkChange,
    CHECKPOINT_ID, WATERMARK, WRITER_ID,
};
use super::layout::{upsert_layout, UpsertLayout};
use super::partition_writer::{
    position_delete_schema, FileSettings, PartitionCounts, PartitionWriter,
};
use super::row_delta::{plan_commit, write_row_delta_manifest_list, RowDelta};
use super::splitter::PartitionSplitter;
use super::UpsertError;
use crate::rest_client::{file_io_for, LoadedTable, RestClient, RestError};
use floe_compaction::parquet_props::{parquet_properties, target_file_size};
use floe_compaction::table_files::live_data_files;

/// How a writer behaves.
#[derive(Clone, Debug)]
pub struct UpsertOptions {
    /// Names this writer's commits; with it, a checkpoint id commits at most once.
    pub writer_id: Option<String>,
    /// The most memory the key index may hold in one checkpoint, all partitions together.
    pub key_index_limit_bytes: usize,
}

impl Default for UpsertOptions {
    fn default() -> Self {
        Self {
            writer_id: None,
            key_index_limit_bytes: 1 << 30,
        }
    }
}

/// What one checkpoint's commit added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    pub snapshot_id: i64,
    pub sequence_number: i64,
    pub checkpoint_id: Option<i64>,
    pub data_files: usize,
    pub equality_delete_files: usize,
    pub position_delete_files: usize,
    pub rows: u64,
    pub equality_deletes: u64,
    pub position_deletes: u64,
    /// Commit attempts it took (1 without conflicts).
    pub attempts: u32,
    pub watermark: Option<WatermarkChange>,
    pub metadata_location: String,
}

impl CommitReport {
    /// The outcome once the commit's snapshot is in `table`, after `attempts` attempts.
    fn landed(
        &mut self,
        snapshot: &Snapshot,
        attempts: u32,
        table: &LoadedTable,
    ) -> CheckpointOutcome {
        self.snapshot_id = snapshot.snapshot_id();
        self.sequence_number = snapshot.sequence_number();
        self.attempts = attempts;
        self.metadata_location = table.metadata_location.clone();
        CheckpointOutcome::Committed(self.clone())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointOutcome {
    Committed(CommitReport),
    /// The table already holds this checkpoint (or a later one) of this writer; nothing
    /// was added.
    AlreadyCommitted(CommittedCheckpoint),
    /// Nothing to commit: no rows, no watermark and no checkpoint id to record.
    Empty,
}

pub struct UpsertWriter {
    client: RestClient,
    table: LoadedTable,
    layout: UpsertLayout,
    options: UpsertOptions,
    settings: Arc<FileSettings>,
    splitter: Arc<PartitionSplitter>,
    partitions: HashMap<Vec<u8>, PartitionWriter>,
    names: DefaultFileNameGenerator,
    last: Option<CommittedCheckpoint>,
    /// Why the open checkpoint cannot be committed (a write failed half way).
    broken: Option<String>,
}

fn file_names() -> DefaultFileNameGenerator {
    DefaultFileNameGenerator::new(Uuid::now_v7().to_string(), None, DataFileFormat::Parquet)
}

impl UpsertWriter {
    /// Opens the writer of `ident`, which must be an upsert table (see `layout`).
    pub async fn open(
        client: RestClient,
        ident: &TableIdent,
        options: UpsertOptions,
    ) -> Result<Self, UpsertError> {
        let table = client.load_table(ident).await?;
        let metadata = table.metadata.clone();
        let layout = upsert_layout(&metadata)?;
        let file_io: FileIO = file_io_for(metadata.location())?;
        let schema = metadata.current_schema().clone();
        let key_fields = layout
            .key_field_ids
            .iter()
            .map(|id| schema.field_by_id(*id).expect("key field exists").clone())
            .collect::<Vec<_>>();
        let key_schema = Arc::new(Schema::builder().with_fields(key_fields).build()?);
        let pos_schema = Arc::new(position_delete_schema());
        let props = metadata.properties();
        let settings = FileSettings {
            locations: DefaultLocationGenerator::new(&metadata)?,
            parquet: parquet_properties(props)?,
            target_file_size: target_file_size(props)?,
            table_arrow: Arc::new(schema_to_arrow_schema(&schema)?),
            key_columns: layout.key_columns.clone(),
            key_field_ids: layout.key_field_ids.clone(),
            key_arrow: Arc::new(schema_to_arrow_schema(&key_schema)?),
            key_schema,
            pos_arrow: Arc::new(schema_to_arrow_schema(&pos_schema)?),
            pos_schema,
            index_limit_bytes: options.key_index_limit_bytes,
            table_schema: schema.clone(),
            file_io,
        };
        let splitter = PartitionSplitter::new(schema, metadata.default_partition_spec().clone())?;
        let last = options
            .writer_id
            .as_deref()
            .and_then(|w| last_committed(&metadata, w));
        Ok(Self {
            client,
            table,
            layout,
            options,
            settings: Arc::new(settings),
            splitter: Arc::new(splitter),
            partitions: HashMap::new(),
            names: file_names(),
            last,
            broken: None,
        })
    }

    /// The table as last loaded or committed.
    pub fn table(&self) -> &LoadedTable {
        &self.table
    }

    /// The newest checkpoint of this writer id in the table, as of the last load.
    pub fn last_committed(&self) -> Option<CommittedCheckpoint> {
        self.last
    }

    /// Whether the table already holds `checkpoint_id` of this writer.
    pub fn is_committed(&self, checkpoint_id: i64) -> bool {
        self.options.writer_id.is_some()
            && self.last.is_some_and(|l| l.checkpoint_id >= checkpoint_id)
    }

    /// Memory the key index holds now, all partitions together.
    pub fn key_index_bytes(&self) -> usize {
        self.partitions.values().map(|p| p.index_bytes()).sum()
    }

    /// Adds a batch of changes to the open checkpoint. A batch that does not fit the table
    /// (see `changes::conform`) is refused whole and changes nothing.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), UpsertError> {
        if let Some(why) = &self.broken {
            return Err(UpsertError::CheckpointBroken(why.clone()));
        }
        let changes = conform(batch, &self.settings.table_arrow, &self.layout.key_columns)?;
        if changes.rows.num_rows() == 0 {
            return Ok(());
        }
        let result = self.write_parts(changes.rows, changes.kinds).await;
        if let Err(e) = &result {
            self.broken = Some(e.to_string());
        }
        result
    }

    async fn write_parts(
        &mut self,
        rows: RecordBatch,
        kinds: Vec<RowKind>,
    ) -> Result<(), UpsertError> {
        let mut tasks = JoinSet::new();
        for group in self.splitter.split(&rows)? {
            let writer = match self.partitions.remove(&group.id) {
                Some(w) => w,
                None => {
                    let key = self.splitter.partition_key(&group.values)?;
                    PartitionWriter::new(self.settings.clone(), self.names.clone(), key).await?
                }
            };
            let part_kinds: Vec<RowKind> = group.rows.iter().map(|&r| kinds[r as usize]).collect();
            let (id, rows) = (group.id, rows.clone());
            // Each task copies out its own rows, so the copies run in parallel too.
            tasks.spawn(async move {
                let mut writer = writer;
                let result = match take_record_batch(&rows, &UInt32Array::from(group.rows)) {
                    Ok(part) => writer.write(part, &part_kinds).await,
                    Err(e) => Err(UpsertError::Internal(e.to_string())),
                };
                (id, writer, result)
            });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let (id, writer, result) = joined.map_err(|e| UpsertError::Internal(e.to_string()))?;
            self.partitions.insert(id, writer);
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if self.key_index_bytes() > self.options.key_index_limit_bytes {
            return Err(super::KeyIndexFull {
                keys: self.partitions.values().map(|p| p.index_keys()).sum(),
                limit_mib: self.options.key_index_limit_bytes >> 20,
            }
            .into());
        }
        Ok(())
    }

    /// Drops the open checkpoint. Its files are left as orphans: no snapshot refers to them.
    pub fn abort(&mut self) {
        self.partitions.clear();
        self.names = file_names();
        self.broken = None;
    }

    async fn close_partitions(&mut self) -> Result<(RowDelta, PartitionCounts), UpsertError> {
        let mut tasks = JoinSet::new();
        for (_, writer) in self.partitions.drain() {
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

    /// Commits the open checkpoint as one snapshot. With a writer id and `checkpoint_id`,
    /// a checkpoint the table already holds is not committed again. `watermark` (epoch
    /// milliseconds of event time) is recorded in the summary and advances the table
    /// property `floe.watermark`.
    pub async fn commit(
        &mut self,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
    ) -> Result<CheckpointOutcome, UpsertError> {
        if let Some(why) = self.broken.clone() {
            return Err(UpsertError::CheckpointBroken(why));
        }
        let writer_id = self.options.writer_id.clone();
        if let Some(last) = checkpoint_id
            .filter(|&c| self.is_committed(c))
            .and(self.last)
        {
            self.abort();
            return Ok(CheckpointOutcome::AlreadyCommitted(last));
        }
        // From here on a failure loses the checkpoint's files: the caller must abort and
        // write the checkpoint again, never commit it empty.
        let (mut delta, counts) = self.close_partitions().await.inspect_err(|e| {
            self.broken = Some(e.to_string());
        })?;
        self.names = file_names();
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
            .await;
        let outcome = outcome.inspect_err(|e| self.broken = Some(e.to_string()))?;
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
        let file_io = self.settings.file_io.clone();
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
            if let (Some(w), Some(c)) = (&self.options.writer_id, checkpoint_id) {
                if let Some(last) = last_committed(&base, w).filter(|l| l.checkpoint_id >= c) {
                    self.last = Some(last);
                    return Ok(CheckpointOutcome::AlreadyCommitted(last));
                }
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
