//! Snapshot expiry as Iceberg Java's `ExpireSnapshots` does it: which snapshots to remove
//! (pure: the retention of the table properties `history.expire.*` and of each branch),
//! which files only they reach (pure: a set difference), and the I/O that lists the
//! files a set of snapshots reaches and deletes files. When in doubt a file is kept.

use std::collections::{BTreeSet, HashMap, HashSet};

use iceberg::io::FileIO;
use iceberg::spec::{ManifestList, SnapshotReference, SnapshotRetention, TableMetadata};

pub const MAX_SNAPSHOT_AGE_MS: &str = "history.expire.max-snapshot-age-ms";
pub const MIN_SNAPSHOTS_TO_KEEP: &str = "history.expire.min-snapshots-to-keep";
const DEFAULT_MAX_SNAPSHOT_AGE_MS: i64 = 5 * 24 * 3600 * 1000;

/// The retention of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireOptions {
    pub max_snapshot_age_ms: i64,
    pub min_snapshots_to_keep: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("table property {property}: {problem}")]
pub struct ExpireError {
    pub property: &'static str,
    pub problem: String,
}

impl ExpireOptions {
    /// From the standard table properties (defaults: 5 days, 1 snapshot).
    pub fn from_properties(properties: &HashMap<String, String>) -> Result<Self, ExpireError> {
        let age = match properties.get(MAX_SNAPSHOT_AGE_MS) {
            None => DEFAULT_MAX_SNAPSHOT_AGE_MS,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if n >= 0 => n,
                _ => {
                    return Err(ExpireError {
                        property: MAX_SNAPSHOT_AGE_MS,
                        problem: format!("{v:?} is not a number of milliseconds"),
                    })
                }
            },
        };
        let keep = match properties.get(MIN_SNAPSHOTS_TO_KEEP) {
            None => 1,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ExpireError {
                        property: MIN_SNAPSHOTS_TO_KEEP,
                        problem: format!("{v:?} is not a count of at least 1"),
                    })
                }
            },
        };
        Ok(Self {
            max_snapshot_age_ms: age,
            min_snapshots_to_keep: keep,
        })
    }

    /// The options with any given override in place.
    pub fn with_overrides(self, max_age_ms: Option<i64>, min_keep: Option<usize>) -> Self {
        Self {
            max_snapshot_age_ms: max_age_ms.unwrap_or(self.max_snapshot_age_ms),
            min_snapshots_to_keep: min_keep.unwrap_or(self.min_snapshots_to_keep).max(1),
        }
    }
}

/// The table's refs. iceberg 0.10 has no accessor for them (only `snapshot_for_ref` by
/// name), so they are read back from the metadata's JSON form.
fn refs(metadata: &TableMetadata) -> Option<HashMap<String, SnapshotReference>> {
    let mut doc = serde_json::to_value(metadata).ok()?;
    match doc.get_mut("refs") {
        None => Some(HashMap::new()),
        Some(refs) => serde_json::from_value(refs.take()).ok(),
    }
}

