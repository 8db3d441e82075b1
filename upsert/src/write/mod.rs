//! `UpsertWriter`: writes one table's change stream, one checkpoint at a time. `write`
//! checks a batch, splits it by partition (`splitter`) and hands each part to that
//! partition's writer (`partition`, with its `key_index`), in parallel; `commit` closes
//! the checkpoint's files and hands them to the `Committer`, which commits them as one
//! row delta. `start_commit` does the same in the background, so the next checkpoint is
//! written while the last one commits.

pub(crate) mod key_hull;
pub(crate) mod key_index;
mod partition;
mod splitter;

pub use key_index::KeyIndexFull;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use floe_table::properties::{parquet_properties, target_file_size};
use floe_table::{
    live_files, position_delete_schema, LiveFile, LoadedTable, ManifestCache, TableCatalog,
};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{DataContentType, DataFileFormat, Schema};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::TableIdent;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use crate::changes::{conform, RowKind};
use crate::commit::{
    covering, last_committed, CheckpointOutcome, ClosedCheckpoint, CommittedCheckpoint, Committer,
};
use crate::error::UpsertError;
use crate::layout::{upsert_layout, UpsertLayout};
use key_hull::{ColumnBounds, KeyColumns, KeyHulls};
use partition::PartitionWriter;
pub(crate) use partition::{FileSettings, LeftOutDeletes};
use splitter::PartitionSplitter;

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

type InFlight = JoinHandle<(Committer, Result<CheckpointOutcome, UpsertError>)>;

/// Writes one table's change stream, one checkpoint at a time; see the module docs.
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
    /// The keys each bucket may hold, shared with the committer, which widens them by the
    /// data files it finds at each commit.
    hulls: SharedHulls,
    /// The hulls' generation when the open checkpoint started.
    generation: u64,
}

/// The writer's and the committer's key hulls.
pub(crate) type SharedHulls = Arc<Mutex<KeyHulls>>;

/// The hulls, locked (a panic elsewhere leaves them usable: they only ever widen).
pub(crate) fn lock(hulls: &SharedHulls) -> std::sync::MutexGuard<'_, KeyHulls> {
    hulls.lock().unwrap_or_else(|e| e.into_inner())
}

/// Widens `hulls` by the live data files of `table`'s main branch (manifests read through
/// `cache`, so each is read once per writer); answers those files with their key bounds.
pub(crate) async fn learn_live_files(
    hulls: &SharedHulls,
    columns: &KeyColumns,
    cache: &ManifestCache,
    table: &LoadedTable,
) -> iceberg::Result<Vec<(LiveFile, Vec<ColumnBounds>)>> {
    let manifests = cache.main(&table.file_io, &table.metadata).await?;
    let default_spec = table.metadata.default_partition_spec_id();
    let data: Vec<(LiveFile, Vec<ColumnBounds>)> = live_files(&table.metadata, &manifests)
        .into_iter()
        .filter(|(file, _)| file.content == DataContentType::Data)
        .map(|(file, entry)| {
            let bounds = columns.file_bounds(entry.data_file());
            (file, bounds)
        })
        .collect();
    let files = data.iter().map(|(file, bounds)| {
        let partition = (file.partition.spec_id == default_spec).then_some(&file.partition.value);
        (file.path.as_str(), partition, bounds.clone())
    });
    lock(hulls).learn(files);
    Ok(data)
}

pub(crate) fn file_names() -> DefaultFileNameGenerator {
    DefaultFileNameGenerator::new(Uuid::now_v7().to_string(), None, DataFileFormat::Parquet)
}

