//! The writer's input: the optional `_op` change column (Flink row kinds) and the check
//! that a batch has the table's columns, in types that convert without loss, with no null
//! key. Every refusal names the column (and the row) that was wrong.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::compute::kernels::boolean::and;
use arrow::compute::{cast, cast_with_options, is_null, CastOptions};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};

/// The change column: `+I`, `-U`, `+U`, `-D` per row. Without it every row is an upsert.
pub const OP_COLUMN: &str = "_op";

/// Flink's row kinds. In upsert mode `+I` and `+U` replace the row of their key, `-D`
/// removes it and `-U` needs no action (its `+U` follows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// `+I`: a new row.
    Insert,
    /// `-U`: the row before an update.
    UpdateBefore,
    /// `+U`: the row after an update.
    UpdateAfter,
    /// `-D`: the row is gone.
    Delete,
}

impl RowKind {
    /// The kind of a `_op` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "+I" => Some(Self::Insert),
            "-U" => Some(Self::UpdateBefore),
            "+U" => Some(Self::UpdateAfter),
            "-D" => Some(Self::Delete),
            _ => None,
        }
    }

    /// Whether the row is written to a data file.
    pub fn writes_row(self) -> bool {
        matches!(self, Self::Insert | Self::UpdateAfter)
    }
}

/// Why a batch does not fit the table. Every message names the column (and the row)
/// and says what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A column of the table is missing.
    #[error("missing column {column:?}: the table's columns are {expected}")]
    MissingColumn {
        /// The column.
        column: String,
        /// The table's columns.
        expected: String,
    },
    /// A column is not the table's.
    #[error("unknown column {0:?}: the table has no such column")]
    UnknownColumn(String),
    /// A column's type does not convert to the table's.
    #[error(
        "column {column:?} has type {found}, which does not convert to the table's type {expected}"
    )]
    TypeMismatch {
        /// The column.
        column: String,
        /// Its type in the batch.
        found: DataType,
        /// Its type in the table.
        expected: DataType,
    },
    /// A value does not convert to the table's type.
    #[error("column {column:?}: {message}")]
    BadValue {
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
        /// The conversion's error, when one failed.
        source: Option<arrow::error::ArrowError>,
    },
    /// A key column holds a null.
    #[error("null key: row {row} has no value in key column {column:?}")]
    NullKey {
        /// The column.
        column: String,
        /// The first row with a null.
        row: usize,
    },
    /// A required column holds a null in a row that is written.
    #[error("row {row}: required column {column:?} is null")]
    NullRequired {
        /// The column.
        column: String,
        /// The first row with a null.
        row: usize,
    },
    /// A `_op` value is not a change kind.
    #[error("row {row}: unknown change kind {value:?} in column _op (expected +I, -U, +U or -D)")]
    UnknownOp {
        /// The row.
        row: usize,
        /// Its `_op` value.
        value: String,
    },
    /// The `_op` column is not text.
    #[error("column _op must be text, not {0}")]
    OpNotText(DataType),
}

/// A batch in the table's column order, with its row kinds.
#[derive(Clone, Debug)]
pub struct ChangeBatch {
    /// Schema [`input_schema`]: the table's columns, non-key columns nullable (a `-D` row
    /// may carry only its key).
    pub rows: RecordBatch,
    /// The kind of each row.
    pub kinds: Vec<RowKind>,
}

/// The schema of [`ChangeBatch::rows`]: the table's Arrow schema (with field ids) where
/// every non-key column may hold nulls.
pub fn input_schema(table: &ArrowSchema, key_columns: &[usize]) -> ArrowSchemaRef {
    let fields: Vec<Field> = table
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = f.as_ref().clone();
            if key_columns.contains(&i) {
                f
            } else {
                f.with_nullable(true)
            }
        })
        .collect();
    Arc::new(ArrowSchema::new(fields))
}

/// Whether a column of type `found` may be written into a column of type `expected`:
/// the same type, a wider integer or float, another string, binary or timestamp unit.
fn converts(found: &DataType, expected: &DataType) -> bool {
    use DataType::*;
    if found.equals_datatype(expected) {
        return true;
    }
    let rank = |t: &DataType| match t {
        Int8 => Some(1),
        UInt8 | Int16 => Some(2),
        UInt16 | Int32 => Some(3),
        UInt32 | Int64 => Some(4),
        _ => None,
    };
    match (found, expected) {
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Binary | LargeBinary | BinaryView, Binary | LargeBinary) => true,
        (Float16 | Float32, Float32 | Float64) => true,
        (Timestamp(_, a), Timestamp(_, b)) => a.is_some() == b.is_some(),
        (Dictionary(_, v), e) => converts(v, e),
        (f, e) => matches!((rank(f), rank(e)), (Some(a), Some(b)) if a <= b),
    }
}

