//! The commit protocol: lock the tables, apply the commit rules to the current metadata,
//! write each new metadata file under a name never used before, then move every pointer
//! at once with a compare-and-swap. Who may delete what:
//! - the pointer move certainly failed (requirement, concurrent move, missing table):
//!   the new metadata files are deleted, the client gets 409 (or 404);
//! - the outcome is unknown (the store could not say): the pointers are re-read; if they
//!   all moved the commit succeeded, otherwise it answers CommitStateUnknown (503); either
//!   way NOTHING is deleted.
//!
//! No commit path ever deletes a file that a pointer or a metadata log references.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_locks::LockGuard;
use floe_table::RetryPolicy;
use iceberg::spec::TableMetadata;
use iceberg::{TableIdent, TableRequirement, TableUpdate};
use tracing::{info, warn};

use super::tables::record;
use super::{store_error, Catalog, MetadataFile};
use crate::commit::{
    apply_create, apply_to_existing, check_requirements, is_create, AppliedCommit, CommitRuleError,
};
use crate::error::{CatalogError, Failure, Result};
use crate::names::validate_table;
use crate::observe::CommitOutcome;
use crate::store::{EntryKind, PointerSwap, StoreError};

/// One table's part of a commit: requirements to check and updates to apply.
#[derive(Clone, Debug)]
pub struct TableChange {
    /// The table.
    pub ident: TableIdent,
    /// Checked on its current metadata; any that fails makes the commit a conflict.
    pub requirements: Vec<TableRequirement>,
    /// Applied in order when they hold.
    pub updates: Vec<TableUpdate>,
}

/// A change checked and applied in memory, not yet written.
struct PlannedChange {
    ident: TableIdent,
    /// The metadata file the change starts from (`None`: a create).
    base_location: Option<String>,
    metadata: Arc<TableMetadata>,
    /// Whether the metadata changed and needs a new file.
    changed: bool,
}

/// How an unknown pointer move is re-read before it is answered as unknown: at once, then
/// after about 100, 200 and 400 ms.
const SETTLE: RetryPolicy = RetryPolicy {
    num_retries: 3,
    min_wait: Duration::from_millis(100),
    max_wait: Duration::from_millis(400),
    total_timeout: Duration::from_secs(2),
};

impl From<CommitRuleError> for CatalogError {
    fn from(e: CommitRuleError) -> Self {
        match e {
            CommitRuleError::RequirementFailed(_) => CatalogError::CommitFailed(Failure::of(e)),
            CommitRuleError::InvalidUpdate { .. } => CatalogError::BadRequest(Failure::of(e)),
        }
    }
}

impl Catalog {
    /// Commits changes to one table.
    pub async fn commit_table(&self, change: TableChange) -> Result<MetadataFile> {
        let mut results = self.commit_tables(vec![change]).await?;
        Ok(results.remove(0))
    }

    /// Commits changes to several tables: all of them or none.
    pub async fn commit_tables(&self, changes: Vec<TableChange>) -> Result<Vec<MetadataFile>> {
        let started = Instant::now();
        if changes.is_empty() {
            return Err(CatalogError::bad_request(
                "a commit needs at least one table change",
            ));
        }
        let mut seen = HashSet::new();
        for change in &changes {
            validate_table(&change.ident)?;
            if !seen.insert(change.ident.clone()) {
                return Err(CatalogError::bad_request(format!(
                    "table {} appears twice in one commit",
                    change.ident
                )));
            }
        }
        let idents: Vec<TableIdent> = changes.iter().map(|c| c.ident.clone()).collect();
        let result = self.commit_locked(changes).await;
        if let Ok(files) = &result {
            for (ident, file) in idents.iter().zip(files) {
                self.figures.record(&ident.to_string(), &file.metadata);
            }
        }
        let outcome = log_commit(&idents, &result, started.elapsed());
        self.telemetry.commit(outcome, started.elapsed());
        result
    }

