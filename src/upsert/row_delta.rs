//! `RowDelta`: one snapshot that adds data files and delete files (equality and position)
//! on top of the main branch, as Iceberg Java's `RowDelta` does.
//!
//! Its manifests are written once and their entries inherit their sequence number from
//! the manifest list (`sequence_number` left unassigned), so a retried commit only
//! rewrites the manifest list: every added data and delete file gets the sequence number
//! of the snapshot that finally lands. A row delta is never merged with another: each
//! checkpoint is its own snapshot, so a later checkpoint's equality deletes (sequence
//! number S) hide an earlier checkpoint's rows (sequence number < S).

use std::collections::{BTreeSet, HashMap};

use floe_compaction::summary::with_totals;
use floe_compaction::table_files::{
    main_branch_commit, main_manifests, new_manifest_writer, new_snapshot_id, tracks_live_files,
    write_manifest_list,
};
use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, DataFile, ManifestContentType, ManifestFile, Operation,
    SnapshotSummaryCollector, Summary, TableMetadata, MAIN_BRANCH,
};
use iceberg::{TableRequirement, TableUpdate};
use uuid::Uuid;

/// The files one commit adds, and what its summary says besides the counts.
#[derive(Clone, Debug, Default)]
pub struct RowDelta {
    pub data_files: Vec<DataFile>,
    pub delete_files: Vec<DataFile>,
    /// Extra snapshot summary entries (writer id, checkpoint id, watermark).
    pub summary: Vec<(String, String)>,
    /// Table properties to set in the same commit.
    pub properties: HashMap<String, String>,
}

/// A row delta's manifests, written once for all attempts.
#[derive(Clone, Debug)]
pub struct WrittenRowDelta {
    pub snapshot_id: i64,
    pub manifests: Vec<ManifestFile>,
    /// `added-*` counts of the summary.
    pub changes: HashMap<String, String>,
    pub operation: Operation,
}

impl RowDelta {
    pub fn is_empty(&self) -> bool {
        self.data_files.is_empty() && self.delete_files.is_empty()
    }

    /// Data files that this delta's position deletes point at but does not add itself:
    /// they must still be live when it commits.
    pub fn referenced_elsewhere(&self) -> BTreeSet<String> {
        let own: BTreeSet<&str> = self.data_files.iter().map(|f| f.file_path()).collect();
        self.delete_files
            .iter()
            .filter(|f| f.content_type() == DataContentType::PositionDeletes)
            .filter_map(|f| f.referenced_data_file())
            .filter(|p| !own.contains(p.as_str()))
            .collect()
    }

    /// Writes the manifests (one for data files, one for delete files) of the snapshot.
    pub async fn write_manifests(
        &self,
        file_io: &FileIO,
        metadata: &TableMetadata,
    ) -> iceberg::Result<WrittenRowDelta> {
        let snapshot_id = new_snapshot_id();
        let schema = metadata.current_schema().clone();
        let spec = metadata.default_partition_spec().clone();
        let mut collector = SnapshotSummaryCollector::default();
        let mut manifests = Vec::new();
        let prefix = Uuid::new_v4();
        for (n, (files, deletes)) in [(&self.data_files, false), (&self.delete_files, true)]
            .into_iter()
            .enumerate()
        {
            if files.is_empty() {
                continue;
            }
            let content = if deletes {
                ManifestContentType::Deletes
            } else {
                ManifestContentType::Data
            };
            let mut writer = new_manifest_writer(
                file_io,
                metadata,
                snapshot_id,
                &spec,
                content,
                &format!("{prefix}-m{n}.avro"),
            )?;
            for file in files {
                collector.add_file(file, schema.clone(), spec.clone());
                // Unassigned: the entry inherits the sequence number of its snapshot.
                writer.add_file(file.clone(), -1)?;
            }
            manifests.push(writer.write_manifest_file().await?);
        }
        let operation = if self.delete_files.is_empty() {
            Operation::Append
        } else {
            Operation::Overwrite
        };
        Ok(WrittenRowDelta {
            snapshot_id,
            manifests,
            changes: collector.build(),
            operation,
        })
    }
}

/// The requirements and updates that put `written` on top of `base`'s main branch.
pub fn plan_commit(
    base: &TableMetadata,
    written: &WrittenRowDelta,
    delta: &RowDelta,
    manifest_list: String,
    timestamp_ms: i64,
) -> (Vec<TableRequirement>, Vec<TableUpdate>) {
    let parent = base.snapshot_for_ref(MAIN_BRANCH);
    let mut changes = written.changes.clone();
    changes.extend(delta.summary.iter().cloned());
    let summary = Summary {
        operation: written.operation.clone(),
        additional_properties: with_totals(changes, parent.map(|p| p.summary())),
    };
    let (requirements, mut updates) = main_branch_commit(
        base,
        written.snapshot_id,
        summary,
        manifest_list,
        timestamp_ms,
    );
    if !delta.properties.is_empty() {
        updates.push(TableUpdate::SetProperties {
            updates: delta.properties.clone(),
        });
    }
    (requirements, updates)
}

/// Writes the manifest list of one attempt: the new manifests first, then every manifest
/// of the parent. Answers its location.
pub async fn write_row_delta_manifest_list(
    file_io: &FileIO,
    base: &TableMetadata,
    written: &WrittenRowDelta,
    attempt: u32,
) -> iceberg::Result<String> {
    let mut manifests = written.manifests.clone();
    manifests.extend(
        main_manifests(file_io, base)
            .await?
            .into_iter()
            .filter(tracks_live_files),
    );
    write_manifest_list(file_io, base, written.snapshot_id, manifests, attempt).await
}

#[cfg(test)]
#[path = "row_delta_tests.rs"]
mod tests;
