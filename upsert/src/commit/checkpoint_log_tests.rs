use std::collections::HashMap;

use floe_table::properties::{writer_checkpoint_property, CHECKPOINT_ID, WRITER_ID};

use super::*;
use floe_table::testing::{metadata, Snap};

const W1_1: &[(&str, &str)] = &[(WRITER_ID, "w1"), (CHECKPOINT_ID, "1")];
const W1_2: &[(&str, &str)] = &[(WRITER_ID, "w1"), (CHECKPOINT_ID, "2")];
const W1_9: &[(&str, &str)] = &[(WRITER_ID, "w1"), (CHECKPOINT_ID, "9")];
const W1_BAD: &[(&str, &str)] = &[(WRITER_ID, "w1"), (CHECKPOINT_ID, "two")];
const W1_NONE: &[(&str, &str)] = &[(WRITER_ID, "w1")];
const W2_7: &[(&str, &str)] = &[(WRITER_ID, "w2"), (CHECKPOINT_ID, "7")];
const OTHER: &[(&str, &str)] = &[(CHECKPOINT_ID, "100")];
const NONE: &[(&str, &str)] = &[];

/// w1 commits checkpoints 1 and 2, someone else appends, then w2 commits 7.
const HISTORY: &[Snap] = &[
    (10, None, 1, W1_1),
    (11, Some(10), 2, W1_2),
    (12, Some(11), 3, OTHER),
    (13, Some(12), 4, W2_7),
];

fn cp(checkpoint_id: i64, snapshot_id: i64, sequence_number: i64) -> CommittedCheckpoint {
    CommittedCheckpoint {
        checkpoint_id,
        snapshot_id: Some(snapshot_id),
        sequence_number: Some(sequence_number),
    }
}

/// A checkpoint whose snapshot is gone: only the writer's table property records it.
fn recorded_only(checkpoint_id: i64) -> CommittedCheckpoint {
    CommittedCheckpoint {
        checkpoint_id,
        snapshot_id: None,
        sequence_number: None,
    }
}

/// `metadata` with table property `floe.writer.<writer>.checkpoint-id` = `value`.
fn recording(metadata: TableMetadata, writer: &str, value: &str) -> TableMetadata {
    let property = HashMap::from([(writer_checkpoint_property(writer), value.to_string())]);
    let builder = metadata.into_builder(None).set_properties(property);
    builder.unwrap().build().unwrap().metadata
}

fn with(extra: &[Snap]) -> Vec<Snap> {
    HISTORY.iter().chain(extra).copied().collect()
}

