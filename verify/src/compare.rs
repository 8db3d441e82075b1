//! Comparing two sides' digests, pure: for the whole table and each partition, the
//! figures of both sides and every difference named (`rows: 10 against 9`, `price: sum
//! 120 against 118`); a partition present on one side only is a difference too.

use serde::Serialize;

use crate::summary::{ColumnSummary, Digests, Summary};

/// One side's figures for the whole table or one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Rows.
    pub rows: u64,
    /// Each column's figures.
    pub columns: Vec<ColumnSummary>,
}

/// The whole table or one partition, on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Part {
    /// The partition; `None` for the whole table.
    pub partition: Option<String>,
    /// The first side's figures; `None` when it has no such partition.
    pub left: Option<Figures>,
    /// The second side's figures; `None` when it has no such partition.
    pub right: Option<Figures>,
    /// What differs, one line each; empty when both agree.
    pub differences: Vec<String>,
}

/// Two sides compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// What the first side read.
    pub left: String,
    /// What the second side read.
    pub right: String,
    /// Whether every figure agrees, whole and per partition.
    pub equal: bool,
    /// The whole table.
    pub whole: Part,
    /// Each partition of either side (empty when not compared by partition), in name
    /// order.
    pub partitions: Vec<Part>,
}

fn figures(summary: &Summary) -> Figures {
    Figures {
        rows: summary.rows(),
        columns: summary.columns(),
    }
}

/// The differences of two sides' figures, one line each.
pub fn differences(left: &Figures, right: &Figures) -> Vec<String> {
    let mut out = Vec::new();
    if left.rows != right.rows {
        out.push(format!("rows: {} against {}", left.rows, right.rows));
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    for (a, b) in left.columns.iter().zip(&right.columns) {
        let mut differ = |what: &str, x: String, y: String| {
            if x != y {
                out.push(format!("{}: {what} {x} against {y}", a.name));
            }
        };
        differ("nulls", a.nulls.to_string(), b.nulls.to_string());
        differ("sum", show(&a.sum), show(&b.sum));
        differ("hash", a.hash.clone(), b.hash.clone());
        differ("min", show(&a.min), show(&b.min));
        differ("max", show(&a.max), show(&b.max));
    }
    out
}

fn rows(n: u64) -> String {
    match n {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    }
}

fn part(partition: Option<String>, left: Option<&Summary>, right: Option<&Summary>) -> Part {
    let (left, right) = (left.map(figures), right.map(figures));
    let differences = match (&left, &right) {
        (Some(l), Some(r)) => differences(l, r),
        (Some(l), None) => vec![format!("only on the left ({})", rows(l.rows))],
        (None, Some(r)) => vec![format!("only on the right ({})", rows(r.rows))],
        (None, None) => Vec::new(),
    };
    Part {
        partition,
        left,
        right,
        differences,
    }
}

/// `left` and `right` compared, whole and partition by partition.
pub fn compare(left: &Digests, right: &Digests, by_partition: bool) -> Comparison {
    let whole = part(None, Some(&left.whole), Some(&right.whole));
    let mut partitions = Vec::new();
    if by_partition {
        let mut names: Vec<&String> = left
            .partitions
            .keys()
            .chain(right.partitions.keys())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            partitions.push(part(
                Some(name.clone()),
                left.partitions.get(name),
                right.partitions.get(name),
            ));
        }
    }
    let equal = whole.differences.is_empty() && partitions.iter().all(|p| p.differences.is_empty());
    Comparison {
        left: left.label.clone(),
        right: right.label.clone(),
        equal,
        whole,
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ])
    }

    /// Digests of `(partition, id, name)` rows.
    fn digests(label: &str, rows: &[Row]) -> Digests {
        let parts = rows.iter().map(|(partition, id, name)| {
            let batch = RecordBatch::try_new(
                Arc::new(schema()),
                vec![
                    Arc::new(Int64Array::from(vec![*id])),
                    Arc::new(StringArray::from(vec![*name])),
                ],
            )
            .unwrap();
            let mut summary = Summary::new(&schema());
            summary.add(&batch, None).unwrap();
            (partition.to_string(), summary)
        });
        Digests::collect(label.to_string(), &schema(), parts).unwrap()
    }

    /// `(partition, id, name)`.
    type Row = (&'static str, i64, Option<&'static str>);

    const ROWS: [Row; 3] = [
        ("p=0", 1, Some("a")),
        ("p=1", 2, None),
        ("p=1", 3, Some("c")),
    ];

    #[test]
    fn every_difference_is_named_whole_and_per_partition() {
        let reordered = [ROWS[2], ROWS[0], ROWS[1]];
        let changed = [ROWS[0], ROWS[1], ("p=1", 3, Some("x"))];
        let missing = [ROWS[0], ROWS[1]];
        let moved = [("p=2", 1, Some("a")), ROWS[1], ROWS[2]];
        // (case, right side rows, whole differences, differing partitions)
        type Case<'a> = (&'a str, &'a [Row], &'a [&'a str], &'a [&'a str]);
        let cases: [Case; 5] = [
            ("same rows", &ROWS, &[], &[]),
            ("same rows in another order", &reordered, &[], &[]),
            (
                "a changed value",
                &changed,
                &["name: hash", "name: max c against x"],
                &["p=1"],
            ),
            (
                "a missing row",
                &missing,
                &[
                    "rows: 3 against 2",
                    "id: sum 6 against 3",
                    "id: hash",
                    "id: max 3 against 2",
                    "name: hash",
                    "name: max c against a",
                ],
                &["p=1"],
            ),
            ("a row in another partition", &moved, &[], &["p=0", "p=2"]),
        ];
        let left = digests("left", &ROWS);
        for (what, right, whole, partitions) in cases {
            let c = compare(&left, &digests("right", right), true);
            assert_eq!(c.equal, whole.is_empty() && partitions.is_empty(), "{what}");
            assert_eq!(
                c.whole.differences.len(),
                whole.len(),
                "{what}: {:?}",
                c.whole.differences
            );
            for (got, want) in c.whole.differences.iter().zip(whole) {
                assert!(got.starts_with(want), "{what}: {got} is not {want}");
            }
            let differing: Vec<&str> = (c.partitions.iter())
                .filter(|p| !p.differences.is_empty())
                .filter_map(|p| p.partition.as_deref())
                .collect();
            assert_eq!(differing, partitions, "{what}");
        }
    }

    #[test]
    fn a_partition_on_one_side_only_says_which() {
        let right = digests("right", &[("p=0", 1, Some("a")), ("p=9", 5, None)]);
        let c = compare(&digests("left", &ROWS[..1]), &right, true);
        let p9 = c
            .partitions
            .iter()
            .find(|p| p.partition.as_deref() == Some("p=9"))
            .unwrap();
        assert_eq!(p9.differences, ["only on the right (1 row)"]);
        assert!(p9.left.is_none() && p9.right.is_some());
        // Without --by-partition only the whole table is compared.
        assert!(compare(&digests("l", &ROWS), &digests("r", &ROWS), false)
            .partitions
            .is_empty());
    }
}
