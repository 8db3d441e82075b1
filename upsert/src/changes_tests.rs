use arrow::array::{
    DictionaryArray, Float64Array, Int16Array, Int32Array, Int64Array, LargeStringArray,
    StringViewArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
};
use arrow::datatypes::{Int32Type, TimeUnit};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

use super::*;
use crate::test_support::assert_refused;

use RowKind::*;

/// The table of most cases, as the writer sees it: `id long` (the key), `name string`
/// (optional), `qty int` (required), converted by iceberg so fields carry their ids.
fn table() -> ArrowSchema {
    let schema = Schema::builder()
        .with_schema_id(0)
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
            NestedField::required(3, "qty", Type::Primitive(PrimitiveType::Int)).into(),
        ])
        .with_identifier_field_ids(vec![1])
        .build()
        .unwrap();
    schema_to_arrow_schema(&schema).unwrap()
}

/// Positions of the key columns in [`table`].
const KEY: &[usize] = &[0];

/// A table `id long` (key), `ts timestamp` (required, microseconds, no zone).
fn ts_table() -> ArrowSchema {
    let schema = Schema::builder()
        .with_schema_id(0)
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::required(2, "ts", Type::Primitive(PrimitiveType::Timestamp)).into(),
        ])
        .with_identifier_field_ids(vec![1])
        .build()
        .unwrap();
    schema_to_arrow_schema(&schema).unwrap()
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn ids(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

fn names(values: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn qtys(values: Vec<Option<i32>>) -> ArrayRef {
    Arc::new(Int32Array::from(values))
}

fn ops(values: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn field_id(field: &Field) -> Option<&str> {
    field
        .metadata()
        .get(parquet::arrow::PARQUET_FIELD_ID_META_KEY)
        .map(String::as_str)
}

#[test]
fn row_kinds_parse() {
    let cases = [
        ("+I", Some(Insert)),
        ("-U", Some(UpdateBefore)),
        ("+U", Some(UpdateAfter)),
        ("-D", Some(Delete)),
        ("", None),
        ("+i", None),
        ("I", None),
        (" +I", None),
        ("+I ", None),
        ("+D", None),
        ("-I", None),
        ("+I+U", None),
        ("insert", None),
    ];
    for (text, expected) in cases {
        assert_eq!(RowKind::parse(text), expected, "{text:?}");
    }
}

#[test]
fn only_inserts_and_update_afters_write_rows() {
    let cases = [
        (Insert, true),
        (UpdateAfter, true),
        (UpdateBefore, false),
        (Delete, false),
    ];
    for (kind, expected) in cases {
        assert_eq!(kind.writes_row(), expected, "{kind:?}");
    }
}

#[test]
fn input_schema_keeps_keys_and_relaxes_the_rest() {
    let table = table();
    let schema = input_schema(&table, KEY);
    let nullable: Vec<_> = schema.fields().iter().map(|f| f.is_nullable()).collect();
    assert_eq!(nullable, [false, true, true]);
    for (got, want) in schema.fields().iter().zip(table.fields()) {
        assert_eq!(got.name(), want.name());
        assert_eq!(got.data_type(), want.data_type());
        assert_eq!(field_id(got), field_id(want), "{}", got.name());
    }
}

/// Batches that conform: the expected rows are in the table's order and types.
#[test]
fn conforming_batches() {
    type Case = (
        &'static str,
        RecordBatch,
        Vec<RowKind>,
        // Expected id, name and qty columns.
        (ArrayRef, ArrayRef, ArrayRef),
    );
    let cases: Vec<Case> = vec![
        (
            "same order, no _op: every row is an insert",
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                ("name", names(vec![Some("a"), Some("b")])),
                ("qty", qtys(vec![Some(10), Some(20)])),
            ]),
            vec![Insert, Insert],
            (
                ids(vec![Some(1), Some(2)]),
                names(vec![Some("a"), Some("b")]),
                qtys(vec![Some(10), Some(20)]),
            ),
        ),
        (
            "other order with _op: reordered, _op parsed and dropped",
            batch(vec![
                ("qty", qtys(vec![Some(10), Some(20), Some(30), Some(40)])),
                (
                    "_op",
                    ops(vec![Some("+I"), Some("-U"), Some("+U"), Some("-D")]),
                ),
                (
                    "name",
                    names(vec![Some("a"), Some("b"), Some("c"), Some("d")]),
                ),
                ("id", ids(vec![Some(1), Some(2), Some(2), Some(3)])),
            ]),
            vec![Insert, UpdateBefore, UpdateAfter, Delete],
            (
                ids(vec![Some(1), Some(2), Some(2), Some(3)]),
                names(vec![Some("a"), Some("b"), Some("c"), Some("d")]),
                qtys(vec![Some(10), Some(20), Some(30), Some(40)]),
            ),
        ),
        (
            "lossless widening: Int32 -> Int64, LargeUtf8 -> Utf8, Int16 -> Int32",
            batch(vec![
                ("id", Arc::new(Int32Array::from(vec![7, -8])) as ArrayRef),
                ("name", Arc::new(LargeStringArray::from(vec!["x", "y"]))),
                ("qty", Arc::new(Int16Array::from(vec![1, i16::MAX]))),
            ]),
            vec![Insert, Insert],
            (
                ids(vec![Some(7), Some(-8)]),
                names(vec![Some("x"), Some("y")]),
                qtys(vec![Some(1), Some(i16::MAX as i32)]),
            ),
        ),
        (
            "dictionary and view strings, _op as large text",
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                (
                    "name",
                    Arc::new(
                        vec!["p", "p"]
                            .into_iter()
                            .collect::<DictionaryArray<Int32Type>>(),
                    ),
                ),
                ("qty", qtys(vec![Some(1), Some(2)])),
                ("_op", Arc::new(LargeStringArray::from(vec!["+U", "-D"]))),
            ]),
            vec![UpdateAfter, Delete],
            (
                ids(vec![Some(1), Some(2)]),
                names(vec![Some("p"), Some("p")]),
                qtys(vec![Some(1), Some(2)]),
            ),
        ),
        (
            "_op as a dictionary, name as a string view",
            batch(vec![
                ("id", ids(vec![Some(1), Some(2), Some(3)])),
                (
                    "name",
                    Arc::new(StringViewArray::from(vec![Some("a"), None, Some("c")])),
                ),
                ("qty", qtys(vec![Some(1), Some(2), Some(3)])),
                (
                    "_op",
                    Arc::new(
                        vec!["+I", "-D", "+I"]
                            .into_iter()
                            .collect::<DictionaryArray<Int32Type>>(),
                    ),
                ),
            ]),
            vec![Insert, Delete, Insert],
            (
                ids(vec![Some(1), Some(2), Some(3)]),
                names(vec![Some("a"), None, Some("c")]),
                qtys(vec![Some(1), Some(2), Some(3)]),
            ),
        ),
        (
            "null in an optional column of an insert",
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![None])),
                ("qty", qtys(vec![Some(1)])),
            ]),
            vec![Insert],
            (ids(vec![Some(1)]), names(vec![None]), qtys(vec![Some(1)])),
        ),
        (
            "null in a required column of -D and -U rows: they write no row",
            batch(vec![
                ("id", ids(vec![Some(1), Some(2), Some(2)])),
                ("name", names(vec![None, None, Some("b")])),
                ("qty", qtys(vec![None, None, Some(5)])),
                ("_op", ops(vec![Some("-D"), Some("-U"), Some("+U")])),
            ]),
            vec![Delete, UpdateBefore, UpdateAfter],
            (
                ids(vec![Some(1), Some(2), Some(2)]),
                names(vec![None, None, Some("b")]),
                qtys(vec![None, None, Some(5)]),
            ),
        ),
        (
            "no rows",
            batch(vec![
                ("id", ids(vec![])),
                ("name", names(vec![])),
                ("qty", qtys(vec![])),
                ("_op", ops(vec![])),
            ]),
            vec![],
            (ids(vec![]), names(vec![]), qtys(vec![])),
        ),
    ];
    let table = table();
    let expected_schema = input_schema(&table, KEY);
    for (name, batch, kinds, (id, nm, qty)) in cases {
        let out = conform(&batch, &table, KEY).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.kinds, kinds, "{name}");
        assert_eq!(out.rows.schema(), expected_schema, "{name}");
        assert_eq!(out.rows.num_columns(), 3, "{name}: _op is not a row column");
        assert_eq!(out.rows.column(0).as_ref(), id.as_ref(), "{name}: id");
        assert_eq!(out.rows.column(1).as_ref(), nm.as_ref(), "{name}: name");
        assert_eq!(out.rows.column(2).as_ref(), qty.as_ref(), "{name}: qty");
        for field in out.rows.schema().fields() {
            assert!(
                field_id(field).is_some(),
                "{name}: {} lost its field id",
                field.name()
            );
        }
    }
}

