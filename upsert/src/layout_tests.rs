use std::collections::HashMap;

use arrow::datatypes::{DataType, Field, Fields};
use iceberg::spec::{NestedFieldRef, SortOrder, StructType, TableMetadataBuilder};

use super::*;
use crate::test_support::assert_refused;

fn long(id: i32, name: &str) -> NestedFieldRef {
    NestedField::required(id, name, Type::Primitive(PrimitiveType::Long)).into()
}

fn string(id: i32, name: &str, required: bool) -> NestedFieldRef {
    let t = Type::Primitive(PrimitiveType::String);
    if required {
        NestedField::required(id, name, t).into()
    } else {
        NestedField::optional(id, name, t).into()
    }
}

fn int(id: i32, name: &str) -> NestedFieldRef {
    NestedField::optional(id, name, Type::Primitive(PrimitiveType::Int)).into()
}

/// `(source field id, partition field name, transform)`.
type PartitionField = (i32, &'static str, Transform);

fn spec(fields: &[PartitionField]) -> UnboundPartitionSpec {
    let mut builder = UnboundPartitionSpec::builder();
    for (source, name, transform) in fields {
        builder = builder
            .add_partition_field(*source, name.to_string(), *transform)
            .unwrap();
    }
    builder.build()
}

/// A new table's metadata. Field ids are given in schema order from 1, so the builder's
/// id reassignment keeps them.
fn metadata(
    fields: Vec<NestedFieldRef>,
    key: &[i32],
    partition: &[PartitionField],
    version: FormatVersion,
) -> TableMetadata {
    let schema = Schema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .with_identifier_field_ids(key.to_vec())
        .build()
        .unwrap();
    TableMetadataBuilder::new(
        schema,
        spec(partition),
        SortOrder::unsorted_order(),
        "/tmp/wh/t".to_string(),
        version,
        HashMap::new(),
    )
    .unwrap()
    .build()
    .unwrap()
    .metadata
}

/// `id long` (key), `name string`, `qty int`.
fn plain_fields() -> Vec<NestedFieldRef> {
    vec![long(1, "id"), string(2, "name", false), int(3, "qty")]
}

/// The layout with its key in a fixed order: the key of an iceberg schema is a set, so
/// the order `upsert_layout` reports it in is not specified.
fn sorted(layout: UpsertLayout) -> UpsertLayout {
    let mut key: Vec<_> = (0..layout.key_field_ids.len())
        .map(|i| {
            (
                layout.key_field_ids[i],
                layout.key_names[i].clone(),
                layout.key_columns[i],
            )
        })
        .collect();
    key.sort();
    UpsertLayout {
        key_field_ids: key.iter().map(|k| k.0).collect(),
        key_names: key.iter().map(|k| k.1.clone()).collect(),
        key_columns: key.iter().map(|k| k.2).collect(),
    }
}

fn layout(ids: &[i32], names: &[&str], columns: &[usize]) -> UpsertLayout {
    UpsertLayout {
        key_field_ids: ids.to_vec(),
        key_names: names.iter().map(|n| n.to_string()).collect(),
        key_columns: columns.to_vec(),
    }
}

#[test]
fn upsert_tables() {
    let cases: Vec<(&str, TableMetadata, UpsertLayout)> = vec![
        (
            "bucket(16, id)",
            metadata(
                plain_fields(),
                &[1],
                &[(1, "id_bucket", Transform::Bucket(16))],
                FormatVersion::V2,
            ),
            layout(&[1], &["id"], &[0]),
        ),
        (
            "key not the first column",
            metadata(
                vec![string(1, "name", false), int(2, "qty"), long(3, "id")],
                &[3],
                &[(3, "id_bucket", Transform::Bucket(4))],
                FormatVersion::V2,
            ),
            layout(&[3], &["id"], &[2]),
        ),
        (
            "composite key (a, b): identity(a), bucket(8, b)",
            metadata(
                vec![long(1, "a"), string(2, "b", true), int(3, "c")],
                &[1, 2],
                &[
                    (1, "a", Transform::Identity),
                    (2, "b_bucket", Transform::Bucket(8)),
                ],
                FormatVersion::V2,
            ),
            layout(&[1, 2], &["a", "b"], &[0, 1]),
        ),
        (
            "composite key partitioned by bucket of one column only",
            metadata(
                vec![int(1, "c"), long(2, "a"), string(3, "b", true)],
                &[2, 3],
                &[(3, "b_bucket", Transform::Bucket(2))],
                FormatVersion::V2,
            ),
            layout(&[2, 3], &["a", "b"], &[1, 2]),
        ),
        (
            "bucket and truncate of the key",
            metadata(
                vec![string(1, "k", true), int(2, "v")],
                &[1],
                &[
                    (1, "k_trunc", Transform::Truncate(3)),
                    (1, "k_bucket", Transform::Bucket(16)),
                ],
                FormatVersion::V2,
            ),
            layout(&[1], &["k"], &[0]),
        ),
    ];
    for (name, metadata, expected) in cases {
        let got = upsert_layout(&metadata).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sorted(got.clone()), expected, "{name}");
        // Whatever the order, the three lists describe the same columns.
        let fields = metadata.current_schema().as_struct().fields();
        for i in 0..got.key_field_ids.len() {
            let field = &fields[got.key_columns[i]];
            assert_eq!(field.id, got.key_field_ids[i], "{name}");
            assert_eq!(field.name, got.key_names[i], "{name}");
        }
    }
}

