//! The live rows of a set of data files (one partition's, planned on one snapshot): each
//! file read by iceberg's reader, which maps columns by field id and reads only the
//! task's projected fields, with the mask of the rows no delete hides (`deletes`: the
//! delete files loaded once, equality deletes by key and sequence number, position
//! deletes by file, position and sequence number). The compactor rewrites these rows,
//! `convert-deletes` finds the hidden ones, `floe verify` digests them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Schema as ArrowSchema};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use iceberg::arrow::{ArrowReader, ArrowReaderBuilder};
use iceberg::io::FileIO;
use iceberg::scan::FileScanTask;
use iceberg::spec::Schema;
use parquet::arrow::PARQUET_FIELD_ID_META_KEY;

use super::deletes::GroupDeletes;
use crate::error::CompactionError;

/// The key (the schema's identifier fields) as the batches read hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyColumns {
    /// The identifier field ids, in the schema's identifier order.
    pub field_ids: Vec<i32>,
    /// Their positions among the columns read.
    pub positions: Vec<usize>,
    /// Their Arrow types.
    pub types: Vec<DataType>,
}

impl KeyColumns {
    /// The key of `schema` among the columns of `read` (the Arrow schema of the batches
    /// read, whose fields carry their field ids); fields of the key not read are left out.
    pub fn of(schema: &Schema, read: &ArrowSchema) -> Self {
        let field_id = |f: &arrow::datatypes::Field| {
            f.metadata()
                .get(PARQUET_FIELD_ID_META_KEY)
                .and_then(|v| v.parse::<i32>().ok())
        };
        let mut key = KeyColumns {
            field_ids: Vec::new(),
            positions: Vec::new(),
            types: Vec::new(),
        };
        for id in schema.identifier_field_ids() {
            if let Some(at) = read.fields().iter().position(|f| field_id(f) == Some(id)) {
                key.field_ids.push(id);
                key.positions.push(at);
                key.types.push(read.field(at).data_type().clone());
            }
        }
        key
    }
}

/// One batch of a data file, with the rows that stay.
pub struct LiveBatch {
    /// The data file.
    pub path: Arc<str>,
    /// The position in the file of the batch's first row (when the deletes are applied
    /// here: iceberg's reader leaves out the rows it hides).
    pub first_row: i64,
    /// The rows read.
    pub batch: RecordBatch,
    /// The rows no delete hides; `None` when iceberg's reader applied the deletes.
    pub keep: Option<BooleanArray>,
}

/// Reads the live rows of data files, their deletes loaded once.
pub struct LiveRows {
    file_io: FileIO,
    sequence_numbers: Arc<HashMap<String, i64>>,
    key: KeyColumns,
    batch_rows: usize,
    /// `None` when an equality delete is on other columns than the key: iceberg's reader
    /// applies the deletes then.
    deletes: Option<GroupDeletes>,
}

/// Iceberg's reader over `file_io`, reading batches of `batch_rows`.
pub(crate) fn reader(file_io: &FileIO, batch_rows: usize) -> Result<ArrowReader, CompactionError> {
    Ok(
        ArrowReaderBuilder::new(file_io.clone(), iceberg::Runtime::try_current()?)
            .with_batch_size(batch_rows)
            // One file at a time: iceberg 0.10.1's shared delete filter can leave a task
            // waiting forever on an equality-delete load started by a concurrent task (it
            // replaces the load's notifier; apache/iceberg-rust#2630).
            .with_data_file_concurrency_limit(1)
            .build(),
    )
}

impl LiveRows {
    /// Loads the deletes of `tasks`; `sequence_numbers` holds the data sequence number of
    /// every live file of the snapshot the tasks were planned on.
    pub async fn load(
        file_io: &FileIO,
        tasks: &[FileScanTask],
        sequence_numbers: Arc<HashMap<String, i64>>,
        key: KeyColumns,
        batch_rows: usize,
    ) -> Result<Self, CompactionError> {
        let deletes = GroupDeletes::load(
            file_io,
            tasks,
            &sequence_numbers,
            &key.field_ids,
            &key.types,
        )
        .await?;
        Ok(Self {
            file_io: file_io.clone(),
            sequence_numbers,
            key,
            batch_rows,
            deletes,
        })
    }

    /// Whether the deletes are applied here, by key and position (`keep` masks and row
    /// positions in each batch), rather than by iceberg's reader (equality deletes on
    /// other columns than the key).
    pub fn applies_deletes(&self) -> bool {
        self.deletes.is_some()
    }

    /// The batches of `tasks`, file after file, each with the rows that stay.
    pub fn read(
        &self,
        tasks: Vec<FileScanTask>,
    ) -> BoxStream<'_, Result<LiveBatch, CompactionError>> {
        let files = stream::iter(tasks).map(move |mut task| {
            let path: Arc<str> = Arc::from(task.data_file_path.as_str());
            let mut filter = None;
            if let Some(deletes) = &self.deletes {
                let data_seq = match self.sequence_numbers.get(&*path) {
                    Some(seq) => *seq,
                    None if deletes.is_empty() => 0,
                    None => {
                        return Err(CompactionError::Internal(format!(
                            "no sequence number for {path}"
                        )))
                    }
                };
                filter = Some((
                    deletes,
                    data_seq,
                    deletes.deleted_positions(&path, data_seq),
                ));
                task.deletes.clear();
            }
            let batches = reader(&self.file_io, self.batch_rows)?
                .read(Box::pin(stream::once(async { Ok(task) })))?
                .stream();
            let mut row = 0i64;
            Ok(batches
                .map_err(CompactionError::from)
                .and_then(move |batch| {
                    let first_row = row;
                    row += batch.num_rows() as i64;
                    let keep = match &filter {
                        None => Ok(None),
                        Some((deletes, data_seq, deleted)) => deletes
                            .keep(&batch, &self.key.positions, first_row, *data_seq, deleted)
                            .map(Some),
                    };
                    let path = path.clone();
                    futures::future::ready(keep.map(|keep| LiveBatch {
                        path,
                        first_row,
                        batch,
                        keep,
                    }))
                }))
        });
        files.try_flatten().boxed()
    }
}
