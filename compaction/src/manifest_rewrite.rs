//! The manifests a compaction commit writes in place of the ones holding the files it
//! removes: their live entries, the removed ones marked deleted, regrouped so that each
//! partition (bucket) gets a manifest of its own (`regroup`, a pure function). A run
//! commits one group per partition, so after its first commit every later commit rewrites
//! only its own partition's manifests instead of every manifest of the table. And the
//! cache of the manifests one run has read or written: manifests never change, so each is
//! parsed at most once per run, however many groups commit and retry.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use iceberg::io::FileIO;
use iceberg::spec::{
    FormatVersion, Manifest, ManifestContentType, ManifestEntry, ManifestFile, ManifestMetadata,
    ManifestStatus, TableMetadata,
};
use uuid::Uuid;

use crate::catalog::LoadedTable;
use crate::error::CompactionError;
use crate::planner::PartitionKey;
use crate::replace_commit::spec_of;
use crate::table_files::{main_manifests, new_manifest_writer};

/// Up to this many partitions among the rewritten entries, each gets its own manifest;
/// above it (tables partitioned by more than buckets), the committing group's partition
/// gets one and the rest share one, so a commit never writes a swarm of tiny manifests.
pub const MAX_PARTITION_MANIFESTS: usize = 64;

/// A main branch's manifests, each loaded.
pub type LoadedManifests = Vec<(ManifestFile, Arc<Manifest>)>;

/// Manifests read or written by one compaction run, and the manifests it wrote in place
/// of others.
#[derive(Default)]
pub struct ManifestCache {
    loaded: HashMap<String, Arc<Manifest>>,
    /// Rewrites by the paths of the manifests they replace: the file paths they mark
    /// deleted and the manifests written.
    rewritten: HashMap<Vec<String>, (BTreeSet<String>, Vec<ManifestFile>)>,
}

impl ManifestCache {
    /// The manifests of `metadata`'s main branch, reading only those not seen before.
    pub async fn main(
        &mut self,
        file_io: &FileIO,
        metadata: &TableMetadata,
    ) -> iceberg::Result<LoadedManifests> {
        let mut out = Vec::new();
        for file in main_manifests(file_io, metadata).await? {
            let manifest = match self.loaded.get(&file.manifest_path) {
                Some(m) => m.clone(),
                None => {
                    let m = Arc::new(file.load_manifest(file_io).await?);
                    self.loaded.insert(file.manifest_path.clone(), m.clone());
                    m
                }
            };
            out.push((file, manifest));
        }
        Ok(out)
    }
}

/// Which entries share a manifest: `entries[i]` is entry i's (is data, partition); each
/// answered list is one manifest's entries, in first-seen order. Data and deletes never
/// share one. One manifest per partition when there are at most `max_partitions`, else
/// `group`'s partition apart from all others.
pub fn regroup(
    entries: &[(bool, &PartitionKey)],
    group: &PartitionKey,
    max_partitions: usize,
) -> Vec<Vec<usize>> {
    let distinct = entries
        .iter()
        .map(|(_, p)| *p)
        .collect::<HashSet<&PartitionKey>>()
        .len();
    let split = distinct <= max_partitions;
    let mut keys: Vec<(bool, Option<&PartitionKey>)> = Vec::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, (is_data, partition)) in entries.iter().enumerate() {
        let key = if split || *partition == group {
            (*is_data, Some(*partition))
        } else {
            (*is_data, None)
        };
        match keys.iter().position(|k| *k == key) {
            Some(k) => out[k].push(i),
            None => {
                keys.push(key);
                out.push(vec![i]);
            }
        }
    }
    out
}

/// Writes the live entries of `hit` (the manifests holding files to remove) as regrouped
/// manifests of snapshot `snapshot_id`: entries in `removing` marked deleted, the others
/// kept as existing, all with their sequence numbers. A retry with the same manifests and
/// files answers the manifests written before.
pub async fn rewrite_manifests(
    table: &LoadedTable,
    snapshot_id: i64,
    hit: &LoadedManifests,
    removing: &BTreeSet<String>,
    group: &PartitionKey,
    cache: &mut ManifestCache,
) -> Result<Vec<ManifestFile>, CompactionError> {
    let replaced: Vec<String> = hit.iter().map(|(f, _)| f.manifest_path.clone()).collect();
    if let Some((paths, written)) = cache.rewritten.get(&replaced) {
        if paths == removing {
            return Ok(written.clone());
        }
    }
    let mut live = Vec::new();
    for (file, manifest) in hit {
        for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
            let key = PartitionKey {
                spec_id: file.partition_spec_id,
                value: entry.data_file().partition().clone(),
            };
            live.push((file.content == ManifestContentType::Data, key, entry));
        }
    }
    let keys: Vec<(bool, &PartitionKey)> = live.iter().map(|(d, k, _)| (*d, k)).collect();
    let mut written = Vec::new();
    for members in regroup(&keys, group, MAX_PARTITION_MANIFESTS) {
        let (is_data, key, _) = &live[members[0]];
        let entries: Vec<ManifestEntry> = members
            .iter()
            .map(|&i| {
                let entry = live[i].2;
                let removed = removing.contains(entry.file_path());
                ManifestEntry {
                    status: if removed {
                        ManifestStatus::Deleted
                    } else {
                        ManifestStatus::Existing
                    },
                    snapshot_id: Some(if removed {
                        snapshot_id
                    } else {
                        entry.snapshot_id().unwrap_or(snapshot_id)
                    }),
                    sequence_number: Some(entry.sequence_number().unwrap_or(0)),
                    file_sequence_number: entry.file_sequence_number,
                    data_file: entry.data_file().clone(),
                }
            })
            .collect();
        let content = if *is_data {
            ManifestContentType::Data
        } else {
            ManifestContentType::Deletes
        };
        written
            .push(write_manifest(table, snapshot_id, key.spec_id, content, entries, cache).await?);
    }
    cache
        .rewritten
        .insert(replaced, (removing.clone(), written.clone()));
    Ok(written)
}

