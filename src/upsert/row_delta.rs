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

use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, DataFile, ManifestContentType, ManifestEntryRef, ManifestFile, ManifestList,
    ManifestListWriter, ManifestWriterBuilder, Operation, Snapshot, SnapshotReference,
    SnapshotRetention, SnapshotSummaryCollector, Summary, TableMetadata, MAIN_BRANCH,
};
use iceberg::{TableRequirement, TableUpdate};
use uuid::Uuid;

use super::summary::with_totals;

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

/// A fresh positive snapshot id, as Java makes them (from a random UUID).
pub fn new_snapshot_id() -> i64 {
    let (hi, lo) = Uuid::new_v4().as_u64_pair();
    ((hi ^ lo) & i64::MAX as u64) as i64
}

fn metadata_path(metadata: &TableMetadata, name: &str) -> String {
    format!(
        "{}/metadata/{name}",
        metadata.location().trim_end_matches('/')
    )
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
            let output =
                file_io.new_output(metadata_path(metadata, &format!("{prefix}-m{n}.avro")))?;
            let builder = ManifestWriterBuilder::new(
                output,
                Some(snapshot_id),
                schema.clone(),
                spec.as_ref().clone(),
            );
            let mut writer = if deletes {
                builder.build_v2_deletes()
            } else {
                builder.build_v2_data()
            };
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
    let snapshot = Snapshot::builder()
        .with_snapshot_id(written.snapshot_id)
        .with_parent_snapshot_id(parent.map(|p| p.snapshot_id()))
        .with_sequence_number(base.next_sequence_number())
        .with_timestamp_ms(timestamp_ms.max(base.last_updated_ms()))
        .with_manifest_list(manifest_list)
        .with_summary(summary)
        .with_schema_id(base.current_schema_id())
        .build();
    let requirements = vec![
        TableRequirement::UuidMatch { uuid: base.uuid() },
        TableRequirement::RefSnapshotIdMatch {
            r#ref: MAIN_BRANCH.to_string(),
            snapshot_id: parent.map(|p| p.snapshot_id()),
        },
    ];
    let mut updates = vec![
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_string(),
            reference: SnapshotReference::new(
                written.snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        },
    ];
    if !delta.properties.is_empty() {
        updates.push(TableUpdate::SetProperties {
            updates: delta.properties.clone(),
        });
    }
    (requirements, updates)
}

/// Reads the manifest list of `base`'s main branch (empty for a table without snapshots).
pub async fn main_manifests(
    file_io: &FileIO,
    base: &TableMetadata,
) -> iceberg::Result<Vec<ManifestFile>> {
    let Some(parent) = base.snapshot_for_ref(MAIN_BRANCH) else {
        return Ok(Vec::new());
    };
    let bytes = file_io.new_input(parent.manifest_list())?.read().await?;
    let list = ManifestList::parse_with_version(&bytes, base.format_version())?;
    Ok(list.consume_entries().into_iter().collect())
}

/// Writes the manifest list of one attempt: the new manifests first, then every manifest
/// of the parent. Answers its location.
pub async fn write_manifest_list(
    file_io: &FileIO,
    base: &TableMetadata,
    written: &WrittenRowDelta,
    attempt: u32,
) -> iceberg::Result<String> {
    let parent = base.snapshot_for_ref(MAIN_BRANCH);
    let location = metadata_path(
        base,
        &format!(
            "snap-{}-{attempt}-{}.avro",
            written.snapshot_id,
            Uuid::new_v4()
        ),
    );
    let output = file_io.new_output(&location)?;
    let mut writer = ManifestListWriter::v2(
        output.writer().await?,
        written.snapshot_id,
        parent.map(|p| p.snapshot_id()),
        base.next_sequence_number(),
    );
    let existing = main_manifests(file_io, base).await?;
    writer.add_manifests(written.manifests.iter().cloned().chain(existing))?;
    writer.close().await?;
    Ok(location)
}

/// The live entries of `base`'s main branch, of manifests of one content (data or
/// deletes) or of all.
pub async fn live_entries(
    file_io: &FileIO,
    base: &TableMetadata,
    content: Option<ManifestContentType>,
) -> iceberg::Result<Vec<ManifestEntryRef>> {
    let mut entries = Vec::new();
    for manifest in main_manifests(file_io, base).await? {
        if content.is_some_and(|c| c != manifest.content) {
            continue;
        }
        let manifest = manifest.load_manifest(file_io).await?;
        entries.extend(manifest.entries().iter().filter(|e| e.is_alive()).cloned());
    }
    Ok(entries)
}

/// The data files live on `base`'s main branch among `paths`.
pub async fn live_data_files(
    file_io: &FileIO,
    base: &TableMetadata,
    paths: &BTreeSet<String>,
) -> iceberg::Result<BTreeSet<String>> {
    let data = live_entries(file_io, base, Some(ManifestContentType::Data)).await?;
    Ok(data
        .iter()
        .map(|e| e.file_path())
        .filter(|p| paths.contains(*p))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
#[path = "row_delta_tests.rs"]
mod tests;
