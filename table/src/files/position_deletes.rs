//! Writing position deletes: one partition's `(file_path, pos)` pairs, ordered by path and
//! then position as the spec orders them, as position-delete files that name their one
//! data file (`referenced_data_file`) when they point at only one.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{DataContentType, DataFile, PartitionKey};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;

use super::position_delete_schema;

/// A rolling Parquet writer of the position-delete schema, as the caller configures it.
pub type PositionDeleteWriter = RollingFileWriterBuilder<
    ParquetWriterBuilder,
    DefaultLocationGenerator,
    DefaultFileNameGenerator,
>;

/// Writes `deletes` (data file path, position; in any order, no duplicates needed) of
/// `partition` with `writer` (built on [`position_delete_schema`]).
pub async fn write_position_deletes(
    writer: PositionDeleteWriter,
    partition: &PartitionKey,
    mut deletes: Vec<(&str, i64)>,
) -> iceberg::Result<Vec<DataFile>> {
    deletes.sort_unstable();
    deletes.dedup();
    let single_target = deletes
        .first()
        .filter(|(first, _)| deletes.iter().all(|(p, _)| p == first))
        .map(|(p, _)| p.to_string());
    let schema = Arc::new(schema_to_arrow_schema(&position_delete_schema())?);
    let paths: StringArray = deletes.iter().map(|(p, _)| Some(*p)).collect();
    let positions: Int64Array = deletes.iter().map(|(_, pos)| Some(*pos)).collect();
    let batch = RecordBatch::try_new(schema, vec![Arc::new(paths), Arc::new(positions)])
        .map_err(|e| iceberg::Error::new(iceberg::ErrorKind::Unexpected, e.to_string()))?;
    let mut writer = writer.build();
    writer.write(&Some(partition.clone()), &batch).await?;
    let mut files = Vec::new();
    for mut builder in writer.close().await? {
        builder
            .content(DataContentType::PositionDeletes)
            .partition(partition.data().clone())
            .partition_spec_id(partition.spec().spec_id())
            .referenced_data_file(single_target.clone());
        files.push(
            builder
                .build()
                .map_err(|e| iceberg::Error::new(iceberg::ErrorKind::Unexpected, e.to_string()))?,
        );
    }
    Ok(files)
}