#[test]
fn tables_that_cannot_take_upserts() {
    type Check = fn(&LayoutError) -> bool;
    let cases: Vec<(&str, TableMetadata, Check, Vec<&str>)> = vec![
        (
            "format version 1",
            metadata(
                plain_fields(),
                &[1],
                &[(1, "id_bucket", Transform::Bucket(16))],
                FormatVersion::V1,
            ),
            |e| matches!(e, LayoutError::FormatVersion(FormatVersion::V1)),
            vec!["format version v1", "format version 2"],
        ),
        (
            "no identifier fields",
            metadata(
                plain_fields(),
                &[],
                &[(1, "id_bucket", Transform::Bucket(16))],
                FormatVersion::V2,
            ),
            |e| matches!(e, LayoutError::NoKey),
            vec!["no identifier fields", "--key"],
        ),
        (
            "not partitioned",
            metadata(plain_fields(), &[1], &[], FormatVersion::V2),
            |e| matches!(e, LayoutError::NoBucket),
            vec!["bucket(N, key column)"],
        ),
        (
            "identity(id) only",
            metadata(
                plain_fields(),
                &[1],
                &[(1, "id", Transform::Identity)],
                FormatVersion::V2,
            ),
            |e| matches!(e, LayoutError::NoBucket),
            vec!["not bucketed"],
        ),
        (
            "bucket on a column outside the key",
            metadata(
                plain_fields(),
                &[1],
                &[(3, "qty_bucket", Transform::Bucket(16))],
                FormatVersion::V2,
            ),
            |e| {
                matches!(e, LayoutError::PartitionOutsideKey { field, column, key }
                    if field == "qty_bucket" && column == "qty" && key == &["id"])
            },
            vec!["\"qty_bucket\"", "\"qty\"", "\"id\""],
        ),
        (
            "bucket of the key and identity of another column",
            metadata(
                plain_fields(),
                &[1],
                &[
                    (1, "id_bucket", Transform::Bucket(16)),
                    (2, "name", Transform::Identity),
                ],
                FormatVersion::V2,
            ),
            |e| {
                matches!(e, LayoutError::PartitionOutsideKey { field, column, .. }
                    if field == "name" && column == "name")
            },
            vec!["\"name\""],
        ),
        (
            "key inside a struct",
            metadata(
                vec![
                    long(1, "id"),
                    NestedField::required(
                        2,
                        "s",
                        Type::Struct(StructType::new(vec![long(3, "inner")])),
                    )
                    .into(),
                ],
                &[3],
                &[(1, "id_bucket", Transform::Bucket(16))],
                FormatVersion::V2,
            ),
            |e| matches!(e, LayoutError::NestedKey(name) if name == "inner"),
            vec!["\"inner\"", "top-level"],
        ),
    ];
    for (name, metadata, check, words) in cases {
        assert_refused(name, upsert_layout(&metadata), check, &words);
    }
}

fn input() -> ArrowSchema {
    ArrowSchema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new(OP_COLUMN, DataType::Utf8, false),
        Field::new("f", DataType::Float64, true),
        Field::new("g", DataType::Float32, true),
        Field::new(
            "s",
            DataType::Struct(Fields::from(vec![Field::new("x", DataType::Int32, true)])),
            true,
        ),
        Field::new("d", DataType::Date32, false),
    ])
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn new_tables() {
    let cases: Vec<(&str, Vec<String>, u32)> = vec![
        ("key id, 16 buckets", strings(&["id"]), 16),
        ("key name, one bucket", strings(&["name"]), 1),
        ("composite key", strings(&["name", "id"]), 1_000_000),
        ("date key", strings(&["d"]), 8),
    ];
    let input = input();
    for (name, key, buckets) in cases {
        let (schema, spec) =
            new_table_layout(&input, &key, buckets).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fields = schema.as_struct().fields();
        let columns: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            columns,
            ["id", "name", "f", "g", "s", "d"],
            "{name}: _op is dropped"
        );
        let key_ids: Vec<i32> = key
            .iter()
            .map(|k| schema.field_by_name(k).unwrap().id)
            .collect();
        let mut identifiers: Vec<i32> = schema.identifier_field_ids().collect();
        identifiers.sort();
        let mut sorted_key_ids = key_ids.clone();
        sorted_key_ids.sort();
        assert_eq!(identifiers, sorted_key_ids, "{name}");
        for field in fields {
            let in_key = key.contains(&field.name);
            let was_required = !input.field_with_name(&field.name).unwrap().is_nullable();
            assert_eq!(
                field.required,
                in_key || was_required,
                "{name}: {} required",
                field.name
            );
        }
        let partition: Vec<_> = spec
            .fields()
            .iter()
            .map(|f| (f.source_id, f.name.clone(), f.transform))
            .collect();
        assert_eq!(
            partition,
            [(
                key_ids[0],
                format!("{}_bucket", key[0]),
                Transform::Bucket(buckets)
            )],
            "{name}"
        );

        // The new table is an upsert table with that key.
        let metadata = TableMetadataBuilder::new(
            schema.clone(),
            spec,
            SortOrder::unsorted_order(),
            "/tmp/wh/t".to_string(),
            FormatVersion::V2,
            HashMap::new(),
        )
        .unwrap()
        .build()
        .unwrap()
        .metadata;
        let layout = sorted(upsert_layout(&metadata).unwrap_or_else(|e| panic!("{name}: {e}")));
        let mut expected_names = key.clone();
        expected_names.sort_by_key(|k| schema.field_by_name(k).unwrap().id);
        assert_eq!(layout.key_names, expected_names, "{name}");
    }
}

