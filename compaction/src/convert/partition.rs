//! One partition's conversion, the I/O part: the positions of the rows its equality
//! deletes hide (reading only the key columns of the data files they may apply to, the
//! deletes loaded once into a hash map by key, as a compaction loads them) and the
//! partition's position deletes (folded in), written as position-delete files, which are
//! read back and checked against the positions found before they may commit.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Schema;
use floe_table::{
    position_delete_schema, write_position_deletes, DeleteConversion, Partition, RowDigest,
};

use futures::TryStreamExt;
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataContentType, DataFile, DataFileFormat};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use uuid::Uuid;

use crate::error::CompactionError;
use crate::rewrite::deletes::position_deletes;
use crate::rewrite::{check, Fault, KeyColumns, LiveRows, RewriteSettings, BATCH_ROWS};

/// For every data file of `read` (the conversion's data files, as the scan of its
/// snapshot planned them), the positions of its rows that the converted equality deletes
/// hide, ascending and without duplicates; `None` when they are on other columns than the
/// key.
pub async fn hidden_positions(
    settings: &RewriteSettings,
    conversion: &DeleteConversion,
    read: Vec<FileScanTask>,
) -> Result<Option<Vec<(String, Vec<i64>)>>, CompactionError> {
    // The key columns in the schema's order, which the projected read keeps whichever
    // order it follows.
    let schema = settings.metadata.current_schema();
    let fields = schema.as_struct().fields();
    let mut key_columns = settings.key_columns.clone();
    key_columns.sort_unstable();
    let key_field_ids: Vec<i32> = key_columns.iter().map(|&c| fields[c].id).collect();
    let arrow = iceberg::arrow::schema_to_arrow_schema(schema)?;
    let key_types: Vec<_> = key_columns
        .iter()
        .map(|&c| arrow.field(c).data_type().clone())
        .collect();
    // Only the key columns, and only the converted deletes: position deletes and equality
    // deletes of other partitions stay as they are.
    let tasks: Vec<FileScanTask> = read
        .into_iter()
        .map(|mut task| {
            task.deletes.retain(|d| {
                d.file_type == DataContentType::EqualityDeletes
                    && conversion.converted.contains(&d.file_path)
            });
            task.project_field_ids = key_field_ids.clone();
            task
        })
        .collect();
    let key = KeyColumns {
        field_ids: key_field_ids,
        positions: (0..key_columns.len()).collect(),
        types: key_types,
    };
    let live = LiveRows::load(
        &settings.file_io,
        &tasks,
        settings.sequence_numbers.clone(),
        key,
        BATCH_ROWS,
    )
    .await?;
    if !live.applies_deletes() {
        return Ok(None);
    }
    let mut hidden: HashMap<String, Vec<i64>> = HashMap::new();
    let mut batches = live.read(tasks);
    while let Some(read) = batches.try_next().await? {
        let Some(keep) = read.keep else { continue };
        let positions = (keep.iter().enumerate())
            .filter(|(_, kept)| *kept == Some(false))
            .map(|(i, _)| read.first_row + i as i64);
        let mut positions = positions.peekable();
        if positions.peek().is_some() {
            hidden
                .entry(read.path.to_string())
                .or_default()
                .extend(positions);
        }
    }
    // The partition's position deletes, folded in.
    for folded in &conversion.folded {
        for (paths, positions) in position_deletes(&settings.file_io, folded).await? {
            for i in 0..positions.len() {
                let at = hidden.entry(paths.value(i).to_string()).or_default();
                at.push(positions.value(i));
            }
        }
    }
    let mut hidden: Vec<(String, Vec<i64>)> = hidden.into_iter().collect();
    for (_, positions) in &mut hidden {
        positions.sort_unstable();
        positions.dedup();
    }
    Ok(Some(hidden))
}

/// Writes `positions` (per data file, ascending, without duplicates) of `partition` as
/// position-delete files; with `settings.verify`, reads them back and checks them against
/// the positions given before answering them.
pub async fn write_positions(
    settings: &RewriteSettings,
    partition: &Partition,
    mut positions: Vec<(String, Vec<i64>)>,
) -> Result<Vec<DataFile>, CompactionError> {
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let schema = std::sync::Arc::new(position_delete_schema());
    let arrow = iceberg::arrow::schema_to_arrow_schema(&schema)?;
    let read = match settings.verify {
        true => Some(position_digest(&arrow, &positions)?),
        false => None,
    };
    if let Some(fault) = settings.fault {
        break_positions(fault, &mut positions);
    }
    let names = DefaultFileNameGenerator::new(
        format!("deletes-{}", Uuid::now_v7()),
        None,
        DataFileFormat::Parquet,
    );
    let writer = RollingFileWriterBuilder::new(
        ParquetWriterBuilder::new(settings.parquet.clone(), schema),
        settings.target_file_size,
        settings.file_io.clone(),
        DefaultLocationGenerator::new(&settings.metadata)?,
        names,
    );
    let key = settings.partition_key(partition)?;
    let files = write_position_deletes(writer, &key, positions).await?;
    if let Some(read) = read {
        check(&settings.file_io, read, &files, &arrow).await?;
    }
    Ok(files)
}

/// The digest of `positions` as the rows (`file_path`, `pos`) of position-delete files
/// of schema `arrow`.
fn position_digest(
    arrow: &Schema,
    positions: &[(String, Vec<i64>)],
) -> Result<RowDigest, CompactionError> {
    let schema = Arc::new(arrow.clone());
    let mut digest = RowDigest::new(arrow);
    for (path, at) in positions {
        let paths = StringArray::from_iter_values(std::iter::repeat_n(path.as_str(), at.len()));
        let at = Int64Array::from(at.clone());
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(paths), Arc::new(at)])?;
        digest.add(&batch, None)?;
    }
    Ok(digest)
}

/// Breaks the positions on purpose (tests of the check): the first one is left out, or
/// moved one row on.
fn break_positions(fault: Fault, positions: &mut [(String, Vec<i64>)]) {
    let Some((_, first)) = positions.iter_mut().find(|(_, p)| !p.is_empty()) else {
        return;
    };
    match fault {
        Fault::DropRow => {
            first.remove(0);
        }
        Fault::ChangeValue => first[0] += 1,
    }
}
