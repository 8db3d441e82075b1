//! The I/O of snapshot expiry: listing the files a set of snapshots reaches (each
//! manifest read once), and deleting files, content files first and manifest lists last.

use futures::{StreamExt, TryStreamExt};
use iceberg::io::FileIO;
use iceberg::spec::{ManifestFile, ManifestList, TableMetadata};

use super::{Entries, ReachableFiles};

/// How many manifest lists or manifests are read, or files deleted, at once.
const IO_CONCURRENCY: usize = 16;

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
