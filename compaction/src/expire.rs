//! Snapshot expiry as Iceberg Java's `ExpireSnapshots` does it: which snapshots to remove
//! (pure: the retention of the table properties `history.expire.*` and of each branch),
//! which files only they reach (pure: a set difference), and the I/O that lists the
//! files a set of snapshots reaches and deletes files. When in doubt a snapshot or a file
//! is kept; metadata JSON files are never touched, and refs are never removed.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use iceberg::io::FileIO;
use iceberg::spec::{
    ManifestFile, ManifestList, SnapshotReference, SnapshotRetention, TableMetadata, MAIN_BRANCH,
};

pub const MAX_SNAPSHOT_AGE_MS: &str = "history.expire.max-snapshot-age-ms";
pub const MIN_SNAPSHOTS_TO_KEEP: &str = "history.expire.min-snapshots-to-keep";
/// Five days, as in Iceberg Java.
pub const DEFAULT_MAX_SNAPSHOT_AGE_MS: i64 = 5 * 24 * 3600 * 1000;
pub const DEFAULT_MIN_SNAPSHOTS_TO_KEEP: usize = 1;

/// How many manifest lists or manifests are read, or files deleted, at once.
const IO_CONCURRENCY: usize = 16;

/// The retention of a table: snapshots older than `max_snapshot_age_ms` go, except the
/// newest `min_snapshots_to_keep` of each branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireOptions {
    pub max_snapshot_age_ms: i64,
    pub min_snapshots_to_keep: usize,
}

impl Default for ExpireOptions {
    fn default() -> Self {
        Self {
            max_snapshot_age_ms: DEFAULT_MAX_SNAPSHOT_AGE_MS,
            min_snapshots_to_keep: DEFAULT_MIN_SNAPSHOTS_TO_KEEP,
        }
    }
}

/// A table property of the retention that does not hold a valid value.
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
                        problem: format!("{v:?} is not a non-negative number of milliseconds"),
                    })
                }
            },
        };
        let keep = match properties.get(MIN_SNAPSHOTS_TO_KEEP) {
            None => DEFAULT_MIN_SNAPSHOTS_TO_KEEP,
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

    /// The options with any given override in place (a negative age counts as 0, a
    /// count of 0 as 1: every branch keeps at least its head).
    pub fn with_overrides(self, max_age_ms: Option<i64>, min_keep: Option<usize>) -> Self {
        Self {
            max_snapshot_age_ms: max_age_ms.unwrap_or(self.max_snapshot_age_ms).max(0),
            min_snapshots_to_keep: min_keep.unwrap_or(self.min_snapshots_to_keep).max(1),
        }
    }
}

/// The table's refs. iceberg 0.10 has no accessor for them (only `snapshot_for_ref` by
/// name), so they are read back from the metadata's JSON form. `main` is added from the
/// current snapshot when absent (format v1 keeps no refs).
fn refs(metadata: &TableMetadata) -> Option<HashMap<String, SnapshotReference>> {
    let mut doc = serde_json::to_value(metadata).ok()?;
    let mut refs: HashMap<String, SnapshotReference> = match doc.get_mut("refs") {
        None | Some(serde_json::Value::Null) => HashMap::new(),
        Some(refs) => serde_json::from_value(refs.take()).ok()?,
    };
    if let Some(current) = metadata.current_snapshot_id() {
        refs.entry(MAIN_BRANCH.to_string()).or_insert_with(|| {
            SnapshotReference::new(current, SnapshotRetention::branch(None, None, None))
        });
    }
    Some(refs)
}

/// The snapshots to remove, sorted. Kept: every ref's head and the current snapshot; for
/// each branch the first `min-snapshots-to-keep` of its ancestry and every ancestor
/// younger than the max age (a branch's own retention, when valid, overrides the table's);
/// any snapshot on no branch (a tag's ancestors included) younger than the table's max
/// age. Unlike Java, the walk of a branch does not stop at its first expired ancestor:
/// an older ancestor with a younger timestamp (clock skew) is kept too.
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
        let min_keep = match min_snapshots_to_keep {
            Some(n) if *n >= 1 => *n as usize,
            _ => options.min_snapshots_to_keep.max(1),
        };
        let max_age = match max_snapshot_age_ms {
            Some(age) if *age >= 0 => *age,
            _ => options.max_snapshot_age_ms,
        };
        let oldest = now_ms.saturating_sub(max_age);
        let mut walked: HashSet<i64> = HashSet::new();
        let mut next = metadata.snapshot_by_id(reference.snapshot_id);
        while let Some(snapshot) = next {
            // A parent cycle (corrupt metadata) ends the walk.
            if !walked.insert(snapshot.snapshot_id()) {
                break;
            }
            in_branches.insert(snapshot.snapshot_id());
            if walked.len() <= min_keep || snapshot.timestamp_ms() >= oldest {
                keep.insert(snapshot.snapshot_id());
            }
            next = snapshot
                .parent_snapshot_id()
                .and_then(|id| metadata.snapshot_by_id(id));
        }
    }
    let oldest = now_ms.saturating_sub(options.max_snapshot_age_ms);
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
    /// Data and delete files, of entries of any status (added, existing, deleted).
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