#[test]
fn new_table_with_id_key() {
    let input = ArrowSchema::new(vec![
        Field::new(OP_COLUMN, DataType::Utf8, true),
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]);
    let (schema, spec) = new_table_layout(&input, &strings(&["id"]), 16).unwrap();
    let id = schema.field_by_name("id").unwrap();
    assert!(id.required);
    assert_eq!(*id.field_type, Type::Primitive(PrimitiveType::Long));
    assert!(!schema.field_by_name("name").unwrap().required);
    assert!(schema.field_by_name(OP_COLUMN).is_none());
    assert_eq!(schema.identifier_field_ids().collect::<Vec<_>>(), [id.id]);
    assert_eq!(spec.fields().len(), 1);
    let bucket = &spec.fields()[0];
    assert_eq!(bucket.source_id, id.id);
    assert_eq!(bucket.name, "id_bucket");
    assert_eq!(bucket.transform, Transform::Bucket(16));
}

#[test]
fn new_tables_refused() {
    type Check = fn(&LayoutError) -> bool;
    type Case = (&'static str, Vec<String>, u32, Check, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        (
            "unknown key column",
            strings(&["nope"]),
            16,
            |e| {
                matches!(e, LayoutError::UnknownKeyColumn(k, columns)
                    if k == "nope" && columns == "id, name, f, g, s, d")
            },
            vec!["\"nope\"", "id, name, f, g, s, d"],
        ),
        (
            "_op cannot be the key",
            strings(&[OP_COLUMN]),
            16,
            |e| matches!(e, LayoutError::UnknownKeyColumn(k, _) if k == OP_COLUMN),
            vec!["\"_op\""],
        ),
        (
            "second key column unknown",
            strings(&["id", "ID"]),
            16,
            |e| matches!(e, LayoutError::UnknownKeyColumn(k, _) if k == "ID"),
            vec!["\"ID\""],
        ),
        (
            "nested column is not a top-level column",
            strings(&["x"]),
            16,
            |e| matches!(e, LayoutError::UnknownKeyColumn(k, _) if k == "x"),
            vec!["\"x\""],
        ),
        (
            "double key",
            strings(&["f"]),
            16,
            |e| matches!(e, LayoutError::BadKeyType(k, t) if k == "f" && t == "double"),
            vec!["\"f\"", "double", "cannot be a key"],
        ),
        (
            "float key",
            strings(&["id", "g"]),
            16,
            |e| matches!(e, LayoutError::BadKeyType(k, t) if k == "g" && t == "float"),
            vec!["\"g\"", "float"],
        ),
        (
            "struct key",
            strings(&["s"]),
            16,
            |e| matches!(e, LayoutError::BadKeyType(k, _) if k == "s"),
            vec!["\"s\""],
        ),
        (
            "zero buckets",
            strings(&["id"]),
            0,
            |e| matches!(e, LayoutError::BucketCount(0)),
            vec!["bucket count", "not 0"],
        ),
        (
            "too many buckets",
            strings(&["id"]),
            1_000_001,
            |e| matches!(e, LayoutError::BucketCount(1_000_001)),
            vec!["1000001"],
        ),
        (
            "empty key",
            vec![],
            16,
            |e| matches!(e, LayoutError::NoKey),
            vec!["no identifier fields"],
        ),
    ];
    let input = input();
    for (name, key, buckets, check, words) in cases {
        assert_refused(name, new_table_layout(&input, &key, buckets), check, &words);
    }
}

#[test]
fn new_table_from_an_input_with_field_ids() {
    // An input that already carries field ids (e.g. read back from the table) still gets
    // a schema; the key is found by name.
    let with_id = |name: &str, t: DataType, id: &str| {
        Field::new(name, t, true).with_metadata(HashMap::from([(
            parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
            id.to_string(),
        )]))
    };
    let input = ArrowSchema::new(vec![
        with_id("v", DataType::Utf8, "1"),
        with_id("k", DataType::Int32, "2"),
    ]);
    let (schema, spec) = new_table_layout(&input, &strings(&["k"]), 4).unwrap();
    let k = schema.field_by_name("k").unwrap();
    assert!(k.required);
    assert_eq!(schema.identifier_field_ids().collect::<Vec<_>>(), [k.id]);
    assert_eq!(spec.fields()[0].source_id, k.id);
}
