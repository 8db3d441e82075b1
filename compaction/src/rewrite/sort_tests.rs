use std::sync::Arc;

use arrow::array::{Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("k2", DataType::Utf8, false),
        Field::new("v", DataType::Int64, false),
    ]))
}

fn batch(rows: &[(Option<i64>, &str, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| Some(r.1)).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| Some(r.2)).collect::<Int64Array>()),
        ],
    )
    .unwrap()
}

/// Rows of `batches` as (k, k2, v).
fn rows(batches: impl IntoIterator<Item = RecordBatch>) -> Vec<(Option<i64>, String, i64)> {
    let mut out = Vec::new();
    for b in batches {
        let k = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let k2 = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let v = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            let key = (!k.is_null(i)).then(|| k.value(i));
            out.push((key, k2.value(i).to_string(), v.value(i)));
        }
    }
    out
}

/// A deterministic shuffle of `n` rows, keys (i * 7919) % n with a second key column.
fn shuffled(n: i64) -> Vec<(Option<i64>, String, i64)> {
    (0..n)
        .map(|i| {
            let k = (i * 7919) % n;
            let key = (k % 13 != 0).then_some(k / 2);
            (key, format!("s{}", k % 2), i)
        })
        .collect()
}

fn sort_all(
    input: &[(Option<i64>, String, i64)],
    budget: usize,
    chunk: usize,
) -> (Vec<(Option<i64>, String, i64)>, usize) {
    let mut sorter = KeySorter::new(schema(), vec![0, 1], budget, 100);
    for part in input.chunks(chunk) {
        let part: Vec<_> = part.iter().map(|r| (r.0, r.1.as_str(), r.2)).collect();
        sorter.push(batch(&part)).unwrap();
    }
    let runs = sorter.spilled_runs();
    let out: Vec<RecordBatch> = sorter.finish().unwrap().map(|b| b.unwrap()).collect();
    assert!(
        out.iter().all(|b| b.num_rows() <= 100),
        "batches of at most the batch size"
    );
    (rows(out), runs)
}

fn expected(input: &[(Option<i64>, String, i64)]) -> Vec<(Option<i64>, String, i64)> {
    let mut want = input.to_vec();
    want.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    want
}

fn assert_same_rows_sorted(
    got: &[(Option<i64>, String, i64)],
    input: &[(Option<i64>, String, i64)],
) {
    let want = expected(input);
    let keys =
        |v: &[(Option<i64>, String, i64)]| v.iter().map(|r| (r.0, r.1.clone())).collect::<Vec<_>>();
    assert_eq!(keys(got), keys(&want), "ordered by key, nulls first");
    let mut a = got.to_vec();
    let mut b = input.to_vec();
    a.sort();
    b.sort();
    assert_eq!(a, b, "every row exactly once");
}

#[test]
fn sorts_in_memory_when_the_input_fits_the_budget() {
    let input = shuffled(1000);
    let (got, runs) = sort_all(&input, usize::MAX, 97);
    assert_eq!(runs, 0);
    assert_same_rows_sorted(&got, &input);
}

#[test]
fn spills_sorted_runs_and_merges_them_when_over_budget() {
    let input = shuffled(5000);
    for (budget, chunk) in [(1, 50), (20_000, 333), (100_000, 1000)] {
        let (got, runs) = sort_all(&input, budget, chunk);
        assert!(
            runs >= 1,
            "budget {budget}: {runs} runs spilled before finishing"
        );
        assert_same_rows_sorted(&got, &input);
    }
}

#[test]
fn empty_input_gives_no_batches() {
    let sorter = KeySorter::new(schema(), vec![0], 10, 10);
    assert_eq!(sorter.finish().unwrap().count(), 0);
    let mut sorter = KeySorter::new(schema(), vec![0], 1, 10);
    sorter.push(batch(&[])).unwrap();
    assert_eq!(sorter.spilled_runs(), 0);
    assert_eq!(sorter.finish().unwrap().count(), 0);
}

#[test]
fn keeps_only_the_selected_rows_in_memory_and_spilled() {
    let input = shuffled(3000);
    // A row is kept when its value is not a multiple of 3; a batch of all rows dropped
    // and one of all kept occur too.
    let kept = |r: &(Option<i64>, String, i64)| r.2 % 3 != 0 || r.2 >= 2900;
    let want: Vec<_> = input.iter().filter(|r| kept(r)).cloned().collect();
    for (budget, chunk) in [(usize::MAX, 211), (20_000, 211), (1, 3)] {
        let mut sorter = KeySorter::new(schema(), vec![0, 1], budget, 100);
        for part in input.chunks(chunk) {
            let rows: Vec<_> = part.iter().map(|r| (r.0, r.1.as_str(), r.2)).collect();
            let keep: BooleanArray = part.iter().map(|r| Some(kept(r))).collect();
            sorter.push_kept(batch(&rows), Some(&keep)).unwrap();
        }
        sorter
            .push_kept(
                batch(&[(Some(1), "x", 0)]),
                Some(&BooleanArray::from(vec![false])),
            )
            .unwrap();
        let got = rows(sorter.finish().unwrap().map(|b| b.unwrap()));
        assert_same_rows_sorted(&got, &want);
    }
}
