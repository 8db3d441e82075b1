//! The digest of rows of chosen columns that `floe verify` compares: the compactor's
//! order-independent [`RowDigest`] (rows; per column nulls, sum and hash) and each
//! column's min and max (arrow's aggregate kernels where it has them), so that two sides
//! that differ also say where their values lie.

use std::sync::Arc;

use arrow::array::{
    downcast_primitive_array, make_comparator, Array, ArrayRef, ArrowPrimitiveType, AsArray,
    BinaryArray, BooleanArray, LargeStringArray, PrimitiveArray, RecordBatch, StringArray,
};
use arrow::compute::kernels::aggregate::{
    max, max_binary, max_boolean, max_string, min, min_binary, min_boolean, min_string,
};
use arrow::compute::{filter_record_batch, SortOptions};
use arrow::datatypes::DataType;
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use floe_table::RowDigest;
use serde::Serialize;

/// The digest of a multiset of rows of some columns, with their min and max.
#[derive(Clone, Debug)]
pub struct Summary {
    digest: RowDigest,
    bounds: Vec<Bounds>,
}

/// A column's least and greatest non-null values, each as an array of one value; `None`
/// before any value, and always for values that have no order.
#[derive(Clone, Debug, Default)]
struct Bounds {
    min: Option<ArrayRef>,
    max: Option<ArrayRef>,
}

/// What a summary says of one column, as printed and compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnSummary {
    /// The column.
    pub name: String,
    /// Null values.
    pub nulls: u64,
    /// The wrapping sum of the values, for integer-like columns.
    pub sum: Option<String>,
    /// The wrapping sum of each non-null value's 64-bit hash, in hex.
    pub hash: String,
    /// The least non-null value.
    pub min: Option<String>,
    /// The greatest non-null value.
    pub max: Option<String>,
}

/// Which of `candidate` and `current` (arrays of one value) to keep as a bound.
fn keep_bound(
    current: &mut Option<ArrayRef>,
    candidate: ArrayRef,
    wanted: std::cmp::Ordering,
) -> Result<(), ArrowError> {
    let replace = match current {
        None => true,
        Some(cur) => {
            make_comparator(candidate.as_ref(), cur.as_ref(), SortOptions::default())?(0, 0)
                == wanted
        }
    };
    if replace {
        *current = Some(candidate);
    }
    Ok(())
}

/// An array of the one value `value`, of `like`'s type.
fn one_like<T: ArrowPrimitiveType>(like: &PrimitiveArray<T>, value: T::Native) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::from_value(value, 1).with_data_type(like.data_type().clone()))
}

/// `(least, greatest)` as arrays of one value each, when both are known.
fn pair<V>(
    least: Option<V>,
    greatest: Option<V>,
    to_array: impl Fn(V) -> ArrayRef,
) -> Option<(ArrayRef, ArrayRef)> {
    Some((to_array(least?), to_array(greatest?)))
}

/// The least and greatest non-null values of `array`, each as an array of one value, by
/// arrow's aggregate kernels where it has them and by comparing values otherwise; `None`
/// without values, and for values that have no order.
fn extremes(array: &ArrayRef) -> Option<(ArrayRef, ArrayRef)> {
    downcast_primitive_array!(
        array => pair(min(array), max(array), |v| one_like(array, v)),
        DataType::Boolean => {
            let a = array.as_boolean();
            pair(min_boolean(a), max_boolean(a), |v| Arc::new(BooleanArray::from(vec![v])))
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            pair(min_string(a), max_string(a), |v| Arc::new(StringArray::from(vec![v])))
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            pair(min_string(a), max_string(a), |v| Arc::new(LargeStringArray::from(vec![v])))
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            pair(min_binary(a), max_binary(a), |v| Arc::new(BinaryArray::from(vec![v])))
        }
        _ => compared_extremes(array),
    )
}

/// The extremes of `array` found by comparing its values one by one.
fn compared_extremes(array: &ArrayRef) -> Option<(ArrayRef, ArrayRef)> {
    let cmp = make_comparator(array.as_ref(), array.as_ref(), SortOptions::default()).ok()?;
    let mut valid = (0..array.len()).filter(|&i| array.is_valid(i));
    let first = valid.next()?;
    let (mut least, mut greatest) = (first, first);
    for i in valid {
        if cmp(i, least).is_lt() {
            least = i;
        }
        if cmp(i, greatest).is_gt() {
            greatest = i;
        }
    }
    Some((array.slice(least, 1), array.slice(greatest, 1)))
}

impl Bounds {
    /// Takes in the values of `array`.
    fn add(&mut self, array: &ArrayRef) -> Result<(), ArrowError> {
        let Some((least, greatest)) = extremes(array) else {
            return Ok(());
        };
        keep_bound(&mut self.min, least, std::cmp::Ordering::Less)?;
        keep_bound(&mut self.max, greatest, std::cmp::Ordering::Greater)
    }

    fn merge(&mut self, other: &Bounds) -> Result<(), ArrowError> {
        if let Some(min) = &other.min {
            keep_bound(&mut self.min, min.clone(), std::cmp::Ordering::Less)?;
        }
        if let Some(max) = &other.max {
            keep_bound(&mut self.max, max.clone(), std::cmp::Ordering::Greater)?;
        }
        Ok(())
    }
}