    async fn commit_locked(&self, mut changes: Vec<TableChange>) -> Result<Vec<MetadataFile>> {
        // One change to an existing table: committed in its table's group. Once this node
        // knows the table's lock key (its uuid), the check before the lock is skipped: a
        // stale commit costs its group nothing but a requirement check, and the group checks
        // the key under the lock.
        if changes.len() == 1 && !is_create(&changes[0].requirements) {
            let change = changes.remove(0);
            let key = match self.lock_keys.get(&change.ident) {
                Some(key) => key,
                None => {
                    let checked = self.precheck(std::slice::from_ref(&change)).await;
                    checked.map_err(nothing_written)?.remove(0)
                }
            };
            return self
                .commit_in_group(key, change)
                .await
                .map(|file| vec![file]);
        }
        let keys = self.precheck(&changes).await.map_err(nothing_written)?;
        let guards = self.lock_tables(keys).await.map_err(nothing_written)?;
        let mut planned = Vec::with_capacity(changes.len());
        for change in changes {
            planned.push(self.plan_change(change).await.map_err(nothing_written)?);
        }
        self.write_and_swap(&planned, &guards).await
    }

    /// Reads each table once before taking any lock: its lock key (the UUID, stable
    /// across renames; the name for a table being created), and a first check of its
    /// requirements. A requirement that fails now means the client's view is stale:
    /// answering 409 at once is as correct as after the lock (nothing was written), and it
    /// keeps stale writers out of the lock queue, so a contended table spends its lock on
    /// commits that can succeed. The check under the lock stays the authoritative one.
    async fn precheck(&self, changes: &[TableChange]) -> Result<Vec<String>> {
        let mut keys = Vec::with_capacity(changes.len());
        for change in changes {
            let current = self
                .store
                .load_entry(&change.ident)
                .await
                .map_err(store_error)?;
            let key = match current {
                Some(current) if current.kind == EntryKind::View => {
                    return Err(view_in_the_way(&change.ident, &change.requirements))
                }
                Some(current) => {
                    let base = self.read_metadata(&current.metadata_location).await?;
                    check_requirements(Some(&base.metadata), &change.requirements)?;
                    let key = current.uuid.to_string();
                    self.lock_keys.insert(change.ident.clone(), key.clone());
                    key
                }
                None if is_create(&change.requirements) => {
                    format!("create:{}", change.ident)
                }
                None => return Err(self.missing(&change.ident, EntryKind::Table).await),
            };
            keys.push(key);
        }
        Ok(keys)
    }

    /// Takes every lock, in a fixed order so two transactions cannot deadlock.
    async fn lock_tables(&self, mut keys: Vec<String>) -> Result<Vec<Box<dyn LockGuard>>> {
        keys.sort();
        keys.dedup();
        let mut guards = Vec::with_capacity(keys.len());
        for key in keys {
            let waiting = Instant::now();
            let guard = self.locks.acquire(&key, self.lock_timeout).await;
            self.telemetry.lock_wait(waiting.elapsed());
            guards.push(guard?);
        }
        Ok(guards)
    }

    /// The lock key (uuid) and current metadata file of a table, read under its lock;
    /// `None` when the name is free. A view of that name answers as [`view_in_the_way`] of
    /// a change with `requirements`.
    pub(super) async fn load_current(
        &self,
        ident: &TableIdent,
        requirements: &[TableRequirement],
    ) -> Result<Option<(String, MetadataFile)>> {
        let current = self.store.load_entry(ident).await.map_err(store_error)?;
        let Some(current) = current else {
            return Ok(None);
        };
        if current.kind == EntryKind::View {
            return Err(view_in_the_way(ident, requirements));
        }
        let file = self.read_metadata(&current.metadata_location).await;
        let file =
            file.map_err(|e| CatalogError::Storage(Failure::because(format!("table {ident}"), e)))?;
        Ok(Some((current.uuid.to_string(), file)))
    }

