//! Exactly-once and watermarks, read from the table itself. Every commit of a writer
//! carries `floe.writer-id` and `floe.checkpoint-id` in its snapshot summary, so the last
//! checkpoint a writer committed is found by walking the main branch's ancestry; and the
//! table property `floe.watermark` only moves forward.

use floe_table::main_ancestry;
use floe_table::properties::{CHECKPOINT_ID, WRITER_ID};
use iceberg::spec::TableMetadata;

/// A checkpoint found in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedCheckpoint {
    /// The writer's checkpoint id.
    pub checkpoint_id: i64,
    /// The snapshot that holds it.
    pub snapshot_id: i64,
    /// That snapshot's sequence number.
    pub sequence_number: i64,
}

/// The newest checkpoint `writer_id` committed on the main branch.
pub fn last_committed(metadata: &TableMetadata, writer_id: &str) -> Option<CommittedCheckpoint> {
    main_ancestry(metadata).find_map(|s| {
        let props = &s.summary().additional_properties;
        if props.get(WRITER_ID).map(String::as_str) != Some(writer_id) {
            return None;
        }
        let checkpoint_id = props.get(CHECKPOINT_ID)?.parse().ok()?;
        Some(CommittedCheckpoint {
            checkpoint_id,
            snapshot_id: s.snapshot_id(),
            sequence_number: s.sequence_number(),
        })
    })
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
