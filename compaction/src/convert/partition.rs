//! One partition's conversion, the I/O part: the positions of the rows its equality
//! deletes hide (reading only the key columns of the data files they may apply to, the
//! deletes loaded once into a hash map by key, as a compaction loads them) and the
//! partition's position deletes (folded in), written as position-delete files.

use floe_table::{position_delete_schema, write_position_deletes, DeleteConversion, Partition};
use std::collections::HashMap;

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
use crate::rewrite::deletes::{position_deletes, GroupDeletes};
use crate::rewrite::{reader, RewriteSettings};

/// For every data file of `read` (the conversion's data files, as the scan of its
/// snapshot planned them), the positions of its rows that the converted equality deletes
/// hide, ascending; `None` when they are on other columns than the key.
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
    // Only the converted deletes: position deletes and equality deletes of other
    // partitions stay as they are.
    let tasks: Vec<FileScanTask> = read
        .into_iter()
        .map(|mut task| {
            task.deletes.retain(|d| {
                d.file_type == DataContentType::EqualityDeletes
                    && conversion.converted.contains(&d.file_path)
            });
            task
        })
        .collect();
    let deletes = GroupDeletes::load(
        &settings.file_io,
        &tasks,
        &settings.sequence_numbers,
        &key_field_ids,
        &key_types,
    )
    .await?;
    let Some(deletes) = deletes else {
        return Ok(None);
    };
    let key_positions: Vec<usize> = (0..key_field_ids.len()).collect();
    let mut hidden: HashMap<String, Vec<i64>> = HashMap::new();
    for mut task in tasks {
        let path = task.data_file_path.clone();
        let data_seq = *settings
            .sequence_numbers
            .get(&path)
            .ok_or_else(|| CompactionError::Internal(format!("no sequence number for {path}")))?;
        task.deletes.clear();
        task.project_field_ids = key_field_ids.clone();
        let mut batches = reader(settings)?
            .read(Box::pin(futures::stream::once(async { Ok(task) })))?
            .stream();
        let mut row = 0i64;
        let mut positions = Vec::new();
        while let Some(batch) = batches.try_next().await? {
            let keep = deletes.keep(&batch, &key_positions, row, data_seq, &[])?;
            positions.extend(
                keep.iter()
                    .enumerate()
                    .filter(|(_, kept)| *kept == Some(false))
                    .map(|(i, _)| row + i as i64),
            );
            row += batch.num_rows() as i64;
        }
        if !positions.is_empty() {
            hidden.entry(path).or_default().extend(positions);
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
    Ok(Some(hidden.into_iter().collect()))
}

/// Writes `positions` (per data file) of `partition` as position-delete files.
pub async fn write_positions(
    settings: &RewriteSettings,
    partition: &Partition,
    positions: Vec<(String, Vec<i64>)>,
) -> Result<Vec<DataFile>, CompactionError> {
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let names = DefaultFileNameGenerator::new(
        format!("deletes-{}", Uuid::now_v7()),
        None,
        DataFileFormat::Parquet,
    );
    let schema = std::sync::Arc::new(position_delete_schema());
    let writer = RollingFileWriterBuilder::new(
        ParquetWriterBuilder::new(settings.parquet.clone(), schema),
        settings.target_file_size,
        settings.file_io.clone(),
        DefaultLocationGenerator::new(&settings.metadata)?,
        names,
    );
    let key = settings.partition_key(partition)?;
    Ok(write_position_deletes(writer, &key, positions).await?)
}