    /// Checks and applies one change on top of `head`, the table's metadata file (under
    /// lock): the new metadata, or `None` when the updates change nothing.
    pub(super) async fn plan_on(
        &self,
        ident: &TableIdent,
        head: &MetadataFile,
        requirements: &[TableRequirement],
        updates: Vec<TableUpdate>,
    ) -> Result<Option<Arc<TableMetadata>>> {
        let base = &head.metadata;
        match apply_to_existing(base, &head.location, requirements, updates)? {
            AppliedCommit::Unchanged => Ok(None),
            AppliedCommit::Changed(metadata) => {
                if metadata.location() != base.location()
                    || metadata.properties() != base.properties()
                {
                    self.check_table_locations(ident, &metadata).await?;
                }
                Ok(Some(Arc::new(*metadata)))
            }
        }
    }

    /// Checks and applies one change against the table's current metadata (under lock).
    async fn plan_change(&self, change: TableChange) -> Result<PlannedChange> {
        let TableChange {
            ident,
            requirements,
            updates,
        } = change;
        let Some((_, head)) = self.load_current(&ident, &requirements).await? else {
            if !is_create(&requirements) {
                return Err(CatalogError::NoSuchTable(ident.to_string()));
            }
            let default_location = self.warehouse.default_table_location(
                &ident.namespace,
                &ident.name,
                uuid::Uuid::new_v4(),
            );
            let metadata = apply_create(&requirements, updates, &default_location)?;
            self.load_namespace(&ident.namespace).await?;
            self.check_table_locations(&ident, &metadata).await?;
            return Ok(PlannedChange {
                ident,
                base_location: None,
                metadata: Arc::new(metadata),
                changed: true,
            });
        };
        let planned = self.plan_on(&ident, &head, &requirements, updates).await?;
        Ok(PlannedChange {
            ident,
            changed: planned.is_some(),
            metadata: planned.unwrap_or(head.metadata),
            base_location: Some(head.location),
        })
    }

    /// Writes the new metadata files, then moves all pointers in one store operation.
    async fn write_and_swap(
        &self,
        planned: &[PlannedChange],
        guards: &[Box<dyn LockGuard>],
    ) -> Result<Vec<MetadataFile>> {
        let mut written: Vec<String> = Vec::new();
        let mut swaps = Vec::new();
        let mut results = Vec::with_capacity(planned.len());
        for p in planned {
            let file = if p.changed {
                match self
                    .write_metadata(p.metadata.clone(), p.base_location.as_deref())
                    .await
                {
                    Ok(file) => {
                        written.push(file.location.clone());
                        swaps.push(PointerSwap {
                            ident: p.ident.clone(),
                            expected: p.base_location.clone(),
                            new: record(&file.location, &file.metadata),
                        });
                        file
                    }
                    Err(e) => {
                        self.delete_all(&written).await;
                        return Err(e);
                    }
                }
            } else {
                let base = p.base_location.as_deref().expect("unchanged tables exist");
                self.read_metadata(base).await?
            };
            results.push(file);
        }
        if swaps.is_empty() {
            return Ok(results);
        }
        self.move_pointers(&swaps, &written, guards).await?;
        Ok(results)
    }

    /// Moves the pointers of a commit whose new metadata files (`written`) are in place,
    /// under its locks (`guards`). A move that certainly failed deletes `written`; one
    /// whose outcome is unknown is settled by reading the pointers again, and deletes
    /// nothing.
    pub(crate) async fn move_pointers(
        &self,
        swaps: &[PointerSwap],
        written: &[String],
        guards: &[Box<dyn LockGuard>],
    ) -> Result<()> {
        // Fencing: a lock lost before the move means another holder may be committing.
        if let Some(lost) = guards.iter().find(|g| !g.is_held()) {
            self.delete_all(written).await;
            return Err(CatalogError::commit_failed(format!(
                "lock on {} was lost before the commit; nothing was changed",
                lost.key()
            )));
        }
        match self.store.swap_pointers(swaps).await {
            Ok(()) => {
                if let Some(lost) = guards.iter().find(|g| !g.is_held()) {
                    warn!(
                        lock = lost.key(),
                        "lock lost after the pointer move; the compare-and-swap proved the commit"
                    );
                }
                Ok(())
            }
            Err(StoreError::OutcomeUnknown(why)) => self.settle_unknown(swaps, why).await,
            Err(e) => {
                self.delete_all(written).await;
                Err(match e {
                    StoreError::NameTaken(t) => {
                        CatalogError::commit_failed(format!("{t} was created concurrently"))
                    }
                    e => store_error(e),
                })
            }
        }
    }

