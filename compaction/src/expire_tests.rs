use serde_json::json;

use super::*;
use crate::test_support::string_map;

const DAY: i64 = 24 * 3600 * 1000;
const NOW: i64 = 100 * DAY;

/// Table metadata with snapshots (id, parent, age in days) and refs (name, id, kind,
/// min-snapshots-to-keep, max-snapshot-age-ms).
fn metadata(
    snapshots: &[(i64, Option<i64>, i64)],
    refs: &[(&str, i64, &str, Option<i64>, Option<i64>)],
) -> TableMetadata {
    let snapshots: Vec<_> = snapshots
        .iter()
        .enumerate()
        .map(|(i, (id, parent, age))| {
            let mut s = json!({
                "snapshot-id": id,
                "sequence-number": i + 1,
                "timestamp-ms": NOW - age * DAY,
                "manifest-list": format!("/t/metadata/snap-{id}.avro"),
                "summary": {"operation": "append"},
                "schema-id": 0
            });
            if let Some(p) = parent {
                s["parent-snapshot-id"] = json!(p);
            }
            s
        })
        .collect();
    let mut refs_json = serde_json::Map::new();
    for (name, id, kind, min_keep, max_age) in refs {
        let mut r = json!({"snapshot-id": id, "type": kind});
        if let Some(n) = min_keep {
            r["min-snapshots-to-keep"] = json!(n);
        }
        if let Some(a) = max_age {
            r["max-snapshot-age-ms"] = json!(a);
        }
        refs_json.insert(name.to_string(), r);
    }
    let main = refs.iter().find(|r| r.0 == "main").map(|r| r.1);
    let doc = json!({
        "format-version": 2,
        "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
        "location": "/t",
        "last-sequence-number": snapshots.len(),
        "last-updated-ms": NOW,
        "last-column-id": 1,
        "current-schema-id": 0,
        "schemas": [{"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "required": true, "type": "long"}]}],
        "default-spec-id": 0,
        "partition-specs": [{"spec-id": 0, "fields": []}],
        "last-partition-id": 999,
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {},
        "current-snapshot-id": main.unwrap_or(-1),
        "refs": refs_json,
        "snapshots": snapshots,
        "snapshot-log": [],
        "metadata-log": []
    });
    serde_json::from_value(doc).unwrap()
}

fn options(age_days: i64, keep: usize) -> ExpireOptions {
    ExpireOptions {
        max_snapshot_age_ms: age_days * DAY,
        min_snapshots_to_keep: keep,
    }
}

#[test]
fn retention_decides_which_snapshots_go() {
    // A chain 1 <- 2 <- 3 <- 4 <- 5 (ages 10, 8, 6, 4, 2 days) on main.
    let chain = [(1, None, 10), (2, Some(1), 8), (3, Some(2), 6), (4, Some(3), 4), (5, Some(4), 2)];
    let main = [("main", 5, "branch", None, None)];
    type Case<'a> = (&'a str, Vec<(&'a str, i64, &'a str, Option<i64>, Option<i64>)>, ExpireOptions, Vec<i64>);
    let cases: Vec<Case> = vec![
        ("older than 5 days go", main.to_vec(), options(5, 1), vec![1, 2, 3]),
        ("min-snapshots-to-keep keeps the newest ones", main.to_vec(), options(5, 4), vec![1]),
        ("nothing is old enough", main.to_vec(), options(30, 1), vec![]),
        ("the head stays, however old", main.to_vec(), options(0, 1), vec![1, 2, 3, 4]),
        (
            "a tag keeps its snapshot",
            vec![main[0], ("t", 2, "tag", None, None)],
            options(0, 1),
            vec![1, 3, 4],
        ),
        (
            "a branch's own retention wins",
            vec![("main", 5, "branch", Some(3), None)],
            options(0, 1),
            vec![1, 2],
        ),
        (
            "a branch's own max age wins",
            vec![("main", 5, "branch", None, Some(7 * DAY))],
            options(0, 1),
            vec![1, 2],
        ),
    ];
    for (name, refs, o, want) in cases {
        assert_eq!(snapshots_to_expire(&metadata(&chain, &refs), NOW, &o), want, "{name}");
    }
}

#[test]
fn snapshots_outside_every_branch_go_only_when_old() {
    // 9 (old) and 8 (young) are not on any branch.
    let snapshots = [(1, None, 10), (2, Some(1), 1), (9, Some(1), 9), (8, Some(1), 1)];
    let md = metadata(&snapshots, &[("main", 2, "branch", None, None)]);
    assert_eq!(snapshots_to_expire(&md, NOW, &options(5, 1)), vec![1, 9]);
}

#[test]
fn options_come_from_table_properties() {
    assert_eq!(
        ExpireOptions::from_properties(&HashMap::new()).unwrap(),
        options(5, 1)
    );
    let props = string_map(&[(MAX_SNAPSHOT_AGE_MS, "1000"), (MIN_SNAPSHOTS_TO_KEEP, "3")]);
    let o = ExpireOptions::from_properties(&props).unwrap();
    assert_eq!((o.max_snapshot_age_ms, o.min_snapshots_to_keep), (1000, 3));
    assert_eq!(o.with_overrides(Some(5), None).max_snapshot_age_ms, 5);
    assert_eq!(o.with_overrides(None, Some(0)).min_snapshots_to_keep, 1);
    for (key, value) in [(MAX_SNAPSHOT_AGE_MS, "soon"), (MAX_SNAPSHOT_AGE_MS, "-1"), (MIN_SNAPSHOTS_TO_KEEP, "0")] {
        let err = ExpireOptions::from_properties(&string_map(&[(key, value)])).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn only_files_no_retained_snapshot_reaches_are_deleted() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    let expired = ReachableFiles {
        manifest_lists: set(&["l1", "l2"]),
        manifests: set(&["m1", "m2"]),
        content_files: set(&["a", "b", "c"]),
    };
    let retained = ReachableFiles {
        manifest_lists: set(&["l3"]),
        manifests: set(&["m2", "m3"]),
        content_files: set(&["b", "d"]),
    };
    let got = files_to_delete(&expired, &retained);
    assert_eq!(got.manifest_lists, set(&["l1", "l2"]));
    assert_eq!(got.manifests, set(&["m1"]));
    assert_eq!(got.content_files, set(&["a", "c"]));
    assert_eq!(got.len(), 5);
    assert!(files_to_delete(&retained, &retained).is_empty());
}
