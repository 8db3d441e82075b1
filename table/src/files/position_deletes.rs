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

/// Writes `deletes` (per data file path, its deleted positions; files and positions in any
/// order, duplicates dropped) of `partition` with `writer` (built on
/// [`position_delete_schema`]), one batch per data file.
pub async fn write_position_deletes(
    writer: PositionDeleteWriter,
    partition: &PartitionKey,
    mut deletes: Vec<(String, Vec<i64>)>,
) -> iceberg::Result<Vec<DataFile>> {
    deletes.retain(|(_, positions)| !positions.is_empty());
    deletes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let single_target = match deletes.as_slice() {
        [(path, _)] => Some(path.clone()),
        _ => None,
    };
    let schema = Arc::new(schema_to_arrow_schema(&position_delete_schema())?);
    let mut writer = writer.build();
    let partition_key = Some(partition.clone());
    for (path, mut positions) in deletes {
        positions.sort_unstable();
        positions.dedup();
        let paths =
            StringArray::from_iter_values(std::iter::repeat_n(path.as_str(), positions.len()));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(paths), Arc::new(Int64Array::from(positions))],
        )
        .map_err(|e| iceberg::Error::new(iceberg::ErrorKind::Unexpected, e.to_string()))?;
        writer.write(&partition_key, &batch).await?;
    }
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