    /// Re-reads the pointers after a move with an unknown outcome. All moved: the commit
    /// succeeded. Anything else stays unknown (a move in flight may still land, so "not
    /// moved yet" proves nothing): CommitStateUnknown, and nothing is deleted.
    async fn settle_unknown(&self, swaps: &[PointerSwap], why: Failure) -> Result<()> {
        let mut waits = SETTLE.waits();
        loop {
            let mut moved = 0;
            for swap in swaps {
                if let Ok(Some(r)) = self.store.load_entry_fresh(&swap.ident).await {
                    if r.metadata_location == swap.new.metadata_location {
                        moved += 1;
                    }
                }
            }
            if moved == swaps.len() {
                warn!(%why, "commit outcome was unknown; settled: committed");
                return Ok(());
            }
            let Some(wait) = waits.next() else { break };
            tokio::time::sleep(wait).await;
        }
        Err(CatalogError::CommitStateUnknown(Failure::because(
            "the pointer move could not be confirmed and no file was deleted; it failed with",
            why,
        )))
    }

    async fn delete_all(&self, locations: &[String]) {
        for location in locations {
            self.delete_quietly(location).await;
        }
    }
}

/// A backend failure before any file was written or pointer moved: the commit certainly
/// did not happen, so it is a 409 the client may retry, not a 5xx that clients must treat
/// as "state unknown".
pub(crate) fn nothing_written(e: CatalogError) -> CatalogError {
    match e {
        CatalogError::Unavailable(m) | CatalogError::Storage(m) => {
            CatalogError::commit_failed(format!("{m}; nothing was written, retry the commit"))
        }
        e => e,
    }
}

/// The answer to a table commit whose name is a view's: a create is a conflict with the
/// view, anything else finds no table.
fn view_in_the_way(ident: &TableIdent, requirements: &[TableRequirement]) -> CatalogError {
    if is_create(requirements) {
        CatalogError::already_exists(Some(EntryKind::View), ident)
    } else {
        CatalogError::NoSuchTable(format!("{ident} (it is a view)"))
    }
}

/// One log line per table of a commit, with its outcome; answers the outcome.
fn log_commit(
    idents: &[TableIdent],
    result: &Result<Vec<MetadataFile>>,
    took: Duration,
) -> CommitOutcome {
    let ms = took.as_millis() as u64;
    let counted = match result {
        Ok(_) => CommitOutcome::Ok,
        Err(CatalogError::CommitStateUnknown(_)) => CommitOutcome::Unknown,
        Err(CatalogError::CommitFailed(_)) => CommitOutcome::Conflict,
        Err(_) => CommitOutcome::Failed,
    };
    let outcome = counted.as_str();
    for (i, ident) in idents.iter().enumerate() {
        let table = ident.to_string();
        match result {
            Ok(results) => {
                let m = &results[i].metadata;
                // -1: no current snapshot, as Iceberg writes it.
                let snapshot_id = m.current_snapshot_id().unwrap_or(-1);
                let sequence_number = m.last_sequence_number();
                info!(%table, snapshot_id, sequence_number, outcome, duration_ms = ms, "commit")
            }
            Err(e) if outcome == "unknown" => {
                warn!(%table, outcome, duration_ms = ms, error = %e, "commit")
            }
            Err(e) => info!(%table, outcome, duration_ms = ms, error = %e, "commit"),
        }
    }
    counted
}

#[cfg(test)]
#[path = "commits_tests.rs"]
mod tests;
