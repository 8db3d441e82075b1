//! Splits a batch by partition. Partition values come from iceberg's own transforms
//! (`PartitionValueCalculator`); rows are grouped by their encoded partition tuple, and a
//! partition's iceberg value is built once per group, not once per row.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow::row::{RowConverter, SortField};
use iceberg::arrow::{arrow_struct_to_literal, PartitionValueCalculator};
use iceberg::spec::{Literal, PartitionKey, PartitionSpecRef, SchemaRef, StructType};

use crate::error::UpsertError;

/// Splits batches of one table by partition.
pub struct PartitionSplitter {
    calculator: PartitionValueCalculator,
    converter: RowConverter,
    spec: PartitionSpecRef,
    schema: SchemaRef,
    partition_type: StructType,
}

/// The rows of one partition in a batch.
pub struct PartitionRows {
    /// The encoded partition tuple: identifies the partition across batches.
    pub id: Vec<u8>,
    /// The partition values of the group's first row.
    pub values: ArrayRef,
    /// The group's rows, in batch order.
    pub rows: Vec<u32>,
}

impl PartitionSplitter {
    pub fn new(schema: SchemaRef, spec: PartitionSpecRef) -> Result<Self, UpsertError> {
        let calculator = PartitionValueCalculator::try_new(&spec, &schema)?;
        let partition_type = spec.partition_type(&schema)?;
        let fields = match calculator.partition_arrow_type() {
            arrow::datatypes::DataType::Struct(fields) => fields
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
            other => return Err(UpsertError::Internal(format!("partition type {other}"))),
        };
        let converter = RowConverter::new(fields)?;
        Ok(Self {
            calculator,
            converter,
            spec,
            schema,
            partition_type,
        })
    }

    /// Groups the rows of `batch` (the table's columns, with field ids) by partition,
    /// keeping their order within each group.
    pub fn split(&self, batch: &RecordBatch) -> Result<Vec<PartitionRows>, UpsertError> {
        let values = self.calculator.calculate(batch)?;
        let values = values
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| UpsertError::Internal("partition values are not a struct".into()))?;
        let encoded = self.converter.convert_columns(values.columns())?;
        let mut groups: HashMap<&[u8], usize> = HashMap::new();
        let mut out: Vec<PartitionRows> = Vec::new();
        for row in 0..batch.num_rows() {
            let id = encoded.row(row).data();
            let group = *groups.entry(id).or_insert_with(|| {
                out.push(PartitionRows {
                    id: id.to_vec(),
                    values: std::sync::Arc::new(values.slice(row, 1)) as ArrayRef,
                    rows: Vec::new(),
                });
                out.len() - 1
            });
            out[group].rows.push(row as u32);
        }
        Ok(out)
    }

    /// The iceberg partition of a group.
    pub fn partition_key(&self, values: &ArrayRef) -> Result<PartitionKey, UpsertError> {
        let literal = arrow_struct_to_literal(values, &self.partition_type)?;
        match literal.into_iter().next() {
            Some(Some(Literal::Struct(data))) => Ok(PartitionKey::new(
                self.spec.as_ref().clone(),
                self.schema.clone(),
                data,
            )),
            other => Err(UpsertError::Internal(format!(
                "partition value is not a struct: {other:?}"
            ))),
        }
    }
}