fn first_true(mask: &BooleanArray) -> Option<usize> {
    (mask.true_count() > 0).then(|| (0..mask.len()).find(|&i| mask.value(i)))?
}

/// The first row whose value changed in a conversion to a coarser timestamp unit
/// (nanoseconds into the table's microseconds): such a cast truncates silently.
fn first_lossy_row(
    original: &ArrayRef,
    converted: &ArrayRef,
) -> Result<Option<usize>, arrow::error::ArrowError> {
    let unit_rank = |t: &DataType| match t {
        DataType::Timestamp(u, _) => Some(*u as u8),
        _ => None,
    };
    match (
        unit_rank(original.data_type()),
        unit_rank(converted.data_type()),
    ) {
        (Some(from), Some(to)) if from > to => {}
        _ => return Ok(None),
    }
    let back = cast(converted, original.data_type())?;
    let same = arrow::compute::kernels::cmp::not_distinct(original, &back)?;
    Ok((0..same.len()).find(|&i| !same.value(i)))
}

fn parse_kinds(column: &ArrayRef) -> Result<Vec<RowKind>, InputError> {
    if !matches!(
        column.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
    ) {
        return Err(InputError::OpNotText(column.data_type().clone()));
    }
    let text = cast(column, &DataType::Utf8)
        .map_err(|_| InputError::OpNotText(column.data_type().clone()))?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    (0..text.len())
        .map(|row| {
            let value = text.is_valid(row).then(|| text.value(row));
            value
                .and_then(RowKind::parse)
                .ok_or_else(|| InputError::UnknownOp {
                    row,
                    value: value.unwrap_or("null").to_string(),
                })
        })
        .collect()
}

/// Checks `batch` against the table's Arrow schema and brings it into the table's column
/// order and types. Columns are matched by name; `_op` is read as the row kinds.
pub fn conform(
    batch: &RecordBatch,
    table: &ArrowSchema,
    key_columns: &[usize],
) -> Result<ChangeBatch, InputError> {
    let schema = batch.schema();
    for field in schema.fields() {
        if field.name() != OP_COLUMN && table.column_with_name(field.name()).is_none() {
            return Err(InputError::UnknownColumn(field.name().clone()));
        }
    }
    let kinds = match batch.column_by_name(OP_COLUMN) {
        Some(column) => parse_kinds(column)?,
        None => vec![RowKind::Insert; batch.num_rows()],
    };
    // Which rows are written, built only if a required column holds nulls.
    let mut writes: Option<BooleanArray> = None;
    let target = input_schema(table, key_columns);
    let mut columns = Vec::with_capacity(table.fields().len());
    for (i, expected) in table.fields().iter().enumerate() {
        let name = expected.name();
        let column = batch
            .column_by_name(name)
            .ok_or_else(|| InputError::MissingColumn {
                column: name.clone(),
                expected: table
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if !converts(column.data_type(), expected.data_type()) {
            return Err(InputError::TypeMismatch {
                column: name.clone(),
                found: column.data_type().clone(),
                expected: expected.data_type().clone(),
            });
        }
        let column = if column.data_type() == expected.data_type() {
            column.clone()
        } else {
            let options = CastOptions {
                safe: false,
                ..Default::default()
            };
            let bad = |message: String, source| InputError::BadValue {
                column: name.clone(),
                message,
                source,
            };
            let failed = |e: arrow::error::ArrowError| bad(e.to_string(), Some(e));
            let converted =
                cast_with_options(column, expected.data_type(), &options).map_err(failed)?;
            if let Some(row) = first_lossy_row(column, &converted).map_err(failed)? {
                return Err(bad(
                    format!(
                        "row {row}: the value does not fit the table's type {} without loss",
                        expected.data_type()
                    ),
                    None,
                ));
            }
            converted
        };
        if column.null_count() > 0 {
            let nulls = is_null(&column).expect("is_null of any array");
            if key_columns.contains(&i) {
                let row = first_true(&nulls).expect("null_count > 0");
                return Err(InputError::NullKey {
                    column: name.clone(),
                    row,
                });
            }
            if !expected.is_nullable() {
                let writes = writes
                    .get_or_insert_with(|| kinds.iter().map(|k| Some(k.writes_row())).collect());
                let written_nulls = and(&nulls, writes).expect("same length");
                if let Some(row) = first_true(&written_nulls) {
                    return Err(InputError::NullRequired {
                        column: name.clone(),
                        row,
                    });
                }
            }
        }
        columns.push(column);
    }
    let rows = RecordBatch::try_new(target, columns).map_err(|e| InputError::BadValue {
        column: String::new(),
        message: e.to_string(),
        source: Some(e),
    })?;
    Ok(ChangeBatch { rows, kinds })
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
