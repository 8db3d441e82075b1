//! Rewriting one file group: its data files are read (by iceberg's reader, which maps
//! columns by field id) with their deletes applied (`deletes`: equality deletes by key and
//! sequence number, position deletes by file, position and sequence number), ordered by
//! the table's key with bounded memory (`sort`), and written as target-sized Parquet files
//! of the group's partition; with `verify`, the files written are read back and checked
//! against the rows read before the group may commit (`verify`).

pub(crate) mod deletes;
mod live;
mod sort;
mod verify;

pub use live::{KeyColumns, LiveBatch, LiveRows};

use sort::KeySorter;
pub(crate) use verify::check;
pub use verify::{Fault, Mismatch};

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use futures::TryStreamExt;
use iceberg::io::FileIO;
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataFile, DataFileFormat, PartitionKey, SchemaRef, TableMetadata};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::file::properties::WriterProperties;
use uuid::Uuid;

use crate::error::CompactionError;
use floe_table::RowDigest;

/// Rows per batch read and written.
pub(crate) const BATCH_ROWS: usize = 8192;

/// What every group rewrite of one compaction run shares.
#[derive(Clone, Debug)]
pub struct RewriteSettings {
    /// Reaches the table's files.
    pub file_io: FileIO,
    /// The metadata the run planned on.
    pub metadata: Arc<TableMetadata>,
    /// How Parquet files are written (from the table's properties).
    pub parquet: WriterProperties,
    /// Size of the files written.
    pub target_file_size: usize,
    /// Columns (by position in the table schema) the rows are ordered by: the key.
    pub key_columns: Vec<usize>,
    /// Memory for sorting before sorted runs are spilled to disk.
    pub sort_budget_bytes: usize,
    /// The data sequence number of every live file of the snapshot read.
    pub sequence_numbers: Arc<HashMap<String, i64>>,
    /// Check the files written against the rows read before answering them.
    pub verify: bool,
    /// Break the rewrite on purpose (tests of the check); `None` in real runs.
    pub fault: Option<Fault>,
}

/// The files a group rewrite wrote.
#[derive(Clone, Debug, Default)]
pub struct RewrittenGroup {
    /// The files written.
    pub files: Vec<DataFile>,
    /// Rows written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Sorted runs spilled to disk (0 when the group fit the sort budget).
    pub spilled_runs: usize,
}

impl RewriteSettings {
    fn schema(&self) -> SchemaRef {
        self.metadata.current_schema().clone()
    }

    pub(crate) fn partition_key(
        &self,
        partition: &floe_table::Partition,
    ) -> Result<PartitionKey, CompactionError> {
        let spec = floe_table::spec_of(&self.metadata, partition.spec_id)?;
        Ok(PartitionKey::new(
            spec.as_ref().clone(),
            self.schema(),
            partition.value.clone(),
        ))
    }
}

type Writer = iceberg::writer::base_writer::data_file_writer::DataFileWriter<
    ParquetWriterBuilder,
    DefaultLocationGenerator,
    DefaultFileNameGenerator,
>;

/// Where a group's live rows go: straight to the writer, or through the key sorter; and
/// the digest of every row taken, when the rewrite is verified.
struct Output {
    writer: Writer,
    sorter: Option<KeySorter>,
    key_columns: Vec<usize>,
    sort_budget_bytes: usize,
    read: Option<RowDigest>,
    fault: Option<Fault>,
}

impl Output {
    /// Takes the rows of `batch` that `keep` selects (all without it).
    async fn push(
        &mut self,
        batch: RecordBatch,
        keep: Option<BooleanArray>,
    ) -> Result<(), CompactionError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if let Some(read) = &mut self.read {
            read.add(&batch, keep.as_ref())?;
        }
        let (batch, keep) = match self.fault.take() {
            Some(fault) => fault.apply(batch, keep)?,
            None => (batch, keep),
        };
        let keep = keep.as_ref();
        if self.key_columns.is_empty() {
            let batch = match keep {
                Some(keep) => filter_record_batch(&batch, keep)?,
                None => batch,
            };
            if batch.num_rows() > 0 {
                self.writer.write(batch).await?;
            }
            return Ok(());
        }
        let sorter = self.sorter.get_or_insert_with(|| {
            KeySorter::new(
                batch.schema(),
                self.key_columns.clone(),
                self.sort_budget_bytes,
                BATCH_ROWS,
            )
        });
        Ok(sorter.push_kept(batch, keep)?)
    }

    /// Closes the files; with a digest of the rows read, checks the files against it.
    async fn finish(
        mut self,
        settings: &RewriteSettings,
        arrow: &arrow::datatypes::Schema,
    ) -> Result<RewrittenGroup, CompactionError> {
        let mut spilled_runs = 0;
        if let Some(sorter) = self.sorter.take() {
            let sorted = sorter.finish()?;
            spilled_runs = sorted.spilled_runs();
            for batch in sorted {
                self.writer.write(batch?).await?;
            }
        }
        let files = self.writer.close().await?;
        if let Some(read) = self.read {
            verify::check(&settings.file_io, read, &files, arrow).await?;
        }
        Ok(RewrittenGroup {
            records: files.iter().map(|f| f.record_count()).sum(),
            bytes: files.iter().map(|f| f.file_size_in_bytes()).sum(),
            files,
            spilled_runs,
        })
    }
}

/// Reads `tasks` (the group's data files with their deletes, planned on the snapshot the
/// compaction started from) and writes their live rows, ordered by key, as new files.
pub async fn rewrite_group(
    settings: &RewriteSettings,
    partition: &floe_table::Partition,
    tasks: Vec<FileScanTask>,
) -> Result<RewrittenGroup, CompactionError> {
    let names = DefaultFileNameGenerator::new(
        format!("compact-{}", Uuid::now_v7()),
        None,
        DataFileFormat::Parquet,
    );
    let rolling = RollingFileWriterBuilder::new(
        ParquetWriterBuilder::new(settings.parquet.clone(), settings.schema()),
        settings.target_file_size,
        settings.file_io.clone(),
        DefaultLocationGenerator::new(&settings.metadata)?,
        names,
    );
    let writer = DataFileWriterBuilder::new(rolling)
        .build(Some(settings.partition_key(partition)?))
        .await?;
    let schema = settings.schema();
    let arrow = iceberg::arrow::schema_to_arrow_schema(&schema)?;
    let mut out = Output {
        writer,
        sorter: None,
        key_columns: settings.key_columns.clone(),
        sort_budget_bytes: settings.sort_budget_bytes,
        read: settings.verify.then(|| RowDigest::new(&arrow)),
        fault: settings.fault,
    };
    let live = LiveRows::load(
        &settings.file_io,
        &tasks,
        settings.sequence_numbers.clone(),
        KeyColumns::of(&schema, &arrow),
        BATCH_ROWS,
    )
    .await?;
    let mut batches = live.read(tasks);
    while let Some(live) = batches.try_next().await? {
        out.push(live.batch, live.keep).await?;
    }
    out.finish(settings, &arrow).await
}
