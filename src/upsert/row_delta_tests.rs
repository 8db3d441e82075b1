use iceberg::spec::{Operation, SnapshotReference, SnapshotRetention};

use super::*;
use crate::upsert::test_support::{metadata, string_map, Snap};

fn written(operation: Operation, changes: &[(&str, &str)]) -> WrittenRowDelta {
    WrittenRowDelta {
        snapshot_id: 77,
        manifests: vec![],
        changes: string_map(changes),
        operation,
    }
}

#[test]
fn a_row_delta_goes_on_top_of_main() {
    const PARENT: &[(&str, &str)] = &[("total-records", "10"), ("total-data-files", "2")];
    const HISTORY: &[Snap] = &[(1, None, 1, &[]), (2, Some(1), 2, PARENT)];
    let with_watermark = RowDelta {
        summary: vec![("floe.checkpoint-id".into(), "3".into())],
        properties: HashMap::from([("floe.watermark".into(), "500".into())]),
        ..Default::default()
    };
    struct Case {
        name: &'static str,
        history: &'static [Snap],
        main: Option<i64>,
        operation: Operation,
        delta: RowDelta,
        /// Expected parent, sequence number and `total-records` (a parent without totals,
        /// snapshot 1, leaves them out).
        parent: Option<i64>,
        seq: i64,
        total: Option<&'static str>,
    }
    let case = |name, history, main, operation, delta, parent, seq, total| Case {
        name,
        history,
        main,
        operation,
        delta,
        parent,
        seq,
        total,
    };
    let cases = vec![
        case(
            "first snapshot",
            &[],
            None,
            Operation::Append,
            RowDelta::default(),
            None,
            1,
            Some("4"),
        ),
        case(
            "on top of main",
            HISTORY,
            Some(2),
            Operation::Overwrite,
            RowDelta::default(),
            Some(2),
            3,
            Some("14"),
        ),
        case(
            "main behind the newest",
            HISTORY,
            Some(1),
            Operation::Append,
            RowDelta::default(),
            Some(1),
            3,
            None,
        ),
        case(
            "with a watermark",
            HISTORY,
            Some(2),
            Operation::Overwrite,
            with_watermark,
            Some(2),
            3,
            Some("14"),
        ),
    ];
    for Case {
        name,
        history,
        main,
        operation,
        delta,
        parent,
        seq,
        total,
    } in cases
    {
        let sets = !delta.properties.is_empty();
        let base = metadata(history, main, &[]);
        let w = written(
            operation.clone(),
            &[("added-records", "4"), ("added-data-files", "1")],
        );
        let (requirements, updates) = plan_commit(&base, &w, &delta, "/tmp/list.avro".into(), 5);
        assert_eq!(
            requirements,
            vec![
                TableRequirement::UuidMatch { uuid: base.uuid() },
                TableRequirement::RefSnapshotIdMatch {
                    r#ref: "main".into(),
                    snapshot_id: main
                },
            ],
            "{name}"
        );
        let TableUpdate::AddSnapshot { snapshot } = &updates[0] else {
            panic!("{name}: {updates:?}")
        };
        assert_eq!(snapshot.snapshot_id(), 77, "{name}");
        assert_eq!(snapshot.parent_snapshot_id(), parent, "{name}");
        assert_eq!(snapshot.sequence_number(), seq, "{name}");
        assert_eq!(snapshot.manifest_list(), "/tmp/list.avro", "{name}");
        // Never older than the table's last update.
        assert_eq!(
            snapshot.timestamp_ms(),
            base.last_updated_ms().max(5),
            "{name}"
        );
        assert_eq!(snapshot.summary().operation, operation, "{name}");
        let props = &snapshot.summary().additional_properties;
        assert_eq!(
            props.get("total-records").map(String::as_str),
            total,
            "{name}"
        );
        for (k, v) in &delta.summary {
            assert_eq!(&props[k], v, "{name}");
        }
        assert_eq!(
            updates[1],
            TableUpdate::SetSnapshotRef {
                ref_name: "main".into(),
                reference: SnapshotReference::new(77, SnapshotRetention::branch(None, None, None)),
            },
            "{name}"
        );
        assert_eq!(updates.len(), if sets { 3 } else { 2 }, "{name}");
        if sets {
            assert_eq!(
                updates[2],
                TableUpdate::SetProperties {
                    updates: delta.properties.clone()
                }
            );
        }
    }
}

#[test]
fn position_deletes_of_other_commits_must_stay_live() {
    use iceberg::spec::{DataFileBuilder, DataFileFormat, Struct};
    let file = |content: DataContentType, path: &str, target: Option<&str>| {
        DataFileBuilder::default()
            .content(content)
            .file_path(path.to_string())
            .file_format(DataFileFormat::Parquet)
            .partition(Struct::empty())
            .record_count(1)
            .file_size_in_bytes(1)
            .referenced_data_file(target.map(str::to_string))
            .build()
            .unwrap()
    };
    let delta = RowDelta {
        data_files: vec![file(DataContentType::Data, "/d/own", None)],
        delete_files: vec![
            file(DataContentType::PositionDeletes, "/d/p1", Some("/d/own")),
            file(DataContentType::PositionDeletes, "/d/p2", Some("/d/older")),
            file(DataContentType::PositionDeletes, "/d/p3", None),
            file(DataContentType::EqualityDeletes, "/d/e1", None),
        ],
        ..Default::default()
    };
    assert_eq!(
        delta.referenced_elsewhere(),
        BTreeSet::from(["/d/older".to_string()])
    );
    assert!(RowDelta::default().referenced_elsewhere().is_empty());
}
