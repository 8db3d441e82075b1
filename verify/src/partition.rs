//! Each row's partition under one partition spec, computed from the row's values with the
//! spec's transforms (iceberg's), so that both sides of a comparison are split the same
//! way whatever their own layout: a table against a table partitioned otherwise, or
//! against plain Parquet files. Partitions are named as paths: `id_bucket=3/day=2026-12-07`.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::datatypes::{Field, Schema as ArrowSchema};
use arrow::row::{RowConverter, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use iceberg::spec::{PartitionSpec, Schema};
use iceberg::transform::{create_transform_function, BoxedTransformFunction};

use crate::error::VerifyError;

/// One field of the spec: its name, the column it is computed from, and how.
struct PartitionColumn {
    name: String,
    source: String,
    transform: BoxedTransformFunction,
}

/// How rows are split into partitions.
pub struct Partitioning {
    fields: Vec<PartitionColumn>,
}

impl Partitioning {
    /// The partitioning of `spec` over the columns of `schema`; `None` for a spec without
    /// fields.
    pub fn of(spec: &PartitionSpec, schema: &Schema) -> Result<Option<Self>, VerifyError> {
        let mut fields = Vec::new();
        for field in spec.fields() {
            let source = schema.name_by_field_id(field.source_id).ok_or_else(|| {
                VerifyError::Unsupported(format!(
                    "partition field {} has no source column in the schema",
                    field.name
                ))
            })?;
            fields.push(PartitionColumn {
                name: field.name.clone(),
                source: source.to_string(),
                transform: create_transform_function(&field.transform)?,
            });
        }
        Ok((!fields.is_empty()).then_some(Self { fields }))
    }

    /// The columns the partitions are computed from.
    pub fn source_columns(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.source.as_str())
    }

    /// The rows of `batch` that `keep` selects (all without it), split by partition: each
    /// partition's name and the mask of its rows.
    pub fn split(
        &self,
        batch: &RecordBatch,
        keep: Option<&BooleanArray>,
    ) -> Result<Vec<(String, BooleanArray)>, VerifyError> {
        let mut values: Vec<ArrayRef> = Vec::new();
        for field in &self.fields {
            let source = batch.column_by_name(&field.source).ok_or_else(|| {
                VerifyError::Unsupported(format!("no column {} to partition by", field.source))
            })?;
            values.push(field.transform.transform(source.clone())?);
        }
        let converter = RowConverter::new(
            (values.iter())
                .map(|v| SortField::new(v.data_type().clone()))
                .collect(),
        )?;
        let rows = converter.convert_columns(&values)?;
        // Each partition's first row, in order of appearance, and every row's partition.
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        let mut firsts: Vec<usize> = Vec::new();
        let mut of_row: Vec<Option<usize>> = vec![None; batch.num_rows()];
        for (i, at) in of_row.iter_mut().enumerate() {
            if keep.is_some_and(|k| !(k.is_valid(i) && k.value(i))) {
                continue;
            }
            let next = firsts.len();
            let group = *seen.entry(rows.row(i).data()).or_insert(next);
            if group == next {
                firsts.push(i);
            }
            *at = Some(group);
        }
        let mut out = Vec::new();
        for (group, &first) in firsts.iter().enumerate() {
            let name = self.name(&values, first)?;
            let mask = of_row.iter().map(|g| Some(*g == Some(group))).collect();
            out.push((name, mask));
        }
        Ok(out)
    }

    /// The name of the partition of row `row` of the transformed `values`.
    fn name(&self, values: &[ArrayRef], row: usize) -> Result<String, VerifyError> {
        let options = FormatOptions::default().with_null("null");
        let mut parts = Vec::new();
        for (field, value) in self.fields.iter().zip(values) {
            let formatter = ArrayFormatter::try_new(value.as_ref(), &options)?;
            parts.push(format!("{}={}", field.name, formatter.value(row)));
        }
        Ok(parts.join("/"))
    }
}