#[test]
fn last_committed_checkpoints() {
    let cases: Vec<(&str, TableMetadata, &str, Option<CommittedCheckpoint>)> = vec![
        ("no snapshots", metadata(&[], None, &[]), "w1", None),
        (
            "w1's newest checkpoint",
            metadata(HISTORY, Some(13), &[]),
            "w1",
            Some(cp(2, 11, 2)),
        ),
        (
            "w2's checkpoint",
            metadata(HISTORY, Some(13), &[]),
            "w2",
            Some(cp(7, 13, 4)),
        ),
        (
            "a writer that never committed",
            metadata(HISTORY, Some(13), &[]),
            "w3",
            None,
        ),
        (
            "writer ids match exactly",
            metadata(HISTORY, Some(13), &[]),
            "w",
            None,
        ),
        (
            "a commit without a writer id belongs to no writer",
            metadata(HISTORY, Some(13), &[]),
            "",
            None,
        ),
        (
            "main rolled back to 10: checkpoint 2 is no longer committed",
            metadata(HISTORY, Some(10), &[]),
            "w1",
            Some(cp(1, 10, 1)),
        ),
        (
            "a dangling snapshot (off main's ancestor 11) is ignored",
            metadata(&with(&[(14, Some(11), 5, W1_9)]), Some(13), &[]),
            "w1",
            Some(cp(2, 11, 2)),
        ),
        (
            "a commit on another branch is ignored",
            metadata(
                &with(&[(14, Some(13), 5, W1_9)]),
                Some(13),
                &[("audit", 14)],
            ),
            "w1",
            Some(cp(2, 11, 2)),
        ),
        (
            "the newest commit on main wins",
            metadata(&with(&[(14, Some(13), 5, W1_9)]), Some(14), &[]),
            "w1",
            Some(cp(9, 14, 5)),
        ),
        (
            "a non-numeric checkpoint id is skipped",
            metadata(&with(&[(14, Some(13), 5, W1_BAD)]), Some(14), &[]),
            "w1",
            Some(cp(2, 11, 2)),
        ),
        (
            "a commit without a checkpoint id is skipped",
            metadata(&with(&[(14, Some(13), 5, W1_NONE)]), Some(14), &[]),
            "w1",
            Some(cp(2, 11, 2)),
        ),
        (
            "a snapshot without floe properties is skipped",
            metadata(&with(&[(14, Some(13), 5, NONE)]), Some(14), &[]),
            "w2",
            Some(cp(7, 13, 4)),
        ),
        (
            "parent expired: older checkpoints are out of reach",
            metadata(
                &[(12, Some(11), 3, OTHER), (13, Some(12), 4, W2_7)],
                Some(13),
                &[],
            ),
            "w1",
            None,
        ),
        (
            "parent expired: the kept part is still read",
            metadata(
                &[(11, Some(10), 2, W1_2), (12, Some(11), 3, OTHER)],
                Some(12),
                &[],
            ),
            "w1",
            Some(cp(2, 11, 2)),
        ),
    ];
    for (name, metadata, writer, expected) in cases {
        assert_eq!(last_committed(&metadata, writer), expected, "{name}");
    }
}

/// The writer's table property outlives compaction and expiry; a rollback of main past the
/// recorded checkpoint, whose snapshot is still in the table, un-commits it as before.
#[test]
fn the_recorded_checkpoint_outlives_its_snapshot() {
    // Only a compaction (OTHER) is left after expiry.
    let expired: &[Snap] = &[(12, Some(11), 3, OTHER)];
    let cases: Vec<(&str, TableMetadata, &str, Option<CommittedCheckpoint>)> = vec![
        (
            "recorded and on main: the snapshot is found",
            recording(metadata(HISTORY, Some(13), &[]), "w1", "2"),
            "w1",
            Some(cp(2, 11, 2)),
        ),
        (
            "every snapshot of w1 expired: the property answers",
            recording(metadata(expired, Some(12), &[]), "w1", "2"),
            "w1",
            Some(recorded_only(2)),
        ),
        (
            "no snapshot left at all",
            recording(metadata(&[], None, &[]), "w1", "9"),
            "w1",
            Some(recorded_only(9)),
        ),
        (
            "another writer's property is not this one's",
            recording(metadata(expired, Some(12), &[]), "w2", "7"),
            "w1",
            None,
        ),
        (
            "the property wins over an older snapshot still on main",
            recording(metadata(&HISTORY[..1], Some(10), &[]), "w1", "2"),
            "w1",
            Some(recorded_only(2)),
        ),
        (
            "main rolled back past the recorded checkpoint, still in the table",
            recording(metadata(HISTORY, Some(10), &[]), "w1", "2"),
            "w1",
            Some(cp(1, 10, 1)),
        ),
        (
            "a property that is not a number is ignored",
            recording(metadata(HISTORY, Some(13), &[]), "w1", "two"),
            "w1",
            Some(cp(2, 11, 2)),
        ),
    ];
    for (name, metadata, writer, expected) in cases {
        assert_eq!(last_committed(&metadata, writer), expected, "{name}");
    }
}

#[test]
fn a_checkpoint_is_covered_by_the_same_or_a_later_one() {
    let last = Some(cp(5, 50, 7));
    let cases = [
        (last, Some(4), last),
        (last, Some(5), last),
        (last, Some(6), None),
        (last, None, None),
        (None, Some(1), None),
    ];
    for (last, checkpoint, want) in cases {
        assert_eq!(covering(last, checkpoint), want, "{last:?} {checkpoint:?}");
    }
}
