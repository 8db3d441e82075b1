//! Exactly-once and watermarks, read from the table itself. Every commit of a writer sets
//! the table property `floe.writer.<writer-id>.checkpoint-id` to its checkpoint id in the
//! same commit as its data, and carries `floe.writer-id` and `floe.checkpoint-id` in its
//! snapshot summary. The property outlives compaction and snapshot expiry, so a writer
//! that restarts finds its last checkpoint even when no snapshot of it is left; tables
//! written before the property existed are read from the main branch's ancestry. The
//! table property `floe.watermark` only moves forward, set in the same commit.

use floe_table::main_ancestry;
use floe_table::properties::{writer_checkpoint_property, CHECKPOINT_ID, WRITER_ID};
use iceberg::spec::{Summary, TableMetadata};

/// A checkpoint found in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedCheckpoint {
    /// The writer's checkpoint id.
    pub checkpoint_id: i64,
    /// The snapshot that holds it; `None` once snapshot expiry removed that snapshot.
    pub snapshot_id: Option<i64>,
    /// That snapshot's sequence number, when the snapshot is still there.
    pub sequence_number: Option<i64>,
}

/// The newest checkpoint `writer_id` committed: the one its table property records, or
/// for a table without the property, the newest on the main branch's ancestry.
pub fn last_committed(metadata: &TableMetadata, writer_id: &str) -> Option<CommittedCheckpoint> {
    let in_history = main_ancestry(metadata).find_map(|s| {
        Some(CommittedCheckpoint {
            checkpoint_id: checkpoint_of(s.summary(), writer_id)?,
            snapshot_id: Some(s.snapshot_id()),
            sequence_number: Some(s.sequence_number()),
        })
    });
    let recorded = metadata
        .properties()
        .get(&writer_checkpoint_property(writer_id))
        .and_then(|v| v.trim().parse::<i64>().ok());
    let Some(checkpoint_id) = recorded else {
        return in_history;
    };
    if in_history.is_some_and(|found| found.checkpoint_id == checkpoint_id)
        || metadata
            .snapshots()
            .any(|s| checkpoint_of(s.summary(), writer_id) == Some(checkpoint_id))
    {
        // On main; or still in the table but off main, which was rolled back past it: the
        // history answers, as for a table without the property.
        return in_history;
    }
    // Its snapshot is gone (compacted over, then expired): the property answers.
    Some(CommittedCheckpoint {
        checkpoint_id,
        snapshot_id: None,
        sequence_number: None,
    })
}

/// The checkpoint a snapshot's summary holds, when `writer_id` committed it.
fn checkpoint_of(summary: &Summary, writer_id: &str) -> Option<i64> {
    let props = &summary.additional_properties;
    if props.get(WRITER_ID).map(String::as_str) != Some(writer_id) {
        return None;
    }
    props.get(CHECKPOINT_ID)?.parse().ok()
}

/// `last` (a writer's newest committed checkpoint) when it already covers
/// `checkpoint_id`: committing that checkpoint again must add nothing.
pub fn covering(
    last: Option<CommittedCheckpoint>,
    checkpoint_id: Option<i64>,
) -> Option<CommittedCheckpoint> {
    let checkpoint_id = checkpoint_id?;
    last.filter(|l| l.checkpoint_id >= checkpoint_id)
}

/// What a checkpoint's watermark does to the table property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatermarkChange {
    /// The property moves forward to this value.
    Advance(i64),
    /// Not newer than the table's watermark: the property stays.
    Stale {
        /// The table's watermark.
        current: i64,
    },
}

/// The watermark only moves forward. A property that is not a number is replaced.
pub fn watermark_change(current: Option<&str>, proposed: i64) -> WatermarkChange {
    match current.and_then(|c| c.trim().parse::<i64>().ok()) {
        Some(current) if proposed <= current => WatermarkChange::Stale { current },
        _ => WatermarkChange::Advance(proposed),
    }
}

#[cfg(test)]
#[path = "checkpoint_log_tests.rs"]
mod log_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_only_move_forward() {
        use WatermarkChange::*;
        let cases = [
            (None, 5, Advance(5)),
            (Some("4"), 5, Advance(5)),
            (Some("5"), 5, Stale { current: 5 }),
            (Some("9"), 5, Stale { current: 9 }),
            (Some("garbage"), 5, Advance(5)),
            (Some(" 7 "), 8, Advance(8)),
        ];
        for (current, proposed, expected) in cases {
            assert_eq!(
                watermark_change(current, proposed),
                expected,
                "{current:?} {proposed}"
            );
        }
    }
}
