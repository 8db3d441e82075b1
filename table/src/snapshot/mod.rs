//! The one snapshot producer every writer shares, as iceberg-rust's `SnapshotProducer`:
//! an operation adds its files (data and deletes, with the data sequence number they keep
//! or the snapshot's own), may remove live files, and sets its summary entries; the
//! producer writes the added files' manifests once, and for each commit attempt the
//! rewritten manifests, the summary with its totals and the manifest list, and answers the
//! requirements and updates that put the snapshot on the main branch. Each operation
//! (`RowDelta`, `Replace`) supplies only its difference.

mod manifests;
mod summary;

pub use manifests::{new_snapshot_id, spec_of};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iceberg::spec::{
    DataContentType, DataFile, ManifestContentType, ManifestFile, Operation, PartitionSpecRef,
    Snapshot, SnapshotRef, SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Summary,
    TableMetadata, MAIN_BRANCH,
};
use iceberg::{TableRequirement, TableUpdate};

use crate::catalog::{main_ancestry, LoadedTable, TableCommit};
use crate::error::{Error, Result};
use crate::files::{main_manifests, tracks_live_files, LoadedManifests, ManifestCache, Partition};
use manifests::{new_manifest_writer, rewrite_manifests, write_manifest_list, RewriteTarget};
use summary::with_totals;

/// Live files a snapshot removes: they are marked deleted in rewritten manifests.
pub struct Removal<'a> {
    /// The paths of the files removed.
    pub files: &'a BTreeSet<String>,
    /// The partition they are in: with many partitions its entries get a manifest apart.
    pub partition: &'a Partition,
    /// The base's main-branch manifests, loaded.
    pub manifests: LoadedManifests,
    /// The cache the rewritten manifests are put in.
    pub cache: &'a ManifestCache,
}

/// Manifests rewritten by an earlier attempt: the manifests they replaced, the files
/// they removed, and what was written.
struct Rewrite {
    replaced: Vec<String>,
    removed: BTreeSet<String>,
    written: Vec<ManifestFile>,
}

/// One new snapshot of the main branch, built afresh for each commit attempt.
pub struct SnapshotProducer {
    snapshot_id: i64,
    operation: Operation,
    data_files: Vec<DataFile>,
    delete_files: Vec<DataFile>,
    /// The data sequence number the added files keep; `None`: the snapshot's own (the
    /// entries inherit it from the manifest list, so a retry rewrites only the list).
    data_sequence_number: Option<i64>,
    /// The partition spec of the added files; `None`: the table's default spec.
    spec_id: Option<i32>,
    summary: BTreeMap<String, String>,
    /// Table properties whose value (on the attempt's base) the summary carries.
    carried: Vec<String>,
    /// The manifests of the added files, written by the first attempt.
    added: Option<Vec<ManifestFile>>,
    rewrite: Option<Rewrite>,
}

impl SnapshotProducer {
    /// A snapshot of `operation` with a fresh snapshot id and nothing in it yet.
    pub fn new(operation: Operation) -> Self {
        Self {
            snapshot_id: new_snapshot_id(),
            operation,
            data_files: Vec::new(),
            delete_files: Vec::new(),
            data_sequence_number: None,
            spec_id: None,
            summary: BTreeMap::new(),
            carried: Vec::new(),
            added: None,
            rewrite: None,
        }
    }

    /// The new snapshot's id, the same for every attempt.
    pub fn snapshot_id(&self) -> i64 {
        self.snapshot_id
    }

    /// Sets the snapshot's operation (append, overwrite, replace).
    pub fn set_operation(&mut self, operation: Operation) {
        self.operation = operation;
    }

    /// Adds data and delete files (by their content type).
    pub fn add_files(&mut self, files: impl IntoIterator<Item = DataFile>) {
        self.added = None;
        for file in files {
            match file.content_type() {
                DataContentType::Data => self.data_files.push(file),
                _ => self.delete_files.push(file),
            }
        }
    }

