//! Digesting one side of a comparison, the I/O part: a table snapshot's live rows (its
//! data files grouped by partition, each group's deletes loaded once and its files read
//! by the compactor's reader of live rows, groups in parallel; streaming, so memory holds
//! the deletes of the groups being read and a batch per group, never the table), or the
//! rows of Parquet files matched by a glob (files in parallel, `files`). Every batch is
//! brought to the plan's columns (by name, cast to the first side's types) before it is
//! digested.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{Field, Schema as ArrowSchema};
use floe_compaction::{KeyColumns, LiveRows};
use floe_table::{live_files, LoadedTable, ManifestCache, Partition};
use futures::TryStreamExt;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::scan::FileScanTask;
use iceberg::spec::{SnapshotRef, MAIN_BRANCH};
use tokio::sync::Semaphore;

use crate::error::VerifyError;
use crate::files::matching;
use crate::partition::{read_schema, Partitioning};
use crate::summary::{Digests, Summary};

/// Rows per batch read.
pub(crate) const BATCH_ROWS: usize = 8192;

/// What both sides digest: the columns (names and Arrow types of the first side), the
/// partition source columns read besides them, and how rows are split into partitions.
pub struct DigestPlan {
    columns: Arc<ArrowSchema>,
    read: Arc<ArrowSchema>,
    partitioning: Option<Partitioning>,
}

/// The snapshot `id` of `table` (its main branch's current one without it); `None` for a
/// table without snapshots.
pub fn snapshot_of(
    table: &LoadedTable,
    id: Option<i64>,
) -> Result<Option<SnapshotRef>, VerifyError> {
    match id {
        Some(id) => table
            .metadata
            .snapshot_by_id(id)
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                VerifyError::NoSnapshot(format!("{} has no snapshot {id}", table.ident))
            }),
        None => Ok(table.metadata.snapshot_for_ref(MAIN_BRANCH).cloned()),
    }
}

