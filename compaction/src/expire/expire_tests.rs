use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, ManifestListWriter,
    ManifestWriterBuilder, Struct,
};
use serde_json::json;

use iceberg::io::FileIO;
use iceberg::spec::ManifestFile;

use super::*;
use crate::test_support::string_map;

const DAY: i64 = 24 * 3600 * 1000;
const NOW: i64 = 100 * DAY;

/// A snapshot: id, parent, age in days.
type Snap = (i64, Option<i64>, i64);
/// A ref: name, snapshot id, "branch" or "tag", min-snapshots-to-keep, max-snapshot-age-ms.
type Ref<'a> = (&'a str, i64, &'a str, Option<i64>, Option<i64>);

/// Table metadata v2 at `location` whose snapshot `id` has the manifest list
/// `{location}/metadata/snap-{id}.avro`.
fn metadata_at(location: &str, snapshots: &[Snap], refs: &[Ref]) -> TableMetadata {
    let snapshots: Vec<_> = snapshots
        .iter()
        .enumerate()
        .map(|(i, (id, parent, age))| {
            let mut s = json!({
                "snapshot-id": id,
                "sequence-number": i + 1,
                "timestamp-ms": NOW - age * DAY,
                "manifest-list": format!("{location}/metadata/snap-{id}.avro"),
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
        "location": location,
        "last-sequence-number": snapshots.len(),
        "last-updated-ms": NOW,
        "last-column-id": 1,
        "current-schema-id": 0,
        "schemas": [{"type": "struct", "schema-id": 0, "fields": [
            {"id": 1, "name": "id", "required": true, "type": "long"}
        ]}],
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

fn metadata(snapshots: &[Snap], refs: &[Ref]) -> TableMetadata {
    metadata_at("/t", snapshots, refs)
}

fn options(age_days: i64, keep: usize) -> ExpireOptions {
    ExpireOptions {
        max_snapshot_age_ms: age_days * DAY,
        min_snapshots_to_keep: keep,
    }
}

#[test]
fn retention_decides_which_snapshots_go() {
    // A chain 1 <- 2 <- 3 <- 4 <- 5 (ages 10, 8, 6, 4, 2 days) on main; 7 <- 6 <- 1 is a
    // side line (ages 9, 3).
    let chain = [
        (1, None, 10),
        (2, Some(1), 8),
        (3, Some(2), 6),
        (4, Some(3), 4),
        (5, Some(4), 2),
        (6, Some(1), 9),
        (7, Some(6), 3),
    ];
    let main: Ref = ("main", 5, "branch", None, None);
    let cases: Vec<(&str, Vec<Ref>, ExpireOptions, Vec<i64>)> = vec![
        (
            "older than 5 days go",
            vec![main],
            options(5, 1),
            vec![1, 2, 3, 6],
        ),
        (
            "min-snapshots-to-keep keeps the newest",
            vec![main],
            options(5, 4),
            vec![1, 6],
        ),
        ("nothing is old enough", vec![main], options(30, 1), vec![]),
        (
            "the head stays, however old",
            vec![main],
            options(0, 1),
            vec![1, 2, 3, 4, 6, 7],
        ),
        (
            "keeping more than the chain",
            vec![main],
            options(0, 99),
            vec![6, 7],
        ),
        (
            "a tag keeps its snapshot, not its ancestors",
            vec![main, ("t", 7, "tag", None, None)],
            options(0, 1),
            vec![1, 2, 3, 4, 6],
        ),
        (
            "a tag's old ancestors go with the table's age",
            vec![main, ("t", 7, "tag", None, None)],
            options(5, 1),
            vec![1, 2, 3, 6],
        ),
        (
            "a second branch keeps its own ancestry",
            vec![main, ("b", 7, "branch", Some(3), None)],
            options(0, 1),
            vec![2, 3, 4],
        ),
        (
            "a branch's own min-snapshots-to-keep wins",
            vec![("main", 5, "branch", Some(3), None)],
            options(0, 1),
            vec![1, 2, 6, 7],
        ),
        (
            "a branch's own max age wins",
            vec![("main", 5, "branch", None, Some(7 * DAY))],
            options(0, 1),
            vec![1, 2, 6, 7],
        ),
        (
            "invalid branch retention falls back to the table's",
            vec![("main", 5, "branch", Some(0), Some(-1))],
            options(5, 2),
            vec![1, 2, 3, 6],
        ),
    ];
    for (name, refs, o, want) in cases {
        assert_eq!(
            snapshots_to_expire(&metadata(&chain, &refs), NOW, &o),
            want,
            "{name}"
        );
    }
}

#[test]
fn snapshots_outside_every_branch_go_only_when_old() {
    // 9 (old) and 8 (young) are not on any branch.
    let snapshots = [
        (1, None, 10),
        (2, Some(1), 1),
        (9, Some(1), 9),
        (8, Some(1), 1),
    ];
    let md = metadata(&snapshots, &[("main", 2, "branch", None, None)]);
    assert_eq!(snapshots_to_expire(&md, NOW, &options(5, 1)), vec![1, 9]);
}

#[test]
fn odd_histories_keep_what_they_must() {
    // The walk stops at a parent already expired; an old ancestor younger than its child
    // (clock skew) is kept.
    let md = metadata(
        &[
            (2, Some(1), 8),
            (3, Some(2), 1),
            (4, Some(3), 9),
            (5, Some(4), 2),
        ],
        &[("main", 5, "branch", None, None)],
    );
    assert_eq!(snapshots_to_expire(&md, NOW, &options(5, 1)), vec![2, 4]);
    // A parent cycle (corrupt metadata) ends the walk instead of looping.
    let md = metadata(
        &[(1, Some(2), 9), (2, Some(1), 8)],
        &[("main", 2, "branch", None, None)],
    );
    assert_eq!(snapshots_to_expire(&md, NOW, &options(5, 1)), vec![1]);
    // A table without snapshots expires nothing.
    assert!(snapshots_to_expire(&metadata(&[], &[]), NOW, &options(0, 1)).is_empty());
    // A huge age does not overflow.
    let md = metadata(
        &[(1, None, 9), (2, Some(1), 1)],
        &[("main", 2, "branch", None, None)],
    );
    let forever = ExpireOptions::default().with_overrides(Some(i64::MAX), None);
    assert!(snapshots_to_expire(&md, NOW, &forever).is_empty());
}

#[test]
fn a_v1_table_without_refs_keeps_its_main_branch() {
    let snapshot = |id: i64, parent: Option<i64>, age: i64| {
        json!({"snapshot-id": id, "parent-snapshot-id": parent, "timestamp-ms": NOW - age * DAY,
               "manifest-list": format!("/t/snap-{id}.avro"), "summary": {"operation": "append"}})
    };
    let md: TableMetadata = serde_json::from_value(json!({
        "format-version": 1,
        "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
        "location": "/t",
        "last-updated-ms": NOW,
        "last-column-id": 1,
        "schema": {"type": "struct", "fields": [
            {"id": 1, "name": "id", "required": true, "type": "long"}
        ]},
        "partition-spec": [],
        "current-snapshot-id": 3,
        "snapshots": [snapshot(1, None, 9), snapshot(2, Some(1), 8), snapshot(3, Some(2), 7)]
    }))
    .unwrap();
    assert_eq!(snapshots_to_expire(&md, NOW, &options(5, 2)), vec![1]);
}

#[test]
fn options_come_from_table_properties() {
    assert_eq!(
        ExpireOptions::from_properties(&HashMap::new()).unwrap(),
        options(5, 1)
    );
    assert_eq!(ExpireOptions::default(), options(5, 1));
    let props = string_map(&[
        (MAX_SNAPSHOT_AGE_MS, "1000"),
        (MIN_SNAPSHOTS_TO_KEEP, " 3 "),
    ]);
    let o = ExpireOptions::from_properties(&props).unwrap();
    assert_eq!((o.max_snapshot_age_ms, o.min_snapshots_to_keep), (1000, 3));
    assert_eq!(o.with_overrides(None, None), o);
    assert_eq!(o.with_overrides(Some(5), None).max_snapshot_age_ms, 5);
    assert_eq!(o.with_overrides(Some(-5), None).max_snapshot_age_ms, 0);
    assert_eq!(o.with_overrides(None, Some(0)).min_snapshots_to_keep, 1);
    assert_eq!(o.with_overrides(None, Some(7)).min_snapshots_to_keep, 7);
    for (key, value) in [
        (MAX_SNAPSHOT_AGE_MS, "soon"),
        (MAX_SNAPSHOT_AGE_MS, "-1"),
        (MAX_SNAPSHOT_AGE_MS, ""),
        (MIN_SNAPSHOTS_TO_KEEP, "0"),
        (MIN_SNAPSHOTS_TO_KEEP, "-2"),
        (MIN_SNAPSHOTS_TO_KEEP, "1.5"),
    ] {
        let err = ExpireOptions::from_properties(&string_map(&[(key, value)])).unwrap_err();
        assert_eq!(err.key, key);
        assert!(err.to_string().contains(key), "{err}");
    }
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn only_files_no_retained_snapshot_reaches_are_deleted() {
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
    assert_eq!(
        files_to_delete(&expired, &ReachableFiles::default()),
        expired
    );
    assert!(files_to_delete(&ReachableFiles::default(), &retained).is_empty());
}

fn data_file(path: &str, content: DataContentType) -> DataFile {
    DataFileBuilder::default()
        .content(content)
        .file_path(path.to_string())
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::empty())
        .record_count(1)
        .file_size_in_bytes(1)
        .build()
        .unwrap()
}

/// A manifest: its name; its snapshot, sequence number and whether it holds (position)
/// deletes; its entries (file name, status).
type ManifestSpec<'a> = (&'a str, (i64, i64, bool), &'a [(&'a str, &'a str)]);

/// Writes the manifest `{loc}/{name}.avro` of `spec` with its entries' files at
/// `{loc}/{file}`, and creates each entry's file (empty).
async fn write_manifest(
    io: &FileIO,
    md: &TableMetadata,
    loc: &str,
    (name, (snapshot_id, seq, deletes), entries): ManifestSpec<'_>,
) -> ManifestFile {
    let output = io.new_output(format!("{loc}/{name}.avro")).unwrap();
    let schema = md.current_schema().clone();
    let spec = md.default_partition_spec().as_ref().clone();
    let builder = ManifestWriterBuilder::new(output, Some(snapshot_id), schema, spec);
    let mut writer = if deletes {
        builder.build_v2_deletes()
    } else {
        builder.build_v2_data()
    };
    for (file, status) in entries {
        let content = if deletes {
            DataContentType::PositionDeletes
        } else {
            DataContentType::Data
        };
        let file = format!("{loc}/{file}");
        let f = data_file(&file, content);
        match *status {
            "added" => writer.add_file(f, seq).unwrap(),
            "existing" => writer.add_existing_file(f, 2, 2, Some(2)).unwrap(),
            _ => writer.add_delete_file(f, 2, Some(2)).unwrap(),
        }
        io.new_output(&file)
            .unwrap()
            .write(Vec::new().into())
            .await
            .unwrap();
    }
    let mut manifest = writer.write_manifest_file().await.unwrap();
    manifest.sequence_number = seq;
    manifest.min_sequence_number = seq;
    manifest
}

async fn write_list(io: &FileIO, md: &TableMetadata, id: i64, manifests: &[&ManifestFile]) {
    let snapshot = md.snapshot_by_id(id).unwrap();
    let output = io.new_output(snapshot.manifest_list()).unwrap();
    let mut writer = ManifestListWriter::v2(
        output.writer().await.unwrap(),
        id,
        snapshot.parent_snapshot_id(),
        snapshot.sequence_number(),
    );
    writer
        .add_manifests(manifests.iter().map(|m| (*m).clone()))
        .unwrap();
    writer.close().await.unwrap();
}

#[tokio::test]
async fn a_real_table_loses_only_what_its_retained_snapshots_do_not_reach() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().to_str().unwrap().to_string();
    let io = FileIO::new_with_fs();
    let snapshots = [(1, None, 9), (2, Some(1), 8), (3, Some(2), 1)];
    let md = metadata_at(&loc, &snapshots, &[("main", 3, "branch", None, None)]);
    let p = |name: &str| format!("{loc}/{name}");
    // 1 adds a, b; 2 adds c and a position delete of b; 3 rewrote its manifests: it no
    // longer names a, marks b deleted, adds b2, keeps c and 2's delete manifest.
    let specs: [ManifestSpec; 4] = [
        ("m1", (1, 1, false), &[("a", "added"), ("b", "added")]),
        ("m2", (2, 2, false), &[("c", "added")]),
        ("d2", (2, 2, true), &[("del-b", "added")]),
        (
            "m3",
            (3, 3, false),
            &[("b", "deleted"), ("b2", "added"), ("c", "existing")],
        ),
    ];
    let mut m = HashMap::new();
    for spec in specs {
        m.insert(spec.0, write_manifest(&io, &md, &loc, spec).await);
    }
    write_list(&io, &md, 1, &[&m["m1"]]).await;
    write_list(&io, &md, 2, &[&m["m1"], &m["m2"], &m["d2"]]).await;
    write_list(&io, &md, 3, &[&m["m3"], &m["d2"]]).await;
    let list = |id: i64| md.snapshot_by_id(id).unwrap().manifest_list().to_string();
    let files = |names: &[&str]| names.iter().map(|n| p(n)).collect::<BTreeSet<_>>();

    let expired = snapshots_to_expire(&md, NOW, &options(5, 1));
    assert_eq!(expired, vec![1, 2]);
    let gone = reachable_files(&io, &md, &expired, Entries::All)
        .await
        .unwrap();
    assert_eq!(gone.manifest_lists, [list(1), list(2)].into());
    assert_eq!(gone.manifests, files(&["m1.avro", "m2.avro", "d2.avro"]));
    assert_eq!(gone.content_files, files(&["a", "b", "c", "del-b"]));
    // Only live entries count on the retained side: b, which 3 marks deleted, goes.
    let kept = reachable_files(&io, &md, &[3, 42], Entries::Live)
        .await
        .unwrap();
    assert_eq!(kept.manifest_lists, [list(3)].into());
    assert_eq!(kept.manifests, files(&["m3.avro", "d2.avro"]));
    assert_eq!(kept.content_files, files(&["b2", "c", "del-b"]));

    let doomed = files_to_delete(&gone, &kept);
    assert_eq!(doomed.content_files, files(&["a", "b"]));
    assert_eq!(doomed.manifests, files(&["m1.avro", "m2.avro"]));
    let report = delete_files(&io, &doomed).await;
    assert_eq!(
        report,
        DeleteReport {
            deleted: 6,
            failed: 0
        }
    );
    let all = |f: &ReachableFiles| {
        let mut v: Vec<String> = f.manifest_lists.iter().cloned().collect();
        v.extend(f.manifests.iter().chain(&f.content_files).cloned());
        v
    };
    for path in all(&doomed) {
        assert!(!io.exists(&path).await.unwrap(), "{path}");
    }
    for path in all(&kept) {
        assert!(io.exists(&path).await.unwrap(), "{path}");
    }
    // The retained snapshot still reads; deleting again is no error.
    assert_eq!(
        reachable_files(&io, &md, &[3], Entries::Live)
            .await
            .unwrap(),
        kept
    );
    assert_eq!(delete_files(&io, &doomed).await.failed, 0);
    // A snapshot whose manifest list is gone fails the listing rather than answer less.
    assert!(reachable_files(&io, &md, &[1], Entries::All).await.is_err());
}

#[tokio::test]
async fn a_failed_delete_is_counted_and_the_rest_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let io = FileIO::new_with_fs();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for name in ["x", "y", "busy/z"] {
        let output = io.new_output(path(name)).unwrap();
        output.write(Vec::new().into()).await.unwrap();
    }
    // A non-empty directory cannot be deleted as a file.
    let files = ReachableFiles {
        manifest_lists: set(&[&path("y")]),
        manifests: set(&[&path("busy")]),
        content_files: set(&[&path("x"), &path("never-written")]),
    };
    let report = delete_files(&io, &files).await;
    assert_eq!(
        report,
        DeleteReport {
            deleted: 3,
            failed: 1
        }
    );
    assert!(!io.exists(path("x")).await.unwrap());
    assert!(!io.exists(path("y")).await.unwrap());
    assert!(io.exists(path("busy/z")).await.unwrap());
}
