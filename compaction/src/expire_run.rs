//! Snapshot expiry of one table: choose the snapshots older than the retention
//! (`expire`), commit their removal, and only once that commit certainly landed, delete
//! the files that they reached and that no snapshot of the committed metadata reaches.
//! An unknown outcome deletes nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use iceberg::{TableRequirement, TableUpdate};

use crate::catalog::{CatalogError, TableCatalog};
use crate::error::CompactionError;
use crate::expire::{
    delete_files, files_to_delete, reachable_files, snapshots_to_expire, Entries, ExpireOptions,
};

const ATTEMPTS: u32 = 5;

/// What an expiry did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpireReport {
    pub expired_snapshots: usize,
    pub deleted_files: usize,
    pub failed_deletes: usize,
    /// The removal's outcome is unknown, so no file was deleted.
    pub outcome_unknown: bool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Expires the snapshots of `catalog`'s table older than its retention (table properties
/// `history.expire.*`, or the given overrides) and deletes the files only they reached.
pub async fn expire_snapshots(
    catalog: &dyn TableCatalog,
    max_snapshot_age_ms: Option<i64>,
    min_snapshots_to_keep: Option<usize>,
) -> Result<ExpireReport, CompactionError> {
    let mut last_conflict = String::new();
    for _ in 0..ATTEMPTS {
        let table = catalog.load().await?;
        let options = ExpireOptions::from_properties(table.metadata.properties())?
            .with_overrides(max_snapshot_age_ms, min_snapshots_to_keep);
        let expired = snapshots_to_expire(&table.metadata, now_ms(), &options);
        if expired.is_empty() {
            return Ok(ExpireReport::default());
        }
        let reached =
            reachable_files(&table.file_io, &table.metadata, &expired, Entries::All).await?;
        let requirements = vec![TableRequirement::UuidMatch {
            uuid: table.metadata.uuid(),
        }];
        let updates = vec![TableUpdate::RemoveSnapshots {
            snapshot_ids: expired.clone(),
        }];
        match catalog.commit(requirements, updates).await {
            Ok(()) => {}
            Err(CatalogError::Conflict(m)) => {
                last_conflict = m;
                continue;
            }
            Err(CatalogError::Unknown(_)) => {
                return Ok(ExpireReport {
                    expired_snapshots: expired.len(),
                    outcome_unknown: true,
                    ..Default::default()
                })
            }
            Err(e) => return Err(e.into()),
        }
        // What remains is read from the metadata as committed, so a snapshot that landed
        // meanwhile keeps every file it reaches.
        let now = catalog.load().await?;
        if now.metadata.uuid() != table.metadata.uuid() {
            return Err(CompactionError::TableReplaced {
                expected: table.metadata.uuid().to_string(),
                found: now.metadata.uuid().to_string(),
            });
        }
        if expired
            .iter()
            .any(|id| now.metadata.snapshot_by_id(*id).is_some())
        {
            return Err(CompactionError::Internal(
                "expired snapshots are still in the table after their removal".into(),
            ));
        }
        let remaining: Vec<i64> = now.metadata.snapshots().map(|s| s.snapshot_id()).collect();
        let kept = reachable_files(&now.file_io, &now.metadata, &remaining, Entries::Live).await?;
        let deletes = delete_files(&now.file_io, &files_to_delete(&reached, &kept)).await;
        return Ok(ExpireReport {
            expired_snapshots: expired.len(),
            deleted_files: deletes.deleted,
            failed_deletes: deletes.failed,
            outcome_unknown: false,
        });
    }
    Err(CompactionError::Internal(format!(
        "gave up expiring snapshots after {ATTEMPTS} conflicts: {last_conflict}"
    )))
}
