//! Scheduled compaction inside `floe serve`: every interval, each table whose
//! `floe.compaction.enabled` is not `false` is compacted and its old snapshots expired,
//! under a per-table compaction lock that is separate from the commit locks. With
//! ZooKeeper the lock lives there, so of several nodes at most one compacts a table at a
//! time, and a node that dies loses its lock with its session. The compactor reaches the
//! node's own catalog in process (`NodeCatalog`), so its commits take the same commit
//! path as any client's, without a round trip to an address the node may not listen on.

use std::sync::Arc;
use std::time::Duration;

use floe_compaction::{compact, expire_snapshots, CompactionRequest, Silent};
use floe_locks::{LockError, LockManager};
use floe_rest_catalog::Catalog;
use floe_rest_catalog::PageRequest;
use floe_table::properties::COMPACTION_ENABLED;
use floe_table::TableCatalog;
use iceberg::{NamespaceIdent, TableIdent};

use super::node_catalog::NodeCatalog;
use crate::metrics::record_compaction;

/// How long a node waits for a table's compaction lock before leaving the table to the
/// node that holds it.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// The scheduler of one node.
pub struct CompactionSchedule {
    /// The node's catalog: which tables there are.
    pub catalog: Catalog,
    /// The same catalog as the table layer reaches it, with the node's storage settings.
    pub tables: NodeCatalog,
    /// Compaction locks, by table uuid.
    pub locks: Arc<dyn LockManager>,
    /// How often a round starts.
    pub interval: Duration,
}

/// Every table of the catalog, walking nested namespaces.
async fn all_tables(catalog: &Catalog) -> anyhow::Result<Vec<TableIdent>> {
    let mut tables = Vec::new();
    let mut pending: Vec<Option<NamespaceIdent>> = vec![None];
    while let Some(parent) = pending.pop() {
        let mut token = None;
        loop {
            let page = PageRequest { token, size: None };
            let (children, next) = catalog.list_namespaces(parent.as_ref(), &page).await?;
            pending.extend(children.into_iter().map(Some));
            token = next;
            if token.is_none() {
                break;
            }
        }
        let Some(ns) = parent else { continue };
        let mut token = None;
        loop {
            let page = PageRequest { token, size: None };
            let (idents, next) = catalog.list_tables(&ns, &page).await?;
            tables.extend(idents);
            token = next;
            if token.is_none() {
                break;
            }
        }
    }
    Ok(tables)
}

impl CompactionSchedule {
    /// Runs forever: one round every interval.
    pub async fn run(self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = self.round().await {
                tracing::warn!(error = %format!("{e:#}"), "scheduled compaction round failed");
            }
        }
    }

    /// Compacts every enabled table whose lock this node gets.
    pub async fn round(&self) -> anyhow::Result<()> {
        for ident in all_tables(&self.catalog).await? {
            let table = match self.tables.load_table(&ident).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(table = %ident, error = %e, "not compacted: cannot load");
                    continue;
                }
            };
            let metadata = &table.metadata;
            if metadata
                .properties()
                .get(COMPACTION_ENABLED)
                .map(String::as_str)
                == Some("false")
            {
                continue;
            }
            let key = format!("compaction-{}", metadata.uuid());
            let guard = match self.locks.acquire(&key, LOCK_WAIT).await {
                Ok(guard) => guard,
                Err(LockError::Timeout { .. }) => {
                    tracing::info!(table = %ident, "compaction skipped: another node is compacting the table");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(table = %ident, error = %e, "compaction skipped: no lock");
                    continue;
                }
            };
            tracing::info!(table = %ident, "compaction started");
            let tables: Arc<dyn TableCatalog> = Arc::new(self.tables.clone());
            match compact(
                tables.clone(),
                &ident,
                &CompactionRequest::default(),
                Arc::new(Silent),
            )
            .await
            {
                Ok(report) => {
                    record_compaction(Some(&report));
                    tracing::info!(
                        table = %ident,
                        planned = report.planned.len(),
                        committed = report.committed(),
                        elapsed_ms = report.elapsed.as_millis() as u64,
                        "compaction finished"
                    )
                }
                Err(e) => {
                    record_compaction(None);
                    tracing::warn!(table = %ident, error = %e, "compaction failed")
                }
            }
            if guard.is_held() {
                match expire_snapshots(tables.as_ref(), &ident, None, None).await {
                    Ok(report) => {
                        tracing::info!(table = %ident, expired = report.expired_snapshots, deleted_files = report.deleted_files, "snapshots expired")
                    }
                    Err(e) => {
                        tracing::warn!(table = %ident, error = %e, "snapshot expiry failed")
                    }
                }
            }
            drop(guard);
        }
        Ok(())
    }
}