/// The snapshots to remove, sorted. Kept: every ref's head; for each branch the first
/// `min-snapshots-to-keep` of its ancestry and every ancestor younger than the max age
/// (a branch's own retention overrides the table's); any other snapshot younger than the
/// max age.
pub fn snapshots_to_expire(
    metadata: &TableMetadata,
    now_ms: i64,
    options: &ExpireOptions,
) -> Vec<i64> {
    // Refs that cannot be read: expire nothing rather than guess.
    let Some(refs) = refs(metadata) else {
        return Vec::new();
    };
    let mut keep: HashSet<i64> = metadata.current_snapshot_id().into_iter().collect();
    let mut in_branches: HashSet<i64> = HashSet::new();
    for reference in refs.values() {
        keep.insert(reference.snapshot_id);
        let SnapshotRetention::Branch {
            min_snapshots_to_keep,
            max_snapshot_age_ms,
            ..
        } = &reference.retention
        else {
            continue;
        };
        let min_keep = min_snapshots_to_keep.map_or(options.min_snapshots_to_keep, |n| n.max(1) as usize);
        let oldest = now_ms - max_snapshot_age_ms.unwrap_or(options.max_snapshot_age_ms);
        let mut next = metadata.snapshot_by_id(reference.snapshot_id);
        let mut depth = 0;
        while let Some(snapshot) = next {
            in_branches.insert(snapshot.snapshot_id());
            if depth < min_keep || snapshot.timestamp_ms() >= oldest {
                keep.insert(snapshot.snapshot_id());
            }
            depth += 1;
            next = snapshot
                .parent_snapshot_id()
                .and_then(|id| metadata.snapshot_by_id(id));
        }
    }
    let oldest = now_ms - options.max_snapshot_age_ms;
    let mut expired: Vec<i64> = metadata
        .snapshots()
        .filter(|s| !keep.contains(&s.snapshot_id()))
        .filter(|s| in_branches.contains(&s.snapshot_id()) || s.timestamp_ms() < oldest)
        .map(|s| s.snapshot_id())
        .collect();
    expired.sort_unstable();
    expired
}

/// The files a set of snapshots reaches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReachableFiles {
    pub manifest_lists: BTreeSet<String>,
    pub manifests: BTreeSet<String>,
    /// Data and delete files, of entries of any status.
    pub content_files: BTreeSet<String>,
}

impl ReachableFiles {
    pub fn len(&self) -> usize {
        self.manifest_lists.len() + self.manifests.len() + self.content_files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What `expired` reaches and `retained` does not.
pub fn files_to_delete(expired: &ReachableFiles, retained: &ReachableFiles) -> ReachableFiles {
    let minus = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect();
    ReachableFiles {
        manifest_lists: minus(&expired.manifest_lists, &retained.manifest_lists),
        manifests: minus(&expired.manifests, &retained.manifests),
        content_files: minus(&expired.content_files, &retained.content_files),
    }
}

/// Lists the files that `snapshot_ids` of `metadata` reach: manifest lists, manifests and
/// every entry's file (each manifest read once).
pub async fn reachable_files(
    file_io: &FileIO,
    metadata: &TableMetadata,
    snapshot_ids: &[i64],
) -> iceberg::Result<ReachableFiles> {
    let mut out = ReachableFiles::default();
    for id in snapshot_ids {
        let Some(snapshot) = metadata.snapshot_by_id(*id) else {
            continue;
        };
        out.manifest_lists
            .insert(snapshot.manifest_list().to_string());
        let bytes = file_io.new_input(snapshot.manifest_list())?.read().await?;
        let list = ManifestList::parse_with_version(&bytes, metadata.format_version())?;
        for manifest in list.entries() {
            if !out.manifests.insert(manifest.manifest_path.clone()) {
                continue;
            }
            let loaded = manifest.load_manifest(file_io).await?;
            out.content_files
                .extend(loaded.entries().iter().map(|e| e.file_path().to_string()));
        }
    }
    Ok(out)
}

/// What deleting files did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteReport {
    pub deleted: usize,
    pub failed: usize,
}

/// Deletes content files, then manifests, then manifest lists (so a failure half way
/// never leaves a manifest pointing at nothing while its list is kept).
pub async fn delete_files(file_io: &FileIO, files: &ReachableFiles) -> DeleteReport {
    let mut report = DeleteReport::default();
    for set in [&files.content_files, &files.manifests, &files.manifest_lists] {
        for path in set {
            match file_io.delete(path).await {
                Ok(()) => report.deleted += 1,
                Err(e) => {
                    tracing::warn!(path, error = %e, "could not delete an expired file");
                    report.failed += 1;
                }
            }
        }
    }
    report
}

#[cfg(test)]
#[path = "expire_tests.rs"]
mod tests;
