use std::sync::Arc;

use arrow::array::{
    BooleanArray, Int32Array, Int64Array, LargeStringArray, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};

use super::*;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("qty", DataType::Int32, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("flag", DataType::Boolean, true),
    ]))
}

fn batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.2))),
            Arc::new(TimestampMicrosecondArray::from_iter(
                rows.iter().map(|r| r.3),
            )),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.4))),
        ],
    )
    .unwrap()
}

type Row = (
    i64,
    Option<&'static str>,
    Option<i32>,
    Option<i64>,
    Option<bool>,
);

const ROWS: [Row; 4] = [
    (1, Some("a"), Some(10), Some(1_000), Some(true)),
    (2, None, Some(-5), None, Some(false)),
    (3, Some("ccc"), None, Some(-7), None),
    (-4, Some(""), Some(i32::MIN), Some(i64::MAX), Some(true)),
];

fn digest_of(batches: &[&[Row]]) -> RowDigest {
    let mut d = RowDigest::new(&schema());
    for rows in batches {
        d.add(&batch(rows), None).unwrap();
    }
    d
}

#[test]
fn order_and_batching_do_not_matter() {
    let whole = digest_of(&[&ROWS]);
    let reversed: Vec<Row> = ROWS.iter().rev().copied().collect();
    let cases: [(&str, RowDigest); 3] = [
        ("reversed", digest_of(&[&reversed])),
        ("split", digest_of(&[&ROWS[..1], &ROWS[1..3], &ROWS[3..]])),
        (
            "split and shuffled",
            digest_of(&[&ROWS[2..], &[], &ROWS[..2]]),
        ),
    ];
    for (what, digest) in cases {
        assert_eq!(digest, whole, "{what}");
        assert!(whole.differences(&digest).is_empty(), "{what}");
    }
    assert_eq!(whole.rows, 4);
    let by_name = |n: &str| whole.columns.iter().find(|c| c.name == n).unwrap().clone();
    assert_eq!(by_name("id").sum, Some(2));
    assert_eq!(by_name("qty").sum, Some(5 + i32::MIN as i128));
    assert_eq!(
        (
            by_name("qty").nulls,
            by_name("name").nulls,
            by_name("flag").nulls
        ),
        (1, 1, 1)
    );
    assert_eq!(by_name("name").sum, None);
    assert_eq!(by_name("ts").sum, Some(1_000 - 7 + i64::MAX as i128));
}

#[test]
fn merged_digests_equal_the_digest_of_all_rows() {
    let whole = digest_of(&[&ROWS]);
    let cases: [(&str, &[Row], &[Row]); 3] = [
        ("halves", &ROWS[..2], &ROWS[2..]),
        ("all and none", &ROWS, &[]),
        ("none and all", &[], &ROWS),
    ];
    for (what, a, b) in cases {
        let mut merged = digest_of(&[a]);
        merged.merge(&digest_of(&[b]));
        assert_eq!(merged, whole, "{what}");
    }
}

#[test]
fn every_change_is_found_and_named() {
    let whole = digest_of(&[&ROWS]);
    let mut changed_value = ROWS;
    changed_value[1].2 = Some(-6);
    let mut changed_text = ROWS;
    changed_text[0].1 = Some("b");
    let mut swapped = ROWS;
    // The same values in other rows: a per-column digest cannot tell, by design.
    swapped[0].2 = ROWS[1].2;
    swapped[1].2 = ROWS[0].2;
    let mut to_null = ROWS;
    to_null[0].4 = None;
    let mut duplicated = ROWS.to_vec();
    duplicated[3] = ROWS[2];
    let cases: [(&str, Vec<Row>, &[&str]); 6] = [
        (
            "a dropped row",
            ROWS[..3].to_vec(),
            &["rows: 4 against 3", "id: sum", "id: hash"],
        ),
        (
            "a changed number",
            changed_value.to_vec(),
            &["qty: sum", "qty: hash"],
        ),
        ("a changed string", changed_text.to_vec(), &["name: hash"]),
        (
            "a value made null",
            to_null.to_vec(),
            &["flag: 1 nulls against 2", "flag: hash"],
        ),
        ("a duplicated row", duplicated, &["id: sum"]),
        ("values swapped between rows", swapped.to_vec(), &[]),
    ];
    for (what, rows, expected) in cases {
        let found = whole.differences(&digest_of(&[&rows]));
        for e in expected {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "{what}: {e} not in {found:?}"
            );
        }
        assert_eq!(found.is_empty(), expected.is_empty(), "{what}: {found:?}");
    }
}

#[test]
fn only_kept_rows_count() {
    // (what, mask, the rows it keeps); nulls of kept and dropped rows alike.
    type Case = (&'static str, Vec<Option<bool>>, Vec<Row>);
    let cases: [Case; 4] = [
        (
            "some, a null mask value dropping its row",
            vec![Some(true), Some(false), None, Some(true)],
            vec![ROWS[0], ROWS[3]],
        ),
        ("every row", vec![Some(true); 4], ROWS.to_vec()),
        ("no row", vec![Some(false); 4], vec![]),
        (
            "the rows with nulls",
            vec![Some(false), Some(true), Some(true), Some(false)],
            vec![ROWS[1], ROWS[2]],
        ),
    ];
    for (what, mask, rows) in cases {
        let mut kept = RowDigest::new(&schema());
        kept.add(&batch(&ROWS), Some(&BooleanArray::from(mask)))
            .unwrap();
        assert_eq!(kept, digest_of(&[&rows]), "{what}");
    }
}

#[test]
fn equal_strings_digest_equally_whatever_their_arrow_type() {
    let one = |array: ArrayRef| {
        let schema = Schema::new(vec![Field::new("s", array.data_type().clone(), true)]);
        let mut d = RowDigest::new(&schema);
        d.add(
            &RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap(),
            None,
        )
        .unwrap();
        (d.rows, d.columns[0].nulls, d.columns[0].hash)
    };
    let values = [Some("x"), None, Some("yz")];
    assert_eq!(
        one(Arc::new(StringArray::from_iter(values))),
        one(Arc::new(LargeStringArray::from_iter(values)))
    );
}

#[test]
fn nested_values_digest_through_their_row_encoding() {
    let list = |values: Vec<Option<Vec<Option<i32>>>>| -> RowDigest {
        let array: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(values));
        let schema = Schema::new(vec![Field::new("l", array.data_type().clone(), true)]);
        let mut d = RowDigest::new(&schema);
        d.add(
            &RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap(),
            None,
        )
        .unwrap();
        d
    };
    let a = list(vec![Some(vec![Some(1), Some(2)]), None, Some(vec![])]);
    let b = list(vec![Some(vec![]), Some(vec![Some(1), Some(2)]), None]);
    let c = list(vec![Some(vec![Some(2), Some(1)]), None, Some(vec![])]);
    assert!(a.differences(&b).is_empty());
    assert_eq!(
        a.differences(&c),
        vec![format!(
            "l: hash {:016x} against {:016x}",
            a.columns[0].hash, c.columns[0].hash
        )]
    );
}

#[test]
fn a_batch_of_other_columns_is_refused() {
    let mut d = RowDigest::new(&Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    assert!(d.add(&batch(&ROWS), None).is_err());
}
