//! An order-independent digest of rows, to prove that a rewrite kept every row: the row
//! count and, per column, the null count, the wrapping sum of integer-like values and the
//! wrapping sum of a 64-bit hash of each value (splitmix64's mixer for values of up to 8
//! bytes, xxh3 for the others). Two multisets of equal rows have
//! equal digests whatever their order and batching; a dropped, added or changed value
//! changes them (barring a 64-bit collision). Columns are compared by position.

use std::fmt;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Schema};
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};
use twox_hash::XxHash3_64;

/// The digest of one column's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDigest {
    /// The column's name.
    pub name: String,
    /// Null values.
    pub nulls: u64,
    /// The wrapping sum of the values, for integer-like columns (integers, dates, times,
    /// timestamps, durations, decimals up to 128 bits).
    pub sum: Option<i128>,
    /// The wrapping sum of each non-null value's hash.
    pub hash: u64,
}

/// The digest of a multiset of rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowDigest {
    /// Rows.
    pub rows: u64,
    /// One digest per column, in schema order.
    pub columns: Vec<ColumnDigest>,
}

/// How an integer-like column's values are summed: sign- or zero-extended little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sum {
    Signed,
    Unsigned,
}

fn sum_of(data_type: &DataType) -> Option<Sum> {
    use DataType::*;
    match data_type {
        Int8
        | Int16
        | Int32
        | Int64
        | Date32
        | Date64
        | Time32(_)
        | Time64(_)
        | Timestamp(_, _)
        | Duration(_)
        | Decimal32(_, _)
        | Decimal64(_, _)
        | Decimal128(_, _) => Some(Sum::Signed),
        UInt8 | UInt16 | UInt32 | UInt64 => Some(Sum::Unsigned),
        _ => None,
    }
}

fn extend(bytes: &[u8], sum: Sum) -> i128 {
    let negative = sum == Sum::Signed && bytes.last().is_some_and(|b| b & 0x80 != 0);
    let mut wide = if negative { [0xffu8; 16] } else { [0u8; 16] };
    wide[..bytes.len()].copy_from_slice(bytes);
    i128::from_le_bytes(wide)
}

/// splitmix64's finalizer: a bijective mix of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash(bytes: &[u8]) -> u64 {
    XxHash3_64::oneshot(bytes)
}

impl RowDigest {
    /// The digest of no rows, for rows of `schema`.
    pub fn new(schema: &Schema) -> Self {
        let columns = (schema.fields().iter())
            .map(|f| ColumnDigest {
                name: f.name().clone(),
                nulls: 0,
                sum: sum_of(f.data_type()).map(|_| 0),
                hash: 0,
            })
            .collect();
        Self { rows: 0, columns }
    }

    /// Adds the rows of `batch` that `keep` selects (all without it).
    pub fn add(
        &mut self,
        batch: &RecordBatch,
        keep: Option<&BooleanArray>,
    ) -> Result<(), ArrowError> {
        if batch.num_columns() != self.columns.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a batch of {} columns for a digest of {}",
                batch.num_columns(),
                self.columns.len()
            )));
        }
        let selection = Selection::of(batch.num_rows(), keep);
        self.rows += selection.len() as u64;
        for (digest, array) in self.columns.iter_mut().zip(batch.columns()) {
            add_column(digest, array, &selection)?;
        }
        Ok(())
    }

    /// Adds the rows `other` digested (of the same columns): the digest of both multisets.
    pub fn merge(&mut self, other: &RowDigest) {
        self.rows += other.rows;
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.nulls += b.nulls;
            a.hash = a.hash.wrapping_add(b.hash);
            a.sum = a.sum.zip(b.sum).map(|(x, y)| x.wrapping_add(y));
        }
    }

    /// What differs between this digest and `other`, one line each (none when equal).
    pub fn differences(&self, other: &RowDigest) -> Vec<String> {
        let mut out = Vec::new();
        if self.rows != other.rows {
            out.push(format!("rows: {} against {}", self.rows, other.rows));
        }
        if self.columns.len() != other.columns.len() {
            out.push(format!(
                "columns: {} against {}",
                self.columns.len(),
                other.columns.len()
            ));
        }
        for (a, b) in self.columns.iter().zip(&other.columns) {
            if a.nulls != b.nulls {
                out.push(format!("{}: {} nulls against {}", a.name, a.nulls, b.nulls));
            }
            if a.sum != b.sum {
                out.push(format!("{}: sum {:?} against {:?}", a.name, a.sum, b.sum));
            }
            if a.hash != b.hash {
                out.push(format!(
                    "{}: hash {:016x} against {:016x}",
                    a.name, a.hash, b.hash
                ));
            }
        }
        out
    }
}

impl fmt::Display for RowDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows", self.rows)?;
        for c in &self.columns {
            write!(f, "; {}: {} nulls, hash {:016x}", c.name, c.nulls, c.hash)?;
            if let Some(sum) = c.sum {
                write!(f, ", sum {sum}")?;
            }
        }
        Ok(())
    }
}

/// Which rows of a batch a digest takes: all of them, or those listed (ascending).
enum Selection {
    All(usize),
    Listed(Vec<usize>),
}

