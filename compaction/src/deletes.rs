//! The deletes of one file group, applied while rewriting it: equality deletes as a hash
//! map from key to the highest sequence number that deletes it (a row of data sequence
//! number s is deleted when that number is above s), position deletes as the positions
//! per data file with their sequence numbers (they apply at or above s). Loading each
//! delete file once and looking rows up by hash is what makes rewriting fast: iceberg's
//! reader turns equality deletes into a predicate evaluated term by term.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use iceberg::io::FileIO;
use iceberg::scan::FileScanTask;
use iceberg::spec::DataContentType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::CompactionError;

const FIELD_ID: &str = "PARQUET:field_id";

/// A group's equality and position deletes.
pub struct GroupDeletes {
    key_types: Vec<DataType>,
    converter: RowConverter,
    /// Key (row format) -> highest sequence number of an equality delete of it.
    equality: HashMap<Box<[u8]>, i64>,
    /// Data file -> (position, sequence number of the delete).
    positions: HashMap<String, Vec<(i64, i64)>>,
}

fn column_by_field_id(batch: &RecordBatch, id: i32) -> Option<ArrayRef> {
    let schema = batch.schema();
    let index = schema
        .fields()
        .iter()
        .position(|f| f.metadata().get(FIELD_ID).and_then(|v| v.parse().ok()) == Some(id))?;
    Some(batch.column(index).clone())
}

async fn read_all(file_io: &FileIO, path: &str) -> Result<Vec<RecordBatch>, CompactionError> {
    let bytes = file_io.new_input(path)?.read().await?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(8192).build())
        .map_err(|e| CompactionError::Internal(format!("reading delete file {path}: {e}")))?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

impl GroupDeletes {
    /// Loads the deletes of `tasks`. `sequence_numbers` holds the data sequence number
    /// of every file; the key is the fields `key_field_ids` of types `key_types`. Answers
    /// `None` when an equality delete is on other columns than the key (iceberg's reader
    /// must then apply it).
    pub async fn load(
        file_io: &FileIO,
        tasks: &[FileScanTask],
        sequence_numbers: &HashMap<String, i64>,
        key_field_ids: &[i32],
        key_types: &[DataType],
    ) -> Result<Option<Self>, CompactionError> {
        let converter = RowConverter::new(
            key_types
                .iter()
                .map(|t| SortField::new(t.clone()))
                .collect(),
        )?;
        let mut deletes = Self {
            key_types: key_types.to_vec(),
            converter,
            equality: HashMap::new(),
            positions: HashMap::new(),
        };
        let group: HashSet<&str> = tasks.iter().map(|t| t.data_file_path.as_str()).collect();
        let mut seen = HashSet::new();
        for delete in tasks.iter().flat_map(|t| &t.deletes) {
            if !seen.insert(delete.file_path.clone()) {
                continue;
            }
            let seq = *sequence_numbers.get(&delete.file_path).ok_or_else(|| {
                CompactionError::Internal(format!("no sequence number for {}", delete.file_path))
            })?;
            match delete.file_type {
                DataContentType::EqualityDeletes => {
                    let ids = delete.equality_ids.clone().unwrap_or_default();
                    if key_field_ids.is_empty() || ids.as_slice() != key_field_ids {
                        return Ok(None);
                    }
                    for batch in read_all(file_io, &delete.file_path).await? {
                        let mut columns = Vec::new();
                        for (id, t) in key_field_ids.iter().zip(key_types) {
                            let column = column_by_field_id(&batch, *id).ok_or_else(|| {
                                CompactionError::Internal(format!(
                                    "equality delete file {} lacks field {id}",
                                    delete.file_path
                                ))
                            })?;
                            columns.push(cast(&column, t)?);
                        }
                        let rows = deletes.converter.convert_columns(&columns)?;
                        for row in rows.iter() {
                            let entry = deletes.equality.entry(row.as_ref().into()).or_insert(seq);
                            *entry = (*entry).max(seq);
                        }
                    }
                }
                DataContentType::PositionDeletes => {
                    for batch in read_all(file_io, &delete.file_path).await? {
                        let (Some(paths), Some(positions)) = (
                            column_by_field_id(&batch, 2147483546),
                            column_by_field_id(&batch, 2147483545),
                        ) else {
                            return Err(CompactionError::Internal(format!(
                                "position delete file {} lacks file_path or pos",
                                delete.file_path
                            )));
                        };
                        let paths = cast(&paths, &DataType::Utf8)?;
                        let paths = paths.as_any().downcast_ref::<StringArray>().expect("utf8");
                        let positions = cast(&positions, &DataType::Int64)?;
                        let positions = positions
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .expect("int64");
                        for i in 0..batch.num_rows() {
                            let path = paths.value(i);
                            if group.contains(path) {
                                deletes
                                    .positions
                                    .entry(path.to_string())
                                    .or_default()
                                    .push((positions.value(i), seq));
                            }
                        }
                    }
                }
                DataContentType::Data => {}
            }
        }
        Ok(Some(deletes))
    }

    /// No deletes at all.
    pub fn is_empty(&self) -> bool {
        self.equality.is_empty() && self.positions.is_empty()
    }

    /// Positions of `path` deleted for data of sequence number `data_seq`.
    pub fn deleted_positions(&self, path: &str, data_seq: i64) -> HashSet<i64> {
        self.positions.get(path).map_or_else(HashSet::new, |v| {
            v.iter()
                .filter(|(_, seq)| *seq >= data_seq)
                .map(|(pos, _)| *pos)
                .collect()
        })
    }

    /// Which rows of `batch` (rows `first_row..` of a data file of sequence number
    /// `data_seq`, key columns `key_columns`) stay.
    pub fn keep(
        &self,
        batch: &RecordBatch,
        key_columns: &[usize],
        first_row: i64,
        data_seq: i64,
        deleted_positions: &HashSet<i64>,
    ) -> Result<BooleanArray, CompactionError> {
        let hidden_by_key = if self.equality.is_empty() {
            None
        } else {
            let mut columns = Vec::new();
            for (&c, t) in key_columns.iter().zip(&self.key_types) {
                columns.push(cast(batch.column(c), t)?);
            }
            Some(self.converter.convert_columns(&columns)?)
        };
        Ok((0..batch.num_rows())
            .map(|i| {
                let by_position = deleted_positions.contains(&(first_row + i as i64));
                let by_key = hidden_by_key.as_ref().is_some_and(|rows| {
                    self.equality
                        .get(rows.row(i).as_ref())
                        .is_some_and(|seq| *seq > data_seq)
                });
                Some(!(by_position || by_key))
            })
            .collect())
    }
}
