//! The deletes of one file group, applied while rewriting it: equality deletes as a hash
//! map from key to the highest sequence number that deletes it (a row of data sequence
//! number s is deleted when that number is above s), position deletes as the positions
//! per data file with their sequence numbers (they apply at or above s). Loading each
//! delete file once and looking rows up by hash is what makes rewriting fast: iceberg's
//! reader turns equality deletes into a predicate evaluated term by term.

use std::collections::{HashMap, HashSet};

use ahash::AHashMap;
use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};
use floe_table::{POSITION_DELETE_FILE_PATH, POSITION_DELETE_POS};
use iceberg::io::FileIO;
use iceberg::scan::FileScanTask;
use iceberg::spec::DataContentType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::PARQUET_FIELD_ID_META_KEY;

use super::BATCH_ROWS;
use crate::error::CompactionError;

/// A group's equality and position deletes.
pub struct GroupDeletes {
    key_types: Vec<DataType>,
    equality: DeletedKeys,
    /// Data file -> (position, sequence number of the delete).
    positions: HashMap<String, Vec<(i64, i64)>>,
}

fn column_by_field_id(batch: &RecordBatch, id: i32) -> Option<ArrayRef> {
    let schema = batch.schema();
    let index = schema.fields().iter().position(|f| {
        f.metadata()
            .get(PARQUET_FIELD_ID_META_KEY)
            .and_then(|v| v.parse().ok())
            == Some(id)
    })?;
    Some(batch.column(index).clone())
}

async fn read_all(file_io: &FileIO, path: &str) -> Result<Vec<RecordBatch>, CompactionError> {
    Ok(parquet_batches(file_io, path, BATCH_ROWS)
        .await?
        .collect::<Result<Vec<_>, _>>()?)
}

/// The batches of `batch_rows` rows of the Parquet file at `path`, read whole into memory
/// first.
pub(crate) async fn parquet_batches(
    file_io: &FileIO,
    path: &str,
    batch_rows: usize,
) -> Result<ParquetRecordBatchReader, CompactionError> {
    let bytes = file_io.new_input(path)?.read().await?;
    if let Some(format) = not_parquet(&bytes) {
        return Err(CompactionError::FileFormat {
            path: path.to_string(),
            format,
        });
    }
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(batch_rows).build())
        .map_err(|source| CompactionError::ReadFile {
            path: path.to_string(),
            source,
        })
}

/// What a file is when its magic bytes say it is not Parquet (`PAR1` at both ends): a
/// Puffin file (`PFA1`: format v3 deletion vectors), another format, or too short.
fn not_parquet(bytes: &[u8]) -> Option<&'static str> {
    const PARQUET: &[u8] = b"PAR1";
    const PUFFIN: &[u8] = b"PFA1";
    if bytes.starts_with(PARQUET) && bytes.ends_with(PARQUET) && bytes.len() >= 12 {
        return None;
    }
    Some(if bytes.starts_with(PUFFIN) {
        "a Puffin file (format v3 deletion vectors, which this version does not read yet)"
    } else if bytes.len() < 12 {
        "too short for a Parquet file"
    } else {
        "not a Parquet file (no PAR1 magic at both ends)"
    })
}