    /// The data files added.
    pub fn data_files(&self) -> &[DataFile] {
        &self.data_files
    }

    /// The delete files added.
    pub fn delete_files(&self) -> &[DataFile] {
        &self.delete_files
    }

    /// Gives the added files data sequence number `sequence_number` instead of the
    /// snapshot's own (a compaction's new files keep the one of the snapshot it read).
    pub fn set_data_sequence_number(&mut self, sequence_number: i64) {
        self.added = None;
        self.data_sequence_number = Some(sequence_number);
    }

    /// Says the added files follow partition spec `spec_id` (by default the table's
    /// default spec).
    pub fn set_partition_spec(&mut self, spec_id: i32) {
        self.added = None;
        self.spec_id = Some(spec_id);
    }

    /// Sets a summary entry of the snapshot.
    pub fn set_summary(&mut self, key: &str, value: impl Into<String>) {
        self.summary.insert(key.to_string(), value.into());
    }

    /// Copies table property `key`, as the attempt's base holds it, into the summary.
    pub fn carry_table_property(&mut self, key: &str) {
        self.carried.push(key.to_string());
    }

    /// The snapshot on `table`'s main branch, once it landed.
    pub fn find_in<'a>(&self, table: &'a TableMetadata) -> Option<&'a SnapshotRef> {
        main_ancestry(table).find(|s| s.snapshot_id() == self.snapshot_id)
    }

    /// The requirements and updates of attempt `attempt` (from 1) to put the snapshot on
    /// top of `base`'s main branch: the added files' manifests (written once), the base's
    /// manifests (those holding `removal`'s files rewritten with them marked deleted,
    /// those tracking no live file dropped), the summary and the manifest list.
    pub async fn produce(
        &mut self,
        base: &LoadedTable,
        attempt: u32,
        removal: Option<Removal<'_>>,
    ) -> Result<TableCommit> {
        let metadata = base.metadata.as_ref();
        let mut collector = SnapshotSummaryCollector::default();
        let schema = metadata.current_schema().clone();
        let spec = self.added_spec(metadata)?;
        for file in self.data_files.iter().chain(&self.delete_files) {
            collector.add_file(file, schema.clone(), spec.clone());
        }
        let mut manifests = self.added_manifests(base).await?;
        match removal {
            None => manifests.extend(
                main_manifests(&base.file_io, metadata)
                    .await?
                    .into_iter()
                    .filter(tracks_live_files),
            ),
            Some(mut removal) => {
                let mut hit: LoadedManifests = Vec::new();
                let mut removed = 0usize;
                for (file, loaded) in std::mem::take(&mut removal.manifests) {
                    let spec = spec_of(metadata, file.partition_spec_id)?;
                    let before = removed;
                    for entry in loaded
                        .entries()
                        .iter()
                        .filter(|e| e.is_alive() && removal.files.contains(e.file_path()))
                    {
                        collector.remove_file(entry.data_file(), schema.clone(), spec.clone());
                        removed += 1;
                    }
                    if removed > before {
                        hit.push((file, loaded));
                    } else if tracks_live_files(&file) {
                        manifests.push(file);
                    }
                }
                if removed != removal.files.len() {
                    return Err(Error::internal(format!(
                        "found {removed} of the {} files to remove in the manifests",
                        removal.files.len()
                    )));
                }
                manifests.extend(self.rewritten(base, hit, &removal).await?);
            }
        }
        let mut changes = collector.build();
        changes.extend(self.summary.clone());
        for key in &self.carried {
            if let Some(value) = metadata.properties().get(key) {
                changes.insert(key.clone(), value.clone());
            }
        }
        let list = write_manifest_list(
            &base.file_io,
            metadata,
            self.snapshot_id,
            manifests,
            attempt,
        )
        .await?;
        Ok(snapshot_commit(
            metadata,
            self.snapshot_id,
            self.operation.clone(),
            changes,
            list,
            now_ms(),
        ))
    }

    /// The partition spec of the added files.
    fn added_spec(&self, metadata: &TableMetadata) -> Result<PartitionSpecRef> {
        spec_of(
            metadata,
            self.spec_id.unwrap_or(metadata.default_partition_spec_id()),
        )
    }

    /// The added files' manifests (one of data files, one of delete files), written once.
    async fn added_manifests(&mut self, base: &LoadedTable) -> Result<Vec<ManifestFile>> {
        if let Some(added) = &self.added {
            return Ok(added.clone());
        }
        let metadata = base.metadata.as_ref();
        let spec = self.added_spec(metadata)?;
        // Unassigned (-1): the entry inherits the sequence number of its snapshot.
        let sequence = self.data_sequence_number.unwrap_or(-1);
        let mut written = Vec::new();
        for (files, content) in [
            (&self.data_files, ManifestContentType::Data),
            (&self.delete_files, ManifestContentType::Deletes),
        ] {
            if files.is_empty() {
                continue;
            }
            let mut writer =
                new_manifest_writer(&base.file_io, metadata, self.snapshot_id, &spec, content)?;
            for file in files {
                writer.add_file(file.clone(), sequence)?;
            }
            written.push(writer.write_manifest_file().await?);
        }
        self.added = Some(written.clone());
        Ok(written)
    }

    /// The manifests `hit` rewritten without `removal`'s files; a retry on the same
    /// manifests reuses what the attempt before wrote.
    async fn rewritten(
        &mut self,
        base: &LoadedTable,
        hit: LoadedManifests,
        removal: &Removal<'_>,
    ) -> Result<Vec<ManifestFile>> {
        let replaced: Vec<String> = hit.iter().map(|(f, _)| f.manifest_path.clone()).collect();
        if let Some(done) = &self.rewrite {
            if done.replaced == replaced && done.removed == *removal.files {
                return Ok(done.written.clone());
            }
        }
        let target = RewriteTarget {
            file_io: &base.file_io,
            metadata: &base.metadata,
            snapshot_id: self.snapshot_id,
            cache: removal.cache,
        };
        let written = rewrite_manifests(&target, &hit, removal.files, removal.partition).await?;
        self.rewrite = Some(Rewrite {
            replaced,
            removed: removal.files.clone(),
            written: written.clone(),
        });
        Ok(written)
    }
}

