//! Snapshot summaries: the `total-*` counts of a new snapshot from its parent's totals and
//! its own `added-*`/`removed-*` counts (iceberg's `SnapshotSummaryCollector` gives the
//! latter; the totals are ours, as in Java's `SnapshotProducer`).

use std::collections::HashMap;

use iceberg::spec::Summary;

/// `(total, added, removed)` summary keys.
const TOTALS: [(&str, &str, &str); 6] = [
    ("total-records", "added-records", "deleted-records"),
    ("total-files-size", "added-files-size", "removed-files-size"),
    ("total-data-files", "added-data-files", "deleted-data-files"),
    (
        "total-delete-files",
        "added-delete-files",
        "removed-delete-files",
    ),
    (
        "total-position-deletes",
        "added-position-deletes",
        "removed-position-deletes",
    ),
    (
        "total-equality-deletes",
        "added-equality-deletes",
        "removed-equality-deletes",
    ),
];

/// Adds the totals to `changes` (the snapshot's added/removed counts). A total is carried
/// forward when the parent has it, or starts from zero without a parent; a parent lacking
/// a total (written by a tool that keeps none) leaves it out rather than guess.
pub fn with_totals(
    mut changes: HashMap<String, String>,
    parent: Option<&Summary>,
) -> HashMap<String, String> {
    let count = |map: &HashMap<String, String>, key: &str| -> Option<i64> {
        map.get(key).and_then(|v| v.parse().ok())
    };
    for (total, added, removed) in TOTALS {
        let previous = match parent {
            None => Some(0),
            Some(s) => count(&s.additional_properties, total),
        };
        if let Some(previous) = previous {
            let value = previous + count(&changes, added).unwrap_or(0)
                - count(&changes, removed).unwrap_or(0);
            changes.insert(total.to_string(), value.to_string());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use iceberg::spec::Operation;

    use super::*;
    use crate::testing::string_map as map;

    #[test]
    fn totals_carry_forward() {
        let parent = Summary {
            operation: Operation::Append,
            additional_properties: map(&[
                ("total-records", "10"),
                ("total-data-files", "2"),
                ("total-delete-files", "1"),
                ("total-equality-deletes", "4"),
            ]),
        };
        type Case<'a> = (
            &'a str,
            Option<&'a Summary>,
            Vec<(&'a str, &'a str)>,
            Vec<(&'a str, Option<&'a str>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "first snapshot counts from zero",
                None,
                vec![("added-records", "5"), ("added-data-files", "1")],
                vec![
                    ("total-records", Some("5")),
                    ("total-data-files", Some("1")),
                    ("total-position-deletes", Some("0")),
                ],
            ),
            (
                "added and removed against the parent",
                Some(&parent),
                vec![
                    ("added-records", "5"),
                    ("deleted-records", "3"),
                    ("added-equality-deletes", "2"),
                    ("removed-delete-files", "1"),
                ],
                vec![
                    ("total-records", Some("12")),
                    ("total-equality-deletes", Some("6")),
                    ("total-delete-files", Some("0")),
                    ("total-data-files", Some("2")),
                ],
            ),
            (
                "a total the parent lacks stays unknown",
                Some(&parent),
                vec![("added-position-deletes", "3")],
                vec![("total-position-deletes", None), ("total-files-size", None)],
            ),
        ];
        for (name, parent, changes, expected) in cases {
            let got = with_totals(map(&changes), parent);
            for (key, value) in expected {
                assert_eq!(got.get(key).map(String::as_str), value, "{name}: {key}");
            }
        }
    }
}
