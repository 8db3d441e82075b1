//! `UpsertWriter`: writes one table's change stream, one checkpoint at a time. `write`
//! checks a batch, splits it by partition and hands each part to that partition's writer
//! (in parallel); `commit` hands the checkpoint to the `Committer`, which closes the files
//! and commits them as one `RowDelta`. `start_commit` does the same in the background, so
//! the next checkpoint is written while the last one commits.

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::io::FileIO;
use iceberg::spec::{DataFileFormat, Schema, Snapshot};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::TableIdent;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use super::changes::{conform, RowKind};
use super::checkpoint_log::{covering, last_committed, CommittedCheckpoint, WatermarkChange};
use super::committer::{ClosedCheckpoint, Committer};
use super::layout::{upsert_layout, UpsertLayout};
use super::partition_writer::{position_delete_schema, FileSettings, PartitionWriter};
use super::splitter::PartitionSplitter;
use super::UpsertError;
use crate::rest_client::{LoadedTable, RestClient};
use floe_compaction::parquet_props::{parquet_properties, target_file_size};

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
    pub(super) fn landed(
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

type InFlight = JoinHandle<(Committer, Result<CheckpointOutcome, UpsertError>)>;

pub struct UpsertWriter {
    /// The table as of the last load or commit this writer saw.
    table: LoadedTable,
    last: Option<CommittedCheckpoint>,
    layout: UpsertLayout,
    options: UpsertOptions,
    settings: Arc<FileSettings>,
    splitter: Arc<PartitionSplitter>,
    partitions: HashMap<Vec<u8>, PartitionWriter>,
    names: DefaultFileNameGenerator,
    /// The committer while no commit runs; `in_flight` has it while one does.
    committer: Option<Committer>,
    in_flight: Option<InFlight>,
    /// Why the open checkpoint cannot be committed (a write or an earlier commit failed).
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
        let file_io: FileIO = table.file_io()?;
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
        let committer = Committer {
            client,
            table: table.clone(),
            writer_id: options.writer_id.clone(),
            file_io: settings.file_io.clone(),
            last,
        };
        Ok(Self {
            table,
            last,
            layout,
            options,
            settings: Arc::new(settings),
            splitter: Arc::new(splitter),
            partitions: HashMap::new(),
            names: file_names(),
            committer: Some(committer),
            in_flight: None,
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
        covering(self.last, Some(checkpoint_id)).is_some()
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

    /// Drops the open checkpoint. Its files are left as orphans: no snapshot refers to
    /// them. A commit already started goes on.
    pub fn abort(&mut self) {
        self.partitions.clear();
        self.names = file_names();
        self.broken = None;
    }

    /// Commits the open checkpoint as one snapshot and waits for it. With a writer id and
    /// `checkpoint_id`, a checkpoint the table already holds is not committed again.
    /// `watermark` (epoch milliseconds of event time) is recorded in the summary and
    /// advances the table property `floe.watermark`.
    pub async fn commit(
        &mut self,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
    ) -> Result<CheckpointOutcome, UpsertError> {
        // A commit started before lands (or fails) first, and its failure is this one's.
        self.finish_commit().await?;
        self.start_commit(checkpoint_id, watermark).await?;
        Ok(self
            .finish_commit()
            .await?
            .expect("a commit was just started"))
    }

    /// Starts committing the open checkpoint in the background (as `commit`) and opens
    /// the next one at once, so writing it overlaps the commit. Commits land one at a
    /// time, in checkpoint order: this first waits for the commit started before and
    /// answers its outcome. If that commit failed, its error is answered here and the
    /// open checkpoint is not committed: abort it and write again from
    /// `last_committed`.
    pub async fn start_commit(
        &mut self,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
    ) -> Result<Option<CheckpointOutcome>, UpsertError> {
        if let Some(why) = self.broken.clone() {
            return Err(UpsertError::CheckpointBroken(why));
        }
        let previous = self.finish_commit().await?;
        let mut committer = self.committer.take().ok_or_else(lost_committer)?;
        let checkpoint = ClosedCheckpoint {
            partitions: self.partitions.drain().map(|(_, w)| w.seal()).collect(),
            checkpoint_id,
            watermark,
        };
        self.names = file_names();
        self.in_flight = Some(tokio::spawn(async move {
            let outcome = committer.commit(checkpoint).await;
            (committer, outcome)
        }));
        Ok(previous)
    }

    /// Waits for the commit started by `start_commit`, if one runs, and answers its
    /// outcome. A failed commit also fails the open checkpoint.
    pub async fn finish_commit(&mut self) -> Result<Option<CheckpointOutcome>, UpsertError> {
        let Some(in_flight) = self.in_flight.as_mut() else {
            return Ok(None);
        };
        // Taken only once the task is done: a caller that stops waiting (a timeout) can
        // wait again later, and the committer is not lost.
        let joined = in_flight.await;
        self.in_flight = None;
        let (committer, outcome) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                let e = UpsertError::Internal(format!("the commit task was cancelled: {e}"));
                self.broken = Some(e.to_string());
                return Err(e);
            }
        };
        self.table = committer.table.clone();
        self.last = committer.last;
        self.committer = Some(committer);
        let outcome = outcome.inspect_err(|e| {
            self.broken = Some(format!("a commit failed: {e}"));
        })?;
        Ok(Some(outcome))
    }
}

fn lost_committer() -> UpsertError {
    UpsertError::Internal("the writer lost its committer to a failed commit task".into())
}
