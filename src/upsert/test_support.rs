//! What the upsert modules' unit tests share: the check that a refusal is the expected
//! error and that its message says what was wrong, and table metadata with a given
//! snapshot history.

use std::fmt::{Debug, Display};

use iceberg::spec::TableMetadata;
use serde_json::{json, Map, Value};

/// A string map from pairs (table properties, snapshot summaries).
pub fn string_map(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `result` must be an error that `check` accepts and whose message contains every word.
pub fn assert_refused<T: Debug, E: Debug + Display>(
    name: &str,
    result: Result<T, E>,
    check: impl Fn(&E) -> bool,
    words: &[&str],
) {
    let err = match result {
        Ok(accepted) => panic!("{name}: accepted as {accepted:?}"),
        Err(e) => e,
    };
    assert!(check(&err), "{name}: wrong error {err:?}");
    let message = err.to_string();
    for word in words {
        assert!(
            message.contains(word),
            "{name}: {message:?} does not say {word:?}"
        );
    }
}

/// One snapshot: `(id, parent id, sequence number, summary properties)`.
pub type Snap = (
    i64,
    Option<i64>,
    i64,
    &'static [(&'static str, &'static str)],
);

/// A v2 table's metadata with `snapshots`, main pointing at `main` (and `other` refs).
pub fn metadata(snapshots: &[Snap], main: Option<i64>, other: &[(&str, i64)]) -> TableMetadata {
    let snapshot_docs: Vec<Value> = snapshots
        .iter()
        .map(|(id, parent, seq, props)| {
            let mut summary = Map::new();
            summary.insert("operation".into(), json!("append"));
            for (k, v) in props.iter() {
                summary.insert(k.to_string(), json!(v));
            }
            let mut doc = json!({
                "snapshot-id": id,
                "sequence-number": seq,
                "timestamp-ms": 1_700_000_000_000i64 + seq,
                "manifest-list": format!("/tmp/wh/t/metadata/snap-{id}.avro"),
                "summary": summary,
                "schema-id": 0,
            });
            if let Some(parent) = parent {
                doc["parent-snapshot-id"] = json!(parent);
            }
            doc
        })
        .collect();
    let mut refs = Map::new();
    if let Some(main) = main {
        refs.insert(
            "main".into(),
            json!({"snapshot-id": main, "type": "branch"}),
        );
    }
    for (name, id) in other {
        refs.insert(
            name.to_string(),
            json!({"snapshot-id": id, "type": "branch"}),
        );
    }
    let last_sequence_number = snapshots.iter().map(|s| s.2).max().unwrap_or(0);
    let mut doc = json!({
        "format-version": 2,
        "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
        "location": "/tmp/wh/t",
        "last-sequence-number": last_sequence_number,
        "last-updated-ms": 1_700_000_100_000i64,
        "last-column-id": 2,
        "schemas": [{
            "type": "struct",
            "schema-id": 0,
            "identifier-field-ids": [1],
            "fields": [
                {"id": 1, "name": "id", "required": true, "type": "long"},
                {"id": 2, "name": "name", "required": false, "type": "string"}
            ]
        }],
        "current-schema-id": 0,
        "partition-specs": [{
            "spec-id": 0,
            "fields": [
                {"source-id": 1, "field-id": 1000, "name": "id_bucket", "transform": "bucket[16]"}
            ]
        }],
        "default-spec-id": 0,
        "last-partition-id": 1000,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "default-sort-order-id": 0,
        "properties": {},
        "snapshots": snapshot_docs,
        "refs": refs,
    });
    if let Some(main) = main {
        doc["current-snapshot-id"] = json!(main);
    }
    serde_json::from_value(doc).expect("valid table metadata")
}