/// Writes one manifest of existing and deleted `entries` and remembers it in `cache`.
async fn write_manifest(
    table: &LoadedTable,
    snapshot_id: i64,
    spec_id: i32,
    content: ManifestContentType,
    entries: Vec<ManifestEntry>,
    cache: &mut ManifestCache,
) -> Result<ManifestFile, CompactionError> {
    let metadata = &table.metadata;
    let spec = spec_of(metadata, spec_id)?;
    let schema = metadata.current_schema().clone();
    let mut writer = new_manifest_writer(
        &table.file_io,
        metadata,
        snapshot_id,
        &spec,
        content,
        &format!("{}-compact-m1.avro", Uuid::new_v4()),
    )?;
    for entry in &entries {
        let sequence = entry.sequence_number.unwrap_or(0);
        let data_file = entry.data_file.clone();
        match entry.status {
            ManifestStatus::Deleted => {
                writer.add_delete_file(data_file, sequence, entry.file_sequence_number)?
            }
            _ => writer.add_existing_file(
                data_file,
                entry.snapshot_id.unwrap_or(snapshot_id),
                sequence,
                entry.file_sequence_number,
            )?,
        }
    }
    let file = writer.write_manifest_file().await?;
    let manifest = Manifest::new(
        ManifestMetadata {
            schema_id: schema.schema_id(),
            schema,
            partition_spec: spec.as_ref().clone(),
            format_version: FormatVersion::V2,
            content,
        },
        entries,
    );
    cache
        .loaded
        .insert(file.manifest_path.clone(), Arc::new(manifest));
    Ok(file)
}

#[cfg(test)]
mod tests {
    use iceberg::spec::{Literal, Struct};

    use super::*;

    fn bucket(b: i32) -> PartitionKey {
        PartitionKey {
            spec_id: 0,
            value: Struct::from_iter([Some(Literal::int(b))]),
        }
    }

    /// (entries, the group's partition, max partitions, expected manifests)
    type Case<'a> = (
        Vec<(bool, &'a PartitionKey)>,
        &'a PartitionKey,
        usize,
        Vec<Vec<usize>>,
    );

    #[test]
    fn regroup_cases() {
        let (b0, b1, b2) = (bucket(0), bucket(1), bucket(2));
        let cases: Vec<Case> = vec![
            (vec![], &b0, 64, vec![]),
            // One manifest per content and partition, in first-seen order.
            (
                vec![
                    (true, &b1),
                    (true, &b0),
                    (false, &b1),
                    (true, &b1),
                    (false, &b0),
                ],
                &b0,
                64,
                vec![vec![0, 3], vec![1], vec![2], vec![4]],
            ),
            // Over the limit: the group's partition apart, the others together.
            (
                vec![
                    (true, &b1),
                    (true, &b0),
                    (true, &b2),
                    (false, &b2),
                    (false, &b0),
                ],
                &b0,
                2,
                vec![vec![0, 2], vec![1], vec![3], vec![4]],
            ),
            // At the limit: still split.
            (
                vec![(true, &b1), (true, &b2), (true, &b1)],
                &b0,
                2,
                vec![vec![0, 2], vec![1]],
            ),
            // A group whose partition has no entries here.
            (vec![(false, &b1), (false, &b2)], &b0, 1, vec![vec![0, 1]]),
        ];
        for (i, (entries, group, max, expected)) in cases.into_iter().enumerate() {
            assert_eq!(regroup(&entries, group, max), expected, "case {i}");
        }
    }

    #[test]
    fn regroup_keeps_every_entry_once() {
        let keys: Vec<PartitionKey> = (0..100).map(|i| bucket(i % 7)).collect();
        for max in [0, 3, 7, 100] {
            let entries: Vec<(bool, &PartitionKey)> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (i % 3 == 0, k))
                .collect();
            let groups = regroup(&entries, &keys[0], max);
            let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
            all.sort();
            assert_eq!(all, (0..100).collect::<Vec<_>>(), "max {max}");
            for g in &groups {
                assert!(
                    g.iter().all(|&i| entries[i].0 == entries[g[0]].0),
                    "content mixed"
                );
            }
        }
    }
}