/// The commit that puts snapshot `snapshot_id` (its manifest list written) on top of
/// `base`'s main branch: its summary is `changes` (the `added-*`/`removed-*` counts and
/// the operation's own entries) with the totals carried from the parent; `add-snapshot`
/// and `set-snapshot-ref main`, guarded by the table's uuid and main's current snapshot.
pub(crate) fn snapshot_commit(
    base: &TableMetadata,
    snapshot_id: i64,
    operation: Operation,
    changes: HashMap<String, String>,
    manifest_list: String,
    timestamp_ms: i64,
) -> TableCommit {
    let parent = base.snapshot_for_ref(MAIN_BRANCH);
    let summary = Summary {
        operation,
        additional_properties: with_totals(changes, parent.map(|p| p.summary())),
    };
    let parent = parent.map(|p| p.snapshot_id());
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent)
        .with_sequence_number(base.next_sequence_number())
        .with_timestamp_ms(timestamp_ms.max(base.last_updated_ms()))
        .with_manifest_list(manifest_list)
        .with_summary(summary)
        .with_schema_id(base.current_schema_id())
        .build();
    TableCommit {
        requirements: vec![
            TableRequirement::UuidMatch { uuid: base.uuid() },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_string(),
                snapshot_id: parent,
            },
        ],
        updates: vec![
            TableUpdate::AddSnapshot { snapshot },
            TableUpdate::SetSnapshotRef {
                ref_name: MAIN_BRANCH.to_string(),
                reference: SnapshotReference::new(
                    snapshot_id,
                    SnapshotRetention::branch(None, None, None),
                ),
            },
        ],
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
#[path = "producer_tests.rs"]
mod tests;
