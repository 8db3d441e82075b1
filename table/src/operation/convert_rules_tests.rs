use iceberg::spec::{Literal, Struct};

use super::*;

fn bucket(b: i32) -> Partition {
    Partition {
        spec_id: 0,
        value: Struct::from_iter([Some(Literal::int(b))]),
    }
}

fn file(content: DataContentType, path: &str, b: i32, seq: i64) -> LiveFile {
    LiveFile {
        path: path.into(),
        content,
        partition: bucket(b),
        unpartitioned: false,
        sequence_number: seq,
        referenced_data_file: None,
    }
}

fn data(path: &str, b: i32, seq: i64) -> LiveFile {
    file(DataContentType::Data, path, b, seq)
}

fn eq(path: &str, b: i32, seq: i64) -> LiveFile {
    file(DataContentType::EqualityDeletes, path, b, seq)
}

fn pos(path: &str, b: i32, seq: i64, target: &str) -> LiveFile {
    LiveFile {
        referenced_data_file: Some(target.into()),
        ..file(DataContentType::PositionDeletes, path, b, seq)
    }
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// Bucket 1: data d1 (1), d2 (2), d3 (3); equality deletes e2 (2), e3 (3). Bucket 2: only
/// data. Checkpoint 3's data d3 is not read: no converted delete is newer than it.
fn table() -> Vec<LiveFile> {
    vec![
        data("d1", 1, 1),
        data("d2", 1, 2),
        eq("e2", 1, 2),
        data("d3", 1, 3),
        eq("e3", 1, 3),
        data("x1", 2, 1),
    ]
}

/// `table()` with position deletes p1 of d1 (bucket 1), folded by the conversion.
fn with_position_deletes() -> Vec<LiveFile> {
    let mut files = table();
    files.push(pos("p1", 1, 1, "d1"));
    files
}

#[test]
fn a_partition_converts_its_deletes_over_the_data_they_may_hide() {
    let unpartitioned = LiveFile {
        unpartitioned: true,
        ..eq("global", 3, 9)
    };
    let mut files = table();
    files.push(unpartitioned);
    files.push(pos("p3", 1, 3, "d3"));
    files.push(pos("q", 2, 3, "x1"));
    let conversions = conversions_of(&files, 3);
    assert_eq!(
        conversions,
        [DeleteConversion {
            partition: bucket(1),
            start_sequence: 3,
            converted: set(&["e2", "e3"]),
            read: set(&["d1", "d2"]),
            folded: set(&["p3"]),
        }],
        "one conversion, bucket 2 has no deletes, unpartitioned ones stay"
    );
}

#[test]
fn only_a_change_to_what_was_read_is_a_conflict() {
    let conversion = conversions_of(&with_position_deletes(), 3).remove(0);
    assert_eq!(conversion.folded, set(&["p1"]));
    let with = |extra: Vec<LiveFile>| {
        let mut files = with_position_deletes();
        files.extend(extra);
        files
    };
    let without = |gone: &str| {
        with_position_deletes()
            .into_iter()
            .filter(|f| f.path != gone)
            .collect::<Vec<_>>()
    };
    // (table now, conflict)
    let cases: Vec<(Vec<LiveFile>, Option<ConversionConflict>)> = vec![
        (with_position_deletes(), None),
        // An upsert committed meanwhile: newer data and deletes.
        (with(vec![data("d4", 1, 4), eq("e4", 1, 4)]), None),
        (with(vec![pos("p4", 1, 4, "d1")]), None),
        // A compaction committed meanwhile.
        (
            without("d1"),
            Some(ConversionConflict::DataFilesGone(vec!["d1".into()])),
        ),
        (
            without("e2"),
            Some(ConversionConflict::DeletesGone(vec!["e2".into()])),
        ),
        (
            without("p1"),
            Some(ConversionConflict::DeletesGone(vec!["p1".into()])),
        ),
        (
            with(vec![data("c1", 1, 1)]),
            Some(ConversionConflict::NewDataFiles(vec!["c1".into()])),
        ),
        // Another partition's changes are none of its business.
        (with(vec![data("y", 2, 1), eq("f", 2, 4)]), None),
    ];
    for (current, want) in cases {
        let got = validate_conversion(&conversion, &current).err();
        assert_eq!(got, want, "{current:?}");
    }
}

#[test]
fn deletes_left_without_data_dangle() {
    let files = vec![
        data("d5", 1, 5),
        eq("old", 1, 3),
        pos("p-gone", 1, 4, "d1"),
        pos("p-live", 1, 5, "d5"),
        eq("new", 1, 6),
        eq("other", 2, 3),
    ];
    assert_eq!(
        dangling_deletes(&bucket(1), &files),
        set(&["old", "p-gone"]),
        "an equality delete older than every data file, a position delete of a file gone"
    );
}