/// The schema of `columns` and then of the partition source columns not among them.
pub fn read_schema(
    columns: &[Field],
    partitioning: Option<&Partitioning>,
    all: &ArrowSchema,
) -> ArrowSchema {
    let mut fields: Vec<Field> = columns.to_vec();
    for source in partitioning.into_iter().flat_map(|p| p.source_columns()) {
        if !fields.iter().any(|f| f.name() == source) {
            if let Ok(field) = all.field_with_name(source) {
                fields.push(field.clone());
            }
        }
    }
    ArrowSchema::new(fields)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::DataType;
    use iceberg::spec::{NestedField, PrimitiveType, Transform, Type};

    use super::*;

    fn schema() -> Schema {
        Schema::builder()
            .with_fields(vec![
                NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
                NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
            ])
            .build()
            .unwrap()
    }

    fn spec(fields: &[(&str, i32, Transform)]) -> PartitionSpec {
        let mut builder = PartitionSpec::builder(schema()).with_spec_id(0);
        for (name, source, transform) in fields {
            builder = builder
                .add_partition_field(
                    schema().name_by_field_id(*source).unwrap(),
                    *name,
                    *transform,
                )
                .unwrap();
        }
        builder.build().unwrap()
    }

    fn batch() -> RecordBatch {
        let schema = ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    None,
                    Some("a"),
                    Some("b"),
                ])),
            ],
        )
        .unwrap()
    }

    /// Each partition's name and its rows.
    fn split(spec: &PartitionSpec, keep: Option<Vec<bool>>) -> Vec<(String, Vec<usize>)> {
        let p = Partitioning::of(spec, &schema()).unwrap().unwrap();
        let keep = keep.map(BooleanArray::from);
        (p.split(&batch(), keep.as_ref()).unwrap().into_iter())
            .map(|(name, mask)| {
                let rows = (0..mask.len()).filter(|&i| mask.value(i)).collect();
                (name, rows)
            })
            .collect()
    }

    #[test]
    fn rows_split_by_their_transformed_values() {
        let identity = spec(&[("name", 2, Transform::Identity)]);
        let truncated = spec(&[("id_trunc", 1, Transform::Truncate(2))]);
        let both = spec(&[
            ("id_trunc", 1, Transform::Truncate(2)),
            ("name", 2, Transform::Identity),
        ]);
        type Case<'a> = (
            &'a str,
            &'a PartitionSpec,
            Option<Vec<bool>>,
            Vec<(&'a str, Vec<usize>)>,
        );
        let cases: [Case; 4] = [
            (
                "identity, a null value",
                &identity,
                None,
                vec![
                    ("name=a", vec![0, 2]),
                    ("name=null", vec![1]),
                    ("name=b", vec![3]),
                ],
            ),
            (
                "truncate",
                &truncated,
                None,
                vec![
                    ("id_trunc=0", vec![0]),
                    ("id_trunc=2", vec![1, 2]),
                    ("id_trunc=4", vec![3]),
                ],
            ),
            (
                "two fields",
                &both,
                None,
                vec![
                    ("id_trunc=0/name=a", vec![0]),
                    ("id_trunc=2/name=null", vec![1]),
                    ("id_trunc=2/name=a", vec![2]),
                    ("id_trunc=4/name=b", vec![3]),
                ],
            ),
            (
                "rows not kept belong to no partition",
                &identity,
                Some(vec![true, true, false, false]),
                vec![("name=a", vec![0]), ("name=null", vec![1])],
            ),
        ];
        for (what, spec, keep, want) in cases {
            let want: Vec<(String, Vec<usize>)> =
                want.into_iter().map(|(n, r)| (n.to_string(), r)).collect();
            assert_eq!(split(spec, keep), want, "{what}");
        }
    }

    #[test]
    fn a_spec_without_fields_splits_nothing() {
        let unpartitioned = PartitionSpec::builder(schema()).build().unwrap();
        assert!(Partitioning::of(&unpartitioned, &schema())
            .unwrap()
            .is_none());
    }
}
