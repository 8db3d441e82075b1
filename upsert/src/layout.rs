//! What makes a table an upsert table: format version 2, identifier fields (the key), and
//! a partition spec whose fields all derive from key columns with a `bucket(N, key)`
//! among them. Then every row of one key lands in one partition, and so do the deletes
//! that hide it (equality deletes only apply inside their partition). Also the layout of
//! a new table made from an input's columns (`floe upsert --create`).

use arrow::datatypes::Schema as ArrowSchema;
use iceberg::arrow::arrow_schema_to_schema_auto_assign_ids;
use iceberg::spec::{
    FormatVersion, NestedField, PrimitiveType, Schema, TableMetadata, Transform, Type,
    UnboundPartitionSpec,
};

use crate::changes::OP_COLUMN;

/// The key of an upsert table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpsertLayout {
    /// The key's field ids, in key order.
    pub key_field_ids: Vec<i32>,
    /// The key's column names, in key order.
    pub key_names: Vec<String>,
    /// Positions of the key columns among the schema's top-level fields.
    pub key_columns: Vec<usize>,
}

/// Why a table cannot take upserts, or a new one cannot be laid out.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// Not format version 2.
    #[error("the table has format version {0}; upserts need format version 2")]
    FormatVersion(FormatVersion),
    /// No key.
    #[error("the table has no identifier fields (primary key); create it with a key (floe upsert --create --key COLUMN) or set its identifier-field-ids")]
    NoKey,
    /// A key column is nested.
    #[error("key column {0:?} is not a top-level column of the table")]
    NestedKey(String),
    /// A key column does not exist (the column, the columns there are).
    #[error("key column {0:?} does not exist; the columns are {1}")]
    UnknownKeyColumn(String, String),
    /// A key column's type cannot be a key (the column, its type).
    #[error("key column {0:?} has type {1}, which cannot be a key (floating point and nested types cannot)")]
    BadKeyType(String, String),
    /// Not partitioned by a bucket of the key.
    #[error("the table is not bucketed by its key: its partition spec needs a bucket(N, key column) field")]
    NoBucket,
    /// A partition field comes from a column outside the key.
    #[error("partition field {field:?} derives from column {column:?}, which is not part of the key {key:?}: rows of one key could land in two partitions")]
    PartitionOutsideKey {
        /// The partition field.
        field: String,
        /// Its source column.
        column: String,
        /// The key.
        key: Vec<String>,
    },
    /// The new table's schema or partition spec cannot be built.
    #[error("cannot build the table schema: {0}")]
    Schema(#[from] iceberg::Error),
    /// A bucket count out of range.
    #[error("bucket count must be between 1 and 1,000,000, not {0}")]
    BucketCount(u32),
}

/// The key of a schema: its identifier fields, which must be top-level columns.
pub fn key_layout(schema: &Schema) -> Result<UpsertLayout, LayoutError> {
    // Identifier ids come from a set: order them by field id so the key's column order
    // (of equality-delete files, of the key index) is the same on every open.
    let mut key_field_ids: Vec<i32> = schema.identifier_field_ids().collect();
    key_field_ids.sort_unstable();
    if key_field_ids.is_empty() {
        return Err(LayoutError::NoKey);
    }
    let mut key_names = Vec::new();
    let mut key_columns = Vec::new();
    for id in &key_field_ids {
        let field = schema.field_by_id(*id).ok_or(LayoutError::NoKey)?;
        let position = schema
            .as_struct()
            .fields()
            .iter()
            .position(|f| f.id == *id)
            .ok_or_else(|| LayoutError::NestedKey(field.name.clone()))?;
        key_names.push(field.name.clone());
        key_columns.push(position);
    }
    Ok(UpsertLayout {
        key_field_ids,
        key_names,
        key_columns,
    })
}

/// Checks that the table can take upserts and finds its key.
pub fn upsert_layout(metadata: &TableMetadata) -> Result<UpsertLayout, LayoutError> {
    if metadata.format_version() != FormatVersion::V2 {
        return Err(LayoutError::FormatVersion(metadata.format_version()));
    }
    let schema = metadata.current_schema();
    let layout = key_layout(schema)?;
    let spec = metadata.default_partition_spec();
    let mut bucketed = false;
    for field in spec.fields() {
        if !layout.key_field_ids.contains(&field.source_id) {
            let column = schema
                .field_by_id(field.source_id)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| format!("#{}", field.source_id));
            return Err(LayoutError::PartitionOutsideKey {
                field: field.name.clone(),
                column,
                key: layout.key_names,
            });
        }
        bucketed |= matches!(field.transform, Transform::Bucket(_));
    }
    if !bucketed {
        return Err(LayoutError::NoBucket);
    }
    Ok(layout)
}

fn key_type_allowed(t: &Type) -> bool {
    matches!(t, Type::Primitive(p) if !matches!(p, PrimitiveType::Float | PrimitiveType::Double))
}

/// The schema and partition spec of a new upsert table with the columns of `input` (less
/// `_op`): the key columns required and the identifier fields, partitioned by
/// `bucket(buckets, first key column)`.
pub fn new_table_layout(
    input: &ArrowSchema,
    key: &[String],
    buckets: u32,
) -> Result<(Schema, UnboundPartitionSpec), LayoutError> {
    if buckets == 0 || buckets > 1_000_000 {
        return Err(LayoutError::BucketCount(buckets));
    }
    if key.is_empty() {
        return Err(LayoutError::NoKey);
    }
    let columns: Vec<_> = input
        .fields()
        .iter()
        .filter(|f| f.name() != OP_COLUMN)
        .cloned()
        .collect();
    let plain = arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(columns))
        .map_err(LayoutError::Schema)?;
    let names = || {
        plain
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut key_ids = Vec::new();
    for name in key {
        let field = plain
            .as_struct()
            .fields()
            .iter()
            .find(|f| &f.name == name)
            .ok_or_else(|| LayoutError::UnknownKeyColumn(name.clone(), names()))?;
        if !key_type_allowed(&field.field_type) {
            return Err(LayoutError::BadKeyType(
                name.clone(),
                field.field_type.to_string(),
            ));
        }
        key_ids.push(field.id);
    }
    let fields: Vec<_> = plain
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            let mut f = NestedField::clone(f);
            if key_ids.contains(&f.id) {
                f.required = true;
            }
            f.into()
        })
        .collect();
    let schema = Schema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .with_identifier_field_ids(key_ids.clone())
        .build()
        .map_err(LayoutError::Schema)?;
    let spec = UnboundPartitionSpec::builder()
        .add_partition_field(
            key_ids[0],
            format!("{}_bucket", key[0]),
            Transform::Bucket(buckets),
        )
        .map_err(LayoutError::Schema)?
        .build();
    Ok((schema, spec))
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