impl DigestPlan {
    /// The plan of the first side, `table` at `snapshot` (its current schema without
    /// one): its columns (all of them, or `columns`), split by the table's default
    /// partition spec when `by_partition`.
    pub fn of_table(
        table: &LoadedTable,
        snapshot: Option<&SnapshotRef>,
        columns: Option<&[String]>,
        by_partition: bool,
    ) -> Result<Self, VerifyError> {
        let schema = match snapshot {
            Some(s) => s.schema(&table.metadata)?,
            None => table.metadata.current_schema().clone(),
        };
        let arrow = schema_to_arrow_schema(&schema)?;
        let fields: Vec<Field> = match columns {
            None => arrow.fields().iter().map(|f| f.as_ref().clone()).collect(),
            Some(names) => (names.iter())
                .map(|n| {
                    (arrow.field_with_name(n).cloned()).map_err(|_| VerifyError::NoColumn {
                        column: n.clone(),
                        side: table.ident.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let partitioning = match by_partition {
            true => Partitioning::of(table.metadata.default_partition_spec(), &schema)?,
            false => None,
        };
        let read = read_schema(&fields, partitioning.as_ref(), &arrow);
        Ok(Self {
            columns: Arc::new(ArrowSchema::new(fields)),
            read: Arc::new(read),
            partitioning,
        })
    }

    /// The columns digested.
    pub fn columns(&self) -> &ArrowSchema {
        &self.columns
    }

    /// `batch` brought to the columns read: each found by name and cast to the plan's
    /// type; `side` names the side in the error for a missing column.
    fn conform(&self, batch: &RecordBatch, side: &str) -> Result<RecordBatch, VerifyError> {
        let mut columns = Vec::new();
        for field in self.read.fields() {
            let column =
                batch
                    .column_by_name(field.name())
                    .ok_or_else(|| VerifyError::NoColumn {
                        column: field.name().clone(),
                        side: side.to_string(),
                    })?;
            columns.push(match column.data_type() == field.data_type() {
                true => column.clone(),
                false => cast(column, field.data_type())?,
            });
        }
        Ok(RecordBatch::try_new(self.read.clone(), columns)?)
    }

    /// Whether the column `name` is read (digested, or partitioned by).
    pub(crate) fn reads(&self, name: &str) -> bool {
        self.read.field_with_name(name).is_ok()
    }

    /// Adds the rows of `batch` that `keep` selects to `parts`, by partition.
    pub(crate) fn add(
        &self,
        parts: &mut HashMap<String, Summary>,
        batch: &RecordBatch,
        keep: Option<&BooleanArray>,
        side: &str,
    ) -> Result<(), VerifyError> {
        let batch = self.conform(batch, side)?;
        let digested = batch.project(&(0..self.columns.fields().len()).collect::<Vec<_>>())?;
        let columns = &self.columns;
        let mut add = |name: String, keep: Option<&BooleanArray>| {
            (parts.entry(name))
                .or_insert_with(|| Summary::new(columns))
                .add(&digested, keep)
        };
        match &self.partitioning {
            None => add(String::new(), keep)?,
            Some(partitioning) => {
                for (name, rows) in partitioning.split(&batch, keep)? {
                    add(name, Some(&rows))?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `jobs` at most `parallel` at a time, each on a task of its own, and gathers the
/// summaries they answer.
async fn run_parallel<F>(
    jobs: Vec<F>,
    parallel: usize,
) -> Result<Vec<(String, Summary)>, VerifyError>
where
    F: std::future::Future<Output = Result<HashMap<String, Summary>, VerifyError>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(parallel.max(1)));
    let mut running = Vec::new();
    for job in jobs {
        let slots = slots.clone();
        running.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            job.await
        }));
    }
    let mut out = Vec::new();
    for handle in running {
        let parts = handle
            .await
            .map_err(|e| VerifyError::Unsupported(format!("a reading task failed: {e}")))??;
        out.extend(parts);
    }
    Ok(out)
}

/// The digests of `table` at `snapshot` (none: no rows), its partitions read `parallel`
/// at a time.
pub async fn digest_snapshot(
    table: &LoadedTable,
    snapshot: Option<&SnapshotRef>,
    plan: Arc<DigestPlan>,
    parallel: usize,
) -> Result<Digests, VerifyError> {
    let Some(snapshot) = snapshot else {
        let label = format!("{} (no snapshot)", table.ident);
        return Ok(Digests::collect(label, &plan.columns, [])?);
    };
    let label = format!("{} @ snapshot {}", table.ident, snapshot.snapshot_id());
    let side = table.ident.to_string();
    let schema = snapshot.schema(&table.metadata)?;
    // The columns read, and the key, which the equality deletes are matched on.
    let mut names: Vec<String> = plan
        .read
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for id in schema.identifier_field_ids() {
        let name = schema.name_by_field_id(id).unwrap_or_default().to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in &names {
        if schema.field_by_name(name).is_none() {
            return Err(VerifyError::NoColumn {
                column: name.clone(),
                side,
            });
        }
    }
    let tasks: Vec<FileScanTask> = (table.to_table()?.scan())
        .snapshot_id(snapshot.snapshot_id())
        .select(names)
        .build()?
        .plan_files()
        .await?
        .try_collect()
        .await?;
    let Some(first) = tasks.first() else {
        return Ok(Digests::collect(label, &plan.columns, [])?);
    };
    let arrow = schema_to_arrow_schema(&schema)?;
    let projected = ArrowSchema::new(
        (first.project_field_ids.iter())
            .filter_map(|id| schema.name_by_field_id(*id))
            .filter_map(|name| arrow.field_with_name(name).ok().cloned())
            .collect::<Vec<_>>(),
    );
    let key = KeyColumns::of(&schema, &projected);
    let manifests = ManifestCache::default()
        .of_snapshot(&table.file_io, &table.metadata, snapshot)
        .await?;
    let live = live_files(&table.metadata, &manifests);
    let sequence_numbers: Arc<HashMap<String, i64>> = Arc::new(
        (live.iter())
            .map(|(f, _)| (f.path.clone(), f.sequence_number))
            .collect(),
    );
    let partition_of: HashMap<&str, &Partition> = live
        .iter()
        .map(|(f, _)| (f.path.as_str(), &f.partition))
        .collect();
    let mut groups: HashMap<Option<Partition>, Vec<FileScanTask>> = HashMap::new();
    for task in tasks {
        let partition = partition_of
            .get(task.data_file_path.as_str())
            .map(|p| (*p).clone());
        groups.entry(partition).or_default().push(task);
    }
    let jobs = groups.into_values().map(|tasks| {
        let (plan, key, side) = (plan.clone(), key.clone(), side.clone());
        let (file_io, sequence_numbers) = (table.file_io.clone(), sequence_numbers.clone());
        async move {
            let live = LiveRows::load(&file_io, &tasks, sequence_numbers, key, BATCH_ROWS).await?;
            let mut parts = HashMap::new();
            let mut batches = live.read(tasks);
            while let Some(read) = batches.try_next().await? {
                plan.add(&mut parts, &read.batch, read.keep.as_ref(), &side)?;
            }
            Ok(parts)
        }
    });
    let parts = run_parallel(jobs.collect(), parallel).await?;
    Ok(Digests::collect(label, &plan.columns, parts)?)
}

/// The digests of the Parquet files `pattern` matches (a glob of local paths, or of S3
/// keys after `s3://bucket/`), read `parallel` at a time.
pub async fn digest_files(
    pattern: &str,
    plan: Arc<DigestPlan>,
    parallel: usize,
) -> Result<Digests, VerifyError> {
    let sources = matching(pattern).await?;
    let label = format!("files {pattern} ({} files)", sources.len());
    let jobs = sources
        .into_iter()
        .map(|source| source.digest(plan.clone()));
    let parts = run_parallel(jobs.collect(), parallel).await?;
    Ok(Digests::collect(label, &plan.columns, parts)?)
}
