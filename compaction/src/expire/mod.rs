//! Snapshot expiry as Iceberg Java's `ExpireSnapshots` does it: which snapshots to remove
//! (pure: the retention of the table properties `history.expire.*` and of each branch),
//! which files only they reach (pure: a set difference); `files` lists the files a set of
//! snapshots reaches and deletes files, `run` expires one table. When in doubt a snapshot
//! or a file is kept; metadata JSON files are never touched, and refs are never removed.

mod files;
mod run;

pub use files::{delete_files, reachable_files, DeleteReport};
pub use run::{expire_snapshots, ExpireReport};

use std::collections::{BTreeSet, HashMap, HashSet};

use floe_table::properties::{
    read, PropertyError, DEFAULT_MAX_SNAPSHOT_AGE_MS, DEFAULT_MIN_SNAPSHOTS_TO_KEEP,
    MAX_SNAPSHOT_AGE_MS, MIN_SNAPSHOTS_TO_KEEP,
};
use iceberg::spec::{SnapshotReference, SnapshotRetention, TableMetadata, MAIN_BRANCH};

/// The retention of a table: snapshots older than `max_snapshot_age_ms` go, except the
/// newest `min_snapshots_to_keep` of each branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireOptions {
    /// Snapshots older than this go (`history.expire.max-snapshot-age-ms`).
    pub max_snapshot_age_ms: i64,
    /// Every branch keeps this many (`history.expire.min-snapshots-to-keep`).
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

impl ExpireOptions {
    /// From the standard table properties (defaults: 5 days, 1 snapshot).
    pub fn from_properties(properties: &HashMap<String, String>) -> Result<Self, PropertyError> {
        Ok(Self {
            max_snapshot_age_ms: read(
                properties,
                MAX_SNAPSHOT_AGE_MS,
                DEFAULT_MAX_SNAPSHOT_AGE_MS,
                |age| *age >= 0,
                "a non-negative number of milliseconds",
            )?,
            min_snapshots_to_keep: read(
                properties,
                MIN_SNAPSHOTS_TO_KEEP,
                DEFAULT_MIN_SNAPSHOTS_TO_KEEP,
                |n| *n >= 1,
                "a count of at least 1",
            )?,
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
    /// Manifest lists.
    pub manifest_lists: BTreeSet<String>,
    /// Manifests.
    pub manifests: BTreeSet<String>,
    /// Data and delete files, of entries of any status (added, existing, deleted).
    pub content_files: BTreeSet<String>,
}

impl ReachableFiles {
    /// How many files of every kind.
    pub fn len(&self) -> usize {
        self.manifest_lists.len() + self.manifests.len() + self.content_files.len()
    }

    /// Whether there is none.
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

#[cfg(test)]
#[path = "expire_tests.rs"]
mod tests;
