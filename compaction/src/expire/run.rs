//! Snapshot expiry of one table: choose the snapshots older than the retention
//! (`expire`), commit their removal through the one commit loop, and only once that
//! removal certainly landed, delete the files that they reached and that no snapshot of
//! the committed metadata reaches. An unknown outcome deletes nothing.

use floe_table::{commit, ErrorKind, RemoveSnapshots, TableCatalog};
use iceberg::spec::TableMetadata;
use iceberg::TableIdent;

use super::{
    delete_files, files_to_delete, reachable_files, snapshots_to_expire, Entries, ExpireOptions,
};
use crate::error::CompactionError;

/// What an expiry did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Snapshots removed from the table.
    pub expired_snapshots: usize,
    /// Files deleted (or already gone).
    pub deleted_files: usize,
    /// Files whose deletion failed; they are left as orphans.
    pub failed_deletes: usize,
    /// The removal's outcome is unknown, so no file was deleted.
    pub outcome_unknown: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Expires the snapshots of the table `ident` older than its retention (table properties
/// `history.expire.*`, or the given overrides) and deletes the files only they reached.
pub async fn expire_snapshots(
    catalog: &dyn TableCatalog,
    ident: &TableIdent,
    max_snapshot_age_ms: Option<i64>,
    min_snapshots_to_keep: Option<usize>,
) -> Result<ExpireReport, CompactionError> {
    let table = catalog.load_table(ident).await?;
    let mut removal = RemoveSnapshots::new(|metadata: &TableMetadata| {
        let options = ExpireOptions::from_properties(metadata.properties())?
            .with_overrides(max_snapshot_age_ms, min_snapshots_to_keep);
        Ok(snapshots_to_expire(metadata, now_ms(), &options))
    });
    let finished = match commit(catalog, table, &mut removal).await {
        Ok(finished) => finished,
        Err(e) if e.kind() == ErrorKind::Unknown => {
            tracing::warn!(table = %ident, error = %e, "snapshot removal has an unknown outcome; no file deleted");
            return Ok(ExpireReport {
                expired_snapshots: removal.last_planned().len(),
                outcome_unknown: true,
                ..Default::default()
            });
        }
        Err(e) => return Err(e.into()),
    };
    let removed = finished.output;
    if removed.snapshot_ids.is_empty() {
        return Ok(ExpireReport::default());
    }
    // What the removed snapshots reached is read from the table that still held them; what
    // remains from the metadata as committed, so a snapshot that landed meanwhile keeps
    // every file it reaches.
    let before = &removed.chosen_from;
    let reached = reachable_files(
        &before.file_io,
        &before.metadata,
        &removed.snapshot_ids,
        Entries::All,
    )
    .await?;
    let now = &finished.table;
    let remaining: Vec<i64> = now.metadata.snapshots().map(|s| s.snapshot_id()).collect();
    let kept = reachable_files(&now.file_io, &now.metadata, &remaining, Entries::Live).await?;
    let deletes = delete_files(&now.file_io, &files_to_delete(&reached, &kept)).await;
    Ok(ExpireReport {
        expired_snapshots: removed.snapshot_ids.len(),
        deleted_files: deletes.deleted,
        failed_deletes: deletes.failed,
        outcome_unknown: false,
    })
}