impl Selection {
    /// The rows of a batch of `len` rows that `keep` selects (all without it, or when it
    /// selects every row).
    fn of(len: usize, keep: Option<&BooleanArray>) -> Self {
        match keep {
            Some(k) if k.null_count() > 0 || k.true_count() < len => {
                Selection::Listed((0..len).filter(|&i| k.is_valid(i) && k.value(i)).collect())
            }
            _ => Selection::All(len),
        }
    }

    fn len(&self) -> usize {
        match self {
            Selection::All(n) => *n,
            Selection::Listed(rows) => rows.len(),
        }
    }

    /// Calls `f` with each selected row that `nulls` does not mark null.
    fn for_each_valid(&self, nulls: Option<&NullBuffer>, mut f: impl FnMut(usize)) {
        match (self, nulls) {
            (Selection::All(n), None) => (0..*n).for_each(f),
            (Selection::All(_), Some(nulls)) => nulls.valid_indices().for_each(f),
            (Selection::Listed(rows), None) => rows.iter().for_each(|&i| f(i)),
            (Selection::Listed(rows), Some(nulls)) => {
                (rows.iter().filter(|&&i| nulls.is_valid(i))).for_each(|&i| f(i))
            }
        }
    }

    /// The selected rows that `nulls` marks null.
    fn nulls(&self, nulls: Option<&NullBuffer>) -> u64 {
        match (self, nulls) {
            (_, None) => 0,
            (Selection::All(_), Some(nulls)) => nulls.null_count() as u64,
            (Selection::Listed(rows), Some(nulls)) => {
                rows.iter().filter(|&&i| nulls.is_null(i)).count() as u64
            }
        }
    }
}

/// Adds the `selected` rows of `array` to `digest`.
fn add_column(
    digest: &mut ColumnDigest,
    array: &ArrayRef,
    selected: &Selection,
) -> Result<(), ArrowError> {
    let mut hashes = 0u64;
    let logical_nulls = array.logical_nulls();
    let nulls = logical_nulls.as_ref();
    let data_type = array.data_type();
    if let Some(width) = data_type.primitive_width().filter(|w| *w <= 8) {
        // Values of up to 8 bytes: one word each, hashed by a cheap bijective mixer.
        let data = array.to_data();
        let values = &data.buffers()[0].as_slice()[data.offset() * width..];
        let sum = sum_of(data_type);
        let shift = 64 - 8 * width as u32;
        let mut total = 0i128;
        selected.for_each_valid(nulls, |i| {
            let mut word = [0u8; 8];
            word[..width].copy_from_slice(&values[i * width..(i + 1) * width]);
            let raw = u64::from_le_bytes(word);
            hashes = hashes.wrapping_add(mix(raw));
            total = total.wrapping_add(match sum {
                Some(Sum::Signed) => (((raw << shift) as i64) >> shift) as i128,
                Some(Sum::Unsigned) => raw as i128,
                None => 0,
            });
        });
        digest.sum = digest.sum.map(|s| s.wrapping_add(total));
    } else if let Some(width) = data_type.primitive_width() {
        let data = array.to_data();
        let values = &data.buffers()[0].as_slice()[data.offset() * width..];
        let sum = sum_of(data_type);
        let mut total = 0i128;
        selected.for_each_valid(nulls, |i| {
            let bytes = &values[i * width..(i + 1) * width];
            hashes = hashes.wrapping_add(hash(bytes));
            if let Some(sum) = sum {
                total = total.wrapping_add(extend(bytes, sum));
            }
        });
        digest.sum = digest.sum.map(|s| s.wrapping_add(total));
    } else {
        let mut each = |bytes: &[u8]| hashes = hashes.wrapping_add(hash(bytes));
        match data_type {
            DataType::Boolean => {
                let values = array.as_boolean();
                selected.for_each_valid(nulls, |i| each(&[values.value(i) as u8]));
            }
            DataType::Utf8 => {
                let values = array.as_string::<i32>();
                selected.for_each_valid(nulls, |i| each(values.value(i).as_bytes()));
            }
            DataType::LargeUtf8 => {
                let values = array.as_string::<i64>();
                selected.for_each_valid(nulls, |i| each(values.value(i).as_bytes()));
            }
            DataType::Utf8View => {
                let values = array.as_string_view();
                selected.for_each_valid(nulls, |i| each(values.value(i).as_bytes()));
            }
            DataType::Binary => {
                let values = array.as_binary::<i32>();
                selected.for_each_valid(nulls, |i| each(values.value(i)));
            }
            DataType::LargeBinary => {
                let values = array.as_binary::<i64>();
                selected.for_each_valid(nulls, |i| each(values.value(i)));
            }
            DataType::BinaryView => {
                let values = array.as_binary_view();
                selected.for_each_valid(nulls, |i| each(values.value(i)));
            }
            DataType::FixedSizeBinary(_) => {
                let values = array.as_fixed_size_binary();
                selected.for_each_valid(nulls, |i| each(values.value(i)));
            }
            other => {
                // Nested and other types: their row encoding, equal for equal values.
                let converter = RowConverter::new(vec![SortField::new(other.clone())])?;
                let encoded = converter.convert_columns(std::slice::from_ref(array))?;
                selected.for_each_valid(nulls, |i| each(encoded.row(i).as_ref()));
            }
        }
    }
    digest.hash = digest.hash.wrapping_add(hashes);
    digest.nulls += selected.nulls(nulls);
    Ok(())
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
