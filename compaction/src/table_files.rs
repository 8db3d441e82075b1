//! The files of a table's main branch that every snapshot producer (the upsert writer's
//! row delta, the compactor's replace) reads and writes: the manifest list of the current
//! snapshot, its live entries, and new manifest lists and snapshot ids.

use std::collections::BTreeSet;

use iceberg::io::FileIO;
use iceberg::spec::{
    ManifestContentType, ManifestEntryRef, ManifestFile, ManifestList, ManifestListWriter,
    ManifestWriter, ManifestWriterBuilder, PartitionSpec, Snapshot, SnapshotRef, SnapshotReference,
    SnapshotRetention, Summary, TableMetadata, MAIN_BRANCH,
};
use iceberg::{TableRequirement, TableUpdate};
use uuid::Uuid;

/// A fresh positive snapshot id, as Java makes them (from a random UUID).
pub fn new_snapshot_id() -> i64 {
    let (hi, lo) = Uuid::new_v4().as_u64_pair();
    ((hi ^ lo) & i64::MAX as u64) as i64
}

/// The location of a new file `name` in the table's metadata directory.
pub fn metadata_path(metadata: &TableMetadata, name: &str) -> String {
    format!(
        "{}/metadata/{name}",
        metadata.location().trim_end_matches('/')
    )
}

/// A writer of a new v2 manifest of snapshot `snapshot_id`, of `content` under `spec`,
/// named `name` in the table's metadata directory (entries use the current schema).
pub fn new_manifest_writer(
    file_io: &FileIO,
    metadata: &TableMetadata,
    snapshot_id: i64,
    spec: &PartitionSpec,
    content: ManifestContentType,
    name: &str,
) -> iceberg::Result<ManifestWriter> {
    let output = file_io.new_output(metadata_path(metadata, name))?;
    let builder = ManifestWriterBuilder::new(
        output,
        Some(snapshot_id),
        metadata.current_schema().clone(),
        spec.clone(),
    );
    Ok(match content {
        ManifestContentType::Data => builder.build_v2_data(),
        ManifestContentType::Deletes => builder.build_v2_deletes(),
    })
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

/// Whether a manifest may still track a live file. One holding only entries that its own
/// snapshot deleted (a compaction leaves one per rewritten partition) need not be carried
/// by the snapshots after it, as Iceberg Java's commits drop them: readers would only
/// read past its dead entries.
pub fn tracks_live_files(manifest: &ManifestFile) -> bool {
    manifest.added_files_count != Some(0) || manifest.existing_files_count != Some(0)
}

/// Writes the manifest list of a snapshot `snapshot_id` on top of `base`'s main branch
/// holding `manifests` (attempt `attempt` of its commit). Answers its location.
pub async fn write_manifest_list(
    file_io: &FileIO,
    base: &TableMetadata,
    snapshot_id: i64,
    manifests: Vec<ManifestFile>,
    attempt: u32,
) -> iceberg::Result<String> {
    let parent = base.snapshot_for_ref(MAIN_BRANCH);
    let location = metadata_path(
        base,
        &format!("snap-{snapshot_id}-{attempt}-{}.avro", Uuid::new_v4()),
    );
    let output = file_io.new_output(&location)?;
    let mut writer = ManifestListWriter::v2(
        output.writer().await?,
        snapshot_id,
        parent.map(|p| p.snapshot_id()),
        base.next_sequence_number(),
    );
    writer.add_manifests(manifests.into_iter())?;
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
    let entries = live_entries_with_spec(file_io, base, content).await?;
    Ok(entries.into_iter().map(|(_, e)| e).collect())
}

/// [`live_entries`], each with the partition spec id of its manifest (the spec its
/// partition tuple follows).
pub async fn live_entries_with_spec(
    file_io: &FileIO,
    base: &TableMetadata,
    content: Option<ManifestContentType>,
) -> iceberg::Result<Vec<(i32, ManifestEntryRef)>> {
    let mut entries = Vec::new();
    for manifest in main_manifests(file_io, base).await? {
        if content.is_some_and(|c| c != manifest.content) {
            continue;
        }
        let spec_id = manifest.partition_spec_id;
        let manifest = manifest.load_manifest(file_io).await?;
        entries.extend(
            manifest
                .entries()
                .iter()
                .filter(|e| e.is_alive())
                .map(|e| (spec_id, e.clone())),
        );
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

/// The requirements and updates that put snapshot `snapshot_id` (its manifest list
/// written, its summary complete) on top of `base`'s main branch: `add-snapshot` and
/// `set-snapshot-ref main`, guarded by the table's uuid and main's current snapshot.
pub fn main_branch_commit(
    base: &TableMetadata,
    snapshot_id: i64,
    summary: Summary,
    manifest_list: String,
    timestamp_ms: i64,
) -> (Vec<TableRequirement>, Vec<TableUpdate>) {
    let parent = base.snapshot_for_ref(MAIN_BRANCH);
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
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
    let updates = vec![
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_string(),
            reference: SnapshotReference::new(
                snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        },
    ];
    (requirements, updates)
}

/// The snapshots of `metadata`'s main branch, newest first.
pub fn main_ancestry(metadata: &TableMetadata) -> impl Iterator<Item = &SnapshotRef> {
    let mut next = metadata.snapshot_for_ref(MAIN_BRANCH);
    std::iter::from_fn(move || {
        let current = next?;
        next = current
            .parent_snapshot_id()
            .and_then(|id| metadata.snapshot_by_id(id));
        Some(current)
    })
}
