//! The writer of one partition (one bucket) for one checkpoint: its data files, its
//! equality-delete file (key columns only) and its position-delete file, with the key
//! index that decides between the two kinds of delete, and the bucket's key hull that
//! leaves out the equality deletes that cannot match. Partitions are independent (rows of
//! one key never leave theirs), so each runs in its own task.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Int64Type, SchemaRef as ArrowSchemaRef};
use arrow::row::{RowConverter, SortField};
use iceberg::io::FileIO;
use iceberg::spec::{DataFile, PartitionKey, SchemaRef, Struct};
use iceberg::writer::base_writer::data_file_writer::{DataFileWriter, DataFileWriterBuilder};
use iceberg::writer::base_writer::equality_delete_writer::{
    EqualityDeleteFileWriter, EqualityDeleteFileWriterBuilder, EqualityDeleteWriterConfig,
};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{CurrentFileStatus, IcebergWriter, IcebergWriterBuilder};
use parquet::file::properties::WriterProperties;

use floe_table::write_position_deletes;

use super::key_hull::{ColumnBounds, KeyColumns, KeyHull, SkippedKeys};
use super::key_index::{Hide, KeyIndex, RowPosition};
use crate::changes::RowKind;
use crate::error::UpsertError;

type Rolling = RollingFileWriterBuilder<
    ParquetWriterBuilder,
    DefaultLocationGenerator,
    DefaultFileNameGenerator,
>;

/// What every partition writer of one table shares.
#[derive(Debug)]
pub struct FileSettings {
    pub file_io: FileIO,
    pub locations: DefaultLocationGenerator,
    pub parquet: WriterProperties,
    pub target_file_size: usize,
    pub table_schema: SchemaRef,
    /// The table's Arrow schema, with field ids.
    pub table_arrow: ArrowSchemaRef,
    pub key_columns: Vec<usize>,
    pub key_field_ids: Vec<i32>,
    /// The key columns as the key hull reads them.
    pub hull_columns: KeyColumns,
    pub key_schema: SchemaRef,
    pub key_arrow: ArrowSchemaRef,
    pub pos_schema: SchemaRef,
    pub index_limit_bytes: usize,
}

impl FileSettings {
    fn rolling(&self, schema: SchemaRef, names: &DefaultFileNameGenerator) -> Rolling {
        RollingFileWriterBuilder::new(
            ParquetWriterBuilder::new(self.parquet.clone(), schema),
            self.target_file_size,
            self.file_io.clone(),
            self.locations.clone(),
            names.clone(),
        )
    }
}

/// Counts of what one partition wrote in a checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartitionCounts {
    pub rows: u64,
    pub equality_deletes: u64,
    /// Equality deletes left out: the bucket's hull proves no older row holds the key.
    pub skipped_deletes: u64,
    pub position_deletes: u64,
}

/// What a partition's closed checkpoint hands to the commit.
pub struct ClosedPartition {
    pub files: Vec<DataFile>,
    pub counts: PartitionCounts,
    /// The equality deletes it left out, if any.
    pub left_out: Option<LeftOutDeletes>,
}

/// The equality deletes one partition of a checkpoint left out: the keys (the key
/// columns' rows, and their integer-like values that the commit checks), and the
/// partition, for the file the commit writes after all should a data file it did not
/// know of hold one of them.
pub struct LeftOutDeletes {
    pub partition: PartitionKey,
    pub keys: SkippedKeys,
    pub rows: Vec<RecordBatch>,
}

impl LeftOutDeletes {
    /// Writes the left-out keys as the partition's equality-delete file(s).
    pub async fn write(
        self,
        settings: &FileSettings,
        names: &DefaultFileNameGenerator,
    ) -> Result<Vec<DataFile>, UpsertError> {
        let mut writer = equality_writer(settings, names, self.partition).await?;
        for rows in self.rows {
            writer.write(rows).await?;
        }
        Ok(writer.close().await?)
    }
}

type EqualityWriter = EqualityDeleteFileWriter<
    ParquetWriterBuilder,
    DefaultLocationGenerator,
    DefaultFileNameGenerator,
>;