/// The rows of a position-delete file: `file_path` and `pos`, batch by batch.
pub(crate) async fn position_deletes(
    file_io: &FileIO,
    path: &str,
) -> Result<Vec<(StringArray, Int64Array)>, CompactionError> {
    let mut out = Vec::new();
    for batch in read_all(file_io, path).await? {
        let (Some(paths), Some(positions)) = (
            column_by_field_id(&batch, POSITION_DELETE_FILE_PATH),
            column_by_field_id(&batch, POSITION_DELETE_POS),
        ) else {
            return Err(CompactionError::Internal(format!(
                "position delete file {path} lacks file_path or pos"
            )));
        };
        let paths = cast(&paths, &DataType::Utf8)?;
        let paths = paths.as_any().downcast_ref::<StringArray>().expect("utf8");
        let positions = cast(&positions, &DataType::Int64)?;
        let positions = positions
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("int64");
        out.push((paths.clone(), positions.clone()));
    }
    Ok(out)
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
        let mut deletes = Self {
            key_types: key_types.to_vec(),
            equality: DeletedKeys::new(key_types)?,
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
                    // The same fields, in any order (a table's identifier fields are a set).
                    let mut ids = delete.equality_ids.clone().unwrap_or_default();
                    let mut key = key_field_ids.to_vec();
                    ids.sort_unstable();
                    key.sort_unstable();
                    if key.is_empty() || ids != key {
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
                        deletes.equality.insert(&columns, seq)?;
                    }
                }
                DataContentType::PositionDeletes => {
                    for (paths, positions) in position_deletes(file_io, &delete.file_path).await? {
                        for i in 0..paths.len() {
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

    /// Positions of `path` deleted for data of sequence number `data_seq`, ascending.
    pub fn deleted_positions(&self, path: &str, data_seq: i64) -> Vec<i64> {
        let mut out: Vec<i64> = self.positions.get(path).map_or_else(Vec::new, |v| {
            v.iter()
                .filter(|(_, seq)| *seq >= data_seq)
                .map(|(pos, _)| *pos)
                .collect()
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Which rows of `batch` (rows `first_row..` of a data file of sequence number
    /// `data_seq`, key columns `key_columns`) stay; `deleted_positions` ascending.
    pub fn keep(
        &self,
        batch: &RecordBatch,
        key_columns: &[usize],
        first_row: i64,
        data_seq: i64,
        deleted_positions: &[i64],
    ) -> Result<BooleanArray, CompactionError> {
        let hidden_by_key = if self.equality.is_empty() {
            None
        } else {
            let mut columns = Vec::new();
            for (&c, t) in key_columns.iter().zip(&self.key_types) {
                columns.push(cast(batch.column(c), t)?);
            }
            Some(self.equality.lookup(&columns)?)
        };
        // The deleted positions inside this batch, walked along with the rows.
        let mut positions = deleted_positions
            [deleted_positions.partition_point(|&p| p < first_row)..]
            .iter()
            .peekable();
        let keep = BooleanBuffer::collect_bool(batch.num_rows(), |i| {
            let row = first_row + i as i64;
            while positions.next_if(|&&p| p < row).is_some() {}
            if positions.next_if_eq(&&row).is_some() {
                return false;
            }
            hidden_by_key
                .as_ref()
                .is_none_or(|keys| keys.deleted_at(i).is_none_or(|seq| seq <= data_seq))
        });
        Ok(BooleanArray::new(keep, None))
    }
}

/// Equality-deleted keys, each with the highest sequence number that deletes it.
enum DeletedKeys {
    /// One integer key column, by value (the common primary key, and the fast case).
    Integer(AHashMap<Option<i64>, i64>),
    /// Any other key, in arrow's row format.
    Rows(RowConverter, AHashMap<Box<[u8]>, i64>),
}

/// The keys of a batch of data rows, to look up in [`DeletedKeys`].
enum KeysOfRows<'a> {
    Integer(&'a AHashMap<Option<i64>, i64>, Int64Array),
    Rows(&'a AHashMap<Box<[u8]>, i64>, Rows),
}

impl DeletedKeys {
    fn new(key_types: &[DataType]) -> Result<Self, CompactionError> {
        Ok(match key_types {
            [t] if t.is_integer() => Self::Integer(AHashMap::new()),
            _ => Self::Rows(
                RowConverter::new(
                    key_types
                        .iter()
                        .map(|t| SortField::new(t.clone()))
                        .collect(),
                )?,
                AHashMap::new(),
            ),
        })
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Integer(map) => map.is_empty(),
            Self::Rows(_, map) => map.is_empty(),
        }
    }

    /// Records that sequence number `seq` deletes the keys `columns`.
    fn insert(&mut self, columns: &[ArrayRef], seq: i64) -> Result<(), CompactionError> {
        fn raise<K>(entry: std::collections::hash_map::Entry<'_, K, i64>, seq: i64) {
            let at = entry.or_insert(seq);
            *at = (*at).max(seq);
        }
        match self {
            Self::Integer(map) => {
                for key in integers(&columns[0])?.iter() {
                    raise(map.entry(key), seq);
                }
            }
            Self::Rows(converter, map) => {
                for row in converter.convert_columns(columns)?.iter() {
                    match map.get_mut(row.as_ref()) {
                        Some(at) => *at = (*at).max(seq),
                        None => {
                            map.insert(row.as_ref().into(), seq);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The keys `columns` of data rows, ready for lookups.
    fn lookup(&self, columns: &[ArrayRef]) -> Result<KeysOfRows<'_>, CompactionError> {
        Ok(match self {
            Self::Integer(map) => KeysOfRows::Integer(map, integers(&columns[0])?),
            Self::Rows(converter, map) => {
                KeysOfRows::Rows(map, converter.convert_columns(columns)?)
            }
        })
    }
}

impl KeysOfRows<'_> {
    /// The highest sequence number of an equality delete of row `i`'s key.
    fn deleted_at(&self, i: usize) -> Option<i64> {
        match self {
            Self::Integer(map, keys) => {
                let key = (!keys.is_null(i)).then(|| keys.value(i));
                map.get(&key).copied()
            }
            Self::Rows(map, rows) => map.get(rows.row(i).as_ref()).copied(),
        }
    }
}

fn integers(column: &ArrayRef) -> Result<Int64Array, CompactionError> {
    Ok(cast(column, &DataType::Int64)?
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("cast to int64")
        .clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};

    use super::*;

    /// Deletes of keys `eq` (key, sequence number) and `positions` (position, sequence
    /// number) of file "f", on a key of type `key_type`.
    fn deletes(
        key_type: DataType,
        eq: &[(ArrayRef, i64)],
        positions: &[(i64, i64)],
    ) -> GroupDeletes {
        let mut equality = DeletedKeys::new(std::slice::from_ref(&key_type)).unwrap();
        for (keys, seq) in eq {
            equality
                .insert(&[cast(keys, &key_type).unwrap()], *seq)
                .unwrap();
        }
        GroupDeletes {
            key_types: vec![key_type],
            equality,
            positions: HashMap::from([("f".to_string(), positions.to_vec())]),
        }
    }

    fn kept(d: &GroupDeletes, keys: ArrayRef, first_row: i64, data_seq: i64) -> Vec<bool> {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "k",
                keys.data_type().clone(),
                true,
            )])),
            vec![keys],
        )
        .unwrap();
        let positions = d.deleted_positions("f", data_seq);
        let keep = d
            .keep(&batch, &[0], first_row, data_seq, &positions)
            .unwrap();
        keep.iter().map(|v| v.unwrap()).collect()
    }

    #[test]
    fn equality_deletes_hide_older_rows_and_position_deletes_hide_same_or_older() {
        let ints = |v: &[Option<i64>]| -> ArrayRef { Arc::new(Int64Array::from(v.to_vec())) };
        let strings = |v: &[&str]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        // (key type, equality deletes, position deletes, data keys, first row, data seq, kept)
        type Case = (
            DataType,
            Vec<(ArrayRef, i64)>,
            Vec<(i64, i64)>,
            ArrayRef,
            i64,
            i64,
            Vec<bool>,
        );
        let cases: Vec<Case> = vec![
            // Key 1 deleted at 5 (not above the data), key 2 at 3 then 7 (the highest counts),
            // a null key at 6.
            (
                DataType::Int64,
                vec![
                    (ints(&[Some(1), Some(2)]), 5),
                    (ints(&[None]), 6),
                    (ints(&[Some(2)]), 3),
                    (ints(&[Some(2)]), 7),
                ],
                vec![],
                ints(&[Some(1), Some(2), Some(3), None]),
                0,
                5,
                vec![true, false, true, false],
            ),
            // The same deletes on older data hide key 1 too.
            (
                DataType::Int64,
                vec![(ints(&[Some(1), Some(2)]), 5)],
                vec![],
                ints(&[Some(1), Some(2), Some(3)]),
                0,
                4,
                vec![false, false, true],
            ),
            // An int32 key goes by value too; the data comes as int32.
            (
                DataType::Int32,
                vec![(ints(&[Some(7)]), 9)],
                vec![],
                Arc::new(arrow::array::Int32Array::from(vec![7, 8])),
                0,
                2,
                vec![false, true],
            ),
            // Strings go by row format.
            (
                DataType::Utf8,
                vec![(strings(&["a", "c"]), 4)],
                vec![],
                strings(&["a", "b", "c"]),
                0,
                3,
                vec![false, true, false],
            ),
            // Positions 10 and 12 at sequence 3 (applies to data of 3), 11 at 2 (does not);
            // the batch holds rows 10..13.
            (
                DataType::Int64,
                vec![],
                vec![(12, 3), (11, 2), (10, 3), (2, 9)],
                ints(&[Some(1), Some(2), Some(3)]),
                10,
                3,
                vec![false, true, false],
            ),
        ];
        for (i, (key_type, eq, positions, keys, first_row, data_seq, want)) in
            cases.into_iter().enumerate()
        {
            let d = deletes(key_type, &eq, &positions);
            assert_eq!(kept(&d, keys, first_row, data_seq), want, "case {i}");
        }
    }
}

#[cfg(test)]
mod format_tests {
    use super::not_parquet;

    #[test]
    fn a_file_that_is_not_parquet_is_named_for_what_it_is() {
        let parquet = [b"PAR1".as_slice(), &[0; 8], b"PAR1"].concat();
        let puffin = [b"PFA1".as_slice(), &[0; 16], b"PFA1"].concat();
        // (bytes, what they are; None: Parquet)
        let cases: [(&[u8], Option<&str>); 5] = [
            (&parquet, None),
            (&puffin, Some("a Puffin file")),
            (b"PAR1", Some("too short")),
            (
                &[b"PAR1".as_slice(), &[0; 8], b"XXXX"].concat(),
                Some("not a Parquet file"),
            ),
            (b"", Some("too short")),
        ];
        for (bytes, expected) in cases {
            let got = not_parquet(bytes);
            match expected {
                None => assert_eq!(got, None),
                Some(start) => assert!(got.is_some_and(|g| g.starts_with(start)), "{got:?}"),
            }
        }
    }
}
