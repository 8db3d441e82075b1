//! Proving that a group rewrite kept every row before it commits: the digest of the rows
//! read (after deletes) against the digest of the files written, read back
//! (`floe_table::RowDigest`: row count, and per column null count, sum and hash). A
//! mismatch deletes the new files and fails the group, naming what differs. `Fault`
//! breaks a rewrite on purpose, for the tests that show the check refuses it. A
//! conversion's position-delete files are checked the same way.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type, Schema};
use floe_table::RowDigest;
use iceberg::io::FileIO;
use iceberg::spec::DataFile;

use super::deletes::parquet_batches;
use crate::error::CompactionError;

/// A rewrite broken on purpose (for tests): what it does to the first batch it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Leaves out the batch's first live row.
    DropRow,
    /// Adds one to the first live row's first integer column.
    ChangeValue,
}

impl Fault {
    /// `batch` (of which `keep` selects the live rows) broken this way.
    pub(crate) fn apply(
        self,
        batch: RecordBatch,
        keep: Option<BooleanArray>,
    ) -> Result<(RecordBatch, Option<BooleanArray>), CompactionError> {
        let live = |i: usize| keep.as_ref().is_none_or(|k| k.is_valid(i) && k.value(i));
        let Some(first) = (0..batch.num_rows()).find(|&i| live(i)) else {
            return Ok((batch, keep));
        };
        match self {
            Fault::DropRow => {
                let keep = (0..batch.num_rows()).map(|i| Some(i != first && live(i)));
                Ok((batch, Some(keep.collect())))
            }
            Fault::ChangeValue => {
                let mut columns = batch.columns().to_vec();
                let Some(c) = columns.iter().position(|c| {
                    matches!(c.data_type(), DataType::Int32 | DataType::Int64) && c.is_valid(first)
                }) else {
                    return Ok((batch, keep));
                };
                let bump = |i: usize, v: i64| if i == first { v.wrapping_add(1) } else { v };
                let changed: ArrayRef = match columns[c].data_type() {
                    DataType::Int64 => Arc::new(Int64Array::from_iter(
                        (columns[c].as_primitive::<Int64Type>().iter().enumerate())
                            .map(|(i, v)| v.map(|v| bump(i, v))),
                    )),
                    _ => Arc::new(Int32Array::from_iter(
                        (columns[c].as_primitive::<Int32Type>().iter().enumerate())
                            .map(|(i, v)| v.map(|v| bump(i, v as i64) as i32)),
                    )),
                };
                columns[c] = changed;
                Ok((RecordBatch::try_new(batch.schema(), columns)?, keep))
            }
        }
    }
}

/// What a verification found different: the two digests and their differences.
#[derive(Debug)]
pub struct Mismatch {
    /// The rows read, after deletes.
    pub read: RowDigest,
    /// The rows of the files written.
    pub written: RowDigest,
    /// What differs, one line each.
    pub differences: Vec<String>,
}

/// Rows per batch read back: large, since nothing but the digest holds them.
const READ_BACK_ROWS: usize = 65536;

/// The digest of `files`, read back.
pub(crate) async fn written_digest(
    file_io: &FileIO,
    files: &[DataFile],
    schema: &Schema,
) -> Result<RowDigest, CompactionError> {
    let mut digest = RowDigest::new(schema);
    for file in files {
        for batch in parquet_batches(file_io, file.file_path(), READ_BACK_ROWS).await? {
            digest.add(&batch?, None)?;
        }
    }
    Ok(digest)
}

/// Compares the rows read with the files written; a mismatch deletes the files (nothing
/// refers to them yet) and fails.
pub(crate) async fn check(
    file_io: &FileIO,
    read: RowDigest,
    files: &[DataFile],
    schema: &Schema,
) -> Result<(), CompactionError> {
    let written = written_digest(file_io, files, schema).await?;
    let differences = read.differences(&written);
    if differences.is_empty() {
        return Ok(());
    }
    tracing::error!(read = %read, written = %written, "a group's rewrite differs from its input; its files are deleted and nothing is committed");
    for file in files {
        if let Err(e) = file_io.delete(file.file_path()).await {
            tracing::warn!(path = file.file_path(), error = %e, "could not delete a refused compacted file");
        }
    }
    Err(CompactionError::Verification(Box::new(Mismatch {
        read,
        written,
        differences,
    })))
}