/// A writer of a partition's equality-delete files: the key columns only.
async fn equality_writer(
    settings: &FileSettings,
    names: &DefaultFileNameGenerator,
    partition: PartitionKey,
) -> Result<EqualityWriter, UpsertError> {
    let config = EqualityDeleteWriterConfig::new(
        settings.key_field_ids.clone(),
        settings.key_schema.clone(),
    )?;
    let writer = EqualityDeleteFileWriterBuilder::new(
        settings.rolling(settings.key_schema.clone(), names),
        config,
    )
    .build(Some(partition))
    .await?;
    Ok(writer)
}

pub struct PartitionWriter {
    settings: Arc<FileSettings>,
    names: DefaultFileNameGenerator,
    partition: PartitionKey,
    data: DataFileWriter<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>,
    equality: EqualityWriter,
    /// Paths of this checkpoint's data files; [`RowPosition::file`] indexes it.
    data_paths: Vec<String>,
    positions: Vec<RowPosition>,
    index: KeyIndex,
    keys: RowConverter,
    counts: PartitionCounts,
    /// The keys the bucket may hold from before this checkpoint.
    hull: KeyHull,
    /// The keys this checkpoint wrote.
    written: KeyHull,
    skipped: SkippedKeys,
    skipped_rows: Vec<RecordBatch>,
}

