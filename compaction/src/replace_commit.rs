//! Committing one rewritten group as a `replace` snapshot: on the table as it is now, check
//! the group can still replace its files (`replace::validate`), mark the rewritten data
//! files and the delete files it makes useless as deleted in rewritten manifests, add the
//! new files with the start's data sequence number, and commit. A conflict reloads and
//! tries again; an unknown outcome is settled by looking for the snapshot id, and when it
//! cannot be settled nothing is deleted.

use std::collections::BTreeSet;
use std::time::Duration;

use iceberg::io::FileIO;
use iceberg::spec::{
    DataFile, ManifestContentType, ManifestEntryRef, ManifestFile, Operation, PartitionSpecRef,
    SnapshotSummaryCollector, Summary, TableMetadata, MAIN_BRANCH,
};
use uuid::Uuid;

use crate::catalog::{CatalogError, LoadedTable, TableCatalog};
use crate::error::CompactionError;
use crate::manifest_rewrite::{rewrite_manifests, LoadedManifests, ManifestCache};
use crate::planner::PartitionKey;
use crate::replace::{removable_deletes, validate, LiveFile, ReplaceConflict};
use crate::summary::with_totals;
use crate::table_files::{
    main_ancestry, main_branch_commit, new_manifest_writer, new_snapshot_id, tracks_live_files,
    write_manifest_list,
};

/// Summary key marking the snapshots the compactor makes.
pub const OPERATION_KEY: &str = "floe.operation";
pub const COMPACTION: &str = "compaction";
/// The writer's watermark, carried forward unchanged.
const WATERMARK: &str = "floe.watermark";
const ATTEMPTS: u32 = 10;

/// A rewritten group, ready to commit.
#[derive(Clone, Debug)]
pub struct GroupChange {
    pub table_uuid: Uuid,
    pub partition: PartitionKey,
    /// The data sequence number of the snapshot the compaction started from.
    pub start_sequence: i64,
    pub rewritten: BTreeSet<String>,
    pub new_files: Vec<DataFile>,
}

/// How a group's commit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutcome {
    Committed {
        snapshot_id: i64,
        sequence_number: i64,
        removed_deletes: usize,
    },
    /// The table changed so that the group cannot replace its files; it is left for the
    /// next run.
    Skipped(ReplaceConflict),
    /// The commit may have landed or not; its files are kept.
    Unknown(String),
}

/// The live files of `metadata`'s main branch, for the replace rules.
pub async fn live_files(
    file_io: &FileIO,
    metadata: &TableMetadata,
) -> iceberg::Result<Vec<(LiveFile, ManifestEntryRef)>> {
    let manifests = ManifestCache::default().main(file_io, metadata).await?;
    Ok(live_of(metadata, &manifests))
}

/// The live files of loaded manifests, with their entries.
pub(crate) fn live_of(
    metadata: &TableMetadata,
    manifests: &LoadedManifests,
) -> Vec<(LiveFile, ManifestEntryRef)> {
    let mut out = Vec::new();
    for (file, manifest) in manifests {
        let spec_id = file.partition_spec_id;
        let unpartitioned = metadata
            .partition_spec_by_id(spec_id)
            .is_none_or(|s| s.fields().is_empty());
        for e in manifest.entries().iter().filter(|e| e.is_alive()) {
            let live = LiveFile {
                path: e.file_path().to_string(),
                content: e.content_type(),
                partition: PartitionKey {
                    spec_id,
                    value: e.data_file().partition().clone(),
                },
                unpartitioned,
                sequence_number: e.sequence_number().unwrap_or(0),
                referenced_data_file: e.data_file().referenced_data_file(),
            };
            out.push((live, e.clone()));
        }
    }
    out
}

