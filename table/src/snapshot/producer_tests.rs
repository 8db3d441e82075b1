use iceberg::spec::{DataContentType, DataFileBuilder, DataFileFormat, Struct};

use super::*;
use crate::operation::{Plan, RowDelta, TableOperation};
use crate::testing::{metadata, string_map, MemoryCatalog, Snap};

#[test]
fn a_snapshot_goes_on_top_of_main() {
    const PARENT: &[(&str, &str)] = &[("total-records", "10"), ("total-data-files", "2")];
    const HISTORY: &[Snap] = &[(1, None, 1, &[]), (2, Some(1), 2, PARENT)];
    // (name, history, main, operation, own summary entries, expected parent, sequence
    // number and `total-records`: a parent without totals, snapshot 1, leaves them out)
    type Case = (
        &'static str,
        &'static [Snap],
        Option<i64>,
        Operation,
        &'static [(&'static str, &'static str)],
        Option<i64>,
        i64,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "first snapshot",
            &[],
            None,
            Operation::Append,
            &[],
            None,
            1,
            Some("4"),
        ),
        (
            "on top of main",
            HISTORY,
            Some(2),
            Operation::Overwrite,
            &[],
            Some(2),
            3,
            Some("14"),
        ),
        (
            "main behind the newest",
            HISTORY,
            Some(1),
            Operation::Append,
            &[],
            Some(1),
            3,
            None,
        ),
        (
            "with summary entries",
            HISTORY,
            Some(2),
            Operation::Overwrite,
            &[("floe.checkpoint-id", "3")],
            Some(2),
            3,
            Some("14"),
        ),
    ];
    for (name, history, main, operation, own, parent, seq, total) in cases {
        let base = metadata(history, main, &[]);
        let mut changes = string_map(&[("added-records", "4"), ("added-data-files", "1")]);
        changes.extend(string_map(own));
        let commit = snapshot_commit(
            &base,
            77,
            operation.clone(),
            changes,
            "/tmp/list.avro".into(),
            5,
        );
        assert_eq!(
            commit.requirements,
            vec![
                TableRequirement::UuidMatch { uuid: base.uuid() },
                TableRequirement::RefSnapshotIdMatch {
                    r#ref: "main".into(),
                    snapshot_id: main
                },
            ],
            "{name}"
        );
        let TableUpdate::AddSnapshot { snapshot } = &commit.updates[0] else {
            panic!("{name}: {:?}", commit.updates)
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
        for (k, v) in own {
            assert_eq!(&props[*k], v, "{name}");
        }
        assert_eq!(
            commit.updates[1],
            TableUpdate::SetSnapshotRef {
                ref_name: "main".into(),
                reference: SnapshotReference::new(77, SnapshotRetention::branch(None, None, None)),
            },
            "{name}"
        );
        assert_eq!(commit.updates.len(), 2, "{name}");
    }
}

fn file(content: DataContentType, path: &str, target: Option<&str>) -> DataFile {
    DataFileBuilder::default()
        .content(content)
        .file_path(path.to_string())
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::empty())
        .partition_spec_id(0)
        .record_count(1)
        .file_size_in_bytes(1)
        .referenced_data_file(target.map(str::to_string))
        .build()
        .unwrap()
}

#[test]
fn position_deletes_of_other_commits_must_stay_live() {
    let mut delta = RowDelta::new();
    delta.add_files([
        file(DataContentType::Data, "/d/own", None),
        file(DataContentType::PositionDeletes, "/d/p1", Some("/d/own")),
        file(DataContentType::PositionDeletes, "/d/p2", Some("/d/older")),
        file(DataContentType::PositionDeletes, "/d/p3", None),
        file(DataContentType::EqualityDeletes, "/d/e1", None),
    ]);
    assert_eq!(
        delta.referenced_elsewhere(),
        BTreeSet::from(["/d/older".to_string()])
    );
    assert!(RowDelta::new().referenced_elsewhere().is_empty());
}

#[tokio::test]
async fn a_row_delta_is_an_overwrite_with_deletes_and_sets_its_properties() {
    let catalog = MemoryCatalog::new(HashMap::new());
    // (files, properties, expected operation)
    let data = || file(DataContentType::Data, "memory://warehouse/t/data/a", None);
    let deletes = || {
        file(
            DataContentType::EqualityDeletes,
            "memory://warehouse/t/data/e",
            None,
        )
    };
    let cases = [
        (vec![data()], vec![], Operation::Append),
        (
            vec![data(), deletes()],
            vec![("floe.watermark", "500")],
            Operation::Overwrite,
        ),
    ];
    for (files, properties, operation) in cases {
        let mut delta = RowDelta::new();
        delta.add_files(files);
        for (k, v) in &properties {
            delta.set_property(k, *v);
        }
        let Plan::Commit(commit) = delta.plan(&catalog.table(), 1).await.unwrap() else {
            panic!("a row delta commits")
        };
        let TableUpdate::AddSnapshot { snapshot } = &commit.updates[0] else {
            panic!("{:?}", commit.updates)
        };
        assert_eq!(snapshot.summary().operation, operation);
        // The snapshot, main moved to it, then the properties when there are any: no more.
        assert!(
            matches!(&commit.updates[1], TableUpdate::SetSnapshotRef { ref_name, .. } if ref_name == "main"),
            "{:?}",
            commit.updates
        );
        let sets = !properties.is_empty();
        assert_eq!(commit.updates.len(), if sets { 3 } else { 2 });
        if sets {
            assert_eq!(
                commit.updates[2],
                TableUpdate::SetProperties {
                    updates: string_map(&properties)
                }
            );
        }
    }
}