/// What `expired` reaches and `retained` does not, kind by kind.
pub fn files_to_delete(expired: &ReachableFiles, retained: &ReachableFiles) -> ReachableFiles {
    let minus = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect();
    ReachableFiles {
        manifest_lists: minus(&expired.manifest_lists, &retained.manifest_lists),
        manifests: minus(&expired.manifests, &retained.manifests),
        content_files: minus(&expired.content_files, &retained.content_files),
    }
}

/// Which manifest entries' files a listing counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entries {
    /// Every entry, whatever its status: what expired snapshots reach.
    All,
    /// Added and existing entries: what retained snapshots read. A file that a retained
    /// snapshot marks deleted is read by none of them (its parent, which read it, is
    /// either retained too, so it is listed there, or expired).
    Live,
}

/// Lists the files that `snapshot_ids` of `metadata` reach: their manifest lists, the
/// manifests those list and their entries' files (each manifest is read once however
/// many snapshots share it). An id `metadata` does not hold reaches
/// nothing. Any file that cannot be read fails the whole listing, so a caller never
/// deletes on the strength of a partial view.
pub async fn reachable_files(
    file_io: &FileIO,
    metadata: &TableMetadata,
    snapshot_ids: &[i64],
    entries: Entries,
) -> iceberg::Result<ReachableFiles> {
    let mut out = ReachableFiles::default();
    for id in snapshot_ids {
        if let Some(snapshot) = metadata.snapshot_by_id(*id) {
            out.manifest_lists
                .insert(snapshot.manifest_list().to_string());
        }
    }
    let version = metadata.format_version();
    // The streams own what they hand their closures: a closure over borrowed items
    // would make callers' futures not `Send` (a higher-ranked lifetime limitation).
    let lists: Vec<ManifestList> = futures::stream::iter(out.manifest_lists.clone())
        .map(|location| async move {
            let bytes = file_io.new_input(&location)?.read().await?;
            ManifestList::parse_with_version(&bytes, version)
        })
        .buffer_unordered(IO_CONCURRENCY)
        .try_collect()
        .await?;
    let mut manifests: Vec<ManifestFile> = Vec::new();
    for manifest in lists.iter().flat_map(|l| l.entries()) {
        if out.manifests.insert(manifest.manifest_path.clone()) {
            manifests.push(manifest.clone());
        }
    }
    let mut loaded = futures::stream::iter(manifests)
        .map(|manifest| async move { manifest.load_manifest(file_io).await })
        .buffer_unordered(IO_CONCURRENCY);
    while let Some(manifest) = loaded.try_next().await? {
        out.content_files.extend(
            manifest
                .entries()
                .iter()
                .filter(|e| entries == Entries::All || e.is_alive())
                .map(|e| e.file_path().to_string()),
        );
    }
    Ok(out)
}

/// What deleting files did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Files deleted, or already absent.
    pub deleted: usize,
    /// Files whose deletion failed (each logged); they are left as orphans.
    pub failed: usize,
}

/// Deletes content files, then manifests, then manifest lists (each kind only once the
/// one before is done). The caller passes only files of snapshots already removed from
/// the table that no retained snapshot reaches. A missing file is no error; a failure is
/// logged and counted, and never stops the rest.
pub async fn delete_files(file_io: &FileIO, files: &ReachableFiles) -> DeleteReport {
    let mut report = DeleteReport::default();
    for set in [
        &files.content_files,
        &files.manifests,
        &files.manifest_lists,
    ] {
        let mut results = futures::stream::iter(set.clone())
            .map(|path| async move {
                let result = file_io.delete(&path).await;
                (path, result)
            })
            .buffer_unordered(IO_CONCURRENCY);
        while let Some((path, result)) = results.next().await {
            match result {
                Ok(()) => report.deleted += 1,
                Err(e) => {
                    tracing::warn!(path = %path, error = %e, "could not delete an expired file");
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