impl UpsertWriter {
    /// Opens the writer of `ident` in `catalog`, which must be an upsert table (see
    /// `layout`).
    pub async fn open(
        catalog: Arc<dyn TableCatalog>,
        ident: &TableIdent,
        options: UpsertOptions,
    ) -> Result<Self, UpsertError> {
        let table = catalog.load_table(ident).await?;
        let metadata = table.metadata.clone();
        let layout = upsert_layout(&metadata)?;
        let file_io = table.file_io.clone();
        let schema = metadata.current_schema().clone();
        let key_fields = layout
            .key_field_ids
            .iter()
            .map(|id| schema.field_by_id(*id).expect("key field exists").clone())
            .collect::<Vec<_>>();
        let key_schema = Arc::new(Schema::builder().with_fields(key_fields).build()?);
        let hull_columns = KeyColumns::new(&schema, &layout.key_field_ids);
        let hulls: SharedHulls = Arc::new(Mutex::new(KeyHulls::new(hull_columns.len())));
        let manifests = ManifestCache::default();
        learn_live_files(&hulls, &hull_columns, &manifests, &table).await?;
        let generation = lock(&hulls).generation();
        let pos_schema = Arc::new(position_delete_schema());
        let props = metadata.properties();
        let settings = FileSettings {
            locations: DefaultLocationGenerator::new(&metadata)?,
            parquet: parquet_properties(props)?,
            target_file_size: target_file_size(props)?,
            table_arrow: Arc::new(schema_to_arrow_schema(&schema)?),
            key_columns: layout.key_columns.clone(),
            key_field_ids: layout.key_field_ids.clone(),
            hull_columns: hull_columns.clone(),
            key_arrow: Arc::new(schema_to_arrow_schema(&key_schema)?),
            key_schema,
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
        let settings = Arc::new(settings);
        let committer = Committer {
            catalog,
            table: table.clone(),
            writer_id: options.writer_id.clone(),
            last,
            hulls: hulls.clone(),
            hull_columns,
            manifests,
            settings: settings.clone(),
        };
        Ok(Self {
            table,
            last,
            layout,
            options,
            settings,
            splitter: Arc::new(splitter),
            partitions: HashMap::new(),
            names: file_names(),
            committer: Some(committer),
            in_flight: None,
            broken: None,
            hulls,
            generation,
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
        self.write_all(std::slice::from_ref(batch)).await
    }

    /// Adds batches of changes to the open checkpoint, all or none: every batch is checked
    /// (see `changes::conform`) before any is written, so one that does not fit the table
    /// changes nothing.
    pub async fn write_all(&mut self, batches: &[RecordBatch]) -> Result<(), UpsertError> {
        if let Some(why) = &self.broken {
            return Err(UpsertError::CheckpointBroken(why.clone()));
        }
        let (table, key) = (&self.settings.table_arrow, &self.layout.key_columns);
        let conformed = (batches.iter())
            .map(|batch| conform(batch, table, key))
            .collect::<Result<Vec<_>, _>>()?;
        for changes in conformed {
            if changes.rows.num_rows() == 0 {
                continue;
            }
            if let Err(e) = self.write_parts(changes.rows, changes.kinds).await {
                self.broken = Some(e.to_string());
                return Err(e);
            }
        }
        Ok(())
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
                    let hull = lock(&self.hulls).of(key.data());
                    PartitionWriter::new(self.settings.clone(), self.names.clone(), key, hull)
                        .await?
                }
            };
            let part_kinds: Vec<RowKind> = group.rows.iter().map(|&r| kinds[r as usize]).collect();
            let (id, rows) = (group.id, rows.clone());
            // Each task copies out its own rows, so the copies run in parallel too.
            tasks.spawn(async move {
                let mut writer = writer;
                let result = match take_record_batch(&rows, &UInt32Array::from(group.rows)) {
                    Ok(part) => writer.write(part, &part_kinds).await,
                    Err(e) => Err(e.into()),
                };
                (id, writer, result)
            });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let (id, writer, result) = joined?;
            self.partitions.insert(id, writer);
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if self.key_index_bytes() > self.options.key_index_limit_bytes {
            return Err(KeyIndexFull {
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
        self.generation = lock(&self.hulls).generation();
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
        let partitions: Vec<PartitionWriter> = {
            let mut hulls = lock(&self.hulls);
            let sealed = self.partitions.drain().map(|(_, w)| w.seal());
            sealed
                .map(|(writer, written)| {
                    hulls.merge(writer.partition(), &written);
                    writer
                })
                .collect()
        };
        // The checkpoint's left-out deletes are checked against the data files the hulls
        // had not learnt when it started; the next one starts now.
        let generation = std::mem::replace(&mut self.generation, lock(&self.hulls).generation());
        self.names = file_names();
        self.in_flight = Some(tokio::spawn(async move {
            if let Some(last) = committer.already_committed(checkpoint_id) {
                // Its files are left as orphans: no snapshot refers to them.
                return (committer, Ok(CheckpointOutcome::AlreadyCommitted(last)));
            }
            let closed = close_partitions(partitions, checkpoint_id, watermark, generation);
            let outcome = match closed.await {
                Ok(checkpoint) => committer.commit(checkpoint).await,
                Err(e) => Err(e),
            };
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
                let e = UpsertError::Task(e);
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

/// Closes every partition's files, in parallel: the checkpoint as the committer takes it.
async fn close_partitions(
    partitions: Vec<PartitionWriter>,
    checkpoint_id: Option<i64>,
    watermark: Option<i64>,
    generation: u64,
) -> Result<ClosedCheckpoint, UpsertError> {
    let mut tasks = JoinSet::new();
    for writer in partitions {
        tasks.spawn(writer.close());
    }
    let mut closed = ClosedCheckpoint {
        files: Vec::new(),
        rows: 0,
        equality_deletes: 0,
        skipped_deletes: 0,
        position_deletes: 0,
        checkpoint_id,
        watermark,
        left_out: Vec::new(),
        generation,
    };
    while let Some(joined) = tasks.join_next().await {
        let partition = joined??;
        closed.files.extend(partition.files);
        closed.rows += partition.counts.rows;
        closed.equality_deletes += partition.counts.equality_deletes;
        closed.skipped_deletes += partition.counts.skipped_deletes;
        closed.position_deletes += partition.counts.position_deletes;
        closed.left_out.extend(partition.left_out);
    }
    Ok(closed)
}
