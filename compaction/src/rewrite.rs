//! Rewriting one file group: its data files are read with their deletes applied (by
//! iceberg's own reader, so equality deletes by sequence number and position deletes by
//! file and position), ordered by the table's key with bounded memory (`sort`), and
//! written as target-sized Parquet files of the group's partition.

use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::TryStreamExt;
use iceberg::arrow::ArrowReaderBuilder;
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
use crate::sort::KeySorter;

/// Rows per batch read and written.
const BATCH_ROWS: usize = 8192;

/// What every group rewrite of one compaction run shares.
#[derive(Clone, Debug)]
pub struct RewriteSettings {
    pub file_io: FileIO,
    pub metadata: Arc<TableMetadata>,
    pub parquet: WriterProperties,
    pub target_file_size: usize,
    /// Columns (by position in the table schema) the rows are ordered by: the key.
    pub key_columns: Vec<usize>,
    /// Memory for sorting before sorted runs are spilled to disk.
    pub sort_budget_bytes: usize,
}

/// The files a group rewrite wrote.
#[derive(Clone, Debug, Default)]
pub struct RewrittenGroup {
    pub files: Vec<DataFile>,
    pub records: u64,
    pub bytes: u64,
    /// Sorted runs spilled to disk (0 when the group fit the sort budget).
    pub spilled_runs: usize,
}

impl RewriteSettings {
    fn schema(&self) -> SchemaRef {
        self.metadata.current_schema().clone()
    }

    fn partition_key(
        &self,
        partition: &crate::planner::PartitionKey,
    ) -> Result<PartitionKey, CompactionError> {
        let spec = self
            .metadata
            .partition_spec_by_id(partition.spec_id)
            .ok_or_else(|| {
                CompactionError::Internal(format!("no partition spec {}", partition.spec_id))
            })?;
        Ok(PartitionKey::new(
            spec.as_ref().clone(),
            self.schema(),
            partition.value.clone(),
        ))
    }
}

/// Reads `tasks` (the group's data files with their deletes, planned on the snapshot the
/// compaction started from) and writes their live rows, ordered by key, as new files.
pub async fn rewrite_group(
    settings: &RewriteSettings,
    partition: &crate::planner::PartitionKey,
    tasks: Vec<FileScanTask>,
) -> Result<RewrittenGroup, CompactionError> {
    let reader =
        ArrowReaderBuilder::new(settings.file_io.clone(), iceberg::Runtime::try_current()?)
            .with_batch_size(BATCH_ROWS)
            // One file at a time: iceberg 0.10.1's shared delete filter can leave a task
        // waiting forever on an equality-delete load started by a concurrent task (it
        // replaces the load's notifier; apache/iceberg-rust#2630). Groups run in parallel,
        // each with its own reader.
        .with_data_file_concurrency_limit(1)
            .build();
    let mut batches = reader
        .read(Box::pin(futures::stream::iter(tasks.into_iter().map(Ok))))?
        .stream();
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
    let mut writer = DataFileWriterBuilder::new(rolling)
        .build(Some(settings.partition_key(partition)?))
        .await?;
    let mut spilled_runs = 0;
    if settings.key_columns.is_empty() {
        while let Some(batch) = batches.try_next().await? {
            writer.write(batch).await?;
        }
    } else {
        let mut sorter: Option<KeySorter> = None;
        while let Some(batch) = batches.try_next().await? {
            let sorter = sorter.get_or_insert_with(|| {
                KeySorter::new(
                    batch.schema(),
                    settings.key_columns.clone(),
                    settings.sort_budget_bytes,
                    BATCH_ROWS,
                )
            });
            sorter.push(batch)?;
        }
        if let Some(sorter) = sorter {
            let sorted = sorter.finish()?;
            spilled_runs = sorted.spilled_runs();
            for batch in sorted {
                let batch: RecordBatch = batch?;
                writer.write(batch).await?;
            }
        }
    }
    let files = writer.close().await?;
    Ok(RewrittenGroup {
        records: files.iter().map(|f| f.record_count()).sum(),
        bytes: files.iter().map(|f| f.file_size_in_bytes()).sum(),
        files,
        spilled_runs,
    })
}