/// Commits `change`, retrying on conflicts. `cache` holds the manifests read and written
/// before, by this commit's earlier attempts and by the run's earlier commits.
pub async fn commit_group(
    catalog: &dyn TableCatalog,
    change: &GroupChange,
    cache: &mut ManifestCache,
) -> Result<GroupOutcome, CompactionError> {
    let snapshot_id = new_snapshot_id();
    // The new files' manifest, written once (none when every row was deleted).
    let mut added: Option<Option<ManifestFile>> = None;
    let mut last_conflict = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let table = catalog.load().await?;
        let uuid = table.metadata.uuid();
        if uuid != change.table_uuid {
            return Err(CompactionError::TableReplaced {
                expected: change.table_uuid.to_string(),
                found: uuid.to_string(),
            });
        }
        let manifests = cache.main(&table.file_io, &table.metadata).await?;
        let files: Vec<LiveFile> = live_of(&table.metadata, &manifests)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        if let Err(conflict) = validate(&change.rewritten, change.start_sequence, &files) {
            return Ok(GroupOutcome::Skipped(conflict));
        }
        let removed_deletes = removable_deletes(
            &change.rewritten,
            &change.partition,
            change.start_sequence,
            &files,
        );
        if added.is_none() {
            added = Some(if change.new_files.is_empty() {
                None
            } else {
                Some(write_added_manifest(&table, snapshot_id, change).await?)
            });
        }
        let added_manifest = added.clone().expect("written above");
        let (requirements, updates) = plan_attempt(
            &table,
            Attempt {
                snapshot_id,
                number: attempt,
                manifests,
                added: added_manifest,
            },
            change,
            &removed_deletes,
            cache,
        )
        .await?;
        match catalog.commit(requirements, updates).await {
            Ok(()) => {
                let landed = catalog.load().await.ok();
                let sequence_number = landed
                    .and_then(|t| {
                        t.metadata
                            .snapshot_by_id(snapshot_id)
                            .map(|s| s.sequence_number())
                    })
                    .unwrap_or(table.metadata.next_sequence_number());
                return Ok(GroupOutcome::Committed {
                    snapshot_id,
                    sequence_number,
                    removed_deletes: removed_deletes.len(),
                });
            }
            Err(CatalogError::Conflict(message)) => last_conflict = message,
            Err(CatalogError::Unknown(message)) => {
                return Ok(
                    settle_unknown(catalog, snapshot_id, removed_deletes.len(), message).await,
                )
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(CompactionError::Internal(format!(
        "gave up after {ATTEMPTS} commit attempts, the table kept moving: {last_conflict}"
    )))
}

fn backoff(attempt: u32) -> Duration {
    let base = 50u64 << attempt.min(6);
    let jitter = u64::from(Uuid::new_v4().as_u128() as u16) % (base / 2 + 1);
    Duration::from_millis((base + jitter).min(3000))
}

/// After an unknown outcome: committed if the snapshot is on main, else still unknown.
async fn settle_unknown(
    catalog: &dyn TableCatalog,
    snapshot_id: i64,
    removed_deletes: usize,
    message: String,
) -> GroupOutcome {
    match catalog.load().await {
        Ok(table) => {
            match main_ancestry(&table.metadata).find(|s| s.snapshot_id() == snapshot_id) {
                Some(s) => GroupOutcome::Committed {
                    snapshot_id,
                    sequence_number: s.sequence_number(),
                    removed_deletes,
                },
                None => GroupOutcome::Unknown(message),
            }
        }
        Err(e) => GroupOutcome::Unknown(format!("{message}; reloading failed: {e}")),
    }
}

/// The manifest of the new files: added, with the start's data sequence number.
async fn write_added_manifest(
    table: &LoadedTable,
    snapshot_id: i64,
    change: &GroupChange,
) -> Result<ManifestFile, CompactionError> {
    let metadata = &table.metadata;
    let spec = spec_of(metadata, change.partition.spec_id)?;
    let mut writer = new_manifest_writer(
        &table.file_io,
        metadata,
        snapshot_id,
        &spec,
        ManifestContentType::Data,
        &format!("{}-compact-m0.avro", Uuid::new_v4()),
    )?;
    for file in &change.new_files {
        writer.add_file(file.clone(), change.start_sequence)?;
    }
    Ok(writer.write_manifest_file().await?)
}

/// One commit attempt: its snapshot id, number, the main branch's manifests it builds on
/// and the manifest of the new files.
struct Attempt {
    snapshot_id: i64,
    number: u32,
    manifests: LoadedManifests,
    added: Option<ManifestFile>,
}

/// One attempt's manifests (the added one, the rewritten ones, the untouched ones), its
/// summary and manifest list, as the commit's requirements and updates.
async fn plan_attempt(
    table: &LoadedTable,
    attempt: Attempt,
    change: &GroupChange,
    removed_deletes: &BTreeSet<String>,
    cache: &mut ManifestCache,
) -> Result<(Vec<iceberg::TableRequirement>, Vec<iceberg::TableUpdate>), CompactionError> {
    let metadata = &table.metadata;
    let snapshot_id = attempt.snapshot_id;
    let schema = metadata.current_schema().clone();
    let mut collector = SnapshotSummaryCollector::default();
    let group_spec = spec_of(metadata, change.partition.spec_id)?;
    for file in &change.new_files {
        collector.add_file(file, schema.clone(), group_spec.clone());
    }
    let removing: BTreeSet<String> = change
        .rewritten
        .iter()
        .chain(removed_deletes)
        .cloned()
        .collect();
    let mut manifests: Vec<ManifestFile> = attempt.added.into_iter().collect();
    let mut hit: LoadedManifests = Vec::new();
    let mut removed = 0usize;
    for (file, loaded) in attempt.manifests {
        let spec = spec_of(metadata, file.partition_spec_id)?;
        let before = removed;
        for entry in loaded
            .entries()
            .iter()
            .filter(|e| e.is_alive() && removing.contains(e.file_path()))
        {
            collector.remove_file(entry.data_file(), schema.clone(), spec.clone());
            removed += 1;
        }
        if removed == before {
            if tracks_live_files(&file) {
                manifests.push(file);
            }
        } else {
            hit.push((file, loaded));
        }
    }
    manifests.extend(
        rewrite_manifests(
            table,
            snapshot_id,
            &hit,
            &removing,
            &change.partition,
            cache,
        )
        .await?,
    );
    if removed != removing.len() {
        return Err(CompactionError::Internal(format!(
            "found {removed} of the {} files to remove in the manifests",
            removing.len()
        )));
    }
    let mut changes = collector.build();
    changes.insert(OPERATION_KEY.into(), COMPACTION.into());
    if let Some(watermark) = metadata.properties().get(WATERMARK) {
        changes.insert(WATERMARK.into(), watermark.clone());
    }
    let parent = metadata.snapshot_for_ref(MAIN_BRANCH);
    let summary = Summary {
        operation: Operation::Replace,
        additional_properties: with_totals(changes, parent.map(|p| p.summary())),
    };
    let list = write_manifest_list(
        &table.file_io,
        metadata,
        snapshot_id,
        manifests,
        attempt.number,
    )
    .await?;
    Ok(main_branch_commit(
        metadata,
        snapshot_id,
        summary,
        list,
        chrono_now_ms(),
    ))
}

pub(crate) fn spec_of(
    metadata: &TableMetadata,
    id: i32,
) -> Result<PartitionSpecRef, CompactionError> {
    metadata
        .partition_spec_by_id(id)
        .cloned()
        .ok_or_else(|| CompactionError::Internal(format!("partition spec {id} is gone")))
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