impl PartitionWriter {
    /// The writer of `partition`, whose older rows may hold the keys of `hull`.
    pub async fn new(
        settings: Arc<FileSettings>,
        names: DefaultFileNameGenerator,
        partition: PartitionKey,
        hull: KeyHull,
    ) -> Result<Self, UpsertError> {
        let data =
            DataFileWriterBuilder::new(settings.rolling(settings.table_schema.clone(), &names))
                .build(Some(partition.clone()))
                .await?;
        let equality = equality_writer(&settings, &names, partition.clone()).await?;
        let keys = RowConverter::new(
            settings
                .key_arrow
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let index = KeyIndex::new(settings.index_limit_bytes);
        Ok(Self {
            settings,
            names,
            partition,
            data,
            equality,
            data_paths: Vec::new(),
            positions: Vec::new(),
            index,
            keys,
            counts: PartitionCounts::default(),
            hull,
            written: KeyHull::Empty,
            skipped: SkippedKeys::default(),
            skipped_rows: Vec::new(),
        })
    }

    /// The partition tuple.
    pub fn partition(&self) -> &Struct {
        self.partition.data()
    }

    /// Memory held by the key index, in bytes.
    pub fn index_bytes(&self) -> usize {
        self.index.bytes()
    }

    /// Distinct keys in the key index.
    pub fn index_keys(&self) -> usize {
        self.index.len()
    }

    /// Frees the key index: the checkpoint takes no more rows, and closing its files
    /// needs only the positions already recorded. Answers the hull of the keys it wrote.
    pub fn seal(mut self) -> (Self, KeyHull) {
        self.index.clear();
        let written = std::mem::take(&mut self.written);
        (self, written)
    }

    /// Writes rows of this partition (schema: `changes::input_schema`), in order.
    pub async fn write(&mut self, rows: RecordBatch, kinds: &[RowKind]) -> Result<(), UpsertError> {
        let written: UInt32Array = (0..kinds.len() as u32)
            .filter(|&i| kinds[i as usize].writes_row())
            .collect();
        let mut first = RowPosition { file: 0, pos: 0 };
        if !written.is_empty() {
            let data = if written.len() == rows.num_rows() {
                rows.clone()
            } else {
                take_record_batch(&rows, &written)?
            };
            // The table's schema: checks that required columns hold no nulls.
            let data =
                RecordBatch::try_new(self.settings.table_arrow.clone(), data.columns().to_vec())?;
            let n = data.num_rows() as u64;
            self.data.write(data).await?;
            // A batch never spans two files: the rolling writer rolls before a batch.
            let path = self.data.current_file_path();
            if self.data_paths.last() != Some(&path) {
                self.data_paths.push(path);
            }
            first = RowPosition {
                file: (self.data_paths.len() - 1) as u32,
                pos: self.data.current_row_num() as u64 - n,
            };
            self.counts.rows += n;
        }
        let key_columns: Vec<_> = self
            .settings
            .key_columns
            .iter()
            .map(|&i| rows.column(i).clone())
            .collect();
        let keys = self.keys.convert_columns(&key_columns)?;
        let integers = integer_keys(&key_columns, &self.settings.hull_columns);
        let mut key = Vec::with_capacity(integers.len());
        let mut point: Vec<ColumnBounds> = Vec::with_capacity(integers.len());
        let mut equality_rows = Vec::new();
        let mut skipped_rows = Vec::new();
        let mut next = first;
        for (i, kind) in kinds.iter().enumerate() {
            let encoded = keys.row(i);
            key_at(&integers, i, &mut key);
            let hide = match kind {
                RowKind::Insert | RowKind::UpdateAfter => {
                    let hide = self.index.upsert(encoded.as_ref(), next)?;
                    next.pos += 1;
                    point.clear();
                    point.extend(key.iter().map(|v| v.map(|v| (v, v))));
                    self.written.widen(&point);
                    hide
                }
                RowKind::Delete => self.index.delete(encoded.as_ref())?,
                RowKind::UpdateBefore => Hide::Nothing,
            };
            match hide {
                Hide::EqualityDelete if self.hull.may_hold(&key) => equality_rows.push(i as u32),
                Hide::EqualityDelete => {
                    self.skipped.push(&key);
                    skipped_rows.push(i as u32);
                }
                Hide::PositionDelete(at) => self.positions.push(at),
                Hide::Nothing => {}
            }
        }
        if equality_rows.is_empty() && skipped_rows.is_empty() {
            return Ok(());
        }
        let keys = RecordBatch::try_new(self.settings.key_arrow.clone(), key_columns)?;
        if !equality_rows.is_empty() {
            let deleted = take_record_batch(&keys, &UInt32Array::from(equality_rows))?;
            self.counts.equality_deletes += deleted.num_rows() as u64;
            self.equality.write(deleted).await?;
        }
        if !skipped_rows.is_empty() {
            let left_out = take_record_batch(&keys, &UInt32Array::from(skipped_rows))?;
            self.counts.skipped_deletes += left_out.num_rows() as u64;
            self.skipped_rows.push(left_out);
        }
        Ok(())
    }

    /// Finishes the partition's files: its data files, then its delete files.
    pub async fn close(mut self) -> Result<ClosedPartition, UpsertError> {
        let mut files = self.data.close().await?;
        files.extend(self.equality.close().await?);
        if !self.positions.is_empty() {
            files.extend(self.write_position_deletes().await?);
        }
        let left_out = (!self.skipped.is_empty()).then(|| LeftOutDeletes {
            partition: self.partition.clone(),
            keys: std::mem::take(&mut self.skipped),
            rows: std::mem::take(&mut self.skipped_rows),
        });
        Ok(ClosedPartition {
            files,
            counts: self.counts,
            left_out,
        })
    }

    async fn write_position_deletes(&mut self) -> Result<Vec<DataFile>, UpsertError> {
        let mut by_file: Vec<Vec<i64>> = vec![Vec::new(); self.data_paths.len()];
        for p in &self.positions {
            by_file[p.file as usize].push(p.pos as i64);
        }
        self.counts.position_deletes += self.positions.len() as u64;
        let deletes: Vec<(String, Vec<i64>)> =
            self.data_paths.iter().cloned().zip(by_file).collect();
        let writer = self
            .settings
            .rolling(self.settings.pos_schema.clone(), &self.names);
        Ok(write_position_deletes(writer, &self.partition, deletes).await?)
    }
}

/// The integer-like key columns as `i64` (`None` for the others, which prove nothing).
fn integer_keys(columns: &[ArrayRef], hull_columns: &KeyColumns) -> Vec<Option<Int64Array>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let cast = hull_columns
                .is_bounded(i)
                .then(|| arrow::compute::cast(column, &DataType::Int64));
            cast.and_then(Result::ok)
                .map(|a| a.as_primitive::<Int64Type>().clone())
        })
        .collect()
}

/// Row `row`'s key, as `integer_keys` gives its columns.
fn key_at(integers: &[Option<Int64Array>], row: usize, key: &mut Vec<Option<i64>>) {
    key.clear();
    key.extend(integers.iter().map(|column| {
        column
            .as_ref()
            .filter(|c| c.is_valid(row))
            .map(|c| c.value(row))
    }));
}
