use iceberg::spec::{Literal, Struct};

use super::*;

fn bucket(b: i32) -> Partition {
    Partition {
        spec_id: 0,
        value: Struct::from_iter([Some(Literal::int(b))]),
    }
}

fn data(path: &str, b: i32, seq: i64) -> LiveFile {
    LiveFile {
        path: path.into(),
        content: DataContentType::Data,
        partition: bucket(b),
        unpartitioned: false,
        sequence_number: seq,
        referenced_data_file: None,
    }
}

fn eq(path: &str, b: i32, seq: i64) -> LiveFile {
    LiveFile {
        content: DataContentType::EqualityDeletes,
        ..data(path, b, seq)
    }
}

fn pos(path: &str, b: i32, seq: i64, target: Option<&str>) -> LiveFile {
    LiveFile {
        content: DataContentType::PositionDeletes,
        referenced_data_file: target.map(str::to_string),
        ..data(path, b, seq)
    }
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn sequence_number_rules_decide_what_a_delete_may_hide() {
    let unpartitioned_eq = LiveFile {
        unpartitioned: true,
        ..eq("g", 9, 5)
    };
    // (delete, data, applies)
    let cases = [
        (eq("e", 1, 5), data("d", 1, 4), true),
        (eq("e", 1, 5), data("d", 1, 5), false),
        (eq("e", 1, 5), data("d", 1, 6), false),
        (eq("e", 1, 5), data("d", 2, 4), false),
        (pos("p", 1, 5, None), data("d", 1, 5), true),
        (pos("p", 1, 5, None), data("d", 1, 4), true),
        (pos("p", 1, 5, None), data("d", 1, 6), false),
        (pos("p", 1, 5, Some("d")), data("d", 1, 5), true),
        (pos("p", 1, 5, Some("x")), data("d", 1, 5), false),
        (pos("p", 1, 5, None), data("d", 2, 5), false),
        (unpartitioned_eq.clone(), data("d", 1, 4), true),
        (unpartitioned_eq, data("d", 1, 5), false),
        (data("x", 1, 9), data("d", 1, 1), false),
    ];
    for (i, (delete, file, want)) in cases.iter().enumerate() {
        assert_eq!(
            may_apply(delete, file),
            *want,
            "case {i}: {delete:?} on {file:?}"
        );
    }
}

#[test]
fn deletes_by_data_file_lists_what_may_apply_to_each_file() {
    let files = [
        data("a", 1, 1),
        data("b", 1, 3),
        data("c", 2, 1),
        eq("e2", 1, 2),
        pos("p3", 1, 3, Some("b")),
    ];
    let got = deletes_by_data_file(&files);
    assert_eq!(got["a"], vec!["e2".to_string()]);
    assert_eq!(got["b"], vec!["p3".to_string()]);
    assert!(got["c"].is_empty());
    assert_eq!(got.len(), 3);
}

#[test]
fn validate_accepts_new_equality_deletes_and_appends() {
    let group = set(&["a", "b"]);
    let current = [
        data("a", 1, 1),
        data("b", 1, 2),
        data("new", 1, 4),
        eq("e4", 1, 4),
        pos("p4", 1, 4, Some("new")),
    ];
    assert_eq!(validate(&group, 3, &current), Ok(()));
}

#[test]
fn validate_refuses_lost_files_and_new_position_deletes_on_rewritten_files() {
    let group = set(&["a", "b"]);
    let gone = [data("a", 1, 1)];
    assert_eq!(
        validate(&group, 3, &gone),
        Err(ReplaceConflict::DataFilesGone(vec!["b".into()]))
    );
    let targeted = [data("a", 1, 1), data("b", 1, 2), pos("p4", 1, 4, Some("b"))];
    assert_eq!(
        validate(&group, 3, &targeted),
        Err(ReplaceConflict::NewPositionDeletes(vec!["p4".into()]))
    );
    // Without a referenced file, a new position delete of the partition may point at them.
    let untargeted = [data("a", 1, 1), data("b", 1, 2), pos("p4", 1, 4, None)];
    assert!(validate(&group, 3, &untargeted).is_err());
    // Position deletes from before the start were applied while rewriting.
    let old = [data("a", 1, 1), data("b", 1, 2), pos("p2", 1, 2, Some("b"))];
    assert_eq!(validate(&group, 3, &old), Ok(()));
    // In another partition they cannot touch the group.
    let elsewhere = [data("a", 1, 1), data("b", 1, 2), pos("p4", 2, 4, None)];
    assert_eq!(validate(&group, 3, &elsewhere), Ok(()));
}

#[test]
fn removable_deletes_are_those_no_remaining_file_needs() {
    /// (name, group, live files now, removable deletes)
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<LiveFile>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "every file of the bucket rewritten: all its deletes go",
            vec!["a", "b"],
            vec![
                data("a", 1, 1),
                data("b", 1, 2),
                eq("e2", 1, 2),
                eq("e3", 1, 3),
                pos("p2", 1, 2, Some("b")),
            ],
            vec!["e2", "e3", "p2"],
        ),
        (
            "a file left out still needs the equality delete above it",
            vec!["b"],
            vec![
                data("a", 1, 1),
                data("b", 1, 2),
                eq("e2", 1, 2),
                eq("e3", 1, 3),
            ],
            vec![],
        ),
        (
            "a delete below the file left out is useless already",
            vec!["a"],
            vec![
                data("a", 1, 1),
                data("b", 1, 3),
                eq("e2", 1, 2),
                pos("p3", 1, 3, Some("b")),
            ],
            vec!["e2"],
        ),
        (
            "deletes committed after the start stay",
            vec!["a"],
            vec![data("a", 1, 1), eq("e5", 1, 5), data("n", 1, 5)],
            vec![],
        ),
        (
            "other partitions are not touched",
            vec!["a"],
            vec![data("a", 1, 1), eq("e2", 1, 2), eq("x2", 2, 2)],
            vec!["e2"],
        ),
        (
            "a dangling delete of the partition goes too",
            vec!["a"],
            vec![data("a", 1, 2), eq("e1", 1, 1)],
            vec!["e1"],
        ),
    ];
    for (name, group, current, want) in cases {
        let got = removable_deletes(&set(&group), &bucket(1), 4, &current);
        assert_eq!(got, set(&want), "{name}");
    }
}
