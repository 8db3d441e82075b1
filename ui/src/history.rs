//! A table's history as the pages draw it, read from its metadata alone (the snapshot
//! list and each snapshot's summary), never from its manifests, so a table with
//! thousands of snapshots costs one pass over them: the main branch's snapshots oldest
//! first, the last commit and the last compaction, and the series of the history charts.

use floe_table::main_ancestry;
use floe_table::properties::{
    watermark, CHECKPOINT_ID, OPERATION, OPERATION_COMPACTION, WRITER_ID,
};
use iceberg::spec::{Snapshot, TableMetadata};

/// One snapshot of the main branch, as its summary tells it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SnapshotFact {
    /// Its id.
    pub id: i64,
    /// Its sequence number.
    pub sequence_number: i64,
    /// When it was committed, epoch milliseconds.
    pub timestamp_ms: i64,
    /// `append`, `overwrite`, `replace` or `delete`.
    pub operation: String,
    /// Which of Floe's maintenance jobs made it (`floe.operation`), if one did.
    pub maintenance: Option<String>,
    /// Live data files after it (`total-data-files`).
    pub data_files: Option<u64>,
    /// Live delete files after it (`total-delete-files`).
    pub delete_files: Option<u64>,
    /// Live rows after it, before deletes (`total-records`).
    pub records: Option<u64>,
    /// Data files it added.
    pub added_data_files: Option<u64>,
    /// Delete files it added.
    pub added_delete_files: Option<u64>,
    /// The upsert writer that made it, and its checkpoint.
    pub writer: Option<(String, Option<i64>)>,
    /// The watermark it carried (`floe.watermark`), epoch milliseconds.
    pub watermark_ms: Option<i64>,
}

impl SnapshotFact {
    /// The facts of `snapshot`'s summary.
    fn of(snapshot: &Snapshot) -> SnapshotFact {
        let summary = snapshot.summary();
        let p = &summary.additional_properties;
        let number = |key: &str| p.get(key).and_then(|v| v.trim().parse::<u64>().ok());
        SnapshotFact {
            id: snapshot.snapshot_id(),
            sequence_number: snapshot.sequence_number(),
            timestamp_ms: snapshot.timestamp_ms(),
            operation: summary.operation.as_str().to_string(),
            maintenance: p.get(OPERATION).cloned(),
            data_files: number("total-data-files"),
            delete_files: number("total-delete-files"),
            records: number("total-records"),
            added_data_files: number("added-data-files"),
            added_delete_files: number("added-delete-files"),
            writer: p.get(WRITER_ID).map(|w| {
                let checkpoint = p.get(CHECKPOINT_ID).and_then(|c| c.trim().parse().ok());
                (w.clone(), checkpoint)
            }),
            watermark_ms: watermark(p),
        }
    }

    /// Whether Floe's compactor wrote it.
    pub(crate) fn is_compaction(&self) -> bool {
        self.maintenance.as_deref() == Some(OPERATION_COMPACTION)
    }

    /// How far its watermark was behind its commit, in seconds (never negative).
    pub(crate) fn lag_seconds(&self) -> Option<f64> {
        let watermark = self.watermark_ms?;
        Some(floe_rest_catalog::watermark_lag_seconds(
            watermark,
            self.timestamp_ms,
        ))
    }
}

/// The main branch's snapshots, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct History {
    /// The snapshots.
    pub snapshots: Vec<SnapshotFact>,
}

impl History {
    /// The main branch of `metadata`.
    pub(crate) fn of(metadata: &TableMetadata) -> History {
        let mut snapshots: Vec<SnapshotFact> = main_ancestry(metadata)
            .map(|s| SnapshotFact::of(s))
            .collect();
        snapshots.reverse();
        History { snapshots }
    }

    /// The newest snapshot.
    pub(crate) fn last_commit(&self) -> Option<&SnapshotFact> {
        self.snapshots.last()
    }

    /// The newest snapshot Floe's compactor wrote.
    pub(crate) fn last_compaction(&self) -> Option<&SnapshotFact> {
        self.snapshots.iter().rev().find(|s| s.is_compaction())
    }

    /// `(commit time, value)` of every snapshot whose summary gives `value`.
    pub(crate) fn series(&self, value: impl Fn(&SnapshotFact) -> Option<f64>) -> Vec<(i64, f64)> {
        (self.snapshots.iter())
            .filter_map(|s| Some((s.timestamp_ms, value(s)?)))
            .collect()
    }

    /// The commit times.
    pub(crate) fn commit_times(&self) -> Vec<i64> {
        self.snapshots.iter().map(|s| s.timestamp_ms).collect()
    }

    /// The newest `n` snapshots, newest first.
    pub(crate) fn recent(&self, n: usize) -> impl Iterator<Item = &SnapshotFact> {
        self.snapshots.iter().rev().take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_table::properties::WATERMARK;
    use floe_table::testing::metadata;

    #[test]
    fn the_history_is_the_main_branch_oldest_first() {
        let m = metadata(
            &[
                (1, None, 1, &[("total-data-files", "1"), (WRITER_ID, "w")]),
                (
                    2,
                    Some(1),
                    2,
                    &[
                        ("total-data-files", "3"),
                        ("total-delete-files", "2"),
                        (WRITER_ID, "w"),
                        (CHECKPOINT_ID, "7"),
                        (WATERMARK, "1699999999000"),
                    ],
                ),
                (
                    3,
                    Some(2),
                    3,
                    &[
                        ("total-data-files", "1"),
                        ("total-delete-files", "0"),
                        (OPERATION, OPERATION_COMPACTION),
                    ],
                ),
                (4, Some(3), 4, &[("total-data-files", "x")]),
                // Another branch: not in the history.
                (9, Some(2), 5, &[("total-data-files", "100")]),
            ],
            Some(4),
            &[("other", 9)],
        );
        let history = History::of(&m);
        let ids: Vec<i64> = history.snapshots.iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(history.last_commit().map(|s| s.id), Some(4));
        assert_eq!(history.last_compaction().map(|s| s.id), Some(3));
        let data = history.series(|s| s.data_files.map(|n| n as f64));
        let t = |seq: i64| 1_700_000_000_000 + seq;
        assert_eq!(data, [(t(1), 1.0), (t(2), 3.0), (t(3), 1.0)]);
        let deletes = history.series(|s| s.delete_files.map(|n| n as f64));
        assert_eq!(deletes, [(t(2), 2.0), (t(3), 0.0)]);
        let second = &history.snapshots[1];
        assert_eq!(second.writer, Some(("w".to_string(), Some(7))));
        // Committed at 1_700_000_000_002: 1.002 s after its watermark.
        assert_eq!(second.lag_seconds(), Some(1.002));
        assert_eq!(history.snapshots[0].lag_seconds(), None);
        let recent: Vec<i64> = history.recent(2).map(|s| s.id).collect();
        assert_eq!(recent, [4, 3]);
    }

    #[test]
    fn a_table_without_snapshots_has_no_history() {
        let history = History::of(&metadata(&[], None, &[]));
        assert!(history.snapshots.is_empty());
        assert!(history.last_commit().is_none() && history.last_compaction().is_none());
    }
}
