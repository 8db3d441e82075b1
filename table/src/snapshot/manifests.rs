//! Writing the manifests and the manifest list of a new snapshot: new manifests of the
//! files it adds, rewritten manifests that mark the files it removes as deleted (the
//! other entries kept as existing, regrouped so that each partition gets a manifest of
//! its own: `regroup`, a pure function), and the manifest list. After the first commit of
//! a compaction run, each later commit then rewrites only its own partition's manifests
//! instead of every manifest of the table.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use iceberg::io::FileIO;
use iceberg::spec::{
    FormatVersion, Manifest, ManifestContentType, ManifestEntry, ManifestFile, ManifestListWriter,
    ManifestMetadata, ManifestStatus, ManifestWriter, ManifestWriterBuilder, PartitionSpec,
    PartitionSpecRef, TableMetadata, MAIN_BRANCH,
};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::files::{LoadedManifests, ManifestCache, Partition};

/// Up to this many partitions among the rewritten entries, each gets its own manifest;
/// above it (tables partitioned by more than buckets), the removed files' partition
/// gets one and the rest share one, so a commit never writes a swarm of tiny manifests.
pub const MAX_PARTITION_MANIFESTS: usize = 64;

/// A fresh positive snapshot id, as Java makes them (from a random UUID).
pub fn new_snapshot_id() -> i64 {
    let (hi, lo) = Uuid::new_v4().as_u64_pair();
    ((hi ^ lo) & i64::MAX as u64) as i64
}

/// The location of a new file `name` in the table's metadata directory.
fn metadata_path(metadata: &TableMetadata, name: &str) -> String {
    format!(
        "{}/metadata/{name}",
        metadata.location().trim_end_matches('/')
    )
}

/// The partition spec `id` of `metadata`.
pub fn spec_of(metadata: &TableMetadata, id: i32) -> Result<PartitionSpecRef> {
    metadata
        .partition_spec_by_id(id)
        .cloned()
        .ok_or_else(|| Error::internal(format!("partition spec {id} is gone")))
}

/// A writer of a new v2 manifest of snapshot `snapshot_id`, of `content` under `spec`,
/// in the table's metadata directory (entries use the current schema).
pub fn new_manifest_writer(
    file_io: &FileIO,
    metadata: &TableMetadata,
    snapshot_id: i64,
    spec: &PartitionSpec,
    content: ManifestContentType,
) -> iceberg::Result<ManifestWriter> {
    let name = format!("{}-m{}.avro", Uuid::new_v4(), content as u8);
    let output = file_io.new_output(metadata_path(metadata, &name))?;
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

/// Writes the manifest list of snapshot `snapshot_id` on top of `base`'s main branch
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

/// Which entries share a manifest: `entries[i]` is entry i's (is data, partition); each
/// answered list is one manifest's entries, in first-seen order. Data and deletes never
/// share one. One manifest per partition when there are at most `max_partitions`, else
/// `focus`'s partition apart from all others.
pub fn regroup(
    entries: &[(bool, &Partition)],
    focus: &Partition,
    max_partitions: usize,
) -> Vec<Vec<usize>> {
    let distinct = entries
        .iter()
        .map(|(_, p)| *p)
        .collect::<HashSet<&Partition>>()
        .len();
    let split = distinct <= max_partitions;
    let mut keys: Vec<(bool, Option<&Partition>)> = Vec::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, (is_data, partition)) in entries.iter().enumerate() {
        let key = if split || *partition == focus {
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

/// Where a rewrite of manifests writes: the table, the new snapshot, and the cache that
/// remembers the manifests written.
pub struct RewriteTarget<'a> {
    /// Reaches the table's files.
    pub file_io: &'a FileIO,
    /// The metadata the snapshot is built on.
    pub metadata: &'a TableMetadata,
    /// The new snapshot.
    pub snapshot_id: i64,
    /// Remembers each manifest written, so later commits of a run need not read it.
    pub cache: &'a ManifestCache,
}

/// Writes the live entries of `hit` (the manifests holding files to remove) as regrouped
/// manifests: entries in `removing` marked deleted, the others kept as existing, all with
/// their sequence numbers.
pub async fn rewrite_manifests(
    target: &RewriteTarget<'_>,
    hit: &LoadedManifests,
    removing: &BTreeSet<String>,
    focus: &Partition,
) -> Result<Vec<ManifestFile>> {
    let mut live = Vec::new();
    for (file, manifest) in hit {
        for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
            let key = Partition {
                spec_id: file.partition_spec_id,
                value: entry.data_file().partition().clone(),
            };
            live.push((file.content == ManifestContentType::Data, key, entry));
        }
    }
    let keys: Vec<(bool, &Partition)> = live.iter().map(|(d, k, _)| (*d, k)).collect();
    let mut written = Vec::new();
    for members in regroup(&keys, focus, MAX_PARTITION_MANIFESTS) {
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
                        target.snapshot_id
                    } else {
                        entry.snapshot_id().unwrap_or(target.snapshot_id)
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
        written.push(write_manifest(target, key.spec_id, content, entries).await?);
    }
    Ok(written)
}

/// Writes one manifest of existing and deleted `entries` and remembers it in the cache.
async fn write_manifest(
    target: &RewriteTarget<'_>,
    spec_id: i32,
    content: ManifestContentType,
    entries: Vec<ManifestEntry>,
) -> Result<ManifestFile> {
    let metadata = target.metadata;
    let spec = spec_of(metadata, spec_id)?;
    let schema = metadata.current_schema().clone();
    let mut writer =
        new_manifest_writer(target.file_io, metadata, target.snapshot_id, &spec, content)?;
    for entry in &entries {
        let sequence = entry.sequence_number.unwrap_or(0);
        let data_file = entry.data_file.clone();
        match entry.status {
            ManifestStatus::Deleted => {
                writer.add_delete_file(data_file, sequence, entry.file_sequence_number)?
            }
            _ => writer.add_existing_file(
                data_file,
                entry.snapshot_id.unwrap_or(target.snapshot_id),
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
    target.cache.insert(&file.manifest_path, Arc::new(manifest));
    Ok(file)
}

#[cfg(test)]
mod tests {
    use iceberg::spec::{Literal, Struct};

    use super::*;

    fn bucket(b: i32) -> Partition {
        Partition {
            spec_id: 0,
            value: Struct::from_iter([Some(Literal::int(b))]),
        }
    }

    /// (entries, the focus partition, max partitions, expected manifests)
    type Case<'a> = (
        Vec<(bool, &'a Partition)>,
        &'a Partition,
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
            // Over the limit: the focus partition apart, the others together.
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
            // A focus partition with no entries here.
            (vec![(false, &b1), (false, &b2)], &b0, 1, vec![vec![0, 1]]),
        ];
        for (i, (entries, focus, max, expected)) in cases.into_iter().enumerate() {
            assert_eq!(regroup(&entries, focus, max), expected, "case {i}");
        }
    }

    #[test]
    fn regroup_keeps_every_entry_once() {
        let keys: Vec<Partition> = (0..100).map(|i| bucket(i % 7)).collect();
        for max in [0, 3, 7, 100] {
            let entries: Vec<(bool, &Partition)> = keys
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