#[test]
fn timestamps_convert_between_units() {
    let cases: Vec<(&str, ArrayRef, Vec<i64>)> = vec![
        (
            "seconds",
            Arc::new(TimestampSecondArray::from(vec![1, -2])),
            vec![1_000_000, -2_000_000],
        ),
        (
            "milliseconds",
            Arc::new(TimestampMillisecondArray::from(vec![
                1_000,
                1_700_000_000_123,
            ])),
            vec![1_000_000, 1_700_000_000_123_000],
        ),
        (
            "microseconds",
            Arc::new(TimestampMicrosecondArray::from(vec![5, 6])),
            vec![5, 6],
        ),
        (
            "nanoseconds that are whole microseconds",
            Arc::new(TimestampNanosecondArray::from(vec![1_000, -3_000])),
            vec![1, -3],
        ),
    ];
    let table = ts_table();
    for (name, ts, expected) in cases {
        let input = batch(vec![("id", ids(vec![Some(1), Some(2)])), ("ts", ts)]);
        let out = conform(&input, &table, KEY).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            out.rows.column(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
            "{name}"
        );
        assert_eq!(
            out.rows.column(1).as_ref(),
            &TimestampMicrosecondArray::from(expected) as &dyn Array,
            "{name}"
        );
    }
}

/// Batches that are refused: the error's variant, and words its message must contain.
#[test]
fn refused_batches() {
    type Check = fn(&InputError) -> bool;
    type Case = (
        &'static str,
        ArrowSchema,
        RecordBatch,
        Check,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "missing column",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![Some("a")])),
            ]),
            |e| matches!(e, InputError::MissingColumn { column, expected } if column == "qty" && expected == "id, name, qty"),
            vec!["missing column \"qty\"", "id, name, qty"],
        ),
        (
            "unknown column",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![Some("a")])),
                ("qty", qtys(vec![Some(1)])),
                ("price", qtys(vec![Some(1)])),
            ]),
            |e| matches!(e, InputError::UnknownColumn(c) if c == "price"),
            vec!["unknown column \"price\""],
        ),
        (
            "unknown column is reported before a missing one",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("Qty", qtys(vec![Some(1)])),
            ]),
            |e| matches!(e, InputError::UnknownColumn(c) if c == "Qty"),
            vec!["\"Qty\""],
        ),
        (
            "text where a long is expected",
            table(),
            batch(vec![
                ("id", names(vec![Some("1")])),
                ("name", names(vec![Some("a")])),
                ("qty", qtys(vec![Some(1)])),
            ]),
            |e| matches!(e, InputError::TypeMismatch { column, found: DataType::Utf8, expected: DataType::Int64 } if column == "id"),
            vec!["\"id\"", "Utf8", "Int64"],
        ),
        (
            "narrowing Int64 -> Int32",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![Some("a")])),
                ("qty", ids(vec![Some(1)])),
            ]),
            |e| matches!(e, InputError::TypeMismatch { column, found: DataType::Int64, expected: DataType::Int32 } if column == "qty"),
            vec!["\"qty\"", "Int64", "Int32"],
        ),
        (
            "UInt64 does not fit Int64",
            table(),
            batch(vec![
                ("id", Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef),
                ("name", names(vec![Some("a")])),
                ("qty", qtys(vec![Some(1)])),
            ]),
            |e| matches!(e, InputError::TypeMismatch { column, .. } if column == "id"),
            vec!["\"id\"", "UInt64"],
        ),
        (
            "float where an int is expected",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![Some("a")])),
                ("qty", Arc::new(Float64Array::from(vec![1.5])) as ArrayRef),
            ]),
            |e| matches!(e, InputError::TypeMismatch { column, .. } if column == "qty"),
            vec!["\"qty\"", "Float64"],
        ),
        (
            "a timestamp with a zone where one without is expected",
            ts_table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                (
                    "ts",
                    Arc::new(TimestampMicrosecondArray::from(vec![1]).with_timezone("UTC"))
                        as ArrayRef,
                ),
            ]),
            |e| matches!(e, InputError::TypeMismatch { column, .. } if column == "ts"),
            vec!["\"ts\""],
        ),
        (
            "seconds that overflow as microseconds",
            ts_table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                (
                    "ts",
                    Arc::new(TimestampSecondArray::from(vec![0, i64::MAX / 1000])) as ArrayRef,
                ),
            ]),
            |e| matches!(e, InputError::BadValue { column, .. } if column == "ts"),
            vec!["column \"ts\""],
        ),
        (
            "nanoseconds that would be truncated to microseconds",
            ts_table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                (
                    "ts",
                    Arc::new(TimestampNanosecondArray::from(vec![1_000, 1_999])) as ArrayRef,
                ),
            ]),
            |e| matches!(e, InputError::BadValue { column, .. } if column == "ts"),
            vec!["column \"ts\"", "row 1", "without loss"],
        ),
        (
            "null key",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1), None])),
                ("name", names(vec![Some("a"), Some("b")])),
                ("qty", qtys(vec![Some(1), Some(2)])),
            ]),
            |e| matches!(e, InputError::NullKey { column, row: 1 } if column == "id"),
            vec!["null key", "row 1", "\"id\""],
        ),
        (
            "null key in a -D row",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2), None])),
                ("name", names(vec![None, None, None])),
                ("qty", qtys(vec![None, None, None])),
                ("_op", ops(vec![Some("-D"), Some("-D"), Some("-D")])),
            ]),
            |e| matches!(e, InputError::NullKey { column, row: 2 } if column == "id"),
            vec!["row 2", "\"id\""],
        ),
        (
            "null in a required column of a +I row",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                ("name", names(vec![Some("a"), Some("b")])),
                ("qty", qtys(vec![Some(1), None])),
                ("_op", ops(vec![Some("+I"), Some("+I")])),
            ]),
            |e| matches!(e, InputError::NullRequired { column, row: 1 } if column == "qty"),
            vec!["row 1", "required column \"qty\" is null"],
        ),
        (
            "null in a required column of a +U row after a -D row with one",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                ("name", names(vec![None, None])),
                ("qty", qtys(vec![None, None])),
                ("_op", ops(vec![Some("-D"), Some("+U")])),
            ]),
            |e| matches!(e, InputError::NullRequired { column, row: 1 } if column == "qty"),
            vec!["row 1", "\"qty\""],
        ),
        (
            "null in a required column without _op",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![Some("a")])),
                ("qty", qtys(vec![None])),
            ]),
            |e| matches!(e, InputError::NullRequired { column, row: 0 } if column == "qty"),
            vec!["row 0", "\"qty\""],
        ),
        (
            "unknown _op value",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                ("name", names(vec![Some("a"), Some("b")])),
                ("qty", qtys(vec![Some(1), Some(2)])),
                ("_op", ops(vec![Some("+I"), Some("upsert")])),
            ]),
            |e| matches!(e, InputError::UnknownOp { row: 1, value } if value == "upsert"),
            vec!["row 1", "\"upsert\"", "_op"],
        ),
        (
            "null _op",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1), Some(2)])),
                ("name", names(vec![Some("a"), Some("b")])),
                ("qty", qtys(vec![Some(1), Some(2)])),
                ("_op", ops(vec![None, Some("+I")])),
            ]),
            |e| matches!(e, InputError::UnknownOp { row: 0, value } if value == "null"),
            vec!["row 0", "_op"],
        ),
        (
            "_op that is not text",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("name", names(vec![Some("a")])),
                ("qty", qtys(vec![Some(1)])),
                ("_op", qtys(vec![Some(1)])),
            ]),
            |e| matches!(e, InputError::OpNotText(DataType::Int32)),
            vec!["_op must be text", "Int32"],
        ),
        (
            "a bad _op is reported before a missing column",
            table(),
            batch(vec![
                ("id", ids(vec![Some(1)])),
                ("_op", ops(vec![Some("?")])),
            ]),
            |e| matches!(e, InputError::UnknownOp { row: 0, value } if value == "?"),
            vec!["\"?\""],
        ),
    ];
    for (name, table, batch, check, words) in cases {
        assert_refused(name, conform(&batch, &table, KEY), check, &words);
    }
}