fn render(value: &Option<ArrayRef>) -> Option<String> {
    let value = value.as_ref()?;
    let formatter = ArrayFormatter::try_new(value.as_ref(), &FormatOptions::default()).ok()?;
    Some(formatter.value(0).to_string())
}

impl Summary {
    /// The summary of no rows of `schema`'s columns.
    pub fn new(schema: &Schema) -> Self {
        Self {
            digest: RowDigest::new(schema),
            bounds: vec![Bounds::default(); schema.fields().len()],
        }
    }

    /// Adds the rows of `batch` (of the summary's columns) that `keep` selects (all
    /// without it).
    pub fn add(
        &mut self,
        batch: &RecordBatch,
        keep: Option<&BooleanArray>,
    ) -> Result<(), ArrowError> {
        self.digest.add(batch, keep)?;
        let kept;
        let batch = match keep {
            Some(k) if k.null_count() > 0 || k.true_count() < k.len() => {
                kept = filter_record_batch(batch, k)?;
                &kept
            }
            _ => batch,
        };
        for (bounds, array) in self.bounds.iter_mut().zip(batch.columns()) {
            bounds.add(array)?;
        }
        Ok(())
    }

    /// Adds the rows `other` summarized (of the same columns).
    pub fn merge(&mut self, other: &Summary) -> Result<(), ArrowError> {
        self.digest.merge(&other.digest);
        for (a, b) in self.bounds.iter_mut().zip(&other.bounds) {
            a.merge(b)?;
        }
        Ok(())
    }

    /// Rows.
    pub fn rows(&self) -> u64 {
        self.digest.rows
    }

    /// What the summary says of each column.
    pub fn columns(&self) -> Vec<ColumnSummary> {
        (self.digest.columns.iter().zip(&self.bounds))
            .map(|(d, b)| ColumnSummary {
                name: d.name.clone(),
                nulls: d.nulls,
                sum: d.sum.map(|s| s.to_string()),
                hash: format!("{:016x}", d.hash),
                min: render(&b.min),
                max: render(&b.max),
            })
            .collect()
    }
}

/// The summaries of one side of a comparison: per partition (one, named `""`, when not
/// split by partition), and of every row.
#[derive(Clone, Debug)]
pub struct Digests {
    /// What was read: `ns.table @ snapshot 12`, `files: data/*.parquet (3 files)`.
    pub label: String,
    /// Each partition's summary, by name.
    pub partitions: std::collections::BTreeMap<String, Summary>,
    /// The summary of every row.
    pub whole: Summary,
}

impl Digests {
    /// The digests of `parts` (summaries of disjoint rows, some of the same partition),
    /// labelled `label`, of the columns `schema`.
    pub fn collect(
        label: String,
        schema: &Schema,
        parts: impl IntoIterator<Item = (String, Summary)>,
    ) -> Result<Self, ArrowError> {
        let mut whole = Summary::new(schema);
        let mut partitions = std::collections::BTreeMap::<String, Summary>::new();
        for (name, summary) in parts {
            whole.merge(&summary)?;
            match partitions.get_mut(&name) {
                Some(s) => s.merge(&summary)?,
                None => {
                    partitions.insert(name, summary);
                }
            }
        }
        Ok(Self {
            label,
            partitions,
            whole,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    use super::*;

    fn batch(ids: &[Option<i64>], names: &[Option<&str>]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(names.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn bounds_cover_the_kept_rows_of_every_batch_and_merge() {
        let a = batch(&[Some(5), None, Some(-2)], &[Some("m"), Some("b"), None]);
        let b = batch(&[Some(9), Some(-7)], &[Some("z"), Some("a")]);
        type Case<'a> = (
            &'a str,
            Vec<(&'a RecordBatch, Option<BooleanArray>)>,
            [Option<&'a str>; 4],
        );
        let cases: [Case; 3] = [
            (
                "all rows",
                vec![(&a, None), (&b, None)],
                [Some("-7"), Some("9"), Some("a"), Some("z")],
            ),
            (
                "the second batch's rows left out",
                vec![
                    (&a, None),
                    (&b, Some(BooleanArray::from(vec![false, false]))),
                ],
                [Some("-2"), Some("5"), Some("b"), Some("m")],
            ),
            (
                "only nulls kept",
                vec![(&a, Some(BooleanArray::from(vec![false, true, false])))],
                [None, None, Some("b"), Some("b")],
            ),
        ];
        for (what, batches, [id_min, id_max, name_min, name_max]) in cases {
            // Each batch summarized apart and merged, and all in one summary, agree.
            let mut one = Summary::new(&a.schema());
            let mut merged = Summary::new(&a.schema());
            for (batch, keep) in &batches {
                one.add(batch, keep.as_ref()).unwrap();
                let mut part = Summary::new(&a.schema());
                part.add(batch, keep.as_ref()).unwrap();
                merged.merge(&part).unwrap();
            }
            assert_eq!(one.columns(), merged.columns(), "{what}");
            assert_eq!(one.rows(), merged.rows(), "{what}");
            let columns = one.columns();
            let got = [
                columns[0].min.as_deref(),
                columns[0].max.as_deref(),
                columns[1].min.as_deref(),
                columns[1].max.as_deref(),
            ];
            assert_eq!(got, [id_min, id_max, name_min, name_max], "{what}");
        }
    }
}
