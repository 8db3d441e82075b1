//! The files of a table's main branch as every writer reads them: the manifests of the
//! current snapshot (or of any snapshot, for readers; each parsed at most once per [`ManifestCache`]), their live entries,
//! and the rules' view of each live file ([`LiveFile`]: path, content, partition, data
//! sequence number); and the schema and the writing of position-delete files.

mod position_deletes;

pub use position_deletes::{write_position_deletes, PositionDeleteWriter};

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, Manifest, ManifestContentType, ManifestEntryRef, ManifestFile, ManifestList,
    NestedField, PrimitiveType, Schema, Snapshot, Struct, TableMetadata, Type, MAIN_BRANCH,
};

/// Field id of a position-delete file's `file_path` column (reserved by the spec).
pub const POSITION_DELETE_FILE_PATH: i32 = 2147483546;
/// Field id of a position-delete file's `pos` column (reserved by the spec).
pub const POSITION_DELETE_POS: i32 = 2147483545;

/// The schema of position-delete files: `file_path`, `pos`.
pub fn position_delete_schema() -> Schema {
    Schema::builder()
        .with_fields(vec![
            NestedField::required(
                POSITION_DELETE_FILE_PATH,
                "file_path",
                Type::Primitive(PrimitiveType::String),
            )
            .into(),
            NestedField::required(
                POSITION_DELETE_POS,
                "pos",
                Type::Primitive(PrimitiveType::Long),
            )
            .into(),
        ])
        .build()
        .expect("a valid schema")
}

/// A partition of a partition spec: the spec's id and the partition tuple.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    /// The partition spec the tuple follows.
    pub spec_id: i32,
    /// The partition tuple.
    pub value: Struct,
}

/// What the commit rules need to know of one live file of the table.
#[derive(Clone, Debug)]
pub struct LiveFile {
    /// The file's location.
    pub path: String,
    /// Data, equality deletes or position deletes.
    pub content: DataContentType,
    /// The file's partition.
    pub partition: Partition,
    /// The file's partition spec has no fields: its deletes apply to every partition.
    pub unpartitioned: bool,
    /// The data sequence number of the file's entry.
    pub sequence_number: i64,
    /// For a position-delete file, the one data file it points at, when known.
    pub referenced_data_file: Option<String>,
}

/// A main branch's manifests, each loaded.
pub type LoadedManifests = Vec<(ManifestFile, Arc<Manifest>)>;

/// Manifests parsed before, by path. Manifests are written once and never change, so an
/// entry never goes stale: one cache serves every commit (and every retry) of a run,
/// and the manifests a run writes are put in it as they are written. Clones share it.
#[derive(Clone, Default)]
pub struct ManifestCache {
    loaded: Arc<Mutex<HashMap<String, Arc<Manifest>>>>,
}

impl ManifestCache {
    /// The manifests of `metadata`'s main branch, reading only those not seen before.
    pub async fn main(
        &self,
        file_io: &FileIO,
        metadata: &TableMetadata,
    ) -> iceberg::Result<LoadedManifests> {
        let files = main_manifests(file_io, metadata).await?;
        self.load(file_io, files).await
    }

    /// The manifests of `snapshot` of `metadata`, reading only those not seen before.
    pub async fn of_snapshot(
        &self,
        file_io: &FileIO,
        metadata: &TableMetadata,
        snapshot: &Snapshot,
    ) -> iceberg::Result<LoadedManifests> {
        let files = snapshot_manifests(file_io, metadata, snapshot).await?;
        self.load(file_io, files).await
    }

    async fn load(
        &self,
        file_io: &FileIO,
        files: Vec<ManifestFile>,
    ) -> iceberg::Result<LoadedManifests> {
        let mut out = Vec::new();
        for file in files {
            let cached = self.lock().get(&file.manifest_path).cloned();
            let manifest = match cached {
                Some(m) => m,
                None => {
                    let m = Arc::new(file.load_manifest(file_io).await?);
                    self.insert(&file.manifest_path, m.clone());
                    m
                }
            };
            out.push((file, manifest));
        }
        Ok(out)
    }

    /// The manifests of `metadata`'s main branch and the rules' view of its live files.
    pub async fn live(
        &self,
        file_io: &FileIO,
        metadata: &TableMetadata,
    ) -> iceberg::Result<(LoadedManifests, Vec<LiveFile>)> {
        let manifests = self.main(file_io, metadata).await?;
        let files = live_files(metadata, &manifests)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        Ok((manifests, files))
    }

    /// Remembers a manifest just written at `path`.
    pub fn insert(&self, path: &str, manifest: Arc<Manifest>) {
        self.lock().insert(path.to_string(), manifest);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Manifest>>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads the manifest list of `base`'s main branch (empty for a table without snapshots).
pub async fn main_manifests(
    file_io: &FileIO,
    base: &TableMetadata,
) -> iceberg::Result<Vec<ManifestFile>> {
    let Some(parent) = base.snapshot_for_ref(MAIN_BRANCH) else {
        return Ok(Vec::new());
    };
    snapshot_manifests(file_io, base, parent).await
}

/// Reads the manifest list of `snapshot` of `metadata`.
pub async fn snapshot_manifests(
    file_io: &FileIO,
    metadata: &TableMetadata,
    snapshot: &Snapshot,
) -> iceberg::Result<Vec<ManifestFile>> {
    let bytes = file_io.new_input(snapshot.manifest_list())?.read().await?;
    let list = ManifestList::parse_with_version(&bytes, metadata.format_version())?;
    Ok(list.consume_entries().into_iter().collect())
}

/// Whether a manifest may still track a live file. One holding only entries that its own
/// snapshot deleted (a compaction leaves one per rewritten partition) need not be carried
/// by the snapshots after it, as Iceberg Java's commits drop them: readers would only
/// read past its dead entries.
pub fn tracks_live_files(manifest: &ManifestFile) -> bool {
    manifest.added_files_count != Some(0) || manifest.existing_files_count != Some(0)
}

/// The live files of loaded manifests, for the rules, each with its entry.
pub fn live_files(
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
                partition: Partition {
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

/// The live entries of `base`'s main branch, of manifests of one content (data or
/// deletes) or of all, each with the partition spec id of its manifest (the spec its
/// partition tuple follows).
pub async fn live_entries(
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
        .map(|(_, e)| e.file_path())
        .filter(|p| paths.contains(*p))
        .map(str::to_string)
        .collect())
}
